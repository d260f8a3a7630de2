/* balance_policy.h: the load balancer's decisions, as plain functions over what a node
 * knows (its own load, the load vectors gossip brought, its jobs). No I/O, no clock: the
 * daemon (balance.c) and the unit tests drive the same code.
 *
 * Loads are runnable tasks per CPU of capacity. A CPU-bound job counts as one task: moving
 * it takes 1/cpus off the source and puts 1/cpus on the destination. */
#ifndef MIGR_BALANCE_POLICY_H
#define MIGR_BALANCE_POLICY_H

#include <stddef.h>
#include <stdint.h>

struct bal_params {
	double margin;		/* load per CPU a move must gain, beyond paying for itself */
	uint64_t residency_ms;	/* a job stays at least this long where it landed */
	uint64_t mem_low_kb;	/* less free memory than this: move memory out */
	double link_kb_per_s;	/* measured speed of moves, to price one */
	uint64_t fresh_move_ms;	/* a job that never moved, and moves in this long, need not
				 * wait for the residency */
};

struct bal_node {
	const char *name;
	double load;		/* per CPU, counting moves under way to or from it */
	double cpus;
	uint64_t mem_free_kb;
	int drained;		/* mctl drain: takes no new job, sends its own away */
};

struct bal_job {
	const char *gpid;
	double cpu_pct;		/* of one CPU, over the last sample */
	uint64_t rss_kb;
	uint64_t resident_ms;	/* since it started or landed here */
	uint32_t moves;		/* how often it moved so far */
	int movable;		/* not --no-migrate, not being moved, running */
};

struct bal_decision {
	size_t job, node;	/* indexes into the arrays given */
	int memory;		/* moved for memory's sake, not for the CPU */
	char reason[256];
};

/* Picks at most one job to move and where. Returns 1 with d filled, 0 to stay put. */
int balance_decide(const struct bal_params *p, const struct bal_node *self,
		   const struct bal_node *peers, size_t npeers, const struct bal_job *jobs,
		   size_t njobs, struct bal_decision *d);

/* Plans up to max moves for this period, each the one balance_decide would choose had the
 * ones before it happened already: a node far heavier than the others sends several jobs at
 * once, each to where there is room by then. A drained self sends every movable job away,
 * whatever its residency and load, each to the lightest node that is not drained and has
 * memory for it. self, peers and jobs are left as the moves would leave them (loads and free
 * memory moved, planned jobs no longer movable). Returns how many decisions it wrote to d. */
size_t balance_plan(const struct bal_params *p, struct bal_node *self, struct bal_node *peers,
		    size_t npeers, struct bal_job *jobs, size_t njobs, struct bal_decision *d,
		    size_t max);

/* Where a new job should start: the node with the most room, the lightest once the job
 * runs there among those with free memory above mem_low_kb (or, if none has, the one with
 * the most). This node keeps it unless another is lighter by more than half a task, as a
 * job placed elsewhere for less would gain nothing. Drained nodes are never chosen.
 * Returns the index into peers, npeers for this node, or BAL_NOWHERE when every node is
 * drained; why says what decided it. */
#define BAL_NOWHERE ((size_t)-1)
size_t balance_place(const struct bal_params *p, const struct bal_node *self,
		     const struct bal_node *peers, size_t npeers, char *why, size_t whylen);

/* A peer's load in tasks as this node should count it: what its vector says, or, while the
 * jobs this node sent or placed there lately may not show in it yet, what it said when the
 * first of them went (base) plus those (pending). The vector already counts what arrived
 * there (a node announces its arrivals at once): counting them again would make a node
 * that just took jobs look busier than it is. */
double balance_peer_tasks(double advertised, double base, double pending);

/* At a destination offered a job by a balancer: 1 if taking it keeps this node lighter
 * than the source, else 0 with why. self->load already counts moves under way here. */
int balance_accept(const struct bal_node *self, const struct bal_node *source,
		   uint64_t rss_kb, uint64_t mem_low_kb, char *why, size_t whylen);

/* Freezing for memory (balance-freeze yes): when this node has less free memory than
 * mem_low_kb and no node that takes jobs has room for any of its movable jobs (room: the
 * job's memory above mem_low_kb, as a move for memory wants), the largest movable job
 * that has stayed its residency is frozen to disk. 1 with d->job, else 0. */
int balance_freeze_pick(const struct bal_params *p, const struct bal_node *self,
			const struct bal_node *peers, size_t npeers, const struct bal_job *jobs,
			size_t njobs, struct bal_decision *d);

/* Thawing (balance-freeze yes): a job frozen here comes back where there is room for it
 * with twice mem_low_kb to spare (so that it is not frozen again at once): this node if it
 * has, else the node with the most free memory that takes jobs. frozen[i].resident_ms is
 * how long it has been frozen, at least the residency: the longest frozen that fits comes
 * first. One at a time:
 * 1 with d->job and d->node (npeers: this node), else 0. */
int balance_thaw_pick(const struct bal_params *p, const struct bal_node *self,
		      const struct bal_node *peers, size_t npeers, const struct bal_job *frozen,
		      size_t nfrozen, struct bal_decision *d);

/* How long a job whose last `fails` moves by the balancer failed in a row waits before it
 * is tried again: 2, 4, 8... periods, at most 64. A move that fails (CRIU refuses the job,
 * the destination turns it down) would most likely fail again at once, freezing the job
 * each time for nothing. */
uint64_t balance_retry_ms(unsigned fails, uint64_t period_ms);

/* A job is CPU-bound when it gets at least half the CPU a fair share would give it, or
 * half what the busiest job here gets (on a host whose CPUs are oversubscribed no job gets
 * its fair share); top_pct is that busiest job's. */
int balance_cpu_bound(const struct bal_node *self, const struct bal_job *job, double top_pct);

#endif
