#include "config/conf_parse.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"

#define MAX_DEPTH 8
#define MAX_ARGS 64

struct lexer {
    const char *p, *end;
    const char *file;
    int line;
    char *err;
    size_t errlen;
};

static int lex_error(struct lexer *lx, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int lex_error(struct lexer *lx, int line, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(lx->err, lx->errlen, "%s:%d: ", lx->file, line);
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < lx->errlen)
        vsnprintf(lx->err + n, lx->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return H3G_EINVAL;
}

enum tok { T_EOF, T_WORD, T_SEMI, T_OPEN, T_CLOSE, T_ERR };

/* Appends c to the growing word; 0, or -1 (and the word freed) without memory. */
static int push_char(char **w, size_t *n, size_t *cap, char c)
{
    if (*n + 2 > *cap) {
        char *b = realloc(*w, *cap *= 2);
        if (b == NULL) {
            free(*w);
            *w = NULL;
            return -1;
        }
        *w = b;
    }
    (*w)[(*n)++] = c;
    return 0;
}

/* Reads the next token; a word is returned malloc'ed in *word. */
static enum tok next(struct lexer *lx, char **word, int *line)
{
    *word = NULL;
    for (;;) {
        while (lx->p < lx->end &&
               (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r' || *lx->p == '\n')) {
            if (*lx->p == '\n')
                lx->line++;
            lx->p++;
        }
        if (lx->p < lx->end && *lx->p == '#') {
            while (lx->p < lx->end && *lx->p != '\n')
                lx->p++;
            continue;
        }
        break;
    }
    *line = lx->line;
    if (lx->p >= lx->end)
        return T_EOF;
    char c = *lx->p;
    if (c == ';' || c == '{' || c == '}') {
        lx->p++;
        return c == ';' ? T_SEMI : c == '{' ? T_OPEN : T_CLOSE;
    }
    size_t cap = 32, n = 0;
    char *w = malloc(cap);
    if (w == NULL)
        return T_ERR;
    if (c == '"') {
        lx->p++;
        for (;;) {
            if (lx->p >= lx->end || *lx->p == '\n') {
                free(w);
                lex_error(lx, *line, "unterminated string");
                return T_ERR;
            }
            c = *lx->p++;
            if (c == '"')
                break;
            if (c == '\\' && lx->p < lx->end && (*lx->p == '"' || *lx->p == '\\'))
                c = *lx->p++;
            if (push_char(&w, &n, &cap, c) != 0)
                return T_ERR;
        }
    } else {
        while (lx->p < lx->end) {
            c = *lx->p;
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' || c == '{' ||
                c == '}' || c == '#')
                break;
            if (c == '"') {
                free(w);
                lex_error(lx, *line, "quote inside a word");
                return T_ERR;
            }
            if ((unsigned char)c < 0x20 || c == 0x7f) {
                free(w);
                lex_error(lx, *line, "control character in the file");
                return T_ERR;
            }
            if (push_char(&w, &n, &cap, c) != 0)
                return T_ERR;
            lx->p++;
        }
    }
    w[n] = '\0';
    *word = w;
    return T_WORD;
}

static void node_clear(struct h3g_conf_node *n)
{
    free(n->name);
    for (size_t i = 0; i < n->nargs; i++)
        free(n->args[i]);
    free(n->args);
    for (size_t i = 0; i < n->nchildren; i++)
        node_clear(&n->children[i]);
    free(n->children);
}

void h3g_conf_free(struct h3g_conf_node *root)
{
    if (root == NULL)
        return;
    node_clear(root);
    free(root);
}

static int parse_block(struct lexer *lx, struct h3g_conf_node *parent, int depth)
{
    for (;;) {
        char *w;
        int line;
        enum tok t = next(lx, &w, &line);
        if (t == T_ERR)
            return H3G_EINVAL;
        if (t == T_EOF) {
            if (depth > 0)
                return lex_error(lx, line, "missing '}' for the block opened at line %d",
                                 parent->line);
            return 0;
        }
        if (t == T_CLOSE) {
            if (depth == 0)
                return lex_error(lx, line, "unexpected '}'");
            return 0;
        }
        if (t != T_WORD)
            return lex_error(lx, line, "expected a directive name, found '%c'",
                             t == T_SEMI ? ';' : '{');
        struct h3g_conf_node *kids =
            realloc(parent->children, (parent->nchildren + 1) * sizeof(*kids));
        if (kids == NULL) {
            free(w);
            return H3G_ENOMEM;
        }
        parent->children = kids;
        struct h3g_conf_node *n = &kids[parent->nchildren++];
        memset(n, 0, sizeof(*n));
        n->name = w;
        n->line = line;
        for (;;) {
            char *a;
            int aline;
            t = next(lx, &a, &aline);
            if (t == T_ERR)
                return H3G_EINVAL;
            if (t == T_WORD) {
                if (n->nargs == MAX_ARGS) {
                    free(a);
                    return lex_error(lx, aline, "too many arguments to '%s'", n->name);
                }
                char **args = realloc(n->args, (n->nargs + 1) * sizeof(*args));
                if (args == NULL) {
                    free(a);
                    return H3G_ENOMEM;
                }
                n->args = args;
                n->args[n->nargs++] = a;
                continue;
            }
            if (t == T_SEMI)
                break;
            if (t == T_OPEN) {
                if (depth + 1 >= MAX_DEPTH)
                    return lex_error(lx, aline, "blocks nested too deep");
                n->block = 1;
                int rc = parse_block(lx, n, depth + 1);
                if (rc != 0)
                    return rc;
                break;
            }
            if (t == T_EOF)
                return lex_error(lx, n->line, "'%s' is missing its ';'", n->name);
            return lex_error(lx, aline, "'%s' is missing its ';' before '}'", n->name);
        }
    }
}

int h3g_conf_parse(const char *text, size_t len, const char *filename, struct h3g_conf_node **root,
                   char *err, size_t errlen)
{
    struct lexer lx = {text, text + len, filename, 1, err, errlen};
    struct h3g_conf_node *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return H3G_ENOMEM;
    r->block = 1;
    if (memchr(text, '\0', len) != NULL) {
        free(r);
        return lex_error(&lx, 1, "the file contains a NUL byte");
    }
    int rc = parse_block(&lx, r, 0);
    if (rc != 0) {
        if (rc == H3G_ENOMEM)
            snprintf(err, errlen, "%s: out of memory", filename);
        h3g_conf_free(r);
        return rc;
    }
    *root = r;
    return 0;
}

static int parse_number(const char *s, uint64_t *num, const char **unit)
{
    uint64_t n = 0;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return H3G_EINVAL;
    while (*p >= '0' && *p <= '9') {
        if (n > (UINT64_MAX - 9) / 10)
            return H3G_EINVAL;
        n = n * 10 + (uint64_t)(*p++ - '0');
    }
    *num = n;
    *unit = p;
    return 0;
}

static int scale(uint64_t n, uint64_t mul, uint64_t *out)
{
    if (mul != 0 && n > UINT64_MAX / mul)
        return H3G_EINVAL;
    *out = n * mul;
    return 0;
}

int h3g_conf_duration_ms(const char *s, uint64_t *out)
{
    uint64_t n;
    const char *u;
    if (parse_number(s, &n, &u) != 0)
        return H3G_EINVAL;
    if (strcmp(u, "ms") == 0)
        return scale(n, 1, out);
    if (*u == '\0' || strcmp(u, "s") == 0)
        return scale(n, 1000, out);
    if (strcmp(u, "m") == 0)
        return scale(n, 60000, out);
    if (strcmp(u, "h") == 0)
        return scale(n, 3600000, out);
    return H3G_EINVAL;
}

int h3g_conf_size(const char *s, uint64_t *out)
{
    uint64_t n;
    const char *u;
    if (parse_number(s, &n, &u) != 0)
        return H3G_EINVAL;
    if (*u == '\0')
        return scale(n, 1, out);
    if (strcasecmp(u, "k") == 0)
        return scale(n, 1024, out);
    if (strcasecmp(u, "m") == 0)
        return scale(n, 1024 * 1024, out);
    if (strcasecmp(u, "g") == 0)
        return scale(n, 1024ull * 1024 * 1024, out);
    return H3G_EINVAL;
}

int h3g_conf_bool(const char *s, int *out)
{
    if (strcmp(s, "on") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "true") == 0) {
        *out = 1;
        return 0;
    }
    if (strcmp(s, "off") == 0 || strcmp(s, "no") == 0 || strcmp(s, "false") == 0) {
        *out = 0;
        return 0;
    }
    return H3G_EINVAL;
}
