/* One request/response exchange of the HTTP/3 layer: the request as nghttp3
 * delivers it (validation, limits, 0-RTT), the handler's response and its body
 * in chunks held until the engine reports them acknowledged, and the
 * h3g_exchange API for handlers that answer later.  Its life is two explicit
 * state machines, rx (request) and tx (response), see h3_internal.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "config/config.h"
#include "h3/h3_internal.h"
#include "obs/log.h"

/* Body chunks are recycled per thread: a 16 KiB malloc and free per response
 * was a tenth of a small request's CPU, mostly in glibc's consolidation of
 * large chunks.  At most CHUNK_POOL_MAX are kept. */
#define CHUNK_POOL_MAX 64
static _Thread_local struct chunk *g_chunk_pool;
static _Thread_local size_t g_chunk_pool_len;

static struct chunk *chunk_get(void)
{
    struct chunk *c = g_chunk_pool;
    if (c == NULL)
        return malloc(sizeof(*c));
    g_chunk_pool = c->next;
    g_chunk_pool_len--;
    return c;
}

static void chunk_put(struct chunk *c)
{
    if (g_chunk_pool_len >= CHUNK_POOL_MAX) {
        free(c);
        return;
    }
    c->next = g_chunk_pool;
    g_chunk_pool = c;
    g_chunk_pool_len++;
}

void h3x_cleanup(void)
{
    while (g_chunk_pool != NULL) {
        struct chunk *c = g_chunk_pool;
        g_chunk_pool = c->next;
        free(c);
    }
    g_chunk_pool_len = 0;
}

static void chunk_free_all(struct h3_req *hs)
{
    while (hs->chunks != NULL) {
        struct chunk *c = hs->chunks;
        hs->chunks = c->next;
        chunk_put(c);
    }
    hs->chunks_tail = NULL;
    hs->nchunks = 0;
}

/* ---- life ---- */

struct h3_req *h3x_find(struct session *s, int64_t sid)
{
    struct h3_req *hs = s->streams;
    while (hs != NULL && hs->id != sid)
        hs = hs->next;
    return hs;
}

int h3x_tx_finished(const struct h3_req *hs)
{
    return hs->tx == TX_COMPLETE || hs->tx == TX_RESET;
}

static int responded(const struct h3_req *hs)
{
    return hs->tx == TX_BODY || hs->tx == TX_FAILED || hs->tx == TX_COMPLETE;
}

void h3x_log(struct h3_req *hs)
{
    if (!hs->began && hs->timed_out_us == 0)
        return; /* bytes before any HEADERS, then gone: no request to log */
    struct h3g_access_entry e = {
        .client = h3g_qconn_peer(hs->sess->qc),
        .method = hs->req.method,
        .authority = hs->req.authority,
        .path = hs->req.path,
        .status = hs->status,
        /* A complete response was handed to QUIC whole; of one that was cut,
         * what the client acknowledged. */
        .bytes_sent = hs->tx == TX_COMPLETE ? hs->bytes_produced : hs->bytes_acked,
        .duration_us = h3g_now_us() - hs->start_us,
        .stream_id = hs->id,
        .error = hs->error,
        .note = hs->ex.note[0] ? hs->ex.note : NULL,
        .early = hs->req.early,
        .protocol = "h3",
    };
    h3g_access_log_request(&e);
}

void h3x_free(struct h3_req *hs)
{
    struct session *s = hs->sess;
    if (hs->prev != NULL)
        hs->prev->next = hs->next;
    else
        s->streams = hs->next;
    if (hs->next != NULL)
        hs->next->prev = hs->prev;
    h3g_body_close(&hs->body);
    chunk_free_all(hs);
    h3b_released(s, hs->bytes_produced - hs->bytes_acked);
    h3g_request_reset(&hs->req);
    s->active--;
    h3g_exchange_end(&hs->ex, hs->tx != TX_COMPLETE || hs->error != NULL);
    free(hs);
    h3g_h3_g_stats.active_requests--;
}

