/* hold.c: migrd's side of the jobs' holders (see hold.h). */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hold.h"
#include "jobs.h"
#include "launch.h"
#include "log.h"
#include "loop.h"
#include "migrd.h"
#include "proto.h"
#include "xmalloc.h"

#define HOLD_ANSWER_MS 3000	/* a holder answers at once; one that does not is stuck */

struct holder {
	int fd;
	pid_t pid;
	int released;
	int adopted;		/* a migrd before us started it: not our child */
	char gpid[MIGR_GPID_MAX + 1];
	struct holder *next;
};

static struct holder *holders;

static void hold_dir(char *out, size_t len)
{
	snprintf(out, len, "%s/hold", migrd.conf.state_dir);
}

static void holder_free(struct holder *h)
{
	for (struct holder **p = &holders; *p; p = &(*p)->next)
		if (*p == h) {
			*p = h->next;
			break;
		}
	if (h->fd >= 0) {
		loop_del(h->fd);
		close(h->fd);
	}
	free(h);
}

static int send_msg(struct holder *h, uint32_t type, int32_t a, const void *payload, size_t len)
{
	if (!h || h->fd < 0)
		return -1;
	struct hold_msg m = { .type = type, .a = a, .len = (uint32_t)len };
	struct iovec iov[2] = { { &m, sizeof(m) }, { (void *)payload, len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	/* a few small packets: the socket's buffer holds them; a holder that does not read
	 * is dead or stuck, and then what it would have kept matters no more */
	return sendmsg(h->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ? -1 : 0;
}

/* One packet, and the descriptors beside it (up to 3, -1 for none). */
static ssize_t recv_msg(int fd, struct hold_msg *m, uint8_t *payload, size_t max, int fds[3])
{
	uint8_t buf[sizeof(*m) + HOLD_RECORD_MAX];
	char cbuf[CMSG_SPACE(3 * sizeof(int))];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	for (int i = 0; i < 3; i++)
		fds[i] = -1;
	ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n <= 0)
		return n < 0 && (errno == EAGAIN || errno == EINTR) ? -2 : -1;
	int k = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
				int got;
				memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (k < 3)
					fds[k++] = got;
				else
					close(got);
			}
	if (n < (ssize_t)sizeof(*m) || (mh.msg_flags & MSG_TRUNC))
		goto bad;
	memcpy(m, buf, sizeof(*m));
	if (m->len != (size_t)n - sizeof(*m) || m->len > max)
		goto bad;
	memcpy(payload, buf + sizeof(*m), m->len);
	return n;
bad:
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return -1;
}

static void holder_io(int fd, uint32_t events, void *arg)
{
	struct holder *h = arg;
	struct hold_msg m;
	uint8_t payload[HOLD_RECORD_MAX];
	int fds[3];
	ssize_t n = recv_msg(fd, &m, payload, sizeof(payload), fds);
	if (n == -2)
		return;
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (n < 0) {
		if (!h->released)
			log_warnx("%s: its holder (pid %d) is gone: the job's end is ours to see "
				  "while this migrd runs", h->gpid, (int)h->pid);
		jobs_holder_gone(h);
		holder_free(h);
		return;
	}
	if (m.type == HOLD_EXITED)
		jobs_reaped(m.a, m.b);
}

static struct holder *holder_new(int fd, pid_t pid, const char *gpid)
{
	struct holder *h = xcalloc(1, sizeof(*h));
	h->fd = fd;
	h->pid = pid;
	snprintf(h->gpid, sizeof(h->gpid), "%s", gpid);
	h->next = holders;
	holders = h;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	loop_add(fd, EPOLLIN, holder_io, h);
	return h;
}

/* The holder, after its fork: start the job, tell migrd, become migr-hold. */
static void holder_child(int sk, const char *gpid, const int pipes[3], int die_with_migrd,
			 pid_t (*spawn)(void *, int *, char *, size_t), void *arg)
{
	char why[MIGR_ERRMSG_MAX + 1] = "", dir[PATH_MAX + 8];
	int extra = -1;
	setsid();	/* not migrd's process group: a signal to it is not for the jobs */
	if (die_with_migrd)
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	pid_t pid = spawn(arg, &extra, why, sizeof(why));
	struct hold_msg m = { .type = HOLD_SPAWNED, .a = pid, .len = pid < 0 ? strlen(why) : 0 };
	struct iovec iov[2] = { { &m, sizeof(m) }, { why, m.len } };
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	if (extra >= 0) {
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &extra, sizeof(int));
	}
	if (sendmsg(sk, &mh, MSG_NOSIGNAL) < 0 || pid < 0)
		_exit(1);
	/* its descriptors: the socket on 3, the pipes on 4-6, nothing else */
	int moved[4];
	moved[0] = fcntl(sk, F_DUPFD, 100);
	for (int s = 0; s < 3; s++)
		moved[1 + s] = pipes[s] >= 0 ? fcntl(pipes[s], F_DUPFD, 100) : -1;
	for (int i = 0; i < 4; i++) {
		if (moved[i] >= 0)
			dup2(moved[i], 3 + i);
		else
			close(3 + i);
	}
	close_range(7, ~0U, 0);
	hold_dir(dir, sizeof(dir));
	const char *argv[] = { "migr-hold", "--gpid", gpid, "--dir", dir, NULL };
	execv(launch_holder_path(), (char *const *)argv);
	_exit(127);
}

