/* h3gate: process set-up, signals and graceful shutdown. */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp3/nghttp3.h>

#include "app/proxy/proxy.h"
#include "app/proxy/upstream.h"
#include "app/redirect/redirect.h"
#include "app/static/static.h"
#include "common.h"
#include "config/config.h"
#include "event/loop.h"
#include "h3/session.h"
#include "obs/log.h"
#include "quic/engine.h"
#include "tcp/conn.h"
#include "tls/cve.h"
#include "tls/tls.h"

struct server {
    struct h3g_config cfg;
    h3g_loop *loop;
    const struct h3g_engine_ops *engine_ops;
    h3g_engine *engine;
    h3g_tcp_server *tcp;
    h3g_tcp_server *redirect_tcp; /* redirect_http: plain HTTP */
    struct h3g_redirect redirect;
    h3g_static *statics[H3G_MAX_ROUTES + 1];
    size_t nstatics;
    h3g_router *router;
    h3g_upstream upstreams[H3G_MAX_UPSTREAMS + 1];
    size_t nupstreams;
    h3g_proxy *proxies[H3G_MAX_ROUTES + 1];
    size_t nproxies;
    h3g_tls *tls;
    struct h3g_h3_config h3cfg;
    int stopping;
    uint64_t stop_deadline_ms;
    int forced;
    h3g_timer stop_timer;
};

static int handle_static(void *ctx, const struct h3g_request *req, struct h3g_response *resp,
                         h3g_exchange *ex)
{
    (void)ex;
    return h3g_static_handle(ctx, req, resp);
}

static h3g_proxy *make_proxy(struct server *srv, size_t upstream_idx, h3g_static *files)
{
    h3g_proxy *px = h3g_proxy_new(srv->loop, &srv->upstreams[upstream_idx], files);
    if (px != NULL)
        srv->proxies[srv->nproxies++] = px;
    return px;
}

/* Upstream groups from the config file, plus --upstream's. */
static int build_upstreams(struct server *srv, char *err, size_t errlen)
{
    struct h3g_config *cfg = &srv->cfg;
    char uerr[512];
    for (size_t i = 0; i < cfg->nupstreams; i++) {
        if (h3g_upstream_init(&srv->upstreams[i], &cfg->upstreams[i], uerr, sizeof(uerr)) != 0) {
            snprintf(err, errlen, "%s:%d: upstream: %s", cfg->config_file, cfg->upstreams[i].line,
                     uerr);
            return H3G_ERR;
        }
        srv->nupstreams++;
    }
    if (cfg->cli_upstream_server[0] != '\0') {
        struct h3g_upstream_conf uc;
        h3g_upstream_conf_defaults(&uc);
        uc.name = "--upstream";
        uc.servers[0] = cfg->cli_upstream_server;
        uc.nservers = 1;
        if (h3g_upstream_init(&srv->upstreams[srv->nupstreams], &uc, uerr, sizeof(uerr)) != 0) {
            snprintf(err, errlen, "--upstream: %s", uerr);
            return H3G_ERR;
        }
        srv->nupstreams++;
    }
    return 0;
}

/* One handler per route, plus --root / "root" (and --upstream) for every
 * other request. */
