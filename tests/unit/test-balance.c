/* test-balance: the load balancer's policy (migrd/balance_policy.c), with no daemon: when a
 * job moves, which one, where, and when a destination refuses. */
#include <config.h>

#include "../../migrd/balance_policy.h"
#include "unit.h"

static const struct bal_params params = {
	.margin = 0.25,
	.residency_ms = 3000,
	.mem_low_kb = 256 * 1024,
	.link_kb_per_s = 100 * 1024,
	.fresh_move_ms = 1000,
};

#define GIB (1024 * 1024)	/* in kB */

/* n CPU-bound jobs of 2 MiB that moved once, resident long enough, each getting a fair share
 * of cpus */
static void busy_jobs(struct bal_job *jobs, int n, double cpus)
{
	static const char *names[] = { "a.1", "a.2", "a.3", "a.4", "a.5", "a.6",
				       "a.7", "a.8", "a.9", "a.10", "a.11", "a.12" };
	for (int i = 0; i < n; i++)
		jobs[i] = (struct bal_job){ .gpid = names[i], .cpu_pct = 100.0 * cpus / n,
					    .rss_kb = 2048, .resident_ms = 10000, .moves = 1,
					    .movable = 1 };
}

static int decide(double self_load, double self_cpus, const struct bal_node *peers, size_t np,
		  struct bal_job *jobs, size_t nj, struct bal_decision *d)
{
	struct bal_node self = { "a", self_load, self_cpus, 8 * GIB };
	return balance_decide(&params, &self, peers, np, jobs, nj, d);
}

static void test_overloaded_moves_to_lightest(void)
{
	struct bal_node peers[] = { { "b", 1.0, 1, 8 * GIB }, { "c", 0.0, 1, 8 * GIB } };
	struct bal_job jobs[12];
	busy_jobs(jobs, 12, 1);
	jobs[5].rss_kb = 1024;	/* the cheapest to move */
	struct bal_decision d;
	if (!CHECK_INT(decide(12, 1, peers, 2, jobs, 12, &d), ==, 1))
		return;
	CHECK_STR(peers[d.node].name, "c");
	CHECK_STR(jobs[d.job].gpid, "a.6");
	CHECK(strstr(d.reason, "load 12.00/CPU here") != NULL);
}

static void test_even_enough_stays(void)
{
	struct bal_job jobs[4];
	busy_jobs(jobs, 4, 1);
	struct bal_decision d;
	/* 4 against 3: moving one would make it 3 against 4 */
	struct bal_node three[] = { { "b", 3.0, 1, 8 * GIB } };
	CHECK_INT(decide(4, 1, three, 1, jobs, 4, &d), ==, 0);
	/* 4 against 2 evens out to 3 and 3 */
	struct bal_node two[] = { { "b", 2.0, 1, 8 * GIB } };
	CHECK_INT(decide(4, 1, two, 1, jobs, 4, &d), ==, 1);
	/* the same with noisy samples: 3.9 against 2.1 */
	two[0].load = 2.1;
	CHECK_INT(decide(3.9, 1, two, 1, jobs, 4, &d), ==, 1);
	/* a gap within the margin */
	struct bal_node close[] = { { "b", 0.9, 1, 8 * GIB } };
	busy_jobs(jobs, 1, 1);
	CHECK_INT(decide(1.1, 1, close, 1, jobs, 1, &d), ==, 0);
}

static void test_node_speeds(void)
{
	/* 3 tasks on 1 CPU against 4 on 2 CPUs: moving one would load the faster node more */
	struct bal_node fast[] = { { "b", 2.0, 2, 8 * GIB } };
	struct bal_job jobs[3];
	busy_jobs(jobs, 3, 1);
	struct bal_decision d;
	CHECK_INT(decide(3, 1, fast, 1, jobs, 3, &d), ==, 0);
	/* 3 on 1 CPU against 2 on 2 CPUs: 2 and 1.5 after the move */
	fast[0].load = 1.0;
	CHECK_INT(decide(3, 1, fast, 1, jobs, 3, &d), ==, 1);
}

