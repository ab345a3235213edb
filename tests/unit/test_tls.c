#include "common.h"
#include "testutil.h"
#include "tls/tls.h"

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
    return TEST_RESULT();
}
