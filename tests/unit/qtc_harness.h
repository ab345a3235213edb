/* In-memory QUIC handshakes for libqtlscompat tests: a client and a server SSL
 * object both on the shim, the "network" being per-level byte queues. */
#ifndef QTC_HARNESS_H
#define QTC_HARNESS_H

#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "qtlscompat/qtlscompat.h"

struct side {
    SSL *ssl;
    struct side *peer;
    /* what this side sent, per level, not yet delivered */
    uint8_t out[4][65536];
    size_t outlen[4];
    uint8_t read_secret[4][64], write_secret[4][64];
    size_t secret_len[4];
    int have_read[4], have_write[4];
    int secret_calls;
    int null_read_calls, null_write_calls; /* deliveries of one direction */
    int flushes;
    int alerts, alert_level, alert;
    int sends_without_key; /* add_handshake_data before its write secret */
    int sessions;          /* new_session_cb calls */
    SSL_SESSION *session;
};

static struct side *side_of(SSL *ssl)
{
    return SSL_get_app_data(ssl);
}

static int m_secrets(SSL *ssl, OSSL_ENCRYPTION_LEVEL level, const uint8_t *r, const uint8_t *w,
                     size_t len)
{
    struct side *s = side_of(ssl);
    s->secret_calls++;
    s->secret_len[level] = len;
    if (r != NULL) {
        memcpy(s->read_secret[level], r, len);
        s->have_read[level] = 1;
    } else {
        s->null_read_calls++;
    }
    if (w != NULL) {
        memcpy(s->write_secret[level], w, len);
        s->have_write[level] = 1;
    } else {
        s->null_write_calls++;
    }
    return 1;
}

static int m_add(SSL *ssl, OSSL_ENCRYPTION_LEVEL level, const uint8_t *d, size_t len)
{
    struct side *s = side_of(ssl);
    if (level != ssl_encryption_initial && !s->have_write[level])
        s->sends_without_key++;
    if (s->outlen[level] + len > sizeof(s->out[level]))
        return 0;
    memcpy(s->out[level] + s->outlen[level], d, len);
    s->outlen[level] += len;
    return 1;
}

static int m_flush(SSL *ssl)
{
    side_of(ssl)->flushes++;
    return 1;
}

static int m_alert(SSL *ssl, enum ssl_encryption_level_t level, uint8_t alert)
{
    struct side *s = side_of(ssl);
    s->alerts++;
    s->alert_level = level;
    s->alert = alert;
    return 1;
}

static const SSL_QUIC_METHOD quic_method = {m_secrets, m_add, m_flush, m_alert};

static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    struct side *s = side_of(ssl);
    s->sessions++;
    if (s->session != NULL)
        SSL_SESSION_free(s->session);
    s->session = sess;
    return 1; /* we keep the reference */
}

/* Delivers everything a side sent to its peer, chunk bytes at a time
 * (0 = all at once); returns 0 if the peer refused data. */
static int transfer(struct side *from, size_t chunk)
{
    for (int lvl = 0; lvl < 4; lvl++) {
        size_t off = 0;
        while (off < from->outlen[lvl]) {
            size_t n = from->outlen[lvl] - off;
            if (chunk > 0 && n > chunk)
                n = chunk;
            if (!SSL_provide_quic_data(from->peer->ssl, (OSSL_ENCRYPTION_LEVEL)lvl,
                                       from->out[lvl] + off, n))
                return 0;
            off += n;
            if (chunk > 0) {
                int r = SSL_do_handshake(from->peer->ssl);
                if (r <= 0 && SSL_get_error(from->peer->ssl, r) != SSL_ERROR_WANT_READ)
                    return 0;
            }
        }
        from->outlen[lvl] = 0;
    }
    return 1;
}

static EVP_PKEY *g_key;
static X509 *g_cert;

static void make_cert(void)
{
    X509_NAME *n;
    if (g_cert != NULL)
        return;
    n = X509_NAME_new(); /* OpenSSL 4.0 hands out the certificate's own as const */
    g_key = EVP_EC_gen("P-256");
    g_cert = X509_new();
    X509_set_version(g_cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(g_cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(g_cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(g_cert), 3600);
    X509_set_pubkey(g_cert, g_key);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_subject_name(g_cert, n);
    X509_set_issuer_name(g_cert, n);
    X509_NAME_free(n);
    X509_sign(g_cert, g_key, EVP_sha256());
}

static SSL_CTX *server_ctx(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    make_cert();
    SSL_CTX_use_certificate(ctx, g_cert);
    SSL_CTX_use_PrivateKey(ctx, g_key);
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_quic_method(ctx, &quic_method);
    return ctx;
}

static SSL_CTX *client_ctx(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
    SSL_CTX_set_quic_method(ctx, &quic_method);
    return ctx;
}

static void pair_init(struct side *c, struct side *s, SSL_CTX *cctx, SSL_CTX *sctx)
{
    memset(c, 0, sizeof(*c));
    memset(s, 0, sizeof(*s));
    c->ssl = SSL_new(cctx);
    s->ssl = SSL_new(sctx);
    c->peer = s;
    s->peer = c;
    SSL_set_app_data(c->ssl, c);
    SSL_set_app_data(s->ssl, s);
    SSL_set_connect_state(c->ssl);
    SSL_set_accept_state(s->ssl);
    SSL_set_tlsext_host_name(c->ssl, "localhost");
}

static void pair_free(struct side *c, struct side *s)
{
    /* A QUIC connection closed cleanly: otherwise OpenSSL marks the session
     * as not resumable when the SSL is freed. */
    SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_set_shutdown(s->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(c->ssl);
    SSL_free(s->ssl);
    if (c->session)
        SSL_SESSION_free(c->session);
    if (s->session)
        SSL_SESSION_free(s->session);
}

/* Runs the handshake; returns 1 when both sides finished, 0 on failure. */
static int handshake(struct side *c, struct side *s, size_t chunk)
{
    int cdone = 0, sdone = 0;
    for (int round = 0; round < 16 && !(cdone && sdone); round++) {
        int r;
        if (!cdone) {
            r = SSL_do_handshake(c->ssl);
            if (r == 1)
                cdone = 1;
            else if (SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_READ) {
                if (getenv("QTC_DEBUG"))
                    ERR_print_errors_fp(stderr);
                return 0;
            }
        }
        if (!transfer(c, chunk))
            return 0;
        if (!sdone) {
            r = SSL_do_handshake(s->ssl);
            if (r == 1)
                sdone = 1;
            else if (SSL_get_error(s->ssl, r) != SSL_ERROR_WANT_READ) {
                if (getenv("QTC_DEBUG"))
                    ERR_print_errors_fp(stderr);
                return 0;
            }
        }
        if (!transfer(s, chunk))
            return 0;
    }
    if (getenv("QTC_DEBUG") && !(cdone && sdone))
        ERR_print_errors_fp(stderr);
    return cdone && sdone;
}

#endif
