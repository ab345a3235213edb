#include "h3/session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp3/nghttp3.h>

#include "common.h"
#include "config/config.h"
#include "obs/log.h"

#define BODY_CHUNK 16384
/* Response body chunks a stream may hold until the engine reports them
 * acknowledged: bounds memory whatever the file size (review lesson 4).  An
 * engine that copies writes acknowledges at once, so a few chunks keep it fed;
 * one that keeps the bytes until the peer's ACK needs a window that covers the
 * bandwidth-delay product (64 x 16 KiB = 1 MiB per stream). */
#define BODY_CHUNKS_COPIED 4
#define BODY_CHUNKS_HELD 64
#define WRITEV_MAX 16
/* After a max_requests GOAWAY, how long the client gets to close the idle
 * connection itself: closing at once races its next request (curl then fails
 * it instead of moving it to a new connection). */
#define RECYCLE_GRACE_MS 2000
/* Streams nghttp3 may hold bytes of (QPACK-blocked) at once; the SETTINGS value
 * advertised to clients is this. */
#define HELD_MAX 16
/* Rapid reset (CVE-2023-44487 for HTTP/3): a client that abandons more than
 * half of what it opens, once it has opened RESET_MIN streams, is closed with
 * H3_EXCESSIVE_LOAD; so is one that keeps opening streams after GOAWAY. */
#define RESET_MIN 200
#define AFTER_GOAWAY_MAX 100

struct chunk {
    struct chunk *next;
    size_t len, acked;
    uint8_t data[BODY_CHUNK];
};

struct h3g_exchange {
    int64_t id;
    struct session *sess;
    struct h3g_exchange *prev, *next;
    struct h3g_request req;
    size_t header_bytes;
    int too_large;
    int responded;
    int status;
    int head;
    int body_failed;
    int blocked_on_chunks;
    int complete; /* whole response handed to QUIC */
    struct h3g_body body;
    struct chunk *chunks, *chunks_tail;
    size_t nchunks;
    uint64_t bytes_sent;
    uint64_t start_us;
    const char *error;
    /* a handler that answers later (h3g_exchange_ops) */
    const struct h3g_exchange_ops *xops;
    void *xctx;
    int deferred;       /* waiting for h3g_exchange_respond */
    int source_blocked; /* response_body said "not yet" */
    int source_eof;
    int released;
    int rejected;        /* over the per-connection request limit */
    uint64_t body_bytes; /* request body received */
    int body_limited;    /* over the request body limit */
    int handler_paused;  /* request_body said "no more for now" */
    const struct h3g_header_rules *rules;
    char note[200];
};

struct session {
    h3g_qconn *qc;
    nghttp3_conn *h3;
    const struct h3g_h3_config *cfg;
    struct h3g_exchange *streams;
    uint64_t requests;
    uint64_t start_us;
    int shutting_down;
    int recycling; /* GOAWAY for max_requests, not for a server shutdown */
    int in_write;
    int pending_fail;       /* streams with body_failed wait for reset */
    size_t active;          /* request streams with an open exchange */
    size_t max_chunks;      /* see BODY_CHUNKS_HELD */
    int64_t next_bidi;      /* the lowest client stream id not seen yet */
    uint64_t opened;        /* request streams the client opened (seen or skipped) */
    uint64_t client_resets; /* of those, abandoned by the client before the response */
    uint64_t after_goaway;  /* opened after our GOAWAY */
    int excessive;          /* closed for abuse (logged once) */
    int finishing;          /* the close after GOAWAY is under way */
    int64_t held[HELD_MAX]; /* streams paused while nghttp3 holds their bytes */
    size_t nheld;
    int64_t reading;  /* the stream h3_stream_data is feeding to nghttp3 */
    size_t delivered; /* its DATA payload handed to on_recv_data meanwhile */
};

static struct h3g_h3_stats g_stats;

const struct h3g_h3_stats *h3g_h3_stats(void)
{
    return &g_stats;
}

/* ---- helpers ---- */

static void close_conn_ng(struct session *s, int ngerr, const char *where)
{
    uint64_t code = nghttp3_err_infer_quic_app_error_code(ngerr);
    char reason[128];
    snprintf(reason, sizeof(reason), "%s: %s", where, nghttp3_strerror(ngerr));
    h3g_debug("%s: closing connection: %s (%s)", h3g_qconn_peer(s->qc), reason,
              h3g_h3_error_name(code) ? h3g_h3_error_name(code) : "?");
    h3g_qconn_close(s->qc, code, reason);
}

/* Body chunks are recycled process-wide (h3gate is single-threaded): a 16 KiB
 * malloc and free per response was a tenth of a small request's CPU, mostly in
 * glibc's consolidation of large chunks.  At most CHUNK_POOL_MAX are kept. */
#define CHUNK_POOL_MAX 64
static struct chunk *g_chunk_pool;
static size_t g_chunk_pool_len;

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

void h3g_h3_cleanup(void)
{
    while (g_chunk_pool != NULL) {
        struct chunk *c = g_chunk_pool;
        g_chunk_pool = c->next;
        free(c);
    }
    g_chunk_pool_len = 0;
}

static void chunk_free_all(struct h3g_exchange *hs)
{
    while (hs->chunks != NULL) {
        struct chunk *c = hs->chunks;
        hs->chunks = c->next;
        chunk_put(c);
    }
    hs->chunks_tail = NULL;
    hs->nchunks = 0;
}

