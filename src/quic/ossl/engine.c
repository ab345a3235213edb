/* The QUIC engine on OpenSSL's native QUIC server (OpenSSL >= 3.5.1).
 *
 * One listener per UDP socket.  Each event-loop iteration ("pass") ticks every
 * listener (SSL_handle_events services the listener's whole QUIC engine: all its
 * connections), accepts new connections and streams, reads readable streams,
 * resumes streams that regained send capacity, then ticks again so queued output
 * leaves at once.  Connections run in EXPLICIT event-handling mode so stream
 * reads and writes never tick the reactor behind our back. */
#include "quic/engine.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/quic.h>
#include <openssl/ssl.h>

#include "common.h"
#include "obs/log.h"
#include "quic/ossl/ossl.h"
#include "quic/ossl/peer_bio.h"
#include "quic/udp.h"
#include "tls/mem.h"
#include "tls/tls.h"

/* ---- connection lifecycle ---- */

/* Every state change goes through here: handshakes in progress are counted
 * for the `handshakes` cap.  One being closed no longer counts (conn_close). */
static void conn_set_state(struct oengine *eng, struct oconn *qc, enum qc_state state)
{
    int before = qc->state == QC_HANDSHAKE && !qc->close_requested;
    int after = state == QC_HANDSHAKE && !qc->close_requested;
    if (before && !after)
        eng->nhandshakes--;
    else if (!before && after)
        eng->nhandshakes++;
    qc->state = state;
}

static void conn_free(struct oengine *eng, struct oconn *qc)
{
    if (qc->uarg != NULL) { /* the engine goes away under it (a second SIGTERM) */
        struct h3g_close_info ci;
        memset(&ci, 0, sizeof(ci));
        ci.error_code = H3G_H3_NO_ERROR;
        ci.local = 1;
        memcpy(ci.reason, "exit", 4);
        ci.reason_len = 4;
        eng->cbs.conn_closed(&qc->base, &ci, qc->uarg);
        qc->uarg = NULL;
    }
    while (qc->streams != NULL)
        ossl_stream_remove(qc, qc->streams);
    if (qc->prev != NULL)
        qc->prev->next = qc->next;
    else
        eng->conns = qc->next;
    if (qc->next != NULL)
        qc->next->prev = qc->prev;
    conn_set_state(eng, qc, QC_CLOSING);
    eng->nconns--;
    qc->l->slot.nconns--;
    SSL_free(qc->ssl);
    free(qc);
}

static void conn_terminating(struct oengine *eng, struct oconn *qc, const SSL_CONN_CLOSE_INFO *info)
{
    struct h3g_close_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.error_code = info->error_code;
    ci.frame_type = info->frame_type;
    ci.transport = (info->flags & SSL_CONN_CLOSE_FLAG_TRANSPORT) != 0;
    ci.local = (info->flags & SSL_CONN_CLOSE_FLAG_LOCAL) != 0;
    ci.idle = info->error_code == OSSL_QUIC_LOCAL_ERR_IDLE_TIMEOUT || qc->idle_close;
    if (info->reason != NULL && info->reason_len > 0) {
        ci.reason_len = H3G_MIN(info->reason_len, sizeof(ci.reason) - 1);
        memcpy(ci.reason, info->reason, ci.reason_len);
    } else if (ci.local && qc->close_requested) { /* a clean close sends none */
        ci.reason_len = H3G_MIN(strlen(qc->close_reason), sizeof(ci.reason) - 1);
        memcpy(ci.reason, qc->close_reason, ci.reason_len);
    }
    conn_set_state(eng, qc, QC_CLOSING);
    eng->cbs.conn_closed(&qc->base, &ci, qc->uarg);
    qc->uarg = NULL;
    /* Streams of a closing connection carry nothing more; release them now. */
    while (qc->streams != NULL)
        ossl_stream_remove(qc, qc->streams);
}

static void conn_close(struct oconn *qc, uint64_t app_code, const char *reason)
{
    if (qc->state == QC_CLOSING || qc->close_requested)
        return;
    if (qc->state == QC_HANDSHAKE)
        qc->eng->nhandshakes--;
    qc->close_requested = 1;
    qc->close_ms = h3g_now_ms();
    qc->close_code = app_code;
    snprintf(qc->close_reason, sizeof(qc->close_reason), "%s", reason ? reason : "");
    qc->l->dirty = 1;
    qc->l->more = 1;
}

