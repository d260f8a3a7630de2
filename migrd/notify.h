/* notify.h: telling a service manager how migrd is doing, by the sd_notify(3) protocol
 * written directly (no libsystemd): one datagram of "KEY=value" lines to the AF_UNIX
 * socket named by $NOTIFY_SOCKET (abstract if it starts with '@'). Without
 * $NOTIFY_SOCKET, as when migrd is not started by systemd, these do nothing. */
#ifndef MIGR_NOTIFY_H
#define MIGR_NOTIFY_H

/* Sends state, e.g. "READY=1\nSTATUS=...". 1 if sent, 0 if there is no manager to tell,
 * -1 if sending failed (logged once at debug level: never a reason to stop). The socket's
 * address is kept at the first call and $NOTIFY_SOCKET removed from the environment, so
 * that migrd's children (jobs, CRIU, helpers) do not speak for it. */
int notify_send(const char *state);
/* READY=1 with a STATUS= line formed from fmt: the daemon serves. */
void notify_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* STOPPING=1 with STATUS=why: the daemon is shutting down. */
void notify_stopping(const char *why);

#endif
