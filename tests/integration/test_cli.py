"""Operator mistakes: each exits non-zero with one line naming the problem."""
import os
import socket
import subprocess

import pytest

from conftest import free_udp_port


def run_h3gate(binary, *args, timeout=10):
    p = subprocess.run([binary] + list(args), capture_output=True, timeout=timeout, text=True)
    return p.returncode, p.stdout, p.stderr


def error_line(stderr):
    lines = [l for l in stderr.splitlines() if l.startswith("h3gate: ")]
    assert len(lines) == 1, stderr
    return lines[0]


def test_version(h3gate_bin):
    rc, out, _ = run_h3gate(h3gate_bin, "--version")
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].startswith("h3gate ")
    assert lines[1].startswith("OpenSSL 3.") or lines[1].startswith("OpenSSL 4.")
    assert lines[2].startswith("nghttp3 1.")
    # the known QUIC server CVEs with a verdict for this OpenSSL
    assert lines[3].startswith("Known OpenSSL QUIC server CVEs")
    cves = [l.split() for l in lines[5:] if l.startswith("  CVE-")]
    assert "CVE-2026-18798" in [c[0] for c in cves]
    assert all(c[4] in ("fixed", "affected", "patched") for c in cves)


def test_help(h3gate_bin):
    rc, out, _ = run_h3gate(h3gate_bin, "--help")
    assert rc == 0
    for opt in ("--root", "--listen", "--cert", "--key", "--idle-timeout", "--access-log",
                "--log-level", "--version"):
        assert opt in out


def test_missing_root(h3gate_bin, tmp_path):
    rc, _, err = run_h3gate(h3gate_bin, "--listen", "127.0.0.1:%d" % free_udp_port())
    assert rc == 2 and "--root" in error_line(err)
    missing = str(tmp_path / "nope")
    rc, _, err = run_h3gate(h3gate_bin, "--root", missing, "--listen",
                            "127.0.0.1:%d" % free_udp_port())
    assert rc == 1
    line = error_line(err)
    assert missing in line and "No such file or directory" in line


def test_root_is_a_file(h3gate_bin, tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    rc, _, err = run_h3gate(h3gate_bin, "--root", str(f), "--listen", "127.0.0.1:%d" % free_udp_port())
    assert rc == 1 and str(f) in error_line(err)


@pytest.mark.parametrize("args,needle", [
    (["--listen", "127.0.0.1"], "ADDR:PORT"),
    (["--listen", "127.0.0.1:0"], "port must be"),
    (["--idle-timeout", "soon"], "--idle-timeout"),
    (["--log-level", "chatty"], "--log-level"),
    (["--cert", "only.pem"], "--key"),
    (["--frobnicate"], "--frobnicate"),
    (["--engine", "quiche"], "--engine 'quiche': expected openssl or ngtcp2"),
    (["--cc", "vegas"], "--cc 'vegas': expected cubic, bbr or reno"),
])
def test_bad_arguments(h3gate_bin, tmp_path, args, needle):
    rc, _, err = run_h3gate(h3gate_bin, "--root", str(tmp_path), *args)
    assert rc == 2 and needle in error_line(err)


def test_unreadable_certificate(h3gate_bin, certs, tmp_path):
    missing = str(tmp_path / "missing.pem")
    rc, _, err = run_h3gate(h3gate_bin, "--root", str(tmp_path), "--listen",
                            "127.0.0.1:%d" % free_udp_port(), "--cert", missing, "--key", certs["key"])
    assert rc == 1
    assert "cannot read certificate " + missing in error_line(err)


def test_garbage_certificate(h3gate_bin, certs, tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    rc, _, err = run_h3gate(h3gate_bin, "--root", str(tmp_path), "--listen",
                            "127.0.0.1:%d" % free_udp_port(), "--cert", str(bad), "--key", certs["key"])
    assert rc == 1 and "not a valid PEM certificate" in error_line(err)


def test_mismatched_key(h3gate_bin, certs, tmp_path):
    rc, _, err = run_h3gate(h3gate_bin, "--root", str(tmp_path), "--listen",
                            "127.0.0.1:%d" % free_udp_port(), "--cert", certs["cert"],
                            "--key", certs["other_key"])
    assert rc == 1 and "does not match certificate" in error_line(err)


def test_encrypted_key(h3gate_bin, certs, tmp_path):
    """Refused at once, never a pass phrase prompt."""
    enc = str(tmp_path / "enc.key")
    subprocess.run(["openssl", "pkey", "-in", certs["key"], "-aes-128-cbc", "-passout",
                    "pass:secret", "-out", enc], check=True, capture_output=True)
    rc, _, err = run_h3gate(h3gate_bin, "--root", str(tmp_path), "--listen",
                            "127.0.0.1:%d" % free_udp_port(), "--cert", certs["cert"], "--key", enc)
    assert rc == 1
    assert "private key %s is encrypted: encrypted keys are not supported" % enc in error_line(err)


def test_busy_port(h3gate_bin, tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        rc, _, err = run_h3gate(h3gate_bin, "--root", str(tmp_path), "--listen",
                                "127.0.0.1:%d" % port)
    assert rc == 1
    assert "127.0.0.1:%d" % port in error_line(err) and "already in use" in error_line(err)


def test_unwritable_access_log(h3gate_bin, tmp_path):
    rc, _, err = run_h3gate(h3gate_bin, "--root", str(tmp_path), "--listen",
                            "127.0.0.1:%d" % free_udp_port(), "--access-log",
                            str(tmp_path / "no" / "such" / "dir.log"))
    assert rc == 1 and "access log" in error_line(err)


def test_ipv6_and_two_listeners(start_server, client, site):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    start_server.default_root = site[0]
    port6 = free_udp_port()
    srv = start_server(["--listen", "[::1]:%d" % port6])
    assert client.get(srv.url("/hello.txt")).status == 200
    import pycurl  # IPv6 literal URL straight to [::1]
    c = pycurl.Curl()
    import io
    buf = io.BytesIO()
    c.setopt(pycurl.URL, "https://[::1]:%d/hello.txt" % port6)
    c.setopt(pycurl.HTTP_VERSION, 31)
    c.setopt(pycurl.CAINFO, client.ca)
    c.setopt(pycurl.WRITEDATA, buf)
    c.perform()
    assert c.getinfo(pycurl.RESPONSE_CODE) == 200 and c.getinfo(pycurl.INFO_HTTP_VERSION) == 30
    c.close()
    assert buf.getvalue() == b"hello, world\n"


def test_port_of_a_running_h3gate_is_busy(h3gate_bin, start_server, client, site, tmp_path):
    """h3gate's own sockets share their port among themselves (SO_REUSEPORT); a
    second h3gate must still be refused instead of silently taking half the traffic."""
    srv = start_server(root=site[0])
    rc, _, err = run_h3gate(h3gate_bin, "--root", str(tmp_path), "--listen", "127.0.0.1:%d" % srv.port)
    assert rc == 1
    assert "127.0.0.1:%d" % srv.port in error_line(err) and "already in use" in error_line(err)
    for _ in range(20):  # many client ports: all land on the first server's sockets
        assert client.get(srv.url("/hello.txt")).status == 200


@pytest.mark.parametrize("n", ["1", "16"])
def test_listen_sockets(start_server, client, site, n):
    srv = start_server(["--listen-sockets", n], root=site[0])
    for _ in range(10):
        assert client.get(srv.url("/hello.txt")).status == 200
