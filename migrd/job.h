/* job.h: a job as this node's migrd keeps it, shared by jobs.c (the table, peer messages,
 * mps, mkill), runner.c (where it runs), home.c (where its mrun is) and migrate.c and
 * freeze.c (moving it). Not for the rest of the daemon: jobs.h is. One record per job and
 * node: the runner's fields and the home's are apart below, each role's file writes its
 * own (a job that runs at its home has both). */
#ifndef MIGR_JOB_H
#define MIGR_JOB_H

#include <stdint.h>
#include <sys/types.h>

#include "jobio.h"
#include "loop.h"
#include "proto.h"

enum { STREAM_IN = 0, STREAM_OUT = 1, STREAM_ERR = 2 };

#define JOB_SIGS_HELD 16	/* signals a home keeps for a job while it moves */
#define WINDOW (1u << 20)	/* bytes of one stream in flight between runner and home */
#define CHUNK (64 * 1024)	/* bytes of a stream in one frame */
#define HOME_KEEP_ENDED_MS (600 * 1000)	/* a job that ended with nobody attached */

struct migration;

struct job {
	char gpid[MIGR_GPID_MAX + 1];
	char home[MIGR_NAME_MAX + 1];
	char node[MIGR_NAME_MAX + 1];	/* where it runs */
	uint32_t uid;
	uint32_t flags;
	uint32_t moves;
	uint64_t here_since;	/* runner: when it started or landed here (loop_now) */
	struct migration *mig;	/* a move under way, here as source or destination */
	int frozen;		/* source: 1 while a move or a freeze or thaw has it, 2 once it
				 * runs elsewhere */
	int on_disk;		/* frozen to this node's disk (freeze.h): no processes */
	uint64_t disk_ino[3];	/* then: its stdio pipes' inodes, as the images name them */
	char cmd[MIGR_CMD_MAX + 1];

	/* runner: the job runs here */
	int here;
	pid_t init_pid;
	struct holder *holder;	/* its holder (hold.h); NULL once released */
	int start_fd;		/* until the program runs: its set-up's status (launch.h) */
	int start_failed;	/* it never ran: its end is nobody's news */
	int pipe[3];		/* our ends: stdin's write end, stdout's and stderr's read ends */
	int watching[3];
	uint32_t unacked[3];	/* stdout, stderr: sent home, not yet written out there */
	struct mw sent[3];	/* those bytes, sent again to a home that restarted */
	struct mw inq;		/* stdin bytes not yet in the pipe */
	int in_eof, in_broken;
	int exited, status;
	int home_lost;		/* its home is down: its output waits in its pipes */
	uint64_t cpu_ns, cpu_at;	/* last sample, for %CPU */
	double cpu_pct;
	uint64_t rss_kb;		/* last sample */
	unsigned sampled;		/* the sampling round it was last sampled in */
	char cantmove[MIGR_WHY_MAX + 1];	/* what it holds that cannot move ("" if none),
						 * as last sampled (movable.h) */
	int *held;		/* vpids its user had stopped when a move began */
	size_t nheld;

	/* home: mrun talks to us */
	int at_home;
	uint64_t client;	/* 0 once mrun has gone */
	int detached;
	struct user_fd user[3];
	int user_watching[3];
	uint32_t in_unacked;
	int user_in_done;
	int started;
	int migrating;		/* a move is under way: stdin waits */
	int home_frozen;	/* frozen to a disk: stdin and signals but SIGKILL, SIGTERM wait */
	char moving_from[MIGR_NAME_MAX + 1];	/* where it lives on if the move fails */
	char moving_to[MIGR_NAME_MAX + 1];
	char move_origin[MIGR_NAME_MAX + 1];	/* who asked for the move under way */
	uint32_t move_reqid;
	uint8_t sigs_held[JOB_SIGS_HELD];	/* signals sent during a move, in order */
	unsigned nsigs_held;
	int exit_known, exit_status;
	struct loop_timer *start_timer;
	struct loop_timer *keep_timer;	/* an ended job's record, kept for an attach */
	/* home, after a restart: known from its record (homerec.h), no mrun until one
	 * attaches; its output waits (unacked, so the runner keeps the rest) */
	int unattached;
	int resyncing;		/* until its runner answers MSG_JOB_RESYNC: what it sends is
				 * dropped here (it all comes again after the answer) */
	struct mw waiting[3];
	uint32_t pid_there;	/* its pid where it runs, for an mrun that attaches */

	struct job *next;
};


extern struct job *job_list;	/* every job this node knows, in either role */

int is_self(const char *node);
/* Sends a frame to a node by name; to this node it is delivered at once. -1 if the node
 * is unknown or has left; to a node gossip holds dead it is still tried. */
int node_send(const char *node, const struct mw *frame);
/* An answer to a peer's request: the request's id, 0 or a negative errno, and the error's
 * text (sent only with an error). */
void node_reply(const char *node, uint8_t type, uint32_t id, int code, const char *text);
/* 1 if gossip holds the node dead or gone (or knows it not): a user's request for it fails
 * at once rather than waiting out its timeout. */
