/* Server configuration: defaults, the config file and the command line, all
 * validated here into one structure. */
#ifndef H3G_CONFIG_CONFIG_H
#define H3G_CONFIG_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "http/rules.h"

#define H3G_MAX_LISTEN 16
#define H3G_MAX_CERTS 64
#define H3G_MAX_ROUTES 128
#define H3G_MAX_NAMES 32
#define H3G_MAX_TICKET_KEYS 8
#define H3G_MAX_WORKERS 64

struct h3g_cert_conf {
    const char *cert, *key;
    const char *names[H3G_MAX_NAMES]; /* empty: the certificate's own DNS names */
    size_t nnames;
    int is_default;
    int line; /* 0 for the command line */
};

#define H3G_MAX_UPSTREAMS 32
#define H3G_UPSTREAM_MAX_SERVERS 32

struct h3g_upstream_conf {
    const char *name;
    const char *servers[H3G_UPSTREAM_MAX_SERVERS]; /* "HOST:PORT" or "unix:/path" */
    size_t nservers;
    uint64_t connect_timeout_ms;
    uint64_t header_timeout_ms;  /* request sent → response header complete */
    uint64_t idle_timeout_ms;    /* no bytes from the origin while a body runs */
    uint64_t fail_timeout_ms;    /* a failed origin is skipped this long */
    size_t max_idle;             /* pooled idle connections per origin */
    uint64_t request_timeout_ms; /* the whole exchange; 0 = none */
    size_t max_connections;      /* per origin; 0 = no limit */
    int line;
};

/* Requests whose host matches (exact, "*.suffix", or any when nhosts == 0) and
 * whose path starts with path_prefix go to root. */
struct h3g_route_conf {
    const char *hosts[H3G_MAX_NAMES];
    size_t nhosts;
    const char *path_prefix;
    const char *root;     /* static files ... */
    const char *upstream; /* ... or an upstream group's name */
    struct h3g_header_rules headers;
    int line;
};

struct h3g_listen_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    char text[80];
    int quic, tcp; /* what it serves (both by default) */
};

/* alt_svc: what TCP responses advertise. */
enum h3g_config_alt_svc { H3G_ALT_SVC_AUTO, H3G_ALT_SVC_OFF, H3G_ALT_SVC_VALUE };
#define H3G_ALT_SVC_MAX 512

struct h3g_config {
    const char *root;
    struct h3g_listen_addr listen[H3G_MAX_LISTEN];
    size_t nlisten;
    const char *cert_file, *key_file;
    uint64_t idle_timeout_ms;
    uint64_t drain_timeout_ms;
    const char *access_log; /* NULL = off, "-" = stdout */
    const char *error_log;  /* NULL = stderr */
    const char *pid_file;   /* NULL = none */
    const char *keylog;     /* TLS secrets in NSS key log format, or NULL */
    const char *qlog_dir;   /* a qlog file per QUIC connection there, or NULL */
    const char *user;       /* drop privileges to this user once listening, or NULL */
    const char *group;      /* ... and group (NULL: the user's) */
    const char *log_level;
    int address_validation;       /* enum h3g_config_av */
    uint64_t header_timeout_ms;   /* request_header_timeout; 0 = none */
    size_t qpack_blocked_streams; /* advertised to clients */
    size_t send_budget_conn;      /* response bytes in flight per connection */
    size_t send_budget_worker;    /* ... for all connections of a worker */
    size_t max_handshakes;        /* handshakes in progress */
    size_t max_openssl_memory;    /* OpenSSL's heap beyond which new clients are refused */
    size_t retry_threshold;       /* address_validation auto: Retry above this many */
    size_t max_connections;
    size_t max_field_section_size;
    size_t max_header_fields;
    uint64_t max_request_body;     /* bytes; 0 = no limit */
    size_t max_streams;            /* concurrent requests per connection */
    uint64_t max_requests;         /* requests per connection before GOAWAY; 0 = no limit */
    size_t listen_sockets;         /* SO_REUSEPORT sockets (QUIC listeners) per address */
    unsigned workers;              /* worker processes; 0 = auto (the CPUs we may use) */
    int no_tcp;                    /* --no-tcp: QUIC only, whatever listen says */
    int tls_min_13;                /* tls_min 1.3: no TLS 1.2 over TCP */
    int alt_svc;                   /* enum h3g_config_alt_svc */
    const char *alt_svc_value;     /* H3G_ALT_SVC_VALUE */
    uint64_t keepalive_timeout_ms; /* HTTP/1.1 and HTTP/2: idle between requests */
    struct h3g_listen_addr redirect[H3G_MAX_LISTEN]; /* redirect_http: plain HTTP -> 308 */
    size_t nredirect;
    const char *acme_challenge_root; /* served on the redirect listeners, or NULL */
    struct h3g_listen_addr admin;    /* admin: /metrics and /healthz (plain HTTP) */
    int has_admin;
    size_t max_tcp_connections;
    size_t max_tls_handshakes;                    /* TLS over TCP handshakes in progress */
    const char *engine;                           /* QUIC engine: "openssl" or "ngtcp2" */
    int cc;                                       /* congestion control: enum h3g_config_cc */
    const char *host_key_file;                    /* secret for QUIC tokens and stateless resets */
    const char *ticket_keys[H3G_MAX_TICKET_KEYS]; /* session ticket keys, first encrypts */
    int ticket_key_lines[H3G_MAX_TICKET_KEYS];    /* 0 for the command line */
    size_t nticket_keys;
    int host_key_line;
    struct h3g_cert_conf certs[H3G_MAX_CERTS];
    size_t ncerts;
    int sni_reject_unknown; /* refuse handshakes for names no certificate has */
    struct h3g_route_conf routes[H3G_MAX_ROUTES];
    size_t nroutes;
    struct h3g_upstream_conf upstreams[H3G_MAX_UPSTREAMS];
    size_t nupstreams;
    char cli_upstream_server[300]; /* --upstream http://HOST:PORT */
    const char *config_file;
    int test_only; /* -t: check the configuration and exit */
    int show_help, show_version, show_settings;
    struct h3g_conf_node *tree; /* owns the config file's strings */
};

