/* balance_policy.c: when to move which job where (see balance_policy.h). */
#include <config.h>

#include <stdio.h>

#include "balance_policy.h"

/* How much heavier than the source a destination may end up: half a task, so that 4 jobs
 * against 2 even out to 3 and 3 despite noisy load samples, but 4 against 3 stay put. */
static double overshoot(double cpus_a, double cpus_b)
{
	double a = 1.0 / cpus_a, b = 1.0 / cpus_b;
	return (a < b ? a : b) / 2;
}

int balance_cpu_bound(const struct bal_node *self, const struct bal_job *job, double top_pct)
{
	double runnable = self->load * self->cpus;
	double fair_pct = 100.0 * (runnable > self->cpus ? self->cpus / runnable : 1.0);
	double expect = fair_pct < top_pct ? fair_pct : top_pct;
	return job->cpu_pct >= 1.0 && job->cpu_pct >= 0.5 * expect;
}

/* Seconds a move of the job takes, at the speed moves went so far. */
static double move_cost_s(const struct bal_params *p, const struct bal_job *j)
{
	return p->link_kb_per_s > 0 ? (double)j->rss_kb / p->link_kb_per_s : 0;
}

/* The residency keeps jobs from moving back and forth; a job that never moved cannot have,
 * and one that moves in a moment loses next to nothing by going at once: a burst started on
 * one node spreads in the first periods rather than after the residency. */
static int eligible(const struct bal_params *p, const struct bal_job *j)
{
	if (!j->movable)
		return 0;
	if (j->resident_ms >= p->residency_ms)
		return 1;
	return j->moves == 0 && move_cost_s(p, j) * 1000.0 <= (double)p->fresh_move_ms;
}

/* The node with the most free memory among those that take jobs; npeers if none does. */
static size_t most_memory(const struct bal_node *peers, size_t npeers)
{
	size_t best = npeers;
	for (size_t i = 0; i < npeers; i++)
		if (!peers[i].drained &&
		    (best == npeers || peers[i].mem_free_kb > peers[best].mem_free_kb))
			best = i;
	return best;
}

/* Memory pressure: the largest job that fits goes to the node with the most free memory. */
static int decide_memory(const struct bal_params *p, const struct bal_node *self,
			 const struct bal_node *peers, size_t npeers, const struct bal_job *jobs,
			 size_t njobs, struct bal_decision *d)
{
	if (self->mem_free_kb >= p->mem_low_kb)
		return 0;
	size_t best = most_memory(peers, npeers);
	if (best == npeers)
		return 0;
	size_t pick = njobs;
	for (size_t i = 0; i < njobs; i++) {
		if (!eligible(p, &jobs[i]))
			continue;
		/* it must leave the destination above the threshold itself */
		if (peers[best].mem_free_kb < jobs[i].rss_kb + p->mem_low_kb)
			continue;
		if (pick == njobs || jobs[i].rss_kb > jobs[pick].rss_kb)
			pick = i;
	}
	if (pick == njobs)
		return 0;
	d->job = pick;
	d->node = best;
	d->memory = 1;
	snprintf(d->reason, sizeof(d->reason),
		 "memory: %llu MiB free here (threshold %llu MiB), %llu MiB on %s; job holds %llu MiB",
		 (unsigned long long)(self->mem_free_kb / 1024),
		 (unsigned long long)(p->mem_low_kb / 1024),
		 (unsigned long long)(peers[best].mem_free_kb / 1024), peers[best].name,
		 (unsigned long long)(jobs[pick].rss_kb / 1024));
	return 1;
}

