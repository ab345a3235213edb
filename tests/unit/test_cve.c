/* The table of known OpenSSL QUIC server CVEs and the version check on it. */
#include <stdlib.h>

#include "testutil.h"
#include "tls/cve.h"
#include "tls/tls.h"

#define V(major, minor, patch)                                                                     \
    (((unsigned long)(major) << 28) | ((unsigned long)(minor) << 20) |                             \
     ((unsigned long)(patch) << 4))

static size_t missing(unsigned long v, const char *debian)
{
    char buf[256];
    return h3g_cve_missing(v, debian, buf, sizeof(buf));
}

/* Every entry: the release before the first fixed one is affected, the fixed
 * one and the next branch are not. */
static void check_table(void)
{
    static const unsigned branch[H3G_CVE_BRANCHES][2] = {{3, 5}, {3, 6}, {4, 0}};
    CHECK(h3g_cve_count() >= 5);
    CHECK(h3g_cve_at(h3g_cve_count()) == NULL);
    for (size_t i = 0; i < h3g_cve_count(); i++) {
        const struct h3g_cve *c = h3g_cve_at(i);
        CHECK(strncmp(c->id, "CVE-", 4) == 0 && c->what[0] != '\0');
        for (int b = 0; b < H3G_CVE_BRANCHES; b++) {
            unsigned major, minor, patch;
            CHECK(sscanf(c->fixed[b], "%u.%u.%u", &major, &minor, &patch) == 3);
            CHECK(major == branch[b][0] && minor == branch[b][1]);
            CHECK(h3g_cve_check(c, V(major, minor, patch), NULL) == H3G_CVE_FIXED);
            if (patch > 0)
                CHECK(h3g_cve_check(c, V(major, minor, patch - 1), NULL) == H3G_CVE_AFFECTED);
        }
        CHECK(h3g_cve_check(c, V(4, 1, 0), NULL) == H3G_CVE_FIXED);
    }
}

static void check_versions(void)
{
    char buf[256];
    CHECK(h3g_cve_missing(V(3, 5, 7), NULL, buf, sizeof(buf)) == 3);
    CHECK_STR(buf, "CVE-2026-18798, CVE-2026-14456, CVE-2026-63075");
    CHECK(missing(V(3, 5, 1), NULL) == 5);
    CHECK(missing(V(3, 5, 6), NULL) == 5);
    CHECK(missing(V(3, 5, 8), NULL) == 0);
    CHECK(missing(V(3, 6, 0), NULL) == 5);
    CHECK(missing(V(3, 6, 3), NULL) == 3);
    CHECK(missing(V(3, 6, 4), NULL) == 0);
    CHECK(missing(V(4, 0, 0), NULL) == 5);
    CHECK(missing(V(4, 0, 1), NULL) == 3);
    CHECK(missing(V(4, 0, 2), NULL) == 0);
    CHECK(missing(V(4, 1, 0), NULL) == 0);
    /* a short buffer still counts them all */
    CHECK(h3g_cve_missing(V(3, 5, 7), NULL, buf, 10) == 3 && strlen(buf) == 9);
}

/* Debian's 3.5.7-1~deb13u2 carries three of 3.5.8's fixes as patches. */
static void check_debian(void)
{
    const struct h3g_cve *c = NULL;
    for (size_t i = 0; i < h3g_cve_count(); i++)
        if (strcmp(h3g_cve_at(i)->id, "CVE-2026-18798") == 0)
            c = h3g_cve_at(i);
    CHECK(c != NULL);
    if (c != NULL) {
        CHECK(h3g_cve_check(c, V(3, 5, 7), "3.5.7-1~deb13u2") == H3G_CVE_FIXED_BY_DEBIAN);
        CHECK(h3g_cve_check(c, V(4, 0, 2), "4.0.2-1") == H3G_CVE_FIXED);
    }
    CHECK(missing(V(3, 5, 7), "3.5.7-1~deb13u2") == 0);
    CHECK(missing(V(3, 5, 7), "3.5.7-1~deb13u3") == 0);  /* a later revision */
    CHECK(missing(V(3, 5, 7), "3.5.7-1~deb13u12") == 0); /* numbers, not strings */
    CHECK(missing(V(3, 5, 7), "3.5.7-1~deb13u1") == 3);
    CHECK(missing(V(3, 5, 7), "3.5.7-2") == 3);         /* another line: not known */
    CHECK(missing(V(3, 5, 6), "3.5.6-1~deb13u2") == 5); /* no backport listed */
}

static void check_startup(void)
{
    char err[512];
    CHECK(h3g_tls_check_version(V(3, 5, 7), NULL, "OpenSSL 3.5.7", err, sizeof(err)) == 1);
    CHECK(strstr(err, "OpenSSL 3.5.7") != NULL);
    CHECK(strstr(err, "CVE-2026-18798, CVE-2026-14456, CVE-2026-63075") != NULL);
    CHECK(strstr(err, "CVE-2026-34183") == NULL);
    CHECK(h3g_tls_check_version(V(3, 5, 7), "3.5.7-1~deb13u2", "OpenSSL 3.5.7", err, sizeof(err)) ==
          0);
    CHECK(h3g_tls_check_version(V(4, 0, 2), NULL, "OpenSSL 4.0.2", err, sizeof(err)) == 0);
}

/* --version's table: every CVE, with a verdict. */
static void check_print(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK(f != NULL);
    if (f == NULL)
        return;
    h3g_cve_print(f);
    fclose(f);
    CHECK(strncmp(text, "Known OpenSSL QUIC server CVEs", 30) == 0);
    for (size_t i = 0; i < h3g_cve_count(); i++) {
        char line[256] = "";
        const char *p = strstr(text, h3g_cve_at(i)->id);
        if (p != NULL)
            snprintf(line, sizeof(line), "%.*s", (int)strcspn(p, "\n"), p);
        CHECK(strstr(line, " fixed ") != NULL || strstr(line, " affected ") != NULL ||
              strstr(line, " patched ") != NULL);
    }
    free(text);
}

int main(void)
{
    check_table();
    check_versions();
    check_debian();
    check_startup();
    check_print();
    return TEST_RESULT();
}
