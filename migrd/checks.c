/* checks.c: start-up checks (see checks.h). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checks.h"
#include "log.h"

/* What CRIU needs to dump and restore other users' jobs, and migrd to start them: namespaces
 * and ptrace, ids, signals, files of any owner, the network lock. Not CAP_SYS_RESOURCE:
 * these machines lack it (PLATFORM.md). */
static const cap_value_t needed[] = {
	CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_NET_ADMIN, CAP_SETUID,  CAP_SETGID,
	CAP_SETPCAP,   CAP_KILL,       CAP_CHOWN,     CAP_FOWNER,  CAP_DAC_OVERRIDE,
};

int check_capabilities(void)
{
	cap_t caps = cap_get_proc();
	if (!caps) {
		log_warn("cap_get_proc");
		return -1;
	}
	char missing[512] = "";
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		cap_flag_value_t v = CAP_CLEAR;
		cap_get_flag(caps, needed[i], CAP_EFFECTIVE, &v);
		if (v == CAP_SET)
			continue;
		char *name = cap_to_name(needed[i]);
		size_t len = strlen(missing);
		snprintf(missing + len, sizeof(missing) - len, "%s%s", len ? ", " : "", name);
		cap_free(name);
	}
	cap_free(caps);
	if (missing[0]) {
		log_warnx("missing capabilities: %s (run migrd as root with them)", missing);
		return -1;
	}
	return 0;
}

/* Runs `criu ARG`, its stdout and stderr into out; returns its exit status (-1: no run). */
static int criu_capture(const char *criu, const char *arg, char *out, size_t outlen)
{
	int pfd[2];
	out[0] = '\0';
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		log_warn("pipe");
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		log_warn("fork");
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		dup2(pfd[1], STDERR_FILENO);
		execl(criu, criu, arg, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	size_t len = 0;
	ssize_t n;
	char sink[4096];
	/* read to the end (so criu never blocks on a full pipe), keep the start */
	while ((n = read(pfd[0], len < outlen - 1 ? out + len : sink,
			 len < outlen - 1 ? outlen - 1 - len : sizeof(sink))) > 0)
		if (len < outlen - 1)
			len += (size_t)n;
	out[len] = '\0';
	close(pfd[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* `criu check` passes, and this criu has the options migr's moves rely on. */
int check_criu(const char *criu)
{
	static char out[65536];
	if (access(criu, X_OK) < 0) {
		log_warnx("criu: %s: %s (CRIU >= 4.1 is needed: scripts/bootstrap builds it)",
			  criu, strerror(errno));
		return -1;
	}
	if (criu_capture(criu, "check", out, sizeof(out)) != 0) {
		char *line = strstr(out, "Error");
		if (!line)
			line = out;
		line[strcspn(line, "\n")] = '\0';
		log_warnx("criu: `%s check` fails: %s", criu, *line ? line : "(no output)");
		return -1;
	}
	/* without the first a restore may hand an ordinary user's job a file only root may
	 * open; without the second a move cannot leave the job's memory in place */
	static const char *const options[][2] = {
		{ "--task-fs-creds", "patches/criu/0002" },
		{ "--lazy-pages-external", "patches/criu/0003" },
	};
	criu_capture(criu, "--help", out, sizeof(out));
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		if (!strstr(out, options[i][0])) {
			log_warnx("criu: %s lacks %s (%s): run scripts/bootstrap to build the "
				  "patched CRIU", criu, options[i][0], options[i][1]);
			return -1;
		}
	return 0;
}

int check_pipe_max_size(void)
{
	FILE *f = fopen("/proc/sys/fs/pipe-max-size", "re");
	long v = 0;
	if (!f || fscanf(f, "%ld", &v) != 1) {
		if (f)
			fclose(f);
		log_warn("reading fs.pipe-max-size");
		return -1;
	}
	fclose(f);
	if (v < MIGR_PIPE_MAX_SIZE) {
		log_warnx("fs.pipe-max-size is %ld; CRIU's lazy page server needs %d: "
			  "sysctl -w fs.pipe-max-size=%d (scripts/bootstrap does it)",
			  v, MIGR_PIPE_MAX_SIZE, MIGR_PIPE_MAX_SIZE);
		return -1;
	}
	return 0;
}
