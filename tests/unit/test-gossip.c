/* test-gossip.c: membership, load spreading and failure detection. N gossip instances
 * live in one process with a clock the test moves and a transport that queues each message
 * (through the wire coding, as migrd sends it) for delivery at the end of the round. The
 * test can stop a node, drop messages, restart a node with a new incarnation, or make one
 * leave. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "gossip.h"
#include "unit.h"

/* migrd.conf's defaults */
#define PERIOD 1000
#define SUSPECT 5000
#define DEAD 10000
#define WINDOW 8

/* Timeouts long enough that a cluster of 10 never suspects a live node (with the defaults
 * it does: see test_converge_50), so that the other tests see only what they cause. */
#define LONG_SUSPECT 10000
#define LONG_DEAD 20000

struct sim;

struct sim_node {
	struct sim *sim;
	int index;
	int up;			/* ticks and receives */
	int running;		/* has a gossip instance */
	char name[MIGR_NAME_MAX + 1];
	char addr[MIGR_ADDR_MAX + 1];
	uint16_t port;
	uint64_t incarnation;
	struct gossip g;
};

struct sim_msg {
	int from, to;
	struct migr_gossip_msg m;
};

struct sim_event {
	int observer;
	char subject[MIGR_NAME_MAX + 1];
	int old, state;
	uint64_t at;
};

struct sim {
	struct gossip_params p;
	int n;			/* nodes made, up or not */
	struct sim_node nodes[128];
	uint64_t now;
	struct sim_msg *q;	/* sent this round, delivered at its end */
	size_t nq, capq;
	/* drops the message from -> to when it returns 1 */
	int (*drop)(struct sim *s, int from, int to, const struct migr_gossip_msg *m);
	int drop_arg;
	/* what the transport saw */
	unsigned long sent, to_down, to_nobody, wire_errors, not_from_sender, too_long;
	unsigned long sent_to[128];	/* per destination */
	unsigned long carried[128];	/* per node: entries about it in any message */
	struct sim_event *ev;
	size_t nev, capev;
};

static struct sim_node *sim_by_endpoint(struct sim *s, const char *addr, uint16_t port)
{
	for (int i = 0; i < s->n; i++)
		if (s->nodes[i].port == port && !strcmp(s->nodes[i].addr, addr))
			return &s->nodes[i];
	return NULL;
}

static int sim_index_of(struct sim *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->nodes[i].name, name))
			return i;
	return -1;
}

static void sim_send(void *ctx, const char *addr, uint16_t port, const struct migr_gossip_msg *m)
{
	struct sim_node *from = ctx;
	struct sim *s = from->sim;
	struct sim_node *to = sim_by_endpoint(s, addr, port);
	s->sent++;
	/* the daemon refuses a message whose first entry is not the sender's own */
	if (m->count == 0 || strcmp(m->entries[0].name, from->name) != 0)
		s->not_from_sender++;
	if (m->count > 1 + s->p.window)
		s->too_long++;
	for (uint16_t i = 1; i < m->count; i++) {
		int k = sim_index_of(s, m->entries[i].name);
		if (k >= 0)
			s->carried[k]++;
	}
	if (!to) {
		s->to_nobody++;
		return;
	}
	s->sent_to[to->index]++;
	if (!to->up) {
		s->to_down++;
		return;
	}
	if (s->drop && s->drop(s, from->index, to->index, m))
		return;
	if (s->nq == s->capq) {
		s->capq = s->capq ? 2 * s->capq : 64;
		s->q = realloc(s->q, s->capq * sizeof(*s->q));
		if (!s->q)
			abort();
	}
	/* through the wire format, as migrd sends it */
	struct sim_msg *q = &s->q[s->nq];
	struct mw w;
	mw_init(&w);
	migr_gossip_encode(&w, m);
	if (migr_gossip_decode(w.buf, w.len, &q->m) != 0) {
		s->wire_errors++;
	} else {
		q->from = from->index;
		q->to = to->index;
		s->nq++;
	}
	mw_free(&w);
}

static void sim_state_changed(void *ctx, const struct gossip_node *n, int old)
{
	struct sim_node *obs = ctx;
	struct sim *s = obs->sim;
	if (s->nev == s->capev) {
		s->capev = s->capev ? 2 * s->capev : 256;
		s->ev = realloc(s->ev, s->capev * sizeof(*s->ev));
		if (!s->ev)
			abort();
	}
	struct sim_event *e = &s->ev[s->nev++];
	e->observer = obs->index;
	snprintf(e->subject, sizeof(e->subject), "%s", gossip_name(n));
	e->old = old;
	e->state = n->state;
	e->at = s->now;
}

static void sim_start(struct sim *s, int i)
{
	struct sim_node *nd = &s->nodes[i];
	struct gossip_transport t = { sim_send, sim_state_changed, nd };
	gossip_init(&nd->g, &s->p, &t, nd->name, nd->addr, nd->port, nd->incarnation,
		    0x1234567ull * (uint64_t)(i + 1) + nd->incarnation, s->now);
	/* every node knows node0 as its seed; node0 knows node1 */
	int seed = i == 0 ? 1 : 0;
	gossip_add_seed(&nd->g, s->nodes[seed].addr, s->nodes[seed].port);
	nd->up = nd->running = 1;
}

/* Makes node i (not started). */
static void sim_make(struct sim *s, int i)
{
	struct sim_node *nd = &s->nodes[i];
	memset(nd, 0, sizeof(*nd));
	nd->sim = s;
	nd->index = i;
	snprintf(nd->name, sizeof(nd->name), "node%d", i);
	snprintf(nd->addr, sizeof(nd->addr), "10.0.%d.%d", i / 200, 1 + i % 200);
	nd->port = 7470;
	nd->incarnation = 1;
	if (i >= s->n)
		s->n = i + 1;
}

