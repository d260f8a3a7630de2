/* balance.c: the load balancer's timer, its view of the cluster, the moves it has under way
 * and where new jobs start (policy in balance_policy.c, see balance.h). */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "balance.h"
#include "cpufeat.h"
#include "jobs.h"
#include "load.h"
#include "log.h"
#include "loop.h"
#include "migrd.h"
#include "xmalloc.h"

#define RECENT_MAX 128
#define FAILED_MAX 64		/* jobs whose last moves failed, waiting to be tried again */
#define DEFAULT_LINK_KB_PER_S (100 * 1024)	/* until a move has been measured */
#define MOVE_TIMEOUT_MS 400000			/* no result by then: the move is lost */
#define PLAN_MAX 8				/* moves one period may plan */
#define FRESH_MOVE_MS 1000			/* a job that never moved and moves in this long
						 * need not wait for its residency */

enum recent_kind {
	RECENT_ARRIVED,		/* a job started or landed here */
	RECENT_ENDED,		/* a job here ended */
	RECENT_LEFT,		/* a job moved from here to node */
	RECENT_PLACED,		/* a job this node placed was started on node */
};

struct recent {
	enum recent_kind kind;
	char node[MIGR_NAME_MAX + 1];
	uint64_t at;		/* loop_now() */
	uint64_t mark;		/* load_samples(), for what this node's own load shows of it */
	double tasks;		/* what it weighs in this node's load */
	double base;		/* LEFT, PLACED: node's tasks as its vector said then */
};

/* A move this balancer planned and has no result of yet. */
struct move {
	char gpid[MIGR_GPID_MAX + 1];
	char dest[MIGR_NAME_MAX + 1];
	uint64_t started_at;		/* 0: waits its turn */
	uint32_t tag;			/* its result's, once started */
	double base;			/* dest's tasks as its vector said when planned */
	unsigned nth, of;		/* its place in its period's plan */
	int freeze;			/* to this node's disk (balance-freeze), not to dest */
	int thaw;			/* of a job frozen here (balance-freeze) */
	char reason[256];
};

/* A job whose moves by the balancer keep failing, and when it may be tried again. */
struct failed {
	char gpid[MIGR_GPID_MAX + 1];
	unsigned fails;
	uint64_t until;		/* loop_now() */
};

/* The moves of a period go one after the other: CRIU's dumps of two jobs with the same
 * working directory cannot overlap (its parasite makes "proc.crtools" there), and a move of
 * a small job takes a fraction of a period anyway. */
static struct {
	int on;
	struct move queue[PLAN_MAX];	/* queue[0] is under way once started */
	unsigned nqueue;
	uint32_t tags;
	struct recent recent[RECENT_MAX];	/* newest last */
	unsigned nrecent;
	struct failed failed[FAILED_MAX];
	unsigned nfailed;
	uint64_t freeze_quiet_until;	/* after a freeze or thaw, until memory shows it */
	double link_kb_per_s;
} bal;

/* Other nodes learn of a job sent or placed somewhere from that node's vector, which counts
 * it from its next gossip period on and reaches everyone in about log2(N) periods (see
 * bench/README.md). Until then the sender counts it itself, fading out over this long. */
static uint64_t lag_ms(void)
{
	uint64_t periods = 2;
	for (uint32_t n = migrd.gossip.count; n > 1; n /= 2)
		periods++;
	return periods * migrd.conf.gossip_period_ms;
}

static void remember(enum recent_kind kind, const char *node, double tasks, double base)
{
	if (bal.nrecent == RECENT_MAX) {
		memmove(bal.recent, bal.recent + 1, sizeof(bal.recent[0]) * (RECENT_MAX - 1));
		bal.nrecent--;
	}
	struct recent *r = &bal.recent[bal.nrecent++];
	r->kind = kind;
	snprintf(r->node, sizeof(r->node), "%s", node);
	r->at = loop_now();
	r->mark = load_samples();
	r->tasks = tasks;
	r->base = base;
}

/* How much of a job sent elsewhere that node's vector may not show yet, in tasks. */
static double fading(const struct recent *r, uint64_t now)
{
	uint64_t age = now - r->at, lag = lag_ms();
	return age < lag ? 1.0 - (double)age / (double)lag : 0;
}

/* Jobs that arrived here less those that ended or left, as far as the smoothed load does
 * not show them yet, in tasks. For a job that ran throughout, the sum is exact: what the
 * load shows of it, plus what it does not show of its start, less what it does not show
 * of its end. */
