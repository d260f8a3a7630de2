/* notify.c: the sd_notify protocol, written directly (see notify.h). */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

static struct sockaddr_un addr;
static socklen_t addr_len;	/* 0: no manager, or an address we cannot use */
static int looked;

/* Reads $NOTIFY_SOCKET once: "/path" or "@abstract"; anything else (systemd's vsock:...)
 * is not for us. */
static void lookup(void)
{
	const char *e = getenv("NOTIFY_SOCKET");
	size_t n = e ? strlen(e) : 0;
	looked = 1;
	if (!n)
		return;
	/* a path needs room for its NUL; an abstract name counts no NUL */
	if ((e[0] == '/' && n < sizeof(addr.sun_path)) ||
	    (e[0] == '@' && n > 1 && n <= sizeof(addr.sun_path))) {
		memset(&addr, 0, sizeof(addr));
		addr.sun_family = AF_UNIX;
		memcpy(addr.sun_path, e, n);
		if (e[0] == '@')
			addr.sun_path[0] = '\0';
		addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (e[0] == '/'));
	} else {
		log_debug("NOTIFY_SOCKET=%s: not an AF_UNIX socket address, not notifying", e);
	}
	unsetenv("NOTIFY_SOCKET");
}

int notify_send(const char *state)
{
	static int warned;
	if (!looked)
		lookup();
	if (!addr_len)
		return 0;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	ssize_t w = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr,
			   addr_len);
	int saved = errno;
	close(fd);
	errno = saved;
	if (w == (ssize_t)strlen(state))
		return 1;
fail:
	if (!warned++)
		log_debug("notifying the service manager: %s", strerror(errno));
	return -1;
}

void notify_ready(const char *fmt, ...)
{
	char msg[512];
	int n = snprintf(msg, sizeof(msg), "READY=1\nSTATUS=");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	notify_send(msg);
}

void notify_stopping(const char *why)
{
	char msg[512];
	snprintf(msg, sizeof(msg), "STOPPING=1\nSTATUS=shutting down: %s", why);
	notify_send(msg);
}
