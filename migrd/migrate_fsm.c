/* migrate_fsm.c: the rules of a move (see migrate_fsm.h): one switch over the state, one
 * over the event, as bgpd's session FSM is written. */
#include <config.h>

#include "migrate_fsm.h"

static const char *const state_names[MIG_NSTATES] = {
	[SRC_OFFERED] = "offered",	[SRC_STARTING] = "starting",
	[SRC_DUMPING] = "dumping",	[SRC_FROZEN] = "frozen",
	[SRC_SERVING] = "serving",	[SRC_IN_DOUBT] = "in-doubt",
	[DST_RECEIVING] = "receiving",	[DST_FILLING] = "filling",
	[MIG_COMMITTED] = "committed",	[MIG_ABORTED] = "aborted",
};

static const char *const event_names[MIG_NEVENTS] = {
	[EV_ACCEPTED] = "accepted",	    [EV_REFUSED] = "refused",
	[EV_CHANNELS_READY] = "channels-ready", [EV_CHANNEL_FAILED] = "channel-failed",
	[EV_FROZEN] = "frozen",		    [EV_RESTORED] = "restored",
	[EV_DONE] = "done",		    [EV_ABORTED] = "aborted",
	[EV_FAILED] = "failed",		    [EV_DOUBT] = "doubt",
	[EV_HELPER_GONE] = "helper-gone",   [EV_PEER_DEAD] = "peer-dead",
	[EV_TIMEOUT] = "timeout",	    [EV_QUERY] = "query",
};

const char *mig_state_name(enum mig_state s)
{
	return s < MIG_NSTATES && state_names[s] ? state_names[s] : "?";
}

const char *mig_event_name(enum mig_event e)
{
	return e < MIG_NEVENTS && event_names[e] ? event_names[e] : "?";
}

int mig_state_final(enum mig_state s)
{
	return s == MIG_COMMITTED || s == MIG_ABORTED;
}

static void go(struct mig_step *out, enum mig_state next, unsigned actions, unsigned timer)
{
	out->next = next;
	out->actions = actions;
	out->timer_ms = timer;
}

/* The source's copy goes on here: nothing of it runs anywhere else. */
#define ROLL_BACK (ACT_RESUME_JOB | ACT_RESULT_FAIL | ACT_FINISH)
/* The destination holds every page: the copy here is not wanted any more. */
#define COMMIT (ACT_KILL_SOURCE_COPY | ACT_RELEASE_JOB | ACT_RESULT_OK | ACT_FINISH)

static int source_step(enum mig_state s, enum mig_event e, struct mig_step *out)
{
	switch (s) {
	case SRC_OFFERED:
		/* nothing has touched the job yet */
		switch (e) {
		case EV_ACCEPTED:
			go(out, SRC_STARTING, ACT_OPEN_CHANNELS | ACT_STOP_OUTPUT, MIG_START_MS);
			return 0;
		case EV_REFUSED:
		case EV_PEER_DEAD:
		case EV_TIMEOUT:
			/* the home marked the job as moving when it sent the request on: the abort
			 * tells it the move is over (a destination that refused, or is dead,
			 * ignores it) */
			go(out, MIG_ABORTED, ACT_SEND_ABORT | ACT_RESULT_FAIL | ACT_FINISH, 0);
			return 0;
		default:
			return -1;
		}
	case SRC_STARTING:
		/* the helper dumps only once it holds both channels: the job still runs */
		switch (e) {
		case EV_CHANNELS_READY:
			go(out, SRC_DUMPING, 0, MIG_DUMP_MS);
			return 0;
		case EV_CHANNEL_FAILED:
		case EV_TIMEOUT:
		case EV_PEER_DEAD:
		case EV_FAILED:
		case EV_HELPER_GONE:
		case EV_ABORTED:
			go(out, MIG_ABORTED, ACT_KILL_HELPER | ACT_SEND_ABORT | ROLL_BACK, 0);
			return 0;
		default:
			return -1;
		}
	case SRC_DUMPING:
		switch (e) {
		case EV_FROZEN:
			go(out, SRC_FROZEN, ACT_DRAIN_OUTPUT, MIG_FROZEN_MS);
			return 0;
		case EV_FAILED:
		case EV_ABORTED:
			/* criu resumed the job, or the images never left */
			go(out, MIG_ABORTED, ACT_SEND_ABORT | ROLL_BACK, 0);
			return 0;
		case EV_HELPER_GONE:
			/* its dump dies with it and the job runs on; a dump that had just ended
			 * left it stopped: resume it, now and once more when that is surely over */
			go(out, MIG_ABORTED, ACT_SEND_ABORT | ACT_RESUME_AGAIN | ROLL_BACK, 0);
			return 0;
		case EV_TIMEOUT:
		case EV_PEER_DEAD:
			go(out, SRC_DUMPING, ACT_HELPER_ABORT, MIG_DUMP_MS);
			return 0;
		default:
			return -1;
		}
	case SRC_FROZEN:
	case SRC_SERVING:
		switch (e) {
		case EV_RESTORED:
			if (s == SRC_SERVING)
				return -1;
			go(out, SRC_SERVING, ACT_HIDE_JOB, MIG_PAGES_MS);
			return 0;
		case EV_DONE:
			go(out, MIG_COMMITTED, COMMIT, 0);
			return 0;
		case EV_ABORTED:
			go(out, MIG_ABORTED, ACT_SEND_ABORT | ROLL_BACK, 0);
			return 0;
		case EV_DOUBT:
		case EV_HELPER_GONE:
			go(out, SRC_IN_DOUBT, ACT_SEND_QUERY, MIG_QUERY_MS);
			return 0;
		case EV_PEER_DEAD:
		case EV_TIMEOUT:
			/* the helper gives up: it resumes the job once the destination confirms,
			 * or reports its doubt if it cannot hear (a dead node, a cut link) */
			go(out, s, ACT_HELPER_ABORT, s == SRC_FROZEN ? MIG_FROZEN_MS : MIG_PAGES_MS);
			return 0;
		default:
			return -1;
		}
	case SRC_IN_DOUBT:
		switch (e) {
		case EV_DONE:
			go(out, MIG_COMMITTED, COMMIT, 0);
			return 0;
		case EV_ABORTED:
		case EV_PEER_DEAD:
			go(out, MIG_ABORTED, ACT_SEND_ABORT | ROLL_BACK, 0);
			return 0;
		case EV_TIMEOUT:
			go(out, SRC_IN_DOUBT, ACT_SEND_QUERY, MIG_QUERY_MS);
			return 0;
		default:
			return -1;	/* the helper's last words after its doubt: already known */
		}
	default:
		return -1;
	}
}

