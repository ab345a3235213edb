/* Several workers (workers > 1): a master process checks the configuration
 * and the ports, starts one worker process per CPU (each a whole server with
 * its own event loop, engine, sockets in the ports' SO_REUSEPORT groups, TLS
 * contexts and origin pools), passes signals on, starts a new worker when
 * one dies, and speaks for all of them to systemd. */
#ifndef H3G_SERVER_MASTER_H
#define H3G_SERVER_MASTER_H

#include <stdint.h>

#include "config/config.h"

/* What a worker tells the master through the status pipe (one write of this
 * size is atomic). */
struct h3g_worker_msg {
    uint32_t index, kind;
    int32_t ok, pad;
};
enum { H3G_WMSG_READY = 1, H3G_WMSG_RELOADED = 2 };

struct h3g_upgrade_from;
/* Runs the master for n workers; cfg (the master's own copy) is taken over;
 * from: what started it (src/server/upgrade.h).  Returns the process's exit
 * status. */
int h3g_master_run(struct h3g_config *cfg, int argc, char **argv, unsigned n,
                   const struct h3g_upgrade_from *from);

struct h3g_worker;
/* A worker's life (in the child): start from cfg (taken over), report,
 * serve. */
int h3g_worker_main(struct h3g_config *cfg, int argc, char **argv, const struct h3g_worker *w);

#endif
