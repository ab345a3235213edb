/* The scalar settings as one table: name, where it may appear (top level,
 * `limits { }` or `upstream NAME { }`), command-line option, kind, range,
 * default and the field it sets.  The file, the command line, the defaults,
 * --help, --settings and (through --settings) the packaging test's check of
 * the man page all read it, so each bound is written once. */
#ifndef H3G_CONFIG_SETTINGS_H
#define H3G_CONFIG_SETTINGS_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "config/config.h"

enum h3g_setting_kind {
    H3G_SET_COUNT,    /* a whole number */
    H3G_SET_SIZE,     /* bytes: a number with an optional k, m or g */
    H3G_SET_DURATION, /* milliseconds: 30s, 500ms, 2m, 1h; a bare number is seconds */
};

/* flags */
#define H3G_SET_ZERO_OFF 1u /* 0 turns the limit off ("none") */

struct h3g_setting {
    const char *name;   /* the directive */
    const char *block;  /* the block it belongs in ("limits", "upstream"), or NULL: top level */
    const char *option; /* the command line's (without --), or NULL */
    enum h3g_setting_kind kind;
    uint64_t min, max, def; /* durations in milliseconds */
    unsigned flags;
    size_t offset, width; /* the field it sets: of struct h3g_config, of struct
                             h3g_upstream_conf for block "upstream" */
    const char *help;     /* --help's line, with option */
};

extern const struct h3g_setting h3g_settings[];
extern const size_t h3g_nsettings;

/* The setting of that name in that block (NULL: top level), or with that
 * command-line option; NULL if none. */
const struct h3g_setting *h3g_setting_by_name(const char *block, const char *name);
const struct h3g_setting *h3g_setting_by_option(const char *option);
/* Parses text as a value of that kind within [min, max] (durations in
 * milliseconds): 0, or -1 with what was expected in err ("a whole number
 * from 1 to 100").  Also for the settings outside the table (upstream). */
int h3g_setting_parse(enum h3g_setting_kind kind, uint64_t min, uint64_t max, const char *text,
                      uint64_t *out, char *err, size_t errlen);
/* Parses text as the setting's value and stores it in base (the struct its
 * block's fields belong to): 0, or -1 with what was expected in err. */
int h3g_setting_set(const struct h3g_setting *s, void *base, const char *text, char *err,
                    size_t errlen);
/* The names of a block's settings, ", "-separated, for an error message. */
void h3g_settings_names(const char *block, char *buf, size_t len);
/* Every setting of block (NULL: top level and limits) at its default in base. */
void h3g_settings_defaults(const char *block, void *base);
/* A value as the configuration file would write it: 64k, 30s, 1h, 100. */
void h3g_setting_format(enum h3g_setting_kind kind, uint64_t v, char *buf, size_t len);
/* --help's lines for the settings that have an option. */
void h3g_settings_usage(FILE *f);
/* --settings: every setting with its context, kind, range and default. */
void h3g_settings_print(FILE *f);

#endif
