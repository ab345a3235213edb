#include "http/router.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"

#define MAX_HOSTS 32

struct route {
    char *hosts[MAX_HOSTS];
    size_t nhosts;
    char *prefix;
    size_t prefix_len;
    h3g_handler_fn fn;
    void *ctx;
    const struct h3g_header_rules *rules;
};

struct h3g_router {
    struct route *routes;
    size_t n;
};

h3g_router *h3g_router_new(void)
{
    return calloc(1, sizeof(h3g_router));
}

void h3g_router_free(h3g_router *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++) {
        for (size_t j = 0; j < r->routes[i].nhosts; j++)
            free(r->routes[i].hosts[j]);
        free(r->routes[i].prefix);
    }
    free(r->routes);
    free(r);
}

int h3g_router_add(h3g_router *r, const char *const *hosts, size_t nhosts, const char *prefix,
                   h3g_handler_fn fn, void *ctx, const struct h3g_header_rules *rules)
{
    struct route *rt;
    if (nhosts > MAX_HOSTS || prefix == NULL || prefix[0] != '/')
        return H3G_EINVAL;
    rt = realloc(r->routes, (r->n + 1) * sizeof(*rt));
    if (rt == NULL)
        return H3G_ENOMEM;
    r->routes = rt;
    rt = &r->routes[r->n];
    memset(rt, 0, sizeof(*rt));
    for (size_t i = 0; i < nhosts; i++) {
        rt->hosts[i] = strdup(hosts[i]);
        if (rt->hosts[i] == NULL)
            return H3G_ENOMEM;
        rt->nhosts++;
    }
    rt->prefix = strdup(prefix);
    if (rt->prefix == NULL)
        return H3G_ENOMEM;
    rt->prefix_len = strlen(prefix);
    rt->fn = fn;
    rt->ctx = ctx;
    rt->rules = rules;
    r->n++;
    return 0;
}

/* 3 exact, 2 wildcard (ties broken by suffix length), 1 any host, 0 no match. */
static int host_score(const struct route *rt, const char *host, size_t *wild_len)
{
    int best = rt->nhosts == 0 ? 1 : 0;
    *wild_len = 0;
    for (size_t i = 0; i < rt->nhosts; i++) {
        const char *p = rt->hosts[i];
        if (p[0] == '*') {
            const char *dot = strchr(host, '.');
            if (dot != NULL && dot != host && strcmp(dot, p + 1) == 0 && best < 3) {
                best = 2;
                if (strlen(p) > *wild_len)
                    *wild_len = strlen(p);
            }
        } else if (strcmp(p, host) == 0) {
            return 3;
        }
    }
    return best;
}

int h3g_router_match(const h3g_router *r, const char *authority, const char *path)
{
    char host[256];
    size_t n = 0;
    int best = -1, best_score = 0;
    size_t best_wild = 0, best_prefix = 0;

    /* host without port, lowercase; "[v6]" kept whole */
    if (authority != NULL) {
        const char *end = authority + strlen(authority);
        if (authority[0] == '[') {
            const char *close = strchr(authority, ']');
            end = close ? close + 1 : end;
        } else {
            const char *colon = strrchr(authority, ':');
            if (colon != NULL)
                end = colon;
        }
        while (authority + n < end && n + 1 < sizeof(host)) {
            char c = authority[n];
            host[n++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        if (n > 0 && host[n - 1] == '.')
            n--;
    }
    host[n] = '\0';
    for (size_t i = 0; i < r->n; i++) {
        const struct route *rt = &r->routes[i];
        size_t wild;
        int score = host_score(rt, host, &wild);
        if (score == 0 || path == NULL || strncmp(path, rt->prefix, rt->prefix_len) != 0)
            continue;
        if (score > best_score || (score == best_score && wild > best_wild) ||
            (score == best_score && wild == best_wild && rt->prefix_len > best_prefix)) {
            best = (int)i;
            best_score = score;
            best_wild = wild;
            best_prefix = rt->prefix_len;
        }
    }
    return best;
}

int h3g_router_handle(void *router, const struct h3g_request *req, struct h3g_response *resp,
                      h3g_exchange *ex)
{
    h3g_router *r = router;
    int i = h3g_router_match(r, req->authority, req->path);
    if (i < 0) {
        if (h3g_response_add(resp, "server", "h3gate") != 0)
            return H3G_ENOMEM;
        return h3g_response_error(resp, 404);
    }
    if (ex != NULL)
        ex->route = (unsigned)i + 1;
    if (r->routes[i].rules != NULL && ex != NULL)
        h3g_exchange_set_rules(ex, r->routes[i].rules);
    return r->routes[i].fn(r->routes[i].ctx, req, resp, ex);
}
