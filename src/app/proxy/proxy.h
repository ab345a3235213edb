/* The reverse proxy handler: HTTP/3 requests to HTTP/1.1 origins, bodies
 * streamed both ways through bounded buffers. */
#ifndef H3G_PROXY_PROXY_H
#define H3G_PROXY_PROXY_H

#include "app/proxy/upstream.h"
#include "event/loop.h"
#include "http/router.h"

typedef struct h3g_proxy h3g_proxy;
struct h3g_static;

/* files: serve what exists there, proxy the rest (NULL: proxy everything). */
h3g_proxy *h3g_proxy_new(h3g_loop *loop, h3g_upstream *up, struct h3g_static *files);
void h3g_proxy_free(h3g_proxy *px);
/* An h3g_handler_fn (ctx = the proxy). */
int h3g_proxy_handle(void *ctx, const struct h3g_request *req, struct h3g_response *resp,
                     h3g_exchange *ex);

#endif
