/* mover.h: migr-move, the helper that carries one move, one at each end.
 *
 *   migr-move send ...   at the source: dumps the job (criu), sends its images, serves its
 *                        memory from the frozen tasks, and ends them once the destination
 *                        holds every page
 *   migr-move recv ...   at the destination: takes the images, restores the job (criu),
 *                        and fills its memory through userfaultfd: faults first, the rest
 *                        in the background
 *
 * Each is started by its node's migrd with a SOCK_SEQPACKET control socket on fd 3, over
 * which migrd sends the move's key and the two channels (bulk.h) and the helper reports,
 * one line per packet: "frozen", "restored PID", "done", "aborted WHY", "failed WHY". A
 * helper lives on if its migrd dies: the source's finishes the move (the job is frozen, its
 * future is at the destination); the destination's gives up and kills its copy (the job's
 * output pipes died with migrd), which lets the source resume. Each writes its outcome into
 * the move's record (move.rec in its directory) for a migrd that comes back. */
#ifndef MIGR_MOVER_H
#define MIGR_MOVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bulk.h"

#define MOVER_CTL_FD 3
#define MOVER_IMAGE_CHUNK (256 * 1024)
#define MOVER_PAGES_CHUNK 32		/* pages per background frame (256 KiB): UFFDIO_COPY
					 * costs about the same per page from 64 KiB up, and a
					 * fault waits behind at most one such frame each side */
#define MOVER_FAULT_PAGES 16		/* pages asked for with a faulting one */
#define MOVER_IDLE_MS 10000		/* a channel silent this long is taken as broken */
#define MOVER_START_MS 10000		/* key and channels must come within this */

/* Exit codes, for a migrd that sees the helper end without its last report. */
enum {
	MOVER_EXIT_DONE = 0,
	MOVER_EXIT_ABORTED = 1,		/* the move is off; the source copy lives */
	MOVER_EXIT_DOUBT = 3,		/* source: the link broke after the images left */
	MOVER_EXIT_USAGE = 2,
};

struct mover_opts {
	const char *gpid, *dir, *criu;
	const char *node;		/* this node's name, for messages read elsewhere */
	int mode_copy;
	pid_t pid;			/* send: the job's init */
	const char *from_disk;		/* send: the job is frozen there, images made (freeze.h);
					 * dir holds links to them; removed once moved */
	const char *inherit[3];		/* recv: --inherit-fd specs for the job's stdio */
	int whole;			/* recv: the images hold every page: no lazy restore */
	uint64_t whole_kb;		/* then: the job's memory, as its offer said */
	unsigned pause_restore_ms;	/* recv: test-pause before-restore */
	unsigned stop_restore_ms;	/* recv: test-pause in-restore */
	int verbose;
};

/* Both ends. */
int mover_send(const struct mover_opts *o);
int mover_recv(const struct mover_opts *o);

/* The control socket: a line to migrd (dropped if migrd is gone), and the start-up: the key
 * and the two channels' descriptors, within MOVER_START_MS. */
void mover_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int mover_ctl_alive(void);
void mover_ctl_gone(void);	/* it read EOF: migrd is gone */
int mover_receive_start(uint8_t key[BULK_KEY_BYTES], int fds[2]);
/* The move's record in dir: one line, the latest outcome, for a migrd that restarts. */
void mover_record(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

uint64_t mover_now_ms(void);

#endif