static int dest_step(enum mig_state s, enum mig_event e, struct mig_step *out)
{
	switch (s) {
	case DST_RECEIVING:
		/* nothing runs here yet */
		switch (e) {
		case EV_RESTORED:
			go(out, DST_FILLING, ACT_ADOPT_JOB | ACT_SEND_RESTORED, MIG_PAGES_MS);
			return 0;
		case EV_ABORTED:
		case EV_FAILED:
		case EV_HELPER_GONE:
			go(out, MIG_ABORTED, ACT_SEND_ABORT | ACT_FINISH, 0);
			return 0;
		case EV_TIMEOUT:
			go(out, DST_RECEIVING, ACT_HELPER_ABORT, MIG_RECEIVE_MS);
			return 0;
		case EV_PEER_DEAD:
			/* gossip says the source's migrd is gone; its helper may be serving on:
			 * the helper here watches the channels themselves */
			go(out, DST_RECEIVING, 0, MIG_RECEIVE_MS);
			return 0;
		case EV_QUERY:
			go(out, DST_RECEIVING, 0, MIG_RECEIVE_MS);	/* the helper will say */
			return 0;
		default:
			return -1;
		}
	case DST_FILLING:
		switch (e) {
		case EV_DONE:
			go(out, MIG_COMMITTED, ACT_SEND_DONE | ACT_FINISH, 0);
			return 0;
		case EV_ABORTED:
		case EV_FAILED:
		case EV_HELPER_GONE:
			go(out, MIG_ABORTED, ACT_KILL_DEST_COPY | ACT_SEND_ABORT | ACT_FINISH, 0);
			return 0;
		case EV_TIMEOUT:
			go(out, DST_FILLING, ACT_HELPER_ABORT, MIG_PAGES_MS);
			return 0;
		case EV_PEER_DEAD:
			go(out, DST_FILLING, 0, MIG_PAGES_MS);
			return 0;
		case EV_QUERY:
			go(out, DST_FILLING, 0, MIG_PAGES_MS);	/* the helper will say */
			return 0;
		default:
			return -1;
		}
	case MIG_COMMITTED:
		if (e != EV_QUERY)
			return -1;
		go(out, MIG_COMMITTED, ACT_SEND_DONE, 0);
		return 0;
	case MIG_ABORTED:
		if (e != EV_QUERY)
			return -1;
		go(out, MIG_ABORTED, ACT_SEND_ABORT, 0);
		return 0;
	default:
		return -1;
	}
}

int mig_fsm_step(enum mig_role role, enum mig_state state, enum mig_event event,
		 struct mig_step *out)
{
	if (state >= MIG_NSTATES || event >= MIG_NEVENTS)
		return -1;
	return role == MIG_SOURCE ? source_step(state, event, out) : dest_step(state, event, out);
}