void h3x_abort(struct h3_req *hs, uint64_t code, const char *why)
{
    if (hs->error == NULL)
        hs->error = why;
    hs->tx = TX_RESET;
    h3g_h3_g_stats.resets++;
    h3g_qconn_reset(hs->sess->qc, hs->id, code);
    nghttp3_conn_shutdown_stream_read(hs->sess->h3, hs->id);
    nghttp3_conn_shutdown_stream_write(hs->sess->h3, hs->id);
}

void h3x_note_code(struct h3_req *hs, uint64_t code, const char *fallback)
{
    if (hs != NULL && hs->error == NULL) {
        const char *name = h3g_h3_error_name(code);
        hs->error = name ? name : fallback;
    }
}

void h3x_sent_fin(struct session *s, int64_t sid)
{
    struct h3_req *hs = h3x_find(s, sid);
    if (hs != NULL && hs->tx == TX_BODY)
        hs->tx = TX_COMPLETE;
}

void h3x_fail_bodies(struct session *s)
{
    struct h3_req *hs, *next;
    s->pending_fail = 0;
    for (hs = s->streams; hs != NULL; hs = next) {
        next = hs->next;
        if (hs->tx == TX_FAILED) {
            h3g_warn("%s: stream %lld: response body failed after %llu bytes; resetting",
                     h3g_qconn_peer(s->qc), (long long)hs->id,
                     (unsigned long long)hs->bytes_produced);
            h3x_abort(hs, H3G_H3_INTERNAL_ERROR, "body read failed");
        }
    }
}

/* ---- response body ---- */

/* One more chunk of body, or the reason there is none now (hs->wait, or
 * TX_FAILED).  Returns the chunk or NULL. */
static struct chunk *next_chunk(struct h3_req *hs)
{
    struct chunk *c;
    ssize_t r;
    if (hs->nchunks >= hs->sess->max_chunks) {
        hs->wait = BODY_WAIT_ACKS;
        return NULL;
    }
    if (hs->body.kind != H3G_BODY_SOURCE && hs->body.remaining == 0) {
        hs->wait = BODY_EOF; /* known without reading */
        return NULL;
    }
    if (!h3b_may_produce(hs))
        return NULL;
    c = chunk_get();
    r = c != NULL ? h3g_exchange_body_next(&hs->ex, &hs->body, c->data, sizeof(c->data))
                  : H3G_ENOMEM;
    if (r > 0) {
        c->len = (size_t)r;
        c->acked = 0;
        c->next = NULL;
        return c;
    }
    if (c != NULL)
        chunk_put(c);
    if (r == 0) {
        hs->wait = BODY_EOF;
    } else if (r == H3G_EAGAIN) {
        hs->wait = BODY_WAIT_SOURCE;
    } else {
        /* The client must see a reset, never a short body that looks complete. */
        hs->tx = TX_FAILED;
        hs->sess->pending_fail = 1;
    }
    return NULL;
}

static nghttp3_ssize read_body(nghttp3_conn *conn, int64_t sid, nghttp3_vec *vec, size_t veccnt,
                               uint32_t *pflags, void *conn_ud, void *stream_ud)
{
    struct h3_req *hs = stream_ud;
    size_t n = 0;
    H3G_UNUSED(conn);
    H3G_UNUSED(conn_ud);
    H3G_UNUSED(sid);
    if (hs == NULL || hs->tx != TX_BODY)
        return NGHTTP3_ERR_WOULDBLOCK;
    hs->wait = BODY_READY;
    while (n < veccnt && hs->wait == BODY_READY && hs->tx == TX_BODY) {
        struct chunk *c = next_chunk(hs);
        if (c == NULL)
            break;
        if (hs->chunks_tail != NULL)
            hs->chunks_tail->next = c;
        else
            hs->chunks = c;
        hs->chunks_tail = c;
        hs->nchunks++;
        hs->bytes_produced += c->len;
        h3b_produced(hs->sess, c->len);
        vec[n].base = c->data;
        vec[n].len = c->len;
        n++;
    }
    if (hs->wait == BODY_EOF) {
        *pflags |= NGHTTP3_DATA_FLAG_EOF;
        return (nghttp3_ssize)n;
    }
    return n == 0 ? NGHTTP3_ERR_WOULDBLOCK : (nghttp3_ssize)n;
}

