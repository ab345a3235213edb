/* Binary upgrade (SIGUSR2 to the master), as nginx does it: the running
 * master starts the binary it was started from (a new file there is the new
 * version) with the same arguments; the new master's workers join the ports'
 * SO_REUSEPORT groups beside the old ones, and it takes over the steering
 * maps (src/server/steer.h) under the other generation, so the old workers'
 * QUIC connections keep their datagrams.  Once every new worker is ready the
 * new master makes itself the target of new clients and says so through a
 * pipe; the old master then drains its workers and exits.  If the new one
 * fails first, the pipe closes without a word and the old one goes on. */
#ifndef H3G_SERVER_UPGRADE_H
#define H3G_SERVER_UPGRADE_H

#include <stddef.h>
#include <sys/types.h>

/* Where this process came from: pid 0 unless a binary upgrade started it. */
struct h3g_upgrade_from {
    pid_t pid;    /* the old master */
    unsigned gen; /* this process's steering generation (h3g_steer_key) */
    int ready_fd; /* to the old master; -1 once told */
};

/* At start, before anything else reads the environment: the path of this
 * binary (what an upgrade starts), and the hand-over an old master left in
 * H3GATE_UPGRADE (removed from the environment; steering imported).  0, or
 * < 0 with the reason in err. */
int h3g_upgrade_init(struct h3g_upgrade_from *from, char *err, size_t errlen);
/* In the new master, once it serves: the old one may drain now. */
void h3g_upgrade_ready(struct h3g_upgrade_from *from);

/* In the old master: starts the new binary for generation gen.  Returns its
 * pid and, in *ready, a descriptor that becomes readable when it is ready
 * (h3g_upgrade_result then says 1) or gone (0); or -1 with the reason in
 * err. */
pid_t h3g_upgrade_start(char **argv, unsigned gen, int *ready, char *err, size_t errlen);
/* Reads the new binary's word from *ready: 1 ready, 0 gone, -1 not yet. */
int h3g_upgrade_result(int ready);

#endif