static void hstream_log(struct h3g_exchange *hs)
{
    struct h3g_access_entry e = {
        .client = h3g_qconn_peer(hs->sess->qc),
        .method = hs->req.method,
        .authority = hs->req.authority,
        .path = hs->req.path,
        .status = hs->responded ? hs->status : 0,
        .bytes_sent = hs->bytes_sent,
        .duration_us = h3g_now_us() - hs->start_us,
        .stream_id = hs->id,
        .error = hs->error,
        .note = hs->note[0] ? hs->note : NULL,
        .early = hs->req.early,
    };
    h3g_access_log_request(&e);
}

static void hstream_free(struct h3g_exchange *hs)
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
    h3g_request_reset(&hs->req);
    s->active--;
    if (hs->xops != NULL && !hs->released) {
        hs->released = 1;
        hs->xops->release(hs->xctx, !hs->complete || hs->error != NULL);
    }
    free(hs);
    g_stats.active_requests--;
}

/* Resets a request stream in both directions with an HTTP/3 error code. */
static void hstream_abort(struct h3g_exchange *hs, uint64_t code, const char *why)
{
    if (hs->error == NULL)
        hs->error = why;
    g_stats.resets++;
    h3g_qconn_reset(hs->sess->qc, hs->id, code);
    nghttp3_conn_shutdown_stream_read(hs->sess->h3, hs->id);
    nghttp3_conn_shutdown_stream_write(hs->sess->h3, hs->id);
}

static void session_write(struct session *s);

/* Records why a stream ended, by HTTP/3 error name, unless already known. */
static void note_code(struct h3g_exchange *hs, uint64_t code, const char *fallback)
{
    if (hs != NULL && hs->error == NULL) {
        const char *name = h3g_h3_error_name(code);
        hs->error = name ? name : fallback;
    }
}

/* ---- response body ---- */

/* The next body bytes: a count, 0 at the end, H3G_EAGAIN for "not yet" (a
 * handler producing them over time), another negative code when it failed. */
static ssize_t body_next(struct h3g_exchange *hs, uint8_t *buf, size_t cap)
{
    if (hs->body.kind == H3G_BODY_SOURCE)
        return hs->released ? H3G_ERR : hs->xops->response_body(hs->xctx, buf, cap);
    if (hs->body.remaining == 0)
        return 0;
    ssize_t r = h3g_body_read(&hs->body, buf, cap);
    return r > 0 ? r : H3G_ERR; /* the file failed or shrank */
}

static nghttp3_ssize read_body(nghttp3_conn *conn, int64_t sid, nghttp3_vec *vec, size_t veccnt,
                               uint32_t *pflags, void *conn_ud, void *stream_ud)
{
    struct h3g_exchange *hs = stream_ud;
    size_t n = 0;
    H3G_UNUSED(conn);
    H3G_UNUSED(conn_ud);
    H3G_UNUSED(sid);
    if (hs == NULL || hs->body_failed)
        return NGHTTP3_ERR_WOULDBLOCK;
    while (n < veccnt && !hs->source_eof) {
        if (hs->nchunks >= hs->sess->max_chunks) {
            hs->blocked_on_chunks = 1;
            break;
        }
        if (hs->body.kind != H3G_BODY_SOURCE && hs->body.remaining == 0) {
            hs->source_eof = 1; /* known without reading */
            break;
        }
        struct chunk *c = chunk_get();
        ssize_t r = c != NULL ? body_next(hs, c->data, sizeof(c->data)) : H3G_ENOMEM;
        if (r <= 0) {
            if (c != NULL)
                chunk_put(c);
            if (r == 0) {
                hs->source_eof = 1;
            } else if (r == H3G_EAGAIN) {
                hs->source_blocked = 1;
            } else {
                /* The client must see a reset, never a short body that looks
                 * complete. */
                hs->body_failed = 1;
                hs->sess->pending_fail = 1;
            }
            break;
        }
        c->len = (size_t)r;
        c->acked = 0;
        c->next = NULL;
        if (hs->chunks_tail != NULL)
            hs->chunks_tail->next = c;
        else
            hs->chunks = c;
        hs->chunks_tail = c;
        hs->nchunks++;
        vec[n].base = c->data;
        vec[n].len = c->len;
        n++;
    }
    if (hs->source_eof) {
        *pflags |= NGHTTP3_DATA_FLAG_EOF;
        return (nghttp3_ssize)n;
    }
    return n == 0 ? NGHTTP3_ERR_WOULDBLOCK : (nghttp3_ssize)n;
}

static int on_acked_stream_data(nghttp3_conn *conn, int64_t sid, uint64_t datalen, void *conn_ud,
                                void *stream_ud)
{
    struct h3g_exchange *hs = stream_ud;
    H3G_UNUSED(sid);
    H3G_UNUSED(conn_ud);
    if (hs == NULL)
        return 0;
    hs->bytes_sent += datalen;
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
    if (hs->blocked_on_chunks && hs->nchunks < hs->sess->max_chunks && !hs->source_blocked) {
        hs->blocked_on_chunks = 0;
        nghttp3_conn_resume_stream(conn, hs->id);
    }
    return 0;
}

/* ---- request handling ---- */