int balance_decide(const struct bal_params *p, const struct bal_node *self,
		   const struct bal_node *peers, size_t npeers, const struct bal_job *jobs,
		   size_t njobs, struct bal_decision *d)
{
	if (decide_memory(p, self, peers, npeers, jobs, njobs, d))
		return 1;
	if (npeers == 0 || self->cpus <= 0)
		return 0;

	/* the lightest node, after one more task; ties go to the one with more capacity */
	size_t best = npeers;
	double best_after = 0;
	for (size_t i = 0; i < npeers; i++) {
		if (peers[i].cpus <= 0 || peers[i].drained)
			continue;
		double after = peers[i].load + 1.0 / peers[i].cpus;
		if (best == npeers || after < best_after ||
		    (after == best_after && peers[i].cpus > peers[best].cpus)) {
			best = i;
			best_after = after;
		}
	}
	if (best == npeers)
		return 0;
	double self_after = self->load - 1.0 / self->cpus;
	double gap = self->load - peers[best].load;
	if (self_after - best_after < -overshoot(self->cpus, peers[best].cpus) || gap <= p->margin)
		return 0;

	/* a CPU-bound job whose move the gap pays for, its cost repaid over the residency:
	 * the one that moved least so far (no job pays for every move), then the cheapest */
	double top_pct = 0;
	for (size_t i = 0; i < njobs; i++)
		if (jobs[i].cpu_pct > top_pct)
			top_pct = jobs[i].cpu_pct;
	double horizon_s = p->residency_ms > 1000 ? (double)p->residency_ms / 1000.0 : 1.0;
	size_t pick = njobs;
	for (size_t i = 0; i < njobs; i++) {
		const struct bal_job *j = &jobs[i];
		if (!eligible(p, j) || !balance_cpu_bound(self, j, top_pct) ||
		    gap <= p->margin + move_cost_s(p, j) / horizon_s)
			continue;
		if (pick == njobs || j->moves < jobs[pick].moves ||
		    (j->moves == jobs[pick].moves && j->rss_kb < jobs[pick].rss_kb))
			pick = i;
	}
	if (pick == njobs)
		return 0;
	double cost_s = move_cost_s(p, &jobs[pick]);
	double needed = p->margin + cost_s / horizon_s;
	d->job = pick;
	d->node = best;
	d->memory = 0;
	snprintf(d->reason, sizeof(d->reason),
		 "load %.2f/CPU here, %.2f on %s (%.2f and %.2f after the move): a gap of %.2f, "
		 "more than %.2f (margin %.2f + %.2f s to move %llu MiB over the residency)",
		 self->load, peers[best].load, peers[best].name, self_after, best_after, gap,
		 needed, p->margin, cost_s, (unsigned long long)(jobs[pick].rss_kb / 1024));
	return 1;
}

/* What a planned move does to the views: the job's memory goes with it, and its CPU: one
 * task for a CPU move (as balance_decide counts it), what it used for a memory move. */
static void plan_apply(const struct bal_decision *d, struct bal_node *self, struct bal_node *to,
		       struct bal_job *j)
{
	double tasks = d->memory ? (j->cpu_pct < 100 ? j->cpu_pct / 100 : 1) : 1;
	j->movable = 0;
	self->mem_free_kb += j->rss_kb;
	to->mem_free_kb = to->mem_free_kb > j->rss_kb ? to->mem_free_kb - j->rss_kb : 0;
	self->load -= tasks / self->cpus;
	if (self->load < 0)
		self->load = 0;
	to->load += tasks / to->cpus;
}

/* The lightest node not drained once job j runs there, among those with memory for it
 * (or whose free memory is not known); npeers if none. */
static size_t drain_destination(const struct bal_params *p, const struct bal_node *peers,
				size_t npeers, const struct bal_job *j, double *after_out)
{
	size_t best = npeers;
	double best_after = 0;
	for (size_t i = 0; i < npeers; i++) {
		const struct bal_node *n = &peers[i];
		if (n->drained || n->cpus <= 0 ||
		    (n->mem_free_kb && n->mem_free_kb < j->rss_kb + p->mem_low_kb))
			continue;
		double after = n->load + 1.0 / n->cpus;
		if (best == npeers || after < best_after) {
			best = i;
			best_after = after;
		}
	}
	*after_out = best_after;
	return best;
}

static size_t plan_drain(const struct bal_params *p, struct bal_node *self,
			 struct bal_node *peers, size_t npeers, struct bal_job *jobs,
			 size_t njobs, struct bal_decision *d, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < njobs && n < max; i++) {
		double after;
		if (!jobs[i].movable)
			continue;
		size_t to = drain_destination(p, peers, npeers, &jobs[i], &after);
		if (to == npeers)
			continue;
		d[n] = (struct bal_decision){ .job = i, .node = to, .memory = 0 };
		snprintf(d[n].reason, sizeof(d[n].reason),
			 "%s is drained: load %.2f/CPU on %s with the job, the lightest with room",
			 self->name, after, peers[to].name);
		plan_apply(&d[n], self, &peers[to], &jobs[i]);
		n++;
	}
	return n;
}

