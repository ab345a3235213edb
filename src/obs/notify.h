/* Readiness notification to systemd (sd_notify(3)'s protocol, without
 * libsystemd): a datagram of "KEY=VALUE" lines to the unix socket named by
 * $NOTIFY_SOCKET. */
#ifndef H3G_OBS_NOTIFY_H
#define H3G_OBS_NOTIFY_H

/* Sends state (e.g. "READY=1", "RELOADING=1\nMONOTONIC_USEC=...",
 * "STOPPING=1", "STATUS=...") to $NOTIFY_SOCKET: a path ("/run/...") or an
 * abstract socket ("@name").  Returns 1 when sent, 0 when $NOTIFY_SOCKET is
 * unset or empty (not started by systemd as Type=notify: nothing to do),
 * H3G_EINVAL for an empty state or a $NOTIFY_SOCKET that is neither, H3G_ERR
 * when the socket cannot be reached (errno says why). */
int h3g_sd_notify(const char *state);

#endif
