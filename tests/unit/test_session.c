/* The HTTP/3 layer (src/h3/session.c) on the mock engine, with nghttp3 as the
 * client: requests, bodies, backpressure, data held until acknowledged, GOAWAY
 * and request limits, 413, resets both ways, stream limits, malformed frames,
 * QPACK-blocked streams and rapid reset. */
#include <stdlib.h>
#include <string.h>

#include <nghttp3/nghttp3.h>

#include "common.h"
#include "h3/session.h"
#include "mock_engine.h"
#include "testutil.h"

#define MAX_REQ 512

struct creq {
    int64_t id;
    int status;
    size_t body;
    int ok_pattern; /* every body byte matched */
    int done;
};

struct client {
    nghttp3_conn *h3;
    struct mock_conn *mc;
    struct creq reqs[MAX_REQ];
    int nreqs;
    int goaway;
    const uint8_t *upload;
    size_t upload_len, upload_off;
};

static uint8_t pattern(size_t i)
{
    return (uint8_t)(i * 7 + 3);
}

/* ---- the server's handler ---- */

static h3g_exchange *g_deferred;
static int g_released, g_released_aborted;

static void x_release(void *ctx, int aborted)
{
    (void)ctx;
    g_released++;
    g_released_aborted += aborted;
}

static const struct h3g_exchange_ops x_ops = {.release = x_release};

static int handler(void *ctx, const struct h3g_request *req, struct h3g_response *resp,
                   h3g_exchange *ex)
{
    (void)ctx;
    if (strncmp(req->path, "/size/", 6) == 0) {
        size_t n = (size_t)strtoul(req->path + 6, NULL, 10);
        char *b = malloc(n ? n : 1);
        if (b == NULL)
            return H3G_ENOMEM;
        for (size_t i = 0; i < n; i++)
            b[i] = (char)pattern(i);
        resp->status = 200;
        resp->body.kind = H3G_BODY_MEM;
        resp->body.mem = b;
        resp->body.remaining = n;
        return h3g_response_addf(resp, "content-length", "%zu", n);
    }
    if (strcmp(req->path, "/defer") == 0) {
        h3g_exchange_attach(ex, &x_ops, NULL);
        g_deferred = ex;
        return H3G_EAGAIN;
    }
    resp->status = 204;
    return 0;
}

static struct h3g_h3_config cfg(void)
{
    struct h3g_h3_config c = {
        .max_field_section_size = 65536,
        .max_header_fields = 128,
        .max_request_body = 0,
        .max_streams = 100,
        .max_requests = 0,
        .qpack_blocked_streams = 16,
        .send_budget_conn = 4u << 20,
        .send_budget_worker = 256u << 20,
        .handler = handler,
    };
    return c;
}

/* ---- the client ---- */

static struct creq *creq_of(struct client *c, int64_t id)
{
    for (int i = 0; i < c->nreqs; i++)
        if (c->reqs[i].id == id)
            return &c->reqs[i];
    return NULL;
}

static int c_recv_header(nghttp3_conn *h3, int64_t sid, int32_t token, nghttp3_rcbuf *name,
                         nghttp3_rcbuf *value, uint8_t flags, void *ud, void *sud)
{
    struct creq *r = creq_of(ud, sid);
    nghttp3_vec v = nghttp3_rcbuf_get_buf(value);
    (void)h3, (void)name, (void)flags, (void)sud;
    if (r != NULL && token == NGHTTP3_QPACK_TOKEN__STATUS)
        r->status = atoi((const char *)v.base);
    return 0;
}

static int c_recv_data(nghttp3_conn *h3, int64_t sid, const uint8_t *data, size_t len, void *ud,
                       void *sud)
{
    struct creq *r = creq_of(ud, sid);
    (void)h3, (void)sud;
    if (r == NULL)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (data[i] != pattern(r->body + i))
            r->ok_pattern = 0;
    r->body += len;
    return 0;
}

static int c_end_stream(nghttp3_conn *h3, int64_t sid, void *ud, void *sud)
{
    struct creq *r = creq_of(ud, sid);
    (void)h3, (void)sud;
    if (r != NULL)
        r->done = 1;
    return 0;
}

static int c_shutdown(nghttp3_conn *h3, int64_t id, void *ud)
{
    struct client *c = ud;
    (void)h3, (void)id;
    c->goaway = 1;
    return 0;
}

