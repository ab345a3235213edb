/* A datagram filter BIO that tells which client address a new QUIC connection
 * came from.  OpenSSL 3.5 has no SSL_get_peer_addr() (added in 4.0), so the
 * filter ends each receive batch right after a QUIC Initial packet: any
 * connection OpenSSL creates while processing that batch was created by that
 * Initial, whose source address the filter remembers. */
#ifndef H3G_QUIC_OSSL_PEER_BIO_H
#define H3G_QUIC_OSSL_PEER_BIO_H

#include <stdint.h>
#include <openssl/bio.h>

struct h3g_peer_bio_stats {
    uint64_t rx_datagrams, rx_bytes, tx_datagrams, tx_bytes;
};

/* Wraps next (a BIO_s_datagram); the filter owns it. */
BIO *h3g_peer_bio_new(BIO *next);
/* Source address of the last Initial packet read through b (may be empty). */
const BIO_ADDR *h3g_peer_bio_last_initial(BIO *b);
const struct h3g_peer_bio_stats *h3g_peer_bio_stats(BIO *b);
/* Formats an address as "1.2.3.4:443" or "[::1]:443". */
void h3g_bio_addr_format(const BIO_ADDR *a, char *buf, size_t len);
/* 1 if the datagram starts with a QUIC v1 Initial packet (sans-I/O; tested). */
int h3g_is_quic_initial(const uint8_t *d, size_t len);

#endif
