/* The config file: directives into struct h3g_config.  Format in docs/config.md. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "config/conf_parse.h"
#include "config/settings.h"
#include "config/config.h"
#include "obs/log.h"

#define MAX_FILE (1 << 20)

struct ctx {
    struct h3g_config *cfg;
    const char *file;
    char *err;
    size_t errlen;
    int saw_listen;
};

static int bad(struct ctx *c, const struct h3g_conf_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(struct ctx *c, const struct h3g_conf_node *n, const char *fmt, ...)
{
    va_list ap;
    int k = snprintf(c->err, c->errlen, "%s:%d: %s: ", c->file, n->line, n->name);
    va_start(ap, fmt);
    if (k >= 0 && (size_t)k < c->errlen)
        vsnprintf(c->err + k, c->errlen - (size_t)k, fmt, ap);
    va_end(ap);
    return H3G_CONFIG_ERROR;
}

static int want_args(struct ctx *c, const struct h3g_conf_node *n, size_t min, size_t max)
{
    if (n->block)
        return bad(c, n, "takes no block");
    if (n->nargs < min || n->nargs > max) {
        if (min == max)
            return bad(c, n, "expects %zu value%s, got %zu", min, min == 1 ? "" : "s", n->nargs);
        return bad(c, n, "expects %zu to %zu values, got %zu", min, max, n->nargs);
    }
    return H3G_CONFIG_OK;
}

static int want_block(struct ctx *c, const struct h3g_conf_node *n)
{
    if (!n->block)
        return bad(c, n, "needs a { ... } block");
    if (n->nargs != 0)
        return bad(c, n, "takes no values before its block");
    return H3G_CONFIG_OK;
}

/* One value of a kind the settings table knows, for directives outside it. */
static int host_pattern_ok(const char *h)
{
    if (h[0] == '*')
        return h[1] == '.' && h[2] != '\0' && strchr(h + 1, '*') == NULL;
    if (h[0] == '\0' || strchr(h, '*') != NULL)
        return 0;
    for (const char *p = h; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
              *p == ':' || *p == '[' || *p == ']'))
            return 0;
    return 1;
}

static int names(struct ctx *c, const struct h3g_conf_node *n, const char **out, size_t *nout)
{
    if (want_args(c, n, 1, H3G_MAX_NAMES) != 0)
        return H3G_CONFIG_ERROR;
    for (size_t i = 0; i < n->nargs; i++) {
        if (!host_pattern_ok(n->args[i]))
            return bad(c, n, "'%s' is not a lowercase host name or *.suffix pattern", n->args[i]);
        out[i] = n->args[i];
    }
    *nout = n->nargs;
    return H3G_CONFIG_OK;
}

static int certificate(struct ctx *c, const struct h3g_conf_node *b)
{
    struct h3g_cert_conf *cc;
    if (want_block(c, b) != 0)
        return H3G_CONFIG_ERROR;
    if (c->cfg->ncerts == H3G_MAX_CERTS)
        return bad(c, b, "at most %d certificates", H3G_MAX_CERTS);
    cc = &c->cfg->certs[c->cfg->ncerts];
    memset(cc, 0, sizeof(*cc));
    cc->line = b->line;
    for (size_t i = 0; i < b->nchildren; i++) {
        const struct h3g_conf_node *n = &b->children[i];
        if (strcmp(n->name, "cert") == 0) {
            if (want_args(c, n, 1, 1) != 0)
                return H3G_CONFIG_ERROR;
            cc->cert = n->args[0];
        } else if (strcmp(n->name, "key") == 0) {
            if (want_args(c, n, 1, 1) != 0)
                return H3G_CONFIG_ERROR;
            cc->key = n->args[0];
        } else if (strcmp(n->name, "names") == 0) {
            if (names(c, n, cc->names, &cc->nnames) != 0)
                return H3G_CONFIG_ERROR;
        } else if (strcmp(n->name, "default") == 0) {
            if (want_args(c, n, 0, 0) != 0)
                return H3G_CONFIG_ERROR;
            cc->is_default = 1;
        } else {
            return bad(c, n,
                       "unknown directive in a certificate block (cert, key, names, default)");
        }
    }
    if (cc->cert == NULL || cc->key == NULL)
        return bad(c, b, "needs both 'cert' and 'key'");
    for (size_t i = 0; i < c->cfg->ncerts; i++)
        if (cc->is_default && c->cfg->certs[i].is_default)
            return bad(c, b, "a default certificate is already set at line %d",
                       c->cfg->certs[i].line);
    c->cfg->ncerts++;
    return H3G_CONFIG_OK;
}

