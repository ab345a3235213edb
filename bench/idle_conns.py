#!/usr/bin/python3
"""Opens N HTTP/3 connections, one GET on each, then holds them idle until SIGTERM.

    idle_conns.py URL N

The client is libcurl's HTTP/3 stack (Debian's pycurl): multiplexing is off, so
every transfer needs a connection of its own, and the connection cache keeps them
all open afterwards.  Prints "open K" (K = connections whose request got a 200)
once all are done, then waits.
"""
import signal
import sys

import pycurl

HTTP_VERSION_3ONLY = 31  # CURL_HTTP_VERSION_3ONLY; Debian's pycurl lacks the name


def main():
    url, n = sys.argv[1], int(sys.argv[2])
    m = pycurl.CurlMulti()
    m.setopt(pycurl.M_PIPELINING, 0)            # no multiplexing: a connection per transfer
    m.setopt(pycurl.M_MAXCONNECTS, n + 16)      # ... and the cache keeps every one
    m.setopt(pycurl.M_MAX_TOTAL_CONNECTIONS, 0)
    handles, ok = [], 0
    for _ in range(n):
        c = pycurl.Curl()
        c.setopt(pycurl.URL, url)
        c.setopt(pycurl.HTTP_VERSION, HTTP_VERSION_3ONLY)
        c.setopt(pycurl.SSL_VERIFYPEER, 0)
        c.setopt(pycurl.SSL_VERIFYHOST, 0)
        c.setopt(pycurl.WRITEFUNCTION, lambda b: None)
        c.setopt(pycurl.CONNECTTIMEOUT, 30)
        m.add_handle(c)
        handles.append(c)
    left = n
    while left:
        m.perform()
        while True:
            nq, good, bad = m.info_read()
            for c in good:
                if c.getinfo(pycurl.RESPONSE_CODE) == 200 and c.getinfo(pycurl.NUM_CONNECTS) == 1:
                    ok += 1
                left -= 1
            for c, errno, msg in bad:
                sys.stderr.write("idle_conns: %s\n" % msg)
                left -= 1
            if nq == 0:
                break
        if left:
            m.select(0.1)
    print("open %d" % ok, flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    # Removing the finished handles leaves their connections in the multi
    # handle's cache, open; perform() keeps answering the servers meanwhile.
    for c in handles:
        m.remove_handle(c)
    while not stop:
        m.perform()
        m.select(0.2)


if __name__ == "__main__":
    main()
