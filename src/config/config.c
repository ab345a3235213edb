#include "config/config.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "obs/log.h"
#include "config/settings.h"

void h3g_config_defaults(struct h3g_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->log_level = "info";
    cfg->address_validation = H3G_CONFIG_AV_AUTO;
    h3g_settings_defaults(NULL, cfg);
    /* The faster engine with more of QUIC (migration, 0-RTT, GSO); issue 9's
     * closing note has the measurements behind the choice. */
    cfg->engine = "ngtcp2";
    cfg->cc = H3G_CONFIG_CC_CUBIC;
}

int h3g_config_engine_name(const char *text, const char **engine)
{
    static const char *const names[] = {"openssl", "ngtcp2"};
    for (size_t i = 0; i < H3G_ARRAY_LEN(names); i++)
        if (strcmp(text, names[i]) == 0) {
            *engine = names[i];
            return 0;
        }
    return -1;
}

/* The index of text among names (an enum's value), or -1. */
static int name_index(const char *const *names, size_t n, const char *text, int *out)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(text, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    return -1;
}

int h3g_config_av_parse(const char *text, int *av)
{
    static const char *const names[] = {"off", "on", "auto"};
    return name_index(names, H3G_ARRAY_LEN(names), text, av);
}

int h3g_config_tls_min_parse(const char *text, int *only13)
{
    static const char *const names[] = {"1.2", "1.3"};
    return name_index(names, H3G_ARRAY_LEN(names), text, only13);
}

int h3g_config_cc_parse(const char *text, int *cc)
{
    static const char *const names[] = {"cubic", "bbr", "reno"};
    return name_index(names, H3G_ARRAY_LEN(names), text, cc);
}

void h3g_upstream_conf_defaults(struct h3g_upstream_conf *u)
{
    memset(u, 0, sizeof(*u));
    h3g_settings_defaults("upstream", u);
}

int h3g_config_find_upstream(const struct h3g_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nupstreams; i++)
        if (strcmp(cfg->upstreams[i].name, name) == 0)
            return (int)i;
    return -1;
}

void h3g_config_usage(FILE *f)
{
    fputs("Usage: h3gate [options]\n"
          "HTTP/3 edge server: static files and HTTP/1.1 origins, QUIC on OpenSSL.\n\n"
          "  -c, --config FILE       read the configuration from FILE (docs/config.md);\n"
          "                          options given on the command line override it\n"
          "  -t, --test              check the configuration (and certificates) and exit\n"
          "  --root DIR              document root (required without a config file)\n"
          "  --upstream http://HOST:PORT\n"
          "                          reverse-proxy every request to that HTTP/1.1 origin;\n"
          "                          with --root, files that exist are served, the rest proxied\n"
          "  --listen ADDR:PORT      address to serve on: QUIC over UDP and HTTPS (HTTP/2,\n"
          "                          HTTP/1.1) over TCP on the same port; repeatable; IPv6 as\n"
          "                          [ADDR]:PORT (default 0.0.0.0:4433)\n"
          "  --no-tcp                QUIC only: no TCP listeners\n"
          "  --tls-min 1.2|1.3       lowest TLS version over TCP (default 1.2; QUIC is 1.3)\n"
          "  --admin ADDR:PORT       plain HTTP there serves /metrics (Prometheus) and\n"
          "                          /healthz (200, or 503 while draining); keep it on\n"
          "                          loopback (default: off)\n"
          "  --redirect-http ADDR:PORT\n"
          "                          plain HTTP there answers 308 to the https URL (repeatable)\n"
          "  --cert FILE --key FILE  PEM certificate chain and private key\n"
          "                          (default: a generated self-signed certificate)\n"
          "  --access-log FILE|-     request and connection log (default: off)\n"
          "  --error-log FILE|stderr server messages (default: stderr); SIGUSR1 reopens\n"
          "                          both logs\n"
          "  --pid-file FILE         write the process id to FILE while running\n"
          "  --keylog FILE           append TLS secrets (NSS key log format) to FILE, for\n"
          "                          Wireshark; debugging only (default: off)\n"
          "  --qlog-dir DIR          a qlog file (JSON-SEQ) per QUIC connection in DIR\n"
          "                          (default: off)\n"
          "  --log-level LEVEL       error, warn, info or debug (default info)\n"
          "  --address-validation auto|on|off\n"
          "                          QUIC Retry for unvalidated clients: auto = while more\n"
          "                          than 100 handshakes are in progress (default auto);\n"
          "                          off is unsafe on a reachable listener\n"
          "  --workers N|auto        worker processes, each with its own sockets on every\n"
          "                          port (default auto: one per CPU h3gate may use)\n"
          "  --engine ngtcp2|openssl QUIC stack: ngtcp2 on OpenSSL's QUIC TLS API (default)\n"
          "                          or OpenSSL's native QUIC server (docs/usage.md)\n"
          "  --cc cubic|bbr|reno     congestion control (ngtcp2 engine; default cubic)\n"
          "  --host-key FILE         secret for QUIC Retry tokens and stateless resets\n"
          "                          (ngtcp2 engine; default: derived from the certificate key)\n"
          "  --ticket-key FILE       TLS session ticket key (80 bytes, as nginx's\n"
          "                          ssl_session_ticket_key); repeatable, the first encrypts,\n"
          "                          all decrypt (rotation, several servers)\n",
          f);
    h3g_settings_usage(f); /* the table's, with their defaults and bounds */
    fputs("  --settings              list every setting of the file and the command line\n"
          "                          with its context, range and default, and exit\n"
          "  --help, --version\n"
          "\nSignals: TERM or INT stop gracefully (GOAWAY, then up to the drain timeout;\n"
          "a second one exits at once); HUP re-reads the configuration (an invalid one is\n"
          "logged and the running one kept; no connection is dropped); USR1 reopens the\n"
          "access and error logs; USR2 (to the master) upgrades to the binary now\n"
          "installed at the same path without dropping connections.\n",
          f);
}

