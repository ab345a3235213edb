/* The protocol-neutral exchange (src/http/exchange.c): the route's header
 * rules and Alt-Svc as they shape any response, and handler calls going to
 * the front end's table. */
#include "common.h"
#include "http/exchange.h"
#include "http/router.h"
#include "testutil.h"

struct fake_front {
    h3g_exchange ex; /* first, as every front end's record */
    int responded, aborted, resumed_req, resumed_resp, stopped;
    int status;
};

static int f_respond(h3g_exchange *ex, struct h3g_response *resp)
{
    struct fake_front *f = (struct fake_front *)ex;
    f->responded++;
    f->status = resp->status;
    return 0;
}
static void f_resume_response(h3g_exchange *ex)
{
    ((struct fake_front *)ex)->resumed_resp++;
}
static void f_resume_request(h3g_exchange *ex)
{
    ((struct fake_front *)ex)->resumed_req++;
}
static void f_stop(h3g_exchange *ex)
{
    ((struct fake_front *)ex)->stopped++;
}
static void f_abort(h3g_exchange *ex, const char *why)
{
    (void)why;
    ((struct fake_front *)ex)->aborted++;
}
static const char *f_peer(const h3g_exchange *ex)
{
    (void)ex;
    return "192.0.2.1:1234";
}
static const struct h3g_front_ops fake_ops = {
    "hx", f_respond, f_resume_response, f_resume_request, f_stop, f_abort, f_peer,
};

struct collected {
    char text[1024];
    size_t n;
};

static int collect(void *arg, const char *name, const char *value)
{
    struct collected *c = arg;
    c->n++;
    snprintf(c->text + strlen(c->text), sizeof(c->text) - strlen(c->text), "%s=%s;", name, value);
    return 0;
}

static void fields_of(h3g_exchange *ex, struct h3g_response *resp, struct collected *c)
{
    memset(c, 0, sizeof(*c));
    CHECK(h3g_exchange_fields(ex, resp, collect, c) == 0);
    CHECK(c->n <= h3g_exchange_field_count(ex, resp));
}

static void test_rules_and_alt_svc(void)
{
    struct fake_front f;
    struct h3g_response resp;
    struct collected c;
    struct h3g_header_rules rules = {.add_name = {"x-frame-options"},
                                     .add_value = {"DENY"},
                                     .nadd = 1,
                                     .remove = {"Server"},
                                     .nremove = 1};
    h3g_exchange_init(&f.ex, &fake_ops);
    h3g_response_init(&resp);
    h3g_response_add(&resp, "server", "h3gate");
    h3g_response_add(&resp, "content-type", "text/plain");
    fields_of(&f.ex, &resp, &c);
    CHECK_STR(c.text, "server=h3gate;content-type=text/plain;");
    f.ex.alt_svc = "h3=\":443\"; ma=86400";
    fields_of(&f.ex, &resp, &c);
    CHECK_STR(c.text, "server=h3gate;content-type=text/plain;alt-svc=h3=\":443\"; ma=86400;");
    /* rules: removal is case-insensitive, additions go last */
    h3g_exchange_set_rules(&f.ex, &rules);
    fields_of(&f.ex, &resp, &c);
    CHECK_STR(c.text,
              "content-type=text/plain;x-frame-options=DENY;alt-svc=h3=\":443\"; ma=86400;");
    /* a handler's (an origin's) own Alt-Svc is not doubled */
    h3g_response_add(&resp, "Alt-Svc", "clear");
    fields_of(&f.ex, &resp, &c);
    CHECK(strstr(c.text, "Alt-Svc=clear;") != NULL && strstr(c.text, "ma=86400") == NULL);
    /* remove_header alt-svc silences ours too */
    struct h3g_header_rules quiet = {.remove = {"alt-svc"}, .nremove = 1};
    h3g_exchange_set_rules(&f.ex, &quiet);
    fields_of(&f.ex, &resp, &c);
    CHECK(strstr(c.text, "lt-svc") == NULL);
    h3g_response_free(&resp);
}

static int released, release_aborted;
static void x_release(void *ctx, int aborted)
{
    (void)ctx;
    released++;
    release_aborted = aborted;
}
static const struct h3g_exchange_ops handler_ops = {.release = x_release};

static int later_handler(void *ctx, const struct h3g_request *req, struct h3g_response *resp,
                         h3g_exchange *ex)
{
    (void)ctx;
    (void)req;
    (void)resp;
    h3g_exchange_attach(ex, &handler_ops, NULL);
    return H3G_EAGAIN;
}

static void test_calls_go_to_the_front_end(void)
{
    struct fake_front f;
    struct h3g_request req;
    struct h3g_response resp;
    struct h3g_header_rules rules = {.nadd = 0};
    memset(&f, 0, sizeof(f));
    h3g_exchange_init(&f.ex, &fake_ops);
    h3g_router *r = h3g_router_new();
    CHECK(h3g_router_add(r, NULL, 0, "/later/", later_handler, NULL, &rules) == 0);
    h3g_request_init(&req, 16);
    const char *kv[][2] = {
        {":method", "GET"}, {":scheme", "https"}, {":authority", "h"}, {":path", "/later/x"}};
    for (size_t i = 0; i < 4; i++)
        h3g_request_add(&req, (const uint8_t *)kv[i][0], strlen(kv[i][0]),
                        (const uint8_t *)kv[i][1], strlen(kv[i][1]));
    CHECK(h3g_request_finish(&req) == 0);
    h3g_response_init(&resp);
    CHECK(h3g_router_handle(r, &req, &resp, &f.ex) == H3G_EAGAIN);
    CHECK(f.ex.rules == &rules && f.ex.handler == H3G_HANDLER_ATTACHED);
    CHECK_STR(h3g_exchange_peer(&f.ex), "192.0.2.1:1234");
    resp.status = 201;
    CHECK(h3g_exchange_respond(&f.ex, &resp) == 0 && f.responded == 1 && f.status == 201);
    h3g_exchange_resume_request(&f.ex);
    h3g_exchange_resume_response(&f.ex);
    h3g_exchange_stop_request(&f.ex);
    h3g_exchange_abort(&f.ex, "test");
    CHECK(f.resumed_req == 1 && f.resumed_resp == 1 && f.stopped == 1 && f.aborted == 1);
    /* release reaches the handler once */
    h3g_exchange_release(&f.ex, 1);
    h3g_exchange_release(&f.ex, 0);
    CHECK(released == 1 && release_aborted == 1);
    CHECK(h3g_exchange_pull(&f.ex, NULL, 0) == H3G_ERR); /* no handler any more */
    CHECK(h3g_exchange_push(&f.ex, NULL, 0, 1) == 0);
    /* no route: 404 without the exchange */
    h3g_response_free(&resp);
    h3g_response_init(&resp);
    h3g_request_reset(&req);
    h3g_response_free(&resp);
    h3g_router_free(r);
}

int main(void)
{
    test_rules_and_alt_svc();
    test_calls_go_to_the_front_end();
    return TEST_RESULT();
}
