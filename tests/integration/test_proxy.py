"""Reverse proxy: HTTP/3, HTTP/2 and HTTP/1.1 in front, HTTP/1.1 origins behind."""
import hashlib
import os
import re
import signal
import subprocess
import threading
import time

import pycurl
import pytest

from conftest import free_udp_port
from origins import FaultOrigin, Nginx


class Proxy:
    def __init__(self, binary, certs, tmp, upstream_servers, extra="", upstream_extra="",
                 route_extra="", args=()):
        self.port = free_udp_port()
        self.access_log = os.path.join(tmp, "proxy-access-%d.log" % self.port)
        conf = os.path.join(tmp, "proxy-%d.conf" % self.port)
        servers = "".join("    server %s;\n" % s for s in upstream_servers)
        with open(conf, "w") as f:
            f.write("listen 127.0.0.1:%d;\naccess_log %s;\n"
                    "certificate { cert %s; key %s; }\n"
                    "upstream app {\n%s%s}\n"
                    "route { upstream app;%s }\n%s"
                    % (self.port, self.access_log, certs["cert"], certs["key"], servers,
                       upstream_extra, route_extra, extra))
        self.stderr = open(os.path.join(tmp, "proxy-%d.err" % self.port), "w+")
        # one process, one origin pool, unless a test asks for workers
        workers = [] if "--workers" in args else ["--workers", "1"]
        self.proc = subprocess.Popen([binary, "-c", conf] + workers + list(args),
                                     stdout=subprocess.DEVNULL, stderr=self.stderr)
        deadline = time.time() + 10
        while time.time() < deadline:
            self.stderr.seek(0)
            if " serving " in self.stderr.read():
                return
            assert self.proc.poll() is None, "h3gate exited"
            time.sleep(0.02)
        raise RuntimeError("h3gate did not start")

    def url(self, path):
        return "https://localhost:%d%s" % (self.port, path)

    def access(self):
        with open(self.access_log) as f:
            return f.read()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(30)
        self.stderr.seek(0)
        log = self.stderr.read()
        for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            assert bad not in log, log
        assert rc == 0, log
        return log


@pytest.fixture
def client(proto_client):
    """Every test here runs over HTTP/3, HTTP/2 and HTTP/1.1."""
    return proto_client

@pytest.fixture
def origin_root(tmp_path):
    root = tmp_path / "origin"
    root.mkdir()
    files = {"small.txt": b"small response\n", "1k.bin": os.urandom(1024),
             "3m.bin": os.urandom(3 * 1024 * 1024)}
    for k, v in files.items():
        (root / k).write_bytes(v)
    os.chmod(tmp_path, 0o755)
    for p in root.iterdir():
        os.chmod(p, 0o644)
    os.chmod(root, 0o755)
    return str(root), files


@pytest.fixture
def nginx(tmp_path, origin_root):
    n = Nginx(str(tmp_path / "nginx"), origin_root[0])
    yield n
    n.stop()


@pytest.fixture
def proxies(h3gate_bin, certs, tmp_path, engine):
    made = []

    def make(servers, **kw):
        kw["args"] = ["--engine", engine] + list(kw.get("args", ()))
        p = Proxy(h3gate_bin, certs, str(tmp_path), servers, **kw)
        made.append(p)
        return p

    yield make
    for p in made:
        if p.proc.poll() is None:
            p.stop()


def test_proxy_serves_nginx_files(proxies, nginx, origin_root, client):
    px = proxies(["127.0.0.1:%d" % nginx.port])
    files = origin_root[1]
    for name in ("small.txt", "1k.bin", "3m.bin"):
        r = client.get(px.url("/" + name))
        assert r.status == 200
        assert r.sha256 == hashlib.sha256(files[name]).hexdigest(), name
        assert r.header("server").startswith("nginx")
        assert "h3gate" in r.header("via")
    r = client.get(px.url("/missing"))
    assert r.status == 404
    r = client.get(px.url("/3m.bin"), method="HEAD")
    assert r.status == 200 and r.body == b"" and r.header("content-length") == str(3 << 20)
    px.stop()
    log = px.access()
    assert re.search(r'path="/3m.bin" status=200 bytes=%d .* upstream=127.0.0.1:%d connect_ms='
                     % (3 << 20, nginx.port), log), log


