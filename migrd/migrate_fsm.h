/* migrate_fsm.h: the rules of a move, as a state machine with no I/O (like gossip.c and
 * balance_policy.c): for each role, state and event, the next state and what to do.
 * migrate.c feeds it events (messages, the helper's reports, timers, gossip) and carries out
 * the actions; the unit tests drive it through every failure.
 *
 * What it guarantees: never two running copies, never none. The source's copy is stopped
 * from the dump on and ends only when the destination holds every page (DONE); it is
 * resumed when the destination's copy is known gone (ABORTED, or the destination node
 * dead). When the link breaks after the images left, neither is assumed: the source asks
 * the destination (IN_DOUBT) until it answers or is declared dead. The destination kills
 * its copy on any failure before DONE. */
#ifndef MIGR_MIGRATE_FSM_H
#define MIGR_MIGRATE_FSM_H

enum mig_role { MIG_SOURCE, MIG_DEST };

enum mig_state {
	/* source */
	SRC_OFFERED,	/* the offer is out */
	SRC_STARTING,	/* accepted: the move's channels open, its helper waits for them */
	SRC_DUMPING,	/* the helper dumps: the job freezes */
	SRC_FROZEN,	/* dumped; images on their way; not yet running at the destination */
	SRC_SERVING,	/* it runs at the destination; its pages come from here */
	SRC_IN_DOUBT,	/* the link broke after the images left: the destination is asked */
	/* destination */
	DST_RECEIVING,	/* accepted: images coming, then the restore */
	DST_FILLING,	/* restored: the job runs here while its pages come */
	/* the ends, both roles */
	MIG_COMMITTED,	/* the job is at the destination, whole */
	MIG_ABORTED,	/* the job is at the source */
	MIG_NSTATES
};

enum mig_event {
	EV_ACCEPTED,		/* source: the destination said yes */
	EV_REFUSED,		/* source: it said no */
	EV_CHANNELS_READY,	/* source: both channels are with the helper */
	EV_CHANNEL_FAILED,	/* source: a channel could not be opened */
	EV_FROZEN,		/* source: the helper dumped the job */
	EV_RESTORED,		/* the job runs at the destination (helper there, message here) */
	EV_DONE,		/* the destination holds every page (helper or message) */
	EV_ABORTED,		/* the destination's copy is gone, or never was */
	EV_FAILED,		/* source: the helper failed before anything left; the job runs */
	EV_DOUBT,		/* source: the helper lost the link after the images left */
	EV_HELPER_GONE,		/* the helper ended without its last word */
	EV_PEER_DEAD,		/* gossip: the other node is dead */
	EV_TIMEOUT,		/* the state's timer ran out */
	EV_QUERY,		/* destination: the source asks how the move ended */
	MIG_NEVENTS
};

enum mig_action {
	ACT_OPEN_CHANNELS = 1 << 0,	/* source: the two channels, to the helper */
	ACT_STOP_OUTPUT = 1 << 1,	/* source: the job's output waits in its pipes */
	ACT_DRAIN_OUTPUT = 1 << 2,	/* source: what it wrote before the freeze goes home */
	ACT_RESUME_JOB = 1 << 3,	/* source: SIGCONT, its output read again */
	ACT_KILL_SOURCE_COPY = 1 << 4,	/* source: the stopped copy ends */
	ACT_RELEASE_JOB = 1 << 5,	/* source: the job is not here any more */
	ACT_HIDE_JOB = 1 << 6,		/* source: mps lists it where it runs now */
	ACT_ADOPT_JOB = 1 << 7,		/* destination: the restored job is ours */
	ACT_KILL_DEST_COPY = 1 << 8,	/* destination: the restored copy ends, unreported */
	ACT_HELPER_ABORT = 1 << 9,	/* tell the helper to give up (it reports how it ended) */
	ACT_KILL_HELPER = 1 << 10,	/* the helper is of no more use */
	ACT_SEND_QUERY = 1 << 11,	/* source -> destination */
	ACT_SEND_RESTORED = 1 << 12,	/* destination -> source and home */
	ACT_SEND_DONE = 1 << 13,	/* destination -> source and home */
	ACT_SEND_ABORT = 1 << 14,	/* -> the other side and home */
	ACT_RESULT_OK = 1 << 15,	/* source -> whoever asked for the move */
	ACT_RESULT_FAIL = 1 << 16,
	ACT_FINISH = 1 << 17,		/* the move's bookkeeping ends (its outcome is kept) */
	ACT_RESUME_AGAIN = 1 << 18,	/* source: SIGCONT once more later (a dump that ends as
					 * its helper dies leaves the job stopped) */
};

struct mig_step {
	enum mig_state next;
	unsigned actions;
	unsigned timer_ms;	/* 0: no timer in the next state */
};

/* The step for event in state: 0, or -1 when the event means nothing there (a stale,
 * duplicate or misplaced report or message), in which case nothing changes. */
int mig_fsm_step(enum mig_role role, enum mig_state state, enum mig_event event,
		 struct mig_step *out);
int mig_state_final(enum mig_state state);
const char *mig_state_name(enum mig_state state);
const char *mig_event_name(enum mig_event event);

/* Timers: the helpers watch their links (a silent one is broken within 10 s); these are
 * backstops, and the re-asking of a destination in doubt. */
#define MIG_OFFER_MS 5000
#define MIG_START_MS 15000
#define MIG_DUMP_MS 90000
#define MIG_FROZEN_MS 120000
#define MIG_PAGES_MS 600000
#define MIG_QUERY_MS 2000
#define MIG_RECEIVE_MS 120000

#endif
