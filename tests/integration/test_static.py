"""Static files over HTTP/3, HTTP/2 and HTTP/1.1: statuses, headers, validators, ranges, traversal."""
import hashlib
import os
import re

import pytest


def sha(b):
    return hashlib.sha256(b).hexdigest()


@pytest.fixture
def client(proto_client):
    """Every test here runs over HTTP/3, HTTP/2 and HTTP/1.1."""
    return proto_client


def test_get_index_and_headers(server, client, site):
    r = client.get(server.url("/"))
    assert r.status == 200
    assert r.body == site[1]["index.html"]
    assert r.header("content-type") == "text/html; charset=utf-8"
    assert r.header("content-length") == str(len(site[1]["index.html"]))
    assert re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"', r.header("etag"))
    assert r.header("last-modified").endswith(" GMT")
    assert r.header("accept-ranges") == "bytes"
    assert r.header("date")


@pytest.mark.parametrize("path,ctype", [
    ("/hello.txt", "text/plain; charset=utf-8"),
    ("/style.css", "text/css; charset=utf-8"),
    ("/data.json", "application/json"),
    ("/random.bin", "application/octet-stream"),
    ("/sub/deep/file.js", "text/javascript; charset=utf-8"),
])
def test_content_types_and_bodies(server, client, site, path, ctype):
    r = client.get(server.url(path))
    assert r.status == 200
    assert r.header("content-type") == ctype
    assert r.sha256 == sha(site[1][path[1:]])


def test_empty_file(server, client):
    r = client.get(server.url("/empty.txt"))
    assert r.status == 200 and r.body == b"" and r.header("content-length") == "0"


def test_head(server, client, site):
    r = client.get(server.url("/random.bin"), method="HEAD")
    assert r.status == 200
    assert r.body == b""
    assert r.header("content-length") == str(len(site[1]["random.bin"]))


def test_directory_index_and_redirect(server, client, site):
    r = client.get(server.url("/sub/"))
    assert r.status == 200 and r.body == site[1]["sub/index.html"]
    r = client.get(server.url("/sub"))
    assert r.status == 301 and r.header("location") == "/sub/"
    r = client.get(server.url("/sub?x=1"))
    assert r.status == 301 and r.header("location") == "/sub/?x=1"
    r = client.get(server.url("/noindex/"))
    assert r.status == 403


def test_not_found(server, client):
    r = client.get(server.url("/nope.html"))
    assert r.status == 404
    assert b"404" in r.body and r.header("content-type").startswith("text/html")
    assert client.get(server.url("/hello.txt/x")).status == 404


def test_forbidden_unreadable(h3gate_bin, certs, client, tmp_path):
    """A file h3gate may not read is 403.  Root reads everything, so this server
    runs as nobody (setpriv) on a world-readable copy of the fixtures."""
    import shutil
    import subprocess
    import tempfile
    from conftest import Server, free_udp_port
    if os.geteuid() != 0 and not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run h3gate as another user")
    base = tempfile.mkdtemp(prefix="h3g-nobody-")
    try:
        os.chmod(base, 0o755)
        root = os.path.join(base, "root")
        os.mkdir(root)
        with open(os.path.join(root, "ok.txt"), "w") as f:
            f.write("ok\n")
        with open(os.path.join(root, "secret.txt"), "w") as f:
            f.write("secret\n")
        os.chmod(os.path.join(root, "ok.txt"), 0o644)
        os.chmod(os.path.join(root, "secret.txt"), 0o600)
        for name in ("cert", "key"):
            shutil.copy(certs[name], os.path.join(base, name + ".pem"))
            os.chmod(os.path.join(base, name + ".pem"), 0o644)
        args = ["--cert", os.path.join(base, "cert.pem"), "--key", os.path.join(base, "key.pem")]
        prefix = [] if os.geteuid() != 0 else ["setpriv", "--reuid=nobody", "--regid=nogroup",
                                               "--clear-groups", "--"]
        s = Server(h3gate_bin, args, root, free_udp_port(), str(tmp_path))
        s.wrapper = prefix
        logs = os.path.join(base, "logs")
        os.mkdir(logs)
        os.chmod(logs, 0o777)
        s.access_log = os.path.join(logs, "access.log")
        s.start()
        try:
            assert client.get(s.url("/ok.txt")).status == 200
            r = client.get(s.url("/secret.txt"))
            assert r.status == 403 and b"secret" not in r.body
        finally:
            assert s.stop() == 0
    finally:
        shutil.rmtree(base)


def test_forbidden_special_file(server, client, site):
    fifo = os.path.join(site[0], "fifo")
    if not os.path.exists(fifo):
        os.mkfifo(fifo)
    r = client.get(server.url("/fifo"))
    assert r.status == 403


def test_method_not_allowed(server, client):
    for m in ("POST", "PUT", "DELETE", "OPTIONS"):
        r = client.get(server.url("/hello.txt"), method=m)
        assert r.status == 405, m
        assert r.header("allow") == "GET, HEAD"


