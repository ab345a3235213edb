/* One HTTPS connection over TCP: the TLS handshake, the input buffer offered
 * to the front end, the output queue, timers and the close (graceful with a
 * lingering read, or an abort with RST). */
#include "tcp/conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "obs/log.h"
#include "tcp/tcp_internal.h"
#include "tls/stream.h"

#define IN_BUF 16384
/* The front end is asked for more once the queue is below this; room is
 * what is left below OUT_HIGH. */
#define OUT_LOW (32 * 1024)
#define OUT_HIGH (128 * 1024)
/* A graceful close reads and drops what the client still sends for this
 * long, so a client still uploading gets the response instead of an RST
 * (which makes its kernel drop the response it has not read yet).  The byte
 * bound is what one upload's remainder plausibly is on a fast path: at 1 MiB,
 * a 3 MB upload answered early lost its 413 about one run in six. */
#define LINGER_MS 2000
#define LINGER_BYTES (32u * 1024 * 1024)
/* Reads per readiness event before other connections get a turn. */
#define READS_PER_EVENT 16

/* ---- the byte stream: TLS, or plain TCP for the redirect listener ---- */

static ssize_t io_read(h3g_tcp_conn *c, void *buf, size_t cap, int *want)
{
    if (c->ts != NULL)
        return h3g_tls_stream_read(c->ts, buf, cap, want);
    ssize_t n = recv(c->fd, buf, cap, 0);
    if (n >= 0)
        return n;
    if (errno == EAGAIN || errno == EINTR) {
        *want = H3G_TLS_WANT_READ;
        return H3G_EAGAIN;
    }
    return H3G_ERR;
}

static ssize_t io_write(h3g_tcp_conn *c, const void *buf, size_t len, int *want)
{
    if (c->ts != NULL)
        return h3g_tls_stream_write(c->ts, buf, len, want);
    ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0)
        return n;
    if (errno == EAGAIN || errno == EINTR) {
        *want = H3G_TLS_WANT_WRITE;
        return H3G_EAGAIN;
    }
    return H3G_ERR;
}

static void conn_free(h3g_tcp_conn *c);
static void conn_run(h3g_tcp_conn *c, int revents);
static void watch_stall(h3g_tcp_conn *c, int waiting);

/* Work for the next loop iteration (a front end resumed reading, or queued
 * output outside an I/O event): never re-enters the front end from its own
 * call. */
static void kick(h3g_tcp_conn *c)
{
    if (!h3g_timer_active(&c->kick))
        h3g_timer_start(c->srv->cfg.loop, &c->kick, 0);
}

size_t h3g_tcp_write_room(const h3g_tcp_conn *c)
{
    size_t q = c->out_len - c->out_off;
    return q >= OUT_HIGH ? 0 : OUT_HIGH - q;
}

size_t h3g_tcp_queued(const h3g_tcp_conn *c)
{
    return c->out_len - c->out_off;
}

int h3g_tcp_write(h3g_tcp_conn *c, const void *data, size_t len)
{
    if (c->state != TC_OPEN)
        return 0; /* closing: nothing more goes out */
    if (c->out_len + len > c->out_cap && c->out_off > 0) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    if (h3g_reserve((void **)&c->out, &c->out_cap, c->out_len + len, 16384) != 0)
        return H3G_ENOMEM;
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    if (c->busy == 0)
        kick(c); /* queued from outside an I/O event (a proxied response) */
    return 0;
}

void h3g_tcp_close_reason(h3g_tcp_conn *c, const char *why)
{
    if (c->close_why == NULL) {
        c->close_why = why;
        c->close_local = 1;
    }
}

/* The first reason given wins. */
static void closing_because(h3g_tcp_conn *c, const char *why, int local)
{
    if (c->close_why == NULL) {
        c->close_why = why;
        c->close_local = local;
    }
}

const char *h3g_tcp_peer(const h3g_tcp_conn *c)
{
    return c->peer;
}

const char *h3g_tcp_alt_svc(const h3g_tcp_conn *c)
{
    return c->ls->has_alt_svc ? c->ls->alt_svc : NULL;
}

void h3g_tcp_resume_read(h3g_tcp_conn *c)
{
    if (!c->paused)
        return;
    c->paused = 0;
    kick(c);
}

