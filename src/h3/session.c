/* HTTP/3 connections on the engine contract, with nghttp3: set-up, the writer,
 * the engine's upcalls, limits on abusive clients, GOAWAY and shutdown.  One
 * request's life is in exchange.c. */
#include "h3/session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp3/nghttp3.h>

#include "common.h"
#include "config/config.h"
#include "h3/h3_internal.h"
#include "obs/log.h"

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
/* Rapid reset (CVE-2023-44487 for HTTP/3): a client that abandons more than
 * half of what it opens, once it has opened RESET_MIN streams, is closed with
 * H3_EXCESSIVE_LOAD; so is one that keeps opening streams after GOAWAY. */
#define RESET_MIN 200
#define AFTER_GOAWAY_MAX 100

struct h3g_h3_stats h3g_h3_g_stats;

const struct h3g_h3_stats *h3g_h3_stats(void)
{
    return &h3g_h3_g_stats;
}

/* ---- helpers ---- */

void h3s_close_ng(struct session *s, int ngerr, const char *where)
{
    uint64_t code = nghttp3_err_infer_quic_app_error_code(ngerr);
    char reason[128];
    snprintf(reason, sizeof(reason), "%s: %s", where, nghttp3_strerror(ngerr));
    h3g_debug("%s: closing connection: %s (%s)", h3g_qconn_peer(s->qc), reason,
              h3g_h3_error_name(code) ? h3g_h3_error_name(code) : "?");
    h3g_qconn_close(s->qc, code, reason);
}

void h3g_h3_cleanup(void)
{
    h3x_cleanup();
}

static int on_shutdown(nghttp3_conn *conn, int64_t id, void *conn_ud)
{
    H3G_UNUSED(conn);
    H3G_UNUSED(id);
    H3G_UNUSED(conn_ud);
    return 0; /* the client's GOAWAY: nothing to cancel, we never push */
}

static void finish_shutdown(struct session *s);

void h3s_write(struct session *s)
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
            h3s_close_ng(s, (int)n, "writev_stream");
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
            struct h3_req *hs = h3x_find(s, sid);
            if (hs != NULL) {
                if (hs->error == NULL)
                    hs->error = "stopped by client";
                hs->tx = TX_RESET;
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
            h3s_close_ng(s, r2, "write offset");
            break;
        }
        if (rv == H3G_EAGAIN) {
            nghttp3_conn_block_stream(s->h3, sid);
        } else if (fin) {
            h3x_sent_fin(s, sid);
        }
        if (s->pending_fail)
            h3x_fail_bodies(s);
    }
    s->in_write = 0;
    if (s->recycling)
        finish_shutdown(s); /* a response may just have been handed over whole */
}

/* ---- engine upcalls ---- */

static int on_deferred_consume(nghttp3_conn *conn, int64_t sid, size_t consumed, void *conn_ud,
                               void *stream_ud);

static void close_excessive(struct session *s, const char *why);

/* The request header timeout (nginx's client_header_timeout): late streams
 * are reset, and the connection gets GOAWAY, so that a client dripping
 * headers holds a connection for two timeouts at most. */
static void on_header_timer(h3g_timer *t, void *arg)
{
    struct session *s = arg;
    uint64_t before = s->header_timeouts, now = h3g_now_us();
    uint64_t next = h3x_header_deadlines(s, now);
    H3G_UNUSED(t);
    if (next == UINT64_MAX) {
        close_excessive(s, "request header timeout, and STOP_SENDING ignored");
        return;
    }
    if (s->header_timeouts != before) {
        h3g_info("%s: request header timeout (%llu ms): %llu streams reset, GOAWAY",
                 h3g_qconn_peer(s->qc), (unsigned long long)s->cfg.header_timeout_ms,
                 (unsigned long long)(s->header_timeouts - before));
        h3g_h3_begin_shutdown(s->qc, s, NULL);
        h3s_write(s);
    }
    if (next != 0)
        h3g_timer_start_us(s->cfg.loop, &s->header_timer, next > now ? next - now : 1);
}

static void arm_header_timer(struct session *s)
{
    if (s->cfg.header_timeout_ms == 0 || s->cfg.loop == NULL || h3g_timer_active(&s->header_timer))
        return;
    h3g_timer_start(s->cfg.loop, &s->header_timer, s->cfg.header_timeout_ms);
}

