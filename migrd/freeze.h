/* freeze.h: a job frozen to this node's disk (MOSIX's freeze). `mmigrate --freeze` has
 * criu write the job's processes, memory included, to <state-dir>/frozen/GPID (root only)
 * and then ends them; `mmigrate GPID NODE` thaws it: here with criu restore, elsewhere as a
 * move whose images come from that directory (migr-move send --from-disk). Meanwhile the job
 * keeps its records: mps lists it frozen where its images are, its home holds its stdin and
 * signals (SIGKILL and SIGTERM end it), its mrun stays attached; a migrd restart finds it
 * again. */
#ifndef MIGR_FREEZE_H
#define MIGR_FREEZE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct job;

/* Where a job's images are while it is frozen here. */
void freeze_dir(const char *gpid, char *out, size_t len);
/* Freezes a job running here; the answer goes to origin, the news to the job's home. */
void freeze_start(const char *origin, uint32_t reqid, const char *gpid);
/* Thaws a job frozen here, here. */
void freeze_thaw_here(const char *origin, uint32_t reqid, struct job *j);
/* Hard-links a frozen job's images into a move's directory: 0, or -1 with errno. */
int freeze_link_images(const struct job *j, const char *dir);
/* A frozen job is ended by sig: its images go, its end (128 + sig) goes home. */
void freeze_end(struct job *j, int sig);
/* A child ended: 1 if it was one of our criu runs. */
int freeze_reaped(pid_t pid, int status);
/* At start: the jobs frozen here before migrd last stopped. */
void freeze_init(void);

#endif
