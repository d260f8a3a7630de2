/* movable.h: what a job holds that a move cannot carry (MOSIX's "cantmove"), found from
 * /proc and sock_diag without stopping or otherwise touching the job. It answers
 * `mmigrate --check`, and keeps the balancer from trying moves CRIU would refuse.
 *
 * The inspection (movable_inspect) is the I/O; the words (movable_reasons) are a pure
 * function of what it found, unit-tested on its own. Whether the job's files exist on a
 * given destination only that node can say: movable_paths lists what to ask it
 * (filecheck.h). Not seen here: CPU features. */
#ifndef MIGR_MOVABLE_H
#define MIGR_MOVABLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum hold_kind {
	HOLD_TCP,		/* an established TCP connection: its address is the node's */
	HOLD_UNIX_OUTSIDE,	/* a unix socket whose peer is not the job's */
	HOLD_LOCK,		/* a POSIX, OFD or flock lock */
	HOLD_PROC_FILE,		/* a file under /proc: it names this node's processes */
	HOLD_TERMINAL,		/* a tty or pty */
	HOLD_DEVICE,		/* a device file other than null, zero, full, random, urandom */
	HOLD_ANON,		/* an anonymous-inode object CRIU cannot dump (io_uring, bpf...) */
	HOLD_KINDS
};

#define HOLD_EXAMPLE_MAX 96
#define HOLD_SEEN_MAX 32	/* things of one kind told apart; beyond, each counts */

struct holds {
	unsigned count[HOLD_KINDS];
	char example[HOLD_KINDS][HOLD_EXAMPLE_MAX];	/* the first one found, for the user */
	uint64_t seen[HOLD_KINDS][HOLD_SEEN_MAX];	/* hashes of their keys */
	unsigned processes;	/* looked at */
};

/* Counts one thing the job holds, once however many of its processes hold it: key names
 * it (NULL: the example does), example shows it to the user; the first example of each
 * kind is kept. */
void holds_add(struct holds *h, enum hold_kind k, const char *key, const char *example);
/* One line per kind held, in enum order, each ending in '\n', into out (NUL-terminated,
 * cut at len); returns how many kinds. 0 means a move may be tried. */
unsigned movable_reasons(const struct holds *h, char *out, size_t len);

/* Looks at every process of the job whose init is pid init. 0, or -1 if init is gone. */
int movable_inspect(pid_t init, struct holds *h);

/* Paths a job needs on its destination, each once, in the order found. Bounded: a job
 * that needs more has the first ones checked, and nothing said of the rest. */
#define JOB_PATHS_MAX 512
#define JOB_PATHS_BYTES (64 * 1024)	/* the paths' bytes, each one's NUL included */

struct job_paths {
	unsigned count;
	size_t bytes;
	uint32_t at[JOB_PATHS_MAX];	/* where each starts in text */
	uint64_t hash[JOB_PATHS_MAX];
	char text[JOB_PATHS_BYTES];
};

/* 1: path added; 0: it was there already; -1: no room, or not an absolute path shorter
 * than PATH_MAX. */
int job_paths_add(struct job_paths *p, const char *path);
const char *job_paths_get(const struct job_paths *p, unsigned i);
/* The paths of every process of the job whose init is pid init (p is emptied first): its
 * executable, working directory and open regular files, then the files it maps. Deleted
 * files are left out: CRIU carries them in its images. 0, or -1 if init is gone. */
int movable_paths(pid_t init, struct job_paths *p);
/* The line for count files missing on node, first among them, as movable_reasons writes
 * one (ending in '\n'); "" for none. Returns how many lines: 0 or 1. */
unsigned movable_missing_reason(const char *node, const char *first, unsigned count,
				char *out, size_t len);

#endif
