"""HTTP client helpers on libcurl through Debian's pycurl: HTTP/3 (libcurl's
ngtcp2 + GnuTLS + nghttp3 stack), HTTP/2 and HTTP/1.1 over TLS.  Every request
is forced onto the client's protocol and the negotiated version is checked."""
import hashlib
import io
import re
import threading

import pycurl

CURL_HTTP_VERSION_3 = 30       # pycurl 7.45 lacks the names
CURL_HTTP_VERSION_3ONLY = 31
CURL_HTTP_VERSION_2TLS = 4

# protocol -> (what to ask libcurl for, what CURLINFO_HTTP_VERSION must say)
VERSIONS = {
    "h3": (CURL_HTTP_VERSION_3ONLY, CURL_HTTP_VERSION_3),
    "h2": (CURL_HTTP_VERSION_2TLS, pycurl.CURL_HTTP_VERSION_2_0),
    "h1": (pycurl.CURL_HTTP_VERSION_1_1, pycurl.CURL_HTTP_VERSION_1_1),
}


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
    def __init__(self, ca, proto="h3"):
        self.ca, self.proto = ca, proto

    def handle(self, url, headers=(), method=None, keep_body=True, sink=None, timeout=60,
               max_recv_speed=None, port_map=None):
        c = pycurl.Curl()
        c.setopt(pycurl.URL, url)
        c.setopt(pycurl.HTTP_VERSION, VERSIONS[self.proto][0])
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
            want = VERSIONS[self.proto][1]
            assert r.version == want, "negotiated HTTP version %r, not %r" % (r.version, want)
        return r

    def parallel(self, urls, connections):
        """Fetches urls over `connections` connections, the requests of one
        connection multiplexed as concurrent streams (HTTP/3, HTTP/2) or one
        after the other (HTTP/1.1)."""
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


def altsvc_get(url, ca, cache, resolve):
    """One GET through libcurl with its Alt-Svc cache on (CURLOPT_ALTSVC, which
    Debian 12's pycurl cannot pass: called through ctypes on the same libcurl).
    Returns (status, CURLINFO_HTTP_VERSION)."""
    import ctypes
    import ctypes.util
    lib = ctypes.CDLL(ctypes.util.find_library("curl-gnutls") or "libcurl-gnutls.so.4")
    lib.curl_easy_init.restype = ctypes.c_void_p
    lib.curl_easy_setopt.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lib.curl_easy_perform.argtypes = [ctypes.c_void_p]
    lib.curl_easy_getinfo.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lib.curl_easy_cleanup.argtypes = [ctypes.c_void_p]
    lib.curl_slist_append.restype = ctypes.c_void_p
    lib.curl_slist_append.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.curl_slist_free_all.argtypes = [ctypes.c_void_p]
    OPT_URL, OPT_CAINFO, OPT_RESOLVE, OPT_WRITEFUNCTION = 10002, 10065, 10203, 20011
    OPT_ALTSVC, OPT_ALTSVC_CTRL = 10287, 286
    INFO_RESPONSE_CODE, INFO_HTTP_VERSION = 0x200002, 0x20002E
    ALTSVC_H1, ALTSVC_H2, ALTSVC_H3 = 1 << 3, 1 << 4, 1 << 5
    sink = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t,
                            ctypes.c_void_p)(lambda p, size, n, u: size * n)
    h = lib.curl_easy_init()
    slist = lib.curl_slist_append(None, resolve.encode())
    keep = [url.encode(), ca.encode(), str(cache).encode()]
    try:
        lib.curl_easy_setopt(h, OPT_URL, ctypes.c_char_p(keep[0]))
        lib.curl_easy_setopt(h, OPT_CAINFO, ctypes.c_char_p(keep[1]))
        lib.curl_easy_setopt(h, OPT_RESOLVE, ctypes.c_void_p(slist))
        lib.curl_easy_setopt(h, OPT_WRITEFUNCTION, ctypes.cast(sink, ctypes.c_void_p))
        lib.curl_easy_setopt(h, OPT_ALTSVC_CTRL, ctypes.c_void_p(ALTSVC_H1 | ALTSVC_H2 | ALTSVC_H3))
        lib.curl_easy_setopt(h, OPT_ALTSVC, ctypes.c_char_p(keep[2]))
        rc = lib.curl_easy_perform(h)
        assert rc == 0, "libcurl error %d" % rc
        status, version = ctypes.c_long(0), ctypes.c_long(0)
        lib.curl_easy_getinfo(h, INFO_RESPONSE_CODE, ctypes.byref(status))
        lib.curl_easy_getinfo(h, INFO_HTTP_VERSION, ctypes.byref(version))
        return status.value, version.value
    finally:
        lib.curl_easy_cleanup(h)
        lib.curl_slist_free_all(slist)
