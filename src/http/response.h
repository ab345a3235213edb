/* A response a handler builds; the HTTP/3 layer sends it.  Handlers never see
 * nghttp3 or OpenSSL types. */
#ifndef H3G_HTTP_RESPONSE_H
#define H3G_HTTP_RESPONSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* SOURCE: bytes come from the handler's h3g_exchange_ops.response_body. */
enum h3g_body_kind { H3G_BODY_NONE, H3G_BODY_MEM, H3G_BODY_FILE, H3G_BODY_SOURCE };

struct h3g_body {
    enum h3g_body_kind kind;
    int fd;                  /* FILE: owned, closed by h3g_body_close... */
    void (*release)(void *); /* ...unless set: then called with file instead */
    void *file;
    const uint8_t *data; /* FILE: its bytes in memory (valid until release), or NULL */
    uint64_t offset;     /* FILE: next byte to read */
    uint64_t remaining;  /* bytes still to deliver (SOURCE: UINT64_MAX if unknown) */
    char *mem;           /* MEM: owned */
    size_t mem_off;
};

struct h3g_response {
    int status;
    char *buf; /* "name\0value\0" pairs */
    size_t len, cap;
    size_t nheaders;
    struct h3g_body body;
};

void h3g_response_init(struct h3g_response *r);
void h3g_response_free(struct h3g_response *r);
int h3g_response_add(struct h3g_response *r, const char *name, const char *value);
int h3g_response_addf(struct h3g_response *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Iterates headers: *pos starts at 0; returns 0 at the end. */
int h3g_response_next(const struct h3g_response *r, size_t *pos, const char **name,
                      const char **value);
/* A small HTML error body with content-type and content-length. */
int h3g_response_error(struct h3g_response *r, int status);
const char *h3g_status_reason(int status);

/* Reads up to cap body bytes.  Returns the count (0 = end of body) or a
 * negative code: the source failed or ended before its announced length. */
ssize_t h3g_body_read(struct h3g_body *b, uint8_t *buf, size_t cap);
void h3g_body_close(struct h3g_body *b);

#endif
