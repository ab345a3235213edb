"""Config file (-c, -t), certificates chosen by SNI, routes by host and path."""
import io
import os
import subprocess

import pycurl
import pytest

from conftest import free_udp_port, run


def make_cert(certs, tmp_path, name, sans):
    """A certificate for sans signed by the test CA."""
    key, csr, crt = tmp_path / (name + ".key"), tmp_path / (name + ".csr"), tmp_path / (name + ".pem")
    run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", key, "-out", csr, "-subj", "/CN=" + sans[0]])
    ext = tmp_path / (name + ".ext")
    ext.write_text("subjectAltName=" + ",".join("DNS:" + s for s in sans) + "\n")
    run(["openssl", "x509", "-req", "-in", csr, "-CA", certs["ca"], "-CAkey",
         os.path.join(certs["dir"], "ca.key"), "-CAcreateserial", "-out", crt, "-days", "2",
         "-extfile", ext])
    return str(crt), str(key)


def h3(url, host, port, ca, verify=True):
    """GET over HTTP/3 to 127.0.0.1 using host for SNI and verification; returns
    (status, body, subject of the server certificate) or raises pycurl.error."""
    c = pycurl.Curl()
    buf = io.BytesIO()
    c.setopt(pycurl.URL, url)
    c.setopt(pycurl.HTTP_VERSION, 31)
    c.setopt(pycurl.RESOLVE, ["%s:%d:127.0.0.1" % (host, port)])
    c.setopt(pycurl.CAINFO, ca)
    c.setopt(pycurl.OPT_CERTINFO, 1)
    c.setopt(pycurl.TIMEOUT, 20)
    if not verify:
        c.setopt(pycurl.SSL_VERIFYPEER, 0)
        c.setopt(pycurl.SSL_VERIFYHOST, 0)
    c.setopt(pycurl.WRITEDATA, buf)
    try:
        c.perform()
        subject = ""
        for cert in c.getinfo(pycurl.INFO_CERTINFO) or []:
            for k, v in cert:
                if k == "Subject" and not subject:
                    subject = v
        return c.getinfo(pycurl.RESPONSE_CODE), buf.getvalue(), subject
    finally:
        c.close()


