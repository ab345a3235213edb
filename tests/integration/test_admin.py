"""The admin endpoint: /metrics in Prometheus text format (checked by
Debian's promtool when it is installed) with counters that match the
requests a test made, and /healthz flipping to 503 during a drain."""
import http.client
import os
import re
import shutil
import signal
import subprocess
import threading
import time

import pycurl
import pytest

from conftest import free_udp_port
from h3client import Client
from udprelay import Relay


def admin_get(port, path, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, dict(r.getheaders()), body


def parse(text):
    """{(name, frozenset(labels)): value} of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        assert m, "bad line: %r" % line
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(metrics, name, **labels):
    """The series' value; None when /metrics does not have it."""
    labels.setdefault("worker", "total")
    return metrics.get((name, frozenset(labels.items())))


@pytest.fixture
def admin_server(start_server, site):
    root, files = site
    port = free_udp_port()
    srv = start_server(["--admin", "127.0.0.1:%d" % port], root=root)
    srv.admin_port = port
    return srv, files


def test_metrics_count_what_clients_did(admin_server, certs):
    srv, files = admin_server
    for proto, n in (("h3", 3), ("h2", 2), ("h1", 1)):
        c = Client(certs["ca"], proto)
        for _ in range(n):
            assert c.get(srv.url("/hello.txt")).status == 200
        assert c.get(srv.url("/missing")).status == 404
    status, headers, body = admin_get(srv.admin_port, "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    m = parse(body.decode())
    for proto, n in (("h3", 3), ("h2", 2), ("h1", 1)):
        assert value(m, "h3gate_requests_total", protocol=proto, method="GET", code="2xx") == n
        assert value(m, "h3gate_requests_total", protocol=proto, method="GET", code="4xx") == 1
        assert value(m, "h3gate_request_duration_seconds_count", protocol=proto) == n + 1
        body_bytes = n * len(files["hello.txt"])
        assert value(m, "h3gate_response_body_bytes_total", protocol=proto) >= body_bytes
    # the scrape itself is not traffic
    assert "/metrics" not in srv.access()
    assert value(m, "h3gate_config_generation") == 1
    assert value(m, "h3gate_draining") == 0
    assert value(m, "process_resident_memory_bytes", worker="0") > 1 << 20
    assert value(m, "process_open_fds", worker="0") > 3
    # the libcurl connections closed after their requests
    closed = sum(v for (name, labels), v in m.items()
                 if name == "h3gate_connections_closed_total" and ("worker", "total") in labels)
    assert closed >= 2


def test_metrics_pass_promtool(admin_server, certs, tmp_path):
    promtool = shutil.which("promtool")
    cache = os.environ.get("H3GATE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "h3gate")
    unpacked = os.path.join(cache, "promtool", "usr", "bin", "promtool")
    if promtool is None and os.access(unpacked, os.X_OK):
        promtool = unpacked  # scripts/setup-deps.sh puts it there
    if promtool is None:
        pytest.skip("promtool (Debian package prometheus) is not installed")
    srv, _ = admin_server
    Client(certs["ca"], "h3").get(srv.url("/hello.txt"))
    _, _, body = admin_get(srv.admin_port, "/metrics")
    p = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                       timeout=60)
    assert p.returncode == 0, (p.stdout + p.stderr).decode()


def test_admin_answers_only_its_paths(admin_server):
    srv, _ = admin_server
    assert admin_get(srv.admin_port, "/")[0] == 404
    status, headers, _ = admin_get(srv.admin_port, "/metrics", "POST")
    assert status == 405 and headers["allow"] == "GET, HEAD"
    assert admin_get(srv.admin_port, "/healthz")[:3:2] == (200, b"ok\n")


def test_healthz_is_503_while_draining(start_server, site, certs):
    root, files = site
    admin = free_udp_port()
    srv = start_server(["--admin", "127.0.0.1:%d" % admin, "--drain-timeout", "60"], root=root)
    done, started = {}, threading.Event()

    def slow():
        # a download slow enough that the drain waits for it
        done["r"] = Client(certs["ca"], "h2").get(srv.url("/random.bin"), max_recv_speed=1000000,
                                                  sink=lambda data: started.set())

    t = threading.Thread(target=slow)
    t.start()
    assert started.wait(20)
    srv.proc.send_signal(signal.SIGTERM)
    seen = None
    deadline = time.time() + 10
    while time.time() < deadline and seen is None:
        status, _, body = admin_get(admin, "/healthz")
        if status == 503:
            seen = body
        time.sleep(0.02)
    assert seen == b"draining\n"
    m = parse(admin_get(admin, "/metrics")[2].decode())
    assert value(m, "h3gate_draining") == 1
    t.join(60)
    r = done["r"]
    assert r.status == 200 and r.size == len(files["random.bin"])
    assert srv.proc.wait(30) == 0


def test_admin_address_conflicts_are_caught_by_t(h3gate_bin, tmp_path):
    port = free_udp_port()
    p = subprocess.run([h3gate_bin, "-t", "--root", str(tmp_path), "--listen",
                        "127.0.0.1:%d" % port, "--admin", "127.0.0.1:%d" % port],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode != 0
    assert "admin 127.0.0.1:%d is also a listen address" % port in p.stderr


def test_lost_packets_are_counted(start_server, site, certs, engine):
    """A download through a relay that drops 5 % of the datagrams: the
    ngtcp2 engine's loss detection shows in h3gate_quic_packets_lost_total."""
    if engine != "ngtcp2":
        pytest.skip("the OpenSSL engine does not see its packets")
    root, files = site
    admin = free_udp_port()
    srv = start_server(["--admin", "127.0.0.1:%d" % admin], root=root)
    relay = Relay(srv.port, loss=0.05)
    try:
        r = Client(certs["ca"], "h3").get("https://localhost:%d/random.bin" % relay.port,
                                          keep_body=False)
    finally:
        relay.close()
    assert r.status == 200 and r.size == len(files["random.bin"])
    m = parse(admin_get(admin, "/metrics")[2].decode())
    assert value(m, "h3gate_quic_packets_lost_total") > 0
    assert value(m, "h3gate_quic_packets_sent_total") > value(m, "h3gate_quic_packets_lost_total")


def test_requests_by_route(h3gate_bin, engine, tmp_path, certs):
    from test_reload import Reloadable, site_conf, two_roots
    root_a, root_b, _ = two_roots(tmp_path)
    admin = free_udp_port()
    body = site_conf(certs, root_a, "route { path /b/; root %s; }\nadmin 127.0.0.1:%d;\n"
                     % (tmp_path, admin))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.txt").write_text("x\n")
    s = Reloadable(h3gate_bin, engine, tmp_path, body)
    try:
        s.wait_log(" serving ")
        c = Client(certs["ca"], "h2")
        for _ in range(3):
            assert c.get(s.url("/which.txt")).status == 200
        assert c.get(s.url("/b/x.txt")).status == 200
        m = parse(admin_get(admin, "/metrics")[2].decode())
        assert value(m, "h3gate_route_requests_total", route="*/") == 3
        assert value(m, "h3gate_route_requests_total", route="*/b/") == 1
        s.reload()  # the same file: counters by route start again
        assert c.get(s.url("/b/x.txt")).status == 200
        m = parse(admin_get(admin, "/metrics")[2].decode())
        assert value(m, "h3gate_route_requests_total", route="*/") == 0
        assert value(m, "h3gate_route_requests_total", route="*/b/") == 1
    finally:
        assert s.stop() == 0


def test_openssl_memory_budget_refuses_new_clients(h3gate_bin, engine, certs, site, tmp_path):
    """Past `limits { openssl_memory }` new clients are refused over QUIC
    (a CONNECTION_CLOSE; curl tries again until its connect timeout, and on
    the OpenSSL engine after a Retry it cannot read the close and just times
    out) and TLS (reset at accept), the admin port still answers and shows
    what OpenSSL holds, and a reload that raises the budget lets clients in
    again."""
    from test_reload import Reloadable, site_conf
    admin = free_udp_port()
    extra = "admin 127.0.0.1:%d;\nlimits { openssl_memory %s; }\n"
    s = Reloadable(h3gate_bin, engine, tmp_path, site_conf(certs, site[0], extra % (admin, "1")))
    try:
        s.wait_log(" serving ")
        for proto in ("h3", "h2"):
            c, _ = Client(certs["ca"], proto).handle(s.url("/hello.txt"), keep_body=False)
            c.setopt(pycurl.CONNECTTIMEOUT, 2)
            with pytest.raises(pycurl.error):
                c.perform()
            c.close()
        m = parse(admin_get(admin, "/metrics")[2].decode())
        assert value(m, "h3gate_quic_connections_refused_total") >= 1
        assert value(m, "h3gate_tcp_connections_refused_total") >= 1
        held = value(m, "h3gate_openssl_memory_bytes")
        assert held is not None and held > 100 * 1024, held  # certificates, contexts
        log = s.log()
        assert "(limit openssl_memory)" in log and "at the openssl_memory limit" in log, log
        s.reload(site_conf(certs, site[0], extra % (admin, "1g")))
        for proto in ("h3", "h2"):
            assert Client(certs["ca"], proto).get(s.url("/hello.txt")).status == 200
    finally:
        s.stop_clean()
