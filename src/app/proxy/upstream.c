#include "app/proxy/upstream.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "common.h"

static int parse_server(struct h3g_origin *o, const char *s, char *err, size_t errlen)
{
    snprintf(o->text, sizeof(o->text), "%s", s);
    if (strncmp(s, "unix:", 5) == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)&o->addr;
        if (strlen(s + 5) == 0 || strlen(s + 5) >= sizeof(un->sun_path)) {
            snprintf(err, errlen, "server '%s': bad unix socket path", s);
            return H3G_EINVAL;
        }
        memset(un, 0, sizeof(*un));
        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, s + 5);
        o->addrlen = sizeof(*un);
        return 0;
    }
    char host[256];
    const char *colon = strrchr(s, ':');
    const char *h = s;
    size_t hl;
    if (colon == NULL || colon[1] == '\0') {
        snprintf(err, errlen, "server '%s': expected HOST:PORT or unix:/path", s);
        return H3G_EINVAL;
    }
    hl = (size_t)(colon - s);
    if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') {
        h = s + 1;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof(host)) {
        snprintf(err, errlen, "server '%s': expected HOST:PORT", s);
        return H3G_EINVAL;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai;
    int rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc != 0) {
        snprintf(err, errlen, "server '%s': %s", s, gai_strerror(rc));
        return H3G_EINVAL;
    }
    memcpy(&o->addr, ai->ai_addr, ai->ai_addrlen);
    o->addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

int h3g_upstream_init(h3g_upstream *u, const struct h3g_upstream_conf *conf, char *err,
                      size_t errlen)
{
    memset(u, 0, sizeof(*u));
    u->conf = *conf;
    if (conf->nservers == 0) {
        snprintf(err, errlen, "upstream '%s' has no server", conf->name);
        return H3G_EINVAL;
    }
    for (size_t i = 0; i < conf->nservers; i++) {
        if (parse_server(&u->origins[i], conf->servers[i], err, errlen) != 0)
            return H3G_EINVAL;
        u->norigins++;
    }
    return 0;
}

void h3g_upstream_close(h3g_upstream *u)
{
    for (size_t i = 0; i < u->norigins; i++)
        while (u->origins[i].nidle > 0)
            close(u->origins[i].idle[--u->origins[i].nidle]);
}

struct h3g_origin *h3g_upstream_pick(h3g_upstream *u, uint64_t now_ms, struct h3g_origin *skip)
{
    struct h3g_origin *soonest = NULL;
    for (size_t k = 0; k < u->norigins; k++) {
        struct h3g_origin *o = &u->origins[(u->next + k) % u->norigins];
        if (o == skip && u->norigins > 1)
            continue;
        if (u->conf.max_connections > 0 && o->active >= u->conf.max_connections)
            continue;
        if (o->down_until_ms <= now_ms) {
            u->next = (u->next + k + 1) % u->norigins;
            return o;
        }
        if (soonest == NULL || o->down_until_ms < soonest->down_until_ms)
            soonest = o;
    }
    /* Everyone is marked down: try the one that recovers first rather than fail. */
    return soonest;
}

void h3g_upstream_mark_failed(h3g_upstream *u, struct h3g_origin *o, uint64_t now_ms)
{
    o->down_until_ms = now_ms + u->conf.fail_timeout_ms;
    while (o->nidle > 0)
        close(o->idle[--o->nidle]);
}

int h3g_origin_take_idle(struct h3g_origin *o)
{
    while (o->nidle > 0) {
        int fd = o->idle[--o->nidle];
        char c;
        /* A pooled connection the origin closed reads EOF (or junk): drop it. */
        ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return fd;
        close(fd);
    }
    return -1;
}

void h3g_origin_put_idle(struct h3g_origin *o, int fd, size_t max_idle)
{
    if (o->nidle >= max_idle || o->nidle >= H3G_ARRAY_LEN(o->idle)) {
        close(fd);
        return;
    }
    o->idle[o->nidle++] = fd;
}

int h3g_origin_connect(struct h3g_origin *o)
{
    int fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0)
        return -1;
    if (o->addr.ss_family != AF_UNIX)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&o->addr, o->addrlen) != 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    o->connections_opened++;
    return fd;
}