static int submit_response(struct session *s, struct h3g_exchange *hs, struct h3g_response *resp)
{
    char status[4];
    size_t n = 0, pos = 0;
    const char *name, *value;
    nghttp3_data_reader dr = {.read_data = read_body};
    int rv;
    /* Every field the handler gave (a proxied response may carry many), the
     * route's additions and :status. */
    nghttp3_nv *nva =
        malloc((resp->nheaders + (hs->rules ? hs->rules->nadd : 0) + 1) * sizeof(*nva));
    if (nva == NULL)
        return NGHTTP3_ERR_NOMEM;

    snprintf(status, sizeof(status), "%03d", resp->status);
    nva[n++] = (nghttp3_nv){(uint8_t *)":status", (uint8_t *)status, 7, 3, NGHTTP3_NV_FLAG_NONE};
    while (h3g_response_next(resp, &pos, &name, &value)) {
        int drop = 0;
        for (size_t i = 0; hs->rules != NULL && i < hs->rules->nremove; i++)
            if (strcmp(hs->rules->remove[i], name) == 0)
                drop = 1;
        if (!drop)
            nva[n++] = (nghttp3_nv){(uint8_t *)name, (uint8_t *)value, strlen(name), strlen(value),
                                    NGHTTP3_NV_FLAG_NONE};
    }
    for (size_t i = 0; hs->rules != NULL && i < hs->rules->nadd; i++)
        nva[n++] = (nghttp3_nv){(uint8_t *)hs->rules->add_name[i],
                                (uint8_t *)hs->rules->add_value[i], strlen(hs->rules->add_name[i]),
                                strlen(hs->rules->add_value[i]), NGHTTP3_NV_FLAG_NONE};
    hs->status = resp->status;
    hs->responded = 1;
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
    rv = nghttp3_conn_submit_response(s->h3, hs->id, nva, n, has_body ? &dr : NULL);
    free(nva);
    return rv;
}

/* The request body is over the limit: 413 if nothing was answered yet, else
 * a reset.  The client is asked to stop sending the rest with H3_NO_ERROR
 * (RFC 9114 §4.1), so it keeps the 413. */
static void send_413(struct session *s, struct h3g_exchange *hs)
{
    struct h3g_response resp;
    if (hs->responded) {
        h3g_qconn_stop_reading(s->qc, hs->id, H3G_H3_EXCESSIVE_LOAD);
        nghttp3_conn_shutdown_stream_read(s->h3, hs->id);
        hstream_abort(hs, H3G_H3_EXCESSIVE_LOAD, "request body too large");
        return;
    }
    /* A handler already working on it (the proxy) lets go now: its origin
     * will not get the rest. */
    if (hs->xops != NULL && !hs->released) {
        hs->released = 1;
        hs->xops->release(hs->xctx, 1);
    }
    /* nghttp3 stops judging the rest (a client may end the body early once it
     * has the answer). */
    nghttp3_conn_shutdown_stream_read(s->h3, hs->id);
    h3g_qconn_stop_reading(s->qc, hs->id, H3G_H3_NO_ERROR);
    h3g_response_init(&resp);
    hs->deferred = 0;
    if (h3g_response_error(&resp, 413) != 0 || h3g_response_add(&resp, "server", "h3gate") != 0 ||
        submit_response(s, hs, &resp) != 0)
        hstream_abort(hs, H3G_H3_INTERNAL_ERROR, "cannot build response");
    if (hs->error == NULL)
        hs->error = "request body too large";
    h3g_response_free(&resp);
}

/* Methods that early data may carry (RFC 9110 §9.2.1: safe). */
static int method_is_safe(const char *m)
{
    return m != NULL &&
           (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0);
}

static void dispatch(struct session *s, struct h3g_exchange *hs)
{
    struct h3g_response resp;
    int rv;
    h3g_response_init(&resp);
    hs->head = hs->req.method != NULL && strcmp(hs->req.method, "HEAD") == 0;
    hs->req.early = h3g_qconn_stream_early(s->qc, hs->id);
    if (hs->req.early && !method_is_safe(hs->req.method)) {
        /* A replayed POST must not run twice: the client retries it after the
         * handshake (RFC 8470 §5.2). */
        rv = h3g_response_error(&resp, 425);
        if (rv == 0)
            rv = h3g_response_add(&resp, "server", "h3gate");
        hs->error = "too early";
    } else if (hs->too_large) {
        rv = h3g_response_error(&resp, 431);
        if (rv == 0)
            rv = h3g_response_add(&resp, "server", "h3gate");
    } else {
        rv = s->cfg->handler(s->cfg->handler_ctx, &hs->req, &resp, hs);
        if (rv == H3G_EAGAIN) {
            hs->deferred = 1; /* h3g_exchange_respond comes later */
            h3g_response_free(&resp);
            return;
        }
    }
    if (rv == 0)
        rv = submit_response(s, hs, &resp);
    else
        rv = -1;
    h3g_response_free(&resp);
    if (rv != 0)
        hstream_abort(hs, H3G_H3_INTERNAL_ERROR, "cannot build response");
}

