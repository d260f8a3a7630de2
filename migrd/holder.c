/* migr-hold: a job's holder (hold.h says what it is for).
 *
 *   migr-hold --gpid GPID --dir HOLD-DIR
 *     fd 3: its socket to the migrd that started it; fds 4, 5, 6: copies of migrd's ends
 *     of the job's stdin, stdout and stderr pipes (each may be closed)
 *
 * Forked by migrd, which starts the job from it before the exec: the job (or what restores
 * it) is already its child. It listens on HOLD-DIR/GPID.sock for a migrd that starts
 * again, and ends once migrd has released it and it has no child left. It reads none of
 * the job's bytes: migrd does, through its own copies of the pipes. */
#include <config.h>

#define MIGR_HOLDER_PROGRAM
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hold.h"
#include "log.h"

#define MIGRD_FD 3
#define PIPE_FD 4

static int conn = MIGRD_FD;	/* to migrd, -1 while there is none */
static int pipes[3];
static uint8_t record[HOLD_RECORD_MAX];
static size_t record_len;
static struct { pid_t pid; int status; } exits[HOLD_EXITS_MAX];
static unsigned nexits;
static int released;
static char gpid[64];
static int dirfd_ = -1;

static void usage(void)
{
	fprintf(stderr, "usage: migr-hold --gpid GPID --dir DIR\n"
			"(started by migrd; not meant to be run by hand)\n");
	exit(2);
}

/* Paths through the directory's descriptor: a long state directory cannot overflow
 * sun_path. */
static void sock_path(char *out, size_t len)
{
	snprintf(out, len, "/proc/self/fd/%d/%s.sock", dirfd_, gpid);
}

static int send_msg(uint32_t type, int32_t a, int32_t b, const void *payload, size_t len,
		    const int *fds, int nfds)
{
	if (conn < 0)
		return -1;
	struct hold_msg m = { .type = type, .a = a, .b = b, .len = (uint32_t)len };
	struct iovec iov[2] = { { &m, sizeof(m) }, { (void *)payload, len } };
	char cbuf[CMSG_SPACE(3 * sizeof(int))];
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	if (nfds) {
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
	}
	if (sendmsg(conn, &mh, MSG_NOSIGNAL) < 0) {
		close(conn);	/* migrd is gone: the next one asks again */
		conn = -1;
		return -1;
	}
	return 0;
}

static void reap(void)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (nexits == HOLD_EXITS_MAX) {	/* the oldest go: the job's is among the last */
			memmove(exits, exits + 1, sizeof(exits) - sizeof(exits[0]));
			nexits--;
		}
		exits[nexits].pid = pid;
		exits[nexits].status = status;
		nexits++;
		send_msg(HOLD_EXITED, pid, status, NULL, 0, NULL, 0);
	}
}

/* A migrd that started again: what it needs to manage the job, then every end so far. */
static void hello(void)
{
	int fds[3], nfds = 0, mask = 0;
	for (int s = 0; s < 3; s++)
		if (pipes[s] >= 0) {
			fds[nfds++] = pipes[s];
			mask |= 1 << s;
		}
	if (send_msg(HOLD_HELLO, (int32_t)getpid(), mask, record, record_len, fds, nfds) < 0)
		return;
	for (unsigned i = 0; i < nexits; i++)
		send_msg(HOLD_EXITED, exits[i].pid, exits[i].status, NULL, 0, NULL, 0);
}

static void from_migrd(void)
{
	uint8_t buf[sizeof(struct hold_msg) + HOLD_RECORD_MAX];
	ssize_t n = recv(conn, buf, sizeof(buf), MSG_TRUNC);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	struct hold_msg m;
	if (n < (ssize_t)sizeof(m) || n > (ssize_t)sizeof(buf)) {
		close(conn);	/* gone (or talking nonsense): wait for the next one */
		conn = -1;
		return;
	}
	memcpy(&m, buf, sizeof(m));
	switch (m.type) {
	case HOLD_RECORD:
		if ((size_t)n - sizeof(m) == m.len) {
			memcpy(record, buf + sizeof(m), m.len);
			record_len = m.len;
		}
		break;
	case HOLD_CLOSE:
		if (m.a >= 0 && m.a < 3 && pipes[m.a] >= 0) {
			close(pipes[m.a]);
			pipes[m.a] = -1;
		}
		break;
	case HOLD_HELD:
		prctl(PR_SET_PDEATHSIG, 0);
		break;
	case HOLD_RELEASE:
		released = 1;
		for (int s = 0; s < 3; s++)
			if (pipes[s] >= 0) {
				close(pipes[s]);
				pipes[s] = -1;
			}
		break;
	}
}

static void accept_migrd(int lsk)
{
	int fd = accept4(lsk, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
		close(fd);	/* only root's migrd */
		return;
	}
	if (conn >= 0)
		close(conn);	/* a migrd that hung: the new one wins */
	conn = fd;
	hello();
}

static int listen_here(void)
{
	char name[80];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	sock_path(sa.sun_path, sizeof(sa.sun_path));
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	snprintf(name, sizeof(name), "%s.sock", gpid);
	unlinkat(dirfd_, name, 0);
	umask(077);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
		log_warn("%s: %s", gpid, sa.sun_path);
		close(fd);
		return -1;
	}
	return fd;
}

static int no_children(void)
{
	siginfo_t si;
	return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "gpid", required_argument, NULL, 'g' },
		{ "dir", required_argument, NULL, 'd' },
		{ 0 },
	};
	const char *dir = NULL;
	int c;
	log_init("migr-hold", 0, 0);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'g')
			snprintf(gpid, sizeof(gpid), "%s", optarg);
		else if (c == 'd')
			dir = optarg;
		else
			usage();
	}
	if (!gpid[0] || strchr(gpid, '/') || !dir || optind != argc)
		usage();
	for (int s = 0; s < 3; s++)
		pipes[s] = fcntl(PIPE_FD + s, F_GETFD) < 0 ? -1 : PIPE_FD + s;
	if (fcntl(MIGRD_FD, F_GETFD) < 0)
		conn = -1;
	/* the job and whatever restores it are ours; a job restored by a helper of ours is
	 * re-parented to us when that helper ends */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_SETMASK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	dirfd_ = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int lsk = dirfd_ >= 0 ? listen_here() : -1;
	char pidname[80];
	snprintf(pidname, sizeof(pidname), "%s.pid", gpid);
	if (dirfd_ >= 0) {
		int pf = openat(dirfd_, pidname, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (pf >= 0) {
			dprintf(pf, "%d\n", (int)getpid());
			close(pf);
		}
	}
	if (sfd < 0)
		fatal("signalfd");
	reap();	/* a child may have ended before the signalfd */
	for (;;) {
		if (released && no_children())
			break;
		struct pollfd p[3] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = conn, .events = POLLIN },
			{ .fd = lsk, .events = POLLIN },
		};
		if (poll(p, 3, -1) < 0 && errno != EINTR)
			fatal("poll");
		if (p[0].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				;
			reap();
		}
		if (conn >= 0 && p[1].revents)
			from_migrd();
		if (lsk >= 0 && p[2].revents)
			accept_migrd(lsk);
	}
	if (dirfd_ >= 0) {
		char path[80];
		snprintf(path, sizeof(path), "%s.sock", gpid);
		unlinkat(dirfd_, path, 0);
		unlinkat(dirfd_, pidname, 0);
	}
	return 0;
}
