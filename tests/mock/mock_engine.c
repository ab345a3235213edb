#include "mock_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static struct mock_conn *mc_of(h3g_qconn *qc)
{
    return (struct mock_conn *)qc;
}

struct mock_stream *mock_stream(struct mock_conn *mc, int64_t sid)
{
    struct mock_stream *free_slot = NULL;
    for (size_t i = 0; i < MOCK_MAX_STREAMS; i++) {
        struct mock_stream *s = &mc->streams[i];
        if (s->used && s->id == sid)
            return s;
        if (!s->used && free_slot == NULL)
            free_slot = s;
    }
    if (free_slot == NULL)
        return NULL;
    memset(free_slot, 0, sizeof(*free_slot));
    free_slot->used = 1;
    free_slot->id = sid;
    return free_slot;
}

static int m_open_uni(h3g_qconn *qc, int64_t *sid)
{
    struct mock_conn *mc = mc_of(qc);
    if (mc->next_uni > 3 + 4 * 2)
        return H3G_ELIMIT; /* the client allows 3 */
    *sid = mc->next_uni;
    mc->next_uni += 4;
    return mock_stream(mc, *sid) != NULL ? 0 : H3G_ERR;
}

static int m_write(h3g_qconn *qc, int64_t sid, const h3g_iovec *vec, size_t n, int fin,
                   size_t *written)
{
    struct mock_conn *mc = mc_of(qc);
    struct mock_stream *s = mock_stream(mc, sid);
    size_t total = 0;
    *written = 0;
    if (s == NULL || s->fin || s->reset || mc->closed)
        return H3G_ECLOSED;
    for (size_t i = 0; i < n; i++) {
        size_t len = vec[i].len;
        if (mc->write_cap > 0 && total + len > mc->write_cap)
            len = mc->write_cap - total;
        if (mc->window > 0 && s->unacked + len > mc->window)
            len = mc->window > s->unacked ? mc->window - s->unacked : 0;
        if (s->outlen + len > s->outcap) {
            size_t cap = s->outcap ? s->outcap * 2 : 4096;
            while (cap < s->outlen + len)
                cap *= 2;
            uint8_t *b = realloc(s->out, cap);
            if (b == NULL)
                return H3G_ECLOSED;
            s->out = b;
            s->outcap = cap;
        }
        if (len > 0)
            memcpy(s->out + s->outlen, vec[i].base, len);
        s->outlen += len;
        s->unacked += len;
        total += len;
        if (len < vec[i].len) {
            *written = total;
            s->want_write = 1;
            return H3G_EAGAIN;
        }
    }
    *written = total;
    if (fin)
        s->fin = 1;
    return 0;
}

static int m_reset(h3g_qconn *qc, int64_t sid, uint64_t code)
{
    struct mock_stream *s = mock_stream(mc_of(qc), sid);
    if (s == NULL)
        return H3G_ENOTFOUND;
    if (!s->reset) {
        s->reset = 1;
        s->reset_code = code;
    }
    s->stopped = 1;
    return 0;
}

static void m_stop_reading(h3g_qconn *qc, int64_t sid, uint64_t code)
{
    struct mock_stream *s = mock_stream(mc_of(qc), sid);
    if (s != NULL && !s->stopped) {
        s->stopped = 1;
        s->stop_code = code;
    }
}

static void m_pause_read(h3g_qconn *qc, int64_t sid, int paused)
{
    struct mock_stream *s = mock_stream(mc_of(qc), sid);
    if (s != NULL)
        s->paused = paused;
}

static void m_consume(h3g_qconn *qc, int64_t sid, size_t n)
{
    struct mock_stream *s = mock_stream(mc_of(qc), sid);
    if (s != NULL)
        s->consumed += n;
}

static void m_close(h3g_qconn *qc, uint64_t code, const char *reason)
{
    struct mock_conn *mc = mc_of(qc);
    if (mc->closed)
        return;
    mc->closed = 1;
    mc->close_code = code;
    snprintf(mc->close_reason, sizeof(mc->close_reason), "%s", reason ? reason : "");
}

static void m_close_after(h3g_qconn *qc, uint64_t ms, uint64_t code, const char *reason)
{
    (void)ms, (void)code, (void)reason;
    mc_of(qc)->close_after_armed = 1;
}

static void m_wake(h3g_qconn *qc)
{
    mc_of(qc)->wake = 1;
}

static uint64_t m_bidi_limit(h3g_qconn *qc)
{
    return mc_of(qc)->bidi_limit;
}