static void conn_close_after(struct oconn *qc, uint64_t delay_ms, uint64_t app_code,
                             const char *reason)
{
    uint64_t at = h3g_now_ms() + delay_ms;
    if (qc->state == QC_CLOSING || qc->close_requested)
        return;
    if (qc->close_deadline_ms == 0 || at < qc->close_deadline_ms) {
        qc->close_deadline_ms = at;
        qc->deadline_code = app_code;
        snprintf(qc->deadline_reason, sizeof(qc->deadline_reason), "%s", reason ? reason : "");
    }
}

static void conn_abort(struct oconn *qc, uint64_t app_code, const char *reason)
{
    if (qc->state == QC_CLOSING)
        return;
    if (!qc->close_requested)
        conn_close(qc, app_code, reason);
    qc->close_now = 1;
    qc->l->more = 1;
}

static void conn_drive_close(struct oconn *qc)
{
    /* No reason phrase with a clean close: OpenSSL 4.0.2 leaks its copy of
     * the phrase of a flushed close when the connection is freed before the
     * close completes (at the drain timeout); "shutdown" tells a peer nothing
     * NO_ERROR does not. */
    SSL_SHUTDOWN_EX_ARGS args = {.quic_error_code = qc->close_code,
                                 .quic_reason =
                                     qc->close_code != H3G_H3_NO_ERROR ? qc->close_reason : NULL};
    /* A clean close lets queued response data reach the peer first; an error
     * close does not wait for it. */
    uint64_t flags = SSL_SHUTDOWN_FLAG_NO_BLOCK;
    /* ... for a while: an idle client may never acknowledge the last bytes
     * (a GOAWAY sent after its last response), and the flush would then wait
     * for the idle timeout. */
    if (qc->close_code != H3G_H3_NO_ERROR || qc->close_now || qc->state == QC_CLOSING ||
        h3g_now_ms() - qc->close_ms >= CLOSE_FLUSH_MS)
        flags |= SSL_SHUTDOWN_FLAG_NO_STREAM_FLUSH;
    if (SSL_shutdown_ex(qc->ssl, flags, &args, sizeof(args)) < 0)
        ERR_clear_error();
    qc->l->dirty = 1;
}

/* ---- reading ---- */

static void stream_read(struct oengine *eng, struct oconn *qc, struct qstream *s)
{
    uint8_t buf[READ_CHUNK];
    /* Most streams have nothing new in most passes (a client's control and QPACK
     * streams almost never): SSL_has_pending (data, FIN, reset, or a connection
     * event) is far cheaper than a read that ends in WANT_READ.  It does not
     * report a FIN that arrives alone, though: a stream whose read side is no
     * longer plainly open is read to learn how it ended. */
    if (!SSL_has_pending(s->ssl) && SSL_get_stream_read_state(s->ssl) == SSL_STREAM_STATE_OK)
        return;
    for (int i = 0; i < READS_PER_PASS; i++) {
        size_t n = 0;
        if (SSL_read_ex(s->ssl, buf, sizeof(buf), &n) == 1) {
            qc->last_activity_ms = h3g_now_ms();
            if (s->discard) {
                if (n >= s->discard_left) {
                    s->read_done = 1; /* enough: OpenSSL's STOP_SENDING (code 0) ends it */
                    return;
                }
                s->discard_left -= n;
                continue;
            }
            if (eng->cbs.stream_data(&qc->base, s->id, buf, n, 0, qc->uarg) < 0 ||
                qc->close_requested || s->paused || s->read_done)
                return;
            continue;
        }
        int err = SSL_get_error(s->ssl, 0);
        if (err == SSL_ERROR_WANT_READ)
            return;
        s->read_done = 1;
        s->peer_reset = SSL_get_stream_read_state(s->ssl) == SSL_STREAM_STATE_RESET_REMOTE;
        if (s->discard) {
            ERR_clear_error();
        } else if (err == SSL_ERROR_ZERO_RETURN) {
            eng->cbs.stream_data(&qc->base, s->id, NULL, 0, 1, qc->uarg);
        } else if (SSL_get_stream_read_state(s->ssl) == SSL_STREAM_STATE_RESET_REMOTE) {
            uint64_t code = 0;
            SSL_get_stream_read_error_code(s->ssl, &code);
            ERR_clear_error();
            eng->cbs.stream_reset(&qc->base, s->id, code, qc->uarg);
        } else {
            /* The connection is going away; the close upcall follows. */
            ERR_clear_error();
        }
        return;
    }
    qc->l->more = 1;
}

