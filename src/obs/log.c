#include "obs/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "obs/logwriter.h"
#include "obs/metrics.h"

static enum h3g_log_level g_level = H3G_LOG_INFO;
static FILE *g_access;

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

static char g_tag[32]; /* "worker 3: " with several workers */

void h3g_log_set_tag(const char *tag)
{
    snprintf(g_tag, sizeof(g_tag), "%s%s", tag, tag[0] ? ": " : "");
}

/* One write per line: lines of several processes on one file stay whole. */
void h3g_log(enum h3g_log_level lvl, const char *fmt, ...)
{
    static const char *const tags[] = {"error", "warn", "info", "debug"};
    char line[2048];
    va_list ap;
    if (lvl > g_level)
        return;
    fmt_time(line, sizeof(line));
    size_t n = strlen(line);
    n += (size_t)snprintf(line + n, sizeof(line) - n, " [%s] %s", tags[lvl], g_tag);
    va_start(ap, fmt);
    int k = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    n = k < 0 ? n : H3G_MIN(n + (size_t)k, sizeof(line) - 2);
    line[n++] = '\n';
    fflush(stderr);
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w; /* nowhere to report that the error log failed */
}

static char *g_access_path; /* NULL: off or stdout */
static char *g_error_path;  /* NULL: stderr as inherited */
static char *g_line_buf;    /* the line being formatted (g_access is its stream) */
static size_t g_line_len;
static uint64_t g_dropped;
static int g_on; /* lines are wanted (an access log is configured) */

static int open_access(const char *path)
{
    return strcmp(path, "-") == 0 ? dup(STDOUT_FILENO)
                                  : open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

/* Lines are formatted into memory and handed to the writer thread whole
 * (obs/logwriter.h): the event loop never waits for the disk, and lines of
 * several workers on one file never mix.  The new file opens before the old
 * one closes: a path that fails leaves the log where it was. */
/* The writer thread starts with the first file and lives until exit; a
 * reload or a reopen moves it to another file (h3g_logwriter_switch) and
 * turning the log off only stops new lines: nothing waits for a disk. */
static int start_writer(int fd)
{
    if (g_access == NULL)
        g_access = open_memstream(&g_line_buf, &g_line_len);
    if (g_access == NULL) {
        close(fd);
        return H3G_ENOMEM;
    }
    if (h3g_logwriter_running()) {
        h3g_logwriter_switch(fd);
        return 0;
    }
    return h3g_logwriter_start(fd) == 0 ? 0 : H3G_ENOMEM;
}

int h3g_access_log_open(const char *path)
{
    char *copy = NULL;
    if (path == NULL) {
        g_on = 0;
        free(g_access_path);
        g_access_path = NULL;
        return 0;
    }
    copy = strcmp(path, "-") == 0 ? NULL : strdup(path);
    if (copy == NULL && strcmp(path, "-") != 0)
        return H3G_ENOMEM;
    int fd = open_access(path);
    if (fd < 0 || start_writer(fd) != 0) {
        free(copy);
        return H3G_ERR;
    }
    free(g_access_path);
    g_access_path = copy;
    g_on = 1;
    return 0;
}

void h3g_access_log_close(void)
{
    g_on = 0;
    h3g_logwriter_stop();
    if (g_access != NULL)
        fclose(g_access);
    g_access = NULL;
    free(g_line_buf);
    g_line_buf = NULL;
    free(g_access_path);
    g_access_path = NULL;
}

uint64_t h3g_access_log_dropped(void)
{
    return g_dropped;
}

/* The line is done: to the writer, and the buffer starts over. */
static void commit(void)
{
    fflush(g_access);
    if (g_line_len > 0 && h3g_logwriter_push(g_line_buf, g_line_len) != 0 &&
        g_dropped++ % 10000 == 0)
        h3g_warn("access log: the disk does not keep up; %llu line(s) dropped so far",
                 (unsigned long long)g_dropped);
    fseeko(g_access, 0, SEEK_SET);
}

/* stderr itself (fd 2) moves to the file, so OpenSSL's and the sanitizers'
 * messages land there too. */
static int redirect_stderr(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return H3G_ERR;
    fflush(stderr);
    int rc = dup2(fd, STDERR_FILENO) < 0 ? H3G_ERR : 0;
    close(fd);
    return rc;
}

int h3g_error_log_open(const char *path)
{
    if (path == NULL) {
        free(g_error_path); /* stays on the file it has until a restart */
        g_error_path = NULL;
        return 0;
    }
    char *copy = strdup(path);
    if (copy == NULL || redirect_stderr(path) != 0) {
        free(copy);
        return H3G_ERR;
    }
    free(g_error_path);
    g_error_path = copy;
    return 0;
}

int h3g_log_reopen(void)
{
    int rc = 0;
    if (g_error_path != NULL && redirect_stderr(g_error_path) != 0) {
        h3g_err("cannot reopen the error log %s: %s", g_error_path, strerror(errno));
        rc = H3G_ERR;
    }
    if (g_access_path != NULL) {
        int fd = open_access(g_access_path);
        if (fd < 0) {
            h3g_err("cannot reopen the access log %s: %s", g_access_path, strerror(errno));
            rc = H3G_ERR;
        } else {
            h3g_logwriter_switch(fd);
        }
    }
    return rc;
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
    h3g_metrics_request(e);
    if (!g_on)
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
    commit();
}

void h3g_access_log_close_tcp(const struct h3g_tcp_close_entry *e)
{
    char ts[40];
    h3g_metrics_tcp_close(e);
    if (!g_on)
        return;
    fmt_time(ts, sizeof(ts));
    fprintf(g_access,
            "%s close client=%s by=%s error=tcp:%s proto=%s requests=%llu bytes_in=%llu "
            "bytes_out=%llu duration_ms=%.3f\n",
            ts, e->client ? e->client : "-", e->local ? "server" : "client",
            e->error ? e->error : "-", e->protocol ? e->protocol : "-",
            (unsigned long long)e->requests, (unsigned long long)e->bytes_in,
            (unsigned long long)e->bytes_out, (double)e->duration_us / 1000.0);
    commit();
}

void h3g_access_log_close_conn(const struct h3g_close_entry *e)
{
    char ts[40];
    h3g_metrics_quic_close(e);
    if (!g_on)
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
    commit();
}