static int build_routes(struct server *srv, char *err, size_t errlen)
{
    struct h3g_config *cfg = &srv->cfg;
    if (build_upstreams(srv, err, errlen) != 0)
        return H3G_ERR;
    srv->router = h3g_router_new();
    if (srv->router == NULL) {
        snprintf(err, errlen, "out of memory");
        return H3G_ENOMEM;
    }
    for (size_t i = 0; i <= cfg->nroutes; i++) {
        const struct h3g_route_conf *rc = i < cfg->nroutes ? &cfg->routes[i] : NULL;
        const char *root = rc ? rc->root : cfg->root;
        char rerr[512];
        if (rc != NULL && rc->upstream != NULL) {
            h3g_proxy *px =
                make_proxy(srv, (size_t)h3g_config_find_upstream(cfg, rc->upstream), NULL);
            if (px == NULL || h3g_router_add(srv->router, rc->hosts, rc->nhosts, rc->path_prefix,
                                             h3g_proxy_handle, px, &rc->headers) != 0) {
                snprintf(err, errlen, "out of memory");
                return H3G_ENOMEM;
            }
            continue;
        }
        if (root == NULL && rc == NULL && cfg->cli_upstream_server[0] != '\0') {
            h3g_proxy *px = make_proxy(srv, srv->nupstreams - 1, NULL);
            if (px == NULL ||
                h3g_router_add(srv->router, NULL, 0, "/", h3g_proxy_handle, px, NULL) != 0) {
                snprintf(err, errlen, "out of memory");
                return H3G_ENOMEM;
            }
            continue;
        }
        if (root == NULL)
            continue;
        h3g_static *st = h3g_static_new(root, rerr, sizeof(rerr));
        if (st == NULL) {
            if (rc != NULL && cfg->config_file != NULL)
                snprintf(err, errlen, "%s:%d: route: %s", cfg->config_file, rc->line, rerr);
            else
                snprintf(err, errlen, "%s", rerr);
            return H3G_ERR;
        }
        srv->statics[srv->nstatics++] = st;
        if (rc == NULL && cfg->cli_upstream_server[0] != '\0') {
            /* --root with --upstream: files that exist, else the origin */
            h3g_proxy *px = make_proxy(srv, srv->nupstreams - 1, st);
            if (px == NULL ||
                h3g_router_add(srv->router, NULL, 0, "/", h3g_proxy_handle, px, NULL) != 0) {
                snprintf(err, errlen, "out of memory");
                return H3G_ENOMEM;
            }
            continue;
        }
        if (h3g_router_add(srv->router, rc ? rc->hosts : NULL, rc ? rc->nhosts : 0,
                           rc ? rc->path_prefix : "/", handle_static, st,
                           rc ? &rc->headers : NULL) != 0) {
            snprintf(err, errlen, "out of memory");
            return H3G_ENOMEM;
        }
    }
    return 0;
}

static int build_tls(struct server *srv, char *err, size_t errlen)
{
    struct h3g_config *cfg = &srv->cfg;
    struct h3g_tls_cert_config certs[H3G_MAX_CERTS];
    for (size_t i = 0; i < cfg->ncerts; i++) {
        certs[i].cert_file = cfg->certs[i].cert;
        certs[i].key_file = cfg->certs[i].key;
        certs[i].names = cfg->certs[i].names;
        certs[i].nnames = cfg->certs[i].nnames;
        certs[i].is_default = cfg->certs[i].is_default;
    }
    struct h3g_tls_config tcfg = {.certs = certs,
                                  .ncerts = cfg->ncerts,
                                  .reject_unknown_sni = cfg->sni_reject_unknown,
                                  .ticket_key_files = cfg->ticket_keys,
                                  .nticket_key_files = cfg->nticket_keys,
                                  .selfsigned_name = "localhost",
                                  .tcp_tls_min_13 = cfg->tls_min_13};
    char terr[512];
    srv->tls = h3g_tls_new(&tcfg, terr, sizeof(terr));
    if (srv->tls == NULL) {
        /* name the config file line the certificate or key came from */
        int line = 0;
        const char *what = "certificate";
        for (size_t i = 0; i < cfg->ncerts; i++)
            if (cfg->certs[i].line > 0 && strstr(terr, cfg->certs[i].cert) != NULL)
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
        return H3G_ERR;
    }
    return 0;
}

static size_t conn_count(const struct server *srv)
{
    return h3g_engine_conn_count(srv->engine) + h3g_tcp_conn_count(srv->tcp) +
           h3g_tcp_conn_count(srv->redirect_tcp);
}

static unsigned addr_port(const struct h3g_listen_addr *la)
{
    return ntohs(la->ss.ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)&la->ss)->sin6_port
                                              : ((const struct sockaddr_in *)&la->ss)->sin_port);
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
    snprintf(buf, len, "h3=\":%u\"; ma=86400", addr_port(la));
    return buf;
}

