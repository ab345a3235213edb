/* HTTP/1.1 towards origins (sans-I/O): the request head a proxied HTTP/3
 * request becomes, and which response fields do not cross (RFC 9110 §7.6.1). */
#ifndef H3G_PROXY_HTTP1_H
#define H3G_PROXY_HTTP1_H

#include <stddef.h>

#include "http/request.h"

/* Writes the request head (up to and including the blank line) into a new
 * buffer: method and path, Host from :authority, the client's fields with
 * cookies recombined (RFC 9114 §4.2.1), X-Forwarded-For/-Proto, Forwarded and
 * Via added; Transfer-Encoding: chunked when chunked.  Returns 0 or H3G_ENOMEM. */
int h3g_http1_request_head(const struct h3g_request *req, const char *client, int chunked,
                           char **out, size_t *outlen);
/* 1 if a response field must not be forwarded: hop-by-hop names and the ones
 * the Connection field lists (connection_value may be NULL). */
int h3g_http1_hop_by_hop(const char *name, size_t len, const char *connection_value);

#endif
