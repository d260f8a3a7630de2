/* mrun: start a job on the cluster and stay its terminal: its output comes here, signals
 * sent here reach it, and mrun exits with its status. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "log.h"

#define COPIES_MAX 256
#define REATTACH_S 60	/* how long an mrun waits for its migrd to come back */

extern char **environ;

/* Signals a user sends a foreground job; mrun passes them on. */
static const int forwarded[] = {
	SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mrun [-n NODE|here|best] [-d] [-j N [--tag]] [--no-migrate] [--] CMD [ARGS...]\n"
		"       mrun --attach GPID\n"
		"  -n NODE       run on NODE (its home stays this node); here: on this node;\n"
		"                best (the default): where there is most room\n"
		"  -d            detached: print the job's id and return; output goes to\n"
		"                $XDG_STATE_HOME/migr/GPID.out (default ~/.local/state/migr)\n"
		"  -j N          run N copies across the cluster; exit 0 if all succeed, else with\n"
		"                the first failure's status\n"
		"  --tag         with -j: prefix each output line with the copy's id\n"
		"  --no-migrate  the load balancer never moves this job (mmigrate still may)\n"
		"  --attach GPID become the terminal of a job of yours started from this node\n"
		"                (with -d, or whose mrun went away): its output and end come here\n"
		"  -h, --help    this help\n"
		"mrun exits with the job's status, 128+N if it died of signal N; 127 if CMD is not\n"
		"found, 126 if it cannot be run. If migrd goes away, mrun waits up to 60 s for it\n"
		"to come back and attaches again. MIGR_SOCKET selects the daemon.\n");
}

/* Finds cmd as the shell would; exits 127 or 126 like it. */
static char *resolve(const char *cmd)
{
	static char path[PATH_MAX];
	struct stat st;
	if (strchr(cmd, '/')) {
		snprintf(path, sizeof(path), "%s", cmd);
		if (stat(path, &st) < 0) {
			/* as a shell says it: 127 for a path that is not there */
			log_warnx("%s: %s", cmd, strerror(errno));
			exit(errno == ENOENT || errno == ENOTDIR ? 127 : 126);
		}
		if (S_ISDIR(st.st_mode) || access(path, X_OK) < 0) {
			log_warnx("%s: %s", cmd, S_ISDIR(st.st_mode) ? "Is a directory" : strerror(errno));
			exit(126);
		}
		return path;
	}
	const char *env = getenv("PATH");
	char *dirs = strdup(env && *env ? env : "/usr/local/bin:/usr/bin:/bin");
	char *save = NULL;
	int denied = 0;
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(path, sizeof(path), "%s/%s", *d ? d : ".", cmd);
		if (stat(path, &st) < 0 || S_ISDIR(st.st_mode))
			continue;
		if (access(path, X_OK) == 0) {
			free(dirs);
			return path;
		}
		denied = 1;
	}
	free(dirs);
	if (denied) {
		log_warnx("%s: Permission denied", cmd);
		exit(126);
	}
	log_warnx("%s: command not found", cmd);
	exit(127);
}

/* Detached output: a file of the user's own, opened here with the user's rights. */
static int detached_output(char *tmpl, size_t len)
{
	const char *state = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	char dir[PATH_MAX - 16];
	if (state && *state)
		snprintf(dir, sizeof(dir), "%s/migr", state);
	else if (home && *home)
		snprintf(dir, sizeof(dir), "%s/.local/state/migr", home);
	else
		fatalx("-d: neither XDG_STATE_HOME nor HOME is set: nowhere to put the output");
	/* mkdir -p */
	for (char *p = dir + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(dir, 0700);
			*p = '/';
		}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		fatal("%s", dir);
	snprintf(tmpl, len, "%s/new.XXXXXX", dir);
	int fd = mkstemp(tmpl);
	if (fd < 0)
		fatal("%s", tmpl);
	return fd;
}

struct copy {
	struct migr_client *c;
	struct migr_run_reply reply;
	int fds[3];		/* what the job's stdio is here; -1: it cannot attach again */
	int done, status;
	int out[2], err[2];	/* --tag: pipes whose lines get the copy's id */
	char line[2][4096];
	size_t linelen[2];
};

