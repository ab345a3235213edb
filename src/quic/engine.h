/* The QUIC engine contract: what the HTTP/3 layer may ask of a QUIC stack, and
 * what a stack tells it.  Transport-neutral: an engine says through capability
 * flags whether it copies written data or keeps the caller's bytes until the
 * peer acknowledges them, and flow-control credit is returned explicitly with
 * h3g_qconn_consume.
 *
 * Engines are ops tables chosen at run time (h3g_engine_find): "openssl"
 * (OpenSSL's native QUIC server, src/quic/ossl/) and "ngtcp2" (src/quic/ngtcp2/).
 * Streams are named by their QUIC stream id; no engine type leaks upwards.  All
 * calls happen on the event-loop thread. */
#ifndef H3G_QUIC_ENGINE_H
#define H3G_QUIC_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "event/loop.h"

typedef struct h3g_engine h3g_engine;
typedef struct h3g_qconn h3g_qconn;
struct h3g_engine_ops;

struct h3g_tls; /* src/tls/tls.h */

/* Every engine's engine and connection objects start with these. */
struct h3g_engine {
    const struct h3g_engine_ops *ops;
};
struct h3g_qconn {
    const struct h3g_engine_ops *ops;
};

typedef struct h3g_iovec {
    const uint8_t *base;
    size_t len;
} h3g_iovec;

struct h3g_close_info {
    uint64_t error_code;
    uint64_t frame_type;
    int transport; /* QUIC transport error (else application/HTTP/3 code) */
    int local;     /* this side closed */
    int idle;      /* idle timeout */
    char reason[256];
    size_t reason_len;
};

/* What an engine does (h3g_engine_caps). */
enum {
    /* h3g_qconn_write copies the bytes: the caller may reuse them once the call
     * returns (stream_acked still follows, at copy time).  Without it the bytes
     * must stay valid until stream_acked reports them. */
    H3G_ENGINE_CAP_COPIES_WRITES = 1u << 0,
    /* Flow-control credit is returned only by h3g_qconn_consume; without it the
     * stack returns credit as it delivers data (pause_read holds a peer back). */
    H3G_ENGINE_CAP_EXPLICIT_CREDIT = 1u << 1,
    /* h3g_qconn_stop_reading sends STOP_SENDING with the code given (OpenSSL 3.5
     * can only send 0, so it reads and drops a bounded amount instead). */
    H3G_ENGINE_CAP_STOP_SENDING_CODE = 1u << 2,
    /* Accepts 0-RTT requests (stream_data's early flag can be set). */
    H3G_ENGINE_CAP_EARLY_DATA = 1u << 3,
};

/* Upcalls.  A negative return from a stream callback means the upper layer has
 * already closed the connection with h3g_qconn_close(). */
struct h3g_engine_callbacks {
    /* Handshake finished (or 0-RTT keys are in use): return per-connection user
     * data, or NULL to refuse (the engine then closes with H3_INTERNAL_ERROR). */
    void *(*conn_ready)(h3g_qconn *qc, void *engine_arg);
    /* Bytes from a peer stream; fin=1 marks its end (len may be 0).  Credit for
     * them comes back through h3g_qconn_consume. */
    int (*stream_data)(h3g_qconn *qc, int64_t sid, const uint8_t *data, size_t len, int fin,
                       void *conn_arg);
    /* The peer reset its sending side (RESET_STREAM). */
    int (*stream_reset)(h3g_qconn *qc, int64_t sid, uint64_t app_code, void *conn_arg);
    /* The peer asked us to stop sending (STOP_SENDING). */
    int (*stream_stopped)(h3g_qconn *qc, int64_t sid, uint64_t app_code, void *conn_arg);
    /* A stream that returned H3G_EAGAIN from h3g_qconn_write can take data again. */
    int (*stream_writable)(h3g_qconn *qc, int64_t sid, void *conn_arg);
    /* The next n bytes written on the stream need not be kept any more (the peer
     * acknowledged them, or the engine copied them).  Never called from inside
     * h3g_qconn_write. */
    int (*stream_acked)(h3g_qconn *qc, int64_t sid, uint64_t n, void *conn_arg);
    /* Both directions of a stream are finished and its resources released. */
    int (*stream_closed)(h3g_qconn *qc, int64_t sid, uint64_t app_code, void *conn_arg);
    /* h3g_qconn_wake() was called: produce output now. */
    int (*conn_flush)(h3g_qconn *qc, void *conn_arg);
    /* The connection is closing or closed; conn_arg must not be used afterwards. */
    void (*conn_closed)(h3g_qconn *qc, const struct h3g_close_info *ci, void *conn_arg);
};

