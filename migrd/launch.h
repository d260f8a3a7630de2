/* launch.h: starting a job as CRIU needs it (PLATFORM.md): a new PID namespace (and no
 * other) whose pid 1 is migr-init, a new session, the caller's uid and groups, no
 * capabilities, the node's cgroup, only fds 0-2. migr-init runs as root with a fixed
 * environment; the caller's cwd, umask, rlimits and environment reach only the user's
 * program, after it has become the user (jobinit.c). */
#ifndef MIGR_LAUNCH_H
#define MIGR_LAUNCH_H

#include <stddef.h>
#include <sys/types.h>

#include "proto.h"

/* What migr-init reads on its fd 3: NUL-terminated strings, in order the cwd, the umask
 * in octal, the rlimits as "RES:CUR:MAX,...", then every environment string. */
#define LAUNCH_SPEC_MAX (1024 * 1024)

/* Starts s with fds as its stdin, stdout, stderr; *pidp is migr-init's pid here. Returns
 * at once: *statusp is a non-blocking descriptor that reads EOF once the program runs, or
 * one line saying why it could not start (its init then exits). On failure to start at
 * all, returns negative and err says what failed. */
int launch_job(const struct migr_job_spec *s, const int fds[3], const char *cgroup,
	       pid_t *pidp, int *statusp, char *err, size_t errlen);
const char *launch_init_path(void);
/* migr-hold, a job's holder (hold.h). */
const char *launch_holder_path(void);
/* migr-move, the helper that carries a move (mover.h). */
const char *launch_mover_path(void);

#endif
