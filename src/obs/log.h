/* Error log (stderr) with levels, and the access log. */
#ifndef H3G_OBS_LOG_H
#define H3G_OBS_LOG_H

#include <stdint.h>
#include <stdio.h>

enum h3g_log_level { H3G_LOG_ERROR, H3G_LOG_WARN, H3G_LOG_INFO, H3G_LOG_DEBUG };

int h3g_log_level_parse(const char *s, enum h3g_log_level *out);
void h3g_log_set_level(enum h3g_log_level lvl);
/* Prefixes every message (e.g. "worker 2"); "" for none. */
void h3g_log_set_tag(const char *tag);
int h3g_log_enabled(enum h3g_log_level lvl);
void h3g_log(enum h3g_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define h3g_err(...) h3g_log(H3G_LOG_ERROR, __VA_ARGS__)
#define h3g_warn(...) h3g_log(H3G_LOG_WARN, __VA_ARGS__)
#define h3g_info(...) h3g_log(H3G_LOG_INFO, __VA_ARGS__)
#define h3g_debug(...)                                                                             \
    do {                                                                                           \
        if (h3g_log_enabled(H3G_LOG_DEBUG))                                                        \
            h3g_log(H3G_LOG_DEBUG, __VA_ARGS__);                                                   \
    } while (0)

/* Access log: NULL path = disabled, "-" = stdout.  On failure (errno says
 * why) the log stays as it was. */
int h3g_access_log_open(const char *path);
/* Error log: stderr (fd 2) goes to path (NULL: stays where it is). */
int h3g_error_log_open(const char *path);
/* SIGUSR1 (after logrotate moved the files): both logs reopen their paths;
 * a failure is logged and that log stays on its old file. */
int h3g_log_reopen(void);
void h3g_access_log_close(void);
/* Lines the writer could not take (the disk did not keep up). */
uint64_t h3g_access_log_dropped(void);

struct h3g_access_entry {
    const char *client; /* "addr:port" */
    const char *method, *authority, *path;
    int status;          /* 0 when no response was sent */
    uint64_t bytes_sent; /* response body bytes handed to QUIC */
    uint64_t duration_us;
    int64_t stream_id;
    const char *error;    /* NULL, or why the stream ended abnormally */
    const char *note;     /* handler's note (upstream and timings), or NULL */
    int early;            /* the request came in 0-RTT early data */
    const char *protocol; /* "h1", "h2", "h3" */
};
void h3g_access_log_request(const struct h3g_access_entry *e);

struct h3g_close_entry {
    const char *client;
    uint64_t error_code;
    uint64_t frame_type;
    int transport; /* QUIC transport error vs application (HTTP/3) error */
    int local;     /* we closed it */
    int idle;      /* idle timeout */
    const char *reason;
    size_t reason_len;
    uint64_t requests;
    uint64_t duration_us;
};
void h3g_access_log_close_conn(const struct h3g_close_entry *e);

/* A TCP connection's end: error is a word such as "eof", "keepalive_timeout",
 * "reset", "shutdown" (by = who closed first). */
struct h3g_tcp_close_entry {
    const char *client, *protocol, *error;
    int local;
    uint64_t requests, duration_us, bytes_in, bytes_out;
};
void h3g_access_log_close_tcp(const struct h3g_tcp_close_entry *e);

#endif
