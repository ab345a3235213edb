#include "tls/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/quic.h>
#include <openssl/x509v3.h>

#include "common.h"
#include "obs/log.h"
#include "tls/cve.h"

/* 3.5.0 drops transport parameters when an SNI callback switches SSL_CTX. */
#define H3G_OPENSSL_MIN 0x30500010L
#define H3G_OPENSSL_MIN_TEXT "3.5.1"

#define MAX_CERT_NAMES 64
#define MAX_TICKET_KEYS 8

/* nginx's 80-byte ssl_session_ticket_key format: name, HMAC key, AES key. */
struct ticket_key {
    unsigned char name[16];
    unsigned char hmac[32];
    unsigned char aes[32];
};

struct tls_cert {
    X509 *x;
    EVP_PKEY *key;
    STACK_OF(X509) * chain;
    char *names[MAX_CERT_NAMES]; /* lowercase; "*.suffix" for wildcards */
    size_t nnames;
};

struct h3g_tls {
    SSL_CTX *ctx;     /* OpenSSL's native QUIC server */
    SSL_CTX *tls_ctx; /* TLS 1.3 for a QUIC stack on OpenSSL's QUIC TLS API (ngtcp2) */
    SSL_CTX *tcp_ctx; /* TLS over TCP: HTTP/2 and HTTP/1.1 */
    struct tls_cert *certs;
    size_t ncerts;
    struct tls_cert self; /* the generated certificate when none is configured */
    int default_idx;
    int reject_unknown;
    int reloaded; /* the contexts' own certificate may be stale: set one per handshake */
    char spki[64];
    struct ticket_key tickets[MAX_TICKET_KEYS];
    size_t ntickets;
    int tickets_own; /* no key configured: one random key of this process's */
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

int h3g_tls_check_version(unsigned long v, const char *debian, const char *text, char *err,
                          size_t errlen)
{
    char ids[256];
    if (v < (unsigned long)H3G_OPENSSL_MIN) {
        snprintf(err, errlen, "%s is too old: h3gate needs OpenSSL >= %s for its QUIC server", text,
                 H3G_OPENSSL_MIN_TEXT);
        return H3G_ERR;
    }
    if (h3g_cve_missing(v, debian, ids, sizeof(ids)) > 0) {
        /* The ngtcp2 engine uses OpenSSL's TLS only: these are in its QUIC stack. */
        snprintf(err, errlen,
                 "running on %s, whose QUIC server lacks the fixes for %s (they matter with "
                 "--engine openssl; h3gate --version lists them): upgrade OpenSSL",
                 text, ids);
        return 1;
    }
    return 0;
}

int h3g_tls_check_runtime(char *err, size_t errlen)
{
    int rc = h3g_tls_check_version(OpenSSL_version_num(), h3g_cve_openssl_debian(),
                                   OpenSSL_version(OPENSSL_VERSION), err, errlen);
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

/* TLS over TCP: h2 when offered, else http/1.1; a client that offers neither
 * goes on without ALPN (RFC 7301 §3.2 allows it) and speaks HTTP/1.1. */
static int alpn_select_tcp(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                           const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char ours[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    H3G_UNUSED(ssl);
    H3G_UNUSED(arg);
    for (unsigned int i = 0; i < sizeof(ours); i += 1u + ours[i])
        for (unsigned int j = 0; j + 1 <= inlen && j + 1u + in[j] <= inlen; j += 1u + in[j])
            if (in[j] == ours[i] && memcmp(in + j + 1, ours + i + 1, ours[i]) == 0) {
                *out = in + j + 1;
                *outlen = in[j];
                return SSL_TLSEXT_ERR_OK;
            }
    return SSL_TLSEXT_ERR_NOACK;
}

static int add_name(struct tls_cert *tc, const char *name, size_t len)
{
    if (tc->nnames == MAX_CERT_NAMES || len == 0 || len > 253)
        return 0;
    char *n = OPENSSL_strndup(name, len);
    if (n == NULL)
        return -1;
    for (char *p = n; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    tc->names[tc->nnames++] = n;
    return 0;
}

/* The subject's (last) common name.  Through the entry, not
 * X509_NAME_get_text_by_NID: OpenSSL 4.0 deprecates that. */
static int name_from_cn(struct tls_cert *tc)
{
    const X509_NAME *subj = X509_get_subject_name(tc->x);
    int i = -1, last = -1, len, rc = 0;
    unsigned char *utf8 = NULL;
    while ((i = X509_NAME_get_index_by_NID(subj, NID_commonName, i)) >= 0)
        last = i;
    if (last < 0)
        return 0;
    len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, last)));
    if (len > 0)
        rc = add_name(tc, (const char *)utf8, (size_t)len);
    else
        ERR_clear_error();
    OPENSSL_free(utf8);
    return rc;
}

/* The DNS names the certificate itself carries (subjectAltName, else CN). */
static int names_from_cert(struct tls_cert *tc)
{
    GENERAL_NAMES *sans = X509_get_ext_d2i(tc->x, NID_subject_alt_name, NULL, NULL);
    int rc = 0;
    for (int i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
        if (gn->type == GEN_DNS && add_name(tc, (const char *)ASN1_STRING_get0_data(gn->d.dNSName),
                                            (size_t)ASN1_STRING_length(gn->d.dNSName)) != 0)
            rc = -1;
    }
    if ((sans == NULL || tc->nnames == 0) && name_from_cn(tc) != 0)
        rc = -1;
    GENERAL_NAMES_free(sans);
    return rc;
}

/* OpenSSL asks for the pass phrase of an encrypted key; without a callback it
 * prompts on the terminal, which a server must never do.  Fail instead. */
static int refuse_passphrase(char *buf, int size, int rwflag, void *arg)
{
    H3G_UNUSED(buf);
    H3G_UNUSED(size);
    H3G_UNUSED(rwflag);
    *(int *)arg = 1;
    return -1;
}

static int load_cert(struct tls_cert *tc, const struct h3g_tls_cert_config *cc, char *err,
                     size_t errlen)
{
    char what[512];
    int encrypted = 0;
    BIO *b = BIO_new_file(cc->cert_file, "r");
    X509 *extra;
    if (b == NULL) {
        ERR_clear_error();
        snprintf(err, errlen, "cannot read certificate %s: %s", cc->cert_file, strerror(errno));
        return H3G_ERR;
    }
    tc->x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    tc->chain = sk_X509_new_null();
    while (tc->x != NULL && tc->chain != NULL &&
           (extra = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
        sk_X509_push(tc->chain, extra);
    ERR_clear_error(); /* the end of the file */
    BIO_free(b);
    if (tc->x == NULL) {
        snprintf(what, sizeof(what), "certificate %s is not a valid PEM certificate chain",
                 cc->cert_file);
        put_ossl_err(err, errlen, what);
        return H3G_ERR;
    }
    b = BIO_new_file(cc->key_file, "r");
    if (b == NULL) {
        ERR_clear_error();
        snprintf(err, errlen, "cannot read private key %s: %s", cc->key_file, strerror(errno));
        return H3G_ERR;
    }
    tc->key = PEM_read_bio_PrivateKey(b, NULL, refuse_passphrase, &encrypted);
    BIO_free(b);
    if (tc->key == NULL && encrypted) {
        ERR_clear_error();
        snprintf(err, errlen,
                 "private key %s is encrypted: encrypted keys are not supported "
                 "(decrypt it with openssl pkey -in KEY -out PLAIN)",
                 cc->key_file);
        return H3G_ERR;
    }
    if (tc->key == NULL) {
        snprintf(what, sizeof(what), "private key %s is not a valid PEM private key", cc->key_file);
        put_ossl_err(err, errlen, what);
        return H3G_ERR;
    }
    if (X509_check_private_key(tc->x, tc->key) != 1) {
        ERR_clear_error();
        snprintf(err, errlen, "private key %s does not match certificate %s", cc->key_file,
                 cc->cert_file);
        return H3G_ERR;
    }
    if (cc->nnames > 0) {
        for (size_t i = 0; i < cc->nnames; i++)
            if (add_name(tc, cc->names[i], strlen(cc->names[i])) != 0)
                return H3G_ENOMEM;
    } else if (names_from_cert(tc) != 0) {
        return H3G_ENOMEM;
    }
    return 0;
}

static int name_matches(const char *pattern, const char *name)
{
    if (pattern[0] == '*' && pattern[1] == '.') {
        /* one label only, as in RFC 6125 */
        const char *dot = strchr(name, '.');
        return dot != NULL && dot != name && strcmp(dot, pattern + 1) == 0;
    }
    return strcmp(pattern, name) == 0;
}

int h3g_tls_select(const h3g_tls *tls, const char *servername)
{
    char name[256];
    size_t n;
    if (servername == NULL)
        return -1;
    n = strlen(servername);
    if (n == 0 || n >= sizeof(name))
        return -1;
    for (size_t i = 0; i <= n; i++) {
        char c = servername[i];
        name[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    if (name[n - 1] == '.')
        name[n - 1] = '\0'; /* a fully qualified name */
    /* Exact names first, then wildcards, across all certificates. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < tls->ncerts; i++)
            for (size_t j = 0; j < tls->certs[i].nnames; j++) {
                const char *p = tls->certs[i].names[j];
                int wild = p[0] == '*';
                if (wild == pass && name_matches(p, name))
                    return (int)i;
            }
    return -1;
}

/* The one place a certificate is chosen: OpenSSL's servername callback, with
 * OpenSSL's own accessor for the name (review lesson 3). */
static int on_servername(SSL *ssl, int *al, void *arg)
{
    h3g_tls *tls = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    int idx = h3g_tls_select(tls, name);
    if (idx < 0 && tls->reject_unknown && tls->ncerts > 0) {
        *al = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    if (idx < 0 && tls->ncerts > 0)
        idx = tls->default_idx;
    const struct tls_cert *tc = idx >= 0 ? &tls->certs[idx] : &tls->self;
    if ((idx >= 0 && idx != tls->default_idx) || (tls->reloaded && tc->x != NULL)) {
        /* A context cannot drop a certificate of another key type, so after a
         * reload each connection gets exactly the current one. */
        SSL_certs_clear(ssl);
        if (SSL_use_cert_and_key(ssl, tc->x, tc->key, tc->chain, 1) != 1) {
            ERR_clear_error();
            *al = SSL_AD_INTERNAL_ERROR;
            return SSL_TLSEXT_ERR_ALERT_FATAL;
        }
    }
    return SSL_TLSEXT_ERR_OK;
}

/* The generated certificate, kept for the process: worker processes forked
 * after the master checked the configuration serve the same one, so a pin
 * (its SPKI hash) holds whichever worker a client reaches. */
static X509 *g_gen_x;
static EVP_PKEY *g_gen_key;

static int use_generated(SSL_CTX *ctx, struct tls_cert *self)
{
    if (SSL_CTX_use_certificate(ctx, g_gen_x) != 1 || SSL_CTX_use_PrivateKey(ctx, g_gen_key) != 1 ||
        !X509_up_ref(g_gen_x) || !EVP_PKEY_up_ref(g_gen_key))
        return H3G_ERR;
    self->x = g_gen_x;
    self->key = g_gen_key;
    return 0;
}

/* An ephemeral P-256 certificate, valid 30 days, for demos and tests. */
static int make_selfsigned(SSL_CTX *ctx, struct tls_cert *self, const char *name, char *err,
                           size_t errlen)
{
    int rc = H3G_ERR;
    if (g_gen_x != NULL) {
        if (use_generated(ctx, self) == 0)
            return 0;
        put_ossl_err(err, errlen, "cannot use the generated certificate");
        return H3G_ERR;
    }
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *subj = X509_NAME_new();
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
    /* A name of our own: OpenSSL 4.0 hands out the certificate's as const. */
    if (subj == NULL ||
        !X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const unsigned char *)name, -1, -1,
                                    0) ||
        !X509_set_subject_name(x, subj) || !X509_set_issuer_name(x, subj))
        goto out;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    snprintf(san, sizeof(san), "DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", name);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
    if (ext == NULL || !X509_add_ext(x, ext, -1))
        goto out;
    if (!X509_sign(x, pkey, EVP_sha256()))
        goto out;
    g_gen_x = x;
    g_gen_key = pkey;
    x = NULL;
    pkey = NULL;
    if (use_generated(ctx, self) != 0)
        goto out;
    rc = 0;
out:
    if (rc != 0)
        put_ossl_err(err, errlen, "cannot generate a self-signed certificate");
    X509_EXTENSION_free(ext);
    X509_NAME_free(subj);
    X509_free(x);
    EVP_PKEY_free(pkey);
    return rc;
}

/* The generated certificate serves the other contexts too. */
static int copy_cert(h3g_tls *tls, char *err, size_t errlen)
{
    X509 *x = SSL_CTX_get0_certificate(tls->ctx);
    EVP_PKEY *key = SSL_CTX_get0_privatekey(tls->ctx);
    if (SSL_CTX_use_certificate(tls->tls_ctx, x) != 1 ||
        SSL_CTX_use_PrivateKey(tls->tls_ctx, key) != 1 ||
        SSL_CTX_use_certificate(tls->tcp_ctx, x) != 1 ||
        SSL_CTX_use_PrivateKey(tls->tcp_ctx, key) != 1) {
        put_ossl_err(err, errlen, "cannot use the generated certificate");
        return H3G_ERR;
    }
    return 0;
}

static int ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *ectx,
                     EVP_MAC_CTX *hctx, int enc)
{
    /* OpenSSL's ticket callback has no argument of its own: the keys hang on
     * the context (the SNI callback changes certificates, not contexts). */
    h3g_tls *tls = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    const struct ticket_key *k = NULL;
    size_t i = 0;
    if (tls == NULL || tls->ntickets == 0)
        return -1;
    if (enc) {
        k = &tls->tickets[0];
        memcpy(name, k->name, sizeof(k->name));
        if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1)
            return -1;
    } else {
        for (i = 0; i < tls->ntickets && k == NULL; i++)
            if (memcmp(name, tls->tickets[i].name, sizeof(tls->tickets[i].name)) == 0)
                k = &tls->tickets[i];
        if (k == NULL)
            return 0; /* not one of ours (any more): a full handshake */
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string("key", (void *)k->hmac, sizeof(k->hmac)),
        OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (!EVP_MAC_CTX_set_params(hctx, params) ||
        !(enc ? EVP_EncryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k->aes, iv)
              : EVP_DecryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k->aes, iv)))
        return -1;
    /* A ticket under an older key is renewed under the current one. */
    return enc || k == &tls->tickets[0] ? 1 : 2;
}

static int load_ticket_keys(h3g_tls *tls, const struct h3g_tls_config *cfg, char *err,
                            size_t errlen)
{
    if (cfg->nticket_key_files > MAX_TICKET_KEYS) {
        snprintf(err, errlen, "at most %d session ticket keys", MAX_TICKET_KEYS);
        return H3G_ERR;
    }
    for (size_t i = 0; i < cfg->nticket_key_files; i++) {
        const char *path = cfg->ticket_key_files[i];
        unsigned char buf[81];
        FILE *f = fopen(path, "rb");
        size_t n;
        if (f == NULL) {
            snprintf(err, errlen, "cannot read session ticket key %s: %s", path, strerror(errno));
            return H3G_ERR;
        }
        n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        if (n != 80) {
            OPENSSL_cleanse(buf, sizeof(buf));
            snprintf(err, errlen,
                     "session ticket key %s: %zu bytes, 80 expected (openssl rand 80 > FILE)", path,
                     n);
            return H3G_ERR;
        }
        memcpy(tls->tickets[i].name, buf, 16);
        memcpy(tls->tickets[i].hmac, buf + 16, 32);
        memcpy(tls->tickets[i].aes, buf + 48, 32);
        OPENSSL_cleanse(buf, sizeof(buf));
    }
    tls->ntickets = cfg->nticket_key_files;
    if (tls->ntickets > 0 || cfg->several_processes) {
        /* OpenSSL's anti-replay remembers tickets in this process only, so it
         * would refuse 0-RTT with any ticket another server (or the previous
         * process) issued.  Early data stays replayable either way: only safe
         * methods are served from it, and origins see Early-Data: 1. */
        SSL_CTX_set_options(tls->tls_ctx, SSL_OP_NO_ANTI_REPLAY);
    }
    if (tls->ntickets == 0) {
        /* As OpenSSL would do by itself, but under h3gate's callback so that
         * a reload can add or drop configured keys; made once per process
         * (in the master, before it starts workers: a client resumes at
         * whichever worker it reaches). */
        static struct ticket_key own;
        static int have_own;
        if (!have_own && RAND_bytes((unsigned char *)&own, sizeof(own)) != 1) {
            put_ossl_err(err, errlen, "cannot generate a session ticket key");
            return H3G_ERR;
        }
        have_own = 1;
        tls->tickets[0] = own;
        tls->ntickets = 1;
        tls->tickets_own = 1;
    }
    {
        if (!SSL_CTX_set_app_data(tls->ctx, tls) || !SSL_CTX_set_app_data(tls->tls_ctx, tls) ||
            !SSL_CTX_set_app_data(tls->tcp_ctx, tls) ||
            !SSL_CTX_set_tlsext_ticket_key_evp_cb(tls->tcp_ctx, ticket_cb) ||
            !SSL_CTX_set_tlsext_ticket_key_evp_cb(tls->ctx, ticket_cb) ||
            !SSL_CTX_set_tlsext_ticket_key_evp_cb(tls->tls_ctx, ticket_cb)) {
            put_ossl_err(err, errlen, "cannot install the session ticket keys");
            return H3G_ERR;
        }
    }
    return 0;
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

/* The configured certificates (the first default one on the contexts), or a
 * generated one. */
static int load_certs(h3g_tls *tls, const struct h3g_tls_config *cfg, char *err, size_t errlen)
{
    if (cfg->ncerts == 0)
        return make_selfsigned(tls->ctx, &tls->self,
                               cfg->selfsigned_name ? cfg->selfsigned_name : "localhost", err,
                               errlen) != 0 ||
                       copy_cert(tls, err, errlen) != 0
                   ? H3G_ERR
                   : 0;
    tls->certs = calloc(cfg->ncerts, sizeof(*tls->certs));
    if (tls->certs == NULL) {
        snprintf(err, errlen, "out of memory");
        return H3G_ENOMEM;
    }
    tls->ncerts = cfg->ncerts;
    for (size_t i = 0; i < cfg->ncerts; i++) {
        if (load_cert(&tls->certs[i], &cfg->certs[i], err, errlen) != 0)
            return H3G_ERR;
        if (cfg->certs[i].is_default)
            tls->default_idx = (int)i;
    }
    struct tls_cert *d = &tls->certs[tls->default_idx];
    if (SSL_CTX_use_cert_and_key(tls->ctx, d->x, d->key, d->chain, 1) != 1 ||
        SSL_CTX_use_cert_and_key(tls->tls_ctx, d->x, d->key, d->chain, 1) != 1 ||
        SSL_CTX_use_cert_and_key(tls->tcp_ctx, d->x, d->key, d->chain, 1) != 1) {
        put_ossl_err(err, errlen, "cannot use the default certificate");
        return H3G_ERR;
    }
    return 0;
}

h3g_tls *h3g_tls_new(const struct h3g_tls_config *cfg, char *err, size_t errlen)
{
    h3g_tls *tls = calloc(1, sizeof(*tls));
    if (tls == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    tls->ctx = SSL_CTX_new(OSSL_QUIC_server_method());
    tls->tls_ctx = SSL_CTX_new(TLS_server_method());
    tls->tcp_ctx = SSL_CTX_new(TLS_server_method());
    if (tls->ctx == NULL || tls->tls_ctx == NULL || tls->tcp_ctx == NULL) {
        put_ossl_err(err, errlen, "cannot create the TLS server contexts");
        goto fail;
    }
    /* One event loop drives everything; there is no other thread to lock against. */
    SSL_CTX_set_domain_flags(tls->ctx, SSL_DOMAIN_FLAG_SINGLE_THREAD);
    SSL_CTX_set_alpn_select_cb(tls->ctx, alpn_select, NULL);
    /* QUIC is TLS 1.3 only (RFC 9001 §4.2). */
    SSL_CTX_set_min_proto_version(tls->tls_ctx, TLS1_3_VERSION);
    SSL_CTX_set_alpn_select_cb(tls->tls_ctx, alpn_select, NULL);
    SSL_CTX_set_min_proto_version(tls->tcp_ctx,
                                  cfg->tcp_tls_min_13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_alpn_select_cb(tls->tcp_ctx, alpn_select_tcp, NULL);
    /* Output is queued in h3gate's buffer, which may move between writes. */
    SSL_CTX_set_mode(tls->tcp_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                       SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                       SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(tls->tcp_ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
                                          SSL_OP_IGNORE_UNEXPECTED_EOF);
    tls->reject_unknown = cfg->reject_unknown_sni;
    SSL_CTX_set_tlsext_servername_callback(tls->ctx, on_servername);
    SSL_CTX_set_tlsext_servername_arg(tls->ctx, tls);
    SSL_CTX_set_tlsext_servername_callback(tls->tls_ctx, on_servername);
    SSL_CTX_set_tlsext_servername_arg(tls->tls_ctx, tls);
    SSL_CTX_set_tlsext_servername_callback(tls->tcp_ctx, on_servername);
    SSL_CTX_set_tlsext_servername_arg(tls->tcp_ctx, tls);
    if (load_ticket_keys(tls, cfg, err, errlen) != 0 || load_certs(tls, cfg, err, errlen) != 0)
        goto fail;
    compute_spki(tls);
    return tls;
fail:
    h3g_tls_free(tls);
    return NULL;
}

static void free_cert(struct tls_cert *tc)
{
    X509_free(tc->x);
    EVP_PKEY_free(tc->key);
    OSSL_STACK_OF_X509_free(tc->chain);
    for (size_t j = 0; j < tc->nnames; j++)
        OPENSSL_free(tc->names[j]);
    memset(tc, 0, sizeof(*tc));
}

void h3g_tls_free(h3g_tls *tls)
{
    if (tls == NULL)
        return;
    for (size_t i = 0; tls->certs != NULL && i < tls->ncerts; i++)
        free_cert(&tls->certs[i]);
    free(tls->certs);
    free_cert(&tls->self);
    OPENSSL_cleanse(tls->tickets, sizeof(tls->tickets));
    SSL_CTX_free(tls->ctx);
    SSL_CTX_free(tls->tls_ctx);
    SSL_CTX_free(tls->tcp_ctx);
    free(tls);
}

#define SWAP(a, b)                                                                                 \
    do {                                                                                           \
        __typeof__(a) swap_tmp_ = (a);                                                             \
        (a) = (b);                                                                                 \
        (b) = swap_tmp_;                                                                           \
    } while (0)

void h3g_tls_adopt(h3g_tls *tls, h3g_tls *fresh, const struct h3g_tls_config *cfg)
{
    /* A generated certificate stays (clients may have pinned it) while
     * still none is configured. */
    if (cfg->ncerts > 0 || tls->ncerts > 0) {
        SWAP(tls->certs, fresh->certs);
        SWAP(tls->ncerts, fresh->ncerts);
        SWAP(tls->self, fresh->self);
        tls->default_idx = fresh->default_idx;
        memcpy(tls->spki, fresh->spki, sizeof(tls->spki));
        /* Handshakes already running keep what they hold (OpenSSL counts its
         * references); the next ones get the new certificates. */
        tls->reloaded = 1;
    }
    /* Tickets under a key that is gone get a full handshake. */
    if (!(fresh->tickets_own && tls->tickets_own)) {
        struct ticket_key keys[MAX_TICKET_KEYS];
        memcpy(keys, tls->tickets, sizeof(keys));
        memcpy(tls->tickets, fresh->tickets, sizeof(keys));
        memcpy(fresh->tickets, keys, sizeof(keys));
        OPENSSL_cleanse(keys, sizeof(keys));
        SWAP(tls->ntickets, fresh->ntickets);
        SWAP(tls->tickets_own, fresh->tickets_own);
        if (tls->tickets_own && !cfg->several_processes)
            SSL_CTX_clear_options(tls->tls_ctx, SSL_OP_NO_ANTI_REPLAY);
        else
            SSL_CTX_set_options(tls->tls_ctx, SSL_OP_NO_ANTI_REPLAY);
    }
    tls->reject_unknown = cfg->reject_unknown_sni;
    SSL_CTX_set_min_proto_version(tls->tcp_ctx,
                                  cfg->tcp_tls_min_13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    h3g_tls_free(fresh);
}

static int g_keylog_fd = -1;

/* One write per line: several workers may share the file. */
static void keylog_line(const SSL *ssl, const char *line)
{
    char buf[1024];
    int n = snprintf(buf, sizeof(buf), "%s\n", line);
    (void)ssl;
    if (g_keylog_fd >= 0 && n > 0 && (size_t)n < sizeof(buf) &&
        write(g_keylog_fd, buf, (size_t)n) != n)
        h3g_debug("keylog: short write");
}

int h3g_tls_keylog(h3g_tls *tls, const char *path, char *err, size_t errlen)
{
    int fd = -1;
    if (path != NULL) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) {
            snprintf(err, errlen, "keylog %s: %s", path, strerror(errno));
            return H3G_ERR;
        }
    }
    if (g_keylog_fd >= 0)
        close(g_keylog_fd);
    g_keylog_fd = fd;
    SSL_CTX_keylog_cb_func cb = fd >= 0 ? keylog_line : NULL;
    SSL_CTX_set_keylog_callback(tls->ctx, cb);
    SSL_CTX_set_keylog_callback(tls->tls_ctx, cb);
    SSL_CTX_set_keylog_callback(tls->tcp_ctx, cb);
    return 0;
}

SSL_CTX *h3g_tls_ctx(h3g_tls *tls)
{
    return tls->ctx;
}

SSL_CTX *h3g_tls_quic_tls_ctx(h3g_tls *tls)
{
    return tls->tls_ctx;
}

SSL_CTX *h3g_tls_tcp_ctx(h3g_tls *tls)
{
    return tls->tcp_ctx;
}

int h3g_tls_read_host_key(const char *path, uint8_t out[32], char *err, size_t errlen)
{
    unsigned char buf[4096];
    unsigned int mdlen = 0;
    size_t n;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read QUIC host key %s: %s", path, strerror(errno));
        return H3G_ERR;
    }
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (n < 32) {
        OPENSSL_cleanse(buf, sizeof(buf));
        snprintf(err, errlen,
                 "QUIC host key %s: %zu bytes, at least 32 needed (e.g. openssl rand 32 > FILE)",
                 path, n);
        return H3G_ERR;
    }
    int ok = EVP_Digest(buf, n, out, &mdlen, EVP_sha256(), NULL);
    OPENSSL_cleanse(buf, sizeof(buf));
    if (!ok || mdlen != 32) {
        put_ossl_err(err, errlen, "cannot hash the QUIC host key");
        return H3G_ERR;
    }
    return 0;
}

int h3g_tls_derive_secret(const h3g_tls *tls, const char *label, uint8_t *out, size_t outlen)
{
    EVP_PKEY *key = SSL_CTX_get0_privatekey(tls->ctx);
    unsigned char *der = NULL;
    int len = key != NULL ? i2d_PrivateKey(key, &der) : -1;
    int rc = H3G_ERR;
    if (len <= 0) {
        ERR_clear_error();
        return H3G_ERR;
    }
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string("key", der, (size_t)len),
        OSSL_PARAM_construct_octet_string("info", (void *)label, strlen(label)),
        OSSL_PARAM_construct_end(),
    };
    if (kctx != NULL && EVP_KDF_derive(kctx, out, outlen, params) == 1)
        rc = 0;
    ERR_clear_error();
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    OPENSSL_clear_free(der, (size_t)len);
    return rc;
}

const char *h3g_tls_spki_hash(const h3g_tls *tls)
{
    return tls->spki;
}
