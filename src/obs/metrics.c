#include "obs/metrics.h"

#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"

static struct h3g_metrics g_own;
struct h3g_metrics *h3g_metrics_self = &g_own;
static struct h3g_metrics *g_shared;
static size_t g_nshared;

const uint64_t h3g_metrics_bounds_us[H3G_M_BUCKETS] = {
    1000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

int h3g_metrics_share(size_t n)
{
    void *p = mmap(NULL, n * sizeof(struct h3g_metrics), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return H3G_ENOMEM;
    g_shared = p;
    g_nshared = n;
    return 0;
}

void h3g_metrics_use_slot(size_t i)
{
    h3g_metrics_self = &g_shared[i];
    memset(h3g_metrics_self, 0, sizeof(*h3g_metrics_self));
    h3g_metrics_self->pid = (uint64_t)getpid();
}

size_t h3g_metrics_slots(const struct h3g_metrics **slots)
{
    if (g_shared != NULL) {
        *slots = g_shared;
        return g_nshared;
    }
    g_own.pid = (uint64_t)getpid();
    *slots = &g_own;
    return 1;
}

void h3g_metrics_observe(struct h3g_hist *h, uint64_t us)
{
    size_t i = 0;
    while (i < H3G_M_BUCKETS && us > h3g_metrics_bounds_us[i])
        i++;
    if (i < H3G_M_BUCKETS)
        h->bucket[i]++;
    h->count++;
    h->sum_us += us;
}

static const char *const methods[H3G_M_METHODS] = {"GET",    "HEAD",    "POST",  "PUT",
                                                   "DELETE", "OPTIONS", "PATCH", "other"};

const char *h3g_metrics_method(int i)
{
    return methods[i];
}

const char *h3g_metrics_proto(int i)
{
    static const char *const names[H3G_M_PROTOS] = {"h1", "h2", "h3"};
    return names[i];
}

static int proto_index(const char *p)
{
    if (p != NULL && strcmp(p, "h1") == 0)
        return H3G_M_H1;
    if (p != NULL && strcmp(p, "h2") == 0)
        return H3G_M_H2;
    return H3G_M_H3;
}

static int method_index(const char *m)
{
    for (int i = 0; m != NULL && i < H3G_M_METHODS - 1; i++)
        if (strcmp(m, methods[i]) == 0)
            return i;
    return H3G_M_METHODS - 1;
}

void h3g_metrics_request(const struct h3g_access_entry *e)
{
    struct h3g_metrics *m = h3g_metrics_self;
    int p = proto_index(e->protocol);
    int cls = e->status >= 100 && e->status < 600 ? e->status / 100 : 0;
    m->requests[p][method_index(e->method)][cls]++;
    if (e->error != NULL)
        m->request_errors[p]++;
    m->response_bytes[p] += e->bytes_sent;
    h3g_metrics_observe(&m->duration[p], e->duration_us);
}

const char *h3g_metrics_quic_reason(int i)
{
    static const char *const names[H3G_MQ_N] = {"idle_timeout", "no_error", "application_error",
                                                "transport_error"};
    return names[i];
}

void h3g_metrics_quic_close(const struct h3g_close_entry *e)
{
    int r = e->idle                  ? H3G_MQ_IDLE
            : e->error_code == 0     ? H3G_MQ_NO_ERROR
            : e->transport           ? H3G_MQ_TRANSPORT_ERROR
            : e->error_code == 0x100 ? H3G_MQ_NO_ERROR /* H3_NO_ERROR */
                                     : H3G_MQ_APP_ERROR;
    h3g_metrics_self->quic_closed[e->local ? 1 : 0][r]++;
}

static const char *const tcp_reasons[H3G_MT_N] = {
    "eof",           "done",  "keepalive_timeout", "send_timeout",
    "drain_timeout", "reset", "shutdown",          "other"};

const char *h3g_metrics_tcp_reason(int i)
{
    return tcp_reasons[i];
}

void h3g_metrics_tcp_close(const struct h3g_tcp_close_entry *e)
{
    int r = H3G_MT_OTHER;
    for (int i = 0; e->error != NULL && i < H3G_MT_OTHER; i++)
        if (strncmp(e->error, tcp_reasons[i], strlen(tcp_reasons[i])) == 0)
            r = i;
    h3g_metrics_self->tcp_closed[e->local ? 1 : 0][r]++;
}

const char *h3g_metrics_upstream_error(int i)
{
    static const char *const names[H3G_MU_N] = {
        "connect_refused", "connect_timeout", "header_timeout", "body_timeout",
        "request_timeout", "bad_response",    "closed",         "unreachable"};
    return names[i];
}