enum h3g_cc { H3G_CC_CUBIC, H3G_CC_BBR, H3G_CC_RENO };
/* When new clients must prove their address with a Retry round trip: never,
 * always, or while more than retry_threshold handshakes are in progress (an
 * engine that cannot switch per packet treats auto as on). */
enum h3g_address_validation { H3G_AV_OFF, H3G_AV_ON, H3G_AV_AUTO };

struct h3g_engine_config {
    uint64_t idle_timeout_ms; /* close connections idle this long (0 = QUIC default) */
    int address_validation;   /* enum h3g_address_validation */
    size_t retry_threshold;   /* auto: Retry above this many handshakes in progress */
    size_t max_handshakes;    /* refuse new clients beyond this many in progress (0 = no cap) */
    size_t max_connections;   /* refuse new handshakes beyond this many */
    size_t send_budget_conn;  /* bytes the engine itself may buffer per connection (0 = no cap) */
    unsigned listeners_per_address; /* SO_REUSEPORT sockets per address (0 = 1) */
    uint64_t max_streams_bidi;      /* concurrent request streams a client may open */
    enum h3g_cc cc;                 /* congestion control (engines that choose) */
    const uint8_t *host_key;        /* secret for tokens and stateless resets */
    size_t host_key_len;
    uint16_t server_id; /* carried in connection IDs (ngtcp2 engine) */
    uint8_t worker_id;
    int shared_port; /* other worker processes listen on the same ports: always
                        SO_REUSEPORT, and the master checked the ports were free */
    /* With h3gate's own connection IDs (the ngtcp2 engine): called with the
     * first socket bound for each address, so that the server can steer
     * datagrams to it by the IDs' worker byte.  NULL: not wanted. */
    void (*socket_bound)(void *arg, const struct sockaddr *sa, socklen_t salen, int fd);
    void *socket_bound_arg;
    char qlog_dir[256]; /* qlog_dir: a JSON-SEQ file per connection there; "" = off */
};

/* Engine counters for /metrics; full = 0 when only `refused` is known (the
 * OpenSSL engine cannot see its packets). */
struct h3g_engine_counters {
    int full;
    uint64_t refused;
    uint64_t dgrams_in, packets_in, recv_calls, packets_out, send_calls, send_blocked;
    uint64_t retries, version_negotiations, stateless_resets, refused_handshakes, bad_tokens;
    /* resumed: those of the handshakes that resumed a TLS session */
    uint64_t handshakes, resumed, migrations, early_streams;
    uint64_t packets_lost; /* declared lost by loss detection */
};

struct h3g_engine_ops {
    const char *name;
    unsigned caps;
    h3g_engine *(*create)(h3g_loop *loop, struct h3g_tls *tls, const struct h3g_engine_config *cfg,
                          const struct h3g_engine_callbacks *cbs, void *arg);
    void (*destroy)(h3g_engine *eng);
    int (*listen)(h3g_engine *eng, const struct sockaddr *sa, socklen_t salen, char *err,
                  size_t errlen);
    void (*stop_accepting)(h3g_engine *eng);
    /* A reload: new settings for the next connections, then the listen
     * addresses named again between listen_begin and listen_end. */
    void (*configure)(h3g_engine *eng, const struct h3g_engine_config *cfg);
    void (*listen_begin)(h3g_engine *eng);
    void (*listen_end)(h3g_engine *eng);
    size_t (*conn_count)(const h3g_engine *eng);
    void (*foreach_conn)(h3g_engine *eng, void (*fn)(h3g_qconn *qc, void *conn_arg, void *arg),
                         void *arg);
    /* A line of engine counters for the log (packets, datagrams, send calls). */
    void (*stats)(const h3g_engine *eng, char *buf, size_t len);
    void (*counters)(const h3g_engine *eng, struct h3g_engine_counters *out);

