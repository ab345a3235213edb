/* An HTTP request in the form HTTP/2 and HTTP/3 share (pseudo-header fields),
 * validated per RFC 9114 §4.2-4.3 / RFC 9113 §8.2-8.3 (sans-I/O).  The HTTP/1.1
 * front end maps its request line and Host to the same form. */
#ifndef H3G_HTTP_REQUEST_H
#define H3G_HTTP_REQUEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct h3g_field {
    size_t name_off, name_len, value_off, value_len;
};

struct h3g_request {
    /* Set by h3g_request_finish(); point into buf, NUL-terminated. */
    const char *method, *scheme, *authority, *path;
    int64_t content_length; /* -1 when absent */
    const char *error;      /* why the request is malformed, or NULL */
    int early;              /* it came in TLS early data (0-RTT): replayable */
    const char *version;    /* "1.1", "1.0", "2" or "3": the protocol it came in (for Via) */

    /* storage */
    char *buf;
    size_t len, cap;
    struct h3g_field *fields; /* regular fields, in order */
    size_t nfields, capfields;
    ssize_t pseudo[4]; /* field index of :method :scheme :authority :path, -1 */
    int seen_regular;
    int finished;
    size_t max_fields;
};

void h3g_request_init(struct h3g_request *r, size_t max_fields);
void h3g_request_reset(struct h3g_request *r);
/* Adds one field line.  Returns 0, or H3G_EINVAL with r->error set when the
 * request is malformed, or H3G_ELIMIT when max_fields is exceeded. */
int h3g_request_add(struct h3g_request *r, const uint8_t *name, size_t nlen, const uint8_t *value,
                    size_t vlen);
/* Checks what only the whole field section can show (required pseudo-headers,
 * :authority vs Host).  Returns 0 or H3G_EINVAL with r->error set. */
int h3g_request_finish(struct h3g_request *r);

/* Value of the first field with this (lowercase) name, or NULL; *len gets its length. */
const char *h3g_request_header(const struct h3g_request *r, const char *name, size_t *len);
size_t h3g_request_field_count(const struct h3g_request *r);
void h3g_request_field(const struct h3g_request *r, size_t i, const char **name, size_t *nlen,
                       const char **value, size_t *vlen);

#endif