static void test_what_never_moves(void)
{
	struct bal_node peers[] = { { "b", 0.0, 1, 8 * GIB } };
	struct bal_job jobs[4];
	struct bal_decision d;
	busy_jobs(jobs, 4, 1);
	for (int i = 0; i < 4; i++)
		jobs[i].movable = 0;	/* --no-migrate, or being moved */
	CHECK_INT(decide(4, 1, peers, 1, jobs, 4, &d), ==, 0);
	busy_jobs(jobs, 4, 1);
	for (int i = 0; i < 4; i++)
		jobs[i].resident_ms = 2999;	/* not resident long enough */
	CHECK_INT(decide(4, 1, peers, 1, jobs, 4, &d), ==, 0);
	busy_jobs(jobs, 4, 1);
	for (int i = 0; i < 4; i++)
		jobs[i].cpu_pct = 0.5;	/* sleepers: not CPU-bound */
	CHECK_INT(decide(4, 1, peers, 1, jobs, 4, &d), ==, 0);
	CHECK_INT(decide(4, 1, peers, 0, jobs, 4, &d), ==, 0);	/* nowhere to go */
}

static void test_oversubscribed_host(void)
{
	/* every job gets less than its fair share (the host has fewer CPUs than the nodes
	 * claim), all alike: they are still CPU-bound */
	struct bal_node peers[] = { { "b", 0.0, 1, 8 * GIB } };
	struct bal_job jobs[6];
	busy_jobs(jobs, 6, 1);
	for (int i = 0; i < 6; i++)
		jobs[i].cpu_pct = 5;
	struct bal_decision d;
	CHECK_INT(decide(6, 1, peers, 1, jobs, 6, &d), ==, 1);
}

static void test_cost_of_moving(void)
{
	/* a 10 GiB job over 100 MiB/s takes 100 s to move, repaid over 3 s: not worth it */
	struct bal_node peers[] = { { "b", 0.0, 1, 64 * GIB } };
	struct bal_job jobs[3];
	busy_jobs(jobs, 3, 1);
	for (int i = 0; i < 3; i++)
		jobs[i].rss_kb = 10 * GIB;
	struct bal_decision d;
	CHECK_INT(decide(3, 1, peers, 1, jobs, 3, &d), ==, 0);
	jobs[1].rss_kb = 2048;
	CHECK_INT(decide(3, 1, peers, 1, jobs, 3, &d), ==, 1);
	CHECK_STR(jobs[d.job].gpid, "a.2");
}

static void test_memory_pressure(void)
{
	struct bal_node self = { "a", 0.5, 1, 100 * 1024 };	/* 100 MiB free */
	struct bal_node peers[] = { { "b", 0.0, 1, 1 * GIB }, { "c", 2.0, 1, 4 * GIB } };
	struct bal_job jobs[3];
	busy_jobs(jobs, 3, 1);
	jobs[0].rss_kb = 512 * 1024;
	jobs[1].rss_kb = 8 * GIB;	/* fits nowhere */
	jobs[2].rss_kb = 64 * 1024;
	struct bal_decision d;
	if (!CHECK_INT(balance_decide(&params, &self, peers, 2, jobs, 3, &d), ==, 1))
		return;
	CHECK_STR(peers[d.node].name, "c");	/* the most free memory, though busier */
	CHECK_STR(jobs[d.job].gpid, "a.1");	/* the largest that fits */
	CHECK(strstr(d.reason, "memory:") == d.reason);
}