static void conn_accept_streams(struct oengine *eng, struct oconn *qc)
{
    SSL *ss;
    while ((ss = SSL_accept_stream(qc->ssl, SSL_ACCEPT_STREAM_NO_BLOCK)) != NULL) {
        struct qstream *s = ossl_stream_add(qc, ss);
        if (s == NULL) {
            SSL_free(ss);
            conn_close(qc, H3G_H3_INTERNAL_ERROR, "out of memory");
            return;
        }
        s->uni = SSL_get_stream_type(ss) == SSL_STREAM_TYPE_READ;
        s->write_done = s->uni;
        if (!s->uni)
            qc->bidi_accepted++;
        qc->last_activity_ms = h3g_now_ms();
    }
    ERR_clear_error();
    H3G_UNUSED(eng);
}

static void deliver_acks(struct oengine *eng, struct oconn *qc)
{
    for (int round = 0; round < ACK_ROUNDS && qc->acks_due && !qc->close_requested; round++) {
        qc->acks_due = 0;
        for (struct qstream *s = qc->streams; s != NULL && !qc->close_requested; s = s->next) {
            if (s->copied == 0)
                continue;
            uint64_t n = s->copied;
            s->copied = 0;
            if (eng->cbs.stream_acked(&qc->base, s->id, n, qc->uarg) < 0)
                return;
        }
    }
    if (qc->acks_due)
        qc->l->more = 1;
}

static void conn_process(struct oengine *eng, struct oconn *qc)
{
    SSL_CONN_CLOSE_INFO info;
    struct qstream *s, *next;

    if (qc->state == QC_CLOSING)
        return; /* only waiting for OpenSSL to finish the close (engine_prepare) */
    if (SSL_get_conn_close_info(qc->ssl, &info, sizeof(info)) == 1) {
        conn_terminating(eng, qc, &info);
        return;
    }
    if (qc->close_requested) {
        conn_drive_close(qc);
        return;
    }
    if (qc->state == QC_HANDSHAKE) {
        if (!SSL_is_init_finished(qc->ssl))
            return;
        conn_set_state(eng, qc, QC_READY);
        eng->handshakes++;
        eng->resumed += SSL_session_reused(qc->ssl) == 1;
        qc->last_activity_ms = h3g_now_ms();
        if (!eng->accepting) {
            conn_close(qc, H3G_H3_NO_ERROR, "shutting down");
            return;
        }
        qc->uarg = eng->cbs.conn_ready(&qc->base, eng->arg);
        if (qc->uarg == NULL) {
            conn_close(qc, H3G_H3_INTERNAL_ERROR, "cannot set up HTTP/3");
            return;
        }
    }
    conn_accept_streams(eng, qc);
    /* Streams are only freed below, so the list stays valid while upcalls open
     * or reset streams (review lesson 2). */
    if (qc->conn_budget_hit) { /* acknowledgements may have freed some */
        qc->conn_budget_hit = 0;
        for (s = qc->streams; s != NULL && !qc->close_requested; s = s->next)
            if (s->buffered > 0)
                ossl_stream_refresh(qc, s);
    }
    for (s = qc->streams; s != NULL && !qc->close_requested; s = s->next) {
        if (!s->read_done && !s->paused && !s->local)
            stream_read(eng, qc, s);
        if (qc->close_requested)
            break;
        if (s->want_write && !s->write_done) {
            if (ossl_stream_send_budget(qc, s) >= STREAM_SEND_LOW) {
                s->want_write = 0;
                eng->cbs.stream_writable(&qc->base, s->id, qc->uarg);
            }
        }
    }
    if (qc->wake && !qc->close_requested) {
        qc->wake = 0;
        eng->cbs.conn_flush(&qc->base, qc->uarg);
    }
    deliver_acks(eng, qc);
    for (s = qc->streams; s != NULL; s = next) {
        next = s->next;
        /* A stream whose peer reset its own side (or whose upload we stopped,
         * which is when peers do) is freed only once what it sent is
         * acknowledged: OpenSSL drops the unsent rest (a response's FIN) of
         * such a stream when it is freed (curl resets its side when it
         * abandons an upload that was answered). */
        int linger = (s->peer_reset || s->discard) && !s->reset;
        if (linger && s->read_done && s->write_done && !s->local && !qc->close_requested)
            ossl_stream_refresh(qc, s);
        if (s->read_done && s->write_done && !s->local && !qc->close_requested &&
            (!linger || s->buffered == 0)) {
            int64_t id = s->id;
            uint64_t code = s->reset ? s->app_code : H3G_H3_NO_ERROR;
            ossl_stream_remove(qc, s);
            eng->cbs.stream_closed(&qc->base, id, code, qc->uarg);
        }
    }
    if (qc->close_deadline_ms != 0 && !qc->close_requested && h3g_now_ms() >= qc->close_deadline_ms)
        conn_close(qc, qc->deadline_code, qc->deadline_reason);
    if (eng->cfg.idle_timeout_ms > 0 && !qc->close_requested &&
        h3g_now_ms() - qc->last_activity_ms >= eng->cfg.idle_timeout_ms) {
        qc->idle_close = 1;
        conn_close(qc, H3G_H3_NO_ERROR, "idle timeout");
    }
}

