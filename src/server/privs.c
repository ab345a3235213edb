#include "server/privs.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common.h"
#include "obs/log.h"

static int lookup_group(const char *group, gid_t *gid, char *err, size_t errlen)
{
    struct group *gr = getgrnam(group);
    if (gr == NULL) {
        snprintf(err, errlen, "user: no group named %s", group);
        return H3G_ERR;
    }
    *gid = gr->gr_gid;
    return 0;
}

int h3g_privs_drop(const char *user, const char *group, char *err, size_t errlen)
{
    if (user == NULL)
        return 0;
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        snprintf(err, errlen, "user: no user named %s", user);
        return H3G_ERR;
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    if (group != NULL && lookup_group(group, &gid, err, errlen) != 0)
        return H3G_ERR;
    if (geteuid() != 0) {
        if (geteuid() == uid)
            return 0; /* already that user (a systemd User= unit) */
        snprintf(err, errlen, "user %s: only root can change user (running as uid %u)", user,
                 (unsigned)geteuid());
        return H3G_ERR;
    }
    /* Groups first (setgid needs root), then the user, for good: setresuid
     * leaves no saved root id to return to. */
    if (initgroups(pw->pw_name, gid) != 0 || setresgid(gid, gid, gid) != 0 ||
        setresuid(uid, uid, uid) != 0) {
        snprintf(err, errlen, "user %s: cannot change to uid %u gid %u: %s", user, (unsigned)uid,
                 (unsigned)gid, strerror(errno));
        return H3G_ERR;
    }
    if (setuid(0) == 0) { /* must fail now */
        snprintf(err, errlen, "user %s: root could be regained", user);
        return H3G_ERR;
    }
    /* Core dumps of a process that held keys stay off unless asked for. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    h3g_info("running as user %s (uid %u, gid %u)", user, (unsigned)uid, (unsigned)gid);
    return 0;
}

static char *g_pid_file;

int h3g_privs_pid_file(const char *path, char *err, size_t errlen)
{
    if (path == NULL)
        return 0;
    free(g_pid_file);
    g_pid_file = strdup(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (fd < 0 || write(fd, buf, (size_t)n) != n) {
        snprintf(err, errlen, "pid_file %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return H3G_ERR;
    }
    close(fd);
    return 0;
}

void h3g_privs_pid_file_remove(void)
{
    char buf[32];
    const char *path = g_pid_file;
    if (path == NULL || h3g_read_text(path, buf, sizeof(buf)) < 0)
        return;
    /* a newer process (an upgrade) may have written its own */
    if (strtol(buf, NULL, 10) == (long)getpid() && unlink(path) != 0)
        h3g_debug("cannot remove pid file %s: %s", path, strerror(errno));
    free(g_pid_file);
    g_pid_file = NULL;
}
