/* jobio.h: the user's end of a job's stdio, at its home node: the descriptors mrun handed
 * over. Pipes, terminals and sockets are polled (non-blocking while the job runs, their
 * flags restored after); regular files and /dev/null cannot be polled and never block, so
 * they are read and written directly. */
#ifndef MIGR_JOBIO_H
#define MIGR_JOBIO_H

#include <stddef.h>
#include <stdint.h>

#include "msgbuf.h"
#include "proto.h"

struct user_fd {
	int fd;			/* -1 once closed */
	int pollable;
	int saved_flags;
	int broken;		/* the reader went away: output is dropped from now on */
	struct outq queue;	/* output not yet written */
};

/* flags: the fd's file status flags before any of the job's fds was touched (stdin,
 * stdout and stderr often share one terminal). */
void user_fd_open(struct user_fd *u, int fd, int flags);
/* Output: queues data and writes what the fd takes now. Both return the bytes that left
 * the queue (written, or dropped once the reader is gone): the credit to give back. */
size_t user_fd_write(struct user_fd *u, const uint8_t *p, size_t n);
size_t user_fd_flush(struct user_fd *u);
/* Restores the flags and closes. */
void user_fd_close(struct user_fd *u);
/* Output not yet written. */
size_t user_fd_pending(const struct user_fd *u);
/* Drops what waits (nobody will read it). */
void user_fd_drop(struct user_fd *u);

#endif