static int on_acked_stream_data(nghttp3_conn *conn, int64_t sid, uint64_t datalen, void *conn_ud,
                                void *stream_ud)
{
    struct h3_req *hs = stream_ud;
    H3G_UNUSED(sid);
    H3G_UNUSED(conn_ud);
    if (hs == NULL)
        return 0;
    hs->bytes_acked += datalen;
    h3b_released(hs->sess, datalen);
    while (datalen > 0 && hs->chunks != NULL) {
        struct chunk *c = hs->chunks;
        size_t take = (size_t)H3G_MIN((uint64_t)(c->len - c->acked), datalen);
        c->acked += take;
        datalen -= take;
        if (c->acked == c->len) {
            hs->chunks = c->next;
            if (hs->chunks == NULL)
                hs->chunks_tail = NULL;
            hs->nchunks--;
            chunk_put(c);
        }
    }
    /* Released chunks let a body waiting for them go on. */
    if (hs->wait == BODY_WAIT_ACKS && hs->nchunks < hs->sess->max_chunks) {
        hs->wait = BODY_READY;
        nghttp3_conn_resume_stream(conn, hs->id);
    }
    return 0;
}

/* ---- responses ---- */

struct nv_list {
    nghttp3_nv *nva;
    size_t n;
};

static int add_nv(void *arg, const char *name, const char *value)
{
    struct nv_list *l = arg;
    l->nva[l->n++] = (nghttp3_nv){(uint8_t *)name, (uint8_t *)value, strlen(name), strlen(value),
                                  NGHTTP3_NV_FLAG_NONE};
    return 0;
}

static int submit_response(struct session *s, struct h3_req *hs, struct h3g_response *resp)
{
    char status[4];
    nghttp3_data_reader dr = {.read_data = read_body};
    int rv;
    /* Every field the handler gave (a proxied response may carry many), the
     * route's rules and :status. */
    struct nv_list l = {malloc((h3g_exchange_field_count(&hs->ex, resp) + 1) * sizeof(nghttp3_nv)),
                        0};
    if (l.nva == NULL)
        return NGHTTP3_ERR_NOMEM;

    snprintf(status, sizeof(status), "%03d", resp->status);
    l.nva[l.n++] =
        (nghttp3_nv){(uint8_t *)":status", (uint8_t *)status, 7, 3, NGHTTP3_NV_FLAG_NONE};
    h3g_exchange_fields(&hs->ex, resp, add_nv, &l);
    hs->status = resp->status;
    hs->tx = TX_BODY;
    hs->wait = BODY_READY;
    if (hs->head)
        h3g_body_close(&resp->body);
    hs->body = resp->body;
    resp->body.kind = H3G_BODY_NONE;
    resp->body.fd = -1;
    resp->body.release = NULL;
    resp->body.file = NULL;
    resp->body.data = NULL;
    resp->body.mem = NULL;
    int has_body = hs->body.kind == H3G_BODY_SOURCE ||
                   (hs->body.kind != H3G_BODY_NONE && hs->body.remaining > 0);
    if (hs->head && hs->body.kind == H3G_BODY_SOURCE) {
        hs->body.kind = H3G_BODY_NONE; /* the handler sends nothing for HEAD */
        has_body = 0;
    }
    /* nghttp3 copies the fields */
    rv = nghttp3_conn_submit_response(s->h3, hs->id, l.nva, l.n, has_body ? &dr : NULL);
    free(l.nva);
    return rv;
}