static void test_freeze_when_no_node_has_room(void)
{
	struct bal_node self = { "a", 0.5, 1, 100 * 1024 };	/* 100 MiB free */
	struct bal_node peers[] = { { "b", 0.0, 1, 600 * 1024 }, { "c", 0.0, 1, 900 * 1024, 1 } };
	struct bal_job jobs[3];
	busy_jobs(jobs, 3, 1);
	jobs[0].rss_kb = 400 * 1024;
	jobs[1].rss_kb = 700 * 1024;
	jobs[2].rss_kb = 500 * 1024;
	struct bal_decision d;
	/* b has 600 MiB: none fits with 256 to spare; c has more but is drained */
	if (!CHECK_INT(balance_freeze_pick(&params, &self, peers, 2, jobs, 3, &d), ==, 1))
		return;
	CHECK_STR(jobs[d.job].gpid, "a.2");	/* the largest */
	CHECK(strstr(d.reason, "is frozen") != NULL);
	/* one that fits somewhere: moved, not frozen */
	jobs[0].rss_kb = 300 * 1024;
	CHECK_INT(balance_freeze_pick(&params, &self, peers, 2, jobs, 3, &d), ==, 0);
	jobs[0].rss_kb = 400 * 1024;
	/* enough memory here: nothing is frozen */
	self.mem_free_kb = 300 * 1024;
	CHECK_INT(balance_freeze_pick(&params, &self, peers, 2, jobs, 3, &d), ==, 0);
	self.mem_free_kb = 100 * 1024;
	/* not movable, or not resident long enough: never frozen */
	jobs[1].movable = 0;
	jobs[2].resident_ms = 100;
	CHECK_INT(balance_freeze_pick(&params, &self, peers, 2, jobs, 3, &d), ==, 1);
	CHECK_STR(jobs[d.job].gpid, "a.1");
	jobs[0].movable = 0;
	CHECK_INT(balance_freeze_pick(&params, &self, peers, 2, jobs, 3, &d), ==, 0);
	/* alone in the cluster */
	jobs[0].movable = 1;
	CHECK_INT(balance_freeze_pick(&params, &self, NULL, 0, jobs, 3, &d), ==, 1);
}

static void test_thaw_where_there_is_room(void)
{
	struct bal_node self = { "a", 0.5, 1, 700 * 1024 };
	struct bal_node peers[] = { { "b", 0.0, 1, 1 * GIB }, { "c", 0.0, 1, 2 * GIB, 1 } };
	struct bal_job frozen[2];
	busy_jobs(frozen, 2, 1);
	frozen[0].rss_kb = 400 * 1024;	/* 912 MiB wanted: b has it */
	frozen[0].resident_ms = 5000;
	frozen[1].rss_kb = 100 * 1024;	/* 612 MiB wanted: here has it */
	frozen[1].resident_ms = 9000;
	struct bal_decision d;
	if (!CHECK_INT(balance_thaw_pick(&params, &self, peers, 2, frozen, 2, &d), ==, 1))
		return;
	CHECK_STR(frozen[d.job].gpid, "a.2");	/* frozen longest */
	CHECK_INT(d.node, ==, 2);		/* here */
	frozen[1].movable = 0;			/* one being thawed already */
	if (!CHECK_INT(balance_thaw_pick(&params, &self, peers, 2, frozen, 2, &d), ==, 1))
		return;
	CHECK_STR(frozen[d.job].gpid, "a.1");
	CHECK_STR(peers[d.node].name, "b");
	CHECK(strstr(d.reason, "on b") != NULL);
	/* frozen for less than the residency: it stays so */
	frozen[0].resident_ms = 1000;
	CHECK_INT(balance_thaw_pick(&params, &self, peers, 2, frozen, 2, &d), ==, 0);
	frozen[0].resident_ms = 5000;
	/* room only with less than twice the threshold to spare: it stays frozen */
	peers[0].mem_free_kb = 800 * 1024;
	CHECK_INT(balance_thaw_pick(&params, &self, peers, 2, frozen, 2, &d), ==, 0);
	/* a drained node takes none back, not even itself */
	self.mem_free_kb = 4 * GIB;
	self.drained = 1;
	CHECK_INT(balance_thaw_pick(&params, &self, peers, 2, frozen, 2, &d), ==, 0);
}

