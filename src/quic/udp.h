/* UDP sockets for the QUIC engines: opening and binding with clear errors (both
 * engines), and for an engine that owns its sockets (ngtcp2) batched receive
 * with the local address, ECN and GRO segment size, and sends with GSO
 * (UDP_SEGMENT), ECN and the source address, falling back to one datagram per
 * send when the kernel refuses GSO. */
#ifndef H3G_QUIC_UDP_H
#define H3G_QUIC_UDP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define H3G_UDP_RX_BATCH 16
#define H3G_UDP_RX_BUF 65536

/* One received datagram, or a GRO batch of equal-sized segments. */
struct h3g_udp_dgram {
    uint8_t *data;
    size_t len;
    size_t seg; /* segment size (== len without GRO) */
    struct sockaddr_storage local, remote;
    socklen_t locallen, remotelen;
    uint8_t ecn;
};

struct h3g_udp_rx {
    struct h3g_udp_dgram d[H3G_UDP_RX_BATCH];
    uint8_t *buf; /* H3G_UDP_RX_BATCH * H3G_UDP_RX_BUF */
};

struct h3g_udp_sock {
    int fd;
    struct sockaddr_storage addr; /* as bound */
    socklen_t addrlen;
    int gso; /* UDP_SEGMENT works on this socket */
    int gro; /* UDP_GRO was accepted */
};

enum {
    H3G_UDP_REUSEPORT = 1, /* join the port's SO_REUSEPORT group */
    /* Per-datagram local address and ECN, path MTU probing, GRO: for an engine
     * that reads with h3g_udp_recv (OpenSSL's BIO reads plain datagrams). */
    H3G_UDP_QUIC = 2,
};

/* Opens, configures and binds a non-blocking socket.  On failure returns a
 * negative code and writes an explanation naming where to err. */
int h3g_udp_open(struct h3g_udp_sock *s, const struct sockaddr *sa, socklen_t salen, int flags,
                 const char *where, char *err, size_t errlen);
/* Before several SO_REUSEPORT sockets share a port: an exclusive bind tells a
 * port that is in use (another process's group would take us in). */
int h3g_udp_probe(const struct sockaddr *sa, socklen_t salen, const char *where, char *err,
                  size_t errlen);
void h3g_udp_close(struct h3g_udp_sock *s);

int h3g_udp_rx_init(struct h3g_udp_rx *rx);
void h3g_udp_rx_free(struct h3g_udp_rx *rx);
/* Receives up to H3G_UDP_RX_BATCH datagrams: their count, 0 when none is
 * waiting, or a negative code on a socket error. */
int h3g_udp_recv(struct h3g_udp_sock *s, struct h3g_udp_rx *rx);

/* Sends len bytes as datagrams of seg bytes (the last may be shorter) from
 * local to remote.  Returns the number of send calls made (> 0), H3G_EAGAIN
 * when the socket buffer is full, or another negative code. */
int h3g_udp_send(struct h3g_udp_sock *s, const struct sockaddr *local,
                 const struct sockaddr *remote, socklen_t remotelen, uint8_t ecn,
                 const uint8_t *data, size_t len, size_t seg);

#endif
