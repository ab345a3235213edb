/* libqtlscompat internals: per-SSL state and the OpenSSL callback table. */
#ifndef QTC_INTERNAL_H
#define QTC_INTERNAL_H

#define QTLSCOMPAT_BUILDING 1
#include "qtlscompat/qtlscompat.h"

#include <openssl/evp.h>

#define QTC_LEVELS 4
#define QTC_SECRET_MAX EVP_MAX_MD_SIZE
#define QTC_HIDDEN __attribute__((visibility("hidden")))

/* Received CRYPTO bytes of one level, consumed from off. */
struct qtc_rxq {
    uint8_t *buf;
    size_t len, cap, off;
};

struct qtc_secret {
    uint8_t read[QTC_SECRET_MAX], write[QTC_SECRET_MAX];
    size_t len;
    unsigned have_read : 1, have_write : 1, read_done : 1, write_done : 1;
};

struct qtc_state {
    SSL *ssl;
    const SSL_QUIC_METHOD *method;
    int attached;
    int in_callback;
    struct qtc_rxq rx[QTC_LEVELS];
    int last_provided;           /* highest level given to SSL_provide_quic_data */
    int ossl_read, ossl_write;   /* levels OpenSSL reads and writes at */
    int read_level, write_level; /* levels the consumer sees (secrets delivered) */
    size_t rcd_out;              /* bytes handed to OpenSSL, not yet released */
    int rcd_level;
    struct qtc_secret sec[QTC_LEVELS];
    int early_read_seen; /* server accepted 0-RTT: handshake read key comes late */
    uint8_t *local_tp;
    size_t local_tp_len;
    uint8_t *peer_tp;
    size_t peer_tp_len;
    int peer_tp_seen;
    int transport_version;
    int legacy_codepoint;
    int error_alert; /* alert to send instead of internal_error */
};

QTC_HIDDEN struct qtc_state *qtc_get(const SSL *ssl, int create);
QTC_HIDDEN const SSL_QUIC_METHOD *qtc_ctx_method(const SSL_CTX *ctx);
QTC_HIDDEN int qtc_ctx_set_method(SSL_CTX *ctx, const SSL_QUIC_METHOD *m);
/* Installs the OpenSSL callbacks on first use; 0 on failure. */
QTC_HIDDEN int qtc_attach(SSL *ssl, struct qtc_state *st);
QTC_HIDDEN int qtc_rxq_append(struct qtc_rxq *q, const uint8_t *d, size_t n);
QTC_HIDDEN size_t qtc_rxq_pending(const struct qtc_rxq *q);

#endif
