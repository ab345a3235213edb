#include "common.h"
#include "http/request.h"
#include "testutil.h"

struct kv {
    const char *n, *v;
};

/* Builds a request from fields; returns the first non-zero code. */
static int build(struct h3g_request *r, const struct kv *f, size_t n)
{
    h3g_request_init(r, 64);
    for (size_t i = 0; i < n; i++) {
        int rc = h3g_request_add(r, (const uint8_t *)f[i].n, strlen(f[i].n),
                                 (const uint8_t *)f[i].v, strlen(f[i].v));
        if (rc != 0)
            return rc;
    }
    return h3g_request_finish(r);
}

#define GOOD_PSEUDO                                                                                \
    {":method", "GET"}, {":scheme", "https"}, {":authority", "example.com"},                       \
    {                                                                                              \
        ":path", "/"                                                                               \
    }

static void expect(const struct kv *f, size_t n, int want_ok, const char *label)
{
    struct h3g_request r;
    int rc = build(&r, f, n);
    if ((rc == 0) != want_ok)
        fprintf(stderr, "  case '%s': rc %d (%s)\n", label, rc, r.error ? r.error : "");
    CHECK((rc == 0) == want_ok);
    h3g_request_reset(&r);
}

#define EXPECT(ok, label, ...)                                                                     \
    do {                                                                                           \
        const struct kv f_[] = {__VA_ARGS__};                                                      \
        expect(f_, sizeof(f_) / sizeof(f_[0]), ok, label);                                         \
    } while (0)

int main(void)
{
    struct h3g_request r;
    size_t len;
    const struct kv good[] = {GOOD_PSEUDO, {"user-agent", "t"}, {"accept", "*/*"}};
    CHECK(build(&r, good, 6) == 0);
    CHECK_STR(r.method, "GET");
    CHECK_STR(r.scheme, "https");
    CHECK_STR(r.authority, "example.com");
    CHECK_STR(r.path, "/");
    CHECK_STR(h3g_request_header(&r, "accept", &len), "*/*");
    CHECK(len == 3);
    CHECK(h3g_request_header(&r, "missing", NULL) == NULL);
    CHECK(h3g_request_field_count(&r) == 2);
    h3g_request_reset(&r);

    EXPECT(1, "host instead of authority", {":method", "GET"}, {":scheme", "https"},
           {":path", "/x"}, {"host", "example.com"});
    EXPECT(1, "same authority and host", GOOD_PSEUDO, {"host", "example.com"});
    EXPECT(1, "te trailers", GOOD_PSEUDO, {"te", "trailers"});
    EXPECT(1, "OPTIONS *", {":method", "OPTIONS"}, {":scheme", "https"}, {":authority", "a"},
           {":path", "*"});
    EXPECT(1, "CONNECT", {":method", "CONNECT"}, {":authority", "example.com:443"});
    EXPECT(1, "content-length", GOOD_PSEUDO, {"content-length", "10"}, {"content-length", "10"});

    EXPECT(0, "missing method", {":scheme", "https"}, {":authority", "a"}, {":path", "/"});
    EXPECT(0, "missing scheme", {":method", "GET"}, {":authority", "a"}, {":path", "/"});
    EXPECT(0, "missing path", {":method", "GET"}, {":scheme", "https"}, {":authority", "a"});
    EXPECT(0, "empty path", {":method", "GET"}, {":scheme", "https"}, {":authority", "a"},
           {":path", ""});
    EXPECT(0, "relative path", {":method", "GET"}, {":scheme", "https"}, {":authority", "a"},
           {":path", "x"});
    EXPECT(0, "no authority no host", {":method", "GET"}, {":scheme", "https"}, {":path", "/"});
    EXPECT(0, "authority and host differ", GOOD_PSEUDO, {"host", "other.com"});
    EXPECT(0, "duplicate pseudo", GOOD_PSEUDO, {":path", "/again"});
    EXPECT(0, "unknown pseudo", GOOD_PSEUDO, {":foo", "bar"});
    EXPECT(0, "response pseudo in request", GOOD_PSEUDO, {":status", "200"});
    EXPECT(0, "pseudo after regular", {":method", "GET"}, {"accept", "*/*"}, {":scheme", "https"},
           {":authority", "a"}, {":path", "/"});
    EXPECT(0, "uppercase name", GOOD_PSEUDO, {"Accept", "*/*"});
    EXPECT(0, "space in name", GOOD_PSEUDO, {"bad name", "x"});
    EXPECT(0, "connection", GOOD_PSEUDO, {"connection", "close"});
    EXPECT(0, "keep-alive", GOOD_PSEUDO, {"keep-alive", "1"});
    EXPECT(0, "transfer-encoding", GOOD_PSEUDO, {"transfer-encoding", "chunked"});
    EXPECT(0, "upgrade", GOOD_PSEUDO, {"upgrade", "websocket"});
    EXPECT(0, "proxy-connection", GOOD_PSEUDO, {"proxy-connection", "x"});
    EXPECT(0, "te gzip", GOOD_PSEUDO, {"te", "gzip"});
    EXPECT(0, "CR in value", GOOD_PSEUDO, {"x", "a\rb"});
    EXPECT(0, "LF in value", GOOD_PSEUDO, {"x", "a\nb"});
    EXPECT(0, "bad content-length", GOOD_PSEUDO, {"content-length", "1x"});
    EXPECT(0, "conflicting content-length", GOOD_PSEUDO, {"content-length", "1"},
           {"content-length", "2"});
    EXPECT(0, "CONNECT with path", {":method", "CONNECT"}, {":authority", "a:1"}, {":path", "/"});
    EXPECT(0, "CONNECT without authority", {":method", "CONNECT"});
    EXPECT(0, "space in path", {":method", "GET"}, {":scheme", "https"}, {":authority", "a"},
           {":path", "/a b"});
    EXPECT(0, "bad method", {":method", "G T"}, {":scheme", "https"}, {":authority", "a"},
           {":path", "/"});

    /* NUL inside a value (length-delimited) */
    h3g_request_init(&r, 8);
    CHECK(h3g_request_add(&r, (const uint8_t *)"x", 1, (const uint8_t *)"a\0b", 3) == H3G_EINVAL);
    h3g_request_reset(&r);

    /* field count limit */
    h3g_request_init(&r, 2);
    CHECK(h3g_request_add(&r, (const uint8_t *)"a", 1, (const uint8_t *)"1", 1) == 0);
    CHECK(h3g_request_add(&r, (const uint8_t *)"b", 1, (const uint8_t *)"1", 1) == 0);
    CHECK(h3g_request_add(&r, (const uint8_t *)"c", 1, (const uint8_t *)"1", 1) == H3G_ELIMIT);
    h3g_request_reset(&r);
    return TEST_RESULT();
}
