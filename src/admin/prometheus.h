/* /metrics in the Prometheus text exposition format (version 0.0.4), from
 * the workers' metric slots.  Each series carries worker="N" and a
 * worker="total" series sums them. */
#ifndef H3G_ADMIN_PROMETHEUS_H
#define H3G_ADMIN_PROMETHEUS_H

#include <stddef.h>

#include "obs/metrics.h"

struct h3g_proc_stats {
    double cpu_seconds, start_time_seconds;
    double rss_bytes, open_fds, max_fds;
    int known;
};

/* What /proc says about process pid (known = 0 when it cannot be read). */
void h3g_proc_stats(long pid, struct h3g_proc_stats *out);

/* Renders n slots (and their processes' stats) into a malloc'd buffer;
 * NULL when out of memory. */
char *h3g_prometheus_render(const struct h3g_metrics *slots, size_t n,
                            const struct h3g_proc_stats *procs, const char *const *routes,
                            size_t nroutes, size_t *len);

#endif
