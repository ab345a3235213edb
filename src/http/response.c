#include "http/response.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

void h3g_response_init(struct h3g_response *r)
{
    memset(r, 0, sizeof(*r));
    r->body.fd = -1;
}

void h3g_response_free(struct h3g_response *r)
{
    free(r->buf);
    h3g_body_close(&r->body);
    h3g_response_init(r);
}

static int append(struct h3g_response *r, const char *s, size_t n)
{
    if (h3g_reserve((void **)&r->buf, &r->cap, r->len + n + 1, 256) != 0)
        return H3G_ENOMEM;
    memcpy(r->buf + r->len, s, n);
    r->buf[r->len + n] = '\0';
    r->len += n + 1;
    return 0;
}

int h3g_response_add(struct h3g_response *r, const char *name, const char *value)
{
    if (append(r, name, strlen(name)) != 0 || append(r, value, strlen(value)) != 0)
        return H3G_ENOMEM;
    r->nheaders++;
    return 0;
}

int h3g_response_addf(struct h3g_response *r, const char *name, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return H3G_EINVAL;
    return h3g_response_add(r, name, buf);
}

int h3g_response_next(const struct h3g_response *r, size_t *pos, const char **name,
                      const char **value)
{
    if (*pos >= r->len)
        return 0;
    *name = r->buf + *pos;
    *pos += strlen(*name) + 1;
    *value = r->buf + *pos;
    *pos += strlen(*value) + 1;
    return 1;
}

const char *h3g_status_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 425: return "Too Early";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return ""; /* the reason phrase may be empty (RFC 9112 §4) */
    }
}

int h3g_response_error(struct h3g_response *r, int status)
{
    char *body = NULL;
    int n = asprintf(&body,
                     "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>"
                     "<body><h1>%d %s</h1><hr><p>h3gate</p></body></html>\n",
                     status, h3g_status_reason(status), status, h3g_status_reason(status));
    if (n < 0)
        return H3G_ENOMEM;
    r->status = status;
    h3g_body_close(&r->body);
    r->body.kind = H3G_BODY_MEM;
    r->body.mem = body;
    r->body.mem_off = 0;
    r->body.remaining = (uint64_t)n;
    if (h3g_response_add(r, "content-type", "text/html; charset=utf-8") != 0 ||
        h3g_response_addf(r, "content-length", "%d", n) != 0)
        return H3G_ENOMEM;
    return 0;
}

ssize_t h3g_body_read(struct h3g_body *b, uint8_t *buf, size_t cap)
{
    size_t want = (size_t)H3G_MIN((uint64_t)cap, b->remaining);
    if (want == 0)
        return 0;
    switch (b->kind) {
    case H3G_BODY_MEM:
        memcpy(buf, b->mem + b->mem_off, want);
        b->mem_off += want;
        b->remaining -= want;
        return (ssize_t)want;
    case H3G_BODY_FILE: {
        ssize_t n;
        if (b->data != NULL) {
            memcpy(buf, b->data + b->offset, want);
            b->offset += want;
            b->remaining -= want;
            return (ssize_t)want;
        }
        do {
            n = pread(b->fd, buf, want, (off_t)b->offset);
        } while (n < 0 && errno == EINTR);
        if (n <= 0)
            return H3G_ERR; /* I/O error, or the file shrank under us */
        b->offset += (uint64_t)n;
        b->remaining -= (uint64_t)n;
        return n;
    }
    default: return 0;
    }
}

void h3g_body_close(struct h3g_body *b)
{
    if (b->kind == H3G_BODY_FILE && b->release != NULL)
        b->release(b->file);
    else if (b->kind == H3G_BODY_FILE && b->fd >= 0)
        close(b->fd);
    b->release = NULL;
    b->file = NULL;
    b->data = NULL;
    free(b->mem);
    b->mem = NULL;
    b->fd = -1;
    b->kind = H3G_BODY_NONE;
    b->remaining = 0;
}
