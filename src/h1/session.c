/* The HTTP/1.1 front end: one connection's requests, one at a time in the
 * order they came (pipelined requests wait in the connection's input buffer
 * until the response before them is complete), responses framed by
 * Content-Length or chunked, keep-alive, Expect: 100-continue, and the
 * timeouts that keep slow clients from holding connections. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"
#include "h1/parse.h"
#include "http/exchange.h"
#include "obs/log.h"
#include "tcp/conn.h"

#define BODY_CHUNK 16384

enum tx_state { TX_NONE, TX_DEFERRED, TX_BODY, TX_DONE };

/* What the connection's one timer is counting. */
/* (A client that stops reading its response is the connection's send
 * timeout, src/tcp/conn.c.) */
enum timer_mode { T_NONE, T_KEEPALIVE, T_HEADER, T_BODY };

struct h1_conn;

struct h1_req {
    h3g_exchange ex;
    struct h1_conn *conn;
    enum tx_state tx;
    struct h3g_body body;
    int status;
    int head_method;
    int chunked;     /* the response body goes chunked */
    int until_close; /* ... or until the connection closes (HTTP/1.0) */
    int req_done;    /* the request message ended */
    int has_body;    /* the request has a body */
    int expect;      /* Expect: 100-continue, not answered yet */
    int discard;     /* request body bytes are dropped */
    int paused;      /* the handler said "no more for now" */
    int wait_source; /* the body source said "not yet" */
    int in_body;     /* write_body is running */
    uint64_t body_bytes, sent, seq, start_us;
    const char *error;
};

struct h1_conn {
    h3g_tcp_conn *c;
    struct h3g_tcp_config cfg; /* a copy: a reload changes the next connection's */
    struct h3g_h1_parser parser;
    struct h1_req *cur;
    uint64_t requests;
    int close_after; /* no request after the current one */
    int shutting_down;
    int gone;        /* the connection is closing: nothing more is written */
    int parsing;     /* inside the parser: the next request must wait */
    int in_call;     /* inside a handler's call (respond, resume, abort) */
    h3g_timer later; /* completes what a handler's call finished */
    h3g_timer timer;
    enum timer_mode mode;
};

static const struct h3g_front_ops h1_front_ops;
static void write_body(struct h1_req *r);

static void arm(struct h1_conn *h, enum timer_mode mode)
{
    uint64_t ms = mode == T_KEEPALIVE ? h->cfg.keepalive_timeout_ms
                  : mode == T_HEADER  ? h->cfg.header_timeout_ms
                  : mode == T_NONE    ? 0
                                      : h->cfg.idle_timeout_ms;
    h->mode = mode;
    h3g_timer_stop(h->cfg.loop, &h->timer);
    if (ms > 0)
        h3g_timer_start(h->cfg.loop, &h->timer, ms);
}

/* What the connection waits for, and so which timeout runs: the client's
 * next head, its body, its reading of the response, or the handler (whose
 * own timeouts apply). */
static enum timer_mode wanted_mode(const struct h1_conn *h)
{
    const struct h1_req *r = h->cur;
    if (r == NULL)
        return h3g_h1_parser_idle(&h->parser) ? T_KEEPALIVE : T_HEADER;
    if (!r->req_done && !r->paused)
        return T_BODY;
    return T_NONE;
}

/* Restarts the timeout when what is awaited changed or made progress. */
static void retime(struct h1_conn *h, int progress)
{
    enum timer_mode m = wanted_mode(h);
    if (m != h->mode || (progress && m == T_BODY))
        arm(h, m);
}

static void log_req(struct h1_req *r)
{
    const struct h3g_request *q = &r->conn->parser.req;
    struct h3g_access_entry e = {
        .client = h3g_tcp_peer(r->conn->c),
        .method = q->method,
        .authority = q->authority,
        .path = q->path,
        .status = r->status,
        .bytes_sent = r->sent,
        .duration_us = h3g_now_us() - r->start_us,
        .stream_id = (int64_t)r->seq,
        .error = r->error,
        .note = r->ex.note[0] ? r->ex.note : NULL,
        .protocol = "h1",
    };
    if (!r->conn->cfg.unlogged)
        h3g_access_log_request(&e);
}

static void req_free(struct h1_req *r, int aborted)
{
    struct h1_conn *h = r->conn;
    log_req(r);
    h->cur = NULL;
    h3g_body_close(&r->body);
    h3g_exchange_end(&r->ex, aborted);
    free(r);
}

/* The connection fails: the client sees a reset, never a response that looks
 * complete. */
