/* Upstream groups: origins chosen round-robin, passive failure marking, and a
 * keep-alive connection pool per origin. */
#ifndef H3G_PROXY_UPSTREAM_H
#define H3G_PROXY_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/config.h"

struct h3g_origin {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char text[128];
    uint64_t down_until_ms;
    int idle[64]; /* pooled keep-alive sockets */
    size_t nidle;
    uint64_t connections_opened; /* for tests and metrics */
    size_t active;               /* connections serving a request now */
};

typedef struct h3g_upstream {
    struct h3g_upstream_conf conf;
    struct h3g_origin origins[H3G_UPSTREAM_MAX_SERVERS];
    size_t norigins;
    size_t next; /* round robin */
} h3g_upstream;

/* Resolves the servers; 0 or H3G_EINVAL with a message. */
int h3g_upstream_init(h3g_upstream *u, const struct h3g_upstream_conf *conf, char *err,
                      size_t errlen);
void h3g_upstream_close(h3g_upstream *u);
/* The next origin not marked down (all down: the one that comes back first);
 * origins at their connection limit are passed over; NULL if all are. */
struct h3g_origin *h3g_upstream_pick(h3g_upstream *u, uint64_t now_ms, struct h3g_origin *skip);
void h3g_upstream_mark_failed(h3g_upstream *u, struct h3g_origin *o, uint64_t now_ms);
/* A pooled connection (fd) that still looks alive, or -1. */
int h3g_origin_take_idle(struct h3g_origin *o);
void h3g_origin_put_idle(struct h3g_origin *o, int fd, size_t max_idle);
/* Starts a non-blocking connect: fd, or -1 with errno set. */
int h3g_origin_connect(struct h3g_origin *o);

#endif