size_t balance_plan(const struct bal_params *p, struct bal_node *self, struct bal_node *peers,
		    size_t npeers, struct bal_job *jobs, size_t njobs, struct bal_decision *d,
		    size_t max)
{
	if (self->drained)
		return plan_drain(p, self, peers, npeers, jobs, njobs, d, max);
	size_t n = 0;
	while (n < max && balance_decide(p, self, peers, npeers, jobs, njobs, &d[n])) {
		plan_apply(&d[n], self, &peers[d[n].node], &jobs[d[n].job]);
		n++;
	}
	return n;
}

/* Memory above the balancer's threshold, or not known (0: a node that could not read it). */
static int has_room(const struct bal_params *p, const struct bal_node *n)
{
	return n->mem_free_kb == 0 || n->mem_free_kb >= p->mem_low_kb;
}

/* No node has room: the one with the most free memory, this one on a tie. */
static size_t place_most_memory(const struct bal_node *self, const struct bal_node *peers,
				size_t npeers, char *why, size_t whylen)
{
	size_t best = npeers;
	uint64_t most = self->drained ? 0 : self->mem_free_kb;
	for (size_t i = 0; i < npeers; i++)
		if (peers[i].cpus > 0 && !peers[i].drained &&
		    (peers[i].mem_free_kb > most || (self->drained && best == npeers))) {
			best = i;
			most = peers[i].mem_free_kb;
		}
	snprintf(why, whylen, "no node has memory to spare: %llu MiB free on %s, the most",
		 (unsigned long long)(most / 1024), best == npeers ? self->name : peers[best].name);
	return best;
}

size_t balance_place(const struct bal_params *p, const struct bal_node *self,
		     const struct bal_node *peers, size_t npeers, char *why, size_t whylen)
{
	/* the lightest peer with room once the job runs there; ties: more memory, more CPUs */
	size_t best = npeers;
	double best_after = 0;
	size_t open = !self->drained;
	for (size_t i = 0; i < npeers; i++) {
		const struct bal_node *n = &peers[i];
		open += n->cpus > 0 && !n->drained;
		if (n->cpus <= 0 || n->drained || !has_room(p, n))
			continue;
		double after = n->load + 1.0 / n->cpus;
		if (best == npeers || after < best_after ||
		    (after == best_after && (n->mem_free_kb > peers[best].mem_free_kb ||
					     (n->mem_free_kb == peers[best].mem_free_kb &&
					      n->cpus > peers[best].cpus)))) {
			best = i;
			best_after = after;
		}
	}
	if (!open) {
		snprintf(why, whylen, "every node is drained");
		return BAL_NOWHERE;
	}
	double self_after = self->load + 1.0 / self->cpus;
	if (self->drained || !has_room(p, self)) {
		if (best == npeers)
			return place_most_memory(self, peers, npeers, why, whylen);
		if (self->drained)
			snprintf(why, whylen, "%s is drained; %s has room, load %.2f/CPU with "
				 "the job", self->name, peers[best].name, best_after);
		else
			snprintf(why, whylen, "%llu MiB free here, below %llu MiB; %s has room, "
				 "load %.2f/CPU with the job",
				 (unsigned long long)(self->mem_free_kb / 1024),
				 (unsigned long long)(p->mem_low_kb / 1024), peers[best].name,
				 best_after);
		return best;
	}
	if (best == npeers) {
		snprintf(why, whylen, "no other node has room");
		return npeers;
	}
	if (self_after <= best_after + overshoot(self->cpus, peers[best].cpus)) {
		snprintf(why, whylen, "load %.2f/CPU here with the job, %.2f on %s, the lightest: "
			 "not lighter by half a task", self_after, best_after, peers[best].name);
		return npeers;
	}
	snprintf(why, whylen, "load %.2f/CPU on %s with the job, %.2f here", best_after,
		 peers[best].name, self_after);
	return best;
}

uint64_t balance_retry_ms(unsigned fails, uint64_t period_ms)
{
	if (fails == 0)
		return 0;
	return period_ms << (fails < 6 ? fails : 6);
}