/* Makes nodes 0..made-1 and starts the first started of them. */
static void sim_init_p(struct sim *s, int made, int started, unsigned window, unsigned suspect,
		       unsigned dead)
{
	memset(s, 0, sizeof(*s));
	s->p.period_ms = PERIOD;
	s->p.fanout = 2;
	s->p.window = window;
	s->p.suspect_ms = suspect;
	s->p.dead_ms = dead;
	s->now = 1000000;	/* any origin */
	for (int i = 0; i < made; i++)
		sim_make(s, i);
	for (int i = 0; i < started; i++)
		sim_start(s, i);
}

/* n nodes, all started, with the long timeouts. */
static void sim_init(struct sim *s, int n)
{
	sim_init_p(s, n, n, WINDOW, LONG_SUSPECT, LONG_DEAD);
}

static void sim_stop(struct sim *s, int i)
{
	struct sim_node *nd = &s->nodes[i];
	if (nd->running)
		gossip_free(&nd->g);
	nd->up = nd->running = 0;
}

static void sim_free(struct sim *s)
{
	for (int i = 0; i < s->n; i++)
		sim_stop(s, i);
	free(s->q);
	free(s->ev);
}

/* Delivers what was sent, and what that provokes, at the current time. */
static void sim_deliver(struct sim *s)
{
	for (int pass = 0; pass < 8 && s->nq; pass++) {
		struct sim_msg *q = s->q;
		size_t n = s->nq;
		s->q = NULL;
		s->nq = s->capq = 0;
		for (size_t i = 0; i < n; i++)
			if (s->nodes[q[i].to].up)
				gossip_receive(&s->nodes[q[i].to].g, &q[i].m, s->now);
		free(q);
	}
}

/* One period: every node that is up ticks, then messages arrive. */
static void sim_round(struct sim *s)
{
	s->now += PERIOD;
	for (int i = 0; i < s->n; i++)
		if (s->nodes[i].up)
			gossip_tick(&s->nodes[i].g, s->now);
	sim_deliver(s);
}

/* What node obs thinks of node subj: its state, or -1 if it does not know it. */
static int sim_view(struct sim *s, int obs, int subj)
{
	const struct gossip_node *n = gossip_find(&s->nodes[obs].g, s->nodes[subj].name);
	return n ? n->state : -1;
}

/* Every node that is up sees every node that is up alive, and knows nothing else. */
static int sim_converged(struct sim *s)
{
	uint32_t up = 0;
	for (int i = 0; i < s->n; i++)
		up += (uint32_t)s->nodes[i].up;
	for (int i = 0; i < s->n; i++) {
		if (!s->nodes[i].up)
			continue;
		const struct gossip *g = &s->nodes[i].g;
		if (gossip_count_state(g, MIGR_NODE_ALIVE) != up)
			return 0;
		for (int j = 0; j < s->n; j++)
			if (s->nodes[j].up && sim_view(s, i, j) != MIGR_NODE_ALIVE)
				return 0;
	}
	return 1;
}

/* Every node that is up, but subj, sees subj in state. */
static int sim_all_see(struct sim *s, int subj, int state)
{
	for (int i = 0; i < s->n; i++)
		if (i != subj && s->nodes[i].up && sim_view(s, i, subj) != state)
			return 0;
	return 1;
}

/* How many nodes that are up, but subj, see subj in state. */
static int sim_count_see(struct sim *s, int subj, int state)
{
	int c = 0;
	for (int i = 0; i < s->n; i++)
		c += i != subj && s->nodes[i].up && sim_view(s, i, subj) == state;
	return c;
}

/* Rounds until converged, or -1 after max. */
static int sim_converge(struct sim *s, int max)
{
	for (int r = 1; r <= max; r++) {
		sim_round(s);
		if (sim_converged(s))
			return r;
	}
	return -1;
}

/* The transport saw nothing the daemon would refuse, and nothing malformed. */
static void check_transport(struct sim *s)
{
	CHECK_UINT(s->wire_errors, ==, 0);
	CHECK_UINT(s->not_from_sender, ==, 0);
	CHECK_UINT(s->too_long, ==, 0);
	CHECK_UINT(s->to_nobody, ==, 0);
}


/* Rounds until converged and then stable (no state change at all) for stable_rounds;
 * -1 if it did not converge within max, -2 if it did but did not stay so. */
static int converge_and_hold(struct sim *s, int max, int stable_rounds)
{
	int r = sim_converge(s, max);
	if (r < 0)
		return -1;
	size_t nev = s->nev;
	for (int k = 0; k < stable_rounds; k++) {
		sim_round(s);
		if (!sim_converged(s) || s->nev != nev)
			return -2;
	}
	return r;
}

/* Prints the first few state changes since event e, to see what went wrong. */
static void show_events(const struct sim *s, size_t e, size_t max)
{
	for (size_t i = e; i < s->nev && i < e + max; i++)
		fprintf(stderr, "  at +%llu ms node%d: %s %s -> %s\n",
			(unsigned long long)(s->ev[i].at - 1000000), s->ev[i].observer,
			s->ev[i].subject,
			s->ev[i].old == GOSSIP_STATE_NEW ? "new" : migr_node_state_name(s->ev[i].old),
			migr_node_state_name(s->ev[i].state));
}

/* ---- membership ---- */

