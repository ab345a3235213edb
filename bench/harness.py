#!/usr/bin/python3
"""h3gate side by side with nginx and HAProxy over HTTP/3; see docs/benchmarking.md.

Run through bench/run, which builds what is missing and passes the binaries:

    harness.py --h3gate BIN --h2load BIN --nginx BIN --haproxy BIN [SCENARIO...]

Scenarios: small, bulk, handshake, idle, proxy (default: all).  Every server runs
pinned to one core and the load client to the other; servers take turns, several
rounds, and each round also gives the ratio of h3gate to each peer.
"""
import argparse
import datetime
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SCENARIOS = ["small", "bulk", "handshake", "idle", "proxy", "h2small", "h2bulk", "workers"]
HERE = os.path.dirname(os.path.abspath(__file__))


# h3gate once per QUIC engine; the first is the one ratios are taken to.
H3GATES = ["h3gate-ngtcp2", "h3gate-openssl"]


def die(msg):
    sys.stderr.write("bench: error: %s\n" % msg)
    sys.exit(1)


def note(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


def free_port():
    # A port free for both UDP and TCP, so that each server can take either.
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    die("no free port")


# --- per-process accounting ---------------------------------------------------

def pids_of(pid):
    return pid if isinstance(pid, list) else [pid]


def cpu_ns(pid):
    """CPU time of all threads of pid (or of a list of processes: workers),
    user + system, in ns, from schedstat."""
    if isinstance(pid, list):
        return sum(cpu_ns(p) for p in pid)
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except FileNotFoundError:
            pass
    return total


def status_kib(pid, field):
    if isinstance(pid, list):
        return sum(status_kib(p, field) for p in pid)
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak_rss(pid):
    # Writing 5 to clear_refs resets VmHWM (Linux >= 4.0).
    if isinstance(pid, list):
        for p in pid:
            reset_peak_rss(p)
        return
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
    except OSError:
        pass


# --- servers ------------------------------------------------------------------

class Server:
    """One server process (or nginx's single worker) under test."""

    name = "?"

    def __init__(self, bench, port):
        self.bench, self.port, self.proc = bench, port, None
        self.dir = tempfile.mkdtemp(prefix=self.key + "-", dir=bench.work)

    def spawn(self, argv):
        # the workers scenario gives the servers every CPU
        pin = [] if self.bench.nworkers else ["taskset", "-c", str(self.bench.server_cpu)]
        with open(os.path.join(self.dir, "stderr.log"), "wb") as log:
            self.proc = subprocess.Popen(pin + argv,
                                         stdout=log, stderr=subprocess.STDOUT, cwd=self.dir,
                                         start_new_session=True)

    def measured_pid(self):
        return self.proc.pid

    def workers_of(self, n):
        """The n worker processes under a master (their CPU and memory are
        what is measured; the master only supervises)."""
        for _ in range(50):
            kids = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True,
                                  text=True).stdout.split()
            if len(kids) >= n:
                return [int(k) for k in kids] if n > 1 else int(kids[0])
            time.sleep(0.1)
        die("%s started fewer than %d workers:\n%s" % (self.name, n, self.log_tail()))

    def wait_ready(self):
        # Ready when an HTTP/3 request succeeds (h2load, one request).  HAProxy
        # 3.0 may drop a first Initial: the client retries after 1, 2, 4... s.
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                die("%s exited at start-up (%s); its log:\n%s" % (self.name, self.proc.returncode, self.log_tail()))
            r = self.bench.h2load(["-n", "1", "-c", "1"], self.url("/1k.bin"), check=False, timeout=30)
            if r and r["succeeded"] == 1:
                return
            time.sleep(0.2)
        die("%s did not answer over HTTP/3 on port %d; its log:\n%s" % (self.name, self.port, self.log_tail()))

    def log_tail(self):
        try:
            with open(os.path.join(self.dir, "stderr.log"), errors="replace") as f:
                return "".join(f.readlines()[-20:])
        except OSError:
            return ""

    def url(self, path):
        return "https://127.0.0.1:%d%s" % (self.port, path)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class H3gate(Server):
    key = "h3gate"

    def __init__(self, bench, port, mode, retry=False, engine="ngtcp2", workers=None):
        super().__init__(bench, port)
        self.name = "h3gate/%s" % engine + (" (Retry on)" if retry else "")
        self.workers = workers or 1
        if workers:
            self.name += " × %d worker%s" % (workers, "s" if workers > 1 else "")
        b = bench
        argv = [b.args.h3gate, "--engine", engine, "--workers", str(self.workers),
                "--listen", "127.0.0.1:%d" % port, "--cert", b.cert, "--key", b.keyfile,
                "--log-level", "warn", "--address-validation", "on" if retry else "off",
                # h2load does not move to a new connection after a GOAWAY; nginx's
                # keepalive_requests is raised the same way.
                "--max-requests", "0"]
        if mode == "proxy":
            # The same idle-connection pool as nginx's (keepalive 64).
            conf = os.path.join(self.dir, "h3gate.conf")
            with open(conf, "w") as f:
                f.write("upstream origin { server 127.0.0.1:%d; keepalive 64; }\n"
                        "route { upstream origin; }\n" % b.origin_port)
            argv += ["-c", conf]
        else:
            argv += ["--root", b.www]
        self.spawn(argv)

    def measured_pid(self):
        return self.proc.pid if self.workers == 1 else self.workers_of(self.workers)


