#include "http/request.h"

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "common.h"

enum { P_METHOD, P_SCHEME, P_AUTHORITY, P_PATH };

void h3g_request_init(struct h3g_request *r, size_t max_fields)
{
    memset(r, 0, sizeof(*r));
    r->content_length = -1;
    r->max_fields = max_fields;
    for (int i = 0; i < 4; i++)
        r->pseudo[i] = -1;
}

void h3g_request_reset(struct h3g_request *r)
{
    free(r->buf);
    free(r->fields);
    h3g_request_init(r, r->max_fields);
}

static int fail(struct h3g_request *r, const char *why)
{
    if (r->error == NULL)
        r->error = why;
    return H3G_EINVAL;
}

/* RFC 9110 token characters, lowercase only (RFC 9114 §4.2). */
static int is_name_char(uint8_t c)
{
    if (c >= 'a' && c <= 'z')
        return 1;
    if (c >= '0' && c <= '9')
        return 1;
    return strchr("!#$%&'*+-.^_`|~", c) != NULL && c != 0;
}

static int valid_value(const uint8_t *v, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (v[i] == 0 || v[i] == '\r' || v[i] == '\n')
            return 0;
    return 1;
}

static int eq(const uint8_t *a, size_t alen, const char *lit)
{
    size_t n = strlen(lit);
    return alen == n && memcmp(a, lit, n) == 0;
}

/* Appends bytes plus a NUL; returns the offset. */
static ssize_t store(struct h3g_request *r, const uint8_t *p, size_t n)
{
    size_t need = r->len + n + 1;
    if (need > r->cap) {
        size_t cap = r->cap ? r->cap : 512;
        while (cap < need)
            cap *= 2;
        char *b = realloc(r->buf, cap);
        if (b == NULL)
            return -1;
        r->buf = b;
        r->cap = cap;
    }
    size_t off = r->len;
    if (n > 0)
        memcpy(r->buf + off, p, n);
    r->buf[off + n] = '\0';
    r->len = need;
    return (ssize_t)off;
}

static int parse_content_length(struct h3g_request *r, const uint8_t *v, size_t len)
{
    uint64_t n = 0;
    if (len == 0 || len > 19)
        return fail(r, "invalid content-length");
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return fail(r, "invalid content-length");
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    if (r->content_length >= 0 && (uint64_t)r->content_length != n)
        return fail(r, "conflicting content-length");
    r->content_length = (int64_t)n;
    return 0;
}

int h3g_request_add(struct h3g_request *r, const uint8_t *name, size_t nlen, const uint8_t *value,
                    size_t vlen)
{
    size_t i;
    if (r->error != NULL)
        return H3G_EINVAL;
    if (nlen == 0)
        return fail(r, "empty field name");
    if (!valid_value(value, vlen))
        return fail(r, "field value contains NUL, CR or LF");

    if (name[0] == ':') {
        static const char *const pseudo[] = {":method", ":scheme", ":authority", ":path"};
        int which = -1;
        if (r->seen_regular)
            return fail(r, "pseudo-header after regular field");
        for (i = 0; i < 4; i++)
            if (eq(name, nlen, pseudo[i]))
                which = (int)i;
        if (which < 0)
            return fail(r, "unknown pseudo-header");
        if (r->pseudo[which] >= 0)
            return fail(r, "duplicate pseudo-header");
        if (vlen == 0 && which != P_AUTHORITY)
            return fail(r, "empty pseudo-header");
        ssize_t off = store(r, value, vlen);
        if (off < 0)
            return H3G_ENOMEM;
        r->pseudo[which] = off;
        return 0;
    }

    r->seen_regular = 1;
    for (i = 0; i < nlen; i++) {
        if (name[i] >= 'A' && name[i] <= 'Z')
            return fail(r, "uppercase field name");
        if (!is_name_char(name[i]))
            return fail(r, "invalid character in field name");
    }
    /* Connection-specific fields are malformed in HTTP/3 (RFC 9114 §4.2). */
    if (eq(name, nlen, "connection") || eq(name, nlen, "keep-alive") ||
        eq(name, nlen, "proxy-connection") || eq(name, nlen, "transfer-encoding") ||
        eq(name, nlen, "upgrade"))
        return fail(r, "connection-specific field");
    if (eq(name, nlen, "te") && !eq(value, vlen, "trailers"))
        return fail(r, "te other than trailers");
    if (eq(name, nlen, "content-length") && parse_content_length(r, value, vlen) != 0)
        return H3G_EINVAL;
    if (r->nfields == r->max_fields && r->max_fields > 0)
        return H3G_ELIMIT;
    if (r->nfields == r->capfields) {
        size_t cap = r->capfields ? r->capfields * 2 : 16;
        struct h3g_field *f = realloc(r->fields, cap * sizeof(*f));
        if (f == NULL)
            return H3G_ENOMEM;
        r->fields = f;
        r->capfields = cap;
    }
    ssize_t noff = store(r, name, nlen);
    ssize_t voff = noff < 0 ? -1 : store(r, value, vlen);
    if (voff < 0)
        return H3G_ENOMEM;
    r->fields[r->nfields].name_off = (size_t)noff;
    r->fields[r->nfields].name_len = nlen;
    r->fields[r->nfields].value_off = (size_t)voff;
    r->fields[r->nfields].value_len = vlen;
    r->nfields++;
    return 0;
}

