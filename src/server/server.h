/* The running server: one event loop with its QUIC engine, TCP listeners and
 * TLS contexts serving the current site; signals; reload; graceful stop. */
#ifndef H3G_SERVER_SERVER_H
#define H3G_SERVER_SERVER_H

#include <stdint.h>
#include <sys/types.h>

#include "admin/admin.h"
#include "config/config.h"
#include "event/loop.h"
#include "h3/session.h"
#include "quic/engine.h"
#include "server/site.h"
#include "tcp/conn.h"
#include "tls/tls.h"

/* Which worker process this is (one process serving alone: 0 of 1). */
struct h3g_worker {
    unsigned index, count;
    int status_fd; /* to the master (struct h3g_worker_msg), or -1 */
    pid_t master;  /* 0 alone */
    unsigned gen;  /* the steering generation (h3g_steer_key): flips with each binary upgrade */
};

struct h3g_server {
    struct h3g_worker worker;
    int argc;
    char **argv; /* a reload parses them again, with the file they name */
    h3g_loop *loop;
    struct h3g_site *site; /* what new requests are routed by */
    unsigned generation;
    h3g_tls *tls; /* one set of contexts for the process's life; a reload changes
                     the certificates on them */
    uint8_t host_key[32];
    int have_host_key;
    char *host_key_path; /* what quic_host_key named at start (a reload compares) */
    const struct h3g_engine_ops *engine_ops;
    h3g_engine *engine;
    h3g_tcp_server *tcp, *redirect_tcp;
    h3g_tcp_server *admin_tcp; /* served during a drain too */
    struct h3g_admin admin;
    struct h3g_h3_config h3cfg; /* copied by each new HTTP/3 connection */
    h3g_timer gauges;           /* several workers: the admin worker reads our gauges */
    int stopping, forced;
    uint64_t stop_deadline_ms;
    h3g_timer stop_timer;
};

/* Builds everything cfg describes (taking cfg over) and listens.  Returns 0,
 * or a negative code with the reason in err (the caller exits). */
int h3g_server_start(struct h3g_server *srv, struct h3g_config *cfg, int argc, char **argv,
                     const struct h3g_worker *worker, char *err, size_t errlen);
/* What -t checks (the configuration, roots, upstreams, certificates): 0, or
 * < 0 with the reason in err.  Takes cfg over. */
int h3g_server_check(struct h3g_config *cfg, char *err, size_t errlen);
/* Serves until a graceful stop ends; 0 or -1. */
int h3g_server_run(struct h3g_server *srv);
void h3g_server_free(struct h3g_server *srv);

/* Tells the master (if any) what happened: H3G_WMSG_READY, _RELOADED. */
void h3g_server_report(const struct h3g_server *srv, unsigned kind, int ok);

/* SIGHUP: reads and checks the configuration again.  Valid: the next
 * connections and requests use it; invalid: it is logged and nothing
 * changes.  Running connections are never dropped.  Returns 0 or < 0. */
int h3g_server_reload(struct h3g_server *srv);

/* ---- for server.c and reload.c ---- */

/* The listeners cfg names (sockets already open on an address stay). */
int h3g_server_listen(struct h3g_server *srv, const struct h3g_config *cfg, char *err,
                      size_t errlen);
void h3g_server_tls_config(const struct h3g_config *cfg, struct h3g_tls_config *tcfg,
                           struct h3g_tls_cert_config *certs);
/* Names the config file line a TLS error came from, into err. */
void h3g_server_tls_error(const struct h3g_config *cfg, const char *terr, char *err, size_t errlen);
enum { H3G_TCP_HTTPS, H3G_TCP_REDIRECT, H3G_TCP_ADMIN, H3G_TCP_SERVERS };
/* What cfg sets for the next connections: srv->h3cfg, and the engine and TCP
 * servers' settings. */
void h3g_server_settings(struct h3g_server *srv, const struct h3g_config *cfg,
                         struct h3g_engine_config *ecfg, struct h3g_tcp_config *tcp);
/* qlog_dir and keylog as cfg says (start-up and reload). */
void h3g_server_debug_outputs(struct h3g_server *srv, const struct h3g_config *cfg);
/* This process's metric gauges, from the engine and the TCP servers. */
void h3g_server_refresh_metrics(void *srv);

#endif