/* Bytes of a request stream arrived before its HEADERS frame could start:
 * the stream gets its record now, so that the header timeout covers it. */
static int track_new_stream(struct session *s, int64_t sid)
{
    struct h3_req *hs;
    if (h3x_find(s, sid) != NULL)
        return 0;
    if ((hs = h3x_new(s, sid)) == NULL) {
        h3g_qconn_close(s->qc, H3G_H3_INTERNAL_ERROR, "out of memory");
        return -1;
    }
    if (nghttp3_conn_set_stream_user_data(s->h3, sid, hs) != 0)
        h3x_free(hs); /* nghttp3 is done with it already */
    return 0;
}

static void *h3_conn_ready(h3g_qconn *qc, void *engine_arg)
{
    const struct h3g_h3_config *cfg = engine_arg;
    struct session *s = calloc(1, sizeof(*s));
    nghttp3_callbacks cbs = {
        .shutdown = on_shutdown,
        .deferred_consume = on_deferred_consume,
    };
    nghttp3_settings settings;
    int64_t ctrl, qenc, qdec;
    int rv;

    if (s == NULL)
        return NULL;
    h3x_callbacks(&cbs);
    s->qc = qc;
    s->cfg = *cfg;
    s->reading = -1;
    s->push_sid = -1;
    h3g_timer_init(&s->header_timer, on_header_timer, s);
    s->max_chunks =
        (h3g_qconn_caps(qc) & H3G_ENGINE_CAP_COPIES_WRITES) ? BODY_CHUNKS_COPIED : BODY_CHUNKS_HELD;
    s->start_us = h3g_now_us();
    nghttp3_settings_default(&settings);
    settings.max_field_section_size = cfg->max_field_section_size;
    settings.qpack_max_dtable_capacity = 4096;
    settings.qpack_blocked_streams = H3G_MIN(cfg->qpack_blocked_streams, HELD_MAX);
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
    h3g_h3_g_stats.connections++;
    h3g_debug("%s: HTTP/3 ready (control %lld, qpack %lld/%lld)", h3g_qconn_peer(qc),
              (long long)ctrl, (long long)qenc, (long long)qdec);
    h3s_write(s);
    return s;
}

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
int h3s_held(const struct session *s, int64_t sid)
{
    return held_find(s, sid) >= 0;
}

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
    struct h3_req *hs = stream_ud;
    int i = held_find(s, sid);
    H3G_UNUSED(conn);
    h3g_qconn_consume(s->qc, sid, consumed);
    if (i >= 0) {
        s->held[i] = s->held[--s->nheld];
        if (hs == NULL || !hs->paused_by_handler)
            h3g_qconn_pause_read(s->qc, sid, 0);
    }
    return 0;
}

/* A malformed request (say, a body shorter than its content-length) is a
 * stream error, not a connection error (RFC 9114 §4.1.2); nghttp3 reports it
 * from read_stream, where the connection's other errors come from too.  The
 * rest of the stream is not read. */
static void message_error(struct session *s, int64_t sid, size_t unreturned)
{
    struct h3_req *hs = h3x_find(s, sid);
    h3g_debug("%s: stream %lld: malformed request body", h3g_qconn_peer(s->qc), (long long)sid);
    h3g_qconn_consume(s->qc, sid, unreturned); /* what nghttp3 did not hand on */
    h3g_qconn_stop_reading(s->qc, sid, H3G_H3_MESSAGE_ERROR);
    if (hs != NULL && !h3x_tx_finished(hs)) {
        h3x_abort(hs, H3G_H3_MESSAGE_ERROR, "H3_MESSAGE_ERROR");
    } else {
        nghttp3_conn_shutdown_stream_read(s->h3, sid);
        if (hs == NULL)
            h3g_qconn_reset(s->qc, sid, H3G_H3_MESSAGE_ERROR);
    }
    h3s_write(s);
}

/* A request stream that ends before any byte: a stream error,
 * H3_REQUEST_INCOMPLETE (RFC 9114 §4.1; nghttp3 1.8 would close the
 * connection with H3_FRAME_UNEXPECTED).  Such streams cost the client
 * nothing, so they count with the streams it abandons (rapid reset). */
