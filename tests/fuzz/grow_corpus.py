#!/usr/bin/python3
"""Seeds for the fuzz corpora from real clients' traffic (run by hand, not in
CI): h3gate with a key log, tshark on loopback, and clients nobody here wrote
(libcurl's HTTP/3, HTTP/2 and HTTP/1.1 through pycurl, Debian's curl, headless
Chromium over HTTP/3 and HTTP/2).  From the decrypted capture:

  session/  each HTTP/3 connection's client streams as fuzz_session records
  h1/       each HTTP/1.1 connection's bytes as fuzz_h1 input
  request/  each HTTP/2 request's fields (HPACK decoded by tshark) as
            fuzz_request input

    tests/fuzz/grow_corpus.py BUILD_DIR OUT_DIR

then merge what adds coverage, e.g. `build-fuzz/tests/fuzz/fuzz_session
-merge=1 tests/fuzz/corpus/session OUT_DIR/session`."""
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pycurl

HERE = os.path.dirname(os.path.abspath(__file__))
CHROMIUM = shutil.which("chromium")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def site(root):
    os.makedirs(root)
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write('<!doctype html><link rel="stylesheet" href="/s.css"><img src="/i.png">'
                '<script src="/a.js"></script><p>seed</p>\n')
    for name, body in (("s.css", "p{color:red}\n"), ("a.js", "fetch('/x.txt?q=1');\n"),
                       ("x.txt", "x" * 5000), ("i.png", "\x89PNG....")):
        with open(os.path.join(root, name), "w") as f:
            f.write(body)


def curl_requests(url_base, proto):
    """libcurl's requests of several shapes on one connection."""
    version = {"h3": 31, "h2": 4, "h1": pycurl.CURL_HTTP_VERSION_1_1}[proto]
    c = pycurl.Curl()
    for path, opts in (("/", {}), ("/x.txt", {pycurl.RANGE: "100-199"}),
                       ("/x.txt", {pycurl.NOBODY: 1}),
                       ("/x.txt", {pycurl.HTTPHEADER: ["If-None-Match: \"a\", W/\"b\"",
                                                       "Accept-Encoding: gzip, br",
                                                       "Cookie: a=1", "Cookie: b=2"]}),
                       ("/upload", {pycurl.POSTFIELDS: "k=v&" * 300}),
                       ("/nope?a=%20b#f", {pycurl.CUSTOMREQUEST: "DELETE"})):
        c.setopt(pycurl.URL, url_base + path)
        c.setopt(pycurl.HTTP_VERSION, version)
        c.setopt(pycurl.SSL_VERIFYPEER, 0)
        c.setopt(pycurl.SSL_VERIFYHOST, 0)
        c.setopt(pycurl.WRITEFUNCTION, lambda d: None)
        for k, v in opts.items():
            c.setopt(k, v)
        try:
            c.perform()
        except pycurl.error:
            pass
        c.reset()
    c.close()


def chromium(origin, spki, flags):
    if CHROMIUM is None:
        return
    profile = tempfile.mkdtemp(prefix="h3g-seed-")
    try:
        subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                        "--ignore-certificate-errors-spki-list=" + spki,
                        "--user-data-dir=" + profile, "--disable-background-networking",
                        "--no-first-run", "--virtual-time-budget=3000", "--dump-dom",
                        "https://%s/" % origin] + flags,
                       capture_output=True, timeout=90)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def tshark(pcap, keylog, port, display, fields):
    args = ["tshark", "-r", pcap, "-o", "tls.keylog_file:" + keylog, "-d",
            "tcp.port==%d,tls" % port, "-Y", display, "-T", "fields", "-E", "separator=|",
            "-E", "aggregator=\x1e"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, timeout=300).stdout
    return [line.split("|") for line in out.split("\n") if line]  # not splitlines: \x1e


