"""HTTPS over TCP beside HTTP/3: the same port, ALPN, Alt-Svc discovery, the
HTTP/1.1 framing rules a request smuggler would probe, and the limits that keep
slow clients from holding connections.  Static and proxy behaviour over HTTP/2
and HTTP/1.1 is covered by test_static.py and test_proxy.py (parametrized by
protocol)."""
import os
import re
import socket
import ssl
import subprocess
import time

import pycurl
import pytest

from conftest import ENGINES, free_udp_port
from h3client import CURL_HTTP_VERSION_3, Client, altsvc_get

@pytest.fixture
def engine():
    """TCP does not depend on the QUIC engine: one is enough."""
    return ENGINES[-1]


def tls_socket(port, alpn=("http/1.1",)):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(list(alpn))
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def read_all(s, limit=1 << 20):
    """Everything until the server closes (or the socket times out)."""
    out = b""
    try:
        while len(out) < limit:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except (socket.timeout, ConnectionResetError, ssl.SSLError):
        pass
    return out


def exchange(port, raw, alpn=("http/1.1",)):
    with tls_socket(port, alpn) as s:
        s.sendall(raw)
        return read_all(s)


def test_same_port_serves_h3_h2_and_h1(server, certs):
    for proto in ("h3", "h2", "h1"):
        r = Client(certs["ca"], proto).get(server.url("/hello.txt"))
        assert r.status == 200 and r.body == b"hello, world\n", proto
        if proto == "h3":
            assert r.header("alt-svc") is None
        else:
            assert r.header("alt-svc") == 'h3=":%d"; ma=86400' % server.port


def test_alt_svc_discovery_moves_curl_to_h3(server, certs, tmp_path):
    """libcurl's Alt-Svc cache: the first request goes over HTTP/2 (curl does
    not know about HTTP/3 yet), the second to the same origin over HTTP/3."""
    cache = tmp_path / "altsvc.txt"
    resolve = "localhost:%d:127.0.0.1" % server.port
    got = [altsvc_get(server.url("/hello.txt"), certs["ca"], cache, resolve) for _ in range(2)]
    assert got == [(200, pycurl.CURL_HTTP_VERSION_2_0), (200, CURL_HTTP_VERSION_3)], got
    assert "h3 localhost %d" % server.port in cache.read_text()
    server.stop()
    assert re.findall(r" request .* proto=(h\d)", server.access()) == ["h2", "h3"]


def test_debian_curl_over_h2_and_h1(server, certs, site):
    for flag, want in (("--http2", "2"), ("--http1.1", "1.1")):
        out = subprocess.run(["curl", "-sS", flag, "--cacert", certs["ca"], "--resolve",
                              "localhost:%d:127.0.0.1" % server.port, "-o", "/dev/null",
                              "-w", "%{http_version} %{http_code} %{size_download}",
                              server.url("/random.bin")], capture_output=True, text=True,
                             timeout=60)
        assert out.stdout == "%s 200 %d" % (want, len(site[1]["random.bin"])), out.stderr


