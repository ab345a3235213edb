/* One HTTP/2 stream of the front end: its exchange (the front end's half of
 * http/exchange.h), the response as nghttp2 pulls it, and the request body,
 * consumed in the flow-control sense only once the handler took it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "h2/h2_internal.h"
#include "obs/log.h"

/* ---- streams ---- */

struct h2_stream *h2_find(struct h2_sess *s, int32_t id)
{
    return nghttp2_session_get_stream_user_data(s->ng, id);
}

struct h2_stream *h2_stream_new(struct h2_sess *s, int32_t id)
{
    struct h2_stream *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NULL;
    h3g_exchange_init(&st->ex, &h2_front);
    st->ex.alt_svc = h3g_tcp_alt_svc(s->c);
    st->s = s;
    st->id = id;
    st->start_us = h3g_now_us();
    st->body.fd = -1;
    h3g_request_init(&st->req, s->cfg.max_header_fields);
    st->req.version = "2";
    st->next = s->streams;
    if (s->streams != NULL)
        s->streams->prev = st;
    s->streams = st;
    s->nstreams++;
    return st;
}

void h2_stream_log(const struct h2_stream *st)
{
    const struct h2_sess *s = st->s;
    struct h3g_access_entry e = {
        .client = s->peer,
        .method = st->req.method,
        .authority = st->req.authority,
        .path = st->req.path,
        .status = st->status,
        .bytes_sent = st->bytes_sent,
        .duration_us = h3g_now_us() - st->start_us,
        .stream_id = st->id,
        .error = st->error,
        .note = st->ex.note[0] ? st->ex.note : NULL,
        .protocol = "h2",
    };
    h3g_access_log_request(&e);
}

void h2_stream_free(struct h2_stream *st)
{
    struct h2_sess *s = st->s;
    if (st->prev != NULL)
        st->prev->next = st->next;
    else
        s->streams = st->next;
    if (st->next != NULL)
        st->next->prev = st->prev;
    s->nstreams--;
    /* The stream is gone from nghttp2: what it held goes back to the
     * connection's window. */
    if (st->held > 0 && !s->dead)
        nghttp2_session_consume_connection(s->ng, st->held);
    st->gone = 1; /* the handler's release may still call in: ignored */
    h3g_exchange_end(&st->ex, st->tx != TX_COMPLETE || st->error != NULL);
    h3g_body_close(&st->body);
    h3g_request_reset(&st->req);
    free(st->buf);
    free(st);
}

void h2_consume(struct h2_stream *st, size_t n)
{
    if (n > 0 && !st->s->dead)
        nghttp2_session_consume(st->s->ng, st->id, n);
}

int h2_client_sending(const struct h2_stream *st)
{
    return nghttp2_session_get_stream_remote_close(st->s->ng, st->id) == 0;
}

/* No more request body for anyone: what is held or buffered is released. */
void h2_drop_request(struct h2_stream *st)
{
    st->rx = RX_DROP;
    free(st->buf);
    st->buf = NULL;
    st->buf_len = st->buf_cap = 0;
    h2_consume(st, st->held);
    st->held = 0;
    st->paused = 0;
    st->fin_pending = 0;
}

void h2_reset_stream(struct h2_stream *st, uint32_t code, const char *why)
{
    if (st->tx == TX_RESET)
        return;
    if (st->error == NULL)
        st->error = why;
    st->tx = TX_RESET;
    h2_drop_request(st);
    nghttp2_submit_rst_stream(st->s->ng, NGHTTP2_FLAG_NONE, st->id, code);
}

/* ---- response bodies ---- */

static ssize_t read_body(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *ud)
{
    struct h2_stream *st = src->ptr;
    if (st->tx != TX_BODY)
        return NGHTTP2_ERR_DEFERRED; /* a reset is on its way */
    ssize_t r = h3g_exchange_body_next(&st->ex, &st->body, buf, len);
    if (st->tx != TX_BODY)
        return NGHTTP2_ERR_DEFERRED; /* the handler aborted while we pulled */
    if (r == H3G_EAGAIN) {
        st->deferred = 1; /* resume_response resumes it */
        return NGHTTP2_ERR_DEFERRED;
    }
    if (r < 0) {
        /* A reset, never a short body that looks complete. */
        h3g_warn("%s: h2 stream %d: response body failed after %llu bytes; resetting", st->s->peer,
                 (int)id, (unsigned long long)st->bytes_sent);
        st->error = "body read failed";
        st->tx = TX_RESET;
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM INTERNAL_ERROR */
    }
    if (r == 0 || (st->body.kind != H3G_BODY_SOURCE && st->body.remaining == 0))
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return r;
}

/* ---- responses ---- */

struct nv_list {
    nghttp2_nv *nva;
    size_t n;
};

