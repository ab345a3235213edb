/* One request/response exchange as a handler sees it, for handlers that answer
 * later (the proxy): the HTTP/3 layer implements these, handlers never see
 * nghttp3 or OpenSSL. */
#ifndef H3G_HTTP_EXCHANGE_H
#define H3G_HTTP_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "http/response.h"

typedef struct h3g_exchange h3g_exchange;

struct h3g_exchange_ops {
    /* Request body bytes; fin = 1 at its end.  Return 0, or H3G_EAGAIN to ask
     * for no more until h3g_exchange_resume_request (the bytes given are
     * taken either way). */
    int (*request_body)(void *ctx, const uint8_t *data, size_t len, int fin);
    /* Response body for a response whose body kind is H3G_BODY_SOURCE: bytes
     * copied, 0 at the end, H3G_EAGAIN for "not yet" (h3g_exchange_resume_response
     * follows), another negative code when it failed (the stream is reset). */
    ssize_t (*response_body)(void *ctx, uint8_t *buf, size_t cap);
    /* The exchange is over (aborted = the client went away or the stream was
     * reset); ctx is not used again. */
    void (*release)(void *ctx, int aborted);
};

/* Called by a handler during dispatch: the exchange will call ops on ctx. */
void h3g_exchange_attach(h3g_exchange *ex, const struct h3g_exchange_ops *ops, void *ctx);
/* Sends the response later (after the handler returned H3G_EAGAIN). */
int h3g_exchange_respond(h3g_exchange *ex, struct h3g_response *resp);
void h3g_exchange_resume_response(h3g_exchange *ex);
void h3g_exchange_resume_request(h3g_exchange *ex);
/* The handler wants no more of the request body (its origin answered without
 * reading it): the client is asked to stop sending with H3_NO_ERROR (RFC 9114
 * §4.1) and what still comes is dropped; the response goes on. */
void h3g_exchange_stop_request(h3g_exchange *ex);
/* Ends the exchange with a stream reset carrying an HTTP/3 error code. */
void h3g_exchange_abort(h3g_exchange *ex, uint64_t h3_code, const char *why);
/* For the access log: a note such as the upstream address and its timings. */
void h3g_exchange_set_note(h3g_exchange *ex, const char *note);
const char *h3g_exchange_peer(const h3g_exchange *ex);
struct h3g_header_rules;
/* Response fields to add and remove (a route's), applied to whatever response
 * the exchange sends; rules must outlive the exchange. */
void h3g_exchange_set_rules(h3g_exchange *ex, const struct h3g_header_rules *rules);

#endif
