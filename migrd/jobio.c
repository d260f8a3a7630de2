/* jobio.c: a job's stdio at its home node (see jobio.h). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "jobio.h"

void user_fd_open(struct user_fd *u, int fd, int flags)
{
	u->fd = fd;
	u->broken = 0;
	outq_init(&u->queue);
	u->saved_flags = flags;
	/* epoll refuses what cannot be polled (regular files, /dev/null): probe with a
	 * throwaway epoll instance */
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN };
	u->pollable = ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0;
	if (ep >= 0)
		close(ep);
	if (u->pollable && u->saved_flags >= 0)
		fcntl(fd, F_SETFL, u->saved_flags | O_NONBLOCK);
}

size_t user_fd_flush(struct user_fd *u)
{
	size_t before = outq_pending(&u->queue);
	if (u->fd >= 0 && !u->broken && outq_flush(&u->queue, u->fd) < 0)
		u->broken = 1;	/* EPIPE and the like */
	if (u->broken || u->fd < 0)
		outq_clear(&u->queue);	/* dropped: the reader is gone */
	return before - outq_pending(&u->queue);
}

size_t user_fd_write(struct user_fd *u, const uint8_t *p, size_t n)
{
	outq_add(&u->queue, p, n);
	return user_fd_flush(u);
}

size_t user_fd_pending(const struct user_fd *u)
{
	return outq_pending(&u->queue);
}

void user_fd_drop(struct user_fd *u)
{
	outq_clear(&u->queue);
}

void user_fd_close(struct user_fd *u)
{
	if (u->fd < 0)
		return;
	if (u->pollable && u->saved_flags >= 0)
		fcntl(u->fd, F_SETFL, u->saved_flags);
	close(u->fd);
	u->fd = -1;
	outq_free(&u->queue);
}
