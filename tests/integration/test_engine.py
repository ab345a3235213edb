"""QUIC transport behaviour, on both engines where both do it: loss, delay and
reordering through a relay of our own, NAT rebinding, ECN, GSO, Retry, version
negotiation, stateless resets, fast refusals.  Clients: libcurl's HTTP/3
(pycurl) and raw datagrams for what no client sends on purpose.

H3G_LOSSY_MB sets the size of the lossy downloads (default 4; the closing
notes of issue 9 give figures for 50 and 100)."""
import hashlib
import os
import re
import socket
import struct
import subprocess
import time

import pycurl
import pytest

from udprelay import Relay

LOSSY_MB = int(os.environ.get("H3G_LOSSY_MB", "4"))
SAN = 4 if os.environ.get("H3G_SANITIZE") else 1  # looser memory bounds under ASan


def ngtcp2_only(engine, why):
    if engine != "ngtcp2":
        pytest.skip("the OpenSSL engine does not do this: " + why)


@pytest.fixture(scope="module")
def lossy_file(site):
    name = "lossy-%d.bin" % LOSSY_MB
    data = os.urandom(LOSSY_MB << 20)
    with open(os.path.join(site[0], name), "wb") as f:
        f.write(data)
    return "/" + name, hashlib.sha256(data).hexdigest()


def engine_stats(srv):
    """The counters h3gate logs when it exits."""
    m = re.search(r"QUIC engine \w+: (.*)", srv.log())
    assert m, srv.log()
    return {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}


def via(relay, path):
    return "https://localhost:%d%s" % (relay.port, path)


def test_gso_sends_several_packets_per_call(start_server, client, site, engine):
    ngtcp2_only(engine, "OpenSSL 3.5 sends one datagram per packet (sendmmsg)")
    srv = start_server([], root=site[0])
    r = client.get(srv.url("/random.bin"), keep_body=False)
    assert r.status == 200 and r.sha256 == hashlib.sha256(site[1]["random.bin"]).hexdigest()
    assert srv.stop() == 0
    st = engine_stats(srv)
    assert st["packets_per_send"] > 2, st


def test_nat_rebinding_mid_download(start_server, client, site, engine):
    """The client's source port changes after 1 MB: the download goes on on the
    new path and the access log names the new address."""
    ngtcp2_only(engine, "OpenSSL 3.5's QUIC server has no connection migration")
    srv = start_server([], root=site[0])
    relay = Relay(srv.port, rebind_after=1 << 20)
    try:
        r = client.get(via(relay, "/random.bin"), keep_body=False)
    finally:
        relay.close()
    assert relay.rebound
    assert r.status == 200 and r.sha256 == hashlib.sha256(site[1]["random.bin"]).hexdigest()
    assert "connection moved to 127.0.0.1:%d" % relay.source_ports[1] in srv.log()
    line = [l for l in srv.access().splitlines() if "/random.bin" in l][0]
    assert "client=127.0.0.1:%d " % relay.source_ports[1] in line, line


def test_ecn_marks(start_server, client, site, engine):
    ngtcp2_only(engine, "OpenSSL 3.5 does not mark packets with ECN")
    srv = start_server([], root=site[0])
    relay = Relay(srv.port)
    try:
        r = client.get(via(relay, "/random.bin"), keep_body=False)
    finally:
        relay.close()
    assert r.status == 200
    # ECT(0) or ECT(1) on the server's packets (RFC 9000 §13.4).
    assert relay.ecn.get(2, 0) + relay.ecn.get(1, 0) > 0, relay.ecn


def test_download_through_loss_delay_and_reordering(start_server, client, lossy_file, site):
    """5 % loss each way, 10 ms delay each way with 5 ms jitter (reordering):
    every byte arrives, checked by sha256."""
    srv = start_server([], root=site[0])
    relay = Relay(srv.port, loss=0.05, delay_ms=10, jitter_ms=5)
    try:
        r = client.get(via(relay, lossy_file[0]), keep_body=False, timeout=600)
    finally:
        relay.close()
    assert relay.dropped > 0
    assert r.status == 200 and r.sha256 == lossy_file[1]


