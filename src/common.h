/* Shared definitions for every h3gate component. */
#ifndef H3G_COMMON_H
#define H3G_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define H3G_VERSION "0.1.0"

/* Error codes: negative, one namespace for the whole server. */
enum {
    H3G_OK = 0,
    H3G_ERR = -1, /* generic failure, details logged where it happened */
    H3G_ENOMEM = -2,
    H3G_EAGAIN = -3, /* try again later (would block) */
    H3G_EINVAL = -4,
    H3G_ENOTFOUND = -5,
    H3G_ELIMIT = -6, /* a configured or protocol limit was hit */
    H3G_ECLOSED = -7,
};

/* HTTP/3 error codes (RFC 9114 §8.1). */
enum {
    H3G_H3_NO_ERROR = 0x100,
    H3G_H3_GENERAL_PROTOCOL_ERROR = 0x101,
    H3G_H3_INTERNAL_ERROR = 0x102,
    H3G_H3_STREAM_CREATION_ERROR = 0x103,
    H3G_H3_CLOSED_CRITICAL_STREAM = 0x104,
    H3G_H3_FRAME_UNEXPECTED = 0x105,
    H3G_H3_FRAME_ERROR = 0x106,
    H3G_H3_EXCESSIVE_LOAD = 0x107,
    H3G_H3_ID_ERROR = 0x108,
    H3G_H3_SETTINGS_ERROR = 0x109,
    H3G_H3_MISSING_SETTINGS = 0x10a,
    H3G_H3_REQUEST_REJECTED = 0x10b,
    H3G_H3_REQUEST_CANCELLED = 0x10c,
    H3G_H3_REQUEST_INCOMPLETE = 0x10d,
    H3G_H3_MESSAGE_ERROR = 0x10e,
    H3G_H3_CONNECT_ERROR = 0x10f,
    H3G_H3_VERSION_FALLBACK = 0x110,
};

const char *h3g_h3_error_name(uint64_t code);

/* Makes *buf hold at least need bytes, doubling from first; *cap follows.
 * Returns 0 or H3G_ENOMEM (the buffer is unchanged then). */
int h3g_reserve(void **buf, size_t *cap, size_t need, size_t first);

struct sockaddr;
/* "addr:port" or "[addr]:port". */
void h3g_sockaddr_format(const struct sockaddr *sa, char *buf, size_t len);
unsigned h3g_sockaddr_port(const struct sockaddr *sa);
/* The start of a small file (a /proc entry, a pid file) as a string: its
 * length, or -1 when it cannot be read. */
ssize_t h3g_read_text(const char *path, char *buf, size_t len);

#define H3G_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define H3G_MIN(a, b) ((a) < (b) ? (a) : (b))
#define H3G_MAX(a, b) ((a) > (b) ? (a) : (b))
#define H3G_UNUSED(x) ((void)(x))

/* Monotonic clock in milliseconds / microseconds. */
uint64_t h3g_now_ms(void);
uint64_t h3g_now_us(void);

#endif
