/* Send budgets: response body bytes produced and not yet acknowledged, per
 * connection and for the whole worker.  A client that reads slowly (or never)
 * holds at most its connection's budget, and all clients together at most the
 * worker's; streams over budget wait, they are not failed.  To keep every
 * connection moving, one whose budget use is zero may always produce one
 * chunk, so the worker's bound is send_budget_worker plus one chunk per
 * connection. */
#include "common.h"
#include "h3/h3_internal.h"

/* The worker's bytes in flight and the sessions waiting for some of them. */
static _Thread_local uint64_t g_unacked;
static _Thread_local struct session *g_waiters, *g_waiters_tail;

static void wait_for_worker(struct session *s)
{
    if (s->budget_waiting)
        return;
    s->budget_waiting = 1;
    s->budget_next = NULL;
    s->budget_prev = g_waiters_tail;
    if (g_waiters_tail != NULL)
        g_waiters_tail->budget_next = s;
    else
        g_waiters = s;
    g_waiters_tail = s;
}

void h3b_forget(struct session *s)
{
    if (!s->budget_waiting)
        return;
    if (s->budget_prev != NULL)
        s->budget_prev->budget_next = s->budget_next;
    else
        g_waiters = s->budget_next;
    if (s->budget_next != NULL)
        s->budget_next->budget_prev = s->budget_prev;
    else
        g_waiters_tail = s->budget_prev;
    s->budget_waiting = 0;
    s->budget_prev = s->budget_next = NULL;
}

int h3b_may_produce(struct h3_req *hs)
{
    struct session *s = hs->sess;
    if (s->unacked == 0)
        return 1;
    if (s->unacked + BODY_CHUNK > s->cfg.send_budget_conn) {
        hs->wait = BODY_WAIT_BUDGET; /* this connection's acknowledgements resume it */
        s->budget_blocked = 1;
        return 0;
    }
    if (g_unacked + BODY_CHUNK > s->cfg.send_budget_worker) {
        hs->wait = BODY_WAIT_BUDGET;
        s->budget_blocked = 1;
        wait_for_worker(s);
        return 0;
    }
    return 1;
}

void h3b_produced(struct session *s, size_t n)
{
    s->unacked += n;
    g_unacked += n;
}

/* Wakes waiting sessions, oldest first, while the worker has room.  They
 * resume from their own conn_flush: never write to another connection from
 * inside this one's callbacks. */
static void wake_waiters(const struct h3g_h3_config *cfg)
{
    while (g_waiters != NULL && g_unacked + BODY_CHUNK <= cfg->send_budget_worker) {
        struct session *w = g_waiters;
        h3b_forget(w);
        w->budget_wake = 1;
        h3g_qconn_wake(w->qc);
        if (w->unacked == 0)
            break; /* it may take a chunk whatever the budget: let it first */
    }
}

void h3b_released(struct session *s, uint64_t n)
{
    n = H3G_MIN(n, s->unacked);
    s->unacked -= n;
    g_unacked -= H3G_MIN(n, g_unacked);
    if (g_waiters != NULL)
        wake_waiters(&s->cfg);
}

void h3b_resume(struct session *s)
{
    s->budget_wake = 0;
    s->budget_blocked = 0; /* h3b_may_produce sets it again for those still waiting */
    for (struct h3_req *hs = s->streams; hs != NULL; hs = hs->next) {
        if (hs->tx != TX_BODY || hs->wait != BODY_WAIT_BUDGET)
            continue;
        if (!h3b_may_produce(hs))
            break;
        hs->wait = BODY_READY;
        nghttp3_conn_resume_stream(s->h3, hs->id);
    }
}