static int route(struct ctx *c, const struct h3g_conf_node *b)
{
    struct h3g_route_conf *r;
    if (want_block(c, b) != 0)
        return H3G_CONFIG_ERROR;
    if (c->cfg->nroutes == H3G_MAX_ROUTES)
        return bad(c, b, "at most %d routes", H3G_MAX_ROUTES);
    r = &c->cfg->routes[c->cfg->nroutes];
    memset(r, 0, sizeof(*r));
    r->line = b->line;
    r->path_prefix = "/";
    for (size_t i = 0; i < b->nchildren; i++) {
        const struct h3g_conf_node *n = &b->children[i];
        if (strcmp(n->name, "host") == 0) {
            if (names(c, n, r->hosts, &r->nhosts) != 0)
                return H3G_CONFIG_ERROR;
        } else if (strcmp(n->name, "path") == 0) {
            if (want_args(c, n, 1, 1) != 0)
                return H3G_CONFIG_ERROR;
            if (n->args[0][0] != '/')
                return bad(c, n, "'%s' must start with '/'", n->args[0]);
            r->path_prefix = n->args[0];
        } else if (strcmp(n->name, "root") == 0) {
            if (want_args(c, n, 1, 1) != 0)
                return H3G_CONFIG_ERROR;
            r->root = n->args[0];
        } else if (strcmp(n->name, "upstream") == 0) {
            if (want_args(c, n, 1, 1) != 0)
                return H3G_CONFIG_ERROR;
            r->upstream = n->args[0];
        } else if (strcmp(n->name, "add_header") == 0 || strcmp(n->name, "remove_header") == 0) {
            int add = n->name[0] == 'a';
            struct h3g_header_rules *h = &r->headers;
            if (want_args(c, n, add ? 2 : 1, add ? 2 : 1) != 0)
                return H3G_CONFIG_ERROR;
            if ((add ? h->nadd : h->nremove) == H3G_MAX_HEADER_RULES)
                return bad(c, n, "at most %d per route", H3G_MAX_HEADER_RULES);
            /* any case, sent lowercase (HTTP/2 and HTTP/3 require it) */
            for (char *p = n->args[0]; *p; p++) {
                if (*p >= 'A' && *p <= 'Z')
                    *p = (char)(*p - 'A' + 'a');
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                      *p == '_'))
                    return bad(c, n, "'%s' is not a field name", n->args[0]);
            }
            if (add) {
                if (strpbrk(n->args[1], "\r\n") != NULL)
                    return bad(c, n, "the value may not contain CR or LF");
                h->add_name[h->nadd] = n->args[0];
                h->add_value[h->nadd++] = n->args[1];
            } else {
                h->remove[h->nremove++] = n->args[0];
            }
        } else {
            return bad(c, n,
                       "unknown directive in a route block (host, path, root, upstream, "
                       "add_header, remove_header)");
        }
    }
    if (r->root == NULL && r->upstream == NULL)
        return bad(c, b, "needs a 'root' (static files) or an 'upstream' (an origin group)");
    if (r->root != NULL && r->upstream != NULL)
        return bad(c, b, "takes 'root' or 'upstream', not both");
    c->cfg->nroutes++;
    return H3G_CONFIG_OK;
}

static int setting(struct ctx *c, const struct h3g_conf_node *n, const struct h3g_setting *st,
                   void *base);

