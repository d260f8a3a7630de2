/* launch.c: starting a job's process tree so CRIU can move it later (see launch.h). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "launch.h"
#include "xmalloc.h"

/* A helper program of migrd's: beside migrd in the build tree, in pkglibexecdir once
 * installed. path is the caller's buffer, filled once. */
static const char *helper_path(const char *name, char *path, size_t len)
{
	char self[PATH_MAX];
	if (path[0])
		return path;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(path, len, "%s/%s", self, name);
			if (access(path, X_OK) == 0)
				return path;
		}
	}
	snprintf(path, len, "%s/%s", MIGR_PKGLIBEXECDIR, name);
	return path;
}

const char *launch_init_path(void)
{
	static char path[PATH_MAX + 16];
	return helper_path("migr-init", path, sizeof(path));
}

const char *launch_holder_path(void)
{
	static char path[PATH_MAX + 16];
	return helper_path("migr-hold", path, sizeof(path));
}

const char *launch_mover_path(void)
{
	static char path[PATH_MAX + 16];
	return helper_path("migr-move", path, sizeof(path));
}

/* In the child: reports a failure to the parent through the status pipe, then exits. */
static void child_fail(int status_fd, const char *what) __attribute__((noreturn));
static void child_fail(int status_fd, const char *what)
{
	char msg[512];
	int len = snprintf(msg, sizeof(msg), "%s: %s", what, strerror(errno));
	if (write(status_fd, msg, (size_t)len) < 0)
		_exit(126);
	_exit(126);
}

/* The job description migr-init reads (LAUNCH_SPEC_MAX), in a sealed-off memfd. */
static int spec_memfd(const struct migr_job_spec *s)
{
	struct mw w;
	char num[96];
	mw_init(&w);
	mw_bytes(&w, s->cwd, strlen(s->cwd) + 1);
	snprintf(num, sizeof(num), "%o", s->umask & 0777);
	mw_bytes(&w, num, strlen(num) + 1);
	for (uint8_t i = 0; i < s->nrlimits; i++) {
		snprintf(num, sizeof(num), "%s%u:%llu:%llu", i ? "," : "", s->rlimits[i].resource,
			 (unsigned long long)s->rlimits[i].cur,
			 (unsigned long long)s->rlimits[i].max);
		mw_bytes(&w, num, strlen(num));
	}
	mw_u8(&w, 0);
	mw_bytes(&w, s->env.data, s->env.len);
	int fd = -1;
	if (w.len <= LAUNCH_SPEC_MAX)
		fd = memfd_create("migr-job", MFD_CLOEXEC);
	if (fd >= 0 && write(fd, w.buf, w.len) != (ssize_t)w.len) {
		close(fd);
		fd = -1;
	}
	mw_free(&w);
	return fd;
}

/* The fixed environment migr-init runs with: nothing of the caller's. */
static char *const init_env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };

static void child_setup(const int fds[3], int spec_fd, const char *cgroup, int status_fd)
{
	char path[PATH_MAX + 64];

	/* migrd blocks signals for its signalfd; a job starts with none blocked or ignored */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);

	if (cgroup_join(cgroup, getpid(), path, sizeof(path)) < 0)
		child_fail(status_fd, path);
	/* 0-2 the job's stdio, 3 its description, 4 the status pipe: move the last two out
	 * of the way first, so no dup2 below overwrites another */
	spec_fd = fcntl(spec_fd, F_DUPFD, 10);
	status_fd = fcntl(status_fd, F_DUPFD, 10);
	if (spec_fd < 0 || status_fd < 0)
		_exit(126);
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			child_fail(status_fd, "dup2");
	if (dup2(spec_fd, 3) < 0 || dup2(status_fd, 4) < 0)
		child_fail(status_fd, "dup2");
	/* Anything inherited would be dumped with the job: only 0-4. */
	close_range(5, ~0U, 0);
	/* migr-init itself sits in /: the job's cwd is entered by the user's program */
	if (chdir("/") < 0)
		child_fail(4, "chdir /");
}

int launch_job(const struct migr_job_spec *s, const int fds[3], const char *cgroup,
	       pid_t *pidp, int *statusp, char *err, size_t errlen)
{
	int st[2];
	int spec_fd = spec_memfd(s);
	if (spec_fd < 0) {
		snprintf(err, errlen, "job description: %s", strerror(errno ? errno : E2BIG));
		return -EIO;
	}
	if (pipe2(st, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		close(spec_fd);
		return -errno;
	}
	/* migr-init's argv: ids, then the program */
	char **argv = migr_strv_list(&s->argv);
	char *iargv[8 + 1 + 1024];
	char uid[16], gid[16], groups[JOB_GROUPS_MAX * 11 + 1] = "";
	int n = 0;
	snprintf(uid, sizeof(uid), "%u", s->uid);
	snprintf(gid, sizeof(gid), "%u", s->gid);
	for (uint16_t i = 0; i < s->ngroups; i++) {
		size_t len = strlen(groups);
		snprintf(groups + len, sizeof(groups) - len, "%s%u", i ? "," : "", s->groups[i]);
	}
	iargv[n++] = (char *)"migr-init";
	iargv[n++] = (char *)"--uid";
	iargv[n++] = uid;
	iargv[n++] = (char *)"--gid";
	iargv[n++] = gid;
	if (s->ngroups) {
		iargv[n++] = (char *)"--groups";
		iargv[n++] = groups;
	}
	iargv[n++] = (char *)"--";
	for (uint32_t i = 0; i < s->argv.count && n < (int)(sizeof(iargv) / sizeof(iargv[0])) - 1; i++)
		iargv[n++] = argv[i];
	iargv[n] = NULL;
	const char *init = launch_init_path();

	/* Like fork(), but the child is pid 1 of a new PID namespace and still our child, so
	 * we reap it. Its own IPC namespace too: CRIU dumps and restores that one whole, so a
	 * job's SysV semaphores, queues and shared memory move with it and no two jobs' keys
	 * collide on a node. No mount namespace: CRIU could not dump it (PLATFORM.md). */
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWPID | CLONE_NEWIPC | SIGCHLD, NULL, NULL,
				   NULL, 0);
	if (pid < 0) {
		snprintf(err, errlen, "clone: %s", strerror(errno));
		close(st[0]);
		close(st[1]);
		close(spec_fd);
		free(argv);
		return -errno;
	}
	if (pid == 0) {
		close(st[0]);
		child_setup(fds, spec_fd, cgroup, st[1]);
		execve(init, iargv, init_env);
		child_fail(4, init);
	}
	close(st[1]);
	close(spec_fd);
	free(argv);
	/* The program's exec closes the pipe's last write end; the loop waits for that. */
	fcntl(st[0], F_SETFL, O_NONBLOCK);
	*pidp = pid;
	*statusp = st[0];
	return 0;
}