/* A response of our own (413, 425, 431). */
static void respond_error(struct session *s, struct h3_req *hs, int status)
{
    struct h3g_response resp;
    h3g_response_init(&resp);
    if (h3g_response_error(&resp, status) != 0 ||
        h3g_response_add(&resp, "server", "h3gate") != 0 || submit_response(s, hs, &resp) != 0)
        h3x_abort(hs, H3G_H3_INTERNAL_ERROR, "cannot build response");
    h3g_response_free(&resp);
}

/* The request body is over the limit: 413 if nothing was answered yet, else
 * a reset.  The client is asked to stop sending the rest with H3_NO_ERROR
 * (RFC 9114 §4.1), so it keeps the 413. */
static void send_413(struct session *s, struct h3_req *hs)
{
    if (responded(hs)) {
        h3g_qconn_stop_reading(s->qc, hs->id, H3G_H3_EXCESSIVE_LOAD);
        h3x_abort(hs, H3G_H3_EXCESSIVE_LOAD, "request body too large");
        return;
    }
    /* A handler already working on it (the proxy) lets go now: its origin
     * will not get the rest. */
    h3g_exchange_release(&hs->ex, 1);
    /* nghttp3 stops judging the rest (a client may end the body early once it
     * has the answer). */
    nghttp3_conn_shutdown_stream_read(s->h3, hs->id);
    h3g_qconn_stop_reading(s->qc, hs->id, H3G_H3_NO_ERROR);
    respond_error(s, hs, 413);
    if (hs->error == NULL)
        hs->error = "request body too large";
}

/* Methods that early data may carry (RFC 9110 §9.2.1: safe). */
static int method_is_safe(const char *m)
{
    return m != NULL &&
           (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0);
}

static void dispatch(struct session *s, struct h3_req *hs)
{
    struct h3g_response resp;
    int oversized = hs->rx == RX_OVERSIZED, rv;
    hs->rx = RX_BODY;
    hs->head = hs->req.method != NULL && strcmp(hs->req.method, "HEAD") == 0;
    hs->req.early = h3g_qconn_stream_early(s->qc, hs->id);
    if (hs->req.early && !method_is_safe(hs->req.method)) {
        /* A replayed POST must not run twice: the client retries it after the
         * handshake (RFC 8470 §5.2). */
        hs->error = "too early";
        respond_error(s, hs, 425);
        return;
    }
    if (oversized) {
        respond_error(s, hs, 431);
        return;
    }
    h3g_response_init(&resp);
    rv = s->cfg.handler(s->cfg.handler_ctx, &hs->req, &resp, &hs->ex);
    if (rv == H3G_EAGAIN) {
        hs->tx = TX_DEFERRED; /* h3g_exchange_respond comes later */
    } else if (rv != 0 || submit_response(s, hs, &resp) != 0) {
        h3x_abort(hs, H3G_H3_INTERNAL_ERROR, "cannot build response");
    }
    h3g_response_free(&resp);
}

/* ---- the request, from nghttp3 ---- */

struct h3_req *h3x_new(struct session *s, int64_t sid)
{
    struct h3_req *hs = calloc(1, sizeof(*hs));
    if (hs == NULL)
        return NULL;
    hs->id = sid;
    hs->sess = s;
    hs->start_us = h3g_now_us();
    hs->body.fd = -1;
    h3g_exchange_init(&hs->ex, &h3x_front);
    h3g_request_init(&hs->req, s->cfg.max_header_fields);
    hs->req.version = "3";
    hs->next = s->streams;
    if (s->streams != NULL)
        s->streams->prev = hs;
    s->streams = hs;
    s->active++;
    h3g_h3_g_stats.active_requests++;
    if (s->cfg.max_streams > 0 && s->active > s->cfg.max_streams)
        hs->rx = RX_REJECTED; /* answered at end_headers */
    return hs;
}