@pytest.mark.parametrize("cc", ["cubic", "bbr", "reno"])
def test_congestion_control_under_loss(start_server, client, lossy_file, site, engine, cc):
    ngtcp2_only(engine, "OpenSSL 3.5 has NewReno only")
    srv = start_server(["--cc", cc], root=site[0])
    relay = Relay(srv.port, loss=0.01, delay_ms=5)
    try:
        r = client.get(via(relay, lossy_file[0]), keep_body=False, timeout=600)
    finally:
        relay.close()
    assert r.status == 200 and r.sha256 == lossy_file[1]


def test_transfer_that_cannot_finish_is_an_error(start_server, client, site):
    """The path goes dead after 1 MB: the client ends with an error, never with a
    short body that looks complete."""
    srv = start_server(["--idle-timeout", "3"], root=site[0])
    relay = Relay(srv.port, blackhole_after=1 << 20)
    try:
        r = client.get(via(relay, "/random.bin"), keep_body=False, raise_errors=False, timeout=10)
    finally:
        relay.close()
    assert r.error is not None, "a cut transfer ended cleanly"
    assert r.size < len(site[1]["random.bin"])


def test_retry_before_new_clients(start_server, client, site, engine):
    ngtcp2_only(engine, "OpenSSL keeps its Retry count to itself")
    srv = start_server(["--address-validation", "on"], root=site[0])
    assert client.get(srv.url("/hello.txt")).status == 200
    assert srv.stop() == 0
    st = engine_stats(srv)
    assert st["retries"] >= 1 and st["handshakes"] >= 1, st


def test_address_validation_auto_retries_only_under_a_flood(start_server, client, site, engine,
                                                             tmp_path):
    """auto (the default): no Retry round trip while few handshakes are in
    progress; during a flood of handshakes that are never finished, new clients
    get a Retry (which the flood does not follow), so the flood holds few
    handshakes and a good client is served at once (issue 12, finding 5)."""
    conf = tmp_path / "av.conf"
    conf.write_text("limits { retry_threshold 50; handshakes 400; }\n")
    srv = start_server(["-c", str(conf)], root=site[0])
    assert client.get(srv.url("/hello.txt")).status == 200
    flood = subprocess.Popen([os.environ["H3RAW_BIN"], "127.0.0.1", str(srv.port),
                              "handshake-flood"], stdout=subprocess.PIPE, text=True,
                             env=dict(os.environ, H3RAW_CONNS="600", H3RAW_SECONDS="3"))
    flood.stdout.readline()  # every Initial is out
    r = client.get(srv.url("/hello.txt"))
    flood.wait(timeout=60)
    assert r.status == 200 and r.body == b"hello, world\n"
    assert srv.peak_rss_kib() < 64 * 1024 * SAN, srv.peak_rss_kib()
    assert srv.stop() == 0
    if engine == "ngtcp2":  # OpenSSL keeps its Retry count to itself (auto is on there)
        st = engine_stats(srv)
        assert st["retries"] >= 500 and st["refused_handshakes"] == 0, st


def test_handshakes_in_progress_are_capped(start_server, site, engine, tmp_path):
    """With address validation off (unsafe on a reachable listener), a flood of
    handshakes from real addresses fills at most `handshakes` slots, the rest
    are refused (ngtcp2: CONNECTION_REFUSED; OpenSSL engine: H3_EXCESSIVE_LOAD
    once accepted), and memory stays bounded (657 MB on the OpenSSL engine
    before)."""
    conf = tmp_path / "hs.conf"
    conf.write_text("address_validation off;\nlimits { handshakes 100; }\n")
    srv = start_server(["-c", str(conf)], root=site[0])
    subprocess.run([os.environ["H3RAW_BIN"], "127.0.0.1", str(srv.port), "handshake-flood"],
                   capture_output=True, timeout=60,
                   env=dict(os.environ, H3RAW_CONNS="600", H3RAW_SECONDS="2"), check=True)
    assert srv.peak_rss_kib() < 64 * 1024 * SAN, srv.peak_rss_kib()
    assert srv.stop() == 0
    st = engine_stats(srv)
    assert st["refused_handshakes"] >= 400, st
    assert "refusing new clients: 100 handshakes in progress (limit 100)" in srv.log()


