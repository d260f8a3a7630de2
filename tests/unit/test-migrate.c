/* test-migrate: the rules of a move (migrd/migrate_fsm.c), with no daemon. A small world
 * holds the two copies of a job; each scenario plays events on the source's and the
 * destination's machines as the helpers, the messages and the timers would, applies the
 * actions to the world, and checks what the issue demands: never two running copies, never
 * none, and a copy at the destination that runs on only once it holds every page. Every
 * failure is tried: each helper dying, the link breaking, the other node dying, timers,
 * and messages lost, repeated or out of order. */
#include <config.h>

#include "../../migrd/migrate_fsm.h"
#include "unit.h"

enum copy { NONE, RUNNING, STOPPED, PARTIAL, WHOLE, DEAD };

struct world {
	enum mig_state src, dst;
	enum copy at_src, at_dst;
	unsigned src_acts, dst_acts;	/* every action each machine asked for */
	int results_ok, results_fail;
	int queries, aborts_sent, dones_sent;
};

static void world_init(struct world *w)
{
	*w = (struct world){ .src = SRC_OFFERED, .dst = DST_RECEIVING, .at_src = RUNNING,
			     .at_dst = NONE };
}

/* What the source's actions do to the world. */
static void src_apply(struct world *w, unsigned a)
{
	w->src_acts |= a;
	if (a & ACT_KILL_SOURCE_COPY)
		w->at_src = DEAD;
	if (a & ACT_RESUME_JOB && w->at_src != DEAD)
		w->at_src = RUNNING;
	if (a & ACT_RESULT_OK)
		w->results_ok++;
	if (a & ACT_RESULT_FAIL)
		w->results_fail++;
	if (a & ACT_SEND_QUERY)
		w->queries++;
	if (a & ACT_SEND_ABORT)
		w->aborts_sent++;
}

static void dst_apply(struct world *w, unsigned a)
{
	w->dst_acts |= a;
	if (a & ACT_KILL_DEST_COPY)
		w->at_dst = DEAD;
	if (a & ACT_SEND_DONE)
		w->dones_sent++;
	if (a & ACT_SEND_ABORT)
		w->aborts_sent++;
}

/* One event to the source: 0 if the machine took it, -1 if it ignored it. */
static int src(struct world *w, enum mig_event e)
{
	struct mig_step s;
	if (mig_fsm_step(MIG_SOURCE, w->src, e, &s) < 0)
		return -1;
	w->src = s.next;
	src_apply(w, s.actions);
	return 0;
}

static int dst(struct world *w, enum mig_event e)
{
	struct mig_step s;
	if (mig_fsm_step(MIG_DEST, w->dst, e, &s) < 0)
		return -1;
	w->dst = s.next;
	dst_apply(w, s.actions);
	return 0;
}

/* ---- the world as the helpers change it ---- */

static void frozen(struct world *w)	/* the source's helper dumped the job */
{
	w->at_src = STOPPED;
	src(w, EV_FROZEN);
}

static void restored(struct world *w)	/* the destination's helper restored it */
{
	w->at_dst = PARTIAL;
	dst(w, EV_RESTORED);
}

static void all_pages(struct world *w)	/* ... and installed the last page */
{
	w->at_dst = WHOLE;
	dst(w, EV_DONE);
}

static void dst_helper_gives_up(struct world *w)	/* it kills its copy, then says so */
{
	if (w->at_dst == PARTIAL)
		w->at_dst = DEAD;
	dst(w, EV_ABORTED);
}

/* Up to the point where the job runs at the destination, its pages still coming. */
static void to_serving(struct world *w)
{
	world_init(w);
	src(w, EV_ACCEPTED);
	src(w, EV_CHANNELS_READY);
	frozen(w);
	restored(w);
	src(w, EV_RESTORED);
}

/* The invariant once every machine has settled: one copy runs, and a destination copy
 * that runs holds every page. */
static int one_copy(const struct world *w)
{
	int live = (w->at_src == RUNNING) + (w->at_dst == WHOLE) + (w->at_dst == PARTIAL);
	return live == 1 && w->at_dst != PARTIAL;
}

#define CHECK_ONE_COPY(w)                                                                   \
	(one_copy(w) ? 1 : unit_failf(__FILE__, __LINE__, "one copy (source %d, destination %d)", \
				      (w)->at_src, (w)->at_dst))