static void fail_conn(struct h1_conn *h, const char *why)
{
    /* The request is released when the connection is gone (h1_closed):
     * never inside the handler's own call. */
    if (h->cur != NULL && h->cur->error == NULL)
        h->cur->error = why;
    h->gone = 1;
    h3g_tcp_close(h->c, 0);
}

/* The response is complete: the next request may start once this one's
 * body is in (or dropped); a connection that must close closes now (the
 * lingering close absorbs what the client still sends). */
static void maybe_next(struct h1_conn *h)
{
    struct h1_req *r = h->cur;
    if (r == NULL || r->tx != TX_DONE || h->gone)
        return;
    if (h->close_after || h->shutting_down) {
        req_free(r, r->error != NULL);
        h->gone = 1;
        h3g_tcp_close(h->c, 1);
        return;
    }
    if (!r->req_done) {
        if (r->discard) { /* still dropping the rest of its body */
            h3g_h1_parser_resume(&h->parser);
            h3g_tcp_resume_read(h->c);
        }
        return;
    }
    req_free(r, r->error != NULL);
    h3g_h1_parser_next(&h->parser);
    h3g_tcp_resume_read(h->c);
    arm(h, T_KEEPALIVE);
}

static int put(struct h1_conn *h, const char *s, size_t n)
{
    return h->gone ? 0 : h3g_tcp_write(h->c, s, n);
}

struct head_buf {
    char *p;
    size_t len, cap;
    int failed, has_length;
};

