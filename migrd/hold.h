/* hold.h: a job's holder (migr-hold), as conmon is for podman: a small process per job
 * that outlives migrd. It is the parent (a child subreaper) of the job's init, so it
 * learns the job's exit status whoever else is alive; it keeps a copy of migrd's ends of
 * the job's stdio pipes, so the job never sees them close when migrd dies (its output
 * waits in the pipes, with the pipes' back-pressure); and it keeps what migrd wrote about
 * the job (a record), so that a migrd that starts again finds the job, its pipes and its
 * end, and manages it as before (re-adoption).
 *
 * migrd talks to a holder over a SOCK_SEQPACKET socket: the one it was started with, or,
 * after a restart, one accepted on <state-dir>/hold/GPID.sock. Each packet is a struct
 * hold_msg and its payload; descriptors travel beside it (SCM_RIGHTS).
 *
 * The holder is forked from migrd, and what starts the job (migr-init's clone, or the
 * process that restores it) is forked from the holder before it execs migr-hold: that
 * process and the job are its children (restored tasks are re-parented to it, the nearest
 * subreaper), never migrd's. */
#ifndef MIGR_HOLD_H
#define MIGR_HOLD_H

#include <stdint.h>
#include <sys/types.h>

#define HOLD_RECORD_MAX 8192
#define HOLD_EXITS_MAX 64	/* children's ends a holder keeps for a migrd to come */

enum hold_type {
	/* holder to migrd */
	HOLD_SPAWNED = 1,	/* a: the child's pid or -errno; payload: why not; fd: extra */
	HOLD_HELLO = 2,		/* a: holder's pid, b: which pipes follow (bit per stream);
				 * payload: the record; fds: the pipes. Then HOLD_EXITED each. */
	HOLD_EXITED = 3,	/* a: a child's pid, b: its wait status */
	/* migrd to holder */
	HOLD_RECORD = 10,	/* payload: what a restarted migrd needs to know of the job */
	HOLD_CLOSE = 11,	/* a: stream: migrd closed its end, the holder closes its copy */
	HOLD_HELD = 12,		/* the job is whole here: outlive migrd from now on */
	HOLD_RELEASE = 13,	/* no job here any more: end once the children have */
};

struct hold_msg {
	uint32_t type;
	int32_t a, b;
	uint32_t len;		/* of the payload after it */
};

#ifndef MIGR_HOLDER_PROGRAM	/* migrd's side (hold.c) */
struct holder;
struct mw;

/* Forks a holder for gpid's job with migrd's ends of its pipes (-1 for none). In it,
 * spawn(arg, &fd, why, whylen) starts what becomes the job and returns its pid (negative
 * errno and why on failure); fd, if it sets one, comes back in *extra. With die_with_migrd
 * the holder ends if migrd does, until holder_held(). Returns NULL and why on failure. */
struct holder *holder_spawn(const char *gpid, const int pipes[3], int die_with_migrd,
			    pid_t (*spawn)(void *arg, int *fd, char *why, size_t whylen),
			    void *arg, pid_t *child, int *extra, char *why, size_t whylen);
void holder_record(struct holder *h, const struct mw *record);
void holder_close_stream(struct holder *h, int stream);
void holder_held(struct holder *h);
/* The holder ends once its children have; what they report until then still arrives. */
void holder_release(struct holder *h);
pid_t holder_pid(const struct holder *h);
/* Found after a restart: its children are not re-parented to this migrd when it dies. */
int holder_adopted(const struct holder *h);

/* At start-up: each holder a last migrd left is asked for its job; found() gets its
 * record and pipes (-1 for those it closed) and says whether it takes the job on (the
 * holder is then its own; otherwise it is released). The children's ends it kept arrive
 * afterwards through the loop, as jobs_reaped() calls. */
void holders_adopt(int (*found)(struct holder *h, const uint8_t *record, size_t len,
				int pipes[3]));
#endif

#endif
