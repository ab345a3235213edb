/* What both engines keep per listening socket for reloads: its address, its
 * connections, and whether the running reload named it again.  A listener
 * whose address a reload removed is retired: it accepts nothing new and is
 * freed (by its engine, between passes) once its last connection is gone. */
#ifndef H3G_QUIC_LISTEN_SLOT_H
#define H3G_QUIC_LISTEN_SLOT_H

#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

struct h3g_listen_slot {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    size_t nconns; /* connections that send from this socket */
    int named;     /* named again by the reload running now */
    int retired;   /* a reload removed its address */
};

static inline void h3g_listen_slot_init(struct h3g_listen_slot *s, const struct sockaddr *sa,
                                        socklen_t len)
{
    memset(s, 0, sizeof(*s));
    memcpy(&s->addr, sa, len);
    s->addrlen = len;
    s->named = 1;
}

/* A listener on sa: a reload that names sa keeps it, and one retired by an
 * earlier reload (its socket still open for its connections) accepts again,
 * so that its port is not taken twice (a reload that failed and put the old
 * addresses back, or an address removed and added again). */
static inline int h3g_listen_slot_keep(struct h3g_listen_slot *s, const struct sockaddr *sa,
                                       socklen_t len)
{
    if (s->addrlen != len || memcmp(&s->addr, sa, len) != 0)
        return 0;
    s->named = 1;
    s->retired = 0;
    return 1;
}

static inline int h3g_listen_slot_gone(const struct h3g_listen_slot *s)
{
    return s->retired && s->nconns == 0;
}

/* The end of a reload: a live listener it did not name is retired (logged). */
void h3g_listen_slot_retire_unnamed(struct h3g_listen_slot *s);

#endif
