/* ngtcp2_h3server: a small HTTP/3 server on ngtcp2 + nghttp3 for the
 * libqtlscompat interop tests, built with the quictls crypto backend on
 * libqtlscompat (USE_QUICTLS) or with ngtcp2's own OpenSSL 3.5 backend
 * (USE_OSSL).  One connection at a time, until SIGTERM.
 *
 *   ngtcp2_h3server ADDR PORT CERT KEY
 * GET /N answers N bytes of the pattern byte[i] = (i * 31 + 7) & 0xff;
 * POST echoes the request body.  Prints "ready" once listening. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include "ngtcp2_common.h"

#if defined(USE_OSSL)
#include <ngtcp2/ngtcp2_crypto_ossl.h>
#else
#include <ngtcp2/ngtcp2_crypto_quictls.h>
#endif

#define MAX_BODY (16u << 20)
#define MAX_REQ 64

struct req {
    int64_t id;
    int post;
    size_t want; /* GET /N */
    uint8_t *body;
    size_t len, cap, sent;
};

struct server {
    struct ng_base b; /* first: the user data of ngtcp2 and nghttp3 */
    int fd;
    struct sockaddr_storage local;
    socklen_t locallen;
    SSL_CTX *ctx;
    SSL *ssl;
#if defined(USE_OSSL)
    ngtcp2_crypto_ossl_ctx *ossl_ctx;
#endif
    struct sockaddr_storage peer;
    socklen_t peerlen;
    struct req reqs[MAX_REQ];
};

static volatile sig_atomic_t g_stop;

static void on_term(int sig)
{
    (void)sig;
    g_stop = 1;
}

static struct req *find_req(struct server *s, int64_t id, int create)
{
    for (int i = 0; i < MAX_REQ; i++)
        if (s->reqs[i].id == id)
            return &s->reqs[i];
    if (!create)
        return NULL;
    for (int i = 0; i < MAX_REQ; i++)
        if (s->reqs[i].id < 0) {
            memset(&s->reqs[i], 0, sizeof(s->reqs[i]));
            s->reqs[i].id = id;
            return &s->reqs[i];
        }
    return NULL;
}

static void free_req(struct req *r)
{
    free(r->body);
    memset(r, 0, sizeof(*r));
    r->id = -1;
}

/* ---- HTTP/3 ---- */

static int h3_begin_headers(nghttp3_conn *h3, int64_t sid, void *ud, void *sud)
{
    (void)h3, (void)sud;
    return find_req(ud, sid, 1) != NULL ? 0 : NGHTTP3_ERR_CALLBACK_FAILURE;
}

static int h3_recv_header(nghttp3_conn *h3, int64_t sid, int32_t token, nghttp3_rcbuf *name,
                          nghttp3_rcbuf *value, uint8_t flags, void *ud, void *sud)
{
    struct req *r = find_req(ud, sid, 0);
    nghttp3_vec v = nghttp3_rcbuf_get_buf(value);
    (void)h3, (void)name, (void)flags, (void)sud;
    if (r == NULL)
        return 0;
    if (token == NGHTTP3_QPACK_TOKEN__METHOD)
        r->post = v.len == 4 && memcmp(v.base, "POST", 4) == 0;
    else if (token == NGHTTP3_QPACK_TOKEN__PATH && v.len > 1)
        r->want = (size_t)strtoul((const char *)v.base + 1, NULL, 10);
    return 0;
}

static int h3_recv_data(nghttp3_conn *h3, int64_t sid, const uint8_t *data, size_t len, void *ud,
                        void *sud)
{
    struct server *s = ud;
    struct req *r = find_req(s, sid, 0);
    (void)h3, (void)sud;
    ngtcp2_conn_extend_max_stream_offset(s->b.conn, sid, len);
    ngtcp2_conn_extend_max_offset(s->b.conn, len);
    if (r == NULL || r->len + len > MAX_BODY)
        return NGHTTP3_ERR_CALLBACK_FAILURE;
    if (r->len + len > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 65536;
        while (cap < r->len + len)
            cap *= 2;
        uint8_t *b = realloc(r->body, cap);
        if (b == NULL)
            return NGHTTP3_ERR_CALLBACK_FAILURE;
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, len);
    r->len += len;
    return 0;
}

