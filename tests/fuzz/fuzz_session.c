/* Arbitrary stream bytes through nghttp3, the HTTP/3 session, the router and
 * the static handler, on the in-memory engine (tests/mock): no QUIC.  Input:
 * records of [stream selector][flags][length][bytes]; flags bit 0 = FIN, bit
 * 1 = the client resets the stream instead, bit 2 = acknowledge everything
 * written so far.  Invariants: no crash, no leak, no sanitizer report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/static/static.h"
#include "common.h"
#include "h3/session.h"
#include "http/router.h"
#include "mock_engine.h"

static h3g_static *g_static;
static h3g_router *g_router;
static char g_dir[] = "/tmp/h3g-fuzz-XXXXXX";

/* The document root goes when the fuzzer exits. */
static void cleanup(void)
{
    char path[64];
    snprintf(path, sizeof(path), "%s/index.html", g_dir);
    unlink(path);
    rmdir(g_dir);
}

static int handle_static(void *ctx, const struct h3g_request *req, struct h3g_response *resp,
                         h3g_exchange *ex)
{
    (void)ex;
    return h3g_static_handle(ctx, req, resp);
}

static void setup(void)
{
    char path[64], err[256];
    if (mkdtemp(g_dir) == NULL)
        abort();
    atexit(cleanup);
    snprintf(path, sizeof(path), "%s/index.html", g_dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        abort();
    for (int i = 0; i < 2000; i++)
        fputs("<p>fuzz</p>\n", f);
    fclose(f);
    g_static = h3g_static_new(g_dir, err, sizeof(err));
    g_router = h3g_router_new();
    if (g_static == NULL || g_router == NULL ||
        h3g_router_add(g_router, NULL, 0, "/", handle_static, g_static, NULL) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* client streams: request 0, 4, 8; control 2; QPACK encoder 6, decoder 10 */
    static const int64_t sids[] = {0, 4, 8, 2, 6, 10, 12, 400};
    static struct mock_conn mc;
    struct h3g_h3_config cfg = {.max_field_section_size = 16384,
                                .max_header_fields = 64,
                                .max_request_body = 4096,
                                .max_streams = 8,
                                .max_requests = 16,
                                .qpack_blocked_streams = 4,
                                .send_budget_conn = 64 << 10,
                                .send_budget_worker = 1 << 20,
                                .handler = h3g_router_handle};
    const uint8_t *p = data, *end = data + size;
    if (g_router == NULL)
        setup();
    cfg.handler_ctx = g_router;
    mock_conn_init(&mc, &h3g_h3_engine_callbacks, &cfg,
                   size > 0 && (data[0] & 1) ? H3G_ENGINE_CAP_COPIES_WRITES
                                             : H3G_ENGINE_CAP_EXPLICIT_CREDIT);
    while (end - p >= 3 && !mc.closed) {
        int64_t sid = sids[p[0] % (sizeof(sids) / sizeof(sids[0]))];
        uint8_t flags = p[1];
        size_t len = H3G_MIN((size_t)p[2], (size_t)(end - p - 3));
        p += 3;
        if (flags & 2)
            mock_client_reset(&mc, sid, H3G_H3_REQUEST_CANCELLED);
        else
            mock_feed(&mc, sid, p, len, flags & 1);
        p += len;
        if (flags & 4)
            mock_ack_all(&mc);
        if (flags & 8)
            mock_close_stream(&mc, sid);
    }
    mock_ack_all(&mc);
    mock_conn_free(&mc);
    return 0;
}
