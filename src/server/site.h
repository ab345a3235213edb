/* A site: what one configuration builds for serving requests (routes, file
 * roots, upstream groups and their pools, the redirect listener's answers),
 * with the configuration it came from.  A reload builds a new site; requests
 * already routed keep the old one until they end (reference counted). */
#ifndef H3G_SERVER_SITE_H
#define H3G_SERVER_SITE_H

#include <stddef.h>

#include "app/proxy/proxy.h"
#include "app/proxy/upstream.h"
#include "app/redirect/redirect.h"
#include "app/static/static.h"
#include "config/config.h"
#include "event/loop.h"
#include "http/router.h"

struct h3g_site {
    unsigned refs;       /* the server's (while current) + one per routed exchange */
    unsigned generation; /* 1 at start-up, +1 per reload */
    struct h3g_config cfg;
    h3g_router *router;
    h3g_static *statics[H3G_MAX_ROUTES + 1];
    size_t nstatics;
    h3g_upstream upstreams[H3G_MAX_UPSTREAMS + 1];
    size_t nupstreams;
    h3g_proxy *proxies[H3G_MAX_ROUTES + 1];
    size_t nproxies;
    struct h3g_redirect redirect;
    char route_names[H3G_MAX_ROUTES + 1][80]; /* by router index: "HOST/PREFIX", "default" */
    size_t nroute_names;
};

/* Builds a site from cfg, which it takes over (cfg is left empty, also on
 * failure).  NULL with "where: problem" in err when a root, an upstream or the
 * ACME root does not work. */
struct h3g_site *h3g_site_new(struct h3g_config *cfg, h3g_loop *loop, char *err, size_t errlen);
void h3g_site_ref(struct h3g_site *site);
/* Frees the site with its last reference. */
void h3g_site_unref(struct h3g_site *site);

/* Pooled (idle) and busy origin connections of the site's upstream groups. */
void h3g_site_pool_counts(const struct h3g_site *site, uint64_t *idle, uint64_t *active);

/* Routes the request to the site's handler; the exchange holds the site until
 * it ends. */
int h3g_site_handle(struct h3g_site *site, const struct h3g_request *req, struct h3g_response *resp,
                    h3g_exchange *ex);
/* The same for the redirect_http listeners. */
int h3g_site_redirect(struct h3g_site *site, const struct h3g_request *req,
                      struct h3g_response *resp, h3g_exchange *ex);

#endif
