/* Process identity: the pid file, and dropping root once the sockets are bound. */
#ifndef H3G_SERVER_PRIVS_H
#define H3G_SERVER_PRIVS_H

#include <stddef.h>

/* Becomes user (and group, or the user's own group) for good.  NULL user: no
 * change.  Refused unless running as root; 0 or H3G_ERR with err set. */
int h3g_privs_drop(const char *user, const char *group, char *err, size_t errlen);
/* Writes the process id to path (NULL: nothing); 0 or H3G_ERR with err set. */
int h3g_privs_pid_file(const char *path, char *err, size_t errlen);
/* Removes the pid file written (a reload may name another: the one written
 * goes) if it still holds this process's id. */
void h3g_privs_pid_file_remove(void);

#endif
