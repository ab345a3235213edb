/* Start-up, listeners, signals and the graceful stop of the server. */
#include "server/server.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "obs/notify.h"
#include "server/master.h"
#include "server/privs.h"
#include "server/steer.h"
#include "tls/mem.h"

static int handle(void *arg, const struct h3g_request *req, struct h3g_response *resp,
                  h3g_exchange *ex)
{
    struct h3g_server *srv = arg;
    return h3g_site_handle(srv->site, req, resp, ex);
}

static int handle_redirect(void *arg, const struct h3g_request *req, struct h3g_response *resp,
                           h3g_exchange *ex)
{
    struct h3g_server *srv = arg;
    return h3g_site_redirect(srv->site, req, resp, ex);
}

void h3g_server_tls_config(const struct h3g_config *cfg, struct h3g_tls_config *tcfg,
                           struct h3g_tls_cert_config *certs)
{
    for (size_t i = 0; i < cfg->ncerts; i++) {
        certs[i].cert_file = cfg->certs[i].cert;
        certs[i].key_file = cfg->certs[i].key;
        certs[i].names = cfg->certs[i].names;
        certs[i].nnames = cfg->certs[i].nnames;
        certs[i].is_default = cfg->certs[i].is_default;
    }
    *tcfg = (struct h3g_tls_config){.certs = certs,
                                    .ncerts = cfg->ncerts,
                                    .reject_unknown_sni = cfg->sni_reject_unknown,
                                    .ticket_key_files = cfg->ticket_keys,
                                    .nticket_key_files = cfg->nticket_keys,
                                    .selfsigned_name = "localhost",
                                    .tcp_tls_min_13 = cfg->tls_min_13,
                                    .several_processes = h3g_config_workers(cfg) > 1};
}

void h3g_server_tls_error(const struct h3g_config *cfg, const char *terr, char *err, size_t errlen)
{
    int line = 0;
    const char *what = "certificate";
    for (size_t i = 0; i < cfg->ncerts; i++)
        if (cfg->certs[i].line > 0 &&
            (strstr(terr, cfg->certs[i].cert) != NULL || strstr(terr, cfg->certs[i].key) != NULL))
            line = cfg->certs[i].line;
    for (size_t i = 0; i < cfg->nticket_keys; i++)
        if (cfg->ticket_key_lines[i] > 0 && strstr(terr, cfg->ticket_keys[i]) != NULL) {
            line = cfg->ticket_key_lines[i];
            what = "ssl_session_ticket_key";
        }
    if (line > 0)
        snprintf(err, errlen, "%s:%d: %s: %s", cfg->config_file, line, what, terr);
    else
        snprintf(err, errlen, "%s", terr);
}

/* A worker's QUIC socket joins its address's steering map. */
static void steer_socket(void *arg, const struct sockaddr *sa, socklen_t salen, int fd)
{
    struct h3g_server *srv = arg;
    char err[256], where[80];
    if (h3g_steer_add(sa, salen, h3g_steer_key(srv->worker.gen, srv->worker.index), fd, err,
                      sizeof(err)) != 0) {
        h3g_sockaddr_format(sa, where, sizeof(where));
        h3g_warn("%s: %s; its datagrams go by the kernel's hash", where, err);
    }
}

