/* The HTTP/2 front end (RFC 9113): one nghttp2 server session per TLS
 * connection.  Requests become protocol-neutral exchanges (http/exchange.h)
 * validated as src/h3/exchange.c does; response bodies are pulled only as the
 * connection's output queue has room, and request bodies are consumed (in the
 * flow-control sense) only once the handler took them, so a paused upload is
 * held by the client's window rather than by our memory.
 *
 * Re-entrancy: handlers may call back (respond, abort...) from inside push,
 * pull or dispatch, that is from inside nghttp2.  Every entry point brackets
 * its work with enter()/leave(); only the outermost leave() runs
 * nghttp2_session_mem_send (nghttp2 forbids it from its own callbacks), and a
 * connection closed meanwhile is freed there, never under a caller's feet. */
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "http/exchange.h"
#include "obs/log.h"
#include "tcp/conn.h"

#define STREAM_WINDOW (1u << 20)
/* Two streams' worth: held (paused) uploads are bounded by this per
 * connection, and one paused stream cannot stall the others. */
#define CONN_WINDOW (2u << 20)
#define DEFLATE_TABLE 4096
#define MAX_SETTINGS 32
#define MAX_OUTBOUND_ACK 1000
/* nghttp2's token bucket for RST_STREAM (its defaults, stated here). */
#define RESET_BURST 1000
#define RESET_RATE 33
/* Rapid reset (CVE-2023-44487), as src/h3/session.c: a client that abandons
 * more than half of what it opens, once it reset RESET_MIN, is closed. */
#define RESET_MIN 200
/* Between the shutdown notice and the final GOAWAY: requests in flight land. */
#define NOTICE_MS 1000

enum rx_state {
    RX_HEADERS,    /* the field section is arriving */
    RX_OVERSIZED,  /* over max_field_section_size or max_header_fields: 431 */
    RX_BODY,       /* dispatched: body bytes go to the handler */
    RX_OVER_LIMIT, /* content-length over max_request_body: 413 once it crosses */
    RX_DROP,       /* what still comes is dropped (answered, stopped, reset) */
    RX_DONE,       /* END_STREAM delivered */
};

enum tx_state { TX_NONE, TX_DEFERRED, TX_BODY, TX_COMPLETE, TX_RESET };

struct h2_sess;

struct h2_stream {
    h3g_exchange ex; /* first: the exchange API hands it back */
    struct h2_sess *s;
    struct h2_stream *prev, *next;
    int32_t id;
    enum rx_state rx;
    enum tx_state tx;
    struct h3g_request req;
    struct h3g_body body;
    uint64_t start_us, body_bytes, bytes_sent;
    size_t header_bytes;
    size_t held;  /* received, not yet consumed: the client's window stays shut */
    uint8_t *buf; /* arrived while the handler had paused */
    size_t buf_len, buf_cap;
    int status;
    const char *error;
    unsigned headers_done : 1, head : 1, paused : 1, resumed : 1, fin_pending : 1, deferred : 1,
        rst_after : 1, gone : 1, redeliver : 1;
};

struct h2_sess {
    h3g_tcp_conn *c; /* NULL once closed */
    const struct h3g_tcp_config *cfg;
    nghttp2_session *ng;
    struct h2_stream *streams;
    size_t nstreams;
    int busy;
    unsigned dead : 1, closing : 1, read_paused : 1, final_goaway : 1, excessive : 1;
    uint64_t opened, client_resets;
    int32_t refuse_above; /* a GOAWAY with this last id was submitted */
    uint64_t open_us, last_active_us, drain_due_us;
    uint64_t last_out_us; /* frames last went out */
    h3g_timer idle_timer, header_timer, notice_timer;
    h3g_timer flush_timer; /* frames queued by a handler go out from here */
    char peer[64];
    uint64_t conn_id;
};

static const struct h3g_front_ops h2_front;
static void sess_free(struct h2_sess *s);

/* ---- connection plumbing ---- */

