/* One QUIC connection of the ngtcp2 engine: its ngtcp2 callbacks (turned into
 * the contract's upcalls), the packet writer with GSO bursts and pacing, and
 * the closing and draining periods.
 *
 * Upcalls may run inside ngtcp2 callbacks, where ngtcp2 allows only some calls
 * back: so h3g_qconn_close only records the request, writes only queue
 * references, and everything that writes packets runs from ng_conn_service. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "common.h"
#include "obs/log.h"
#include "quic/ngtcp2/ng.h"

/* Bursts (up to NG_TX_BUF each) a connection writes per service before the
 * others get their turn. */
#define MAX_BURSTS 16
#define NEW_TOKEN_LEN NGTCP2_CRYPTO_MAX_REGULAR_TOKENLEN
/* A graceful close waits this long at most for written data to be acknowledged. */
#define GRACEFUL_CLOSE_US (10 * 1000000ull)

uint64_t ng_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NGTCP2_SECONDS + (uint64_t)ts.tv_nsec;
}

uint64_t ng_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * NGTCP2_SECONDS + (uint64_t)ts.tv_nsec;
}

static ngtcp2_conn *get_conn(ngtcp2_crypto_conn_ref *ref)
{
    return ((struct ngconn *)ref->user_data)->conn;
}

void ng_conn_mark(struct ngconn *c)
{
    if (c->in_dirty)
        return;
    c->in_dirty = 1;
    c->dnext = c->eng->dirty;
    c->eng->dirty = c;
}

/* ---- closing ---- */

static void drop_streams(struct ngconn *c)
{
    while (c->streams != NULL)
        ng_stream_remove(c, c->streams);
}

/* Tells the layer above once, then forgets it: nothing it wrote is used after. */
static void notify_closed(struct ngconn *c, const ngtcp2_ccerr *e, int local, int idle)
{
    struct h3g_close_info ci;
    void *uarg = c->uarg;
    memset(&ci, 0, sizeof(ci));
    ci.error_code = e->error_code;
    ci.frame_type = e->frame_type;
    ci.transport = e->type == NGTCP2_CCERR_TYPE_TRANSPORT;
    ci.local = local;
    ci.idle = idle;
    if (e->reason != NULL && e->reasonlen > 0) {
        ci.reason_len = H3G_MIN(e->reasonlen, sizeof(ci.reason) - 1);
        memcpy(ci.reason, e->reason, ci.reason_len);
    }
    c->uarg = NULL;
    c->eng->cbs.conn_closed(&c->base, &ci, uarg);
    drop_streams(c);
}

static void arm_free(struct ngconn *c)
{
    /* RFC 9000 §10.2: three PTOs in the closing or draining period. */
    uint64_t us = 3 * ngtcp2_conn_get_pto2(c->conn) / 1000;
    h3g_timer_start_us(c->eng->loop, &c->timer, us);
}

static void start_closing(struct ngconn *c)
{
    ngtcp2_path_storage ps;
    ngtcp2_pkt_info pi;
    uint8_t buf[1500];
    ngtcp2_ssize n;
    if (c->state == NC_CLOSING || c->state == NC_DRAINING)
        return;
    ngtcp2_path_storage_zero(&ps);
    n = ngtcp2_conn_write_connection_close(c->conn, &ps.path, &pi, buf, sizeof(buf), &c->ccerr,
                                           ng_now_ns());
    c->state = NC_CLOSING;
    if (n > 0 && (c->closebuf = malloc((size_t)n)) != NULL) {
        memcpy(c->closebuf, buf, (size_t)n);
        c->closelen = (size_t)n;
        ng_conn_send(c, &ps.path, pi.ecn, buf, (size_t)n, 0);
    }
    notify_closed(c, &c->ccerr, 1, 0);
    arm_free(c);
}

void ng_conn_close(struct ngconn *c, uint64_t app_code, const char *reason, int now)
{
    if (c->state == NC_CLOSING || c->state == NC_DRAINING)
        return;
    if (!c->close_requested || now) {
        c->close_requested = 1;
        c->close_code = app_code;
        snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason ? reason : "");
        c->close_by_us =
            h3g_now_us() + (now || app_code != H3G_H3_NO_ERROR ? 0 : GRACEFUL_CLOSE_US);
    }
    c->pending = 1;
    ng_conn_mark(c);
}

/* A requested close goes out once written data is acknowledged (H3_NO_ERROR)
 * or at once (any other code, an abort, or time is up). */
static void drive_close(struct ngconn *c)
{
    if (c->unacked > 0 && h3g_now_us() < c->close_by_us)
        return;
    ngtcp2_ccerr_set_application_error(&c->ccerr, c->close_code, (const uint8_t *)c->close_reason,
                                       strlen(c->close_reason));
    start_closing(c);
}