void h3g_server_settings(struct h3g_server *srv, const struct h3g_config *cfg,
                         struct h3g_engine_config *ecfg, struct h3g_tcp_config *tcp)
{
    struct h3g_tcp_config *tc = &tcp[H3G_TCP_HTTPS], *rc = &tcp[H3G_TCP_REDIRECT];
    srv->h3cfg = (struct h3g_h3_config){
        .max_field_section_size = cfg->max_field_section_size,
        .max_header_fields = cfg->max_header_fields,
        .max_request_body = cfg->max_request_body,
        .max_streams = cfg->max_streams,
        .max_requests = cfg->max_requests,
        .header_timeout_ms = cfg->header_timeout_ms,
        .qpack_blocked_streams = cfg->qpack_blocked_streams,
        .send_budget_conn = cfg->send_budget_conn,
        .send_budget_worker = cfg->send_budget_worker,
        .loop = srv->loop,
        .handler = handle,
        .handler_ctx = srv,
    };
    h3g_tls_mem_set_budget(cfg->max_openssl_memory); /* process-wide: one worker's */
    *ecfg = (struct h3g_engine_config){.idle_timeout_ms = cfg->idle_timeout_ms,
                                       .address_validation = cfg->address_validation,
                                       .retry_threshold = cfg->retry_threshold,
                                       .max_handshakes = cfg->max_handshakes,
                                       .send_budget_conn = cfg->send_budget_conn,
                                       .max_connections = cfg->max_connections,
                                       .listeners_per_address = (unsigned)cfg->listen_sockets,
                                       .max_streams_bidi = cfg->max_streams,
                                       .cc = (enum h3g_cc)cfg->cc};
    if (srv->have_host_key) {
        ecfg->host_key = srv->host_key;
        ecfg->host_key_len = sizeof(srv->host_key);
    }
    snprintf(ecfg->qlog_dir, sizeof(ecfg->qlog_dir), "%s", cfg->qlog_dir ? cfg->qlog_dir : "");
    ecfg->worker_id = (uint8_t)h3g_steer_key(srv->worker.gen, srv->worker.index);
    ecfg->shared_port = srv->worker.count > 1;
    if (srv->worker.count > 1 && h3g_steer_active()) {
        ecfg->socket_bound = steer_socket;
        ecfg->socket_bound_arg = srv;
    }
    *tc = (struct h3g_tcp_config){
        .loop = srv->loop,
        .tls = srv->tls,
        .handler = handle,
        .handler_ctx = srv,
        .max_connections = cfg->max_tcp_connections,
        .max_handshakes = cfg->max_tls_handshakes,
        .handshake_timeout_ms = cfg->header_timeout_ms > 0 ? cfg->header_timeout_ms : 10000,
        .header_timeout_ms = cfg->header_timeout_ms,
        .keepalive_timeout_ms = cfg->keepalive_timeout_ms,
        .idle_timeout_ms = cfg->idle_timeout_ms,
        .max_field_section_size = cfg->max_field_section_size,
        .max_header_fields = cfg->max_header_fields,
        .max_request_body = cfg->max_request_body,
        .max_streams = cfg->max_streams,
        .max_requests = cfg->max_requests,
        .send_budget_conn = cfg->send_budget_conn,
        .shared_port = srv->worker.count > 1,
    };
    *rc = *tc;
    rc->tls = NULL;
    rc->handler = handle_redirect;
    tcp[H3G_TCP_ADMIN] = *rc;
    tcp[H3G_TCP_ADMIN].handler = h3g_admin_handle;
    tcp[H3G_TCP_ADMIN].handler_ctx = &srv->admin;
    tcp[H3G_TCP_ADMIN].max_connections = 64; /* scrapers, not clients */
    tcp[H3G_TCP_ADMIN].unlogged = 1;
    /* the first worker alone serves it, in a group all the same: a binary
     * upgrade's new first worker joins it before the old one leaves */
}

static const char *route_name(void *arg, size_t i)
{
    const struct h3g_site *site = ((struct h3g_server *)arg)->site;
    return i < site->nroute_names ? site->route_names[i] : NULL;
}

void h3g_server_refresh_metrics(void *arg)
{
    struct h3g_server *srv = arg;
    struct h3g_metrics *m = h3g_metrics_self;
    struct h3g_engine_counters ec;
    struct h3g_tcp_counters tc;
    m->quic_connections = h3g_engine_conn_count(srv->engine);
    m->tcp_connections = h3g_tcp_conn_count(srv->tcp) + h3g_tcp_conn_count(srv->redirect_tcp);
    m->active_requests = h3g_h3_stats()->active_requests;
    h3g_tcp_counters(srv->tcp, &tc);
    m->tcp_accepted = tc.accepted;
    m->tcp_refused = tc.refused;
    m->tls_handshake_failures = tc.handshake_failures;
    m->tls_handshake_timeouts = tc.handshake_timeouts;
    m->tcp_bytes_in = tc.bytes_in;
    m->tcp_bytes_out = tc.bytes_out;
    h3g_engine_counters(srv->engine, &ec);
    m->quic_full = (uint64_t)ec.full;
    m->quic_refused = ec.refused;
    m->quic_datagrams_in = ec.dgrams_in;
    m->quic_packets_in = ec.packets_in;
    m->quic_recv_calls = ec.recv_calls;
    m->quic_packets_out = ec.packets_out;
    m->quic_send_calls = ec.send_calls;
    m->quic_send_blocked = ec.send_blocked;
    m->quic_retries = ec.retries;
    m->quic_version_negotiations = ec.version_negotiations;
    m->quic_stateless_resets = ec.stateless_resets;
    m->quic_refused_handshakes = ec.refused_handshakes;
    m->quic_bad_tokens = ec.bad_tokens;
    m->quic_handshakes = ec.handshakes;
    m->quic_resumed = ec.resumed;
    m->quic_migrations = ec.migrations;
    m->quic_early_streams = ec.early_streams;
    m->quic_packets_lost = ec.packets_lost;
    h3g_site_pool_counts(srv->site, &m->upstream_idle, &m->upstream_active);
    m->generation = srv->generation;
    m->draining = (uint64_t)srv->stopping;
    m->access_log_dropped = h3g_access_log_dropped();
    m->openssl_memory = h3g_tls_mem_used();
}

