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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch.h"
#include "xmalloc.h"

static char init_path[PATH_MAX + 16];

/* migr-init sits beside migrd in the build tree, in pkglibexecdir once installed. */
const char *launch_init_path(void)
{
	char self[PATH_MAX];
	if (init_path[0])
		return init_path;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(init_path, sizeof(init_path), "%s/migr-init", self);
			if (access(init_path, X_OK) == 0)
				return init_path;
		}
	}
	snprintf(init_path, sizeof(init_path), "%s/migr-init", MIGR_PKGLIBEXECDIR);
	return init_path;
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

static void child_setup(const struct migr_job_spec *s, const int fds[3], const char *cgroup,
			int status_fd)
{
	char path[PATH_MAX + 64], buf[32];

	/* migrd blocks signals for its signalfd; a job starts with none blocked or ignored */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);

	if (cgroup && *cgroup) {
		snprintf(path, sizeof(path), "/sys/fs/cgroup/cpu/%s/cgroup.procs", cgroup);
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		int len = snprintf(buf, sizeof(buf), "%d", (int)getpid());
		if (fd < 0 || write(fd, buf, (size_t)len) != len)
			child_fail(status_fd, path);
		close(fd);
	}
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			child_fail(status_fd, "dup2");
	/* Anything inherited would be dumped with the job: only 0, 1, 2 and the status pipe. */
	for (int fd = 3; fd < 1024; fd++)
		if (fd != status_fd)
			close(fd);
	for (uint8_t i = 0; i < s->nrlimits; i++) {
		struct rlimit rl = { .rlim_cur = s->rlimits[i].cur, .rlim_max = s->rlimits[i].max };
		/* raising a hard limit needs CAP_SYS_RESOURCE, which these machines lack */
		if (setrlimit(s->rlimits[i].resource, &rl) < 0 && errno != EPERM)
			child_fail(status_fd, "setrlimit");
	}
	umask(s->umask);
	if (chdir(s->cwd) < 0) {
		char what[sizeof(s->cwd) + 16];
		snprintf(what, sizeof(what), "cwd %s", s->cwd);
		child_fail(status_fd, what);
	}
}

int launch_job(const struct migr_job_spec *s, const int fds[3], const char *cgroup,
	       pid_t *pidp, char *err, size_t errlen)
{
	int st[2];
	if (pipe2(st, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -errno;
	}
	/* migr-init's argv: ids, then the program */
	char **argv = migr_strv_list(&s->argv);
	char **envp = migr_strv_list(&s->env);
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
	 * we reap it (no other new namespace: CRIU could not dump it, PLATFORM.md). */
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, 0);
	if (pid < 0) {
		snprintf(err, errlen, "clone: %s", strerror(errno));
		close(st[0]);
		close(st[1]);
		free(argv);
		free(envp);
		return -errno;
	}
	if (pid == 0) {
		close(st[0]);
		child_setup(s, fds, cgroup, st[1]);
		execve(init, iargv, envp);
		child_fail(st[1], init);
	}
	close(st[1]);
	free(argv);
	free(envp);
	/* Empty read: exec succeeded (the pipe is close-on-exec). This waits only for the
	 * child's few set-up calls. */
	char msg[512];
	ssize_t got;
	while ((got = read(st[0], msg, sizeof(msg) - 1)) < 0 && errno == EINTR)
		;
	close(st[0]);
	if (got > 0) {
		msg[got] = '\0';
		snprintf(err, errlen, "%s", msg);
		waitpid(pid, NULL, 0);
		return -EIO;
	}
	*pidp = pid;
	return 0;
}
