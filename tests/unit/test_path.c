#include "app/static/path.h"
#include "common.h"
#include "testutil.h"

static void ok(const char *in, const char *want, int want_slash)
{
    char out[256];
    int slash = -1;
    int rc = h3g_path_normalize(in, out, sizeof(out), &slash);
    CHECK(rc == 0);
    if (rc == 0) {
        CHECK_STR(out, want);
        if (slash != want_slash)
            fprintf(stderr, "  trailing slash for %s: %d\n", in, slash);
        CHECK(slash == want_slash);
    }
}

static void bad(const char *in, int want_rc)
{
    char out[256];
    int slash;
    int rc = h3g_path_normalize(in, out, sizeof(out), &slash);
    if (rc != want_rc)
        fprintf(stderr, "  %s: rc %d, want %d (out %s)\n", in, rc, want_rc, rc == 0 ? out : "");
    CHECK(rc == want_rc);
}

int main(void)
{
    ok("/", "/", 1);
    ok("/index.html", "/index.html", 0);
    ok("/a/b/c.txt", "/a/b/c.txt", 0);
    ok("/a//b///c", "/a/b/c", 0);
    ok("/a/./b", "/a/b", 0);
    ok("/a/b/../c", "/a/c", 0);
    ok("/a/b/..", "/a", 1);
    ok("/a/b/.", "/a/b", 1);
    ok("/dir/", "/dir", 1);
    ok("/a?x=/../../etc", "/a", 0);
    ok("/a#frag", "/a", 0);
    ok("/%41%62c", "/Abc", 0);
    ok("/with%20space", "/with space", 0);
    ok("/a/..", "/", 1);
    ok("/a/%2e%2e/b", "/b", 0);
    /* escapes from the root */
    bad("/..", H3G_EINVAL);
    bad("/../etc/passwd", H3G_EINVAL);
    bad("/a/../../etc/passwd", H3G_EINVAL);
    bad("/%2e%2e/etc/passwd", H3G_EINVAL);
    bad("/%2E%2E%2Fetc%2Fpasswd", H3G_EINVAL);
    bad("/..%2fetc", H3G_EINVAL);
    bad("/a/%2e%2e/%2e%2e/x", H3G_EINVAL);
    /* malformed */
    bad("", H3G_EINVAL);
    bad("relative", H3G_EINVAL);
    bad("/bad%zzescape", H3G_EINVAL);
    bad("/trunc%4", H3G_EINVAL);
    bad("/nul%00byte", H3G_EINVAL);
    {
        char big[600];
        memset(big, 'a', sizeof(big));
        big[0] = '/';
        big[sizeof(big) - 1] = '\0';
        bad(big, H3G_ELIMIT);
    }
    return TEST_RESULT();
}
