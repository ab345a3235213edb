/* Building a site from a configuration, and routing requests into it. */
#include "server/site.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "obs/metrics.h"

static int handle_static(void *ctx, const struct h3g_request *req, struct h3g_response *resp,
                         h3g_exchange *ex)
{
    (void)ex;
    return h3g_static_handle(ctx, req, resp);
}

static h3g_proxy *make_proxy(struct h3g_site *site, h3g_loop *loop, size_t upstream_idx,
                             h3g_static *files)
{
    h3g_proxy *px = h3g_proxy_new(loop, &site->upstreams[upstream_idx], files);
    if (px != NULL)
        site->proxies[site->nproxies++] = px;
    return px;
}

/* Upstream groups from the config file, plus --upstream's. */
static int build_upstreams(struct h3g_site *site, char *err, size_t errlen)
{
    struct h3g_config *cfg = &site->cfg;
    char uerr[512];
    for (size_t i = 0; i < cfg->nupstreams; i++) {
        if (h3g_upstream_init(&site->upstreams[i], &cfg->upstreams[i], uerr, sizeof(uerr)) != 0) {
            snprintf(err, errlen, "%s:%d: upstream: %s", cfg->config_file, cfg->upstreams[i].line,
                     uerr);
            return H3G_ERR;
        }
        site->nupstreams++;
    }
    if (cfg->cli_upstream_server[0] != '\0') {
        struct h3g_upstream_conf uc;
        h3g_upstream_conf_defaults(&uc);
        uc.name = "--upstream";
        uc.servers[0] = cfg->cli_upstream_server;
        uc.nservers = 1;
        if (h3g_upstream_init(&site->upstreams[site->nupstreams], &uc, uerr, sizeof(uerr)) != 0) {
            snprintf(err, errlen, "--upstream: %s", uerr);
            return H3G_ERR;
        }
        site->nupstreams++;
    }
    return 0;
}

/* The route's name in /metrics: its first host (or "*") and path prefix;
 * the command line's catch-all is "default". */
static void name_route(struct h3g_site *site, const struct h3g_route_conf *rc)
{
    char *name = site->route_names[site->nroute_names++];
    size_t len = sizeof(site->route_names[0]);
    if (rc == NULL)
        snprintf(name, len, "default");
    else
        snprintf(name, len, "%s%s%s", rc->nhosts > 0 ? rc->hosts[0] : "*",
                 rc->nhosts > 1 ? ",..." : "", rc->path_prefix);
    /* a label value names one route: a second of the same name gets its line */
    for (size_t i = 0; rc != NULL && i + 1 < site->nroute_names; i++)
        if (strcmp(site->route_names[i], name) == 0) {
            size_t n = strlen(name);
            snprintf(name + n, len - n, " (line %d)", rc->line);
            break;
        }
}

static int add_route(struct h3g_site *site, const struct h3g_route_conf *rc, h3g_handler_fn fn,
                     void *ctx, char *err, size_t errlen)
{
    if (ctx != NULL &&
        h3g_router_add(site->router, rc ? rc->hosts : NULL, rc ? rc->nhosts : 0,
                       rc ? rc->path_prefix : "/", fn, ctx, rc ? &rc->headers : NULL) == 0) {
        name_route(site, rc);
        return 0;
    }
    snprintf(err, errlen, "out of memory");
    return H3G_ENOMEM;
}

/* One route: an upstream group, or a file root (with --upstream behind it
 * for the command line's catch-all). */
static int build_route(struct h3g_site *site, h3g_loop *loop, const struct h3g_route_conf *rc,
                       char *err, size_t errlen)
{
    struct h3g_config *cfg = &site->cfg;
    const char *root = rc ? rc->root : cfg->root;
    int cli_upstream = rc == NULL && cfg->cli_upstream_server[0] != '\0';
    char rerr[512];
    if (rc != NULL && rc->upstream != NULL) {
        size_t idx = (size_t)h3g_config_find_upstream(cfg, rc->upstream);
        return add_route(site, rc, h3g_proxy_handle, make_proxy(site, loop, idx, NULL), err,
                         errlen);
    }
    if (root == NULL && cli_upstream)
        return add_route(site, NULL, h3g_proxy_handle,
                         make_proxy(site, loop, site->nupstreams - 1, NULL), err, errlen);
    if (root == NULL)
        return 0;
    h3g_static *st = h3g_static_new(root, rerr, sizeof(rerr));
    if (st == NULL) {
        if (rc != NULL && cfg->config_file != NULL)
            snprintf(err, errlen, "%s:%d: route: %s", cfg->config_file, rc->line, rerr);
        else
            snprintf(err, errlen, "%s", rerr);
        return H3G_ERR;
    }
    site->statics[site->nstatics++] = st;
    if (cli_upstream) /* --root with --upstream: files that exist, else the origin */
        return add_route(site, NULL, h3g_proxy_handle,
                         make_proxy(site, loop, site->nupstreams - 1, st), err, errlen);
    return add_route(site, rc, handle_static, st, err, errlen);
}