def save(outdir, kind, data):
    d = os.path.join(outdir, kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


SELECTOR = {0: 0, 4: 1, 8: 2, 2: 3, 6: 4, 10: 5, 12: 6}


def session_seeds(rows, outdir):
    """Client-initiated stream frames (client -> server), per connection, as
    [selector][flags][len][bytes] records in capture order."""
    conns = {}
    for conn, sids, fins, datas in rows:
        if not datas:
            continue
        sids, fins, datas = sids.split("\x1e"), fins.split("\x1e"), datas.split("\x1e")
        if not len(sids) == len(fins) == len(datas):
            continue  # a frame without data: the columns do not line up
        for sid, fin, data in zip(sids, fins, datas):
            sid = int(sid)
            if sid % 2 or not re.fullmatch(r"(?:[0-9a-f]{2})*", data):  # server-initiated
                continue
            raw = bytes.fromhex(data)
            sel = SELECTOR.get(sid, (sid // 4) % 3)
            recs = conns.setdefault(conn, bytearray())
            for i in range(0, max(len(raw), 1), 255):
                part = raw[i:i + 255]
                last = i + 255 >= len(raw)
                flags = (1 if fin in ("1", "True") and last else 0) | 4
                recs += bytes([sel, flags, len(part)]) + part
    for recs in conns.values():
        save(outdir, "session", bytes(recs))
    return len(conns)


def h1_seeds(pcap, keylog, port, outdir):
    streams = {s for (s,) in tshark(pcap, keylog, port, "http.request", ["tcp.stream"])}
    for s in streams:
        out = subprocess.run(["tshark", "-r", pcap, "-o", "tls.keylog_file:" + keylog, "-d",
                              "tcp.port==%d,tls" % port, "-q", "-z", "follow,tls,raw," + s],
                             capture_output=True, text=True, timeout=120).stdout
        # the client's bytes are the indented lines (node 0 speaks first)
        data = b"".join(bytes.fromhex(l.strip()) for l in out.splitlines()
                        if l.startswith("\t") and re.fullmatch(r"(?:[0-9a-f]{2})+", l.strip()))
        if data:
            save(outdir, "h1", bytes([7]) + data)  # first byte: the split size
    return len(streams)


def request_seeds(rows, outdir):
    n = 0
    for names, values in rows:
        if not names:
            continue
        fields = b"".join(k.encode() + b"\0" + v.encode() + b"\0"
                          for k, v in zip(names.split("\x1e"), values.split("\x1e")))
        save(outdir, "request", fields)
        n += 1
    return n


def main():
    build, outdir = sys.argv[1], os.path.abspath(sys.argv[2])
    tmp = tempfile.mkdtemp(prefix="h3g-grow-")
    root, keylog, pcap = os.path.join(tmp, "www"), os.path.join(tmp, "keys"), os.path.join(
        tmp, "cap.pcapng")
    site(root)
    port = free_port()
    log = open(os.path.join(tmp, "h3gate.log"), "w+")
    srv = subprocess.Popen([os.path.join(build, "h3gate"), "--root", root, "--listen",
                            "127.0.0.1:%d" % port, "--keylog", keylog, "--workers", "1",
                            "--address-validation", "off"], stderr=log)
    cap = subprocess.Popen(["tshark", "-i", "lo", "-f", "port %d" % port, "-w", pcap],
                           stderr=subprocess.DEVNULL)
    time.sleep(3)
    log.seek(0)
    spki = re.search(r"SPKI sha256 ([^)]*)\)", log.read()).group(1)
    base = "https://127.0.0.1:%d" % port
    for proto in ("h3", "h2", "h1"):
        curl_requests(base, proto)
    subprocess.run(["curl", "-sk", "--http1.1", "-o", "/dev/null", "-H", "Expect:",
                    "-T", os.path.join(root, "x.txt"), "-H", "Transfer-Encoding: chunked",
                    base + "/put"], timeout=30)
    origin = "127.0.0.1:%d" % port
    chromium(origin, spki, ["--enable-quic", "--origin-to-force-quic-on=" + origin])
    chromium(origin, spki, [])
    time.sleep(1)
    cap.terminate()
    cap.wait(30)
    srv.terminate()
    srv.wait(30)
    counts = (
        session_seeds(tshark(pcap, keylog, port, "quic.stream_data && udp.dstport == %d" % port,
                             ["udp.stream", "quic.stream.stream_id", "quic.stream.fin",
                              "quic.stream_data"]), outdir),
        h1_seeds(pcap, keylog, port, outdir),
        request_seeds(tshark(pcap, keylog, port, "http2.type == 1 && tcp.dstport == %d" % port,
                             ["http2.header.name", "http2.header.value"]), outdir))
    print("seeds: %d HTTP/3 connections, %d HTTP/1.1 connections, %d HTTP/2 requests in %s"
          % (counts + (outdir,)))
    if os.environ.get("H3G_KEEP") != "1":
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
