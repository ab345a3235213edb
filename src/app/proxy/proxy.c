#include "app/proxy/proxy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/proxy/http1.h"
#include "app/static/static.h"
#include "common.h"
#include "h1/parse.h"
#include "obs/log.h"
#include "obs/metrics.h"

/* Bytes buffered per request in each direction: memory stays bounded whatever
 * the body size; the slower side holds back the faster one. */
#define BUF_LIMIT (64 * 1024)
#define MAX_RESPONSE_HEADER (64 * 1024)
#define MAX_RESPONSE_FIELDS 100

/* Response buffers are recycled: a 64 KiB malloc and free per request cost
 * more than parsing the response (glibc consolidates chunks that large). */
#define BUF_POOL_MAX 16

struct h3g_proxy {
    h3g_loop *loop;
    h3g_upstream *up;
    h3g_static *files;
    uint8_t *pool[BUF_POOL_MAX];
    size_t npool;
};

static uint8_t *buf_get(h3g_proxy *px)
{
    return px->npool > 0 ? px->pool[--px->npool] : malloc(BUF_LIMIT);
}

static void buf_put(h3g_proxy *px, uint8_t *b)
{
    if (b == NULL)
        return;
    if (px->npool < BUF_POOL_MAX)
        px->pool[px->npool++] = b;
    else
        free(b);
}

enum px_state { PX_CONNECTING, PX_SENDING, PX_WAITING, PX_BODY, PX_DONE };

struct pxreq {
    h3g_proxy *px;
    h3g_exchange *ex;
    struct h3g_origin *origin;
    enum px_state state;
    int fd;
    h3g_io io;
    int io_on;
    h3g_timer timer;
    h3g_timer total; /* the whole exchange (request_timeout) */
    int counted;     /* holds one of origin->active */
    int attempts;
    int busy;
    int reused_conn;
    int idempotent;
    int head_method;
    const char *version; /* the client's protocol version, for Via */
    /* request towards the origin */
    char *head;
    size_t head_len, head_off;
    uint8_t *sbuf;
    size_t slen, soff;
    int chunked, has_body, req_fin, req_paused;
    int req_stopped; /* the origin takes no more of the request body */
    /* response from the origin (the HTTP/1.1 reader the front end uses too) */
    struct h3g_h1_parser parser;
    int parser_on;
    int responded;
    int got_bytes;
    int resp_eof;
    int failed;
    int reusable;
    uint8_t *rbuf;
    size_t rlen, roff;
    uint64_t t_start, t_connect_start, t_connected, t_header;
};

static void px_note(struct pxreq *r)
{
    char note[200];
    uint64_t now = h3g_now_us();
    snprintf(note, sizeof(note), "upstream=%s connect_ms=%.3f header_ms=%.3f",
             r->origin ? r->origin->text : "-",
             r->t_connected ? (double)(r->t_connected - r->t_start) / 1000.0 : -1.0,
             r->t_header ? (double)(r->t_header - r->t_start) / 1000.0
                         : (double)(now - r->t_start) / 1000.0);
    h3g_exchange_set_note(r->ex, note);
}

static void io_set(struct pxreq *r, int events)
{
    if (r->fd < 0)
        return;
    if (!r->io_on)
        return;
    h3g_io_modify(r->px->loop, &r->io, events);
}

static void uncount(struct pxreq *r)
{
    if (r->counted && r->origin != NULL)
        r->origin->active--;
    r->counted = 0;
}

static void close_fd(struct pxreq *r)
{
    uncount(r);
    if (r->fd < 0)
        return;
    if (r->io_on)
        h3g_io_stop(r->px->loop, &r->io);
    r->io_on = 0;
    close(r->fd);
    r->fd = -1;
}