static void test_destination_admission(void)
{
	char why[256] = "";
	struct bal_node source = { "a", 4.0, 1, 8 * GIB };
	struct bal_node dest = { "b", 1.0, 1, 8 * GIB };
	CHECK_INT(balance_accept(&dest, &source, 2048, 256 * 1024, why, sizeof(why)), ==, 1);
	/* moves already under way make it as busy as the source would be */
	dest.load = 3.0;
	CHECK_INT(balance_accept(&dest, &source, 2048, 256 * 1024, why, sizeof(why)), ==, 0);
	CHECK(strstr(why, "b is busy enough") == why);
	/* no room */
	dest.load = 0;
	dest.mem_free_kb = 200 * 1024;
	CHECK_INT(balance_accept(&dest, &source, 2048, 256 * 1024, why, sizeof(why)), ==, 0);
	CHECK(strstr(why, "too little free memory") != NULL);
	/* a move for memory's sake need not help the CPU load */
	dest = (struct bal_node){ "b", 3.0, 1, 8 * GIB };
	source.mem_free_kb = 100 * 1024;
	CHECK_INT(balance_accept(&dest, &source, 2048, 256 * 1024, why, sizeof(why)), ==, 1);
}

static void test_fresh_jobs_move_at_once(void)
{
	/* a burst just started on this node: no job has been here the residency */
	struct bal_node peers[] = { { "b", 0.0, 1, 8 * GIB }, { "c", 0.0, 1, 8 * GIB } };
	struct bal_job jobs[6];
	struct bal_decision d;
	busy_jobs(jobs, 6, 1);
	for (int i = 0; i < 6; i++) {
		jobs[i].resident_ms = 500;
		jobs[i].moves = 0;
	}
	CHECK_INT(decide(6, 1, peers, 2, jobs, 6, &d), ==, 1);
	/* one that moved already waits for its residency: it may not bounce on */
	for (int i = 0; i < 6; i++)
		jobs[i].moves = 1;
	CHECK_INT(decide(6, 1, peers, 2, jobs, 6, &d), ==, 0);
	/* one that would take long to move (2 GiB at 100 MiB/s: 20 s) waits too */
	for (int i = 0; i < 6; i++) {
		jobs[i].moves = 0;
		jobs[i].rss_kb = 2 * GIB;
	}
	CHECK_INT(decide(6, 1, peers, 2, jobs, 6, &d), ==, 0);
	/* of the fresh and the moved, the fresh one goes, though the other is cheaper */
	busy_jobs(jobs, 2, 1);
	jobs[0].rss_kb = 1024;
	jobs[1].moves = 0;
	jobs[1].resident_ms = 100;
	if (CHECK_INT(decide(6, 1, peers, 2, jobs, 2, &d), ==, 1))
		CHECK_STR(jobs[d.job].gpid, "a.2");
}

/* The burst of issue 17: twelve jobs on one of three nodes of 0.5 CPU. */
static void test_plan_spreads_a_burst(void)
{
	struct bal_node self = { "a", 24.0, 0.5, 8 * GIB };	/* 12 tasks on 0.5 CPU */
	struct bal_node peers[] = { { "b", 0.0, 0.5, 8 * GIB }, { "c", 0.0, 0.5, 8 * GIB } };
	struct bal_job jobs[12];
	busy_jobs(jobs, 12, 0.5);
	for (int i = 0; i < 12; i++) {
		jobs[i].moves = 0;
		jobs[i].resident_ms = 1000;
	}
	struct bal_decision d[12];
	size_t n = balance_plan(&params, &self, peers, 2, jobs, 12, d, 12);
	/* four each, in one period */
	CHECK_INT(n, ==, 8);
	int to_b = 0, to_c = 0;
	for (size_t i = 0; i < n; i++) {
		UNIT_CTX("move %zu", i);
		CHECK(!jobs[d[i].job].movable);
		for (size_t k = 0; k < i; k++)
			CHECK(d[k].job != d[i].job);
		to_b += d[i].node == 0;
		to_c += d[i].node == 1;
	}
	UNIT_CTX_CLEAR();
	CHECK_INT(to_b, ==, 4);
	CHECK_INT(to_c, ==, 4);
	CHECK(self.load > 7.9 && self.load < 8.1);
	CHECK(peers[0].load > 7.9 && peers[0].load < 8.1);
	/* a bound on moves per period holds */
	struct bal_node self2 = { "a", 24.0, 0.5, 8 * GIB };
	struct bal_node peers2[] = { { "b", 0.0, 0.5, 8 * GIB }, { "c", 0.0, 0.5, 8 * GIB } };
	busy_jobs(jobs, 12, 0.5);
	CHECK_INT(balance_plan(&params, &self2, peers2, 2, jobs, 12, d, 3), ==, 3);
}

