#include "quic/listen_slot.h"

#include "common.h"
#include "obs/log.h"

void h3g_listen_slot_retire_unnamed(struct h3g_listen_slot *s)
{
    char where[80];
    if (s->named || s->retired)
        return;
    h3g_sockaddr_format((const struct sockaddr *)&s->addr, where, sizeof(where));
    h3g_info("no longer accepting QUIC connections on %s; %zu connection(s) on it continue", where,
             s->nconns);
    s->retired = 1;
}