/* An error before the response started: answer with a status; after: reset. */
static void px_fail(struct pxreq *r, int status, int kind, const char *why)
{
    if (kind >= 0)
        h3g_metrics_self->upstream_errors[kind]++;
    h3g_timer_stop(r->px->loop, &r->timer);
    h3g_timer_stop(r->px->loop, &r->total);
    r->failed = 1;
    r->state = PX_DONE;
    close_fd(r);
    px_note(r);
    if (!r->responded) {
        struct h3g_response resp;
        r->responded = 1;
        h3g_response_init(&resp);
        if (h3g_response_add(&resp, "server", "h3gate") == 0 &&
            h3g_response_error(&resp, status) == 0)
            h3g_exchange_respond(r->ex, &resp);
        h3g_response_free(&resp);
        h3g_debug("proxy: %s: %d (%s)", r->origin ? r->origin->text : "-", status, why);
    } else {
        /* The body is cut: the client must see a reset, never a clean end. */
        h3g_exchange_abort(r->ex, why);
    }
}

static void arm(struct pxreq *r, uint64_t ms)
{
    if (ms > 0)
        h3g_timer_start(r->px->loop, &r->timer, ms);
    else
        h3g_timer_stop(r->px->loop, &r->timer);
}

static void on_io(h3g_io *io, int revents, void *arg);

static void on_total_timer(h3g_timer *t, void *arg)
{
    struct pxreq *r = arg;
    H3G_UNUSED(t);
    if (r->state != PX_DONE)
        px_fail(r, 504, H3G_MU_REQUEST_TIMEOUT, "request timeout");
}
static int start_connection(struct pxreq *r, struct h3g_origin *skip);

static void on_timer(h3g_timer *t, void *arg)
{
    struct pxreq *r = arg;
    H3G_UNUSED(t);
    switch (r->state) {
    case PX_CONNECTING:
        h3g_upstream_mark_failed(r->px->up, r->origin, h3g_now_ms());
        px_fail(r, 504, H3G_MU_CONNECT_TIMEOUT, "connect timeout");
        break;
    case PX_SENDING:
    case PX_WAITING: px_fail(r, 504, H3G_MU_HEADER_TIMEOUT, "origin too slow"); break;
    case PX_BODY: px_fail(r, 504, H3G_MU_BODY_TIMEOUT, "origin stalled mid-body"); break;
    case PX_DONE: break;
    }
}

/* ---- request towards the origin ---- */

static int sbuf_append(struct pxreq *r, const void *d, size_t n)
{
    if (r->soff > 0 && r->soff == r->slen)
        r->soff = r->slen = 0;
    uint8_t *b = realloc(r->sbuf, r->slen + n);
    if (b == NULL && r->slen + n > 0)
        return H3G_ENOMEM;
    r->sbuf = b;
    memcpy(r->sbuf + r->slen, d, n);
    r->slen += n;
    return 0;
}

/* The origin answered (or stopped reading) before the whole request body:
 * the rest is the client's stream's business, not an error (RFC 9114 §4.1
 * lets us stop it with H3_NO_ERROR).  The origin connection, with a body
 * half sent, is not reused. */
static void stop_upload(struct pxreq *r)
{
    if (!r->has_body || r->req_fin || r->req_stopped)
        return;
    r->req_stopped = 1;
    r->slen = r->soff; /* what the origin did not take is dropped */
    r->req_paused = 0;
    h3g_exchange_stop_request(r->ex);
}

static int px_request_body(void *ctx, const uint8_t *data, size_t len, int fin)
{
    struct pxreq *r = ctx;
    char hdr[32];
    if (r->state == PX_DONE || !r->has_body || r->req_stopped)
        return 0;
    if (len > 0) {
        if (r->chunked) {
            int n = snprintf(hdr, sizeof(hdr), "%zx\r\n", len);
            if (sbuf_append(r, hdr, (size_t)n) != 0 || sbuf_append(r, data, len) != 0 ||
                sbuf_append(r, "\r\n", 2) != 0) {
                px_fail(r, 500, -1, "out of memory");
                return 0;
            }
        } else if (sbuf_append(r, data, len) != 0) {
            px_fail(r, 500, -1, "out of memory");
            return 0;
        }
    }
    if (fin && !r->req_fin) {
        r->req_fin = 1;
        if (r->chunked && sbuf_append(r, "0\r\n\r\n", 5) != 0) {
            px_fail(r, 500, -1, "out of memory");
            return 0;
        }
    }
    if (r->state != PX_CONNECTING)
        io_set(r, H3G_IO_READ | H3G_IO_WRITE);
    if (r->slen - r->soff >= BUF_LIMIT) {
        r->req_paused = 1;
        return H3G_EAGAIN; /* the client waits on QUIC flow control */
    }
    return 0;
}