/* The Alt-Svc value of a TCP listener: HTTP/3 on the same port while QUIC
 * listens there, "clear" when it does not (RFC 7838 §3). */
static const char *alt_svc_for(const struct h3g_config *cfg, const struct h3g_listen_addr *la,
                               char *buf, size_t len)
{
    if (cfg->alt_svc == H3G_ALT_SVC_OFF)
        return NULL;
    if (cfg->alt_svc == H3G_ALT_SVC_VALUE)
        return cfg->alt_svc_value;
    if (!la->quic)
        return "clear";
    snprintf(buf, len, "h3=\":%u\"; ma=86400", h3g_sockaddr_port((const struct sockaddr *)&la->ss));
    return buf;
}

static int listen_all(struct h3g_server *srv, const struct h3g_config *cfg, char *err,
                      size_t errlen)
{
    for (size_t i = 0; i < cfg->nlisten; i++) {
        const struct h3g_listen_addr *la = &cfg->listen[i];
        const struct sockaddr *sa = (const struct sockaddr *)&la->ss;
        char alt[64];
        if (la->quic && h3g_engine_listen(srv->engine, sa, la->len, err, errlen) != 0)
            return H3G_ERR;
        if (la->tcp && !cfg->no_tcp &&
            h3g_tcp_listen(srv->tcp, sa, la->len, alt_svc_for(cfg, la, alt, sizeof(alt)), err,
                           errlen) != 0)
            return H3G_ERR;
    }
    for (size_t i = 0; i < cfg->nredirect; i++) {
        const struct h3g_listen_addr *la = &cfg->redirect[i];
        if (h3g_tcp_listen(srv->redirect_tcp, (const struct sockaddr *)&la->ss, la->len, NULL, err,
                           errlen) != 0)
            return H3G_ERR;
    }
    if (cfg->has_admin && srv->worker.index == 0 &&
        h3g_tcp_listen(srv->admin_tcp, (const struct sockaddr *)&cfg->admin.ss, cfg->admin.len,
                       NULL, err, errlen) != 0)
        return H3G_ERR;
    return 0;
}

int h3g_server_listen(struct h3g_server *srv, const struct h3g_config *cfg, char *err,
                      size_t errlen)
{
    h3g_engine_listen_begin(srv->engine);
    h3g_tcp_listen_begin(srv->tcp);
    h3g_tcp_listen_begin(srv->redirect_tcp);
    h3g_tcp_listen_begin(srv->admin_tcp);
    int rc = listen_all(srv, cfg, err, errlen);
    if (rc == 0) {
        h3g_engine_listen_end(srv->engine);
        h3g_tcp_listen_end(srv->tcp);
        h3g_tcp_listen_end(srv->redirect_tcp);
        h3g_tcp_listen_end(srv->admin_tcp);
    }
    return rc;
}

static size_t conn_count(const struct h3g_server *srv)
{
    return h3g_engine_conn_count(srv->engine) + h3g_tcp_conn_count(srv->tcp) +
           h3g_tcp_conn_count(srv->redirect_tcp);
}

