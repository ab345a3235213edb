/* TLS over a non-blocking TCP socket, for the HTTP/1.1 and HTTP/2 front ends:
 * the rest of the server never sees OpenSSL.  Each call says what the socket
 * must become ready for before it can make progress. */
#ifndef H3G_TLS_STREAM_H
#define H3G_TLS_STREAM_H

#include <stddef.h>
#include <sys/types.h>

#include "tls/tls.h"

typedef struct h3g_tls_stream h3g_tls_stream;

enum {
    H3G_TLS_WANT_READ = 1,  /* H3G_EAGAIN: wait until the socket is readable */
    H3G_TLS_WANT_WRITE = 2, /* ... writable */
};

h3g_tls_stream *h3g_tls_stream_new(h3g_tls *tls, int fd);
void h3g_tls_stream_free(h3g_tls_stream *ts);
/* 0 when the handshake is done, H3G_EAGAIN (see *want), H3G_ERR when it
 * failed (err holds why, for the debug log). */
int h3g_tls_stream_handshake(h3g_tls_stream *ts, int *want, char *err, size_t errlen);
/* The negotiated ALPN protocol ("h2", "http/1.1") or "" when none. */
const char *h3g_tls_stream_alpn(const h3g_tls_stream *ts);
/* "TLSv1.3" and the like. */
const char *h3g_tls_stream_version(const h3g_tls_stream *ts);
int h3g_tls_stream_resumed(const h3g_tls_stream *ts);
/* Bytes read (> 0), 0 at the peer's close_notify or EOF, H3G_EAGAIN (see *want),
 * H3G_ERR on a failure. */
ssize_t h3g_tls_stream_read(h3g_tls_stream *ts, void *buf, size_t cap, int *want);
/* Bytes written (> 0), H3G_EAGAIN (see *want), H3G_ERR. */
ssize_t h3g_tls_stream_write(h3g_tls_stream *ts, const void *buf, size_t len, int *want);
/* Sends close_notify (once); 0 when sent, H3G_EAGAIN (see *want), H3G_ERR. */
int h3g_tls_stream_shutdown(h3g_tls_stream *ts, int *want);

#endif