/* ---- new connections ---- */

/* Why a new connection (counted in nconns and nhandshakes already) must be
 * refused, or NULL, with the code to close it with; counted and logged. */
static const char *refusal(struct oengine *eng, const struct oconn *qc, uint64_t *code)
{
    *code = H3G_H3_EXCESSIVE_LOAD;
    if (!eng->accepting || qc->l->slot.retired) {
        h3g_debug("refusing connection from %s: shutting down", qc->peer);
        *code = H3G_H3_NO_ERROR;
        return "shutting down";
    }
    if (eng->cfg.max_connections > 0 && eng->nconns > eng->cfg.max_connections) {
        if (eng->refused++ % 1000 == 0)
            h3g_warn("refusing connection from %s: %zu connections open (limit %zu)", qc->peer,
                     eng->nconns - 1, eng->cfg.max_connections);
        return "too many connections";
    }
    if (h3g_tls_mem_over()) {
        if (eng->refused++ % 1000 == 0)
            h3g_warn("refusing connection from %s: OpenSSL holds %zu bytes (limit openssl_memory)",
                     qc->peer, h3g_tls_mem_used());
        return "out of memory budget";
    }
    if (eng->cfg.max_handshakes > 0 && eng->nhandshakes > eng->cfg.max_handshakes) {
        if (eng->refused_handshakes++ % 1000 == 0)
            h3g_warn("refusing new clients: %zu handshakes in progress (limit %zu)",
                     eng->nhandshakes - 1, eng->cfg.max_handshakes);
        return "too many handshakes";
    }
    return NULL;
}

#if H3G_HAVE_SSL_GET_PEER_ADDR
/* OpenSSL 4.0 keeps the address with the connection. */
static void conn_peer(struct oengine *eng, SSL *c, char *buf, size_t len)
{
    BIO_ADDR *a = BIO_ADDR_new();
    H3G_UNUSED(eng);
    snprintf(buf, len, "-");
    if (a != NULL && SSL_get_peer_addr(c, a) == 1)
        h3g_bio_addr_format(a, buf, len);
    ERR_clear_error();
    BIO_ADDR_free(a);
}

static int peer_setup(struct oengine *eng)
{
    H3G_UNUSED(eng);
    return 0;
}

static void peer_teardown(struct oengine *eng)
{
    H3G_UNUSED(eng);
}

static BIO *listener_bio(BIO *dgram)
{
    return dgram;
}
#else
/* OpenSSL 3.5/3.6: the peer filter saw the Initial that creates the
 * connection (peer_bio.h); its address is kept with the connection. */
static int on_new_pending_conn(SSL_CTX *ctx, SSL *ssl, void *arg)
{
    struct oengine *eng = arg;
    char peer[64] = "-";
    char *dup;
    H3G_UNUSED(ctx);
    if (eng->ticking != NULL)
        h3g_bio_addr_format(h3g_peer_bio_last_initial(eng->ticking->bio), peer, sizeof(peer));
    /* Never return 0: OpenSSL 3.5.7 then frees the half-built channel twice
     * (SSL_free of the connection frees it, then port_make_channel does), and
     * 4.0.2 deadlocks (it frees it under the engine lock it holds).
     * Refusals happen after accept, with an explicit CONNECTION_CLOSE
     * (listener_accept); without memory the address is just not known. */
    dup = strdup(peer);
    if (dup != NULL && !SSL_set_ex_data(ssl, eng->exidx, dup))
        free(dup);
    return 1;
}

