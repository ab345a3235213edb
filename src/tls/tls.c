#include "tls/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/quic.h>
#include <openssl/x509v3.h>

#include "common.h"
#include "obs/log.h"

/* 3.5.0 drops transport parameters when an SNI callback switches SSL_CTX. */
#define H3G_OPENSSL_MIN 0x30500010L
#define H3G_OPENSSL_MIN_TEXT "3.5.1"
/* Newest 3.5 release with QUIC server security fixes we know of
 * (CVE-2026-18798, CVE-2026-14456, CVE-2026-63075). */
#define H3G_OPENSSL_FIXED 0x30500080L
#define H3G_OPENSSL_FIXED_TEXT "3.5.8"

struct h3g_tls {
    SSL_CTX *ctx;
    char spki[64];
};

static void put_ossl_err(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    char buf[256];
    if (e != 0) {
        ERR_error_string_n(e, buf, sizeof(buf));
        snprintf(err, errlen, "%s: %s", what, buf);
    } else {
        snprintf(err, errlen, "%s", what);
    }
    ERR_clear_error();
}

const char *h3g_tls_openssl_version(void)
{
    return OpenSSL_version(OPENSSL_VERSION);
}

int h3g_tls_check_version(unsigned long v, const char *text, char *err, size_t errlen)
{
    if (v < (unsigned long)H3G_OPENSSL_MIN) {
        snprintf(err, errlen, "%s is too old: h3gate needs OpenSSL >= %s for its QUIC server", text,
                 H3G_OPENSSL_MIN_TEXT);
        return H3G_ERR;
    }
    if ((v & 0xfff00000UL) == 0x30500000UL && v < (unsigned long)H3G_OPENSSL_FIXED) {
        snprintf(err, errlen,
                 "running on %s: QUIC server fixes from OpenSSL %s (CVE-2026-18798, "
                 "CVE-2026-14456, CVE-2026-63075) are missing; upgrade when your distribution "
                 "ships it",
                 text, H3G_OPENSSL_FIXED_TEXT);
        return 1;
    }
    return 0;
}

int h3g_tls_check_runtime(char *err, size_t errlen)
{
    int rc = h3g_tls_check_version(OpenSSL_version_num(), OpenSSL_version(OPENSSL_VERSION), err,
                                   errlen);
    if (rc > 0) {
        h3g_warn("%s", err);
        rc = 0;
    }
    return rc;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char h3[] = {2, 'h', '3'};
    H3G_UNUSED(ssl);
    H3G_UNUSED(arg);
    if (SSL_select_next_proto((unsigned char **)out, outlen, h3, sizeof(h3), in, inlen) ==
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_OK;
    /* No h3 offered: refuse with no_application_protocol (RFC 9001 §8.1). */
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static int load_cert_key(SSL_CTX *ctx, const char *cert, const char *key, char *err,
                         size_t errlen)
{
    char what[512];
    FILE *f = fopen(cert, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read certificate %s: %s", cert, strerror(errno));
        return H3G_ERR;
    }
    fclose(f);
    f = fopen(key, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read private key %s: %s", key, strerror(errno));
        return H3G_ERR;
    }
    fclose(f);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        snprintf(what, sizeof(what), "certificate %s is not a valid PEM certificate chain", cert);
        put_ossl_err(err, errlen, what);
        return H3G_ERR;
    }
    {
        BIO *kb = BIO_new_file(key, "r");
        EVP_PKEY *pkey = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
        BIO_free(kb);
        if (pkey == NULL) {
            snprintf(what, sizeof(what), "private key %s is not a valid PEM private key", key);
            put_ossl_err(err, errlen, what);
            return H3G_ERR;
        }
        if (X509_check_private_key(SSL_CTX_get0_certificate(ctx), pkey) != 1) {
            EVP_PKEY_free(pkey);
            ERR_clear_error();
            snprintf(err, errlen, "private key %s does not match certificate %s", key, cert);
            return H3G_ERR;
        }
        int ok = SSL_CTX_use_PrivateKey(ctx, pkey);
        EVP_PKEY_free(pkey);
        if (ok != 1) {
            snprintf(what, sizeof(what), "private key %s cannot be used", key);
            put_ossl_err(err, errlen, what);
            return H3G_ERR;
        }
    }
    return 0;
}

/* An ephemeral P-256 certificate, valid 30 days, for demos and tests. */
static int make_selfsigned(SSL_CTX *ctx, const char *name, char *err, size_t errlen)
{
    int rc = H3G_ERR;
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *subj;
    X509V3_CTX v3;
    X509_EXTENSION *ext = NULL;
    char san[300];

    if (pkey == NULL || x == NULL)
        goto out;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(h3g_now_us() & 0x7fffffff));
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 30L * 24 * 3600);
    X509_set_pubkey(x, pkey);
    subj = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const unsigned char *)name, -1, -1, 0);
    X509_set_issuer_name(x, subj);
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    snprintf(san, sizeof(san), "DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", name);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
    if (ext == NULL || !X509_add_ext(x, ext, -1))
        goto out;
    if (!X509_sign(x, pkey, EVP_sha256()))
        goto out;
    if (SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, pkey) != 1)
        goto out;
    rc = 0;
out:
    if (rc != 0)
        put_ossl_err(err, errlen, "cannot generate a self-signed certificate");
    X509_EXTENSION_free(ext);
    X509_free(x);
    EVP_PKEY_free(pkey);
    return rc;
}

static void compute_spki(h3g_tls *tls)
{
    X509 *x = SSL_CTX_get0_certificate(tls->ctx);
    unsigned char *der = NULL, md[32];
    unsigned int mdlen = 0;
    int len;
    tls->spki[0] = '\0';
    if (x == NULL)
        return;
    len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
    if (len <= 0)
        return;
    if (EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL))
        EVP_EncodeBlock((unsigned char *)tls->spki, md, (int)mdlen);
    OPENSSL_free(der);
}

h3g_tls *h3g_tls_new(const struct h3g_tls_config *cfg, char *err, size_t errlen)
{
    h3g_tls *tls = calloc(1, sizeof(*tls));
    if (tls == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    tls->ctx = SSL_CTX_new(OSSL_QUIC_server_method());
    if (tls->ctx == NULL) {
        put_ossl_err(err, errlen, "cannot create the QUIC server context");
        goto fail;
    }
    /* One event loop drives everything; there is no other thread to lock against. */
    SSL_CTX_set_domain_flags(tls->ctx, SSL_DOMAIN_FLAG_SINGLE_THREAD);
    SSL_CTX_set_alpn_select_cb(tls->ctx, alpn_select, NULL);
    if (cfg->cert_file != NULL) {
        if (load_cert_key(tls->ctx, cfg->cert_file, cfg->key_file, err, errlen) != 0)
            goto fail;
    } else if (make_selfsigned(tls->ctx, cfg->selfsigned_name ? cfg->selfsigned_name : "localhost",
                               err, errlen) != 0) {
        goto fail;
    }
    compute_spki(tls);
    return tls;
fail:
    h3g_tls_free(tls);
    return NULL;
}

void h3g_tls_free(h3g_tls *tls)
{
    if (tls == NULL)
        return;
    SSL_CTX_free(tls->ctx);
    free(tls);
}

SSL_CTX *h3g_tls_ctx(h3g_tls *tls)
{
    return tls->ctx;
}

const char *h3g_tls_spki_hash(const h3g_tls *tls)
{
    return tls->spki;
}