static size_t out_room(const struct h2_sess *s)
{
    size_t room = h3g_tcp_write_room(s->c), q = h3g_tcp_queued(s->c);
    size_t budget = s->cfg->send_budget_conn;
    if (budget > 0)
        room = q >= budget ? 0 : H3G_MIN(room, budget - q);
    return room;
}

static void close_conn(struct h2_sess *s, int graceful)
{
    if (s->closing || s->dead)
        return;
    s->closing = 1;
    h3g_tcp_close(s->c, graceful);
}

/* Serialized frames into the connection's queue while it has room. */
static void send_pending(struct h2_sess *s)
{
    while (!s->closing && !s->dead && out_room(s) > 0) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(s->ng, &data);
        if (n < 0) {
            h3g_debug("%s: h2 send failed: %s", s->peer, nghttp2_strerror((int)n));
            close_conn(s, 0);
            return;
        }
        if (n == 0)
            break;
        s->last_out_us = h3g_now_us();
        if (h3g_tcp_write(s->c, data, (size_t)n) != 0) {
            close_conn(s, 0);
            return;
        }
    }
    /* GOAWAY sent and every stream done (or a terminating GOAWAY sent). */
    if (!s->closing && !s->dead && !nghttp2_session_want_read(s->ng) &&
        !nghttp2_session_want_write(s->ng))
        close_conn(s, 1);
}

static void enter(struct h2_sess *s)
{
    s->busy++;
}

/* Returns 0 when the session was freed (s is gone). */
static int leave(struct h2_sess *s)
{
    if (s->busy > 1) {
        s->busy--;
        return 1;
    }
    if (!s->dead)
        send_pending(s); /* still busy: callbacks under it do not recurse */
    s->busy--;
    if (s->dead) {
        sess_free(s);
        return 0;
    }
    return 1;
}

/* A handler's call (respond, resume, abort) only queues frames: sending them
 * may complete the stream and release the handler, which must not happen
 * inside the handler's own call.  They go out on the next loop turn. */
static void leave_later(struct h2_sess *s)
{
    s->busy--;
    if (s->busy == 0 && !h3g_timer_active(&s->flush_timer)) /* a dead s is freed there */
        h3g_timer_start(s->cfg->loop, &s->flush_timer, 0);
}

static void redeliver_all(struct h2_sess *s);

static void on_flush_timer(h3g_timer *t, void *arg)
{
    struct h2_sess *s = arg;
    H3G_UNUSED(t);
    enter(s);
    if (!s->dead)
        redeliver_all(s);
    leave(s);
}

/* ---- streams ---- */

static struct h2_stream *find(struct h2_sess *s, int32_t id)
{
    return nghttp2_session_get_stream_user_data(s->ng, id);
}

static struct h2_stream *stream_new(struct h2_sess *s, int32_t id)
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
    h3g_request_init(&st->req, s->cfg->max_header_fields);
    st->req.version = "2";
    st->next = s->streams;
    if (s->streams != NULL)
        s->streams->prev = st;
    s->streams = st;
    s->nstreams++;
    return st;
}

static void stream_log(const struct h2_stream *st)
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
        .conn_id = (int64_t)s->conn_id,
    };
    h3g_access_log_request(&e);
}

static void stream_free(struct h2_stream *st)
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
    h3g_exchange_release(&st->ex, st->tx != TX_COMPLETE || st->error != NULL);
    h3g_body_close(&st->body);
    h3g_request_reset(&st->req);
    free(st->buf);
    free(st);
}

static void consume(struct h2_stream *st, size_t n)
{
    if (n > 0 && !st->s->dead)
        nghttp2_session_consume(st->s->ng, st->id, n);
}

static int client_sending(const struct h2_stream *st)
{
    return nghttp2_session_get_stream_remote_close(st->s->ng, st->id) == 0;
}

/* No more request body for anyone: what is held or buffered is released. */
static void drop_request(struct h2_stream *st)
{
    st->rx = RX_DROP;
    free(st->buf);
    st->buf = NULL;
    st->buf_len = st->buf_cap = 0;
    consume(st, st->held);
    st->held = 0;
    st->paused = 0;
    st->fin_pending = 0;
}

