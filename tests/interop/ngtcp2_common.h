/* What the two interop programs share: ngtcp2/nghttp3 glue that does not
 * depend on the role.  The programs' state starts with struct ng_base, and
 * ngtcp2's and nghttp3's user data point at it. */
#ifndef NGTCP2_COMMON_H
#define NGTCP2_COMMON_H

#include <errno.h>
#include <time.h>

#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <openssl/rand.h>

struct ng_base {
    ngtcp2_crypto_conn_ref conn_ref;
    ngtcp2_conn *conn;
    nghttp3_conn *h3;
    ngtcp2_ccerr last_error;
    int (*send)(struct ng_base *b, const uint8_t *d, size_t n);
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NGTCP2_SECONDS + (uint64_t)ts.tv_nsec;
}

static ngtcp2_conn *get_conn(ngtcp2_crypto_conn_ref *ref)
{
    return ((struct ng_base *)ref->user_data)->conn;
}

static void rand_cb(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *ctx)
{
    (void)ctx;
    if (RAND_bytes(dest, (int)len) != 1)
        abort();
}

static int new_cid_cb(ngtcp2_conn *conn, ngtcp2_cid *cid, ngtcp2_stateless_reset_token *token,
                      size_t cidlen, void *ud)
{
    (void)conn, (void)ud;
    if (RAND_bytes(cid->data, (int)cidlen) != 1 ||
        RAND_bytes(token->data, sizeof(token->data)) != 1)
        return NGTCP2_ERR_CALLBACK_FAILURE;
    cid->datalen = cidlen;
    return 0;
}

/* ---- nghttp3 → ngtcp2 ---- */

static int h3_deferred_consume(nghttp3_conn *h3, int64_t sid, size_t n, void *ud, void *sud)
{
    struct ng_base *b = ud;
    (void)h3, (void)sud;
    ngtcp2_conn_extend_max_stream_offset(b->conn, sid, n);
    ngtcp2_conn_extend_max_offset(b->conn, n);
    return 0;
}

static int h3_reset_stream(nghttp3_conn *h3, int64_t sid, uint64_t code, void *ud, void *sud)
{
    struct ng_base *b = ud;
    (void)h3, (void)sud;
    ngtcp2_conn_shutdown_stream_write(b->conn, 0, sid, code);
    return 0;
}

static int h3_stop_sending(nghttp3_conn *h3, int64_t sid, uint64_t code, void *ud, void *sud)
{
    struct ng_base *b = ud;
    (void)h3, (void)sud;
    ngtcp2_conn_shutdown_stream_read(b->conn, 0, sid, code);
    return 0;
}

/* Opens our control and QPACK streams and gives them to nghttp3. */
static int bind_h3_streams(struct ng_base *b)
{
    int64_t ctrl, qenc, qdec;
    if (ngtcp2_conn_open_uni_stream(b->conn, &ctrl, NULL) != 0 ||
        ngtcp2_conn_open_uni_stream(b->conn, &qenc, NULL) != 0 ||
        ngtcp2_conn_open_uni_stream(b->conn, &qdec, NULL) != 0)
        return -1;
    return nghttp3_conn_bind_control_stream(b->h3, ctrl) == 0 &&
                   nghttp3_conn_bind_qpack_streams(b->h3, qenc, qdec) == 0
               ? 0
               : -1;
}

/* ---- ngtcp2 → nghttp3 ---- */

