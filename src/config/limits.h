/* The limits (`limits { }` in the file, some also on the command line) as one
 * table: name, option, kind, range, default and the field each one sets.
 * The file, the command line, the defaults and the packaging test's check of
 * the man page all read it, so each limit's bounds are written once. */
#ifndef H3G_CONFIG_LIMITS_H
#define H3G_CONFIG_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

enum h3g_limit_kind {
    H3G_LIMIT_COUNT, /* a whole number */
    H3G_LIMIT_SIZE,  /* bytes: a number with an optional k, m or g */
};

struct h3g_limit {
    const char *name;   /* in limits { } */
    const char *option; /* the command line's (without --), or NULL */
    enum h3g_limit_kind kind;
    uint64_t min, max, def;
    size_t offset, width; /* the field of struct h3g_config it sets */
};

extern const struct h3g_limit h3g_limits[];
extern const size_t h3g_nlimits;

/* The limit named so in the file, or with that command-line option; NULL if none. */
const struct h3g_limit *h3g_limit_by_name(const char *name);
const struct h3g_limit *h3g_limit_by_option(const char *option);
/* Parses text as the limit's value and stores it in cfg: 0, or -1 with what
 * was expected in err ("a whole number from 1 to 100"). */
int h3g_limit_set(const struct h3g_limit *l, struct h3g_config *cfg, const char *text, char *err,
                  size_t errlen);
/* Every limit at its default. */
void h3g_limits_defaults(struct h3g_config *cfg);

#endif