static void test_plan_small_imbalance_moves_one(void)
{
	/* 4 against 2 and 3 on nodes of one CPU: one move evens it out, a second would not */
	struct bal_node self = { "a", 4.0, 1, 8 * GIB };
	struct bal_node peers[] = { { "b", 2.0, 1, 8 * GIB }, { "c", 3.0, 1, 8 * GIB } };
	struct bal_job jobs[4];
	busy_jobs(jobs, 4, 1);
	struct bal_decision d[4];
	if (CHECK_INT(balance_plan(&params, &self, peers, 2, jobs, 4, d, 4), ==, 1))
		CHECK_STR(peers[d[0].node].name, "b");
	/* balanced: nothing */
	struct bal_node even[] = { { "b", 4.0, 1, 8 * GIB } };
	struct bal_node self2 = { "a", 4.0, 1, 8 * GIB };
	busy_jobs(jobs, 4, 1);
	CHECK_INT(balance_plan(&params, &self2, even, 1, jobs, 4, d, 4), ==, 0);
}

static void test_plan_memory_moves_until_enough(void)
{
	/* 100 MiB free, 256 MiB wanted: two 100 MiB jobs must go, not the third */
	struct bal_node self = { "a", 0.5, 1, 100 * 1024 };
	struct bal_node peers[] = { { "b", 0.0, 1, 4 * GIB } };
	struct bal_job jobs[3];
	busy_jobs(jobs, 3, 1);
	for (int i = 0; i < 3; i++)
		jobs[i].rss_kb = 100 * 1024;
	struct bal_decision d[3];
	size_t n = balance_plan(&params, &self, peers, 1, jobs, 3, d, 3);
	CHECK_INT(n, ==, 2);
	CHECK(d[0].memory && d[1].memory);
	CHECK_INT(self.mem_free_kb, ==, 300 * 1024);
	CHECK_INT(peers[0].mem_free_kb, ==, 4 * GIB - 200 * 1024);
}

static size_t place(double self_load, double self_cpus, const struct bal_node *peers, size_t np,
		    char *why, size_t whylen)
{
	struct bal_node self = { "a", self_load, self_cpus, 8 * GIB };
	return balance_place(&params, &self, peers, np, why, whylen);
}

static void test_place_where_there_is_room(void)
{
	char why[256];
	/* an idle cluster: the job stays here */
	struct bal_node idle[] = { { "b", 0.0, 1, 8 * GIB }, { "c", 0.0, 1, 8 * GIB } };
	CHECK_INT(place(0, 1, idle, 2, why, sizeof(why)), ==, 2);
	CHECK(strstr(why, "not lighter by half a task") != NULL);
	/* noise in the samples does not send it away */
	CHECK_INT(place(0.4, 1, idle, 2, why, sizeof(why)), ==, 2);
	/* one job here already: the next goes to the lightest; ties go to more memory */
	struct bal_node two[] = { { "b", 0.5, 1, 8 * GIB }, { "c", 0.0, 1, 2 * GIB },
				  { "d", 0.0, 1, 4 * GIB } };
	if (CHECK_INT(place(1, 1, two, 3, why, sizeof(why)), ==, 2))
		CHECK(strstr(why, "load 1.00/CPU on d with the job, 2.00 here") == why);
	/* a faster node is lighter with the job, though it runs one already */
	struct bal_node fast[] = { { "b", 0.25, 4, 8 * GIB } };
	CHECK_INT(place(0, 1, fast, 1, why, sizeof(why)), ==, 0);
	/* nobody else */
	CHECK_INT(place(3, 1, NULL, 0, why, sizeof(why)), ==, 0);
}