static int on_begin_headers(nghttp3_conn *conn, int64_t sid, void *conn_ud, void *stream_ud)
{
    struct session *s = conn_ud;
    struct h3g_exchange *hs;
    H3G_UNUSED(stream_ud);
    hs = calloc(1, sizeof(*hs));
    if (hs == NULL)
        return NGHTTP3_ERR_CALLBACK_FAILURE;
    hs->id = sid;
    hs->sess = s;
    hs->start_us = h3g_now_us();
    hs->body.fd = -1;
    h3g_request_init(&hs->req, s->cfg->max_header_fields);
    hs->next = s->streams;
    if (s->streams != NULL)
        s->streams->prev = hs;
    s->streams = hs;
    s->requests++;
    s->active++;
    g_stats.requests++;
    g_stats.active_requests++;
    if (s->cfg->max_streams > 0 && s->active > s->cfg->max_streams)
        hs->rejected = 1; /* answered at end_headers */
    nghttp3_conn_set_stream_user_data(conn, sid, hs);
    return 0;
}

static int on_recv_header(nghttp3_conn *conn, int64_t sid, int32_t token, nghttp3_rcbuf *name,
                          nghttp3_rcbuf *value, uint8_t flags, void *conn_ud, void *stream_ud)
{
    struct h3g_exchange *hs = stream_ud;
    nghttp3_vec n = nghttp3_rcbuf_get_buf(name), v = nghttp3_rcbuf_get_buf(value);
    H3G_UNUSED(conn);
    H3G_UNUSED(sid);
    H3G_UNUSED(token);
    H3G_UNUSED(flags);
    H3G_UNUSED(conn_ud);
    if (hs == NULL || hs->too_large)
        return 0;
    /* RFC 9114 §4.2.2: name + value + 32 bytes per field. */
    hs->header_bytes += n.len + v.len + 32;
    if (hs->header_bytes > hs->sess->cfg->max_field_section_size) {
        hs->too_large = 1;
        return 0;
    }
    int rv = h3g_request_add(&hs->req, n.base, n.len, v.base, v.len);
    if (rv == H3G_ELIMIT)
        hs->too_large = 1;
    else if (rv == H3G_ENOMEM)
        return NGHTTP3_ERR_CALLBACK_FAILURE;
    return 0;
}

static int on_end_headers(nghttp3_conn *conn, int64_t sid, int fin, void *conn_ud, void *stream_ud)
{
    struct session *s = conn_ud;
    struct h3g_exchange *hs = stream_ud;
    H3G_UNUSED(conn);
    H3G_UNUSED(sid);
    H3G_UNUSED(fin);
    if (hs == NULL || hs->responded)
        return 0;
    if (!hs->too_large && h3g_request_finish(&hs->req) != 0) {
        /* Malformed request: a stream error, the connection carries on
         * (RFC 9114 §4.1.2). */
        h3g_debug("%s: stream %lld: malformed request: %s", h3g_qconn_peer(s->qc),
                  (long long)hs->id, hs->req.error);
        hs->error = "H3_MESSAGE_ERROR";
        hstream_abort(hs, H3G_H3_MESSAGE_ERROR, "H3_MESSAGE_ERROR");
        return 0;
    }
    if (hs->too_large)
        (void)h3g_request_finish(&hs->req);
    if (hs->rejected) {
        /* Not processed: the client may retry it (RFC 9114 §4.1.1). */
        hstream_abort(hs, H3G_H3_REQUEST_REJECTED, "H3_REQUEST_REJECTED");
        return 0;
    }
    if (s->cfg->max_request_body > 0 && hs->req.content_length > 0 &&
        (uint64_t)hs->req.content_length > s->cfg->max_request_body) {
        /* Not dispatched.  The 413 goes out once the body crosses the limit
         * (or ends): clients keep sending until then, and answering before
         * the body starts leaves some (curl) waiting forever. */
        hs->body_limited = 1;
        hs->too_large = 0;
        hs->deferred = 1;
        return 0;
    }
    dispatch(s, hs);
    return 0;
}

static int on_recv_data(nghttp3_conn *conn, int64_t sid, const uint8_t *data, size_t datalen,
                        void *conn_ud, void *stream_ud)
{
    struct session *s = conn_ud;
    struct h3g_exchange *hs = stream_ud;
    H3G_UNUSED(conn);
    if (sid == s->reading)
        s->delivered += datalen;
    if (hs == NULL) {
        h3g_qconn_consume(s->qc, sid, datalen);
        return 0;
    }
    hs->body_bytes += datalen;
    if (hs->body_limited) {
        h3g_qconn_consume(s->qc, sid, datalen);
        if (!hs->responded && hs->body_bytes > s->cfg->max_request_body)
            send_413(s, hs);
        return 0;
    }
    /* The bytes are ours now (a handler copies what it keeps). */
    h3g_qconn_consume(s->qc, sid, datalen);
    if (s->cfg->max_request_body > 0 && hs->body_bytes > s->cfg->max_request_body) {
        hs->body_limited = 1;
        send_413(s, hs);
        return 0;
    }
    /* Handlers without a request_body callback (static files) discard it. */
    if (hs->xops == NULL || hs->xops->request_body == NULL || hs->released)
        return 0;
    if (hs->xops->request_body(hs->xctx, data, datalen, 0) == H3G_EAGAIN) {
        hs->handler_paused = 1;
        h3g_qconn_pause_read(s->qc, sid, 1); /* QUIC flow control holds the client */
    }
    return 0;
}

