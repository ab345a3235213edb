/* One request/response exchange as a handler sees it, whatever protocol
 * carries it.  Each front end (h1, h2, h3) implements struct h3g_front_ops and
 * starts its per-request record with a struct h3g_exchange; handlers only call
 * the h3g_exchange_* functions below, which go through that table. */
#ifndef H3G_HTTP_EXCHANGE_H
#define H3G_HTTP_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "http/response.h"
#include "http/rules.h"

typedef struct h3g_exchange h3g_exchange;

/* What a handler that answers later attaches (the proxy). */
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

/* What a front end implements for its exchanges. */
struct h3g_front_ops {
    const char *protocol; /* "h1", "h2", "h3": for the access log */
    int (*respond)(h3g_exchange *ex, struct h3g_response *resp);
    void (*resume_response)(h3g_exchange *ex);
    void (*resume_request)(h3g_exchange *ex);
    void (*stop_request)(h3g_exchange *ex);
    void (*abort)(h3g_exchange *ex, const char *why);
    const char *(*peer)(const h3g_exchange *ex);
};

enum h3g_handler_state { H3G_HANDLER_NONE, H3G_HANDLER_ATTACHED, H3G_HANDLER_RELEASED };

/* The protocol-neutral part of an exchange.  Front ends read these fields;
 * handlers use the functions. */
struct h3g_exchange {
    const struct h3g_front_ops *front;
    const struct h3g_exchange_ops *xops;
    void *xctx;
    enum h3g_handler_state handler;
    const struct h3g_header_rules *rules; /* the route's, or NULL */
    unsigned route;                       /* the router's index + 1; 0 = no route */
    const char *alt_svc;                  /* Alt-Svc value the front end advertises, or NULL */
    void (*unhold)(void *hold);           /* h3g_exchange_hold's */
    void *hold;
    char note[200];
};

/* ---- for handlers ---- */

/* Called by a handler during dispatch: the exchange will call ops on ctx. */
void h3g_exchange_attach(h3g_exchange *ex, const struct h3g_exchange_ops *ops, void *ctx);
/* Sends the response later (after the handler returned H3G_EAGAIN). */
int h3g_exchange_respond(h3g_exchange *ex, struct h3g_response *resp);
void h3g_exchange_resume_response(h3g_exchange *ex);
void h3g_exchange_resume_request(h3g_exchange *ex);
/* The handler wants no more of the request body (its origin answered without
 * reading it): the client is told to stop sending where the protocol can
 * (HTTP/3 STOP_SENDING H3_NO_ERROR, HTTP/2 RST_STREAM NO_ERROR after the
 * response, HTTP/1.1 closes after it), and what still comes is dropped. */
void h3g_exchange_stop_request(h3g_exchange *ex);
/* Ends the exchange abnormally: the client sees a reset stream or a closed
 * connection, never a response that looks complete. */
void h3g_exchange_abort(h3g_exchange *ex, const char *why);
/* For the access log: a note such as the upstream address and its timings. */
void h3g_exchange_set_note(h3g_exchange *ex, const char *note);
const char *h3g_exchange_peer(const h3g_exchange *ex);
/* Response fields to add and remove (a route's), applied to whatever response
 * the exchange sends; rules must outlive the exchange. */
void h3g_exchange_set_rules(h3g_exchange *ex, const struct h3g_header_rules *rules);

/* The dispatcher keeps what routed the exchange (a configuration generation)
 * alive until h3g_exchange_end: unhold(hold) is called then, once. */
void h3g_exchange_hold(h3g_exchange *ex, void (*unhold)(void *hold), void *hold);

/* ---- for front ends ---- */

void h3g_exchange_init(h3g_exchange *ex, const struct h3g_front_ops *front);
/* The handler learns the exchange is over; at most once. */
void h3g_exchange_release(h3g_exchange *ex, int aborted);
/* The front end frees the exchange: the handler's release (if still due),
 * then the dispatcher's hold.  Nothing may use ex's rules afterwards. */
void h3g_exchange_end(h3g_exchange *ex, int aborted);
/* The handler's response body (H3G_BODY_SOURCE), as in response_body above;
 * H3G_ERR when no handler is attached any more. */
ssize_t h3g_exchange_pull(h3g_exchange *ex, uint8_t *buf, size_t cap);
/* The next bytes of a response body, whatever its kind: a count, 0 at its
 * end, H3G_EAGAIN (a handler's source: not yet), or another negative code
 * when it failed (a file that shrank, a source that broke): the client must
 * then see a reset, never a short body. */
ssize_t h3g_exchange_body_next(h3g_exchange *ex, struct h3g_body *body, uint8_t *buf, size_t cap);
/* Request body bytes for the handler: 0, or H3G_EAGAIN for "pause". A handler
 * without a request_body callback drops them (returns 0). */
int h3g_exchange_push(h3g_exchange *ex, const uint8_t *data, size_t len, int fin);
/* The fields of resp as they go out (without :status): the handler's, less
 * what the route removes, plus what it adds, plus Alt-Svc unless the handler
 * set one.  fn returns 0 to go on; the first other value is returned. */
int h3g_exchange_fields(const h3g_exchange *ex, const struct h3g_response *resp,
                        int (*fn)(void *arg, const char *name, const char *value), void *arg);
/* An upper bound on the number of fields h3g_exchange_fields gives. */
size_t h3g_exchange_field_count(const h3g_exchange *ex, const struct h3g_response *resp);

#endif
