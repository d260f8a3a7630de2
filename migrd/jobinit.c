/* migr-init: pid 1 of a job's PID namespace.
 *
 *   migr-init --uid UID --gid GID [--groups G1,G2...] -- PROGRAM [ARGS...]
 *
 * Started by migrd as root in a fresh PID namespace and session. It forks the user's
 * program into its own process group, drops it to the caller's uid, gid and groups with no
 * capabilities at all, and then only forwards signals to that group and reaps. It exits
 * with the program's status, 128+N if the program died of signal N.
 *
 * Why a separate init: a PID namespace's pid 1 ignores every signal it has no handler for,
 * and CRIU needs the job in its own namespace and session (PLATFORM.md). It holds no file
 * descriptors of its own and waits with sigwaitinfo(), so CRIU can checkpoint it at any
 * moment. */
#include <config.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define GROUPS_MAX 256

/* Signals a terminal or mrun may send, passed on to the program's process group. */
static const int forwarded[] = {
	SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGALRM,
};

static void usage(void)
{
	fprintf(stderr, "usage: migr-init --uid UID --gid GID [--groups G,...] -- PROGRAM [ARGS...]\n"
			"(started by migrd; not meant to be run by hand)\n");
	exit(2);
}

static long number(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 0 || v > UINT_MAX - 1)
		usage();
	return v;
}

/* Effective, permitted, inheritable and ambient capabilities gone (a root job keeps
 * them across setuid(0) otherwise). */
static int drop_capabilities(void)
{
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	cap_t none = cap_init();
	int r = none ? cap_set_proc(none) : -1;
	cap_free(none);
	return r;
}

static void become_user(uid_t uid, gid_t gid, const gid_t *groups, int ngroups)
{
	if (setgroups((size_t)ngroups, groups) < 0 || setresgid(gid, gid, gid) < 0) {
		perror("migr-init: setting groups");
		_exit(126);
	}
	/* The bounding set too, so not even a setuid-root binary run by the job gets a
	 * capability back; first, since dropping it needs CAP_SETPCAP, which setuid takes. */
	for (int c = 0; c <= CAP_LAST_CAP; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) {
			perror("migr-init: dropping capabilities");
			_exit(126);
		}
	if (setresuid(uid, uid, uid) < 0 || drop_capabilities() < 0) {
		perror("migr-init: setting user");
		_exit(126);
	}
}

int main(int argc, char **argv)
{
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	gid_t groups[GROUPS_MAX];
	int ngroups = 0, i;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--uid")) {
			uid = (uid_t)number(argv[++i]);
		} else if (!strcmp(argv[i], "--gid")) {
			gid = (gid_t)number(argv[++i]);
		} else if (!strcmp(argv[i], "--groups")) {
			char *list = argv[++i], *save = NULL;
			for (char *g = strtok_r(list, ",", &save); g; g = strtok_r(NULL, ",", &save)) {
				if (ngroups == GROUPS_MAX)
					usage();
				groups[ngroups++] = (gid_t)number(g);
			}
		} else {
			usage();
		}
	}
	if (i + 1 >= argc || uid == (uid_t)-1 || gid == (gid_t)-1)
		usage();
	char **prog = argv + i + 1;

	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	/* a session of its own, of which it is the leader: what CRIU wants (PLATFORM.md) */
	if (getpid() != 1 || setsid() < 0)
		fprintf(stderr, "migr-init: warning: not pid 1 of a new session\n");

	pid_t child = fork();
	if (child < 0) {
		perror("migr-init: fork");
		return 126;
	}
	if (child == 0) {
		setpgid(0, 0);
		become_user(uid, gid, groups, ngroups);
		sigprocmask(SIG_SETMASK, &old, NULL);
		for (size_t k = 0; k < sizeof(forwarded) / sizeof(forwarded[0]); k++)
			signal(forwarded[k], SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		execvp(prog[0], prog);
		int err = errno;
		fprintf(stderr, "migr-init: %s: %s\n", prog[0], strerror(err));
		_exit(err == ENOENT ? 127 : 126);
	}
	setpgid(child, child);	/* also here: no race with a signal forwarded early */

	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);
		if (sig < 0)
			continue;	/* EINTR, e.g. after a restore */
		if (sig == SIGCHLD) {
			int status;
			pid_t p;
			while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
				if (p != child)
					continue;	/* an orphan of the program: just reaped */
				if (WIFEXITED(status))
					return WEXITSTATUS(status);
				if (WIFSIGNALED(status))
					return 128 + WTERMSIG(status);
			}
			continue;
		}
		for (size_t k = 0; k < sizeof(forwarded) / sizeof(forwarded[0]); k++)
			if (forwarded[k] == sig && kill(-child, sig) < 0)
				kill(child, sig);
	}
}