static void stop_tick(h3g_timer *t, void *arg)
{
    struct h3g_server *srv = arg;
    uint64_t now = h3g_now_ms();
    if (conn_count(srv) == 0) {
        h3g_info("all connections closed; exiting");
        h3g_loop_stop(srv->loop);
        return;
    }
    if (!srv->forced && now >= srv->stop_deadline_ms) {
        srv->forced = 1;
        h3g_warn("drain timeout: closing %zu connection(s) with requests still running",
                 conn_count(srv));
        h3g_engine_foreach_conn(srv->engine, h3g_h3_force_close, NULL);
        h3g_tcp_close_all(srv->tcp);
        h3g_tcp_close_all(srv->redirect_tcp);
        srv->stop_deadline_ms = now + 3000;
    } else if (srv->forced && now >= srv->stop_deadline_ms) {
        h3g_warn("%zu connection(s) did not finish closing; exiting", conn_count(srv));
        h3g_loop_stop(srv->loop);
        return;
    }
    h3g_timer_start(srv->loop, t, 50);
}

static void on_stop_signal(int signo, void *arg)
{
    struct h3g_server *srv = arg;
    const char *name = signo == SIGINT ? "SIGINT" : signo == SIGQUIT ? "SIGQUIT" : "SIGTERM";
    if (srv->stopping) {
        h3g_warn("second %s: exiting now", name);
        h3g_loop_stop(srv->loop);
        return;
    }
    srv->stopping = 1;
    h3g_sd_notify("STOPPING=1");
    h3g_info("%s: graceful shutdown (GOAWAY), up to %.1f s for running requests", name,
             (double)srv->site->cfg.drain_timeout_ms / 1000.0);
    h3g_engine_stop_accepting(srv->engine);
    h3g_engine_foreach_conn(srv->engine, h3g_h3_begin_shutdown, NULL);
    h3g_tcp_shutdown(srv->tcp);
    h3g_tcp_shutdown(srv->redirect_tcp);
    /* SIGQUIT: a binary upgrade's old worker; the new one answers /healthz */
    if (signo == SIGQUIT)
        h3g_tcp_shutdown(srv->admin_tcp);
    srv->stop_deadline_ms = h3g_now_ms() + srv->site->cfg.drain_timeout_ms;
    h3g_timer_init(&srv->stop_timer, stop_tick, srv);
    h3g_timer_start(srv->loop, &srv->stop_timer, 0);
}

static void refresh_tick(h3g_timer *t, void *arg)
{
    h3g_server_refresh_metrics(arg);
    h3g_timer_start(((struct h3g_server *)arg)->loop, t, 1000);
}

static void on_reload_signal(int signo, void *arg)
{
    struct h3g_server *srv = arg;
    (void)signo;
    if (srv->stopping) {
        h3g_warn("SIGHUP while shutting down: ignored");
        return;
    }
    h3g_server_reload(srv);
}

static void on_reopen_signal(int signo, void *arg)
{
    (void)arg;
    if (signo == SIGUSR2) {
        /* its default action would end the server */
        h3g_warn("SIGUSR2: a binary upgrade needs the master process (workers 2 or more); "
                 "ignored (stop and start the new binary, or reload with SIGHUP)");
        return;
    }
    if (h3g_log_reopen() == 0)
        h3g_info("SIGUSR1: logs reopened");
}

static int build(struct h3g_server *srv, struct h3g_config *cfg, char *err, size_t errlen)
{
    struct h3g_tls_cert_config certs[H3G_MAX_CERTS];
    struct h3g_tls_config tcfg;
    char terr[512];
    h3g_server_tls_config(cfg, &tcfg, certs);
    srv->tls = h3g_tls_new(&tcfg, terr, sizeof(terr));
    if (srv->tls == NULL) {
        h3g_server_tls_error(cfg, terr, err, errlen);
        return H3G_ERR;
    }
    if (cfg->host_key_file != NULL) {
        if (h3g_tls_read_host_key(cfg->host_key_file, srv->host_key, terr, sizeof(terr)) != 0) {
            if (cfg->host_key_line > 0)
                snprintf(err, errlen, "%s:%d: quic_host_key: %s", cfg->config_file,
                         cfg->host_key_line, terr);
            else
                snprintf(err, errlen, "%s", terr);
            return H3G_ERR;
        }
        srv->have_host_key = 1;
        srv->host_key_path = strdup(cfg->host_key_file);
        if (srv->host_key_path == NULL) {
            snprintf(err, errlen, "out of memory");
            return H3G_ENOMEM;
        }
    }
    if (cfg->qlog_dir != NULL && access(cfg->qlog_dir, W_OK | X_OK) != 0) {
        snprintf(err, errlen, "qlog_dir %s: %s", cfg->qlog_dir, strerror(errno));
        return H3G_ERR;
    }
    srv->engine_ops = h3g_engine_find(cfg->engine);
    if (srv->engine_ops == NULL) {
        snprintf(err, errlen, "this build has no %s QUIC engine", cfg->engine);
        return H3G_ERR;
    }
    srv->site = h3g_site_new(cfg, srv->loop, err, errlen);
    if (srv->site == NULL)
        return H3G_ERR;
    srv->site->generation = srv->generation = 1;
    return 0;
}