static void test_converge_3(void)
{
	static struct sim s;
	sim_init_p(&s, 3, 3, WINDOW, SUSPECT, DEAD);	/* migrd's defaults */
	/* before any round each knows only itself */
	CHECK_UINT(s.nodes[1].g.count, ==, 1);
	CHECK(sim_view(&s, 1, 2) == -1);
	CHECK_INT(sim_converge(&s, 3), >=, 1);
	for (int i = 0; i < 3; i++) {
		UNIT_CTX("node%d", i);
		CHECK_UINT(s.nodes[i].g.count, ==, 3);
		for (int j = 0; j < 3; j++) {
			const struct gossip_node *n = gossip_find(&s.nodes[i].g, s.nodes[j].name);
			if (!CHECK(n != NULL))
				continue;
			CHECK_STR(gossip_name(n), s.nodes[j].name);
			CHECK_STR(gossip_addr(n), s.nodes[j].addr);
			CHECK_UINT(n->port, ==, s.nodes[j].port);
			CHECK_UINT(n->incarnation, ==, 1);
			CHECK_UINT(n->status, ==, GOSSIP_ALIVE);
		}
	}
	UNIT_CTX_CLEAR();
	/* each learned the other two as joins: new -> alive, reported once */
	size_t joins = 0;
	for (size_t e = 0; e < s.nev; e++)
		joins += s.ev[e].old == GOSSIP_STATE_NEW && s.ev[e].state == MIGR_NODE_ALIVE;
	CHECK_UINT(joins, ==, 6);
	CHECK_UINT(s.nev, ==, 6);
	CHECK(gossip_find(&s.nodes[0].g, "node3") == NULL);
	CHECK(gossip_find(&s.nodes[0].g, "never-interned-name") == NULL);

	/* and it stays so: not one state change over many timeouts */
	for (int k = 0; k < 5 * DEAD / PERIOD; k++)
		sim_round(&s);
	CHECK(sim_converged(&s));
	CHECK_UINT(s.nev, ==, 6);
	show_events(&s, 6, 5);
	CHECK_UINT(s.to_down, ==, 0);
	check_transport(&s);
	sim_free(&s);
}

static void test_converge_10(void)
{
	static struct sim s;
	sim_init(&s, 10);
	size_t ev0 = s.nev;
	int r = converge_and_hold(&s, 10, 3 * LONG_DEAD / PERIOD);
	CHECK_INT(r, >, 0);	/* log2(10) rounds and a join round trip; 10 is ~2x margin */
	if (r > 0)
		printf("  10 nodes converged in %d rounds\n", r);
	/* joins only: each node learned each other node once */
	CHECK_UINT(s.nev - ev0, ==, 10 * 9);
	if (r < 0)
		show_events(&s, 90, 10);
	check_transport(&s);
	sim_free(&s);
}

/* With migrd's default settings (period 1 s, fanout 2, window 8, suspect 5 s, dead 10 s)
 * and no loss, 50 nodes converge and then stay all alive: no live node is ever suspected.
 * (Once a regression: heartbeats spread too thinly, and old news filled every window.) */
static void test_converge_50(void)
{
	static struct sim s;
	sim_init_p(&s, 50, 50, WINDOW, SUSPECT, DEAD);
	UNIT_CTX("50 nodes, default settings");
	size_t ev0 = s.nev;
	int r = converge_and_hold(&s, 30, 3 * DEAD / PERIOD);
	CHECK_INT(r, >, 0);	/* O(log N) rounds to spread: 30 is a generous bound */
	if (r < 0) {
		int bad = 0;
		for (int i = 0; i < s.n; i++)
			for (int j = 0; j < s.n; j++)
				bad += i != j && sim_view(&s, i, j) != MIGR_NODE_ALIVE;
		fprintf(stderr, "  after %d rounds, %d of %d views are not alive\n",
			(int)((s.now - 1000000) / PERIOD), bad, s.n * (s.n - 1));
		for (size_t e = ev0; e < s.nev; e++)
			if (s.ev[e].old != GOSSIP_STATE_NEW) {
				show_events(&s, e, 3);
				break;
			}
	}
	check_transport(&s);
	UNIT_CTX_CLEAR();
	sim_free(&s);
}

/* The same at 10 nodes: once all know all, nobody is ever suspected. */
static void test_stable_10_defaults(void)
{
	static struct sim s;
	sim_init_p(&s, 10, 10, WINDOW, SUSPECT, DEAD);
	UNIT_CTX("10 nodes, default settings");
	int r = sim_converge(&s, 10);
	CHECK_INT(r, >, 0);
	size_t ev0 = s.nev;
	for (int k = 0; k < 60; k++)
		sim_round(&s);
	CHECK_UINT(s.nev - ev0, ==, 0);	/* no state changes: nobody went quiet */
	show_events(&s, ev0, 3);
	UNIT_CTX_CLEAR();
	sim_free(&s);
}

/* A node that starts later joins through its seed and learns everyone at once. */
static void test_late_join(void)
{
	static struct sim s;
	sim_init_p(&s, 10, 9, WINDOW, LONG_SUSPECT, LONG_DEAD);
	if (!CHECK_INT(sim_converge(&s, 10), >, 0))
		goto out;
	size_t ev0 = s.nev;
	sim_start(&s, 9);
	sim_round(&s);
	/* one round trip: it knocks on node0, node0 answers with its view at once */
	CHECK_INT(sim_view(&s, 0, 9), ==, MIGR_NODE_ALIVE);
	CHECK_UINT(s.nodes[9].g.count, >=, 1 + (WINDOW + 1) / 2);
	CHECK_INT(sim_converge(&s, 10), >, 0);
	/* the others report a join (new -> alive); nothing else changed */
	int joins = 0, other = 0;
	for (size_t e = ev0; e < s.nev; e++) {
		if (s.ev[e].observer == 9)
			continue;
		if (!strcmp(s.ev[e].subject, "node9") && s.ev[e].old == GOSSIP_STATE_NEW &&
		    s.ev[e].state == MIGR_NODE_ALIVE)
			joins++;
		else
			other++;
	}
	CHECK_INT(joins, ==, 9);
	CHECK_INT(other, ==, 0);
	check_transport(&s);
out:
	sim_free(&s);
}

/* ---- load ---- */

static int sees_vector(struct sim *s, int obs, int subj, const struct migr_vector *v)
{
	const struct gossip_node *n = gossip_find(&s->nodes[obs].g, s->nodes[subj].name);
	return n && n->vec.load_milli == v->load_milli && n->vec.cpus_milli == v->cpus_milli &&
	       n->vec.mem_free_kb == v->mem_free_kb && n->vec.jobs == v->jobs;
}

