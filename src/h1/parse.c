#include "h1/parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"

#define MAX_URL 8192

static struct h3g_h1_parser *P(llhttp_t *ll)
{
    return (struct h3g_h1_parser *)ll->data;
}

/* Fails the message with an HTTP status; llhttp stops with HPE_USER. */
static int reject(struct h3g_h1_parser *p, int status, const char *why)
{
    if (p->status == 0) {
        p->status = status;
        p->error = why;
    }
    return HPE_USER;
}

static int append(struct h3g_h1_parser *p, const char *at, size_t len, int lower)
{
    if (h3g_reserve((void **)&p->scratch, &p->scap, p->slen + len + 1, 1024) != 0)
        return H3G_ENOMEM;
    for (size_t i = 0; i < len; i++) {
        char ch = at[i];
        p->scratch[p->slen++] = lower && ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
    }
    return 0;
}

static int count_head(struct h3g_h1_parser *p, size_t len)
{
    p->head_bytes += len;
    if (p->head_bytes > p->max_head)
        return reject(p, 431, "request header fields too large");
    return 0;
}

static int on_message_begin(llhttp_t *ll)
{
    struct h3g_h1_parser *p = P(ll);
    p->in_head = 1;
    p->in_msg = 1;
    p->head_bytes = 0;
    p->slen = 0;
    p->nfields = 0;
    p->in_value = 0;
    p->seen_host = 0;
    memset(&p->head, 0, sizeof(p->head));
    h3g_request_reset(&p->req);
    /* responses have no target: an empty one keeps the scratch layout */
    return p->response && append(p, "", 1, 0) != 0 ? reject(p, 500, "out of memory") : 0;
}

static int on_url(llhttp_t *ll, const char *at, size_t len)
{
    struct h3g_h1_parser *p = P(ll);
    /* the target has its own bound (414); the head's counts the fields */
    if (p->slen + len > MAX_URL)
        return reject(p, 414, "request target too long");
    return append(p, at, len, 0) == 0 ? 0 : reject(p, 500, "out of memory");
}

static int on_url_complete(llhttp_t *ll)
{
    struct h3g_h1_parser *p = P(ll);
    return append(p, "", 1, 0) == 0 ? 0 : reject(p, 500, "out of memory");
}

static int on_header_field(llhttp_t *ll, const char *at, size_t len)
{
    struct h3g_h1_parser *p = P(ll);
    if (count_head(p, len) != 0)
        return HPE_USER;
    return append(p, at, len, 1) == 0 ? 0 : reject(p, 500, "out of memory");
}

static int on_header_field_complete(llhttp_t *ll)
{
    struct h3g_h1_parser *p = P(ll);
    p->in_value = 1;
    /* ": " and CRLF, about what a field costs in the head */
    if (count_head(p, 4) != 0)
        return HPE_USER;
    return append(p, "", 1, 0) == 0 ? 0 : reject(p, 500, "out of memory");
}

static int on_header_value(llhttp_t *ll, const char *at, size_t len)
{
    struct h3g_h1_parser *p = P(ll);
    if (count_head(p, len) != 0)
        return HPE_USER;
    return append(p, at, len, 0) == 0 ? 0 : reject(p, 500, "out of memory");
}

static int on_header_value_complete(llhttp_t *ll)
{
    struct h3g_h1_parser *p = P(ll);
    /* trailing whitespace is not part of the value (RFC 9110 §5.5) */
    while (p->slen > 0 && (p->scratch[p->slen - 1] == ' ' || p->scratch[p->slen - 1] == '\t'))
        p->slen--;
    if (append(p, "", 1, 0) != 0)
        return reject(p, 500, "out of memory");
    p->in_value = 0;
    if (++p->nfields > p->max_fields && p->max_fields > 0)
        return reject(p, 431, "too many request header fields");
    return 0;
}