/* One handler per route, plus --root / "root" (and --upstream) for every
 * other request. */
static int build_routes(struct h3g_site *site, h3g_loop *loop, char *err, size_t errlen)
{
    struct h3g_config *cfg = &site->cfg;
    if (build_upstreams(site, err, errlen) != 0)
        return H3G_ERR;
    site->router = h3g_router_new();
    if (site->router == NULL) {
        snprintf(err, errlen, "out of memory");
        return H3G_ENOMEM;
    }
    for (size_t i = 0; i <= cfg->nroutes; i++)
        if (build_route(site, loop, i < cfg->nroutes ? &cfg->routes[i] : NULL, err, errlen) != 0)
            return H3G_ERR;
    return 0;
}

static unsigned addr_port(const struct h3g_listen_addr *la)
{
    return h3g_sockaddr_port((const struct sockaddr *)&la->ss);
}

/* What redirect_http answers: the https port (of the first address serving
 * HTTPS over TCP) and the ACME challenge files. */
static int build_redirect(struct h3g_site *site, char *err, size_t errlen)
{
    const struct h3g_config *cfg = &site->cfg;
    if (cfg->nredirect == 0)
        return 0;
    site->redirect.https_port = addr_port(&cfg->listen[0]);
    for (size_t i = cfg->nlisten; i-- > 0;)
        if (cfg->listen[i].tcp)
            site->redirect.https_port = addr_port(&cfg->listen[i]);
    if (cfg->acme_challenge_root != NULL) {
        char serr[512];
        site->redirect.acme = h3g_static_new(cfg->acme_challenge_root, serr, sizeof(serr));
        if (site->redirect.acme == NULL) {
            snprintf(err, errlen, "acme_challenge_root: %s", serr);
            return H3G_ERR;
        }
    }
    return 0;
}

static void site_free(struct h3g_site *site)
{
    h3g_static_free(site->redirect.acme);
    for (size_t i = 0; i < site->nproxies; i++)
        h3g_proxy_free(site->proxies[i]);
    for (size_t i = 0; i < site->nupstreams; i++)
        h3g_upstream_close(&site->upstreams[i]);
    h3g_router_free(site->router);
    for (size_t i = 0; i < site->nstatics; i++)
        h3g_static_free(site->statics[i]);
    h3g_config_free(&site->cfg);
    free(site);
}

struct h3g_site *h3g_site_new(struct h3g_config *cfg, h3g_loop *loop, char *err, size_t errlen)
{
    struct h3g_site *site = calloc(1, sizeof(*site));
    if (site == NULL) {
        h3g_config_free(cfg);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    site->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    site->refs = 1;
    if (build_routes(site, loop, err, errlen) != 0 || build_redirect(site, err, errlen) != 0) {
        site_free(site);
        return NULL;
    }
    return site;
}

void h3g_site_ref(struct h3g_site *site)
{
    site->refs++;
}

void h3g_site_unref(struct h3g_site *site)
{
    if (site != NULL && --site->refs == 0)
        site_free(site);
}

void h3g_site_pool_counts(const struct h3g_site *site, uint64_t *idle, uint64_t *active)
{
    *idle = *active = 0;
    for (size_t i = 0; i < site->nupstreams; i++)
        for (size_t j = 0; j < site->upstreams[i].norigins; j++) {
            *idle += site->upstreams[i].origins[j].nidle;
            *active += site->upstreams[i].origins[j].active;
        }
}

static void unhold(void *site)
{
    h3g_site_unref(site);
}

int h3g_site_handle(struct h3g_site *site, const struct h3g_request *req, struct h3g_response *resp,
                    h3g_exchange *ex)
{
    h3g_site_ref(site);
    h3g_exchange_hold(ex, unhold, site);
    int rc = h3g_router_handle(site->router, req, resp, ex);
    /* counted here, by the site whose names /metrics shows */
    if (ex->route > 0 && ex->route <= H3G_M_ROUTES)
        h3g_metrics_self->route_requests[ex->route - 1]++;
    return rc;
}

int h3g_site_redirect(struct h3g_site *site, const struct h3g_request *req,
                      struct h3g_response *resp, h3g_exchange *ex)
{
    h3g_site_ref(site);
    h3g_exchange_hold(ex, unhold, site);
    return h3g_redirect_handle(&site->redirect, req, resp, ex);
}
