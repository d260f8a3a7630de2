/* criu.h: the one place that knows CRIU's command lines, flags and protocols: how migr
 * dumps a job (lazily, leaving its tasks stopped), how it restores one (with the job's
 * stdio swapped in and its files opened as its user), CRIU's lazy-pages socket, and
 * reading CRIU's logs. Used by migr-move (mover.h), and by migrd for a job frozen to its
 * node's disk and thawed there (freeze.h). */
#ifndef MIGR_CRIU_H
#define MIGR_CRIU_H

#include <stddef.h>
#include <sys/types.h>

#define CRIU_ARGS_MAX 32

struct criu_argv {
	const char *v[CRIU_ARGS_MAX + 1];
	int n;
	char buf[6][64];	/* numbers and specs the arguments point into */
};

/* criu dump of the tree under pid into dir: its memory left behind (--lazy-pages
 * --lazy-pages-external, patches/criu/0003: the pages stay in the tasks, nothing collects
 * them), the tasks left stopped at the end (--leave-stopped), so that the source copy stays
 * whole until the destination holds every page. */
void criu_dump_argv(struct criu_argv *a, pid_t pid, const char *dir);
/* criu restore -d from dir, pages left to a lazy-pages server (lazy) or all in the images, the job's stdio pipes as
 * descriptors first_fd.. (inherit[i] names the dumped pipe each replaces), the job's files
 * opened with its own credentials (patches/criu/0002), the tasks left stopped when
 * leave_stopped (a copy move continues them once every page is in). */
void criu_restore_argv(struct criu_argv *a, const char *dir, const char *const inherit[3],
		       int first_fd, int leave_stopped, int lazy);
/* criu dump of the tree under pid into dir with all of its memory (a job frozen to disk,
 * freeze.h), the tasks left stopped: migrd ends them once the images are recorded. */
void criu_freeze_argv(struct criu_argv *a, pid_t pid, const char *dir);

/* Runs criu with keep[i] as descriptor 3+i, stdio on /dev/null; the pid, or -1. */
pid_t criu_spawn(const char *criu, const struct criu_argv *a, const int *keep, int nkeep);

/* CRIU's lazy-pages socket (dir/lazy-pages.socket), which criu restore --lazy-pages
 * connects to: the listening socket, or -1. */
int criu_lazy_listen(const char *dir);
/* One message of restore on that socket: 1 with a task's vpid and userfaultfd (*uffd -1
 * for a zombie), 0 when restore says it has finished, -1 on an error or EOF. Blocking. */
int criu_lazy_recv(int sock, int *vpid, int *uffd);

/* The first error CRIU logged (the one that names the object it failed on), in migr's words
 * where it is one of the known limits of a move (criu_explain); "" if none. */
void criu_log_error(const char *log, char *out, size_t outlen);
/* What a CRIU error line means to someone moving a job, for the errors that come from
 * what the job holds rather than from a fault; NULL for others. */
const char *criu_explain(const char *line);
/* Copies a failed run's log to keep (it outlives its move's directory). */
void criu_keep_log(const char *log, const char *keep);

/* Removes a directory of images, its files and itself (CRIU writes no subdirectories). */
void criu_images_remove(const char *dir);

#endif
