/* Streams of an ngtcp2 connection: the table, the send queue of references to
 * the bytes the layer above wrote, and input held while a stream is paused. */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "quic/ngtcp2/ng.h"

static size_t bucket(int64_t id)
{
    return ((uint64_t)id >> 2) % NG_STREAM_BUCKETS;
}

struct ngstream *ng_stream_find(struct ngconn *c, int64_t id)
{
    struct ngstream *s = c->buckets[bucket(id)];
    while (s != NULL && s->id != id)
        s = s->hnext;
    return s;
}

struct ngstream *ng_stream_add(struct ngconn *c, int64_t id)
{
    struct ngstream *s = calloc(1, sizeof(*s));
    size_t b = bucket(id);
    if (s == NULL)
        return NULL;
    s->id = id;
    s->hnext = c->buckets[b];
    c->buckets[b] = s;
    s->next = c->streams;
    if (c->streams != NULL)
        c->streams->prev = s;
    c->streams = s;
    return s;
}

void ng_stream_sendq_push(struct ngconn *c, struct ngstream *s)
{
    if (s->in_sendq || s->blocked || s->write_done)
        return;
    s->in_sendq = 1;
    s->snext = NULL;
    if (c->sendq_tail != NULL)
        c->sendq_tail->snext = s;
    else
        c->sendq = s;
    c->sendq_tail = s;
}

void ng_stream_sendq_drop(struct ngconn *c, struct ngstream *s)
{
    struct ngstream **pp = &c->sendq, *prev = NULL;
    if (!s->in_sendq)
        return;
    while (*pp != s) {
        prev = *pp;
        pp = &(*pp)->snext;
    }
    *pp = s->snext;
    if (c->sendq_tail == s)
        c->sendq_tail = prev;
    s->in_sendq = 0;
    s->snext = NULL;
}

void ng_stream_drop_queue(struct ngconn *c, struct ngstream *s)
{
    ng_stream_sendq_drop(c, s);
    s->qhead = s->qlen = s->qoff = 0;
    s->queued = 0;
    s->want_write = 0;
    s->write_done = 1;
}

void ng_stream_remove(struct ngconn *c, struct ngstream *s)
{
    struct ngstream **pp = &c->buckets[bucket(s->id)];
    while (*pp != s)
        pp = &(*pp)->hnext;
    *pp = s->hnext;
    ng_stream_sendq_drop(c, s);
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        c->streams = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    free(s->q);
    free(s->rbuf);
    free(s);
}

static int queue_room(struct ngstream *s, size_t need)
{
    if (s->qhead > 0 && s->qhead + s->qlen + need > s->qcap) {
        memmove(s->q, s->q + s->qhead, s->qlen * sizeof(*s->q));
        s->qhead = 0;
    }
    if (s->qlen + need <= s->qcap)
        return 0;
    size_t cap = s->qcap ? s->qcap * 2 : 16;
    while (cap < s->qlen + need)
        cap *= 2;
    h3g_iovec *q = realloc(s->q, cap * sizeof(*q));
    if (q == NULL)
        return H3G_ENOMEM;
    s->q = q;
    s->qcap = cap;
    return 0;
}

int ng_stream_enqueue(struct ngconn *c, struct ngstream *s, const h3g_iovec *vec, size_t n, int fin,
                      size_t *written)
{
    size_t total = 0;
    int full = 1;
    *written = 0;
    if (s->write_done || s->fin_queued)
        return H3G_ECLOSED;
    if (queue_room(s, n) != 0)
        return H3G_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t len = vec[i].len;
        if (len == 0)
            continue;
        if (s->queued >= NG_QUEUE_MAX) {
            full = 0;
            break;
        }
        len = (size_t)H3G_MIN((uint64_t)len, NG_QUEUE_MAX - s->queued);
        s->q[s->qhead + s->qlen].base = vec[i].base;
        s->q[s->qhead + s->qlen].len = len;
        s->qlen++;
        s->queued += len;
        total += len;
        if (len < vec[i].len) {
            full = 0;
            break;
        }
    }
    *written = total;
    c->unacked += total;
    if (total > 0 || (full && fin))
        ng_stream_sendq_push(c, s);
    if (!full) {
        s->want_write = 1;
        return H3G_EAGAIN;
    }
    if (fin)
        s->fin_queued = 1;
    return 0;
}

size_t ng_stream_peek(const struct ngstream *s, ngtcp2_vec *v, size_t max, int *fin)
{
    size_t n = 0;
    for (size_t i = 0; i < s->qlen && n < max; i++) {
        const h3g_iovec *q = &s->q[s->qhead + i];
        size_t off = i == 0 ? s->qoff : 0;
        v[n].base = (uint8_t *)q->base + off;
        v[n].len = q->len - off;
        n++;
    }
    *fin = s->fin_queued && !s->fin_sent && n == s->qlen;
    return n;
}

void ng_stream_advance(struct ngconn *c, struct ngstream *s, size_t n, int fin_included)
{
    s->queued -= n;
    while (n > 0 && s->qlen > 0) {
        h3g_iovec *q = &s->q[s->qhead];
        size_t left = q->len - s->qoff;
        if (n < left) {
            s->qoff += n;
            n = 0;
            break;
        }
        n -= left;
        s->qoff = 0;
        s->qhead++;
        s->qlen--;
    }
    if (s->qlen == 0)
        s->qhead = 0;
    if (fin_included && s->qlen == 0)
        s->fin_sent = 1;
    if (s->want_write && s->queued < NG_QUEUE_LOW) {
        s->want_write = 0;
        s->notify_writable = 1;
        c->pending = 1;
    }
}

int ng_stream_buffer(struct ngstream *s, const uint8_t *data, size_t len, int fin)
{
    if (s->rlen + len > s->rcap) {
        size_t cap = s->rcap ? s->rcap * 2 : 16384;
        while (cap < s->rlen + len)
            cap *= 2;
        uint8_t *b = realloc(s->rbuf, cap);
        if (b == NULL)
            return H3G_ENOMEM;
        s->rbuf = b;
        s->rcap = cap;
    }
    if (len > 0)
        memcpy(s->rbuf + s->rlen, data, len);
    s->rlen += len;
    if (fin)
        s->rfin = 1;
    return 0;
}
