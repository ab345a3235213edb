#include "obs/log.h"

#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "common.h"

static enum h3g_log_level g_level = H3G_LOG_INFO;
static FILE *g_access;
static int g_access_owned;

int h3g_log_level_parse(const char *s, enum h3g_log_level *out)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (size_t i = 0; i < H3G_ARRAY_LEN(names); i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum h3g_log_level)i;
            return 0;
        }
    }
    return H3G_EINVAL;
}

void h3g_log_set_level(enum h3g_log_level lvl)
{
    g_level = lvl;
}

int h3g_log_enabled(enum h3g_log_level lvl)
{
    return lvl <= g_level;
}

static void fmt_time(char *buf, size_t len)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03dZ", (int)(tv.tv_usec / 1000));
}

void h3g_log(enum h3g_log_level lvl, const char *fmt, ...)
{
    static const char *const tags[] = {"error", "warn", "info", "debug"};
    char ts[40];
    va_list ap;
    if (lvl > g_level)
        return;
    fmt_time(ts, sizeof(ts));
    fprintf(stderr, "%s [%s] ", ts, tags[lvl]);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int h3g_access_log_open(const char *path)
{
    h3g_access_log_close();
    if (path == NULL)
        return 0;
    if (strcmp(path, "-") == 0) {
        g_access = stdout;
        g_access_owned = 0;
        return 0;
    }
    g_access = fopen(path, "ae");
    if (g_access == NULL)
        return H3G_ERR;
    g_access_owned = 1;
    return 0;
}

void h3g_access_log_close(void)
{
    if (g_access != NULL && g_access_owned)
        fclose(g_access);
    else if (g_access != NULL)
        fflush(g_access);
    g_access = NULL;
}

void h3g_access_log_flush(void)
{
    if (g_access != NULL)
        fflush(g_access);
}

/* Writes s with control characters, quotes and backslashes escaped, so a peer
 * cannot forge log lines. */
static void put_escaped(FILE *f, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
}

static void put_field(FILE *f, const char *s)
{
    fputc('"', f);
    if (s != NULL)
        put_escaped(f, s, strlen(s));
    else
        fputc('-', f);
    fputc('"', f);
}

void h3g_access_log_request(const struct h3g_access_entry *e)
{
    char ts[40];
    if (g_access == NULL)
        return;
    fmt_time(ts, sizeof(ts));
    fprintf(g_access, "%s request client=%s stream=%lld ", ts, e->client ? e->client : "-",
            (long long)e->stream_id);
    fputs("method=", g_access);
    put_field(g_access, e->method);
    fputs(" authority=", g_access);
    put_field(g_access, e->authority);
    fputs(" path=", g_access);
    put_field(g_access, e->path);
    if (e->status > 0)
        fprintf(g_access, " status=%d", e->status);
    else
        fputs(" status=-", g_access);
    fprintf(g_access, " bytes=%llu duration_ms=%.3f proto=%s", (unsigned long long)e->bytes_sent,
            (double)e->duration_us / 1000.0, e->protocol ? e->protocol : "h3");
    if (e->early)
        fputs(" early=1", g_access);
    if (e->error != NULL)
        fprintf(g_access, " error=%s", e->error);
    if (e->note != NULL) {
        fputc(' ', g_access);
        put_escaped(g_access, e->note, strlen(e->note));
    }
    fputc('\n', g_access);
    fflush(g_access);
}

void h3g_access_log_close_tcp(const struct h3g_tcp_close_entry *e)
{
    char ts[40];
    if (g_access == NULL)
        return;
    fmt_time(ts, sizeof(ts));
    fprintf(g_access,
            "%s close client=%s by=%s error=tcp:%s proto=%s requests=%llu bytes_in=%llu "
            "bytes_out=%llu duration_ms=%.3f\n",
            ts, e->client ? e->client : "-", e->local ? "server" : "client",
            e->error ? e->error : "-", e->protocol ? e->protocol : "-",
            (unsigned long long)e->requests, (unsigned long long)e->bytes_in,
            (unsigned long long)e->bytes_out, (double)e->duration_us / 1000.0);
    fflush(g_access);
}

void h3g_access_log_close_conn(const struct h3g_close_entry *e)
{
    char ts[40];
    if (g_access == NULL)
        return;
    fmt_time(ts, sizeof(ts));
    fprintf(g_access, "%s close client=%s by=%s ", ts, e->client ? e->client : "-",
            e->local ? "server" : "client");
    if (e->idle) {
        fputs("error=idle_timeout", g_access);
    } else {
        const char *name = e->transport ? NULL : h3g_h3_error_name(e->error_code);
        fprintf(g_access, "error=%s:0x%llx", e->transport ? "quic" : "h3",
                (unsigned long long)e->error_code);
        if (name != NULL)
            fprintf(g_access, "(%s)", name);
    }
    fprintf(g_access, " frame_type=0x%llx reason=\"", (unsigned long long)e->frame_type);
    if (e->reason != NULL)
        put_escaped(g_access, e->reason, e->reason_len);
    fprintf(g_access, "\" requests=%llu duration_ms=%.3f\n", (unsigned long long)e->requests,
            (double)e->duration_us / 1000.0);
    fflush(g_access);
}