static void fail(struct ngconn *c, int liberr)
{
    if (liberr == NGTCP2_ERR_CRYPTO)
        ngtcp2_ccerr_set_tls_alert(&c->ccerr, ngtcp2_conn_get_tls_alert2(c->conn), NULL, 0);
    else if (c->ccerr.error_code == 0 && c->ccerr.type == NGTCP2_CCERR_TYPE_TRANSPORT)
        ngtcp2_ccerr_set_liberr(&c->ccerr, liberr, NULL, 0);
    start_closing(c);
}

/* ---- sending ---- */

void ng_conn_send(struct ngconn *c, const ngtcp2_path *path, uint8_t ecn, const uint8_t *data,
                  size_t len, size_t seg)
{
    struct ngengine *eng = c->eng;
    int r = h3g_udp_send(&c->l->sock, path->local.addr, path->remote.addr, path->remote.addrlen,
                         ecn, data, len, seg);
    size_t pkts = seg > 0 ? (len + seg - 1) / seg : 1;
    if (r > 0) {
        eng->n.send_calls += (uint64_t)r;
        eng->n.packets_out += pkts;
    } else {
        /* A full socket buffer or a send error: the packets count as lost and
         * QUIC's loss recovery resends their content. */
        eng->n.send_blocked++;
    }
}

/* Is s's queue fully written (fin too, if it ends)? */
static int queue_done(const struct ngstream *s)
{
    return s->qlen == 0 && (!s->fin_queued || s->fin_sent);
}

static void after_write(struct ngconn *c, struct ngstream *s, ngtcp2_ssize ndatalen,
                        const ngtcp2_vec *v, size_t nv, int fin)
{
    size_t total = 0;
    if (s == NULL || ndatalen < 0)
        return;
    for (size_t i = 0; i < nv; i++)
        total += v[i].len;
    ng_stream_advance(c, s, (size_t)ndatalen, fin && (size_t)ndatalen == total);
    ng_stream_sendq_drop(c, s);
    if (!queue_done(s))
        ng_stream_sendq_push(c, s); /* round robin: to the back */
}

/* ngtcp2_conn_write_aggregate_pkt2's packet writer: stream data from the send
 * queue, round robin, then whatever ngtcp2 has to say (ACKs, control). */
static ngtcp2_ssize write_pkt(ngtcp2_conn *conn, ngtcp2_path *path, ngtcp2_pkt_info *pi,
                              uint8_t *dest, size_t destlen, ngtcp2_tstamp ts, void *ud)
{
    struct ngconn *c = ud;
    /* Without connection credit no stream data fits: only ngtcp2's own frames
     * (offering data anyway loops on WRITE_MORE without progress). */
    int streams = ngtcp2_conn_get_max_data_left2(conn) > 0;
    for (;;) {
        struct ngstream *s =
            streams && (c->state == NC_READY || c->state == NC_HANDSHAKE) ? c->sendq : NULL;
        ngtcp2_vec v[16];
        size_t nv = 0;
        int fin = 0;
        ngtcp2_ssize ndatalen = -1;
        if (s != NULL) {
            nv = ng_stream_peek(s, v, H3G_ARRAY_LEN(v), &fin);
            if (nv == 0 && !fin) {
                ng_stream_sendq_drop(c, s);
                continue;
            }
        }
        uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE | (fin ? NGTCP2_WRITE_STREAM_FLAG_FIN : 0);
        ngtcp2_ssize n = ngtcp2_conn_writev_stream(conn, path, pi, dest, destlen, &ndatalen, flags,
                                                   s ? s->id : -1, v, nv, ts);
        if (n >= 0) {
            after_write(c, s, ndatalen, v, nv, fin);
            return n;
        }
        switch (n) {
        case NGTCP2_ERR_STREAM_DATA_BLOCKED:
            s->blocked = 1; /* extend_max_stream_data puts it back */
            ng_stream_sendq_drop(c, s);
            continue;
        case NGTCP2_ERR_STREAM_SHUT_WR:
        case NGTCP2_ERR_STREAM_NOT_FOUND: ng_stream_drop_queue(c, s); continue;
        case NGTCP2_ERR_WRITE_MORE:
            after_write(c, s, ndatalen, v, nv, fin);
            if (ndatalen <= 0 || ngtcp2_conn_get_max_data_left2(conn) == 0)
                streams = 0; /* nothing more fits: finish the packet */
            continue;
        default:
            ngtcp2_ccerr_set_liberr(&c->ccerr, (int)n, NULL, 0);
            return NGTCP2_ERR_CALLBACK_FAILURE;
        }
    }
}

/* Writes GSO bursts until ngtcp2 has nothing more (or pacing says later);
 * 1 when the connection has more to write, -1 when it closed. */
