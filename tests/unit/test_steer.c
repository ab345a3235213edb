/* The steering program (src/server/steer.c) on real sockets of one
 * SO_REUSEPORT group on loopback, two workers of each of two generations (a
 * binary upgrade): datagrams with h3gate's connection IDs reach the socket of
 * the worker their ID names, whatever the generation; everything else (a
 * client's first Initial) reaches a worker of the active generation, and the
 * activation moves only those.  Nothing is dropped.  Needs CAP_BPF: skipped
 * (77) without it. */
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
#define SOCKS (2 * WORKERS) /* generation 0's, then generation 1's */
#define CLIENTS 16

static int sock_at(const struct sockaddr_in *sin)
{
    int one = 1, fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, (const struct sockaddr *)sin, sizeof(*sin)) != 0)
        return -1;
    return fd;
}

/* Which socket got the datagram: its index, -1 for none. */
static int receiver(const int *fds)
{
    struct pollfd p[SOCKS];
    char buf[2048];
    for (int i = 0; i < SOCKS; i++)
        p[i] = (struct pollfd){.fd = fds[i], .events = fds[i] >= 0 ? POLLIN : 0};
    if (poll(p, SOCKS, 2000) <= 0)
        return -1;
    for (int i = 0; i < SOCKS; i++)
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

/* Datagrams with our CIDs go to the socket of their key. */
static void check_cids(int c, const struct sockaddr_in *sin, const int *fds, int gens)
{
    for (int g = 0; g < gens; g++)
        for (int w = 0; w < WORKERS; w++) {
            unsigned char pkt[64] = {0x40}; /* short header: DCID from byte 1 */
            pkt[1 + 3] = (unsigned char)h3g_steer_key((unsigned)g, (unsigned)w);
            CHECK(send_to(c, sin, pkt, sizeof(pkt), fds) == g * WORKERS + w);
            unsigned char lng[64] = {0xc0, 0, 0, 0, 1, 16}; /* long header, 16-byte DCID */
            lng[6 + 3] = (unsigned char)h3g_steer_key((unsigned)g, (unsigned)w);
            CHECK(send_to(c, sin, lng, sizeof(lng), fds) == g * WORKERS + w);
        }
}

/* A client's first Initial (its own 8-byte DCID), from many ports: each
 * reaches a worker of generation gen, and both of them get some. */
static void check_new_clients(const int *clients, const struct sockaddr_in *sin, const int *fds,
                              int gen)
{
    int seen[SOCKS] = {0};
    for (int i = 0; i < CLIENTS; i++) {
        unsigned char initial[64] = {0xc0, 0, 0, 0, 1, 8};
        initial[6 + 3] = 1;
        int r = send_to(clients[i], sin, initial, sizeof(initial), fds);
        CHECK(r >= gen * WORKERS && r < (gen + 1) * WORKERS);
        if (r >= 0)
            seen[r]++;
        /* another server's CID (bytes 1-2): the same */
        unsigned char foreign[64] = {0x40, 0, 7, 0, 1};
        r = send_to(clients[i], sin, foreign, sizeof(foreign), fds);
        CHECK(r >= gen * WORKERS && r < (gen + 1) * WORKERS);
    }
    for (int w = 0; w < WORKERS; w++)
        CHECK(seen[gen * WORKERS + w] > 0);
}

int main(void)
{
    struct h3g_config cfg;
    struct sockaddr_in sin = {.sin_family = AF_INET};
    char err[256];
    int fds[SOCKS], clients[CLIENTS];
    socklen_t len = sizeof(sin);

    /* a free port: bind one socket on port 0, keep its port for the group */
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    fds[0] = sock_at(&sin);
    CHECK(fds[0] >= 0 && getsockname(fds[0], (struct sockaddr *)&sin, &len) == 0);
    for (int i = 1; i < SOCKS; i++)
        fds[i] = i < WORKERS ? sock_at(&sin) : -1;
    memset(&cfg, 0, sizeof(cfg));
    memcpy(&cfg.listen[0].ss, &sin, sizeof(sin));
    cfg.listen[0].len = sizeof(sin);
    cfg.listen[0].quic = 1;
    cfg.nlisten = 1;
    if (h3g_steer_setup(&cfg, 0, WORKERS, err, sizeof(err)) != 0) {
        fprintf(stderr, "skipped: %s\n", err);
        return 77;
    }
    CHECK(h3g_steer_active());
    for (unsigned w = 0; w < WORKERS; w++)
        CHECK(h3g_steer_add((struct sockaddr *)&sin, sizeof(sin), h3g_steer_key(0, w), fds[w], err,
                            sizeof(err)) == 0);
    for (int i = 0; i < CLIENTS; i++)
        clients[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int c = clients[0];

    check_cids(c, &sin, fds, 1);
    check_new_clients(clients, &sin, fds, 0);
    /* too short to hold an ID, a worker without a socket: by hash, delivered */
    CHECK(send_to(c, &sin, (const unsigned char *)"\x40\x01", 2, fds) >= 0);
    unsigned char nobody[64] = {0x40, 0, 0, 0, 7};
    CHECK(send_to(c, &sin, nobody, sizeof(nobody), fds) >= 0);

    /* An upgrade: generation 1 takes the maps over (what the new master's
     * setup does with the ones handed over) and its workers join. */
    CHECK(h3g_steer_setup(&cfg, 1, WORKERS, err, sizeof(err)) == 0);
    for (unsigned w = 0; w < WORKERS; w++) {
        fds[WORKERS + w] = sock_at(&sin);
        CHECK(h3g_steer_add((struct sockaddr *)&sin, sizeof(sin), h3g_steer_key(1, w),
                            fds[WORKERS + w], err, sizeof(err)) == 0);
    }
    check_cids(c, &sin, fds, 2);
    check_new_clients(clients, &sin, fds, 0); /* not active yet */
    CHECK(h3g_steer_activate(1, WORKERS) == 0);
    check_cids(c, &sin, fds, 2); /* the old workers keep theirs */
    check_new_clients(clients, &sin, fds, 1);

    /* The old generation gone: its IDs are delivered all the same (a new
     * worker answers them with a stateless reset). */
    for (int w = 0; w < WORKERS; w++) {
        close(fds[w]);
        fds[w] = -1;
    }
    unsigned char old[64] = {0x40, 0, 0, 0, 1};
    CHECK(send_to(c, &sin, old, sizeof(old), fds) >= WORKERS);

    char spec[512];
    CHECK(h3g_steer_export(spec, sizeof(spec)) == 0);
    CHECK(strchr(spec, ':') != NULL && strchr(spec, ',') == NULL);

    /* an address the master did not prepare: nothing to do, no error */
    struct sockaddr_in other = sin;
    other.sin_port = htons((uint16_t)(ntohs(sin.sin_port) ^ 1));
    CHECK(h3g_steer_add((struct sockaddr *)&other, sizeof(other), 0, fds[WORKERS], err,
                        sizeof(err)) == 0);
    for (int i = 0; i < CLIENTS; i++)
        close(clients[i]);
    for (int i = WORKERS; i < SOCKS; i++)
        close(fds[i]);
    return TEST_RESULT();
}