static int on_end_stream(nghttp3_conn *conn, int64_t sid, void *conn_ud, void *stream_ud)
{
    struct h3g_exchange *hs = stream_ud;
    H3G_UNUSED(conn);
    H3G_UNUSED(sid);
    if (hs != NULL && hs->body_limited && !hs->responded)
        send_413(conn_ud, hs); /* the body ended below its announced length */
    if (hs != NULL && hs->xops != NULL && hs->xops->request_body != NULL && !hs->released &&
        !hs->body_limited)
        hs->xops->request_body(hs->xctx, NULL, 0, 1);
    return 0;
}

static int on_stream_close(nghttp3_conn *conn, int64_t sid, uint64_t code, void *conn_ud,
                           void *stream_ud)
{
    struct h3g_exchange *hs = stream_ud;
    H3G_UNUSED(conn);
    H3G_UNUSED(sid);
    H3G_UNUSED(conn_ud);
    if (hs == NULL)
        return 0;
    if (code != H3G_H3_NO_ERROR)
        note_code(hs, code, "reset");
    hstream_log(hs);
    hstream_free(hs);
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
    struct h3g_exchange *hs = stream_ud;
    H3G_UNUSED(conn);
    note_code(hs, code, "reset");
    g_stats.resets++;
    h3g_qconn_reset(s->qc, sid, code);
    return 0;
}

static int on_shutdown(nghttp3_conn *conn, int64_t id, void *conn_ud)
{
    H3G_UNUSED(conn);
    H3G_UNUSED(id);
    H3G_UNUSED(conn_ud);
    return 0; /* the client's GOAWAY: nothing to cancel, we never push */
}

/* ---- writing ---- */

static void fail_bodies(struct session *s)
{
    struct h3g_exchange *hs, *next;
    s->pending_fail = 0;
    for (hs = s->streams; hs != NULL; hs = next) {
        next = hs->next;
        if (hs->body_failed && !hs->complete) {
            hs->complete = 1;
            h3g_warn("%s: stream %lld: response body failed after %llu bytes; resetting",
                     h3g_qconn_peer(s->qc), (long long)hs->id, (unsigned long long)hs->bytes_sent);
            hstream_abort(hs, H3G_H3_INTERNAL_ERROR, "body read failed");
        }
    }
}

static void session_write(struct session *s)
{
    nghttp3_vec vec[WRITEV_MAX];
    h3g_iovec iov[WRITEV_MAX];
    if (s->in_write)
        return;
    s->in_write = 1;
    for (;;) {
        int64_t sid = -1;
        int fin = 0;
        size_t written = 0;
        nghttp3_ssize n = nghttp3_conn_writev_stream(s->h3, &sid, &fin, vec, WRITEV_MAX);
        if (n < 0) {
            close_conn_ng(s, (int)n, "writev_stream");
            break;
        }
        if (sid < 0)
            break;
        for (nghttp3_ssize i = 0; i < n; i++) {
            iov[i].base = vec[i].base;
            iov[i].len = vec[i].len;
        }
        int rv = h3g_qconn_write(s->qc, sid, iov, (size_t)n, fin, &written);
        if (rv == H3G_ECLOSED) {
            /* The peer stopped this stream (STOP_SENDING) or it was reset. */
            nghttp3_conn_shutdown_stream_write(s->h3, sid);
            struct h3g_exchange *hs = NULL;
            for (hs = s->streams; hs != NULL && hs->id != sid; hs = hs->next)
                ;
            if (hs != NULL) {
                if (hs->error == NULL)
                    hs->error = "stopped by client";
                h3g_qconn_reset(s->qc, sid, H3G_H3_REQUEST_CANCELLED);
            } else if ((sid & 3) == 3) {
                h3g_qconn_close(s->qc, H3G_H3_CLOSED_CRITICAL_STREAM, "critical stream closed");
                break;
            }
            continue;
        }
        /* nghttp3 keeps the bytes until stream_acked releases them. */
        int r2 = nghttp3_conn_add_write_offset(s->h3, sid, written);
        if (r2 != 0) {
            close_conn_ng(s, r2, "write offset");
            break;
        }
        if (rv == H3G_EAGAIN) {
            nghttp3_conn_block_stream(s->h3, sid);
        } else if (fin) {
            for (struct h3g_exchange *hs = s->streams; hs != NULL; hs = hs->next)
                if (hs->id == sid)
                    hs->complete = 1;
        }
        if (s->pending_fail)
            fail_bodies(s);
    }
    s->in_write = 0;
}

/* ---- engine upcalls ---- */

static int on_deferred_consume(nghttp3_conn *conn, int64_t sid, size_t consumed, void *conn_ud,
                               void *stream_ud);