static int all_see_vector(struct sim *s, int subj, const struct migr_vector *v)
{
	for (int i = 0; i < s->n; i++)
		if (s->nodes[i].up && !sees_vector(s, i, subj, v))
			return 0;
	return 1;
}

static void test_load_propagates(void)
{
	static struct sim s;
	sim_init(&s, 10);
	if (!CHECK_INT(sim_converge(&s, 10), >, 0))
		goto out;
	for (int k = 0; k < 5; k++)
		sim_round(&s);
	struct migr_vector v = { 2500, 4000, 123456, 3 };
	uint32_t news = s.nodes[7].g.news_head;
	gossip_set_vector(&s.nodes[7].g, &v, s.now);
	CHECK_UINT(s.nodes[7].g.news_head, ==, news + 1);	/* a change is news */
	CHECK(sees_vector(&s, 7, 7, &v));
	int rounds = -1;
	for (int r = 1; r <= 6 && rounds < 0; r++) {
		sim_round(&s);
		if (all_see_vector(&s, 7, &v))
			rounds = r;
	}
	CHECK_INT(rounds, >, 0);
	if (rounds > 0)
		printf("  a load change reached 10 nodes in %d rounds\n", rounds);

	/* two changes at once, on two nodes */
	struct migr_vector v2 = { 100, 1000, 42, 0 };
	gossip_set_vector(&s.nodes[3].g, &v2, s.now);
	v.jobs = 4;
	gossip_set_vector(&s.nodes[7].g, &v, s.now);
	rounds = -1;
	for (int r = 1; r <= 6 && rounds < 0; r++) {
		sim_round(&s);
		if (all_see_vector(&s, 3, &v2) && all_see_vector(&s, 7, &v))
			rounds = r;
	}
	CHECK_INT(rounds, >, 0);
	check_transport(&s);
out:
	sim_free(&s);
}

/* Jitter is not news (it would crowd out real news) but still travels with heartbeats. */
static void test_load_jitter(void)
{
	static struct sim s;
	sim_init(&s, 5);
	if (!CHECK_INT(sim_converge(&s, 10), >, 0))
		goto out;
	struct migr_vector v = { 1000, 2000, 1 << 20, 1 };
	gossip_set_vector(&s.nodes[2].g, &v, s.now);
	for (int k = 0; k < 10; k++)
		sim_round(&s);
	CHECK(all_see_vector(&s, 2, &v));
	uint32_t news = s.nodes[2].g.news_head;
	v.load_milli += 99;		/* under 0.1 per CPU */
	v.mem_free_kb -= 1000;		/* under 1/16 */
	gossip_set_vector(&s.nodes[2].g, &v, s.now);
	CHECK_UINT(s.nodes[2].g.news_head, ==, news);
	int seen = 0;
	for (int k = 0; k < 15 && !seen; k++) {
		sim_round(&s);
		seen = all_see_vector(&s, 2, &v);
	}
	CHECK(seen);
	/* a change of job count is news however small */
	v.jobs++;
	gossip_set_vector(&s.nodes[2].g, &v, s.now);
	CHECK_UINT(s.nodes[2].g.news_head, ==, news + 1);
	check_transport(&s);
out:
	sim_free(&s);
}

/* ---- failure detection ---- */

/* Node k stops; every other node must go alive -> suspect -> dead on it, in time. */
static void stop_and_watch(struct sim *s, int k, unsigned suspect, unsigned dead)
{
	uint64_t t0 = s->now;	/* k's last heartbeat */
	s->nodes[k].up = 0;
	size_t ev0 = s->nev;
	int all_suspect_at = -1, all_dead_at = -1;
	for (unsigned r = 1; r <= (dead + 5 * PERIOD) / PERIOD; r++) {
		sim_round(s);
		uint64_t dt = s->now - t0;
		UNIT_CTX("%llu ms after node%d stopped", (unsigned long long)dt, k);
		/* every node knew it alive, so within suspect of t0: nobody calls it dead
		 * before dead - suspect, nobody doubts it before a period */
		if (dt < dead - suspect)
			CHECK_INT(sim_count_see(s, k, MIGR_NODE_DEAD), ==, 0);
		if (dt <= PERIOD)
			CHECK_INT(sim_count_see(s, k, MIGR_NODE_ALIVE), ==, s->n - 1);
		if (all_suspect_at < 0 && sim_all_see(s, k, MIGR_NODE_SUSPECT))
			all_suspect_at = (int)dt;
		if (all_dead_at < 0 && sim_all_see(s, k, MIGR_NODE_DEAD))
			all_dead_at = (int)dt;
		/* the others are not doubted */
		for (int j = 0; j < s->n; j++)
			if (j != k)
				CHECK(sim_all_see(s, j, MIGR_NODE_ALIVE));
	}
	UNIT_CTX_CLEAR();
	CHECK_INT(all_suspect_at, >, 0);
	CHECK_INT(all_suspect_at, <=, suspect + 2 * PERIOD);
	CHECK_INT(all_dead_at, >=, dead - suspect);
	CHECK_INT(all_dead_at, <=, dead + 2 * PERIOD);

	/* each of the others went alive -> suspect -> dead, once each, and said so */
	for (int i = 0; i < s->n; i++) {
		if (i == k)
			continue;
		int seq = 0, extra = 0;
		for (size_t e = ev0; e < s->nev; e++) {
			if (s->ev[e].observer != i || strcmp(s->ev[e].subject, s->nodes[k].name))
				continue;
			if (seq == 0 && s->ev[e].old == MIGR_NODE_ALIVE &&
			    s->ev[e].state == MIGR_NODE_SUSPECT)
				seq = 1;
			else if (seq == 1 && s->ev[e].old == MIGR_NODE_SUSPECT &&
				 s->ev[e].state == MIGR_NODE_DEAD)
				seq = 2;
			else
				extra++;
		}
		UNIT_CTX("node%d's view of node%d", i, k);
		CHECK_INT(seq, ==, 2);
		CHECK_INT(extra, ==, 0);
	}
	UNIT_CTX_CLEAR();
}