static void test_lazy_move(void)
{
	struct world w;
	to_serving(&w);
	CHECK_INT(w.src, ==, SRC_SERVING);
	CHECK_INT(w.dst, ==, DST_FILLING);
	CHECK(w.dst_acts & ACT_ADOPT_JOB);
	CHECK(w.src_acts & ACT_HIDE_JOB);
	all_pages(&w);
	CHECK_INT(w.dst, ==, MIG_COMMITTED);
	CHECK_INT(w.dones_sent, ==, 1);
	CHECK_INT(src(&w, EV_DONE), ==, 0);	/* the helper's word, or the message */
	CHECK_INT(w.src, ==, MIG_COMMITTED);
	CHECK(w.src_acts & ACT_RELEASE_JOB);
	CHECK_INT(w.results_ok, ==, 1);
	CHECK_INT(w.results_fail, ==, 0);
	CHECK_ONE_COPY(&w);
	/* the second of the two (helper and message) changes nothing */
	CHECK_INT(src(&w, EV_DONE), ==, -1);
	CHECK_INT(w.results_ok, ==, 1);
}

static void test_refused_or_unanswered_offer(void)
{
	struct world w;
	world_init(&w);
	src(&w, EV_REFUSED);
	CHECK_INT(w.src, ==, MIG_ABORTED);
	CHECK_INT(w.results_fail, ==, 1);
	CHECK(w.src_acts & ACT_SEND_ABORT);	/* the home hears the move is over */
	CHECK(!(w.src_acts & ACT_STOP_OUTPUT));	/* the job was never touched */
	CHECK_ONE_COPY(&w);
	world_init(&w);
	src(&w, EV_TIMEOUT);
	CHECK_INT(w.src, ==, MIG_ABORTED);
	CHECK(w.src_acts & ACT_SEND_ABORT);	/* a late yes finds nothing to do */
	CHECK_INT(src(&w, EV_ACCEPTED), ==, -1);
	CHECK_ONE_COPY(&w);
}

/* Each failure before the dump: the job never stopped, it goes on. */
static void test_failures_before_the_dump(void)
{
	static const enum mig_event faults[] = { EV_CHANNEL_FAILED, EV_TIMEOUT, EV_PEER_DEAD,
						 EV_FAILED, EV_HELPER_GONE, EV_ABORTED };
	for (size_t i = 0; i < UNIT_COUNT(faults); i++) {
		struct world w;
		UNIT_CTX("%s while starting", mig_event_name(faults[i]));
		world_init(&w);
		src(&w, EV_ACCEPTED);
		CHECK_INT(src(&w, faults[i]), ==, 0);
		CHECK_INT(w.src, ==, MIG_ABORTED);
		CHECK(w.src_acts & ACT_RESUME_JOB);
		CHECK(w.src_acts & ACT_KILL_HELPER);
		CHECK_INT(w.results_fail, ==, 1);
		CHECK_ONE_COPY(&w);
	}
}

static void test_dump_fails_or_its_helper_dies(void)
{
	struct world w;
	world_init(&w);
	src(&w, EV_ACCEPTED);
	src(&w, EV_CHANNELS_READY);
	src(&w, EV_FAILED);	/* criu dump failed: it resumed the job itself */
	CHECK_INT(w.src, ==, MIG_ABORTED);
	CHECK(w.src_acts & ACT_RESUME_JOB);
	CHECK(w.src_acts & ACT_SEND_ABORT);
	CHECK_ONE_COPY(&w);
	/* the helper killed mid-dump: the dump may have left the job stopped as it ended */
	world_init(&w);
	src(&w, EV_ACCEPTED);
	src(&w, EV_CHANNELS_READY);
	w.at_src = STOPPED;
	src(&w, EV_HELPER_GONE);
	CHECK(w.src_acts & ACT_RESUME_AGAIN);
	CHECK_ONE_COPY(&w);
	/* a timer or a dead destination only asks the helper to give up; its word decides */
	world_init(&w);
	src(&w, EV_ACCEPTED);
	src(&w, EV_CHANNELS_READY);
	src(&w, EV_TIMEOUT);
	CHECK_INT(w.src, ==, SRC_DUMPING);
	CHECK(w.src_acts & ACT_HELPER_ABORT);
}

