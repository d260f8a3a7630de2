/* log.h: the daemon's and tools' one way to report: to stderr, or to syslog once detached.
 * When stderr is systemd's journal ($JOURNAL_STREAM names it), each line starts with its
 * syslog priority, "<3>" for errors to "<7>" for debugging, which the journal records.
 * log_warn appends strerror(errno); log_warnx does not. fatal/fatalx exit(1). */
#ifndef MIGR_LOG_H
#define MIGR_LOG_H

#include <stdarg.h>

void log_init(const char *progname, int to_syslog, int verbose);
const char *log_progname(void);
int log_verbose(void);
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