static void test_failure_detection(void)
{
	static struct sim s;
	const int k = 7;
	sim_init(&s, 10);
	if (!CHECK_INT(sim_converge(&s, 10), >, 0))
		goto out;
	for (int r = 0; r < 5; r++)
		sim_round(&s);
	stop_and_watch(&s, k, LONG_SUSPECT, LONG_DEAD);

	/* dead everywhere: its stale entry stops travelling; an occasional probe (to heal a
	 * partition) is all that goes its way */
	unsigned long carried = s.carried[k], sent_to = s.sent_to[k], sent = s.sent;
	for (int r = 0; r < 40; r++)
		sim_round(&s);
	CHECK_UINT(s.carried[k], ==, carried);
	CHECK_UINT(s.sent_to[k] - sent_to, >, 0);
	CHECK_UINT(s.sent_to[k] - sent_to, <, (s.sent - sent) / 10);
	CHECK(sim_all_see(&s, k, MIGR_NODE_DEAD));
	CHECK_UINT(gossip_count_state(&s.nodes[0].g, MIGR_NODE_DEAD), ==, 1);
	CHECK_UINT(gossip_count_state(&s.nodes[0].g, MIGR_NODE_ALIVE), ==, s.n - 1);
	check_transport(&s);
out:
	sim_free(&s);
}

/* The same with migrd's default timeouts, in a cluster small enough for them. */
static void test_failure_detection_defaults(void)
{
	static struct sim s;
	sim_init_p(&s, 3, 3, WINDOW, SUSPECT, DEAD);
	if (!CHECK_INT(sim_converge(&s, 5), >, 0))
		goto out;
	for (int r = 0; r < 5; r++)
		sim_round(&s);
	stop_and_watch(&s, 2, SUSPECT, DEAD);
	check_transport(&s);
out:
	sim_free(&s);
}

/* A node partitioned away, not crashed, comes back alive when the partition heals. */
static int drop_across(struct sim *s, int from, int to, const struct migr_gossip_msg *m)
{
	return (from == s->drop_arg) != (to == s->drop_arg);
}

static void test_partition_heals(void)
{
	static struct sim s;
	const int k = 3;
	sim_init(&s, 10);
	if (!CHECK_INT(sim_converge(&s, 10), >, 0))
		goto out;
	s.drop = drop_across;
	s.drop_arg = k;
	for (int r = 0; r < LONG_DEAD / PERIOD + 3; r++)
		sim_round(&s);
	CHECK(sim_all_see(&s, k, MIGR_NODE_DEAD));
	/* and node3 sees all the others dead */
	CHECK_UINT(gossip_count_state(&s.nodes[k].g, MIGR_NODE_DEAD), ==, s.n - 1);
	s.drop = NULL;
	/* probes of dead nodes happen one period in 8 on average */
	CHECK_INT(sim_converge(&s, 40), >, 0);
	check_transport(&s);
out:
	sim_free(&s);
}

/* ---- restarts ---- */

static int all_see_incarnation(struct sim *s, int k, uint64_t inc)
{
	for (int i = 0; i < s->n; i++) {
		const struct gossip_node *n = gossip_find(&s->nodes[i].g, s->nodes[k].name);
		if (s->nodes[i].up && (!n || n->incarnation != inc))
			return 0;
	}
	return 1;
}

static void restart_after(int down_rounds, int state_before)
{
	static struct sim s;
	const int k = 4;
	sim_init(&s, 10);
	UNIT_CTX("down %d rounds", down_rounds);
	if (!CHECK_INT(sim_converge(&s, 10), >, 0))
		goto out;
	for (int r = 0; r < 20; r++)
		sim_round(&s);
	const struct gossip_node *n0 = gossip_find(&s.nodes[0].g, "node4");
	uint64_t hb = n0 ? n0->heartbeat : 0;
	CHECK_UINT(hb, >, 20);
	sim_stop(&s, k);
	for (int r = 0; r < down_rounds; r++)
		sim_round(&s);
	CHECK(sim_all_see(&s, k, state_before));
	size_t ev0 = s.nev;

	/* back, with its heartbeat counted from 0 again but a higher incarnation */
	s.nodes[k].incarnation = 2;
	sim_start(&s, k);
	CHECK_UINT(s.nodes[k].g.count, ==, 1);	/* it has forgotten everything */
	int r, rounds = -1;
	for (r = 1; r <= 10 && rounds < 0; r++) {
		sim_round(&s);
		if (sim_converged(&s) && all_see_incarnation(&s, k, 2))
			rounds = r;
	}
	CHECK_INT(rounds, >, 0);
	for (int i = 0; i < s.n; i++) {
		const struct gossip_node *n = gossip_find(&s.nodes[i].g, "node4");
		if (i == k || !CHECK(n != NULL))
			continue;
		CHECK_UINT(n->heartbeat, <=, (uint64_t)r);	/* the new count, though lower */
		CHECK_UINT(n->heartbeat, <, hb);
	}
	/* those that had judged it dead report it alive again; those that had not, nothing */
	int back = 0, other = 0;
	for (size_t e = ev0; e < s.nev; e++) {
		if (s.ev[e].observer == k)
			continue;
		if (!strcmp(s.ev[e].subject, "node4") && s.ev[e].old == state_before &&
		    s.ev[e].state == MIGR_NODE_ALIVE)
			back++;
		else
			other++;
	}
	CHECK_INT(back, ==, state_before == MIGR_NODE_ALIVE ? 0 : s.n - 1);
	CHECK_INT(other, ==, 0);
	check_transport(&s);
out:
	UNIT_CTX_CLEAR();
	sim_free(&s);
}

static void test_restart_after_dead(void)
{
	restart_after(LONG_DEAD / PERIOD + 3, MIGR_NODE_DEAD);
}

static void test_restart_quickly(void)
{
	restart_after(2, MIGR_NODE_ALIVE);
}

