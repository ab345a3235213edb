/* ngtcp2_h3get: an HTTP/3 GET on ngtcp2 + nghttp3, for the libqtlscompat
 * interop tests.  Built twice from the same source:
 *   - with ngtcp2's quictls crypto backend, linked against libqtlscompat (the
 *     quictls API on stock OpenSSL): USE_QUICTLS;
 *   - with ngtcp2's own OpenSSL 3.5 backend (ngtcp2_crypto_ossl): USE_OSSL.
 *
 *   ngtcp2_h3get HOST PORT PATH [CAFILE]
 * Prints "status=N bytes=N sha256=HEX" and exits 0 when the response ended
 * cleanly; exit 1 on any failure. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define H3MIN(a, b) ((a) < (b) ? (a) : (b))

#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include "ngtcp2_common.h"

#if defined(USE_OSSL)
#include <ngtcp2/ngtcp2_crypto_ossl.h>
#else
#include <ngtcp2/ngtcp2_crypto_quictls.h>
#endif

struct client {
    struct ng_base b; /* first: the user data of ngtcp2 and nghttp3 */
    int fd;
    struct sockaddr_storage local, remote;
    socklen_t locallen, remotelen;
    SSL_CTX *ssl_ctx;
    SSL *ssl;
#if defined(USE_OSSL)
    ngtcp2_crypto_ossl_ctx *ossl_ctx;
#endif
    int64_t req_id;
    int status;
    int done, failed;
    uint64_t bytes;
    EVP_MD_CTX *sha;
    const char *host, *path;
    char authority[300];
};

/* ---- HTTP/3 ---- */

static int h3_recv_header(nghttp3_conn *h3, int64_t sid, int32_t token, nghttp3_rcbuf *name,
                          nghttp3_rcbuf *value, uint8_t flags, void *ud, void *sud)
{
    struct client *c = ud;
    nghttp3_vec v = nghttp3_rcbuf_get_buf(value);
    (void)h3, (void)name, (void)flags, (void)sud;
    if (sid == c->req_id && token == NGHTTP3_QPACK_TOKEN__STATUS && v.len == 3)
        c->status = (v.base[0] - '0') * 100 + (v.base[1] - '0') * 10 + (v.base[2] - '0');
    return 0;
}

static int h3_recv_data(nghttp3_conn *h3, int64_t sid, const uint8_t *data, size_t len, void *ud,
                        void *sud)
{
    struct client *c = ud;
    (void)h3, (void)sud;
    c->bytes += len;
    EVP_DigestUpdate(c->sha, data, len);
    ngtcp2_conn_extend_max_stream_offset(c->b.conn, sid, len);
    ngtcp2_conn_extend_max_offset(c->b.conn, len);
    return 0;
}

static int h3_end_stream(nghttp3_conn *h3, int64_t sid, void *ud, void *sud)
{
    struct client *c = ud;
    (void)h3, (void)sud;
    if (sid == c->req_id)
        c->done = 1;
    return 0;
}

static int setup_h3(struct client *c)
{
    nghttp3_callbacks cbs = {
        .recv_header = h3_recv_header,
        .recv_data = h3_recv_data,
        .deferred_consume = h3_deferred_consume,
        .end_stream = h3_end_stream,
        .reset_stream = h3_reset_stream,
        .stop_sending = h3_stop_sending,
    };
    nghttp3_settings settings;
    nghttp3_settings_default(&settings);
    if (nghttp3_conn_client_new(&c->b.h3, &cbs, &settings, NULL, c) != 0)
        return -1;
    if (bind_h3_streams(&c->b) != 0)
        return -1;
    if (ngtcp2_conn_open_bidi_stream(c->b.conn, &c->req_id, NULL) != 0)
        return -1;
    const nghttp3_nv nva[] = {
        {(uint8_t *)":method", (uint8_t *)"GET", 7, 3, NGHTTP3_NV_FLAG_NONE},
        {(uint8_t *)":scheme", (uint8_t *)"https", 7, 5, NGHTTP3_NV_FLAG_NONE},
        {(uint8_t *)":authority", (uint8_t *)c->authority, 10, strlen(c->authority),
         NGHTTP3_NV_FLAG_NONE},
        {(uint8_t *)":path", (uint8_t *)c->path, 5, strlen(c->path), NGHTTP3_NV_FLAG_NONE},
        {(uint8_t *)"user-agent", (uint8_t *)"ngtcp2_h3get", 10, 12, NGHTTP3_NV_FLAG_NONE},
    };
    return nghttp3_conn_submit_request(c->b.h3, c->req_id, nva, 5, NULL, NULL) == 0 ? 0 : -1;
}

