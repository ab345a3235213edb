/* sd_notify(3)'s wire protocol: one datagram to $NOTIFY_SOCKET.  systemd
 * learns the sender from the socket's credentials, so nothing else is sent. */
#include "obs/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common.h"

/* Fills *sa from $NOTIFY_SOCKET's value; the address length, or 0 when the
 * value is not a socket this can reach (vsock: and the like). */
static socklen_t notify_addr(const char *e, struct sockaddr_un *sa)
{
    size_t n = strlen(e);
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (e[0] == '/') {
        if (n >= sizeof(sa->sun_path))
            return 0;
        memcpy(sa->sun_path, e, n + 1);
        return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    if (e[0] == '@') {
        /* abstract: a leading NUL, then the name, no terminator */
        if (n < 2 || n > sizeof(sa->sun_path))
            return 0;
        memcpy(sa->sun_path + 1, e + 1, n - 1);
        return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    }
    return 0;
}

int h3g_sd_notify(const char *state)
{
    struct sockaddr_un sa;
    socklen_t salen;
    const char *e = getenv("NOTIFY_SOCKET");
    size_t len;
    ssize_t sent;
    int fd, saved;

    if (e == NULL || e[0] == '\0')
        return 0;
    if (state == NULL || state[0] == '\0')
        return H3G_EINVAL;
    salen = notify_addr(e, &sa);
    if (salen == 0) {
        errno = EINVAL;
        return H3G_EINVAL;
    }
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return H3G_ERR;
    len = strlen(state);
    do
        sent = sendto(fd, state, len, MSG_NOSIGNAL, (const struct sockaddr *)&sa, salen);
    while (sent < 0 && errno == EINTR);
    saved = errno;
    close(fd);
    if (sent < 0 || (size_t)sent != len) {
        errno = sent < 0 ? saved : EMSGSIZE;
        return H3G_ERR;
    }
    return 1;
}