static void px_read(struct pxreq *r);

/* Sending failed once the request head was out: the origin may have answered
 * already (a 413 before reading the body, then close), so its answer is read
 * before anything is concluded; only no answer at all is a 502. */
static void origin_stopped_reading(struct pxreq *r)
{
    stop_upload(r);
    r->head_off = r->head_len;
    r->slen = r->soff;
    if (r->state == PX_SENDING) {
        r->state = PX_WAITING;
        arm(r, r->px->up->conf.header_timeout_ms);
    }
    io_set(r, H3G_IO_READ);
    px_read(r);
}

static void px_send(struct pxreq *r)
{
    while (r->head_off < r->head_len || r->soff < r->slen) {
        const void *p;
        size_t n;
        if (r->head_off < r->head_len) {
            p = r->head + r->head_off;
            n = r->head_len - r->head_off;
        } else {
            p = r->sbuf + r->soff;
            n = r->slen - r->soff;
        }
        ssize_t w = send(r->fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                io_set(r, H3G_IO_READ | H3G_IO_WRITE);
                return;
            }
            if (errno == EINTR)
                continue;
            if (r->head_off == r->head_len) {
                origin_stopped_reading(r);
                return;
            }
            px_fail(r, 502, H3G_MU_CLOSED,
                    "origin closed the connection while we sent the request");
            return;
        }
        if (r->head_off < r->head_len)
            r->head_off += (size_t)w;
        else
            r->soff += (size_t)w;
    }
    if (r->req_paused && r->slen - r->soff < BUF_LIMIT / 2) {
        r->req_paused = 0;
        h3g_exchange_resume_request(r->ex);
    }
    /* a front end may hand over more body at once (HTTP/2 delivers what it
     * held): keep sending if it did */
    io_set(r, r->soff < r->slen ? H3G_IO_READ | H3G_IO_WRITE : H3G_IO_READ);
    if (r->state == PX_SENDING && (!r->has_body || r->req_fin || r->req_stopped)) {
        r->state = PX_WAITING;
        arm(r, r->px->up->conf.header_timeout_ms);
    }
}

/* ---- response from the origin ---- */

static int on_response(void *arg, int status, const struct h3g_h1_parser *p)
{
    struct pxreq *r = arg;
    struct h3g_response resp;
    const char *conn = NULL, *name, *value;
    size_t pos = 0;
    int no_body;

    r->t_header = h3g_now_us();
    h3g_metrics_self->upstream_requests++;
    h3g_metrics_observe(&h3g_metrics_self->upstream_header, r->t_header - r->t_connected);
    h3g_response_init(&resp);
    resp.status = status;
    while (h3g_h1_field_next(p, &pos, &name, &value))
        if (strcmp(name, "connection") == 0)
            conn = value;
    for (pos = 0; h3g_h1_field_next(p, &pos, &name, &value);) {
        if (h3g_http1_hop_by_hop(name, strlen(name), conn))
            continue;
        if (h3g_response_add(&resp, name, value) != 0)
            goto oom;
    }
    /* the origin's hop, then ours in the protocol the client speaks */
    if (h3g_response_addf(&resp, "via", "1.1 origin, %s h3gate", r->version) != 0)
        goto oom;
    no_body = r->head_method || status == 204 || status == 304;
    if (!no_body) {
        resp.body.kind = H3G_BODY_SOURCE;
        resp.body.remaining = UINT64_MAX;
    }
    r->state = PX_BODY;
    arm(r, r->px->up->conf.idle_timeout_ms);
    r->responded = 1;
    px_note(r);
    h3g_exchange_respond(r->ex, &resp);
    h3g_response_free(&resp);
    return r->head_method ? 1 : 0; /* 1: a response to HEAD has no body */
oom:
    h3g_response_free(&resp);
    return H3G_ERR;
}