const char *h3g_request_header(const struct h3g_request *r, const char *name, size_t *len)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->nfields; i++) {
        const struct h3g_field *f = &r->fields[i];
        if (f->name_len == n && memcmp(r->buf + f->name_off, name, n) == 0) {
            if (len != NULL)
                *len = f->value_len;
            return r->buf + f->value_off;
        }
    }
    return NULL;
}

size_t h3g_request_field_count(const struct h3g_request *r)
{
    return r->nfields;
}

void h3g_request_field(const struct h3g_request *r, size_t i, const char **name, size_t *nlen,
                       const char **value, size_t *vlen)
{
    const struct h3g_field *f = &r->fields[i];
    *name = r->buf + f->name_off;
    *nlen = f->name_len;
    *value = r->buf + f->value_off;
    *vlen = f->value_len;
}

int h3g_request_finish(struct h3g_request *r)
{
    const char *host;
    size_t hostlen = 0;
    if (r->error != NULL)
        return H3G_EINVAL;
    r->finished = 1;
    r->method = r->pseudo[P_METHOD] >= 0 ? r->buf + r->pseudo[P_METHOD] : NULL;
    r->scheme = r->pseudo[P_SCHEME] >= 0 ? r->buf + r->pseudo[P_SCHEME] : NULL;
    r->authority = r->pseudo[P_AUTHORITY] >= 0 ? r->buf + r->pseudo[P_AUTHORITY] : NULL;
    r->path = r->pseudo[P_PATH] >= 0 ? r->buf + r->pseudo[P_PATH] : NULL;
    if (r->method == NULL)
        return fail(r, "missing :method");
    for (const char *p = r->method; *p; p++)
        if (!is_name_char((uint8_t)*p) && !(*p >= 'A' && *p <= 'Z'))
            return fail(r, "invalid :method");
    if (strcmp(r->method, "CONNECT") == 0) {
        /* Plain CONNECT: only :method and :authority (RFC 9114 §4.4). */
        if (r->scheme != NULL || r->path != NULL)
            return fail(r, ":scheme or :path in CONNECT");
        if (r->authority == NULL || r->authority[0] == '\0')
            return fail(r, "missing :authority in CONNECT");
        return 0;
    }
    if (r->scheme == NULL)
        return fail(r, "missing :scheme");
    if (r->path == NULL)
        return fail(r, "missing :path");
    if (r->path[0] != '/' && !(strcmp(r->path, "*") == 0 && strcmp(r->method, "OPTIONS") == 0))
        return fail(r, "invalid :path");
    for (const char *p = r->path; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f)
            return fail(r, "invalid character in :path");
    host = h3g_request_header(r, "host", &hostlen);
    if (strcmp(r->scheme, "http") == 0 || strcmp(r->scheme, "https") == 0) {
        if ((r->authority == NULL || r->authority[0] == '\0') && (host == NULL || hostlen == 0))
            return fail(r, "missing :authority and host");
        if (r->authority != NULL && r->authority[0] == '\0')
            return fail(r, "empty :authority");
        if (r->authority != NULL && host != NULL &&
            (strlen(r->authority) != hostlen || memcmp(r->authority, host, hostlen) != 0))
            return fail(r, ":authority and host differ");
    }
    if (r->authority == NULL && host != NULL)
        r->authority = host;
    return 0;
}