static void *h3_conn_ready(h3g_qconn *qc, void *engine_arg)
{
    const struct h3g_h3_config *cfg = engine_arg;
    struct session *s = calloc(1, sizeof(*s));
    nghttp3_callbacks cbs = {
        .acked_stream_data = on_acked_stream_data,
        .stream_close = on_stream_close,
        .recv_data = on_recv_data,
        .end_stream = on_end_stream,
        .begin_headers = on_begin_headers,
        .recv_header = on_recv_header,
        .end_headers = on_end_headers,
        .stop_sending = on_ng_stop_sending,
        .reset_stream = on_ng_reset_stream,
        .shutdown = on_shutdown,
        .deferred_consume = on_deferred_consume,
    };
    nghttp3_settings settings;
    int64_t ctrl, qenc, qdec;
    int rv;

    if (s == NULL)
        return NULL;
    s->qc = qc;
    s->cfg = cfg;
    s->reading = -1;
    s->max_chunks =
        (h3g_qconn_caps(qc) & H3G_ENGINE_CAP_COPIES_WRITES) ? BODY_CHUNKS_COPIED : BODY_CHUNKS_HELD;
    s->start_us = h3g_now_us();
    nghttp3_settings_default(&settings);
    settings.max_field_section_size = cfg->max_field_section_size;
    settings.qpack_max_dtable_capacity = 4096;
    settings.qpack_blocked_streams = HELD_MAX;
    if (nghttp3_conn_server_new(&s->h3, &cbs, &settings, NULL, s) != 0) {
        free(s);
        return NULL;
    }
    /* Our control and QPACK streams open before any response, so they get the
     * first server-initiated uni ids: 3, 7, 11 (review lesson 5). */
    if ((rv = h3g_qconn_open_uni(qc, &ctrl)) != 0 || (rv = h3g_qconn_open_uni(qc, &qenc)) != 0 ||
        (rv = h3g_qconn_open_uni(qc, &qdec)) != 0) {
        h3g_warn("%s: cannot open HTTP/3 control streams: %s", h3g_qconn_peer(qc),
                 rv == H3G_ELIMIT ? "the client allows too few unidirectional streams"
                                  : "QUIC stack error");
        nghttp3_conn_del(s->h3);
        free(s);
        h3g_qconn_close(qc, rv == H3G_ELIMIT ? H3G_H3_STREAM_CREATION_ERROR : H3G_H3_INTERNAL_ERROR,
                        "cannot open control streams");
        return NULL;
    }
    if (nghttp3_conn_bind_control_stream(s->h3, ctrl) != 0 ||
        nghttp3_conn_bind_qpack_streams(s->h3, qenc, qdec) != 0) {
        nghttp3_conn_del(s->h3);
        free(s);
        return NULL;
    }
    g_stats.connections++;
    h3g_debug("%s: HTTP/3 ready (control %lld, qpack %lld/%lld)", h3g_qconn_peer(qc),
              (long long)ctrl, (long long)qenc, (long long)qdec);
    session_write(s);
    return s;
}

static struct h3g_exchange *find_hs(struct session *s, int64_t sid);

static void close_excessive(struct session *s, const char *why)
{
    if (s->excessive)
        return;
    s->excessive = 1;
    h3g_warn("%s: closing connection: %s (%llu streams opened, %llu reset by the client)",
             h3g_qconn_peer(s->qc), why, (unsigned long long)s->opened,
             (unsigned long long)s->client_resets);
    h3g_qconn_close(s->qc, H3G_H3_EXCESSIVE_LOAD, why);
}

/* Counts the client's request streams by id, so that streams reset before their
 * headers (which nghttp3 never reports) count too.  Returns -1 once the client
 * has opened too many after GOAWAY (the connection is then closed). */
static int count_opened(struct session *s, int64_t sid)
{
    uint64_t n;
    if ((sid & 3) != 0 || sid < s->next_bidi)
        return 0;
    n = (uint64_t)(sid - s->next_bidi) / 4 + 1;
    s->opened += n;
    s->next_bidi = sid + 4;
    if (s->shutting_down && (s->after_goaway += n) > AFTER_GOAWAY_MAX) {
        close_excessive(s, "streams opened after GOAWAY");
        return -1;
    }
    return 0;
}

static int held_find(const struct session *s, int64_t sid)
{
    for (size_t i = 0; i < s->nheld; i++)
        if (s->held[i] == sid)
            return (int)i;
    return -1;
}

/* nghttp3 kept bytes of the stream it cannot decode yet (a field section that
 * references QPACK entries still to come): deliver no more of it until nghttp3
 * lets go (deferred_consume), so neither nghttp3's buffer nor the peer's flow
 * control credit grows meanwhile. */
static int hold_stream(struct session *s, int64_t sid)
{
    if (held_find(s, sid) >= 0)
        return 0;
    if (s->nheld == HELD_MAX) {
        close_excessive(s, "too many QPACK-blocked streams");
        return -1;
    }
    s->held[s->nheld++] = sid;
    h3g_qconn_pause_read(s->qc, sid, 1);
    return 0;
}

static int on_deferred_consume(nghttp3_conn *conn, int64_t sid, size_t consumed, void *conn_ud,
                               void *stream_ud)
{
    struct session *s = conn_ud;
    struct h3g_exchange *hs = stream_ud;
    int i = held_find(s, sid);
    H3G_UNUSED(conn);
    h3g_qconn_consume(s->qc, sid, consumed);
    if (i >= 0) {
        s->held[i] = s->held[--s->nheld];
        if (hs == NULL || !hs->handler_paused)
            h3g_qconn_pause_read(s->qc, sid, 0);
    }
    return 0;
}

