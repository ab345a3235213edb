/* libqtlscompat: the quictls / BoringSSL-style QUIC TLS API on the third-party
 * QUIC TLS callbacks of stock OpenSSL >= 3.5.1 (SSL_set_quic_tls_cbs).
 *
 * A QUIC stack written for quictls builds against it unchanged:
 *     cc -include qtlscompat/qtlscompat.h ... -lqtlscompat -lssl -lcrypto
 * Differences from quictls are listed in docs/qtlscompat.md. */
#ifndef QTLSCOMPAT_H
#define QTLSCOMPAT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/opensslv.h>
#include <openssl/ssl.h>
#include <openssl/tls1.h>

#if OPENSSL_VERSION_NUMBER < 0x30500010L
#error                                                                                             \
    "libqtlscompat needs OpenSSL >= 3.5.1 (3.5.0 loses QUIC transport parameters on SSL_set_SSL_CTX)"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define QTLSCOMPAT_VERSION "0.1.0"

#ifndef TLSEXT_TYPE_quic_transport_parameters
#define TLSEXT_TYPE_quic_transport_parameters 0x0039
#endif
#ifndef TLSEXT_TYPE_quic_transport_parameters_draft
#define TLSEXT_TYPE_quic_transport_parameters_draft 0xffa5
#endif
#define X25519_PRIVATE_KEY_LEN 32
#define X25519_PUBLIC_VALUE_LEN 32

/* Reason codes raised (ERR_LIB_SSL) where quictls has them. */
#ifndef SSL_R_MISSING_QUIC_TRANSPORT_PARAMETERS_EXTENSION
#define SSL_R_MISSING_QUIC_TRANSPORT_PARAMETERS_EXTENSION 801
#endif
#ifndef SSL_R_WRONG_ENCRYPTION_LEVEL_RECEIVED
#define SSL_R_WRONG_ENCRYPTION_LEVEL_RECEIVED 802
#endif

typedef enum ssl_encryption_level_t {
    ssl_encryption_initial = 0,
    ssl_encryption_early_data,
    ssl_encryption_handshake,
    ssl_encryption_application
} OSSL_ENCRYPTION_LEVEL;

typedef struct ssl_quic_method_st SSL_QUIC_METHOD;

struct ssl_quic_method_st {
    /* Both secrets of a level in one call (one is NULL only for early data,
     * and on a server that accepted 0-RTT, see docs). */
    int (*set_encryption_secrets)(SSL *ssl, OSSL_ENCRYPTION_LEVEL level, const uint8_t *read_secret,
                                  const uint8_t *write_secret, size_t secret_len);
    int (*add_handshake_data)(SSL *ssl, OSSL_ENCRYPTION_LEVEL level, const uint8_t *data,
                              size_t len);
    int (*flush_flight)(SSL *ssl);
    int (*send_alert)(SSL *ssl, enum ssl_encryption_level_t level, uint8_t alert);
};

int SSL_CTX_set_quic_method(SSL_CTX *ctx, const SSL_QUIC_METHOD *quic_method);
int SSL_set_quic_method(SSL *ssl, const SSL_QUIC_METHOD *quic_method);
int SSL_set_quic_transport_params(SSL *ssl, const uint8_t *params, size_t params_len);
void SSL_get_peer_quic_transport_params(const SSL *ssl, const uint8_t **out_params,
                                        size_t *out_params_len);
size_t SSL_quic_max_handshake_flight_len(const SSL *ssl, OSSL_ENCRYPTION_LEVEL level);
OSSL_ENCRYPTION_LEVEL SSL_quic_read_level(const SSL *ssl);
OSSL_ENCRYPTION_LEVEL SSL_quic_write_level(const SSL *ssl);
int SSL_provide_quic_data(SSL *ssl, OSSL_ENCRYPTION_LEVEL level, const uint8_t *data, size_t len);
int SSL_process_quic_post_handshake(SSL *ssl);
void SSL_set_quic_use_legacy_codepoint(SSL *ssl, int use_legacy);
void SSL_set_quic_transport_version(SSL *ssl, int version);
int SSL_get_quic_transport_version(const SSL *ssl);
int SSL_get_peer_quic_transport_version(const SSL *ssl);
void SSL_set_quic_early_data_enabled(SSL *ssl, int enabled);
int SSL_CIPHER_get_prf_nid(const SSL_CIPHER *c);

/* Stock libssl exports its own SSL_is_quic (true only for OpenSSL's native QUIC
 * objects), so the quictls meaning lives under another name. */
int qtc_SSL_is_quic(const SSL *ssl);
/* SSL_do_handshake with quictls's return value: OpenSSL 3.5 returns 1 on a
 * server with early data enabled before the client's Finished arrived
 * (openssl#27650); this reports "in progress" (-1, SSL_ERROR_WANT_READ) instead. */
int qtc_SSL_do_handshake(SSL *ssl);

#ifndef QTLSCOMPAT_BUILDING
#define SSL_is_quic(s) qtc_SSL_is_quic(s)
#ifndef QTLSCOMPAT_NO_HANDSHAKE_WRAPPER
#define SSL_do_handshake(s) qtc_SSL_do_handshake(s)
#endif
#endif

#ifdef __cplusplus
}
#endif

#endif
