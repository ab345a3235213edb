#include "admin/admin.h"

#include <stdlib.h>
#include <string.h>

#include "admin/prometheus.h"
#include "common.h"
#include "obs/metrics.h"

static int text(struct h3g_response *resp, int status, const char *type, char *body, size_t len)
{
    resp->status = status;
    if (h3g_response_add(resp, "content-type", type) != 0 ||
        h3g_response_addf(resp, "content-length", "%zu", len) != 0 ||
        h3g_response_add(resp, "cache-control", "no-store") != 0) {
        free(body);
        return H3G_ENOMEM;
    }
    resp->body.kind = H3G_BODY_MEM;
    resp->body.mem = body;
    resp->body.remaining = len;
    return 0;
}

static int metrics(const struct h3g_admin *adm, struct h3g_response *resp)
{
    const char *names[H3G_M_ROUTES];
    size_t nroutes = 0;
    while (adm->route_name != NULL && nroutes < H3G_M_ROUTES &&
           (names[nroutes] = adm->route_name(adm->arg, nroutes)) != NULL)
        nroutes++;
    const struct h3g_metrics *slots;
    size_t n = h3g_metrics_slots(&slots), len = 0;
    struct h3g_proc_stats *procs = calloc(n, sizeof(*procs));
    if (procs == NULL)
        return H3G_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (slots[i].pid != 0)
            h3g_proc_stats((long)slots[i].pid, &procs[i]);
    char *body = h3g_prometheus_render(slots, n, procs, names, nroutes, &len);
    free(procs);
    if (body == NULL)
        return H3G_ENOMEM;
    return text(resp, 200, "text/plain; version=0.0.4; charset=utf-8", body, len);
}

static int healthz(const struct h3g_admin *adm, struct h3g_response *resp)
{
    const char *msg = *adm->draining ? "draining\n" : "ok\n";
    char *body = strdup(msg);
    if (body == NULL)
        return H3G_ENOMEM;
    return text(resp, *adm->draining ? 503 : 200, "text/plain; charset=utf-8", body, strlen(body));
}

int h3g_admin_handle(void *ctx, const struct h3g_request *req, struct h3g_response *resp,
                     h3g_exchange *ex)
{
    const struct h3g_admin *adm = ctx;
    H3G_UNUSED(ex);
    if (h3g_response_add(resp, "server", "h3gate") != 0)
        return H3G_ENOMEM;
    const char *path = req->path != NULL ? req->path : "";
    size_t plen = strcspn(path, "?");
    int is_metrics = plen == 8 && strncmp(path, "/metrics", 8) == 0;
    int is_health = plen == 8 && strncmp(path, "/healthz", 8) == 0;
    if (!is_metrics && !is_health)
        return h3g_response_error(resp, 404);
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        if (h3g_response_add(resp, "allow", "GET, HEAD") != 0)
            return H3G_ENOMEM;
        return h3g_response_error(resp, 405);
    }
    if (is_health)
        return healthz(adm, resp);
    if (adm->refresh != NULL)
        adm->refresh(adm->arg);
    return metrics(adm, resp);
}
