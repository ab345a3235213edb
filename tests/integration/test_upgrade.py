"""Binary upgrade (SIGUSR2 to the master, as with nginx): the master starts the
binary file it was started from, which an install has replaced; the new
master's workers join the ports beside the old ones; once they serve, the old
master drains its workers and exits.  A download running across the upgrade
finishes on its connection (QUIC: its datagrams keep reaching the old worker,
src/server/steer.c), new connections reach the new binary, and an upgrade to a
binary that fails leaves the old one serving."""
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import ENGINES, free_udp_port
from h3client import Client
from test_admin import admin_get, parse, value
from test_reload import BIG, Conn, Reloadable, site_conf, two_roots

SANITIZERS = ("AddressSanitizer", "runtime error:", "LeakSanitizer")


def install(src, dst):
    """As install(1) and dpkg do: a new file renamed over the old one, so the
    running binary's file is deleted, not overwritten."""
    tmp = dst + ".new"
    shutil.copy2(src, tmp)
    os.replace(tmp, dst)


def read_pid(path):
    with open(path) as f:
        return int(f.read())


def gone(pid):
    try:
        os.kill(pid, 0)
        return False
    except ProcessLookupError:
        return True


def wait_text(s, needle, count=1, timeout=30):
    """Like Reloadable.wait_log, for when the process it started has gone."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if s.log().count(needle) >= count:
            return
        time.sleep(0.05)
    raise AssertionError("no %r in the log:\n%s" % (needle, s.log()))


def tcp_connections(admin):
    m = parse(admin_get(admin, "/metrics")[2].decode())
    return value(m, "h3gate_connections", transport="tcp") or 0


class Upgradable:
    def __init__(self, h3gate_bin, engine, tmp_path, certs):
        self.h3gate_bin = h3gate_bin
        self.bin = str(tmp_path / "h3gate")
        install(h3gate_bin, self.bin)
        self.root, _, self.big_sha = two_roots(tmp_path)
        self.admin = free_udp_port()
        self.pid_file = str(tmp_path / "h3gate.pid")
        extra = "admin 127.0.0.1:%d;\npid_file %s;\ndrain_timeout 120s;\n" % (self.admin,
                                                                             self.pid_file)
        self.s = Reloadable(self.bin, engine, tmp_path, site_conf(certs, self.root, extra),
                            ["--workers", "2"])
        self.s.wait_log(" serving ")
        self.master = self.s.proc.pid
        self.masters = 1  # how many have run
        assert read_pid(self.pid_file) == self.master

    def upgrade(self, new_bin=None):
        install(new_bin or self.h3gate_bin, self.bin)
        self.s.proc.send_signal(signal.SIGUSR2)

    def new_master(self):
        """After the old master is gone: the new one's pid, from the pid file."""
        self.s.wait_log("binary upgrade: the new h3gate (pid ")
        assert self.s.proc.wait(150) == 0, self.s.log()
        pid = read_pid(self.pid_file)
        assert pid != self.master and not gone(pid)
        # it runs the installed file (the old master ran the one now deleted)
        assert os.readlink("/proc/%d/exe" % pid) == self.bin
        self.master = pid
        self.masters += 1
        return pid

    def stop(self):
        # a new master a failed test left behind is not our child: stop it too
        try:
            stray = read_pid(self.pid_file)
        except (OSError, ValueError):
            stray = None
        if stray not in (None, self.master, self.s.proc.pid) and not gone(stray):
            os.kill(stray, signal.SIGKILL)
        if self.s.proc.poll() is None:
            self.s.stop_clean()
            return
        pid = self.master
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 30
        while not gone(pid) and time.time() < deadline:
            time.sleep(0.05)
        assert gone(pid), "the new master did not stop"
        self.s.stderr.close()
        log = self.s.log()
        assert log.count("all workers have exited") == self.masters, log
        for bad in SANITIZERS:
            assert bad not in log, log


@pytest.fixture
def upgradable(h3gate_bin, engine, tmp_path, certs):
    servers = []

    def start():
        u = Upgradable(h3gate_bin, engine, tmp_path, certs)
        servers.append(u)
        return u

    yield start
    for u in servers:
        u.stop()


