/* The HTTP/1.1 request reader (src/h1/parse.c): framing, mapping to the
 * shared request form, and the smuggling vectors it must refuse. */
#include <stdlib.h>

#include "common.h"
#include "h1/parse.h"
#include "testutil.h"

struct seen {
    int heads, ends, pause_head, pause_body;
    struct h3g_h1_head h;
    char method[16], authority[64], path[128], version[8];
    int64_t content_length;
    char body[256];
    size_t body_len;
};

static int on_head(void *arg, struct h3g_request *req, const struct h3g_h1_head *h)
{
    struct seen *s = arg;
    s->heads++;
    s->h = *h;
    snprintf(s->method, sizeof(s->method), "%s", req->method);
    snprintf(s->authority, sizeof(s->authority), "%s", req->authority ? req->authority : "");
    snprintf(s->path, sizeof(s->path), "%s", req->path ? req->path : "");
    snprintf(s->version, sizeof(s->version), "%s", req->version);
    s->content_length = req->content_length;
    return s->pause_head ? H3G_EAGAIN : 0;
}

static int on_body(void *arg, const uint8_t *data, size_t len)
{
    struct seen *s = arg;
    if (s->body_len + len <= sizeof(s->body)) {
        memcpy(s->body + s->body_len, data, len);
        s->body_len += len;
    }
    return s->pause_body ? H3G_EAGAIN : 0;
}

static void on_end(void *arg)
{
    ((struct seen *)arg)->ends++;
}

static const struct h3g_h1_callbacks cbs = {.head = on_head, .body = on_body, .end = on_end};

/* Parses text whole (or byte by byte); returns what parse returned last. */
static ssize_t run(struct h3g_h1_parser *p, struct seen *s, const char *text, int bytewise)
{
    size_t len = strlen(text), off = 0;
    ssize_t n = 0;
    memset(s, 0, sizeof(*s));
    h3g_h1_parser_init(p, &cbs, s, 4096, 16);
    while (off < len) {
        n = h3g_h1_parse(p, (const uint8_t *)text + off, bytewise ? 1 : len - off);
        if (n < 0)
            return n;
        if (n == 0) {
            if (!p->ended)
                return (ssize_t)off; /* paused */
            h3g_h1_parser_next(p);
            continue;
        }
        off += (size_t)n;
    }
    return (ssize_t)off;
}

/* heads: how many heads the callbacks saw before the failure (1 when the
 * body is what is wrong). */
static void expect_fail(const char *text, int status, int heads, const char *label)
{
    struct h3g_h1_parser p;
    struct seen s;
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        ssize_t n = run(&p, &s, text, bytewise);
        if (n >= 0 || p.status != status)
            fprintf(stderr, "  case '%s'%s: n=%zd status %d (%s)\n", label,
                    bytewise ? " bytewise" : "", n, p.status, p.error ? p.error : "");
        CHECK(n == H3G_EINVAL && p.status == status);
        CHECK(s.heads == heads);
        h3g_h1_parser_free(&p);
    }
}

static void test_simple_and_pipelined(void)
{
    struct h3g_h1_parser p;
    struct seen s;
    const char *two = "GET /a?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n"
                      "HEAD /b HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n";
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        ssize_t n = run(&p, &s, two, bytewise);
        CHECK(n == (ssize_t)strlen(two));
        CHECK(s.heads == 2 && s.ends == 2);
        CHECK_STR(s.method, "HEAD");
        CHECK_STR(s.path, "/b");
        CHECK_STR(s.authority, "example.com");
        CHECK_STR(s.version, "1.1");
        CHECK(!s.h.keep_alive && !s.h.has_body && s.content_length == 0);
        h3g_h1_parser_free(&p);
    }
    /* the parser stops after each message: one at a time */
    memset(&s, 0, sizeof(s));
    h3g_h1_parser_init(&p, &cbs, &s, 4096, 16);
    ssize_t n = h3g_h1_parse(&p, (const uint8_t *)two, strlen(two));
    CHECK(n > 0 && (size_t)n < strlen(two) && s.ends == 1 && p.ended);
    CHECK(h3g_h1_parse(&p, (const uint8_t *)two + n, strlen(two) - (size_t)n) == 0);
    h3g_h1_parser_next(&p);
    CHECK(h3g_h1_parse(&p, (const uint8_t *)two + n, strlen(two) - (size_t)n) ==
          (ssize_t)(strlen(two) - (size_t)n));
    CHECK(s.ends == 2);
    h3g_h1_parser_free(&p);
}