def test_forwarded_headers_and_cookies(proxies, nginx, client):
    px = proxies(["127.0.0.1:%d" % nginx.port])
    r = client.get(px.url("/headers"), headers=["Cookie: a=1", "Cookie: b=2", "TE: trailers"])
    body = r.body.decode()
    assert "host=localhost:%d" % px.port in body
    assert "xff=127.0.0.1 " in body
    assert "xfp=https" in body
    assert 'fwd=for=127.0.0.1;proto=https;host="localhost:%d"' % px.port in body
    assert "via=%s h3gate" % {"h3": "3", "h2": "2", "h1": "1.1"}[client.proto] in body
    assert "cookie=a=1; b=2" in body
    assert "te= " in body  # TE is hop-by-hop


def test_hop_by_hop_response_fields_removed(proxies, nginx, client):
    px = proxies(["127.0.0.1:%d" % nginx.port])
    r = client.get(px.url("/hop"))
    assert r.status == 200 and r.header("x-public") == "ok"
    assert r.header("x-private") is None  # listed in Connection
    assert r.header("keep-alive") is None and r.header("connection") is None


def test_pool_reuses_origin_connections(proxies, nginx, client):
    px = proxies(["127.0.0.1:%d" % nginx.port])
    for _ in range(10):
        assert client.get(px.url("/small.txt")).status == 200
    assert len(nginx.connections()) == 1, nginx.connections()


def test_50_concurrent_proxied_streams(proxies, nginx, origin_root, client):
    px = proxies(["127.0.0.1:%d" % nginx.port])
    want = hashlib.sha256(origin_root[1]["1k.bin"]).hexdigest()
    results = client.parallel([px.url("/1k.bin")] * 50, connections=5)
    assert len(results) == 50
    assert all(r.status == 200 and r.sha256 == want for r in results)


