"""keylog and qlog_dir: Wireshark's tshark decrypts a captured HTTP/3 and
HTTP/2 exchange with the key log h3gate wrote (and cannot without it), and
each QUIC connection leaves a qlog file."""
import glob
import json
import os
import select
import shutil
import socket
import subprocess
import threading
import time

import pytest

from h3client import Client

try:
    from hpack.huffman_table import decode_huffman  # python3-hpack (python3-h2 needs it)
except ImportError:  # pragma: no cover
    decode_huffman = None


class Capture:
    """tshark on the loopback interface, for one port (TCP and UDP).  A
    datagram to a sentinel port, seen in tshark's summary lines, proves the
    capture runs before the test talks (tshark says "Capturing on" a little
    before it does), and another one at the end proves every packet before
    it reached tshark before it is stopped (no sleep to guess that)."""

    def __init__(self, port, path, tmp):
        self.path, self.seen, self.cond = path, 0, threading.Condition()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            self.sentinel = s.getsockname()[1]
        self.errpath = os.path.join(tmp, "tshark.err")
        self.proc = subprocess.Popen(
            ["tshark", "-l", "-P", "-i", "lo", "-f",
             "udp port %d or tcp port %d or udp port %d" % (port, port, self.sentinel), "-w",
             path], stdout=subprocess.PIPE, stderr=open(self.errpath, "w"), text=True)
        # the summary lines are read as they come, so they never fill the pipe
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self._mark()

    def _read(self):
        for line in self.proc.stdout:
            if " %d " % self.sentinel in line + " ":
                with self.cond:
                    self.seen += 1
                    self.cond.notify_all()

    def _mark(self):
        """Send sentinels until tshark reports one more of them (a cold
        start of tshark on a fresh machine can take many seconds)."""
        with self.cond:
            want = self.seen + 1
        deadline = time.monotonic() + 90
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            while time.monotonic() < deadline and self.proc.poll() is None:
                probe.sendto(b"sentinel", ("127.0.0.1", self.sentinel))
                with self.cond:
                    if self.cond.wait_for(lambda: self.seen >= want, 0.2):
                        return
        raise AssertionError("tshark reported no sentinel datagram: " +
                             open(self.errpath).read()[-2000:])

    def stop(self):
        try:
            self._mark()
        finally:
            self.proc.terminate()
            self.proc.wait(20)


def tshark_fields(pcap, port, keylog, display, field):
    args = ["tshark", "-r", pcap, "-d", "tcp.port==%d,tls" % port, "-Y", display, "-T", "fields",
            "-e", field]
    if keylog is not None:
        args[3:3] = ["-o", "tls.keylog_file:" + keylog]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60).stdout
    return [line for line in out.splitlines() if line]


def summary(pcap, port, keylog):
    """What tshark makes of the capture, for a failure message."""
    args = ["tshark", "-r", pcap, "-d", "tcp.port==%d,tls" % port, "-o",
            "tls.keylog_file:" + keylog]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    return p.stdout[-4000:] + p.stderr[-1000:]


def qpack_paths(payload_hex):
    """The :path values of a QPACK field section (RFC 9204 §4.5.4: a literal
    with a reference to static entry 1, ':path'), Huffman-coded or not."""
    data, out = bytes.fromhex(payload_hex.replace(",", "")), []
    for i in range(len(data) - 2):
        if data[i] != 0x51:
            continue
        huff, n = data[i + 1] & 0x80, data[i + 1] & 0x7F
        raw = data[i + 2:i + 2 + n]
        try:
            out.append((decode_huffman(raw) if huff else raw).decode())
        except Exception:
            continue
    return out


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_keylog_lets_tshark_decrypt_http3_and_http2(start_server, site, certs, tmp_path, engine):
    if decode_huffman is None:
        pytest.skip("python3-hpack is not installed")
    keylog = str(tmp_path / "keys.txt")
    srv = start_server(["--keylog", keylog], root=site[0])
    assert "keylog %s: the TLS secrets" % keylog in srv.log()
    pcap = str(tmp_path / "capture.pcapng")
    cap = Capture(srv.port, pcap, str(tmp_path))
    try:
        assert Client(certs["ca"], "h3").get(srv.url("/hello.txt?over-h3")).status == 200
        assert Client(certs["ca"], "h2").get(srv.url("/hello.txt?over-h2")).status == 200
    finally:
        cap.stop()
    assert os.stat(keylog).st_mode & 0o077 == 0  # secrets: owner only
    lines = open(keylog).read().splitlines()
    assert any(l.startswith("CLIENT_TRAFFIC_SECRET_0 ") for l in lines), lines
    # HTTP/2: tshark shows the path once it has the keys
    paths = tshark_fields(pcap, srv.port, keylog, "http2.type == 1", "http2.headers.path")
    assert "/hello.txt?over-h2" in paths, (paths, summary(pcap, srv.port, keylog))
    # HTTP/3: tshark decrypts the HEADERS frame; QPACK is decoded here
    heads = tshark_fields(pcap, srv.port, keylog, "http3.frame_type == 1", "http3.frame_payload")
    assert "/hello.txt?over-h3" in [p for h in heads for p in qpack_paths(h)], (
        heads, summary(pcap, srv.port, keylog))
    # and without the key log, nothing of it
    assert tshark_fields(pcap, srv.port, None, "http3 || http2", "frame.number") == []


def test_qlog_dir_writes_a_file_per_connection(start_server, site, certs, tmp_path, engine):
    qdir = tmp_path / "qlog"
    qdir.mkdir()
    srv = start_server(["--qlog-dir", str(qdir)], root=site[0])
    for _ in range(2):
        assert Client(certs["ca"], "h3").get(srv.url("/hello.txt")).status == 200
    assert srv.stop() == 0
    files = sorted(glob.glob(str(qdir / "*_server.sqlog")))
    assert len(files) == 2, files
    for f in files:
        records = [r for r in open(f, "rb").read().split(b"\x1e") if r.strip()]
        head = json.loads(records[0])
        assert head["qlog_format"] == "JSON-SEQ", head
        names = {json.loads(r).get("name", "") for r in records[1:]}
        assert any(n.endswith("packet_received") for n in names), names


def test_qlog_dir_must_be_writable(h3gate_bin, tmp_path):
    p = subprocess.run([h3gate_bin, "-t", "--root", str(tmp_path), "--qlog-dir",
                        str(tmp_path / "missing")], capture_output=True, text=True, timeout=20)
    assert p.returncode != 0
    assert "qlog_dir %s: No such file or directory" % (tmp_path / "missing") in p.stderr
