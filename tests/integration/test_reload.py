"""SIGHUP reload and SIGUSR1 log reopen: new connections and requests get the
new configuration, running ones continue, nothing is dropped; an invalid file
changes nothing.  Real clients: libcurl (HTTP/3, HTTP/2, HTTP/1.1) through
pycurl, Python's ssl for the certificate over TCP."""
import hashlib
import os
import pwd
import signal
import socket
import ssl
import subprocess
import threading
import time

import pycurl
import pytest

from conftest import free_udp_port
from h3client import VERSIONS, Client
from test_config import h3, make_cert

SANITIZE = os.environ.get("H3G_SANITIZE") == "1"
BIG = (48 if SANITIZE else 200) * 1024 * 1024


class Reloadable:
    """h3gate run from a config file the test rewrites."""

    def __init__(self, binary, engine, tmp_path, body, args=()):
        self.port = free_udp_port()
        self.dir = tmp_path
        self.conf = tmp_path / ("h3gate-%d.conf" % self.port)
        self.access_log = tmp_path / ("access-%d.log" % self.port)
        self.stderr_path = tmp_path / ("stderr-%d.log" % self.port)
        self.write(body)
        self.stderr = open(self.stderr_path, "wb")
        # one process unless a test asks for workers (test_workers.py has them)
        workers = [] if "--workers" in args else ["--workers", "1"]
        self.proc = subprocess.Popen([binary, "--engine", engine, "-c", str(self.conf)] + workers
                                     + list(args),
                                     stdout=subprocess.DEVNULL, stderr=self.stderr)

    def write(self, body):
        self.conf.write_text(body.replace("@PORT@", str(self.port))
                             .replace("@LOG@", str(self.access_log)))

    def log(self):
        return self.stderr_path.read_text(errors="replace")

    def wait_log(self, needle, count=1, timeout=15, path=None):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                text = path.read_text(errors="replace") if path else self.log()
            except FileNotFoundError:
                text = ""
            if text.count(needle) >= count:
                return text
            assert self.proc.poll() is None, "h3gate exited: " + self.log()
            time.sleep(0.02)
        raise AssertionError("no %r in the log:\n%s" % (needle, self.log()))

    def reload(self, body=None, ok=True):
        if body is not None:
            self.write(body)
        n = self.log().count("SIGHUP: reloading")
        done = "reload: configuration" if ok else "reload failed"
        before = self.log().count(done)
        self.proc.send_signal(signal.SIGHUP)
        self.wait_log("SIGHUP: reloading", n + 1)
        return self.wait_log(done, before + 1)

    def url(self, path, port=None):
        return "https://localhost:%d%s" % (port or self.port, path)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)
        self.stderr.close()
        return self.proc.returncode

    def stop_clean(self):
        """Stops it; it must exit 0 with no sanitizer report."""
        rc = self.stop()
        log = self.log()
        assert rc == 0, log
        for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            assert bad not in log, log


@pytest.fixture
def reloadable(h3gate_bin, engine, tmp_path):
    servers = []

    def start(body, args=(), ready=True):
        s = Reloadable(h3gate_bin, engine, tmp_path, body, args)
        servers.append(s)
        if ready:
            s.wait_log(" serving ")
        return s

    yield start
    for s in servers:
        s.stop_clean()