static int request_incomplete(struct session *s, int64_t sid)
{
    h3g_qconn_reset(s->qc, sid, H3G_H3_REQUEST_INCOMPLETE);
    if (++s->client_resets >= RESET_MIN && s->client_resets * 2 > s->opened) {
        close_excessive(s, "rapid reset: the client abandons most of its requests");
        return -1;
    }
    return 0;
}

/* The client's control stream is the first of its unidirectional streams
 * that starts with type 0 (the QPACK streams start with 2 and 3). */
static int scan_push_frames(struct session *s, int64_t sid, const uint8_t *data, size_t len)
{
    uint64_t err;
    if (s->push_sid < 0 && len > 0) {
        /* Engines deliver a stream's bytes in order, so the first delivery
         * of a stream not seen before starts at its type. */
        for (size_t i = 0; i < s->nuni_seen; i++)
            if (s->uni_seen[i] == sid)
                return 0;
        if (s->nuni_seen < H3G_ARRAY_LEN(s->uni_seen))
            s->uni_seen[s->nuni_seen++] = sid;
        else
            return 0; /* more than a client needs: leave it to nghttp3 */
        if (data[0] != 0x00)
            return 0;
        s->push_sid = sid;
    }
    if (sid != s->push_sid || (err = h3p_scan(&s->push, data, len)) == 0)
        return 0;
    h3g_debug("%s: %s on the control stream", h3g_qconn_peer(s->qc),
              h3g_h3_error_name(err) ? h3g_h3_error_name(err) : "error");
    h3g_qconn_close(s->qc, err,
                    err == H3G_H3_ID_ERROR ? "MAX_PUSH_ID decreased or CANCEL_PUSH of no push"
                                           : "control stream");
    return -1;
}

static int h3_stream_data(h3g_qconn *qc, int64_t sid, const uint8_t *data, size_t len, int fin,
                          void *conn_arg)
{
    struct session *s = conn_arg;
    nghttp3_ssize rv;
    size_t held;
    int fresh = (sid & 3) == 0 && sid >= s->next_bidi;
    if (count_opened(s, sid) != 0)
        return -1;
    if (fresh && len == 0 && fin)
        return request_incomplete(s, sid);
    if ((sid & 3) == 2 && scan_push_frames(s, sid, data, len) != 0)
        return -1;
    /* nghttp3 checks stream ids in PRIORITY_UPDATE (Chromium sends them) and
     * GOAWAY against this; it only grows. */
    nghttp3_conn_set_max_client_streams_bidi(s->h3, h3g_qconn_peer_bidi_limit(qc));
    s->reading = sid;
    s->delivered = 0;
    rv = nghttp3_conn_read_stream(s->h3, sid, data, len, fin);
    s->reading = -1;
    if ((rv == NGHTTP3_ERR_MALFORMED_HTTP_MESSAGING || rv == NGHTTP3_ERR_MALFORMED_HTTP_HEADER) &&
        (sid & 3) == 0) {
        message_error(s, sid, len - H3G_MIN(s->delivered, len));
        return 0;
    }
    if (rv < 0) {
        h3s_close_ng(s, (int)rv, "read_stream");
        return -1;
    }
    /* Framing and field sections are done with; DATA payload was consumed by
     * on_recv_data; what is left nghttp3 holds. */
    h3g_qconn_consume(qc, sid, (size_t)rv);
    held = len - (size_t)rv - H3G_MIN(s->delivered, len - (size_t)rv);
    if (held > 0 && hold_stream(s, sid) != 0)
        return -1;
    if (fresh && !fin && track_new_stream(s, sid) != 0)
        return -1;
    if (s->streams != NULL)
        arm_header_timer(s);
    if (s->cfg.max_requests > 0 && s->opened >= s->cfg.max_requests && !s->shutting_down) {
        /* Enough requests on this connection: GOAWAY, finish what was sent,
         * close; the client continues on a new connection (RFC 9114 §5.2). */
        h3g_h3_begin_shutdown(qc, s, NULL);
        s->recycling = s->shutting_down;
        finish_shutdown(s);
        return 0;
    }
    h3s_write(s);
    return 0;
}

