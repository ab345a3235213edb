/* Internals of the HTTP/3 layer, shared by session.c (one connection: nghttp3
 * and the engine upcalls) and exchange.c (one request: its states, body and
 * the h3g_exchange API for handlers). */
#ifndef H3G_H3_INTERNAL_H
#define H3G_H3_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <nghttp3/nghttp3.h>

#include "event/loop.h"
#include "h3/session.h"
#include "http/exchange.h"

#define BODY_CHUNK 16384
/* Streams nghttp3 may hold bytes of (QPACK-blocked) at once: the most
 * qpack_blocked_streams may be set to. */
#define HELD_MAX 64

struct chunk {
    struct chunk *next;
    size_t len, acked;
    uint8_t data[BODY_CHUNK];
};

/* The request side of an exchange. */
enum rx_state {
    RX_HEADERS,    /* the field section is arriving */
    RX_OVERSIZED,  /* ... and is over the limits: 431 at its end */
    RX_REJECTED,   /* over streams_per_connection: reset at the end of its headers */
    RX_BODY,       /* dispatched: body bytes go to the handler (or are dropped) */
    RX_OVER_LIMIT, /* the body is over request_body_size: 413, the rest refused */
    RX_DONE,       /* the client's FIN arrived */
    RX_STOPPED,    /* the handler wants no more: the rest is dropped */
};

/* The response side. */
enum tx_state {
    TX_NONE,     /* nothing decided yet */
    TX_DEFERRED, /* waiting for the handler's h3g_exchange_respond (or for a 413) */
    TX_BODY,     /* the response is submitted and its body flows */
    TX_FAILED,   /* the body source failed: a reset follows, never a short body */
    TX_COMPLETE, /* everything, FIN included, is with the engine */
    TX_RESET,    /* we reset the stream */
};

/* What the response body's producer waits for (TX_BODY). */
enum body_wait {
    BODY_READY,
    BODY_WAIT_ACKS,   /* all its chunks are unacknowledged */
    BODY_WAIT_SOURCE, /* the handler said "not yet" */
    BODY_WAIT_BUDGET, /* the connection's or the worker's send budget is spent */
    BODY_EOF,
};

struct session;

/* push_frames.c: the client control stream's MAX_PUSH_ID and CANCEL_PUSH. */
struct h3g_push_scan {
    int state;
    uint8_t vneed; /* bytes of the varint still to come */
    uint64_t v, type, left, max_push_id;
    int have_max;
};
/* Scans the next bytes of a client unidirectional stream; returns 0 or the
 * HTTP/3 error code the connection must close with. */
uint64_t h3p_scan(struct h3g_push_scan *p, const uint8_t *data, size_t len);

/* One request stream; starts with the protocol-neutral exchange (its
 * front end is this layer's h3x_front). */
struct h3_req {
    h3g_exchange ex;
    int64_t id;
    struct session *sess;
    struct h3_req *prev, *next;
    enum rx_state rx;
    enum tx_state tx;
    enum body_wait wait;
    struct h3g_request req;
    size_t header_bytes;
    uint64_t body_bytes;   /* request body received */
    int head;              /* a HEAD request: no body goes out */
    int began;             /* nghttp3 reported its HEADERS (else: bytes before them) */
    uint64_t timed_out_us; /* when the request header timeout reset it, or 0 */
    int paused_by_handler; /* request_body said "no more for now" */
    int status;
    struct h3g_body body;
    struct chunk *chunks, *chunks_tail;
    size_t nchunks;
    uint64_t bytes_acked;    /* body bytes the engine reported acknowledged */
    uint64_t bytes_produced; /* body bytes handed to nghttp3 */
    uint64_t start_us;
    const char *error;
};