static int h3_stream_data(h3g_qconn *qc, int64_t sid, const uint8_t *data, size_t len, int fin,
                          void *conn_arg)
{
    struct session *s = conn_arg;
    nghttp3_ssize rv;
    size_t held;
    if (count_opened(s, sid) != 0)
        return -1;
    /* nghttp3 checks stream ids in PRIORITY_UPDATE (Chromium sends them) and
     * GOAWAY against this; it only grows. */
    nghttp3_conn_set_max_client_streams_bidi(s->h3, h3g_qconn_peer_bidi_limit(qc));
    s->reading = sid;
    s->delivered = 0;
    rv = nghttp3_conn_read_stream(s->h3, sid, data, len, fin);
    s->reading = -1;
    if (rv < 0) {
        close_conn_ng(s, (int)rv, "read_stream");
        return -1;
    }
    /* Framing and field sections are done with; DATA payload was consumed by
     * on_recv_data; what is left nghttp3 holds. */
    h3g_qconn_consume(qc, sid, (size_t)rv);
    held = len - (size_t)rv - H3G_MIN(s->delivered, len - (size_t)rv);
    if (held > 0 && hold_stream(s, sid) != 0)
        return -1;
    if (s->cfg->max_requests > 0 && s->opened >= s->cfg->max_requests && !s->shutting_down) {
        /* Enough requests on this connection: GOAWAY, finish what was sent,
         * close; the client continues on a new connection (RFC 9114 §5.2). */
        h3g_h3_begin_shutdown(qc, s, NULL);
        s->recycling = s->shutting_down;
        return 0;
    }
    session_write(s);
    return 0;
}

static struct h3g_exchange *find_hs(struct session *s, int64_t sid)
{
    struct h3g_exchange *hs = s->streams;
    while (hs != NULL && hs->id != sid)
        hs = hs->next;
    return hs;
}

static int h3_stream_reset(h3g_qconn *qc, int64_t sid, uint64_t code, void *conn_arg)
{
    struct session *s = conn_arg;
    struct h3g_exchange *hs = find_hs(s, sid);
    H3G_UNUSED(qc);
    if (count_opened(s, sid) != 0)
        return -1;
    nghttp3_conn_shutdown_stream_read(s->h3, sid);
    /* The client abandoned its request (its side ended without FIN), whether
     * or not the response had gone out. */
    if ((sid & 3) == 0 && ++s->client_resets >= RESET_MIN && s->client_resets * 2 > s->opened) {
        close_excessive(s, "rapid reset: the client abandons most of its requests");
        return -1;
    }
    if (hs != NULL && !hs->complete) {
        /* The client abandoned the request: abandon the response too. */
        note_code(hs, code, "reset by client");
        hstream_abort(hs, H3G_H3_REQUEST_CANCELLED, hs->error);
    }
    session_write(s);
    return 0;
}

/* After GOAWAY, the connection closes once nghttp3 has nothing left: every
 * request done and what it wrote acknowledged (which may come after the last
 * stream closed). */
static void finish_shutdown(struct session *s)
{
    if (!s->shutting_down || s->finishing || !nghttp3_conn_is_drained(s->h3))
        return;
    s->finishing = 1;
    if (s->recycling) /* the client closes it once it has read the GOAWAY */
        h3g_qconn_close_after(s->qc, RECYCLE_GRACE_MS, H3G_H3_NO_ERROR, "max requests");
    else
        h3g_qconn_close(s->qc, H3G_H3_NO_ERROR, "shutdown");
}

static int h3_stream_acked(h3g_qconn *qc, int64_t sid, uint64_t n, void *conn_arg)
{
    struct session *s = conn_arg;
    int rv = nghttp3_conn_add_ack_offset(s->h3, sid, n);
    H3G_UNUSED(qc);
    if (rv != 0 && rv != NGHTTP3_ERR_STREAM_NOT_FOUND) {
        close_conn_ng(s, rv, "ack offset");
        return -1;
    }
    session_write(s);
    finish_shutdown(s);
    return 0;
}

static int h3_stream_stopped(h3g_qconn *qc, int64_t sid, uint64_t code, void *conn_arg)
{
    H3G_UNUSED(qc);
    H3G_UNUSED(code);
    struct session *s = conn_arg;
    struct h3g_exchange *hs = find_hs(s, sid);
    if (hs != NULL)
        hstream_abort(hs, H3G_H3_REQUEST_CANCELLED, "stopped by client");
    return 0;
}

static int h3_stream_writable(h3g_qconn *qc, int64_t sid, void *conn_arg)
{
    struct session *s = conn_arg;
    H3G_UNUSED(qc);
    nghttp3_conn_unblock_stream(s->h3, sid);
    session_write(s);
    return 0;
}

static int h3_stream_closed(h3g_qconn *qc, int64_t sid, uint64_t code, void *conn_arg)
{
    struct session *s = conn_arg;
    int rv;
    int i = held_find(s, sid);
    H3G_UNUSED(qc);
    if (i >= 0)
        s->held[i] = s->held[--s->nheld];
    rv = nghttp3_conn_close_stream(s->h3, sid, code);
    if (rv != 0 && rv != NGHTTP3_ERR_STREAM_NOT_FOUND) {
        close_conn_ng(s, rv, "close_stream");
        return -1;
    }
    if (rv == NGHTTP3_ERR_STREAM_NOT_FOUND) {
        /* nghttp3 never saw headers on it (reset early): our record goes too. */
        struct h3g_exchange *hs = find_hs(s, sid);
        if (hs != NULL) {
            hstream_log(hs);
            hstream_free(hs);
        }
    }
    finish_shutdown(s);
    return 0;
}

static int h3_conn_flush(h3g_qconn *qc, void *conn_arg)
{
    H3G_UNUSED(qc);
    session_write(conn_arg);
    return 0;
}

