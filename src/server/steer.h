/* Steering QUIC datagrams to the worker that owns their connection: an
 * SO_ATTACH_REUSEPORT_EBPF program per listen address reads the worker byte
 * of h3gate's connection IDs (the ngtcp2 engine's format, src/quic/ngtcp2/cid.h)
 * and picks that worker's socket from a REUSEPORT_SOCKARRAY map; datagrams
 * without such an ID (a client's first Initial) go to a worker of the active
 * generation by the kernel's hash.  The master makes the maps and programs
 * before it starts the workers (they inherit the descriptors); each worker
 * adds its socket. */
#ifndef H3G_SERVER_STEER_H
#define H3G_SERVER_STEER_H

#include <stddef.h>
#include <sys/socket.h>

#include "config/config.h"

/* The socket map's key of a worker: its index under a generation bit, which
 * flips with each binary upgrade, so the old process's workers keep their
 * keys (and their connections' datagrams) while the new one's join.  The
 * ngtcp2 engine puts the key in its CIDs' worker byte. */
#define H3G_STEER_GEN_SHIFT 6 /* H3G_MAX_WORKERS is 64 */
#define H3G_STEER_KEYS (2u << H3G_STEER_GEN_SHIFT)
static inline unsigned h3g_steer_key(unsigned gen, unsigned worker)
{
    return (gen & 1u) << H3G_STEER_GEN_SHIFT | worker;
}

/* In the master: a map and a program for every QUIC listen address of cfg,
 * for n workers of generation gen, which get the new clients; an address
 * handed over by a binary upgrade (h3g_steer_import) keeps its own, whose
 * clients stay with the old generation until h3g_steer_activate.  0, or < 0
 * with the reason in err (the workers then run unsteered). */
int h3g_steer_setup(const struct h3g_config *cfg, unsigned gen, unsigned n, char *err,
                    size_t errlen);
/* New clients (datagrams without one of our CIDs) go to the n workers of gen. */
int h3g_steer_activate(unsigned gen, unsigned n);
/* In a worker: fd (a bound QUIC socket of sa) becomes the socket of key
 * (h3g_steer_key) in the address's map, and the program is attached to the
 * port's group.  An address the master did not prepare (added by a reload)
 * is left to the hash.  0, or < 0 with the reason in err. */
int h3g_steer_add(const struct sockaddr *sa, socklen_t salen, unsigned key, int fd, char *err,
                  size_t errlen);
/* Whether the master prepared steering (for the log and /metrics). */
int h3g_steer_active(void);
/* A binary upgrade: the maps and programs as text for the new process, their
 * descriptors left open across exec (call in the child that execs); and the
 * new process's reading of that text.  0 or < 0. */
int h3g_steer_export(char *buf, size_t len);
int h3g_steer_import(const char *spec);

#endif
