"""Origins for the proxy tests: Debian's nginx as a real origin, and small
Python origins for the fault cases nginx cannot play."""
import hashlib
import os
import socket
import subprocess
import threading
import time


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    """nginx (nginx-light) serving root, with a few endpoints of its own."""

    def __init__(self, workdir, root):
        self.port = free_tcp_port()
        self.dir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.log = os.path.join(workdir, "access.log")
        conf = os.path.join(workdir, "nginx.conf")
        # As root, the worker must be able to read the test's private temp dirs.
        with open(conf, "w") as f:
            f.write(("user root;\n" if os.geteuid() == 0 else "") + """
worker_processes 1;
daemon off;
error_log %(d)s/error.log;
pid %(d)s/nginx.pid;
events { worker_connections 256; }
http {
    log_format conn '$connection $request_method $request_uri $status';
    access_log %(log)s conn;
    keepalive_requests 10000;
    server {
        listen 127.0.0.1:%(port)d;
        root %(root)s;
        location = /headers {
            return 200 "host=$http_host xff=$http_x_forwarded_for xfp=$http_x_forwarded_proto fwd=$http_forwarded via=$http_via cookie=$http_cookie te=$http_te early=$http_early_data\\n";
        }
        location = /hop {
            add_header Connection "close, x-private";
            add_header X-Private "secret";
            add_header Keep-Alive "timeout=5";
            add_header X-Public "ok";
            return 200 "hop\\n";
        }
    }
}
""" % {"d": workdir, "log": self.log, "port": self.port, "root": root})
        self.proc = subprocess.Popen(["nginx", "-c", conf, "-p", workdir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start")

    def connections(self):
        """Distinct client connections nginx saw."""
        with open(self.log) as f:
            return {l.split()[0] for l in f if l.strip()}

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class FaultOrigin:
    """One behaviour per instance, on its own port; each connection in a thread."""

    def __init__(self, mode, **kw):
        self.mode, self.kw = mode, kw
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.bodies = []
        self.stopped = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._conn, args=(c,), daemon=True).start()

    def _read_head(self, c):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = c.recv(65536)
            if not chunk:
                return None, b""
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        return head.decode("latin-1"), rest

    def _read_body(self, c, head, rest):
        """Content-Length or chunked; returns (sha256, length)."""
        h = hashlib.sha256()
        n = 0
        lines = head.split("\r\n")
        fields = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip()
                  for l in lines[1:] if ":" in l}
        if "content-length" in fields:
            left = int(fields["content-length"])
            buf = rest
            while left > 0:
                if not buf:
                    buf = c.recv(1 << 20)
                    if not buf:
                        break
                take = buf[:left]
                h.update(take)
                n += len(take)
                left -= len(take)
                buf = buf[len(take):]
        elif fields.get("transfer-encoding") == "chunked":
            buf = rest

            def need(k):
                nonlocal buf
                while len(buf) < k:
                    more = c.recv(1 << 20)
                    if not more:
                        raise EOFError
                    buf += more

            while True:
                while b"\r\n" not in buf:
                    buf += c.recv(65536)
                line, buf = buf.split(b"\r\n", 1)
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    need(2)
                    buf = buf[2:]
                    break
                need(size + 2)
                h.update(buf[:size])
                n += size
                buf = buf[size + 2:]
        return h.hexdigest(), n, fields

    def _conn(self, c):
        try:
            mode = self.mode
            if mode == "hang":
                self._read_head(c)
                time.sleep(self.kw.get("seconds", 30))
                return
            head, rest = self._read_head(c)
            if head is None:
                return
            if mode == "echo":
                sha, n, fields = self._read_body(c, head, rest)
                self.bodies.append((sha, n, fields))
                body = ("sha256=%s length=%d\n" % (sha, n)).encode()
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            elif mode == "malformed":
                c.sendall(b"HTTP/1.1 two hundred OK\r\n\r\n")
            elif mode == "huge-header":
                c.sendall(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n")
            elif mode == "reset-mid-body":
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 100000)
                time.sleep(0.2)
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            elif mode == "close-mid-body":
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"y" * 100000)
            elif mode == "close-delimited":
                c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"z" * 300000)
            elif mode == "chunked":
                c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                for i in range(50):
                    part = bytes([65 + i % 26]) * 1000
                    c.sendall(b"%x\r\n%s\r\n" % (len(part), part))
                c.sendall(b"0\r\n\r\n")
            elif mode == "many-fields":
                fields = b"".join(b"X-Field-%d: v%d\r\n" % (i, i) for i in range(60))
                c.sendall(b"HTTP/1.1 200 OK\r\n" + fields + b"Content-Length: 2\r\n\r\nok")
            elif mode == "interim":
                c.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                          b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal")
            elif mode.startswith("early-413"):
                # Answers before reading the upload, as an origin with a body
                # limit does; -linger then drains it (nginx's lingering close),
                # -keep keeps the connection open without reading, plain
                # closes at once (the kernel may reset: unread data).
                c.sendall(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 9\r\n"
                          + (b"" if mode == "early-413-keep" else b"Connection: close\r\n")
                          + b"\r\ntoo large")
                if mode == "early-413-linger":
                    c.settimeout(2)
                    while c.recv(1 << 20):
                        pass
                elif mode == "early-413-keep":
                    time.sleep(self.kw.get("seconds", 15))
            elif mode == "slow-drip":
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
                for _ in range(10):
                    time.sleep(self.kw.get("interval", 0.3))
                    c.sendall(b".")
        except (OSError, EOFError):
            pass
        finally:
            c.close()

    def stop(self):
        self.stopped = True
        self.sock.close()
