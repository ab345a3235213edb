/* HTTP/1.1 message reader (sans-I/O, on llhttp), shared by the HTTP/1.1 front
 * end (requests) and the proxy's client side (responses from origins): bytes
 * in, a head and body events out, one message at a time.  For requests the head
 * is a validated struct h3g_request; request smuggling vectors are refused
 * with 400 (RFC 9112 §6.1, §6.3, §5.2: conflicting Content-Length and
 * Transfer-Encoding, a Transfer-Encoding other than chunked, obs-fold, bad
 * chunk sizes), oversized heads with 431 or 414.  A response is refused for the
 * same framing faults (the proxy answers 502); 1xx responses are skipped. */
#ifndef H3G_H1_PARSE_H
#define H3G_H1_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <llhttp.h>

#include "http/request.h"

/* What the request head says beyond its fields. */
struct h3g_h1_head {
    int http_minor;      /* 1.0 or 1.1 */
    int keep_alive;      /* the client keeps the connection (RFC 9112 §9.3) */
    int expect_continue; /* Expect: 100-continue */
    int chunked;         /* the body is chunked */
    int has_body;        /* a body follows (chunked or Content-Length > 0) */
};

struct h3g_h1_parser;

struct h3g_h1_callbacks {
    /* Requests: the head is complete and valid; req is the parser's (valid
     * until the next message).  Return 0, or H3G_EAGAIN to stop parsing here. */
    int (*head)(void *arg, struct h3g_request *req, const struct h3g_h1_head *h);
    /* Responses: a final (>= 200) response head; its fields are
     * h3g_h1_field_next (names lowercase).  Return 0, 1 when it has no body
     * whatever it says (the answer to HEAD), or H3G_ERR to fail it. */
    int (*response)(void *arg, int status, const struct h3g_h1_parser *p);
    /* Body bytes: 0, H3G_EAGAIN to stop after them, or H3G_ERR to fail. */
    int (*body)(void *arg, const uint8_t *data, size_t len);
    /* The message ended (the parser stops after it; h3g_h1_parser_next goes on). */
    void (*end)(void *arg);
};

enum { FOLD_FIRST, FOLD_LINE_START, FOLD_IN_LINE, FOLD_CR, FOLD_DONE };

struct h3g_h1_parser {
    llhttp_t ll;
    llhttp_settings_t settings;
    const struct h3g_h1_callbacks *cbs;
    void *arg;
    struct h3g_request req;
    struct h3g_h1_head head;
    size_t max_head, max_fields, max_url;
    const char *scheme; /* :scheme of its requests: "https" (default) or "http" */
    size_t head_bytes;
    int in_head;  /* between the first byte and the end of the head */
    int in_msg;   /* between the first byte and the end of the message */
    int scan;     /* obs-fold scan of the head (parse.c) */
    int response; /* reading responses */
    int interim;  /* ... and this one is a 1xx */
    int paused;   /* a callback asked to stop */
    int ended;    /* the message ended: wait for h3g_h1_parser_next */
    int status;   /* when parsing failed: the status to answer (400, 413, 414, 431, 501) */
    const char *error;
    /* the head's fields until it is complete ("name\0value\0" each) */
    char *scratch;
    size_t slen, scap;
    size_t nfields;
    int in_value;
    int seen_host;
};

void h3g_h1_parser_init(struct h3g_h1_parser *p, const struct h3g_h1_callbacks *cbs, void *arg,
                        size_t max_head, size_t max_fields);
/* The same for responses (cbs->response instead of cbs->head). */
void h3g_h1_parser_init_response(struct h3g_h1_parser *p, const struct h3g_h1_callbacks *cbs,
                                 void *arg, size_t max_head, size_t max_fields);
/* The head's fields in order (inside cbs->response): *pos starts at 0;
 * returns 0 after the last. */
int h3g_h1_field_next(const struct h3g_h1_parser *p, size_t *pos, const char **name,
                      const char **value);
/* The peer keeps the connection after this message (RFC 9112 §9.3). */
int h3g_h1_keep_alive(const struct h3g_h1_parser *p);
void h3g_h1_parser_free(struct h3g_h1_parser *p);
/* Parses; returns the bytes taken (fewer than len when a callback paused or
 * the message ended), or H3G_EINVAL with p->status and p->error set. */
ssize_t h3g_h1_parse(struct h3g_h1_parser *p, const uint8_t *data, size_t len);
/* The client closed: H3G_EINVAL when a message was cut short. */
int h3g_h1_parse_eof(struct h3g_h1_parser *p);
/* Goes on after a callback's pause. */
void h3g_h1_parser_resume(struct h3g_h1_parser *p);
/* Ready for the next message after end. */
void h3g_h1_parser_next(struct h3g_h1_parser *p);
/* Between messages (nothing of the next one seen yet)? */
int h3g_h1_parser_idle(const struct h3g_h1_parser *p);

#endif
