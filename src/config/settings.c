/* The settings table (settings.h).  Ranges and defaults: the reasons are in
 * docs/config.md; a few are noted here where the number is not obvious. */
#include "config/settings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "config/conf_parse.h"

#define FIELD(f) offsetof(struct h3g_config, f), sizeof(((struct h3g_config *)0)->f)
#define K 1024ull
#define M (1024ull * 1024)
#define G (1024ull * 1024 * 1024)

#define L "limits"
#define S 1000ull /* milliseconds */

const struct h3g_setting h3g_settings[] = {
    /* QUIC's idle timeout is negotiated; clients rarely accept more than 30 s */
    {"idle_timeout", NULL, "idle-timeout", H3G_SET_DURATION, 0, 30 * S, 30 * S,
     FIELD(idle_timeout_ms)},
    {"drain_timeout", NULL, "drain-timeout", H3G_SET_DURATION, 0, 3600 * S, 10 * S,
     FIELD(drain_timeout_ms)},
    /* nginx's client_header_timeout is 60 s; QUIC needs less */
    {"request_header_timeout", NULL, "request-header-timeout", H3G_SET_DURATION, 0, 3600 * S,
     10 * S, FIELD(header_timeout_ms)},
    {"keepalive_timeout", NULL, "keepalive-timeout", H3G_SET_DURATION, 0, 3600 * S, 60 * S,
     FIELD(keepalive_timeout_ms)},
    /* docs/architecture.md: why 4 */
    {"listen_sockets", NULL, "listen-sockets", H3G_SET_COUNT, 1, 64, 4, FIELD(listen_sockets)},
    {"request_header_size", L, "max-header-size", H3G_SET_SIZE, K, M, 64 * K,
     FIELD(max_field_section_size)},
    {"request_header_fields", L, NULL, H3G_SET_COUNT, 8, 10000, 128, FIELD(max_header_fields)},
    {"request_body_size", L, NULL, H3G_SET_SIZE, 0, UINT64_MAX / 2, 0, FIELD(max_request_body)},
    /* OpenSSL 3.5 grants clients 100 streams */
    {"streams_per_connection", L, NULL, H3G_SET_COUNT, 1, 100, 100, FIELD(max_streams)},
    /* OpenSSL 3.5 keeps ~300 bytes per finished request stream until the
     * connection ends (docs/architecture.md), so connections are recycled, as
     * nginx's keepalive_requests does by default. */
    {"requests_per_connection", L, "max-requests", H3G_SET_COUNT, 0, 1000000000, 1000,
     FIELD(max_requests)},
    {"connections", L, "max-connections", H3G_SET_COUNT, 1, 1000000, 10000, FIELD(max_connections)},
    {"qpack_blocked_streams", L, NULL, H3G_SET_COUNT, 0, 64, 16, FIELD(qpack_blocked_streams)},
    {"send_buffer_per_connection", L, NULL, H3G_SET_SIZE, 64 * K, G, 4 * M,
     FIELD(send_budget_conn)},
    {"send_buffer_per_worker", L, NULL, H3G_SET_SIZE, M, 64 * G, 256 * M,
     FIELD(send_budget_worker)},
    /* ~85 KiB each while in progress (issue 12 note) */
    {"handshakes", L, NULL, H3G_SET_COUNT, 1, 1000000, 1000, FIELD(max_handshakes)},
    /* ~22 KiB per idle connection on the ngtcp2 engine: 10,000 connections fit */
    {"openssl_memory", L, NULL, H3G_SET_SIZE, 0, 1024 * G, G, FIELD(max_openssl_memory)},
    /* HAProxy's tune.quic.retry-threshold */
    {"retry_threshold", L, NULL, H3G_SET_COUNT, 0, 1000000, 100, FIELD(retry_threshold)},
    {"tcp_connections", L, NULL, H3G_SET_COUNT, 1, 1000000, 10000, FIELD(max_tcp_connections)},
    {"tls_handshakes", L, NULL, H3G_SET_COUNT, 1, 1000000, 1000, FIELD(max_tls_handshakes)},
};
const size_t h3g_nsettings = H3G_ARRAY_LEN(h3g_settings);

static int same_block(const char *a, const char *b)
{
    return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

const struct h3g_setting *h3g_setting_by_name(const char *block, const char *name)
{
    for (size_t i = 0; i < h3g_nsettings; i++)
        if (same_block(h3g_settings[i].block, block) && strcmp(h3g_settings[i].name, name) == 0)
            return &h3g_settings[i];
    return NULL;
}

void h3g_settings_names(const char *block, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < h3g_nsettings && off < len; i++)
        if (same_block(h3g_settings[i].block, block))
            off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "",
                                    h3g_settings[i].name);
}

const struct h3g_setting *h3g_setting_by_option(const char *option)
{
    for (size_t i = 0; i < h3g_nsettings; i++)
        if (h3g_settings[i].option != NULL && strcmp(h3g_settings[i].option, option) == 0)
            return &h3g_settings[i];
    return NULL;
}

static void store(const struct h3g_setting *l, struct h3g_config *cfg, uint64_t v)
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

/* A duration, or (the command line's old form) a bare number of seconds
 * with a fraction: 2.5 */
static int parse_duration(const char *text, uint64_t *ms)
{
    char *end;
    if (h3g_conf_duration_ms(text, ms) == 0)
        return 0;
    errno = 0;
    double d = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(d >= 0) || d > 1e12 ||
        strspn(text, "0123456789.") != strlen(text))
        return -1;
    *ms = (uint64_t)(d * 1000.0);
    return 0;
}

int h3g_setting_parse(enum h3g_setting_kind kind, uint64_t min, uint64_t max, const char *text,
                      uint64_t *out, char *err, size_t errlen)
{
    uint64_t v;
    int bad;
    if (kind == H3G_SET_DURATION)
        bad = parse_duration(text, &v) != 0;
    else /* plain numbers are sizes without a unit */
        bad = h3g_conf_size(text, &v) != 0 ||
              (kind == H3G_SET_COUNT && strspn(text, "0123456789") != strlen(text));
    if (bad || v < min || v > max) {
        if (kind == H3G_SET_DURATION)
            snprintf(err, errlen, "a duration up to %llus (like 30s, 500ms, 2m)",
                     (unsigned long long)(max / 1000));
        else
            snprintf(err, errlen, "%s from %llu to %llu",
                     kind == H3G_SET_SIZE ? "a size (like 64k, 10m)" : "a whole number",
                     (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

int h3g_setting_set(const struct h3g_setting *s, struct h3g_config *cfg, const char *text,
                    char *err, size_t errlen)
{
    uint64_t v;
    if (h3g_setting_parse(s->kind, s->min, s->max, text, &v, err, errlen) != 0)
        return -1;
    store(s, cfg, v);
    return 0;
}

void h3g_settings_defaults(struct h3g_config *cfg)
{
    for (size_t i = 0; i < h3g_nsettings; i++)
        store(&h3g_settings[i], cfg, h3g_settings[i].def);
}