static int on_body(void *arg, const uint8_t *at, size_t n)
{
    struct pxreq *r = arg;
    /* Reads are sized so the body always fits (see px_read). */
    if (r->roff > 0) {
        memmove(r->rbuf, r->rbuf + r->roff, r->rlen - r->roff);
        r->rlen -= r->roff;
        r->roff = 0;
    }
    if (r->rlen + n > BUF_LIMIT)
        return H3G_ERR;
    memcpy(r->rbuf + r->rlen, at, n);
    r->rlen += n;
    return 0;
}

/* One response per request: the reader stops after it, anything after is
 * not ours. */
static void on_end(void *arg)
{
    struct pxreq *r = arg;
    r->resp_eof = 1;
    r->reusable = h3g_h1_keep_alive(&r->parser) && r->soff == r->slen &&
                  r->head_off == r->head_len && (!r->has_body || r->req_fin);
}

static const struct h3g_h1_callbacks response_cbs = {
    .response = on_response,
    .body = on_body,
    .end = on_end,
};

static void px_read(struct pxreq *r)
{
    char buf[16384];
    for (;;) {
        size_t room = BUF_LIMIT - (r->rlen - r->roff);
        if (room == 0) {
            io_set(r, r->slen > r->soff ? H3G_IO_WRITE : 0); /* wait for the client */
            break;
        }
        ssize_t n = recv(r->fd, buf, H3G_MIN(room, sizeof(buf)), 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
        }
        if (n <= 0) {
            /* EOF or reset from the origin */
            if (!r->got_bytes && r->reused_conn && r->idempotent && r->attempts == 1 &&
                r->soff == 0 && !r->req_stopped) {
                /* a pooled connection the origin had closed: once more, fresh
                 * (only while no body byte was consumed, so all can be resent) */
                close_fd(r);
                r->head_off = 0;
                if (start_connection(r, NULL) != 0)
                    px_fail(r, 502, H3G_MU_UNREACHABLE, "origin unreachable");
                return;
            }
            if (n == 0 && h3g_h1_parse_eof(&r->parser) == 0 && r->resp_eof)
                break; /* a body delimited by the connection's end */
            if (r->resp_eof)
                break;
            px_fail(r, 502, H3G_MU_CLOSED,
                    n == 0 ? "origin closed the connection early" : "origin reset the connection");
            return;
        }
        r->got_bytes = 1;
        if (r->state == PX_BODY)
            arm(r, r->px->up->conf.idle_timeout_ms);
        if (h3g_h1_parse(&r->parser, (const uint8_t *)buf, (size_t)n) < 0) {
            h3g_debug("proxy: %s: bad response: %s", r->origin->text, r->parser.error);
            px_fail(r, 502, H3G_MU_BAD_RESPONSE, r->parser.error);
            return;
        }
        if (r->resp_eof)
            break;
    }
    if (r->resp_eof) {
        h3g_timer_stop(r->px->loop, &r->timer);
        stop_upload(r); /* answered: the origin wants no more of it */
        r->state = PX_DONE;
        px_note(r);
        /* The connection is clean and whole: back to the pool. */
        h3g_timer_stop(r->px->loop, &r->total);
        if (r->reusable && r->fd >= 0) {
            h3g_io_stop(r->px->loop, &r->io);
            r->io_on = 0;
            uncount(r);
            h3g_origin_put_idle(r->origin, r->fd, r->px->up->conf.max_idle);
            r->fd = -1;
        } else {
            close_fd(r);
        }
    }
    h3g_exchange_resume_response(r->ex);
}

