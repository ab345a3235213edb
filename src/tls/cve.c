#include "tls/cve.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/opensslv.h>

static const struct h3g_cve cves[] = {
#define H3G_CVE(id, f35, f36, f40, deb, what) {id, {f35, f36, f40}, deb, what},
#include "tls/cve.def"
#undef H3G_CVE
};

size_t h3g_cve_count(void)
{
    return sizeof(cves) / sizeof(cves[0]);
}

const struct h3g_cve *h3g_cve_at(size_t i)
{
    return i < h3g_cve_count() ? &cves[i] : NULL;
}

/* "3.5.8" in OPENSSL_VERSION_NUMBER's layout (0xMNN00PP0); 0 if not a version. */
static unsigned long parse_version(const char *s)
{
    unsigned major, minor, patch;
    if (sscanf(s, "%u.%u.%u", &major, &minor, &patch) != 3)
        return 0;
    return ((unsigned long)major << 28) | ((unsigned long)minor << 20) |
           ((unsigned long)patch << 4);
}

/* Index of v's release branch in h3g_cve.fixed; -1 for a branch newer than
 * the table's (it branched after every fix), -2 for an older one. */
static int branch_of(unsigned long v)
{
    static const unsigned long branches[H3G_CVE_BRANCHES] = {0x305, 0x306, 0x400};
    unsigned long b = v >> 20;
    for (int i = 0; i < H3G_CVE_BRANCHES; i++)
        if (b == branches[i])
            return i;
    return b > branches[H3G_CVE_BRANCHES - 1] ? -1 : -2;
}

/* a is b or a later revision of it that differs only in its final number
 * (3.5.7-1~deb13u3 after 3.5.7-1~deb13u2); anything else must match. */
static int debian_at_least(const char *a, const char *b, size_t blen)
{
    size_t alen = strlen(a), ap = alen, bp = blen;
    unsigned long an = 0, bn = 0;
    while (ap > 0 && a[ap - 1] >= '0' && a[ap - 1] <= '9')
        ap--;
    while (bp > 0 && b[bp - 1] >= '0' && b[bp - 1] <= '9')
        bp--;
    if (ap != bp || memcmp(a, b, ap) != 0 || ap == alen || bp == blen || alen - ap > 9 ||
        blen - bp > 9)
        return alen == blen && memcmp(a, b, alen) == 0;
    for (size_t i = ap; i < alen; i++)
        an = an * 10 + (unsigned long)(a[i] - '0');
    for (size_t i = bp; i < blen; i++)
        bn = bn * 10 + (unsigned long)(b[i] - '0');
    return an >= bn;
}

/* Whether Debian source version debian is one the space-separated list names. */
static int debian_listed(const char *list, const char *debian)
{
    const char *p = list;
    while (*p != '\0') {
        size_t n = strcspn(p, " ");
        if (n > 0 && debian_at_least(debian, p, n))
            return 1;
        p += n;
        p += strspn(p, " ");
    }
    return 0;
}

enum h3g_cve_verdict h3g_cve_check(const struct h3g_cve *c, unsigned long v, const char *debian)
{
    int b = branch_of(v);
    if (b == -1)
        return H3G_CVE_FIXED;
    if (b >= 0) {
        const char *fixed = c->fixed[b];
        if (strcmp(fixed, "-") == 0 || (v & ~0xfUL) >= parse_version(fixed))
            return H3G_CVE_FIXED;
    }
    if (debian != NULL && debian_listed(c->debian, debian))
        return H3G_CVE_FIXED_BY_DEBIAN;
    return H3G_CVE_AFFECTED;
}

size_t h3g_cve_missing(unsigned long v, const char *debian, char *buf, size_t len)
{
    size_t n = 0, used = 0;
    if (len > 0)
        buf[0] = '\0';
    for (size_t i = 0; i < h3g_cve_count(); i++) {
        if (h3g_cve_check(&cves[i], v, debian) != H3G_CVE_AFFECTED)
            continue;
        if (used < len) {
            int w = snprintf(buf + used, len - used, "%s%s", n > 0 ? ", " : "", cves[i].id);
            used += w > 0 ? (size_t)w : 0;
        }
        n++;
    }
    return n;
}

const char *h3g_cve_openssl_debian(void)
{
#ifdef H3G_OPENSSL_DEBIAN_VERSION
    /* The library linked in is the one the build recorded (CMakeLists.txt). */
    if (OpenSSL_version_num() == OPENSSL_VERSION_NUMBER)
        return H3G_OPENSSL_DEBIAN_VERSION;
#endif
    return NULL;
}

void h3g_cve_print(FILE *f)
{
    static const char *const verdicts[] = {"fixed", "affected", "patched"};
    unsigned long v = OpenSSL_version_num();
    const char *deb = h3g_cve_openssl_debian();
    int patched = 0;
    fprintf(
        f, "Known OpenSSL QUIC server CVEs (first fixed release per branch; verdict for %s%s%s):\n",
        OpenSSL_version(OPENSSL_VERSION_STRING), deb ? ", Debian source " : "", deb ? deb : "");
    fprintf(f, "  %-15s %-6s %-6s %-6s %-9s %s\n", "CVE", "3.5", "3.6", "4.0", "verdict", "issue");
    for (size_t i = 0; i < h3g_cve_count(); i++) {
        const struct h3g_cve *c = &cves[i];
        enum h3g_cve_verdict r = h3g_cve_check(c, v, deb);
        patched |= r == H3G_CVE_FIXED_BY_DEBIAN;
        fprintf(f, "  %-15s %-6s %-6s %-6s %-9s %s\n", c->id, c->fixed[0], c->fixed[1], c->fixed[2],
                verdicts[r], c->what);
    }
    if (patched)
        fprintf(f, "  patched: fixed by a patch of Debian's source package, not by the release\n");
}