static void entry_set(struct migr_gossip_entry *e, const char *name, const char *addr,
		      uint16_t port, uint64_t incarnation, uint64_t heartbeat)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->addr, sizeof(e->addr), "%s", addr);
	e->port = port;
	e->incarnation = incarnation;
	e->heartbeat = heartbeat;
}

/* An old incarnation's news, still travelling, does not undo the new one; nor does news
 * that is not newer. */
static void test_stale_news_ignored(void)
{
	static struct sim s;
	sim_init(&s, 3);
	if (!CHECK_INT(sim_converge(&s, 5), >, 0))
		goto out;
	struct migr_gossip_msg m;
	memset(&m, 0, sizeof(m));
	m.count = 2;
	entry_set(&m.entries[0], "node1", s.nodes[1].addr, s.nodes[1].port, 5, 1);
	m.entries[0].vec.load_milli = 111;
	entry_set(&m.entries[1], "node1", s.nodes[1].addr, s.nodes[1].port, 4, 1000);
	m.entries[1].vec.load_milli = 999;	/* older incarnation, later heartbeat */
	gossip_receive(&s.nodes[0].g, &m, s.now);
	const struct gossip_node *n = gossip_find(&s.nodes[0].g, "node1");
	if (!CHECK(n != NULL))
		goto out;
	CHECK_UINT(n->incarnation, ==, 5);
	CHECK_UINT(n->heartbeat, ==, 1);
	CHECK_UINT(n->vec.load_milli, ==, 111);
	/* same incarnation, the same or an older heartbeat: nothing changes */
	m.count = 1;
	m.entries[0].vec.load_milli = 222;
	gossip_receive(&s.nodes[0].g, &m, s.now);
	CHECK_UINT(n->vec.load_milli, ==, 111);
	m.entries[0].heartbeat = 0;
	gossip_receive(&s.nodes[0].g, &m, s.now);
	CHECK_UINT(n->vec.load_milli, ==, 111);
	/* a later heartbeat does */
	m.entries[0].heartbeat = 2;
	gossip_receive(&s.nodes[0].g, &m, s.now);
	CHECK_UINT(n->vec.load_milli, ==, 222);
	CHECK_UINT(n->heartbeat, ==, 2);
out:
	sim_free(&s);
}

static void send_nowhere(void *ctx, const char *addr, uint16_t port,
			 const struct migr_gossip_msg *m)
{
}

/* Old news of a node does not make it look alive: it counts from when it was heard. */
static void test_age_counts(void)
{
	struct gossip g;
	struct gossip_params p = { PERIOD, 2, WINDOW, SUSPECT, DEAD };
	struct gossip_transport t = { send_nowhere, NULL, NULL };
	gossip_init(&g, &p, &t, "rx", "192.0.2.1", 7470, 1, 7, 100000);
	struct migr_gossip_msg m;
	memset(&m, 0, sizeof(m));
	m.count = 4;
	entry_set(&m.entries[0], "relay", "192.0.2.2", 7470, 1, 10);
	entry_set(&m.entries[1], "fresh", "192.0.2.3", 7470, 1, 10);
	m.entries[1].age_ms = 1000;
	entry_set(&m.entries[2], "quiet", "192.0.2.4", 7470, 1, 10);
	m.entries[2].age_ms = SUSPECT;
	entry_set(&m.entries[3], "gone", "192.0.2.5", 7470, 1, 10);
	m.entries[3].age_ms = DEAD + 1;
	gossip_receive(&g, &m, 100000);
	static const struct {
		const char *name;
		int state;
	} want[] = {
		{ "relay", MIGR_NODE_ALIVE },
		{ "fresh", MIGR_NODE_ALIVE },
		{ "quiet", MIGR_NODE_SUSPECT },
		{ "gone", MIGR_NODE_DEAD },
	};
	for (size_t i = 0; i < UNIT_COUNT(want); i++) {
		const struct gossip_node *n = gossip_find(&g, want[i].name);
		UNIT_CTX("%s", want[i].name);
		if (CHECK(n != NULL)) {
			CHECK_INT(n->state, ==, want[i].state);
			CHECK_UINT(n->updated_at, ==, 100000 - m.entries[i].age_ms);
		}
	}
	UNIT_CTX_CLEAR();
	/* "fresh" goes suspect when its news is suspect_ms old, not suspect_ms after it came */
	gossip_tick(&g, 100000 + SUSPECT - 1000 - 1);
	CHECK_INT(gossip_find(&g, "fresh")->state, ==, MIGR_NODE_ALIVE);
	gossip_tick(&g, 100000 + SUSPECT - 1000);
	CHECK_INT(gossip_find(&g, "fresh")->state, ==, MIGR_NODE_SUSPECT);
	gossip_free(&g);
}

/* Nobody knows better than a node about itself: news of it from others is ignored. */
static void test_self_entry_ignored(void)
{
	static struct sim s;
	sim_init(&s, 3);
	if (!CHECK_INT(sim_converge(&s, 5), >, 0))
		goto out;
	struct migr_gossip_msg m;
	memset(&m, 0, sizeof(m));
	m.count = 2;
	entry_set(&m.entries[0], "node1", s.nodes[1].addr, s.nodes[1].port, 1, 1000000);
	entry_set(&m.entries[1], "node0", "192.0.2.1", 1, 99, 99);
	m.entries[1].status = GOSSIP_LEFT;
	const struct gossip_node *self = &s.nodes[0].g.nodes[0];
	uint64_t hb = self->heartbeat;
	gossip_receive(&s.nodes[0].g, &m, s.now);
	CHECK_UINT(self->status, ==, GOSSIP_ALIVE);
	CHECK_UINT(self->state, ==, MIGR_NODE_ALIVE);
	CHECK_UINT(self->incarnation, ==, 1);
	CHECK_UINT(self->heartbeat, ==, hb);
	CHECK_UINT(self->port, ==, 7470);
	CHECK_STR(gossip_addr(self), s.nodes[0].addr);
	/* and node0 goes on speaking for itself as before */
	sim_round(&s);
	CHECK(sim_converged(&s));
	CHECK_UINT(gossip_find(&s.nodes[2].g, "node0")->incarnation, ==, 1);
out:
	sim_free(&s);
}

