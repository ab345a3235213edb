#include "admin/prometheus.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

struct out {
    char *buf;
    size_t len, cap;
    int failed;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    for (int pass = 0; pass < 2 && !o->failed; pass++) {
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->failed = 1;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        if (h3g_reserve((void **)&o->buf, &o->cap, o->len + (size_t)n + 1, 16384) != 0)
            o->failed = 1;
    }
}

static void head(struct out *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One value per worker, then their sum.  off is the field's offset in
 * struct h3g_metrics. */
struct ctx {
    struct out *o;
    const struct h3g_metrics *slots;
    size_t n;
};

static uint64_t at(const struct h3g_metrics *m, size_t off)
{
    uint64_t v;
    memcpy(&v, (const char *)m + off, sizeof(v));
    return v;
}

static void series(struct ctx *c, const char *name, const char *labels, size_t off)
{
    uint64_t total = 0;
    const char *sep = labels[0] ? "," : "";
    for (size_t w = 0; w < c->n; w++) {
        uint64_t v = at(&c->slots[w], off);
        total += v;
        put(c->o, "%s{%s%sworker=\"%zu\"} %llu\n", name, labels, sep, w, (unsigned long long)v);
    }
    put(c->o, "%s{%s%sworker=\"total\"} %llu\n", name, labels, sep, (unsigned long long)total);
}

#define OFF(field) offsetof(struct h3g_metrics, field)

static void simple(struct ctx *c, const char *name, const char *type, const char *help, size_t off)
{
    head(c->o, name, type, help);
    series(c, name, "", off);
}

static void hist_one(struct ctx *c, const char *name, const char *labels, const struct h3g_hist *h,
                     const char *worker)
{
    uint64_t cum = 0;
    const char *sep = labels[0] ? "," : "";
    for (int i = 0; i < H3G_M_BUCKETS; i++) {
        cum += h->bucket[i];
        put(c->o, "%s_bucket{%s%sworker=\"%s\",le=\"%g\"} %llu\n", name, labels, sep, worker,
            (double)h3g_metrics_bounds_us[i] / 1e6, (unsigned long long)cum);
    }
    put(c->o, "%s_bucket{%s%sworker=\"%s\",le=\"+Inf\"} %llu\n", name, labels, sep, worker,
        (unsigned long long)h->count);
    put(c->o, "%s_sum{%s%sworker=\"%s\"} %.6f\n", name, labels, sep, worker,
        (double)h->sum_us / 1e6);
    put(c->o, "%s_count{%s%sworker=\"%s\"} %llu\n", name, labels, sep, worker,
        (unsigned long long)h->count);
}

static void hist(struct ctx *c, const char *name, const char *labels, size_t off)
{
    struct h3g_hist total;
    memset(&total, 0, sizeof(total));
    for (size_t w = 0; w < c->n; w++) {
        const struct h3g_hist *h = (const void *)((const char *)&c->slots[w] + off);
        char id[24];
        snprintf(id, sizeof(id), "%zu", w);
        hist_one(c, name, labels, h, id);
        for (int i = 0; i < H3G_M_BUCKETS; i++)
            total.bucket[i] += h->bucket[i];
        total.count += h->count;
        total.sum_us += h->sum_us;
    }
    hist_one(c, name, labels, &total, "total");
}

static void requests(struct ctx *c)
{
    char labels[128];
    head(c->o, "h3gate_requests_total", "counter",
         "Requests answered (code=\"none\": ended before a response)");
    for (int p = 0; p < H3G_M_PROTOS; p++)
        for (int m = 0; m < H3G_M_METHODS; m++)
            for (int s = 0; s < 6; s++) {
                uint64_t any = 0;
                for (size_t w = 0; w < c->n; w++)
                    any |= c->slots[w].requests[p][m][s];
                if (!any && !(m == 0 && s == 2))
                    continue; /* only series that happened (and GET 2xx) */
                char code[8];
                if (s == 0)
                    snprintf(code, sizeof(code), "none");
                else
                    snprintf(code, sizeof(code), "%dxx", s);
                snprintf(labels, sizeof(labels), "protocol=\"%s\",method=\"%s\",code=\"%s\"",
                         h3g_metrics_proto(p), h3g_metrics_method(m), code);
                series(c, "h3gate_requests_total", labels, OFF(requests[p][m][s]));
            }
    head(c->o, "h3gate_request_errors_total", "counter",
         "Requests that ended abnormally (reset stream, cut body, closed connection)");
    for (int p = 0; p < H3G_M_PROTOS; p++) {
        snprintf(labels, sizeof(labels), "protocol=\"%s\"", h3g_metrics_proto(p));
        series(c, "h3gate_request_errors_total", labels, OFF(request_errors[p]));
    }
    head(c->o, "h3gate_response_body_bytes_total", "counter", "Response body bytes sent");
    for (int p = 0; p < H3G_M_PROTOS; p++) {
        snprintf(labels, sizeof(labels), "protocol=\"%s\"", h3g_metrics_proto(p));
        series(c, "h3gate_response_body_bytes_total", labels, OFF(response_bytes[p]));
    }
    head(c->o, "h3gate_request_duration_seconds", "histogram",
         "Time from the request's start to the end of its response");
    for (int p = 0; p < H3G_M_PROTOS; p++) {
        snprintf(labels, sizeof(labels), "protocol=\"%s\"", h3g_metrics_proto(p));
        hist(c, "h3gate_request_duration_seconds", labels, OFF(duration[p]));
    }
}

static void connections(struct ctx *c)
{
    char labels[128];
    head(c->o, "h3gate_connections", "gauge", "Connections open");
    series(c, "h3gate_connections", "transport=\"quic\"", OFF(quic_connections));
    series(c, "h3gate_connections", "transport=\"tcp\"", OFF(tcp_connections));
    head(c->o, "h3gate_connections_closed_total", "counter",
         "Connections closed, by who closed and why");
    for (int by = 0; by < 2; by++) {
        for (int r = 0; r < H3G_MQ_N; r++) {
            snprintf(labels, sizeof(labels), "transport=\"quic\",by=\"%s\",reason=\"%s\"",
                     by ? "server" : "client", h3g_metrics_quic_reason(r));
            series(c, "h3gate_connections_closed_total", labels, OFF(quic_closed[by][r]));
        }
        for (int r = 0; r < H3G_MT_N; r++) {
            snprintf(labels, sizeof(labels), "transport=\"tcp\",by=\"%s\",reason=\"%s\"",
                     by ? "server" : "client", h3g_metrics_tcp_reason(r));
            series(c, "h3gate_connections_closed_total", labels, OFF(tcp_closed[by][r]));
        }
    }
    simple(c, "h3gate_http3_active_requests", "gauge", "HTTP/3 requests in progress",
           OFF(active_requests));
    simple(c, "h3gate_tcp_connections_accepted_total", "counter", "TCP connections accepted",
           OFF(tcp_accepted));
    simple(c, "h3gate_tcp_connections_refused_total", "counter",
           "TCP connections refused at a limit (tcp_connections, tls_handshakes, openssl_memory)",
           OFF(tcp_refused));
    simple(c, "h3gate_tls_handshake_failures_total", "counter", "TLS over TCP handshakes failed",
           OFF(tls_handshake_failures));
    simple(c, "h3gate_tls_handshake_timeouts_total", "counter",
           "TLS over TCP handshakes that did not finish in time", OFF(tls_handshake_timeouts));
    simple(c, "h3gate_tcp_received_bytes_total", "counter", "Bytes received over TCP (TLS)",
           OFF(tcp_bytes_in));
    simple(c, "h3gate_tcp_sent_bytes_total", "counter", "Bytes sent over TCP (TLS)",
           OFF(tcp_bytes_out));
}

static void quic(struct ctx *c)
{
    int full = 1;
    for (size_t w = 0; w < c->n; w++)
        full &= c->slots[w].quic_full != 0;
    simple(c, "h3gate_quic_connections_refused_total", "counter",
           "New QUIC connections refused (connections, openssl_memory, shutting down)",
           OFF(quic_refused));
    simple(c, "h3gate_quic_handshakes_refused_total", "counter",
           "Clients refused at the handshake limit", OFF(quic_refused_handshakes));
    simple(c, "h3gate_quic_handshakes_total", "counter", "QUIC handshakes completed",
           OFF(quic_handshakes));
    simple(c, "h3gate_quic_handshakes_resumed_total", "counter",
           "QUIC handshakes that resumed a TLS session (of handshakes_total)", OFF(quic_resumed));
    if (!full)
        return; /* the OpenSSL engine does not see its packets */
    static const struct {
        const char *name, *help;
        size_t off;
    } f[] = {
        {"h3gate_quic_packets_received_total", "QUIC packets received", OFF(quic_packets_in)},
        {"h3gate_quic_datagrams_received_total", "UDP datagrams received", OFF(quic_datagrams_in)},
        {"h3gate_quic_receive_calls_total", "recvmmsg/recvmsg calls", OFF(quic_recv_calls)},
        {"h3gate_quic_packets_sent_total", "QUIC packets sent", OFF(quic_packets_out)},
        {"h3gate_quic_packets_lost_total", "QUIC packets declared lost (loss detection)",
         OFF(quic_packets_lost)},
        {"h3gate_quic_send_calls_total",
         "sendmsg calls (packets_sent / send_calls = datagrams per call)", OFF(quic_send_calls)},
        {"h3gate_quic_send_blocked_total", "sends that found the socket buffer full",
         OFF(quic_send_blocked)},
        {"h3gate_quic_retry_sent_total", "Retry packets sent", OFF(quic_retries)},
        {"h3gate_quic_version_negotiation_sent_total", "Version Negotiation packets sent",
         OFF(quic_version_negotiations)},
        {"h3gate_quic_stateless_resets_sent_total", "Stateless resets sent",
         OFF(quic_stateless_resets)},
        {"h3gate_quic_bad_tokens_total", "Retry or NEW_TOKEN tokens that did not validate",
         OFF(quic_bad_tokens)},
        {"h3gate_quic_migrations_total", "Connections that moved to a new client address",
         OFF(quic_migrations)},
        {"h3gate_quic_early_streams_total", "Request streams received in 0-RTT",
         OFF(quic_early_streams)},
    };
    for (size_t i = 0; i < H3G_ARRAY_LEN(f); i++)
        simple(c, f[i].name, "counter", f[i].help, f[i].off);
}

static void upstreams(struct ctx *c)
{
    char labels[64];
    simple(c, "h3gate_upstream_responses_total", "counter", "Origin responses whose header arrived",
           OFF(upstream_requests));
    head(c->o, "h3gate_upstream_errors_total", "counter", "Origin exchanges that failed, by kind");
    for (int k = 0; k < H3G_MU_N; k++) {
        snprintf(labels, sizeof(labels), "kind=\"%s\"", h3g_metrics_upstream_error(k));
        series(c, "h3gate_upstream_errors_total", labels, OFF(upstream_errors[k]));
    }
    head(c->o, "h3gate_upstream_connect_duration_seconds", "histogram",
         "Time to connect to an origin (new connections only)");
    hist(c, "h3gate_upstream_connect_duration_seconds", "", OFF(upstream_connect));
    head(c->o, "h3gate_upstream_header_duration_seconds", "histogram",
         "Time from the origin connection being ready to its response header");
    hist(c, "h3gate_upstream_header_duration_seconds", "", OFF(upstream_header));
    head(c->o, "h3gate_upstream_connections", "gauge", "Origin connections, pooled or in use");
    series(c, "h3gate_upstream_connections", "state=\"idle\"", OFF(upstream_idle));
    series(c, "h3gate_upstream_connections", "state=\"active\"", OFF(upstream_active));
}

static void process(struct ctx *c, const struct h3g_proc_stats *procs)
{
    static const struct {
        const char *name, *type, *help;
        size_t off;
    } f[] = {
        {"process_cpu_seconds_total", "counter", "User and system CPU time",
         offsetof(struct h3g_proc_stats, cpu_seconds)},
        {"process_resident_memory_bytes", "gauge", "Resident memory",
         offsetof(struct h3g_proc_stats, rss_bytes)},
        {"process_open_fds", "gauge", "Open file descriptors",
         offsetof(struct h3g_proc_stats, open_fds)},
        {"process_max_fds", "gauge", "Limit of open file descriptors",
         offsetof(struct h3g_proc_stats, max_fds)},
        {"process_start_time_seconds", "gauge", "Start time since the Unix epoch",
         offsetof(struct h3g_proc_stats, start_time_seconds)},
    };
    for (size_t i = 0; i < H3G_ARRAY_LEN(f); i++) {
        head(c->o, f[i].name, f[i].type, f[i].help);
        for (size_t w = 0; w < c->n; w++) {
            double v;
            if (!procs[w].known)
                continue;
            memcpy(&v, (const char *)&procs[w] + f[i].off, sizeof(v));
            put(c->o, "%s{worker=\"%zu\"} %.17g\n", f[i].name, w, v);
        }
    }
    simple(c, "h3gate_config_reloads_total", "counter", "Successful configuration reloads",
           OFF(reloads));
    simple(c, "h3gate_config_reload_failures_total", "counter",
           "Reloads refused (the running configuration stayed)", OFF(reload_failures));
    simple(c, "h3gate_config_generation", "gauge", "Configuration in use (1 at start)",
           OFF(generation));
    simple(c, "h3gate_draining", "gauge", "1 while shutting down", OFF(draining));
    simple(c, "h3gate_openssl_memory_bytes", "gauge",
           "Heap OpenSSL holds (TLS, and the OpenSSL engine's QUIC stack); new clients are "
           "refused at limits { openssl_memory }",
           OFF(openssl_memory));
    simple(c, "h3gate_access_log_dropped_lines_total", "counter",
           "Access log lines dropped because the disk did not keep up", OFF(access_log_dropped));
}

/* A label value as the exposition format wants it (\\, \", \n escaped). */
static void label_value(char *out, size_t outlen, const char *s)
{
    size_t j = 0;
    for (; *s != '\0' && j + 3 < outlen; s++) {
        if (*s == '\\' || *s == '"' || *s == '\n')
            out[j++] = '\\';
        out[j++] = *s == '\n' ? 'n' : *s;
    }
    out[j] = '\0';
}

static void routes(struct ctx *c, const char *const *names, size_t n)
{
    char labels[256], v[200];
    head(c->o, "h3gate_route_requests_total", "counter",
         "Requests by the route that took them (counted again from 0 after a reload)");
    for (size_t i = 0; i < n && i < H3G_M_ROUTES; i++) {
        label_value(v, sizeof(v), names[i]);
        snprintf(labels, sizeof(labels), "route=\"%s\"", v);
        series(c, "h3gate_route_requests_total", labels, OFF(route_requests[i]));
    }
}

char *h3g_prometheus_render(const struct h3g_metrics *slots, size_t n,
                            const struct h3g_proc_stats *procs, const char *const *route_names,
                            size_t nroutes, size_t *len)
{
    struct out o = {0};
    struct ctx c = {&o, slots, n};
    requests(&c);
    routes(&c, route_names, nroutes);
    connections(&c);
    quic(&c);
    upstreams(&c);
    process(&c, procs);
    if (o.failed) {
        free(o.buf);
        return NULL;
    }
    *len = o.len;
    return o.buf;
}

static int count_fds(long pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
    DIR *d = opendir(path);
    int n = 0;
    if (d == NULL)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

void h3g_proc_stats(long pid, struct h3g_proc_stats *out)
{
    char path[64], buf[1024];
    memset(out, 0, sizeof(*out));
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    if (h3g_read_text(path, buf, sizeof(buf)) < 0)
        return;
    const char *p = strrchr(buf, ')'); /* the name may hold spaces */
    unsigned long long utime, stime, start, rss;
    if (p == NULL || sscanf(p + 2,
                            "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d "
                            "%*d %*d %*d %llu %*u %llu",
                            &utime, &stime, &start, &rss) != 4)
        return;
    double tick = (double)sysconf(_SC_CLK_TCK);
    struct timespec now, up;
    clock_gettime(CLOCK_REALTIME, &now);
    clock_gettime(CLOCK_BOOTTIME, &up);
    double boot = (double)now.tv_sec + now.tv_nsec / 1e9 - ((double)up.tv_sec + up.tv_nsec / 1e9);
    out->cpu_seconds = (double)(utime + stime) / tick;
    out->start_time_seconds = boot + (double)start / tick;
    out->rss_bytes = (double)rss * (double)sysconf(_SC_PAGESIZE);
    int fds = count_fds(pid);
    /* less the directory's own descriptor when counting ourselves */
    out->open_fds = fds >= 0 ? fds - (pid == (long)getpid() ? 1 : 0) : 0;
    struct rlimit rl;
    out->max_fds = prlimit((pid_t)pid, RLIMIT_NOFILE, NULL, &rl) == 0 ? (double)rl.rlim_cur : 0;
    out->known = 1;
}
