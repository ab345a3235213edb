/* Validators and conditional requests (RFC 9110 §8.8, §13), sans-I/O. */
#ifndef H3G_STATIC_COND_H
#define H3G_STATIC_COND_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define H3G_ETAG_MAX 64
#define H3G_HTTP_DATE_LEN 30

/* Strong ETag from the file's identity, size and modification time (ns). */
void h3g_etag_make(char *buf, size_t len, uint64_t ino, uint64_t size, int64_t mtime_ns);
/* IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT"; buf >= H3G_HTTP_DATE_LEN. */
void h3g_http_date_format(time_t t, char *buf, size_t len);
/* Accepts IMF-fixdate, RFC 850 and asctime forms; returns 0 or H3G_EINVAL. */
int h3g_http_date_parse(const char *s, size_t len, time_t *out);
/* Does the If-Match / If-None-Match list match etag?  weak selects weak comparison. */
int h3g_etag_list_match(const char *list, size_t len, const char *etag, int weak);

struct h3g_cond_input {
    const char *if_match, *if_none_match, *if_modified_since, *if_unmodified_since;
    size_t if_match_len, if_none_match_len, if_modified_since_len, if_unmodified_since_len;
    const char *etag;
    time_t mtime;
    int get_or_head;
};

enum h3g_cond_result { H3G_COND_PROCEED, H3G_COND_NOT_MODIFIED, H3G_COND_PRECONDITION_FAILED };

/* Evaluates the preconditions in the order of RFC 9110 §13.2.2. */
enum h3g_cond_result h3g_cond_evaluate(const struct h3g_cond_input *in);
/* If-Range (RFC 9110 §13.1.5): 1 when the Range header may be honoured. */
int h3g_if_range_ok(const char *value, size_t len, const char *etag, time_t mtime);

#endif
