#include "app/redirect/redirect.h"

#include <stdio.h>
#include <string.h>

#include "common.h"

#define ACME_PREFIX "/.well-known/acme-challenge/"

/* Host characters (a name, IPv4, or a bracketed IPv6 literal), and where the
 * port starts.  Returns the host's length, or 0 when it is not one. */
static size_t host_part(const char *a)
{
    size_t n = 0;
    if (a[0] == '[') {
        const char *close = strchr(a, ']');
        if (close == NULL)
            return 0;
        for (const char *p = a + 1; p < close; p++)
            if (strchr("0123456789abcdefABCDEF:.", *p) == NULL)
                return 0;
        n = (size_t)(close - a) + 1;
    } else {
        while (a[n] != '\0' && a[n] != ':') {
            char c = a[n];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.'))
                return 0;
            n++;
        }
    }
    if (a[n] != '\0' && a[n] != ':')
        return 0;
    if (a[n] == ':')
        for (const char *p = a + n + 1; *p; p++)
            if (*p < '0' || *p > '9')
                return 0;
    return n;
}

int h3g_redirect_location(const char *authority, const char *path, unsigned https_port, char *out,
                          size_t outlen)
{
    size_t hl = authority != NULL ? host_part(authority) : 0;
    if (hl == 0 || path == NULL || path[0] != '/')
        return H3G_EINVAL;
    int n = https_port == 443
                ? snprintf(out, outlen, "https://%.*s%s", (int)hl, authority, path)
                : snprintf(out, outlen, "https://%.*s:%u%s", (int)hl, authority, https_port, path);
    return n > 0 && (size_t)n < outlen ? 0 : H3G_EINVAL;
}

int h3g_redirect_handle(void *ctx, const struct h3g_request *req, struct h3g_response *resp,
                        h3g_exchange *ex)
{
    const struct h3g_redirect *rd = ctx;
    char loc[8192 + 300];
    H3G_UNUSED(ex);
    if (rd->acme != NULL && req->path != NULL &&
        strncmp(req->path, ACME_PREFIX, strlen(ACME_PREFIX)) == 0)
        return h3g_static_handle(rd->acme, req, resp);
    if (h3g_response_add(resp, "server", "h3gate") != 0)
        return H3G_ENOMEM;
    if (h3g_redirect_location(req->authority, req->path, rd->https_port, loc, sizeof(loc)) != 0)
        return h3g_response_error(resp, 400);
    if (h3g_response_add(resp, "location", loc) != 0)
        return H3G_ENOMEM;
    /* 308 keeps the method and body (RFC 9110 §15.4.9) */
    return h3g_response_error(resp, 308);
}