static double unseen_here(void)
{
	double tasks = 0;
	for (unsigned i = 0; i < bal.nrecent; i++) {
		const struct recent *r = &bal.recent[i];
		if (r->kind == RECENT_ARRIVED)
			tasks += r->tasks * load_unseen(r->mark);
		else if (r->kind == RECENT_ENDED || r->kind == RECENT_LEFT)
			tasks -= r->tasks * load_unseen(r->mark);
	}
	return tasks;
}

void balance_self(struct bal_node *self)
{
	double cpus = migrd.conf.cpus;
	double load = migrd.load * cpus + unseen_here() + migrate_incoming();
	self->name = migrd.conf.node;
	self->cpus = cpus;
	self->load = (load > 0 ? load : 0) / cpus;
	self->mem_free_kb = migrd.mem_free_kb;
	self->drained = admin_drained();
}

double balance_load(void)
{
	struct bal_node self;
	balance_self(&self);
	return self.load;
}

/* A node's tasks as its vector says. */
static double advertised(const struct gossip_node *n)
{
	return n->vec.load_milli / 1000.0 * (n->vec.cpus_milli / 1000.0);
}

static void peer_view(const struct gossip_node *n, struct bal_node *b, uint64_t now)
{
	b->name = gossip_name(n);
	b->cpus = n->vec.cpus_milli / 1000.0;
	double pending = 0, base = advertised(n);
	for (unsigned i = 0; i < bal.nrecent; i++) {
		const struct recent *r = &bal.recent[i];
		double f;
		if ((r->kind != RECENT_LEFT && r->kind != RECENT_PLACED) || strcmp(r->node, b->name) ||
		    !(f = fading(r, now)))
			continue;
		pending += f;
		base = r->base < base ? r->base : base;
	}
	for (unsigned i = 0; i < bal.nqueue; i++) {
		const struct move *m = &bal.queue[i];
		if (strcmp(m->dest, b->name))
			continue;
		pending += 1;	/* on its way there, or soon */
		base = m->base < base ? m->base : base;
	}
	double tasks = balance_peer_tasks(advertised(n), base, pending);
	b->load = b->cpus > 0 ? tasks / b->cpus : 0;
	b->mem_free_kb = n->vec.mem_free_kb;
	b->drained = n->vec.admin == MIGR_ADMIN_DRAINED;
}

/* The live peers as this node sees them; *np of them. For moves, only those whose CPU has
 * every feature this one has: a job started here may use them (cpu-check strict). */
static struct bal_node *peers_view(size_t *np, uint64_t now, int for_moves)
{
	struct bal_node *peers = xcalloc(migrd.gossip.count + 1, sizeof(*peers));
	size_t n = 0;
	for (uint32_t i = 1; i < migrd.gossip.count; i++) {
		const struct gossip_node *g = &migrd.gossip.nodes[i];
		if (for_moves && migrd.conf.cpu_strict &&
		    cpufeat_missing(migrd.cpu_features, g->vec.cpu_features))
			continue;
		if (g->state == MIGR_NODE_ALIVE && g->vec.cpus_milli > 0)
			peer_view(g, &peers[n++], now);
	}
	*np = n;
	return peers;
}

static void params(struct bal_params *p)
{
	*p = (struct bal_params){
		.margin = migrd.conf.balance_margin,
		.residency_ms = migrd.conf.balance_residency_ms,
		.mem_low_kb = migrd.conf.balance_mem_low_kb,
		.link_kb_per_s = bal.link_kb_per_s,
		.fresh_move_ms = FRESH_MOVE_MS,
	};
}

const char *balance_place_job(char *why, size_t whylen)
{
	struct bal_params p;
	struct bal_node self;
	size_t npeers;
	uint64_t now = loop_now();
	params(&p);
	balance_self(&self);
	struct bal_node *peers = peers_view(&npeers, now, 0);
	size_t k = balance_place(&p, &self, peers, npeers, why, whylen);
	const char *node = k == BAL_NOWHERE ? NULL : migrd.conf.node;
	if (k < npeers) {
		const struct gossip_node *g = gossip_find(&migrd.gossip, peers[k].name);
		node = gossip_name(g);
		remember(RECENT_PLACED, node, 1, advertised(g));
	}
	free(peers);
	return node;
}

int balance_offer_ok(const struct bal_node *source, uint64_t rss_kb, char *why, size_t whylen)
{
	struct bal_node self;
	balance_self(&self);
	return balance_accept(&self, source, rss_kb, migrd.conf.balance_mem_low_kb, why, whylen);
}

/* The balancer moves jobs when it is on, and a drained node sends its own away even when
 * it is off: the administrator asked for that. */
static int moving(void)
{
	return (bal.on || admin_drained()) && !migrd.leaving;
}

static void queue_drop_first(void)
{
	memmove(bal.queue, bal.queue + 1, sizeof(bal.queue[0]) * --bal.nqueue);
}