@pytest.mark.parametrize("proto", ["h3", "h2", "h1"])
def test_upgrade_during_download(upgradable, certs, engine, proto):
    if proto != "h3" and engine != ENGINES[-1]:
        pytest.skip("HTTP over TCP does not depend on the QUIC engine")
    if proto == "h3" and engine == "openssl":
        pytest.skip("OpenSSL's connection IDs name no worker: its QUIC datagrams cannot be "
                    "steered, and the new sockets in the group take some of them "
                    "(docs/operations.md)")
    u = upgradable()
    s = u.s
    conn = Conn(certs["ca"], proto)
    assert conn.get(s.url("/which.txt"))[0].body == b"A\n"
    c, st = conn.start(s.url("/big.bin"), sink=lambda data: None)
    state = {"upgraded": False}

    def during(st):
        if not state["upgraded"] and st["n"] > 8 * 1024 * 1024:
            u.upgrade()
            state["upgraded"] = True

    r, new_conns = conn.finish(c, st, during)
    assert state["upgraded"], "the download ended before the upgrade"
    assert (r.status, r.size, r.sha256, new_conns) == (200, BIG, u.big_sha, 0)
    old = u.master
    new = u.new_master()
    log = s.log()
    assert "SIGUSR2: binary upgrade: started the new h3gate (pid %d)" % new in log
    assert "binary upgrade: serving; the old master (pid %d)" % old in log
    assert "binary upgrade failed" not in log
    # the old connection was told to go (GOAWAY); the next request takes a
    # new one, which only the new binary can answer now
    assert conn.get(s.url("/which.txt"))[0].body == b"A\n"
    conn.close()
    for _ in range(6):
        assert Client(certs["ca"], proto).get(s.url("/which.txt")).body == b"A\n"
    assert admin_get(u.admin, "/healthz")[0] == 200


def test_a_failed_upgrade_keeps_the_old_binary_serving(upgradable, certs, engine, tmp_path):
    if engine != ENGINES[-1]:
        pytest.skip("does not depend on the QUIC engine")
    u = upgradable()
    s = u.s
    broken = tmp_path / "broken"
    broken.write_text("#!/bin/sh\necho 'h3gate: broken build' >&2\nexit 3\n")
    broken.chmod(0o755)
    u.upgrade(str(broken))
    s.wait_log("binary upgrade failed: the new h3gate (pid ")
    assert "exited with status 3 before it was ready" in s.log(), s.log()
    assert "h3gate: broken build" in s.log()
    assert s.proc.poll() is None
    for proto in ("h3", "h2"):
        assert Client(certs["ca"], proto).get(s.url("/which.txt")).body == b"A\n"
    assert read_pid(u.pid_file) == u.master
    # and the next upgrade, to a binary that works, goes through
    u.upgrade()
    u.new_master()
    assert Client(certs["ca"], "h3").get(s.url("/which.txt")).body == b"A\n"


def test_no_second_upgrade_while_the_first_old_master_drains(upgradable, certs, engine):
    """The generation bit has two values: while the master an upgrade replaced
    still drains (here: a slow download keeps it), the next SIGUSR2 is refused
    with the reason; once it has exited, the next one goes through."""
    if engine != ENGINES[-1]:
        pytest.skip("does not depend on the QUIC engine")
    u = upgradable()
    s = u.s
    slow = subprocess.Popen(["curl", "-s", "--http1.1", "--cacert", certs["ca"],
                             "--limit-rate", "1M", "-o", os.devnull, s.url("/big.bin")])
    try:
        deadline = time.time() + 20  # until the download is under way
        while time.time() < deadline and not tcp_connections(u.admin):
            time.sleep(0.1)
        assert tcp_connections(u.admin) >= 1
        first = u.master
        install(u.h3gate_bin, u.bin)
        s.proc.send_signal(signal.SIGUSR2)
        s.wait_log("binary upgrade: the new h3gate (pid ")
        second = read_pid(u.pid_file)
        assert second != first and s.proc.poll() is None  # the old one drains
        os.kill(second, signal.SIGUSR2)
        s.wait_log("SIGUSR2: the master this one replaced (pid %d) still drains" % first)
    finally:
        slow.kill()
        slow.wait()
    u.new_master()  # the old one exits once its download is gone
    os.kill(u.master, signal.SIGUSR2)
    wait_text(s, "binary upgrade: the new h3gate (pid ", count=2)
    deadline = time.time() + 30
    while not gone(second) and time.time() < deadline:
        time.sleep(0.05)
    assert gone(second)
    third = read_pid(u.pid_file)
    assert third not in (first, second) and not gone(third)
    u.master = third
    u.masters += 1
    assert Client(certs["ca"], "h3").get(s.url("/which.txt")).body == b"A\n"


@pytest.mark.parametrize("value", ["garbage", "1 2 3", "12 0 999 zz:1:2:3", "12 0 999 "])
def test_a_malformed_handover_is_refused(h3gate_bin, tmp_path, value, engine):
    """H3GATE_UPGRADE that no old master wrote (wrong fields, descriptors that
    are not open): a clear error and exit 1, before anything listens."""
    if engine != ENGINES[-1]:
        pytest.skip("does not depend on the QUIC engine")
    env = dict(os.environ, H3GATE_UPGRADE=value)
    p = subprocess.run([h3gate_bin, "--root", str(tmp_path), "--workers", "2",
                        "--listen", "127.0.0.1:%d" % free_udp_port()],
                       env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 1, p.stderr
    assert "H3GATE_UPGRADE" in p.stderr, p.stderr
