#include <stdlib.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "common.h"
#include "testutil.h"
#include "tls/tls.h"

/* A self-signed certificate whose only name is its subject's CN, as PEM files. */
static int write_cn_only_cert(const char *cn, const char *cert_path, const char *key_path)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    FILE *cf = fopen(cert_path, "w"), *kf = fopen(key_path, "w");
    int ok =
        key != NULL && x != NULL && n != NULL && cf != NULL && kf != NULL &&
        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) &&
        X509_set_subject_name(x, n) && X509_set_issuer_name(x, n) &&
        X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
        X509_gmtime_adj(X509_getm_notAfter(x), 3600) && X509_set_pubkey(x, key) &&
        X509_sign(x, key, EVP_sha256()) && PEM_write_X509(cf, x) &&
        PEM_write_PrivateKey(kf, key, NULL, NULL, 0, NULL, NULL);
    if (cf != NULL)
        fclose(cf);
    if (kf != NULL)
        fclose(kf);
    X509_NAME_free(n);
    X509_free(x);
    EVP_PKEY_free(key);
    return ok ? 0 : -1;
}

/* Without subjectAltName the certificate serves its CN. */
static void check_cn_only(void)
{
    char dir[] = "/tmp/h3g-test-tls-XXXXXX", cert[64], key[64], err[512];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(cert, sizeof(cert), "%s/c.pem", dir);
    snprintf(key, sizeof(key), "%s/k.pem", dir);
    CHECK(write_cn_only_cert("CN.Example", cert, key) == 0);
    struct h3g_tls_cert_config cc = {.cert_file = cert, .key_file = key, .is_default = 1};
    struct h3g_tls_config cfg = {.certs = &cc, .ncerts = 1, .reject_unknown_sni = 1};
    h3g_tls *t = h3g_tls_new(&cfg, err, sizeof(err));
    CHECK(t != NULL);
    if (t != NULL) {
        CHECK(h3g_tls_select(t, "cn.example") == 0);
        CHECK(h3g_tls_select(t, "other.example") == -1);
        h3g_tls_free(t);
    }
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

int main(void)
{
    char err[512];
    CHECK(h3g_tls_check_version(0x30000130L, NULL, "OpenSSL 3.0.19", err, sizeof(err)) < 0);
    CHECK(strstr(err, "OpenSSL 3.0.19 is too old") != NULL && strstr(err, ">= 3.5.1") != NULL);
    /* 3.5.0 loses transport parameters when SNI switches SSL_CTX */
    CHECK(h3g_tls_check_version(0x30500000L, NULL, "OpenSSL 3.5.0", err, sizeof(err)) < 0);
    /* the CVE table's verdicts: test_cve.c */
    CHECK(h3g_tls_check_version(0x30500010L, NULL, "OpenSSL 3.5.1", err, sizeof(err)) == 1);
    CHECK(strstr(err, "CVE-2026-18798") != NULL);
    CHECK(h3g_tls_check_version(0x30500080L, NULL, "OpenSSL 3.5.8", err, sizeof(err)) == 0);
    CHECK(h3g_tls_check_version(0x40000020L, NULL, "OpenSSL 4.0.2", err, sizeof(err)) == 0);

    /* generated certificate: usable context and an SPKI pin */
    struct h3g_tls_config cfg = {.selfsigned_name = "localhost"};
    h3g_tls *t = h3g_tls_new(&cfg, err, sizeof(err));
    CHECK(t != NULL);
    if (t != NULL) {
        CHECK(strlen(h3g_tls_spki_hash(t)) == 44);
        h3g_tls_free(t);
    }
    struct h3g_tls_cert_config nc = {.cert_file = "/nonexistent/cert.pem",
                                     .key_file = "/nonexistent/key.pem"};
    struct h3g_tls_config missing = {.certs = &nc, .ncerts = 1};
    CHECK(h3g_tls_new(&missing, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "/nonexistent/cert.pem") != NULL);
    check_cn_only();
    return TEST_RESULT();
}