/* Starts the first move that waits, unless one is under way. Its result may come back
 * before migrate_auto returns, and start the next from here again. */
static void queue_start(void)
{
	if (!moving())
		bal.nqueue = bal.nqueue && bal.queue[0].started_at;	/* the rest waits no more */
	while (bal.nqueue && !bal.queue[0].started_at) {
		struct move *m = &bal.queue[0];
		m->started_at = loop_now();
		m->tag = bal.tags++ % AUTO_TAGS;
		if (m->freeze)
			log_info("balance: freezing %s: %s", m->gpid, m->reason);
		else if (m->of > 1)
			log_info("balance: moving %s to %s (%u of %u): %s", m->gpid, m->dest,
				 m->nth, m->of, m->reason);
		else
			log_info("balance: moving %s to %s: %s", m->gpid, m->dest, m->reason);
		if ((m->freeze ? migrate_auto_freeze(m->gpid, m->tag)
			       : migrate_auto(m->gpid, m->dest, m->tag)) == 0)
			return;
		log_warnx("balance: %s: its home is not reachable", m->gpid);
		queue_drop_first();
	}
}

/* A move without word for too long is given up on. */
static void queue_expire(uint64_t now)
{
	if (bal.nqueue && bal.queue[0].started_at &&
	    now - bal.queue[0].started_at >= MOVE_TIMEOUT_MS) {
		log_warnx("balance: %s: no word of the move to %s: giving up on it",
			  bal.queue[0].gpid, bal.queue[0].dest);
		queue_drop_first();
		queue_start();
	}
}

/* dest NULL: this node (a thaw here, or a freeze) */
static void queue_add(const char *gpid, const struct gossip_node *dest, const char *reason,
		      unsigned of, int freeze)
{
	struct move *m = &bal.queue[bal.nqueue++];
	snprintf(m->gpid, sizeof(m->gpid), "%s", gpid);
	snprintf(m->dest, sizeof(m->dest), "%s", dest ? gossip_name(dest) : migrd.conf.node);
	snprintf(m->reason, sizeof(m->reason), "%s", reason);
	m->freeze = freeze;
	m->thaw = 0;
	m->started_at = 0;
	m->base = dest ? advertised(dest) : 0;
	m->nth = bal.nqueue;
	m->of = of;
}

static struct failed *failed_find(const char *gpid)
{
	for (unsigned i = 0; i < bal.nfailed; i++)
		if (!strcmp(bal.failed[i].gpid, gpid))
			return &bal.failed[i];
	return NULL;
}

/* A move of the job failed (ok 0) or succeeded: when it may be tried again; returns the
 * wait in ms. A full table gives way from its first entry (not always the oldest: entries
 * removed are replaced by the last), and that job may be tried again at once. */
static uint64_t failed_note(const char *gpid, int ok, uint64_t now)
{
	struct failed *f = failed_find(gpid);
	if (ok || !f) {
		if (f)
			*f = bal.failed[--bal.nfailed];
		if (ok)
			return 0;
		if (bal.nfailed == FAILED_MAX)
			memmove(bal.failed, bal.failed + 1, sizeof(bal.failed[0]) * --bal.nfailed);
		f = &bal.failed[bal.nfailed++];
		snprintf(f->gpid, sizeof(f->gpid), "%s", gpid);
		f->fails = 0;
	}
	uint64_t wait = balance_retry_ms(++f->fails, migrd.conf.balance_period_ms);
	f->until = now + wait;
	return wait;
}

/* Jobs waiting after failed moves are not candidates; jobs that are gone are forgotten
 * (an entry whose wait is long over and whose job did not come up again). */
static void failed_filter(struct bal_job *jobs, size_t njobs, uint64_t now)
{
	for (size_t i = 0; i < njobs; i++) {
		const struct failed *f = failed_find(jobs[i].gpid);
		if (f && now < f->until)
			jobs[i].movable = 0;
	}
	for (unsigned i = 0; i < bal.nfailed;) {
		if (now >= bal.failed[i].until + balance_retry_ms(64, migrd.conf.balance_period_ms))
			bal.failed[i] = bal.failed[--bal.nfailed];
		else
			i++;
	}
}

/* balance-freeze on, and no move planned: a frozen job back where there is room, else a
 * job frozen here for want of room anywhere. */