static nghttp3_ssize c_upload(nghttp3_conn *h3, int64_t sid, nghttp3_vec *vec, size_t veccnt,
                              uint32_t *pflags, void *ud, void *sud)
{
    struct client *c = ud;
    (void)h3, (void)sid, (void)veccnt, (void)sud;
    vec[0].base = (uint8_t *)c->upload + c->upload_off;
    vec[0].len = c->upload_len - c->upload_off;
    c->upload_off = c->upload_len;
    *pflags |= NGHTTP3_DATA_FLAG_EOF;
    return 1;
}

static void client_init(struct client *c, struct mock_conn *mc)
{
    nghttp3_callbacks cbs = {.recv_header = c_recv_header,
                             .recv_data = c_recv_data,
                             .end_stream = c_end_stream,
                             .shutdown = c_shutdown};
    nghttp3_settings s;
    memset(c, 0, sizeof(*c));
    c->mc = mc;
    nghttp3_settings_default(&s);
    CHECK(nghttp3_conn_client_new(&c->h3, &cbs, &s, NULL, c) == 0);
    CHECK(nghttp3_conn_bind_control_stream(c->h3, 2) == 0);
    CHECK(nghttp3_conn_bind_qpack_streams(c->h3, 6, 10) == 0);
}

static void client_flush(struct client *c)
{
    for (;;) {
        nghttp3_vec vec[16];
        int64_t sid = -1;
        int fin = 0;
        nghttp3_ssize n = nghttp3_conn_writev_stream(c->h3, &sid, &fin, vec, 16);
        size_t total = 0;
        if (n < 0 || sid < 0)
            return;
        for (nghttp3_ssize i = 0; i < n; i++) {
            mock_feed(c->mc, sid, vec[i].base, vec[i].len, fin && i == n - 1);
            total += vec[i].len;
        }
        if (n == 0 && fin)
            mock_feed(c->mc, sid, NULL, 0, 1);
        nghttp3_conn_add_write_offset(c->h3, sid, total);
        nghttp3_conn_add_ack_offset(c->h3, sid, total);
    }
}

static void client_read(struct client *c)
{
    for (size_t i = 0; i < MOCK_MAX_STREAMS; i++) {
        struct mock_stream *s = &c->mc->streams[i];
        if (!s->used || s->delivered == s->outlen)
            continue;
        nghttp3_conn_read_stream(c->h3, s->id, s->out + s->delivered, s->outlen - s->delivered,
                                 s->fin);
        s->delivered = s->outlen;
    }
}

/* Client output in, server output read, acknowledgements, until quiet. */
static void pump(struct client *c)
{
    for (int i = 0; i < 32; i++) {
        client_flush(c);
        mock_ack_all(c->mc);
        client_read(c);
    }
}