def h3gate(binary, *args):
    p = subprocess.run([binary] + list(args), capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout, p.stderr


def test_check_good_config(h3gate_bin, certs, tmp_path):
    conf = tmp_path / "h3gate.conf"
    conf.write_text("listen 127.0.0.1:%d;\nroot %s;\ncertificate { cert %s; key %s; }\n"
                    % (free_udp_port(), tmp_path, certs["cert"], certs["key"]))
    rc, out, err = h3gate(h3gate_bin, "-t", "-c", str(conf))
    assert rc == 0, err
    assert "configuration %s is OK" % conf in out


@pytest.mark.parametrize("body,code,needle", [
    ("listen 127.0.0.1:1;\nroot /tmp;\nfrobnicate on;\n", 2, ":3: frobnicate: unknown directive"),
    ("root /tmp;\nidle_timeout 90s;\n", 2, ":2: idle_timeout: '90s' is not a duration up to 30s"),
    ("root /tmp;\nroute {\n  host a.example;\n", 2, ":4: missing '}' for the block opened at line 2"),
    ("route { path /x/; root /nonexistent/dir; }\n", 1,
     ":1: route: document root /nonexistent/dir: No such file or directory"),
    ("root /tmp;\n\ncertificate { cert /nonexistent/c.pem; key /nonexistent/k.pem; }\n", 1,
     ":3: certificate: cannot read certificate /nonexistent/c.pem"),
    ("root /tmp;\nengine quiche;\n", 2, ":2: engine: 'quiche': expected openssl or ngtcp2"),
    ("root /tmp;\ncc vegas;\n", 2, ":2: cc: 'vegas': expected cubic, bbr or reno"),
    ("root /tmp;\nssl_session_ticket_key /nonexistent/t.key;\n", 1,
     ":2: ssl_session_ticket_key: cannot read session ticket key /nonexistent/t.key"),
    ("root /tmp;\nquic_host_key /nonexistent/h.key;\n", 1,
     ":2: quic_host_key: cannot read QUIC host key /nonexistent/h.key"),
])
def test_check_bad_config(h3gate_bin, tmp_path, body, code, needle):
    conf = tmp_path / "bad.conf"
    conf.write_text(body)
    rc, _, err = h3gate(h3gate_bin, "-t", "-c", str(conf))
    lines = [l for l in err.splitlines() if l.startswith("h3gate: ")]
    assert rc == code and len(lines) == 1, err
    assert lines[0] == "h3gate: " + str(conf) + needle or needle in lines[0], lines[0]
    assert str(conf) in lines[0]


def test_missing_config_file(h3gate_bin, tmp_path):
    rc, _, err = h3gate(h3gate_bin, "-c", str(tmp_path / "none.conf"))
    assert rc == 2 and "cannot read config file" in err


@pytest.fixture
def sni_server(h3gate_bin, certs, tmp_path, start_server):
    a_crt, a_key = make_cert(certs, tmp_path, "a", ["a.test"])
    b_crt, b_key = make_cert(certs, tmp_path, "b", ["b.test", "www.b.test"])
    w_crt, w_key = make_cert(certs, tmp_path, "w", ["*.w.test"])
    for name in ("A", "B"):
        d = tmp_path / ("root" + name)
        d.mkdir()
        (d / "who.txt").write_text("root %s\n" % name)
    (tmp_path / "rootB" / "only-b").mkdir()
    (tmp_path / "rootB" / "only-b" / "x.txt").write_text("b's prefix\n")

    def start(extra=""):
        port = free_udp_port()
        conf = tmp_path / ("sni-%d.conf" % port)
        conf.write_text(
            "listen 127.0.0.1:%d;\n"
            "access_log %s;\n"
            "certificate { cert %s; key %s; default; }\n"
            "certificate { cert %s; key %s; }\n"
            "certificate { cert %s; key %s; }\n"
            "route { host b.test www.b.test; root %s; }\n"
            "root %s;\n%s"
            % (port, tmp_path / "access.log", a_crt, a_key, b_crt, b_key, w_crt, w_key,
               tmp_path / "rootB", tmp_path / "rootA", extra))
        p = subprocess.Popen([h3gate_bin, "-c", str(conf)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        line = ""
        while " serving " not in line:
            line = p.stderr.readline()
            assert line, "h3gate did not start"
        start.procs.append(p)
        return port

    start.procs = []
    yield start
    for p in start.procs:
        p.terminate()
        assert p.wait(20) == 0


def test_sni_selects_certificates(sni_server, certs):
    port = sni_server()
    for host, cn in (("a.test", "a.test"), ("b.test", "b.test"), ("www.b.test", "b.test"),
                     ("x.w.test", "*.w.test")):
        status, body, subject = h3("https://%s:%d/who.txt" % (host, port), host, port, certs["ca"])
        assert status == 200, host
        # the client verified the certificate for host; the subject says which one it was
        assert "CN=" + cn in subject or subject == "", (host, subject)
    # an unknown name gets the default certificate (a.test): valid for a.test only
    with pytest.raises(pycurl.error):
        h3("https://zzz.test:%d/who.txt" % port, "zzz.test", port, certs["ca"])
    status, _, subject = h3("https://zzz.test:%d/who.txt" % port, "zzz.test", port, certs["ca"],
                            verify=False)
    assert status == 200
    assert "CN=a.test" in subject or subject == ""


def test_sni_unknown_name_rejected(sni_server, certs):
    port = sni_server("unknown_sni reject;\n")
    with pytest.raises(pycurl.error):
        h3("https://zzz.test:%d/who.txt" % port, "zzz.test", port, certs["ca"], verify=False)
    status, _, _ = h3("https://a.test:%d/who.txt" % port, "a.test", port, certs["ca"])
    assert status == 200


def test_routes_by_host_and_path(sni_server, certs):
    port = sni_server()
    _, body, _ = h3("https://a.test:%d/who.txt" % port, "a.test", port, certs["ca"])
    assert body == b"root A\n"
    _, body, _ = h3("https://b.test:%d/who.txt" % port, "b.test", port, certs["ca"])
    assert body == b"root B\n"
    _, body, _ = h3("https://www.b.test:%d/only-b/x.txt" % port, "www.b.test", port, certs["ca"])
    assert body == b"b's prefix\n"
    status, _, _ = h3("https://a.test:%d/only-b/x.txt" % port, "a.test", port, certs["ca"])
    assert status == 404