static void free_peer_exdata(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                             void *argp)
{
    H3G_UNUSED(parent);
    H3G_UNUSED(ad);
    H3G_UNUSED(idx);
    H3G_UNUSED(argl);
    H3G_UNUSED(argp);
    free(ptr);
}

static void conn_peer(struct oengine *eng, SSL *c, char *buf, size_t len)
{
    const char *peer = SSL_get_ex_data(c, eng->exidx);
    snprintf(buf, len, "%s", peer ? peer : "-");
}

static int peer_setup(struct oengine *eng)
{
    eng->exidx = SSL_get_ex_new_index(0, NULL, NULL, NULL, free_peer_exdata);
    if (eng->exidx < 0)
        return H3G_ERR;
    SSL_CTX_set_new_pending_conn_cb(eng->ctx, on_new_pending_conn, eng);
    return 0;
}

static void peer_teardown(struct oengine *eng)
{
    SSL_CTX_set_new_pending_conn_cb(eng->ctx, NULL, NULL);
}

static BIO *listener_bio(BIO *dgram)
{
    return h3g_peer_bio_new(dgram);
}
#endif

static void listener_accept(struct oengine *eng, struct listener *l)
{
    SSL *c;
    /* SSL_accept_connection ticks the whole engine (every connection) whenever
     * its queue is empty, even with NO_BLOCK in explicit event mode: it is only
     * called for connections already queued by the pass's own tick.  A tick can
     * create connections, which must see this listener's peer filter. */
    eng->ticking = l;
    while (SSL_get_accept_connection_queue_len(l->ssl) > 0 &&
           (c = SSL_accept_connection(l->ssl, SSL_ACCEPT_CONNECTION_NO_BLOCK)) != NULL) {
        struct oconn *qc = calloc(1, sizeof(*qc));
        const char *why;
        uint64_t code;
        if (qc == NULL) {
            SSL_free(c);
            continue;
        }
        qc->base.ops = &h3g_engine_ossl;
        qc->eng = eng;
        qc->l = l;
        l->slot.nconns++;
        qc->ssl = c;
        qc->state = QC_READY; /* counted as a handshake by the line below */
        conn_set_state(eng, qc, QC_HANDSHAKE);
        qc->last_activity_ms = h3g_now_ms();
        conn_peer(eng, c, qc->peer, sizeof(qc->peer));
        /* HTTP/3 uses no default stream, takes every peer stream, and never lets
         * a stream read or write tick the QUIC engine. */
        if (!SSL_set_default_stream_mode(c, SSL_DEFAULT_STREAM_MODE_NONE) ||
            !SSL_set_incoming_stream_policy(c, SSL_INCOMING_STREAM_POLICY_ACCEPT, 0) ||
            !SSL_set_event_handling_mode(c, SSL_VALUE_EVENT_HANDLING_MODE_EXPLICIT)) {
            h3g_err("cannot configure QUIC connection from %s", qc->peer);
            ERR_clear_error();
        }
        SSL_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        qc->next = eng->conns;
        if (eng->conns != NULL)
            eng->conns->prev = qc;
        eng->conns = qc;
        eng->nconns++;
        /* Refused after OpenSSL ran the first step of the handshake: it can
         * neither refuse before (a 0 from the pending-connection callback
         * double-frees in 3.5.7 and deadlocks in 4.0.2) nor send the close
         * of a fatal alert from the servername callback (4.0.2 only ACKs).
         * The close goes out in Initial packets; a client that already has
         * Handshake keys (after a Retry, typically) drops it and waits for
         * its own timeout. */
        why = refusal(eng, qc, &code);
        if (why != NULL)
            conn_close(qc, code, why);
    }
    eng->ticking = NULL;
    ERR_clear_error();
}

/* ---- the pass ---- */

static void listener_free(struct oengine *eng, struct listener *l)
{
    h3g_io_stop(eng->loop, &l->io);
    SSL_free(l->ssl); /* frees the BIO chain and closes the socket */
    free(l);
}

/* Retired listeners whose connections are all gone (at the start of a pass,
 * when no loop over the listeners runs). */