/* gossip_receive() has no notion of who sent a message: it takes entries[0] as the
 * sender (a join is answered there). Refusing a message whose first entry is not the
 * authenticated peer is the caller's job (migrd/main.c, migrd_peer_message). */
static int replies_to_c;

static void count_replies_to_c(void *ctx, const char *addr, uint16_t port,
			       const struct migr_gossip_msg *m)
{
	replies_to_c += !strcmp(addr, "192.0.2.30") && port == 7003;
}

static void test_first_entry_is_sender(void)
{
	struct gossip g;
	struct gossip_params p = { PERIOD, 2, WINDOW, SUSPECT, DEAD };
	struct gossip_transport t = { count_replies_to_c, NULL, NULL };
	gossip_init(&g, &p, &t, "rx", "192.0.2.1", 7470, 1, 3, 1000);
	struct migr_gossip_msg m;
	memset(&m, 0, sizeof(m));
	m.count = 2;
	entry_set(&m.entries[0], "c", "192.0.2.30", 7003, 1, 5);
	entry_set(&m.entries[1], "b", "192.0.2.20", 7002, 1, 5);
	replies_to_c = 0;
	gossip_receive(&g, &m, 1000);
	CHECK_INT(replies_to_c, ==, 1);
	gossip_free(&g);
}

/* ---- leaving ---- */

/* Drops the goodbye to the odd nodes: they must learn it by gossip. */
static int drop_leave_to_odd(struct sim *s, int from, int to, const struct migr_gossip_msg *m)
{
	return from == s->drop_arg && m->entries[0].status == GOSSIP_LEFT && to % 2 == 1;
}

static void test_leave(void)
{
	static struct sim s;
	const int k = 6;
	sim_init(&s, 10);
	if (!CHECK_INT(sim_converge(&s, 10), >, 0))
		goto out;
	for (int r = 0; r < 3; r++)
		sim_round(&s);
	size_t ev0 = s.nev;
	s.drop = drop_leave_to_odd;
	s.drop_arg = k;
	unsigned long sent = s.sent;
	gossip_leave(&s.nodes[k].g, s.now);
	/* it says goodbye to every live peer at once */
	CHECK_UINT(s.sent - sent, ==, s.n - 1);
	CHECK_UINT(s.nodes[k].g.nodes[0].status, ==, GOSSIP_LEFT);
	CHECK_UINT(s.nodes[k].g.nodes[0].state, ==, MIGR_NODE_LEFT);
	sim_deliver(&s);
	s.nodes[k].up = 0;
	/* the even ones heard it directly */
	for (int i = 0; i < s.n; i += 2)
		if (i != k)
			CHECK_INT(sim_view(&s, i, k), ==, MIGR_NODE_LEFT);
	int rounds = -1;
	for (int r = 1; r <= 10 && rounds < 0; r++) {
		sim_round(&s);
		if (sim_all_see(&s, k, MIGR_NODE_LEFT))
			rounds = r;
	}
	CHECK_INT(rounds, >, 0);
	CHECK_INT(rounds, <, LONG_SUSPECT / PERIOD);	/* by gossip, not by a timeout */

	/* left stays left: not suspect, not dead, however long it is silent; and nobody
	 * gossips to it any more */
	unsigned long to_k = s.sent_to[k];
	for (int r = 0; r < 2 * LONG_DEAD / PERIOD; r++)
		sim_round(&s);
	CHECK(sim_all_see(&s, k, MIGR_NODE_LEFT));
	CHECK_UINT(s.sent_to[k], ==, to_k);
	for (int i = 0; i < s.n; i++) {
		if (i == k)
			continue;
		UNIT_CTX("node%d", i);
		const struct gossip_node *n = gossip_find(&s.nodes[i].g, "node6");
		if (CHECK(n != NULL))
			CHECK_UINT(n->status, ==, GOSSIP_LEFT);
		CHECK_UINT(gossip_count_state(&s.nodes[i].g, MIGR_NODE_LEFT), ==, 1);
		CHECK_UINT(gossip_count_state(&s.nodes[i].g, MIGR_NODE_ALIVE), ==, s.n - 1);
		/* reported alive -> left, once, and nothing else about it */
		int left = 0, other = 0;
		for (size_t e = ev0; e < s.nev; e++) {
			if (s.ev[e].observer != i || strcmp(s.ev[e].subject, "node6"))
				continue;
			if (s.ev[e].old == MIGR_NODE_ALIVE && s.ev[e].state == MIGR_NODE_LEFT)
				left++;
			else
				other++;
		}
		CHECK_INT(left, ==, 1);
		CHECK_INT(other, ==, 0);
	}
	UNIT_CTX_CLEAR();

	/* it may come back later as a new incarnation */
	s.drop = NULL;
	sim_stop(&s, k);
	s.nodes[k].incarnation = 2;
	sim_start(&s, k);
	int back = -1;
	for (int r = 1; r <= 10 && back < 0; r++) {
		sim_round(&s);
		if (sim_converged(&s) && all_see_incarnation(&s, k, 2))
			back = r;
	}
	CHECK_INT(back, >, 0);
	for (int i = 0; i < s.n; i++)
		CHECK_UINT(gossip_count_state(&s.nodes[i].g, MIGR_NODE_LEFT), ==, 0);
	check_transport(&s);
out:
	sim_free(&s);
}

/* ---- edges ---- */

/* A lone node knocks on its seeds every period; with nobody there, that is all. */
static void test_alone(void)
{
	static struct sim s;
	sim_init_p(&s, 2, 1, WINDOW, SUSPECT, DEAD);	/* node1, node0's seed, is down */
	for (int r = 0; r < 3; r++)
		sim_round(&s);
	CHECK_UINT(s.sent_to[1], ==, 3);
	CHECK_UINT(s.to_down, ==, 3);
	CHECK_UINT(s.nodes[0].g.nodes[0].heartbeat, ==, 3);
	CHECK_UINT(s.nodes[0].g.count, ==, 1);
	CHECK_UINT(gossip_count_state(&s.nodes[0].g, MIGR_NODE_ALIVE), ==, 1);
	/* once it is up, they find each other */
	sim_start(&s, 1);
	CHECK_INT(sim_converge(&s, 3), >, 0);
	check_transport(&s);
	sim_free(&s);
}

