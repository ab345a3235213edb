/* h3gate: the command line, -t, and the server's life. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp3/nghttp3.h>

#include "common.h"
#include "config/config.h"
#include "config/settings.h"
#include "obs/log.h"
#include "server/master.h"
#include "server/server.h"
#include "server/upgrade.h"
#include "tls/cve.h"
#include "tls/mem.h"
#include "tls/tls.h"

static void print_version(void)
{
    const nghttp3_info *ng = nghttp3_version(0);
    printf("h3gate %s\n%s\nnghttp3 %s\n", H3G_VERSION, h3g_tls_openssl_version(),
           ng ? ng->version_str : "?");
    h3g_cve_print(stdout);
}

static const char *serving_what(const struct h3g_config *cfg)
{
    return cfg->cli_upstream_server[0] ? cfg->cli_upstream_server
           : cfg->root                 ? cfg->root
                                       : cfg->config_file;
}

int main(int argc, char **argv)
{
    static struct h3g_server srv; /* large: the site's tables */
    struct h3g_config cfg;
    struct h3g_upgrade_from from;
    char err[1024];
    enum h3g_log_level lvl = H3G_LOG_INFO;
    int rc = 1;

    /* before anything calls into OpenSSL, or its heap cannot be counted */
    int mem_hooked = h3g_tls_mem_init() == 0;
    h3g_config_defaults(&cfg);
    if (h3g_config_parse_args(&cfg, argc, argv, err, sizeof(err)) != H3G_CONFIG_OK) {
        fprintf(stderr, "h3gate: %s\n", err);
        h3g_config_free(&cfg);
        return 2;
    }
    if (cfg.show_help || cfg.show_version || cfg.show_settings) {
        if (cfg.show_help)
            h3g_config_usage(stdout);
        else if (cfg.show_settings)
            h3g_settings_print(stdout);
        else
            print_version();
        h3g_config_free(&cfg);
        return 0;
    }
    h3g_log_level_parse(cfg.log_level, &lvl);
    h3g_log_set_level(lvl);
    if (!mem_hooked)
        h3g_warn("cannot count OpenSSL's memory: limits { openssl_memory } is not enforced");
    signal(SIGPIPE, SIG_IGN);
    /* Until the loop reads them, these wait instead of ending the process
     * (a reload or a log rotation that comes during start-up). */
    sigset_t later;
    sigemptyset(&later);
    sigaddset(&later, SIGHUP);
    sigaddset(&later, SIGUSR1);
    sigaddset(&later, SIGUSR2);
    sigaddset(&later, SIGQUIT); /* a worker's, from the master in a binary upgrade */
    sigprocmask(SIG_BLOCK, &later, NULL);
    if (h3g_tls_check_runtime(err, sizeof(err)) != 0) {
        fprintf(stderr, "h3gate: %s\n", err);
        h3g_config_free(&cfg);
        return 1;
    }
    unsigned workers = h3g_config_workers(&cfg);
    if (h3g_upgrade_init(&from, err, sizeof(err)) != 0 ||
        (from.pid != 0 && (workers < 2 || cfg.test_only) &&
         snprintf(err, sizeof(err),
                  "binary upgrade: the new configuration runs one process (workers 1), which "
                  "cannot share the ports of the old one; keep workers at 2 or more") > 0)) {
        fprintf(stderr, "h3gate: %s\n", err);
        h3g_config_free(&cfg);
        return 1;
    }
    if (workers > 1 && !cfg.test_only)
        return h3g_master_run(&cfg, argc, argv, workers, &from);
    if (h3g_server_start(&srv, &cfg, argc, argv, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "h3gate: %s\n", err);
        goto out;
    }
    const struct h3g_config *run = &srv.site->cfg;
    if (run->test_only) {
        printf("h3gate: configuration %s is OK\n",
               run->config_file ? run->config_file : "(command line)");
        rc = 0;
        goto out;
    }
    h3g_info("h3gate %s serving %s on %s (%s, QUIC engine %s)", H3G_VERSION, serving_what(run),
             run->listen[0].text, h3g_tls_openssl_version(), srv.engine_ops->name);
    rc = h3g_server_run(&srv) == 0 ? 0 : 1;
out:
    h3g_server_free(&srv);
    return rc;
}
