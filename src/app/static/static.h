/* The static file handler: GET/HEAD, validators, conditional and range
 * requests, index.html, and no escape from the root. */
#ifndef H3G_STATIC_STATIC_H
#define H3G_STATIC_STATIC_H

#include <stddef.h>

#include "http/request.h"
#include "http/response.h"

typedef struct h3g_static h3g_static;

h3g_static *h3g_static_new(const char *root, char *err, size_t errlen);
void h3g_static_free(h3g_static *st);
/* Fills resp for req; returns 0 (resp is always usable) or H3G_ENOMEM. */
int h3g_static_handle(h3g_static *st, const struct h3g_request *req, struct h3g_response *resp);

#endif
