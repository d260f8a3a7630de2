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

/* Runs `criu check`; on failure logs the first error line it printed. */
int check_criu(const char *criu)
{
	int pfd[2];
	if (access(criu, X_OK) < 0) {
		log_warnx("criu: %s: %s (CRIU >= 4.1 is needed: scripts/bootstrap builds it)",
			  criu, strerror(errno));
		return -1;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		log_warn("pipe");
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		log_warn("fork");
		return -1;
	}
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		dup2(pfd[1], STDERR_FILENO);
		execl(criu, criu, "check", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	char out[4096];
	size_t len = 0;
	ssize_t n;
	while (len < sizeof(out) - 1 &&
	       (n = read(pfd[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(pfd[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	char *line = strstr(out, "Error");
	if (!line)
		line = out;
	line[strcspn(line, "\n")] = '\0';
	log_warnx("criu: `%s check` fails: %s", criu, *line ? line : "(no output)");
	return -1;
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
