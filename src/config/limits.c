/* The limits table (limits.h).  Ranges and defaults: the reasons are in
 * docs/config.md; a few are noted here where the number is not obvious. */
#include "config/limits.h"

#include <stdio.h>
#include <string.h>

#include "common.h"
#include "config/conf_parse.h"

#define FIELD(f) offsetof(struct h3g_config, f), sizeof(((struct h3g_config *)0)->f)
#define K 1024ull
#define M (1024ull * 1024)
#define G (1024ull * 1024 * 1024)

const struct h3g_limit h3g_limits[] = {
    {"request_header_size", "max-header-size", H3G_LIMIT_SIZE, K, M, 64 * K,
     FIELD(max_field_section_size)},
    {"request_header_fields", NULL, H3G_LIMIT_COUNT, 8, 10000, 128, FIELD(max_header_fields)},
    {"request_body_size", NULL, H3G_LIMIT_SIZE, 0, UINT64_MAX / 2, 0, FIELD(max_request_body)},
    /* OpenSSL 3.5 grants clients 100 streams */
    {"streams_per_connection", NULL, H3G_LIMIT_COUNT, 1, 100, 100, FIELD(max_streams)},
    /* OpenSSL 3.5 keeps ~300 bytes per finished request stream until the
     * connection ends (docs/architecture.md), so connections are recycled, as
     * nginx's keepalive_requests does by default. */
    {"requests_per_connection", "max-requests", H3G_LIMIT_COUNT, 0, 1000000000, 1000,
     FIELD(max_requests)},
    {"connections", "max-connections", H3G_LIMIT_COUNT, 1, 1000000, 10000, FIELD(max_connections)},
    {"qpack_blocked_streams", NULL, H3G_LIMIT_COUNT, 0, 64, 16, FIELD(qpack_blocked_streams)},
    {"send_buffer_per_connection", NULL, H3G_LIMIT_SIZE, 64 * K, G, 4 * M, FIELD(send_budget_conn)},
    {"send_buffer_per_worker", NULL, H3G_LIMIT_SIZE, M, 64 * G, 256 * M, FIELD(send_budget_worker)},
    /* ~85 KiB each while in progress (issue 12 note) */
    {"handshakes", NULL, H3G_LIMIT_COUNT, 1, 1000000, 1000, FIELD(max_handshakes)},
    /* ~22 KiB per idle connection on the ngtcp2 engine: 10,000 connections fit */
    {"openssl_memory", NULL, H3G_LIMIT_SIZE, 0, 1024 * G, G, FIELD(max_openssl_memory)},
    /* HAProxy's tune.quic.retry-threshold */
    {"retry_threshold", NULL, H3G_LIMIT_COUNT, 0, 1000000, 100, FIELD(retry_threshold)},
    {"tcp_connections", NULL, H3G_LIMIT_COUNT, 1, 1000000, 10000, FIELD(max_tcp_connections)},
    {"tls_handshakes", NULL, H3G_LIMIT_COUNT, 1, 1000000, 1000, FIELD(max_tls_handshakes)},
};
const size_t h3g_nlimits = H3G_ARRAY_LEN(h3g_limits);

const struct h3g_limit *h3g_limit_by_name(const char *name)
{
    for (size_t i = 0; i < h3g_nlimits; i++)
        if (strcmp(h3g_limits[i].name, name) == 0)
            return &h3g_limits[i];
    return NULL;
}

const struct h3g_limit *h3g_limit_by_option(const char *option)
{
    for (size_t i = 0; i < h3g_nlimits; i++)
        if (h3g_limits[i].option != NULL && strcmp(h3g_limits[i].option, option) == 0)
            return &h3g_limits[i];
    return NULL;
}

static void store(const struct h3g_limit *l, struct h3g_config *cfg, uint64_t v)
{
    char *field = (char *)cfg + l->offset;
    if (l->width == sizeof(uint64_t)) {
        uint64_t u = v;
        memcpy(field, &u, sizeof(u));
    } else {
        size_t z = (size_t)v;
        memcpy(field, &z, sizeof(z));
    }
}

int h3g_limit_set(const struct h3g_limit *l, struct h3g_config *cfg, const char *text, char *err,
                  size_t errlen)
{
    uint64_t v;
    /* plain numbers are sizes without a unit */
    if (h3g_conf_size(text, &v) != 0 ||
        (l->kind == H3G_LIMIT_COUNT && strspn(text, "0123456789") != strlen(text)) || v < l->min ||
        v > l->max) {
        snprintf(err, errlen, "%s from %llu to %llu",
                 l->kind == H3G_LIMIT_SIZE ? "a size (like 64k, 10m)" : "a whole number",
                 (unsigned long long)l->min, (unsigned long long)l->max);
        return -1;
    }
    store(l, cfg, v);
    return 0;
}

void h3g_limits_defaults(struct h3g_config *cfg)
{
    for (size_t i = 0; i < h3g_nlimits; i++)
        store(&h3g_limits[i], cfg, h3g_limits[i].def);
}
