#!/usr/bin/env bash
# Quick side-by-side: h3gate (HTTP/3) and Debian's nginx (HTTP/2 and HTTP/1.1 over
# TLS: Debian 12's nginx has no HTTP/3) serving the same 1 KiB file, servers
# pinned to CPU 0, the load client (bench/h3load.py, libcurl via pycurl) to CPU 1.
# The full harness with h2load and HTTP/3 peers is issue 5; this is a stopgap.
#   bench/quick.sh [REQUESTS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-3000}
work=$(mktemp -d)
trap 'kill $(cat "$work"/*.pid 2>/dev/null) 2>/dev/null || true; sleep 0.5; rm -rf "$work"' EXIT
mkdir -p "$work/www"
head -c 1024 /dev/urandom > "$work/www/1k.bin"
chmod 755 "$work" "$work/www"   # nginx workers run unprivileged
chmod 644 "$work/www/1k.bin"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/key.pem" \
    -out "$work/cert.pem" -days 1 -subj /CN=localhost 2>/dev/null
port_h3=$((20000 + RANDOM % 20000)); port_ng=$((port_h3 + 1)); port_plain=$((port_h3 + 2))
port_px=$((port_h3 + 3))
cat > "$work/nginx.conf" <<EOC
worker_processes 1;
daemon off;
error_log $work/nginx-error.log;
pid $work/nginx-master.pid;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$port_ng ssl http2;
        listen 127.0.0.1:$port_plain;
        ssl_certificate $work/cert.pem;
        ssl_certificate_key $work/key.pem;
        root $work/www;
    }
}
EOC
taskset -c 0 "$here/build/h3gate" --root "$work/www" --listen "127.0.0.1:$port_h3" \
    --cert "$work/cert.pem" --key "$work/key.pem" 2>"$work/h3gate.log" &
echo $! > "$work/h3gate.pid"
taskset -c 0 "$here/build/h3gate" --upstream "http://127.0.0.1:$port_plain" \
    --listen "127.0.0.1:$port_px" --cert "$work/cert.pem" --key "$work/key.pem" 2>"$work/proxy.log" &
echo $! > "$work/proxy.pid"
taskset -c 0 nginx -c "$work/nginx.conf" -p "$work" &
echo $! > "$work/nginx.pid"
sleep 1
ngw=$(pgrep -P "$(cat "$work/nginx.pid")" | head -n1)
load() { taskset -c 1 /usr/bin/python3 "$here/bench/h3load.py" "$@" --requests "$n"; }
echo "# $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# h3gate $("$here/build/h3gate" --version | tr '\n' ' ')"
for spec in "1 1" "1 10" "20 1" "20 10"; do
    set -- $spec
    load "https://127.0.0.1:$port_h3/1k.bin" --connections "$1" --streams "$2" --pid "$(cat "$work/h3gate.pid")" --label h3gate
    load "https://127.0.0.1:$port_ng/1k.bin" --http 2 --connections "$1" --streams "$2" --pid "$ngw" --label "nginx $(nginx -v 2>&1 | sed 's/.*\///')"
done
for c in 1 20; do
    load "https://127.0.0.1:$port_ng/1k.bin" --http 1.1 --connections "$c" --streams 1 --pid "$ngw" --label "nginx $(nginx -v 2>&1 | sed 's/.*\///')"
done
echo "# the same 1 KiB file, static vs proxied by h3gate to nginx over HTTP/1.1 (nginx on the same core)"
for spec in "1 1" "1 10" "20 1" "20 10"; do
    set -- $spec
    load "https://127.0.0.1:$port_h3/1k.bin" --connections "$1" --streams "$2" --pid "$(cat "$work/h3gate.pid")" --label "h3gate static"
    load "https://127.0.0.1:$port_px/1k.bin" --connections "$1" --streams "$2" --pid "$(cat "$work/proxy.pid")" --label "h3gate proxy"
done