static int q_recv_stream_data(ngtcp2_conn *conn, uint32_t flags, int64_t sid, uint64_t offset,
                              const uint8_t *data, size_t len, void *ud, void *sud)
{
    struct ng_base *b = ud;
    (void)offset, (void)sud;
    if (b->h3 == NULL)
        return 0;
    nghttp3_ssize n =
        nghttp3_conn_read_stream(b->h3, sid, data, len, flags & NGTCP2_STREAM_DATA_FLAG_FIN);
    if (n < 0) {
        fprintf(stderr, "nghttp3_conn_read_stream: %s\n", nghttp3_strerror((int)n));
        ngtcp2_ccerr_set_application_error(&b->last_error,
                                           nghttp3_err_infer_quic_app_error_code((int)n), NULL, 0);
        return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    ngtcp2_conn_extend_max_stream_offset(conn, sid, (uint64_t)n);
    ngtcp2_conn_extend_max_offset(conn, (uint64_t)n);
    return 0;
}

static int q_acked(ngtcp2_conn *conn, int64_t sid, uint64_t offset, uint64_t len, void *ud,
                   void *sud)
{
    struct ng_base *b = ud;
    (void)conn, (void)offset, (void)sud;
    return b->h3 != NULL && nghttp3_conn_add_ack_offset(b->h3, sid, len) != 0
               ? NGTCP2_ERR_CALLBACK_FAILURE
               : 0;
}

static int q_stream_reset(ngtcp2_conn *conn, int64_t sid, uint64_t final_size, uint64_t code,
                          void *ud, void *sud)
{
    struct ng_base *b = ud;
    (void)conn, (void)final_size, (void)code, (void)sud;
    return b->h3 != NULL && nghttp3_conn_shutdown_stream_read(b->h3, sid) != 0
               ? NGTCP2_ERR_CALLBACK_FAILURE
               : 0;
}

static int q_extend_max_stream_data(ngtcp2_conn *conn, int64_t sid, uint64_t max, void *ud,
                                    void *sud)
{
    struct ng_base *b = ud;
    (void)conn, (void)max, (void)sud;
    return b->h3 != NULL && nghttp3_conn_unblock_stream(b->h3, sid) != 0
               ? NGTCP2_ERR_CALLBACK_FAILURE
               : 0;
}

/* Packs HTTP/3 stream data into QUIC packets and sends them until ngtcp2 has
 * nothing more; 0, or -1 on a fatal error (last_error set). */
static int write_streams(struct ng_base *b)
{
    uint8_t buf[1452];
    ngtcp2_path_storage ps;
    ngtcp2_pkt_info pi;
    ngtcp2_path_storage_zero(&ps);
    for (;;) {
        nghttp3_vec vec[16];
        int64_t sid = -1;
        int fin = 0;
        nghttp3_ssize cnt = 0;
        ngtcp2_ssize ndatalen = -1;
        if (b->h3 != NULL && ngtcp2_conn_get_max_data_left(b->conn)) {
            cnt = nghttp3_conn_writev_stream(b->h3, &sid, &fin, vec, 16);
            if (cnt < 0)
                return -1;
        }
        uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE | (fin ? NGTCP2_WRITE_STREAM_FLAG_FIN : 0);
        ngtcp2_ssize n =
            ngtcp2_conn_writev_stream(b->conn, &ps.path, &pi, buf, sizeof(buf), &ndatalen, flags,
                                      sid, (ngtcp2_vec *)vec, (size_t)cnt, now_ns());
        if (n < 0) {
            if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED) {
                nghttp3_conn_block_stream(b->h3, sid);
                continue;
            }
            if (n == NGTCP2_ERR_STREAM_SHUT_WR) {
                nghttp3_conn_shutdown_stream_write(b->h3, sid);
                continue;
            }
            if (n == NGTCP2_ERR_WRITE_MORE) {
                if (nghttp3_conn_add_write_offset(b->h3, sid, (size_t)ndatalen) != 0)
                    return -1;
                continue;
            }
            fprintf(stderr, "ngtcp2_conn_writev_stream: %s\n", ngtcp2_strerror((int)n));
            ngtcp2_ccerr_set_liberr(&b->last_error, (int)n, NULL, 0);
            return -1;
        }
        if (ndatalen >= 0 && nghttp3_conn_add_write_offset(b->h3, sid, (size_t)ndatalen) != 0)
            return -1;
        if (n == 0)
            return 0;
        if (b->send(b, buf, (size_t)n) != 0)
            return -1;
    }
}

#endif
