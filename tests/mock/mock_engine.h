/* An in-memory QUIC engine that implements the engine contract
 * (src/quic/engine.h), so the HTTP/3 layer can be unit-tested and fuzzed
 * without QUIC: the test plays the client, hands the session stream bytes and
 * reads back what the session wrote, acknowledges it, resets streams, and
 * limits how much a stream takes per write. */
#ifndef H3G_MOCK_ENGINE_H
#define H3G_MOCK_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "quic/engine.h"

#define MOCK_MAX_STREAMS 2048

struct mock_stream {
    int64_t id;
    int used;
    uint8_t *out; /* everything the session wrote */
    size_t outlen, outcap;
    size_t unacked;   /* written, not yet reported by stream_acked */
    size_t delivered; /* handed to the client side (mock_take) */
    int fin;          /* the session ended the stream */
    int reset;        /* the session reset it */
    uint64_t reset_code;
    int stopped; /* the session stopped reading it */
    uint64_t stop_code;
    int paused;
    uint64_t fed;      /* bytes given to stream_data */
    uint64_t consumed; /* credit returned through consume */
    int want_write;    /* a write was refused: stream_writable is owed */
    int early;         /* its data came in 0-RTT (stream_early) */
    int closed;
};

struct mock_conn {
    struct h3g_qconn base;
    struct h3g_engine_ops ops; /* mock_engine_ops with this connection's caps */
    const struct h3g_engine_callbacks *cbs;
    void *uarg;
    unsigned caps;
    struct mock_stream streams[MOCK_MAX_STREAMS];
    int64_t next_uni;
    uint64_t bidi_limit;
    size_t write_cap; /* bytes a stream takes per write call (0 = all) */
    size_t window;    /* unacked bytes a stream may have (0 = no limit) */
    int closed;
    uint64_t close_code;
    char close_reason[128];
    int close_after_armed;
    int wake;
};

extern const struct h3g_engine_ops mock_engine_ops;

/* A connection whose handshake is done: conn_ready has run (NULL uarg means the
 * session refused it).  caps: H3G_ENGINE_CAP_* to claim. */
void mock_conn_init(struct mock_conn *mc, const struct h3g_engine_callbacks *cbs, void *engine_arg,
                    unsigned caps);
/* Client bytes on a stream (the session may be gone afterwards: check
 * mc->closed).  Paused streams are not fed: returns -1 then. */
int mock_feed(struct mock_conn *mc, int64_t sid, const uint8_t *data, size_t len, int fin);
void mock_client_reset(struct mock_conn *mc, int64_t sid, uint64_t code);
void mock_client_stop(struct mock_conn *mc, int64_t sid, uint64_t code);
/* Acknowledges everything written; then writable streams are told. */
void mock_ack_all(struct mock_conn *mc);
/* Tells the session about streams that are done both ways. */
void mock_close_stream(struct mock_conn *mc, int64_t sid);
struct mock_stream *mock_stream(struct mock_conn *mc, int64_t sid);
/* The connection goes away (conn_closed runs). */
void mock_conn_end(struct mock_conn *mc);
void mock_conn_free(struct mock_conn *mc);

#endif
