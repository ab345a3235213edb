#include "app/static/cond.h"
#include "common.h"
#include "testutil.h"

static struct h3g_cond_input base(const char *etag, time_t mtime)
{
    struct h3g_cond_input in;
    memset(&in, 0, sizeof(in));
    in.etag = etag;
    in.mtime = mtime;
    in.get_or_head = 1;
    return in;
}

#define SET(in, field, v) ((in).field = (v), (in).field##_len = strlen(v))

int main(void)
{
    char buf[64];
    time_t t;
    const char *etag = "\"1-2-3\"";
    const time_t mtime = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */

    h3g_http_date_format(mtime, buf, sizeof(buf));
    CHECK_STR(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(h3g_http_date_parse(buf, strlen(buf), &t) == 0 && t == mtime);
    CHECK(h3g_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", 30, &t) == 0 && t == mtime);
    CHECK(h3g_http_date_parse("Sun Nov  6 08:49:37 1994", 24, &t) == 0 && t == mtime);
    CHECK(h3g_http_date_parse("garbage", 7, &t) != 0);
    CHECK(h3g_http_date_parse("Sun, 06 Nov 1994 08:49:37 PST", 29, &t) != 0);
    CHECK(h3g_http_date_parse("Sun, 06 Foo 1994 08:49:37 GMT", 29, &t) != 0);

    h3g_etag_make(buf, sizeof(buf), 1, 2, 3);
    CHECK_STR(buf, etag);

    CHECK(h3g_etag_list_match("\"1-2-3\"", 7, etag, 0));
    CHECK(h3g_etag_list_match("\"x\", \"1-2-3\"", 12, etag, 0));
    CHECK(h3g_etag_list_match("*", 1, etag, 0));
    CHECK(!h3g_etag_list_match("W/\"1-2-3\"", 9, etag, 0));
    CHECK(h3g_etag_list_match("W/\"1-2-3\"", 9, etag, 1));
    CHECK(!h3g_etag_list_match("\"other\"", 7, etag, 1));
    CHECK(!h3g_etag_list_match("1-2-3", 5, etag, 1));

    struct h3g_cond_input in = base(etag, mtime);
    CHECK(h3g_cond_evaluate(&in) == H3G_COND_PROCEED);
    SET(in, if_none_match, "\"1-2-3\"");
    CHECK(h3g_cond_evaluate(&in) == H3G_COND_NOT_MODIFIED);
    in.get_or_head = 0;
    CHECK(h3g_cond_evaluate(&in) == H3G_COND_PRECONDITION_FAILED);

    in = base(etag, mtime);
    SET(in, if_none_match, "\"nope\"");
    SET(in, if_modified_since, "Sun, 06 Nov 1994 08:49:37 GMT");
    /* If-None-Match present: If-Modified-Since is ignored (RFC 9110 §13.1.3). */
    CHECK(h3g_cond_evaluate(&in) == H3G_COND_PROCEED);

    in = base(etag, mtime);
    SET(in, if_modified_since, "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(h3g_cond_evaluate(&in) == H3G_COND_NOT_MODIFIED);
    SET(in, if_modified_since, "Sun, 06 Nov 1994 08:49:36 GMT");
    CHECK(h3g_cond_evaluate(&in) == H3G_COND_PROCEED);
    SET(in, if_modified_since, "not a date");
    CHECK(h3g_cond_evaluate(&in) == H3G_COND_PROCEED);

    in = base(etag, mtime);
    SET(in, if_match, "\"nope\"");
    CHECK(h3g_cond_evaluate(&in) == H3G_COND_PRECONDITION_FAILED);
    SET(in, if_match, "\"1-2-3\"");
    CHECK(h3g_cond_evaluate(&in) == H3G_COND_PROCEED);

    in = base(etag, mtime);
    SET(in, if_unmodified_since, "Sun, 06 Nov 1994 08:49:36 GMT");
    CHECK(h3g_cond_evaluate(&in) == H3G_COND_PRECONDITION_FAILED);
    SET(in, if_unmodified_since, "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(h3g_cond_evaluate(&in) == H3G_COND_PROCEED);

    CHECK(h3g_if_range_ok(NULL, 0, etag, mtime));
    CHECK(h3g_if_range_ok("\"1-2-3\"", 7, etag, mtime));
    CHECK(!h3g_if_range_ok("\"old\"", 5, etag, mtime));
    CHECK(!h3g_if_range_ok("W/\"1-2-3\"", 9, etag, mtime));
    CHECK(h3g_if_range_ok("Sun, 06 Nov 1994 08:49:37 GMT", 29, etag, mtime));
    CHECK(!h3g_if_range_ok("Sun, 06 Nov 1994 08:49:38 GMT", 29, etag, mtime));
    return TEST_RESULT();
}
