/* Steering QUIC datagrams to the worker that owns their connection: an
 * SO_ATTACH_REUSEPORT_EBPF program per listen address reads the worker byte
 * of h3gate's connection IDs (the ngtcp2 engine's format, src/quic/ngtcp2/cid.h)
 * and picks that worker's socket from a REUSEPORT_SOCKARRAY map; datagrams
 * without such an ID (a client's first Initial) go by the kernel's hash.  The
 * master makes the maps and programs before it starts the workers (they
 * inherit the descriptors); each worker adds its socket. */
#ifndef H3G_SERVER_STEER_H
#define H3G_SERVER_STEER_H

#include <stddef.h>
#include <sys/socket.h>

#include "config/config.h"

/* In the master: a map and a program for every QUIC listen address of cfg,
 * for n workers.  0, or < 0 with the reason in err (the workers then run
 * unsteered). */
int h3g_steer_setup(const struct h3g_config *cfg, unsigned n, char *err, size_t errlen);
/* In a worker: fd (a bound QUIC socket of sa) becomes this worker's in the
 * address's map, and the program is attached to the port's group.  An
 * address the master did not prepare (added by a reload) is left to the
 * hash.  0, or < 0 with the reason in err. */
int h3g_steer_add(const struct sockaddr *sa, socklen_t salen, unsigned worker, int fd, char *err,
                  size_t errlen);
/* Whether the master prepared steering (for the log and /metrics). */
int h3g_steer_active(void);

#endif
