/* The OpenSSL side of libqtlscompat: the six third-party QUIC TLS callbacks
 * (SSL_set_quic_tls_cbs) turned into quictls's SSL_QUIC_METHOD calls. */
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_dispatch.h>
#include <openssl/err.h>

#include "qtc_internal.h"

#define ALERT_UNEXPECTED_MESSAGE 10
#define ALERT_MISSING_EXTENSION 109

static int is_server(SSL *ssl)
{
    return SSL_is_server(ssl);
}

/* Hands the consumer what it may have of a level: both secrets in one call
 * (quiche needs both), or one direction alone when the other cannot come yet
 * without stalling the peer (early data; a server that accepted 0-RTT gets its
 * handshake read key only after its own flight). */
static int deliver(SSL *ssl, struct qtc_state *st, int level, int force_write)
{
    struct qtc_secret *s = &st->sec[level];
    const uint8_t *r = NULL, *w = NULL;
    if (st->method == NULL || st->method->set_encryption_secrets == NULL)
        return 1;
    if (s->have_read && s->have_write && !s->read_done && !s->write_done) {
        r = s->read;
        w = s->write;
    } else if (s->have_write && !s->write_done && (force_write || s->read_done)) {
        w = s->write;
    } else if (s->have_read && !s->read_done && s->write_done) {
        r = s->read;
    } else {
        return 1;
    }
    if (!st->method->set_encryption_secrets(ssl, (OSSL_ENCRYPTION_LEVEL)level, r, w, s->len))
        return 0;
    if (r != NULL) {
        s->read_done = 1;
        st->read_level = level;
    }
    if (w != NULL) {
        s->write_done = 1;
        st->write_level = level;
    }
    return 1;
}

static int fail(struct qtc_state *st, int alert, int reason, const char *what)
{
    st->error_alert = alert;
    ERR_raise_data(ERR_LIB_SSL, reason, "qtlscompat: %s", what);
    return 0;
}

static int cb_yield_secret(SSL *ssl, uint32_t level, int direction, const unsigned char *secret,
                           size_t len, void *arg)
{
    struct qtc_state *st = qtc_get(ssl, 0);
    (void)arg;
    if (st == NULL || level >= QTC_LEVELS || len > QTC_SECRET_MAX)
        return 0;
    if (level == ssl_encryption_early_data) {
        /* One direction, as quictls does; the visible levels do not move. */
        if (direction == 0) {
            st->early_read_seen = 1;
            st->ossl_read = (int)level;
        } else {
            st->ossl_write = (int)level;
        }
        if (st->method == NULL || st->method->set_encryption_secrets == NULL)
            return 1;
        return st->method->set_encryption_secrets(ssl, ssl_encryption_early_data,
                                                  direction == 0 ? secret : NULL,
                                                  direction == 1 ? secret : NULL, len);
    }
    struct qtc_secret *s = &st->sec[level];
    s->len = len;
    if (direction == 0) {
        /* Bytes left at the old level would be read under the wrong keys. */
        if (st->ossl_read != ssl_encryption_early_data &&
            qtc_rxq_pending(&st->rx[st->ossl_read]) > 0)
            return fail(st, ALERT_UNEXPECTED_MESSAGE, SSL_R_WRONG_ENCRYPTION_LEVEL_RECEIVED,
                        "handshake data left over at a key change");
        memcpy(s->read, secret, len);
        s->have_read = 1;
        st->ossl_read = (int)level;
        if (!is_server(ssl) && level == ssl_encryption_application && !st->peer_tp_seen)
            return fail(st, ALERT_MISSING_EXTENSION,
                        SSL_R_MISSING_QUIC_TRANSPORT_PARAMETERS_EXTENSION,
                        "server sent no QUIC transport parameters");
    } else {
        memcpy(s->write, secret, len);
        s->have_write = 1;
        st->ossl_write = (int)level;
        if (is_server(ssl) && level == ssl_encryption_handshake) {
            /* The ClientHello is fully processed: check before EncryptedExtensions. */
            if (!st->peer_tp_seen)
                return fail(st, ALERT_MISSING_EXTENSION,
                            SSL_R_MISSING_QUIC_TRANSPORT_PARAMETERS_EXTENSION,
                            "client sent no QUIC transport parameters");
            if (st->legacy_codepoint)
                return fail(st, 80, SSL_R_MISSING_QUIC_TRANSPORT_PARAMETERS_EXTENSION,
                            "legacy transport parameter codepoint 0xffa5 is not supported");
        }
    }
    /* A server that accepted 0-RTT reads handshake data only after its own
     * flight: its handshake write key must not wait for the read key (ngtcp2
     * sets its transport parameters when the write key arrives). */
    int force = direction == 1 && is_server(ssl) && level == ssl_encryption_handshake &&
                st->early_read_seen;
    return deliver(ssl, st, (int)level, force);
}

