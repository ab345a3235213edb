/* Streams of the OpenSSL engine: the table from stream ids to OpenSSL's stream
 * objects, and the contract's stream calls (write, reset, stop, pause). */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/quic.h>

#include "common.h"
#include "obs/log.h"
#include "quic/ossl/ossl.h"

/* ---- stream table ---- */

struct qstream *ossl_stream_find(struct oconn *qc, int64_t id)
{
    struct qstream *s = qc->buckets[((uint64_t)id >> 2) % STREAM_BUCKETS];
    while (s != NULL && s->id != id)
        s = s->hnext;
    return s;
}

struct qstream *ossl_stream_add(struct oconn *qc, SSL *ssl)
{
    struct qstream *s = calloc(1, sizeof(*s));
    size_t b;
    if (s == NULL)
        return NULL;
    s->ssl = ssl;
    s->id = (int64_t)SSL_get_stream_id(ssl);
    b = ((uint64_t)s->id >> 2) % STREAM_BUCKETS;
    s->hnext = qc->buckets[b];
    qc->buckets[b] = s;
    s->next = qc->streams;
    if (qc->streams != NULL)
        qc->streams->prev = s;
    qc->streams = s;
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return s;
}

void ossl_stream_remove(struct oconn *qc, struct qstream *s)
{
    struct qstream **pp = &qc->buckets[((uint64_t)s->id >> 2) % STREAM_BUCKETS];
    while (*pp != s)
        pp = &(*pp)->hnext;
    *pp = s->hnext;
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        qc->streams = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    qc->buffered -= H3G_MIN(s->buffered, qc->buffered);
    SSL_free(s->ssl);
    free(s);
}

/* Bytes h3gate lets OpenSSL buffer for the stream now.  OpenSSL takes whatever
 * the peer's flow control allows, growing the stream's buffer (by exactly the
 * shortfall of each write, copying it every time) up to 6 MiB, so a peer that
 * grants large windows would cost both memory and copies; h3gate stops at
 * STREAM_SEND_BUF instead and resumes once acknowledgements free a quarter. */
void ossl_stream_refresh(struct oconn *qc, struct qstream *s)
{
    uint64_t used = 0;
    if (SSL_get_stream_write_buf_used(s->ssl, &used) != 1) {
        ERR_clear_error();
        used = s->buffered;
    }
    qc->buffered = qc->buffered - H3G_MIN(s->buffered, qc->buffered) + used;
    s->buffered = used;
}

/* The connection's share is bounded too (send_budget_conn): OpenSSL keeps each
 * byte until the peer acknowledges it, so without it a client that never reads
 * pins 512 KiB per stream.  Our own control and QPACK streams are exempt. */
uint64_t ossl_stream_send_budget(struct oconn *qc, struct qstream *s)
{
    uint64_t per, cap = qc->eng->cfg.send_budget_conn;
    ossl_stream_refresh(qc, s);
    per = s->buffered < STREAM_SEND_BUF ? STREAM_SEND_BUF - s->buffered : 0;
    if (cap == 0 || (s->uni && s->local))
        return per;
    if (qc->buffered + STREAM_SEND_LOW > cap)
        qc->conn_budget_hit = 1; /* the next pass re-reads every stream's use */
    return H3G_MIN(per, qc->buffered < cap ? cap - qc->buffered : 0);
}

/* OpenSSL copies what it takes, so written bytes are "acknowledged" at copy
 * time; they are reported here, outside h3g_qconn_write as the contract says.
 * Each report may let the layer above write more (it was waiting for its own
 * buffers), so a few rounds run while copies keep happening. */
/* ---- stream operations ---- */

int ossl_open_uni(h3g_qconn *hq, int64_t *sid)
{
    struct oconn *qc = (struct oconn *)hq;
    SSL *ss = SSL_new_stream(qc->ssl, SSL_STREAM_FLAG_UNI | SSL_STREAM_FLAG_NO_BLOCK);
    struct qstream *s;
    if (ss == NULL) {
        uint64_t avail = 1;
        SSL_get_quic_stream_uni_local_avail(qc->ssl, &avail);
        ERR_clear_error();
        if (avail == 0)
            return H3G_ELIMIT;
        h3g_err("%s: OpenSSL could not open a unidirectional stream", qc->peer);
        return H3G_ERR;
    }
    s = ossl_stream_add(qc, ss);
    if (s == NULL) {
        SSL_free(ss);
        return H3G_ENOMEM;
    }
    s->uni = 1;
    s->local = 1;
    s->read_done = 1;
    *sid = s->id;
    return 0;
}