static void test_restore_fails(void)
{
	struct world w;
	world_init(&w);
	src(&w, EV_ACCEPTED);
	src(&w, EV_CHANNELS_READY);
	frozen(&w);
	CHECK(w.src_acts & ACT_DRAIN_OUTPUT);
	dst_helper_gives_up(&w);	/* criu restore failed: nothing ran there */
	CHECK_INT(w.dst, ==, MIG_ABORTED);
	CHECK(w.dst_acts & ACT_SEND_ABORT);
	CHECK(!(w.dst_acts & ACT_ADOPT_JOB));
	src(&w, EV_ABORTED);	/* its message, or the source's helper hearing it */
	CHECK_INT(w.src, ==, MIG_ABORTED);
	CHECK(w.src_acts & ACT_RESUME_JOB);
	CHECK_ONE_COPY(&w);
}

/* Late failures, mid page transfer: the destination's copy goes, the source's resumes. */
static void test_failures_mid_transfer(void)
{
	struct world w;
	/* the destination's helper (or lazy-pages) dies: its migrd kills the copy */
	to_serving(&w);
	dst(&w, EV_HELPER_GONE);
	CHECK(w.dst_acts & ACT_KILL_DEST_COPY);
	src(&w, EV_ABORTED);
	CHECK_INT(w.src, ==, MIG_ABORTED);
	CHECK_ONE_COPY(&w);
	/* the destination's migrd dies: its helper gives up (its output would go nowhere) */
	to_serving(&w);
	dst_helper_gives_up(&w);
	src(&w, EV_ABORTED);
	CHECK_ONE_COPY(&w);
	/* the destination node dies: the helper is told to give up, cannot hear a
	 * confirmation, doubts; the node is dead: the copy here resumes */
	to_serving(&w);
	w.at_dst = DEAD;
	src(&w, EV_PEER_DEAD);
	CHECK_INT(w.src, ==, SRC_SERVING);
	CHECK(w.src_acts & ACT_HELPER_ABORT);
	CHECK_INT(w.at_src, ==, STOPPED);
	src(&w, EV_DOUBT);
	src(&w, EV_PEER_DEAD);
	CHECK_INT(w.src, ==, MIG_ABORTED);
	CHECK(w.src_acts & ACT_RESUME_JOB);
	CHECK_ONE_COPY(&w);
	/* only the source's migrd dies: gossip says so at the destination, whose helper,
	 * still fed by the source's helper, finishes the move */
	to_serving(&w);
	CHECK_INT(dst(&w, EV_PEER_DEAD), ==, 0);
	CHECK_INT(w.dst, ==, DST_FILLING);
	CHECK(!(w.dst_acts & ACT_HELPER_ABORT));
	all_pages(&w);
	src(&w, EV_DONE);
	CHECK_ONE_COPY(&w);
}

/* The link breaks after the images left: neither side guesses. */
static void test_link_breaks(void)
{
	struct world w;
	/* before the last page: the destination gives up, the query says so */
	to_serving(&w);
	src(&w, EV_DOUBT);
	CHECK_INT(w.src, ==, SRC_IN_DOUBT);
	CHECK_INT(w.queries, ==, 1);
	CHECK_INT(w.at_src, ==, STOPPED);	/* not resumed on a guess */
	dst_helper_gives_up(&w);
	CHECK_INT(dst(&w, EV_QUERY), ==, 0);
	src(&w, EV_ABORTED);
	CHECK_INT(w.src, ==, MIG_ABORTED);
	CHECK_ONE_COPY(&w);
	/* right after the last page: the destination has it all, the source never heard */
	to_serving(&w);
	all_pages(&w);
	src(&w, EV_DOUBT);
	CHECK_INT(w.src, ==, SRC_IN_DOUBT);
	int dones = w.dones_sent;
	CHECK_INT(dst(&w, EV_QUERY), ==, 0);
	CHECK_INT(w.dones_sent, ==, dones + 1);	/* the answer */
	src(&w, EV_DONE);
	CHECK_INT(w.src, ==, MIG_COMMITTED);
	CHECK(w.src_acts & ACT_KILL_SOURCE_COPY);
	CHECK_ONE_COPY(&w);
	/* no answer: ask again, until the destination answers or is declared dead */
	to_serving(&w);
	src(&w, EV_HELPER_GONE);
	for (int i = 0; i < 5; i++)
		src(&w, EV_TIMEOUT);
	CHECK_INT(w.src, ==, SRC_IN_DOUBT);
	CHECK_INT(w.queries, ==, 6);
	w.at_dst = DEAD;	/* its node died, and its copy with it */
	src(&w, EV_PEER_DEAD);
	CHECK_INT(w.src, ==, MIG_ABORTED);
	CHECK_ONE_COPY(&w);
}