/* What redirect_http needs that -t checks: the https port it points to (the
 * first address serving HTTPS over TCP) and the ACME challenge files. */
static int build_redirect(struct server *srv, char *err, size_t errlen)
{
    const struct h3g_config *cfg = &srv->cfg;
    if (cfg->nredirect == 0)
        return 0;
    srv->redirect.https_port = addr_port(&cfg->listen[0]);
    for (size_t i = cfg->nlisten; i-- > 0;)
        if (cfg->listen[i].tcp)
            srv->redirect.https_port = addr_port(&cfg->listen[i]);
    if (cfg->acme_challenge_root != NULL) {
        char serr[512];
        srv->redirect.acme = h3g_static_new(cfg->acme_challenge_root, serr, sizeof(serr));
        if (srv->redirect.acme == NULL) {
            snprintf(err, errlen, "acme_challenge_root: %s", serr);
            return H3G_ERR;
        }
    }
    return 0;
}

/* redirect_http: plain HTTP/1.1 answering 308 to https on the first listen
 * address's port, and ACME challenges from acme_challenge_root. */
static int start_redirect(struct server *srv, const struct h3g_tcp_config *base, char *err,
                          size_t errlen)
{
    const struct h3g_config *cfg = &srv->cfg;
    struct h3g_tcp_config tc = *base;
    if (cfg->nredirect == 0)
        return 0;
    tc.tls = NULL;
    tc.handler = h3g_redirect_handle;
    tc.handler_ctx = &srv->redirect;
    srv->redirect_tcp = h3g_tcp_server_new(&tc);
    if (srv->redirect_tcp == NULL) {
        snprintf(err, errlen, "out of memory");
        return H3G_ENOMEM;
    }
    for (size_t i = 0; i < cfg->nredirect; i++) {
        const struct h3g_listen_addr *la = &cfg->redirect[i];
        if (h3g_tcp_listen(srv->redirect_tcp, (const struct sockaddr *)&la->ss, la->len, NULL, err,
                           errlen) != 0)
            return H3G_ERR;
    }
    return 0;
}

static int start_tcp(struct server *srv, char *err, size_t errlen)
{
    const struct h3g_config *cfg = &srv->cfg;
    struct h3g_tcp_config tc = {
        .loop = srv->loop,
        .tls = srv->tls,
        .handler = h3g_router_handle,
        .handler_ctx = srv->router,
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
    };
    if (start_redirect(srv, &tc, err, errlen) != 0)
        return H3G_ERR;
    if (cfg->no_tcp)
        return 0;
    srv->tcp = h3g_tcp_server_new(&tc);
    if (srv->tcp == NULL) {
        snprintf(err, errlen, "out of memory");
        return H3G_ENOMEM;
    }
    for (size_t i = 0; i < cfg->nlisten; i++) {
        const struct h3g_listen_addr *la = &cfg->listen[i];
        char alt[64];
        if (la->tcp && h3g_tcp_listen(srv->tcp, (const struct sockaddr *)&la->ss, la->len,
                                      alt_svc_for(cfg, la, alt, sizeof(alt)), err, errlen) != 0)
            return H3G_ERR;
    }
    return 0;
}

