/* log.c: logging for migrd and the tools (see log.h). */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static const char *prog = "migr";
static int use_syslog;
static int verbosity;

void log_init(const char *progname, int to_syslog, int verbose)
{
	prog = progname;
	use_syslog = to_syslog;
	verbosity = verbose;
	if (use_syslog)
		openlog(prog, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int log_verbose(void)
{
	return verbosity;
}

const char *log_progname(void)
{
	return prog;
}

static void vlog(int pri, const char *err, const char *fmt, va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (use_syslog) {
		if (err)
			syslog(pri, "%s: %s", msg, err);
		else
			syslog(pri, "%s", msg);
		return;
	}
	if (err)
		fprintf(stderr, "%s: %s: %s\n", prog, msg, err);
	else
		fprintf(stderr, "%s: %s\n", prog, msg);
	fflush(stderr);
}

#define LOG_FN(name, pri, with_errno, min_verbosity)              \
	void name(const char *fmt, ...)                           \
	{                                                         \
		const char *err = with_errno ? strerror(errno) : NULL; \
		if (verbosity < min_verbosity)                    \
			return;                                   \
		va_list ap;                                       \
		va_start(ap, fmt);                                \
		vlog(pri, err, fmt, ap);                          \
		va_end(ap);                                       \
	}
LOG_FN(log_warn, LOG_WARNING, 1, 0)
LOG_FN(log_warnx, LOG_WARNING, 0, 0)
LOG_FN(log_info, LOG_INFO, 0, 0)
LOG_FN(log_debug, LOG_DEBUG, 0, 1)

void fatal(const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_ERR, err, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_ERR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
