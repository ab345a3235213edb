/* Internals of the TCP side, shared by listener.c (sockets, accept, limits)
 * and conn.c (one connection). */
#ifndef H3G_TCP_INTERNAL_H
#define H3G_TCP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "event/loop.h"
#include "tcp/conn.h"
#include "tls/stream.h"

/* A slot stays while connections accepted on it live (they read its
 * Alt-Svc), even once its socket is closed by a reload. */
struct tcp_listener {
    h3g_tcp_server *srv;
    int fd;
    h3g_io io;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    size_t nconns;
    int named; /* named again since h3g_tcp_listen_begin */
    int has_alt_svc;
    char alt_svc[H3G_ALT_SVC_MAX]; /* changed in place by a reload */
    char text[80];
};

enum tcp_state {
    TC_HANDSHAKE,
    TC_OPEN,
    TC_CLOSING, /* graceful: the queued output, then close_notify */
    TC_LINGER,  /* FIN sent: reading and dropping until EOF or LINGER_MS */
    TC_DEAD,
};

struct h3g_tcp_conn {
    h3g_tcp_server *srv;
    struct tcp_listener *ls;
    h3g_tcp_conn *prev, *next;
    int fd;
    h3g_io io;
    h3g_tls_stream *ts;
    enum tcp_state state;
    int want;             /* handshake / linger: what the socket must be ready for */
    int rd_want, wr_want; /* TLS read and write: what they wait for (0 = nothing) */
    int paused, eof, busy, handshaking;
    int more; /* the front end queued output in its last round: ask again */
    const struct h3g_tcp_front *front;
    void *fe;
    uint8_t *in;
    size_t in_off, in_len;
    uint8_t *out;
    size_t out_off, out_len, out_cap;
    size_t lingered;
    h3g_timer timer; /* handshake timeout, then the linger */
    h3g_timer kick;
    h3g_timer stall;     /* output waiting and not moving: the client stopped reading */
    uint64_t stall_mark; /* bytes_out when it was last started */
    uint64_t start_us, bytes_in, bytes_out;
    const char *close_why; /* for the access log */
    int close_local;       /* this side ended it */
    char peer[64];
};

struct h3g_tcp_server {
    struct h3g_tcp_config cfg;
    struct tcp_listener ls[H3G_MAX_LISTEN];
    size_t nls;
    h3g_tcp_conn *conns;
    size_t nconns, nhandshakes;
    int stopping;
    uint64_t accepted, refused, handshake_failures, handshake_timeouts;
    uint64_t bytes_in, bytes_out;
};

int h3g_tcp_conn_start(h3g_tcp_server *srv, struct tcp_listener *ls, int fd,
                       const struct sockaddr *peer);
/* Ends a connection at once (RST) and frees it. */
void h3g_tcp_conn_abort(h3g_tcp_conn *c);

#endif
