#!/usr/bin/env bash
# Builds everything and starts h3gate on UDP 127.0.0.1:4433 with the bundled demo
# site and a generated self-signed certificate.  Ctrl-C stops it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
H3GATE_TEST_DEPS=${H3GATE_TEST_DEPS:-0} "$here/scripts/build.sh"
port=${H3GATE_DEMO_PORT:-4433}
log=$(mktemp)
"$here/build/h3gate" --root "$here/demo/site" --listen "127.0.0.1:$port" --access-log - 2> >(tee "$log" >&2) &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid; rm -f "$log"' EXIT INT TERM
for _ in $(seq 50); do grep -q "listening on" "$log" && break; sleep 0.1; done
spki=$(sed -n 's/.*SPKI sha256 \([^)]*\)).*/\1/p' "$log" | head -n1)
cat <<EOT

  h3gate is serving the demo site at   https://127.0.0.1:$port/   (HTTP/3 only, UDP)

  Try it with curl's HTTP/3 stack (Debian's pycurl; the certificate is self-signed):
    /usr/bin/python3 $here/scripts/h3get -k https://127.0.0.1:$port/
  or with Chromium forced onto QUIC:
    chromium --enable-quic --origin-to-force-quic-on=127.0.0.1:$port \\
      --ignore-certificate-errors-spki-list=$spki https://127.0.0.1:$port/

  Access log below; Ctrl-C stops the server (graceful shutdown).

EOT
wait $pid