def test_stateless_reset_after_restart(start_server, client, site, engine, tmp_path):
    """A server restarted with the same host key resets the connections of the
    one before, so clients give up on them at once and reconnect."""
    ngtcp2_only(engine, "OpenSSL 3.5 sends no stateless resets")
    key = tmp_path / "host.key"
    key.write_bytes(os.urandom(32))
    first = start_server(["--host-key", str(key)], root=site[0])
    c, _ = client.handle(first.url("/hello.txt"), keep_body=False)
    c.perform()
    assert c.getinfo(pycurl.RESPONSE_CODE) == 200
    first.expect_failure = True
    first.proc.kill()  # no CONNECTION_CLOSE: the client still has the connection
    first.proc.wait()
    second = start_server(["--host-key", str(key)], root=site[0], port=first.port)
    try:
        c.perform()  # goes to the old connection first
    except pycurl.error:
        pass  # curl may or may not retry the request itself
    c.close()
    assert client.get(second.url("/hello.txt")).status == 200
    assert second.stop() == 0
    assert engine_stats(second)["stateless_resets"] >= 1


def test_version_negotiation(start_server, site, engine):
    """An Initial of a version h3gate does not speak gets a Version Negotiation
    packet listing QUIC v1."""
    srv = start_server([], root=site[0])
    dcid, scid = os.urandom(8), os.urandom(8)
    pkt = bytes([0xc0]) + struct.pack(">I", 0x1a2a3a4a) + bytes([8]) + dcid + bytes([8]) + scid
    pkt += b"\0" * (1200 - len(pkt))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(pkt, ("127.0.0.1", srv.port))
        data = s.recv(2048)
    assert data[0] & 0x80 and data[1:5] == b"\0\0\0\0", data[:16]
    # its DCID is our SCID, its SCID our DCID (RFC 9000 §17.2.1)
    assert data[5] == 8 and data[6:14] == scid and data[14] == 8 and data[15:23] == dcid
    versions = [struct.unpack(">I", data[i:i + 4])[0] for i in range(23, len(data), 4)]
    assert 1 in versions, versions
    # never the version the client asked for: it would discard the packet (§6.2)
    assert 0x1a2a3a4a not in versions, versions


def test_stateless_reset_for_unknown_connection(start_server, site, engine):
    ngtcp2_only(engine, "OpenSSL 3.5 sends no stateless resets")
    srv = start_server([], root=site[0])
    pkt = bytes([0x40]) + os.urandom(16) + os.urandom(60)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(pkt, ("127.0.0.1", srv.port))
        data = s.recv(2048)
    # A short header, shorter than what we sent (RFC 9000 §10.3.3), ending in
    # the 16-byte token.
    assert data[0] & 0xc0 == 0x40 and 21 <= len(data) < len(pkt), data


