"""A UDP relay between a QUIC client and h3gate, for what this kernel's missing
netem would do: loss, delay, reordering, a NAT rebinding (the relay's upstream
source port changes mid-transfer) and a black hole.  It also records the ECN
bits of the server's datagrams.  Loopback only; stops with close()."""
import heapq
import random
import select
import socket
import threading
import time

IP_RECVTOS = getattr(socket, "IP_RECVTOS", 13)
IP_TOS = getattr(socket, "IP_TOS", 1)


class Relay:
    def __init__(self, server_port, loss=0.0, delay_ms=0.0, jitter_ms=0.0, rebind_after=None,
                 blackhole_after=None, seed=1):
        self.server = ("127.0.0.1", server_port)
        self.loss, self.delay, self.jitter = loss, delay_ms / 1000.0, jitter_ms / 1000.0
        self.rebind_after, self.blackhole_after = rebind_after, blackhole_after
        self.rng = random.Random(seed)
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.port = self.front.getsockname()[1]
        self.back = self._upstream()
        self.client = None
        self.down_bytes = 0          # server -> client, forwarded
        self.dropped = 0
        self.rebound = False
        self.ecn = {}                # ECN codepoint -> datagrams from the server
        self.source_ports = [self.back.getsockname()[1]]
        self._queue = []             # (due, seq, sock, data, addr)
        self._seq = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _upstream(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IP, IP_RECVTOS, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind(("127.0.0.1", 0))
        return s

    def _schedule(self, sock, data, addr):
        if self.loss and self.rng.random() < self.loss:
            self.dropped += 1
            return
        due = time.monotonic() + self.delay + (self.rng.random() * self.jitter if self.jitter else 0)
        self._seq += 1
        heapq.heappush(self._queue, (due, self._seq, sock, data, addr))

    def _from_server(self, sock):
        data, anc, _, _ = sock.recvmsg(65536, socket.CMSG_SPACE(4))
        for level, kind, val in anc:
            if level == socket.IPPROTO_IP and kind == IP_TOS and val:
                self.ecn[val[0] & 3] = self.ecn.get(val[0] & 3, 0) + 1
        if sock is not self.back or self.client is None:
            return  # the old NAT mapping is gone
        if self.blackhole_after is not None and self.down_bytes >= self.blackhole_after:
            self.dropped += 1
            return
        self.down_bytes += len(data)
        self._schedule(self.front, data, self.client)
        if self.rebind_after is not None and not self.rebound and self.down_bytes >= self.rebind_after:
            # NAT rebinding: from now on the client's packets leave from a new port.
            self.rebound = True
            old = self.back
            self.back = self._upstream()
            self.source_ports.append(self.back.getsockname()[1])
            old.close()

    def _run(self):
        while not self._stop:
            timeout = 0.05
            if self._queue:
                timeout = max(0.0, min(timeout, self._queue[0][0] - time.monotonic()))
            socks = [self.front, self.back]
            try:
                ready, _, _ = select.select(socks, [], [], timeout)
            except (OSError, ValueError):
                ready = []
            for s in ready:
                try:
                    if s is self.front:
                        data, addr = s.recvfrom(65536)
                        self.client = addr
                        if self.blackhole_after is not None and self.down_bytes >= self.blackhole_after:
                            continue
                        self._schedule(self.back, data, self.server)
                    else:
                        self._from_server(s)
                except OSError:
                    pass
            now = time.monotonic()
            while self._queue and self._queue[0][0] <= now:
                _, _, sock, data, addr = heapq.heappop(self._queue)
                if sock is not self.front and sock is not self.back:
                    sock = self.back  # queued before a rebinding: leaves from the new port
                try:
                    sock.sendto(data, addr)
                except OSError:
                    pass

    def close(self):
        self._stop = True
        self._thread.join(5)
        self.front.close()
        self.back.close()
