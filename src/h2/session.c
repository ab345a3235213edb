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
#include "h2/h2_internal.h"
#include "obs/log.h"

static void sess_free(struct h2_sess *s);

/* ---- connection plumbing ---- */

static size_t out_room(const struct h2_sess *s)
{
    size_t room = h3g_tcp_write_room(s->c), q = h3g_tcp_queued(s->c);
    size_t budget = s->cfg.send_budget_conn;
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

void h2_enter(struct h2_sess *s)
{
    s->busy++;
}

/* Returns 0 when the session was freed (s is gone). */
int h2_leave(struct h2_sess *s)
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
void h2_leave_later(struct h2_sess *s)
{
    s->busy--;
    if (s->busy == 0 && !h3g_timer_active(&s->flush_timer)) /* a dead s is freed there */
        h3g_timer_start(s->cfg.loop, &s->flush_timer, 0);
}

static void on_flush_timer(h3g_timer *t, void *arg)
{
    struct h2_sess *s = arg;
    H3G_UNUSED(t);
    h2_enter(s);
    if (!s->dead)
        h2_redeliver_all(s);
    h2_leave(s);
}

/* ---- nghttp2 callbacks ---- */

static void arm_header_timer(struct h2_sess *s)
{
    if (s->cfg.header_timeout_ms > 0 && !h3g_timer_active(&s->header_timer))
        h3g_timer_start(s->cfg.loop, &s->header_timer, s->cfg.header_timeout_ms);
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
    struct h2_stream *st = h2_stream_new(s, id);
    if (st == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM INTERNAL_ERROR */
    nghttp2_session_set_stream_user_data(ng, id, st);
    arm_header_timer(s);
    if (s->cfg.max_requests > 0 && s->opened >= s->cfg.max_requests &&
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
    struct h2_stream *st = h2_find(s, frame->hd.stream_id);
    if (st == NULL || st->rx != RX_HEADERS)
        return 0;
    /* RFC 9113 §6.5.2: name + value + 32 bytes per field.  Past the limit the
     * rest is decoded (HPACK state) but not kept. */
    st->header_bytes += nlen + vlen + 32;
    if (s->cfg.max_field_section_size > 0 && st->header_bytes > s->cfg.max_field_section_size) {
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
        h2_drop_request(st);
        st->rst_after = 1;
        h2_respond_error(st, 431);
        return;
    }
    if (h3g_request_finish(&st->req) != 0) {
        /* Malformed: a stream error, the connection goes on (RFC 9113 §8.1.1). */
        h3g_debug("%s: h2 stream %d: malformed request: %s", s->peer, (int)st->id, st->req.error);
        h2_reset_stream(st, NGHTTP2_PROTOCOL_ERROR, "PROTOCOL_ERROR");
        return;
    }
    st->head = strcmp(st->req.method, "HEAD") == 0; /* a 413 too goes without body */
    if (s->cfg.max_request_body > 0 && st->req.content_length > 0 &&
        (uint64_t)st->req.content_length > s->cfg.max_request_body) {
        /* Not dispatched; the 413 goes out once the body crosses the limit
         * (or ends), as in src/h3/exchange.c. */
        st->rx = RX_OVER_LIMIT;
        return;
    }
    h2_dispatch(s, st);
}

static void on_client_reset(struct h2_sess *s, const nghttp2_frame *frame)
{
    struct h2_stream *st = h2_find(s, frame->hd.stream_id);
    uint32_t code = frame->rst_stream.error_code;
    if (++s->client_resets >= RESET_MIN && s->client_resets * 2 > s->opened) {
        too_much(s, "rapid reset: the client abandons most of its requests");
        return;
    }
    if (st != NULL && st->error == NULL && st->tx != TX_COMPLETE)
        st->error = code == NGHTTP2_NO_ERROR ? "reset by client" : nghttp2_http2_strerror(code);
    if (st != NULL)
        h2_drop_request(st);
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
    struct h2_sess *s = ud;
    struct h2_stream *st = frame->hd.stream_id != 0 ? h2_find(s, frame->hd.stream_id) : NULL;
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
        h2_end_body(st);
    return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud)
{
    struct h2_sess *s = ud;
    struct h2_stream *st = h2_find(s, id);
    uint64_t max = s->cfg.max_request_body;
    if (st == NULL) {
        nghttp2_session_consume(ng, id, len);
        return 0;
    }
    st->body_bytes += len;
    if (st->rx == RX_BODY && max > 0 && st->body_bytes > max) {
        h2_consume(st, len);
        h2_send_413(st);
    } else if (st->rx == RX_BODY) {
        h2_deliver(st, data, len);
    } else {
        h2_consume(st, len); /* dropped, but the window must reopen */
        if (st->rx == RX_OVER_LIMIT && st->body_bytes > max)
            h2_send_413(st);
    }
    return 0;
}

static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
    struct h2_stream *st;
    if (frame->hd.type != NGHTTP2_DATA && frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    if ((st = h2_find(ud, frame->hd.stream_id)) == NULL)
        return 0;
    if (frame->hd.type == NGHTTP2_DATA)
        st->bytes_sent += frame->hd.length - frame->data.padlen;
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0 || st->tx != TX_BODY)
        return 0;
    st->tx = TX_COMPLETE;
    /* We stopped reading the request (413, 431, stop_request): now that the
     * response is whole, the client may stop sending (RFC 9113 §8.1). */
    if (st->rst_after && h2_client_sending(st))
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
    return 0;
}

static int on_frame_not_send(nghttp2_session *ng, const nghttp2_frame *frame, int err, void *ud)
{
    struct h2_stream *st;
    if (frame->hd.type != NGHTTP2_HEADERS || (st = h2_find(ud, frame->hd.stream_id)) == NULL)
        return 0;
    /* A response head nghttp2 would not send (too large): the stream would
     * hang otherwise. */
    h3g_debug("%s: h2 stream %d: response not sent: %s", st->s->peer, (int)st->id,
              nghttp2_strerror(err));
    h2_reset_stream(st, NGHTTP2_INTERNAL_ERROR, "cannot send response");
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud)
{
    struct h2_sess *s = ud;
    struct h2_stream *st = h2_find(s, id);
    if (st == NULL)
        return 0;
    if (code != NGHTTP2_NO_ERROR && st->error == NULL)
        st->error = nghttp2_http2_strerror(code);
    if (st->error == NULL && st->tx != TX_COMPLETE)
        st->error = "stream closed early";
    nghttp2_session_set_stream_user_data(ng, id, NULL);
    h2_stream_log(st);
    h2_stream_free(st);
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
        uint64_t limit = s->cfg.idle_timeout_ms * 1000;
        uint64_t last = H3G_MAX(s->last_active_us, s->last_out_us);
        if (limit > 0 && now >= last + limit && responses_blocked(s)) {
            h3g_debug("%s: h2 send timeout", s->peer);
            h3g_tcp_close_reason(s->c, "send_timeout");
            close_conn(s, 0);
            return;
        }
        due = limit == 0 ? 1000000 : now >= last + limit ? limit : last + limit - now;
        h3g_timer_start_us(s->cfg.loop, t, due);
        return;
    }
    uint64_t keep = s->cfg.keepalive_timeout_ms * 1000;
    if (keep == 0 || now < s->last_active_us + keep) {
        h3g_timer_start_us(s->cfg.loop, t, keep == 0 ? 1000000 : s->last_active_us + keep - now);
        return;
    }
    h3g_debug("%s: h2 keep-alive timeout", s->peer);
    h3g_tcp_close_reason(s->c, "keepalive_timeout");
    h2_enter(s);
    nghttp2_session_terminate_session(s->ng, NGHTTP2_NO_ERROR);
    h2_leave(s);
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
            h2_reset_stream(st, NGHTTP2_REFUSED_STREAM, "request header timeout");
            late++;
        } else if (next == 0 || due < next) {
            next = due;
        }
    }
    if (late > 0 && s->drain_due_us == 0) {
        /* A client dripping CONTINUATION holds the connection for two
         * timeouts at most. */
        h3g_info("%s: h2 request header timeout (%llu ms): GOAWAY", s->peer,
                 (unsigned long long)s->cfg.header_timeout_ms);
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
    uint64_t now = h3g_now_us(), limit = s->cfg.header_timeout_ms * 1000, next = 0;
    if (s->closing || s->dead)
        return;
    h2_enter(s);
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
    if (h2_leave(s) && next != 0 && !s->closing)
        h3g_timer_start_us(s->cfg.loop, t, next > now ? next - now : 1);
}

