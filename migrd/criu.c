/* criu.c: CRIU's command lines, its lazy-pages socket, its logs (see criu.h). */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "criu.h"

/* criu/uffd.c: after the last task, restore sends this where a pid would be */
#define LAZY_PAGES_RESTORE_FINISHED 0x52535446
#define LAZY_PAGES_SOCK "lazy-pages.socket"

static void arg(struct criu_argv *a, const char *s)
{
	if (a->n < CRIU_ARGS_MAX)
		a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

/* What every dump of ours says: the tree under pid, into dir, logged there; the tasks are
 * left stopped, for migr to end or resume. */
static void dump_argv(struct criu_argv *a, pid_t pid, const char *dir)
{
	a->n = 0;
	snprintf(a->buf[0], sizeof(a->buf[0]), "%d", (int)pid);
	arg(a, "dump");
	arg(a, "-t");
	arg(a, a->buf[0]);
	arg(a, "-D");
	arg(a, dir);
	arg(a, "-o");
	arg(a, "dump.log");
	arg(a, "--leave-stopped");
}

void criu_dump_argv(struct criu_argv *a, pid_t pid, const char *dir)
{
	dump_argv(a, pid, dir);
	arg(a, "--lazy-pages");
	/* the lazy pages stay in the stopped tasks (patches/criu/0003): no page server, and
	 * no time spent in the freeze collecting what migr-move reads later */
	arg(a, "--lazy-pages-external");
}

void criu_freeze_argv(struct criu_argv *a, pid_t pid, const char *dir)
{
	dump_argv(a, pid, dir);	/* every page goes into the images */
}

void criu_restore_argv(struct criu_argv *a, const char *dir, const char *const inherit[3],
		       int first_fd, int leave_stopped, int lazy)
{
	a->n = 0;
	arg(a, "restore");
	arg(a, "-D");
	arg(a, dir);
	arg(a, "-o");
	arg(a, "restore.log");
	arg(a, "-d");
	arg(a, "--pidfile");
	arg(a, "restored.pid");
	arg(a, "--manage-cgroups=ignore");
	arg(a, "--task-fs-creds");
	if (lazy)
		arg(a, "--lazy-pages");
	if (leave_stopped)
		arg(a, "--leave-stopped");
	for (int s = 0; s < 3; s++) {
		/* "pipe:[INODE]" names the dumped pipe; ours comes in as fd first_fd+s */
		snprintf(a->buf[s], sizeof(a->buf[s]), "fd[%d]:%s", first_fd + s, inherit[s]);
		arg(a, "--inherit-fd");
		arg(a, a->buf[s]);
	}
}

pid_t criu_spawn(const char *criu, const struct criu_argv *a, const int *keep, int nkeep)
{
	const char *argv[CRIU_ARGS_MAX + 2];
	argv[0] = criu;
	for (int i = 0; i <= a->n; i++)
		argv[i + 1] = a->v[i];
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* a criu whose helper died is of no use, and a dump killed resumes its job */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* the kept descriptors go above everything, then down to 3.. */
	int moved[8];
	for (int i = 0; i < nkeep && i < 8; i++)
		moved[i] = fcntl(keep[i], F_DUPFD, 100);
	int null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	for (int i = 0; i < nkeep && i < 8; i++)
		dup2(moved[i], 3 + i);	/* dup2 clears close-on-exec */
	close_range(3 + (unsigned)nkeep, ~0U, 0);
	execv(argv[0], (char *const *)argv);
	_exit(127);
}

int criu_lazy_listen(const char *dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, LAZY_PAGES_SOCK) >=
	    sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	unlink(sa.sun_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int criu_lazy_recv(int sock, int *vpid, int *uffd)
{
	int32_t pid;
	*uffd = -1;
	if (recv(sock, &pid, sizeof(pid), MSG_WAITALL) != sizeof(pid))
		return -1;
	if ((uint32_t)pid == LAZY_PAGES_RESTORE_FINISHED)
		return 0;
	*vpid = pid < 0 ? -pid : pid;
	if (pid < 0)
		return 1;	/* a zombie: no memory, no userfaultfd */
	/* then one byte carrying the userfaultfd */
	char byte, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL) != 1)
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	memcpy(uffd, CMSG_DATA(c), sizeof(int));
	return 1;
}

/* The first error CRIU logged, the one that names the object it failed on: not the
 * summaries it adds at the end ("Restoring FAILED"), nor the two harmless lines every log
 * has here (PLATFORM.md). Lines of a task look like "(00.01) 12: Error (file:line): ...". */
/* CRIU suggests options migr must not use (each would break the job or the one-copy rule):
 * say instead what the job holds that cannot move. */
static const struct {
	const char *criu, *means;
} explained[] = {
	{ "Connected TCP socket",
	  "the job has an established TCP connection, which cannot move (its address is this "
	  "node's)" },
	{ "External socket",
	  "the job is connected through a unix socket to a process outside it, which cannot "
	  "move with it" },
	{ "file locks are hold",
	  "the job holds file locks, which cannot move (the stopped copy still holds them)" },
	{ "Can't open file proc/",
	  "the job holds a file under /proc open, which names a process of this node only" },
	{ "attached to shell terminal",
	  "the job holds a terminal open, which cannot move" },
	{ "dangling tty", "the job holds a terminal open, which cannot move" },
};

const char *criu_explain(const char *line)
{
	for (size_t i = 0; i < sizeof(explained) / sizeof(explained[0]); i++)
		if (strstr(line, explained[i].criu))
			return explained[i].means;
	return NULL;
}

void criu_log_error(const char *log, char *out, size_t outlen)
{
	char line[512];
	out[0] = '\0';
	FILE *f = fopen(log, "re");
	if (!f)
		return;
	for (int pass = 0; pass < 2 && !out[0]; pass++) {
		rewind(f);
		while (fgets(line, sizeof(line), f)) {
			char *e = strstr(line, "Error (");
			if (!e || strstr(line, "RLIMIT_NOFILE") || strstr(line, "kdat cache") ||
			    (pass == 0 && strstr(line, "FAILED")))
				continue;
			e[strcspn(e, "\n")] = '\0';
			/* "Error (criu/files-reg.c:2417): Can't open ..." -> after the place */
			char *msg = pass == 0 ? strstr(e, "): ") : NULL;
			const char *means = criu_explain(e);
			snprintf(out, outlen, "%s", means ? means : msg ? msg + 3 : e);
			break;
		}
	}
	fclose(f);
}

void criu_images_remove(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char path[2 * PATH_MAX];
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(dir);
}

void criu_keep_log(const char *log, const char *keep)
{
	int in = open(log, O_RDONLY | O_CLOEXEC);
	int out = in < 0 ? -1 : open(keep, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	char buf[65536];
	ssize_t n;
	while (out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			break;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
}
