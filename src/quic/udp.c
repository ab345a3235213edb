#include "quic/udp.h"

#include <arpa/inet.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "obs/log.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define SOCK_BUF (4 << 20)
#define CMSG_BUF                                                                                   \
    (CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(uint16_t)) +                                      \
     CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int)))

static int on(int fd, int level, int opt)
{
    int one = 1;
    return setsockopt(fd, level, opt, &one, sizeof(one));
}

static int bind_or_explain(int fd, const struct sockaddr *sa, socklen_t salen, const char *where,
                           char *err, size_t errlen)
{
    if (bind(fd, sa, salen) == 0)
        return 0;
    if (errno == EADDRINUSE)
        snprintf(err, errlen, "cannot listen on %s: UDP port already in use", where);
    else
        snprintf(err, errlen, "cannot listen on %s: %s", where, strerror(errno));
    return H3G_ERR;
}

int h3g_udp_probe(const struct sockaddr *sa, socklen_t salen, const char *where, char *err,
                  size_t errlen)
{
    int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc;
    if (fd < 0)
        return 0; /* the real socket will say why */
    if (sa->sa_family == AF_INET6)
        on(fd, IPPROTO_IPV6, IPV6_V6ONLY);
    rc = bind_or_explain(fd, sa, salen, where, err, errlen);
    close(fd);
    return rc;
}

int h3g_udp_open(struct h3g_udp_sock *s, const struct sockaddr *sa, socklen_t salen, int flags,
                 const char *where, char *err, size_t errlen)
{
    int fd, v6 = sa->sa_family == AF_INET6, bufsz = SOCK_BUF;
    memset(s, 0, sizeof(*s));
    s->fd = -1;
    fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a UDP socket for %s: %s", where, strerror(errno));
        return H3G_ERR;
    }
    if (v6)
        on(fd, IPPROTO_IPV6, IPV6_V6ONLY);
    if ((flags & H3G_UDP_REUSEPORT) && on(fd, SOL_SOCKET, SO_REUSEPORT) != 0) {
        snprintf(err, errlen, "cannot share the UDP port of %s (SO_REUSEPORT): %s", where,
                 strerror(errno));
        close(fd);
        return H3G_ERR;
    }
    /* The local address of each datagram (a wildcard bind serves several), its
     * ECN bits, and no fragmentation: path MTU probes must fail, not split. */
    int pmtu = v6 ? IPV6_PMTUDISC_PROBE : IP_PMTUDISC_PROBE;
    if ((flags & H3G_UDP_QUIC) &&
        ((v6 ? on(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO) : on(fd, IPPROTO_IP, IP_PKTINFO)) != 0 ||
         (v6 ? on(fd, IPPROTO_IPV6, IPV6_RECVTCLASS) : on(fd, IPPROTO_IP, IP_RECVTOS)) != 0 ||
         setsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_MTU_DISCOVER : IP_MTU_DISCOVER,
                    &pmtu, sizeof(pmtu)) != 0)) {
        snprintf(err, errlen, "cannot configure the UDP socket for %s: %s", where, strerror(errno));
        close(fd);
        return H3G_ERR;
    }
    s->gro = (flags & H3G_UDP_QUIC) && on(fd, IPPROTO_UDP, UDP_GRO) == 0;
    s->gso = (flags & H3G_UDP_QUIC) != 0; /* until the kernel says otherwise (h3g_udp_send) */
    /* Larger buffers absorb bursts between two loop iterations. */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
    if (bind_or_explain(fd, sa, salen, where, err, errlen) != 0) {
        close(fd);
        return H3G_ERR;
    }
    s->addrlen = sizeof(s->addr);
    getsockname(fd, (struct sockaddr *)&s->addr, &s->addrlen);
    s->fd = fd;
    return 0;
}

void h3g_udp_close(struct h3g_udp_sock *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

int h3g_udp_rx_init(struct h3g_udp_rx *rx)
{
    rx->buf = malloc((size_t)H3G_UDP_RX_BATCH * H3G_UDP_RX_BUF);
    return rx->buf != NULL ? 0 : H3G_ENOMEM;
}

void h3g_udp_rx_free(struct h3g_udp_rx *rx)
{
    free(rx->buf);
    rx->buf = NULL;
}

/* The local address, ECN and GRO segment size from a datagram's control data. */
static void parse_cmsgs(const struct h3g_udp_sock *s, struct msghdr *mh, struct h3g_udp_dgram *d)
{
    d->locallen = 0;
    d->ecn = 0;
    d->seg = d->len;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo pi;
            struct sockaddr_in *sin = (struct sockaddr_in *)&d->local;
            memcpy(&pi, CMSG_DATA(c), sizeof(pi));
            memset(sin, 0, sizeof(*sin));
            sin->sin_family = AF_INET;
            sin->sin_addr = pi.ipi_addr;
            sin->sin_port = ((const struct sockaddr_in *)&s->addr)->sin_port;
            d->locallen = sizeof(*sin);
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            struct in6_pktinfo pi;
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&d->local;
            memcpy(&pi, CMSG_DATA(c), sizeof(pi));
            memset(sin6, 0, sizeof(*sin6));
            sin6->sin6_family = AF_INET6;
            sin6->sin6_addr = pi.ipi6_addr;
            sin6->sin6_port = ((const struct sockaddr_in6 *)&s->addr)->sin6_port;
            d->locallen = sizeof(*sin6);
        } else if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) ||
                   (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS)) {
            /* IP_TOS carries a byte, IPV6_TCLASS an int. */
            int tc = 0;
            if (c->cmsg_type == IP_TOS)
                tc = *(const uint8_t *)CMSG_DATA(c);
            else
                memcpy(&tc, CMSG_DATA(c), sizeof(tc));
            d->ecn = (uint8_t)(tc & 0x3);
        } else if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO) {
            int seg;
            memcpy(&seg, CMSG_DATA(c), sizeof(seg));
            if (seg > 0)
                d->seg = (size_t)seg;
        }
    }
    if (d->locallen == 0) { /* no PKTINFO: the bound address */
        memcpy(&d->local, &s->addr, s->addrlen);
        d->locallen = s->addrlen;
    }
}

