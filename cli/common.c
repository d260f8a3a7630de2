/* common.c: shared helpers of the migr tools (see common.h). */
#include <config.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"
#include "log.h"

struct migr_client *cli_connect(void)
{
	struct migr_client *c;
	int r = migr_connect(NULL, &c);
	if (r < 0)
		fatalx("cannot reach migrd at %s: %s (is migrd running? MIGR_SOCKET selects "
		       "the socket)",
		       migr_socket_path(NULL), migr_strerror(r));
	return c;
}

void cli_fail(struct migr_client *c, const char *what, int err)
{
	if (err == MIGR_EREFUSED)
		fatalx("%s", migr_last_error(c));	/* the daemon names the object itself */
	fatalx("%s: %s", what, migr_strerror(err));
}

void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "HUP", SIGHUP },   { "INT", SIGINT },	  { "QUIT", SIGQUIT }, { "ILL", SIGILL },
	{ "TRAP", SIGTRAP }, { "ABRT", SIGABRT }, { "BUS", SIGBUS },   { "FPE", SIGFPE },
	{ "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 },
	{ "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM }, { "CHLD", SIGCHLD },
	{ "CONT", SIGCONT }, { "STOP", SIGSTOP }, { "TSTP", SIGTSTP }, { "TTIN", SIGTTIN },
	{ "TTOU", SIGTTOU }, { "URG", SIGURG },   { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },
	{ "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH }, { "IO", SIGIO },
	{ "PWR", SIGPWR },   { "SYS", SIGSYS },
};

int cli_parse_signal(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);
	if (*s && !*end)
		return n > 0 && n < NSIG ? (int)n : -1;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (!strcasecmp(s, signals[i].name))
			return signals[i].sig;
	return -1;
}

int cli_gpid_cmp(const struct migr_job *x, const struct migr_job *y)
{
	int c = strcmp(x->home, y->home);
	if (c)
		return c;
	unsigned long long nx = strtoull(strrchr(x->gpid, '.') + 1, NULL, 10);
	unsigned long long ny = strtoull(strrchr(y->gpid, '.') + 1, NULL, 10);
	return nx < ny ? -1 : nx > ny;
}