/* Splits the request target into :authority and :path (RFC 9112 §3.2). */
static int target(struct h3g_h1_parser *p, const char *url, const char *method, const char **auth,
                  size_t *authlen, const char **path)
{
    *auth = NULL;
    *authlen = 0;
    *path = url;
    if (strcmp(method, "CONNECT") == 0) {
        *auth = url;
        *authlen = strlen(url);
        *path = NULL;
        return 0;
    }
    if (url[0] == '/' || strcmp(url, "*") == 0)
        return 0;
    if (strncasecmp(url, "https://", 8) != 0 && strncasecmp(url, "http://", 7) != 0)
        return reject(p, 400, "invalid request target");
    /* absolute-form: its authority replaces Host */
    const char *a = strstr(url, "://") + 3;
    const char *slash = strchr(a, '/');
    *auth = a;
    *authlen = slash != NULL ? (size_t)(slash - a) : strlen(a);
    *path = slash != NULL ? slash : "/";
    if (*authlen == 0)
        return reject(p, 400, "empty authority in the request target");
    return 0;
}

static int add(struct h3g_h1_parser *p, const char *name, const char *value, size_t vlen)
{
    int rv =
        h3g_request_add(&p->req, (const uint8_t *)name, strlen(name), (const uint8_t *)value, vlen);
    if (rv == H3G_ELIMIT)
        return reject(p, 431, "too many request header fields");
    if (rv != 0)
        return reject(p, 400, p->req.error ? p->req.error : "invalid request");
    return 0;
}

/* Per field: what HTTP/1.1's own framing and hop-by-hop fields become.
 * Returns 1 to pass the field on, 0 to drop it, or -1 (rejected). */
static int classify(struct h3g_h1_parser *p, const char *name, const char *value)
{
    if (strcmp(name, "host") == 0) {
        if (p->seen_host++) {
            reject(p, 400, "more than one Host");
            return -1;
        }
        return 0;
    }
    if (strcmp(name, "expect") == 0) {
        if (strcasecmp(value, "100-continue") != 0) {
            reject(p, 417, "unsupported expectation");
            return -1;
        }
        p->head.expect_continue = 1;
        return 0;
    }
    if (strcmp(name, "te") == 0)
        return strcasecmp(value, "trailers") == 0;
    if (strcmp(name, "transfer-encoding") == 0 && strcasecmp(value, "chunked") != 0) {
        /* only chunked is understood (RFC 9112 §6.1) */
        reject(p, 501, "unsupported transfer coding");
        return -1;
    }
    return strcmp(name, "connection") != 0 && strcmp(name, "keep-alive") != 0 &&
           strcmp(name, "proxy-connection") != 0 && strcmp(name, "transfer-encoding") != 0 &&
           strcmp(name, "upgrade") != 0 && strcmp(name, "http2-settings") != 0;
}

int h3g_h1_field_next(const struct h3g_h1_parser *p, size_t *pos, const char **name,
                      const char **value)
{
    /* the scratch holds the target, then "name\0value\0" per field */
    size_t off = *pos != 0 ? *pos : strlen(p->scratch) + 1;
    if (off >= p->slen)
        return 0;
    *name = p->scratch + off;
    *value = *name + strlen(*name) + 1;
    *pos = (size_t)(*value - p->scratch) + strlen(*value) + 1;
    return 1;
}

static const char *field_value(const struct h3g_h1_parser *p, const char *want)
{
    const char *n, *v;
    size_t pos = 0;
    while (h3g_h1_field_next(p, &pos, &n, &v))
        if (strcmp(n, want) == 0)
            return v;
    return NULL;
}