    int (*open_uni)(h3g_qconn *qc, int64_t *sid);
    int (*write)(h3g_qconn *qc, int64_t sid, const h3g_iovec *vec, size_t n, int fin,
                 size_t *written);
    int (*reset)(h3g_qconn *qc, int64_t sid, uint64_t app_code);
    void (*stop_reading)(h3g_qconn *qc, int64_t sid, uint64_t app_code);
    void (*pause_read)(h3g_qconn *qc, int64_t sid, int paused);
    void (*consume)(h3g_qconn *qc, int64_t sid, size_t n);
    void (*close)(h3g_qconn *qc, uint64_t app_code, const char *reason);
    void (*close_after)(h3g_qconn *qc, uint64_t delay_ms, uint64_t app_code, const char *reason);
    void (*abort)(h3g_qconn *qc, uint64_t app_code, const char *reason);
    void (*wake)(h3g_qconn *qc);
    uint64_t (*peer_bidi_limit)(h3g_qconn *qc);
    const char *(*peer)(const h3g_qconn *qc);
    const char *(*server_name)(const h3g_qconn *qc);
    /* Did the stream's data arrive in 0-RTT, before the handshake completed? */
    int (*stream_early)(h3g_qconn *qc, int64_t sid);
};

extern const struct h3g_engine_ops h3g_engine_ossl;
extern const struct h3g_engine_ops h3g_engine_ngtcp2;

/* The engine called name ("openssl", "ngtcp2"), or NULL. */
const struct h3g_engine_ops *h3g_engine_find(const char *name);

static inline h3g_engine *h3g_engine_new(const struct h3g_engine_ops *ops, h3g_loop *loop,
                                         struct h3g_tls *tls, const struct h3g_engine_config *cfg,
                                         const struct h3g_engine_callbacks *cbs, void *arg)
{
    return ops->create(loop, tls, cfg, cbs, arg);
}

static inline void h3g_engine_free(h3g_engine *eng)
{
    if (eng != NULL)
        eng->ops->destroy(eng);
}

static inline unsigned h3g_engine_caps(const h3g_engine *eng)
{
    return eng->ops->caps;
}

/* Binds UDP sockets and starts listening on them.  On failure returns a
 * negative code and writes a one-line explanation to err. */
static inline int h3g_engine_listen(h3g_engine *eng, const struct sockaddr *sa, socklen_t salen,
                                    char *err, size_t errlen)
{
    return eng->ops->listen(eng, sa, salen, err, errlen);
}

/* A reload: the next connections get cfg's limits and timeouts (what needs
 * new sockets, such as listeners_per_address, stays as it was). */
static inline void h3g_engine_configure(h3g_engine *eng, const struct h3g_engine_config *cfg)
{
    eng->ops->configure(eng, cfg);
}

/* A reload names the listen addresses again: h3g_engine_listen between begin
 * and end keeps the sockets of an address already listening, and end stops
 * accepting on the others; their sockets close once their connections end. */
static inline void h3g_engine_listen_begin(h3g_engine *eng)
{
    eng->ops->listen_begin(eng);
}

static inline void h3g_engine_listen_end(h3g_engine *eng)
{
    eng->ops->listen_end(eng);
}

/* Stops accepting new connections (existing ones continue). */
static inline void h3g_engine_stop_accepting(h3g_engine *eng)
{
    eng->ops->stop_accepting(eng);
}

static inline size_t h3g_engine_conn_count(const h3g_engine *eng)
{
    return eng->ops->conn_count(eng);
}

/* Calls fn for every connection not yet closing (conn_arg is NULL while the
 * handshake runs); fn may close it. */
static inline void h3g_engine_foreach_conn(h3g_engine *eng,
                                           void (*fn)(h3g_qconn *qc, void *conn_arg, void *arg),
                                           void *arg)
{
    eng->ops->foreach_conn(eng, fn, arg);
}

static inline void h3g_engine_stats(const h3g_engine *eng, char *buf, size_t len)
{
    eng->ops->stats(eng, buf, len);
}

static inline void h3g_engine_counters(const h3g_engine *eng, struct h3g_engine_counters *out)
{
    eng->ops->counters(eng, out);
}