static struct creq *get(struct client *c, const char *path, const char *method)
{
    struct creq *r = &c->reqs[c->nreqs];
    nghttp3_nv nva[] = {
        {(uint8_t *)":method", (uint8_t *)method, 7, strlen(method), 0},
        {(uint8_t *)":scheme", (uint8_t *)"https", 7, 5, 0},
        {(uint8_t *)":authority", (uint8_t *)"localhost", 10, 9, 0},
        {(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0},
    };
    nghttp3_data_reader dr = {.read_data = c_upload};
    r->id = 4 * (int64_t)c->nreqs;
    r->ok_pattern = 1;
    c->nreqs++;
    CHECK(nghttp3_conn_submit_request(c->h3, r->id, nva, 4, c->upload ? &dr : NULL, r) == 0);
    return r;
}

static void finish(struct client *c, struct mock_conn *mc)
{
    nghttp3_conn_del(c->h3);
    mock_conn_free(mc);
}

/* ---- tests ---- */

static void test_get_and_control_streams(void)
{
    struct h3g_h3_config cf = cfg();
    struct mock_conn mc;
    struct client c;
    mock_conn_init(&mc, &h3g_h3_engine_callbacks, &cf, H3G_ENGINE_CAP_COPIES_WRITES);
    CHECK(mc.uarg != NULL);
    /* control, QPACK encoder and decoder: 3, 7, 11, before any response */
    CHECK(mock_stream(&mc, 3)->outlen > 0);
    CHECK(mock_stream(&mc, 7)->used && mock_stream(&mc, 11)->used);
    client_init(&c, &mc);
    struct creq *r = get(&c, "/size/100000", "GET");
    pump(&c);
    CHECK(r->done && r->status == 200 && r->body == 100000 && r->ok_pattern);
    CHECK(!mc.closed);
    /* all request bytes were given back as credit */
    struct mock_stream *s = mock_stream(&mc, 0);
    CHECK(s->consumed == s->fed);
    finish(&c, &mc);
}

static void test_backpressure_and_held_data(void)
{
    /* An engine that keeps data until ACK and takes 1000 bytes per write: the
     * body arrives whole through many EAGAIN / stream_writable rounds. */
    struct h3g_h3_config cf = cfg();
    struct mock_conn mc;
    struct client c;
    mock_conn_init(&mc, &h3g_h3_engine_callbacks, &cf, H3G_ENGINE_CAP_EXPLICIT_CREDIT);
    mc.write_cap = 1000;
    client_init(&c, &mc);
    struct creq *r = get(&c, "/size/3000000", "GET");
    for (int i = 0; i < 20 && !r->done; i++)
        pump(&c);
    CHECK(r->done && r->status == 200 && r->body == 3000000 && r->ok_pattern);
    finish(&c, &mc);

    /* Without acknowledgements the session stops at its window. */
    mock_conn_init(&mc, &h3g_h3_engine_callbacks, &cf, H3G_ENGINE_CAP_EXPLICIT_CREDIT);
    client_init(&c, &mc);
    get(&c, "/size/5000000", "GET");
    client_flush(&c);
    size_t held = mock_stream(&mc, 0)->unacked;
    CHECK(held > 0 && held <= (1u << 20) + 4096);
    mock_ack_all(&mc);
    CHECK(mock_stream(&mc, 0)->outlen > held); /* acknowledgements let it go on */
    finish(&c, &mc);
}

static size_t unacked_total(struct mock_conn *mc)
{
    size_t n = 0;
    for (size_t i = 0; i < MOCK_MAX_STREAMS; i++)
        if (mc->streams[i].used)
            n += mc->streams[i].unacked;
    return n;
}

static void test_send_budgets(void)
{
    /* Ten downloads nobody acknowledges: the connection stops at its budget
     * (not 10 x the stream window), and acknowledgements let all finish. */
    struct h3g_h3_config cf = cfg();
    struct mock_conn mc, mc2;
    struct client c, c2;
    struct creq *r[10];
    cf.send_budget_conn = 256 << 10;
    mock_conn_init(&mc, &h3g_h3_engine_callbacks, &cf, H3G_ENGINE_CAP_EXPLICIT_CREDIT);
    client_init(&c, &mc);
    for (int i = 0; i < 10; i++)
        r[i] = get(&c, "/size/400000", "GET");
    client_flush(&c);
    size_t held = unacked_total(&mc);
    CHECK(held > 0 && held <= (256u << 10) + 10 * 4096);
    for (int i = 0; i < 200 && !(r[0]->done && r[9]->done); i++)
        pump(&c);
    for (int i = 0; i < 10; i++)
        CHECK(r[i]->done && r[i]->body == 400000 && r[i]->ok_pattern);

    finish(&c, &mc);

    /* The worker's budget spans connections: a second one waits while the
     * first holds it, and goes on once the first's bytes are acknowledged.
     * (Sessions copy their settings: these are new connections.) */
    cf.send_budget_conn = 4u << 20;
    cf.send_budget_worker = 128 << 10;
    mock_conn_init(&mc, &h3g_h3_engine_callbacks, &cf, H3G_ENGINE_CAP_EXPLICIT_CREDIT);
    client_init(&c, &mc);
    struct creq *a = get(&c, "/size/1000000", "GET");
    client_flush(&c);
    mock_conn_init(&mc2, &h3g_h3_engine_callbacks, &cf, H3G_ENGINE_CAP_EXPLICIT_CREDIT);
    client_init(&c2, &mc2);
    struct creq *b = get(&c2, "/size/1000000", "GET");
    client_flush(&c2);
    CHECK(unacked_total(&mc) + unacked_total(&mc2) <= (128u << 10) + 2 * 16384 + 8192);
    for (int i = 0; i < 400 && !(a->done && b->done); i++) {
        pump(&c);
        pump(&c2);
    }
    CHECK(a->done && a->body == 1000000 && b->done && b->body == 1000000);
    finish(&c2, &mc2);
    finish(&c, &mc);
}

static void test_goaway_after_max_requests(void)
{
    struct h3g_h3_config cf = cfg();
    struct mock_conn mc;
    struct client c;
    cf.max_requests = 2;
    mock_conn_init(&mc, &h3g_h3_engine_callbacks, &cf, H3G_ENGINE_CAP_COPIES_WRITES);
    client_init(&c, &mc);
    struct creq *a = get(&c, "/size/10", "GET");
    struct creq *b = get(&c, "/size/10", "GET");
    pump(&c);
    CHECK(a->done && b->done && a->status == 200 && b->status == 200);
    CHECK(c.goaway);
    mock_close_stream(&mc, 0);
    mock_close_stream(&mc, 4);
    CHECK(mc.close_after_armed); /* the client gets a grace period to leave */
    finish(&c, &mc);
}

static void test_413(void)
{
    static uint8_t body[5000];
    struct h3g_h3_config cf = cfg();
    struct mock_conn mc;
    struct client c;
    cf.max_request_body = 1000;
    mock_conn_init(&mc, &h3g_h3_engine_callbacks, &cf, H3G_ENGINE_CAP_EXPLICIT_CREDIT);
    client_init(&c, &mc);
    c.upload = body;
    c.upload_len = sizeof(body);
    g_released = 0;
    struct creq *r = get(&c, "/defer", "POST"); /* a handler that has not answered yet */
    pump(&c);
    CHECK(r->status == 413);
    CHECK(g_released == 1); /* it lets go: its origin would not get the rest */
    /* The rest is refused with H3_NO_ERROR (RFC 9114 §4.1) so clients keep the 413. */
    CHECK(mock_stream(&mc, 0)->stopped && mock_stream(&mc, 0)->stop_code == H3G_H3_NO_ERROR);
    CHECK(!mc.closed);
    finish(&c, &mc);
}

static void test_resets(void)
{
    struct h3g_h3_config cf = cfg();
    struct mock_conn mc;
    struct client c;
    mock_conn_init(&mc, &h3g_h3_engine_callbacks, &cf, H3G_ENGINE_CAP_EXPLICIT_CREDIT);
    mc.window = 10000;
    client_init(&c, &mc);
    get(&c, "/size/1000000", "GET");
    client_flush(&c);
    /* The client abandons the download: the response is abandoned too. */
    mock_client_reset(&mc, 0, H3G_H3_REQUEST_CANCELLED);
    CHECK(mock_stream(&mc, 0)->reset &&
          mock_stream(&mc, 0)->reset_code == H3G_H3_REQUEST_CANCELLED);
    /* STOP_SENDING on another: reset as well. */
    get(&c, "/size/1000000", "GET");
    client_flush(&c);
    mock_client_stop(&mc, 4, H3G_H3_REQUEST_CANCELLED);
    CHECK(mock_stream(&mc, 4)->reset);
    /* A deferred handler learns that its exchange was aborted. */
    g_released = g_released_aborted = 0;
    get(&c, "/defer", "GET");
    client_flush(&c);
    CHECK(g_deferred != NULL);
    mock_client_reset(&mc, 8, H3G_H3_REQUEST_CANCELLED);
    mock_close_stream(&mc, 8);
    CHECK(g_released == 1 && g_released_aborted == 1);
    CHECK(!mc.closed);
    finish(&c, &mc);
}

static void test_stream_limit(void)
{
    struct h3g_h3_config cf = cfg();
    struct mock_conn mc;
    struct client c;
    cf.max_streams = 1;
    mock_conn_init(&mc, &h3g_h3_engine_callbacks, &cf, H3G_ENGINE_CAP_COPIES_WRITES);
    client_init(&c, &mc);
    get(&c, "/defer", "GET"); /* stays open */
    struct creq *b = get(&c, "/size/10", "GET");
    pump(&c);
    CHECK(mock_stream(&mc, 4)->reset && mock_stream(&mc, 4)->reset_code == H3G_H3_REQUEST_REJECTED);
    CHECK(!b->done);
    finish(&c, &mc);
}

static void test_malformed_frame_closes(void)
{
    /* DATA before HEADERS: H3_FRAME_UNEXPECTED on the connection. */
    static const uint8_t data_first[] = {0x00, 0x01, 'x'};
    struct h3g_h3_config cf = cfg();
    struct mock_conn mc;
    struct client c;
    mock_conn_init(&mc, &h3g_h3_engine_callbacks, &cf, H3G_ENGINE_CAP_COPIES_WRITES);
    client_init(&c, &mc);
    client_flush(&c); /* control stream and SETTINGS */
    mock_feed(&mc, 0, data_first, sizeof(data_first), 1);
    CHECK(mc.closed && mc.close_code == H3G_H3_FRAME_UNEXPECTED);
    finish(&c, &mc);
}

static void test_qpack_blocked_stream_is_paused(void)
{
    /* HEADERS needing dynamic table entry 1 that never comes, then DATA. */
    static const uint8_t blocked[] = {0x01, 0x03, 0x02, 0x00, 0x80};
    static uint8_t data[3 + 1000] = {0x00, 0x43, 0xe8};
    struct h3g_h3_config cf = cfg();
    struct mock_conn mc;
    struct client c;
    mock_conn_init(&mc, &h3g_h3_engine_callbacks, &cf, H3G_ENGINE_CAP_EXPLICIT_CREDIT);
    client_init(&c, &mc);
    client_flush(&c);
    CHECK(mock_feed(&mc, 0, blocked, sizeof(blocked), 0) == 0);
    CHECK(mock_feed(&mc, 0, data, sizeof(data), 0) <= 0);
    /* Held bytes get no credit, and the stream is paused: no more is taken. */
    struct mock_stream *s = mock_stream(&mc, 0);
    CHECK(s->paused);
    CHECK(s->consumed < s->fed);
    CHECK(mock_feed(&mc, 0, data, sizeof(data), 0) == -1);
    CHECK(!mc.closed);
    finish(&c, &mc);
}

static void test_rapid_reset(void)
{
    struct h3g_h3_config cf = cfg();
    struct mock_conn mc;
    struct client c;
    mock_conn_init(&mc, &h3g_h3_engine_callbacks, &cf, H3G_ENGINE_CAP_COPIES_WRITES);
    mc.bidi_limit = 100000;
    client_init(&c, &mc);
    for (int i = 0; i < 400 && !mc.closed; i++) {
        get(&c, "/size/10", "GET");
        client_flush(&c);
        mock_client_reset(&mc, c.reqs[c.nreqs - 1].id, H3G_H3_REQUEST_CANCELLED);
        mock_close_stream(&mc, c.reqs[c.nreqs - 1].id);
    }
    CHECK(mc.closed && mc.close_code == H3G_H3_EXCESSIVE_LOAD);
    finish(&c, &mc);
}

static void test_streams_count_even_when_skipped(void)
{
    /* Request streams reset before their headers are not seen by nghttp3, but
     * count toward the request limit (by stream id). */
    struct h3g_h3_config cf = cfg();
    struct mock_conn mc;
    struct client c;
    cf.max_requests = 10;
    mock_conn_init(&mc, &h3g_h3_engine_callbacks, &cf, H3G_ENGINE_CAP_COPIES_WRITES);
    client_init(&c, &mc);
    client_flush(&c);
    mock_client_reset(&mc, 36, H3G_H3_REQUEST_CANCELLED); /* streams 0..36: ten */
    c.nreqs = 10;
    struct creq *r = get(&c, "/size/10", "GET");
    pump(&c);
    CHECK(c.goaway);
    CHECK(r->status == 0 || r->status == 200);
    finish(&c, &mc);
}

static int g_saw_early;

static int early_handler(void *ctx, const struct h3g_request *req, struct h3g_response *resp,
                         h3g_exchange *ex)
{
    g_saw_early = req->early;
    return handler(ctx, req, resp, ex);
}

static void test_early_data(void)
{
    /* 0-RTT: a GET is served (and the handler knows it may be a replay), a POST
     * gets 425 Too Early and never reaches the handler (RFC 8470 §5.2). */
    struct h3g_h3_config cf = cfg();
    struct mock_conn mc;
    struct client c;
    cf.handler = early_handler;
    mock_conn_init(&mc, &h3g_h3_engine_callbacks, &cf, H3G_ENGINE_CAP_EARLY_DATA);
    client_init(&c, &mc);
    mock_stream(&mc, 0)->early = 1;
    mock_stream(&mc, 4)->early = 1;
    struct creq *g = get(&c, "/size/10", "GET");
    pump(&c);
    CHECK(g->status == 200 && g_saw_early == 1);
    g_saw_early = -1;
    struct creq *p = get(&c, "/size/10", "POST");
    pump(&c);
    CHECK(p->status == 425 && g_saw_early == -1);
    struct creq *late = get(&c, "/size/10", "POST"); /* stream 8: after the handshake */
    pump(&c);
    CHECK(late->status == 200 && g_saw_early == 0);
    finish(&c, &mc);
}

int main(void)
{
    test_early_data();
    test_get_and_control_streams();
    test_backpressure_and_held_data();
    test_goaway_after_max_requests();
    test_413();
    test_resets();
    test_stream_limit();
    test_malformed_frame_closes();
    test_qpack_blocked_stream_is_paused();
    test_send_budgets();
    test_rapid_reset();
    test_streams_count_even_when_skipped();
    h3g_h3_cleanup();
    return TEST_RESULT();
}
