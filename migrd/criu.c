/* criu.c: running CRIU (see criu.h). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criu.h"
#include "log.h"
#include "migrd.h"
#include "xmalloc.h"

#define CRIU_ARGS_MAX 48

struct run {
	pid_t pid;
	criu_done_cb cb;
	void *arg;
	struct run *next;
};

static struct run *runs;

pid_t criu_run(const char *const *args, const int *keep, int nkeep, criu_done_cb cb, void *arg)
{
	const char *argv[CRIU_ARGS_MAX + 2];
	int n = 0;
	argv[n++] = migrd.conf.criu;
	for (; *args && n < CRIU_ARGS_MAX; args++)
		argv[n++] = *args;
	argv[n] = NULL;

	pid_t pid = fork();
	if (pid < 0) {
		log_warn("fork for criu");
		return -1;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* move the kept descriptors above everything, then down to 3.. */
		int moved[8];
		for (int i = 0; i < nkeep && i < 8; i++)
			moved[i] = fcntl(keep[i], F_DUPFD, 100);
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		for (int i = 0; i < nkeep && i < 8; i++)
			dup2(moved[i], 3 + i);	/* dup2 clears close-on-exec */
		for (int fd = 3 + nkeep; fd < 1024; fd++)
			close(fd);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	struct run *r = xcalloc(1, sizeof(*r));
	r->pid = pid;
	r->cb = cb;
	r->arg = arg;
	r->next = runs;
	runs = r;
	log_debug("criu %s: pid %d", argv[1], (int)pid);
	return pid;
}

int criu_reaped(pid_t pid, int status)
{
	for (struct run **rp = &runs; *rp; rp = &(*rp)->next) {
		struct run *r = *rp;
		if (r->pid != pid)
			continue;
		*rp = r->next;
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (r->cb)
			r->cb(r->arg, code);
		free(r);
		return 1;
	}
	return 0;
}

void criu_forget(pid_t pid)
{
	for (struct run *r = runs; r; r = r->next)
		if (r->pid == pid)
			r->cb = NULL;
}

/* The first error CRIU logged, the one that names the object it failed on: not the
 * summaries it adds at the end ("Restoring FAILED"), nor the two harmless lines every log
 * has here (PLATFORM.md). Lines of a task look like "(00.01) 12: Error (file:line): ...". */
void criu_log_error(const char *log, char *out, size_t outlen)
{
	char line[512];
	out[0] = '\0';
	FILE *f = fopen(log, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *e = strstr(line, "Error (");
		if (!e || strstr(line, "RLIMIT_NOFILE") || strstr(line, "kdat cache") ||
		    strstr(line, "FAILED"))
			continue;
		e[strcspn(e, "\n")] = '\0';
		/* "Error (criu/files-reg.c:2417): Can't open ..." -> the message after the place */
		char *msg = strstr(e, "): ");
		snprintf(out, outlen, "%s", msg ? msg + 3 : e);
		break;
	}
	if (!out[0]) {	/* nothing but a summary: better than nothing */
		rewind(f);
		while (fgets(line, sizeof(line), f)) {
			char *e = strstr(line, "Error (");
			if (e && !strstr(line, "RLIMIT_NOFILE") && !strstr(line, "kdat cache")) {
				e[strcspn(e, "\n")] = '\0';
				snprintf(out, outlen, "%s", e);
				break;
			}
		}
	}
	fclose(f);
}

/* A failed run's log outlives its move's directory, for whoever wants the whole story:
 * the last one only, as <state-dir>/migrate/last-failure.log. */
void criu_keep_log(const char *log)
{
	char keep[PATH_MAX + 64];
	snprintf(keep, sizeof(keep), "%s/migrate/last-failure.log", migrd.conf.state_dir);
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
