/* balance.c: the load balancer's timer, its view of the cluster and its one move at a time
 * (policy in balance_policy.c, see balance.h). */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance.h"
#include "jobs.h"
#include "log.h"
#include "loop.h"
#include "migrd.h"
#include "xmalloc.h"

#define RECENT_MAX 32
#define DEFAULT_LINK_KB_PER_S (100 * 1024)	/* until a move has been measured */
#define MOVE_TIMEOUT_MS 400000			/* no result by then: the move is lost */

/* Loads are smoothed and gossiped: a move shows in them only after a few periods. Until it
 * does, the balancer counts it itself, fading out over this long. */
static uint64_t lag_ms(void)
{
	return 6ull * migrd.conf.gossip_period_ms;
}

struct recent {
	char node[MIGR_NAME_MAX + 1];	/* where it went; "" for an arrival here */
	uint64_t at;
};

static struct {
	int on;
	/* the move this balancer started, if any */
	char gpid[MIGR_GPID_MAX + 1];
	char dest[MIGR_NAME_MAX + 1];
	uint64_t started_at;
	struct recent recent[RECENT_MAX];	/* departures and arrivals, newest last */
	unsigned nrecent;
	double link_kb_per_s;
} bal;

static void remember(const char *node)
{
	if (bal.nrecent == RECENT_MAX) {
		memmove(bal.recent, bal.recent + 1, sizeof(bal.recent[0]) * (RECENT_MAX - 1));
		bal.nrecent--;
	}
	struct recent *r = &bal.recent[bal.nrecent++];
	snprintf(r->node, sizeof(r->node), "%s", node);
	r->at = loop_now();
}

/* How much of a recent move the load does not show yet, in tasks: all of it at first,
 * nothing once the lag has passed. */
static double fading(const struct recent *r, uint64_t now)
{
	uint64_t age = now - r->at, lag = lag_ms();
	return age < lag ? 1.0 - (double)age / (double)lag : 0;
}

/* The recent moves to node not shown yet (node "": the arrivals here; NULL: every
 * departure from here), in tasks. */
static double unseen(const char *node, uint64_t now)
{
	double tasks = 0;
	for (unsigned i = 0; i < bal.nrecent; i++) {
		const struct recent *r = &bal.recent[i];
		if (node ? !strcmp(r->node, node) : r->node[0] != '\0')
			tasks += fading(r, now);
	}
	return tasks;
}

void balance_self(struct bal_node *self)
{
	uint64_t now = loop_now();
	double cpus = migrd.conf.cpus;
	double load = migrd.load * cpus - unseen(NULL, now) + unseen("", now) + migrate_incoming();
	self->name = migrd.conf.node;
	self->cpus = cpus;
	self->load = (load > 0 ? load : 0) / cpus;
	self->mem_free_kb = migrd.mem_free_kb;
}

static void peer_view(const struct gossip_node *n, struct bal_node *b, uint64_t now)
{
	b->name = gossip_name(n);
	b->cpus = n->vec.cpus_milli / 1000.0;
	double tasks = n->vec.load_milli / 1000.0 * b->cpus + unseen(b->name, now);
	if (bal.gpid[0] && !strcmp(bal.dest, b->name))
		tasks += 1;	/* the job on its way there */
	b->load = b->cpus > 0 ? tasks / b->cpus : 0;
	b->mem_free_kb = n->vec.mem_free_kb;
}

int balance_offer_ok(const struct bal_node *source, uint64_t rss_kb, char *why, size_t whylen)
{
	struct bal_node self;
	balance_self(&self);
	return balance_accept(&self, source, rss_kb, migrd.conf.balance_mem_low_kb, why, whylen);
}

static void tick(void *arg)
{
	(void)arg;
	uint64_t now = loop_now();
	if (!bal.on || migrd.leaving)
		return;
	if (bal.gpid[0]) {
		if (now - bal.started_at < MOVE_TIMEOUT_MS)
			return;	/* one move at a time */
		log_warnx("balance: %s: no word of the move to %s: giving up on it", bal.gpid,
			  bal.dest);
		bal.gpid[0] = '\0';
	}

	struct bal_node self, *peers = xcalloc(migrd.gossip.count + 1, sizeof(*peers));
	balance_self(&self);
	size_t npeers = 0;
	for (uint32_t i = 1; i < migrd.gossip.count; i++) {
		const struct gossip_node *n = &migrd.gossip.nodes[i];
		if (n->state == MIGR_NODE_ALIVE && n->vec.cpus_milli > 0)
			peer_view(n, &peers[npeers++], now);
	}
	struct bal_job *jobs = NULL;
	size_t njobs = jobs_balance_candidates(&jobs, now);
	struct bal_params p = {
		.margin = migrd.conf.balance_margin,
		.residency_ms = migrd.conf.balance_residency_ms,
		.mem_low_kb = migrd.conf.balance_mem_low_kb,
		.link_kb_per_s = bal.link_kb_per_s,
	};
	struct bal_decision d;
	if (balance_decide(&p, &self, peers, npeers, jobs, njobs, &d)) {
		const struct bal_job *j = &jobs[d.job];
		log_info("balance: moving %s to %s: %s", j->gpid, peers[d.node].name, d.reason);
		snprintf(bal.gpid, sizeof(bal.gpid), "%s", j->gpid);
		snprintf(bal.dest, sizeof(bal.dest), "%s", peers[d.node].name);
		bal.started_at = now;
		if (migrate_auto(bal.gpid, bal.dest) < 0) {
			log_warnx("balance: %s: its home is not reachable", bal.gpid);
			bal.gpid[0] = '\0';
		}
	}
	free(jobs);
	free(peers);
}

void balance_move_result(int code, const char *msg, const char *node, uint32_t freeze_ms,
			 uint32_t total_ms)
{
	if (!bal.gpid[0])
		return;
	if (code < 0)
		log_info("balance: %s stays: %s", bal.gpid, msg);
	else
		log_info("balance: %s moved to %s: frozen %u ms, total %u ms", bal.gpid, node,
			 freeze_ms, total_ms);
	bal.gpid[0] = '\0';
}

void balance_job_left(const char *dest, uint64_t rss_kb, uint32_t total_ms)
{
	remember(dest);
	/* what moves cost, from what they cost so far: a slow average of kB per second */
	if (total_ms > 0 && rss_kb > 0) {
		double speed = (double)rss_kb * 1000.0 / total_ms;
		bal.link_kb_per_s = 0.7 * bal.link_kb_per_s + 0.3 * speed;
	}
}

void balance_job_arrived(void)
{
	remember("");
}

void balance_set(int on, uint32_t uid)
{
	if (bal.on != on)
		log_info("balance: turned %s (mctl, uid %u)", on ? "on" : "off", uid);
	bal.on = on;
}

int balance_on(void)
{
	return bal.on;
}

void balance_init(void)
{
	bal.on = migrd.conf.balance;
	bal.link_kb_per_s = DEFAULT_LINK_KB_PER_S;
	loop_timer_add(migrd.conf.balance_period_ms, migrd.conf.balance_period_ms, tick, NULL);
	log_info("balance: %s, every %u ms (margin %.2f, residency %u ms, memory low %llu MiB)",
		 bal.on ? "on" : "off", migrd.conf.balance_period_ms, migrd.conf.balance_margin,
		 migrd.conf.balance_residency_ms,
		 (unsigned long long)(migrd.conf.balance_mem_low_kb / 1024));
}
