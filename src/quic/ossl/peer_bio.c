#include "quic/ossl/peer_bio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>

int h3g_is_quic_initial(const uint8_t *d, size_t len)
{
    /* Long header (0x80), fixed bit (0x40), type 0 = Initial in QUIC v1. */
    if (len < 7 || (d[0] & 0xc0) != 0xc0 || ((d[0] >> 4) & 3) != 0)
        return 0;
    return d[1] == 0 && d[2] == 0 && d[3] == 0 && d[4] == 1;
}

void h3g_bio_addr_format(const BIO_ADDR *a, char *buf, size_t len)
{
    char *host = NULL, *serv = NULL;
    int fam = BIO_ADDR_family(a);
    if ((fam != AF_INET && fam != AF_INET6) || (host = BIO_ADDR_hostname_string(a, 1)) == NULL ||
        (serv = BIO_ADDR_service_string(a, 1)) == NULL) {
        snprintf(buf, len, "-");
    } else if (fam == AF_INET6) {
        snprintf(buf, len, "[%s]:%s", host, serv);
    } else {
        snprintf(buf, len, "%s:%s", host, serv);
    }
    OPENSSL_free(host);
    OPENSSL_free(serv);
}

#if !H3G_HAVE_SSL_GET_PEER_ADDR
struct peer_state {
    BIO_ADDR *last_initial;
    struct h3g_peer_bio_stats stats;
};

static BIO_METHOD *g_method;

static int peer_new(BIO *b)
{
    struct peer_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return 0;
    st->last_initial = BIO_ADDR_new();
    if (st->last_initial == NULL) {
        free(st);
        return 0;
    }
    BIO_set_data(b, st);
    BIO_set_init(b, 1);
    return 1;
}

static int peer_free(BIO *b)
{
    struct peer_state *st = BIO_get_data(b);
    if (st != NULL) {
        BIO_ADDR_free(st->last_initial);
        free(st);
    }
    BIO_set_data(b, NULL);
    return 1;
}

static long peer_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    BIO *next = BIO_next(b);
    return next != NULL ? BIO_ctrl(next, cmd, num, ptr) : 0;
}

static int peer_recvmmsg(BIO *b, BIO_MSG *msg, size_t stride, size_t num, uint64_t flags,
                         size_t *processed)
{
    struct peer_state *st = BIO_get_data(b);
    BIO *next = BIO_next(b);
    size_t i, rd;

    *processed = 0;
    for (i = 0; i < num; i++) {
        BIO_MSG *m = (BIO_MSG *)((unsigned char *)msg + i * stride);
        if (i > 0)
            ERR_set_mark();
        if (!BIO_recvmmsg(next, m, sizeof(BIO_MSG), 1, flags, &rd) || rd == 0) {
            if (i == 0)
                return 0; /* the inner BIO left its error on the queue */
            ERR_pop_to_mark();
            break;
        }
        if (i > 0)
            ERR_clear_last_mark();
        st->stats.rx_datagrams++;
        st->stats.rx_bytes += m->data_len;
        if (h3g_is_quic_initial(m->data, m->data_len)) {
            if (m->peer != NULL)
                BIO_ADDR_copy(st->last_initial, m->peer);
            i++;
            break; /* the batch ends with this Initial: see peer_bio.h */
        }
    }
    *processed = i;
    return 1;
}

static int peer_sendmmsg(BIO *b, BIO_MSG *msg, size_t stride, size_t num, uint64_t flags,
                         size_t *processed)
{
    struct peer_state *st = BIO_get_data(b);
    int ok = BIO_sendmmsg(BIO_next(b), msg, stride, num, flags, processed);
    if (ok) {
        st->stats.tx_datagrams += *processed;
        for (size_t i = 0; i < *processed; i++)
            st->stats.tx_bytes += ((BIO_MSG *)((unsigned char *)msg + i * stride))->data_len;
    }
    return ok;
}

BIO *h3g_peer_bio_new(BIO *next)
{
    BIO *b;
    if (g_method == NULL) {
        g_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_FILTER, "h3gate peer filter");
        if (g_method == NULL)
            return NULL;
        BIO_meth_set_create(g_method, peer_new);
        BIO_meth_set_destroy(g_method, peer_free);
        BIO_meth_set_ctrl(g_method, peer_ctrl);
        BIO_meth_set_recvmmsg(g_method, peer_recvmmsg);
        BIO_meth_set_sendmmsg(g_method, peer_sendmmsg);
    }
    b = BIO_new(g_method);
    if (b == NULL)
        return NULL;
    BIO_push(b, next);
    return b;
}

const BIO_ADDR *h3g_peer_bio_last_initial(BIO *b)
{
    return ((struct peer_state *)BIO_get_data(b))->last_initial;
}

const struct h3g_peer_bio_stats *h3g_peer_bio_stats(BIO *b)
{
    return &((struct peer_state *)BIO_get_data(b))->stats;
}
#endif
