/* The QUIC engine interface: what the HTTP/3 layer may ask of a QUIC stack.
 *
 * Streams are named by their QUIC stream id; no engine type leaks upwards.  The
 * first implementation is OpenSSL's native QUIC server (src/quic/ossl/).  All
 * calls happen on the event-loop thread. */
#ifndef H3G_QUIC_ENGINE_H
#define H3G_QUIC_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "event/loop.h"

typedef struct h3g_engine h3g_engine;
typedef struct h3g_qconn h3g_qconn;

struct h3g_tls; /* src/tls/tls.h */

typedef struct h3g_iovec {
    const uint8_t *base;
    size_t len;
} h3g_iovec;

struct h3g_close_info {
    uint64_t error_code;
    uint64_t frame_type;
    int transport;  /* QUIC transport error (else application/HTTP/3 code) */
    int local;      /* this side closed */
    int idle;       /* idle timeout */
    char reason[256];
    size_t reason_len;
};

/* Upcalls.  A negative return from a stream callback means the upper layer has
 * already closed the connection with h3g_qconn_close(). */
struct h3g_engine_callbacks {
    /* Handshake finished: return per-connection user data, or NULL to refuse
     * (the engine then closes the connection with H3_INTERNAL_ERROR). */
    void *(*conn_ready)(h3g_qconn *qc, void *engine_arg);
    /* Bytes from a peer stream; fin=1 marks its end (len may be 0). */
    int (*stream_data)(h3g_qconn *qc, int64_t sid, const uint8_t *data, size_t len, int fin,
                       void *conn_arg);
    /* The peer reset its sending side (RESET_STREAM). */
    int (*stream_reset)(h3g_qconn *qc, int64_t sid, uint64_t app_code, void *conn_arg);
    /* The peer asked us to stop sending (STOP_SENDING), seen on a write. */
    int (*stream_stopped)(h3g_qconn *qc, int64_t sid, uint64_t app_code, void *conn_arg);
    /* A stream that returned H3G_EAGAIN from h3g_qconn_write can take data again. */
    int (*stream_writable)(h3g_qconn *qc, int64_t sid, void *conn_arg);
    /* Both directions of a stream are finished and its resources released. */
    int (*stream_closed)(h3g_qconn *qc, int64_t sid, uint64_t app_code, void *conn_arg);
    /* h3g_qconn_wake() was called: produce output now. */
    int (*conn_flush)(h3g_qconn *qc, void *conn_arg);
    /* The connection is closing or closed; conn_arg must not be used afterwards. */
    void (*conn_closed)(h3g_qconn *qc, const struct h3g_close_info *ci, void *conn_arg);
};

struct h3g_engine_config {
    uint64_t idle_timeout_ms;   /* close connections idle this long (0 = QUIC default) */
    int address_validation;     /* send Retry to unvalidated clients */
    size_t max_connections;     /* refuse new handshakes beyond this many */
    unsigned listeners_per_address; /* SO_REUSEPORT sockets per address (0 = 1) */
};

h3g_engine *h3g_engine_new(h3g_loop *loop, struct h3g_tls *tls, const struct h3g_engine_config *cfg,
                           const struct h3g_engine_callbacks *cbs, void *arg);
void h3g_engine_free(h3g_engine *eng);

/* Binds a UDP socket and starts a listener on it.  On failure returns a
 * negative code and writes a one-line explanation to err. */
int h3g_engine_listen(h3g_engine *eng, const struct sockaddr *sa, socklen_t salen, char *err,
                      size_t errlen);
/* Stops accepting new connections (existing ones continue). */
void h3g_engine_stop_accepting(h3g_engine *eng);
size_t h3g_engine_conn_count(const h3g_engine *eng);
/* Calls fn for every connection not yet closing (conn_arg is NULL while the
 * handshake runs); fn may close it. */
void h3g_engine_foreach_conn(h3g_engine *eng, void (*fn)(h3g_qconn *qc, void *conn_arg, void *arg),
                             void *arg);

/* Opens a unidirectional stream.  H3G_ELIMIT: the peer's stream limit is
 * reached; H3G_ERR: the QUIC stack failed (logged). */
int h3g_qconn_open_uni(h3g_qconn *qc, int64_t *sid);
/* Writes as much of vec as the stream takes; *written gets the count.  Returns 0
 * when everything (and fin, if set) was taken, H3G_EAGAIN when the stream is
 * full (stream_writable follows), H3G_ECLOSED when the stream cannot be written. */
int h3g_qconn_write(h3g_qconn *qc, int64_t sid, const h3g_iovec *vec, size_t n, int fin,
                    size_t *written);
/* Abandons a stream in both directions with an application error code. */
int h3g_qconn_reset(h3g_qconn *qc, int64_t sid, uint64_t app_code);
/* Ends the receive side: further peer data is discarded (STOP_SENDING). */
void h3g_qconn_stop_reading(h3g_qconn *qc, int64_t sid);
/* Stops (or resumes) delivering stream_data for a stream: the peer is then
 * held back by QUIC flow control. */
void h3g_qconn_pause_read(h3g_qconn *qc, int64_t sid, int paused);
/* Closes the connection with an application error code.  With H3_NO_ERROR the
 * data already written is delivered first; any other code closes at once. */
void h3g_qconn_close(h3g_qconn *qc, uint64_t app_code, const char *reason);
/* h3g_qconn_close in delay_ms unless the peer closes first (or a close comes
 * sooner): lets a client see a GOAWAY before the connection goes. */
void h3g_qconn_close_after(h3g_qconn *qc, uint64_t delay_ms, uint64_t app_code, const char *reason);
/* Closes at once without waiting for written data to be acknowledged, also
 * when a graceful close is already under way. */
void h3g_qconn_abort(h3g_qconn *qc, uint64_t app_code, const char *reason);
/* Asks for a conn_flush upcall on the next engine pass. */
void h3g_qconn_wake(h3g_qconn *qc);
/* Cumulative number of bidirectional streams the peer may open so far (the
 * stream ids an HTTP/3 PRIORITY_UPDATE or GOAWAY may name). */
uint64_t h3g_qconn_peer_bidi_limit(h3g_qconn *qc);
const char *h3g_qconn_peer(const h3g_qconn *qc);
/* SNI the client sent, or NULL. */
const char *h3g_qconn_server_name(const h3g_qconn *qc);

#endif
