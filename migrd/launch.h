/* launch.h: starting a job as CRIU needs it (PLATFORM.md): a new PID namespace (and no
 * other) whose pid 1 is migr-init, a new session, the caller's uid, groups, cwd,
 * environment, umask and rlimits, no capabilities, the node's cgroup, only fds 0-2. */
#ifndef MIGR_LAUNCH_H
#define MIGR_LAUNCH_H

#include <stddef.h>
#include <sys/types.h>

#include "proto.h"

/* Starts s with fds as its stdin, stdout, stderr; *pidp is migr-init's pid here.
 * On failure returns negative and err says what failed, e.g. "cwd /x: No such file...". */
int launch_job(const struct migr_job_spec *s, const int fds[3], const char *cgroup,
	       pid_t *pidp, char *err, size_t errlen);
const char *launch_init_path(void);

#endif
