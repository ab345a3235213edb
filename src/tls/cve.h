/* Known vulnerabilities of OpenSSL's QUIC server (the table is cve.def), and
 * which of them a given OpenSSL lacks the fix for. */
#ifndef H3G_TLS_CVE_H
#define H3G_TLS_CVE_H

#include <stddef.h>
#include <stdio.h>

enum { H3G_CVE_BRANCHES = 3 }; /* 3.5, 3.6, 4.0 */

struct h3g_cve {
    const char *id;
    const char *fixed[H3G_CVE_BRANCHES]; /* first fixed release per branch; "-": never affected */
    const char *debian; /* Debian source versions of an older release with the fix */
    const char *what;
};

size_t h3g_cve_count(void);
const struct h3g_cve *h3g_cve_at(size_t i);
enum h3g_cve_verdict { H3G_CVE_FIXED, H3G_CVE_AFFECTED, H3G_CVE_FIXED_BY_DEBIAN };
/* Whether OpenSSL v (OPENSSL_VERSION_NUMBER layout), built from Debian source
 * version debian (NULL: not known), has the fix. */
enum h3g_cve_verdict h3g_cve_check(const struct h3g_cve *c, unsigned long v, const char *debian);
/* The ids of the ones v lacks, ", "-separated, into buf; returns how many. */
size_t h3g_cve_missing(unsigned long v, const char *debian, char *buf, size_t len);
/* The Debian source version the OpenSSL in this process was built from, when
 * h3gate links the build it was configured with; NULL otherwise. */
const char *h3g_cve_openssl_debian(void);
/* The table with a verdict for the running OpenSSL (h3gate --version). */
void h3g_cve_print(FILE *f);

#endif