static struct migr_gossip_msg last_msg;
static int nsent;

static void keep_last(void *ctx, const char *addr, uint16_t port, const struct migr_gossip_msg *m)
{
	last_msg = *m;
	nsent++;
}

/* A message holds the sender and at most window others (window capped to what fits), all
 * distinct; and a window of 0 sends the sender's own entry alone. */
static void test_window_bound(void)
{
	static const unsigned windows[] = { 0, 1, 8, GOSSIP_WINDOW_MAX, 1000 };
	for (size_t w = 0; w < UNIT_COUNT(windows); w++) {
		struct gossip g;
		struct gossip_params p = { PERIOD, 1, windows[w], SUSPECT, DEAD };
		struct gossip_transport t = { keep_last, NULL, NULL };
		unsigned want = windows[w] < GOSSIP_WINDOW_MAX ? windows[w] : GOSSIP_WINDOW_MAX;
		UNIT_CTX("window %u", windows[w]);
		gossip_init(&g, &p, &t, "hub", "192.0.2.1", 7470, 1, 5, 1000);
		CHECK_UINT(g.p.window, ==, want);
		/* a feeder joins (answered at once), then tells of 100 more nodes */
		struct migr_gossip_msg m;
		memset(&m, 0, sizeof(m));
		m.count = 1;
		entry_set(&m.entries[0], "feeder", "192.0.2.2", 7470, 1, 1);
		nsent = 0;
		gossip_receive(&g, &m, 1000);
		CHECK_INT(nsent, ==, 1);
		for (int batch = 0; batch < 4; batch++) {
			m.count = 26;
			entry_set(&m.entries[0], "feeder", "192.0.2.2", 7470, 1, 2 + batch);
			for (int i = 1; i < 26; i++) {
				char name[32], addr[32];
				snprintf(name, sizeof(name), "n%d", batch * 25 + i);
				snprintf(addr, sizeof(addr), "198.51.100.%d", batch * 25 + i);
				entry_set(&m.entries[i], name, addr, 7470, 1, 1);
			}
			gossip_receive(&g, &m, 1000);
		}
		CHECK_UINT(g.count, ==, 102);
		nsent = 0;
		gossip_tick(&g, 2000);
		if (!CHECK_INT(nsent, >=, 1))
			continue;
		CHECK_UINT(last_msg.count, ==, 1 + want);
		CHECK_STR(last_msg.entries[0].name, "hub");
		CHECK_UINT(last_msg.entries[0].age_ms, ==, 0);
		CHECK_UINT(last_msg.entries[0].heartbeat, ==, 1);
		int distinct = 1;
		for (int i = 0; i < last_msg.count; i++)
			for (int j = 0; j < i; j++)
				distinct &= strcmp(last_msg.entries[i].name, last_msg.entries[j].name) != 0;
		CHECK(distinct);
		gossip_free(&g);
	}
	UNIT_CTX_CLEAR();
}

static int sent_to_sender, sent_elsewhere;

static void record_reply(void *ctx, const char *addr, uint16_t port,
			 const struct migr_gossip_msg *m)
{
	if (port == 9999 && !strcmp(addr, "192.0.2.99"))
		sent_to_sender++;
	else
		sent_elsewhere++;
}

/* The answer to a sender that joined goes to that sender even when merging the rest of
 * its message grew (moved) the node table. (Once a use-after-free.) */
static void test_join_reply_after_growth(void)
{
	struct gossip g;
	struct gossip_params p = { PERIOD, 2, GOSSIP_WINDOW_MAX, SUSPECT, DEAD };
	struct gossip_transport t = { record_reply, NULL, NULL };
	gossip_init(&g, &p, &t, "rx", "192.0.2.1", 7470, 1, 1, 1000);
	static struct migr_gossip_msg m;
	memset(&m, 0, sizeof(m));
	m.count = 40;
	entry_set(&m.entries[0], "tx", "192.0.2.99", 9999, 1, 10);
	for (int i = 1; i < m.count; i++) {
		char name[32], addr[32];
		snprintf(name, sizeof(name), "far%d", i);
		snprintf(addr, sizeof(addr), "198.51.100.%d", i);
		entry_set(&m.entries[i], name, addr, 7470, 1, 10);
	}
	UNIT_CTX("the answer to a joining sender, after the node table grew");
	sent_to_sender = sent_elsewhere = 0;
	gossip_receive(&g, &m, 2000);
	CHECK_UINT(g.count, ==, 41);
	CHECK_INT(sent_to_sender, ==, 1);
	CHECK_INT(sent_elsewhere, ==, 0);
	UNIT_CTX_CLEAR();
	gossip_free(&g);
}

int main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		UNIT(test_converge_3),
		UNIT(test_converge_10),
		UNIT(test_converge_50),
		UNIT(test_stable_10_defaults),
		UNIT(test_late_join),
		UNIT(test_load_propagates),
		UNIT(test_load_jitter),
		UNIT(test_failure_detection),
		UNIT(test_failure_detection_defaults),
		UNIT(test_partition_heals),
		UNIT(test_restart_after_dead),
		UNIT(test_restart_quickly),
		UNIT(test_stale_news_ignored),
		UNIT(test_age_counts),
		UNIT(test_self_entry_ignored),
		UNIT(test_first_entry_is_sender),
		UNIT(test_leave),
		UNIT(test_alone),
		UNIT(test_window_bound),
		UNIT(test_join_reply_after_growth),
	};
	return unit_main(argc, argv, tests, UNIT_COUNT(tests));
}