static int add_nv(void *arg, const char *name, const char *value)
{
    struct nv_list *l = arg;
    l->nva[l->n++] = (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, strlen(name), strlen(value),
                                  NGHTTP2_NV_FLAG_NONE};
    return 0;
}

/* Takes resp's body (the caller still frees resp). */
static void take_body(struct h2_stream *st, struct h3g_response *resp)
{
    if (st->head)
        h3g_body_close(&resp->body); /* HEAD: none, and no source is pulled */
    st->body = resp->body;
    memset(&resp->body, 0, sizeof(resp->body));
    resp->body.fd = -1;
}

static int submit_response(struct h2_stream *st, struct h3g_response *resp)
{
    char status[4];
    nghttp2_data_provider dp = {.source.ptr = st, .read_callback = read_body};
    struct nv_list l = {malloc((h3g_exchange_field_count(&st->ex, resp) + 1) * sizeof(nghttp2_nv)),
                        0};
    if (l.nva == NULL)
        return H3G_ENOMEM;
    snprintf(status, sizeof(status), "%03d", resp->status);
    l.nva[l.n++] =
        (nghttp2_nv){(uint8_t *)":status", (uint8_t *)status, 7, 3, NGHTTP2_NV_FLAG_NONE};
    h3g_exchange_fields(&st->ex, resp, add_nv, &l);
    st->status = resp->status;
    st->tx = TX_BODY;
    take_body(st, resp);
    int has_body = st->body.kind == H3G_BODY_SOURCE ||
                   (st->body.kind != H3G_BODY_NONE && st->body.remaining > 0);
    /* nghttp2 copies the fields */
    int rv = nghttp2_submit_response(st->s->ng, st->id, l.nva, l.n, has_body ? &dp : NULL);
    free(l.nva);
    return rv == 0 ? 0 : H3G_ERR;
}

/* A response of our own (413, 431). */
void h2_respond_error(struct h2_stream *st, int status)
{
    struct h3g_response resp;
    h3g_response_init(&resp);
    if (h3g_response_error(&resp, status) != 0 ||
        h3g_response_add(&resp, "server", "h3gate") != 0 || submit_response(st, &resp) != 0)
        h2_reset_stream(st, NGHTTP2_INTERNAL_ERROR, "cannot build response");
    h3g_response_free(&resp);
}

/* The request body is over the limit: 413 if nothing was answered yet, else
 * a reset.  Once the 413 is out the client is told to stop with RST_STREAM
 * NO_ERROR (RFC 9113 §8.1), so it keeps the answer. */
void h2_send_413(struct h2_stream *st)
{
    if (st->tx == TX_RESET)
        return;
    if (st->tx == TX_COMPLETE) {
        if (st->error == NULL)
            st->error = "request body too large";
        h2_reset_stream(st, NGHTTP2_NO_ERROR, st->error);
        return;
    }
    if (st->tx == TX_BODY) {
        h2_reset_stream(st, NGHTTP2_ENHANCE_YOUR_CALM, "request body too large");
        return;
    }
    /* A handler already working on it (the proxy) lets go: its origin will
     * not get the rest. */
    h3g_exchange_release(&st->ex, 1);
    h2_drop_request(st);
    st->rst_after = 1;
    h2_respond_error(st, 413);
    if (st->error == NULL)
        st->error = "request body too large";
}

void h2_dispatch(struct h2_sess *s, struct h2_stream *st)
{
    struct h3g_response resp;
    st->rx = RX_BODY;
    st->tx = TX_DEFERRED; /* so that the handler may respond from inside */
    h3g_response_init(&resp);
    int rv = s->cfg.handler(s->cfg.handler_ctx, &st->req, &resp, &st->ex);
    if (rv == 0 && st->tx == TX_DEFERRED) {
        if (submit_response(st, &resp) != 0)
            h2_reset_stream(st, NGHTTP2_INTERNAL_ERROR, "cannot build response");
    } else if (rv != 0 && rv != H3G_EAGAIN && st->tx == TX_DEFERRED) {
        h2_reset_stream(st, NGHTTP2_INTERNAL_ERROR, "cannot build response");
    }
    h3g_response_free(&resp);
}

/* ---- request bodies ---- */

static int buffer_data(struct h2_stream *st, const uint8_t *data, size_t len)
{
    if (h3g_reserve((void **)&st->buf, &st->buf_cap, st->buf_len + len, 16384) != 0)
        return H3G_ENOMEM;
    memcpy(st->buf + st->buf_len, data, len);
    st->buf_len += len;
    return 0;
}

/* Body bytes for the handler.  While it has paused they wait here (bounded by
 * the windows, since none of them is consumed until it resumes). */