static void update_events(h3g_tcp_conn *c)
{
    int ev = 0;
    if (c->state == TC_DEAD)
        return;
    if (c->state == TC_LINGER || c->state == TC_HANDSHAKE)
        ev = c->want == H3G_TLS_WANT_WRITE ? H3G_IO_WRITE : H3G_IO_READ;
    else {
        if ((!c->paused && !c->eof && c->state == TC_OPEN) || c->rd_want == H3G_TLS_WANT_READ ||
            c->wr_want == H3G_TLS_WANT_READ)
            ev |= H3G_IO_READ;
        if (((h3g_tcp_queued(c) > 0 || c->more) && c->wr_want != H3G_TLS_WANT_READ) ||
            c->rd_want == H3G_TLS_WANT_WRITE || c->wr_want == H3G_TLS_WANT_WRITE)
            ev |= H3G_IO_WRITE;
    }
    if (ev != c->io.events)
        h3g_io_modify(c->srv->cfg.loop, &c->io, ev);
    watch_stall(c, (ev & H3G_IO_WRITE) != 0 && c->state != TC_HANDSHAKE);
}

static void abort_now(h3g_tcp_conn *c)
{
    struct linger lg = {1, 0};
    /* An RST, not a FIN: the client must not take a cut response as whole. */
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    c->state = TC_DEAD;
}

static void linger_done(h3g_timer *t, void *arg)
{
    h3g_tcp_conn *c = arg;
    H3G_UNUSED(t);
    c->state = TC_DEAD;
    conn_free(c);
}

/* Everything queued is written: close_notify, FIN, then read and drop. */
static void start_linger(h3g_tcp_conn *c)
{
    int want = 0;
    if (c->ts != NULL && h3g_tls_stream_shutdown(c->ts, &want) == H3G_EAGAIN) {
        c->wr_want = want;
        return; /* again when the socket allows */
    }
    shutdown(c->fd, SHUT_WR);
    c->state = TC_LINGER;
    c->want = H3G_TLS_WANT_READ;
    h3g_timer_stop(c->srv->cfg.loop, &c->timer);
    h3g_timer_init(&c->timer, linger_done, c);
    h3g_timer_start(c->srv->cfg.loop, &c->timer, LINGER_MS);
}

void h3g_tcp_close(h3g_tcp_conn *c, int graceful)
{
    if (c->state == TC_DEAD || c->state == TC_LINGER || c->state == TC_CLOSING)
        return;
    closing_because(c, graceful ? "done" : "reset", 1);
    if (!graceful || c->state == TC_HANDSHAKE) {
        abort_now(c);
    } else {
        c->state = TC_CLOSING; /* the queued output goes first */
    }
    kick(c);
}

/* Output that stays queued with no progress for idle_timeout: a client that
 * stopped reading (HTTP/2 without WINDOW_UPDATE needs no socket for that:
 * it is the same stall one level down) loses its connection. */
static void stall_timeout(h3g_timer *t, void *arg)
{
    h3g_tcp_conn *c = arg;
    H3G_UNUSED(t);
    closing_because(c, "send_timeout", 1);
    abort_now(c);
    conn_free(c);
}

/* Runs while the connection waits for the socket to take more (our queue or
 * the kernel's buffer is full), restarted whenever bytes move. */
static void watch_stall(h3g_tcp_conn *c, int waiting)
{
    h3g_loop *loop = c->srv->cfg.loop;
    if (!waiting || c->srv->cfg.idle_timeout_ms == 0) {
        h3g_timer_stop(loop, &c->stall);
    } else if (!h3g_timer_active(&c->stall) || c->stall_mark != c->bytes_out) {
        c->stall_mark = c->bytes_out;
        h3g_timer_start(loop, &c->stall, c->srv->cfg.idle_timeout_ms);
    }
}

/* Writes queued output.  Returns H3G_ERR when the connection failed. */
static int flush_out(h3g_tcp_conn *c)
{
    while (h3g_tcp_queued(c) > 0) {
        int want = 0;
        ssize_t n = io_write(c, c->out + c->out_off, h3g_tcp_queued(c), &want);
        if (n == H3G_EAGAIN) {
            c->wr_want = want;
            return 0;
        }
        if (n < 0)
            return H3G_ERR;
        c->wr_want = 0;
        c->out_off += (size_t)n;
        c->bytes_out += (uint64_t)n;
        c->srv->bytes_out += (uint64_t)n;
    }
    c->wr_want = 0;
    c->out_off = c->out_len = 0;
    return 0;
}