int h3g_udp_recv(struct h3g_udp_sock *s, struct h3g_udp_rx *rx)
{
    struct mmsghdr mm[H3G_UDP_RX_BATCH];
    struct iovec iov[H3G_UDP_RX_BATCH];
    uint8_t ctl[H3G_UDP_RX_BATCH][CMSG_BUF];
    int n;
    memset(mm, 0, sizeof(mm));
    for (int i = 0; i < H3G_UDP_RX_BATCH; i++) {
        iov[i].iov_base = rx->buf + (size_t)i * H3G_UDP_RX_BUF;
        iov[i].iov_len = H3G_UDP_RX_BUF;
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
        mm[i].msg_hdr.msg_name = &rx->d[i].remote;
        mm[i].msg_hdr.msg_namelen = sizeof(rx->d[i].remote);
        mm[i].msg_hdr.msg_control = ctl[i];
        mm[i].msg_hdr.msg_controllen = sizeof(ctl[i]);
    }
    do {
        n = recvmmsg(s->fd, mm, H3G_UDP_RX_BATCH, MSG_DONTWAIT, NULL);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : H3G_ERR;
    for (int i = 0; i < n; i++) {
        struct h3g_udp_dgram *d = &rx->d[i];
        d->data = iov[i].iov_base;
        d->len = mm[i].msg_len;
        d->remotelen = mm[i].msg_hdr.msg_namelen;
        parse_cmsgs(s, &mm[i].msg_hdr, d);
    }
    return n;
}

static ssize_t send_one(struct h3g_udp_sock *s, const struct sockaddr *local,
                        const struct sockaddr *remote, socklen_t remotelen, uint8_t ecn,
                        const uint8_t *data, size_t len, size_t seg)
{
    uint8_t ctl[CMSG_BUF];
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    struct msghdr mh = {.msg_name = (void *)remote,
                        .msg_namelen = remotelen,
                        .msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = ctl,
                        .msg_controllen = sizeof(ctl)};
    struct cmsghdr *c;
    size_t used = 0;
    int v6 = remote->sa_family == AF_INET6, tc = ecn;
    ssize_t w;
    memset(ctl, 0, sizeof(ctl));
    c = CMSG_FIRSTHDR(&mh);
    /* The source address the client sent to (a wildcard bind has several). */
    if (local != NULL && local->sa_family == AF_INET && !v6) {
        struct in_pktinfo pi = {.ipi_spec_dst = ((const struct sockaddr_in *)local)->sin_addr};
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(pi));
        memcpy(CMSG_DATA(c), &pi, sizeof(pi));
        used += CMSG_SPACE(sizeof(pi));
        c = CMSG_NXTHDR(&mh, c);
    } else if (local != NULL && local->sa_family == AF_INET6 && v6) {
        struct in6_pktinfo pi = {.ipi6_addr = ((const struct sockaddr_in6 *)local)->sin6_addr};
        c->cmsg_level = IPPROTO_IPV6;
        c->cmsg_type = IPV6_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(pi));
        memcpy(CMSG_DATA(c), &pi, sizeof(pi));
        used += CMSG_SPACE(sizeof(pi));
        c = CMSG_NXTHDR(&mh, c);
    }
    c->cmsg_level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
    c->cmsg_type = v6 ? IPV6_TCLASS : IP_TOS;
    c->cmsg_len = CMSG_LEN(sizeof(tc));
    memcpy(CMSG_DATA(c), &tc, sizeof(tc));
    used += CMSG_SPACE(sizeof(tc));
    if (seg > 0 && len > seg) {
        uint16_t gso = (uint16_t)seg;
        c = CMSG_NXTHDR(&mh, c);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(gso));
        memcpy(CMSG_DATA(c), &gso, sizeof(gso));
        used += CMSG_SPACE(sizeof(gso));
    }
    mh.msg_controllen = used;
    do {
        w = sendmsg(s->fd, &mh, 0);
    } while (w < 0 && errno == EINTR);
    return w;
}

int h3g_udp_send(struct h3g_udp_sock *s, const struct sockaddr *local,
                 const struct sockaddr *remote, socklen_t remotelen, uint8_t ecn,
                 const uint8_t *data, size_t len, size_t seg)
{
    int calls = 0;
    if (seg == 0 || seg > len)
        seg = len;
    if (s->gso && len > seg) {
        if (send_one(s, local, remote, remotelen, ecn, data, len, seg) >= 0)
            return 1;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return H3G_EAGAIN;
        if (errno != EIO && errno != EINVAL && errno != ENOPROTOOPT && errno != EOPNOTSUPP)
            return H3G_ERR;
        /* The kernel or the device cannot segment: one datagram per send from
         * now on. */
        h3g_warn("UDP GSO refused (%s): sending one datagram per call", strerror(errno));
        s->gso = 0;
    }
    for (size_t off = 0; off < len; off += seg) {
        size_t n = H3G_MIN(seg, len - off);
        if (send_one(s, local, remote, remotelen, ecn, data + off, n, 0) < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? (calls > 0 ? calls : H3G_EAGAIN)
                                                           : H3G_ERR;
        calls++;
    }
    return calls;
}