static void on_io(h3g_io *io, int revents, void *arg)
{
    struct pxreq *r = arg;
    H3G_UNUSED(io);
    if (r->state == PX_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            close_fd(r);
            h3g_upstream_mark_failed(r->px->up, r->origin, h3g_now_ms());
            h3g_warn("proxy: cannot connect to %s: %s", r->origin->text, strerror(err));
            /* nothing was sent: another origin may take it */
            if (r->attempts < (int)r->px->up->norigins && r->attempts < 3 &&
                start_connection(r, r->origin) == 0)
                return;
            px_fail(r, 502, H3G_MU_CONNECT_REFUSED, "origin refused the connection");
            return;
        }
        r->t_connected = h3g_now_us();
        h3g_metrics_observe(&h3g_metrics_self->upstream_connect,
                            r->t_connected - r->t_connect_start);
        r->state = PX_SENDING;
        arm(r, r->px->up->conf.header_timeout_ms);
    }
    if (r->state == PX_DONE)
        return;
    if ((revents & H3G_IO_WRITE) && r->state != PX_DONE)
        px_send(r);
    if ((revents & H3G_IO_READ) && r->state != PX_DONE && r->fd >= 0)
        px_read(r);
}

static int start_connection(struct pxreq *r, struct h3g_origin *skip)
{
    uncount(r);
    r->origin = h3g_upstream_pick(r->px->up, h3g_now_ms(), skip);
    r->attempts++;
    if (r->origin == NULL) {
        r->busy = 1; /* every origin is at its connection limit */
        return H3G_ELIMIT;
    }
    r->reused_conn = 0;
    r->got_bytes = 0;
    if (r->parser_on)
        h3g_h1_parser_free(&r->parser); /* a retry on a fresh connection */
    h3g_h1_parser_init_response(&r->parser, &response_cbs, r, MAX_RESPONSE_HEADER,
                                MAX_RESPONSE_FIELDS);
    r->parser_on = 1;
    r->fd = r->attempts == 1 ? h3g_origin_take_idle(r->origin) : -1;
    if (r->fd >= 0) {
        r->reused_conn = 1;
        r->state = PX_SENDING;
        r->t_connected = h3g_now_us();
    } else {
        r->t_connect_start = h3g_now_us();
        r->fd = h3g_origin_connect(r->origin);
        if (r->fd < 0) {
            h3g_upstream_mark_failed(r->px->up, r->origin, h3g_now_ms());
            return H3G_ERR;
        }
        r->state = PX_CONNECTING;
    }
    r->origin->active++;
    r->counted = 1;
    if (h3g_io_start(r->px->loop, &r->io, r->fd, H3G_IO_READ | H3G_IO_WRITE, on_io, r) != 0) {
        uncount(r);
        close(r->fd);
        r->fd = -1;
        return H3G_ERR;
    }
    r->io_on = 1;
    arm(r, r->state == PX_CONNECTING ? r->px->up->conf.connect_timeout_ms
                                     : r->px->up->conf.header_timeout_ms);
    return 0;
}

/* ---- exchange ops ---- */

static ssize_t px_response_body(void *ctx, uint8_t *buf, size_t cap)
{
    struct pxreq *r = ctx;
    size_t avail = r->rlen - r->roff;
    if (avail == 0) {
        if (r->resp_eof)
            return 0;
        if (r->failed)
            return H3G_ERR;
        if (r->fd >= 0)
            io_set(r, H3G_IO_READ | (r->slen > r->soff ? H3G_IO_WRITE : 0));
        return H3G_EAGAIN;
    }
    size_t n = H3G_MIN(avail, cap);
    memcpy(buf, r->rbuf + r->roff, n);
    r->roff += n;
    if (r->roff == r->rlen)
        r->roff = r->rlen = 0;
    if (r->fd >= 0 && !r->resp_eof)
        io_set(r, H3G_IO_READ | (r->slen > r->soff ? H3G_IO_WRITE : 0));
    return (ssize_t)n;
}