static int on_begin_headers(nghttp3_conn *conn, int64_t sid, void *conn_ud, void *stream_ud)
{
    struct session *s = conn_ud;
    /* The stream's first bytes may have come earlier (h3_stream_data made the
     * record then, for the header timeout). */
    struct h3_req *hs = stream_ud != NULL ? stream_ud : h3x_find(s, sid);
    if (hs == NULL && (hs = h3x_new(s, sid)) == NULL)
        return NGHTTP3_ERR_CALLBACK_FAILURE;
    hs->began = 1;
    s->requests++;
    h3g_h3_g_stats.requests++;
    nghttp3_conn_set_stream_user_data(conn, sid, hs);
    return 0;
}

/* A stream whose field section is late: not processed, so the client may
 * retry it elsewhere (H3_REQUEST_REJECTED, RFC 9114 §4.1.1); logged as 408. */
static void header_timeout(struct session *s, struct h3_req *hs, uint64_t now_us)
{
    hs->timed_out_us = now_us;
    hs->status = 408;
    s->header_timeouts++;
    h3g_qconn_stop_reading(s->qc, hs->id, H3G_H3_REQUEST_REJECTED);
    h3x_abort(hs, H3G_H3_REQUEST_REJECTED, "request header timeout");
}

uint64_t h3x_header_deadlines(struct session *s, uint64_t now_us)
{
    uint64_t limit = s->cfg.header_timeout_ms * 1000, next = 0;
    struct h3_req *hs, *nx;
    for (hs = s->streams; hs != NULL; hs = nx) {
        uint64_t due;
        nx = hs->next;
        if (hs->timed_out_us != 0) {
            /* Reset and asked to stop, yet still open: the client ignores
             * STOP_SENDING; the connection goes (session.c). */
            due = hs->timed_out_us + limit;
            if (due <= now_us)
                return UINT64_MAX;
        } else if (hs->tx == TX_NONE && hs->rx != RX_OVER_LIMIT) {
            due = hs->start_us + limit;
            if (due <= now_us) {
                header_timeout(s, hs, now_us);
                due = now_us + limit;
            }
        } else {
            continue;
        }
        if (next == 0 || due < next)
            next = due;
    }
    return next;
}

static int on_recv_header(nghttp3_conn *conn, int64_t sid, int32_t token, nghttp3_rcbuf *name,
                          nghttp3_rcbuf *value, uint8_t flags, void *conn_ud, void *stream_ud)
{
    struct h3_req *hs = stream_ud;
    nghttp3_vec n = nghttp3_rcbuf_get_buf(name), v = nghttp3_rcbuf_get_buf(value);
    H3G_UNUSED(conn);
    H3G_UNUSED(sid);
    H3G_UNUSED(token);
    H3G_UNUSED(flags);
    H3G_UNUSED(conn_ud);
    if (hs == NULL || hs->rx != RX_HEADERS)
        return 0;
    /* RFC 9114 §4.2.2: name + value + 32 bytes per field. */
    hs->header_bytes += n.len + v.len + 32;
    if (hs->header_bytes > hs->sess->cfg.max_field_section_size) {
        hs->rx = RX_OVERSIZED;
        return 0;
    }
    int rv = h3g_request_add(&hs->req, n.base, n.len, v.base, v.len);
    if (rv == H3G_ELIMIT)
        hs->rx = RX_OVERSIZED;
    else if (rv == H3G_ENOMEM)
        return NGHTTP3_ERR_CALLBACK_FAILURE;
    return 0;
}