/* ---- QUIC ---- */

static int q_stream_close(ngtcp2_conn *conn, uint32_t flags, int64_t sid, uint64_t code, void *ud,
                          void *sud)
{
    struct client *c = ud;
    (void)conn, (void)sud;
    if (!(flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET))
        code = NGHTTP3_H3_NO_ERROR;
    if (sid == c->req_id && code != NGHTTP3_H3_NO_ERROR && !c->done) {
        fprintf(stderr, "ngtcp2_h3get: request stream closed with 0x%llx\n",
                (unsigned long long)code);
        c->failed = 1;
    }
    if (c->b.h3 != NULL) {
        int rv = nghttp3_conn_close_stream(c->b.h3, sid, code);
        if (rv != 0 && rv != NGHTTP3_ERR_STREAM_NOT_FOUND)
            return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
}

static int send_pkt(struct ng_base *b, const uint8_t *d, size_t n)
{
    struct client *c = (struct client *)b;
    ssize_t w;
    do {
        w = send(c->fd, d, n, 0);
    } while (w < 0 && errno == EINTR);
    return w < 0 ? -1 : 0;
}

static int read_pkts(struct client *c)
{
    uint8_t buf[65536];
    for (;;) {
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof(from);
        ssize_t n =
            recvfrom(c->fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        ngtcp2_path path = {
            .local = {.addr = (struct sockaddr *)&c->local, .addrlen = c->locallen},
            .remote = {.addr = (struct sockaddr *)&from, .addrlen = fromlen},
        };
        ngtcp2_pkt_info pi = {0};
        int rv = ngtcp2_conn_read_pkt(c->b.conn, &path, &pi, buf, (size_t)n, now_ns());
        if (rv != 0) {
            fprintf(stderr, "ngtcp2_h3get: read_pkt: %s\n", ngtcp2_strerror(rv));
            if (rv == NGTCP2_ERR_CRYPTO)
                ngtcp2_ccerr_set_tls_alert(&c->b.last_error, ngtcp2_conn_get_tls_alert(c->b.conn),
                                           NULL, 0);
            else if (c->b.last_error.error_code == 0)
                ngtcp2_ccerr_set_liberr(&c->b.last_error, rv, NULL, 0);
            return -1;
        }
    }
}

static int init_tls(struct client *c, const char *cafile)
{
    static const unsigned char alpn[] = {2, 'h', '3'};
    c->ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (c->ssl_ctx == NULL)
        return -1;
#if defined(USE_OSSL)
    if (ngtcp2_crypto_ossl_init() != 0)
        return -1;
#else
    if (ngtcp2_crypto_quictls_configure_client_context(c->ssl_ctx) != 0)
        return -1;
#endif
    if (cafile != NULL) {
        if (SSL_CTX_load_verify_locations(c->ssl_ctx, cafile, NULL) != 1)
            return -1;
        SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
    }
    c->ssl = SSL_new(c->ssl_ctx);
    if (c->ssl == NULL)
        return -1;
#if defined(USE_OSSL)
    if (ngtcp2_crypto_ossl_configure_client_session(c->ssl) != 0)
        return -1;
#endif
    SSL_set_app_data(c->ssl, &c->b.conn_ref);
    SSL_set_connect_state(c->ssl);
    SSL_set_alpn_protos(c->ssl, alpn, sizeof(alpn));
    SSL_set_tlsext_host_name(c->ssl, "localhost");
    /* Through the verify parameters: OpenSSL 4.0 deprecates SSL_set1_host. */
    if (cafile != NULL && !X509_VERIFY_PARAM_set1_host(SSL_get0_param(c->ssl), "localhost", 0))
        return -1;
    return 0;
}

static int init_quic(struct client *c)
{
    ngtcp2_path path = {
        .local = {.addr = (struct sockaddr *)&c->local, .addrlen = c->locallen},
        .remote = {.addr = (struct sockaddr *)&c->remote, .addrlen = c->remotelen},
    };
    ngtcp2_callbacks cbs = {
        .client_initial = ngtcp2_crypto_client_initial_cb,
        .recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
        .encrypt = ngtcp2_crypto_encrypt_cb,
        .decrypt = ngtcp2_crypto_decrypt_cb,
        .hp_mask = ngtcp2_crypto_hp_mask_cb,
        .recv_retry = ngtcp2_crypto_recv_retry_cb,
        .rand = rand_cb,
        .update_key = ngtcp2_crypto_update_key_cb,
        .delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
        .delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
        .version_negotiation = ngtcp2_crypto_version_negotiation_cb,
        .get_new_connection_id2 = new_cid_cb,
        .get_path_challenge_data2 = ngtcp2_crypto_get_path_challenge_data2_cb,
        .recv_stream_data = q_recv_stream_data,
        .acked_stream_data_offset = q_acked,
        .stream_close = q_stream_close,
        .stream_reset = q_stream_reset,
        .extend_max_stream_data = q_extend_max_stream_data,
    };
    ngtcp2_cid dcid, scid;
    ngtcp2_settings settings;
    ngtcp2_transport_params params;

    dcid.datalen = NGTCP2_MIN_INITIAL_DCIDLEN;
    scid.datalen = 8;
    if (RAND_bytes(dcid.data, (int)dcid.datalen) != 1 ||
        RAND_bytes(scid.data, (int)scid.datalen) != 1)
        return -1;
    ngtcp2_settings_default(&settings);
    settings.initial_ts = now_ns();
    ngtcp2_transport_params_default(&params);
    params.initial_max_streams_uni = 3;
    params.initial_max_stream_data_bidi_local = 1 << 20;
    params.initial_max_stream_data_uni = 1 << 20;
    params.initial_max_data = 4 << 20;
    params.max_idle_timeout = 30 * NGTCP2_SECONDS;
    if (ngtcp2_conn_client_new(&c->b.conn, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &cbs,
                               &settings, &params, NULL, c) != 0)
        return -1;
#if defined(USE_OSSL)
    if (ngtcp2_crypto_ossl_ctx_new(&c->ossl_ctx, c->ssl) != 0)
        return -1;
    ngtcp2_conn_set_tls_native_handle(c->b.conn, c->ossl_ctx);
#else
    ngtcp2_conn_set_tls_native_handle(c->b.conn, c->ssl);
#endif
    return 0;
}

int main(int argc, char **argv)
{
    struct client c;
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *ai = NULL;
    int rc = 1;
    uint64_t deadline = now_ns() + 60 * NGTCP2_SECONDS;

    if (argc < 4) {
        fprintf(stderr, "usage: ngtcp2_h3get HOST PORT PATH [CAFILE]\n");
        return 2;
    }
    memset(&c, 0, sizeof(c));
    c.fd = -1;
    c.req_id = -1;
    c.host = argv[1];
    c.path = argv[3];
    c.b.conn_ref.get_conn = get_conn;
    c.b.conn_ref.user_data = &c.b;
    c.b.send = send_pkt;
    c.sha = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c.sha, EVP_sha256(), NULL);
    snprintf(c.authority, sizeof(c.authority), "localhost:%s", argv[2]);
    if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0 ||
        (c.fd = socket(ai->ai_family, SOCK_DGRAM, 0)) < 0 ||
        connect(c.fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        fprintf(stderr, "ngtcp2_h3get: cannot reach %s:%s\n", argv[1], argv[2]);
        goto out;
    }
    memcpy(&c.remote, ai->ai_addr, ai->ai_addrlen);
    c.remotelen = ai->ai_addrlen;
    c.locallen = sizeof(c.local);
    getsockname(c.fd, (struct sockaddr *)&c.local, &c.locallen);
    if (init_tls(&c, argc > 4 ? argv[4] : NULL) != 0 || init_quic(&c) != 0) {
        fprintf(stderr, "ngtcp2_h3get: set-up failed\n");
        ERR_print_errors_fp(stderr);
        goto out;
    }
    while (!c.done && !c.failed && now_ns() < deadline) {
        if (c.b.h3 == NULL && ngtcp2_conn_get_handshake_completed(c.b.conn) && setup_h3(&c) != 0) {
            fprintf(stderr, "ngtcp2_h3get: HTTP/3 set-up failed\n");
            goto out;
        }
        if (write_streams(&c.b) != 0)
            goto close;
        ngtcp2_tstamp expiry = ngtcp2_conn_get_expiry(c.b.conn), now = now_ns();
        int wait_ms = expiry <= now ? 0 : (int)H3MIN((expiry - now) / 1000000 + 1, 1000);
        struct pollfd pfd = {.fd = c.fd, .events = POLLIN};
        poll(&pfd, 1, wait_ms);
        if ((pfd.revents & POLLIN) && read_pkts(&c) != 0)
            goto close;
        if (ngtcp2_conn_get_expiry(c.b.conn) <= now_ns()) {
            int rv = ngtcp2_conn_handle_expiry(c.b.conn, now_ns());
            if (rv != 0) {
                fprintf(stderr, "ngtcp2_h3get: %s\n", ngtcp2_strerror(rv));
                goto out;
            }
        }
        if (ngtcp2_conn_in_closing_period(c.b.conn) || ngtcp2_conn_in_draining_period(c.b.conn)) {
            fprintf(stderr, "ngtcp2_h3get: the server closed the connection\n");
            goto out;
        }
    }
    if (c.done && !c.failed) {
        unsigned char md[32];
        unsigned int mdlen = 0;
        EVP_DigestFinal_ex(c.sha, md, &mdlen);
        printf("status=%d bytes=%llu sha256=", c.status, (unsigned long long)c.bytes);
        for (unsigned i = 0; i < mdlen; i++)
            printf("%02x", md[i]);
        printf("\n");
        rc = 0;
        ngtcp2_ccerr_set_application_error(&c.b.last_error, NGHTTP3_H3_NO_ERROR, NULL, 0);
    } else if (!c.done) {
        fprintf(stderr, "ngtcp2_h3get: no complete response\n");
    }
close:
    if (c.b.conn != NULL && !ngtcp2_conn_in_closing_period(c.b.conn) &&
        !ngtcp2_conn_in_draining_period(c.b.conn)) {
        uint8_t buf[1452];
        ngtcp2_path_storage ps;
        ngtcp2_pkt_info pi;
        ngtcp2_path_storage_zero(&ps);
        ngtcp2_ssize n = ngtcp2_conn_write_connection_close(c.b.conn, &ps.path, &pi, buf,
                                                            sizeof(buf), &c.b.last_error, now_ns());
        if (n > 0)
            send_pkt(&c.b, buf, (size_t)n);
    }
out:
    nghttp3_conn_del(c.b.h3);
    ngtcp2_conn_del(c.b.conn);
    if (c.ssl != NULL) {
        SSL_set_app_data(c.ssl, NULL); /* ngtcp2 callbacks may run during SSL_free */
        SSL_free(c.ssl);
    }
#if defined(USE_OSSL)
    ngtcp2_crypto_ossl_ctx_del(c.ossl_ctx);
#endif
    SSL_CTX_free(c.ssl_ctx);
    EVP_MD_CTX_free(c.sha);
    if (ai != NULL)
        freeaddrinfo(ai);
    if (c.fd >= 0)
        close(c.fd);
    return rc;
}