static void px_release(void *ctx, int aborted)
{
    struct pxreq *r = ctx;
    H3G_UNUSED(aborted);
    h3g_timer_stop(r->px->loop, &r->timer);
    h3g_timer_stop(r->px->loop, &r->total);
    /* A cancelled exchange leaves the origin connection in an unknown state:
     * closed, never pooled. */
    close_fd(r);
    if (r->parser_on)
        h3g_h1_parser_free(&r->parser);
    free(r->head);
    free(r->sbuf);
    buf_put(r->px, r->rbuf);
    free(r);
}

static const struct h3g_exchange_ops px_ops = {
    .request_body = px_request_body,
    .response_body = px_response_body,
    .release = px_release,
};

h3g_proxy *h3g_proxy_new(h3g_loop *loop, h3g_upstream *up, struct h3g_static *files)
{
    h3g_proxy *px = calloc(1, sizeof(*px));
    if (px == NULL)
        return NULL;
    px->loop = loop;
    px->up = up;
    px->files = files;
    return px;
}

void h3g_proxy_free(h3g_proxy *px)
{
    if (px == NULL)
        return;
    while (px->npool > 0)
        free(px->pool[--px->npool]);
    free(px);
}

static int method_is(const char *m, const char *lit)
{
    return strcmp(m, lit) == 0;
}

int h3g_proxy_handle(void *ctx, const struct h3g_request *req, struct h3g_response *resp,
                     h3g_exchange *ex)
{
    h3g_proxy *px = ctx;
    struct pxreq *r;

    if (px->files != NULL && (method_is(req->method, "GET") || method_is(req->method, "HEAD"))) {
        /* files that exist are served, the rest goes to the origin */
        int rc = h3g_static_handle(px->files, req, resp);
        if (rc != 0 || (resp->status != 404 && resp->status != 403))
            return rc;
        h3g_response_free(resp);
        h3g_response_init(resp);
    }
    if (method_is(req->method, "CONNECT")) {
        h3g_response_add(resp, "server", "h3gate");
        return h3g_response_error(resp, 501);
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return H3G_ENOMEM;
    r->px = px;
    r->ex = ex;
    r->fd = -1;
    r->t_start = h3g_now_us();
    h3g_timer_init(&r->timer, on_timer, r);
    h3g_timer_init(&r->total, on_total_timer, r);
    r->head_method = method_is(req->method, "HEAD");
    r->version = req->version != NULL ? req->version : "3";
    r->idempotent = method_is(req->method, "GET") || r->head_method ||
                    method_is(req->method, "OPTIONS") || method_is(req->method, "PUT") ||
                    method_is(req->method, "DELETE");
    /* Framing towards the origin: the client's length, else chunked for the
     * methods that carry bodies. */
    r->has_body = req->content_length > 0 || method_is(req->method, "POST") ||
                  method_is(req->method, "PUT") || method_is(req->method, "PATCH");
    r->chunked = r->has_body && req->content_length < 0;
    if (req->content_length == 0)
        r->has_body = 0;
    r->rbuf = buf_get(px);
    if (r->rbuf == NULL || h3g_http1_request_head(req, h3g_exchange_peer(ex), r->chunked, &r->head,
                                                  &r->head_len) != 0) {
        buf_put(px, r->rbuf);
        free(r);
        return H3G_ENOMEM;
    }
    h3g_exchange_attach(ex, &px_ops, r);
    if (start_connection(r, NULL) != 0) {
        /* The first origin refused at once: try the others before a 502. */
        while (!r->busy && r->attempts < (int)px->up->norigins && r->fd < 0)
            if (start_connection(r, r->origin) == 0)
                break;
        if (r->fd < 0) {
            r->responded = 1;
            r->state = PX_DONE;
            px_note(r);
            h3g_response_add(resp, "server", "h3gate");
            /* all at their limit: 503, the origins are fine but busy */
            if (!r->busy)
                h3g_metrics_self->upstream_errors[H3G_MU_UNREACHABLE]++;
            return h3g_response_error(resp, r->busy ? 503 : 502);
        }
    }
    if (px->up->conf.request_timeout_ms > 0)
        h3g_timer_start(px->loop, &r->total, px->up->conf.request_timeout_ms);
    return H3G_EAGAIN;
}