static void sweep_listeners(struct oengine *eng)
{
    for (struct listener **pp = &eng->listeners; *pp != NULL;) {
        struct listener *l = *pp;
        if (h3g_listen_slot_gone(&l->slot)) {
            *pp = l->next;
            listener_free(eng, l);
        } else {
            pp = &l->next;
        }
    }
}

static void tick(struct oengine *eng, struct listener *l)
{
    eng->ticking = l;
    l->dirty = 0;
    if (!SSL_handle_events(l->ssl))
        ERR_clear_error();
    eng->ticking = NULL;
}

static int64_t engine_prepare(void *arg)
{
    struct oengine *eng = arg;
    struct oconn *qc, *next;
    struct listener *l;
    int64_t wait = -1;
    uint64_t now = h3g_now_ms();
    int all = eng->more;

    eng->more = 0;
    sweep_listeners(eng);
    if (now >= eng->next_sweep_ms) {
        all = 1; /* idle timeouts and close deadlines are ours to check */
        eng->next_sweep_ms = now + 1000;
    }
    for (l = eng->listeners; l != NULL; l = l->next) {
        l->due = all || l->io_ready || l->dirty || l->more ||
                 (l->deadline_ms != 0 && now >= l->deadline_ms);
        l->io_ready = 0;
        l->more = 0;
        if (l->due) {
            tick(eng, l);
            listener_accept(eng, l);
        }
    }
    for (qc = eng->conns; qc != NULL; qc = next) {
        next = qc->next;
        if (!qc->l->due)
            continue;
        eng->ticking = qc->l; /* in case a call below ticks this connection's engine */
        conn_process(eng, qc);
        if (qc->state == QC_CLOSING) {
            SSL_SHUTDOWN_EX_ARGS args = {.quic_error_code = qc->close_code, .quic_reason = NULL};
            int r = SSL_shutdown_ex(qc->ssl,
                                    SSL_SHUTDOWN_FLAG_NO_BLOCK | SSL_SHUTDOWN_FLAG_NO_STREAM_FLUSH,
                                    &args, sizeof(args));
            if (r < 0)
                ERR_clear_error();
            if (r == 1)
                conn_free(eng, qc);
        }
    }
    eng->ticking = NULL;
    for (l = eng->listeners; l != NULL; l = l->next) {
        struct timeval tv;
        int inf = 1;
        /* Output queued by this pass (responses, closes) goes out now. */
        if (l->dirty)
            tick(eng, l);
        l->deadline_ms = 0;
        if (SSL_get_event_timeout(l->ssl, &tv, &inf) && !inf) {
            int64_t ms = (int64_t)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
            l->deadline_ms = now + (uint64_t)ms;
            if (wait < 0 || ms < wait)
                wait = ms;
        }
        h3g_io_modify(eng->loop, &l->io,
                      H3G_IO_READ | (SSL_net_write_desired(l->ssl) ? H3G_IO_WRITE : 0));
        if (l->more)
            wait = 0;
    }
    if (eng->conns != NULL) {
        /* Wake up for our own idle and close deadlines at least once a second. */
        int64_t sweep = (int64_t)(eng->next_sweep_ms > now ? eng->next_sweep_ms - now : 0);
        if (wait < 0 || wait > sweep)
            wait = sweep;
    }
    if (eng->more)
        wait = 0;
    return wait < 0 ? wait : wait * 1000; /* the loop counts in µs */
}

static void on_udp_ready(h3g_io *io, int revents, void *arg)
{
    /* The next pass ticks the listener. */
    struct listener *l = arg;
    H3G_UNUSED(io);
    H3G_UNUSED(revents);
    l->io_ready = 1;
}

/* ---- public ---- */

static h3g_engine *ossl_create(h3g_loop *loop, struct h3g_tls *tls,
                               const struct h3g_engine_config *cfg,
                               const struct h3g_engine_callbacks *cbs, void *arg)
{
    struct oengine *eng = calloc(1, sizeof(*eng));
    if (eng == NULL)
        return NULL;
    eng->base.ops = &h3g_engine_ossl;
    eng->loop = loop;
    eng->tls = tls;
    eng->ctx = h3g_tls_ctx(tls);
    eng->cfg = *cfg;
    eng->cbs = *cbs;
    eng->arg = arg;
    eng->accepting = 1;
    if (peer_setup(eng) != 0) {
        free(eng);
        return NULL;
    }
    h3g_loop_add_prepare(loop, &eng->prepare, engine_prepare, eng);
    return &eng->base;
}