static void tag_flush(struct copy *cp, int s, int all)
{
	FILE *f = s == 0 ? stdout : stderr;
	char *buf = cp->line[s];
	size_t start = 0;
	for (size_t i = 0; i < cp->linelen[s]; i++)
		if (buf[i] == '\n' || (all && i == cp->linelen[s] - 1) ||
		    i - start == sizeof(cp->line[s]) - 2) {
			fprintf(f, "[%s] %.*s%s", cp->reply.gpid, (int)(i + 1 - start), buf + start,
				buf[i] == '\n' ? "" : "\n");
			start = i + 1;
		}
	memmove(buf, buf + start, cp->linelen[s] - start);
	cp->linelen[s] -= start;
	fflush(f);
}

static int tag_read(struct copy *cp, int s)
{
	int fd = s == 0 ? cp->out[0] : cp->err[0];
	size_t room = sizeof(cp->line[s]) - cp->linelen[s];
	ssize_t n = read(fd, cp->line[s] + cp->linelen[s], room);
	if (n <= 0) {
		tag_flush(cp, s, 1);
		close(fd);
		if (s == 0)
			cp->out[0] = -1;
		else
			cp->err[0] = -1;
		return 0;
	}
	cp->linelen[s] += (size_t)n;
	tag_flush(cp, s, 0);
	return 1;
}

/* migrd went away (a restart, an upgrade): wait for it, and attach to the job again. Its
 * output waits at its node meanwhile. */
static int reattach(struct copy *cp)
{
	if (cp->fds[0] < 0)
		return -1;	/* --tag's pipes are gone: nothing to attach again */
	log_warnx("%s: lost contact with migrd: waiting up to %d s for it to come back",
		  cp->reply.gpid, REATTACH_S);
	migr_close(cp->c);
	cp->c = NULL;
	for (int i = 0; i < REATTACH_S * 4; i++) {
		struct migr_client *c;
		struct migr_run_reply reply;
		usleep(250 * 1000);
		if (migr_connect(NULL, &c) < 0)
			continue;
		int r = migr_attach(c, cp->reply.gpid, cp->fds, &reply);
		if (r == 0) {
			cp->c = c;
			log_warnx("%s: attached again (it runs on %s)", cp->reply.gpid, reply.node);
			return 0;
		}
		log_warnx("%s: cannot attach again: %s", cp->reply.gpid,
			  r == MIGR_EREFUSED ? migr_last_error(c) : migr_strerror(r));
		migr_close(c);
		return -1;
	}
	log_warnx("%s: migrd did not come back within %d s", cp->reply.gpid, REATTACH_S);
	return -1;
}