def test_client_cancel_closes_origin_connection(proxies, nginx, origin_root, client):
    # Larger than every window and buffer on the way (libcurl's HTTP/2
    # window, the sockets'), so the cancel comes while the exchange runs;
    # with a small file h3gate may finish it (and pool the connection)
    # before the client's reset arrives.  Sparse: nothing to write.
    with open(os.path.join(origin_root[0], "big-sparse.bin"), "wb") as f:
        f.truncate(256 << 20)
    px = proxies(["127.0.0.1:%d" % nginx.port])
    c, st = client.handle(px.url("/big-sparse.bin"))
    got = {"n": 0}

    def write(data):
        got["n"] += len(data)
        return -1 if got["n"] > 100000 else None  # abort: curl resets the stream

    c.setopt(pycurl.WRITEFUNCTION, write)
    with pytest.raises(pycurl.error):
        c.perform()
    c.close()
    for _ in range(3):
        assert client.get(px.url("/small.txt")).status == 200
    # The cancelled exchange's connection was closed, never reused: the
    # small requests went on a second one.  nginx logs the cancelled request
    # once it sees the close, which may come after the small ones.
    deadline = time.monotonic() + 15
    while len(nginx.connections()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(nginx.connections()) == 2, open(nginx.log).read()
    px.stop()
    assert re.search(r'path="/big-sparse.bin" status=200 .* error=', px.access()), px.access()


def test_origin_down_is_502(proxies, client):
    from origins import free_tcp_port
    px = proxies(["127.0.0.1:%d" % free_tcp_port()])
    r = client.get(px.url("/x"))
    assert r.status == 502
    px.stop()
    assert re.search(r'status=502 .* upstream=127.0.0.1:\d+', px.access())


def test_second_origin_takes_over(proxies, nginx, client):
    from origins import free_tcp_port
    px = proxies(["127.0.0.1:%d" % free_tcp_port(), "127.0.0.1:%d" % nginx.port])
    for _ in range(4):
        assert client.get(px.url("/small.txt")).status == 200


def test_slow_origin_is_504(proxies, client):
    o = FaultOrigin("hang", seconds=5)
    px = proxies(["127.0.0.1:%d" % o.port], upstream_extra="    header_timeout 1s;\n")
    r = client.get(px.url("/x"))
    assert r.status == 504  # the origin hangs 5 s then closes: that would be a 502
    o.stop()


@pytest.mark.parametrize("mode", ["reset-mid-body", "close-mid-body"])
def test_cut_body_is_a_stream_reset(proxies, client, mode):
    o = FaultOrigin(mode)
    px = proxies(["127.0.0.1:%d" % o.port])
    r = client.get(px.url("/x"), raise_errors=False, keep_body=False)
    # never a short body reported as complete
    assert r.error is not None, (r.status, r.size)
    assert r.size < 1000000
    px.stop()
    assert re.search(r'path="/x" status=200 .* error=', px.access()), px.access()
    o.stop()


@pytest.mark.parametrize("mode,status", [("malformed", 502), ("huge-header", 502)])
def test_bad_origin_responses_are_502(proxies, client, mode, status):
    o = FaultOrigin(mode)
    px = proxies(["127.0.0.1:%d" % o.port])
    assert client.get(px.url("/x")).status == status
    o.stop()


@pytest.mark.parametrize("mode,size", [("chunked", 50000), ("close-delimited", 300000)])
def test_chunked_and_close_delimited_responses(proxies, client, mode, size):
    o = FaultOrigin(mode)
    px = proxies(["127.0.0.1:%d" % o.port])
    r = client.get(px.url("/x"))
    assert r.status == 200 and r.size == size
    o.stop()


def test_every_origin_field_is_forwarded(proxies, client):
    o = FaultOrigin("many-fields")
    px = proxies(["127.0.0.1:%d" % o.port])
    r = client.get(px.url("/x"))
    assert r.status == 200 and r.body == b"ok"
    assert all(r.header("x-field-%d" % i) == "v%d" % i for i in range(60)), r.headers
    o.stop()


def test_interim_responses_are_skipped(proxies, client):
    o = FaultOrigin("interim")
    px = proxies(["127.0.0.1:%d" % o.port])
    r = client.get(px.url("/x"))
    assert r.status == 200 and r.body == b"final"
    o.stop()


def _upload(client, url, data, chunked, timeout=60, answered_early=False):
    c, state = client.handle(url, timeout=timeout)
    c.setopt(pycurl.POST, 1)
    c.setopt(pycurl.READFUNCTION, __import__("io").BytesIO(data).read)
    if chunked:
        c.setopt(pycurl.HTTPHEADER, ["Transfer-Encoding: chunked"])
    else:
        c.setopt(pycurl.POSTFIELDSIZE_LARGE, len(data))
    try:
        c.perform()
    except pycurl.error as e:
        # Answered before the whole upload: curl may give up its own upload
        # once the answer is in; what it must not see is a timeout.
        if not answered_early or e.args[0] == pycurl.E_OPERATION_TIMEDOUT:
            raise
    r = client.result(c, state)
    c.close()
    return r


@pytest.mark.parametrize("chunked", [False, True])
def test_upload_streams_to_origin(proxies, client, chunked):
    o = FaultOrigin("echo")
    px = proxies(["127.0.0.1:%d" % o.port])
    data = os.urandom(5 * 1024 * 1024 + 7)
    r = _upload(client, px.url("/upload"), data, chunked)
    assert r.status == 200
    assert r.body.decode() == "sha256=%s length=%d\n" % (hashlib.sha256(data).hexdigest(), len(data))
    sha, n, fields = o.bodies[-1]
    if chunked:
        assert fields.get("transfer-encoding") == "chunked"
    else:
        assert fields.get("content-length") == str(len(data))
    o.stop()


@pytest.mark.parametrize("mode", ["early-413", "early-413-linger", "early-413-keep"])
def test_origin_answering_before_the_upload_is_relayed(proxies, client, mode, engine):
    """The origin answers 413 before reading a 3 MB upload (and closes, drains
    or just waits): the client gets the origin's 413 promptly, the rest of its
    upload is stopped with H3_NO_ERROR (RFC 9114 §4.1) or drained, and the
    connection goes on serving (issue 12, finding 6: a 30 s hang, a
    connection error or a 502 before)."""
    if engine == "openssl":
        pytest.skip("OpenSSL engine: curl, abandoning its upload, now and then never gets "
                    "the 413's FIN (about 1 run in 6; issue 12's note)")
    o = FaultOrigin(mode)
    px = proxies(["127.0.0.1:%d" % o.port])
    data = os.urandom(3 * 1024 * 1024)
    for chunked in (False, True):
        r = _upload(client, px.url("/upload"), data, chunked, timeout=10, answered_early=True)
        assert r.status == 413 and r.body == b"too large", (chunked, r.status, r.body)
    log = px.stop()
    assert "H3_MESSAGE_ERROR" not in log and "closing connection" not in log, log
    o.stop()


def _peak_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])


def _rss_limit_kib():
    return (512 if os.environ.get("H3G_SANITIZE") else 64) * 1024


