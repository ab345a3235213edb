/* The quictls QUIC TLS API, exported under its quictls names. */
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "qtc_internal.h"

#define QTC_API __attribute__((visibility("default")))

/* Gets the state, creating and attaching it when a method is known. */
static struct qtc_state *ready(SSL *ssl)
{
    struct qtc_state *st = qtc_get(ssl, 1);
    if (st == NULL)
        return NULL;
    if (st->method == NULL)
        st->method = qtc_ctx_method(SSL_get_SSL_CTX(ssl));
    if (!qtc_attach(ssl, st))
        return NULL;
    return st;
}

QTC_API int SSL_CTX_set_quic_method(SSL_CTX *ctx, const SSL_QUIC_METHOD *quic_method)
{
    if (ctx == NULL || !qtc_ctx_set_method(ctx, quic_method))
        return 0;
    SSL_CTX_clear_options(ctx, SSL_OP_ENABLE_MIDDLEBOX_COMPAT);
    return 1;
}

QTC_API int SSL_set_quic_method(SSL *ssl, const SSL_QUIC_METHOD *quic_method)
{
    struct qtc_state *st = qtc_get(ssl, 1);
    if (st == NULL)
        return 0;
    if (quic_method == NULL) {
        /* OpenSSL cannot take the QUIC callbacks back off an SSL object. */
        if (st->attached) {
            ERR_raise_data(ERR_LIB_SSL, ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED,
                           "qtlscompat: QUIC cannot be turned off once attached");
            return 0;
        }
        st->method = NULL;
        return 1;
    }
    st->method = quic_method;
    return qtc_attach(ssl, st);
}

QTC_API int SSL_set_quic_transport_params(SSL *ssl, const uint8_t *params, size_t params_len)
{
    struct qtc_state *st = ready(ssl);
    uint8_t *copy = NULL;
    if (st == NULL)
        return 0;
    if (params_len > 0 && (copy = OPENSSL_memdup(params, params_len)) == NULL)
        return 0;
    /* OpenSSL keeps the pointer until it sends the extension: hand it our copy,
     * and free the old one only once OpenSSL let go of it. */
    if (!SSL_set_quic_tls_transport_params(ssl, copy, params_len)) {
        OPENSSL_free(copy);
        return 0;
    }
    OPENSSL_free(st->local_tp);
    st->local_tp = copy;
    st->local_tp_len = params_len;
    return 1;
}

QTC_API void SSL_get_peer_quic_transport_params(const SSL *ssl, const uint8_t **out_params,
                                                size_t *out_params_len)
{
    struct qtc_state *st = qtc_get(ssl, 0);
    *out_params = st != NULL ? st->peer_tp : NULL;
    *out_params_len = st != NULL ? st->peer_tp_len : 0;
}

QTC_API size_t SSL_quic_max_handshake_flight_len(const SSL *ssl, OSSL_ENCRYPTION_LEVEL level)
{
    /* quictls's numbers: 16 KiB, or the certificate chain limit when larger. */
    const size_t base = 16384;
    size_t certs = (size_t)SSL_get_max_cert_list((SSL *)ssl); /* a const-less macro */
    switch (level) {
    case ssl_encryption_initial:
    case ssl_encryption_application: return base;
    case ssl_encryption_early_data: return 0;
    case ssl_encryption_handshake:
        if (SSL_is_server(ssl))
            return ((SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) && certs > base) ? certs : base;
        return certs > base ? 2 * certs : base;
    }
    return 0;
}

QTC_API OSSL_ENCRYPTION_LEVEL SSL_quic_read_level(const SSL *ssl)
{
    struct qtc_state *st = qtc_get(ssl, 0);
    return st != NULL ? (OSSL_ENCRYPTION_LEVEL)st->read_level : ssl_encryption_initial;
}

QTC_API OSSL_ENCRYPTION_LEVEL SSL_quic_write_level(const SSL *ssl)
{
    struct qtc_state *st = qtc_get(ssl, 0);
    return st != NULL ? (OSSL_ENCRYPTION_LEVEL)st->write_level : ssl_encryption_initial;
}