const struct h3g_listen_addr *h3g_config_listen_dup(const struct h3g_config *cfg,
                                                    const struct h3g_listen_addr *la)
{
    for (size_t i = 0; i < cfg->nlisten; i++)
        if (&cfg->listen[i] != la && cfg->listen[i].len == la->len &&
            memcmp(&cfg->listen[i].ss, &la->ss, la->len) == 0)
            return &cfg->listen[i];
    return NULL;
}

int h3g_config_add_redirect(struct h3g_config *cfg, const char *text, char *err, size_t errlen)
{
    if (cfg->nredirect == H3G_MAX_LISTEN) {
        snprintf(err, errlen, "at most %d redirect_http addresses", H3G_MAX_LISTEN);
        return H3G_CONFIG_ERROR;
    }
    struct h3g_listen_addr *la = &cfg->redirect[cfg->nredirect];
    if (h3g_config_parse_listen(text, la, err, errlen) != H3G_CONFIG_OK)
        return H3G_CONFIG_ERROR;
    for (size_t i = 0; i < cfg->nredirect; i++)
        if (cfg->redirect[i].len == la->len &&
            memcmp(&cfg->redirect[i].ss, &la->ss, la->len) == 0) {
            snprintf(err, errlen, "redirect_http %s: given twice", text);
            return H3G_CONFIG_ERROR;
        }
    cfg->nredirect++;
    return H3G_CONFIG_OK;
}

