/* Range header parsing (RFC 9110 §14), single byte ranges only (sans-I/O). */
#ifndef H3G_STATIC_RANGE_H
#define H3G_STATIC_RANGE_H

#include <stddef.h>
#include <stdint.h>

enum h3g_range_result {
    H3G_RANGE_IGNORE,        /* absent, not bytes, malformed or multiple: serve 200 */
    H3G_RANGE_OK,            /* serve 206 with [first, last] */
    H3G_RANGE_UNSATISFIABLE, /* serve 416 */
};

enum h3g_range_result h3g_range_parse(const char *value, size_t len, uint64_t size, uint64_t *first,
                                      uint64_t *last);

#endif