def test_1gib_download_through_proxy_bounded_memory(proxies, nginx, origin_root, client):
    block = os.urandom(1 << 20)
    whole = hashlib.sha256()
    with open(os.path.join(origin_root[0], "1g.bin"), "wb") as f:
        for _ in range(1024):
            f.write(block)
            whole.update(block)
    os.chmod(os.path.join(origin_root[0], "1g.bin"), 0o644)
    px = proxies(["127.0.0.1:%d" % nginx.port])
    t0 = time.time()
    r = client.get(px.url("/1g.bin"), keep_body=False, timeout=900)
    dt = time.time() - t0
    assert r.status == 200 and r.size == 1 << 30 and r.sha256 == whole.hexdigest()
    rss = _peak_rss_kib(px.proc.pid)
    print("\n1 GiB download via proxy: %.1f s, h3gate peak RSS %.1f MiB" % (dt, rss / 1024))
    assert rss < _rss_limit_kib(), rss
    os.unlink(os.path.join(origin_root[0], "1g.bin"))


def test_1gib_upload_through_proxy_bounded_memory(proxies, client):
    o = FaultOrigin("echo")
    px = proxies(["127.0.0.1:%d" % o.port])
    block = os.urandom(1 << 20)
    whole = hashlib.sha256()
    for _ in range(1024):
        whole.update(block)
    state = {"sent": 0}

    def read(n):
        left = (1 << 30) - state["sent"]
        if left <= 0:
            return b""
        off = state["sent"] % len(block)
        chunk = block[off:off + min(n, left, len(block) - off)]
        state["sent"] += len(chunk)
        return chunk

    c, st = client.handle(px.url("/upload"), timeout=900)
    c.setopt(pycurl.POST, 1)
    c.setopt(pycurl.READFUNCTION, read)
    c.setopt(pycurl.POSTFIELDSIZE_LARGE, 1 << 30)
    t0 = time.time()
    c.perform()
    r = client.result(c, st)
    c.close()
    dt = time.time() - t0
    assert r.status == 200
    assert r.body.decode() == "sha256=%s length=%d\n" % (whole.hexdigest(), 1 << 30)
    rss = _peak_rss_kib(px.proc.pid)
    print("\n1 GiB upload via proxy: %.1f s, h3gate peak RSS %.1f MiB" % (dt, rss / 1024))
    assert rss < _rss_limit_kib(), rss
    o.stop()


def test_route_header_rules(proxies, nginx, client):
    px = proxies(["127.0.0.1:%d" % nginx.port],
                 route_extra=" add_header x-edge h3gate; remove_header server;")
    r = client.get(px.url("/small.txt"))
    assert r.status == 200 and r.header("x-edge") == "h3gate" and r.header("server") is None


@pytest.mark.parametrize("chunked", [False, True])
def test_request_body_limit_is_413(proxies, client, chunked):
    o = FaultOrigin("echo")
    px = proxies(["127.0.0.1:%d" % o.port],
                 extra="limits { request_body_size 1m; }\nidle_timeout 3s;\n")
    try:
        r = _upload(client, px.url("/upload"), os.urandom(2 << 20), chunked)
        assert r.status == 413
    except pycurl.error:
        # curl sometimes stops uploading without ending its stream once it has
        # the 413; h3gate's idle timeout then closes the connection.  The
        # server side is checked in the log below.
        pass
    r = _upload(client, px.url("/upload"), os.urandom(1 << 20), chunked)
    assert r.status == 200  # exactly the limit is fine
    px.stop()
    assert re.search(r'path="/upload" status=413 .* error=request body too large', px.access())
    assert o.bodies and all(n <= 1 << 20 for _, n, _ in o.bodies)  # nothing over-limit went through
    o.stop()


def test_request_timeout(proxies, client):
    o = FaultOrigin("slow-drip", interval=0.5)
    px = proxies(["127.0.0.1:%d" % o.port], upstream_extra="    request_timeout 1s;\n")
    r = client.get(px.url("/x"), raise_errors=False)
    assert r.error is not None and r.size < 10  # headers came, the body was cut: a reset
    o.stop()