static int upstream(struct ctx *c, const struct h3g_conf_node *b)
{
    struct h3g_upstream_conf *u;
    const struct h3g_setting *st;
    char names[256];
    if (!b->block || b->nargs != 1)
        return bad(c, b, "expects a name and a { ... } block");
    if (c->cfg->nupstreams == H3G_MAX_UPSTREAMS)
        return bad(c, b, "at most %d upstream groups", H3G_MAX_UPSTREAMS);
    if (h3g_config_find_upstream(c->cfg, b->args[0]) >= 0)
        return bad(c, b, "'%s' is defined twice", b->args[0]);
    u = &c->cfg->upstreams[c->cfg->nupstreams];
    h3g_upstream_conf_defaults(u);
    u->name = b->args[0];
    u->line = b->line;
    for (size_t i = 0; i < b->nchildren; i++) {
        const struct h3g_conf_node *n = &b->children[i];
        if (strcmp(n->name, "server") == 0) {
            if (want_args(c, n, 1, 1) != 0)
                return H3G_CONFIG_ERROR;
            if (u->nservers == H3G_UPSTREAM_MAX_SERVERS)
                return bad(c, n, "at most %d servers", H3G_UPSTREAM_MAX_SERVERS);
            if (strncmp(n->args[0], "unix:/", 6) != 0 && strrchr(n->args[0], ':') == NULL)
                return bad(c, n, "'%s': expected HOST:PORT or unix:/path", n->args[0]);
            u->servers[u->nservers++] = n->args[0];
        } else if ((st = h3g_setting_by_name("upstream", n->name)) != NULL) {
            if (setting(c, n, st, u) != 0)
                return H3G_CONFIG_ERROR;
        } else {
            h3g_settings_names("upstream", names, sizeof(names));
            return bad(c, n, "unknown directive in an upstream block (server, %s)", names);
        }
    }
    if (u->nservers == 0)
        return bad(c, b, "'%s' has no server", u->name);
    c->cfg->nupstreams++;
    return H3G_CONFIG_OK;
}

/* NAME VALUE; for a setting of the table (settings.c), into base: the
 * configuration, or the upstream group being read. */
static int setting(struct ctx *c, const struct h3g_conf_node *n, const struct h3g_setting *st,
                   void *base)
{
    char err[128];
    if (want_args(c, n, 1, 1) != 0)
        return H3G_CONFIG_ERROR;
    if (h3g_setting_set(st, base, n->args[0], err, sizeof(err)) != 0)
        return bad(c, n, "'%s' is not %s", n->args[0], err);
    return H3G_CONFIG_OK;
}

/* limits { NAME VALUE; ... }: every name is in the settings table. */
static int limits(struct ctx *c, const struct h3g_conf_node *b)
{
    char names[768];
    if (want_block(c, b) != 0)
        return H3G_CONFIG_ERROR;
    for (size_t i = 0; i < b->nchildren; i++) {
        const struct h3g_conf_node *n = &b->children[i];
        const struct h3g_setting *st = h3g_setting_by_name("limits", n->name);
        if (st == NULL) {
            h3g_settings_names("limits", names, sizeof(names));
            return bad(c, n, "unknown limit (%s)", names);
        }
        if (setting(c, n, st, c->cfg) != 0)
            return H3G_CONFIG_ERROR;
    }
    return H3G_CONFIG_OK;
}

/* listen ADDR:PORT [quic] [tcp]: what the address serves (default both). */
static int listen_kinds(struct ctx *c, const struct h3g_conf_node *n, struct h3g_listen_addr *la)
{
    if (n->nargs == 1)
        return H3G_CONFIG_OK;
    la->quic = la->tcp = 0;
    for (size_t i = 1; i < n->nargs; i++) {
        if (strcmp(n->args[i], "quic") == 0)
            la->quic = 1;
        else if (strcmp(n->args[i], "tcp") == 0)
            la->tcp = 1;
        else
            return bad(c, n, "'%s': expected quic or tcp", n->args[i]);
    }
    return H3G_CONFIG_OK;
}

