/* The admin endpoint (admin ADDR:PORT): plain HTTP/1.1 on TCP, meant for
 * loopback: GET /metrics (Prometheus text format) and GET /healthz (200
 * while serving, 503 while draining). */
#ifndef H3G_ADMIN_ADMIN_H
#define H3G_ADMIN_ADMIN_H

#include "http/exchange.h"
#include "http/request.h"
#include "http/response.h"

struct h3g_admin {
    /* Brings this process's gauges up to date before a scrape. */
    void (*refresh)(void *arg);
    void *arg;
    const int *draining;
    /* The name of router index i (for h3gate_route_requests_total), or NULL
     * past the last route. */
    const char *(*route_name)(void *arg, size_t i);
};

/* An h3g_handler_fn; ctx = struct h3g_admin. */
int h3g_admin_handle(void *ctx, const struct h3g_request *req, struct h3g_response *resp,
                     h3g_exchange *ex);

#endif