static int cb_crypto_send(SSL *ssl, const unsigned char *buf, size_t len, size_t *consumed,
                          void *arg)
{
    struct qtc_state *st = qtc_get(ssl, 0);
    int level;
    (void)arg;
    *consumed = 0;
    if (st == NULL || st->method == NULL)
        return 0;
    level = st->ossl_write == ssl_encryption_early_data ? ssl_encryption_initial : st->ossl_write;
    /* QUIC has its own key update (RFC 9001 §6): a TLS KeyUpdate must never
     * leave, as with quictls (OpenSSL 3.5 would send one after SSL_key_update). */
    if (level == ssl_encryption_application && len > 0 && buf[0] == SSL3_MT_KEY_UPDATE)
        return fail(st, 10, SSL_R_UNEXPECTED_MESSAGE, "TLS KeyUpdate is not allowed in QUIC");
    /* Never send at a level whose write key the consumer does not have. */
    if (level != ssl_encryption_initial && !st->sec[level].write_done &&
        !deliver(ssl, st, level, 1))
        return 0;
    if (!st->method->add_handshake_data(ssl, (OSSL_ENCRYPTION_LEVEL)level, buf, len))
        return 0;
    *consumed = len;
    return 1;
}

static int cb_crypto_recv_rcd(SSL *ssl, const unsigned char **buf, size_t *bytes_read, void *arg)
{
    struct qtc_state *st = qtc_get(ssl, 0);
    (void)arg;
    *bytes_read = 0;
    if (st == NULL)
        return 1;
    /* 0-RTT packets carry no CRYPTO frames: nothing to read at that level. */
    if (st->ossl_read == ssl_encryption_early_data)
        return 1;
    struct qtc_rxq *q = &st->rx[st->ossl_read];
    size_t avail = qtc_rxq_pending(q);
    if (avail == 0)
        return 1;
    *buf = q->buf + q->off;
    *bytes_read = avail;
    st->rcd_out = avail;
    st->rcd_level = st->ossl_read;
    return 1;
}

static int cb_crypto_release_rcd(SSL *ssl, size_t bytes_read, void *arg)
{
    struct qtc_state *st = qtc_get(ssl, 0);
    (void)arg;
    if (st == NULL)
        return 1; /* called while the SSL is being freed */
    struct qtc_rxq *q = &st->rx[st->rcd_level];
    if (bytes_read > qtc_rxq_pending(q))
        return 0;
    q->off += bytes_read;
    if (q->off == q->len)
        q->off = q->len = 0;
    st->rcd_out = 0;
    return 1;
}

static int cb_got_transport_params(SSL *ssl, const unsigned char *params, size_t len, void *arg)
{
    struct qtc_state *st = qtc_get(ssl, 0);
    uint8_t *copy = NULL;
    (void)arg;
    if (st == NULL)
        return 0;
    if (len > 0 && (copy = OPENSSL_memdup(params, len)) == NULL)
        return 0;
    /* A second ClientHello (after HelloRetryRequest) replaces the first. */
    OPENSSL_free(st->peer_tp);
    st->peer_tp = copy;
    st->peer_tp_len = len;
    st->peer_tp_seen = len > 0;
    return 1;
}

