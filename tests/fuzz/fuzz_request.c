/* Request fields (name\0value\0 ...) through RFC 9114 validation, then the
 * HTTP/1.1 head the proxy would send: a valid request never yields a head with
 * an injected line. */
#include <stdlib.h>
#include <string.h>

#include "app/proxy/http1.h"
#include "http/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct h3g_request r;
    const uint8_t *p = data, *end = data + size;
    h3g_request_init(&r, 64);
    while (p < end) {
        const uint8_t *n0 = memchr(p, 0, (size_t)(end - p));
        if (n0 == NULL)
            break;
        const uint8_t *v = n0 + 1;
        const uint8_t *v0 = v < end ? memchr(v, 0, (size_t)(end - v)) : NULL;
        size_t vlen = v0 ? (size_t)(v0 - v) : (size_t)(end - v);
        if (h3g_request_add(&r, p, (size_t)(n0 - p), v, vlen) != 0)
            break;
        p = v0 ? v0 + 1 : end;
    }
    if (h3g_request_finish(&r) == 0 && strcmp(r.method, "CONNECT") != 0) {
        char *head = NULL;
        size_t len = 0;
        if (h3g_http1_request_head(&r, "127.0.0.1:1", 1, &head, &len) == 0) {
            /* exactly one blank line, at the end */
            char *blank = strstr(head, "\r\n\r\n");
            if (blank == NULL || (size_t)(blank - head) + 4 != len)
                abort();
            free(head);
        }
    }
    h3g_request_reset(&r);
    return 0;
}