static int on_end_headers(nghttp3_conn *conn, int64_t sid, int fin, void *conn_ud, void *stream_ud)
{
    struct session *s = conn_ud;
    struct h3_req *hs = stream_ud;
    H3G_UNUSED(conn);
    H3G_UNUSED(sid);
    H3G_UNUSED(fin);
    if (hs == NULL || hs->tx != TX_NONE)
        return 0; /* trailers */
    if (hs->rx == RX_REJECTED) {
        /* Not processed: the client may retry it (RFC 9114 §4.1.1). */
        h3x_abort(hs, H3G_H3_REQUEST_REJECTED, "H3_REQUEST_REJECTED");
        return 0;
    }
    if (h3g_request_finish(&hs->req) != 0 && hs->rx == RX_HEADERS) {
        /* Malformed request: a stream error, the connection carries on
         * (RFC 9114 §4.1.2). */
        h3g_debug("%s: stream %lld: malformed request: %s", h3g_qconn_peer(s->qc),
                  (long long)hs->id, hs->req.error);
        h3x_abort(hs, H3G_H3_MESSAGE_ERROR, "H3_MESSAGE_ERROR");
        return 0;
    }
    if (hs->rx == RX_HEADERS && s->cfg.max_request_body > 0 && hs->req.content_length > 0 &&
        (uint64_t)hs->req.content_length > s->cfg.max_request_body) {
        /* Not dispatched.  The 413 goes out once the body crosses the limit
         * (or ends): clients keep sending until then, and answering before
         * the body starts leaves some (curl) waiting forever. */
        hs->rx = RX_OVER_LIMIT;
        hs->tx = TX_DEFERRED;
        return 0;
    }
    dispatch(s, hs);
    return 0;
}

static int on_recv_data(nghttp3_conn *conn, int64_t sid, const uint8_t *data, size_t datalen,
                        void *conn_ud, void *stream_ud)
{
    struct session *s = conn_ud;
    struct h3_req *hs = stream_ud;
    H3G_UNUSED(conn);
    if (sid == s->reading)
        s->delivered += datalen;
    /* The bytes are ours now (a handler copies what it keeps). */
    h3g_qconn_consume(s->qc, sid, datalen);
    if (hs == NULL)
        return 0;
    hs->body_bytes += datalen;
    if (hs->rx == RX_STOPPED)
        return 0;
    if (hs->rx == RX_OVER_LIMIT) {
        if (!responded(hs) && hs->body_bytes > s->cfg.max_request_body)
            send_413(s, hs);
        return 0;
    }
    if (s->cfg.max_request_body > 0 && hs->body_bytes > s->cfg.max_request_body) {
        hs->rx = RX_OVER_LIMIT;
        send_413(s, hs);
        return 0;
    }
    /* Handlers without a request_body callback (static files) discard it. */
    if (h3g_exchange_push(&hs->ex, data, datalen, 0) == H3G_EAGAIN) {
        hs->paused_by_handler = 1;
        h3g_qconn_pause_read(s->qc, sid, 1); /* QUIC flow control holds the client */
    }
    return 0;
}

static int on_end_stream(nghttp3_conn *conn, int64_t sid, void *conn_ud, void *stream_ud)
{
    struct h3_req *hs = stream_ud;
    H3G_UNUSED(conn);
    H3G_UNUSED(sid);
    if (hs == NULL)
        return 0;
    if (hs->rx == RX_OVER_LIMIT) {
        if (!responded(hs) && !h3x_tx_finished(hs))
            send_413(conn_ud, hs); /* the body ended below its announced length */
        return 0;
    }
    if (hs->rx == RX_STOPPED)
        return 0;
    hs->rx = RX_DONE;
    h3g_exchange_push(&hs->ex, NULL, 0, 1);
    return 0;
}

static int on_stream_close(nghttp3_conn *conn, int64_t sid, uint64_t code, void *conn_ud,
                           void *stream_ud)
{
    struct h3_req *hs = stream_ud;
    H3G_UNUSED(conn);
    H3G_UNUSED(sid);
    H3G_UNUSED(conn_ud);
    if (hs == NULL)
        return 0;
    if (code != H3G_H3_NO_ERROR)
        h3x_note_code(hs, code, "reset");
    h3x_log(hs);
    h3x_free(hs);
    return 0;
}

static int on_ng_stop_sending(nghttp3_conn *conn, int64_t sid, uint64_t code, void *conn_ud,
                              void *stream_ud)
{
    struct session *s = conn_ud;
    H3G_UNUSED(conn);
    H3G_UNUSED(stream_ud);
    h3g_qconn_stop_reading(s->qc, sid, code);
    return 0;
}

