/* Per-SSL and per-SSL_CTX state of libqtlscompat, kept in OpenSSL ex_data so it
 * lives and dies with the object (no globals but the indexes). */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "qtc_internal.h"

static CRYPTO_ONCE g_once = CRYPTO_ONCE_STATIC_INIT;
static int g_ssl_idx = -1, g_ctx_idx = -1;

static void free_state(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    struct qtc_state *st = ptr;
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    if (st == NULL)
        return;
    for (int i = 0; i < QTC_LEVELS; i++)
        OPENSSL_clear_free(st->rx[i].buf, st->rx[i].cap);
    OPENSSL_free(st->local_tp);
    OPENSSL_free(st->peer_tp);
    OPENSSL_cleanse(st->sec, sizeof(st->sec));
    OPENSSL_free(st);
}

static void init_indexes(void)
{
    g_ssl_idx = SSL_get_ex_new_index(0, (void *)"qtlscompat", NULL, NULL, free_state);
    g_ctx_idx = SSL_CTX_get_ex_new_index(0, (void *)"qtlscompat", NULL, NULL, NULL);
}

static int indexes(void)
{
    return CRYPTO_THREAD_run_once(&g_once, init_indexes) && g_ssl_idx >= 0 && g_ctx_idx >= 0;
}

struct qtc_state *qtc_get(const SSL *ssl, int create)
{
    struct qtc_state *st;
    if (ssl == NULL || !indexes())
        return NULL;
    st = SSL_get_ex_data(ssl, g_ssl_idx);
    if (st != NULL || !create)
        return st;
    st = OPENSSL_zalloc(sizeof(*st));
    if (st == NULL)
        return NULL;
    st->ssl = (SSL *)ssl;
    st->ossl_read = st->ossl_write = ssl_encryption_initial;
    st->read_level = st->write_level = ssl_encryption_initial;
    st->last_provided = ssl_encryption_initial;
    st->method = qtc_ctx_method(SSL_get_SSL_CTX(ssl));
    if (!SSL_set_ex_data((SSL *)ssl, g_ssl_idx, st)) {
        OPENSSL_free(st);
        return NULL;
    }
    return st;
}

const SSL_QUIC_METHOD *qtc_ctx_method(const SSL_CTX *ctx)
{
    if (ctx == NULL || !indexes())
        return NULL;
    return SSL_CTX_get_ex_data(ctx, g_ctx_idx);
}

int qtc_ctx_set_method(SSL_CTX *ctx, const SSL_QUIC_METHOD *m)
{
    if (!indexes())
        return 0;
    return SSL_CTX_set_ex_data(ctx, g_ctx_idx, (void *)m);
}

size_t qtc_rxq_pending(const struct qtc_rxq *q)
{
    return q->len - q->off;
}

int qtc_rxq_append(struct qtc_rxq *q, const uint8_t *d, size_t n)
{
    if (q->off > 0 && q->off == q->len)
        q->off = q->len = 0;
    if (q->len + n > q->cap) {
        size_t cap = q->cap ? q->cap : 4096;
        while (cap < q->len + n)
            cap *= 2;
        uint8_t *b = OPENSSL_malloc(cap);
        if (b == NULL)
            return 0;
        /* Callers never append while OpenSSL holds a record of this queue
         * (SSL_provide_quic_data refuses), so moving the bytes is safe. */
        if (q->len > 0)
            memcpy(b, q->buf, q->len);
        OPENSSL_clear_free(q->buf, q->cap);
        q->buf = b;
        q->cap = cap;
    }
    memcpy(q->buf + q->len, d, n);
    q->len += n;
    return 1;
}
