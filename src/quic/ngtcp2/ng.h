/* Internals of the ngtcp2 engine, shared by engine.c (sockets, new
 * connections, the ops table), conn.c (one connection and its ngtcp2
 * callbacks) and stream.c (stream table, send queues, paused input). */
#ifndef H3G_QUIC_NGTCP2_NG_H
#define H3G_QUIC_NGTCP2_NG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_ossl.h>
#include <openssl/ssl.h>

#include "event/loop.h"
#include "quic/engine.h"
#include "quic/listen_slot.h"
#include "quic/ngtcp2/cid.h"
#include "quic/udp.h"

#define NG_STREAM_BUCKETS 64
/* Unsent bytes a stream may queue (references to the layer above's buffers):
 * beyond it h3g_qconn_write says H3G_EAGAIN; below NG_QUEUE_LOW the stream is
 * writable again. */
#define NG_QUEUE_MAX (256 * 1024)
#define NG_QUEUE_LOW (NG_QUEUE_MAX / 2)
#define NG_TX_BUF 65536
#define NG_SECRET_LEN 32

struct ngengine;
struct ngconn;

struct ngstream {
    int64_t id;
    struct ngstream *hnext;       /* hash chain */
    struct ngstream *prev, *next; /* all streams of the connection */
    struct ngstream *snext;       /* the connection's send queue */
    /* Bytes written but not yet packetised: references, kept valid by the
     * layer above until stream_acked. */
    h3g_iovec *q;
    size_t qcap, qhead, qlen, qoff;
    uint64_t queued;
    /* Bytes received while paused, delivered on resume; bounded by the
     * credit the layer above has not returned. */
    uint8_t *rbuf;
    size_t rlen, rcap;
    unsigned local : 1, uni : 1, fin_queued : 1, fin_sent : 1, write_done : 1, want_write : 1,
        notify_writable : 1, blocked : 1, in_sendq : 1, paused : 1, rfin : 1, rpending : 1,
        read_done : 1, early : 1;
};

enum ng_state { NC_HANDSHAKE, NC_READY, NC_CLOSING, NC_DRAINING };

struct nglistener {
    struct ngengine *eng;
    struct h3g_udp_sock sock;
    h3g_io io;
    struct h3g_listen_slot slot;
    struct nglistener *next;
};

struct ngconn {
    struct h3g_qconn base; /* first: the contract's view */
    struct ngengine *eng;
    struct nglistener *l;
    ngtcp2_conn *conn;
    ngtcp2_crypto_ossl_ctx *octx;
    SSL *ssl;
    ngtcp2_crypto_conn_ref ref;
    void *uarg;
    FILE *qlog; /* qlog_dir: this connection's file */
    enum ng_state state;
    ngtcp2_ccerr ccerr; /* why we close */
    h3g_timer timer;
    ngtcp2_cid initial_dcid; /* the client's first DCID, also mapped */
    struct ngstream *buckets[NG_STREAM_BUCKETS];
    struct ngstream *streams;
    struct ngstream *sendq, *sendq_tail;
    uint64_t unacked;    /* bytes written and not yet acknowledged */
    uint64_t bidi_limit; /* cumulative bidi streams granted to the peer */
    int close_requested; /* graceful close waits for unacked == 0 */
    uint64_t close_code;
    char close_reason[64];
    uint64_t close_by_us; /* graceful close gives up then (µs) */
    uint64_t deadline_us; /* close_after; 0 = none */
    uint64_t deadline_code;
    char deadline_reason[64];
    uint8_t *closebuf; /* our CONNECTION_CLOSE, repeated in the closing period */
    size_t closelen;
    uint64_t close_recv; /* packets received while closing */
    int wake, pending;   /* flush asked; upcalls to run */
    struct sockaddr_storage remote;
    socklen_t remotelen;
    char peer[64];
    struct ngconn *prev, *next; /* all connections */
    struct ngconn *dnext;       /* the engine's dirty list */
    int in_dirty;
    int in_handshake; /* counted in the engine's nhandshakes */
};