/* alt_svc auto | off | "VALUE": the Alt-Svc field of TCP responses. */
static int alt_svc(struct ctx *c, const struct h3g_conf_node *n)
{
    if (want_args(c, n, 1, 1) != 0)
        return H3G_CONFIG_ERROR;
    const char *v = n->args[0];
    if (strcmp(v, "auto") == 0) {
        c->cfg->alt_svc = H3G_ALT_SVC_AUTO;
    } else if (strcmp(v, "off") == 0) {
        c->cfg->alt_svc = H3G_ALT_SVC_OFF;
    } else {
        for (const char *p = v; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return bad(c, n, "control character in the value");
        if (strlen(v) >= H3G_ALT_SVC_MAX)
            return bad(c, n, "value longer than 511 bytes");
        c->cfg->alt_svc = H3G_ALT_SVC_VALUE;
        c->cfg->alt_svc_value = v;
    }
    return H3G_CONFIG_OK;
}

static int top(struct ctx *c, const struct h3g_conf_node *n)
{
    struct h3g_config *cfg = c->cfg;
    enum h3g_log_level lvl;
    char err[256];
    const struct h3g_setting *st = h3g_setting_by_name(NULL, n->name);
    if (st != NULL)
        return setting(c, n, st, cfg);
    if (strcmp(n->name, "listen") == 0) {
        if (want_args(c, n, 1, 3) != 0)
            return H3G_CONFIG_ERROR;
        if (!c->saw_listen) {
            cfg->nlisten = 0; /* the file's listeners replace the default */
            c->saw_listen = 1;
        }
        if (cfg->nlisten == H3G_MAX_LISTEN)
            return bad(c, n, "at most %d addresses", H3G_MAX_LISTEN);
        if (h3g_config_parse_listen(n->args[0], &cfg->listen[cfg->nlisten], err, sizeof(err)) != 0)
            return bad(c, n, "%s", err);
        if (h3g_config_listen_dup(cfg, &cfg->listen[cfg->nlisten]) != NULL)
            return bad(c, n, "'%s' is already listened on", n->args[0]);
        return listen_kinds(c, n, &cfg->listen[cfg->nlisten++]);
    }
    if (strcmp(n->name, "tls_min") == 0) {
        if (want_args(c, n, 1, 1) != 0)
            return H3G_CONFIG_ERROR;
        if (h3g_config_tls_min_parse(n->args[0], &cfg->tls_min_13) != 0)
            return bad(c, n, "'%s': expected 1.2 or 1.3", n->args[0]);
        return H3G_CONFIG_OK;
    }
    if (strcmp(n->name, "alt_svc") == 0)
        return alt_svc(c, n);
    if (strcmp(n->name, "redirect_http") == 0) {
        if (want_args(c, n, 1, 1) != 0)
            return H3G_CONFIG_ERROR;
        if (h3g_config_add_redirect(cfg, n->args[0], err, sizeof(err)) != H3G_CONFIG_OK)
            return bad(c, n, "%s", err);
        return H3G_CONFIG_OK;
    }
    if (strcmp(n->name, "admin") == 0) {
        if (want_args(c, n, 1, 1) != 0)
            return H3G_CONFIG_ERROR;
        if (h3g_config_set_admin(cfg, n->args[0], err, sizeof(err)) != H3G_CONFIG_OK)
            return bad(c, n, "%s", err);
        return H3G_CONFIG_OK;
    }
    if (strcmp(n->name, "acme_challenge_root") == 0) {
        if (want_args(c, n, 1, 1) != 0)
            return H3G_CONFIG_ERROR;
        cfg->acme_challenge_root = n->args[0];
        return H3G_CONFIG_OK;
    }
    if (strcmp(n->name, "root") == 0) {
        if (want_args(c, n, 1, 1) != 0)
            return H3G_CONFIG_ERROR;
        cfg->root = n->args[0];
        return H3G_CONFIG_OK;
    }
    if (strcmp(n->name, "certificate") == 0)
        return certificate(c, n);
    if (strcmp(n->name, "route") == 0)
        return route(c, n);
    if (strcmp(n->name, "upstream") == 0)
        return upstream(c, n);
    if (strcmp(n->name, "limits") == 0)
        return limits(c, n);
    if (strcmp(n->name, "unknown_sni") == 0) {
        if (want_args(c, n, 1, 1) != 0)
            return H3G_CONFIG_ERROR;
        if (strcmp(n->args[0], "default") == 0)
            cfg->sni_reject_unknown = 0;
        else if (strcmp(n->args[0], "reject") == 0)
            cfg->sni_reject_unknown = 1;
        else
            return bad(c, n, "'%s': expected default or reject", n->args[0]);
        return H3G_CONFIG_OK;
    }
    if (strcmp(n->name, "access_log") == 0) {
        if (want_args(c, n, 1, 1) != 0)
            return H3G_CONFIG_ERROR;
        cfg->access_log = strcmp(n->args[0], "off") == 0 ? NULL : n->args[0];
        return H3G_CONFIG_OK;
    }
    if (strcmp(n->name, "error_log") == 0) {
        if (want_args(c, n, 1, 1) != 0)
            return H3G_CONFIG_ERROR;
        cfg->error_log = strcmp(n->args[0], "stderr") == 0 ? NULL : n->args[0];
        return H3G_CONFIG_OK;
    }
    if (strcmp(n->name, "keylog") == 0) {
        if (want_args(c, n, 1, 1) != 0)
            return H3G_CONFIG_ERROR;
        cfg->keylog = strcmp(n->args[0], "off") == 0 ? NULL : n->args[0];
        return H3G_CONFIG_OK;
    }
    if (strcmp(n->name, "qlog_dir") == 0) {
        if (want_args(c, n, 1, 1) != 0)
            return H3G_CONFIG_ERROR;
        if (strlen(n->args[0]) > 200)
            return bad(c, n, "path longer than 200 bytes");
        cfg->qlog_dir = strcmp(n->args[0], "off") == 0 ? NULL : n->args[0];
        return H3G_CONFIG_OK;
    }
    if (strcmp(n->name, "pid_file") == 0) {
        if (want_args(c, n, 1, 1) != 0)
            return H3G_CONFIG_ERROR;
        cfg->pid_file = n->args[0];
        return H3G_CONFIG_OK;
    }
    if (strcmp(n->name, "user") == 0) {
        if (want_args(c, n, 1, 2) != 0)
            return H3G_CONFIG_ERROR;
        cfg->user = n->args[0];
        cfg->group = n->nargs > 1 ? n->args[1] : NULL;
        return H3G_CONFIG_OK;
    }
    if (strcmp(n->name, "log_level") == 0) {
        if (want_args(c, n, 1, 1) != 0)
            return H3G_CONFIG_ERROR;
        if (h3g_log_level_parse(n->args[0], &lvl) != 0)
            return bad(c, n, "'%s': expected error, warn, info or debug", n->args[0]);
        cfg->log_level = n->args[0];
        return H3G_CONFIG_OK;
    }
    if (strcmp(n->name, "workers") == 0) {
        if (want_args(c, n, 1, 1) != 0)
            return H3G_CONFIG_ERROR;
        if (h3g_config_workers_parse(n->args[0], &cfg->workers) != 0)
            return bad(c, n, "'%s': expected auto or a number from 1 to %d", n->args[0],
                       H3G_MAX_WORKERS);
        return H3G_CONFIG_OK;
    }
    if (strcmp(n->name, "engine") == 0) {
        if (want_args(c, n, 1, 1) != 0)
            return H3G_CONFIG_ERROR;
        if (h3g_config_engine_name(n->args[0], &cfg->engine) != 0)
            return bad(c, n, "'%s': expected openssl or ngtcp2", n->args[0]);
        return H3G_CONFIG_OK;
    }
    if (strcmp(n->name, "cc") == 0) {
        if (want_args(c, n, 1, 1) != 0)
            return H3G_CONFIG_ERROR;
        if (h3g_config_cc_parse(n->args[0], &cfg->cc) != 0)
            return bad(c, n, "'%s': expected cubic, bbr or reno", n->args[0]);
        return H3G_CONFIG_OK;
    }
    if (strcmp(n->name, "ssl_session_ticket_key") == 0) {
        if (want_args(c, n, 1, 1) != 0)
            return H3G_CONFIG_ERROR;
        if (cfg->nticket_keys == H3G_MAX_TICKET_KEYS)
            return bad(c, n, "at most %d keys", H3G_MAX_TICKET_KEYS);
        cfg->ticket_key_lines[cfg->nticket_keys] = n->line;
        cfg->ticket_keys[cfg->nticket_keys++] = n->args[0];
        return H3G_CONFIG_OK;
    }
    if (strcmp(n->name, "quic_host_key") == 0) {
        if (want_args(c, n, 1, 1) != 0)
            return H3G_CONFIG_ERROR;
        cfg->host_key_file = n->args[0];
        cfg->host_key_line = n->line;
        return H3G_CONFIG_OK;
    }
    if (strcmp(n->name, "address_validation") == 0) {
        if (want_args(c, n, 1, 1) != 0)
            return H3G_CONFIG_ERROR;
        if (h3g_config_av_parse(n->args[0], &cfg->address_validation) != 0)
            return bad(c, n, "'%s': expected auto, on or off", n->args[0]);
        return H3G_CONFIG_OK;
    }
    return bad(c, n, "unknown directive");
}

int h3g_config_load_text(struct h3g_config *cfg, const char *text, size_t len, const char *name,
                         char *err, size_t errlen)
{
    struct h3g_conf_node *root = NULL;
    struct ctx c = {cfg, name, err, errlen, 0};
    if (h3g_conf_parse(text, len, name, &root, err, errlen) != 0)
        return H3G_CONFIG_ERROR;
    /* Strings in cfg point into the tree: keep it as long as cfg. */
    h3g_conf_free(cfg->tree);
    cfg->tree = root;
    for (size_t i = 0; i < root->nchildren; i++)
        if (top(&c, &root->children[i]) != H3G_CONFIG_OK)
            return H3G_CONFIG_ERROR;
    /* Routes may name upstreams defined further down. */
    for (size_t i = 0; i < cfg->nroutes; i++) {
        const struct h3g_route_conf *r = &cfg->routes[i];
        if (r->upstream != NULL && h3g_config_find_upstream(cfg, r->upstream) < 0) {
            snprintf(err, errlen, "%s:%d: route: no upstream named '%s'", name, r->line,
                     r->upstream);
            return H3G_CONFIG_ERROR;
        }
    }
    return H3G_CONFIG_OK;
}

int h3g_config_load_file(struct h3g_config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *buf;
    size_t n;
    int rc;
    if (f == NULL) {
        snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
        return H3G_CONFIG_ERROR;
    }
    buf = malloc(MAX_FILE + 1);
    if (buf == NULL) {
        fclose(f);
        snprintf(err, errlen, "out of memory");
        return H3G_CONFIG_ERROR;
    }
    n = fread(buf, 1, MAX_FILE + 1, f);
    if (ferror(f) || n > MAX_FILE) {
        snprintf(err, errlen, "%s: %s", path,
                 ferror(f) ? strerror(errno) : "larger than 1 MiB, not a config file?");
        fclose(f);
        free(buf);
        return H3G_CONFIG_ERROR;
    }
    fclose(f);
    cfg->config_file = path;
    rc = h3g_config_load_text(cfg, buf, n, path, err, errlen);
    free(buf);
    return rc;
}

void h3g_config_free(struct h3g_config *cfg)
{
    h3g_conf_free(cfg->tree);
    cfg->tree = NULL;
}