void h3g_server_debug_outputs(struct h3g_server *srv, const struct h3g_config *cfg)
{
    char err[512];
    /* OpenSSL's QUIC server reads these when it makes a connection */
    if (cfg->qlog_dir != NULL) {
        setenv("QLOGDIR", cfg->qlog_dir, 1);
        setenv("OSSL_QFILTER", "*", 1);
    } else {
        unsetenv("QLOGDIR");
    }
    if (h3g_tls_keylog(srv->tls, cfg->keylog, err, sizeof(err)) != 0)
        h3g_err("%s; the key log stays as it was", err);
    else if (cfg->keylog != NULL && srv->worker.index == 0)
        h3g_warn("keylog %s: the TLS secrets of every connection go there; whoever reads it can "
                 "decrypt the traffic (for debugging only)",
                 cfg->keylog);
}

static int open_logs(const struct h3g_config *cfg, char *err, size_t errlen)
{
    if (h3g_access_log_open(cfg->access_log) != 0) {
        snprintf(err, errlen, "cannot open access log %s: %s", cfg->access_log, strerror(errno));
        return H3G_ERR;
    }
    if (h3g_error_log_open(cfg->error_log) != 0) {
        snprintf(err, errlen, "cannot open error log %s: %s", cfg->error_log, strerror(errno));
        return H3G_ERR;
    }
    return 0;
}

static int start_io(struct h3g_server *srv, char *err, size_t errlen)
{
    const struct h3g_config *cfg = &srv->site->cfg;
    struct h3g_engine_config ecfg;
    struct h3g_tcp_config tcp[H3G_TCP_SERVERS];
    h3g_server_settings(srv, cfg, &ecfg, tcp);
    srv->admin = (struct h3g_admin){h3g_server_refresh_metrics, srv, &srv->stopping, route_name};
    h3g_server_debug_outputs(srv, cfg);
    srv->engine = h3g_engine_new(srv->engine_ops, srv->loop, srv->tls, &ecfg,
                                 &h3g_h3_engine_callbacks, &srv->h3cfg);
    srv->tcp = h3g_tcp_server_new(&tcp[H3G_TCP_HTTPS]);
    srv->redirect_tcp = h3g_tcp_server_new(&tcp[H3G_TCP_REDIRECT]);
    srv->admin_tcp = h3g_tcp_server_new(&tcp[H3G_TCP_ADMIN]);
    if (srv->engine == NULL || srv->tcp == NULL || srv->redirect_tcp == NULL ||
        srv->admin_tcp == NULL) {
        snprintf(err, errlen, "cannot create the QUIC engine and TCP servers");
        return H3G_ERR;
    }
    if (h3g_server_listen(srv, cfg, err, errlen) != 0)
        return H3G_ERR;
    if (h3g_loop_on_signal(srv->loop, SIGTERM, on_stop_signal, srv) != 0 ||
        h3g_loop_on_signal(srv->loop, SIGINT, on_stop_signal, srv) != 0 ||
        h3g_loop_on_signal(srv->loop, SIGQUIT, on_stop_signal, srv) != 0 ||
        h3g_loop_on_signal(srv->loop, SIGHUP, on_reload_signal, srv) != 0 ||
        h3g_loop_on_signal(srv->loop, SIGUSR1, on_reopen_signal, srv) != 0 ||
        h3g_loop_on_signal(srv->loop, SIGUSR2, on_reopen_signal, srv) != 0) {
        snprintf(err, errlen, "cannot install signal handlers");
        return H3G_ERR;
    }
    return 0;
}

