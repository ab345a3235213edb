#include "server/upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "server/steer.h"

#define ENV_NAME "H3GATE_UPGRADE"

/* The binary as it was at start: after an upgrade installed a new file,
 * /proc/self/exe names the old, deleted one. */
static char g_exe[PATH_MAX];

int h3g_upgrade_init(struct h3g_upgrade_from *from, char *err, size_t errlen)
{
    *from = (struct h3g_upgrade_from){0, 0, -1};
    ssize_t n = readlink("/proc/self/exe", g_exe, sizeof(g_exe) - 1);
    g_exe[n > 0 ? n : 0] = '\0';
    const char *env = getenv(ENV_NAME);
    if (env == NULL)
        return 0;
    char spec[4096];
    long pid;
    int fd, off = 0;
    unsigned gen;
    spec[0] = '\0';
    if (sscanf(env, "%ld %u %d %n", &pid, &gen, &fd, &off) != 3 || pid <= 0 || gen > 1 || fd < 0 ||
        strlen(env + off) >= sizeof(spec)) {
        snprintf(err, errlen, "%s is malformed: \"%s\"", ENV_NAME, env);
        return H3G_ERR;
    }
    snprintf(spec, sizeof(spec), "%s", env + off);
    unsetenv(ENV_NAME); /* the next upgrade writes its own */
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || h3g_steer_import(spec) != 0) {
        snprintf(err, errlen, "%s: the old master's descriptors are not usable: %s", ENV_NAME,
                 strerror(errno));
        return H3G_ERR;
    }
    *from = (struct h3g_upgrade_from){(pid_t)pid, gen, fd};
    return 0;
}

void h3g_upgrade_ready(struct h3g_upgrade_from *from)
{
    if (from->ready_fd < 0)
        return;
    ssize_t rc = write(from->ready_fd, "1", 1);
    (void)rc; /* the old master gone already: nobody to tell */
    close(from->ready_fd);
    from->ready_fd = -1;
}

/* In the child: exec the new binary with the hand-over in its environment. */
static void exec_new(char **argv, unsigned gen, int ready)
{
    char spec[4096], env[4200];
    if (fcntl(ready, F_SETFD, 0) != 0 || h3g_steer_export(spec, sizeof(spec)) != 0) {
        fprintf(stderr, "h3gate: binary upgrade: cannot hand the descriptors over: %s\n",
                strerror(errno));
        _exit(127);
    }
    snprintf(env, sizeof(env), "%ld %u %d %s", (long)getppid(), gen, ready, spec);
    setenv(ENV_NAME, env, 1);
    execv(g_exe, argv);
    fprintf(stderr, "h3gate: binary upgrade: cannot run %s: %s\n", g_exe, strerror(errno));
    _exit(127);
}

pid_t h3g_upgrade_start(char **argv, unsigned gen, int *ready, char *err, size_t errlen)
{
    int p[2];
    if (g_exe[0] == '\0') {
        snprintf(err, errlen, "the path of this binary is not known (/proc/self/exe)");
        return -1;
    }
    if (access(g_exe, X_OK) != 0) {
        snprintf(err, errlen, "%s: %s", g_exe, strerror(errno));
        return -1;
    }
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0)
        exec_new(argv, gen, p[1]);
    close(p[1]);
    *ready = p[0];
    return pid;
}

int h3g_upgrade_result(int ready)
{
    char c;
    ssize_t n = read(ready, &c, 1);
    if (n == 1)
        return c == '1';
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return -1;
    return 0;
}
