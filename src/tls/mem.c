/* Counting allocator hooks for OpenSSL (see mem.h).  The size of a block is
 * what malloc_usable_size reports, so frees need no header of our own and
 * the count matches what the allocator really handed out. */
#include "tls/mem.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <openssl/crypto.h>

#include "common.h"

/* Atomic: the access-log thread never calls OpenSSL, but nothing guarantees
 * that a library h3gate links never will from a thread of its own. */
static atomic_size_t g_used;
static size_t g_budget;
static int g_hooked;

static void *mem_malloc(size_t n, const char *file, int line)
{
    void *p = malloc(n);
    H3G_UNUSED(file);
    H3G_UNUSED(line);
    if (p != NULL)
        atomic_fetch_add_explicit(&g_used, malloc_usable_size(p), memory_order_relaxed);
    return p;
}

static void mem_free(void *p, const char *file, int line);

static void *mem_realloc(void *old, size_t n, const char *file, int line)
{
    size_t before;
    void *p;
    if (n == 0) { /* realloc's "free" case, with the count kept right */
        mem_free(old, file, line);
        return NULL;
    }
    before = old != NULL ? malloc_usable_size(old) : 0;
    p = realloc(old, n);
    if (p == NULL)
        return NULL; /* failed: the old block is still there */
    atomic_fetch_sub_explicit(&g_used, before, memory_order_relaxed);
    atomic_fetch_add_explicit(&g_used, malloc_usable_size(p), memory_order_relaxed);
    return p;
}

static void mem_free(void *p, const char *file, int line)
{
    H3G_UNUSED(file);
    H3G_UNUSED(line);
    if (p == NULL)
        return;
    atomic_fetch_sub_explicit(&g_used, malloc_usable_size(p), memory_order_relaxed);
    free(p);
}

int h3g_tls_mem_init(void)
{
    if (!CRYPTO_set_mem_functions(mem_malloc, mem_realloc, mem_free))
        return -1;
    g_hooked = 1;
    return 0;
}

size_t h3g_tls_mem_used(void)
{
    return g_hooked ? atomic_load_explicit(&g_used, memory_order_relaxed) : 0;
}

void h3g_tls_mem_set_budget(size_t bytes)
{
    g_budget = bytes;
}

int h3g_tls_mem_over(void)
{
    return g_hooked && g_budget > 0 && h3g_tls_mem_used() >= g_budget;
}