static void test_place_spreads_a_burst(void)
{
	/* twelve starts in a row on three nodes of 0.5 CPU: each counts once placed, as the
	 * daemon counts its placements until gossip shows them */
	struct bal_node self = { "a", 0, 0.5, 8 * GIB };
	struct bal_node peers[] = { { "b", 0, 0.5, 8 * GIB }, { "c", 0, 0.5, 8 * GIB } };
	int count[3] = { 0, 0, 0 };
	char why[256];
	for (int i = 0; i < 12; i++) {
		size_t k = balance_place(&params, &self, peers, 2, why, sizeof(why));
		if (k > 2) {
			CHECK(k <= 2);
			return;
		}
		count[k]++;
		struct bal_node *n = k == 2 ? &self : &peers[k];
		n->load += 1.0 / n->cpus;
	}
	CHECK_INT(count[0], ==, 4);
	CHECK_INT(count[1], ==, 4);
	CHECK_INT(count[2], ==, 4);
}

static void test_place_memory(void)
{
	char why[256];
	/* too little memory here: to a node with room, though busier */
	struct bal_node self = { "a", 0, 1, 100 * 1024 };
	struct bal_node peers[] = { { "b", 1.0, 1, 4 * GIB }, { "c", 0.0, 1, 200 * 1024 } };
	if (CHECK_INT(balance_place(&params, &self, peers, 2, why, sizeof(why)), ==, 0))
		CHECK(strstr(why, "100 MiB free here, below 256 MiB; b has room") == why);
	/* nowhere has room: the most free memory */
	peers[0].mem_free_kb = 150 * 1024;
	if (CHECK_INT(balance_place(&params, &self, peers, 2, why, sizeof(why)), ==, 1))
		CHECK(strstr(why, "200 MiB free on c, the most") != NULL);
}

static void test_drain_sends_every_movable_job(void)
{
	/* a drained node, not busy at all: its jobs still leave, new or old, each to the
	 * lightest node that is not drained and has memory for it */
	struct bal_node self = { "a", 0.5, 4, 8 * GIB, .drained = 1 };
	struct bal_node peers[] = { { "b", 0.0, 1, 8 * GIB, .drained = 1 },
				    { "c", 0.0, 1, 8 * GIB }, { "d", 0.5, 1, 8 * GIB },
				    { "e", 0.0, 1, 100 * 1024 } };
	struct bal_job jobs[4];
	busy_jobs(jobs, 4, 1);
	jobs[0].resident_ms = 0;	/* just started */
	jobs[0].moves = 3;
	jobs[1].cpu_pct = 0;		/* asleep */
	jobs[2].movable = 0;		/* --no-migrate, say */
	struct bal_decision d[8];
	size_t n = balance_plan(&params, &self, peers, 4, jobs, 4, d, 8);
	CHECK_INT(n, ==, 3);
	int to[4] = { 0 };
	for (size_t i = 0; i < n; i++) {
		UNIT_CTX("move %zu", i);
		CHECK(d[i].job != 2);
		CHECK(d[i].node == 1 || d[i].node == 2);
		to[d[i].node]++;
		CHECK(strstr(d[i].reason, "a is drained") == d[i].reason);
	}
	UNIT_CTX_CLEAR();
	CHECK_INT(to[1], ==, 2);	/* c: 0 -> 1 -> 2, d: 0.5 -> 1.5 */
	CHECK_INT(to[2], ==, 1);
	/* the bound on moves per period holds; nowhere to go: nothing planned */
	busy_jobs(jobs, 4, 1);
	CHECK_INT(balance_plan(&params, &self, peers, 4, jobs, 4, d, 2), ==, 2);
	busy_jobs(jobs, 4, 1);
	CHECK_INT(balance_plan(&params, &self, peers, 1, jobs, 4, d, 8), ==, 0);
}