QTC_API int SSL_provide_quic_data(SSL *ssl, OSSL_ENCRYPTION_LEVEL level, const uint8_t *data,
                                  size_t len)
{
    struct qtc_state *st = ready(ssl);
    if (st == NULL)
        return 0;
    if ((int)level < 0 || level >= QTC_LEVELS || level == ssl_encryption_early_data ||
        (int)level < st->read_level || (int)level < st->last_provided) {
        ERR_raise_data(ERR_LIB_SSL, SSL_R_WRONG_ENCRYPTION_LEVEL_RECEIVED,
                       "qtlscompat: handshake data at level %d, expected >= %d", (int)level,
                       st->read_level > st->last_provided ? st->read_level : st->last_provided);
        return 0;
    }
    if (len == 0)
        return 1;
    struct qtc_rxq *q = &st->rx[level];
    if (st->rcd_out > 0 && st->rcd_level == (int)level) {
        ERR_raise_data(ERR_LIB_SSL, ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED,
                       "qtlscompat: SSL_provide_quic_data from inside an OpenSSL callback");
        return 0;
    }
    /* Every buffer a peer can grow has a limit. */
    if (qtc_rxq_pending(q) + len > SSL_quic_max_handshake_flight_len(ssl, level)) {
        ERR_raise_data(ERR_LIB_SSL, SSL_R_EXCESSIVE_MESSAGE_SIZE,
                       "qtlscompat: more than %zu bytes of handshake data queued at level %d",
                       SSL_quic_max_handshake_flight_len(ssl, level), (int)level);
        return 0;
    }
    if (!qtc_rxq_append(q, data, len))
        return 0;
    st->last_provided = (int)level;
    return 1;
}

QTC_API int SSL_process_quic_post_handshake(SSL *ssl)
{
    struct qtc_state *st = qtc_get(ssl, 0);
    if (st == NULL || !st->attached || SSL_in_init(ssl)) {
        ERR_raise(ERR_LIB_SSL, ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED);
        return 0;
    }
    /* OpenSSL processes post-handshake messages (NewSessionTicket, ...) only
     * inside SSL_read; one call may handle several. */
    while (qtc_rxq_pending(&st->rx[ssl_encryption_application]) > 0) {
        size_t before = qtc_rxq_pending(&st->rx[ssl_encryption_application]);
        int r = SSL_read(ssl, NULL, 0);
        if (r <= 0) {
            int e = SSL_get_error(ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                return 0;
            ERR_clear_error();
        }
        if (qtc_rxq_pending(&st->rx[ssl_encryption_application]) == before)
            break; /* a partial message: wait for more data */
    }
    return 1;
}

/* OpenSSL 3.5 speaks only the RFC codepoint 0x39.  A client asking for the
 * draft one 0xffa5 still sends 0x39: consumers ask for it with a version meant
 * to be refused (quiche greases the first Initial to force version negotiation),
 * where no server reads it, and a real draft-version server would refuse the
 * handshake for missing parameters anyway.  A server cannot answer a draft
 * client correctly, so there it fails the handshake (qtc_tls.c). */
QTC_API void SSL_set_quic_use_legacy_codepoint(SSL *ssl, int use_legacy)
{
    struct qtc_state *st = qtc_get(ssl, 1);
    if (st != NULL)
        st->legacy_codepoint = use_legacy != 0;
}

QTC_API void SSL_set_quic_transport_version(SSL *ssl, int version)
{
    struct qtc_state *st = qtc_get(ssl, 1);
    if (st == NULL)
        return;
    st->transport_version = version;
    st->legacy_codepoint = version == TLSEXT_TYPE_quic_transport_parameters_draft;
}

QTC_API int SSL_get_quic_transport_version(const SSL *ssl)
{
    struct qtc_state *st = qtc_get(ssl, 0);
    return st != NULL ? st->transport_version : 0;
}

QTC_API int SSL_get_peer_quic_transport_version(const SSL *ssl)
{
    struct qtc_state *st = qtc_get(ssl, 0);
    return st != NULL && st->peer_tp_seen ? TLSEXT_TYPE_quic_transport_parameters : -1;
}

QTC_API void SSL_set_quic_early_data_enabled(SSL *ssl, int enabled)
{
    struct qtc_state *st = ready(ssl);
    if (st == NULL)
        return;
    /* quictls silently does nothing when the session cannot do 0-RTT. */
    if (!SSL_set_quic_tls_early_data_enabled(ssl, enabled))
        ERR_clear_error();
}

QTC_API int SSL_CIPHER_get_prf_nid(const SSL_CIPHER *c)
{
    const EVP_MD *md = c != NULL ? SSL_CIPHER_get_handshake_digest(c) : NULL;
    return md != NULL ? EVP_MD_get_type(md) : NID_undef;
}

QTC_API int qtc_SSL_is_quic(const SSL *ssl)
{
    struct qtc_state *st = qtc_get(ssl, 0);
    if (st != NULL)
        return st->method != NULL;
    return ssl != NULL && qtc_ctx_method(SSL_get_SSL_CTX(ssl)) != NULL;
}

QTC_API int qtc_SSL_do_handshake(SSL *ssl)
{
    struct qtc_state *st = qtc_get(ssl, 0);
    int r;
    if ((st == NULL || !st->attached) && qtc_SSL_is_quic(ssl) && ready(ssl) == NULL)
        return -1;
    r = SSL_do_handshake(ssl);
    if (r == 1 && !SSL_is_init_finished(ssl)) {
        /* OpenSSL paused in early data before the client's Finished: quictls
         * reports that as "want read" (openssl#27650). */
        r = SSL_do_handshake(ssl);
    }
    return r;
}