static int conn_write(struct ngconn *c)
{
    struct ngengine *eng = c->eng;
    for (int burst = 0; burst < MAX_BURSTS; burst++) {
        ngtcp2_path_storage ps;
        ngtcp2_pkt_info pi;
        size_t gso = 0;
        uint64_t ts = ng_now_ns();
        size_t quantum = ngtcp2_conn_get_send_quantum2(c->conn);
        size_t pmax = ngtcp2_conn_get_path_max_tx_udp_payload_size2(c->conn);
        size_t buflen = H3G_MIN((size_t)NG_TX_BUF, H3G_MAX(quantum, pmax));
        ngtcp2_path_storage_zero(&ps);
        ngtcp2_ssize n = ngtcp2_conn_write_aggregate_pkt2(c->conn, &ps.path, &pi, eng->tx, buflen,
                                                          &gso, write_pkt, 0, ts);
        if (n < 0) {
            fail(c, (int)n);
            return -1;
        }
        ngtcp2_conn_update_pkt_tx_time(c->conn, ts);
        if (n == 0)
            return 0;
        ng_conn_send(c, &ps.path, pi.ecn, eng->tx, (size_t)n, gso);
    }
    return 1;
}

/* ---- timers and service ---- */

static void arm_timer(struct ngconn *c)
{
    ngtcp2_tstamp exp = ngtcp2_conn_get_expiry2(c->conn), now = ng_now_ns();
    uint64_t us;
    if (exp == UINT64_MAX) {
        h3g_timer_stop(c->eng->loop, &c->timer);
        return;
    }
    us = exp > now ? (exp - now + 999) / 1000 : 0;
    if (c->deadline_us != 0) {
        uint64_t t = h3g_now_us();
        uint64_t d = c->deadline_us > t ? c->deadline_us - t : 0;
        us = H3G_MIN(us, d);
    }
    if (c->close_requested)
        us = H3G_MIN(us, 100000); /* look at a graceful close's progress */
    h3g_timer_start_us(c->eng->loop, &c->timer, us);
}

static void on_timer(h3g_timer *t, void *arg)
{
    struct ngconn *c = arg;
    int rv;
    (void)t;
    if (c->state == NC_CLOSING || c->state == NC_DRAINING) {
        ng_conn_free(c);
        return;
    }
    rv = ngtcp2_conn_handle_expiry(c->conn, ng_now_ns());
    if (rv == NGTCP2_ERR_IDLE_CLOSE) {
        ngtcp2_ccerr e;
        ngtcp2_ccerr_default(&e);
        ngtcp2_ccerr_set_application_error(&e, H3G_H3_NO_ERROR, (const uint8_t *)"idle timeout",
                                           12);
        notify_closed(c, &e, 1, 1);
        ng_conn_free(c); /* silently, as RFC 9000 §10.1 says */
        return;
    }
    if (rv != 0) {
        fail(c, rv);
        return;
    }
    if (c->deadline_us != 0 && h3g_now_us() >= c->deadline_us) {
        c->deadline_us = 0;
        ng_conn_close(c, c->deadline_code, c->deadline_reason, 0);
    }
    ng_conn_mark(c);
}

/* Paused input delivered, writable streams told, a flush run. */
static void run_pending(struct ngconn *c)
{
    struct ngengine *eng = c->eng;
    struct ngstream *s, *next;
    c->pending = 0;
    for (s = c->streams; s != NULL && c->uarg != NULL && !c->close_requested; s = next) {
        next = s->next;
        if (s->rpending && !s->paused && !s->read_done) {
            uint8_t *buf = s->rbuf;
            size_t len = s->rlen;
            int fin = s->rfin;
            s->rbuf = NULL;
            s->rlen = s->rcap = 0;
            s->rfin = 0;
            s->rpending = 0;
            eng->cbs.stream_data(&c->base, s->id, buf, len, fin, c->uarg);
            free(buf);
            continue;
        }
        if (s->notify_writable && !s->write_done) {
            s->notify_writable = 0;
            eng->cbs.stream_writable(&c->base, s->id, c->uarg);
        }
    }
    if (c->wake && c->uarg != NULL && !c->close_requested) {
        c->wake = 0;
        eng->cbs.conn_flush(&c->base, c->uarg);
    }
}

int ng_conn_service(struct ngconn *c)
{
    int more = 0;
    if (c->state == NC_CLOSING || c->state == NC_DRAINING)
        return 0;
    for (int round = 0; round < 4; round++) {
        if (c->pending)
            run_pending(c);
        if (c->close_requested) {
            drive_close(c);
            if (c->state == NC_CLOSING)
                return 0;
        }
        more = conn_write(c);
        if (more < 0)
            return 0;
        if (!c->pending)
            break;
    }
    arm_timer(c);
    return more > 0 || c->pending;
}

/* ---- ngtcp2 callbacks ---- */

static void rand_cb(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *ctx)
{
    (void)ctx;
    if (RAND_bytes(dest, (int)len) != 1) {
        /* Only packet numbers and padding use this: never fatal. */
        for (size_t i = 0; i < len; i++)
            dest[i] = (uint8_t)(ng_now_ns() >> (i % 8));
    }
}

