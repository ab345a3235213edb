#include "app/static/cond.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common.h"

void h3g_etag_make(char *buf, size_t len, uint64_t ino, uint64_t size, int64_t mtime_ns)
{
    snprintf(buf, len, "\"%llx-%llx-%llx\"", (unsigned long long)ino, (unsigned long long)size,
             (unsigned long long)mtime_ns);
}

static const char *const wkday[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const month[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void h3g_http_date_format(time_t t, char *buf, size_t len)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d GMT", wkday[tm.tm_wday], tm.tm_mday,
             month[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int find_month(const char *m)
{
    for (int i = 0; i < 12; i++)
        if (strncmp(m, month[i], 3) == 0)
            return i;
    return -1;
}

int h3g_http_date_parse(const char *s, size_t len, time_t *out)
{
    char buf[64], mon[4] = {0}, wd[16] = {0}, tz[4] = {0};
    int d, y, hh, mm, ss, n = 0;
    struct tm tm;
    if (len == 0 || len >= sizeof(buf))
        return H3G_EINVAL;
    memcpy(buf, s, len);
    buf[len] = '\0';
    /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
    if (sscanf(buf, "%3s, %2d %3s %4d %2d:%2d:%2d %3s%n", wd, &d, mon, &y, &hh, &mm, &ss, tz, &n) ==
            8 &&
        (size_t)n == len && strcmp(tz, "GMT") == 0) {
        /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
    } else if (sscanf(buf, "%15[A-Za-z], %2d-%3s-%2d %2d:%2d:%2d %3s%n", wd, &d, mon, &y, &hh, &mm,
                      &ss, tz, &n) == 8 &&
               (size_t)n == len && strcmp(tz, "GMT") == 0) {
        y += y < 70 ? 2000 : 1900;
        /* asctime: Sun Nov  6 08:49:37 1994 */
    } else if (sscanf(buf, "%3s %3s %2d %2d:%2d:%2d %4d%n", wd, mon, &d, &hh, &mm, &ss, &y, &n) ==
                   7 &&
               (size_t)n == len) {
    } else {
        return H3G_EINVAL;
    }
    int m = find_month(mon);
    if (m < 0 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60 || y < 1900)
        return H3G_EINVAL;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = m;
    tm.tm_mday = d;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    *out = timegm(&tm);
    return 0;
}

int h3g_etag_list_match(const char *list, size_t len, const char *etag, int weak)
{
    const char *p = list, *end = list + len;
    size_t elen = strlen(etag);
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        if (p == end)
            break;
        if (*p == '*') {
            return 1;
        }
        int is_weak = 0;
        if (end - p >= 2 && p[0] == 'W' && p[1] == '/') {
            is_weak = 1;
            p += 2;
        }
        if (p == end || *p != '"')
            return 0; /* malformed list: no match */
        const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
        if (q == NULL)
            return 0;
        size_t tlen = (size_t)(q - p + 1);
        if ((weak || !is_weak) && tlen == elen && memcmp(p, etag, elen) == 0)
            return 1;
        p = q + 1;
    }
    return 0;
}

enum h3g_cond_result h3g_cond_evaluate(const struct h3g_cond_input *in)
{
    time_t t;
    if (in->if_match != NULL) {
        if (!h3g_etag_list_match(in->if_match, in->if_match_len, in->etag, 0))
            return H3G_COND_PRECONDITION_FAILED;
    } else if (in->if_unmodified_since != NULL &&
               h3g_http_date_parse(in->if_unmodified_since, in->if_unmodified_since_len, &t) == 0) {
        if (in->mtime > t)
            return H3G_COND_PRECONDITION_FAILED;
    }
    if (in->if_none_match != NULL) {
        if (h3g_etag_list_match(in->if_none_match, in->if_none_match_len, in->etag, 1))
            return in->get_or_head ? H3G_COND_NOT_MODIFIED : H3G_COND_PRECONDITION_FAILED;
    } else if (in->get_or_head && in->if_modified_since != NULL &&
               h3g_http_date_parse(in->if_modified_since, in->if_modified_since_len, &t) == 0) {
        if (in->mtime <= t)
            return H3G_COND_NOT_MODIFIED;
    }
    return H3G_COND_PROCEED;
}

int h3g_if_range_ok(const char *value, size_t len, const char *etag, time_t mtime)
{
    time_t t;
    if (value == NULL)
        return 1;
    if (len > 0 && (value[0] == '"' || value[0] == 'W')) {
        /* Strong comparison only; a weak validator never matches. */
        return len == strlen(etag) && memcmp(value, etag, len) == 0;
    }
    if (h3g_http_date_parse(value, len, &t) != 0)
        return 0;
    return mtime == t;
}