def test_percent_encoded_names(server, client):
    r = client.get(server.url("/weird%20name%20%25.txt"))
    assert r.status == 200 and r.body == b"weird\n"
    assert client.get(server.url("/bad%zz")).status == 400


@pytest.mark.parametrize("path", [
    "/../../../../etc/passwd",
    "/..%2f..%2f..%2fetc%2fpasswd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/sub/../../etc/passwd",
    "/sub/%2E%2E/%2E%2E/etc/passwd",
])
def test_traversal_refused(server, client, path):
    r = client.get(server.url(path))
    assert r.status == 400, (path, r.status)
    assert b"root:" not in (r.body or b"")


def test_symlink_outside_root_refused(server, client, site, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("outside the root\n")
    link = os.path.join(site[0], "escape.txt")
    dlink = os.path.join(site[0], "escape-dir")
    inside = os.path.join(site[0], "inside-link.txt")
    for p in (link, dlink, inside):
        if os.path.lexists(p):
            os.unlink(p)
    os.symlink(str(outside), link)
    os.symlink("/etc", dlink)
    os.symlink("hello.txt", inside)
    assert client.get(server.url("/escape.txt")).status == 403
    assert client.get(server.url("/escape-dir/passwd")).status == 403
    r = client.get(server.url("/inside-link.txt"))
    assert r.status == 200 and r.body == b"hello, world\n"


def test_conditional_requests(server, client):
    r = client.get(server.url("/hello.txt"))
    etag, lm = r.header("etag"), r.header("last-modified")
    r2 = client.get(server.url("/hello.txt"), headers=["If-None-Match: " + etag])
    assert r2.status == 304 and r2.body == b"" and r2.header("etag") == etag
    r3 = client.get(server.url("/hello.txt"), headers=['If-None-Match: "other", ' + etag])
    assert r3.status == 304
    r4 = client.get(server.url("/hello.txt"), headers=['If-None-Match: "other"'])
    assert r4.status == 200
    r5 = client.get(server.url("/hello.txt"), headers=["If-Modified-Since: " + lm])
    assert r5.status == 304
    r6 = client.get(server.url("/hello.txt"),
                    headers=["If-Modified-Since: Mon, 01 Jan 1990 00:00:00 GMT"])
    assert r6.status == 200
    r7 = client.get(server.url("/hello.txt"), headers=['If-Match: "other"'])
    assert r7.status == 412
    r8 = client.get(server.url("/hello.txt"), headers=["If-Match: " + etag])
    assert r8.status == 200


def test_ranges(server, client, site):
    data = site[1]["random.bin"]
    size = len(data)
    r = client.get(server.url("/random.bin"), headers=["Range: bytes=100-1099"])
    assert r.status == 206 and r.body == data[100:1100]
    assert r.header("content-range") == "bytes 100-1099/%d" % size
    assert r.header("content-length") == "1000"
    r = client.get(server.url("/random.bin"), headers=["Range: bytes=-500"])
    assert r.status == 206 and r.body == data[-500:]
    r = client.get(server.url("/random.bin"), headers=["Range: bytes=%d-" % (size - 10)])
    assert r.status == 206 and r.body == data[-10:]
    r = client.get(server.url("/random.bin"), headers=["Range: bytes=%d-" % size])
    assert r.status == 416 and r.header("content-range") == "bytes */%d" % size
    r = client.get(server.url("/random.bin"), headers=["Range: bytes=0-1,5-6"])
    assert r.status == 200 and r.sha256 == sha(data)
    etag = r.header("etag")
    r = client.get(server.url("/random.bin"), headers=["Range: bytes=0-9", "If-Range: " + etag])
    assert r.status == 206 and r.body == data[:10]
    r = client.get(server.url("/random.bin"), headers=["Range: bytes=0-9", 'If-Range: "stale"'])
    assert r.status == 200 and r.size == size


def test_access_log(server, client):
    client.get(server.url("/hello.txt"))
    client.get(server.url("/nope"))
    server.stop()
    log = server.access()
    line = [l for l in log.splitlines() if 'path="/hello.txt"' in l][0]
    assert "client=127.0.0.1:" in line and 'method="GET"' in line
    assert 'authority="localhost:%d"' % server.port in line
    assert "status=200" in line and "bytes=13" in line and "proto=%s" % client.proto in line
    assert re.search(r"duration_ms=\d+\.\d+", line)
    assert any('path="/nope"' in l and "status=404" in l for l in log.splitlines())
    closes = [l for l in log.splitlines() if " close " in l]
    assert len(closes) >= 2
    if client.proto == "h3":
        assert all("error=" in l and "frame_type=" in l and "reason=" in l for l in closes)
    else:
        assert all(re.search(r"error=tcp:\w+ proto=%s requests=1 " % client.proto, l)
                   for l in closes), closes