static int get_new_cid(ngtcp2_conn *conn, ngtcp2_cid *cid, ngtcp2_stateless_reset_token *token,
                       size_t cidlen, void *ud)
{
    struct ngconn *c = ud;
    (void)conn;
    (void)cidlen;
    if (h3g_cid_make(cid, &c->eng->id) != 0 ||
        ngtcp2_crypto_generate_stateless_reset_token(token->data, c->eng->secret,
                                                     sizeof(c->eng->secret), cid) != 0 ||
        h3g_cid_map_put(&c->eng->cids, cid->data, cid->datalen, c) != 0)
        return NGTCP2_ERR_CALLBACK_FAILURE;
    return 0;
}

static int remove_cid(ngtcp2_conn *conn, const ngtcp2_cid *cid, void *ud)
{
    struct ngconn *c = ud;
    (void)conn;
    h3g_cid_map_del(&c->eng->cids, cid->data, cid->datalen);
    return 0;
}

/* With the 1-RTT keys the layer above can start (0-RTT requests need it). */
static int recv_tx_key(ngtcp2_conn *conn, ngtcp2_encryption_level level, void *ud)
{
    struct ngconn *c = ud;
    struct ngengine *eng = c->eng;
    (void)conn;
    if (level != NGTCP2_ENCRYPTION_LEVEL_1RTT || c->uarg != NULL)
        return 0;
    if (!eng->accepting) {
        ng_conn_close(c, H3G_H3_NO_ERROR, "shutting down", 1);
        return 0;
    }
    c->uarg = eng->cbs.conn_ready(&c->base, eng->arg);
    if (c->uarg == NULL)
        ng_conn_close(c, H3G_H3_INTERNAL_ERROR, "cannot set up HTTP/3", 1);
    c->pending = 1; /* input that came before is delivered */
    return 0;
}

static int handshake_completed(ngtcp2_conn *conn, void *ud)
{
    struct ngconn *c = ud;
    uint8_t token[NEW_TOKEN_LEN];
    const ngtcp2_path *p = ngtcp2_conn_get_path2(conn);
    ngtcp2_ssize n;
    c->state = NC_READY;
    c->eng->n.handshakes++;
    c->eng->n.resumed += SSL_session_reused(c->ssl) == 1;
    if (c->in_handshake) {
        c->in_handshake = 0;
        c->eng->nhandshakes--;
    }
    /* A token for the client's next connection: it skips the Retry round trip. */
    n = ngtcp2_crypto_generate_regular_token(token, c->eng->secret, sizeof(c->eng->secret),
                                             p->remote.addr, p->remote.addrlen, ng_wall_ns());
    if (n > 0 && ngtcp2_conn_submit_new_token(conn, token, (size_t)n) != 0)
        h3g_debug("%s: cannot send NEW_TOKEN", c->peer);
    return 0;
}

static struct ngstream *stream_of(struct ngconn *c, int64_t sid)
{
    struct ngstream *s = ng_stream_find(c, sid);
    if (s == NULL && (s = ng_stream_add(c, sid)) != NULL)
        s->uni = !ngtcp2_is_bidi_stream(sid);
    return s;
}

static int stream_open(ngtcp2_conn *conn, int64_t sid, void *ud)
{
    (void)conn;
    return stream_of(ud, sid) != NULL ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
}