double balance_peer_tasks(double advertised, double base, double pending)
{
	if (pending <= 0)
		return advertised;
	return advertised > base + pending ? advertised : base + pending;
}

int balance_accept(const struct bal_node *self, const struct bal_node *source,
		   uint64_t rss_kb, uint64_t mem_low_kb, char *why, size_t whylen)
{
	if (self->mem_free_kb && self->mem_free_kb < rss_kb + mem_low_kb) {
		snprintf(why, whylen, "%s has too little free memory: %llu MiB", self->name,
			 (unsigned long long)(self->mem_free_kb / 1024));
		return 0;
	}
	/* a move for memory's sake need not help the CPU load */
	if (source->mem_free_kb < mem_low_kb)
		return 1;
	double self_after = self->load + 1.0 / self->cpus;
	double source_after = source->load - 1.0 / source->cpus;
	if (self_after - source_after > overshoot(self->cpus, source->cpus)) {
		snprintf(why, whylen,
			 "%s is busy enough: load %.2f/CPU with the moves under way, %.2f after "
			 "this one, against %.2f left on %s",
			 self->name, self->load, self_after, source_after, source->name);
		return 0;
	}
	return 1;
}

int balance_freeze_pick(const struct bal_params *p, const struct bal_node *self,
			const struct bal_node *peers, size_t npeers, const struct bal_job *jobs,
			size_t njobs, struct bal_decision *d)
{
	if (self->mem_free_kb >= p->mem_low_kb)
		return 0;
	size_t best = most_memory(peers, npeers);
	uint64_t room = best < npeers ? peers[best].mem_free_kb : 0;
	size_t pick = njobs;
	for (size_t i = 0; i < njobs; i++) {
		const struct bal_job *j = &jobs[i];
		if (!j->movable)
			continue;
		if (room >= j->rss_kb + p->mem_low_kb)
			return 0;	/* a move for memory can take this one */
		if (j->resident_ms >= p->residency_ms && (pick == njobs || j->rss_kb > jobs[pick].rss_kb))
			pick = i;
	}
	if (pick == njobs)
		return 0;
	d->job = pick;
	d->node = npeers;
	d->memory = 1;
	snprintf(d->reason, sizeof(d->reason),
		 "memory: %llu MiB free here (threshold %llu MiB), and no node has room for a job "
		 "of this one's (%llu MiB free at most): the largest, %llu MiB, is frozen",
		 (unsigned long long)(self->mem_free_kb / 1024),
		 (unsigned long long)(p->mem_low_kb / 1024), (unsigned long long)(room / 1024),
		 (unsigned long long)(jobs[pick].rss_kb / 1024));
	return 1;
}

int balance_thaw_pick(const struct bal_params *p, const struct bal_node *self,
		      const struct bal_node *peers, size_t npeers, const struct bal_job *frozen,
		      size_t nfrozen, struct bal_decision *d)
{
	size_t best = most_memory(peers, npeers);
	size_t pick = nfrozen, where = npeers;
	for (size_t i = 0; i < nfrozen; i++) {
		const struct bal_job *j = &frozen[i];
		uint64_t want = j->rss_kb + 2 * p->mem_low_kb;
		size_t to = !self->drained && self->mem_free_kb >= want	    ? npeers
			    : best < npeers && peers[best].mem_free_kb >= want ? best
									    : npeers + 1;
		if (!j->movable || to > npeers || j->resident_ms < p->residency_ms)
			continue;
		if (pick == nfrozen || j->resident_ms > frozen[pick].resident_ms) {
			pick = i;
			where = to;
		}
	}
	if (pick == nfrozen)
		return 0;
	const struct bal_node *n = where == npeers ? self : &peers[where];
	d->job = pick;
	d->node = where;
	d->memory = 1;
	snprintf(d->reason, sizeof(d->reason),
		 "memory: %llu MiB free on %s, room for the %llu MiB of a job frozen %llu s ago",
		 (unsigned long long)(n->mem_free_kb / 1024), n->name,
		 (unsigned long long)(frozen[pick].rss_kb / 1024),
		 (unsigned long long)(frozen[pick].resident_ms / 1000));
	return 1;
}
