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
};

#define GIB (1024 * 1024)	/* in kB */

/* n CPU-bound jobs of 2 MiB, resident long enough, each getting a fair share of cpus */
static void busy_jobs(struct bal_job *jobs, int n, double cpus)
{
	static const char *names[] = { "a.1", "a.2", "a.3", "a.4", "a.5", "a.6",
				       "a.7", "a.8", "a.9", "a.10", "a.11", "a.12" };
	for (int i = 0; i < n; i++)
		jobs[i] = (struct bal_job){ .gpid = names[i], .cpu_pct = 100.0 * cpus / n,
					    .rss_kb = 2048, .resident_ms = 10000, .movable = 1 };
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
		UNIT(test_destination_admission),
	};
	return unit_main(argc, argv, tests, UNIT_COUNT(tests));
}
