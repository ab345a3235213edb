#include "app/static/range.h"

#include <string.h>

static int parse_num(const char **p, const char *end, uint64_t *out)
{
    uint64_t n = 0;
    const char *s = *p;
    if (s == end || *s < '0' || *s > '9')
        return -1;
    while (s < end && *s >= '0' && *s <= '9') {
        if (n > (UINT64_MAX - 9) / 10)
            return -1;
        n = n * 10 + (uint64_t)(*s - '0');
        s++;
    }
    *p = s;
    *out = n;
    return 0;
}

static void skip_ows(const char **p, const char *end)
{
    while (*p < end && (**p == ' ' || **p == '\t'))
        (*p)++;
}

enum h3g_range_result h3g_range_parse(const char *value, size_t len, uint64_t size, uint64_t *first,
                                      uint64_t *last)
{
    const char *p = value, *end = value + len;
    uint64_t a = 0, b = 0;
    int has_a = 0, has_b = 0;

    if (value == NULL || len < 6 || strncmp(p, "bytes=", 6) != 0)
        return H3G_RANGE_IGNORE;
    p += 6;
    skip_ows(&p, end);
    if (p < end && *p != '-') {
        if (parse_num(&p, end, &a) != 0)
            return H3G_RANGE_IGNORE;
        has_a = 1;
    }
    if (p == end || *p != '-')
        return H3G_RANGE_IGNORE;
    p++;
    if (p < end && *p >= '0' && *p <= '9') {
        if (parse_num(&p, end, &b) != 0)
            return H3G_RANGE_IGNORE;
        has_b = 1;
    }
    skip_ows(&p, end);
    if (p != end)
        return H3G_RANGE_IGNORE; /* a range set: served whole, as RFC 9110 allows */
    if (!has_a && !has_b)
        return H3G_RANGE_IGNORE;
    if (has_a && has_b && b < a)
        return H3G_RANGE_IGNORE; /* invalid range-spec: the field is ignored */
    if (!has_a) {
        /* suffix range: the last b bytes */
        if (b == 0 || size == 0)
            return H3G_RANGE_UNSATISFIABLE;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return H3G_RANGE_OK;
    }
    if (a >= size)
        return H3G_RANGE_UNSATISFIABLE;
    *first = a;
    *last = (!has_b || b >= size) ? size - 1 : b;
    return H3G_RANGE_OK;
}