static void test_drained_peers_take_nothing(void)
{
	char why[256];
	struct bal_decision d;
	struct bal_job jobs[6];
	busy_jobs(jobs, 6, 1);
	/* the only lighter node is drained: the balancer stays put */
	struct bal_node peers[] = { { "b", 0.0, 1, 8 * GIB, .drained = 1 } };
	CHECK_INT(decide(6, 1, peers, 1, jobs, 6, &d), ==, 0);
	peers[0].drained = 0;
	CHECK_INT(decide(6, 1, peers, 1, jobs, 6, &d), ==, 1);
	/* nor does memory pressure send anything there */
	struct bal_node low = { "a", 0, 1, 100 * 1024 };
	peers[0].drained = 1;
	CHECK_INT(balance_decide(&params, &low, peers, 1, jobs, 6, &d), ==, 0);
	/* placement skips it, though it is the lightest */
	struct bal_node self = { "a", 3.0, 1, 8 * GIB };
	struct bal_node two[] = { { "b", 0.0, 1, 8 * GIB, .drained = 1 },
				  { "c", 1.0, 1, 8 * GIB } };
	CHECK_INT(balance_place(&params, &self, two, 2, why, sizeof(why)), ==, 1);
	/* a drained node places elsewhere even when it is the lightest */
	struct bal_node drained = { "a", 0.0, 1, 8 * GIB, .drained = 1 };
	if (CHECK_INT(balance_place(&params, &drained, two, 2, why, sizeof(why)), ==, 1))
		CHECK(strstr(why, "a is drained; c has room") == why);
	/* and when no open node has room, the open one with the most memory */
	two[1].mem_free_kb = 1024;
	if (CHECK_INT(balance_place(&params, &drained, two, 2, why, sizeof(why)), ==, 1))
		CHECK(strstr(why, "on c, the most") != NULL);
	/* every node drained: nowhere */
	two[1].drained = 1;
	if (CHECK_INT(balance_place(&params, &drained, two, 2, why, sizeof(why)), ==,
		      BAL_NOWHERE))
		CHECK_STR(why, "every node is drained");
}

static void test_retry_after_failures(void)
{
	CHECK_UINT(balance_retry_ms(0, 2000), ==, 0);
	CHECK_UINT(balance_retry_ms(1, 2000), ==, 4000);
	CHECK_UINT(balance_retry_ms(2, 2000), ==, 8000);
	CHECK_UINT(balance_retry_ms(6, 2000), ==, 128000);
	CHECK_UINT(balance_retry_ms(7, 2000), ==, 128000);	/* no longer than 64 periods */
	CHECK_UINT(balance_retry_ms(1000, 2000), ==, 128000);
}

static void test_peer_tasks(void)
{
	/* nothing sent there lately: its vector */
	CHECK(balance_peer_tasks(3.0, 1.0, 0) == 3.0);
	/* two placed on a node of 1 task that does not show them yet */
	CHECK(balance_peer_tasks(1.0, 1.0, 2.0) == 3.0);
	/* it shows them: not counted twice */
	CHECK(balance_peer_tasks(3.0, 1.0, 2.0) == 3.0);
	/* it shows them and more (others placed there too) */
	CHECK(balance_peer_tasks(5.0, 1.0, 1.5) == 5.0);
}

int main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		UNIT(test_overloaded_moves_to_lightest),
		UNIT(test_even_enough_stays),
		UNIT(test_node_speeds),
		UNIT(test_what_never_moves),
		UNIT(test_oversubscribed_host),
		UNIT(test_cost_of_moving),
		UNIT(test_memory_pressure),
		UNIT(test_freeze_when_no_node_has_room),
		UNIT(test_thaw_where_there_is_room),
		UNIT(test_destination_admission),
		UNIT(test_fresh_jobs_move_at_once),
		UNIT(test_plan_spreads_a_burst),
		UNIT(test_plan_small_imbalance_moves_one),
		UNIT(test_plan_memory_moves_until_enough),
		UNIT(test_place_where_there_is_room),
		UNIT(test_place_spreads_a_burst),
		UNIT(test_place_memory),
		UNIT(test_drain_sends_every_movable_job),
		UNIT(test_drained_peers_take_nothing),
		UNIT(test_retry_after_failures),
		UNIT(test_peer_tasks),
	};
	return unit_main(argc, argv, tests, UNIT_COUNT(tests));
}
