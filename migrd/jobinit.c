/* migr-init: pid 1 of a job's PID namespace.
 *
 *   migr-init --uid UID --gid GID [--groups G1,G2...] -- PROGRAM [ARGS...]
 *     fd 3: what the user's program gets (launch.h: cwd, umask, rlimits, environment)
 *     fd 4: set-up failures, one line, for migrd; closed by a successful exec
 *
 * Started by migrd as root, with a fixed environment of its own, in a fresh PID namespace
 * and session. It forks the user's program into its own process group, drops it to the
 * caller's uid, gid and groups with no capabilities at all, and only then applies what the
 * caller asked for (rlimits, umask, cwd, environment): nothing of the user's reaches a
 * root process, and the kernel checks each of those as it would for the user. Then it only
 * forwards signals to that group and reaps. It exits with the program's status, 128+N if
 * the program died of signal N.
 *
 * Why a separate init: a PID namespace's pid 1 ignores every signal it has no handler for,
 * and CRIU needs the job in its own namespace and session (PLATFORM.md). It holds no file
 * descriptors of its own and waits with sigwaitinfo(), so CRIU can checkpoint it at any
 * moment. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch.h"

#define GROUPS_MAX 256
#define SPEC_FD 3
#define STATUS_FD 4

/* Signals a terminal or mrun may send, passed on to the program's process group. Not
 * SIGCONT: a move resumes every process it stopped, this init too, but must not wake the
 * ones the user had stopped; migrd sends a user's SIGCONT to every process itself. */
static const int forwarded[] = {
	SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM,
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

/* In the program's process before exec: tells migrd why the job cannot start, exits. */
static void setup_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void setup_fail(const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (len > (int)sizeof(msg) - 1)
		len = (int)sizeof(msg) - 1;
	if (write(STATUS_FD, msg, (size_t)len) < 0)
		fprintf(stderr, "migr-init: %s\n", msg);
	_exit(126);
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

/* The running kernel's highest capability: it may know more than our headers do. */
static int last_cap(void)
{
	int last = CAP_LAST_CAP;
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	if (f) {
		if (fscanf(f, "%d", &last) != 1 || last < 0 || last > 255)
			last = CAP_LAST_CAP;
		fclose(f);
	}
	return last;
}

static void become_user(uid_t uid, gid_t gid, const gid_t *groups, int ngroups)
{
	if (setgroups((size_t)ngroups, groups) < 0 || setresgid(gid, gid, gid) < 0)
		setup_fail("setting groups: %s", strerror(errno));
	/* The bounding set too, so not even a setuid-root binary run by the job gets a
	 * capability back; first, since dropping it needs CAP_SETPCAP, which setuid takes. */
	for (int c = 0, last = last_cap(); c <= last; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			setup_fail("dropping capabilities: %s", strerror(errno));
	if (setresuid(uid, uid, uid) < 0 || drop_capabilities() < 0)
		setup_fail("setting user: %s", strerror(errno));
	/* and no way back up through setuid binaries or file capabilities */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		setup_fail("no_new_privs: %s", strerror(errno));
}

/* What the user asked for, read from SPEC_FD (launch.h has the layout). */
struct user_spec {
	char *buf;
	const char *cwd;
	mode_t umask;
	const char *rlimits;
	char **env;
};

static int read_spec(struct user_spec *u)
{
	struct stat st;
	if (fstat(SPEC_FD, &st) < 0 || st.st_size < 0 || st.st_size > LAUNCH_SPEC_MAX)
		return -1;
	size_t size = (size_t)st.st_size;
	u->buf = malloc(size + 1);
	if (!u->buf || pread(SPEC_FD, u->buf, size, 0) != (ssize_t)size)
		return -1;
	u->buf[size] = '\0';
	close(SPEC_FD);
	/* NUL-separated: cwd, umask, rlimits, then every environment string */
	size_t count = 0;
	for (size_t i = 0; i < size; i++)
		count += u->buf[i] == '\0';
	if (count < 3 || (size && u->buf[size - 1] != '\0'))
		return -1;
	u->env = calloc(count - 3 + 1, sizeof(char *));
	if (!u->env)
		return -1;
	char *p = u->buf;
	u->cwd = p;
	p += strlen(p) + 1;
	u->umask = (mode_t)(strtoul(p, NULL, 8) & 0777);
	p += strlen(p) + 1;
	u->rlimits = p;
	p += strlen(p) + 1;
	for (size_t k = 0; k < count - 3; k++, p += strlen(p) + 1)
		u->env[k] = p;
	return 0;
}

/* "RES:CUR:MAX,..." applied as the user: the kernel refuses to raise a hard limit, and then
 * the job gets the most the user may have. */
static void apply_rlimits(const char *list)
{
	const char *p = list;
	while (*p) {
		unsigned res;
		unsigned long long cur, max;
		int used;
		if (sscanf(p, "%u:%llu:%llu%n", &res, &cur, &max, &used) != 3)
			setup_fail("malformed rlimits");
		p += used;
		if (*p == ',')
			p++;
		struct rlimit rl = { .rlim_cur = cur, .rlim_max = max }, now;
		if (res >= RLIMIT_NLIMITS || getrlimit((int)res, &now) < 0)
			continue;
		if (rl.rlim_max > now.rlim_max)
			rl.rlim_max = now.rlim_max;
		if (rl.rlim_cur > rl.rlim_max)
			rl.rlim_cur = rl.rlim_max;
		if (setrlimit((int)res, &rl) < 0)
			setup_fail("rlimit %u: %s", res, strerror(errno));
	}
}

extern char **environ;

static void start_program(char **prog, const struct user_spec *u)
{
	apply_rlimits(u->rlimits);
	umask(u->umask);
	if (chdir(u->cwd) < 0)
		setup_fail("cwd %s: %s", u->cwd, strerror(errno));
	environ = u->env;	/* execvp looks up PATH in it */
	execvp(prog[0], prog);
	int err = errno;
	/* the job itself runs and says why, as a shell would: 127 if not found */
	close(STATUS_FD);
	fprintf(stderr, "migr-init: %s: %s\n", prog[0], strerror(err));
	_exit(err == ENOENT ? 127 : 126);
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
	struct user_spec spec = { 0 };
	if (read_spec(&spec) < 0) {
		fprintf(stderr, "migr-init: no job description on fd %d\n", SPEC_FD);
		return 126;
	}

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
		fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC);	/* a successful exec closes it */
		setpgid(0, 0);
		become_user(uid, gid, groups, ngroups);
		sigprocmask(SIG_SETMASK, &old, NULL);
		for (size_t k = 0; k < sizeof(forwarded) / sizeof(forwarded[0]); k++)
			signal(forwarded[k], SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		start_program(prog, &spec);
	}
	close(STATUS_FD);
	free(spec.env);
	free(spec.buf);
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
