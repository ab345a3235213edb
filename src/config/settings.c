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
#define U "upstream"
#define S 1000ull /* milliseconds */
#define OFF H3G_SET_ZERO_OFF
#define UFIELD(f) offsetof(struct h3g_upstream_conf, f), sizeof(((struct h3g_upstream_conf *)0)->f)

const struct h3g_setting h3g_settings[] = {
    /* QUIC's idle timeout is negotiated; clients rarely accept more than 30 s */
    {"idle_timeout", NULL, "idle-timeout", H3G_SET_DURATION, 0, 30 * S, 30 * S, 0,
     FIELD(idle_timeout_ms), "close connections idle this long"},
    {"drain_timeout", NULL, "drain-timeout", H3G_SET_DURATION, 0, 3600 * S, 10 * S, 0,
     FIELD(drain_timeout_ms), "on SIGTERM, let running requests finish this long"},
    /* nginx's client_header_timeout is 60 s; QUIC needs less */
    {"request_header_timeout", NULL, "request-header-timeout", H3G_SET_DURATION, 0, 3600 * S,
     10 * S, OFF, FIELD(header_timeout_ms), "a request's header must arrive within this long"},
    {"keepalive_timeout", NULL, "keepalive-timeout", H3G_SET_DURATION, 0, 3600 * S, 60 * S, 0,
     FIELD(keepalive_timeout_ms),
     "HTTP/1.1 and HTTP/2: close connections idle between requests this long"},
    /* docs/architecture.md: why 4 */
    {"listen_sockets", NULL, "listen-sockets", H3G_SET_COUNT, 1, 64, 4, 0, FIELD(listen_sockets),
     "UDP sockets (QUIC listeners) per listen address and worker"},
    {"request_header_size", L, "max-header-size", H3G_SET_SIZE, K, M, 64 * K, 0,
     FIELD(max_field_section_size), "largest request field section"},
    {"request_header_fields", L, NULL, H3G_SET_COUNT, 8, 10000, 128, 0, FIELD(max_header_fields),
     NULL},
    {"request_body_size", L, NULL, H3G_SET_SIZE, 0, UINT64_MAX / 2, 0, OFF, FIELD(max_request_body),
     NULL},
    /* OpenSSL 3.5 grants clients 100 streams */
    {"streams_per_connection", L, NULL, H3G_SET_COUNT, 1, 100, 100, 0, FIELD(max_streams), NULL},
    /* OpenSSL 3.5 keeps ~300 bytes per finished request stream until the
     * connection ends (docs/architecture.md), so connections are recycled, as
     * nginx's keepalive_requests does by default. */
    {"requests_per_connection", L, "max-requests", H3G_SET_COUNT, 0, 1000000000, 1000, OFF,
     FIELD(max_requests), "requests per connection, then GOAWAY"},
    {"connections", L, "max-connections", H3G_SET_COUNT, 1, 1000000, 10000, 0,
     FIELD(max_connections), "refuse handshakes beyond this many QUIC connections"},
    {"qpack_blocked_streams", L, NULL, H3G_SET_COUNT, 0, 64, 16, 0, FIELD(qpack_blocked_streams),
     NULL},
    {"send_buffer_per_connection", L, NULL, H3G_SET_SIZE, 64 * K, G, 4 * M, 0,
     FIELD(send_budget_conn), NULL},
    {"send_buffer_per_worker", L, NULL, H3G_SET_SIZE, M, 64 * G, 256 * M, 0,
     FIELD(send_budget_worker), NULL},
    /* ~85 KiB each while in progress (issue 12 note) */
    {"handshakes", L, NULL, H3G_SET_COUNT, 1, 1000000, 1000, 0, FIELD(max_handshakes), NULL},
    /* ~22 KiB per idle connection on the ngtcp2 engine: 10,000 connections fit */
    {"openssl_memory", L, NULL, H3G_SET_SIZE, 0, 1024 * G, G, OFF, FIELD(max_openssl_memory), NULL},
    /* HAProxy's tune.quic.retry-threshold */
    {"retry_threshold", L, NULL, H3G_SET_COUNT, 0, 1000000, 100, 0, FIELD(retry_threshold), NULL},
    {"tcp_connections", L, NULL, H3G_SET_COUNT, 1, 1000000, 10000, 0, FIELD(max_tcp_connections),
     NULL},
    {"tls_handshakes", L, NULL, H3G_SET_COUNT, 1, 1000000, 1000, 0, FIELD(max_tls_handshakes),
     NULL},
    /* upstream NAME { }: nginx's proxy_connect_timeout and proxy_read_timeout are 60 s; an
     * origin on the same network connects in far less */
    {"connect_timeout", U, NULL, H3G_SET_DURATION, 0, 3600 * S, 5 * S, 0,
     UFIELD(connect_timeout_ms), NULL},
    {"header_timeout", U, NULL, H3G_SET_DURATION, 0, 3600 * S, 60 * S, 0, UFIELD(header_timeout_ms),
     NULL},
    {"idle_timeout", U, NULL, H3G_SET_DURATION, 0, 3600 * S, 60 * S, 0, UFIELD(idle_timeout_ms),
     NULL},
    {"request_timeout", U, NULL, H3G_SET_DURATION, 0, 86400 * S, 0, OFF, UFIELD(request_timeout_ms),
     NULL},
    {"fail_timeout", U, NULL, H3G_SET_DURATION, 0, 3600 * S, 10 * S, 0, UFIELD(fail_timeout_ms),
     NULL},
    /* nginx's keepalive has no default; HAProxy pools without a bound */
    {"keepalive", U, NULL, H3G_SET_COUNT, 0, 64, 32, 0, UFIELD(max_idle), NULL},
    {"max_connections", U, NULL, H3G_SET_COUNT, 0, 100000, 0, OFF, UFIELD(max_connections), NULL},
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

static void store(const struct h3g_setting *l, void *base, uint64_t v)
{
    char *field = (char *)base + l->offset;
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
        char hi[32];
        h3g_setting_format(kind, max, hi, sizeof(hi));
        if (kind == H3G_SET_DURATION)
            snprintf(err, errlen, "a duration up to %s (like 30s, 500ms, 2m)", hi);
        else
            snprintf(err, errlen, "%s from %llu to %llu",
                     kind == H3G_SET_SIZE ? "a size (like 64k, 10m)" : "a whole number",
                     (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

int h3g_setting_set(const struct h3g_setting *s, void *base, const char *text, char *err,
                    size_t errlen)
{
    uint64_t v;
    if (h3g_setting_parse(s->kind, s->min, s->max, text, &v, err, errlen) != 0)
        return -1;
    store(s, base, v);
    return 0;
}

static int of_upstream(const struct h3g_setting *s)
{
    return s->block != NULL && strcmp(s->block, U) == 0;
}

void h3g_settings_defaults(const char *block, void *base)
{
    int upstream = block != NULL && strcmp(block, U) == 0;
    for (size_t i = 0; i < h3g_nsettings; i++)
        if (of_upstream(&h3g_settings[i]) == upstream)
            store(&h3g_settings[i], base, h3g_settings[i].def);
}

void h3g_setting_format(enum h3g_setting_kind kind, uint64_t v, char *buf, size_t len)
{
    static const struct {
        char unit;
        uint64_t n;
    } sizes[] = {{'t', 1024 * G}, {'g', G}, {'m', M}, {'k', K}},
      times[] = {{'h', 3600 * S}, {'s', S}};
    unsigned long long u = v;
    if (v != 0 && kind == H3G_SET_SIZE) {
        for (size_t i = 0; i < H3G_ARRAY_LEN(sizes); i++)
            if (v % sizes[i].n == 0) {
                snprintf(buf, len, "%llu%c", u / sizes[i].n, sizes[i].unit);
                return;
            }
    } else if (v != 0 && kind == H3G_SET_DURATION) {
        for (size_t i = 0; i < H3G_ARRAY_LEN(times); i++)
            if (v % times[i].n == 0) {
                snprintf(buf, len, "%llu%c", u / times[i].n, times[i].unit);
                return;
            }
        snprintf(buf, len, "%llums", u);
        return;
    }
    snprintf(buf, len, "%llu", u);
}

static const char *kind_name(enum h3g_setting_kind k)
{
    return k == H3G_SET_SIZE ? "size" : k == H3G_SET_DURATION ? "duration" : "count";
}

/* "none" for a limit that 0 turns off; "-" for a bound there is not. */
static void value_text(const struct h3g_setting *s, uint64_t v, char *buf, size_t len)
{
    if (v == 0 && (s->flags & H3G_SET_ZERO_OFF))
        snprintf(buf, len, "none");
    else if (v >= UINT64_MAX / 2)
        snprintf(buf, len, "-");
    else
        h3g_setting_format(s->kind, v, buf, len);
}

/* --help's layout: the option in two spaces, its text from column 26,
 * wrapped at 79; an option too long for its column has a line of its own. */
static void usage_row(FILE *f, const char *head, const char *text)
{
    enum { COL = 26, WIDTH = 79 };
    int col = fprintf(f, "  %s", head);
    if (col >= COL - 1) {
        fputc('\n', f);
        col = 0;
    }
    while (*text != '\0') {
        size_t room = (size_t)(WIDTH - COL), n = strlen(text);
        if (n > room) { /* the last space that fits */
            n = room;
            while (n > 0 && text[n] != ' ')
                n--;
            if (n == 0)
                n = strcspn(text, " ");
        }
        fprintf(f, "%*s%.*s\n", COL - col, "", (int)n, text);
        col = 0;
        text += n;
        text += *text == ' ';
    }
}

void h3g_settings_usage(FILE *f)
{
    static const char *const arg[] = {"N", "BYTES", "SECONDS"};
    for (size_t i = 0; i < h3g_nsettings; i++) {
        const struct h3g_setting *s = &h3g_settings[i];
        char head[64], def[32], max[32], text[256];
        if (s->option == NULL)
            continue;
        snprintf(head, sizeof(head), "--%s %s", s->option, arg[s->kind]);
        value_text(s, s->def, def, sizeof(def));
        h3g_setting_format(s->kind, s->max, max, sizeof(max));
        snprintf(text, sizeof(text), "%s (default %s, at most %s%s)", s->help, def, max,
                 s->flags & H3G_SET_ZERO_OFF ? "; 0 = none" : "");
        usage_row(f, head, text);
    }
}

void h3g_settings_print(FILE *f)
{
    fprintf(f, "# %-26s %-8s %-8s %-16s %s\n", "setting", "context", "kind", "range", "default");
    for (size_t i = 0; i < h3g_nsettings; i++) {
        const struct h3g_setting *s = &h3g_settings[i];
        char range[64], lo[24], hi[24], def[24];
        h3g_setting_format(s->kind, s->min, lo, sizeof(lo));
        value_text(s, s->max, hi, sizeof(hi));
        snprintf(range, sizeof(range), "%s..%s", lo, hi);
        value_text(s, s->def, def, sizeof(def));
        fprintf(f, "%-28s %-8s %-8s %-16s %s\n", s->name, s->block ? s->block : "top",
                kind_name(s->kind), range, def);
    }
}