static void ossl_destroy(h3g_engine *he)
{
    struct oengine *eng = (struct oengine *)he;
    if (eng == NULL)
        return;
    while (eng->conns != NULL)
        conn_free(eng, eng->conns);
    while (eng->listeners != NULL) {
        struct listener *l = eng->listeners;
        eng->listeners = l->next;
        listener_free(eng, l);
    }
    peer_teardown(eng);
    h3g_loop_remove_prepare(eng->loop, &eng->prepare);
    free(eng);
}

static int listener_open(struct oengine *eng, const struct sockaddr *sa, socklen_t salen,
                         int reuseport, const char *where, char *err, size_t errlen)
{
    struct listener *l = NULL;
    BIO *dgram = NULL;
    struct h3g_udp_sock sock;
    int fd;

    /* Plain datagrams: OpenSSL's BIO reads them one at a time (no GRO). */
    if (h3g_udp_open(&sock, sa, salen, reuseport ? H3G_UDP_REUSEPORT : 0, where, err, errlen) != 0)
        return H3G_ERR;
    fd = sock.fd;
    l = calloc(1, sizeof(*l));
    dgram = BIO_new_dgram(fd, BIO_CLOSE);
    if (l == NULL || dgram == NULL) {
        if (dgram == NULL)
            close(fd);
        BIO_free(dgram);
        free(l);
        snprintf(err, errlen, "out of memory");
        return H3G_ENOMEM;
    }
    l->fd = fd;
    h3g_listen_slot_init(&l->slot, sa, salen);
    l->bio = listener_bio(dgram);
    l->ssl =
        SSL_new_listener(eng->ctx, eng->cfg.address_validation ? 0 : SSL_LISTENER_FLAG_NO_VALIDATE);
    if (l->bio == NULL || l->ssl == NULL) {
        snprintf(err, errlen, "cannot create a QUIC listener for %s", where);
        goto fail;
    }
    SSL_set_bio(l->ssl, l->bio, l->bio);
    if (!SSL_set_blocking_mode(l->ssl, 0) || !SSL_listen(l->ssl)) {
        snprintf(err, errlen, "cannot start the QUIC listener on %s", where);
        goto fail;
    }
    if (h3g_io_start(eng->loop, &l->io, fd, H3G_IO_READ, on_udp_ready, l) != 0) {
        snprintf(err, errlen, "cannot watch the socket for %s", where);
        goto fail;
    }
    l->next = eng->listeners;
    eng->listeners = l;
    return 0;
fail:
    ERR_clear_error();
    if (l->ssl != NULL)
        SSL_free(l->ssl);
    else if (l->bio != NULL)
        BIO_free_all(l->bio);
    else
        BIO_free(dgram);
    free(l);
    return H3G_ERR;
}

/* A reload names an address already served: its sockets stay. */
static int keep_listening(struct oengine *eng, const struct sockaddr *sa, socklen_t salen)
{
    int found = 0;
    for (struct listener *l = eng->listeners; l != NULL; l = l->next)
        found |= h3g_listen_slot_keep(&l->slot, sa, salen);
    return found;
}

static void ossl_listen_begin(h3g_engine *he)
{
    for (struct listener *l = ((struct oengine *)he)->listeners; l != NULL; l = l->next)
        l->slot.named = 0;
}

static void ossl_listen_end(h3g_engine *he)
{
    struct oengine *eng = (struct oengine *)he;
    for (struct listener *l = eng->listeners; l != NULL; l = l->next)
        h3g_listen_slot_retire_unnamed(&l->slot);
    eng->more = 1;
}

static void ossl_configure(h3g_engine *he, const struct h3g_engine_config *cfg)
{
    struct oengine *eng = (struct oengine *)he;
    struct h3g_engine_config keep = eng->cfg;
    eng->cfg = *cfg;
    /* set on the sockets and listeners when they were opened */
    eng->cfg.listeners_per_address = keep.listeners_per_address;
    eng->cfg.address_validation = keep.address_validation;
    eng->cfg.host_key = keep.host_key;
    eng->cfg.host_key_len = keep.host_key_len;
    eng->cfg.shared_port = keep.shared_port;
}