static int h3_stream_reset(h3g_qconn *qc, int64_t sid, uint64_t code, void *conn_arg)
{
    struct session *s = conn_arg;
    struct h3_req *hs = h3x_find(s, sid);
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
    if (hs != NULL && !h3x_tx_finished(hs)) {
        /* The client abandoned the request: abandon the response too. */
        h3x_note_code(hs, code, "reset by client");
        h3x_abort(hs, H3G_H3_REQUEST_CANCELLED, hs->error);
    }
    h3s_write(s);
    return 0;
}

static int responses_finished(const struct session *s)
{
    for (const struct h3_req *hs = s->streams; hs != NULL; hs = hs->next)
        if (!h3x_tx_finished(hs))
            return 0;
    return 1;
}

/* After GOAWAY, the connection closes once nghttp3 has nothing left: every
 * request done and what it wrote acknowledged (which may come after the last
 * stream closed). */
static void finish_shutdown(struct session *s)
{
    if (!s->shutting_down || s->finishing)
        return;
    /* A recycled connection's client may sit idle and never acknowledge the
     * last response: once every response is handed over, the grace starts
     * (the engine's graceful close still waits for acknowledgements). */
    if (!nghttp3_conn_is_drained(s->h3) && !(s->recycling && responses_finished(s)))
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
        h3s_close_ng(s, rv, "ack offset");
        return -1;
    }
    if (s->budget_blocked || s->budget_wake)
        h3b_resume(s);
    h3s_write(s);
    finish_shutdown(s);
    return 0;
}

static int h3_stream_stopped(h3g_qconn *qc, int64_t sid, uint64_t code, void *conn_arg)
{
    H3G_UNUSED(qc);
    H3G_UNUSED(code);
    struct session *s = conn_arg;
    struct h3_req *hs = h3x_find(s, sid);
    if (hs != NULL)
        h3x_abort(hs, H3G_H3_REQUEST_CANCELLED, "stopped by client");
    return 0;
}

static int h3_stream_writable(h3g_qconn *qc, int64_t sid, void *conn_arg)
{
    struct session *s = conn_arg;
    H3G_UNUSED(qc);
    nghttp3_conn_unblock_stream(s->h3, sid);
    h3s_write(s);
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
        h3s_close_ng(s, rv, "close_stream");
        return -1;
    }
    if (rv == NGHTTP3_ERR_STREAM_NOT_FOUND) {
        /* nghttp3 never saw headers on it (reset early): our record goes too. */
        struct h3_req *hs = h3x_find(s, sid);
        if (hs != NULL) {
            h3x_log(hs);
            h3x_free(hs);
        }
    }
    finish_shutdown(s);
    return 0;
}

static int h3_conn_flush(h3g_qconn *qc, void *conn_arg)
{
    struct session *s = conn_arg;
    H3G_UNUSED(qc);
    if (s->budget_wake)
        h3b_resume(s);
    h3s_write(s);
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
    h3b_forget(s); /* first: freeing its streams releases budget, waking waiters */
    while (s->streams != NULL) {
        struct h3_req *hs = s->streams;
        if (hs->error == NULL && hs->tx != TX_COMPLETE)
            hs->error = "connection closed";
        h3x_log(hs);
        h3x_free(hs);
    }
    if (s->cfg.loop != NULL)
        h3g_timer_stop(s->cfg.loop, &s->header_timer);
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
    h3s_write(s);
    if (s->streams == NULL)
        h3g_qconn_close(qc, H3G_H3_NO_ERROR, "shutdown");
}

void h3g_h3_force_close(h3g_qconn *qc, void *conn_arg, void *unused)
{
    struct session *s = conn_arg;
    H3G_UNUSED(unused);
    if (s != NULL) {
        for (struct h3_req *hs = s->streams; hs != NULL; hs = hs->next)
            if (!h3x_tx_finished(hs))
                h3x_abort(hs, H3G_H3_REQUEST_CANCELLED, "drain timeout");
        h3s_write(s);
    }
    /* Whatever the client has not acknowledged by now is not waited for. */
    h3g_qconn_abort(qc, H3G_H3_NO_ERROR, "shutdown");
}
