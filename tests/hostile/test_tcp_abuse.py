"""Attacks on HTTPS over TCP: HTTP/2 rapid reset (CVE-2023-44487), CONTINUATION
floods (CVE-2024-27316), HPACK abuse and slow readers from clients built on
Debian's python3-h2 (which lets a client do what a good one never would), with
a good libcurl client beside each.  HTTP/1.1 framing attacks are in
tests/integration/test_tcp.py."""
import re
import socket
import ssl
import time

import h2.config
import h2.connection
import h2.events
import pytest
from hpack import Encoder

from h3client import Client

ENGINE = "ngtcp2"  # TCP does not depend on the QUIC engine


@pytest.fixture
def engine():
    return ENGINE


def h2_socket(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                        server_hostname="localhost")
    assert s.selected_alpn_protocol() == "h2"
    return s


def h2_client(port):
    s = h2_socket(port)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True,
                                                                 header_encoding="utf-8"))
    conn.initiate_connection()
    s.sendall(conn.data_to_send())
    return s, conn


def request_headers(port, path="/hello.txt"):
    return [(":method", "GET"), (":scheme", "https"), (":authority", "localhost:%d" % port),
            (":path", path)]


def drain(s, conn, seconds=5):
    """Reads until the server closes; returns the h2 events seen."""
    events, deadline = [], time.time() + seconds
    s.settimeout(0.5)
    while time.time() < deadline:
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, ssl.SSLError, OSError):
            break
        if not data:
            break
        try:
            events += conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            break
        out = conn.data_to_send()
        if out:
            try:
                s.sendall(out)
            except OSError:
                break
    return events


def goaway(events):
    g = [e for e in events if isinstance(e, h2.events.ConnectionTerminated)]
    return g[0] if g else None


def good_client_works(server, certs):
    r = Client(certs["ca"], "h2").get(server.url("/hello.txt"))
    assert r.status == 200 and r.body == b"hello, world\n"


def test_rapid_reset_gets_enhance_your_calm(server, certs):
    s, conn = h2_client(server.port)
    sent = 0
    try:
        for i in range(1, 2000, 2):
            conn.send_headers(i, request_headers(server.port), end_stream=False)
            conn.reset_stream(i)
            sent += 1
            s.sendall(conn.data_to_send())
    except (OSError, h2.exceptions.ProtocolError):
        pass  # the server closed the connection
    ev = goaway(drain(s, conn))
    assert ev is not None and ev.error_code == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM, ev
    # it stopped taking streams long before the client stopped opening them
    assert ev.last_stream_id < 2 * sent - 200, (ev.last_stream_id, sent)
    good_client_works(server, certs)


def test_continuation_flood_is_bounded(server, certs):
    """HEADERS without END_HEADERS, then CONTINUATION frames for ever."""
    s, conn = h2_client(server.port)
    enc = Encoder()
    block = enc.encode(request_headers(server.port))
    # HEADERS (type 1), flags END_STREAM only, stream 1
    frame = lambda t, f, sid, payload: (len(payload).to_bytes(3, "big") + bytes([t, f]) +
                                        sid.to_bytes(4, "big") + payload)
    s.sendall(frame(1, 0x1, 1, block))
    filler = enc.encode([("x-flood", "a" * 1000)])
    t0, sent = time.time(), 0
    try:
        while time.time() - t0 < 5 and sent < 20000:
            s.sendall(frame(9, 0, 1, filler))  # CONTINUATION without END_HEADERS
            sent += 1
    except OSError:
        pass
    assert sent < 20000, "the server kept reading CONTINUATION frames for ever"
    good_client_works(server, certs)


def test_hpack_table_and_header_list_limits(server, certs):
    """Fields that fill the dynamic table, then a request whose decoded list is
    far over the limit: 431 or a reset for that stream, the connection and
    the server carry on."""
    s, conn = h2_client(server.port)
    big = [("x-big-%d" % i, "v" * 4000) for i in range(40)]  # ~160 KB decoded
    conn.send_headers(1, request_headers(server.port) + big, end_stream=True)
    s.sendall(conn.data_to_send())
    events = drain(s, conn, 3)
    resp = [e for e in events if isinstance(e, h2.events.ResponseReceived)]
    reset = [e for e in events if isinstance(e, h2.events.StreamReset)]
    term = goaway(events)
    assert (resp and dict(resp[0].headers)[":status"] == "431") or reset or term, events
    good_client_works(server, certs)


def test_slow_reader_is_reset_and_others_served(start_server, site, certs):
    """Never sends WINDOW_UPDATE (and never reads the socket): the stalled
    output ends the connection after the idle timeout, memory stays bounded."""
    s = start_server(["--idle-timeout", "2"], root=site[0])
    sock, conn = h2_client(s.port)
    for i in range(1, 40, 2):
        conn.send_headers(i, request_headers(s.port, "/random.bin"), end_stream=True)
    sock.sendall(conn.data_to_send())
    rss0 = s.peak_rss_kib()
    good_client_works(s, certs)
    time.sleep(4)
    with pytest.raises((ConnectionResetError, ssl.SSLError, OSError)):
        for _ in range(1000):  # what the kernel buffered, then the reset
            if not sock.recv(1 << 20):
                raise ConnectionResetError("closed")
    assert s.peak_rss_kib() - rss0 < 64 * 1024
    s.stop()
    assert "error=tcp:send_timeout proto=h2" in s.access(), s.access()


def test_many_idle_tls_handshakes_are_bounded(start_server, site, certs, tmp_path):
    """Connections that never finish the TLS handshake: refused beyond
    tls_handshakes, closed after the handshake timeout; a good client gets in."""
    conf = tmp_path / "lim.conf"
    conf.write_text("limits { tls_handshakes 50; }\nrequest_header_timeout 2s;\n")
    s = start_server(["-c", str(conf)], root=site[0])
    held = [socket.create_connection(("127.0.0.1", s.port), timeout=5) for _ in range(50)]
    time.sleep(0.3)
    # the 51st is reset at once (on loopback the reset may even beat connect())
    with pytest.raises((ConnectionResetError, OSError)):
        extra = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        extra.settimeout(3)
        if extra.recv(10) == b"":
            raise ConnectionResetError("closed")
    time.sleep(2.5)  # the held ones time out
    good_client_works(s, certs)
    for h in held:
        h.close()
    s.stop()
    m = re.search(r"(\d+) refused, \d+ failed handshakes, (\d+) handshake timeouts", s.log())
    assert m and int(m.group(1)) >= 1 and int(m.group(2)) >= 50, s.log()


def test_http1_slow_reader_is_reset(start_server, site, certs):
    """Pipelined downloads it never reads: the queued output stops moving and
    the connection is reset after the idle timeout."""
    s = start_server(["--idle-timeout", "2"], root=site[0])
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", s.port), timeout=10),
                           server_hostname="localhost")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(b"GET /random.bin HTTP/1.1\r\nHost: a\r\n\r\n" * 20)
    good_client_works(s, certs)
    time.sleep(4)
    s.stop()
    assert "error=tcp:send_timeout proto=h1" in s.access(), s.access()
    sock.close()
