#include "app/static/range.h"
#include "testutil.h"

static enum h3g_range_result pr(const char *v, uint64_t size, uint64_t *a, uint64_t *b)
{
    *a = *b = 12345;
    return h3g_range_parse(v, strlen(v), size, a, b);
}

int main(void)
{
    uint64_t a, b;
    CHECK(pr("bytes=0-99", 1000, &a, &b) == H3G_RANGE_OK && a == 0 && b == 99);
    CHECK(pr("bytes=100-", 1000, &a, &b) == H3G_RANGE_OK && a == 100 && b == 999);
    CHECK(pr("bytes=-100", 1000, &a, &b) == H3G_RANGE_OK && a == 900 && b == 999);
    CHECK(pr("bytes=-5000", 1000, &a, &b) == H3G_RANGE_OK && a == 0 && b == 999);
    CHECK(pr("bytes=990-5000", 1000, &a, &b) == H3G_RANGE_OK && a == 990 && b == 999);
    CHECK(pr("bytes=999-999", 1000, &a, &b) == H3G_RANGE_OK && a == 999 && b == 999);
    CHECK(pr("bytes= 5-6 ", 1000, &a, &b) == H3G_RANGE_OK && a == 5 && b == 6);
    /* unsatisfiable */
    CHECK(pr("bytes=1000-", 1000, &a, &b) == H3G_RANGE_UNSATISFIABLE);
    CHECK(pr("bytes=5000-6000", 1000, &a, &b) == H3G_RANGE_UNSATISFIABLE);
    CHECK(pr("bytes=-0", 1000, &a, &b) == H3G_RANGE_UNSATISFIABLE);
    CHECK(pr("bytes=0-", 0, &a, &b) == H3G_RANGE_UNSATISFIABLE);
    CHECK(pr("bytes=-1", 0, &a, &b) == H3G_RANGE_UNSATISFIABLE);
    /* ignored: other units, malformed, several ranges, reversed */
    CHECK(pr("items=0-1", 1000, &a, &b) == H3G_RANGE_IGNORE);
    CHECK(pr("bytes=", 1000, &a, &b) == H3G_RANGE_IGNORE);
    CHECK(pr("bytes=-", 1000, &a, &b) == H3G_RANGE_IGNORE);
    CHECK(pr("bytes=abc", 1000, &a, &b) == H3G_RANGE_IGNORE);
    CHECK(pr("bytes=0-1,5-6", 1000, &a, &b) == H3G_RANGE_IGNORE);
    CHECK(pr("bytes=9-1", 1000, &a, &b) == H3G_RANGE_IGNORE);
    CHECK(pr("bytes=99999999999999999999999-", 1000, &a, &b) == H3G_RANGE_IGNORE);
    CHECK(h3g_range_parse(NULL, 0, 10, &a, &b) == H3G_RANGE_IGNORE);
    return TEST_RESULT();
}