/* Messages lost, repeated or out of order change nothing they should not. */
static void test_lost_and_reordered_messages(void)
{
	struct world w;
	/* RESTORED lost: DONE alone commits */
	world_init(&w);
	src(&w, EV_ACCEPTED);
	src(&w, EV_CHANNELS_READY);
	frozen(&w);
	restored(&w);
	all_pages(&w);
	src(&w, EV_DONE);
	CHECK_INT(w.src, ==, MIG_COMMITTED);
	CHECK_ONE_COPY(&w);
	/* RESTORED after DONE, ABORT after COMMIT, ACCEPT twice: ignored */
	CHECK_INT(src(&w, EV_RESTORED), ==, -1);
	CHECK_INT(src(&w, EV_ABORTED), ==, -1);
	CHECK_INT(src(&w, EV_ACCEPTED), ==, -1);
	CHECK_INT(w.results_ok + w.results_fail, ==, 1);
	/* a second RESTORED while serving */
	to_serving(&w);
	CHECK_INT(src(&w, EV_RESTORED), ==, -1);
	/* frozen reported twice, channels ready twice */
	world_init(&w);
	src(&w, EV_ACCEPTED);
	src(&w, EV_CHANNELS_READY);
	CHECK_INT(src(&w, EV_CHANNELS_READY), ==, -1);
	frozen(&w);
	CHECK_INT(src(&w, EV_FROZEN), ==, -1);
	/* the destination: restored or done again, a query while it works */
	to_serving(&w);
	CHECK_INT(dst(&w, EV_RESTORED), ==, -1);
	CHECK_INT(dst(&w, EV_QUERY), ==, 0);
	CHECK_INT(w.dst, ==, DST_FILLING);
	all_pages(&w);
	CHECK_INT(dst(&w, EV_DONE), ==, -1);
	CHECK_INT(dst(&w, EV_ABORTED), ==, -1);	/* committed is final */
}

static void test_every_event_in_every_state(void)
{
	/* no step leaves a state machine in a state of the other role, and every final
	 * state stays final for the source */
	for (int role = MIG_SOURCE; role <= MIG_DEST; role++)
		for (int s = 0; s < MIG_NSTATES; s++)
			for (int e = 0; e < MIG_NEVENTS; e++) {
				struct mig_step st;
				UNIT_CTX("%s %s %s", role == MIG_SOURCE ? "source" : "dest",
					 mig_state_name(s), mig_event_name(e));
				if (mig_fsm_step(role, s, e, &st) < 0)
					continue;
				int src_state = st.next <= SRC_IN_DOUBT;
				int dst_state = st.next == DST_RECEIVING || st.next == DST_FILLING;
				CHECK(!(role == MIG_SOURCE && dst_state));
				CHECK(!(role == MIG_DEST && src_state));
				CHECK(!(role == MIG_SOURCE && mig_state_final(s)));
				/* a source never both resumes its copy and commits */
				CHECK(!((st.actions & ACT_RESUME_JOB) && (st.actions & ACT_RELEASE_JOB)));
				/* a final state has no timer */
				CHECK(!(mig_state_final(st.next) && st.timer_ms));
			}
}

int main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		UNIT(test_lazy_move),
		UNIT(test_refused_or_unanswered_offer),
		UNIT(test_failures_before_the_dump),
		UNIT(test_dump_fails_or_its_helper_dies),
		UNIT(test_restore_fails),
		UNIT(test_failures_mid_transfer),
		UNIT(test_link_breaks),
		UNIT(test_lost_and_reordered_messages),
		UNIT(test_every_event_in_every_state),
	};
	return unit_main(argc, argv, tests, UNIT_COUNT(tests));
}