static int build_request(struct h3g_h1_parser *p)
{
    const char *method = llhttp_method_name((llhttp_method_t)llhttp_get_method(&p->ll));
    const char *url = p->scratch, *auth, *path, *host, *n, *v;
    size_t authlen, pos = 0;
    if (target(p, url, method, &auth, &authlen, &path) != 0)
        return HPE_USER;
    host = field_value(p, "host");
    if (auth == NULL && host != NULL) {
        auth = host;
        authlen = strlen(host);
    }
    if (auth == NULL)
        return reject(p, 400, "missing Host"); /* RFC 9112 §3.2 */
    if (add(p, ":method", method, strlen(method)) != 0 ||
        (path != NULL && add(p, ":scheme", p->scheme, strlen(p->scheme)) != 0) ||
        (auth != NULL && add(p, ":authority", auth, authlen) != 0) ||
        (path != NULL && add(p, ":path", path, strlen(path)) != 0))
        return HPE_USER;
    while (h3g_h1_field_next(p, &pos, &n, &v)) {
        int keep = classify(p, n, v);
        if (keep < 0)
            return HPE_USER;
        if (keep && add(p, n, v, strlen(v)) != 0)
            return HPE_USER;
    }
    if (h3g_request_finish(&p->req) != 0)
        return reject(p, 400, p->req.error);
    return 0;
}

int h3g_h1_keep_alive(const struct h3g_h1_parser *p)
{
    return llhttp_should_keep_alive(&p->ll);
}

static int response_head(struct h3g_h1_parser *p)
{
    int status = llhttp_get_status_code(&p->ll);
    if (status < 200) {
        p->interim = 1; /* skipped: the final response follows */
        return 0;
    }
    int rv = p->cbs->response(p->arg, status, p);
    if (rv < 0)
        return reject(p, 502, "response refused");
    return rv == 1 ? 1 : 0; /* 1: llhttp reads no body */
}

static int on_headers_complete(llhttp_t *ll)
{
    struct h3g_h1_parser *p = P(ll);
    p->in_head = 0;
    if (p->response)
        return response_head(p);
    if (ll->http_major != 1)
        return reject(p, 505, "HTTP version not supported");
    if (build_request(p) != 0)
        return HPE_USER;
    p->head.http_minor = ll->http_minor;
    p->req.version = ll->http_minor == 0 ? "1.0" : "1.1";
    p->head.keep_alive = llhttp_should_keep_alive(ll);
    p->head.chunked = (ll->flags & F_CHUNKED) != 0;
    if (p->head.chunked)
        p->req.content_length = -1;
    else if (p->req.content_length < 0)
        p->req.content_length = 0; /* no framing: no body (RFC 9112 §6.3) */
    p->head.has_body = p->head.chunked || p->req.content_length > 0;
    /* No protocol switch (h2c, WebSocket): the request is served as it is. */
    ll->upgrade = 0;
    if (p->cbs->head(p->arg, &p->req, &p->head) == H3G_EAGAIN) {
        p->paused = 1;
        return HPE_PAUSED;
    }
    return 0;
}

static int on_body(llhttp_t *ll, const char *at, size_t len)
{
    struct h3g_h1_parser *p = P(ll);
    int rv = p->cbs->body(p->arg, (const uint8_t *)at, len);
    if (rv == H3G_EAGAIN) {
        p->paused = 1;
        return HPE_PAUSED;
    }
    return rv < 0 ? reject(p, 500, "body refused") : 0;
}

static int on_message_complete(llhttp_t *ll)
{
    struct h3g_h1_parser *p = P(ll);
    if (p->interim) { /* a 1xx: on to the final response */
        p->interim = 0;
        p->in_msg = 0;
        p->scan = FOLD_FIRST;
        return 0;
    }
    p->ended = 1;
    p->in_msg = 0;
    p->cbs->end(p->arg);
    return HPE_PAUSED; /* one message at a time: pipelined ones wait */
}

static void init(struct h3g_h1_parser *p, llhttp_type_t type, const struct h3g_h1_callbacks *cbs,
                 void *arg, size_t max_head, size_t max_fields);

void h3g_h1_parser_init(struct h3g_h1_parser *p, const struct h3g_h1_callbacks *cbs, void *arg,
                        size_t max_head, size_t max_fields)
{
    init(p, HTTP_REQUEST, cbs, arg, max_head, max_fields);
}

void h3g_h1_parser_init_response(struct h3g_h1_parser *p, const struct h3g_h1_callbacks *cbs,
                                 void *arg, size_t max_head, size_t max_fields)
{
    init(p, HTTP_RESPONSE, cbs, arg, max_head, max_fields);
    p->response = 1;
}

