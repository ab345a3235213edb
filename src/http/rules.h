/* Response fields a route adds or removes (sans-I/O, applied by the exchange). */
#ifndef H3G_HTTP_RULES_H
#define H3G_HTTP_RULES_H

#include <stddef.h>

#define H3G_MAX_HEADER_RULES 16

struct h3g_header_rules {
    const char *add_name[H3G_MAX_HEADER_RULES], *add_value[H3G_MAX_HEADER_RULES];
    size_t nadd;
    const char *remove[H3G_MAX_HEADER_RULES];
    size_t nremove;
};

#endif