static int cb_alert(SSL *ssl, unsigned char alert, void *arg)
{
    struct qtc_state *st = qtc_get(ssl, 0);
    (void)arg;
    if (st == NULL || st->method == NULL || st->method->send_alert == NULL)
        return 1;
    /* OpenSSL turns a failed callback into internal_error; say what failed. */
    if (alert == 80 && st->error_alert != 0)
        alert = (unsigned char)st->error_alert;
    return st->method->send_alert(ssl, (OSSL_ENCRYPTION_LEVEL)st->write_level, alert);
}

static const OSSL_DISPATCH qtc_dispatch[] = {
    {OSSL_FUNC_SSL_QUIC_TLS_CRYPTO_SEND, (void (*)(void))cb_crypto_send},
    {OSSL_FUNC_SSL_QUIC_TLS_CRYPTO_RECV_RCD, (void (*)(void))cb_crypto_recv_rcd},
    {OSSL_FUNC_SSL_QUIC_TLS_CRYPTO_RELEASE_RCD, (void (*)(void))cb_crypto_release_rcd},
    {OSSL_FUNC_SSL_QUIC_TLS_YIELD_SECRET, (void (*)(void))cb_yield_secret},
    {OSSL_FUNC_SSL_QUIC_TLS_GOT_TRANSPORT_PARAMS, (void (*)(void))cb_got_transport_params},
    {OSSL_FUNC_SSL_QUIC_TLS_ALERT, (void (*)(void))cb_alert},
    OSSL_DISPATCH_END,
};

/* ---- flight boundaries ----
 * The TLS state machine flushes its write BIO at the end of every flight
 * (statem_flush).  A write BIO whose flush calls flush_flight gives quictls's
 * exact flight boundaries; nothing is ever written to it. */

static CRYPTO_ONCE g_bio_once = CRYPTO_ONCE_STATIC_INIT;
static BIO_METHOD *g_flush_method;

static int flush_bio_write(BIO *b, const char *data, int len)
{
    (void)b, (void)data;
    return len;
}

static long flush_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num, (void)ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH: {
        SSL *ssl = BIO_get_data(b);
        struct qtc_state *st = qtc_get(ssl, 0);
        if (st != NULL && st->method != NULL && st->method->flush_flight != NULL)
            return st->method->flush_flight(ssl) ? 1 : 0;
        return 1;
    }
    case BIO_CTRL_RESET:
    case BIO_CTRL_EOF:
    case BIO_CTRL_SET:
    case BIO_CTRL_SET_CLOSE:
    case BIO_CTRL_DUP: return 1;
    default: return 0;
    }
}

static int flush_bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void init_flush_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "qtlscompat flush");
    if (m == NULL)
        return;
    BIO_meth_set_write(m, flush_bio_write);
    BIO_meth_set_ctrl(m, flush_bio_ctrl);
    BIO_meth_set_create(m, flush_bio_create);
    g_flush_method = m;
}

int qtc_attach(SSL *ssl, struct qtc_state *st)
{
    BIO *fb;
    if (st->attached)
        return 1;
    if (st->method == NULL) {
        ERR_raise_data(ERR_LIB_SSL, ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED,
                       "qtlscompat: no SSL_QUIC_METHOD set");
        return 0;
    }
    if (!SSL_set_quic_tls_cbs(ssl, qtc_dispatch, NULL))
        return 0;
    if (!CRYPTO_THREAD_run_once(&g_bio_once, init_flush_method) || g_flush_method == NULL)
        return 0;
    fb = BIO_new(g_flush_method);
    if (fb == NULL)
        return 0;
    BIO_set_data(fb, ssl);
    SSL_set0_wbio(ssl, fb);
    st->attached = 1;
    if (st->local_tp != NULL &&
        !SSL_set_quic_tls_transport_params(ssl, st->local_tp, st->local_tp_len))
        return 0;
    return 1;
}
