/* h3g_sd_notify: the datagram reaches a unix socket named by $NOTIFY_SOCKET,
 * as a path and as an abstract name; without $NOTIFY_SOCKET nothing is sent. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common.h"
#include "obs/notify.h"
#include "testutil.h"

/* A datagram socket bound to path, or to the abstract name when abstract. */
static int bind_dgram(const char *name, int abstract)
{
    struct sockaddr_un sa;
    size_t n = strlen(name);
    socklen_t len;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (abstract) {
        memcpy(sa.sun_path + 1, name, n);
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    } else {
        memcpy(sa.sun_path, name, n + 1);
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    if (bind(fd, (struct sockaddr *)&sa, len) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The next datagram on fd (already queued: unix sockets deliver at once). */
static const char *recv_one(int fd, char *buf, size_t len)
{
    ssize_t n = recv(fd, buf, len - 1, MSG_DONTWAIT);
    if (n < 0)
        return NULL;
    buf[n] = '\0';
    return buf;
}

static void test_unset(void)
{
    CHECK(unsetenv("NOTIFY_SOCKET") == 0);
    CHECK(h3g_sd_notify("READY=1") == 0);
    CHECK(setenv("NOTIFY_SOCKET", "", 1) == 0);
    CHECK(h3g_sd_notify("READY=1") == 0);
}

static void test_path(void)
{
    char dir[] = "/tmp/h3g-notify-XXXXXX", path[128], buf[256];
    int fd;
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/notify", dir);
    fd = bind_dgram(path, 0);
    CHECK(fd >= 0);
    CHECK(setenv("NOTIFY_SOCKET", path, 1) == 0);
    CHECK(h3g_sd_notify("READY=1") == 1);
    CHECK_STR(recv_one(fd, buf, sizeof(buf)), "READY=1");
    CHECK(h3g_sd_notify("RELOADING=1\nMONOTONIC_USEC=12345") == 1);
    CHECK_STR(recv_one(fd, buf, sizeof(buf)), "RELOADING=1\nMONOTONIC_USEC=12345");
    CHECK(h3g_sd_notify("STOPPING=1") == 1);
    CHECK_STR(recv_one(fd, buf, sizeof(buf)), "STOPPING=1");
    CHECK(recv_one(fd, buf, sizeof(buf)) == NULL); /* one datagram per call */
    close(fd);

    /* Nobody listening any more: an error, not a silent success. */
    CHECK(unlink(path) == 0);
    CHECK(h3g_sd_notify("READY=1") < 0);
    CHECK(rmdir(dir) == 0);
}

static void test_abstract(void)
{
    char name[64], env[80], buf[256];
    int fd;
    snprintf(name, sizeof(name), "h3g-notify-test-%ld", (long)getpid());
    snprintf(env, sizeof(env), "@%s", name);
    fd = bind_dgram(name, 1);
    CHECK(fd >= 0);
    CHECK(setenv("NOTIFY_SOCKET", env, 1) == 0);
    CHECK(h3g_sd_notify("READY=1\nSTATUS=serving") == 1);
    CHECK_STR(recv_one(fd, buf, sizeof(buf)), "READY=1\nSTATUS=serving");
    close(fd);
    CHECK(h3g_sd_notify("READY=1") < 0); /* the name is gone with its socket */
}

static void test_invalid(void)
{
    char longpath[200];
    CHECK(setenv("NOTIFY_SOCKET", "relative/notify", 1) == 0);
    CHECK(h3g_sd_notify("READY=1") == H3G_EINVAL);
    CHECK(setenv("NOTIFY_SOCKET", "@", 1) == 0);
    CHECK(h3g_sd_notify("READY=1") == H3G_EINVAL);
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    CHECK(setenv("NOTIFY_SOCKET", longpath, 1) == 0);
    CHECK(h3g_sd_notify("READY=1") == H3G_EINVAL);
    CHECK(setenv("NOTIFY_SOCKET", "/nonexistent/h3g-notify", 1) == 0);
    errno = 0;
    CHECK(h3g_sd_notify("READY=1") == H3G_ERR);
    CHECK(errno == ENOENT);
    CHECK(h3g_sd_notify("") == H3G_EINVAL);
    CHECK(h3g_sd_notify(NULL) == H3G_EINVAL);
}

int main(void)
{
    test_unset();
    test_path();
    test_abstract();
    test_invalid();
    unsetenv("NOTIFY_SOCKET");
    return TEST_RESULT();
}