int h3g_config_parse_listen(const char *text, struct h3g_listen_addr *out, char *err, size_t errlen)
{
    char host[256];
    const char *port, *colon;
    struct addrinfo hints, *res = NULL;
    int rc;

    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':') {
            snprintf(err, errlen, "--listen '%s': expected [IPV6]:PORT", text);
            return H3G_CONFIG_ERROR;
        }
        snprintf(host, sizeof(host), "%.*s", (int)(close - text - 1), text + 1);
        port = close + 2;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL || strchr(text, ':') != colon) {
            snprintf(err, errlen, "--listen '%s': expected ADDR:PORT (IPv6 as [ADDR]:PORT)", text);
            return H3G_CONFIG_ERROR;
        }
        snprintf(host, sizeof(host), "%.*s", (int)(colon - text), text);
        port = colon + 1;
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (*port == '\0' || *end != '\0' || p < 1 || p > 65535) {
        snprintf(err, errlen, "--listen '%s': port must be 1-65535", text);
        return H3G_CONFIG_ERROR;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_DGRAM;
    /* Addresses only: a listener never waits on DNS (and a config check
     * never sends a query). */
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_NUMERICHOST;
    const char *h = host;
    if (strcmp(host, "*") == 0 || host[0] == '\0') {
        h = NULL;
        hints.ai_family = AF_INET;
    } else if (strcmp(host, "localhost") == 0) {
        h = "127.0.0.1";
    }
    rc = getaddrinfo(h, port, &hints, &res);
    if (rc != 0 || res == NULL) {
        snprintf(err, errlen, "--listen '%s': %s", text, gai_strerror(rc));
        return H3G_CONFIG_ERROR;
    }
    memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    out->quic = out->tcp = 1;
    snprintf(out->text, sizeof(out->text), "%s", text);
    freeaddrinfo(res);
    return H3G_CONFIG_OK;
}

/* --OPTION VALUE for a setting of the table (settings.c). */
static int cli_setting(struct h3g_config *cfg, const struct h3g_setting *st, const char *v,
                       char *err, size_t errlen)
{
    char what[128];
    if (h3g_setting_set(st, cfg, v, what, sizeof(what)) != 0) {
        snprintf(err, errlen, "--%s '%s': expected %s", st->option, v, what);
        return H3G_CONFIG_ERROR;
    }
    return H3G_CONFIG_OK;
}

int h3g_config_workers_parse(const char *text, unsigned *workers)
{
    char *end;
    if (strcmp(text, "auto") == 0) {
        *workers = 0;
        return 0;
    }
    errno = 0;
    unsigned long n = strtoul(text, &end, 10);
    if (errno != 0 || *text == '\0' || *text == '-' || *end != '\0' || n < 1 || n > H3G_MAX_WORKERS)
        return -1;
    *workers = (unsigned)n;
    return 0;
}

unsigned h3g_config_workers(const struct h3g_config *cfg)
{
    cpu_set_t set;
    if (cfg->workers > 0)
        return cfg->workers;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return 1;
    int n = CPU_COUNT(&set);
    return n < 1 ? 1 : n > H3G_MAX_WORKERS ? H3G_MAX_WORKERS : (unsigned)n;
}

static int same_addr(const struct h3g_listen_addr *a, const struct h3g_listen_addr *b)
{
    return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

/* The admin address on a TCP port something else serves would only fail at
 * bind time, after -t passed. */
static int check_admin(const struct h3g_config *cfg, char *err, size_t errlen)
{
    if (!cfg->has_admin)
        return H3G_CONFIG_OK;
    for (size_t j = 0; j < cfg->nlisten; j++)
        if (cfg->listen[j].tcp && !cfg->no_tcp && same_addr(&cfg->listen[j], &cfg->admin)) {
            snprintf(err, errlen, "admin %s is also a listen address (HTTPS over TCP)",
                     cfg->admin.text);
            return H3G_CONFIG_ERROR;
        }
    for (size_t j = 0; j < cfg->nredirect; j++)
        if (same_addr(&cfg->redirect[j], &cfg->admin)) {
            snprintf(err, errlen, "admin %s is also a redirect_http address", cfg->admin.text);
            return H3G_CONFIG_ERROR;
        }
    return H3G_CONFIG_OK;
}

int h3g_config_serves(const struct h3g_config *cfg, const struct h3g_listen_addr *la, int udp)
{
    for (size_t i = 0; i < cfg->nlisten; i++)
        if (same_addr(&cfg->listen[i], la) &&
            (udp ? cfg->listen[i].quic : cfg->listen[i].tcp && !cfg->no_tcp))
            return 1;
    if (udp)
        return 0;
    for (size_t i = 0; i < cfg->nredirect; i++)
        if (same_addr(&cfg->redirect[i], la))
            return 1;
    return cfg->has_admin && same_addr(&cfg->admin, la);
}

int h3g_config_set_admin(struct h3g_config *cfg, const char *text, char *err, size_t errlen)
{
    if (h3g_config_parse_listen(text, &cfg->admin, err, errlen) != H3G_CONFIG_OK)
        return H3G_CONFIG_ERROR;
    cfg->has_admin = 1;
    return H3G_CONFIG_OK;
}

/* A redirect address that is also an HTTPS address would only fail at bind
 * time, after -t passed. */
static int check_redirects(const struct h3g_config *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->nredirect; i++)
        for (size_t j = 0; j < cfg->nlisten; j++)
            if (cfg->listen[j].tcp && !cfg->no_tcp &&
                same_addr(&cfg->listen[j], &cfg->redirect[i])) {
                snprintf(err, errlen, "redirect_http %s is also a listen address (HTTPS over TCP)",
                         cfg->redirect[i].text);
                return H3G_CONFIG_ERROR;
            }
    return H3G_CONFIG_OK;
}

