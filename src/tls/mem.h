/* OpenSSL's heap, counted.  Every allocation OpenSSL makes (TLS over TCP,
 * the ngtcp2 engine's TLS, the whole of the OpenSSL engine's QUIC stack) goes
 * through h3gate's allocator hooks, so a worker knows what OpenSSL holds and
 * refuses new clients beyond `limits { openssl_memory SIZE; }` instead of
 * growing until the kernel's OOM killer picks a process. */
#ifndef H3G_TLS_MEM_H
#define H3G_TLS_MEM_H

#include <stddef.h>

/* Installs the hooks; must run before anything calls into OpenSSL.  Returns
 * 0, or -1 when OpenSSL had already allocated (nothing is counted then). */
int h3g_tls_mem_init(void);
/* Bytes OpenSSL holds now (0 when the hooks are not installed). */
size_t h3g_tls_mem_used(void);
/* The budget new clients are admitted under (0 = none). */
void h3g_tls_mem_set_budget(size_t bytes);
/* Whether OpenSSL holds the budget or more: refuse new clients. */
int h3g_tls_mem_over(void);

#endif