static void hb_add(struct head_buf *b, const char *s, size_t n)
{
    if (b->failed || h3g_reserve((void **)&b->p, &b->cap, b->len + n, 1024) != 0) {
        b->failed = 1;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static int hb_field(void *arg, const char *name, const char *value)
{
    struct head_buf *b = arg;
    if (strcasecmp(name, "content-length") == 0)
        b->has_length = 1;
    hb_add(b, name, strlen(name));
    hb_add(b, ": ", 2);
    hb_add(b, value, strlen(value));
    hb_add(b, "\r\n", 2);
    return 0;
}

/* Decides the body's framing and writes the status line and fields. */
static int write_head(struct h1_req *r, const struct h3g_response *resp)
{
    struct h1_conn *h = r->conn;
    /* room for the handler's fields; the route's and Alt-Svc grow it */
    struct head_buf b = {NULL, 0, 0, 0, 0};
    char line[128];
    int no_body =
        r->head_method || resp->status == 204 || resp->status == 304 || resp->status < 200;
    if (h3g_reserve((void **)&b.p, &b.cap, 256 + resp->len + 4 * resp->nheaders, 1024) != 0)
        return H3G_ENOMEM;
    int n = snprintf(line, sizeof(line), "HTTP/1.1 %03d %s\r\n", resp->status,
                     h3g_status_reason(resp->status));
    hb_add(&b, line, (size_t)n);
    h3g_exchange_fields(&r->ex, resp, hb_field, &b);
    if (!no_body && !b.has_length) {
        if (resp->body.kind == H3G_BODY_SOURCE && resp->body.remaining == UINT64_MAX) {
            if (h->parser.head.http_minor >= 1)
                r->chunked = 1;
            else
                r->until_close = h->close_after = 1;
        } else {
            uint64_t len = resp->body.kind == H3G_BODY_NONE ? 0 : resp->body.remaining;
            n = snprintf(line, sizeof(line), "content-length: %llu\r\n", (unsigned long long)len);
            hb_add(&b, line, (size_t)n);
        }
    }
    if (r->chunked)
        hb_add(&b, "transfer-encoding: chunked\r\n", 28);
    if (h->close_after || h->shutting_down)
        hb_add(&b, "connection: close\r\n", 19);
    else if (h->parser.head.http_minor == 0)
        hb_add(&b, "connection: keep-alive\r\n", 24);
    hb_add(&b, "\r\n", 2);
    int rv = b.failed ? H3G_ENOMEM : put(h, b.p, b.len);
    free(b.p);
    return rv;
}

static int respond(struct h1_req *r, struct h3g_response *resp)
{
    struct h1_conn *h = r->conn;
    /* A final answer before the body it did not ask for: the client may
     * still send it or close (RFC 9110 §10.1.1); we close after. */
    if (r->expect || (r->has_body && !r->req_done && r->ex.handler != H3G_HANDLER_ATTACHED)) {
        if (r->expect)
            h->close_after = 1;
        r->discard = 1;
    }
    r->expect = 0;
    r->status = resp->status;
    if (write_head(r, resp) != 0) {
        fail_conn(h, "cannot build response");
        return H3G_ERR;
    }
    r->body = resp->body;
    memset(&resp->body, 0, sizeof(resp->body));
    resp->body.fd = -1;
    if (r->head_method || r->status == 204 || r->status == 304) {
        h3g_body_close(&r->body);
        r->body.kind = H3G_BODY_NONE;
    }
    r->tx = TX_BODY;
    write_body(r);
    return 0;
}

static void error_response(struct h1_conn *h, struct h1_req *r, int status, const char *why)
{
    struct h3g_response resp;
    h->close_after = 1;
    r->error = why;
    h3g_exchange_release(&r->ex, 1); /* a handler working on it lets go */
    h3g_response_init(&resp);
    if (h3g_response_error(&resp, status) != 0 || h3g_response_add(&resp, "server", "h3gate") != 0)
        fail_conn(h, "cannot build response");
    else
        respond(r, &resp);
    h3g_response_free(&resp);
}

static int put_chunk(struct h1_req *r, const uint8_t *data, size_t n)
{
    struct h1_conn *h = r->conn;
    char size[24];
    if (!r->chunked)
        return put(h, (const char *)data, n);
    int len = snprintf(size, sizeof(size), "%zx\r\n", n);
    if (put(h, size, (size_t)len) != 0 || put(h, (const char *)data, n) != 0 ||
        put(h, "\r\n", 2) != 0)
        return H3G_ENOMEM;
    return 0;
}

static void body_done(struct h1_req *r)
{
    struct h1_conn *h = r->conn;
    if (r->chunked && put(h, "0\r\n\r\n", 5) != 0) {
        fail_conn(h, "out of memory");
        return;
    }
    r->tx = TX_DONE;
    if (r->until_close)
        h->close_after = 1;
    if (!r->req_done && !r->discard && r->ex.handler == H3G_HANDLER_ATTACHED)
        return; /* the handler still takes the upload (req_done follows) */
    if (!r->req_done)
        r->discard = 1;
    if (h->in_call) /* the handler is released once its call returned */
        h3g_timer_start(h->cfg.loop, &h->later, 0);
    else if (!h->parsing)
        maybe_next(h); /* else h1_input does, once the parser is out */
}

static void write_body(struct h1_req *r)
{
    struct h1_conn *h = r->conn;
    uint8_t buf[BODY_CHUNK];
    if (r->in_body || r->tx != TX_BODY)
        return;
    r->in_body = 1;
    r->wait_source = 0;
    while (r->tx == TX_BODY && h3g_tcp_write_room(h->c) > 0 && !h->gone) {
        ssize_t n = h3g_exchange_body_next(&r->ex, &r->body, buf, sizeof(buf));
        if (n == H3G_EAGAIN) {
            r->wait_source = 1;
            break;
        }
        if (n == 0) {
            r->in_body = 0;
            body_done(r);
            return;
        }
        if (n < 0) {
            h3g_warn("%s: response body failed after %llu bytes; closing", h3g_tcp_peer(h->c),
                     (unsigned long long)r->sent);
            r->in_body = 0;
            fail_conn(h, "body read failed");
            return;
        }
        if (put_chunk(r, buf, (size_t)n) != 0) {
            r->in_body = 0;
            fail_conn(h, "out of memory");
            return;
        }
        r->sent += (uint64_t)n;
    }
    r->in_body = 0;
    if (!h->gone)
        retime(h, 0);
}

/* ---- the request, from the parser ---- */

static void dispatch(struct h1_conn *h, struct h1_req *r, struct h3g_request *req)
{
    struct h3g_response resp;
    h3g_response_init(&resp);
    int rv = h->cfg.handler(h->cfg.handler_ctx, req, &resp, &r->ex);
    if (rv == H3G_EAGAIN) {
        r->tx = TX_DEFERRED;
        /* the handler reads the body: the client may send it now */
        if (r->expect && r->ex.handler == H3G_HANDLER_ATTACHED &&
            r->ex.xops->request_body != NULL) {
            r->expect = 0;
            put(h, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        }
    } else if (rv != 0) {
        error_response(h, r, 500, "cannot build response");
    } else {
        respond(r, &resp);
    }
    h3g_response_free(&resp);
}

/* The record of the connection's next request. */
static struct h1_req *new_req(struct h1_conn *h)
{
    struct h1_req *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        fail_conn(h, "out of memory");
        return NULL;
    }
    h3g_exchange_init(&r->ex, &h1_front_ops);
    r->ex.alt_svc = h3g_tcp_alt_svc(h->c);
    r->conn = h;
    r->body.fd = -1;
    r->seq = ++h->requests;
    r->start_us = h3g_now_us();
    h->cur = r;
    return r;
}

static int on_head(void *arg, struct h3g_request *req, const struct h3g_h1_head *hd)
{
    struct h1_conn *h = arg;
    struct h1_req *r = new_req(h);
    if (r == NULL)
        return H3G_EAGAIN;
    r->head_method = strcmp(req->method, "HEAD") == 0;
    r->has_body = hd->has_body;
    r->expect = hd->expect_continue && hd->has_body;
    if (!hd->keep_alive || (h->cfg.max_requests > 0 && h->requests >= h->cfg.max_requests) ||
        strcmp(req->method, "CONNECT") == 0)
        h->close_after = 1;
    if (h->cfg.max_request_body > 0 && req->content_length > 0 &&
        (uint64_t)req->content_length > h->cfg.max_request_body) {
        r->expect = 0;
        error_response(h, r, 413, "request body too large");
        return H3G_EAGAIN; /* its body is not read */
    }
    dispatch(h, r, req);
    /* answered and closing: the body is not read (the lingering close
     * absorbs it) */
    return h->gone || (r->tx == TX_DONE && h->close_after) ? H3G_EAGAIN : 0;
}

static int on_body(void *arg, const uint8_t *data, size_t len)
{
    struct h1_conn *h = arg;
    struct h1_req *r = h->cur;
    if (r == NULL)
        return 0;
    r->body_bytes += len;
    if (h->cfg.max_request_body > 0 && r->body_bytes > h->cfg.max_request_body) {
        if (r->tx == TX_NONE || r->tx == TX_DEFERRED)
            error_response(h, r, 413, "request body too large");
        else
            fail_conn(h, "request body too large");
        return H3G_EAGAIN;
    }
    if (r->discard)
        return 0;
    if (h3g_exchange_push(&r->ex, data, len, 0) == H3G_EAGAIN) {
        r->paused = 1;
        return H3G_EAGAIN;
    }
    return 0;
}

static void on_end(void *arg)
{
    struct h1_conn *h = arg;
    struct h1_req *r = h->cur;
    if (r == NULL)
        return;
    r->req_done = 1;
    if (!r->discard)
        h3g_exchange_push(&r->ex, NULL, 0, 1);
}

static const struct h3g_h1_callbacks parser_cbs = {
    .head = on_head,
    .body = on_body,
    .end = on_end,
};

/* ---- the connection (h3g_tcp_front) ---- */

static void on_timer(h3g_timer *t, void *arg)
{
    struct h1_conn *h = arg;
    struct h1_req *r = h->cur;
    H3G_UNUSED(t);
    if (h->mode == T_KEEPALIVE || (r == NULL && h3g_h1_parser_idle(&h->parser))) {
        /* nothing of a request came: close without an answer */
        h3g_tcp_close_reason(h->c, "keepalive_timeout");
        h->gone = 1;
        h3g_tcp_close(h->c, 1);
        return;
    }
    if (r == NULL || r->tx == TX_NONE || r->tx == TX_DEFERRED) {
        /* the head (or its body, before any answer) is late: 408 */
        const char *why = r == NULL ? "request header timeout" : "request body timeout";
        if (r == NULL) {
            h3g_request_reset(&h->parser.req); /* nothing of the last request is logged */
            if ((r = new_req(h)) == NULL)
                return;
        }
        r->req_done = 1;
        error_response(h, r, 408, why);
        return;
    }
    fail_conn(h, "request body timeout");
}

static void on_later(h3g_timer *t, void *arg)
{
    H3G_UNUSED(t);
    maybe_next(arg);
}

static void *h1_open(h3g_tcp_conn *c, const struct h3g_tcp_config *cfg)
{
    struct h1_conn *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    h->c = c;
    h->cfg = *cfg;
    h3g_h1_parser_init(&h->parser, &parser_cbs, h, cfg->max_field_section_size,
                       cfg->max_header_fields);
    if (cfg->tls == NULL)
        h->parser.scheme = "http";
    h3g_timer_init(&h->timer, on_timer, h);
    h3g_timer_init(&h->later, on_later, h);
    arm(h, T_HEADER); /* the first request is due within the header timeout */
    return h;
}

static ssize_t h1_input(void *fe, const uint8_t *data, size_t len)
{
    struct h1_conn *h = fe;
    h->parsing = 1;
    ssize_t n = h3g_h1_parse(&h->parser, data, len);
    h->parsing = 0;
    if (h->gone)
        return n < 0 ? 0 : n;
    if (n < 0) {
        struct h1_req *r = h->cur;
        if (r != NULL && r->tx != TX_NONE && r->tx != TX_DEFERRED) {
            fail_conn(h, h->parser.error); /* a response is under way: cut */
            return 0;
        }
        if (r == NULL && (r = new_req(h)) == NULL)
            return 0;
        r->req_done = 1;
        h3g_debug("%s: bad request: %s", h3g_tcp_peer(h->c), h->parser.error);
        error_response(h, r, h->parser.status, h->parser.error);
        return 0;
    }
    maybe_next(h);
    if (!h->gone)
        retime(h, n > 0);
    return n;
}

static void h1_input_end(void *fe)
{
    struct h1_conn *h = fe;
    if (h->gone)
        return;
    if (h->cur == NULL) {
        h->gone = 1;
        h3g_tcp_close(h->c, 1);
        return;
    }
    h->close_after = 1;
    if (!h->cur->req_done && h3g_h1_parse_eof(&h->parser) != 0)
        fail_conn(h, "client closed during the request");
}

static void h1_writable(void *fe)
{
    struct h1_conn *h = fe;
    if (h->cur != NULL && h->cur->tx == TX_BODY && !h->cur->wait_source) {
        retime(h, 1);
        write_body(h->cur);
    }
}

static void h1_shutdown(void *fe)
{
    struct h1_conn *h = fe;
    h->shutting_down = 1;
    if (h->cur == NULL && !h->gone) {
        h3g_tcp_close_reason(h->c, "shutdown");
        h->gone = 1;
        h3g_tcp_close(h->c, 1);
    }
}

static uint64_t h1_requests(void *fe)
{
    return ((struct h1_conn *)fe)->requests;
}

static void h1_closed(void *fe)
{
    struct h1_conn *h = fe;
    if (h->cur != NULL) {
        if (h->cur->error == NULL && h->cur->tx != TX_DONE)
            h->cur->error = "connection closed";
        req_free(h->cur, h->cur->tx != TX_DONE || h->cur->error != NULL);
    }
    h3g_timer_stop(h->cfg.loop, &h->timer);
    h3g_timer_stop(h->cfg.loop, &h->later);
    h3g_h1_parser_free(&h->parser);
    free(h);
}

const struct h3g_tcp_front h3g_h1_front = {
    .name = "h1",
    .open = h1_open,
    .input = h1_input,
    .input_end = h1_input_end,
    .writable = h1_writable,
    .shutdown = h1_shutdown,
    .closed = h1_closed,
    .requests = h1_requests,
};

/* ---- the exchange's front-end half ---- */

static int x_respond(h3g_exchange *ex, struct h3g_response *resp)
{
    struct h1_req *r = (struct h1_req *)ex;
    if (r->tx != TX_DEFERRED || r->conn->gone)
        return H3G_EINVAL;
    r->conn->in_call++;
    int rv = respond(r, resp);
    r->conn->in_call--;
    return rv;
}

static void x_resume_response(h3g_exchange *ex)
{
    struct h1_req *r = (struct h1_req *)ex;
    if (!r->wait_source || r->conn->gone)
        return;
    r->conn->in_call++;
    write_body(r);
    r->conn->in_call--;
}

static void x_resume_request(h3g_exchange *ex)
{
    struct h1_req *r = (struct h1_req *)ex;
    if (!r->paused)
        return;
    r->paused = 0;
    h3g_h1_parser_resume(&r->conn->parser);
    h3g_tcp_resume_read(r->conn->c);
}

static void x_stop_request(h3g_exchange *ex)
{
    struct h1_req *r = (struct h1_req *)ex;
    if (r->req_done)
        return;
    /* HTTP/1.1 cannot stop an upload and keep the connection: the rest is
     * read and dropped, and the connection closes after the response. */
    r->discard = 1;
    r->conn->close_after = 1;
    x_resume_request(ex);
}

static void x_abort(h3g_exchange *ex, const char *why)
{
    struct h1_req *r = (struct h1_req *)ex;
    if (r->tx == TX_DONE && r->error == NULL)
        return;
    fail_conn(r->conn, why);
}

static const char *x_peer(const h3g_exchange *ex)
{
    return h3g_tcp_peer(((const struct h1_req *)ex)->conn->c);
}

static const struct h3g_front_ops h1_front_ops = {
    .protocol = "h1",
    .respond = x_respond,
    .resume_response = x_resume_response,
    .resume_request = x_resume_request,
    .stop_request = x_stop_request,
    .abort = x_abort,
    .peer = x_peer,
};