static void test_bodies(void)
{
    struct h3g_h1_parser p;
    struct seen s;
    const char *cl = "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
    CHECK(run(&p, &s, cl, 1) == (ssize_t)strlen(cl));
    CHECK(s.h.has_body && !s.h.chunked && s.content_length == 5);
    CHECK(s.body_len == 5 && memcmp(s.body, "hello", 5) == 0 && s.ends == 1);
    h3g_h1_parser_free(&p);
    const char *ch = "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                     "Expect: 100-continue\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n"
                     "Trailer-Field: x\r\n\r\n";
    CHECK(run(&p, &s, ch, 0) == (ssize_t)strlen(ch));
    CHECK(s.h.chunked && s.h.expect_continue && s.content_length == -1);
    CHECK(s.body_len == 11 && memcmp(s.body, "hello world", 11) == 0 && s.ends == 1);
    h3g_h1_parser_free(&p);
    /* a handler that pauses: the parser stops after the bytes it was given */
    memset(&s, 0, sizeof(s));
    s.pause_body = 1;
    h3g_h1_parser_init(&p, &cbs, &s, 4096, 16);
    ssize_t n = h3g_h1_parse(&p, (const uint8_t *)cl, strlen(cl));
    CHECK(n == (ssize_t)strlen(cl) && s.body_len == 5 && s.ends == 0 && p.paused);
    h3g_h1_parser_resume(&p);
    CHECK(h3g_h1_parse(&p, (const uint8_t *)"", 0) == 0);
    h3g_h1_parser_free(&p);
}

static void test_mapping(void)
{
    struct h3g_h1_parser p;
    struct seen s;
    const char *abs = "GET https://a.example:8443/p HTTP/1.1\r\nHost: other\r\n\r\n";
    CHECK(run(&p, &s, abs, 0) > 0);
    CHECK_STR(s.authority, "a.example:8443"); /* absolute-form wins over Host */
    CHECK_STR(s.path, "/p");
    h3g_h1_parser_free(&p);
    const char *old = "GET / HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n";
    CHECK(run(&p, &s, old, 0) > 0);
    CHECK(s.h.keep_alive && s.h.http_minor == 0);
    CHECK_STR(s.version, "1.0");
    h3g_h1_parser_free(&p);
    const char *star = "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n";
    CHECK(run(&p, &s, star, 0) > 0);
    CHECK_STR(s.path, "*");
    h3g_h1_parser_free(&p);
    const char *lead = "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"; /* RFC 9112 §2.2 */
    CHECK(run(&p, &s, lead, 0) > 0 && s.heads == 1);
    h3g_h1_parser_free(&p);
}

static void test_refused(void)
{
    expect_fail("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                400, 0, "CL and TE");
    expect_fail("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400,
                0, "two CL");
    expect_fail("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400, 0, "negative CL");
    expect_fail("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, 0,
                "TE gzip");
    expect_fail("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400, 0,
                "TE not ending chunked");
    expect_fail("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, 1,
                "bad chunk size");
    expect_fail("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                "ffffffffffffffffff\r\n",
                400, 1, "chunk size overflow");
    expect_fail("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400, 0, "obs-fold");
    expect_fail("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", 400, 0, "obs-fold tab");
    expect_fail("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, 0, "two Host");
    expect_fail("GET / HTTP/1.1\r\n\r\n", 400, 0, "no Host");
    expect_fail("GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n", 400, 0, "space in name");
    expect_fail("GET / HTTP/1.1\r\nHost: h\r\nExpect: magic\r\n\r\n", 417, 0, "expect");
    expect_fail("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, 0, "version");
    expect_fail("GET foo HTTP/1.1\r\nHost: h\r\n\r\n", 400, 0, "relative target");
    /* limits: 4096 head bytes, 16 fields, 8 KiB target */
    char big[6000];
    snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: h\r\nX: %05000d\r\n\r\n", 1);
    expect_fail(big, 431, 0, "head size");
    char many[1024] = "GET / HTTP/1.1\r\nHost: h\r\n";
    for (int i = 0; i < 20; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "X-%d: v\r\n", i);
    strcat(many, "\r\n");
    expect_fail(many, 431, 0, "field count");
    char *url = malloc(9000 + 64);
    strcpy(url, "GET /");
    memset(url + 5, 'a', 9000);
    strcpy(url + 9005, " HTTP/1.1\r\nHost: h\r\n\r\n");
    expect_fail(url, 414, 0, "target size");
    free(url);
}

static void test_eof(void)
{
    struct h3g_h1_parser p;
    struct seen s;
    memset(&s, 0, sizeof(s));
    h3g_h1_parser_init(&p, &cbs, &s, 4096, 16);
    const char *cut = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc";
    CHECK(h3g_h1_parse(&p, (const uint8_t *)cut, strlen(cut)) == (ssize_t)strlen(cut));
    CHECK(h3g_h1_parse_eof(&p) == H3G_EINVAL); /* cut short */
    h3g_h1_parser_free(&p);
    memset(&s, 0, sizeof(s));
    h3g_h1_parser_init(&p, &cbs, &s, 4096, 16);
    CHECK(h3g_h1_parser_idle(&p) && h3g_h1_parse_eof(&p) == 0);
    h3g_h1_parser_free(&p);
}

int main(void)
{
    test_simple_and_pipelined();
    test_bodies();
    test_mapping();
    test_refused();
    test_eof();
    return TEST_RESULT();
}
