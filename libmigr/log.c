/* log.c: logging for migrd and the tools (see log.h). */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *prog = "migr";
static int use_syslog;
static int to_journal;
static int verbosity;

/* systemd sets JOURNAL_STREAM to the device and inode of the stream it connected to the
 * journal (systemd.exec(5)); stderr is that stream only if they match, not when a child
 * inherited the variable with its stderr redirected. */
static int stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	char extra;
	struct stat st;
	if (!e || sscanf(e, "%llu:%llu%c", &dev, &ino, &extra) != 2 ||
	    fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *progname, int to_syslog, int verbose)
{
	prog = progname;
	use_syslog = to_syslog;
	verbosity = verbose;
	to_journal = !use_syslog && stderr_is_journal();
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
	/* the journal takes a line's priority from its "<N>" prefix; the name stays, as the
	 * helpers that share migrd's stderr (migr-move) name themselves and their move. One
	 * fprintf, one write: lines of processes sharing the stream do not mix. */
	char level[8] = "";
	if (to_journal)
		snprintf(level, sizeof(level), "<%d>", pri);
	if (err)
		fprintf(stderr, "%s%s: %s: %s\n", level, prog, msg, err);
	else
		fprintf(stderr, "%s%s: %s\n", level, prog, msg);
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
