/* Counters for /metrics.  Each process (worker) writes only its own slot;
 * the admin endpoint reads every slot (shared memory when there are several
 * workers).  Plain uint64_t: one writer, and aligned 64-bit loads and stores
 * do not tear on the platforms h3gate builds for. */
#ifndef H3G_OBS_METRICS_H
#define H3G_OBS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "obs/log.h"

enum { H3G_M_H1, H3G_M_H2, H3G_M_H3, H3G_M_PROTOS };
/* GET HEAD POST PUT DELETE OPTIONS PATCH, then anything else */
#define H3G_M_METHODS 8
#define H3G_M_BUCKETS 12 /* + the +Inf bucket, which is the count */
#define H3G_M_ROUTES 129 /* H3G_MAX_ROUTES and the command line's catch-all */

struct h3g_hist {
    uint64_t bucket[H3G_M_BUCKETS]; /* not cumulative: one per range */
    uint64_t count, sum_us;
};

/* Why connections ended (h3g_metrics_*_reason_name gives the label). */
enum { H3G_MQ_IDLE, H3G_MQ_NO_ERROR, H3G_MQ_APP_ERROR, H3G_MQ_TRANSPORT_ERROR, H3G_MQ_N };
enum {
    H3G_MT_EOF,
    H3G_MT_DONE,
    H3G_MT_KEEPALIVE,
    H3G_MT_SEND_TIMEOUT,
    H3G_MT_DRAIN,
    H3G_MT_RESET,
    H3G_MT_SHUTDOWN,
    H3G_MT_OTHER,
    H3G_MT_N
};
enum {
    H3G_MU_CONNECT_REFUSED,
    H3G_MU_CONNECT_TIMEOUT,
    H3G_MU_HEADER_TIMEOUT,
    H3G_MU_BODY_TIMEOUT,
    H3G_MU_REQUEST_TIMEOUT,
    H3G_MU_BAD_RESPONSE,
    H3G_MU_CLOSED,
    H3G_MU_UNREACHABLE,
    H3G_MU_N
};

struct h3g_metrics {
    uint64_t pid;
    uint64_t requests[H3G_M_PROTOS][H3G_M_METHODS][6]; /* status class; 0 = no response */
    uint64_t request_errors[H3G_M_PROTOS];             /* ended abnormally (reset, cut) */
    uint64_t response_bytes[H3G_M_PROTOS];
    struct h3g_hist duration[H3G_M_PROTOS];
    uint64_t quic_closed[2][H3G_MQ_N]; /* [by server][reason] */
    uint64_t tcp_closed[2][H3G_MT_N];
    struct h3g_hist upstream_connect, upstream_header;
    uint64_t upstream_requests, upstream_errors[H3G_MU_N];
    uint64_t reloads, reload_failures, generation;
    /* gauges the worker refreshes (h3g_metrics_refresh) */
    uint64_t quic_connections, tcp_connections, active_requests;
    uint64_t upstream_idle, upstream_active;
    uint64_t tcp_accepted, tcp_refused, tls_handshake_failures, tls_handshake_timeouts;
    uint64_t tcp_bytes_in, tcp_bytes_out;
    uint64_t quic_refused, quic_full; /* quic_full: the fields below are known */
    uint64_t quic_packets_in, quic_datagrams_in, quic_recv_calls, quic_packets_out, quic_send_calls,
        quic_send_blocked, quic_retries, quic_version_negotiations, quic_stateless_resets,
        quic_refused_handshakes, quic_bad_tokens, quic_handshakes, quic_resumed, quic_migrations,
        quic_packets_lost, quic_early_streams;
    uint64_t route_requests[H3G_M_ROUTES]; /* by the router's index (reset by a reload) */
    uint64_t draining;
    uint64_t access_log_dropped;
    uint64_t openssl_memory; /* bytes OpenSSL holds (tls/mem.h) */
};

/* This process's slot. */
extern struct h3g_metrics *h3g_metrics_self;

/* Shared slots for n workers, mapped before they are started (fork keeps
 * the mapping); the parent's own slot stays private.  0 or H3G_ENOMEM. */
int h3g_metrics_share(size_t n);
/* A worker writes to slot i from now on (zeroed first). */
void h3g_metrics_use_slot(size_t i);
/* The slots to report: every worker's, or this process's alone. */
size_t h3g_metrics_slots(const struct h3g_metrics **slots);

void h3g_metrics_request(const struct h3g_access_entry *e);
void h3g_metrics_quic_close(const struct h3g_close_entry *e);
void h3g_metrics_tcp_close(const struct h3g_tcp_close_entry *e);
void h3g_metrics_observe(struct h3g_hist *h, uint64_t us);
/* Upper bounds of the histogram buckets, in microseconds. */
extern const uint64_t h3g_metrics_bounds_us[H3G_M_BUCKETS];

const char *h3g_metrics_quic_reason(int i);
const char *h3g_metrics_tcp_reason(int i);
const char *h3g_metrics_upstream_error(int i);
const char *h3g_metrics_method(int i);
const char *h3g_metrics_proto(int i);

#endif
