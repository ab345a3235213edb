"""libqtlscompat interop over real UDP on loopback (issue 3).

ngtcp2 (Debian's source package) is built twice by scripts/build-interop.sh:
with its quictls crypto backend compiled against libqtlscompat ("qtlscompat"),
and with its own OpenSSL 3.5 backend ("ossl", a stack that never saw the shim).
OpenSSL's native QUIC client is tests/tools/h3raw.  curl (Debian's source
package) on ngtcp2's quictls backend on libqtlscompat is the curl command line
scripts/build-curl.sh builds (H3G_CURL_BIN, BUILD_DIR/tools/curl).  HAProxy
3.0 in its quictls mode on libqtlscompat (built by scripts/build-interop.sh on
the OpenSSL 3.5 build) is the server role of a production stack."""
import hashlib
import os
import re
import subprocess
import time

import pycurl

import pytest

from conftest import free_udp_port
from h3client import Client
from origins import FaultOrigin

DIR = os.environ.get("H3G_INTEROP_DIR", "")
H3RAW = os.environ.get("H3RAW_BIN")
CURL = os.environ.get("H3G_CURL_BIN", "")


def prog(name):
    path = os.path.join(DIR, name)
    if not os.path.exists(path):
        if os.environ.get("H3G_REQUIRE_INTEROP"):
            pytest.fail("%s is missing: scripts/build-interop.sh did not build it" % path)
        pytest.skip("interop peers not built (scripts/build-interop.sh)")
    return path


def pattern_sha(n):
    return hashlib.sha256(bytes(((i * 31 + 7) & 0xFF) for i in range(n))).hexdigest()


def h3get(variant, port, path, ca=None):
    cmd = [prog("h3get-" + variant), "127.0.0.1", str(port), path] + ([ca] if ca else [])
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    m = re.match(r"status=(\d+) bytes=(\d+) sha256=([0-9a-f]+)", p.stdout)
    assert m, p.stdout
    return int(m.group(1)), int(m.group(2)), m.group(3), p.stderr


