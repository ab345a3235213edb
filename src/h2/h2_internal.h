/* Internals of the HTTP/2 front end, shared by session.c (the connection:
 * nghttp2 session, callbacks, timers, the TCP seam) and stream.c (one
 * stream: its exchange, request and response bodies). */
#ifndef H3G_H2_INTERNAL_H
#define H3G_H2_INTERNAL_H

#include <nghttp2/nghttp2.h>
#include <stddef.h>
#include <stdint.h>

#include "event/loop.h"
#include "http/exchange.h"
#include "http/request.h"
#include "tcp/conn.h"

#define STREAM_WINDOW (1u << 20)
/* Two streams' worth: held (paused) uploads are bounded by this per
 * connection, and one paused stream cannot stall the others. */
#define CONN_WINDOW (2u << 20)
#define DEFLATE_TABLE 4096
#define MAX_SETTINGS 32
#define MAX_OUTBOUND_ACK 1000
/* nghttp2's token bucket for RST_STREAM (its defaults, stated here). */
#define RESET_BURST 1000
#define RESET_RATE 33
/* Rapid reset (CVE-2023-44487), as src/h3/session.c: a client that abandons
 * more than half of what it opens, once it reset RESET_MIN, is closed. */
#define RESET_MIN 200
/* Between the shutdown notice and the final GOAWAY: requests in flight land. */
#define NOTICE_MS 1000

enum rx_state {
    RX_HEADERS,    /* the field section is arriving */
    RX_OVERSIZED,  /* over max_field_section_size or max_header_fields: 431 */
    RX_BODY,       /* dispatched: body bytes go to the handler */
    RX_OVER_LIMIT, /* content-length over max_request_body: 413 once it crosses */
    RX_DROP,       /* what still comes is dropped (answered, stopped, reset) */
    RX_DONE,       /* END_STREAM delivered */
};

enum tx_state { TX_NONE, TX_DEFERRED, TX_BODY, TX_COMPLETE, TX_RESET };

struct h2_sess;

struct h2_stream {
    h3g_exchange ex; /* first: the exchange API hands it back */
    struct h2_sess *s;
    struct h2_stream *prev, *next;
    int32_t id;
    enum rx_state rx;
    enum tx_state tx;
    struct h3g_request req;
    struct h3g_body body;
    uint64_t start_us, body_bytes, bytes_sent;
    size_t header_bytes;
    size_t held;  /* received, not yet consumed: the client's window stays shut */
    uint8_t *buf; /* arrived while the handler had paused */
    size_t buf_len, buf_cap;
    int status;
    const char *error;
    unsigned headers_done : 1, head : 1, paused : 1, resumed : 1, fin_pending : 1, deferred : 1,
        rst_after : 1, gone : 1, redeliver : 1;
};

struct h2_sess {
    h3g_tcp_conn *c;           /* NULL once closed */
    struct h3g_tcp_config cfg; /* a copy: a reload changes the next connection's */
    nghttp2_session *ng;
    struct h2_stream *streams;
    size_t nstreams;
    int busy;
    unsigned dead : 1, closing : 1, read_paused : 1, final_goaway : 1, excessive : 1;
    uint64_t opened, client_resets;
    int32_t refuse_above; /* a GOAWAY with this last id was submitted */
    uint64_t open_us, last_active_us, drain_due_us;
    uint64_t last_out_us; /* frames last went out */
    h3g_timer idle_timer, header_timer, notice_timer;
    h3g_timer flush_timer; /* frames queued by a handler go out from here */
    char peer[64];
};

extern const struct h3g_front_ops h2_front;

/* session.c: every entry point brackets its work with h2_enter/h2_leave; only
 * the outermost leave sends, and frees a session that closed meanwhile
 * (h2_leave returns 0 then).  h2_leave_later sends on the next loop turn: for
 * a handler's own calls, which must not complete (and release) the handler
 * inside them. */
void h2_enter(struct h2_sess *s);
int h2_leave(struct h2_sess *s);
void h2_leave_later(struct h2_sess *s);

/* stream.c */
struct h2_stream *h2_find(struct h2_sess *s, int32_t id);
struct h2_stream *h2_stream_new(struct h2_sess *s, int32_t id);
void h2_stream_log(const struct h2_stream *st);
void h2_stream_free(struct h2_stream *st);
/* Request body bytes the handler is done with: the client's window reopens. */
void h2_consume(struct h2_stream *st, size_t n);
int h2_client_sending(const struct h2_stream *st);
void h2_drop_request(struct h2_stream *st);
void h2_reset_stream(struct h2_stream *st, uint32_t code, const char *why);
void h2_respond_error(struct h2_stream *st, int status);
void h2_send_413(struct h2_stream *st);
void h2_dispatch(struct h2_sess *s, struct h2_stream *st);
void h2_deliver(struct h2_stream *st, const uint8_t *data, size_t len);
void h2_end_body(struct h2_stream *st);
/* Hands what paused streams held to their handlers once they resumed. */
void h2_redeliver_all(struct h2_sess *s);

#endif