static void stop_tick(h3g_timer *t, void *arg)
{
    struct server *srv = arg;
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

static void on_signal(int signo, void *arg)
{
    struct server *srv = arg;
    if (srv->stopping) {
        h3g_warn("second %s: exiting now", signo == SIGINT ? "SIGINT" : "SIGTERM");
        h3g_loop_stop(srv->loop);
        return;
    }
    srv->stopping = 1;
    h3g_info("%s: graceful shutdown (GOAWAY), up to %.1f s for running requests",
             signo == SIGINT ? "SIGINT" : "SIGTERM", (double)srv->cfg.drain_timeout_ms / 1000.0);
    h3g_engine_stop_accepting(srv->engine);
    h3g_engine_foreach_conn(srv->engine, h3g_h3_begin_shutdown, NULL);
    h3g_tcp_shutdown(srv->tcp);
    h3g_tcp_shutdown(srv->redirect_tcp);
    srv->stop_deadline_ms = h3g_now_ms() + srv->cfg.drain_timeout_ms;
    h3g_timer_init(&srv->stop_timer, stop_tick, srv);
    h3g_timer_start(srv->loop, &srv->stop_timer, 0);
}

static void print_version(void)
{
    const nghttp3_info *ng = nghttp3_version(0);
    printf("h3gate %s\n%s\nnghttp3 %s\n", H3G_VERSION, h3g_tls_openssl_version(),
           ng ? ng->version_str : "?");
    h3g_cve_print(stdout);
}

int main(int argc, char **argv)
{
    static struct server srv; /* large: the upstream tables */
    char err[1024];
    enum h3g_log_level lvl = H3G_LOG_INFO;
    uint8_t host_key[32];
    int rc = 1;

    memset(&srv, 0, sizeof(srv));
    h3g_config_defaults(&srv.cfg);
    if (h3g_config_parse_args(&srv.cfg, argc, argv, err, sizeof(err)) != H3G_CONFIG_OK) {
        fprintf(stderr, "h3gate: %s\n", err);
        h3g_config_free(&srv.cfg);
        return 2;
    }
    if (srv.cfg.show_help) {
        h3g_config_usage(stdout);
        return 0;
    }
    if (srv.cfg.show_version) {
        print_version();
        return 0;
    }
    h3g_log_level_parse(srv.cfg.log_level, &lvl);
    h3g_log_set_level(lvl);
    signal(SIGPIPE, SIG_IGN);

    if (h3g_tls_check_runtime(err, sizeof(err)) != 0) {
        fprintf(stderr, "h3gate: %s\n", err);
        return 1;
    }
    srv.loop = h3g_loop_new();
    if (srv.loop == NULL) {
        fprintf(stderr, "h3gate: cannot create the event loop\n");
        goto out;
    }
    if (build_routes(&srv, err, sizeof(err)) != 0 || build_tls(&srv, err, sizeof(err)) != 0 ||
        build_redirect(&srv, err, sizeof(err)) != 0) {
        fprintf(stderr, "h3gate: %s\n", err);
        goto out;
    }
    if (srv.cfg.host_key_file != NULL &&
        h3g_tls_read_host_key(srv.cfg.host_key_file, host_key, err, sizeof(err)) != 0) {
        if (srv.cfg.host_key_line > 0)
            fprintf(stderr, "h3gate: %s:%d: quic_host_key: %s\n", srv.cfg.config_file,
                    srv.cfg.host_key_line, err);
        else
            fprintf(stderr, "h3gate: %s\n", err);
        goto out;
    }
    if (srv.cfg.test_only) {
        printf("h3gate: configuration %s is OK\n",
               srv.cfg.config_file ? srv.cfg.config_file : "(command line)");
        rc = 0;
        goto out;
    }
    if (srv.cfg.ncerts == 0)
        h3g_warn("no --cert/--key: serving a generated self-signed certificate for localhost "
                 "(SPKI sha256 %s)",
                 h3g_tls_spki_hash(srv.tls));
    if (h3g_access_log_open(srv.cfg.access_log) != 0) {
        fprintf(stderr, "h3gate: cannot open access log %s: %m\n", srv.cfg.access_log);
        goto out;
    }
    srv.h3cfg.max_field_section_size = srv.cfg.max_field_section_size;
    srv.h3cfg.max_header_fields = srv.cfg.max_header_fields;
    srv.h3cfg.max_request_body = srv.cfg.max_request_body;
    srv.h3cfg.max_streams = srv.cfg.max_streams;
    srv.h3cfg.max_requests = srv.cfg.max_requests;
    srv.h3cfg.header_timeout_ms = srv.cfg.header_timeout_ms;
    srv.h3cfg.qpack_blocked_streams = srv.cfg.qpack_blocked_streams;
    srv.h3cfg.send_budget_conn = srv.cfg.send_budget_conn;
    srv.h3cfg.send_budget_worker = srv.cfg.send_budget_worker;
    srv.h3cfg.loop = srv.loop;
    srv.h3cfg.handler = h3g_router_handle;
    srv.h3cfg.handler_ctx = srv.router;
    struct h3g_engine_config ecfg = {.idle_timeout_ms = srv.cfg.idle_timeout_ms,
                                     .address_validation = srv.cfg.address_validation,
                                     .retry_threshold = srv.cfg.retry_threshold,
                                     .max_handshakes = srv.cfg.max_handshakes,
                                     .send_budget_conn = srv.cfg.send_budget_conn,
                                     .max_connections = srv.cfg.max_connections,
                                     .listeners_per_address = (unsigned)srv.cfg.listen_sockets,
                                     .max_streams_bidi = srv.cfg.max_streams,
                                     .cc = (enum h3g_cc)srv.cfg.cc};
    if (srv.cfg.host_key_file != NULL) {
        ecfg.host_key = host_key;
        ecfg.host_key_len = sizeof(host_key);
    }
    srv.engine_ops = h3g_engine_find(srv.cfg.engine);
    if (srv.engine_ops == NULL) {
        fprintf(stderr, "h3gate: this build has no %s QUIC engine\n", srv.cfg.engine);
        goto out;
    }
    srv.engine = h3g_engine_new(srv.engine_ops, srv.loop, srv.tls, &ecfg, &h3g_h3_engine_callbacks,
                                &srv.h3cfg);
    if (srv.engine == NULL) {
        fprintf(stderr, "h3gate: cannot create the QUIC engine\n");
        goto out;
    }
    for (size_t i = 0; i < srv.cfg.nlisten; i++) {
        struct h3g_listen_addr *la = &srv.cfg.listen[i];
        if (la->quic && h3g_engine_listen(srv.engine, (struct sockaddr *)&la->ss, la->len, err,
                                          sizeof(err)) != 0) {
            fprintf(stderr, "h3gate: %s\n", err);
            goto out;
        }
    }
    if (start_tcp(&srv, err, sizeof(err)) != 0) {
        fprintf(stderr, "h3gate: %s\n", err);
        goto out;
    }
    if (h3g_loop_on_signal(srv.loop, SIGTERM, on_signal, &srv) != 0 ||
        h3g_loop_on_signal(srv.loop, SIGINT, on_signal, &srv) != 0) {
        fprintf(stderr, "h3gate: cannot install signal handlers\n");
        goto out;
    }
    h3g_info("h3gate %s serving %s on %s (%s, QUIC engine %s)", H3G_VERSION,
             srv.cfg.cli_upstream_server[0] ? srv.cfg.cli_upstream_server
             : srv.cfg.root                 ? srv.cfg.root
                                            : srv.cfg.config_file,
             h3g_tls_openssl_version(), srv.cfg.listen[0].text, srv.engine_ops->name);
    rc = h3g_loop_run(srv.loop) == 0 ? 0 : 1;
    {
        char stats[512];
        h3g_engine_stats(srv.engine, stats, sizeof(stats));
        h3g_info("QUIC engine %s: %s", srv.engine_ops->name, stats);
        if (srv.tcp != NULL) {
            h3g_tcp_stats(srv.tcp, stats, sizeof(stats));
            h3g_info("TCP: %s", stats);
        }
    }
out:
    h3g_tcp_server_free(srv.tcp);
    h3g_tcp_server_free(srv.redirect_tcp);
    h3g_static_free(srv.redirect.acme);
    h3g_engine_free(srv.engine);
    h3g_h3_cleanup();
    for (size_t i = 0; i < srv.nproxies; i++)
        h3g_proxy_free(srv.proxies[i]);
    for (size_t i = 0; i < srv.nupstreams; i++)
        h3g_upstream_close(&srv.upstreams[i]);
    h3g_loop_free(srv.loop);
    h3g_tls_free(srv.tls);
    h3g_router_free(srv.router);
    for (size_t i = 0; i < srv.nstatics; i++)
        h3g_static_free(srv.statics[i]);
    h3g_access_log_close();
    h3g_config_free(&srv.cfg);
    OPENSSL_cleanse(host_key, sizeof(host_key));
    return rc;
}
