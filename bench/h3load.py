#!/usr/bin/python3
"""h3load: a small HTTP/3 load generator on libcurl's HTTP/3 stack (pycurl).

    h3load.py URL --connections C --streams S --requests N [--pid PID] [--http 3|2|1.1]

C worker processes each keep one connection with S concurrent streams until N
requests in all are done.  Prints requests/s and, with --pid, the server's CPU
time per request (from /proc/PID/stat) and its peak RSS.  Until bench/ builds
h2load with HTTP/3 (issue 5) this is the load client; it is much slower than
h2load, so compare servers by CPU per request, not only requests/s.
"""
import argparse
import multiprocessing as mp
import os
import time

import pycurl

VERSIONS = {"3": 31, "2": pycurl.CURL_HTTP_VERSION_2_0, "1.1": pycurl.CURL_HTTP_VERSION_1_1}


def worker(args, n, q):
    m = pycurl.CurlMulti()
    m.setopt(pycurl.M_PIPELINING, 2)
    m.setopt(pycurl.M_MAX_HOST_CONNECTIONS, 1)
    free, active, done, errors, nbytes = [], 0, 0, 0, 0

    def new_handle():
        c = pycurl.Curl()
        c.setopt(pycurl.URL, args.url)
        c.setopt(pycurl.HTTP_VERSION, VERSIONS[args.http])
        c.setopt(pycurl.SSL_VERIFYPEER, 0)
        c.setopt(pycurl.SSL_VERIFYHOST, 0)
        c.setopt(pycurl.PIPEWAIT, 1)
        c.setopt(pycurl.WRITEFUNCTION, lambda b: None)
        return c

    for _ in range(args.streams):
        free.append(new_handle())
    started = 0
    while done < n:
        while free and started < n:
            m.add_handle(free.pop())
            started += 1
            active += 1
        ret, _ = m.perform()
        while True:
            nq, ok, err = m.info_read()
            for c in ok:
                m.remove_handle(c)
                done += 1
                if c.getinfo(pycurl.RESPONSE_CODE) != 200:
                    errors += 1  # a fast error page is not a served request
                nbytes += int(c.getinfo(pycurl.SIZE_DOWNLOAD))
                free.append(c)
            for c, _, _ in err:
                m.remove_handle(c)
                done += 1
                errors += 1
                free.append(c)
            if nq == 0:
                break
        if done < n:
            # curl's own timer says when it must run again (0 = right away).
            t = m.timeout()
            if t != 0:
                m.select(0.1 if t < 0 else min(t / 1000.0, 0.1))
    q.put((done, errors, nbytes))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--connections", type=int, default=1)
    ap.add_argument("--streams", type=int, default=1)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--pid", type=int)
    ap.add_argument("--http", default="3", choices=sorted(VERSIONS))
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    per = [args.requests // args.connections] * args.connections
    per[0] += args.requests - sum(per)
    q = mp.Queue()
    cpu0 = cpu_seconds(args.pid) if args.pid else 0
    t0 = time.time()
    procs = [mp.Process(target=worker, args=(args, n, q)) for n in per]
    for p in procs:
        p.start()
    res = [q.get() for _ in procs]
    for p in procs:
        p.join()
    dt = time.time() - t0
    done = sum(r[0] for r in res)
    errors = sum(r[1] for r in res)
    nbytes = sum(r[2] for r in res)
    line = "%-28s HTTP/%-3s conns=%-3d streams=%-3d requests=%d errors=%d  %8.0f req/s  %6.1f MB/s" % (
        args.label, args.http, args.connections, args.streams, done, errors, done / dt,
        nbytes / dt / 1e6)
    if args.pid:
        cpu = cpu_seconds(args.pid) - cpu0
        line += "  server CPU %.0f us/req  peak RSS %.1f MiB" % (cpu / done * 1e6,
                                                               peak_rss_kib(args.pid) / 1024)
    print(line, flush=True)


if __name__ == "__main__":
    main()