struct session {
    h3g_qconn *qc;
    nghttp3_conn *h3;
    struct h3g_h3_config cfg; /* a copy: a reload changes the next connection's */
    struct h3_req *streams;
    uint64_t requests;
    uint64_t start_us;
    int shutting_down;
    int recycling; /* GOAWAY for max_requests, not for a server shutdown */
    int in_write;
    int pending_fail;       /* exchanges in TX_FAILED wait for their reset */
    size_t active;          /* request streams with an open exchange */
    size_t max_chunks;      /* response body chunks per stream (session.c) */
    int64_t next_bidi;      /* the lowest client stream id not seen yet */
    uint64_t opened;        /* request streams the client opened (seen or skipped) */
    uint64_t client_resets; /* of those, abandoned by the client */
    uint64_t after_goaway;  /* opened after our GOAWAY */
    int excessive;          /* closed for abuse (logged once) */
    int finishing;          /* the close after GOAWAY is under way */
    int64_t held[HELD_MAX]; /* streams paused while nghttp3 holds their bytes */
    size_t nheld;
    int64_t reading;        /* the stream h3_stream_data is feeding to nghttp3 */
    size_t delivered;       /* its DATA payload handed to on_recv_data meanwhile */
    h3g_timer header_timer; /* request header timeout: the earliest deadline */
    uint64_t unacked;       /* response body bytes produced, not acknowledged */
    struct session *budget_prev, *budget_next; /* waiting for the worker's budget */
    int budget_waiting;                        /* on the worker's list */
    int budget_wake;                           /* the worker's budget has room again */
    int budget_blocked;                        /* some stream waits for budget */
    uint64_t header_timeouts;                  /* streams reset for the request header timeout */
    int64_t push_sid; /* the client uni stream being scanned (the first seen) */
    struct h3g_push_scan push;
    int64_t uni_seen[4]; /* client uni streams seen before the control stream */
    size_t nuni_seen;
};

extern struct h3g_h3_stats h3g_h3_g_stats;

/* session.c */
void h3s_write(struct session *s);
void h3s_close_ng(struct session *s, int ngerr, const char *where);
int h3s_held(const struct session *s, int64_t sid);

/* exchange.c */
extern const struct h3g_front_ops h3x_front;
/* The request-level nghttp3 callbacks. */
void h3x_callbacks(nghttp3_callbacks *cbs);
/* The record of a request stream whose first bytes arrived. */
struct h3_req *h3x_new(struct session *s, int64_t sid);
/* The request header timeout: resets streams whose field section is late and
 * returns the next deadline (0 = none). */
uint64_t h3x_header_deadlines(struct session *s, uint64_t now_us);
struct h3_req *h3x_find(struct session *s, int64_t sid);
void h3x_log(struct h3_req *hs);
void h3x_free(struct h3_req *hs);
/* Resets the stream in both directions with an HTTP/3 error code. */
void h3x_abort(struct h3_req *hs, uint64_t code, const char *why);
/* Records why a stream ended, by HTTP/3 error name, unless already known. */
void h3x_note_code(struct h3_req *hs, uint64_t code, const char *fallback);
/* Is nothing more to be sent (FIN given to the engine, or reset)? */
int h3x_tx_finished(const struct h3_req *hs);
/* The writer's news: the stream's FIN went out; the stream cannot be written. */
void h3x_sent_fin(struct session *s, int64_t sid);
/* Resets what failed bodies left (TX_FAILED). */
void h3x_fail_bodies(struct session *s);
void h3x_cleanup(void);

/* budget.c: response bytes in flight, per connection and per worker. */
/* May hs produce one more chunk?  If not, it waits (BODY_WAIT_BUDGET). */
int h3b_may_produce(struct h3_req *hs);
void h3b_produced(struct session *s, size_t n);
/* n bytes left flight (acknowledged, or their stream ended). */
void h3b_released(struct session *s, uint64_t n);
/* Resumes s's streams that wait for budget, as far as it allows. */
void h3b_resume(struct session *s);
/* The session goes away: it waits for nothing any more. */
void h3b_forget(struct session *s);

#endif
