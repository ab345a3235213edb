/* The protocol-neutral half of an exchange: the handler's attachment, the
 * route's header rules and Alt-Svc, and the calls a handler makes, which go to
 * the front end's table. */
#include "http/exchange.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common.h"

void h3g_exchange_init(h3g_exchange *ex, const struct h3g_front_ops *front)
{
    memset(ex, 0, sizeof(*ex));
    ex->front = front;
}

void h3g_exchange_attach(h3g_exchange *ex, const struct h3g_exchange_ops *ops, void *ctx)
{
    ex->xops = ops;
    ex->xctx = ctx;
    ex->handler = H3G_HANDLER_ATTACHED;
}

void h3g_exchange_release(h3g_exchange *ex, int aborted)
{
    if (ex->handler != H3G_HANDLER_ATTACHED)
        return;
    ex->handler = H3G_HANDLER_RELEASED;
    ex->xops->release(ex->xctx, aborted);
}

void h3g_exchange_hold(h3g_exchange *ex, void (*unhold)(void *hold), void *hold)
{
    ex->unhold = unhold;
    ex->hold = hold;
}

void h3g_exchange_end(h3g_exchange *ex, int aborted)
{
    h3g_exchange_release(ex, aborted);
    if (ex->unhold != NULL) {
        void (*fn)(void *) = ex->unhold;
        ex->unhold = NULL;
        ex->rules = NULL;
        fn(ex->hold);
    }
}

ssize_t h3g_exchange_pull(h3g_exchange *ex, uint8_t *buf, size_t cap)
{
    if (ex->handler != H3G_HANDLER_ATTACHED)
        return H3G_ERR;
    return ex->xops->response_body(ex->xctx, buf, cap);
}

ssize_t h3g_exchange_body_next(h3g_exchange *ex, struct h3g_body *body, uint8_t *buf, size_t cap)
{
    if (body->kind == H3G_BODY_SOURCE)
        return h3g_exchange_pull(ex, buf, cap);
    if (body->kind == H3G_BODY_NONE || body->remaining == 0)
        return 0;
    ssize_t n = h3g_body_read(body, buf, cap);
    return n > 0 ? n : H3G_ERR; /* the file failed or shrank */
}

int h3g_exchange_push(h3g_exchange *ex, const uint8_t *data, size_t len, int fin)
{
    if (ex->handler != H3G_HANDLER_ATTACHED || ex->xops->request_body == NULL)
        return 0;
    return ex->xops->request_body(ex->xctx, data, len, fin);
}

void h3g_exchange_set_rules(h3g_exchange *ex, const struct h3g_header_rules *rules)
{
    ex->rules = rules;
}

void h3g_exchange_set_note(h3g_exchange *ex, const char *note)
{
    snprintf(ex->note, sizeof(ex->note), "%s", note);
}

int h3g_exchange_respond(h3g_exchange *ex, struct h3g_response *resp)
{
    return ex->front->respond(ex, resp);
}

void h3g_exchange_resume_response(h3g_exchange *ex)
{
    ex->front->resume_response(ex);
}

void h3g_exchange_resume_request(h3g_exchange *ex)
{
    ex->front->resume_request(ex);
}

void h3g_exchange_stop_request(h3g_exchange *ex)
{
    ex->front->stop_request(ex);
}

void h3g_exchange_abort(h3g_exchange *ex, const char *why)
{
    ex->front->abort(ex, why);
}

const char *h3g_exchange_peer(const h3g_exchange *ex)
{
    return ex->front->peer(ex);
}

static int removed(const struct h3g_header_rules *rules, const char *name)
{
    for (size_t i = 0; rules != NULL && i < rules->nremove; i++)
        if (strcasecmp(rules->remove[i], name) == 0)
            return 1;
    return 0;
}

size_t h3g_exchange_field_count(const h3g_exchange *ex, const struct h3g_response *resp)
{
    return resp->nheaders + (ex->rules ? ex->rules->nadd : 0) + (ex->alt_svc ? 1 : 0);
}

int h3g_exchange_fields(const h3g_exchange *ex, const struct h3g_response *resp,
                        int (*fn)(void *arg, const char *name, const char *value), void *arg)
{
    const struct h3g_header_rules *rules = ex->rules;
    const char *name, *value;
    size_t pos = 0;
    int have_alt_svc = 0, rv;
    while (h3g_response_next(resp, &pos, &name, &value)) {
        if (removed(rules, name))
            continue;
        if (strcasecmp(name, "alt-svc") == 0)
            have_alt_svc = 1;
        if ((rv = fn(arg, name, value)) != 0)
            return rv;
    }
    for (size_t i = 0; rules != NULL && i < rules->nadd; i++) {
        if (strcasecmp(rules->add_name[i], "alt-svc") == 0)
            have_alt_svc = 1;
        if ((rv = fn(arg, rules->add_name[i], rules->add_value[i])) != 0)
            return rv;
    }
    if (ex->alt_svc != NULL && !have_alt_svc && !removed(rules, "alt-svc"))
        return fn(arg, "alt-svc", ex->alt_svc);
    return 0;
}