static void on_notice_timer(h3g_timer *t, void *arg)
{
    struct h2_sess *s = arg;
    if (s->closing || s->dead)
        return;
    h2_enter(s);
    final_goaway(s);
    h2_leave(s);
}

/* ---- the session ---- */

static int make_ng(struct h2_sess *s)
{
    nghttp2_session_callbacks *cbs;
    nghttp2_option *opt;
    size_t fss = s->cfg.max_field_section_size;
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
    size_t streams = s->cfg.max_streams ? s->cfg.max_streams : 100;
    size_t fss = s->cfg.max_field_section_size;
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
    s->cfg = *cfg;
    s->refuse_above = INT32_MAX;
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
    h2_enter(s);
    h2_leave(s); /* our SETTINGS go out first */
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
    h2_enter(s);
    ssize_t n = nghttp2_session_mem_recv(s->ng, data, len);
    if (n < 0) {
        h3g_debug("%s: h2 input failed: %s", s->peer, nghttp2_strerror((int)n));
        close_conn(s, 0);
    }
    if (!h2_leave(s))
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
    h2_enter(s);
    if (!h2_leave(s) || s->closing)
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
    h2_enter(s);
    if (s->nstreams == 0) {
        final_goaway(s);
    } else {
        nghttp2_submit_shutdown_notice(s->ng);
        h3g_timer_start(s->cfg.loop, &s->notice_timer, NOTICE_MS);
    }
    h2_leave(s);
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
        h2_stream_log(st);
        h2_stream_free(st);
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
    h3g_timer_stop(s->cfg.loop, &s->idle_timer);
    h3g_timer_stop(s->cfg.loop, &s->header_timer);
    h3g_timer_stop(s->cfg.loop, &s->notice_timer);
    h3g_timer_stop(s->cfg.loop, &s->flush_timer);
    if (s->busy == 0)
        sess_free(s); /* else the outermost h2_leave() does */
}

const struct h3g_tcp_front h3g_h2_front = {
    .name = "h2",
    .open = fe_open,
    .input = fe_input,
    .input_end = fe_input_end,
    .writable = fe_writable,
    .shutdown = fe_shutdown,
    .closed = fe_closed,
    .requests = fe_requests,
};
