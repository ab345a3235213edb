/* The steering program (src/server/steer.c) on real sockets of one
 * SO_REUSEPORT group on loopback: datagrams with h3gate's connection IDs reach
 * the socket of the worker their ID names; everything else still arrives
 * (the kernel's hash), nothing is dropped.  Needs CAP_BPF: skipped (77)
 * without it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "server/steer.h"
#include "testutil.h"

#define WORKERS 2

static int sock_at(const struct sockaddr_in *sin)
{
    int one = 1, fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, (const struct sockaddr *)sin, sizeof(*sin)) != 0)
        return -1;
    return fd;
}

/* Which socket got the datagram: 0 or 1, -1 for none. */
static int receiver(const int *fds)
{
    struct pollfd p[WORKERS];
    char buf[2048];
    for (int i = 0; i < WORKERS; i++)
        p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    if (poll(p, WORKERS, 2000) <= 0)
        return -1;
    for (int i = 0; i < WORKERS; i++)
        if (p[i].revents & POLLIN) {
            recv(fds[i], buf, sizeof(buf), 0);
            return i;
        }
    return -1;
}

static int send_to(int c, const struct sockaddr_in *sin, const unsigned char *pkt, size_t len,
                   const int *fds)
{
    if (sendto(c, pkt, len, 0, (const struct sockaddr *)sin, sizeof(*sin)) != (ssize_t)len)
        return -2;
    return receiver(fds);
}

int main(void)
{
    struct h3g_config cfg;
    struct sockaddr_in sin = {.sin_family = AF_INET};
    char err[256];
    int fds[WORKERS], c;
    socklen_t len = sizeof(sin);

    /* a free port: bind one socket on port 0, keep its port for the group */
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    fds[0] = sock_at(&sin);
    CHECK(fds[0] >= 0 && getsockname(fds[0], (struct sockaddr *)&sin, &len) == 0);
    fds[1] = sock_at(&sin);
    CHECK(fds[1] >= 0);
    memset(&cfg, 0, sizeof(cfg));
    memcpy(&cfg.listen[0].ss, &sin, sizeof(sin));
    cfg.listen[0].len = sizeof(sin);
    cfg.listen[0].quic = 1;
    cfg.nlisten = 1;
    if (h3g_steer_setup(&cfg, WORKERS, err, sizeof(err)) != 0) {
        fprintf(stderr, "skipped: %s\n", err);
        return 77;
    }
    CHECK(h3g_steer_active());
    for (unsigned w = 0; w < WORKERS; w++)
        CHECK(h3g_steer_add((struct sockaddr *)&sin, sizeof(sin), w, fds[w], err, sizeof(err)) ==
              0);
    c = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    for (int round = 0; round < 4; round++) {
        for (int w = 0; w < WORKERS; w++) {
            unsigned char pkt[64] = {0x40}; /* short header: DCID from byte 1 */
            pkt[1 + 3] = (unsigned char)w;
            CHECK(send_to(c, &sin, pkt, sizeof(pkt), fds) == w);
            unsigned char lng[64] = {0xc0, 0, 0, 0, 1, 16}; /* long header, 16-byte DCID */
            lng[6 + 3] = (unsigned char)w;
            CHECK(send_to(c, &sin, lng, sizeof(lng), fds) == w);
        }
        /* not h3gate's: a client's 8-byte DCID, a worker without a socket, a
         * datagram too short to hold an ID: by hash, but delivered */
        unsigned char other[64] = {0xc0, 0, 0, 0, 1, 8};
        other[6 + 3] = 1;
        CHECK(send_to(c, &sin, other, sizeof(other), fds) >= 0);
        unsigned char nobody[64] = {0x40, 0, 0, 0, 7};
        CHECK(send_to(c, &sin, nobody, sizeof(nobody), fds) >= 0);
        CHECK(send_to(c, &sin, (const unsigned char *)"\x40\x01", 2, fds) >= 0);
    }
    /* an address the master did not prepare: nothing to do, no error */
    struct sockaddr_in other = sin;
    other.sin_port = htons((uint16_t)(ntohs(sin.sin_port) ^ 1));
    CHECK(h3g_steer_add((struct sockaddr *)&other, sizeof(other), 0, fds[0], err, sizeof(err)) ==
          0);
    close(c);
    close(fds[0]);
    close(fds[1]);
    return TEST_RESULT();
}