def test_refused_at_the_connection_limit_gets_an_answer(start_server, client, site, engine):
    """The client over --max-connections is answered (CONNECTION_REFUSED in an
    Initial) instead of being left to time out.  curl then retries until its
    connect timeout, so what is checked is that its QUIC connect failed on the
    server's word."""
    srv = start_server(["--max-connections", "1", "--address-validation", "off"], root=site[0])
    c, _ = client.handle(srv.url("/hello.txt"), keep_body=False)
    c.perform()  # holds the one connection
    d, state = client.handle(srv.url("/hello.txt"), keep_body=False)
    said = []
    d.setopt(pycurl.VERBOSE, 1)
    d.setopt(pycurl.DEBUGFUNCTION, lambda kind, text: said.append(text.decode(errors="replace")))
    d.setopt(pycurl.CONNECTTIMEOUT, 2)
    with pytest.raises(pycurl.error):
        d.perform()
    d.close()
    c.close()
    assert any("QUIC connect to 127.0.0.1 port %d failed" % srv.port in t for t in said), said[-5:]
    assert srv.stop() == 0
    assert engine_stats(srv)["refused"] >= 1


def test_refusals_to_one_client_are_paced(start_server, client, site, engine):
    """curl answers CONNECTION_REFUSED by trying again at once, for its whole
    connect timeout (30,000 refusals in 12 s before): one client address gets
    at most one refusal a second, the tries in between are dropped (and
    counted), so it retries at its probe timeout instead."""
    ngtcp2_only(engine, "the OpenSSL engine's refusals are OpenSSL's closes")
    srv = start_server(["--max-connections", "1", "--address-validation", "off"], root=site[0])
    c, _ = client.handle(srv.url("/hello.txt"), keep_body=False)
    c.perform()  # holds the one connection
    d, _ = client.handle(srv.url("/hello.txt"), keep_body=False)
    d.setopt(pycurl.CONNECTTIMEOUT, 3)
    start = time.monotonic()
    with pytest.raises(pycurl.error):
        d.perform()
    seconds = time.monotonic() - start
    d.close()
    c.close()
    assert srv.stop() == 0
    st = engine_stats(srv)
    answered = st["refused"] - st["refusals_unanswered"]
    assert 1 <= answered <= seconds + 2, st  # a bound on a count, not a timing
    assert st["refusals_unanswered"] >= 1, st


def test_zero_rtt_with_ticket_keys_shared_across_servers(start_server, certs, site, engine, tmp_path):
    """A session from one server resumes on another with the same --ticket-key
    (here: the next server on the same port, as after a restart or behind a
    load balancer), its GET in 0-RTT; with another key it is a full handshake."""
    ngtcp2_only(engine, "OpenSSL 3.5's QUIC server does not accept 0-RTT")
    from test_proxy import early_client
    key, other = tmp_path / "ticket.key", tmp_path / "other.key"
    key.write_bytes(os.urandom(80))
    other.write_bytes(os.urandom(80))
    get = early_client(certs["ca"])

    def last_request(srv):
        # The servers share a port, hence their log files: the newest line.
        assert srv.stop() == 0
        return [l for l in srv.access().splitlines() if " request " in l][-1]

    a = start_server(["--ticket-key", str(key)], root=site[0])
    assert get(a.url("/hello.txt"))[0] == 200
    time.sleep(0.2)  # the ticket comes after the handshake
    assert "early=1" not in last_request(a)
    b = start_server(["--ticket-key", str(key)], root=site[0], port=a.port)
    assert get(b.url("/hello.txt"))[0] == 200
    time.sleep(0.2)
    assert "early=1" in last_request(b)
    c = start_server(["--ticket-key", str(other)], root=site[0], port=a.port)
    assert get(c.url("/hello.txt"))[0] == 200
    assert "early=1" not in last_request(c)


def test_bad_ticket_key_is_refused(h3gate_bin, tmp_path, site):
    key = tmp_path / "short.key"
    key.write_bytes(os.urandom(48))
    p = subprocess.run([h3gate_bin, "-t", "--root", site[0], "--ticket-key", str(key)],
                       capture_output=True, text=True)
    assert p.returncode != 0 and "session ticket key %s: 48 bytes, 80 expected" % key in p.stderr
    p = subprocess.run([h3gate_bin, "-t", "--root", site[0], "--host-key", str(key) + ".none"],
                       capture_output=True, text=True)
    assert p.returncode != 0 and "cannot read QUIC host key" in p.stderr