static int on_ng_reset_stream(nghttp3_conn *conn, int64_t sid, uint64_t code, void *conn_ud,
                              void *stream_ud)
{
    struct session *s = conn_ud;
    struct h3_req *hs = stream_ud;
    H3G_UNUSED(conn);
    h3x_note_code(hs, code, "reset");
    if (hs != NULL)
        hs->tx = TX_RESET;
    h3g_h3_g_stats.resets++;
    h3g_qconn_reset(s->qc, sid, code);
    return 0;
}

void h3x_callbacks(nghttp3_callbacks *cbs)
{
    cbs->acked_stream_data = on_acked_stream_data;
    cbs->stream_close = on_stream_close;
    cbs->recv_data = on_recv_data;
    cbs->end_stream = on_end_stream;
    cbs->begin_headers = on_begin_headers;
    cbs->recv_header = on_recv_header;
    cbs->end_headers = on_end_headers;
    cbs->stop_sending = on_ng_stop_sending;
    cbs->reset_stream = on_ng_reset_stream;
}

/* ---- the front end's half of the exchange (http/exchange.h) ---- */

static int x_respond(h3g_exchange *base, struct h3g_response *resp)
{
    struct h3_req *ex = (struct h3_req *)base;
    struct session *s = ex->sess;
    if (ex->tx != TX_DEFERRED || ex->rx == RX_OVER_LIMIT)
        return H3G_EINVAL;
    if (submit_response(s, ex, resp) != 0) {
        h3x_abort(ex, H3G_H3_INTERNAL_ERROR, "cannot send response");
        return H3G_ERR;
    }
    h3s_write(s);
    return 0;
}

static void x_resume_response(h3g_exchange *base)
{
    struct h3_req *ex = (struct h3_req *)base;
    if (ex->tx != TX_BODY || ex->wait != BODY_WAIT_SOURCE)
        return;
    if (ex->nchunks >= ex->sess->max_chunks) {
        ex->wait = BODY_WAIT_ACKS; /* the acknowledgements will resume it */
        return;
    }
    if (!h3b_may_produce(ex))
        return;
    ex->wait = BODY_READY;
    nghttp3_conn_resume_stream(ex->sess->h3, ex->id);
    h3s_write(ex->sess);
}

static void x_resume_request(h3g_exchange *base)
{
    struct h3_req *ex = (struct h3_req *)base;
    ex->paused_by_handler = 0;
    if (!h3s_held(ex->sess, ex->id))
        h3g_qconn_pause_read(ex->sess->qc, ex->id, 0);
}

static void x_stop_request(h3g_exchange *base)
{
    struct h3_req *ex = (struct h3_req *)base;
    struct session *s = ex->sess;
    if (ex->rx != RX_BODY)
        return;
    ex->rx = RX_STOPPED;
    nghttp3_conn_shutdown_stream_read(s->h3, ex->id);
    h3g_qconn_stop_reading(s->qc, ex->id, H3G_H3_NO_ERROR);
    if (ex->paused_by_handler)
        x_resume_request(base); /* the engine drops what comes now */
    h3s_write(s);
}

static void x_abort(h3g_exchange *base, const char *why)
{
    struct h3_req *ex = (struct h3_req *)base;
    if (h3x_tx_finished(ex) && ex->error == NULL)
        return;
    h3x_abort(ex, H3G_H3_INTERNAL_ERROR, why);
    h3s_write(ex->sess);
}

static const char *x_peer(const h3g_exchange *base)
{
    return h3g_qconn_peer(((const struct h3_req *)base)->sess->qc);
}

const struct h3g_front_ops h3x_front = {
    .protocol = "h3",
    .respond = x_respond,
    .resume_response = x_resume_response,
    .resume_request = x_resume_request,
    .stop_request = x_stop_request,
    .abort = x_abort,
    .peer = x_peer,
};