static int ossl_listen(h3g_engine *he, const struct sockaddr *sa, socklen_t salen, char *err,
                       size_t errlen)
{
    struct oengine *eng = (struct oengine *)he;
    char where[80];
    unsigned n = eng->cfg.listeners_per_address > 0 ? eng->cfg.listeners_per_address : 1;
    int rc;

    h3g_sockaddr_format(sa, where, sizeof(where));
    if (salen > sizeof(struct sockaddr_storage)) {
        snprintf(err, errlen, "bad address %s", where);
        return H3G_ERR;
    }
    if (keep_listening(eng, sa, salen))
        return 0;
    /* SO_REUSEPORT would let this bind join another process's sockets on the
     * port (same user) instead of failing. */
    int share = n > 1 || eng->cfg.shared_port;
    if (share && !eng->cfg.shared_port && h3g_udp_probe(sa, salen, where, err, errlen) != 0)
        return H3G_ERR;
    for (unsigned i = 0; i < n; i++) {
        rc = listener_open(eng, sa, salen, share, where, err, errlen);
        if (rc != 0)
            return rc; /* the caller exits; destroy closes what was opened */
    }
    h3g_info("listening on %s (QUIC, HTTP/3)", where);
    return 0;
}

static void ossl_stop_accepting(h3g_engine *he)
{
    ((struct oengine *)he)->accepting = 0;
}

static size_t ossl_conn_count(const h3g_engine *he)
{
    return ((const struct oengine *)he)->nconns;
}

static void ossl_foreach_conn(h3g_engine *he, void (*fn)(h3g_qconn *qc, void *conn_arg, void *arg),
                              void *arg)
{
    struct oengine *eng = (struct oengine *)he;
    struct oconn *qc, *next;
    for (qc = eng->conns; qc != NULL; qc = next) {
        next = qc->next;
        if (qc->state != QC_CLOSING)
            fn(&qc->base, qc->uarg, arg);
    }
    eng->more = 1;
}

static void ossl_close(h3g_qconn *hq, uint64_t app_code, const char *reason)
{
    conn_close((struct oconn *)hq, app_code, reason);
}

static void ossl_close_after(h3g_qconn *hq, uint64_t delay_ms, uint64_t app_code,
                             const char *reason)
{
    conn_close_after((struct oconn *)hq, delay_ms, app_code, reason);
}

static void ossl_abort(h3g_qconn *hq, uint64_t app_code, const char *reason)
{
    conn_abort((struct oconn *)hq, app_code, reason);
}

static void ossl_stats(const h3g_engine *he, char *buf, size_t len)
{
    const struct oengine *eng = (const struct oengine *)he;
    snprintf(buf, len,
             "connections=%zu refused=%llu handshakes=%llu resumed=%llu refused_handshakes=%llu",
             eng->nconns, (unsigned long long)eng->refused, (unsigned long long)eng->handshakes,
             (unsigned long long)eng->resumed, (unsigned long long)eng->refused_handshakes);
}

static void ossl_counters(const h3g_engine *he, struct h3g_engine_counters *out)
{
    const struct oengine *eng = (const struct oengine *)he;
    memset(out, 0, sizeof(*out));
    out->refused = eng->refused;
    out->handshakes = eng->handshakes;
    out->resumed = eng->resumed;
    out->refused_handshakes = eng->refused_handshakes;
}

const struct h3g_engine_ops h3g_engine_ossl = {
    .name = "openssl",
    .caps = H3G_ENGINE_CAP_COPIES_WRITES,
    .create = ossl_create,
    .destroy = ossl_destroy,
    .listen = ossl_listen,
    .stop_accepting = ossl_stop_accepting,
    .configure = ossl_configure,
    .listen_begin = ossl_listen_begin,
    .listen_end = ossl_listen_end,
    .conn_count = ossl_conn_count,
    .foreach_conn = ossl_foreach_conn,
    .stats = ossl_stats,
    .counters = ossl_counters,
    .open_uni = ossl_open_uni,
    .write = ossl_write,
    .reset = ossl_reset,
    .stop_reading = ossl_stop_reading,
    .pause_read = ossl_pause_read,
    .consume = ossl_consume,
    .close = ossl_close,
    .close_after = ossl_close_after,
    .abort = ossl_abort,
    .wake = ossl_wake,
    .peer_bidi_limit = ossl_peer_bidi_limit,
    .peer = ossl_peer,
    .server_name = ossl_server_name,
};