struct holder *holder_spawn(const char *gpid, const int pipes[3], int die_with_migrd,
			    pid_t (*spawn)(void *arg, int *fd, char *why, size_t whylen),
			    void *arg, pid_t *child, int *extra, char *why, size_t whylen)
{
	int sp[2];
	if (extra)
		*extra = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		snprintf(why, whylen, "socketpair: %s", strerror(errno));
		return NULL;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return NULL;
	}
	if (pid == 0) {
		close(sp[0]);
		holder_child(sp[1], gpid, pipes, die_with_migrd, spawn, arg);
	}
	close(sp[1]);
	struct pollfd p = { .fd = sp[0], .events = POLLIN };
	struct hold_msg m;
	uint8_t payload[MIGR_ERRMSG_MAX + 1];
	int fds[3];
	ssize_t n = -1;
	if (poll(&p, 1, HOLD_ANSWER_MS) == 1)
		n = recv_msg(sp[0], &m, payload, sizeof(payload) - 1, fds);
	if (n < 0 || m.type != HOLD_SPAWNED || m.a <= 0) {
		if (n >= 0 && m.type == HOLD_SPAWNED && m.a < 0) {
			payload[m.len] = '\0';
			snprintf(why, whylen, "%s", (char *)payload);
		} else {
			snprintf(why, whylen, "its holder did not start");
			kill(pid, SIGKILL);
		}
		if (n >= 0)
			for (int i = 0; i < 3; i++)
				if (fds[i] >= 0)
					close(fds[i]);
		close(sp[0]);
		return NULL;	/* reaped by the loop (jobs_reaped knows no such pid) */
	}
	*child = m.a;
	if (extra)
		*extra = fds[0];
	else if (fds[0] >= 0)
		close(fds[0]);
	return holder_new(sp[0], pid, gpid);
}

void holder_record(struct holder *h, const struct mw *record)
{
	if (record->len <= HOLD_RECORD_MAX)
		send_msg(h, HOLD_RECORD, 0, record->buf, record->len);
}

void holder_close_stream(struct holder *h, int stream)
{
	send_msg(h, HOLD_CLOSE, stream, NULL, 0);
}

void holder_held(struct holder *h)
{
	send_msg(h, HOLD_HELD, 0, NULL, 0);
}

void holder_release(struct holder *h)
{
	if (!h)
		return;
	h->released = 1;
	if (send_msg(h, HOLD_RELEASE, 0, NULL, 0) < 0)
		holder_free(h);
}

pid_t holder_pid(const struct holder *h)
{
	return h->pid;
}

int holder_adopted(const struct holder *h)
{
	return h->adopted;
}

/* ---- after a restart ---- */

static void forget(int dfd, const char *gpid)
{
	char name[MIGR_GPID_MAX + 8];
	snprintf(name, sizeof(name), "%s.sock", gpid);
	unlinkat(dfd, name, 0);
	snprintf(name, sizeof(name), "%s.pid", gpid);
	unlinkat(dfd, name, 0);
}

static void adopt_one(int dfd, const char *gpid,
		      int (*found)(struct holder *, const uint8_t *, size_t, int[3]))
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s.sock", dfd, gpid);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		log_info("%s: its holder is gone (%s)", gpid, strerror(errno));
		close(fd);
		forget(dfd, gpid);
		return;
	}
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct hold_msg m;
	uint8_t record[HOLD_RECORD_MAX];
	int got[3], pipes[3] = { -1, -1, -1 };
	ssize_t n = -1;
	if (poll(&p, 1, HOLD_ANSWER_MS) == 1)
		n = recv_msg(fd, &m, record, sizeof(record), got);
	if (n < 0 || m.type != HOLD_HELLO || m.a <= 0) {
		log_warnx("%s: its holder does not answer: left alone", gpid);
		if (n >= 0)
			for (int i = 0; i < 3; i++)
				if (got[i] >= 0)
					close(got[i]);
		close(fd);
		return;
	}
	for (int s = 0, k = 0; s < 3; s++)
		if (m.b & (1 << s))
			pipes[s] = got[k++];
	struct holder *h = holder_new(fd, m.a, gpid);
	h->adopted = 1;
	if (!found(h, record, m.len, pipes)) {
		for (int s = 0; s < 3; s++)
			if (pipes[s] >= 0)
				close(pipes[s]);
		holder_release(h);
	}
}

void holders_adopt(int (*found)(struct holder *h, const uint8_t *record, size_t len,
				int pipes[3]))
{
	char dir[PATH_MAX + 8];
	hold_dir(dir, sizeof(dir));
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		log_warn("%s", dir);
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	DIR *d = opendir(dir);
	if (dfd < 0 || !d) {
		if (dfd >= 0)
			close(dfd);
		if (d)
			closedir(d);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		char gpid[MIGR_GPID_MAX + 1];
		size_t len = strlen(e->d_name);
		if (len < 6 || len - 5 > MIGR_GPID_MAX || strcmp(e->d_name + len - 5, ".sock"))
			continue;
		memcpy(gpid, e->d_name, len - 5);
		gpid[len - 5] = '\0';
		if (migr_gpid_valid(gpid))
			adopt_one(dfd, gpid, found);
	}
	closedir(d);
	close(dfd);
}