struct ng_counters {
    uint64_t dgrams_in, packets_in, recv_calls;
    uint64_t packets_out, send_calls, send_blocked;
    uint64_t retries, version_negotiations, stateless_resets, refused, refused_handshakes,
        bad_tokens;
    uint64_t handshakes, resumed, migrations, early_streams;
    uint64_t lost_closed;         /* packets lost on connections already gone */
    uint64_t refusals_unanswered; /* refusals not sent (refusal_due) */
};

/* The last refusal sent to a client address (engine.c, refusal_due). */
struct ng_refusal {
    uint64_t key, at_ms;
};

struct ngengine {
    struct h3g_engine base; /* first */
    h3g_loop *loop;
    h3g_prepare prepare;
    struct h3g_tls *tls;
    SSL_CTX *ctx;
    struct h3g_engine_config cfg;
    struct h3g_engine_callbacks cbs;
    void *arg;
    struct nglistener *listeners;
    struct ngconn *conns, *dirty;
    size_t nconns;
    size_t nhandshakes; /* connections still in their handshake */
    int accepting;
    struct h3g_cid_map cids;
    struct h3g_cid_id id;
    uint8_t secret[NG_SECRET_LEN];
    struct h3g_udp_rx rx;
    uint8_t tx[NG_TX_BUF];
    uint64_t resets_tokens; /* stateless reset token bucket */
    uint64_t resets_refill_us;
    struct ng_counters n;
    struct ng_refusal refusals[1024];
};

/* Monotonic nanoseconds (ngtcp2's clock) and wall-clock nanoseconds (tokens,
 * which must survive a restart). */
uint64_t ng_now_ns(void);
uint64_t ng_wall_ns(void);

/* conn.c */
/* qlog_dir (qlog.c): the callback ngtcp2 writes through, and the file. */
void ng_qlog_write(void *user_data, uint32_t flags, const void *data, size_t len);
int ng_qlog_open(struct ngconn *c, const ngtcp2_cid *odcid);
void ng_qlog_close(struct ngconn *c);

struct ngconn *ng_conn_new(struct ngengine *eng, struct nglistener *l, const ngtcp2_pkt_hd *hd,
                           const ngtcp2_cid *odcid, int token_type, const struct h3g_udp_dgram *d);
/* Feeds one packet; the connection may be gone afterwards (returns -1). */
int ng_conn_read(struct ngconn *c, const struct h3g_udp_dgram *d, const uint8_t *pkt, size_t len);
void ng_conn_mark(struct ngconn *c);
/* Runs pending upcalls and writes what is due; -1 when it freed c. */
int ng_conn_service(struct ngconn *c);
void ng_conn_free(struct ngconn *c);
void ng_conn_close(struct ngconn *c, uint64_t app_code, const char *reason, int now);
/* Session tickets that remember 0-RTT parameters, on the engine's context. */
void ng_tls_setup(SSL_CTX *ctx);
void ng_conn_send(struct ngconn *c, const ngtcp2_path *path, uint8_t ecn, const uint8_t *data,
                  size_t len, size_t seg);

/* stream.c */
struct ngstream *ng_stream_find(struct ngconn *c, int64_t id);
struct ngstream *ng_stream_add(struct ngconn *c, int64_t id);
void ng_stream_remove(struct ngconn *c, struct ngstream *s);
int ng_stream_enqueue(struct ngconn *c, struct ngstream *s, const h3g_iovec *vec, size_t n, int fin,
                      size_t *written);
void ng_stream_sendq_push(struct ngconn *c, struct ngstream *s);
void ng_stream_sendq_drop(struct ngconn *c, struct ngstream *s);
/* Vectors of the next unsent bytes (at most max); *fin when they end the stream. */
size_t ng_stream_peek(const struct ngstream *s, ngtcp2_vec *v, size_t max, int *fin);
void ng_stream_advance(struct ngconn *c, struct ngstream *s, size_t n, int fin_included);
void ng_stream_drop_queue(struct ngconn *c, struct ngstream *s);
int ng_stream_buffer(struct ngstream *s, const uint8_t *data, size_t len, int fin);

extern const ngtcp2_callbacks ng_callbacks;

#endif