def two_roots(tmp_path):
    """Roots A and B: which.txt names the root; A has a big random file."""
    for name in ("A", "B"):
        d = tmp_path / ("root" + name)
        d.mkdir()
        (d / "which.txt").write_text(name + "\n")
    block = os.urandom(1024 * 1024)
    sha = hashlib.sha256()
    with open(tmp_path / "rootA" / "big.bin", "wb") as f:
        for i in range(BIG // len(block)):
            chunk = block[i % 7:] + block[:i % 7]  # no two MiB alike
            f.write(chunk)
            sha.update(chunk)
    return tmp_path / "rootA", tmp_path / "rootB", sha.hexdigest()


def site_conf(certs, root, extra=""):
    return ("listen 127.0.0.1:@PORT@;\naccess_log @LOG@;\n"
            "certificate { cert %s; key %s; }\n"
            "route { path /; root %s; }\n%s" % (certs["cert"], certs["key"], root, extra))


class Conn:
    """One libcurl connection kept across transfers (a multi handle's pool),
    so a test can tell a reused connection from a new one."""

    def __init__(self, ca, proto):
        self.client, self.proto = Client(ca, proto), proto
        self.multi = pycurl.CurlMulti()
        self.multi.setopt(pycurl.M_MAX_HOST_CONNECTIONS, 1)

    def start(self, url, sink=None):
        c, st = self.client.handle(url, keep_body=sink is None, sink=sink)
        self.multi.add_handle(c)
        return c, st

    def step(self):
        ret, n = self.multi.perform()
        if ret != pycurl.E_CALL_MULTI_PERFORM:
            self.multi.select(0.05)
        return n

    def finish(self, c, st, during=None):
        while self.step():
            if during is not None:
                during(st)
        _, _, failed = self.multi.info_read()
        r = Client.result(c, st, failed[0][2] if failed else None)
        new_conns = c.getinfo(pycurl.NUM_CONNECTS)
        self.multi.remove_handle(c)
        c.close()
        assert r.error is None, r.error
        assert r.version == VERSIONS[self.proto][1]
        return r, new_conns

    def get(self, url):
        c, st = self.start(url)
        return self.finish(c, st)

    def close(self):
        self.multi.close()


@pytest.mark.parametrize("proto", ["h3", "h2", "h1"])
def test_reload_during_download_and_on_an_idle_connection(reloadable, certs, tmp_path, proto):
    root_a, root_b, big_sha = two_roots(tmp_path)
    s = reloadable(site_conf(certs, root_a))
    conn = Conn(certs["ca"], proto)
    r, _ = conn.get(s.url("/which.txt"))
    assert r.body == b"A\n"
    # the connection is idle now; a download starts on it, and the reload
    # comes while it runs
    c, st = conn.start(s.url("/big.bin"), sink=lambda data: None)
    state = {"reloaded": False}

    def during(st):
        if not state["reloaded"] and st["n"] > 8 * 1024 * 1024:
            s.write(site_conf(certs, root_b))
            s.proc.send_signal(signal.SIGHUP)
            state["reloaded"] = True

    r, new_conns = conn.finish(c, st, during)
    assert state["reloaded"], "the download ended before the reload"
    assert (r.status, r.size, r.sha256) == (200, BIG, big_sha)
    assert new_conns == 0, "the download did not run on the first connection"
    s.wait_log("reload: configuration 2 in use")
    # the same connection, after the reload: the new root answers
    r, new_conns = conn.get(s.url("/which.txt"))
    assert r.body == b"B\n"
    assert new_conns == 0, "the connection from before the reload was not kept"
    conn.close()
    # and a new connection too
    assert Client(certs["ca"], proto).get(s.url("/which.txt")).body == b"B\n"


@pytest.mark.parametrize("body,needle", [
    ("listen 127.0.0.1:@PORT@;\nroute { path /; root %s;\n", "missing '}'"),
    ("listen 127.0.0.1:@PORT@;\nroute { path /; root /nonexistent/h3gate; }\n", ":2: route:"),
    ("listen 127.0.0.1:@PORT@;\ncertificate { cert /nonexistent.pem; key /nonexistent.key; }\n"
     "route { path /; root %s; }\n", ":2: certificate:"),
    ("listen 127.0.0.1:@PORT@;\nlisten 127.0.0.1:@BUSY@;\nroute { path /; root %s; }\n",
     "already in use"),
])
def test_invalid_reload_keeps_serving_the_old_one(reloadable, certs, tmp_path, body, needle):
    root_a, root_b, _ = two_roots(tmp_path)
    s = reloadable(site_conf(certs, root_a))
    busy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    body = body.replace("@BUSY@", str(busy.getsockname()[1]))
    log = s.reload(body.replace("%s", str(root_b)), ok=False)
    assert needle in log.split("reload failed")[-1], log
    for proto in ("h3", "h2"):
        assert Client(certs["ca"], proto).get(s.url("/which.txt")).body == b"A\n"
    busy.close()
    # a good file afterwards is taken
    s.reload(site_conf(certs, root_b))
    assert Client(certs["ca"], "h3").get(s.url("/which.txt")).body == b"B\n"


def tcp_peer_cert_cn(port, ca):
    ctx = ssl.create_default_context(cafile=ca)
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as t:
            subject = dict(x[0] for x in t.getpeercert()["subject"])
            return subject["commonName"]


def quic_cert_subject(port):
    """The certificate subject a QUIC handshake gets, from OpenSSL's own QUIC
    client (s_client -quic, in the OpenSSL build setup-deps made)."""
    cache = os.environ.get("H3GATE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "h3gate")
    ossl = os.path.join(cache, "openssl")
    binary = os.path.join(ossl, "bin", "openssl")
    if not os.access(binary, os.X_OK):
        pytest.skip("no OpenSSL build with s_client -quic in the cache")
    # "Q" once the handshake is done: s_client then closes the connection
    # (at EOF it would just leave, mid-handshake for the server)
    p = subprocess.Popen([binary, "s_client", "-quic", "-alpn", "h3", "-connect",
                          "127.0.0.1:%d" % port, "-servername", "localhost"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         env=dict(os.environ, LD_LIBRARY_PATH=os.path.join(ossl, "lib")))
    subject, seen = None, []
    for raw in p.stdout:
        line = raw.decode(errors="replace").rstrip("\n")
        seen.append(line)
        if line.startswith("subject="):
            subject = line[len("subject="):]
        if "handshake has read" in line:
            break
    p.stdin.write(b"Q\n")
    p.stdin.close()
    p.stdout.read()
    p.wait(30)
    assert subject is not None, "\n".join(seen)
    return subject


def test_reload_picks_up_a_renewed_certificate(reloadable, certs, tmp_path):
    root_a, _, _ = two_roots(tmp_path)
    old_crt, old_key = make_cert(certs, tmp_path, "old", ["old.test", "localhost"])
    new_crt, new_key = make_cert(certs, tmp_path, "new", ["new.test", "localhost"])
    live_crt, live_key = tmp_path / "live.pem", tmp_path / "live.key"
    live_crt.write_bytes(open(old_crt, "rb").read())
    live_key.write_bytes(open(old_key, "rb").read())
    body = ("listen 127.0.0.1:@PORT@;\ncertificate { cert %s; key %s; }\n"
            "route { path /; root %s; }\n" % (live_crt, live_key, root_a))
    s = reloadable(body)
    assert tcp_peer_cert_cn(s.port, certs["ca"]) == "old.test"
    assert quic_cert_subject(s.port) == "CN=old.test"
    # certbot-style renewal: new files at the same paths, then SIGHUP
    live_crt.write_bytes(open(new_crt, "rb").read())
    live_key.write_bytes(open(new_key, "rb").read())
    s.reload()
    assert tcp_peer_cert_cn(s.port, certs["ca"]) == "new.test"
    assert quic_cert_subject(s.port) == "CN=new.test"
    status, _, subject = h3("https://localhost:%d/which.txt" % s.port, "localhost", s.port,
                            certs["ca"])
    assert status == 200 and ("new.test" in subject or subject == "")


def test_reload_adds_and_removes_listeners(reloadable, certs, tmp_path):
    root_a, _, _ = two_roots(tmp_path)
    s = reloadable(site_conf(certs, root_a))
    extra = free_udp_port()
    s.reload(site_conf(certs, root_a, "listen 127.0.0.1:%d;\n" % extra))
    for proto in ("h3", "h2", "h1"):
        assert Client(certs["ca"], proto).get(s.url("/which.txt", extra)).body == b"A\n"
    # a connection on the port about to go away stays usable after it is gone
    conn = Conn(certs["ca"], "h2")
    assert conn.get(s.url("/which.txt", extra))[0].body == b"A\n"
    s.reload(site_conf(certs, root_a))
    r, new_conns = conn.get(s.url("/which.txt", extra))
    assert r.body == b"A\n" and new_conns == 0
    conn.close()
    # new connections there are refused, the first port still serves
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", extra), timeout=5).close()
    r = Client(certs["ca"], "h3").get(s.url("/which.txt", extra), raise_errors=False, timeout=10)
    assert r.error is not None
    for proto in ("h3", "h2"):
        assert Client(certs["ca"], proto).get(s.url("/which.txt")).body == b"A\n"


def test_reload_limits_apply_to_new_connections(reloadable, certs, tmp_path):
    root_a, _, _ = two_roots(tmp_path)
    s = reloadable(site_conf(certs, root_a))
    conn = Conn(certs["ca"], "h2")
    assert conn.get(s.url("/which.txt"))[0].status == 200
    s.reload(site_conf(certs, root_a, "limits { request_header_size 1k; }\n"))
    # the connection from before keeps its limits; a new one gets the new ones
    long_header = ["x-pad: " + "a" * 2000]
    c, st = conn.client.handle(s.url("/which.txt"), headers=long_header)
    conn.multi.add_handle(c)
    r, new_conns = conn.finish(c, st)
    assert r.status == 200 and new_conns == 0
    conn.close()
    r = Client(certs["ca"], "h2").get(s.url("/which.txt"), headers=long_header,
                                      raise_errors=False)
    assert r.status == 431 or r.error is not None


def test_sigusr1_reopens_the_logs(reloadable, certs, tmp_path):
    root_a, _, _ = two_roots(tmp_path)
    err_log = tmp_path / "error.log"
    s = reloadable(site_conf(certs, root_a, "error_log %s;\n" % err_log), ready=False)
    s.wait_log(" serving ", path=err_log)
    Client(certs["ca"], "h3").get(s.url("/which.txt"))
    s.wait_log("path=\"/which.txt\"", path=s.access_log)
    os.rename(s.access_log, str(s.access_log) + ".1")
    os.rename(err_log, str(err_log) + ".1")
    s.proc.send_signal(signal.SIGUSR1)
    s.wait_log("logs reopened", path=err_log)
    Client(certs["ca"], "h2").get(s.url("/which.txt?after"))
    s.stop()
    assert "path=\"/which.txt?after\"" in s.access_log.read_text()
    assert "path=\"/which.txt?after\"" not in open(str(s.access_log) + ".1").read()
    assert "all connections closed" in err_log.read_text()


def test_pid_file_and_user(reloadable, certs, tmp_path):
    nobody = pwd.getpwnam("nobody")
    if os.geteuid() != 0:
        pytest.skip("needs root to change user")
    root = tmp_path / "public"
    root.mkdir()
    (root / "which.txt").write_text("public\n")
    os.chmod(tmp_path, 0o755)
    os.chmod(root, 0o755)
    pid_file = tmp_path / "h3gate.pid"
    body = ("listen 127.0.0.1:@PORT@;\ncertificate { cert %s; key %s; }\n"
            "route { path /; root %s; }\npid_file %s;\nuser nobody;\n"
            % (certs["cert"], certs["key"], root, pid_file))
    s = reloadable(body)
    assert int(pid_file.read_text()) == s.proc.pid
    with open("/proc/%d/status" % s.proc.pid) as f:
        uids = [line.split()[1:] for line in f if line.startswith("Uid:")][0]
    assert uids == [str(nobody.pw_uid)] * 4, uids
    for proto in ("h3", "h2"):
        assert Client(certs["ca"], proto).get(s.url("/which.txt")).body == b"public\n"
    assert "running as user nobody" in s.log()


def test_a_stuck_access_log_does_not_stop_the_server(reloadable, certs, tmp_path):
    """The access log is a FIFO nobody reads: its 64 KiB fill at once, the
    writer thread waits on it, and the event loop goes on serving; once the
    reader comes, every line arrives whole and in order."""
    root_a, _, _ = two_roots(tmp_path)
    fifo = tmp_path / "access.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # open, but not read yet
    s = reloadable(site_conf(certs, root_a).replace("access_log @LOG@", "access_log %s" % fifo))
    n = 3000
    out = subprocess.run(["h2load", "-n", str(n), "-c", "4", "-m", "10",
                          s.url("/which.txt").replace("localhost", "127.0.0.1")],
                         capture_output=True, text=True, timeout=120)
    assert "%d succeeded" % n in out.stdout, (out.stdout, out.stderr)
    got = []

    def read_all():
        with os.fdopen(reader, "rb", buffering=0) as f:
            deadline = time.time() + 60
            while time.time() < deadline:
                try:
                    chunk = f.read(65536)
                except BlockingIOError:
                    chunk = None
                if chunk == b"":
                    return  # the writer closed its end
                if chunk:
                    got.append(chunk)
                else:
                    time.sleep(0.01)

    t = threading.Thread(target=read_all)
    t.start()
    s.stop()  # the writer empties its queue into the FIFO as it is read
    t.join(60)
    lines = b"".join(got).decode().splitlines()
    reqs = [l for l in lines if " request " in l]
    assert len(reqs) == n, len(reqs)
    assert all(l.endswith("proto=h2") for l in reqs), [l for l in reqs if not l.endswith("proto=h2")][:3]


def test_a_reload_failing_late_leaves_the_listeners_alone(reloadable, certs, tmp_path):
    """The new file removes an address and names a certificate that does not
    exist: the reload fails, and the address it would have removed still
    takes new connections on TCP and QUIC."""
    root_a, _, _ = two_roots(tmp_path)
    extra = free_udp_port()
    s = reloadable(site_conf(certs, root_a, "listen 127.0.0.1:%d;\n" % extra))
    bad = ("listen 127.0.0.1:@PORT@;\ncertificate { cert /nonexistent.pem; key %s; }\n"
           "route { path /; root %s; }\n" % (certs["key"], root_a))
    s.reload(bad, ok=False)
    for proto in ("h3", "h2"):
        assert Client(certs["ca"], proto).get(s.url("/which.txt", extra)).body == b"A\n"


def test_an_address_removed_and_added_again(reloadable, certs, tmp_path):
    """Removed while a QUIC connection still uses it (its socket stays for
    that connection), then named again: the same socket accepts again, the
    port is not taken twice."""
    root_a, _, _ = two_roots(tmp_path)
    extra = free_udp_port()
    with_extra = site_conf(certs, root_a, "listen 127.0.0.1:%d;\n" % extra)
    s = reloadable(with_extra)
    conn = Conn(certs["ca"], "h3")
    assert conn.get(s.url("/which.txt", extra))[0].body == b"A\n"
    s.reload(site_conf(certs, root_a))
    s.reload(with_extra)
    r, new_conns = conn.get(s.url("/which.txt", extra))
    assert r.body == b"A\n" and new_conns == 0
    conn.close()
    for proto in ("h3", "h2", "h1"):
        assert Client(certs["ca"], proto).get(s.url("/which.txt", extra)).body == b"A\n"
