"""Fixtures for integration tests: the real h3gate binary on random loopback
ports with generated certificates, driven by real HTTP/3 clients."""
import base64
import hashlib
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from h3client import Client  # noqa: F401  (re-exported for tests)

BIN = os.environ.get("H3GATE_BIN")
SRC = os.environ.get("H3GATE_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))


def free_udp_port():
    """A port nobody listens on right now, on UDP and TCP (h3gate serves both
    on the same port; tests bind loopback only)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            try:
                t.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


@pytest.fixture(scope="session")
def h3gate_bin():
    if not BIN or not os.path.exists(BIN):
        pytest.fail("H3GATE_BIN is not set to a built h3gate (run through ctest)")
    return BIN


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """A private CA and a server certificate for localhost signed by it."""
    d = tmp_path_factory.mktemp("certs")
    ca_key, ca = d / "ca.key", d / "ca.pem"
    key, csr, crt = d / "server.key", d / "server.csr", d / "server.pem"
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=h3gate test CA"])
    run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", key, "-out", csr, "-subj", "/CN=localhost"])
    ext = d / "ext.cnf"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n")
    run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", crt, "-days", "2", "-extfile", ext])
    # A second, unrelated key to test mismatches.
    other_key = d / "other.key"
    run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-out", other_key])
    der = run(["openssl", "x509", "-in", crt, "-pubkey", "-noout"]).stdout
    spki_der = run(["openssl", "pkey", "-pubin", "-outform", "der"], input=der).stdout
    spki = base64.b64encode(hashlib.sha256(spki_der).digest()).decode()
    return {"ca": str(ca), "key": str(key), "cert": str(crt), "other_key": str(other_key),
            "spki": spki, "dir": str(d)}


def make_site(root):
    """Files with known content for every test."""
    os.makedirs(root, exist_ok=True)
    files = {
        "index.html": b"<!DOCTYPE html><html><body><h1>h3gate test</h1></body></html>\n",
        "hello.txt": b"hello, world\n",
        "style.css": b"body { color: #333; }\n",
        "data.json": b'{"ok": true}\n',
        "empty.txt": b"",
        "sub/index.html": b"<p>sub index</p>\n",
        "sub/deep/file.js": b"console.log('deep');\n",
        "noindex/readme.txt": b"no index here\n",
        "weird name %.txt": b"weird\n",
    }
    for name, data in files.items():
        p = os.path.join(root, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
    rnd = os.urandom(3 * 1024 * 1024 + 123)
    with open(os.path.join(root, "random.bin"), "wb") as f:
        f.write(rnd)
    files["random.bin"] = rnd
    secret = os.path.join(root, "secret.txt")
    with open(secret, "wb") as f:
        f.write(b"secret\n")
    os.chmod(secret, 0)
    files["secret.txt"] = b"secret\n"
    return files


class Server:
    def __init__(self, binary, args, root, port, log_dir):
        self.binary, self.args, self.root, self.port = binary, args, root, port
        self.access_log = os.path.join(log_dir, "access-%d.log" % port)
        self.stderr_path = os.path.join(log_dir, "stderr-%d.log" % port)
        self.proc = None
        self.wrapper = []

    def start(self, ready=True):
        # "serving" comes after every listener (QUIC and TCP) is up
        # one process unless a test asks for workers: RSS and CPU are read
        # from /proc of the pid started
        workers = [] if "--workers" in self.args else ["--workers", "1"]
        cmd = self.wrapper + [self.binary, "--root", self.root, "--listen", "127.0.0.1:%d" % self.port,
               "--access-log", self.access_log] + workers + self.args
        self.stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.stderr)
        if ready:
            deadline = time.time() + 10
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    time.sleep(0.1)  # let the last stderr line land
                    raise RuntimeError("h3gate exited early (%r): %s" % (self.proc.returncode, self.log()))
                if " serving " in self.log():
                    return self
                time.sleep(0.02)
            raise RuntimeError("h3gate did not start: " + self.log())
        return self

    def url(self, path="/"):
        return "https://localhost:%d%s" % (self.port, path)

    def log(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")

    def access(self):
        try:
            with open(self.access_log) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def peak_rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return None

    def stop(self, timeout=20):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("h3gate did not exit on SIGTERM within %ds" % timeout)
        finally:
            self.stderr.close()


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("site"))
    return root, make_site(root)


# Every test that starts a server runs once per QUIC engine (H3G_ENGINES narrows
# the list, e.g. H3G_ENGINES=ngtcp2).
ENGINES = os.environ.get("H3G_ENGINES", "openssl ngtcp2").split()


@pytest.fixture(params=ENGINES)
def engine(request):
    return request.param


@pytest.fixture
def start_server(h3gate_bin, certs, tmp_path, engine):
    """Factory: start_server(args=[], root=None) -> running Server."""
    servers = []

    def start(args=(), root=None, ready=True, port=None):
        r = root if root is not None else start.default_root
        s = Server(h3gate_bin, ["--engine", engine, "--cert", certs["cert"], "--key", certs["key"]]
                   + list(args), r, port or free_udp_port(), str(tmp_path))
        servers.append(s)
        return s.start(ready)

    start.default_root = None
    yield start
    for s in servers:
        rc = s.stop()
        if rc not in (0, None) and not getattr(s, "expect_failure", False):
            raise AssertionError("h3gate exited with %r:\n%s" % (rc, s.log()))
        log = s.log()
        for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            assert bad not in log, log


@pytest.fixture
def server(start_server, site):
    start_server.default_root = site[0]
    return start_server()


@pytest.fixture
def client(certs):
    return Client(ca=certs["ca"])


# Protocols the static and proxy tests run over.  HTTP/2 and HTTP/1.1 do not
# depend on the QUIC engine: they run with one engine only.
PROTOCOLS = ["h3", "h2", "h1"]


@pytest.fixture(params=PROTOCOLS)
def proto_client(request, certs, engine):
    if request.param != "h3" and engine != ENGINES[-1]:
        pytest.skip("HTTP over TCP does not depend on the QUIC engine")
    return Client(ca=certs["ca"], proto=request.param)
