/* h3g_tls_mem: once the hooks are in, what OpenSSL allocates is counted and
 * what it frees is taken off again; the budget says "over" at its size. */
#include <openssl/ssl.h>

#include "common.h"
#include "testutil.h"
#include "tls/mem.h"

int main(void)
{
    CHECK(h3g_tls_mem_init() == 0); /* before OpenSSL allocates anything */
    size_t base = h3g_tls_mem_used();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    CHECK(ctx != NULL);
    size_t with_ctx = h3g_tls_mem_used();
    CHECK(with_ctx > base);
    /* a realloc grows and shrinks the count with the block */
    void *p = OPENSSL_malloc(1000);
    size_t with_block = h3g_tls_mem_used();
    CHECK(with_block >= with_ctx + 1000);
    p = OPENSSL_realloc(p, 100000);
    CHECK(p != NULL && h3g_tls_mem_used() >= with_ctx + 100000);
    OPENSSL_free(p);
    CHECK(h3g_tls_mem_used() == with_ctx);
    CHECK(OPENSSL_realloc(OPENSSL_malloc(10), 0) == NULL); /* realloc to 0 frees */
    CHECK(h3g_tls_mem_used() == with_ctx);

    h3g_tls_mem_set_budget(0);
    CHECK(!h3g_tls_mem_over());
    h3g_tls_mem_set_budget(with_ctx + 1);
    CHECK(!h3g_tls_mem_over());
    h3g_tls_mem_set_budget(with_ctx);
    CHECK(h3g_tls_mem_over());
    SSL_CTX_free(ctx);
    CHECK(h3g_tls_mem_used() < with_ctx);
    CHECK(!h3g_tls_mem_over());
    return TEST_RESULT();
}