static void reset_stream(struct h2_stream *st, uint32_t code, const char *why)
{
    if (st->tx == TX_RESET)
        return;
    if (st->error == NULL)
        st->error = why;
    st->tx = TX_RESET;
    drop_request(st);
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
static void respond_error(struct h2_stream *st, int status)
{
    struct h3g_response resp;
    h3g_response_init(&resp);
    if (h3g_response_error(&resp, status) != 0 ||
        h3g_response_add(&resp, "server", "h3gate") != 0 || submit_response(st, &resp) != 0)
        reset_stream(st, NGHTTP2_INTERNAL_ERROR, "cannot build response");
    h3g_response_free(&resp);
}

/* The request body is over the limit: 413 if nothing was answered yet, else
 * a reset.  Once the 413 is out the client is told to stop with RST_STREAM
 * NO_ERROR (RFC 9113 §8.1), so it keeps the answer. */
static void send_413(struct h2_stream *st)
{
    if (st->tx == TX_RESET)
        return;
    if (st->tx == TX_COMPLETE) {
        if (st->error == NULL)
            st->error = "request body too large";
        reset_stream(st, NGHTTP2_NO_ERROR, st->error);
        return;
    }
    if (st->tx == TX_BODY) {
        reset_stream(st, NGHTTP2_ENHANCE_YOUR_CALM, "request body too large");
        return;
    }
    /* A handler already working on it (the proxy) lets go: its origin will
     * not get the rest. */
    h3g_exchange_release(&st->ex, 1);
    drop_request(st);
    st->rst_after = 1;
    respond_error(st, 413);
    if (st->error == NULL)
        st->error = "request body too large";
}

static void dispatch(struct h2_sess *s, struct h2_stream *st)
{
    struct h3g_response resp;
    st->rx = RX_BODY;
    st->tx = TX_DEFERRED; /* so that the handler may respond from inside */
    h3g_response_init(&resp);
    int rv = s->cfg->handler(s->cfg->handler_ctx, &st->req, &resp, &st->ex);
    if (rv == 0 && st->tx == TX_DEFERRED) {
        if (submit_response(st, &resp) != 0)
            reset_stream(st, NGHTTP2_INTERNAL_ERROR, "cannot build response");
    } else if (rv != 0 && rv != H3G_EAGAIN && st->tx == TX_DEFERRED) {
        reset_stream(st, NGHTTP2_INTERNAL_ERROR, "cannot build response");
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
static void deliver(struct h2_stream *st, const uint8_t *data, size_t len)
{
    if (st->paused || st->redeliver) { /* behind what waits: in order */
        if (buffer_data(st, data, len) != 0) {
            consume(st, len);
            reset_stream(st, NGHTTP2_INTERNAL_ERROR, "out of memory");
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
    consume(st, len);
}

static void end_body(struct h2_stream *st)
{
    if (st->rx == RX_OVER_LIMIT) {
        send_413(st); /* the body ended below its announced length */
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

/* ---- nghttp2 callbacks ---- */

static void arm_header_timer(struct h2_sess *s)
{
    if (s->cfg->header_timeout_ms > 0 && !h3g_timer_active(&s->header_timer))
        h3g_timer_start(s->cfg->loop, &s->header_timer, s->cfg->header_timeout_ms);
}

static void too_much(struct h2_sess *s, const char *why)
{
    if (s->excessive)
        return;
    s->excessive = 1;
    h3g_warn("%s: closing h2 connection: %s (%llu streams opened, %llu reset by the client)",
             s->peer, why, (unsigned long long)s->opened, (unsigned long long)s->client_resets);
    nghttp2_session_terminate_session(s->ng, NGHTTP2_ENHANCE_YOUR_CALM);
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
    struct h2_sess *s = ud;
    int32_t id = frame->hd.stream_id;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0; /* trailers */
    s->opened++;
    if (id > s->refuse_above) {
        /* Arrived before our GOAWAY went out: not processed, so retryable. */
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
        return 0;
    }
    struct h2_stream *st = stream_new(s, id);
    if (st == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM INTERNAL_ERROR */
    nghttp2_session_set_stream_user_data(ng, id, st);
    arm_header_timer(s);
    if (s->cfg->max_requests > 0 && s->opened >= s->cfg->max_requests &&
        s->refuse_above == INT32_MAX) {
        /* Recycled as nginx's keepalive_requests: this one is the last. */
        nghttp2_submit_goaway(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR, NULL, 0);
        s->refuse_above = id;
    }
    return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
                     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
    struct h2_sess *s = ud;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0; /* trailers are ignored */
    struct h2_stream *st = find(s, frame->hd.stream_id);
    if (st == NULL || st->rx != RX_HEADERS)
        return 0;
    /* RFC 9113 §6.5.2: name + value + 32 bytes per field.  Past the limit the
     * rest is decoded (HPACK state) but not kept. */
    st->header_bytes += nlen + vlen + 32;
    if (s->cfg->max_field_section_size > 0 && st->header_bytes > s->cfg->max_field_section_size) {
        st->rx = RX_OVERSIZED;
        return 0;
    }
    int rv = h3g_request_add(&st->req, name, nlen, value, vlen);
    if (rv == H3G_ELIMIT)
        st->rx = RX_OVERSIZED;
    else if (rv == H3G_ENOMEM)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    return 0;
}

static void on_request_headers(struct h2_sess *s, struct h2_stream *st)
{
    st->headers_done = 1;
    if (st->tx != TX_NONE)
        return; /* reset meanwhile (header timeout) */
    if (st->rx == RX_OVERSIZED) {
        drop_request(st);
        st->rst_after = 1;
        respond_error(st, 431);
        return;
    }
    if (h3g_request_finish(&st->req) != 0) {
        /* Malformed: a stream error, the connection goes on (RFC 9113 §8.1.1). */
        h3g_debug("%s: h2 stream %d: malformed request: %s", s->peer, (int)st->id, st->req.error);
        reset_stream(st, NGHTTP2_PROTOCOL_ERROR, "PROTOCOL_ERROR");
        return;
    }
    st->head = strcmp(st->req.method, "HEAD") == 0; /* a 413 too goes without body */
    if (s->cfg->max_request_body > 0 && st->req.content_length > 0 &&
        (uint64_t)st->req.content_length > s->cfg->max_request_body) {
        /* Not dispatched; the 413 goes out once the body crosses the limit
         * (or ends), as in src/h3/exchange.c. */
        st->rx = RX_OVER_LIMIT;
        return;
    }
    dispatch(s, st);
}

static void on_client_reset(struct h2_sess *s, const nghttp2_frame *frame)
{
    struct h2_stream *st = find(s, frame->hd.stream_id);
    uint32_t code = frame->rst_stream.error_code;
    if (++s->client_resets >= RESET_MIN && s->client_resets * 2 > s->opened) {
        too_much(s, "rapid reset: the client abandons most of its requests");
        return;
    }
    if (st != NULL && st->error == NULL && st->tx != TX_COMPLETE)
        st->error = code == NGHTTP2_NO_ERROR ? "reset by client" : nghttp2_http2_strerror(code);
    if (st != NULL)
        drop_request(st);
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
    struct h2_sess *s = ud;
    struct h2_stream *st = frame->hd.stream_id != 0 ? find(s, frame->hd.stream_id) : NULL;
    if (frame->hd.type == NGHTTP2_RST_STREAM) {
        on_client_reset(s, frame);
        return 0;
    }
    if (st == NULL || (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA))
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST &&
        (frame->hd.flags & NGHTTP2_FLAG_END_HEADERS))
        on_request_headers(s, st);
    /* END_STREAM on DATA, on HEADERS (no body) or on trailers */
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
        end_body(st);
    return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud)
{
    struct h2_sess *s = ud;
    struct h2_stream *st = find(s, id);
    uint64_t max = s->cfg->max_request_body;
    if (st == NULL) {
        nghttp2_session_consume(ng, id, len);
        return 0;
    }
    st->body_bytes += len;
    if (st->rx == RX_BODY && max > 0 && st->body_bytes > max) {
        consume(st, len);
        send_413(st);
    } else if (st->rx == RX_BODY) {
        deliver(st, data, len);
    } else {
        consume(st, len); /* dropped, but the window must reopen */
        if (st->rx == RX_OVER_LIMIT && st->body_bytes > max)
            send_413(st);
    }
    return 0;
}

static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
    struct h2_stream *st;
    if (frame->hd.type != NGHTTP2_DATA && frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    if ((st = find(ud, frame->hd.stream_id)) == NULL)
        return 0;
    if (frame->hd.type == NGHTTP2_DATA)
        st->bytes_sent += frame->hd.length - frame->data.padlen;
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0 || st->tx != TX_BODY)
        return 0;
    st->tx = TX_COMPLETE;
    /* We stopped reading the request (413, 431, stop_request): now that the
     * response is whole, the client may stop sending (RFC 9113 §8.1). */
    if (st->rst_after && client_sending(st))
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
    return 0;
}

static int on_frame_not_send(nghttp2_session *ng, const nghttp2_frame *frame, int err, void *ud)
{
    struct h2_stream *st;
    if (frame->hd.type != NGHTTP2_HEADERS || (st = find(ud, frame->hd.stream_id)) == NULL)
        return 0;
    /* A response head nghttp2 would not send (too large): the stream would
     * hang otherwise. */
    h3g_debug("%s: h2 stream %d: response not sent: %s", st->s->peer, (int)st->id,
              nghttp2_strerror(err));
    reset_stream(st, NGHTTP2_INTERNAL_ERROR, "cannot send response");
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud)
{
    struct h2_sess *s = ud;
    struct h2_stream *st = find(s, id);
    if (st == NULL)
        return 0;
    if (code != NGHTTP2_NO_ERROR && st->error == NULL)
        st->error = nghttp2_http2_strerror(code);
    if (st->error == NULL && st->tx != TX_COMPLETE)
        st->error = "stream closed early";
    nghttp2_session_set_stream_user_data(ng, id, NULL);
    stream_log(st);
    stream_free(st);
    if (s->nstreams == 0)
        s->last_active_us = h3g_now_us();
    return 0;
}

/* ---- timers ---- */

/* The final GOAWAY: what was received is served, nothing new is taken. */
static void final_goaway(struct h2_sess *s)
{
    if (s->final_goaway)
        return;
    s->final_goaway = 1;
    int32_t last = nghttp2_session_get_last_proc_stream_id(s->ng);
    nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE, last, NGHTTP2_NO_ERROR, NULL, 0);
    if (last < s->refuse_above)
        s->refuse_above = last;
}

static int responses_blocked(const struct h2_sess *s)
{
    for (const struct h2_stream *st = s->streams; st != NULL; st = st->next)
        if (st->tx == TX_BODY && !st->deferred)
            return 1;
    return 0;
}

/* Two timeouts on one timer: keepalive_timeout without streams (GOAWAY, then
 * close), idle_timeout while responses are ready and nothing moves either
 * way (the client holds them with its flow-control windows: reset). */
static void on_idle_timer(h3g_timer *t, void *arg)
{
    struct h2_sess *s = arg;
    uint64_t now = h3g_now_us(), due;
    if (s->closing || s->dead)
        return;
    if (s->nstreams > 0) {
        uint64_t limit = s->cfg->idle_timeout_ms * 1000;
        uint64_t last = H3G_MAX(s->last_active_us, s->last_out_us);
        if (limit > 0 && now >= last + limit && responses_blocked(s)) {
            h3g_debug("%s: h2 send timeout", s->peer);
            h3g_tcp_close_reason(s->c, "send_timeout");
            close_conn(s, 0);
            return;
        }
        due = limit == 0 ? 1000000 : now >= last + limit ? limit : last + limit - now;
        h3g_timer_start_us(s->cfg->loop, t, due);
        return;
    }
    uint64_t keep = s->cfg->keepalive_timeout_ms * 1000;
    if (keep == 0 || now < s->last_active_us + keep) {
        h3g_timer_start_us(s->cfg->loop, t, keep == 0 ? 1000000 : s->last_active_us + keep - now);
        return;
    }
    h3g_debug("%s: h2 keep-alive timeout", s->peer);
    h3g_tcp_close_reason(s->c, "keepalive_timeout");
    enter(s);
    nghttp2_session_terminate_session(s->ng, NGHTTP2_NO_ERROR);
    leave(s);
}

/* Streams whose field section is late: reset (not processed: REFUSED_STREAM,
 * so the client may retry) and logged as 408.  Returns the next deadline. */
static uint64_t header_deadlines(struct h2_sess *s, uint64_t now, uint64_t limit)
{
    uint64_t next = 0, late = 0;
    for (struct h2_stream *st = s->streams; st != NULL; st = st->next) {
        if (st->headers_done || st->tx == TX_RESET)
            continue;
        uint64_t due = st->start_us + limit;
        if (due <= now) {
            st->status = 408;
            reset_stream(st, NGHTTP2_REFUSED_STREAM, "request header timeout");
            late++;
        } else if (next == 0 || due < next) {
            next = due;
        }
    }
    if (late > 0 && s->drain_due_us == 0) {
        /* A client dripping CONTINUATION holds the connection for two
         * timeouts at most. */
        h3g_info("%s: h2 request header timeout (%llu ms): GOAWAY", s->peer,
                 (unsigned long long)s->cfg->header_timeout_ms);
        final_goaway(s);
        s->drain_due_us = now + limit;
    }
    if (s->drain_due_us != 0 && (next == 0 || s->drain_due_us < next))
        next = s->drain_due_us;
    return next;
}

static void on_header_timer(h3g_timer *t, void *arg)
{
    struct h2_sess *s = arg;
    uint64_t now = h3g_now_us(), limit = s->cfg->header_timeout_ms * 1000, next = 0;
    if (s->closing || s->dead)
        return;
    enter(s);
    if (s->opened == 0 && now >= s->open_us + limit) {
        /* Slowloris at the connection level: a preface, and nothing asked. */
        h3g_debug("%s: h2: no request within the header timeout", s->peer);
        nghttp2_session_terminate_session(s->ng, NGHTTP2_NO_ERROR);
    } else if (s->drain_due_us != 0 && now >= s->drain_due_us) {
        h3g_info("%s: h2: still dripping after GOAWAY; closing", s->peer);
        close_conn(s, 1);
    } else {
        next = s->opened == 0 ? s->open_us + limit : header_deadlines(s, now, limit);
    }
    if (leave(s) && next != 0 && !s->closing)
        h3g_timer_start_us(s->cfg->loop, t, next > now ? next - now : 1);
}

static void on_notice_timer(h3g_timer *t, void *arg)
{
    struct h2_sess *s = arg;
    if (s->closing || s->dead)
        return;
    enter(s);
    final_goaway(s);
    leave(s);
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
    enter(st->s);
    if (submit_response(st, resp) != 0) {
        reset_stream(st, NGHTTP2_INTERNAL_ERROR, "cannot send response");
        rv = H3G_ERR;
    }
    leave_later(st->s);
    return rv;
}

static void x_resume_response(h3g_exchange *ex)
{
    struct h2_stream *st = live(ex);
    if (st == NULL || st->tx != TX_BODY || !st->deferred)
        return;
    enter(st->s);
    st->deferred = 0;
    nghttp2_session_resume_data(st->s->ng, st->id);
    leave_later(st->s);
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
    consume(st, held);
    if (!st->paused && st->fin_pending && st->rx == RX_BODY) {
        st->fin_pending = 0;
        end_body(st);
    }
}

static void redeliver_all(struct h2_sess *s)
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
    st->resumed = 1; /* seen by deliver() when called from inside a push */
    if (!st->paused)
        return;
    st->paused = 0;
    st->redeliver = 1;
    enter(st->s);
    leave_later(st->s);
}

static void x_stop_request(h3g_exchange *ex)
{
    struct h2_stream *st = live(ex);
    if (st == NULL || st->rx != RX_BODY)
        return;
    enter(st->s);
    drop_request(st);
    st->rst_after = 1;
    if (st->tx == TX_COMPLETE && client_sending(st))
        nghttp2_submit_rst_stream(st->s->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
    leave_later(st->s);
}

static void x_abort(h3g_exchange *ex, const char *why)
{
    struct h2_stream *st = live(ex);
    if (st == NULL || st->tx == TX_RESET)
        return;
    enter(st->s);
    if (st->tx == TX_COMPLETE) {
        /* The client has the whole response: it only has to stop sending. */
        drop_request(st);
        if (client_sending(st))
            nghttp2_submit_rst_stream(st->s->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
    } else {
        reset_stream(st, NGHTTP2_INTERNAL_ERROR, why);
    }
    leave_later(st->s);
}

static const char *x_peer(const h3g_exchange *ex)
{
    return ((const struct h2_stream *)ex)->s->peer;
}

static const struct h3g_front_ops h2_front = {
    .protocol = "h2",
    .respond = x_respond,
    .resume_response = x_resume_response,
    .resume_request = x_resume_request,
    .stop_request = x_stop_request,
    .abort = x_abort,
    .peer = x_peer,
};

/* ---- the session ---- */

static int make_ng(struct h2_sess *s)
{
    nghttp2_session_callbacks *cbs;
    nghttp2_option *opt;
    size_t fss = s->cfg->max_field_section_size;
    int rv = -1;
    if (nghttp2_session_callbacks_new(&cbs) != 0)
        return -1;
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cbs);
        return -1;
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
    nghttp2_session_callbacks_set_on_frame_not_send_callback(cbs, on_frame_not_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_option_set_max_send_header_block_length(opt, H3G_MAX((size_t)65536, fss));
    nghttp2_option_set_max_deflate_dynamic_table_size(opt, DEFLATE_TABLE);
    nghttp2_option_set_max_settings(opt, MAX_SETTINGS);
    nghttp2_option_set_max_outbound_ack(opt, MAX_OUTBOUND_ACK);
#ifdef H3G_HAVE_NGHTTP2_RESET_RATE /* else only our own rapid-reset rule applies */
    nghttp2_option_set_stream_reset_rate_limit(opt, RESET_BURST, RESET_RATE);
#endif
#ifdef H3G_HAVE_NGHTTP2_MAX_CONTINUATIONS
    /* Enough for a full field section in 16 KiB frames, no more (CVE-2024-27316). */
    nghttp2_option_set_max_continuations(opt, H3G_MAX((size_t)8, fss / 16384 + 2));
#endif
    nghttp2_option_set_no_closed_streams(opt, 1); /* no RFC 7540 priority tree to keep */
    if (nghttp2_session_server_new2(&s->ng, cbs, s, opt) == 0)
        rv = 0;
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    return rv;
}

static int submit_settings(struct h2_sess *s)
{
    size_t streams = s->cfg->max_streams ? s->cfg->max_streams : 100;
    size_t fss = s->cfg->max_field_section_size;
    nghttp2_settings_entry iv[4] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, (uint32_t)H3G_MIN(streams, (size_t)INT32_MAX)},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)H3G_MIN(fss, (size_t)UINT32_MAX)},
    };
    if (nghttp2_submit_settings(s->ng, NGHTTP2_FLAG_NONE, iv, fss > 0 ? 4 : 3) != 0)
        return -1;
    return nghttp2_session_set_local_window_size(s->ng, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW);
}

static void *fe_open(h3g_tcp_conn *c, const struct h3g_tcp_config *cfg)
{
    struct h2_sess *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->c = c;
    s->cfg = cfg;
    s->refuse_above = INT32_MAX;
    s->conn_id = h3g_tcp_conn_id(c);
    snprintf(s->peer, sizeof(s->peer), "%s", h3g_tcp_peer(c));
    s->open_us = s->last_active_us = h3g_now_us();
    if (make_ng(s) != 0 || submit_settings(s) != 0) {
        if (s->ng != NULL)
            nghttp2_session_del(s->ng);
        free(s);
        return NULL;
    }
    h3g_timer_init(&s->idle_timer, on_idle_timer, s);
    h3g_timer_init(&s->header_timer, on_header_timer, s);
    h3g_timer_init(&s->notice_timer, on_notice_timer, s);
    h3g_timer_init(&s->flush_timer, on_flush_timer, s);
    h3g_timer_start(cfg->loop, &s->idle_timer, 1000); /* it re-arms itself */
    arm_header_timer(s);
    enter(s);
    leave(s); /* our SETTINGS go out first */
    return s;
}

static ssize_t fe_input(void *fe, const uint8_t *data, size_t len)
{
    struct h2_sess *s = fe;
    if (s->closing || s->dead)
        return (ssize_t)len; /* going: nothing more is read */
    if (out_room(s) == 0) {
        /* The client does not read what it asks for: neither do we. */
        s->read_paused = 1;
        return 0;
    }
    s->last_active_us = h3g_now_us();
    enter(s);
    ssize_t n = nghttp2_session_mem_recv(s->ng, data, len);
    if (n < 0) {
        h3g_debug("%s: h2 input failed: %s", s->peer, nghttp2_strerror((int)n));
        close_conn(s, 0);
    }
    if (!leave(s))
        return H3G_ERR;
    return n < 0 ? H3G_ERR : n;
}

static void fe_input_end(void *fe)
{
    struct h2_sess *s = fe;
    /* No request can complete any more; what is queued still goes out. */
    if (!s->dead)
        close_conn(s, 1);
}

static void fe_writable(void *fe)
{
    struct h2_sess *s = fe;
    if (s->dead || s->closing)
        return;
    enter(s);
    if (!leave(s) || s->closing)
        return;
    if (s->read_paused && out_room(s) > 0) {
        s->read_paused = 0;
        h3g_tcp_resume_read(s->c);
    }
}

static void fe_shutdown(void *fe)
{
    struct h2_sess *s = fe;
    if (s->dead || s->closing)
        return;
    enter(s);
    if (s->nstreams == 0) {
        final_goaway(s);
    } else {
        nghttp2_submit_shutdown_notice(s->ng);
        h3g_timer_start(s->cfg->loop, &s->notice_timer, NOTICE_MS);
    }
    leave(s);
}

static int fe_idle(void *fe)
{
    return ((struct h2_sess *)fe)->nstreams == 0;
}

static uint64_t fe_requests(void *fe)
{
    return ((struct h2_sess *)fe)->opened;
}

static void sess_free(struct h2_sess *s)
{
    while (s->streams != NULL) {
        struct h2_stream *st = s->streams;
        if (st->error == NULL)
            st->error = "connection closed";
        stream_log(st);
        stream_free(st);
    }
    nghttp2_session_del(s->ng);
    free(s);
}

static void fe_closed(void *fe)
{
    struct h2_sess *s = fe;
    if (s->dead)
        return;
    s->dead = 1;
    s->c = NULL;
    h3g_timer_stop(s->cfg->loop, &s->idle_timer);
    h3g_timer_stop(s->cfg->loop, &s->header_timer);
    h3g_timer_stop(s->cfg->loop, &s->notice_timer);
    h3g_timer_stop(s->cfg->loop, &s->flush_timer);
    if (s->busy == 0)
        sess_free(s); /* else the outermost leave() does */
}

const struct h3g_tcp_front h3g_h2_front = {
    .name = "h2",
    .open = fe_open,
    .input = fe_input,
    .input_end = fe_input_end,
    .writable = fe_writable,
    .shutdown = fe_shutdown,
    .idle = fe_idle,
    .closed = fe_closed,
    .requests = fe_requests,
};
