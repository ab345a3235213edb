/* HTTP/1.1 request streams through the reader (src/h1/parse.c), split at a
 * point the input chooses, as a connection would deliver them: no crash, and
 * every request that comes out is a valid one in the shared form. */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "h1/parse.h"

static int on_head(void *arg, struct h3g_request *req, const struct h3g_h1_head *h)
{
    (void)arg;
    /* what the reader lets through passed the same validation as HTTP/3 */
    if (req->method == NULL || (req->path == NULL && strcmp(req->method, "CONNECT") != 0) ||
        (h->chunked && req->content_length != -1) || strchr(req->method, '\r') != NULL)
        abort();
    return 0;
}

static int on_body(void *arg, const uint8_t *data, size_t len)
{
    (void)arg;
    (void)data;
    (void)len;
    return 0;
}

static void on_end(void *arg)
{
    (void)arg;
}

static const struct h3g_h1_callbacks cbs = {.head = on_head, .body = on_body, .end = on_end};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct h3g_h1_parser p;
    if (size < 1)
        return 0;
    size_t split = data[0] % 64 + 1, off = 1;
    h3g_h1_parser_init(&p, &cbs, NULL, 8192, 32);
    while (off < size) {
        size_t n = H3G_MIN(split, size - off);
        ssize_t r = h3g_h1_parse(&p, data + off, n);
        if (r < 0)
            break;
        if (r == 0) {
            if (!p.ended)
                break;
            h3g_h1_parser_next(&p);
            continue;
        }
        off += (size_t)r;
    }
    h3g_h1_parse_eof(&p);
    h3g_h1_parser_free(&p);
    return 0;
}
