#!/usr/bin/env bash
# Builds everything and starts h3gate on 127.0.0.1:4433 (QUIC on UDP, HTTPS on TCP)
# with the bundled demo site and a generated self-signed certificate.  Ctrl-C stops it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
H3GATE_TEST_DEPS=${H3GATE_TEST_DEPS:-0} "$here/scripts/build.sh"
# The "try it" lines use a curl with HTTP/3 built here (scripts/build-curl.sh:
# Debian's curl source on ngtcp2's quictls backend on libqtlscompat; a few
# minutes the first time, cached afterwards): Debian 12's own curl has no HTTP/3.
"$here/scripts/build-curl.sh" "$here/build"
port=${H3GATE_DEMO_PORT:-4433}
log=$(mktemp)
"$here/build/h3gate" --root "$here/demo/site" --listen "127.0.0.1:$port" --access-log - 2> >(tee "$log" >&2) &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid; rm -f "$log"' EXIT INT TERM
for _ in $(seq 50); do grep -q " serving " "$log" && break; sleep 0.1; done
spki=$(sed -n 's/.*SPKI sha256 \([^)]*\)).*/\1/p' "$log" | head -n1)
cat <<EOT

  h3gate is serving the demo site at   https://127.0.0.1:$port/
  (HTTP/3 over UDP; HTTP/2 and HTTP/1.1 over TCP on the same port)

  Try it over HTTP/3 (the certificate is self-signed, hence -k):
    $here/build/tools/curl --http3 -k https://127.0.0.1:$port/
  over HTTP/2, where the alt-svc field tells clients about HTTP/3 on this port:
    $here/build/tools/curl -ski --http2 https://127.0.0.1:$port/
  or, where Chromium is installed, with Chromium forced onto QUIC:
    chromium --enable-quic --origin-to-force-quic-on=127.0.0.1:$port \\
      --ignore-certificate-errors-spki-list=$spki https://127.0.0.1:$port/

  Access log below; Ctrl-C stops the server (graceful shutdown).

EOT
wait $pid
