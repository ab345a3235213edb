/* SIGHUP: the configuration read and checked again, then swapped in for new
 * connections and requests.  Nothing is committed until everything that can
 * fail (parsing, roots, upstreams, certificates, new sockets) has worked. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <string.h>

#include "common.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "obs/notify.h"
#include "server/master.h"
#include "server/server.h"

/* Settings bound to what exists for the process's life: a change is
 * reported and the running value kept, so the next reload compares alike. */
static void keep_fixed(const struct h3g_config *old, struct h3g_config *cfg, int ossl,
                       const char *host_key)
{
    const char *what = NULL;
    if (strcmp(old->engine, cfg->engine) != 0) {
        what = "engine";
        cfg->engine = old->engine;
    }
    if (old->listen_sockets != cfg->listen_sockets) {
        what = "listen_sockets";
        cfg->listen_sockets = old->listen_sockets;
    }
    if (ossl && old->address_validation != cfg->address_validation) {
        what = "address_validation (OpenSSL engine)";
        cfg->address_validation = old->address_validation;
    }
    /* compared with the server's own copy: the old site's strings go with it */
    if ((host_key == NULL) != (cfg->host_key_file == NULL) ||
        (host_key != NULL && strcmp(host_key, cfg->host_key_file) != 0))
        what = "quic_host_key";
    if ((old->user == NULL) != (cfg->user == NULL) ||
        (old->user != NULL && strcmp(old->user, cfg->user) != 0))
        what = "user";
    if (what != NULL)
        h3g_warn("reload: %s changed; that takes a restart (the running value stays)", what);
}

static int parse(struct h3g_server *srv, struct h3g_config *cfg, char *err, size_t errlen)
{
    h3g_config_defaults(cfg);
    if (h3g_config_parse_args(cfg, srv->argc, srv->argv, err, errlen) != H3G_CONFIG_OK) {
        h3g_config_free(cfg);
        return H3G_ERR;
    }
    return 0;
}

/* New log files open before anything is swapped: a path that fails keeps
 * the old log (and the reload goes on). */
static void apply_logs(const struct h3g_config *old, const struct h3g_config *cfg)
{
    enum h3g_log_level lvl = H3G_LOG_INFO;
    h3g_log_level_parse(cfg->log_level, &lvl);
    h3g_log_set_level(lvl);
    if ((old->access_log == NULL) != (cfg->access_log == NULL) ||
        (cfg->access_log != NULL && strcmp(old->access_log, cfg->access_log) != 0)) {
        if (h3g_access_log_open(cfg->access_log) != 0)
            h3g_err("reload: cannot open access log %s; it stays where it was", cfg->access_log);
    }
    if (cfg->error_log != NULL &&
        (old->error_log == NULL || strcmp(old->error_log, cfg->error_log) != 0) &&
        h3g_error_log_open(cfg->error_log) != 0)
        h3g_err("reload: cannot open error log %s; it stays where it was", cfg->error_log);
}

static void commit(struct h3g_server *srv, struct h3g_site *site, h3g_tls *fresh,
                   const struct h3g_tls_config *tcfg)
{
    struct h3g_engine_config ecfg;
    struct h3g_tcp_config tcp[H3G_TCP_SERVERS];
    struct h3g_site *old = srv->site;
    h3g_tls_adopt(srv->tls, fresh, tcfg);
    apply_logs(&old->cfg, &site->cfg);
    h3g_server_settings(srv, &site->cfg, &ecfg, tcp);
    h3g_server_debug_outputs(srv, &site->cfg);
    h3g_engine_configure(srv->engine, &ecfg);
    h3g_tcp_server_configure(srv->tcp, &tcp[H3G_TCP_HTTPS]);
    h3g_tcp_server_configure(srv->redirect_tcp, &tcp[H3G_TCP_REDIRECT]);
    h3g_tcp_server_configure(srv->admin_tcp, &tcp[H3G_TCP_ADMIN]);
    h3g_metrics_self->reloads++;
    /* indices name other routes now: their counters start again */
    memset(h3g_metrics_self->route_requests, 0, sizeof(h3g_metrics_self->route_requests));
    h3g_metrics_self->generation = srv->generation + 1;
    site->generation = ++srv->generation;
    srv->site = site;
    h3g_site_unref(old); /* freed once the requests routed by it are done */
}

/* Parsed, built and checked, in that order; the listeners come last, as the
 * only step with side effects, and are put back as they were if it fails. */
static int prepare(struct h3g_server *srv, struct h3g_config *cfg, struct h3g_site **site,
                   h3g_tls **fresh, struct h3g_tls_config *tcfg, struct h3g_tls_cert_config *certs,
                   char *err, size_t errlen)
{
    char terr[512];
    if (parse(srv, cfg, err, errlen) != 0)
        return H3G_ERR;
    keep_fixed(&srv->site->cfg, cfg, strcmp(srv->engine_ops->name, "openssl") == 0,
               srv->host_key_path);
    if (cfg->qlog_dir != NULL && access(cfg->qlog_dir, W_OK | X_OK) != 0) {
        snprintf(err, errlen, "qlog_dir %s: %s", cfg->qlog_dir, strerror(errno));
        h3g_config_free(cfg);
        return H3G_ERR;
    }
    *site = h3g_site_new(cfg, srv->loop, err, errlen);
    if (*site == NULL)
        return H3G_ERR;
    h3g_server_tls_config(&(*site)->cfg, tcfg, certs);
    *fresh = h3g_tls_new(tcfg, terr, sizeof(terr));
    if (*fresh == NULL) {
        h3g_server_tls_error(&(*site)->cfg, terr, err, errlen);
        return H3G_ERR;
    }
    if (h3g_server_listen(srv, &(*site)->cfg, err, errlen) != 0) {
        char ignored[256];
        /* back to the running set: sockets just opened close again */
        if (h3g_server_listen(srv, &srv->site->cfg, ignored, sizeof(ignored)) != 0)
            h3g_err("reload: cannot restore the listeners: %s", ignored);
        return H3G_ERR;
    }
    return 0;
}

int h3g_server_reload(struct h3g_server *srv)
{
    struct h3g_config cfg;
    struct h3g_tls_cert_config certs[H3G_MAX_CERTS];
    struct h3g_tls_config tcfg;
    struct h3g_site *site = NULL;
    h3g_tls *fresh = NULL;
    char err[1024], state[64];
    const char *name = srv->site->cfg.config_file ? srv->site->cfg.config_file : "command line";

    snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)h3g_now_us());
    h3g_sd_notify(state);
    h3g_info("SIGHUP: reloading the configuration (%s)", name);
    if (prepare(srv, &cfg, &site, &fresh, &tcfg, certs, err, sizeof(err)) != 0) {
        h3g_tls_free(fresh);
        h3g_site_unref(site);
        h3g_metrics_self->reload_failures++;
        h3g_err("reload failed, still serving configuration %u: %s", srv->generation, err);
        h3g_sd_notify("READY=1");
        h3g_server_report(srv, H3G_WMSG_RELOADED, 0);
        return H3G_ERR;
    }
    commit(srv, site, fresh, &tcfg);
    h3g_info("reload: configuration %u in use; running connections and requests continue",
             srv->generation);
    h3g_sd_notify("READY=1");
    h3g_server_report(srv, H3G_WMSG_RELOADED, 1);
    return 0;
}