void h3g_server_report(const struct h3g_server *srv, unsigned kind, int ok)
{
    struct h3g_worker_msg msg = {srv->worker.index, kind, ok, 0};
    if (srv->worker.status_fd >= 0 && write(srv->worker.status_fd, &msg, sizeof(msg)) < 0)
        h3g_warn("worker %u: cannot report to the master: %s", srv->worker.index, strerror(errno));
}

int h3g_server_check(struct h3g_config *cfg, char *err, size_t errlen)
{
    static struct h3g_server probe; /* large: the site's tables */
    cfg->test_only = 1;
    int rc = h3g_server_start(&probe, cfg, 0, NULL, NULL, err, errlen);
    h3g_server_free(&probe);
    return rc;
}

/* A worker ends (gracefully) when its master dies.  Set here, after the
 * user changed: a change of uid clears it. */
static int watch_master(const struct h3g_server *srv, char *err, size_t errlen)
{
    if (srv->worker.master == 0)
        return 0;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != srv->worker.master) {
        snprintf(err, errlen, "the master is gone");
        return H3G_ERR;
    }
    return 0;
}

int h3g_server_start(struct h3g_server *srv, struct h3g_config *cfg, int argc, char **argv,
                     const struct h3g_worker *worker, char *err, size_t errlen)
{
    memset(srv, 0, sizeof(*srv));
    srv->worker = worker != NULL ? *worker : (struct h3g_worker){0, 1, -1, 0, 0};
    srv->argc = argc;
    srv->argv = argv;
    srv->loop = h3g_loop_new();
    if (srv->loop == NULL) {
        h3g_config_free(cfg);
        snprintf(err, errlen, "cannot create the event loop");
        return H3G_ERR;
    }
    if (build(srv, cfg, err, errlen) != 0) {
        h3g_config_free(cfg);
        return H3G_ERR;
    }
    cfg = &srv->site->cfg;
    if (cfg->test_only)
        return 0;
    if (cfg->ncerts == 0 && srv->worker.index == 0)
        h3g_warn("no --cert/--key: serving a generated self-signed certificate for localhost "
                 "(SPKI sha256 %s)",
                 h3g_tls_spki_hash(srv->tls));
    /* The pid file is written while still privileged (it usually lives in
     * /run; with several workers the master writes it); the user is dropped
     * to once every socket is bound. */
    const char *pid_file = srv->worker.count == 1 ? cfg->pid_file : NULL;
    if (open_logs(cfg, err, errlen) != 0 || start_io(srv, err, errlen) != 0 ||
        h3g_privs_pid_file(pid_file, err, errlen) != 0 ||
        h3g_privs_drop(cfg->user, cfg->group, err, errlen) != 0 ||
        watch_master(srv, err, errlen) != 0)
        return H3G_ERR;
    if (srv->worker.count > 1) {
        h3g_timer_init(&srv->gauges, refresh_tick, srv);
        refresh_tick(&srv->gauges, srv);
    }
    return 0;
}

int h3g_server_run(struct h3g_server *srv)
{
    if (h3g_sd_notify("READY=1") < 0)
        h3g_warn("cannot tell systemd we are ready ($NOTIFY_SOCKET): %s", strerror(errno));
    int rc = h3g_loop_run(srv->loop) == 0 ? 0 : -1;
    char stats[512];
    h3g_engine_stats(srv->engine, stats, sizeof(stats));
    h3g_info("QUIC engine %s: %s", srv->engine_ops->name, stats);
    h3g_tcp_stats(srv->tcp, stats, sizeof(stats));
    h3g_info("TCP: %s", stats);
    return rc;
}

void h3g_server_free(struct h3g_server *srv)
{
    if (srv->worker.count == 1)
        h3g_privs_pid_file_remove();
    /* connections first: their exchanges hold sites */
    h3g_tcp_server_free(srv->tcp);
    h3g_tcp_server_free(srv->redirect_tcp);
    h3g_tcp_server_free(srv->admin_tcp);
    h3g_engine_free(srv->engine);
    h3g_h3_cleanup();
    h3g_site_unref(srv->site);
    h3g_loop_free(srv->loop);
    h3g_tls_free(srv->tls);
    h3g_access_log_close();
    OPENSSL_cleanse(srv->host_key, sizeof(srv->host_key));
    free(srv->host_key_path);
    srv->host_key_path = NULL;
}
