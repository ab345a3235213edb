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
#include "tls/mem.h"

/* Connections accepted per readiness event, so one busy listener cannot
 * starve the loop. */
#define ACCEPTS_PER_EVENT 64

#define BUSY_HINT " (listen ... quic; or --no-tcp serves QUIC only)"

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
        if (srv->cfg.tls != NULL && h3g_tls_mem_over()) {
            refuse(srv, fd, peer, "OpenSSL's memory at the openssl_memory limit");
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

static void set_alt_svc(struct tcp_listener *ls, const char *alt_svc)
{
    ls->has_alt_svc = alt_svc != NULL;
    snprintf(ls->alt_svc, sizeof(ls->alt_svc), "%s", alt_svc != NULL ? alt_svc : "");
}

static struct tcp_listener *find_listener(h3g_tcp_server *srv, const struct sockaddr *addr,
                                          socklen_t len)
{
    for (size_t i = 0; i < srv->nls; i++) {
        struct tcp_listener *ls = &srv->ls[i];
        if (ls->fd >= 0 && ls->addrlen == len && memcmp(&ls->addr, addr, len) == 0)
            return ls;
    }
    return NULL;
}

/* A slot whose socket is closed and whose connections are gone, or a new one. */
static struct tcp_listener *free_slot(h3g_tcp_server *srv)
{
    for (size_t i = 0; i < srv->nls; i++)
        if (srv->ls[i].fd < 0 && srv->ls[i].nconns == 0)
            return &srv->ls[i];
    return srv->nls < H3G_MAX_LISTEN ? &srv->ls[srv->nls++] : NULL;
}

static int open_socket(h3g_tcp_server *srv, const struct sockaddr *addr, socklen_t len,
                       const char *text, char *err, size_t errlen)
{
    int one = 1;
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s (TCP): %s", text, strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* each worker its own socket and accept queue; the kernel spreads
     * connections over them */
    if (srv->cfg.shared_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
        snprintf(err, errlen, "cannot share the TCP port of %s (SO_REUSEPORT): %s", text,
                 strerror(errno));
        close(fd);
        return -1;
    }
    if (addr->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, addr, len) != 0 || listen(fd, 511) != 0) {
        if (errno == EADDRINUSE)
            snprintf(err, errlen, "cannot listen on %s: TCP port already in use%s", text,
                     srv->cfg.tls != NULL ? BUSY_HINT : "");
        else
            snprintf(err, errlen, "cannot listen on %s (TCP): %s", text, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int h3g_tcp_probe(const struct sockaddr *addr, socklen_t len, int https, char *err, size_t errlen)
{
    char text[80];
    int one = 1, rc = 0;
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0; /* the real socket will say why */
    h3g_sockaddr_format(addr, text, sizeof(text));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (addr->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, addr, len) != 0 || listen(fd, 1) != 0) {
        if (errno == EADDRINUSE)
            snprintf(err, errlen, "cannot listen on %s: TCP port already in use%s", text,
                     https ? BUSY_HINT : "");
        else
            snprintf(err, errlen, "cannot listen on %s (TCP): %s", text, strerror(errno));
        rc = H3G_ERR;
    }
    close(fd);
    return rc;
}

int h3g_tcp_listen(h3g_tcp_server *srv, const struct sockaddr *addr, socklen_t len,
                   const char *alt_svc, char *err, size_t errlen)
{
    struct tcp_listener *ls = find_listener(srv, addr, len);
    char text[80];
    int fd;
    if (ls != NULL) { /* kept by a reload: the same socket, its queue intact */
        ls->named = 1;
        set_alt_svc(ls, alt_svc);
        return 0;
    }
    if (len > sizeof(ls->addr)) {
        snprintf(err, errlen, "bad address");
        return H3G_ERR;
    }
    h3g_sockaddr_format(addr, text, sizeof(text));
    fd = open_socket(srv, addr, len, text, err, errlen);
    if (fd < 0)
        return H3G_ERR;
    ls = free_slot(srv);
    if (ls == NULL) {
        close(fd);
        snprintf(err, errlen, "too many TCP listeners");
        return H3G_ERR;
    }
    memset(ls, 0, sizeof(*ls));
    ls->srv = srv;
    ls->fd = fd;
    ls->named = 1;
    memcpy(&ls->addr, addr, len);
    ls->addrlen = len;
    snprintf(ls->text, sizeof(ls->text), "%s", text);
    set_alt_svc(ls, alt_svc);
    if (h3g_io_start(srv->cfg.loop, &ls->io, fd, H3G_IO_READ, on_accept, ls) != 0) {
        close(fd);
        ls->fd = -1;
        snprintf(err, errlen, "out of memory");
        return H3G_ERR;
    }
    h3g_info("listening on %s (%s)", ls->text,
             srv->cfg.tls != NULL ? "TCP: HTTP/2, HTTP/1.1" : "TCP: plain HTTP/1.1");
    return 0;
}

static void close_listener(h3g_tcp_server *srv, struct tcp_listener *ls)
{
    if (ls->fd < 0)
        return;
    h3g_io_stop(srv->cfg.loop, &ls->io);
    close(ls->fd);
    ls->fd = -1;
}

static void close_listeners(h3g_tcp_server *srv)
{
    for (size_t i = 0; i < srv->nls; i++)
        close_listener(srv, &srv->ls[i]);
}

void h3g_tcp_listen_begin(h3g_tcp_server *srv)
{
    for (size_t i = 0; srv != NULL && i < srv->nls; i++)
        srv->ls[i].named = 0;
}

void h3g_tcp_listen_end(h3g_tcp_server *srv)
{
    for (size_t i = 0; srv != NULL && i < srv->nls; i++) {
        struct tcp_listener *ls = &srv->ls[i];
        if (ls->fd >= 0 && !ls->named) {
            h3g_info("no longer listening on %s (TCP); %zu connection(s) on it continue", ls->text,
                     ls->nconns);
            close_listener(srv, ls);
        }
    }
}

void h3g_tcp_server_configure(h3g_tcp_server *srv, const struct h3g_tcp_config *cfg)
{
    struct h3g_tcp_config keep = srv->cfg;
    srv->cfg = *cfg;
    /* what connections already point at stays */
    srv->cfg.loop = keep.loop;
    srv->cfg.tls = keep.tls;
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

void h3g_tcp_counters(const h3g_tcp_server *srv, struct h3g_tcp_counters *out)
{
    *out =
        (struct h3g_tcp_counters){srv->accepted,           srv->refused,  srv->handshake_failures,
                                  srv->handshake_timeouts, srv->bytes_in, srv->bytes_out};
}

void h3g_tcp_server_free(h3g_tcp_server *srv)
{
    if (srv == NULL)
        return;
    h3g_tcp_close_all(srv);
    close_listeners(srv);
    free(srv);
}
