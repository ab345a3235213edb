#include "app/proxy/http1.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"

struct buf {
    char *p;
    size_t len, cap;
    int oom;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* "1.2.3.4:5" → "1.2.3.4"; "[::1]:5" → "::1" */
static void client_ip(const char *client, char *ip, size_t len)
{
    const char *end;
    if (client[0] == '[') {
        end = strchr(client, ']');
        client++;
    } else {
        end = strrchr(client, ':');
    }
    size_t n = end ? (size_t)(end - client) : strlen(client);
    if (n >= len)
        n = len - 1;
    memcpy(ip, client, n);
    ip[n] = '\0';
}

static int is(const char *name, size_t len, const char *lit)
{
    return strlen(lit) == len && strncasecmp(name, lit, len) == 0;
}

int h3g_http1_request_head(const struct h3g_request *req, const char *client, int chunked,
                           char **out, size_t *outlen)
{
    struct buf b = {0};
    char ip[64];
    const char *xff = NULL, *fwd = NULL, *via = NULL;
    size_t xffl = 0, fwdl = 0, vial = 0, vl0 = 0;
    int cookies = 0;

    client_ip(client ? client : "-", ip, sizeof(ip));
    puts_(&b, req->method);
    puts_(&b, " ");
    puts_(&b, req->path);
    puts_(&b, " HTTP/1.1\r\nHost: ");
    puts_(&b, req->authority ? req->authority : "");
    puts_(&b, "\r\n");
    for (size_t i = 0; i < h3g_request_field_count(req); i++) {
        const char *n, *v;
        size_t nl, vl;
        h3g_request_field(req, i, &n, &nl, &v, &vl);
        if (is(n, nl, "host") || is(n, nl, "te") || is(n, nl, "transfer-encoding") ||
            is(n, nl, "connection") || is(n, nl, "keep-alive") || is(n, nl, "upgrade") ||
            is(n, nl, "proxy-connection"))
            continue;
        if (is(n, nl, "x-forwarded-for")) {
            xff = v, xffl = vl;
            continue;
        }
        if (is(n, nl, "forwarded")) {
            fwd = v, fwdl = vl;
            continue;
        }
        if (is(n, nl, "via")) {
            via = v, vial = vl;
            continue;
        }
        if (is(n, nl, "cookie"))
            continue; /* recombined below */
        put(&b, n, nl);
        puts_(&b, ": ");
        put(&b, v, vl);
        puts_(&b, "\r\n");
    }
    /* HTTP/3 may split cookies into several fields; HTTP/1.1 wants one. */
    for (size_t i = 0; i < h3g_request_field_count(req); i++) {
        const char *n, *v;
        size_t nl, vl;
        h3g_request_field(req, i, &n, &nl, &v, &vl);
        if (!is(n, nl, "cookie"))
            continue;
        puts_(&b, cookies++ ? "; " : "Cookie: ");
        put(&b, v, vl);
    }
    if (cookies)
        puts_(&b, "\r\n");
    /* Forwarded before the client's handshake completed: the origin may
     * answer 425 to have it retried (RFC 8470 §5.1). */
    if (req->early && !h3g_request_header(req, "early-data", &vl0))
        puts_(&b, "Early-Data: 1\r\n");
    puts_(&b, "X-Forwarded-For: ");
    if (xff != NULL) {
        put(&b, xff, xffl);
        puts_(&b, ", ");
    }
    puts_(&b, ip);
    puts_(&b, "\r\nX-Forwarded-Proto: https\r\nForwarded: ");
    if (fwd != NULL) {
        put(&b, fwd, fwdl);
        puts_(&b, ", ");
    }
    if (strchr(ip, ':') != NULL) {
        puts_(&b, "for=\"[");
        puts_(&b, ip);
        puts_(&b, "]\"");
    } else {
        puts_(&b, "for=");
        puts_(&b, ip);
    }
    puts_(&b, ";proto=https");
    if (req->authority != NULL) {
        puts_(&b, ";host=\"");
        puts_(&b, req->authority);
        puts_(&b, "\"");
    }
    puts_(&b, "\r\nVia: ");
    if (via != NULL) {
        put(&b, via, vial);
        puts_(&b, ", ");
    }
    /* the protocol the request came in (RFC 9110 §7.6.3) */
    puts_(&b, req->version != NULL ? req->version : "3");
    puts_(&b, " h3gate\r\n");
    if (chunked)
        puts_(&b, "Transfer-Encoding: chunked\r\n");
    puts_(&b, "\r\n");
    if (b.oom) {
        free(b.p);
        return H3G_ENOMEM;
    }
    *out = b.p;
    *outlen = b.len;
    return 0;
}

int h3g_http1_hop_by_hop(const char *name, size_t len, const char *connection_value)
{
    static const char *const fixed[] = {"connection",        "keep-alive", "proxy-connection",
                                        "transfer-encoding", "upgrade",    "te"};
    for (size_t i = 0; i < H3G_ARRAY_LEN(fixed); i++)
        if (is(name, len, fixed[i]))
            return 1;
    /* tokens listed in Connection (RFC 9110 §7.6.1) */
    for (const char *p = connection_value; p != NULL && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',' && *p != ' ' && *p != '\t')
            p++;
        if (p > start && (size_t)(p - start) == len && strncasecmp(start, name, len) == 0)
            return 1;
    }
    return 0;
}