int h3g_config_parse_args(struct h3g_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    enum {
        O_CONFIG = 'c',
        O_TEST = 't',
        O_UPSTREAM = 255,
        O_ROOT = 256,
        O_LISTEN,
        O_CERT,
        O_KEY,
        O_ALOG,
        O_ELOG,
        O_PIDFILE,
        O_KEYLOG,
        O_QLOG,
        O_LEVEL,
        O_AV,
        O_WORKERS,
        O_ENGINE,
        O_CC,
        O_HOSTKEY,
        O_TICKETKEY,
        O_NOTCP,
        O_TLSMIN,
        O_REDIRECT,
        O_ADMIN,
        O_HELP,
        O_VERSION,
        O_SETTINGS,
        O_SETTING = 1000 /* + the index of a setting of the table */
    };
    static const struct option fixed[] = {
        {"config", required_argument, NULL, O_CONFIG},
        {"test", no_argument, NULL, O_TEST},
        {"root", required_argument, NULL, O_ROOT},
        {"upstream", required_argument, NULL, O_UPSTREAM},
        {"listen", required_argument, NULL, O_LISTEN},
        {"cert", required_argument, NULL, O_CERT},
        {"key", required_argument, NULL, O_KEY},
        {"access-log", required_argument, NULL, O_ALOG},
        {"error-log", required_argument, NULL, O_ELOG},
        {"pid-file", required_argument, NULL, O_PIDFILE},
        {"keylog", required_argument, NULL, O_KEYLOG},
        {"qlog-dir", required_argument, NULL, O_QLOG},
        {"log-level", required_argument, NULL, O_LEVEL},
        {"address-validation", required_argument, NULL, O_AV},
        {"workers", required_argument, NULL, O_WORKERS},
        {"engine", required_argument, NULL, O_ENGINE},
        {"cc", required_argument, NULL, O_CC},
        {"host-key", required_argument, NULL, O_HOSTKEY},
        {"ticket-key", required_argument, NULL, O_TICKETKEY},
        {"no-tcp", no_argument, NULL, O_NOTCP},
        {"tls-min", required_argument, NULL, O_TLSMIN},
        {"redirect-http", required_argument, NULL, O_REDIRECT},
        {"admin", required_argument, NULL, O_ADMIN},
        {"help", no_argument, NULL, O_HELP},
        {"version", no_argument, NULL, O_VERSION},
        {"settings", no_argument, NULL, O_SETTINGS},
    };
    /* then the table's options (settings.c), and the end */
    struct option opts[H3G_ARRAY_LEN(fixed) + 64 + 1];
    size_t nopts = H3G_ARRAY_LEN(fixed);
    memcpy(opts, fixed, sizeof(fixed));
    for (size_t i = 0; i < h3g_nsettings && nopts + 1 < H3G_ARRAY_LEN(opts); i++)
        if (h3g_settings[i].option != NULL)
            opts[nopts++] = (struct option){h3g_settings[i].option, required_argument, NULL,
                                            O_SETTING + (int)i};
    opts[nopts] = (struct option){NULL, 0, NULL, 0};
    int c, rc = H3G_CONFIG_OK, cli_listen = 0, cli_tickets = 0;
    enum h3g_log_level lvl;

    /* The config file first, whatever its position: the command line wins. */
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":hVc:t", opts, NULL)) != -1) {
        if (c == O_CONFIG) {
            if (cfg->config_file != NULL) {
                snprintf(err, errlen, "-c given twice");
                return H3G_CONFIG_ERROR;
            }
            if (h3g_config_load_file(cfg, optarg, err, errlen) != H3G_CONFIG_OK)
                return H3G_CONFIG_ERROR;
        }
    }
    optind = 1;
    while (rc == H3G_CONFIG_OK && (c = getopt_long(argc, argv, ":hVc:t", opts, NULL)) != -1) {
        switch (c) {
        case O_CONFIG: break;
        case O_TEST: cfg->test_only = 1; break;
        case O_ROOT: cfg->root = optarg; break;
        case O_UPSTREAM: {
            const char *u = optarg;
            if (strncmp(u, "http://", 7) != 0) {
                snprintf(err, errlen, "--upstream '%s': expected http://HOST:PORT", optarg);
                return H3G_CONFIG_ERROR;
            }
            u += 7;
            size_t n = strcspn(u, "/");
            if (n == 0 || n >= sizeof(cfg->cli_upstream_server) || strchr(u, ':') == NULL ||
                (u[n] != '\0' && strcmp(u + n, "/") != 0)) {
                snprintf(err, errlen, "--upstream '%s': expected http://HOST:PORT (no path)",
                         optarg);
                return H3G_CONFIG_ERROR;
            }
            memcpy(cfg->cli_upstream_server, u, n);
            cfg->cli_upstream_server[n] = '\0';
            break;
        }
        case O_LISTEN:
            if (!cli_listen) {
                cfg->nlisten = 0; /* the command line's addresses replace the file's */
                cli_listen = 1;
            }
            if (cfg->nlisten == H3G_MAX_LISTEN) {
                snprintf(err, errlen, "--listen: at most %d addresses", H3G_MAX_LISTEN);
                return H3G_CONFIG_ERROR;
            }
            rc = h3g_config_parse_listen(optarg, &cfg->listen[cfg->nlisten], err, errlen);
            if (rc == H3G_CONFIG_OK && h3g_config_listen_dup(cfg, &cfg->listen[cfg->nlisten])) {
                snprintf(err, errlen, "--listen %s: given twice", optarg);
                return H3G_CONFIG_ERROR;
            }
            if (rc == H3G_CONFIG_OK)
                cfg->nlisten++;
            break;
        case O_CERT: cfg->cert_file = optarg; break;
        case O_KEY: cfg->key_file = optarg; break;
        case O_ALOG: cfg->access_log = optarg; break;
        case O_ELOG: cfg->error_log = strcmp(optarg, "stderr") == 0 ? NULL : optarg; break;
        case O_PIDFILE: cfg->pid_file = optarg; break;
        case O_KEYLOG: cfg->keylog = optarg; break;
        case O_QLOG:
            if (strlen(optarg) > 200) {
                snprintf(err, errlen, "--qlog-dir: path longer than 200 bytes");
                return H3G_CONFIG_ERROR;
            }
            cfg->qlog_dir = optarg;
            break;
        case O_LEVEL:
            if (h3g_log_level_parse(optarg, &lvl) != 0) {
                snprintf(err, errlen, "--log-level '%s': expected error, warn, info or debug",
                         optarg);
                return H3G_CONFIG_ERROR;
            }
            cfg->log_level = optarg;
            break;
        case O_AV:
            if (h3g_config_av_parse(optarg, &cfg->address_validation) != 0) {
                snprintf(err, errlen, "--address-validation '%s': expected auto, on or off",
                         optarg);
                return H3G_CONFIG_ERROR;
            }
            break;
        case O_ENGINE:
            if (h3g_config_engine_name(optarg, &cfg->engine) != 0) {
                snprintf(err, errlen, "--engine '%s': expected openssl or ngtcp2", optarg);
                return H3G_CONFIG_ERROR;
            }
            break;
        case O_CC:
            if (h3g_config_cc_parse(optarg, &cfg->cc) != 0) {
                snprintf(err, errlen, "--cc '%s': expected cubic, bbr or reno", optarg);
                return H3G_CONFIG_ERROR;
            }
            break;
        case O_HOSTKEY:
            cfg->host_key_file = optarg;
            cfg->host_key_line = 0;
            break;
        case O_TICKETKEY:
            if (!cli_tickets) {
                cfg->nticket_keys = 0; /* the command line's keys replace the file's */
                cli_tickets = 1;
            }
            if (cfg->nticket_keys == H3G_MAX_TICKET_KEYS) {
                snprintf(err, errlen, "--ticket-key: at most %d keys", H3G_MAX_TICKET_KEYS);
                return H3G_CONFIG_ERROR;
            }
            cfg->ticket_key_lines[cfg->nticket_keys] = 0;
            cfg->ticket_keys[cfg->nticket_keys++] = optarg;
            break;
        case O_NOTCP: cfg->no_tcp = 1; break;
        case O_REDIRECT: rc = h3g_config_add_redirect(cfg, optarg, err, errlen); break;
        case O_ADMIN: rc = h3g_config_set_admin(cfg, optarg, err, errlen); break;
        case O_TLSMIN:
            if (h3g_config_tls_min_parse(optarg, &cfg->tls_min_13) != 0) {
                snprintf(err, errlen, "--tls-min '%s': expected 1.2 or 1.3", optarg);
                return H3G_CONFIG_ERROR;
            }
            break;
        case O_WORKERS:
            if (h3g_config_workers_parse(optarg, &cfg->workers) != 0) {
                snprintf(err, errlen, "--workers '%s': expected auto or a number from 1 to %d",
                         optarg, H3G_MAX_WORKERS);
                return H3G_CONFIG_ERROR;
            }
            break;
        case 'h':
        case O_HELP: cfg->show_help = 1; break;
        case 'V':
        case O_VERSION: cfg->show_version = 1; break;
        case O_SETTINGS: cfg->show_settings = 1; break;
        case ':':
            snprintf(err, errlen, "%s needs a value", argv[optind - 1]);
            return H3G_CONFIG_ERROR;
        default:
            if (c >= O_SETTING && (size_t)(c - O_SETTING) < h3g_nsettings) {
                rc = cli_setting(cfg, &h3g_settings[c - O_SETTING], optarg, err, errlen);
                break;
            }
            snprintf(err, errlen, "unknown option '%s' (see --help)", argv[optind - 1]);
            return H3G_CONFIG_ERROR;
        }
    }
    if (rc != H3G_CONFIG_OK)
        return rc;
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
        return H3G_CONFIG_ERROR;
    }
    if (cfg->show_help || cfg->show_version || cfg->show_settings)
        return H3G_CONFIG_OK;
    if (cfg->root == NULL && cfg->nroutes == 0 && cfg->cli_upstream_server[0] == '\0') {
        snprintf(err, errlen,
                 "nothing to serve: give --root DIR or --upstream URL (or a config file)");
        return H3G_CONFIG_ERROR;
    }
    if ((cfg->cert_file == NULL) != (cfg->key_file == NULL)) {
        snprintf(err, errlen, "--cert and --key go together");
        return H3G_CONFIG_ERROR;
    }
    if (cfg->cert_file != NULL) {
        /* The command line's certificate becomes the default one. */
        if (cfg->ncerts == H3G_MAX_CERTS) {
            snprintf(err, errlen, "too many certificates");
            return H3G_CONFIG_ERROR;
        }
        for (size_t i = 0; i < cfg->ncerts; i++)
            cfg->certs[i].is_default = 0;
        struct h3g_cert_conf *cc = &cfg->certs[cfg->ncerts++];
        memset(cc, 0, sizeof(*cc));
        cc->cert = cfg->cert_file;
        cc->key = cfg->key_file;
        cc->is_default = 1;
    }
    if (cfg->nlisten == 0) {
        rc = h3g_config_parse_listen("0.0.0.0:4433", &cfg->listen[0], err, errlen);
        if (rc != H3G_CONFIG_OK)
            return rc;
        cfg->nlisten = 1;
    }
    if (check_admin(cfg, err, errlen) != H3G_CONFIG_OK)
        return H3G_CONFIG_ERROR;
    return check_redirects(cfg, err, errlen);
}