def test_nghttp_fetches_page_over_h2(server):
    out = subprocess.run(["nghttp", "-nv", "https://127.0.0.1:%d/hello.txt" % server.port],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert ":status: 200" in out.stdout and "alt-svc" in out.stdout


def test_h2load_over_tls(server):
    out = subprocess.run(["h2load", "-n", "2000", "-c", "4", "-m", "10",
                          "https://127.0.0.1:%d/hello.txt" % server.port],
                         capture_output=True, text=True, timeout=60)
    assert "2000 succeeded, 0 failed, 0 errored" in out.stdout, out.stdout
    assert "status codes: 2000 2xx" in out.stdout, out.stdout


def test_no_tcp_and_tcp_only_listeners(start_server, h3gate_bin, site, certs, tmp_path):
    s = start_server(["--no-tcp"], root=site[0])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", s.port), timeout=5)
    assert Client(certs["ca"]).get(s.url("/hello.txt")).status == 200
    # listen ... tcp: HTTPS only, and Alt-Svc tells clients to forget HTTP/3
    port = free_udp_port()
    conf = tmp_path / "tcp-only.conf"
    conf.write_text("listen 127.0.0.1:%d tcp;\nroot %s;\ncertificate { cert %s; key %s; }\n"
                    % (port, site[0], certs["cert"], certs["key"]))
    p = subprocess.Popen([h3gate_bin, "-c", str(conf)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    try:
        while " serving " not in p.stderr.readline():
            assert p.poll() is None
        r = Client(certs["ca"], "h2").get("https://localhost:%d/hello.txt" % port)
        assert r.status == 200 and r.header("alt-svc") == "clear"
        with pytest.raises(pycurl.error):
            Client(certs["ca"]).get("https://localhost:%d/hello.txt" % port, timeout=3)
    finally:
        p.terminate()
        assert p.wait(20) == 0


def test_busy_tcp_port_is_a_clear_error(h3gate_bin, site, certs):
    hold = socket.socket()
    hold.bind(("127.0.0.1", 0))
    hold.listen(1)
    port = hold.getsockname()[1]
    try:
        out = subprocess.run([h3gate_bin, "--root", site[0], "--listen", "127.0.0.1:%d" % port],
                             capture_output=True, text=True, timeout=20)
    finally:
        hold.close()
    assert out.returncode == 1
    assert "cannot listen on 127.0.0.1:%d: TCP port already in use" % port in out.stderr


def test_pipelined_requests_answered_in_order(server):
    raw = (b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
           b"HEAD /style.css HTTP/1.1\r\nHost: localhost\r\n\r\n"
           b"GET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n"
           b"GET /data.json HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    out = exchange(server.port, raw)
    statuses = re.findall(rb"HTTP/1.1 (\d{3})", out)
    assert statuses == [b"200", b"200", b"404", b"200"], out
    assert out.index(b"hello, world") < out.index(b"HTTP/1.1 404") < out.index(b'{"ok": true}')
    assert out.endswith(b'{"ok": true}\n')


@pytest.mark.parametrize("raw,why", [
    (b"POST /hello.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "Content-Length can't be present"),
    (b"POST /hello.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
     b"hello", "Duplicate Content-Length"),
    (b"POST /hello.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
     None),
    (b"POST /hello.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", None),
    (b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nX-A: b\r\n folded\r\n\r\n", "obs-fold"),
    (b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "more than one Host"),
    (b"GET /hello.txt HTTP/1.1\r\n\r\n", "missing Host"),
    (b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n", None),
    (b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", None),
    (b"GET http://a/hello.txt\r\n\r\n", None),
    (b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", "unsupported expectation"),
])
def test_malformed_and_smuggling_requests_are_400_and_close(server, raw, why):
    out = exchange(server.port, raw + b"GET /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n")
    status = re.match(rb"HTTP/1.1 (\d{3})", out)
    assert status and status.group(1) in (b"400", b"417", b"501", b"505"), out
    assert b"connection: close" in out
    assert out.count(b"HTTP/1.1 ") == 1, "a request after a malformed one was served"
    if why:
        server.stop()
        assert why in server.access(), server.access()


def test_invalid_chunk_size_ends_the_connection(server):
    s = server
    raw = (b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\r\nhello\r\nzz\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n")
    out = exchange(s.port, raw)
    assert out.count(b"HTTP/1.1 ") <= 1 and b"hello, world" not in out, out


def test_header_limits_are_431(start_server, site):
    s = start_server(["--max-header-size", "4096"], root=site[0])
    big = b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n"
    assert exchange(s.port, big).startswith(b"HTTP/1.1 431 ")
    many = b"GET /hello.txt HTTP/1.1\r\nHost: a\r\n" + b"".join(
        b"X-%d: v\r\n" % i for i in range(200)) + b"\r\n"
    assert exchange(s.port, many).startswith(b"HTTP/1.1 431 ")
    long_target = b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n"
    assert exchange(s.port, long_target).startswith(b"HTTP/1.1 414 ")


def test_slowloris_gets_408_and_others_are_served(start_server, site, certs):
    s = start_server(["--request-header-timeout", "1"], root=site[0])
    slow = []
    for _ in range(20):
        # the first request is due within the timeout of the handshake's end:
        # its first bytes go at once
        slow.append(tls_socket(s.port))
        slow[-1].sendall(b"GET /hello.txt HTTP/1.1\r\nHost: a\r\n")
    good = Client(certs["ca"], "h1").get(s.url("/hello.txt"))
    assert good.status == 200
    for c in slow:
        try:
            c.sendall(b"X-Drip: 1\r\n")
        except OSError:
            pass  # (under ASan) the 408 may have come first
    for c in slow:
        out = read_all(c)
        assert out.startswith(b"HTTP/1.1 408 "), out
        c.close()
    # a connection that never sends anything is closed without an answer
    idle = tls_socket(s.port)
    assert read_all(idle) == b""
    s.stop()
    assert "error=request header timeout" in s.access()


def test_keepalive_timeout_closes_idle_connections(start_server, site):
    s = start_server(["--keepalive-timeout", "1"], root=site[0])
    with tls_socket(s.port) as c:
        c.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n")
        out = read_all(c)  # returns when the server closes
        assert b"hello, world" in out
    s.stop()
    assert "error=tcp:keepalive_timeout proto=h1 requests=1" in s.access()


def test_tls_garbage_then_a_good_client(server, certs):
    # plain HTTP on the TLS port, then random bytes: no HTTP answer, no crash
    for junk in (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", os.urandom(4096)):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
            raw.sendall(junk)
            assert not read_all(raw).startswith(b"HTTP/")
    assert Client(certs["ca"], "h2").get(server.url("/hello.txt")).status == 200


def test_tls_min_13_refuses_tls12(start_server, site, tmp_path):
    conf = tmp_path / "t.conf"
    conf.write_text("tls_min 1.3;\n")
    s = start_server(["-c", str(conf)], root=site[0])
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(ssl.SSLError):
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", s.port), timeout=5)):
            pass
    with tls_socket(s.port) as t:
        assert t.version() == "TLSv1.3"


def test_tls12_and_session_resumption(server):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", server.port), timeout=5),
                         server_hostname="localhost") as t:
        assert t.version() == "TLSv1.2"
        t.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        assert b"hello, world" in read_all(t)
        sess = t.session
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", server.port), timeout=5),
                         server_hostname="localhost", session=sess) as t:
        assert t.session_reused


def test_redirect_http_and_acme_challenges(start_server, site, tmp_path):
    acme = tmp_path / "acme"
    (acme / ".well-known" / "acme-challenge").mkdir(parents=True)
    (acme / ".well-known" / "acme-challenge" / "tok1").write_text("token-contents\n")
    plain = free_udp_port()
    s = start_server(["--redirect-http", "127.0.0.1:%d" % plain, "-c",
                      str(_write(tmp_path / "r.conf", "acme_challenge_root %s;\n" % acme))],
                     root=site[0])

    def curl(*args):
        return subprocess.run(["curl", "-sS", "-o", "-", "-D", "-", *args], capture_output=True,
                              timeout=30).stdout
    out = curl("-H", "Host: example.com", "-X", "POST", "http://127.0.0.1:%d/a/b?c=1" % plain)
    assert out.startswith(b"HTTP/1.1 308 "), out
    assert b"\r\nlocation: https://example.com:%d/a/b?c=1\r\n" % s.port in out
    out = curl("http://127.0.0.1:%d/.well-known/acme-challenge/tok1" % plain)
    assert out.startswith(b"HTTP/1.1 200 ") and out.endswith(b"token-contents\n"), out
    assert b"alt-svc" not in out.lower()
    out = curl("-H", "Host: a/b", "http://127.0.0.1:%d/" % plain)
    assert out.startswith(b"HTTP/1.1 400 "), out
    s.stop()
    assert re.search(r'path="/.well-known/acme-challenge/tok1" status=200 .* proto=h1', s.access())


def test_redirect_config_is_checked(h3gate_bin, site, tmp_path):
    bad = _write(tmp_path / "bad.conf", "listen 127.0.0.1:4433 quic;\nlisten 127.0.0.1:4434;\n"
                 "redirect_http 127.0.0.1:4480;\nacme_challenge_root %s;\nroot %s;\n"
                 % (tmp_path / "missing", site[0]))
    out = subprocess.run([h3gate_bin, "-t", "-c", str(bad)], capture_output=True, text=True)
    assert out.returncode != 0 and "acme_challenge_root: document root" in out.stderr, out.stderr
    dup = _write(tmp_path / "dup.conf", "listen 127.0.0.1:4433;\nredirect_http 127.0.0.1:4433;\n"
                 "root %s;\n" % site[0])
    out = subprocess.run([h3gate_bin, "-t", "-c", str(dup)], capture_output=True, text=True)
    assert out.returncode != 0 and "is also a listen address" in out.stderr, out.stderr


def _write(path, text):
    path.write_text(text)
    return path