int node_down(const char *node);
struct job *job_find(const char *gpid);
struct job *job_new(const char *gpid);
/* Frees the job, later, once neither side needs it. */
void job_maybe_free(struct job *j);
void send_simple(const char *to, uint8_t type, const char *gpid, uint32_t value);
/* After delay_ms, ready(gpid) once gossip holds node alive (or it is this node);
 * gave_up(gpid), if given, when it has not within two dead timeouts. What is sent to a
 * node gossip does not know yet is dropped: a migrd that just started waits so. */
void after_node_known(const char *node, const char *gpid, unsigned delay_ms,
		      void (*ready)(const char *gpid), void (*gave_up)(const char *gpid));
void msg_data(struct mw *w, const char *gpid, int stream, const uint8_t *p, size_t n);
/* n bytes of a stream written out: credit back to the sender */
void send_ack(const char *to, const char *gpid, int stream, size_t n);
void command_line(const struct migr_strv *argv, char *out, size_t outlen);
uint64_t job_rss_kb(const struct job *j);
/* Reads a job's CPU time and memory now (jobs_sample does a few jobs each period). */
void job_sample(struct job *j, uint64_t now);
/* What it holds that cannot move, into j->cantmove (movable.h). */
void job_check_movable(struct job *j);

/* runner side (runner.c) */
void runner_watch(struct job *j, int s, int on);
void runner_close(struct job *j, int s);
void runner_check_done(struct job *j);
void runner_start(struct migr_job_spec *s);	/* MSG_JOB_START */
void runner_signal(struct job *j, int sig);
int runner_stdin_in(struct job *j, const uint8_t *data, uint32_t n);	/* <0: bad credit */
void runner_output_acked(struct job *j, int s, uint32_t n);
void runner_resync(const char *from, const char *gpid);	/* its home restarted */
void runner_home_gone(const char *node);
void runner_home_back(const char *node);	/* alive again */

/* home side (home.c) */
void home_started(struct job *j, uint32_t pid);
void home_job_ended(struct job *j, int status);
void home_reply_error(struct job *j, const char *msg);	/* it did not start */
/* -1 if a move holds it and too many signals wait already */
int home_signal(struct job *j, int sig);
void home_output_in(struct job *j, int s, const uint8_t *data, uint32_t n);
void home_stdin_acked(struct job *j, uint32_t n);
void home_resynced(const char *from, const char *gpid, uint8_t answer, uint32_t pid);
void home_node_gone(const char *node);


/* What a move does to a job's records, one function each (migrate.c calls them). */
/* source */
void job_move_begin(struct job *j, struct migration *m);	/* its output waits */
void job_move_frozen(struct job *j);	/* what it wrote before the freeze goes home */
void job_move_hidden(struct job *j);	/* it runs elsewhere now: mps lists it there */
void job_move_resume(struct job *j);	/* it goes on here: SIGCONT, output read again */
void job_move_kill(struct job *j);	/* the stopped copy ends */
void job_move_left(struct job *j);	/* not here any more; no end to report */
/* adopted after a restart, stopped by a move in doubt; stopped_file: those its user had
 * stopped */
void job_move_found(struct job *j, struct migration *m, const char *stopped_file);
/* destination */
struct job *job_arrived(const char *gpid, const char *home, uint32_t uid, uint32_t flags,
			uint32_t moves, const char *cmd, pid_t init, int pipes[3],
			struct holder *holder, struct migration *m);
void job_move_landed(struct job *j);	/* every page in: it is a job like any here */
void job_vanished(struct job *j);	/* its copy here was killed: no end to report */
/* frozen to this node's disk (freeze.c) */
void job_frozen_to_disk(struct job *j);	/* images recorded: its processes end, it stays */
void job_thawed(struct job *j, pid_t init, int pipes[3], struct holder *holder);
							/* it runs here again */
void job_frozen_ended(struct job *j, int status);	/* killed while frozen */
struct job *job_frozen_found(const char *gpid, const char *home, uint32_t uid, uint32_t flags,
			     uint32_t moves, const char *cmd, const uint64_t ino[3],
			     uint64_t rss_kb);	/* at start-up */
/* home */
void home_move_start(struct job *j, const char *to, const char *origin, uint32_t reqid);
void home_move_restored(struct job *j, const char *where);
void home_move_done(struct job *j);
void home_move_aborted(struct job *j);
void home_move_frozen(struct job *j);	/* frozen where it ran; thawed by a move */

/* migrate.c, called from jobs.c */
int migrate_peer_message(const char *from, uint8_t type, const uint8_t *p, size_t n);
void migrate_request(uint64_t client, uint32_t uid, const char *gpid, const char *dest,
		     int mode);
/* A child ended: 1 if it belonged to a migration. */
int migrate_reaped(pid_t pid, int status);
void migrate_node_down(const char *node);
/* migrate.c, for freeze.c: the answer to whoever asked; a refusal, which the home hears too;
 * news for the home (MSG_MIG_FROZEN, MSG_MIG_DONE or MSG_MIG_ABORT); restored tasks join
 * the node's cgroup. */
void migrate_result(const char *origin, uint32_t reqid, int code, const char *msg,
		    uint32_t freeze_ms, uint32_t total_ms, const char *node);
void migrate_refuse(const char *origin, uint32_t reqid, const char *gpid, int code,
		    const char *why);
void migrate_home_news(const char *gpid, const char *home, uint8_t type, const char *text);
void job_join_cgroup(pid_t pid);

#endif