def test_streams_per_connection_limit(proxies, nginx, origin_root, client, engine):
    px = proxies(["127.0.0.1:%d" % nginx.port], extra="limits { streams_per_connection 2; }\n")
    want = hashlib.sha256(origin_root[1]["3m.bin"]).hexdigest()
    done = client.parallel([px.url("/3m.bin")] * 6, connections=1)  # six streams at once
    ok = [r for r in done if r.status == 200 and r.sha256 == want]
    assert ok, "some requests are served"
    px.stop()
    if engine == "ngtcp2" or client.proto != "h3":
        # The limit is QUIC's stream limit (or HTTP/2's SETTINGS, or one
        # request at a time): the client waits for credit.
        assert len(ok) == 6 and "H3_REQUEST_REJECTED" not in px.access()
    else:
        # OpenSSL grants 100 streams: HTTP/3 turns the extra ones away.
        assert "error=H3_REQUEST_REJECTED" in px.access(), "the limit turned requests away"


def test_config_check_upstream_errors(h3gate_bin, tmp_path):
    conf = tmp_path / "u.conf"
    conf.write_text("upstream app { }\n")
    p = subprocess.run([h3gate_bin, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert p.returncode == 2 and ":1: upstream: 'app' has no server" in p.stderr
    conf.write_text("route { upstream nope; }\n")
    p = subprocess.run([h3gate_bin, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert p.returncode == 2 and ":1: route: no upstream named 'nope'" in p.stderr
    conf.write_text("upstream app { server localhost; }\nroute { upstream app; }\n")
    p = subprocess.run([h3gate_bin, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert p.returncode == 2 and "expected HOST:PORT" in p.stderr


def test_cli_upstream_with_root_serves_files_then_proxies(h3gate_bin, certs, nginx, client,
                                                          tmp_path):
    local = tmp_path / "local"
    local.mkdir()
    (local / "local.txt").write_text("from disk\n")
    port = free_udp_port()
    p = subprocess.Popen([h3gate_bin, "--upstream", "http://127.0.0.1:%d" % nginx.port, "--root",
                          str(local), "--listen", "127.0.0.1:%d" % port, "--cert", certs["cert"],
                          "--key", certs["key"]], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    while " serving " not in p.stderr.readline():
        pass
    try:
        r = client.get("https://localhost:%d/local.txt" % port)
        assert r.status == 200 and r.body == b"from disk\n"
        r = client.get("https://localhost:%d/small.txt" % port)
        assert r.status == 200 and r.body == b"small response\n"
    finally:
        p.terminate()
        assert p.wait(20) == 0


def early_client(ca):
    """A libcurl client that resumes TLS sessions and sends 0-RTT early data
    (CURLSSLOPT_EARLYDATA)."""
    share = pycurl.CurlShare()
    share.setopt(pycurl.SH_SHARE, pycurl.LOCK_DATA_SSL_SESSION)

    def get(url):
        c = pycurl.Curl()
        c.setopt(pycurl.SHARE, share)
        c.setopt(pycurl.URL, url)
        port = url.split(":")[2].split("/")[0]
        c.setopt(pycurl.RESOLVE, ["localhost:%s:127.0.0.1" % port])
        c.setopt(pycurl.HTTP_VERSION, 31)
        c.setopt(pycurl.CAINFO, ca)
        c.setopt(pycurl.SSL_OPTIONS, 64)  # CURLSSLOPT_EARLYDATA (pycurl 7.45 lacks the name)
        body = []
        c.setopt(pycurl.WRITEFUNCTION, body.append)
        c.perform()
        status = c.getinfo(pycurl.RESPONSE_CODE)
        c.close()
        return status, b"".join(body).decode(errors="replace")
    return get


def test_early_data_is_forwarded_with_early_data_1(proxies, nginx, certs, engine):
    """A resumed client's GET in 0-RTT is proxied with Early-Data: 1 (RFC 8470
    §5.1), so the origin may answer 425; the access log marks it early=1."""
    if engine != "ngtcp2":
        pytest.skip("OpenSSL 3.5's QUIC server does not accept 0-RTT")
    px = proxies(["127.0.0.1:%d" % nginx.port])
    get = early_client(certs["ca"])
    first = get(px.url("/headers"))
    assert first[0] == 200 and first[1].rstrip("\n").endswith("early=")
    time.sleep(0.2)  # the session ticket arrives after the handshake
    second = get(px.url("/headers"))
    assert second[0] == 200
    assert second[1].rstrip("\n").endswith("early=1"), second
    px.stop()  # every request logged
    lines = [l for l in px.access().splitlines() if "/headers" in l]
    assert "early=1" not in lines[0] and "early=1" in lines[1], lines
