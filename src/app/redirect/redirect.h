/* The plain-HTTP listener's handler (redirect_http): 308 to the same URL over
 * https, except ACME HTTP-01 challenges, served from acme_challenge_root. */
#ifndef H3G_APP_REDIRECT_H
#define H3G_APP_REDIRECT_H

#include "app/static/static.h"
#include "http/exchange.h"
#include "http/request.h"
#include "http/response.h"

struct h3g_redirect {
    unsigned https_port; /* where the https URL points (443 is left out) */
    h3g_static *acme;    /* files for /.well-known/acme-challenge/, or NULL */
};

/* An h3g_handler_fn; ctx = struct h3g_redirect. */
int h3g_redirect_handle(void *ctx, const struct h3g_request *req, struct h3g_response *resp,
                        h3g_exchange *ex);
/* The Location for a request (sans-I/O part): 0, or H3G_EINVAL when the host
 * is not one a URL can carry (the answer is then 400). */
int h3g_redirect_location(const char *authority, const char *path, unsigned https_port, char *out,
                          size_t outlen);

#endif
