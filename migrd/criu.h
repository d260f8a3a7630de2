/* criu.h: the one place that runs CRIU. Each run is a child of migrd, with only the
 * descriptors it is given; its end is reported through a callback, from the loop. */
#ifndef MIGR_CRIU_H
#define MIGR_CRIU_H

#include <sys/types.h>

/* status: criu's exit code, or 128+N if signal N ended it */
typedef void (*criu_done_cb)(void *arg, int status);

/* Runs `criu ARGS...` (args NULL-terminated, without the binary), with keep[i] placed at
 * descriptor 3+i in the child; stdout and stderr go to /dev/null (use -o for a log).
 * Returns the pid, or -1. */
pid_t criu_run(const char *const *args, const int *keep, int nkeep, criu_done_cb cb, void *arg);
/* A child of migrd ended: 1 if it was a criu run (its callback has been called). */
int criu_reaped(pid_t pid, int status);
/* Forgets a run's callback (its owner is going away); the process is left to end. */
void criu_forget(pid_t pid);
/* The first "Error" line of a CRIU log, for a message; "" if none. */
void criu_log_error(const char *log, char *out, size_t outlen);
/* Keeps a copy of a failed run's log (<state-dir>/migrate/last-failure.log). */
void criu_keep_log(const char *log);

#endif
