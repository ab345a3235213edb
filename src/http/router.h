/* Request → handler by host and path prefix (sans-I/O). */
#ifndef H3G_HTTP_ROUTER_H
#define H3G_HTTP_ROUTER_H

#include <stddef.h>

#include "http/exchange.h"
#include "http/request.h"
#include "http/response.h"

/* A handler fills resp for req and returns 0, or returns H3G_EAGAIN and answers
 * later through ex (h3g_exchange_respond); H3G_ENOMEM when it cannot. */
typedef int (*h3g_handler_fn)(void *ctx, const struct h3g_request *req, struct h3g_response *resp,
                              h3g_exchange *ex);

typedef struct h3g_router h3g_router;

h3g_router *h3g_router_new(void);
void h3g_router_free(h3g_router *r);
/* hosts: exact names or "*.suffix"; none = any host.  prefix starts with '/'. */
/* rules (may be NULL) must outlive the router. */
int h3g_router_add(h3g_router *r, const char *const *hosts, size_t nhosts, const char *prefix,
                   h3g_handler_fn fn, void *ctx, const struct h3g_header_rules *rules);
/* The most specific route: exact host over wildcard over any host, then the
 * longest path prefix.  Returns the route index or -1. */
int h3g_router_match(const h3g_router *r, const char *authority, const char *path);
/* An h3g_handler_fn over the router (ctx = the router): no route → 404. */
int h3g_router_handle(void *router, const struct h3g_request *req, struct h3g_response *resp,
                      h3g_exchange *ex);

#endif
