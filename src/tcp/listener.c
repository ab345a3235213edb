/* TCP listening sockets and the connection limits applied at accept time. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "obs/log.h"
#include "tcp/tcp_internal.h"

/* Connections accepted per readiness event, so one busy listener cannot
 * starve the loop. */
#define ACCEPTS_PER_EVENT 64

h3g_tcp_server *h3g_tcp_server_new(const struct h3g_tcp_config *cfg)
{
    h3g_tcp_server *srv = calloc(1, sizeof(*srv));
    if (srv != NULL)
        srv->cfg = *cfg;
    return srv;
}

/* Accepts and drops with RST: a fast, clear refusal instead of a timeout. */
static void refuse(h3g_tcp_server *srv, int fd, const char *peer, const char *why)
{
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
    if (srv->refused++ % 1000 == 0)
        h3g_warn("refusing TCP connection from %s: %s", peer, why);
}

static void on_accept(h3g_io *io, int revents, void *arg)
{
    struct tcp_listener *ls = arg;
    h3g_tcp_server *srv = ls->srv;
    H3G_UNUSED(io);
    H3G_UNUSED(revents);
    for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof(ss);
        char peer[64];
        int one = 1;
        int fd = accept4(ls->fd, (struct sockaddr *)&ss, &sslen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                h3g_warn("cannot accept TCP connections on %s: %s", ls->text, strerror(errno));
            return; /* EAGAIN, or the client already left */
        }
        h3g_sockaddr_format((struct sockaddr *)&ss, peer, sizeof(peer));
        if (srv->cfg.max_connections > 0 && srv->nconns >= srv->cfg.max_connections) {
            refuse(srv, fd, peer, "tcp_connections limit reached");
            continue;
        }
        if (srv->cfg.max_handshakes > 0 && srv->nhandshakes >= srv->cfg.max_handshakes) {
            refuse(srv, fd, peer, "TLS handshakes limit reached");
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (h3g_tcp_conn_start(srv, ls, fd, (struct sockaddr *)&ss) != 0) {
            refuse(srv, fd, peer, "out of memory");
            continue;
        }
        srv->accepted++;
    }
}

int h3g_tcp_listen(h3g_tcp_server *srv, const struct sockaddr *addr, socklen_t len,
                   const char *alt_svc, char *err, size_t errlen)
{
    struct tcp_listener *ls;
    int one = 1, fd;
    if (srv->nls == H3G_MAX_LISTEN) {
        snprintf(err, errlen, "too many TCP listeners");
        return H3G_ERR;
    }
    ls = &srv->ls[srv->nls];
    memset(ls, 0, sizeof(*ls));
    ls->srv = srv;
    h3g_sockaddr_format(addr, ls->text, sizeof(ls->text));
    fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s (TCP): %s", ls->text, strerror(errno));
        return H3G_ERR;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (addr->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, addr, len) != 0 || listen(fd, 511) != 0) {
        if (errno == EADDRINUSE)
            snprintf(err, errlen, "cannot listen on %s: TCP port already in use%s", ls->text,
                     srv->cfg.tls != NULL ? " (listen ... quic; or --no-tcp serves QUIC only)"
                                          : "");
        else
            snprintf(err, errlen, "cannot listen on %s (TCP): %s", ls->text, strerror(errno));
        close(fd);
        return H3G_ERR;
    }
    ls->fd = fd;
    ls->alt_svc = alt_svc != NULL ? strdup(alt_svc) : NULL;
    if ((alt_svc != NULL && ls->alt_svc == NULL) ||
        h3g_io_start(srv->cfg.loop, &ls->io, fd, H3G_IO_READ, on_accept, ls) != 0) {
        free(ls->alt_svc);
        close(fd);
        snprintf(err, errlen, "out of memory");
        return H3G_ERR;
    }
    srv->nls++;
    h3g_info("listening on %s (%s)", ls->text,
             srv->cfg.tls != NULL ? "TCP: HTTP/2, HTTP/1.1" : "TCP: plain HTTP/1.1");
    return 0;
}

static void close_listeners(h3g_tcp_server *srv)
{
    for (size_t i = 0; i < srv->nls; i++) {
        if (srv->ls[i].fd < 0)
            continue;
        h3g_io_stop(srv->cfg.loop, &srv->ls[i].io);
        close(srv->ls[i].fd);
        srv->ls[i].fd = -1;
    }
}

void h3g_tcp_shutdown(h3g_tcp_server *srv)
{
    h3g_tcp_conn *c, *next;
    if (srv == NULL)
        return; /* --no-tcp */
    srv->stopping = 1;
    close_listeners(srv);
    for (c = srv->conns; c != NULL; c = next) {
        next = c->next;
        if (c->state == TC_HANDSHAKE)
            h3g_tcp_conn_abort(c);
        else if (c->state == TC_OPEN && c->fe != NULL)
            c->front->shutdown(c->fe);
    }
}

void h3g_tcp_close_all(h3g_tcp_server *srv)
{
    while (srv != NULL && srv->conns != NULL) {
        h3g_tcp_close_reason(srv->conns, "drain_timeout");
        h3g_tcp_conn_abort(srv->conns);
    }
}

size_t h3g_tcp_conn_count(const h3g_tcp_server *srv)
{
    return srv != NULL ? srv->nconns : 0;
}

void h3g_tcp_stats(const h3g_tcp_server *srv, char *buf, size_t len)
{
    snprintf(buf, len,
             "%llu connections accepted, %llu refused, %llu failed handshakes, %llu handshake "
             "timeouts, %llu bytes in, %llu bytes out",
             (unsigned long long)srv->accepted, (unsigned long long)srv->refused,
             (unsigned long long)srv->handshake_failures,
             (unsigned long long)srv->handshake_timeouts, (unsigned long long)srv->bytes_in,
             (unsigned long long)srv->bytes_out);
}

void h3g_tcp_server_free(h3g_tcp_server *srv)
{
    if (srv == NULL)
        return;
    h3g_tcp_close_all(srv);
    close_listeners(srv);
    for (size_t i = 0; i < srv->nls; i++)
        free(srv->ls[i].alt_svc);
    free(srv);
}