static inline unsigned h3g_qconn_caps(const h3g_qconn *qc)
{
    return qc->ops->caps;
}

/* Opens a unidirectional stream.  H3G_ELIMIT: the peer's stream limit is
 * reached; H3G_ERR: the QUIC stack failed (logged). */
static inline int h3g_qconn_open_uni(h3g_qconn *qc, int64_t *sid)
{
    return qc->ops->open_uni(qc, sid);
}

/* Writes as much of vec as the stream takes; *written gets the count.  Returns 0
 * when everything (and fin, if set) was taken, H3G_EAGAIN when the stream is
 * full (stream_writable follows), H3G_ECLOSED when the stream cannot be written.
 * Unless the engine has H3G_ENGINE_CAP_COPIES_WRITES, the bytes taken must stay
 * valid until stream_acked covers them. */
static inline int h3g_qconn_write(h3g_qconn *qc, int64_t sid, const h3g_iovec *vec, size_t n,
                                  int fin, size_t *written)
{
    return qc->ops->write(qc, sid, vec, n, fin, written);
}

/* Abandons a stream in both directions with an application error code. */
static inline int h3g_qconn_reset(h3g_qconn *qc, int64_t sid, uint64_t app_code)
{
    return qc->ops->reset(qc, sid, app_code);
}

/* Ends the receive side (STOP_SENDING with app_code where the engine can):
 * further peer data is discarded. */
static inline void h3g_qconn_stop_reading(h3g_qconn *qc, int64_t sid, uint64_t app_code)
{
    qc->ops->stop_reading(qc, sid, app_code);
}

/* Stops (or resumes) delivering stream_data for a stream: the peer is then
 * held back by QUIC flow control. */
static inline void h3g_qconn_pause_read(h3g_qconn *qc, int64_t sid, int paused)
{
    qc->ops->pause_read(qc, sid, paused);
}

/* The upper layer is done with n more bytes delivered on the stream: the engine
 * may let the peer send that much more (stream and connection credit). */
static inline void h3g_qconn_consume(h3g_qconn *qc, int64_t sid, size_t n)
{
    qc->ops->consume(qc, sid, n);
}

/* Closes the connection with an application error code.  With H3_NO_ERROR the
 * data already written is delivered first; any other code closes at once. */
static inline void h3g_qconn_close(h3g_qconn *qc, uint64_t app_code, const char *reason)
{
    qc->ops->close(qc, app_code, reason);
}

/* h3g_qconn_close in delay_ms unless the peer closes first (or a close comes
 * sooner): lets a client see a GOAWAY before the connection goes. */
static inline void h3g_qconn_close_after(h3g_qconn *qc, uint64_t delay_ms, uint64_t app_code,
                                         const char *reason)
{
    qc->ops->close_after(qc, delay_ms, app_code, reason);
}

/* Closes at once without waiting for written data to be acknowledged, also
 * when a graceful close is already under way. */
static inline void h3g_qconn_abort(h3g_qconn *qc, uint64_t app_code, const char *reason)
{
    qc->ops->abort(qc, app_code, reason);
}

/* Asks for a conn_flush upcall on the next engine pass. */
static inline void h3g_qconn_wake(h3g_qconn *qc)
{
    qc->ops->wake(qc);
}

/* Cumulative number of bidirectional streams the peer may open so far (the
 * stream ids an HTTP/3 PRIORITY_UPDATE or GOAWAY may name). */
static inline uint64_t h3g_qconn_peer_bidi_limit(h3g_qconn *qc)
{
    return qc->ops->peer_bidi_limit(qc);
}

/* The client's current address ("ADDR:PORT"); follows a migration. */
static inline const char *h3g_qconn_peer(const h3g_qconn *qc)
{
    return qc->ops->peer(qc);
}

/* SNI the client sent, or NULL. */
static inline const char *h3g_qconn_server_name(const h3g_qconn *qc)
{
    return qc->ops->server_name(qc);
}

/* The request on sid came in early data (0-RTT): it may be a replay. */
static inline int h3g_qconn_stream_early(h3g_qconn *qc, int64_t sid)
{
    return qc->ops->stream_early != NULL && qc->ops->stream_early(qc, sid);
}

#endif