static void plan_freeze(const struct bal_params *p, const struct bal_node *self,
			const struct bal_node *peers, size_t npeers, const struct bal_job *jobs,
			size_t njobs, uint64_t now)
{
	struct bal_decision d;
	struct bal_job *frozen = NULL;
	if (now < bal.freeze_quiet_until)
		return;	/* free memory, here and in gossip, may not show the last one yet */
	size_t nfrozen = jobs_frozen_candidates(&frozen, now);
	failed_filter(frozen, nfrozen, now);
	if (balance_thaw_pick(p, self, peers, npeers, frozen, nfrozen, &d)) {
		queue_add(frozen[d.job].gpid,
			  d.node < npeers ? gossip_find(&migrd.gossip, peers[d.node].name) : NULL,
			  d.reason, 1, 0);
		bal.queue[bal.nqueue - 1].thaw = 1;
	} else if (balance_freeze_pick(p, self, peers, npeers, jobs, njobs, &d))
		queue_add(jobs[d.job].gpid, NULL, d.reason, 1, 1);
	free(frozen);
}

static void tick(void *arg)
{
	(void)arg;
	uint64_t now = loop_now();
	if (!moving())
		return;
	queue_expire(now);
	if (bal.nqueue)
		return;	/* the last period's plan is still under way */

	struct bal_params p;
	struct bal_node self;
	size_t npeers;
	params(&p);
	balance_self(&self);
	struct bal_node *peers = peers_view(&npeers, now, 1);
	struct bal_job *jobs = NULL;
	size_t njobs = jobs_balance_candidates(&jobs, now);
	failed_filter(jobs, njobs, now);
	struct bal_decision d[PLAN_MAX];
	size_t n = balance_plan(&p, &self, peers, npeers, jobs, njobs, d, PLAN_MAX);
	for (size_t i = 0; i < n; i++)
		queue_add(jobs[d[i].job].gpid, gossip_find(&migrd.gossip, peers[d[i].node].name),
			  d[i].reason, (unsigned)n, 0);
	if (n == 0 && migrd.conf.balance_freeze)
		plan_freeze(&p, &self, peers, npeers, jobs, njobs, now);
	free(jobs);
	free(peers);
	queue_start();
}

void balance_move_result(uint32_t tag, int code, const char *msg, const char *node,
			 uint32_t freeze_ms, uint32_t total_ms)
{
	struct move *m = &bal.queue[0];
	if (!bal.nqueue || !m->started_at || m->tag != tag)
		return;	/* one given up on */
	if (m->freeze || m->thaw)
		bal.freeze_quiet_until = loop_now() + lag_ms();
	if (code < 0) {
		uint64_t wait = failed_note(m->gpid, 0, loop_now());
		log_info("balance: %s stays: %s; tried again in %llu s at the earliest", m->gpid,
			 msg, (unsigned long long)(wait / 1000));
	} else if (m->freeze) {
		failed_note(m->gpid, 1, loop_now());
		log_info("balance: %s frozen to this node's disk in %u ms", m->gpid, total_ms);
	} else {
		failed_note(m->gpid, 1, loop_now());
		log_info("balance: %s moved to %s: frozen %u ms, total %u ms", m->gpid, node,
			 freeze_ms, total_ms);
	}
	queue_drop_first();
	queue_start();
}

void balance_job_left(const char *gpid, const char *dest, uint64_t rss_kb, uint32_t total_ms)
{
	/* what dest said before the job went: from when the balancer chose it, if it did */
	const struct gossip_node *g = gossip_find(&migrd.gossip, dest);
	double base = g ? advertised(g) : 0;
	for (unsigned i = 0; i < bal.nqueue; i++)
		if (!strcmp(bal.queue[i].gpid, gpid))
			base = bal.queue[i].base;
	remember(RECENT_LEFT, dest, 1, base);
	/* what moves cost, from what they cost so far: a slow average of kB per second */
	if (total_ms > 0 && rss_kb > 0) {
		double speed = (double)rss_kb * 1000.0 / total_ms;
		bal.link_kb_per_s = 0.7 * bal.link_kb_per_s + 0.3 * speed;
	}
}

void balance_job_arrived(void)
{
	remember(RECENT_ARRIVED, "", 1, 0);
}

void balance_job_ended(int busy)
{
	remember(RECENT_ENDED, "", busy ? 1 : 0, 0);
}

void balance_set(int on, uint32_t uid)
{
	if (bal.on != on)
		log_info("balance: turned %s (mctl, uid %u)", on ? "on" : "off", uid);
	bal.on = on;
	queue_start();	/* turned off: what is planned and not started is dropped */
}

void balance_admin_changed(void)
{
	queue_start();	/* undrained with the balancer off: what waits is dropped */
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
	log_info("balance: %s, every %u ms (margin %.2f, residency %u ms, memory low %llu MiB, "
		 "freeze %s)",
		 bal.on ? "on" : "off", migrd.conf.balance_period_ms, migrd.conf.balance_margin,
		 migrd.conf.balance_residency_ms,
		 (unsigned long long)(migrd.conf.balance_mem_low_kb / 1024),
		 migrd.conf.balance_freeze ? "on" : "off");
}
