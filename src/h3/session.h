/* HTTP/3 on top of the QUIC engine interface, with nghttp3.  Engine
 * independent: this layer never calls OpenSSL. */
#ifndef H3G_H3_SESSION_H
#define H3G_H3_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "http/request.h"
#include "http/response.h"
#include "http/router.h"
#include "quic/engine.h"

struct h3g_h3_config {
    size_t max_field_section_size; /* request header bytes (RFC 9114 §4.2.2 accounting) */
    size_t max_header_fields;
    uint64_t max_request_body;    /* 0 = no limit */
    size_t max_streams;           /* concurrent requests per connection */
    uint64_t max_requests;        /* requests per connection, then GOAWAY; 0 = no limit */
    uint64_t header_timeout_ms;   /* a request's field section must arrive within; 0 = none */
    size_t qpack_blocked_streams; /* SETTINGS_QPACK_BLOCKED_STREAMS, at most 64 */
    size_t send_budget_conn;      /* response bytes in flight per connection */
    size_t send_budget_worker;    /* ... and for all connections of a worker */
    h3g_loop *loop;
    h3g_handler_fn handler;
    void *handler_ctx;
};

struct h3g_h3_stats {
    uint64_t connections, requests, active_requests, resets;
};

/* The engine callbacks this layer implements; engine_arg must point to a
 * struct h3g_h3_config that outlives the engine. */
extern const struct h3g_engine_callbacks h3g_h3_engine_callbacks;

/* Graceful shutdown of one connection: GOAWAY now, close once its requests
 * are done.  Use with h3g_engine_foreach_conn. */
void h3g_h3_begin_shutdown(h3g_qconn *qc, void *conn_arg, void *unused);
/* Abandons whatever is still running (drain timeout) and closes with H3_NO_ERROR. */
void h3g_h3_force_close(h3g_qconn *qc, void *conn_arg, void *unused);
const struct h3g_h3_stats *h3g_h3_stats(void);
/* Frees what the layer keeps between connections (at exit). */
void h3g_h3_cleanup(void);

#endif