int main(int argc, char **argv)
{
	enum { OPT_TAG = 256, OPT_NO_MIGRATE, OPT_ATTACH };
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "tag", no_argument, NULL, OPT_TAG },
		{ "no-migrate", no_argument, NULL, OPT_NO_MIGRATE },
		{ "attach", required_argument, NULL, OPT_ATTACH },
		{ NULL, 0, NULL, 0 },
	};
	const char *node = NULL, *attach = NULL;
	int detached = 0, tag = 0, ncopies = 1, c;
	unsigned flags = 0;

	log_init("mrun", 0, 0);
	while ((c = getopt_long(argc, argv, "+n:dj:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			node = optarg;
			break;
		case 'd':
			detached = 1;
			break;
		case 'j': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > COPIES_MAX) {
				log_warnx("-j: '%s' is not a number of copies in 1..%d", optarg, COPIES_MAX);
				return 2;
			}
			ncopies = (int)n;
			break;
		}
		case OPT_TAG:
			tag = 1;
			break;
		case OPT_NO_MIGRATE:
			flags |= MIGR_RUN_NO_MIGRATE;
			break;
		case OPT_ATTACH:
			attach = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (attach && (optind < argc || node || detached || ncopies > 1 || tag || flags)) {
		log_warnx("--attach takes a job's id and nothing else");
		usage(stderr);
		return 2;
	}
	if (!attach && optind >= argc) {
		log_warnx("missing command");
		usage(stderr);
		return 2;
	}
	if (detached && ncopies > 1) {
		log_warnx("-d and -j do not go together");
		return 2;
	}
	if (tag && ncopies == 1)
		tag = 0;	/* one copy: its lines need no id */
	/* the daemon places the job where there is room, unless told */
	if (!node)
		node = "best";
	else if (!strcmp(node, "here"))
		node = NULL;

	char **args = argv + optind;
	char *orig = attach ? NULL : args[0];
	char cwd[PATH_MAX];
	mode_t mask = umask(0);
	umask(mask);
	if (!attach) {
		args[0] = resolve(args[0]);
		if (!getcwd(cwd, sizeof(cwd)))
			fatal("getcwd");
	}

	/* signals are read from a signalfd, and passed on */
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&set, forwarded[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		fatal("signalfd");
	signal(SIGPIPE, SIG_IGN);

	struct copy *copies = calloc((size_t)ncopies, sizeof(*copies));
	char outpath[PATH_MAX] = "";
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (attach) {
		struct copy *cp = &copies[0];
		cp->out[0] = cp->err[0] = -1;
		cp->fds[0] = 0;
		cp->fds[1] = 1;
		cp->fds[2] = 2;
		cp->c = cli_connect();
		int r = migr_attach(cp->c, attach, cp->fds, &cp->reply);
		if (r == -EINVAL) {
			log_warnx("--attach: '%s' is not a job id (NODE.N)", attach);
			return 2;
		}
		if (r < 0)
			cli_fail(cp->c, attach, r);
	}
	for (int i = 0; i < ncopies && !attach; i++) {
		struct copy *cp = &copies[i];
		struct migr_run_request req = {
			.node = node, .argv = args, .envp = environ, .cwd = cwd,
			.umask = mask, .flags = flags, .fds = { 0, 1, 2 },
		};
		cp->out[0] = cp->err[0] = -1;
		if (ncopies > 1)
			req.fds[0] = devnull;	/* one stdin cannot feed many copies */
		if (tag) {
			if (pipe2(cp->out, O_CLOEXEC) < 0 || pipe2(cp->err, O_CLOEXEC) < 0)
				fatal("pipe");
			req.fds[1] = cp->out[1];
			req.fds[2] = cp->err[1];
		}
		if (detached) {
			int fd = detached_output(outpath, sizeof(outpath));
			req.fds[0] = devnull;
			req.fds[1] = req.fds[2] = fd;
			req.flags |= MIGR_RUN_DETACHED;
		}
		cp->c = cli_connect();
		int r = migr_run(cp->c, &req, &cp->reply);
		memcpy(cp->fds, req.fds, sizeof(cp->fds));
		if (tag) {
			close(cp->out[1]);
			close(cp->err[1]);
			cp->fds[0] = -1;
		}
		if (r < 0) {
			if (outpath[0])
				unlink(outpath);
			if (r == -E2BIG)
				fatalx("%s: argument list and environment too long", orig);
			cli_fail(cp->c, orig, r);
		}
	}
	if (detached) {
		char final[PATH_MAX + 80];
		snprintf(final, sizeof(final), "%.*s/%s.out",
			 (int)(strrchr(outpath, '/') - outpath), outpath, copies[0].reply.gpid);
		if (rename(outpath, final) < 0)
			log_warn("%s", final);
		printf("%s\n", copies[0].reply.gpid);
		return 0;
	}

	/* wait for every copy; pass signals on to all */
	int left = ncopies, first_failure = 0;
	struct pollfd *pfds = calloc((size_t)(1 + 3 * ncopies), sizeof(*pfds));
	while (left > 0) {
		int n = 0;
		pfds[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		for (int i = 0; i < ncopies; i++) {
			struct copy *cp = &copies[i];
			pfds[n++] = (struct pollfd){ .fd = cp->done ? -1 : migr_client_fd(cp->c),
						     .events = POLLIN };
			pfds[n++] = (struct pollfd){ .fd = cp->out[0], .events = POLLIN };
			pfds[n++] = (struct pollfd){ .fd = cp->err[0], .events = POLLIN };
		}
		if (poll(pfds, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (pfds[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				for (int i = 0; i < ncopies; i++)
					if (!copies[i].done && copies[i].c)
						migr_run_signal(copies[i].c, (int)si.ssi_signo);
		}
		for (int i = 0; i < ncopies; i++) {
			struct copy *cp = &copies[i];
			struct pollfd *p = &pfds[1 + 3 * i];
			/* tagged output first: it was written before the exit */
			if (p[1].revents)
				tag_read(cp, 0);
			if (p[2].revents)
				tag_read(cp, 1);
			if (cp->done || !p[0].revents || cp->out[0] >= 0 || cp->err[0] >= 0)
				continue;
			int r = migr_run_wait(cp->c, &cp->status);
			if (r < 0 && r != MIGR_EREFUSED && reattach(cp) == 0)
				continue;
			if (r < 0) {
				log_warnx("%s: lost contact with migrd: %s", cp->reply.gpid,
					  migr_strerror(r));
				cp->status = 255;
			}
			cp->done = 1;
			left--;
			if (cp->status != 0 && first_failure == 0)
				first_failure = cp->status;
			migr_close(cp->c);
		}
	}
	return first_failure;
}