enum h3g_config_cc { H3G_CONFIG_CC_CUBIC, H3G_CONFIG_CC_BBR, H3G_CONFIG_CC_RENO };
/* Same values as enum h3g_address_validation (quic/engine.h). */
enum h3g_config_av { H3G_CONFIG_AV_OFF, H3G_CONFIG_AV_ON, H3G_CONFIG_AV_AUTO };

/* Sets *av from "on", "off" or "auto", or returns -1. */
int h3g_config_av_parse(const char *text, int *av);

/* "auto" -> 0, "N" -> N (1 to H3G_MAX_WORKERS), or -1. */
int h3g_config_workers_parse(const char *text, unsigned *workers);
/* The number of workers to run: workers, or for auto the CPUs this process
 * may run on. */
unsigned h3g_config_workers(const struct h3g_config *cfg);
/* Sets *engine to the canonical name of an engine, or returns -1. */
int h3g_config_engine_name(const char *text, const char **engine);
/* "1.2" -> 0, "1.3" -> 1 (TLS 1.3 only), or -1. */
int h3g_config_tls_min_parse(const char *text, int *only13);
/* "cubic", "bbr", "reno" -> enum h3g_config_cc, or -1. */
int h3g_config_cc_parse(const char *text, int *cc);

enum { H3G_CONFIG_OK = 0, H3G_CONFIG_EXIT = 1, H3G_CONFIG_ERROR = 2 };

struct h3g_conf_node;

void h3g_config_defaults(struct h3g_config *cfg);
void h3g_upstream_conf_defaults(struct h3g_upstream_conf *u);
/* Index of the upstream named name, or -1. */
int h3g_config_find_upstream(const struct h3g_config *cfg, const char *name);
void h3g_config_free(struct h3g_config *cfg);
/* Reads a config file into cfg (the command line may override it later).
 * Returns H3G_CONFIG_OK or H3G_CONFIG_ERROR with "FILE:LINE: problem" in err. */
int h3g_config_load_file(struct h3g_config *cfg, const char *path, char *err, size_t errlen);
/* The same from memory (tests). */
int h3g_config_load_text(struct h3g_config *cfg, const char *text, size_t len, const char *name,
                         char *err, size_t errlen);
/* Parses argv into cfg.  Returns H3G_CONFIG_OK, or H3G_CONFIG_ERROR with a
 * one-line message in err. */
int h3g_config_parse_args(struct h3g_config *cfg, int argc, char **argv, char *err, size_t errlen);
/* The earlier listen address equal to la, or NULL: a second one would only
 * fail at bind time, after -t had passed. */
const struct h3g_listen_addr *h3g_config_listen_dup(const struct h3g_config *cfg,
                                                    const struct h3g_listen_addr *la);
int h3g_config_parse_listen(const char *text, struct h3g_listen_addr *out, char *err,
                            size_t errlen);
/* Adds a redirect_http address; H3G_CONFIG_ERROR with err set when it cannot. */
int h3g_config_add_redirect(struct h3g_config *cfg, const char *text, char *err, size_t errlen);
/* Whether cfg serves la over UDP (QUIC) or, udp = 0, over TCP (HTTPS,
 * redirect_http, admin). */
int h3g_config_serves(const struct h3g_config *cfg, const struct h3g_listen_addr *la, int udp);
/* Sets the admin address; H3G_CONFIG_ERROR with err set when it cannot. */
int h3g_config_set_admin(struct h3g_config *cfg, const char *text, char *err, size_t errlen);
void h3g_config_usage(FILE *f);

#endif