/* Offers buffered input to the front end; returns H3G_ERR to drop. */
static int offer_input(h3g_tcp_conn *c)
{
    while (c->in_len > c->in_off && !c->paused && c->state == TC_OPEN) {
        ssize_t took = c->front->input(c->fe, c->in + c->in_off, c->in_len - c->in_off);
        if (took < 0)
            return H3G_ERR;
        c->in_off += (size_t)took;
        if (took == 0)
            c->paused = 1; /* it takes nothing until it resumes */
    }
    if (c->in_off == c->in_len)
        c->in_off = c->in_len = 0;
    return 0;
}

static int read_input(h3g_tcp_conn *c)
{
    for (int i = 0; i < READS_PER_EVENT && !c->paused && !c->eof && c->state == TC_OPEN; i++) {
        int want = 0;
        if (offer_input(c) != 0)
            return H3G_ERR;
        if (c->in_len > 0 || c->paused)
            break;
        ssize_t n = io_read(c, c->in, IN_BUF, &want);
        if (n == H3G_EAGAIN) {
            c->rd_want = want;
            return 0;
        }
        c->rd_want = 0;
        if (n < 0) {
            c->eof = 1; /* a TLS or socket failure: the front end ends the requests */
            closing_because(c, "error", 0);
            c->front->input_end(c->fe);
            return H3G_ERR;
        }
        if (n == 0) {
            c->eof = 1;
            closing_because(c, "eof", 0);
            c->front->input_end(c->fe);
            return 0;
        }
        c->bytes_in += (uint64_t)n;
        c->srv->bytes_in += (uint64_t)n;
        c->in_len = (size_t)n;
        c->in_off = 0;
    }
    return offer_input(c);
}

static void handshake_timeout(h3g_timer *t, void *arg)
{
    h3g_tcp_conn *c = arg;
    H3G_UNUSED(t);
    c->srv->handshake_timeouts++;
    h3g_debug("%s: TLS handshake timeout", c->peer);
    abort_now(c);
    conn_free(c);
}

static int finish_handshake(h3g_tcp_conn *c)
{
    const char *alpn = c->ts != NULL ? h3g_tls_stream_alpn(c->ts) : "";
    h3g_timer_stop(c->srv->cfg.loop, &c->timer);
    c->srv->nhandshakes--;
    c->handshaking = 0;
    c->front = strcmp(alpn, "h2") == 0 ? &h3g_h2_front : &h3g_h1_front;
    c->state = TC_OPEN;
    c->fe = c->front->open(c, &c->srv->cfg);
    if (c->fe == NULL)
        return H3G_ERR;
    if (c->srv->stopping)
        c->front->shutdown(c->fe);
    return 0;
}

static void run_handshake(h3g_tcp_conn *c)
{
    char err[256] = "";
    int rv = c->ts != NULL ? h3g_tls_stream_handshake(c->ts, &c->want, err, sizeof(err)) : 0;
    if (rv == H3G_EAGAIN)
        return;
    if (rv != 0) {
        c->srv->handshake_failures++;
        h3g_debug("%s: TLS handshake failed: %s", c->peer, err);
        abort_now(c);
        return;
    }
    c->want = 0;
    if (finish_handshake(c) != 0)
        abort_now(c);
}

static void run_linger(h3g_tcp_conn *c)
{
    uint8_t buf[4096];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
        if (n > 0 && (c->lingered += (size_t)n) < LINGER_BYTES)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        c->state = TC_DEAD; /* EOF, an error, or enough */
        return;
    }
}

static void run_open(h3g_tcp_conn *c, int revents)
{
    H3G_UNUSED(revents);
    if (read_input(c) != 0 || flush_out(c) != 0) {
        abort_now(c);
        return;
    }
    /* Room again: the front end queues more (it may also close).  A few
     * rounds per event; if it still has more, the socket's writability
     * brings it back next iteration, after the other connections. */
    c->more = 0;
    for (int i = 0; i < 4 && c->state == TC_OPEN && h3g_tcp_queued(c) < OUT_LOW; i++) {
        size_t before = h3g_tcp_queued(c);
        c->front->writable(c->fe);
        if (h3g_tcp_queued(c) == before)
            break;
        c->more = 1;
        if (flush_out(c) != 0) {
            abort_now(c);
            return;
        }
    }
    if (c->state == TC_OPEN && c->in_len > c->in_off && !c->paused && offer_input(c) != 0)
        abort_now(c);
}

