/* Internals of the OpenSSL engine, shared by engine.c (listeners, the pass,
 * connections) and stream.c (stream table and the contract's stream calls). */
#ifndef H3G_QUIC_OSSL_OSSL_H
#define H3G_QUIC_OSSL_OSSL_H

#include <stdint.h>

#include <openssl/ssl.h>

#include "event/loop.h"
#include "quic/engine.h"
#include "quic/listen_slot.h"

#define STREAM_BUCKETS 64
#define READ_CHUNK 16384
/* Reads per stream per pass: keeps one fast sender from starving the others. */
#define READS_PER_PASS 8
/* Send-buffer bound per stream (see stream_send_budget) and the free space that
 * wakes a blocked writer. */
#define STREAM_SEND_BUF (512 * 1024)
#define STREAM_SEND_LOW (STREAM_SEND_BUF / 4)
/* Bytes of a stream that h3gate was told to stop reading with H3_NO_ERROR that
 * are still read and dropped (see ossl_stop_reading). */
#define DISCARD_MAX (16u << 20)
/* Rounds of "report copied bytes, let the layer above write more" per pass. */
#define ACK_ROUNDS 64
/* How long a clean close waits for the peer to acknowledge what was sent. */
#define CLOSE_FLUSH_MS 3000

struct qstream {
    int64_t id;
    SSL *ssl;
    struct qstream *hnext;
    struct qstream *prev, *next;
    uint64_t app_code;
    uint64_t copied;       /* taken by OpenSSL, not yet reported by stream_acked */
    uint64_t discard_left; /* see ossl_stop_reading */
    uint64_t buffered;     /* OpenSSL's send buffer use, as last seen */
    unsigned uni : 1, local : 1, read_done : 1, write_done : 1, want_write : 1, paused : 1,
        reset : 1, discard : 1, peer_reset : 1;
};

enum qc_state { QC_HANDSHAKE, QC_READY, QC_CLOSING };

/* OpenSSL 3.5 ticks every connection of a listener whenever it ticks the
 * listener, so an event costs O(connections of that listener).  Each listen
 * address is served by several listeners on SO_REUSEPORT sockets (the kernel
 * keeps a client's datagrams on one socket) and a pass ticks and services only
 * the listeners that have something to do. */
struct listener {
    SSL *ssl;
    BIO *bio;
    int fd;
    h3g_io io;
    int io_ready;         /* the socket became readable or writable */
    int dirty;            /* output queued since the last tick */
    int more;             /* its connections have work left: no sleeping */
    int due;              /* serviced in this pass */
    uint64_t deadline_ms; /* OpenSSL's next timer for it; 0 = none */
    struct h3g_listen_slot slot;
    struct listener *next;
};

struct oconn {
    struct h3g_qconn base; /* first: the contract's view */
    struct oengine *eng;
    struct listener *l;
    SSL *ssl;
    void *uarg;
    enum qc_state state;
    int wake;
    int acks_due; /* some stream has copied bytes to report */
    int close_requested;
    uint64_t close_ms; /* when the close was requested */
    int close_now;     /* skip the stream flush */
    int idle_close;
    uint64_t close_code;
    char close_reason[64];
    uint64_t last_activity_ms;
    uint64_t close_deadline_ms; /* 0 = none; see conn_close_after */
    uint64_t deadline_code;
    char deadline_reason[64];
    uint64_t bidi_accepted;
    uint64_t buffered;   /* the streams' send buffer use, as last seen */
    int conn_budget_hit; /* a write was held back by send_budget_conn */
    struct qstream *buckets[STREAM_BUCKETS];
    struct qstream *streams;
    char peer[64];
    struct oconn *prev, *next;
};

struct oengine {
    struct h3g_engine base; /* first */
    h3g_loop *loop;
    h3g_prepare prepare;
    struct h3g_tls *tls;
    SSL_CTX *ctx;
    struct h3g_engine_config cfg;
    struct h3g_engine_callbacks cbs;
    void *arg;
    struct listener *listeners;
    struct listener *ticking;
    struct oconn *conns;
    size_t nconns;
    int accepting;
    int more;               /* every listener's connections need a pass */
    uint64_t next_sweep_ms; /* a pass over everything (our own idle timers) */
    int exidx;
    size_t nhandshakes; /* connections in QC_HANDSHAKE (conn_set_state) */
    uint64_t refused, refused_handshakes, handshakes, resumed;
};

/* stream.c */
struct qstream *ossl_stream_find(struct oconn *qc, int64_t id);
struct qstream *ossl_stream_add(struct oconn *qc, SSL *ssl);
void ossl_stream_remove(struct oconn *qc, struct qstream *s);
uint64_t ossl_stream_send_budget(struct oconn *qc, struct qstream *s);
/* Re-reads how much of its send buffer the stream uses (acknowledgements free it). */
void ossl_stream_refresh(struct oconn *qc, struct qstream *s);
int ossl_open_uni(h3g_qconn *hq, int64_t *sid);
int ossl_write(h3g_qconn *hq, int64_t sid, const h3g_iovec *vec, size_t n, int fin,
               size_t *written);
int ossl_reset(h3g_qconn *hq, int64_t sid, uint64_t app_code);
void ossl_stop_reading(h3g_qconn *hq, int64_t sid, uint64_t app_code);
void ossl_pause_read(h3g_qconn *hq, int64_t sid, int paused);
void ossl_consume(h3g_qconn *hq, int64_t sid, size_t n);
void ossl_wake(h3g_qconn *hq);
uint64_t ossl_peer_bidi_limit(h3g_qconn *hq);
const char *ossl_peer(const h3g_qconn *hq);
const char *ossl_server_name(const h3g_qconn *hq);

#endif
