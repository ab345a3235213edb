#!/usr/bin/env bash
# Builds everything and starts h3gate on 127.0.0.1:4433 (QUIC on UDP, HTTPS on TCP)
# with the bundled demo site and a generated self-signed certificate.  Ctrl-C stops it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
H3GATE_TEST_DEPS=${H3GATE_TEST_DEPS:-0} "$here/scripts/build.sh"
# The "try it" line below uses libcurl's HTTP/3 through pycurl (bookworm-backports,
# which build.sh's set-up has added): installed here so it works on a new machine.
have_h3_client() {
    /usr/bin/python3 -c 'import pycurl' 2>/dev/null &&
        dpkg --compare-versions "$(dpkg-query -W -f='${Version}' libcurl3-gnutls 2>/dev/null || echo 0)" ge 8.14
}
if [ "${H3GATE_NO_APT:-0}" != 1 ] && ! have_h3_client; then
    echo "demo: installing python3-pycurl and libcurl3-gnutls (HTTP/3) from bookworm-backports" >&2
    as_root=""
    [ "$(id -u)" = 0 ] || as_root=sudo
    DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq -t bookworm-backports \
        python3-pycurl libcurl3-gnutls >&2
fi
# ... and the HTTP/2 one uses Debian's curl
if [ "${H3GATE_NO_APT:-0}" != 1 ] && ! command -v curl >/dev/null; then
    as_root=""
    [ "$(id -u)" = 0 ] || as_root=sudo
    DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq curl >&2
fi
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

  Try it with Debian's curl over HTTP/2 (the certificate is self-signed; the alt-svc
  field is how clients learn about HTTP/3 on this port):
    curl -ski --http2 https://127.0.0.1:$port/
  over HTTP/3 with libcurl's HTTP/3 stack (Debian's pycurl):
    /usr/bin/python3 $here/scripts/h3get -k https://127.0.0.1:$port/
  or with Chromium forced onto QUIC:
    chromium --enable-quic --origin-to-force-quic-on=127.0.0.1:$port \\
      --ignore-certificate-errors-spki-list=$spki https://127.0.0.1:$port/

  Access log below; Ctrl-C stops the server (graceful shutdown).

EOT
wait $pid