void h2_deliver(struct h2_stream *st, const uint8_t *data, size_t len)
{
    if (st->paused || st->redeliver) { /* behind what waits: in order */
        if (buffer_data(st, data, len) != 0) {
            h2_consume(st, len);
            h2_reset_stream(st, NGHTTP2_INTERNAL_ERROR, "out of memory");
            return;
        }
        st->held += len;
        return;
    }
    st->resumed = 0;
    if (h3g_exchange_push(&st->ex, data, len, 0) == H3G_EAGAIN && !st->resumed &&
        st->rx == RX_BODY) {
        st->paused = 1;
        st->held += len;
        return;
    }
    h2_consume(st, len);
}

void h2_end_body(struct h2_stream *st)
{
    if (st->rx == RX_OVER_LIMIT) {
        h2_send_413(st); /* the body ended below its announced length */
        return;
    }
    if (st->rx != RX_BODY)
        return;
    if (st->paused || st->redeliver) {
        st->fin_pending = 1;
        return;
    }
    st->rx = RX_DONE;
    h3g_exchange_push(&st->ex, NULL, 0, 1);
}

/* ---- the front end's half of the exchange ---- */

static struct h2_stream *live(h3g_exchange *ex)
{
    struct h2_stream *st = (struct h2_stream *)ex;
    return st->gone || st->s->dead ? NULL : st;
}

static int x_respond(h3g_exchange *ex, struct h3g_response *resp)
{
    struct h2_stream *st = live(ex);
    int rv = 0;
    if (st == NULL || st->tx != TX_DEFERRED)
        return H3G_EINVAL;
    h2_enter(st->s);
    if (submit_response(st, resp) != 0) {
        h2_reset_stream(st, NGHTTP2_INTERNAL_ERROR, "cannot send response");
        rv = H3G_ERR;
    }
    h2_leave_later(st->s);
    return rv;
}

static void x_resume_response(h3g_exchange *ex)
{
    struct h2_stream *st = live(ex);
    if (st == NULL || st->tx != TX_BODY || !st->deferred)
        return;
    h2_enter(st->s);
    st->deferred = 0;
    nghttp2_session_resume_data(st->s->ng, st->id);
    h2_leave_later(st->s);
}

/* What waited for the handler goes to it, then the window reopens.  Run from
 * the flush timer: never inside the handler's own resume call. */
static void redeliver(struct h2_stream *st)
{
    size_t held = st->held, n = st->buf_len;
    uint8_t *buf = st->buf;
    st->redeliver = 0;
    st->held = 0;
    st->buf = NULL;
    st->buf_len = st->buf_cap = 0;
    if (n > 0) {
        st->resumed = 0;
        if (h3g_exchange_push(&st->ex, buf, n, 0) == H3G_EAGAIN && !st->resumed &&
            st->rx == RX_BODY) {
            st->paused = 1; /* these stay held */
            st->held = n;
            held -= n;
        }
    }
    free(buf);
    h2_consume(st, held);
    if (!st->paused && st->fin_pending && st->rx == RX_BODY) {
        st->fin_pending = 0;
        h2_end_body(st);
    }
}

void h2_redeliver_all(struct h2_sess *s)
{
    for (struct h2_stream *st = s->streams; st != NULL; st = st->next)
        if (st->redeliver && !st->paused)
            redeliver(st);
}

static void x_resume_request(h3g_exchange *ex)
{
    struct h2_stream *st = live(ex);
    if (st == NULL)
        return;
    st->resumed = 1; /* seen by h2_deliver() when called from inside a push */
    if (!st->paused)
        return;
    st->paused = 0;
    st->redeliver = 1;
    h2_enter(st->s);
    h2_leave_later(st->s);
}

static void x_stop_request(h3g_exchange *ex)
{
    struct h2_stream *st = live(ex);
    if (st == NULL || st->rx != RX_BODY)
        return;
    h2_enter(st->s);
    h2_drop_request(st);
    st->rst_after = 1;
    if (st->tx == TX_COMPLETE && h2_client_sending(st))
        nghttp2_submit_rst_stream(st->s->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
    h2_leave_later(st->s);
}

static void x_abort(h3g_exchange *ex, const char *why)
{
    struct h2_stream *st = live(ex);
    if (st == NULL || st->tx == TX_RESET)
        return;
    h2_enter(st->s);
    if (st->tx == TX_COMPLETE) {
        /* The client has the whole response: it only has to stop sending. */
        h2_drop_request(st);
        if (h2_client_sending(st))
            nghttp2_submit_rst_stream(st->s->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
    } else {
        h2_reset_stream(st, NGHTTP2_INTERNAL_ERROR, why);
    }
    h2_leave_later(st->s);
}

static const char *x_peer(const h3g_exchange *ex)
{
    return ((const struct h2_stream *)ex)->s->peer;
}

const struct h3g_front_ops h2_front = {
    .protocol = "h2",
    .respond = x_respond,
    .resume_response = x_resume_response,
    .resume_request = x_resume_request,
    .stop_request = x_stop_request,
    .abort = x_abort,
    .peer = x_peer,
};