int ossl_write(h3g_qconn *hq, int64_t sid, const h3g_iovec *vec, size_t n, int fin, size_t *written)
{
    struct oconn *qc = (struct oconn *)hq;
    struct qstream *s = ossl_stream_find(qc, sid);
    size_t total = 0;
    uint64_t budget;
    *written = 0;
    if (s == NULL || s->write_done || qc->close_requested || qc->state != QC_READY)
        return H3G_ECLOSED;
    qc->l->dirty = 1;
    qc->last_activity_ms = h3g_now_ms();
    budget = ossl_stream_send_budget(qc, s);
    for (size_t i = 0; i < n; i++) {
        uint64_t flags = (fin && i == n - 1) ? SSL_WRITE_FLAG_CONCLUDE : 0;
        size_t w = 0, len = vec[i].len;
        if (len == 0)
            continue;
        if (len > budget) {
            len = (size_t)budget;
            flags = 0;
            if (len == 0) {
                *written = total;
                s->want_write = 1;
                return H3G_EAGAIN;
            }
        }
        if (SSL_write_ex2(s->ssl, vec[i].base, len, flags, &w) != 1) {
            int err = SSL_get_error(s->ssl, 0);
            *written = total;
            if (err == SSL_ERROR_WANT_WRITE) {
                ERR_clear_error();
                s->want_write = 1;
                return H3G_EAGAIN;
            }
            ERR_clear_error();
            s->write_done = 1;
            if (SSL_get_stream_write_state(s->ssl) == SSL_STREAM_STATE_RESET_REMOTE) {
                /* STOP_SENDING from the peer; OpenSSL answers with RESET_STREAM. */
                uint64_t code = 0;
                SSL_get_stream_write_error_code(s->ssl, &code);
                s->reset = 1;
                s->app_code = code;
            }
            return H3G_ECLOSED;
        }
        total += w;
        budget -= w;
        s->copied += w;
        qc->acks_due = 1;
        if (w < vec[i].len) {
            *written = total;
            s->want_write = 1;
            return H3G_EAGAIN;
        }
        if (flags)
            s->write_done = 1;
    }
    *written = total;
    if (fin && !s->write_done) {
        if (SSL_stream_conclude(s->ssl, 0) != 1) {
            ERR_clear_error();
            s->want_write = 1;
            return H3G_EAGAIN;
        }
        s->write_done = 1;
    }
    return 0;
}

int ossl_reset(h3g_qconn *hq, int64_t sid, uint64_t app_code)
{
    struct oconn *qc = (struct oconn *)hq;
    struct qstream *s = ossl_stream_find(qc, sid);
    if (s == NULL)
        return H3G_ENOTFOUND;
    if (!s->write_done && !(s->uni && !s->local)) {
        SSL_STREAM_RESET_ARGS args = {.quic_error_code = app_code};
        if (SSL_stream_reset(s->ssl, &args, sizeof(args)) != 1)
            ERR_clear_error();
        qc->l->dirty = 1;
    }
    if (!s->reset) {
        s->reset = 1;
        s->app_code = app_code;
    }
    s->write_done = 1;
    /* The receive side ends too: OpenSSL sends STOP_SENDING when the stream is
     * freed (3.5 has no way to choose its error code). */
    s->read_done = 1;
    s->want_write = 0;
    qc->l->more = 1;
    return 0;
}

/* OpenSSL 3.5 cannot choose STOP_SENDING's code: it sends 0 when the stream is
 * freed, which clients take as an error (curl then drops a 413 it already has;
 * RFC 9114 §4.1 wants H3_NO_ERROR).  For H3_NO_ERROR the rest of the body is
 * read and dropped instead, up to DISCARD_MAX, before giving up on the peer. */
void ossl_stop_reading(h3g_qconn *hq, int64_t sid, uint64_t app_code)
{
    struct oconn *qc = (struct oconn *)hq;
    struct qstream *s = ossl_stream_find(qc, sid);
    if (s == NULL || s->read_done || s->discard)
        return;
    h3g_debug("%s: stream %lld: stop reading (0x%llx)", qc->peer, (long long)sid,
              (unsigned long long)app_code);
    if (app_code == H3G_H3_NO_ERROR) {
        s->discard = 1;
        s->discard_left = DISCARD_MAX;
        s->paused = 0;
    } else {
        s->read_done = 1;
    }
    qc->l->more = 1;
}

void ossl_pause_read(h3g_qconn *hq, int64_t sid, int paused)
{
    struct oconn *qc = (struct oconn *)hq;
    struct qstream *s = ossl_stream_find(qc, sid);
    if (s == NULL)
        return;
    s->paused = paused != 0;
    if (!paused)
        qc->l->more = 1;
}

void ossl_wake(h3g_qconn *hq)
{
    struct oconn *qc = (struct oconn *)hq;
    qc->wake = 1;
    qc->l->more = 1;
}

uint64_t ossl_peer_bidi_limit(h3g_qconn *hq)
{
    struct oconn *qc = (struct oconn *)hq;
    uint64_t avail = 0;
    if (!SSL_get_quic_stream_bidi_remote_avail(qc->ssl, &avail))
        ERR_clear_error();
    return qc->bidi_accepted + avail;
}

const char *ossl_peer(const h3g_qconn *hq)
{
    return ((const struct oconn *)hq)->peer;
}

const char *ossl_server_name(const h3g_qconn *hq)
{
    return SSL_get_servername(((const struct oconn *)hq)->ssl, TLSEXT_NAMETYPE_host_name);
}

void ossl_consume(h3g_qconn *hq, int64_t sid, size_t n)
{
    /* OpenSSL returns credit by itself as data is read; pause_read holds a
     * peer back instead. */
    H3G_UNUSED(hq);
    H3G_UNUSED(sid);
    H3G_UNUSED(n);
}