static int recv_stream_data(ngtcp2_conn *conn, uint32_t flags, int64_t sid, uint64_t offset,
                            const uint8_t *data, size_t len, void *ud, void *sud)
{
    struct ngconn *c = ud;
    struct ngstream *s = stream_of(c, sid);
    int fin = (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0;
    (void)offset;
    (void)sud;
    if (s == NULL)
        return NGTCP2_ERR_CALLBACK_FAILURE;
    if (flags & NGTCP2_STREAM_DATA_FLAG_0RTT) {
        if (!s->early)
            c->eng->n.early_streams++;
        s->early = 1;
    }
    if (s->read_done) { /* stopped: dropped, and the credit comes back at once */
        ngtcp2_conn_extend_max_stream_offset(conn, sid, len);
        ngtcp2_conn_extend_max_offset(conn, len);
        return 0;
    }
    if (s->paused || s->rpending || c->uarg == NULL) {
        if (ng_stream_buffer(s, data, len, fin) != 0)
            return NGTCP2_ERR_CALLBACK_FAILURE;
        s->rpending = 1;
        if (!s->paused && c->uarg != NULL)
            c->pending = 1;
        return 0;
    }
    if (!c->close_requested)
        c->eng->cbs.stream_data(&c->base, sid, data, len, fin, c->uarg);
    ng_conn_mark(c);
    return 0;
}

static int acked_stream_data(ngtcp2_conn *conn, int64_t sid, uint64_t offset, uint64_t len,
                             void *ud, void *sud)
{
    struct ngconn *c = ud;
    (void)conn;
    (void)offset;
    (void)sud;
    c->unacked -= H3G_MIN(c->unacked, len);
    if (c->uarg != NULL)
        c->eng->cbs.stream_acked(&c->base, sid, len, c->uarg);
    ng_conn_mark(c);
    return 0;
}

static int stream_close(ngtcp2_conn *conn, uint32_t flags, int64_t sid, uint64_t code, void *ud,
                        void *sud)
{
    struct ngconn *c = ud;
    struct ngstream *s = ng_stream_find(c, sid);
    (void)sud;
    if (!(flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET))
        code = H3G_H3_NO_ERROR;
    if (ngtcp2_is_bidi_stream(sid) && !ngtcp2_conn_is_local_stream2(conn, sid)) {
        ngtcp2_conn_extend_max_streams_bidi(conn, 1);
        c->bidi_limit++;
    }
    if (s != NULL) {
        /* What it still had queued or in flight will never be acknowledged. */
        int local = s->local;
        ng_stream_remove(c, s);
        if (local)
            return 0;
    }
    if (c->uarg != NULL)
        c->eng->cbs.stream_closed(&c->base, sid, code, c->uarg);
    ng_conn_mark(c);
    return 0;
}

static int stream_reset(ngtcp2_conn *conn, int64_t sid, uint64_t final_size, uint64_t code,
                        void *ud, void *sud)
{
    struct ngconn *c = ud;
    struct ngstream *s = ng_stream_find(c, sid);
    (void)conn;
    (void)final_size;
    (void)sud;
    if (s != NULL) {
        free(s->rbuf);
        s->rbuf = NULL;
        s->rlen = s->rcap = 0;
        s->rpending = 0;
        s->read_done = 1;
    }
    if (c->uarg != NULL)
        c->eng->cbs.stream_reset(&c->base, sid, code, c->uarg);
    ng_conn_mark(c);
    return 0;
}

static int recv_stop_sending(ngtcp2_conn *conn, int64_t sid, uint64_t code, void *ud, void *sud)
{
    struct ngconn *c = ud;
    struct ngstream *s = ng_stream_find(c, sid);
    (void)conn;
    (void)sud;
    if (s != NULL)
        ng_stream_drop_queue(c, s);
    if (c->uarg != NULL)
        c->eng->cbs.stream_stopped(&c->base, sid, code, c->uarg);
    ng_conn_mark(c);
    return 0;
}

static int extend_max_stream_data(ngtcp2_conn *conn, int64_t sid, uint64_t max, void *ud, void *sud)
{
    struct ngconn *c = ud;
    struct ngstream *s = ng_stream_find(c, sid);
    (void)conn;
    (void)max;
    (void)sud;
    if (s != NULL && s->blocked) {
        s->blocked = 0;
        if (!queue_done(s))
            ng_stream_sendq_push(c, s);
        ng_conn_mark(c);
    }
    return 0;
}

static int path_validation(ngtcp2_conn *conn, uint32_t flags, const ngtcp2_path *path,
                           const ngtcp2_path *fallback, ngtcp2_path_validation_result res, void *ud)
{
    struct ngconn *c = ud;
    (void)fallback;
    if (res != NGTCP2_PATH_VALIDATION_RESULT_SUCCESS)
        return 0;
    if (flags & NGTCP2_PATH_VALIDATION_FLAG_NEW_TOKEN) {
        uint8_t token[NEW_TOKEN_LEN];
        ngtcp2_ssize n = ngtcp2_crypto_generate_regular_token(
            token, c->eng->secret, sizeof(c->eng->secret), path->remote.addr, path->remote.addrlen,
            ng_wall_ns());
        if (n > 0)
            ngtcp2_conn_submit_new_token(conn, token, (size_t)n);
    }
    return 0;
}

const ngtcp2_callbacks ng_callbacks = {
    .recv_client_initial = ngtcp2_crypto_recv_client_initial_cb,
    .recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
    .encrypt = ngtcp2_crypto_encrypt_cb,
    .decrypt = ngtcp2_crypto_decrypt_cb,
    .hp_mask = ngtcp2_crypto_hp_mask_cb,
    .update_key = ngtcp2_crypto_update_key_cb,
    .delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
    .delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
    .version_negotiation = ngtcp2_crypto_version_negotiation_cb,
    .get_path_challenge_data2 = ngtcp2_crypto_get_path_challenge_data2_cb,
    .rand = rand_cb,
    .get_new_connection_id2 = get_new_cid,
    .remove_connection_id = remove_cid,
    .recv_tx_key = recv_tx_key,
    .handshake_completed = handshake_completed,
    .stream_open = stream_open,
    .recv_stream_data = recv_stream_data,
    .acked_stream_data_offset = acked_stream_data,
    .stream_close = stream_close,
    .stream_reset = stream_reset,
    .recv_stop_sending = recv_stop_sending,
    .extend_max_stream_data = extend_max_stream_data,
    .path_validation = path_validation,
};

/* ---- reading ---- */

/* The peer's address follows migration and NAT rebinding (the access log names
 * the current one). */
static void follow_path(struct ngconn *c)
{
    const ngtcp2_path *p = ngtcp2_conn_get_path2(c->conn);
    if (p->remote.addrlen == c->remotelen && memcmp(p->remote.addr, &c->remote, c->remotelen) == 0)
        return;
    char old[64];
    snprintf(old, sizeof(old), "%s", c->peer);
    memcpy(&c->remote, p->remote.addr, p->remote.addrlen);
    c->remotelen = (socklen_t)p->remote.addrlen;
    h3g_sockaddr_format((struct sockaddr *)&c->remote, c->peer, sizeof(c->peer));
    c->eng->n.migrations++;
    h3g_info("%s: connection moved to %s", old, c->peer);
}

int ng_conn_read(struct ngconn *c, const struct h3g_udp_dgram *d, const uint8_t *pkt, size_t len)
{
    ngtcp2_path path = {
        .local = {.addr = (ngtcp2_sockaddr *)&d->local, .addrlen = d->locallen},
        .remote = {.addr = (ngtcp2_sockaddr *)&d->remote, .addrlen = d->remotelen},
    };
    ngtcp2_pkt_info pi = {.ecn = d->ecn};
    int rv;
    if (c->state == NC_CLOSING) {
        /* Repeat our CONNECTION_CLOSE after 1, 2, 4, ... packets. */
        uint64_t k = ++c->close_recv;
        if (c->closebuf != NULL && (k & (k - 1)) == 0)
            ng_conn_send(c, &path, 0, c->closebuf, c->closelen, 0);
        return 0;
    }
    if (c->state == NC_DRAINING)
        return 0;
    rv = ngtcp2_conn_read_pkt(c->conn, &path, &pi, pkt, len, ng_now_ns());
    if (rv == 0) {
        follow_path(c);
        ng_conn_mark(c);
        return 0;
    }
    if (rv == NGTCP2_ERR_DRAINING) {
        c->state = NC_DRAINING;
        notify_closed(c, ngtcp2_conn_get_ccerr2(c->conn), 0, 0);
        arm_free(c);
        return 0;
    }
    if (rv == NGTCP2_ERR_DROP_CONN || rv == NGTCP2_ERR_RETRY) {
        ngtcp2_ccerr e;
        ngtcp2_ccerr_default(&e);
        ngtcp2_ccerr_set_liberr(&e, rv, NULL, 0);
        notify_closed(c, &e, 1, 0);
        ng_conn_free(c);
        return -1;
    }
    h3g_debug("%s: closing connection: %s", c->peer, ngtcp2_strerror(rv));
    fail(c, rv);
    return 0;
}

/* ---- life ---- */

static int setup_tls(struct ngconn *c)
{
    c->ssl = SSL_new(c->eng->ctx);
    if (c->ssl == NULL || ngtcp2_crypto_ossl_ctx_new(&c->octx, NULL) != 0)
        return -1;
    ngtcp2_crypto_ossl_ctx_set_ssl(c->octx, c->ssl);
    if (ngtcp2_crypto_ossl_configure_server_session(c->ssl) != 0)
        return -1;
    c->ref.get_conn = get_conn;
    c->ref.user_data = c;
    SSL_set_app_data(c->ssl, &c->ref);
    SSL_set_accept_state(c->ssl);
    SSL_set_quic_tls_early_data_enabled(c->ssl, 1);
    return 0;
}

static void set_params(struct ngconn *c, ngtcp2_transport_params *p, const ngtcp2_pkt_hd *hd,
                       const ngtcp2_cid *odcid, const ngtcp2_cid *scid)
{
    const struct h3g_engine_config *cfg = &c->eng->cfg;
    ngtcp2_transport_params_default(p);
    p->initial_max_stream_data_bidi_remote = 256 * 1024;
    p->initial_max_stream_data_uni = 256 * 1024;
    p->initial_max_data = 1024 * 1024;
    p->initial_max_streams_bidi = cfg->max_streams_bidi ? cfg->max_streams_bidi : 100;
    p->initial_max_streams_uni = 3;
    p->max_idle_timeout =
        (cfg->idle_timeout_ms ? cfg->idle_timeout_ms : 30000) * NGTCP2_MILLISECONDS;
    p->active_connection_id_limit = 8;
    p->stateless_reset_token_present = 1;
    ngtcp2_crypto_generate_stateless_reset_token(p->stateless_reset_token, c->eng->secret,
                                                 sizeof(c->eng->secret), scid);
    if (odcid != NULL) { /* validated by a Retry token */
        p->original_dcid = *odcid;
        p->retry_scid = hd->dcid;
        p->retry_scid_present = 1;
    } else {
        p->original_dcid = hd->dcid;
    }
    p->original_dcid_present = 1;
    c->bidi_limit = p->initial_max_streams_bidi;
}

static void set_settings(struct ngconn *c, ngtcp2_settings *s, const ngtcp2_pkt_hd *hd,
                         int token_type)
{
    static const ngtcp2_cc_algo algos[] = {NGTCP2_CC_ALGO_CUBIC, NGTCP2_CC_ALGO_BBR,
                                           NGTCP2_CC_ALGO_RENO};
    ngtcp2_settings_default(s);
    s->initial_ts = ng_now_ns();
    s->cc_algo = algos[c->eng->cfg.cc < 3 ? c->eng->cfg.cc : 0];
    s->max_window = 6 * 1024 * 1024;
    s->max_stream_window = 6 * 1024 * 1024;
    s->handshake_timeout = 10 * NGTCP2_SECONDS;
    if (hd->tokenlen > 0 && token_type != NGTCP2_TOKEN_TYPE_UNKNOWN) {
        s->token = hd->token;
        s->tokenlen = hd->tokenlen;
        s->token_type = (ngtcp2_token_type)token_type;
    }
}

struct ngconn *ng_conn_new(struct ngengine *eng, struct nglistener *l, const ngtcp2_pkt_hd *hd,
                           const ngtcp2_cid *odcid, int token_type, const struct h3g_udp_dgram *d)
{
    struct ngconn *c = calloc(1, sizeof(*c));
    ngtcp2_settings settings;
    ngtcp2_transport_params params;
    ngtcp2_cid scid;
    ngtcp2_path path = {
        .local = {.addr = (ngtcp2_sockaddr *)&d->local, .addrlen = d->locallen},
        .remote = {.addr = (ngtcp2_sockaddr *)&d->remote, .addrlen = d->remotelen},
    };
    if (c == NULL)
        return NULL;
    c->base.ops = &h3g_engine_ngtcp2;
    c->eng = eng;
    c->l = l;
    c->state = NC_HANDSHAKE;
    ngtcp2_ccerr_default(&c->ccerr);
    h3g_timer_init(&c->timer, on_timer, c);
    memcpy(&c->remote, &d->remote, d->remotelen);
    c->remotelen = d->remotelen;
    h3g_sockaddr_format((const struct sockaddr *)&d->remote, c->peer, sizeof(c->peer));
    c->initial_dcid = hd->dcid;
    if (h3g_cid_make(&scid, &eng->id) != 0 || setup_tls(c) != 0)
        goto fail;
    set_settings(c, &settings, hd, token_type);
    if (eng->cfg.qlog_dir[0] != '\0' && ng_qlog_open(c, odcid != NULL ? odcid : &hd->dcid) == 0)
        settings.qlog_write = ng_qlog_write;
    set_params(c, &params, hd, odcid, &scid);
    if (ngtcp2_conn_server_new(&c->conn, &hd->scid, &scid, &path, hd->version, &ng_callbacks,
                               &settings, &params, NULL, c) != 0)
        goto fail;
    ngtcp2_conn_set_tls_native_handle(c->conn, c->octx);
    if (h3g_cid_map_put(&eng->cids, scid.data, scid.datalen, c) != 0 ||
        h3g_cid_map_put(&eng->cids, hd->dcid.data, hd->dcid.datalen, c) != 0)
        goto fail;
    c->next = eng->conns;
    if (eng->conns != NULL)
        eng->conns->prev = c;
    eng->conns = c;
    eng->nconns++;
    eng->nhandshakes++;
    c->in_handshake = 1;
    return c;
fail:
    ERR_clear_error();
    if (c->conn != NULL) {
        h3g_cid_map_del(&eng->cids, scid.data, scid.datalen);
        h3g_cid_map_del(&eng->cids, hd->dcid.data, hd->dcid.datalen);
        ngtcp2_conn_del(c->conn);
    }
    if (c->ssl != NULL) {
        SSL_set_app_data(c->ssl, NULL);
        SSL_free(c->ssl);
    }
    ngtcp2_crypto_ossl_ctx_del(c->octx);
    ng_qlog_close(c);
    free(c);
    return NULL;
}

void ng_conn_free(struct ngconn *c)
{
    struct ngengine *eng = c->eng;
    if (c->uarg != NULL) { /* the engine goes away under it */
        ngtcp2_ccerr e;
        ngtcp2_ccerr_default(&e);
        ngtcp2_ccerr_set_application_error(&e, H3G_H3_NO_ERROR, (const uint8_t *)"exit", 4);
        notify_closed(c, &e, 1, 0);
    }
    drop_streams(c);
    c->l->slot.nconns--;
    h3g_timer_stop(eng->loop, &c->timer);
    if (c->conn != NULL) {
        ngtcp2_conn_info info;
        ngtcp2_conn_get_conn_info2(c->conn, &info);
        eng->n.lost_closed += info.pkt_lost;
        size_t n = ngtcp2_conn_get_scid2(c->conn, NULL);
        ngtcp2_cid *ids = n > 0 ? calloc(n, sizeof(*ids)) : NULL;
        if (ids != NULL) {
            ngtcp2_conn_get_scid2(c->conn, ids);
            for (size_t i = 0; i < n; i++)
                h3g_cid_map_del(&eng->cids, ids[i].data, ids[i].datalen);
            free(ids);
        }
        ngtcp2_conn_del(c->conn);
    }
    h3g_cid_map_del(&eng->cids, c->initial_dcid.data, c->initial_dcid.datalen);
    if (c->in_dirty) {
        struct ngconn **pp = &eng->dirty;
        while (*pp != NULL && *pp != c)
            pp = &(*pp)->dnext;
        if (*pp == c)
            *pp = c->dnext;
    }
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        eng->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    eng->nconns--;
    if (c->in_handshake)
        eng->nhandshakes--;
    SSL_set_app_data(c->ssl, NULL);
    SSL_free(c->ssl);
    ngtcp2_crypto_ossl_ctx_del(c->octx);
    ng_qlog_close(c);
    free(c->closebuf);
    free(c);
}

/* ---- session tickets and 0-RTT ---- */

#define TICKET_MAGIC "h3g1"

static struct ngconn *conn_of_ssl(SSL *ssl)
{
    ngtcp2_crypto_conn_ref *ref = SSL_get_app_data(ssl);
    return ref != NULL ? ref->user_data : NULL;
}

/* What a ticket remembers: the QUIC version and the transport parameters 0-RTT
 * may rely on (RFC 9000 §7.4.1). */
static ngtcp2_ssize ticket_data(struct ngconn *c, uint8_t *buf, size_t len)
{
    uint32_t v = ngtcp2_conn_get_negotiated_version2(c->conn);
    ngtcp2_ssize n;
    if (len < 8)
        return -1;
    memcpy(buf, TICKET_MAGIC, 4);
    buf[4] = (uint8_t)(v >> 24), buf[5] = (uint8_t)(v >> 16), buf[6] = (uint8_t)(v >> 8),
    buf[7] = (uint8_t)v;
    n = ngtcp2_conn_encode_0rtt_transport_params2(c->conn, buf + 8, len - 8);
    return n < 0 ? n : n + 8;
}

static int gen_ticket(SSL *ssl, void *arg)
{
    struct ngconn *c = conn_of_ssl(ssl);
    uint8_t buf[256];
    ngtcp2_ssize n;
    (void)arg;
    if (c == NULL || (n = ticket_data(c, buf, sizeof(buf))) < 0)
        return 1; /* a ticket without 0-RTT data: resumption only */
    SSL_SESSION_set1_ticket_appdata(SSL_get0_session(ssl), buf, (size_t)n);
    return 1;
}

static SSL_TICKET_RETURN dec_ticket(SSL *ssl, SSL_SESSION *sess, const unsigned char *keyname,
                                    size_t keynamelen, SSL_TICKET_STATUS status, void *arg)
{
    (void)ssl, (void)sess, (void)keyname, (void)keynamelen, (void)arg;
    switch (status) {
    case SSL_TICKET_EMPTY:
    case SSL_TICKET_NO_DECRYPT: return SSL_TICKET_RETURN_IGNORE_RENEW;
    case SSL_TICKET_SUCCESS_RENEW: return SSL_TICKET_RETURN_USE_RENEW;
    default: return SSL_TICKET_RETURN_USE;
    }
}

/* 0-RTT only while the ticket's version and parameters are the ones this
 * server would give now; otherwise the handshake goes on without early data. */
static int allow_early(SSL *ssl, void *arg)
{
    struct ngconn *c = conn_of_ssl(ssl);
    SSL_SESSION *sess = SSL_get0_session(ssl);
    void *data = NULL;
    size_t len = 0;
    uint8_t now[256];
    ngtcp2_ssize n;
    (void)arg;
    if (c == NULL || sess == NULL || !SSL_SESSION_get0_ticket_appdata(sess, &data, &len) ||
        (n = ticket_data(c, now, sizeof(now))) < 0) {
        h3g_debug("%s: no 0-RTT: the session ticket carries no QUIC parameters", c ? c->peer : "-");
        return 0;
    }
    if ((size_t)n != len || memcmp(now, data, len) != 0) {
        h3g_debug("%s: no 0-RTT: transport parameters changed since the ticket", c->peer);
        return 0;
    }
    return 1;
}

void ng_tls_setup(SSL_CTX *ctx)
{
    /* QUIC tickets must allow 0xffffffff bytes of early data (RFC 9001 §4.6.1). */
    SSL_CTX_set_max_early_data(ctx, UINT32_MAX);
    SSL_CTX_set_session_ticket_cb(ctx, gen_ticket, dec_ticket, NULL);
    SSL_CTX_set_allow_early_data_cb(ctx, allow_early, NULL);
}