static void init(struct h3g_h1_parser *p, llhttp_type_t type, const struct h3g_h1_callbacks *cbs,
                 void *arg, size_t max_head, size_t max_fields)
{
    memset(p, 0, sizeof(*p));
    llhttp_settings_init(&p->settings);
    p->settings.on_message_begin = on_message_begin;
    p->settings.on_url = on_url;
    p->settings.on_url_complete = on_url_complete;
    p->settings.on_header_field = on_header_field;
    p->settings.on_header_field_complete = on_header_field_complete;
    p->settings.on_header_value = on_header_value;
    p->settings.on_header_value_complete = on_header_value_complete;
    p->settings.on_headers_complete = on_headers_complete;
    p->settings.on_body = on_body;
    p->settings.on_message_complete = on_message_complete;
    llhttp_init(&p->ll, type, &p->settings);
    p->ll.data = p;
    p->cbs = cbs;
    p->arg = arg;
    p->max_head = max_head;
    p->max_fields = max_fields;
    p->scan = FOLD_FIRST;
    p->scheme = "https";
    h3g_request_init(&p->req, max_fields + 4);
}

void h3g_h1_parser_free(struct h3g_h1_parser *p)
{
    h3g_request_reset(&p->req);
    free(p->scratch);
    p->scratch = NULL;
}

/* obs-fold (a line starting with SP or HT inside the head) is refused
 * (RFC 9112 §5.2): llhttp would join such lines.  A scan of the head's bytes,
 * which stops at the empty line that ends it. */
static int obs_fold(struct h3g_h1_parser *p, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len && p->scan != FOLD_DONE; i++) {
        uint8_t c = data[i];
        if ((p->scan == FOLD_LINE_START || p->scan == FOLD_FIRST) && (c == ' ' || c == '\t'))
            return 1;
        if (p->scan == FOLD_FIRST) { /* empty lines before the request line are allowed */
            if (c != '\r' && c != '\n')
                p->scan = FOLD_IN_LINE;
            continue;
        }
        if (p->scan == FOLD_LINE_START || p->scan == FOLD_CR)
            p->scan = c == '\n'                                 ? FOLD_DONE
                      : c == '\r' && p->scan == FOLD_LINE_START ? FOLD_CR
                                                                : FOLD_IN_LINE;
        else if (c == '\n')
            p->scan = FOLD_LINE_START;
    }
    return 0;
}

ssize_t h3g_h1_parse(struct h3g_h1_parser *p, const uint8_t *data, size_t len)
{
    if (p->status != 0)
        return H3G_EINVAL;
    if (p->paused || p->ended || len == 0)
        return 0;
    if (obs_fold(p, data, len)) {
        reject(p, 400, "obs-fold in the request head");
        return H3G_EINVAL;
    }
    llhttp_errno_t e = llhttp_execute(&p->ll, (const char *)data, len);
    if (e == HPE_OK)
        return (ssize_t)len;
    if (e == HPE_PAUSED)
        return llhttp_get_error_pos(&p->ll) - (const char *)data;
    if (p->status == 0)
        reject(p, 400, llhttp_get_error_reason(&p->ll));
    return H3G_EINVAL;
}

int h3g_h1_parse_eof(struct h3g_h1_parser *p)
{
    if (p->ended || p->status != 0 || h3g_h1_parser_idle(p))
        return 0;
    if (llhttp_finish(&p->ll) != HPE_OK) {
        reject(p, 400, "connection closed inside a request");
        return H3G_EINVAL;
    }
    return 0;
}

void h3g_h1_parser_resume(struct h3g_h1_parser *p)
{
    if (!p->paused)
        return;
    p->paused = 0;
    llhttp_resume(&p->ll);
}

void h3g_h1_parser_next(struct h3g_h1_parser *p)
{
    p->ended = 0;
    p->paused = 0;
    p->scan = FOLD_FIRST;
    llhttp_resume(&p->ll);
}

int h3g_h1_parser_idle(const struct h3g_h1_parser *p)
{
    return !p->in_msg && !p->ended;
}
