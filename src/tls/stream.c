#include "tls/stream.h"

#include <stdio.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common.h"

struct h3g_tls_stream {
    SSL *ssl;
    int shut;
};

h3g_tls_stream *h3g_tls_stream_new(h3g_tls *tls, int fd)
{
    h3g_tls_stream *ts = calloc(1, sizeof(*ts));
    if (ts == NULL)
        return NULL;
    ts->ssl = SSL_new(h3g_tls_tcp_ctx(tls));
    if (ts->ssl == NULL || SSL_set_fd(ts->ssl, fd) != 1) {
        ERR_clear_error();
        h3g_tls_stream_free(ts);
        return NULL;
    }
    SSL_set_accept_state(ts->ssl);
    return ts;
}

void h3g_tls_stream_free(h3g_tls_stream *ts)
{
    if (ts == NULL)
        return;
    SSL_free(ts->ssl);
    free(ts);
}

/* Maps an SSL_get_error result: H3G_EAGAIN with *want, or H3G_ERR. */
static int failure(h3g_tls_stream *ts, int ret, int *want)
{
    switch (SSL_get_error(ts->ssl, ret)) {
    case SSL_ERROR_WANT_READ: *want = H3G_TLS_WANT_READ; return H3G_EAGAIN;
    case SSL_ERROR_WANT_WRITE: *want = H3G_TLS_WANT_WRITE; return H3G_EAGAIN;
    default: return H3G_ERR;
    }
}

int h3g_tls_stream_handshake(h3g_tls_stream *ts, int *want, char *err, size_t errlen)
{
    int ret = SSL_do_handshake(ts->ssl);
    if (ret == 1)
        return 0;
    int rv = failure(ts, ret, want);
    if (rv == H3G_ERR) {
        unsigned long e = ERR_peek_last_error();
        if (e != 0)
            ERR_error_string_n(e, err, errlen);
        else
            snprintf(err, errlen, "connection closed during the handshake");
        ERR_clear_error();
    }
    return rv;
}

const char *h3g_tls_stream_alpn(const h3g_tls_stream *ts)
{
    const unsigned char *p = NULL;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ts->ssl, &p, &len);
    if (p == NULL)
        return "";
    if (len == 2 && p[0] == 'h' && p[1] == '2')
        return "h2";
    return len == 8 ? "http/1.1" : "";
}

const char *h3g_tls_stream_version(const h3g_tls_stream *ts)
{
    return SSL_get_version(ts->ssl);
}

int h3g_tls_stream_resumed(const h3g_tls_stream *ts)
{
    return SSL_session_reused(ts->ssl);
}

ssize_t h3g_tls_stream_read(h3g_tls_stream *ts, void *buf, size_t cap, int *want)
{
    size_t n = 0;
    int ret = SSL_read_ex(ts->ssl, buf, cap, &n);
    if (ret == 1)
        return (ssize_t)n;
    int e = SSL_get_error(ts->ssl, ret);
    if (e == SSL_ERROR_ZERO_RETURN) {
        return 0;
    } else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        ERR_clear_error();
        return 0; /* EOF without close_notify: the request parser judges */
    }
    int rv = failure(ts, ret, want);
    ERR_clear_error();
    return rv;
}

ssize_t h3g_tls_stream_write(h3g_tls_stream *ts, const void *buf, size_t len, int *want)
{
    size_t n = 0;
    int ret = SSL_write_ex(ts->ssl, buf, len, &n);
    if (ret == 1)
        return (ssize_t)n;
    int rv = failure(ts, ret, want);
    ERR_clear_error();
    return rv;
}

int h3g_tls_stream_shutdown(h3g_tls_stream *ts, int *want)
{
    if (ts->shut)
        return 0;
    int ret = SSL_shutdown(ts->ssl);
    if (ret >= 0) {
        ts->shut = 1; /* close_notify sent; the peer's is not awaited */
        return 0;
    }
    int rv = failure(ts, ret, want);
    ERR_clear_error();
    return rv;
}
