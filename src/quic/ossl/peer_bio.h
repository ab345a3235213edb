/* Which client address a new QUIC connection came from.  OpenSSL 4.0 tells
 * (SSL_get_peer_addr).  OpenSSL 3.5 and 3.6 do not, so there a datagram filter
 * BIO ends each receive batch right after a QUIC Initial packet: any connection
 * OpenSSL creates while processing that batch was created by that Initial,
 * whose source address the filter remembers. */
#ifndef H3G_QUIC_OSSL_PEER_BIO_H
#define H3G_QUIC_OSSL_PEER_BIO_H

#include <stdint.h>
#include <openssl/bio.h>
#include <openssl/opensslv.h>

/* Decided at compile time: a build on 4.0 headers runs on a 4.0 library
 * (linked statically, or libssl.so.4). */
#if OPENSSL_VERSION_NUMBER >= 0x40000000L
#define H3G_HAVE_SSL_GET_PEER_ADDR 1
#else
#define H3G_HAVE_SSL_GET_PEER_ADDR 0
#endif

#if !H3G_HAVE_SSL_GET_PEER_ADDR
struct h3g_peer_bio_stats {
    uint64_t rx_datagrams, rx_bytes, tx_datagrams, tx_bytes;
};

/* Wraps next (a BIO_s_datagram); the filter owns it. */
BIO *h3g_peer_bio_new(BIO *next);
/* Source address of the last Initial packet read through b (may be empty). */
const BIO_ADDR *h3g_peer_bio_last_initial(BIO *b);
const struct h3g_peer_bio_stats *h3g_peer_bio_stats(BIO *b);
#endif
/* Formats an address as "1.2.3.4:443" or "[::1]:443". */
void h3g_bio_addr_format(const BIO_ADDR *a, char *buf, size_t len);
/* 1 if the datagram starts with a QUIC v1 Initial packet (sans-I/O; tested
 * on every OpenSSL, used by the filter). */
int h3g_is_quic_initial(const uint8_t *d, size_t len);

#endif