static const char *m_peer(const h3g_qconn *qc)
{
    (void)qc;
    return "192.0.2.1:443";
}

static int m_stream_early(h3g_qconn *qc, int64_t sid)
{
    struct mock_stream *s = mock_stream(mc_of(qc), sid);
    return s != NULL && s->early;
}

static const char *m_sni(const h3g_qconn *qc)
{
    (void)qc;
    return "localhost";
}

const struct h3g_engine_ops mock_engine_ops = {
    .name = "mock",
    .open_uni = m_open_uni,
    .write = m_write,
    .reset = m_reset,
    .stop_reading = m_stop_reading,
    .pause_read = m_pause_read,
    .consume = m_consume,
    .close = m_close,
    .close_after = m_close_after,
    .abort = m_close,
    .wake = m_wake,
    .peer_bidi_limit = m_bidi_limit,
    .peer = m_peer,
    .server_name = m_sni,
    .stream_early = m_stream_early,
};

void mock_conn_init(struct mock_conn *mc, const struct h3g_engine_callbacks *cbs, void *engine_arg,
                    unsigned caps)
{
    memset(mc, 0, sizeof(*mc));
    /* Caps differ per test: each connection has its own copy of the table. */
    mc->ops = mock_engine_ops;
    mc->ops.caps = caps;
    mc->base.ops = &mc->ops;
    mc->cbs = cbs;
    mc->caps = caps;
    mc->next_uni = 3;
    mc->bidi_limit = 100;
    mc->uarg = cbs->conn_ready(&mc->base, engine_arg);
}

int mock_feed(struct mock_conn *mc, int64_t sid, const uint8_t *data, size_t len, int fin)
{
    struct mock_stream *s = mock_stream(mc, sid);
    if (s == NULL || mc->closed || mc->uarg == NULL)
        return -1;
    if (s->paused || s->stopped)
        return -1;
    s->fed += len;
    return mc->cbs->stream_data(&mc->base, sid, data, len, fin, mc->uarg);
}

void mock_client_reset(struct mock_conn *mc, int64_t sid, uint64_t code)
{
    if (!mc->closed && mc->uarg != NULL)
        mc->cbs->stream_reset(&mc->base, sid, code, mc->uarg);
}

void mock_client_stop(struct mock_conn *mc, int64_t sid, uint64_t code)
{
    if (!mc->closed && mc->uarg != NULL)
        mc->cbs->stream_stopped(&mc->base, sid, code, mc->uarg);
}

void mock_ack_all(struct mock_conn *mc)
{
    for (int round = 0; round < 64; round++) {
        int any = 0;
        for (size_t i = 0; i < MOCK_MAX_STREAMS && !mc->closed; i++) {
            struct mock_stream *s = &mc->streams[i];
            if (!s->used)
                continue;
            if (s->unacked > 0) {
                size_t n = s->unacked;
                s->unacked = 0;
                any = 1;
                mc->cbs->stream_acked(&mc->base, s->id, n, mc->uarg);
            }
            if (s->want_write && !mc->closed) {
                s->want_write = 0;
                any = 1;
                mc->cbs->stream_writable(&mc->base, s->id, mc->uarg);
            }
        }
        if (mc->wake && !mc->closed) {
            mc->wake = 0;
            any = 1;
            mc->cbs->conn_flush(&mc->base, mc->uarg);
        }
        if (!any)
            return;
    }
}

void mock_close_stream(struct mock_conn *mc, int64_t sid)
{
    struct mock_stream *s = mock_stream(mc, sid);
    if (s == NULL || s->closed || mc->uarg == NULL)
        return;
    s->closed = 1;
    mc->cbs->stream_closed(&mc->base, sid, s->reset ? s->reset_code : H3G_H3_NO_ERROR, mc->uarg);
}

void mock_conn_end(struct mock_conn *mc)
{
    struct h3g_close_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.error_code = mc->closed ? mc->close_code : H3G_H3_NO_ERROR;
    ci.local = mc->closed;
    if (mc->cbs != NULL)
        mc->cbs->conn_closed(&mc->base, &ci, mc->uarg);
    mc->uarg = NULL;
    mc->closed = 1;
}

void mock_conn_free(struct mock_conn *mc)
{
    if (mc->uarg != NULL)
        mock_conn_end(mc);
    for (size_t i = 0; i < MOCK_MAX_STREAMS; i++)
        free(mc->streams[i].out);
}
