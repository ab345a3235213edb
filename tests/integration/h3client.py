"""HTTP/3 client helpers on libcurl's HTTP/3 stack (ngtcp2 + GnuTLS + nghttp3)
through Debian's pycurl.  Every request is forced onto HTTP/3 and the
negotiated version is checked."""
import hashlib
import io
import re
import threading

import pycurl

CURL_HTTP_VERSION_3 = 30       # pycurl 7.45 lacks the names
CURL_HTTP_VERSION_3ONLY = 31


class Response:
    def __init__(self, status, version, headers, body, sha256, size, error=None):
        self.status, self.version, self.headers = status, version, headers
        self.body, self.sha256, self.size, self.error = body, sha256, size, error

    def header(self, name):
        return self.headers.get(name.lower())


def parse_headers(raw):
    headers = {}
    for line in raw.decode("latin-1").split("\r\n"):
        if ":" in line and not line.startswith("HTTP/"):
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return headers


class Client:
    def __init__(self, ca):
        self.ca = ca

    def handle(self, url, headers=(), method=None, keep_body=True, sink=None, timeout=60,
               max_recv_speed=None, port_map=None):
        c = pycurl.Curl()
        c.setopt(pycurl.URL, url)
        c.setopt(pycurl.HTTP_VERSION, CURL_HTTP_VERSION_3ONLY)
        c.setopt(pycurl.CAINFO, self.ca)
        c.setopt(pycurl.TIMEOUT, timeout)
        c.setopt(pycurl.CONNECTTIMEOUT, 10)
        port = re.match(r"https://[^:/]+:(\d+)", url).group(1)
        c.setopt(pycurl.RESOLVE, ["localhost:%s:127.0.0.1" % port])
        c.setopt(pycurl.PATH_AS_IS, 1)
        if headers:
            c.setopt(pycurl.HTTPHEADER, list(headers))
        if method == "HEAD":
            c.setopt(pycurl.NOBODY, 1)
        elif method:
            c.setopt(pycurl.CUSTOMREQUEST, method)
        if max_recv_speed:
            c.setopt(pycurl.MAX_RECV_SPEED_LARGE, max_recv_speed)
        state = {"h": io.BytesIO(), "b": io.BytesIO() if keep_body else None,
                 "sha": hashlib.sha256(), "n": 0}

        def write(data):
            state["sha"].update(data)
            state["n"] += len(data)
            if state["b"] is not None:
                state["b"].write(data)
            if sink:
                sink(data)

        c.setopt(pycurl.WRITEFUNCTION, write)
        c.setopt(pycurl.HEADERFUNCTION, state["h"].write)
        return c, state

    @staticmethod
    def result(c, state, error=None):
        status = c.getinfo(pycurl.RESPONSE_CODE)
        version = c.getinfo(pycurl.INFO_HTTP_VERSION)
        body = state["b"].getvalue() if state["b"] is not None else None
        return Response(status, version, parse_headers(state["h"].getvalue()), body,
                        state["sha"].hexdigest(), state["n"], error)

    def get(self, url, headers=(), method=None, keep_body=True, raise_errors=True, **kw):
        c, state = self.handle(url, headers, method, keep_body, **kw)
        error = None
        try:
            c.perform()
        except pycurl.error as e:
            if raise_errors:
                c.close()
                raise
            error = e
        r = self.result(c, state, error)
        c.close()
        if error is None:
            assert r.version == CURL_HTTP_VERSION_3, "negotiated HTTP version %r, not 3" % r.version
        return r

    def parallel(self, urls, connections):
        """Fetches urls over `connections` HTTP/3 connections, the requests of
        one connection multiplexed as concurrent streams."""
        groups = [urls[i::connections] for i in range(connections)]
        results = [None] * connections

        def worker(idx, group):
            m = pycurl.CurlMulti()
            m.setopt(pycurl.M_PIPELINING, 2)  # CURLPIPE_MULTIPLEX
            m.setopt(pycurl.M_MAX_HOST_CONNECTIONS, 1)
            handles = []
            for u in group:
                c, st = self.handle(u, keep_body=False)
                c.setopt(pycurl.PIPEWAIT, 1)
                m.add_handle(c)
                handles.append((c, st))
            n = len(handles)
            while n:
                ret, n = m.perform()
                if ret == pycurl.E_CALL_MULTI_PERFORM:
                    continue
                m.select(0.5)
            out = []
            for c, st in handles:
                out.append(self.result(c, st))
                m.remove_handle(c)
                c.close()
            m.close()
            results[idx] = out

        threads = [threading.Thread(target=worker, args=(i, g)) for i, g in enumerate(groups)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        return [r for group in results for r in (group or [])]
