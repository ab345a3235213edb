/* The config file syntax (sans-I/O): directives "name arg ...;" and blocks
 * "name arg ... { ... }", '#' comments, double-quoted strings with \" and \\
 * escapes.  Every node remembers its line for error messages. */
#ifndef H3G_CONFIG_CONF_PARSE_H
#define H3G_CONFIG_CONF_PARSE_H

#include <stddef.h>
#include <stdint.h>

struct h3g_conf_node {
    char *name;
    char **args;
    size_t nargs;
    struct h3g_conf_node *children; /* NULL for a plain directive */
    size_t nchildren;
    int block;
    int line;
};

/* Parses text; on success *root is a block node holding the top-level
 * directives.  On error returns < 0 and writes "FILE:LINE: problem" to err. */
int h3g_conf_parse(const char *text, size_t len, const char *filename, struct h3g_conf_node **root,
                   char *err, size_t errlen);
void h3g_conf_free(struct h3g_conf_node *root);

/* Value helpers: return 0 or H3G_EINVAL. */
int h3g_conf_duration_ms(const char *s, uint64_t *out); /* 10s 500ms 2m 1h, bare = seconds */
int h3g_conf_size(const char *s, uint64_t *out);        /* 64k 10m 1g, bare = bytes */
int h3g_conf_bool(const char *s, int *out);             /* on/off yes/no true/false */

#endif