static void conn_run(h3g_tcp_conn *c, int revents)
{
    c->busy++;
    if (c->state == TC_HANDSHAKE)
        run_handshake(c);
    if (c->state == TC_OPEN)
        run_open(c, revents);
    if (c->state == TC_CLOSING) {
        if (flush_out(c) != 0)
            abort_now(c);
        else if (h3g_tcp_queued(c) == 0)
            start_linger(c);
    }
    if (c->state == TC_LINGER)
        run_linger(c);
    c->busy--;
    if (c->state == TC_DEAD)
        conn_free(c);
    else
        update_events(c);
}

static void on_io(h3g_io *io, int revents, void *arg)
{
    H3G_UNUSED(io);
    conn_run(arg, revents);
}

static void on_kick(h3g_timer *t, void *arg)
{
    H3G_UNUSED(t);
    conn_run(arg, 0);
}

static void conn_free(h3g_tcp_conn *c)
{
    h3g_tcp_server *srv = c->srv;
    if (c->busy > 0)
        return; /* conn_run frees it on the way out */
    if (c->fe != NULL) {
        struct h3g_tcp_close_entry e = {
            .client = c->peer,
            .protocol = c->front->name,
            .error = c->close_why ? c->close_why : "reset",
            .local = c->close_why ? c->close_local : 1,
            .requests = c->front->requests ? c->front->requests(c->fe) : 0,
            .duration_us = h3g_now_us() - c->start_us,
            .bytes_in = c->bytes_in,
            .bytes_out = c->bytes_out,
        };
        c->front->closed(c->fe);
        if (!srv->cfg.unlogged)
            h3g_access_log_close_tcp(&e);
    }
    c->fe = NULL;
    if (c->handshaking)
        srv->nhandshakes--;
    h3g_timer_stop(srv->cfg.loop, &c->timer);
    h3g_timer_stop(srv->cfg.loop, &c->kick);
    h3g_timer_stop(srv->cfg.loop, &c->stall);
    h3g_io_stop(srv->cfg.loop, &c->io);
    h3g_tls_stream_free(c->ts);
    close(c->fd);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    srv->nconns--;
    c->ls->nconns--;
    free(c->in);
    free(c->out);
    free(c);
}

void h3g_tcp_conn_abort(h3g_tcp_conn *c)
{
    abort_now(c);
    conn_free(c);
}

int h3g_tcp_conn_start(h3g_tcp_server *srv, struct tcp_listener *ls, int fd,
                       const struct sockaddr *peer)
{
    h3g_tcp_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return H3G_ENOMEM;
    c->srv = srv;
    c->ls = ls;
    c->fd = fd;
    c->start_us = h3g_now_us();
    h3g_sockaddr_format(peer, c->peer, sizeof(c->peer));
    c->in = malloc(IN_BUF);
    c->ts = srv->cfg.tls != NULL ? h3g_tls_stream_new(srv->cfg.tls, fd) : NULL;
    if (c->in == NULL || (c->ts == NULL && srv->cfg.tls != NULL) ||
        h3g_io_start(srv->cfg.loop, &c->io, fd, H3G_IO_READ, on_io, c) != 0) {
        h3g_tls_stream_free(c->ts);
        free(c->in);
        free(c);
        return H3G_ENOMEM;
    }
    ls->nconns++;
    c->next = srv->conns;
    if (srv->conns != NULL)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    srv->nhandshakes++;
    c->handshaking = 1;
    c->state = TC_HANDSHAKE;
    h3g_timer_init(&c->kick, on_kick, c);
    h3g_timer_init(&c->stall, stall_timeout, c);
    h3g_timer_init(&c->timer, handshake_timeout, c);
    h3g_timer_start(srv->cfg.loop, &c->timer, srv->cfg.handshake_timeout_ms);
    return 0;
}