static void h3_conn_closed(h3g_qconn *qc, const struct h3g_close_info *ci, void *conn_arg)
{
    struct session *s = conn_arg;
    struct h3g_close_entry e = {
        .client = h3g_qconn_peer(qc),
        .error_code = ci->error_code,
        .frame_type = ci->frame_type,
        .transport = ci->transport,
        .local = ci->local,
        .idle = ci->idle,
        .reason = ci->reason,
        .reason_len = ci->reason_len,
        .requests = s ? s->requests : 0,
        .duration_us = s ? h3g_now_us() - s->start_us : 0,
    };
    h3g_access_log_close_conn(&e);
    if (s == NULL)
        return;
    while (s->streams != NULL) {
        struct h3g_exchange *hs = s->streams;
        if (hs->error == NULL && !hs->complete)
            hs->error = "connection closed";
        hstream_log(hs);
        hstream_free(hs);
    }
    nghttp3_conn_del(s->h3);
    free(s);
}

const struct h3g_engine_callbacks h3g_h3_engine_callbacks = {
    .conn_ready = h3_conn_ready,
    .stream_data = h3_stream_data,
    .stream_reset = h3_stream_reset,
    .stream_stopped = h3_stream_stopped,
    .stream_writable = h3_stream_writable,
    .stream_acked = h3_stream_acked,
    .stream_closed = h3_stream_closed,
    .conn_flush = h3_conn_flush,
    .conn_closed = h3_conn_closed,
};

void h3g_h3_begin_shutdown(h3g_qconn *qc, void *conn_arg, void *unused)
{
    struct session *s = conn_arg;
    H3G_UNUSED(unused);
    if (s == NULL) {
        h3g_qconn_close(qc, H3G_H3_NO_ERROR, "shutting down"); /* still in its handshake */
        return;
    }
    if (s->shutting_down) {
        if (s->recycling) { /* the server is stopping: no grace any more */
            s->recycling = 0;
            if (nghttp3_conn_is_drained(s->h3))
                h3g_qconn_close(qc, H3G_H3_NO_ERROR, "shutdown");
        }
        return;
    }
    s->shutting_down = 1;
    /* GOAWAY naming the next stream id: requests already sent still run, new
     * ones go elsewhere (RFC 9114 §5.2). */
    if (nghttp3_conn_shutdown(s->h3) != 0) {
        h3g_qconn_close(qc, H3G_H3_NO_ERROR, "shutdown");
        return;
    }
    session_write(s);
    if (s->streams == NULL)
        h3g_qconn_close(qc, H3G_H3_NO_ERROR, "shutdown");
}

void h3g_h3_force_close(h3g_qconn *qc, void *conn_arg, void *unused)
{
    struct session *s = conn_arg;
    H3G_UNUSED(unused);
    if (s != NULL) {
        for (struct h3g_exchange *hs = s->streams; hs != NULL; hs = hs->next)
            if (!hs->complete)
                hstream_abort(hs, H3G_H3_REQUEST_CANCELLED, "drain timeout");
        session_write(s);
    }
    /* Whatever the client has not acknowledged by now is not waited for. */
    h3g_qconn_abort(qc, H3G_H3_NO_ERROR, "shutdown");
}

/* ---- the exchange API for handlers that answer later ---- */

void h3g_exchange_attach(h3g_exchange *ex, const struct h3g_exchange_ops *ops, void *ctx)
{
    ex->xops = ops;
    ex->xctx = ctx;
}

void h3g_exchange_set_rules(h3g_exchange *ex, const struct h3g_header_rules *rules)
{
    ex->rules = rules;
}

int h3g_exchange_respond(h3g_exchange *ex, struct h3g_response *resp)
{
    struct session *s = ex->sess;
    int rv;
    if (!ex->deferred || ex->responded || ex->complete || ex->body_limited)
        return H3G_EINVAL;
    rv = submit_response(s, ex, resp);
    if (rv != 0) {
        hstream_abort(ex, H3G_H3_INTERNAL_ERROR, "cannot send response");
        return H3G_ERR;
    }
    session_write(s);
    return 0;
}

void h3g_exchange_resume_response(h3g_exchange *ex)
{
    if (!ex->source_blocked)
        return;
    ex->source_blocked = 0;
    if (ex->blocked_on_chunks && ex->nchunks >= ex->sess->max_chunks)
        return; /* the acks will resume it */
    ex->blocked_on_chunks = 0;
    nghttp3_conn_resume_stream(ex->sess->h3, ex->id);
    session_write(ex->sess);
}

void h3g_exchange_resume_request(h3g_exchange *ex)
{
    ex->handler_paused = 0;
    if (held_find(ex->sess, ex->id) < 0)
        h3g_qconn_pause_read(ex->sess->qc, ex->id, 0);
}

void h3g_exchange_abort(h3g_exchange *ex, uint64_t h3_code, const char *why)
{
    if (ex->complete && ex->error == NULL)
        return;
    hstream_abort(ex, h3_code, why);
    session_write(ex->sess);
}

void h3g_exchange_set_note(h3g_exchange *ex, const char *note)
{
    snprintf(ex->note, sizeof(ex->note), "%s", note);
}

const char *h3g_exchange_peer(const h3g_exchange *ex)
{
    return h3g_qconn_peer(ex->sess->qc);
}
