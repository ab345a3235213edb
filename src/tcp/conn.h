/* HTTPS over TCP: listening sockets, TLS connections, and the seam to the
 * HTTP/1.1 and HTTP/2 front ends.  A connection reads TLS records into a
 * buffer and offers the bytes to its front end, which takes what it can (the
 * rest is offered again once it resumes reading: backpressure); the front end
 * queues output that the connection writes as the socket allows, and is asked
 * for more when the queue runs low. */
#ifndef H3G_TCP_CONN_H
#define H3G_TCP_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "event/loop.h"
#include "http/router.h"
#include "tls/tls.h"

typedef struct h3g_tcp_conn h3g_tcp_conn;
typedef struct h3g_tcp_server h3g_tcp_server;

/* Limits and handler shared by every TCP connection of a server. */
struct h3g_tcp_config {
    h3g_loop *loop;
    h3g_tls *tls; /* NULL: plain HTTP/1.1 (the redirect listener) */
    h3g_handler_fn handler;
    void *handler_ctx;
    size_t max_connections;        /* TCP connections open at once; 0 = no limit */
    size_t max_handshakes;         /* TLS handshakes in progress */
    uint64_t handshake_timeout_ms; /* TLS handshake must end within */
    uint64_t header_timeout_ms;    /* a request head must arrive within (slowloris) */
    uint64_t keepalive_timeout_ms; /* idle between requests */
    uint64_t idle_timeout_ms;      /* h2: no streams and no frames */
    size_t max_field_section_size;
    size_t max_header_fields;
    uint64_t max_request_body; /* 0 = no limit */
    size_t max_streams;        /* h2: SETTINGS_MAX_CONCURRENT_STREAMS */
    uint64_t max_requests;     /* per connection; 0 = no limit */
    size_t send_budget_conn;   /* h2: response bytes queued per connection */
    int unlogged;              /* the admin endpoint: not in the access log or metrics */
    int shared_port;           /* other workers listen there too (SO_REUSEPORT) */
};

/* A front end (src/h1/, src/h2/), chosen by ALPN. */
struct h3g_tcp_front {
    const char *name; /* "h1", "h2" */
    /* Set-up once the handshake is done; returns the front end's state or NULL. */
    void *(*open)(h3g_tcp_conn *c, const struct h3g_tcp_config *cfg);
    /* Bytes from the client: returns how many it took (the rest waits until
     * h3g_tcp_resume_read), or H3G_ERR to drop the connection at once. */
    ssize_t (*input)(void *fe, const uint8_t *data, size_t len);
    /* The client closed its side (or the connection failed). */
    void (*input_end)(void *fe);
    /* The output queue has room: queue more. */
    void (*writable)(void *fe);
    /* Graceful shutdown: finish running requests, take no new ones. */
    void (*shutdown)(void *fe);
    /* The connection is gone: release everything (fe is not used again). */
    void (*closed)(void *fe);
    /* Requests served so far (for the access log's close line). */
    uint64_t (*requests)(void *fe);
};

extern const struct h3g_tcp_front h3g_h1_front, h3g_h2_front;

/* ---- for front ends ---- */

/* Bytes the output queue still takes before the front end should wait for
 * writable (it may exceed it by one frame or chunk). */
size_t h3g_tcp_write_room(const h3g_tcp_conn *c);
/* Queues bytes (copied).  H3G_ENOMEM when the queue cannot grow. */
int h3g_tcp_write(h3g_tcp_conn *c, const void *data, size_t len);
/* Bytes queued and not yet written to the socket. */
size_t h3g_tcp_queued(const h3g_tcp_conn *c);
/* A front end that took fewer bytes than offered gets no more until it
 * resumes; resuming offers what is buffered first. */
void h3g_tcp_resume_read(h3g_tcp_conn *c);
/* Ends the connection: graceful = after the queued output and close_notify
 * (a response followed by a close), else at once (an error: TCP RST). */
void h3g_tcp_close(h3g_tcp_conn *c, int graceful);
/* Why the front end closes (a word for the access log, e.g.
 * "keepalive_timeout"); a string that outlives the connection. */
void h3g_tcp_close_reason(h3g_tcp_conn *c, const char *why);
const char *h3g_tcp_peer(const h3g_tcp_conn *c);
/* The listening port the client connected to (for Alt-Svc). */
const char *h3g_tcp_alt_svc(const h3g_tcp_conn *c);

/* ---- for main.c ---- */

h3g_tcp_server *h3g_tcp_server_new(const struct h3g_tcp_config *cfg);
/* Listens on addr.  alt_svc (copied, may be NULL) goes on every response of
 * its connections.  Returns 0 or H3G_ERR with err set. */
int h3g_tcp_listen(h3g_tcp_server *srv, const struct sockaddr *addr, socklen_t len,
                   const char *alt_svc, char *err, size_t errlen);
/* Whether a TCP port is free (binds and closes a socket without
 * SO_REUSEPORT): before workers that share it start.  0 or H3G_ERR. */
int h3g_tcp_probe(const struct sockaddr *addr, socklen_t len, int https, char *err, size_t errlen);
/* A reload names the listeners again: between begin and end, h3g_tcp_listen
 * keeps a socket already open on that address (updating its Alt-Svc), and
 * end closes those not named (their connections continue). */
void h3g_tcp_listen_begin(h3g_tcp_server *srv);
void h3g_tcp_listen_end(h3g_tcp_server *srv);
/* Limits and timeouts for the next connections (loop and tls stay). */
void h3g_tcp_server_configure(h3g_tcp_server *srv, const struct h3g_tcp_config *cfg);
/* Stops accepting and asks every connection to finish (graceful shutdown). */
void h3g_tcp_shutdown(h3g_tcp_server *srv);
/* Closes every connection at once (drain timeout). */
void h3g_tcp_close_all(h3g_tcp_server *srv);
size_t h3g_tcp_conn_count(const h3g_tcp_server *srv);
void h3g_tcp_stats(const h3g_tcp_server *srv, char *buf, size_t len);
struct h3g_tcp_counters {
    uint64_t accepted, refused, handshake_failures, handshake_timeouts, bytes_in, bytes_out;
};
void h3g_tcp_counters(const h3g_tcp_server *srv, struct h3g_tcp_counters *out);
void h3g_tcp_server_free(h3g_tcp_server *srv);

#endif