class NgServer:
    def __init__(self, variant, certs):
        self.port = free_udp_port()
        self.proc = subprocess.Popen(
            [prog("h3server-" + variant), "127.0.0.1", str(self.port), certs["cert"], certs["key"]],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready", self.proc.stderr.read()

    def stop(self):
        self.proc.terminate()
        out, err = self.proc.communicate(timeout=20)
        assert self.proc.returncode == 0, err
        for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            assert bad not in err, err


@pytest.mark.parametrize("variant", ["qtlscompat", "ossl"])
def test_ngtcp2_client_gets_from_h3gate(server, site, certs, variant):
    """Client role: ngtcp2 on the shim against h3gate's OpenSSL-native engine."""
    status, size, sha, err = h3get(variant, server.port, "/random.bin", certs["ca"])
    assert status == 200
    assert size == len(site[1]["random.bin"])
    assert sha == hashlib.sha256(site[1]["random.bin"]).hexdigest()
    server.stop()
    assert re.search(r'path="/random.bin" status=200 bytes=%d' % size, server.access())


@pytest.mark.parametrize("server_variant", ["qtlscompat", "ossl"])
@pytest.mark.parametrize("client_variant", ["qtlscompat", "ossl"])
def test_ngtcp2_matrix(certs, server_variant, client_variant):
    """Both roles, and each against ngtcp2's own OpenSSL 3.5 backend."""
    srv = NgServer(server_variant, certs)
    try:
        status, size, sha, _ = h3get(client_variant, srv.port, "/300000", certs["ca"])
        assert (status, size, sha) == (200, 300000, pattern_sha(300000))
    finally:
        srv.stop()


@pytest.mark.parametrize("server_variant", ["qtlscompat", "ossl"])
def test_openssl_native_client_against_ngtcp2_server(certs, server_variant):
    """Server role: OpenSSL's native QUIC client completes the handshake and
    gets its data echoed on a stream."""
    srv = NgServer(server_variant, certs)
    try:
        p = subprocess.run([H3RAW, "127.0.0.1", str(srv.port), "ok", "post-echo", "ok"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        lines = p.stdout.splitlines()
        assert lines[0].endswith("status=200")
        assert lines[1].endswith("status=200 echo=ok"), p.stdout
        assert lines[2].endswith("status=200")
        assert lines[-1] == "connection=open"
    finally:
        srv.stop()


def curl_bin():
    if not CURL:
        pytest.skip("H3G_CURL_BIN is not set (run through ctest)")
    if not os.path.exists(CURL):
        if os.environ.get("H3G_REQUIRE_INTEROP"):
            pytest.fail("%s is missing: scripts/build-curl.sh did not build it" % CURL)
        pytest.skip("curl on the shim not built (scripts/build-curl.sh)")
    return CURL


def curl(port, path, ca, tmp_path, *args, host="localhost"):
    """curl --http3-only; returns (HTTP version, status, body sha256, stderr).
    The certificate is verified (--cacert), through the shim."""
    out = tmp_path / "curl.out"
    p = subprocess.run([curl_bin(), "--http3-only", "-sS", "--cacert", ca,
                        "--resolve", "%s:%d:127.0.0.1" % (host, port), "-o", str(out),
                        "-w", "%{http_version} %{http_code}"] + list(args)
                       + ["https://%s:%d%s" % (host, port, path)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    version, status = p.stdout.split()
    return version, int(status), hashlib.sha256(out.read_bytes()).hexdigest(), p.stderr


def test_curl_on_the_shim_gets_from_h3gate(server, site, certs, tmp_path):
    """curl's HTTP/3 on ngtcp2's quictls path on libqtlscompat, against each engine."""
    version, status, sha, _ = curl(server.port, "/random.bin", certs["ca"], tmp_path)
    assert (version, status) == ("3", 200)
    assert sha == hashlib.sha256(site[1]["random.bin"]).hexdigest()
    server.stop()
    assert re.search(r'path="/random.bin" status=200 bytes=%d .*proto=h3'
                     % len(site[1]["random.bin"]), server.access())


@pytest.mark.parametrize("server_variant", ["qtlscompat", "ossl"])
def test_curl_on_the_shim_against_ngtcp2_server(certs, tmp_path, server_variant):
    """A GET and a POST echoed by ngtcp2 (on the shim, and on its own backend)."""
    srv = NgServer(server_variant, certs)
    try:
        assert curl(srv.port, "/300000", certs["ca"], tmp_path)[:3] == ("3", 200, pattern_sha(300000))
        body = tmp_path / "post.bin"
        body.write_bytes(os.urandom(200000))
        version, status, sha, _ = curl(srv.port, "/", certs["ca"], tmp_path,
                                       "--data-binary", "@" + str(body))
        assert (version, status, sha) == ("3", 200, hashlib.sha256(body.read_bytes()).hexdigest())
    finally:
        srv.stop()


def test_curl_on_the_shim_resumes(start_server, site, certs, tmp_path, engine):
    """A second curl resumes the first one's TLS session (its ticket kept with
    --ssl-sessions), on each engine.  No 0-RTT: curl's quictls path never calls
    SSL_set_quic_early_data_enabled, which a quictls client needs to offer it."""
    from test_engine import engine_stats
    srv = start_server([], root=site[0])
    sessions = str(tmp_path / "sessions")
    for _ in range(2):
        version, status, _, err = curl(srv.port, "/hello.txt", certs["ca"], tmp_path, "-v",
                                       "--ssl-sessions", sessions)
        assert (version, status) == ("3", 200)
    assert "SSL reusing session" in err, err
    assert srv.stop() == 0
    st = engine_stats(srv)
    assert (st["handshakes"], st["resumed"]) == (2, 1), st


def blob_file(tmp_path):
    blob = tmp_path / "blob"
    blob.write_bytes(bytes(((i * 31 + 7) & 0xFF) for i in range(300000)))
    return blob


class ShimServer:
    """A production QUIC server built on libqtlscompat (scripts/build-interop.sh):
    /blob is 300,000 pattern bytes it serves itself; anything else goes to an
    origin that answers with the sha256 and length of the request body and
    keeps the request's fields (x-resumed: whether the TLS session was)."""

    def __init__(self, kind, certs, tmp_path):
        skip = os.path.join(DIR, kind + "-qtlscompat.skip")
        if os.path.exists(skip):
            pytest.skip(open(skip).read().strip())
        self.kind, self.dir = kind, tmp_path
        binary = prog(kind + "-qtlscompat")
        self.origin = FaultOrigin("echo")
        self.port = free_udp_port()
        self.log = open(tmp_path / (kind + ".log"), "w+")
        argv = self.haproxy(binary, certs)
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        # HAProxy binds its port while it reads its configuration, and drops
        # what arrives before its threads run: ready is when a request works
        deadline = time.time() + 30
        while not self.answers(certs["ca"]):
            assert self.proc.poll() is None and time.time() < deadline, self.output()
            time.sleep(0.1)

    def haproxy(self, binary, certs):
        """HAProxy 3.0, USE_QUIC=1 in its quictls mode."""
        pem = self.dir / "haproxy.pem"
        pem.write_text(open(certs["cert"]).read() + open(certs["key"]).read())
        cfg = self.dir / "haproxy.cfg"
        cfg.write_text(
            "global\n    tune.bufsize 1048576\n"
            "defaults\n    mode http\n    timeout client 30s\n    timeout server 30s\n"
            "    timeout connect 5s\n"
            "frontend f\n"
            "    bind quic4@127.0.0.1:%d ssl crt %s alpn h3 allow-0rtt\n"
            "    http-request return status 200 content-type application/octet-stream file %s "
            "if { path /blob }\n"
            "    http-request set-header x-resumed %%[ssl_fc_is_resumed]\n"
            "    default_backend origin\n"
            "backend origin\n    server o 127.0.0.1:%d\n"
            % (self.port, pem, blob_file(self.dir), self.origin.port))
        return [binary, "-f", str(cfg), "-db"]

    def answers(self, ca):
        r = Client(ca).get("https://localhost:%d/blob" % self.port, keep_body=False,
                           raise_errors=False, timeout=2)
        return r.error is None and r.status == 200

    def resumed(self):
        """Per request the origin saw: whether its TLS session was resumed."""
        return [b[2].get("x-resumed") == "1" for b in self.origin.bodies]

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(20)
        self.origin.stop()
        out = self.output()
        self.log.close()
        return out


# nginx 1.26.3 builds on its quictls path on the shim too, but does not pass
# yet (curl: CURLE_PEER_FAILED_VERIFICATION after a verified certificate;
# OpenSSL's client: "quic no hs keys"): the issue note has what was seen.
@pytest.fixture(params=["haproxy"])
def shim_server(request, certs, tmp_path):
    h = ShimServer(request.param, certs, tmp_path)
    yield h
    h.stop()


def test_curl_on_the_shim_against_a_server_on_the_shim(shim_server, certs, tmp_path):
    """Both ends on libqtlscompat: a GET the server answers, a POST it proxies."""
    # For HAProxy, X25519 alone: HAProxy 3.0.11 (with its own compat layer as
    # well) often stalls when a ClientHello with SNI spans two Initial packets,
    # as one with OpenSSL's default X25519MLKEM768 key share does; the shim
    # handles that (unit.test_qtc, test_sni_switch_keeps_params)
    groups = ("--curves", "X25519") if shim_server.kind == "haproxy" else ()
    port = shim_server.port
    assert curl(port, "/blob", certs["ca"], tmp_path, *groups)[:3] == \
        ("3", 200, pattern_sha(300000))
    body = tmp_path / "post.bin"
    body.write_bytes(os.urandom(200000))
    version, status, _, _ = curl(port, "/echo", certs["ca"], tmp_path, *groups,
                                 "--data-binary", "@" + str(body))
    assert (version, status) == ("3", 200)
    sha = hashlib.sha256(body.read_bytes()).hexdigest()
    assert shim_server.origin.bodies[-1][:2] == (sha, 200000)


def test_other_clients_against_a_server_on_the_shim(shim_server, certs):
    """libcurl (ngtcp2 + GnuTLS) and OpenSSL's own QUIC client, which never saw
    the shim, against the server on it."""
    r = Client(certs["ca"]).get("https://localhost:%d/blob" % shim_server.port)
    assert (r.status, r.version, r.sha256) == (200, pycurl.CURL_HTTP_VERSION_3, pattern_sha(300000))
    p = subprocess.run([H3RAW, "127.0.0.1", str(shim_server.port), "ok", "ok"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert [l for l in p.stdout.splitlines() if "status=200" in l][:2] == \
        ["case=ok stream=0 status=200", "case=ok stream=4 status=200"], p.stdout


def test_a_server_on_the_shim_resumes(shim_server, certs):
    """Session tickets on the server side of the shim: libcurl's next
    connections resume the first one's session.  They offer 0-RTT too, and
    HAProxy has allow-0rtt, but it cannot say whether it took it: nothing in
    its QUIC code sets the flag ssl_fc_has_early reads."""
    from test_proxy import early_client
    get = early_client(certs["ca"])
    url = "https://localhost:%d/echo" % shim_server.port
    for _ in range(3):
        assert get(url)[0] == 200
        time.sleep(0.2)  # the ticket comes after the handshake
    assert shim_server.resumed() == [False, True, True], shim_server.origin.bodies


def test_library_exports_only_the_api():
    """The shared library exports the quictls names and nothing else; the
    pkg-config file points at it."""
    compat = os.environ.get("H3G_COMPAT_DIR")
    assert compat, "H3G_COMPAT_DIR is not set (run through ctest)"
    out = subprocess.run(["nm", "-D", "--defined-only", os.path.join(compat, "libqtlscompat.so")],
                         capture_output=True, text=True, check=True).stdout
    names = {l.split()[-1].split("@")[0] for l in out.splitlines() if " T " in l}
    assert names == {
        "SSL_CTX_set_quic_method", "SSL_set_quic_method", "SSL_set_quic_transport_params",
        "SSL_get_peer_quic_transport_params", "SSL_quic_max_handshake_flight_len",
        "SSL_quic_read_level", "SSL_quic_write_level", "SSL_provide_quic_data",
        "SSL_process_quic_post_handshake", "SSL_set_quic_use_legacy_codepoint",
        "SSL_set_quic_transport_version", "SSL_get_quic_transport_version",
        "SSL_get_peer_quic_transport_version", "SSL_set_quic_early_data_enabled",
        "SSL_CIPHER_get_prf_nid", "qtc_SSL_is_quic", "qtc_SSL_do_handshake"}, names
    pc = open(os.path.join(compat, "qtlscompat.pc")).read()
    assert "Libs: -L${libdir} -lqtlscompat" in pc and "Requires.private: libssl >= 3.5.1" in pc
