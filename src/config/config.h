/* Server configuration: defaults, command-line parsing and validation, in one
 * place (a config file will feed the same structure). */
#ifndef H3G_CONFIG_CONFIG_H
#define H3G_CONFIG_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define H3G_MAX_LISTEN 16

struct h3g_listen_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    char text[80];
};

struct h3g_config {
    const char *root;
    struct h3g_listen_addr listen[H3G_MAX_LISTEN];
    size_t nlisten;
    const char *cert_file, *key_file;
    uint64_t idle_timeout_ms;
    uint64_t drain_timeout_ms;
    const char *access_log;     /* NULL = off, "-" = stdout */
    const char *log_level;
    int address_validation;
    size_t max_connections;
    size_t max_field_section_size;
    size_t max_header_fields;
    int show_help, show_version;
};

enum { H3G_CONFIG_OK = 0, H3G_CONFIG_EXIT = 1, H3G_CONFIG_ERROR = 2 };

void h3g_config_defaults(struct h3g_config *cfg);
/* Parses argv into cfg.  Returns H3G_CONFIG_OK, or H3G_CONFIG_ERROR with a
 * one-line message in err. */
int h3g_config_parse_args(struct h3g_config *cfg, int argc, char **argv, char *err, size_t errlen);
int h3g_config_parse_listen(const char *text, struct h3g_listen_addr *out, char *err, size_t errlen);
void h3g_config_usage(FILE *f);

#endif