static nghttp3_ssize read_body(nghttp3_conn *h3, int64_t sid, nghttp3_vec *vec, size_t veccnt,
                               uint32_t *pflags, void *ud, void *sud)
{
    struct req *r = find_req(ud, sid, 0);
    (void)h3, (void)sud, (void)veccnt;
    if (r == NULL)
        return NGHTTP3_ERR_CALLBACK_FAILURE;
    vec[0].base = r->body + r->sent;
    vec[0].len = r->len - r->sent;
    r->sent = r->len;
    *pflags |= NGHTTP3_DATA_FLAG_EOF;
    return 1;
}

static int h3_end_stream(nghttp3_conn *h3, int64_t sid, void *ud, void *sud)
{
    struct server *s = ud;
    struct req *r = find_req(s, sid, 0);
    char clen[32];
    (void)sud;
    if (r == NULL)
        return NGHTTP3_ERR_CALLBACK_FAILURE;
    if (!r->post) {
        /* GET /N: N pattern bytes */
        if (r->want > MAX_BODY)
            r->want = MAX_BODY;
        free(r->body);
        r->body = malloc(r->want ? r->want : 1);
        if (r->body == NULL)
            return NGHTTP3_ERR_CALLBACK_FAILURE;
        for (size_t i = 0; i < r->want; i++)
            r->body[i] = (uint8_t)((i * 31 + 7) & 0xff);
        r->len = r->want;
    }
    snprintf(clen, sizeof(clen), "%zu", r->len);
    const nghttp3_nv nva[] = {
        {(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP3_NV_FLAG_NONE},
        {(uint8_t *)"content-length", (uint8_t *)clen, 14, strlen(clen), NGHTTP3_NV_FLAG_NONE},
        {(uint8_t *)"server", (uint8_t *)"ngtcp2_h3server", 6, 15, NGHTTP3_NV_FLAG_NONE},
    };
    nghttp3_data_reader dr = {.read_data = read_body};
    return nghttp3_conn_submit_response(h3, sid, nva, 3, r->len ? &dr : NULL) == 0
               ? 0
               : NGHTTP3_ERR_CALLBACK_FAILURE;
}

static int setup_h3(struct server *s)
{
    nghttp3_callbacks cbs = {
        .begin_headers = h3_begin_headers,
        .recv_header = h3_recv_header,
        .recv_data = h3_recv_data,
        .deferred_consume = h3_deferred_consume,
        .end_stream = h3_end_stream,
        .reset_stream = h3_reset_stream,
        .stop_sending = h3_stop_sending,
    };
    nghttp3_settings settings;
    nghttp3_settings_default(&settings);
    if (nghttp3_conn_server_new(&s->b.h3, &cbs, &settings, NULL, s) != 0)
        return -1;
    nghttp3_conn_set_max_client_streams_bidi(
        s->b.h3, ngtcp2_conn_get_local_transport_params(s->b.conn)->initial_max_streams_bidi);
    return bind_h3_streams(&s->b);
}

/* ---- QUIC ---- */

static int q_handshake_completed(ngtcp2_conn *conn, void *ud)
{
    (void)conn;
    return setup_h3(ud) == 0 ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
}

static int q_stream_close(ngtcp2_conn *conn, uint32_t flags, int64_t sid, uint64_t code, void *ud,
                          void *sud)
{
    struct server *s = ud;
    struct req *r = find_req(s, sid, 0);
    (void)conn, (void)sud;
    if (!(flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET))
        code = NGHTTP3_H3_NO_ERROR;
    if (s->b.h3 != NULL) {
        int rv = nghttp3_conn_close_stream(s->b.h3, sid, code);
        if (rv != 0 && rv != NGHTTP3_ERR_STREAM_NOT_FOUND)
            return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    if (r != NULL)
        free_req(r);
    if (ngtcp2_is_bidi_stream(sid))
        ngtcp2_conn_extend_max_streams_bidi(conn, 1);
    return 0;
}

static int send_pkt(struct ng_base *b, const uint8_t *d, size_t n)
{
    struct server *s = (struct server *)b;
    ssize_t w;
    do {
        w = sendto(s->fd, d, n, 0, (struct sockaddr *)&s->peer, s->peerlen);
    } while (w < 0 && errno == EINTR);
    return w < 0 ? -1 : 0;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char h3[] = {2, 'h', '3'};
    (void)ssl, (void)arg;
    return SSL_select_next_proto((unsigned char **)out, outlen, h3, sizeof(h3), in, inlen) ==
                   OPENSSL_NPN_NEGOTIATED
               ? SSL_TLSEXT_ERR_OK
               : SSL_TLSEXT_ERR_ALERT_FATAL;
}

static void drop_conn(struct server *s)
{
    nghttp3_conn_del(s->b.h3);
    s->b.h3 = NULL;
    ngtcp2_conn_del(s->b.conn);
    s->b.conn = NULL;
    if (s->ssl != NULL) {
        SSL_set_app_data(s->ssl, NULL);
        SSL_set_shutdown(s->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        SSL_free(s->ssl);
        s->ssl = NULL;
    }
#if defined(USE_OSSL)
    ngtcp2_crypto_ossl_ctx_del(s->ossl_ctx);
    s->ossl_ctx = NULL;
#endif
    for (int i = 0; i < MAX_REQ; i++)
        free_req(&s->reqs[i]);
    memset(&s->b.last_error, 0, sizeof(s->b.last_error));
}

static int accept_conn(struct server *s, const uint8_t *pkt, size_t len, ngtcp2_path *path)
{
    ngtcp2_pkt_hd hd;
    ngtcp2_callbacks cbs = {
        .recv_client_initial = ngtcp2_crypto_recv_client_initial_cb,
        .recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
        .encrypt = ngtcp2_crypto_encrypt_cb,
        .decrypt = ngtcp2_crypto_decrypt_cb,
        .hp_mask = ngtcp2_crypto_hp_mask_cb,
        .rand = rand_cb,
        .update_key = ngtcp2_crypto_update_key_cb,
        .delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
        .delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
        .version_negotiation = ngtcp2_crypto_version_negotiation_cb,
        .get_new_connection_id2 = new_cid_cb,
        .get_path_challenge_data2 = ngtcp2_crypto_get_path_challenge_data2_cb,
        .handshake_completed = q_handshake_completed,
        .recv_stream_data = q_recv_stream_data,
        .acked_stream_data_offset = q_acked,
        .stream_close = q_stream_close,
        .stream_reset = q_stream_reset,
        .extend_max_stream_data = q_extend_max_stream_data,
    };
    ngtcp2_settings settings;
    ngtcp2_transport_params params;
    ngtcp2_cid scid;

    if (ngtcp2_accept(&hd, pkt, len) != 0)
        return -1;
    ngtcp2_settings_default(&settings);
    settings.initial_ts = now_ns();
    ngtcp2_transport_params_default(&params);
    params.initial_max_streams_bidi = 100;
    params.initial_max_streams_uni = 3;
    params.initial_max_stream_data_bidi_remote = 1 << 20;
    params.initial_max_stream_data_uni = 1 << 20;
    params.initial_max_data = 16 << 20;
    params.max_idle_timeout = 30 * NGTCP2_SECONDS;
    params.original_dcid = hd.dcid;
    params.original_dcid_present = 1;
    scid.datalen = 8;
    if (RAND_bytes(scid.data, 8) != 1)
        return -1;
    s->ssl = SSL_new(s->ctx);
    if (s->ssl == NULL)
        return -1;
#if defined(USE_OSSL)
    if (ngtcp2_crypto_ossl_configure_server_session(s->ssl) != 0)
        return -1;
#endif
    s->b.conn_ref.get_conn = get_conn;
    s->b.conn_ref.user_data = &s->b;
    s->b.send = send_pkt;
    SSL_set_app_data(s->ssl, &s->b.conn_ref);
    SSL_set_accept_state(s->ssl);
    if (ngtcp2_conn_server_new(&s->b.conn, &hd.scid, &scid, path, hd.version, &cbs, &settings,
                               &params, NULL, s) != 0)
        return -1;
#if defined(USE_OSSL)
    if (ngtcp2_crypto_ossl_ctx_new(&s->ossl_ctx, s->ssl) != 0)
        return -1;
    ngtcp2_conn_set_tls_native_handle(s->b.conn, s->ossl_ctx);
#else
    ngtcp2_conn_set_tls_native_handle(s->b.conn, s->ssl);
#endif
    return 0;
}

int main(int argc, char **argv)
{
    struct server s;
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
    uint8_t buf[65536];

    if (argc != 5) {
        fprintf(stderr, "usage: ngtcp2_h3server ADDR PORT CERT KEY\n");
        return 2;
    }
    memset(&s, 0, sizeof(s));
    for (int i = 0; i < MAX_REQ; i++)
        s.reqs[i].id = -1;
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    s.ctx = SSL_CTX_new(TLS_server_method());
#if defined(USE_OSSL)
    if (ngtcp2_crypto_ossl_init() != 0)
        return 1;
#else
    if (ngtcp2_crypto_quictls_configure_server_context(s.ctx) != 0)
        return 1;
#endif
    if (SSL_CTX_use_certificate_chain_file(s.ctx, argv[3]) != 1 ||
        SSL_CTX_use_PrivateKey_file(s.ctx, argv[4], SSL_FILETYPE_PEM) != 1) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    SSL_CTX_set_alpn_select_cb(s.ctx, alpn_select, NULL);
    if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0 ||
        (s.fd = socket(ai->ai_family, SOCK_DGRAM, 0)) < 0 ||
        bind(s.fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        fprintf(stderr, "ngtcp2_h3server: cannot bind %s:%s\n", argv[1], argv[2]);
        return 1;
    }
    s.locallen = sizeof(s.local);
    getsockname(s.fd, (struct sockaddr *)&s.local, &s.locallen);
    printf("ready\n");
    fflush(stdout);

    while (!g_stop) {
        int wait_ms = 1000;
        if (s.b.conn != NULL) {
            ngtcp2_tstamp exp = ngtcp2_conn_get_expiry(s.b.conn), now = now_ns();
            wait_ms = exp <= now ? 0 : (int)((exp - now) / 1000000 + 1);
            if (wait_ms > 1000)
                wait_ms = 1000;
        }
        struct pollfd pfd = {.fd = s.fd, .events = POLLIN};
        poll(&pfd, 1, wait_ms);
        for (;;) {
            struct sockaddr_storage from;
            socklen_t fromlen = sizeof(from);
            ssize_t n =
                recvfrom(s.fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
            if (n < 0)
                break;
            ngtcp2_path path = {
                .local = {.addr = (struct sockaddr *)&s.local, .addrlen = s.locallen},
                .remote = {.addr = (struct sockaddr *)&from, .addrlen = fromlen},
            };
            if (s.b.conn == NULL) {
                memcpy(&s.peer, &from, fromlen);
                s.peerlen = fromlen;
                if (accept_conn(&s, buf, (size_t)n, &path) != 0) {
                    drop_conn(&s);
                    continue;
                }
            }
            ngtcp2_pkt_info pi = {0};
            int rv = ngtcp2_conn_read_pkt(s.b.conn, &path, &pi, buf, (size_t)n, now_ns());
            if (rv == NGTCP2_ERR_DRAINING || rv == NGTCP2_ERR_CLOSING) {
                drop_conn(&s);
                break;
            }
            if (rv != 0) {
                fprintf(stderr, "ngtcp2_h3server: read_pkt: %s\n", ngtcp2_strerror(rv));
                if (rv == NGTCP2_ERR_CRYPTO)
                    ngtcp2_ccerr_set_tls_alert(&s.b.last_error, ngtcp2_conn_get_tls_alert(s.b.conn),
                                               NULL, 0);
                else if (s.b.last_error.error_code == 0)
                    ngtcp2_ccerr_set_liberr(&s.b.last_error, rv, NULL, 0);
                uint8_t out[1452];
                ngtcp2_path_storage ps;
                ngtcp2_pkt_info opi;
                ngtcp2_path_storage_zero(&ps);
                ngtcp2_ssize w = ngtcp2_conn_write_connection_close(
                    s.b.conn, &ps.path, &opi, out, sizeof(out), &s.b.last_error, now_ns());
                if (w > 0)
                    send_pkt(&s.b, out, (size_t)w);
                drop_conn(&s);
                break;
            }
        }
        if (s.b.conn == NULL)
            continue;
        if (ngtcp2_conn_get_expiry(s.b.conn) <= now_ns() &&
            ngtcp2_conn_handle_expiry(s.b.conn, now_ns()) != 0) {
            drop_conn(&s); /* idle timeout or a dead peer */
            continue;
        }
        if (write_streams(&s.b) != 0)
            drop_conn(&s);
    }
    if (s.b.conn != NULL)
        drop_conn(&s);
    SSL_CTX_free(s.ctx);
    freeaddrinfo(ai);
    close(s.fd);
    return 0;
}