class Nginx(Server):
    key = "nginx"

    def __init__(self, bench, port, mode):
        super().__init__(bench, port)
        self.name = "nginx " + bench.versions["nginx"]
        self.workers = bench.nworkers or 1
        if bench.nworkers:
            self.name += " × %d workers" % bench.nworkers
        b = bench
        if mode == "proxy":
            location = ("location / { proxy_pass http://origin; proxy_http_version 1.1; "
                        "proxy_set_header Connection \"\"; }")
            upstream = "upstream origin { server 127.0.0.1:%d; keepalive 64; }" % b.origin_port
        else:
            location, upstream = "location / { }", ""
        conf = NGINX_CONF.format(dir=self.dir, workers=self.workers, body="""
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    {upstream}
    server {{
        listen 127.0.0.1:{port} quic reuseport;
        listen 127.0.0.1:{port} ssl;
        http3 on;
        http2 on;
        root {www};
        {location}
    }}""".format(cert=b.cert, key=b.keyfile, port=port, www=b.www, location=location, upstream=upstream))
        path = os.path.join(self.dir, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        self.spawn([b.args.nginx, "-p", self.dir, "-c", path])

    def measured_pid(self):
        return self.workers_of(self.workers)


NGINX_CONF = """worker_processes {workers};
daemon off;
error_log {dir}/error.log warn;
pid {dir}/nginx.pid;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    default_type application/octet-stream;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    client_body_temp_path {dir}/tmp;
    proxy_temp_path {dir}/tmp;
{body}
}}
"""


class Haproxy(Server):
    """HAProxy with its OpenSSL compatibility layer (limited-quic), or, shim:
    built in its quictls mode on libqtlscompat (scripts/build-interop.sh)."""
    key = "haproxy"

    def __init__(self, bench, port, mode, shim=False):
        super().__init__(bench, port)
        self.name = "HAProxy " + bench.versions["haproxy"] + (" on libqtlscompat" if shim else "")
        if shim:
            self.key = "haproxy-shim"
        threads = bench.nworkers or 1
        if bench.nworkers:
            self.name += " × %d threads" % threads
        b = bench
        if mode == "proxy":
            action = "default_backend origin"
            backend = ("backend origin\n    http-reuse always\n"
                       "    server o 127.0.0.1:%d\n" % b.origin_port)
        else:
            # HAProxy serves no files: it answers from memory with the file's bytes.
            action = ("http-request return status 200 content-type application/octet-stream file %s"
                      % os.path.join(b.www, "1k.bin"))
            backend = ""
        conf = """global
{compat}    nbthread {threads}
    maxconn 4000
defaults
    mode http
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    timeout http-keep-alive 120s
frontend fe
    bind quic4@127.0.0.1:{port} ssl crt {pem} alpn h3
    bind 127.0.0.1:{port} ssl crt {pem} alpn h2,http/1.1
    {action}
{backend}""".format(port=port, pem=b.pem, action=action, backend=backend, threads=threads,
                   compat="" if shim else "    limited-quic\n")
        path = os.path.join(self.dir, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(conf)
        self.spawn([b.args.haproxy_shim if shim else b.args.haproxy, "-db", "-f", path])


class Origin:
    """The HTTP/1.1 origin of the proxy scenario: the same nginx, plain TCP."""

    def __init__(self, bench, port):
        self.dir = tempfile.mkdtemp(prefix="origin-", dir=bench.work)
        conf = NGINX_CONF.format(dir=self.dir, workers=1, body="""
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {www};
    }}""".format(port=port, www=bench.www))
        path = os.path.join(self.dir, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        with open(os.path.join(self.dir, "stderr.log"), "wb") as log:
            self.proc = subprocess.Popen(["taskset", "-c", str(bench.server_cpu), bench.args.nginx,
                                          "-p", self.dir, "-c", path], stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        die("the origin nginx did not start")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)


# --- the bench ----------------------------------------------------------------

H2LOAD_FINISHED = re.compile(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s")
H2LOAD_REQS = re.compile(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                         r"(\d+) failed, (\d+) errored, (\d+) timeout")
H2LOAD_STATUS = re.compile(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx")
H2LOAD_CONNECT = re.compile(r"^connect\s*:\s*(\S+)\s+(\S+)", re.M)
H2LOAD_TRAFFIC = re.compile(r"traffic: \S+ \((\d+)\) total, \S+ \((\d+)\) headers.*?, \S+ \((\d+)\) data")


class Bench:
    def __init__(self, args):
        self.args = args
        self.alpn = "h3"
        self.server_cpu, self.client_cpu = args.server_cpu, args.client_cpu
        self.work = tempfile.mkdtemp(prefix="h3gate-bench-")
        os.chmod(self.work, 0o755)  # nginx workers may run unprivileged
        self.www = os.path.join(self.work, "www")
        os.mkdir(self.www)
        os.chmod(self.www, 0o755)
        with open(os.path.join(self.www, "1k.bin"), "wb") as f:
            f.write(os.urandom(1024))
        self.bulk_size = args.bulk_mb * 1000 * 1000
        with open(os.path.join(self.www, "bulk.bin"), "wb") as f:
            chunk = os.urandom(1 << 20)
            left = self.bulk_size
            while left:
                f.write(chunk[:min(left, len(chunk))])
                left -= min(left, len(chunk))
        for n in os.listdir(self.www):
            os.chmod(os.path.join(self.www, n), 0o644)
        self.cert = os.path.join(self.work, "cert.pem")
        self.keyfile = os.path.join(self.work, "key.pem")
        self.pem = os.path.join(self.work, "cert+key.pem")
        subprocess.run([args.openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-keyout", self.keyfile, "-out", self.cert, "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, capture_output=True)
        os.chmod(self.cert, 0o644)  # the key stays private: the servers read it as root
        with open(self.pem, "w") as out:
            for p in (self.cert, self.keyfile):
                with open(p) as f:
                    out.write(f.read())
        self.origin_port = None
        self.nworkers = None  # the workers scenario: every server with this many
        self.versions = {
            "h3gate": ", ".join(run_text([args.h3gate, "--version"]).splitlines()[:3]),  # not the CVE table
            "nginx": first_line([args.nginx, "-v"]).split("/")[-1],
            "haproxy": first_line([args.haproxy, "-v"]).split()[2].split("-")[0],
            "h2load": first_line([args.h2load, "--version"]),
        }
        self.lines = []
        self.failures = 0

    def cleanup(self):
        shutil.rmtree(self.work, ignore_errors=True)

    def out(self, line=""):
        print(line, flush=True)
        self.lines.append(line)

    def h2load(self, opts, url, check=True, timeout=600):
        # self.alpn: h3 (QUIC), or h2 over TLS/TCP for the h2 scenarios
        # the workers scenario: h2load's threads on every CPU too
        clients = int(opts[opts.index("-c") + 1]) if "-c" in opts else 1
        pin = ["-t", str(min(self.nworkers, clients))] if self.nworkers else []
        argv = ([] if self.nworkers else ["taskset", "-c", str(self.client_cpu)]) + [
            self.args.h2load, "--alpn-list=" + self.alpn] + pin + opts + [url]
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            if check:
                die("h2load timed out: %s" % " ".join(argv))
            return None
        m, r, t = H2LOAD_FINISHED.search(p.stdout), H2LOAD_REQS.search(p.stdout), H2LOAD_TRAFFIC.search(p.stdout)
        st = H2LOAD_STATUS.search(p.stdout)
        if not (m and r and t and st):
            if check:
                die("h2load failed (%d): %s\n%s%s" % (p.returncode, " ".join(argv), p.stdout[-2000:], p.stderr[-2000:]))
            return None
        secs = float(m.group(1)) / (1000.0 if m.group(2) == "ms" else 1.0)
        total, started, done, ok, failed, errored, tmo = map(int, r.groups())
        # h2load counts any complete response as succeeded; only a 2xx is a served request here.
        ok = min(ok, int(st.group(1)))
        cm = H2LOAD_CONNECT.search(p.stdout)
        return {"secs": secs, "done": done, "succeeded": ok, "failed": done - ok,
                "connect_max_ms": duration_ms(cm.group(2)) if cm else None,
                "bytes": int(t.group(1)), "data": int(t.group(3))}

    # One measured run against one server: h2load `repeat` times back to back.
    def measure(self, srv, opts, path, repeat=1):
        pid = srv.pid
        reset_peak_rss(pid)
        c0 = cpu_ns(pid)
        r = None
        for _ in range(repeat):
            x = self.h2load(opts, srv.url(path))
            if r is None:
                r = x
                continue
            for k in ("secs", "done", "succeeded", "failed", "bytes", "data"):
                r[k] += x[k]
            if x["connect_max_ms"] is not None:
                r["connect_max_ms"] = max(r["connect_max_ms"] or 0, x["connect_max_ms"])
        r["cpu_s"] = (cpu_ns(pid) - c0) / 1e9
        r["hwm_kib"] = status_kib(pid, "VmHWM")
        if r["failed"]:
            note("%s: %d of %d requests failed (%s)" % (srv.name, r["failed"], r["done"], " ".join(opts)))
        return r

    def start(self, kinds, mode):
        servers = []
        for k in kinds:
            port = free_port()
            if k.startswith("h3gate"):
                # h3gate-ENGINE[-retry][-wN]
                parts = k.split("-")
                w = [int(p[1:]) for p in parts if p.startswith("w") and p[1:].isdigit()]
                s = H3gate(self, port, mode, retry="retry" in parts, engine=parts[1],
                           workers=w[0] if w else None)
            elif k == "nginx":
                s = Nginx(self, port, mode)
            else:
                s = Haproxy(self, port, mode, shim=k == "haproxy-shim")
            servers.append(s)
        try:
            for s in servers:
                s.wait_ready()
                s.pid = s.measured_pid()
        except SystemExit:
            for s in servers:
                s.stop()
            raise
        return servers

    # Runs `fn(server) -> metrics` for every server, rounds times, servers in a
    # rotating order so that none always runs first or last.
    def rounds(self, servers, fn):
        results = {s.name: [] for s in servers}
        for r in range(self.args.rounds):
            order = servers[r % len(servers):] + servers[:r % len(servers)]
            for s in order:
                results[s.name].append(fn(s))
        return results

    def table(self, title, servers, results, columns, ratio_keys):
        """columns: [(header, key, fmt)]; ratio_keys: [(header, key)] per-round ratios to h3gate."""
        self.out("### " + title)
        self.out()
        # Ratios are to the first h3gate row (the ngtcp2 engine).
        base_name = next((s.name for s in servers if s.name.startswith("h3gate")), None)
        hdr = ["server"] + [c[0] for c in columns] + ["%s ÷ this: %s" % (base_name, r[0]) for r in ratio_keys]
        self.out("| " + " | ".join(hdr) + " |")
        self.out("|" + "---|" * len(hdr))
        base = results.get(base_name)
        for s in servers:
            rows = results[s.name]
            cells = [s.name]
            for _, key, fmt in columns:
                vals = [row[key] for row in rows if row.get(key) is not None]
                cells.append(spread(vals, fmt))
            for _, key in ratio_keys:
                if base is None or s.name == base_name:
                    cells.append("—")
                    continue
                rs = [a[key] / b[key] for a, b in zip(base, rows) if b.get(key)]
                cells.append(spread(rs, "{:.2f}") if rs else "—")
            self.out("| " + " | ".join(cells) + " |")
        shim = next((s for s in servers if s.key == "haproxy-shim"), None)
        compat = next((s for s in servers if s.key == "haproxy"), None)
        if shim and compat:  # the shim's cost, round by round
            parts = []
            for header, key in ratio_keys:
                rs = [a[key] / b[key] for a, b in zip(results[shim.name], results[compat.name])
                      if b.get(key)]
                if rs:
                    parts.append("%s %s" % (header, spread(rs, "{:.3f}")))
            self.out("HAProxy on libqtlscompat ÷ HAProxy on its compat layer (limited-quic): "
                     + "; ".join(parts) + ".")
            self.out()
        fails = [(s.name, sum(r.get("failed", 0) for r in results[s.name])) for s in servers]
        for name, n in fails:
            if n:
                self.out("\n%s: %d failed requests in this scenario." % (name, n))
                if name.startswith("h3gate"):
                    self.failures += 1  # a peer's own trouble (HAProxy's stalls) is only reported
        self.out()

    # --- scenarios ---------------------------------------------------------

    def h2small(self):
        self.out("HTTP/2 over TLS/TCP on the same servers (h3gate's engine does not matter "
                 "for TCP: one h3gate row).")
        self.out()
        self.alpn = "h2"
        try:
            self.small(H3GATES[:1], "h2 small")
        finally:
            self.alpn = "h3"

    def workers(self):
        """Every server on every CPU with as many workers as CPUs (nginx
        worker_processes, HAProxy nbthread), h2load's threads beside them,
        and h3gate with one worker for what the second gains and costs."""
        n = os.cpu_count()
        self.out("Servers unpinned with %d workers (nginx worker_processes %d, HAProxy nbthread "
                 "%d), h2load with %d threads on the same %d CPUs: the client competes with "
                 "the servers for them." % (n, n, n, n, n))
        self.out()
        self.nworkers = n
        try:
            self.small(["h3gate-ngtcp2-w%d" % n, "h3gate-ngtcp2-w1"], "workers small")
        finally:
            self.nworkers = None

    def h2bulk(self):
        self.alpn = "h2"
        try:
            self.bulk(H3GATES[:1], "h2 bulk")
        finally:
            self.alpn = "h3"

    def shim_peer(self):
        """HAProxy on libqtlscompat, where it was built: beside HAProxy's own
        compat layer, the shim's cost."""
        return ["haproxy-shim"] if self.args.haproxy_shim else []

    def small(self, h3gates=H3GATES, title="small"):
        servers = self.start(h3gates + ["nginx", "haproxy"] + (self.shim_peer() if title == "small" else []),
                             "static")
        try:
            for streams in self.args.small_streams:
                opts = ["-c", str(self.args.small_conns), "-m", str(streams), "-D", "%dms" % (self.args.duration * 1000)]

                def run(s):
                    r = self.measure(s, opts, "/1k.bin")
                    return {"rps": r["succeeded"] / r["secs"], "cpu_us": r["cpu_s"] * 1e6 / max(r["succeeded"], 1),
                            "rss": r["hwm_kib"] / 1024.0, "failed": r["failed"]}
                res = self.rounds(servers, run)
                self.table("%s: 1 KiB, %d connections × %d streams, %s s per run"
                           % (title, self.args.small_conns, streams, self.args.duration), servers, res,
                           [("requests/s", "rps", "{:,.0f}"), ("server CPU µs/request", "cpu_us", "{:.1f}"),
                            ("peak RSS MiB", "rss", "{:.1f}")],
                           [("requests/s", "rps"), ("CPU/request", "cpu_us")])
        finally:
            for s in servers:
                s.stop()

    def bulk(self, h3gates=H3GATES, title="bulk"):
        self.out("HAProxy has no %s row: it serves no files, and its `http-request return` "
                 "answers only bodies that fit in one buffer (16 KiB)." % title)
        self.out()
        servers = self.start(h3gates + ["nginx"], "static")
        try:
            for conns in self.args.bulk_conns:
                n = conns * self.args.bulk_per_conn
                opts = ["-c", str(conns), "-m", "1", "-n", str(n)]

                def run(s):
                    r = self.measure(s, opts, "/bulk.bin")
                    return {"mbps": r["data"] / r["secs"] / 1e6, "cpu_gb": r["cpu_s"] / (r["data"] / 1e9),
                            "rss": r["hwm_kib"] / 1024.0, "failed": r["failed"]}
                res = self.rounds(servers, run)
                self.table("%s: %d MB file, %d connection%s, %d downloads per run"
                           % (title, self.args.bulk_mb, conns, "s" if conns > 1 else "", n), servers, res,
                           [("MB/s", "mbps", "{:,.0f}"), ("server CPU s/GB", "cpu_gb", "{:.2f}"),
                            ("peak RSS MiB", "rss", "{:.1f}")],
                           [("MB/s", "mbps"), ("CPU/GB", "cpu_gb")])
        finally:
            for s in servers:
                s.stop()

    def handshake(self):
        servers = self.start(H3GATES + ["nginx", "haproxy"] + self.shim_peer()
                             + [k + "-retry" for k in H3GATES], "static")
        batch = min(self.args.handshake_batch, self.args.handshakes)
        repeat = max(1, self.args.handshakes // batch)
        n = batch * repeat
        # `batch` clients with one request each, so every request is a new
        # connection; batches back to back.  Bursts far larger than this overflow a
        # default UDP receive buffer with Initials and measure loss recovery instead.
        opts = ["-c", str(batch), "-n", str(batch), "-m", "1"]
        try:
            def run(s):
                r = self.measure(s, opts, "/1k.bin", repeat=repeat)
                return {"cps": r["succeeded"] / r["secs"], "cpu_us": r["cpu_s"] * 1e6 / max(r["succeeded"], 1),
                        "slowest": r["connect_max_ms"], "rss": r["hwm_kib"] / 1024.0, "failed": r["failed"]}
            res = self.rounds(servers, run)
            self.table("handshake: %d new connections per run (%d at a time), one 1 KiB request each "
                       "(ECDSA P-256 certificate, OpenSSL's default key exchange)" % (n, batch), servers, res,
                       [("connections/s", "cps", "{:,.0f}"), ("server CPU µs/connection", "cpu_us", "{:.0f}"),
                        ("slowest handshake ms", "slowest", "{:,.0f}"), ("peak RSS MiB", "rss", "{:.1f}")],
                       [("connections/s", "cps"), ("CPU/connection", "cpu_us")])
        finally:
            for s in servers:
                s.stop()

    def idle(self):
        n = self.args.idle_conns
        kinds = H3GATES + ["nginx", "haproxy"]
        servers, res = {}, {}
        def run(s):
            before = status_kib(s.pid, "VmRSS")
            holder = subprocess.Popen(["taskset", "-c", str(self.client_cpu), sys.executable,
                                       os.path.join(HERE, "idle_conns.py"), s.url("/1k.bin"), str(n)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            line = holder.stdout.readline()
            if not line.startswith("open "):
                holder.kill()
                die("idle client failed against %s: %s%s" % (s.name, line, holder.stderr.read()))
            opened = int(line.split()[1])
            time.sleep(1.0)
            after = status_kib(s.pid, "VmRSS")
            # What servers do meanwhile is timer work: curl does not read the
            # connections in its cache, so their last packets are retransmitted.
            cpu_idle0 = cpu_ns(s.pid)
            time.sleep(self.args.idle_window)
            idle_cpu = (cpu_ns(s.pid) - cpu_idle0) / 1e9 / self.args.idle_window
            holder.stdin = None
            holder.send_signal(signal.SIGTERM)
            holder.wait(30)
            time.sleep(0.5)
            return {"opened": opened, "before": before / 1024.0, "after": after / 1024.0,
                    "per_conn": (after - before) / max(opened, 1), "idle_cpu": idle_cpu * 100,
                    "failed": n - opened}
        # A fresh server per measurement: idle connections outlive the client.
        for r in range(self.args.rounds):
            for k in kinds[r % len(kinds):] + kinds[:r % len(kinds)]:
                s = self.start([k], "static")[0]
                try:
                    res.setdefault(s.name, []).append(run(s))
                finally:
                    s.stop()
                servers.setdefault(k, s)
        servers = [servers[k] for k in kinds]
        self.table("idle: RSS with %d idle HTTP/3 connections (one request each, then quiet)" % n,
                   servers, res,
                   [("connections held", "opened", "{:.0f}"), ("RSS before MiB", "before", "{:.1f}"),
                    ("RSS with them MiB", "after", "{:.1f}"), ("KiB per connection", "per_conn", "{:.1f}"),
                    ("CPU % while idle", "idle_cpu", "{:.1f}")],
                   [("KiB/connection", "per_conn")])

    def proxy(self):
        self.origin_port = free_port()
        origin = Origin(self, self.origin_port)
        try:
            servers = self.start(H3GATES + ["nginx", "haproxy"], "proxy")
            try:
                opts = ["-c", str(self.args.small_conns), "-m", str(self.args.proxy_streams),
                        "-D", "%dms" % (self.args.duration * 1000)]

                def run(s):
                    oc0 = cpu_ns(origin_worker(origin))
                    r = self.measure(s, opts, "/1k.bin")
                    ocpu = (cpu_ns(origin_worker(origin)) - oc0) / 1e9
                    return {"rps": r["succeeded"] / r["secs"], "cpu_us": r["cpu_s"] * 1e6 / max(r["succeeded"], 1),
                            "ocpu_us": ocpu * 1e6 / max(r["succeeded"], 1),
                            "rss": r["hwm_kib"] / 1024.0, "failed": r["failed"]}
                res = self.rounds(servers, run)
                self.table("proxy: 1 KiB from an nginx HTTP/1.1 origin (same core as the proxy), "
                           "%d connections × %d streams, %s s per run"
                           % (self.args.small_conns, self.args.proxy_streams, self.args.duration),
                           servers, res,
                           [("requests/s", "rps", "{:,.0f}"), ("proxy CPU µs/request", "cpu_us", "{:.1f}"),
                            ("origin CPU µs/request", "ocpu_us", "{:.1f}"), ("peak RSS MiB", "rss", "{:.1f}")],
                           [("requests/s", "rps"), ("CPU/request", "cpu_us")])
            finally:
                for s in servers:
                    s.stop()
        finally:
            origin.stop()


def origin_worker(origin):
    kids = subprocess.run(["pgrep", "-P", str(origin.proc.pid)], capture_output=True, text=True).stdout.split()
    return int(kids[0]) if kids else origin.proc.pid


def duration_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)$", text)
    if not m:
        return None
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]


def spread(vals, fmt):
    if not vals:
        return "—"
    med = statistics.median(vals)
    if len(vals) == 1:
        return fmt.format(med)
    return "%s (%s–%s)" % (fmt.format(med), fmt.format(min(vals)), fmt.format(max(vals)))


def run_text(argv):
    p = subprocess.run(argv, capture_output=True, text=True)
    return (p.stdout + p.stderr).strip()


def first_line(argv):
    return run_text(argv).splitlines()[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=", ".join(SCENARIOS) + " (default: all)")
    for b in ("h3gate", "h2load", "nginx", "haproxy"):
        ap.add_argument("--" + b, required=True)
    ap.add_argument("--haproxy-shim", help="HAProxy built on libqtlscompat: a row beside HAProxy in "
                    "the small and handshake scenarios")
    ap.add_argument("--openssl", default="openssl", help="openssl command, to make the test certificate")
    ap.add_argument("--peers-note", default="", help="how the peers were built, for the header")
    ap.add_argument("--net-note", default="", help="the network the run uses, for the header")
    ap.add_argument("--out", help="also write the Markdown here")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=3, help="seconds per timed run")
    ap.add_argument("--server-cpu", type=int, default=0)
    ap.add_argument("--client-cpu", type=int, default=1)
    ap.add_argument("--small-conns", type=int, default=10)
    ap.add_argument("--small-streams", type=lambda s: [int(x) for x in s.split(",")], default=[1, 10, 32])
    ap.add_argument("--proxy-streams", type=int, default=10)
    ap.add_argument("--bulk-mb", type=int, default=100)
    ap.add_argument("--bulk-conns", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2])
    ap.add_argument("--bulk-per-conn", type=int, default=3, help="downloads per connection and run")
    ap.add_argument("--handshakes", type=int, default=500, help="new connections per run")
    ap.add_argument("--handshake-batch", type=int, default=50, help="of which this many at once")
    ap.add_argument("--idle-conns", type=int, default=1000)
    ap.add_argument("--idle-window", type=float, default=3, help="seconds of idle CPU measured")
    ap.add_argument("--smoke", action="store_true",
                    help="one short round of everything: checks that each scenario runs, measures nothing")
    args = ap.parse_args()
    for sc in args.scenarios:
        if sc not in SCENARIOS:
            ap.error("unknown scenario %r (choose from %s)" % (sc, ", ".join(SCENARIOS)))
    if args.smoke:
        args.rounds, args.duration, args.bulk_mb, args.bulk_per_conn = 1, 0.5, 5, 1
        args.handshakes, args.idle_conns, args.small_streams, args.bulk_conns = 20, 20, [1, 10], [1]
        args.idle_window = 0.5
    if os.cpu_count() < 2:
        die("needs two CPUs: one for the servers, one for the load client")
    # Each idle connection is a client socket; h2load opens one per connection.
    # HAProxy (maxconn 4000, a socket per QUIC connection) needs about 8,000.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(max(args.idle_conns, args.handshakes) * 2 + 1024, 10000)
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))  # root may raise both
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

    b = Bench(args)
    try:
        started = time.time()
        b.out("## h3gate benchmark, %s" % datetime.datetime.now().strftime("%Y-%m-%d %H:%M"))
        b.out()
        b.out("- machine: %d cores (%s), %s, Linux %s" % (
            os.cpu_count(), cpu_model(), "%.0f GiB RAM" % (os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
            platform.release()))
        b.out("- servers pinned to CPU %d, the load client to CPU %d; %d round%s, servers in rotating order"
              % (args.server_cpu, args.client_cpu, args.rounds, "s" if args.rounds > 1 else ""))
        if args.net_note:
            b.out("- network: " + args.net_note)
        b.out("- %s; nginx %s; HAProxy %s (limited-quic); load client %s with HTTP/3"
              % (b.versions["h3gate"], b.versions["nginx"], b.versions["haproxy"], b.versions["h2load"]))
        if args.peers_note:
            b.out("- peers: " + args.peers_note)
        b.out("- cells: median (min–max) over the rounds; ratios are h3gate ÷ the peer in the same round "
              "(above 1 means h3gate is higher: better for rates, worse for CPU and memory)")
        if args.smoke:
            b.out("- SMOKE RUN: one short round per scenario; the figures mean nothing")
        b.out()
        for sc in args.scenarios or SCENARIOS:
            note("scenario %s" % sc)
            getattr(b, sc)()
        b.out("_whole run: %.0f s_" % (time.time() - started))
    finally:
        b.cleanup()
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write("\n".join(b.lines) + "\n")
        note("wrote %s" % args.out)
    if args.smoke and b.failures:
        die("smoke run: %d scenario table(s) where h3gate failed requests" % b.failures)


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


if __name__ == "__main__":
    main()
