/* test-gossip.c: membership, load spreading and failure detection (SWIM's probes,
 * suspicion and refutation, Lifeguard's health and timeouts, push-pull). N gossip instances
 * live in one process with a clock the test moves and a transport that queues each message
 * (through the wire coding, as migrd sends it) for delivery at once; a round is one period,
 * with the polls of its ping-reqs and nacks in between, as migrd's timer runs them. The test
 * can stop a node, drop messages, restart a node with a new incarnation, or make one leave,
 * and drive one instance by hand to look at each rule. */
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

/* Longer suspicion timeouts, as a larger cluster would have: a suspect has 10 to 20 s
 * (10 to 20 periods) to refute. */
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
	unsigned long carried[128];	/* per node: entries about it in news (not tables) */
	unsigned long by_type[256];	/* messages sent, per type */
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
	s->by_type[m->type]++;
	/* the daemon refuses a message whose first entry is not the sender's own */
	if (m->count == 0 || strcmp(m->entries[0].name, from->name) != 0)
		s->not_from_sender++;
	if (m->count > GOSSIP_MAX_ENTRIES || !migr_gossip_type(m->type))
		s->too_long++;
	for (uint16_t i = 1; i < m->count && m->type != MSG_GOSSIP_PUSH_PULL; i++) {
		int k = sim_index_of(s, m->entries[i].name);
		if (k >= 0 && (!to || to->index != k))	/* not what it is told of itself */
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
	if (migr_gossip_decode_type(m->type, w.buf, w.len, &q->m) != 0 ||
	    w.len != migr_gossip_size(m)) {
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

/* Delivers what was sent, and what that provokes, at time t. */
static void sim_deliver_at(struct sim *s, uint64_t t)
{
	for (int pass = 0; pass < 8 && s->nq; pass++) {
		struct sim_msg *q = s->q;
		size_t n = s->nq;
		s->q = NULL;
		s->nq = s->capq = 0;
		for (size_t i = 0; i < n; i++)
			if (s->nodes[q[i].to].up)
				gossip_receive(&s->nodes[q[i].to].g, &q[i].m, t);
		free(q);
	}
}

static void sim_deliver(struct sim *s)
{
	sim_deliver_at(s, s->now);
}

/* What falls due between ticks, at time t: ping-reqs, nacks (migrd runs them on a timer). */
static void sim_poll(struct sim *s, uint64_t t)
{
	for (int i = 0; i < s->n; i++)
		if (s->nodes[i].up && gossip_next_poll(&s->nodes[i].g) <= t)
			gossip_poll(&s->nodes[i].g, t);
	sim_deliver_at(s, t);
}

/* One period: every node that is up ticks, messages arrive; half a period later the
 * probes not answered go indirect, and helpers that got no answer nack a little later. */
static void sim_round(struct sim *s)
{
	s->now += PERIOD;
	for (int i = 0; i < s->n; i++)
		if (s->nodes[i].up)
			gossip_tick(&s->nodes[i].g, s->now);
	sim_deliver(s);
	sim_poll(s, s->now + PERIOD / 2);
	sim_poll(s, s->now + PERIOD * 9 / 10);
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
	s.now += 1;
	gossip_set_vector(&s.nodes[7].g, &v, s.now);
	CHECK_UINT(s.nodes[7].g.nodes[0].changed_at, ==, s.now);	/* a change is news */
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
	uint64_t news = s.nodes[2].g.nodes[0].changed_at;
	v.load_milli += 99;		/* under 0.1 per CPU */
	v.mem_free_kb -= 1000;		/* under 1/16 */
	gossip_set_vector(&s.nodes[2].g, &v, s.now + 1);
	CHECK_UINT(s.nodes[2].g.nodes[0].changed_at, ==, news);
	int seen = 0;
	for (int k = 0; k < 15 && !seen; k++) {
		sim_round(&s);
		seen = all_see_vector(&s, 2, &v);
	}
	CHECK(seen);
	/* a change of job count is news however small */
	v.jobs++;
	gossip_set_vector(&s.nodes[2].g, &v, s.now + 1);
	CHECK_UINT(s.nodes[2].g.nodes[0].changed_at, ==, s.now + 1);
	check_transport(&s);
out:
	sim_free(&s);
}

/* ---- failure detection ---- */

/* Node k stops; every other node must go alive -> suspect -> dead on it: suspect within a
 * few periods (someone probes it, SWIM's constant time, and the suspicion spreads), dead
 * no sooner than the least suspicion timeout after that and no later than the longest. */
static void stop_and_watch(struct sim *s, int k)
{
	uint64_t t0 = s->now;	/* k's last tick */
	uint64_t least = gossip_suspicion_ms(&s->p, (uint32_t)s->n, GOSSIP_CONFIRM);
	uint64_t most = gossip_suspicion_ms(&s->p, (uint32_t)s->n, 0);
	s->nodes[k].up = 0;
	size_t ev0 = s->nev;
	int first_suspect_at = -1, all_suspect_at = -1, all_dead_at = -1;
	for (unsigned r = 1; r <= (most + 10 * PERIOD) / PERIOD; r++) {
		sim_round(s);
		uint64_t dt = s->now - t0;
		UNIT_CTX("%llu ms after node%d stopped", (unsigned long long)dt, k);
		/* its last probes were answered: nobody doubts it before they are judged */
		if (dt <= PERIOD)
			CHECK_INT(sim_count_see(s, k, MIGR_NODE_ALIVE), ==, s->n - 1);
		if (first_suspect_at < 0 && sim_count_see(s, k, MIGR_NODE_ALIVE) < s->n - 1)
			first_suspect_at = (int)dt;
		/* nobody calls it dead before a suspicion had its least time to be refuted */
		if (first_suspect_at >= 0 && dt < first_suspect_at + least)
			CHECK_INT(sim_count_see(s, k, MIGR_NODE_DEAD), ==, 0);
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
	CHECK_INT(first_suspect_at, >, 0);
	CHECK_INT(first_suspect_at, <=, 5 * PERIOD);	/* 1 in 9 probes it, each period */
	CHECK_INT(all_suspect_at, >, 0);
	CHECK_INT(all_suspect_at, <=, first_suspect_at + 4 * PERIOD);
	CHECK_INT(all_dead_at, >=, first_suspect_at + (int)least);
	CHECK_INT(all_dead_at, <=, first_suspect_at + (int)most + 4 * PERIOD);
	printf("  node%d stopped: first suspect after %d ms, all see it suspect after %d ms,"
	       " dead after %d ms\n", k, first_suspect_at, all_suspect_at, all_dead_at);

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
	stop_and_watch(&s, k);

	/* dead everywhere: once the news of it is passed on, its entry travels no more but in
	 * whole tables; an occasional ping (to heal a partition) is all that goes its way */
	for (int r = 0; r < 10; r++)
		sim_round(&s);
	unsigned long carried = s.carried[k], sent_to = s.sent_to[k], sent = s.sent;
	for (int r = 0; r < 40; r++)
		sim_round(&s);
	CHECK_UINT(s.carried[k], ==, carried);
	CHECK_UINT(s.sent_to[k] - sent_to, >, 0);
	CHECK_UINT(s.sent_to[k] - sent_to, <, (s.sent - sent) / 20);
	CHECK(sim_all_see(&s, k, MIGR_NODE_DEAD));
	CHECK_UINT(gossip_count_state(&s.nodes[0].g, MIGR_NODE_DEAD), ==, 1);
	CHECK_UINT(gossip_count_state(&s.nodes[0].g, MIGR_NODE_ALIVE), ==, s.n - 1);
	check_transport(&s);
out:
	sim_free(&s);
}

/* The same with migrd's default timeouts, in a cluster of 3: too small for confirmations,
 * the least timeout applies at once. */
static void test_failure_detection_defaults(void)
{
	static struct sim s;
	sim_init_p(&s, 3, 3, WINDOW, SUSPECT, DEAD);
	if (!CHECK_INT(sim_converge(&s, 5), >, 0))
		goto out;
	for (int r = 0; r < 5; r++)
		sim_round(&s);
	CHECK_UINT(gossip_suspicion_ms(&s.p, 3, 0), ==, SUSPECT);
	stop_and_watch(&s, 2);
	check_transport(&s);
out:
	sim_free(&s);
}

/* Drops what node drop_arg is sent from anyone but the other nodes' helpers: its probers
 * see no answer, nor do the members they ask to help. */
static int drop_to_arg(struct sim *s, int from, int to, const struct migr_gossip_msg *m)
{
	return to == s->drop_arg;
}

/* A live node wrongly suspected (every message to it lost for a while) hears of it and
 * refutes with a higher incarnation before anyone calls it dead; it is then alive for all,
 * and its health shows it was the one in trouble. */
static void test_refutation(void)
{
	static struct sim s;
	const int k = 5;
	sim_init(&s, 10);
	if (!CHECK_INT(sim_converge(&s, 10), >, 0))
		goto out;
	uint64_t inc = s.nodes[k].g.nodes[0].incarnation;
	size_t ev0 = s.nev;
	s.drop = drop_to_arg;
	s.drop_arg = k;
	int suspected = 0;
	for (int r = 0; r < 20 && !suspected; r++) {
		sim_round(&s);
		suspected = sim_count_see(&s, k, MIGR_NODE_SUSPECT) > 0;
	}
	if (!CHECK(suspected))
		goto out;
	s.drop = NULL;
	int back = -1;
	for (int r = 1; r <= 10 && back < 0; r++) {
		sim_round(&s);
		if (sim_all_see(&s, k, MIGR_NODE_ALIVE))
			back = r;
	}
	CHECK_INT(back, >, 0);
	CHECK_UINT(s.nodes[k].g.nodes[0].incarnation, >, inc);
	/* nobody declared it dead: suspect -> alive, never dead */
	for (size_t e = ev0; e < s.nev; e++)
		if (!strcmp(s.ev[e].subject, s.nodes[k].name))
			CHECK_INT(s.ev[e].state, !=, MIGR_NODE_DEAD);
	for (int i = 0; i < s.n; i++) {
		const struct gossip_node *n = gossip_find(&s.nodes[i].g, s.nodes[k].name);
		if (i != k && CHECK(n != NULL))
			CHECK_UINT(n->incarnation, ==, s.nodes[k].g.nodes[0].incarnation);
	}
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
	/* node3 probes the others one after the other, each probe stretched as its health score
	 * rises (nobody answers, not even a nack), and nobody confirms its suspicions: the
	 * longest timeout, one after the other (86 periods) */
	int apart = -1;
	for (int r = 1; r <= 100 && apart < 0; r++) {
		sim_round(&s);
		if (sim_all_see(&s, k, MIGR_NODE_DEAD) &&
		    gossip_count_state(&s.nodes[k].g, MIGR_NODE_DEAD) == (uint32_t)s.n - 1)
			apart = r;
	}
	CHECK_INT(apart, >, 0);
	s.drop = NULL;
	/* a ping to a dead node now and then: the first that gets through is refuted */
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

/* Node 4 stops, and starts again with a higher incarnation once the others see it in
 * state_before (dead, or still alive: a restart within a period). */
static void restart_after(int state_before)
{
	static struct sim s;
	const int k = 4;
	sim_init(&s, 10);
	UNIT_CTX("restart once %s", migr_node_state_name(state_before));
	if (!CHECK_INT(sim_converge(&s, 10), >, 0))
		goto out;
	for (int r = 0; r < 20; r++)
		sim_round(&s);
	const struct gossip_node *n0 = gossip_find(&s.nodes[0].g, "node4");
	uint64_t hb = n0 ? n0->heartbeat : 0;
	CHECK_UINT(hb, >, 10);
	sim_stop(&s, k);
	for (int r = 0; r < 60 && !sim_all_see(&s, k, state_before); r++)
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
	restart_after(MIGR_NODE_DEAD);
}

static void test_restart_quickly(void)
{
	restart_after(MIGR_NODE_ALIVE);
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

/* ---- the rules, one instance driven by hand ---- */

/* Everything the instance sends, in order. */
static struct {
	struct migr_gossip_msg *m;
	struct migr_endpoint *to;
	size_t n, cap;
} out;

static void capture(void *ctx, const char *addr, uint16_t port, const struct migr_gossip_msg *m)
{
	if (out.n == out.cap) {
		out.cap = out.cap ? 2 * out.cap : 64;
		out.m = realloc(out.m, out.cap * sizeof(*out.m));
		out.to = realloc(out.to, out.cap * sizeof(*out.to));
		if (!out.m || !out.to)
			abort();
	}
	out.m[out.n] = *m;
	snprintf(out.to[out.n].addr, sizeof(out.to[0].addr), "%s", addr);
	out.to[out.n].port = port;
	out.n++;
}

static void out_free(void)
{
	free(out.m);
	free(out.to);
	memset(&out, 0, sizeof(out));
}

/* Member i of a hand-driven cluster: "m<i>" at 10.1.<i / 256>.<i % 256>. */
static void member_entry(struct migr_gossip_entry *e, int i, uint8_t status, uint64_t inc,
			 const char *accuser)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "m%d", i);
	snprintf(e->addr, sizeof(e->addr), "10.1.%d.%d", i / 256, i % 256);
	e->port = 7470;
	e->status = status;
	e->incarnation = inc;
	e->heartbeat = 100;
	if (accuser)
		snprintf(e->from, sizeof(e->from), "%s", accuser);
}

static int member_index(const char *name)
{
	return name[0] == 'm' ? atoi(name + 1) : -1;
}

static struct migr_gossip_msg hm;

/* Starts a message from member `from`, which speaks for itself first. */
static void hand_msg(uint8_t type, int from, uint32_t seq)
{
	memset(&hm, 0, sizeof(hm));
	hm.type = type;
	hm.seq = seq;
	snprintf(hm.target, sizeof(hm.target), "rx");
	member_entry(&hm.entries[0], from, GOSSIP_ALIVE, 1, NULL);
	hm.count = 1;
}

static struct migr_gossip_entry *hand_add(void)
{
	return &hm.entries[hm.count++];
}

/* "rx", told of m1..m<members> alive at incarnation 1 in a table (push-pull: not news). */
static void hand_init(struct gossip *g, const struct gossip_params *p, int members,
		      uint64_t now)
{
	struct gossip_transport t = { capture, NULL, NULL };
	gossip_init(g, p, &t, "rx", "192.0.2.250", 7470, 1, 11, now);
	for (int first = 2; first <= members; first += GOSSIP_MAX_ENTRIES - 1) {
		hand_msg(MSG_GOSSIP_PUSH_PULL, 1, 0);
		for (int i = first; i <= members && hm.count < GOSSIP_MAX_ENTRIES; i++)
			member_entry(hand_add(), i, GOSSIP_ALIVE, 1, NULL);
		gossip_receive(g, &hm, now);
	}
	out.n = 0;
}

static int hand_state(const struct gossip *g, int i)
{
	char name[16];
	snprintf(name, sizeof(name), "m%d", i);
	const struct gossip_node *n = gossip_find(g, name);
	return n ? n->state : -1;
}

/* The probe (a ping with a seq) among what was sent since `from`: its index, or -1. */
static long sent_probe(size_t from)
{
	long at = -1;
	for (size_t i = from; i < out.n; i++)
		if (out.m[i].type == MSG_GOSSIP_PING && out.m[i].seq) {
			if (at >= 0)
				return -2;	/* two probes: one at a time */
			at = (long)i;
		}
	return at;
}

static const struct gossip_params defaults = { PERIOD, 2, WINDOW, SUSPECT, DEAD, 0 };

/* One member per period, each once in a pass over the members in a shuffled order. */
static void test_probe_order(void)
{
	struct gossip g;
	enum { M = 20 };
	uint64_t now = 1000000;
	int seen[M + 1] = { 0 }, order[2][M];
	hand_init(&g, &defaults, M, now);
	for (int pass = 0; pass < 2; pass++) {
		for (int k = 0; k < M; k++) {
			size_t from = out.n;
			now += PERIOD;
			gossip_tick(&g, now);
			long p = sent_probe(from);
			if (!CHECK_INT(p, >=, 0))
				break;
			const struct migr_gossip_msg *m = &out.m[p];
			int target = member_index(m->target);
			UNIT_CTX("probe %d of pass %d: %s", k, pass, m->target);
			CHECK_INT(target, >=, 1);
			CHECK_INT(target, <=, M);
			char addr[32];
			snprintf(addr, sizeof(addr), "10.1.0.%d", target);
			CHECK_STR(out.to[p].addr, addr);	/* to the member it names */
			if (target >= 1 && target <= M)
				CHECK_INT(seen[target]++, ==, pass);
			order[pass][k] = target;
			/* answered at once */
			hand_msg(MSG_GOSSIP_ACK, target, m->seq);
			gossip_receive(&g, &hm, now);
		}
	}
	UNIT_CTX_CLEAR();
	int same = 1;
	for (int k = 0; k < M; k++)
		same &= order[0][k] == order[1][k];
	CHECK(!same);	/* reshuffled at every pass */
	CHECK_UINT(g.health, ==, 0);
	CHECK_UINT(gossip_count_state(&g, MIGR_NODE_ALIVE), ==, M + 1);
	gossip_free(&g);
	out_free();
}

enum { VIA_HELPER, ALL_NACK, SILENT };

/* The probe the last tick started (what it sent from out index *from on) gets no direct
 * answer: at half the period it goes indirect, ping-reqs to INDIRECT distinct other members
 * and one more direct ping; then `outcome`, and the next tick judges it. Returns the member
 * probed. */
static int probe_round(struct gossip *g, uint64_t *t, size_t *from, int outcome)
{
	long p = sent_probe(*from);
	if (!CHECK_INT(p, >=, 0))
		return -1;
	uint32_t seq = out.m[p].seq;
	char target[MIGR_NAME_MAX + 1];
	snprintf(target, sizeof(target), "%s", out.m[p].target);
	int x = member_index(target);
	CHECK_UINT(gossip_next_poll(g), ==, *t + PERIOD / 2);
	size_t at = out.n;
	gossip_poll(g, *t + PERIOD / 2 - 1);
	CHECK_UINT(out.n, ==, at);	/* not yet */
	gossip_poll(g, *t + PERIOD / 2);
	int helpers[8], nh = 0, direct = 0;
	for (size_t i = at; i < out.n; i++) {
		const struct migr_gossip_msg *m = &out.m[i];
		if (m->type == MSG_GOSSIP_PING && m->seq == seq) {
			direct++;
			continue;
		}
		if (!CHECK_INT(m->type, ==, MSG_GOSSIP_PING_REQ))
			continue;
		char addr[32];
		snprintf(addr, sizeof(addr), "10.1.0.%d", x);
		CHECK_UINT(m->seq, ==, seq);
		CHECK_STR(m->target, target);
		CHECK_STR(m->at.addr, addr);
		CHECK_UINT(m->at.port, ==, 7470);
		int h = atoi(out.to[i].addr + strlen("10.1.0."));
		CHECK_INT(h, !=, x);
		for (int k = 0; k < nh; k++)
			CHECK_INT(helpers[k], !=, h);
		if (nh < 8)
			helpers[nh++] = h;
	}
	CHECK_INT(direct, ==, 1);
	CHECK_INT(nh, ==, 3);
	CHECK_UINT(gossip_next_poll(g), ==, UINT64_MAX);
	for (int k = 0; k < nh && outcome != SILENT; k++) {
		hand_msg(MSG_GOSSIP_ACK, helpers[k], seq);
		if (outcome == ALL_NACK)
			hm.flags = GOSSIP_NACK;
		gossip_receive(g, &hm, *t + PERIOD * 9 / 10);
		if (outcome == VIA_HELPER)
			break;	/* one is enough */
	}
	*from = out.n;
	*t += PERIOD;
	gossip_tick(g, *t);
	return x;
}

/* m1 tells rx of members [first, last]: suspect (membership news) or a new heartbeat. */
static void tell_range(struct gossip *g, int first, int last, uint8_t status, uint64_t now)
{
	for (int i = first; i <= last;) {
		hand_msg(MSG_GOSSIP_PING, 1, 0);
		for (; i <= last && hm.count < GOSSIP_MAX_ENTRIES; i++) {
			member_entry(hand_add(), i, status, 1, status == GOSSIP_SUSPECT ? "m1" : NULL);
			hm.entries[hm.count - 1].heartbeat = status == GOSSIP_SUSPECT ? 100 : 200;
		}
		gossip_receive(g, &hm, now);
	}
}

/* A flood of membership news (a hundred slow nodes suspected and refuting, in a cluster of
 * thousands) fills the news buffer: a load change still gets its share and goes out. */
static void test_load_news_survives_a_flood(void)
{
	struct gossip g;
	uint64_t t = 3000000;
	hand_init(&g, &defaults, 400, t);
	tell_range(&g, 2, 200, GOSSIP_SUSPECT, t);	/* more than the buffer holds */
	hand_msg(MSG_GOSSIP_PING, 1, 0);
	member_entry(hand_add(), 300, GOSSIP_ALIVE, 1, NULL);
	hm.entries[1].heartbeat = 200;
	hm.entries[1].vec.load_milli = 1500;		/* news: its load changed */
	gossip_receive(&g, &hm, t);
	tell_range(&g, 201, 260, GOSSIP_SUSPECT, t);	/* the flood goes on */
	tell_range(&g, 301, 390, GOSSIP_ALIVE, t);	/* fresher heartbeats, no news */
	size_t from = out.n;
	for (int k = 1; k <= 3; k++)
		gossip_tick(&g, t + k * PERIOD);
	int carried = 0;
	for (size_t i = from; i < out.n; i++)
		for (unsigned e = 1; e < out.m[i].count; e++)
			carried += member_index(out.m[i].entries[e].name) == 300 &&
				   out.m[i].entries[e].vec.load_milli == 1500;
	CHECK_INT(carried, >, 0);
	gossip_free(&g);
	out_free();
}

/* Acks the probe started since `from` directly, at time at; the target's index. */
static int ack_probe(struct gossip *g, size_t from, uint64_t at)
{
	long p = sent_probe(from);
	if (!CHECK_INT(p, >=, 0))
		return -1;
	int x = member_index(out.m[p].target);
	hand_msg(MSG_GOSSIP_ACK, x, out.m[p].seq);
	gossip_receive(g, &hm, at);
	return x;
}

/* Lifeguard's health falls with probes acked in time, not with acks that came only because
 * the probe waited longer: a node slow itself goes on waiting for its acks instead of
 * accusing a member whenever its score has run down. */
static void test_health_falls_only_with_timely_acks(void)
{
	struct gossip g;
	uint64_t t = 2000000, start = t;
	hand_init(&g, &defaults, 20, t);
	size_t from = out.n;
	gossip_tick(&g, t);
	long p = sent_probe(from);
	if (!CHECK_INT(p, >=, 0))
		goto out;
	uint32_t seq = out.m[p].seq;
	int x = probe_round(&g, &t, &from, SILENT);
	CHECK_UINT(g.health, ==, 3);
	/* acked after a period and a half, as a slow node hears its acks: the probe, which
	 * stretched meanwhile, takes it; no better */
	hand_msg(MSG_GOSSIP_ACK, x, seq);
	gossip_receive(&g, &hm, start + PERIOD * 3 / 2);
	from = out.n;
	t = start + 2 * PERIOD;
	gossip_tick(&g, t);
	CHECK_INT(hand_state(&g, x), ==, MIGR_NODE_ALIVE);
	CHECK_UINT(g.health, ==, 3);
	/* acked within the period: better */
	ack_probe(&g, from, t + PERIOD / 4);
	from = out.n;
	t += PERIOD;
	gossip_tick(&g, t);
	CHECK_UINT(g.health, ==, 2);
out:
	gossip_free(&g);
	out_free();
}

/* Messages sent since `from` that tell member x is suspect. */
static int sent_suspect(size_t from, int x)
{
	int c = 0;
	for (size_t i = from; i < out.n; i++)
		for (unsigned e = 1; e < out.m[i].count; e++)
			c += member_index(out.m[i].entries[e].name) == x &&
			     out.m[i].entries[e].status == GOSSIP_SUSPECT;
	return c;
}

/* Lifeguard, issue 16: a probe that hears nothing by the end of its period, not even a nack
 * from the members asked to help, says more about the prober than about the member. A node
 * in good health that learns so (a slow node at its first probe) accuses nobody yet: its
 * health goes up, and the probe waits as long as that health says, for the ack a slow node
 * hears a period and a half late. Before, each slow node accused one healthy member, whose
 * refutation did not reach every node of 5000 in time. */
static void test_silent_helpers_stretch_the_probe(void)
{
	struct gossip g;
	uint64_t t = 4000000, start = t;
	hand_init(&g, &defaults, 20, t);
	size_t from = out.n;
	gossip_tick(&g, t);
	CHECK_UINT(g.health, ==, 0);
	long p = sent_probe(from);
	if (!CHECK_INT(p, >=, 0))
		goto out;
	uint32_t seq = out.m[p].seq;
	size_t first = from;
	int x = probe_round(&g, &t, &from, SILENT);
	CHECK_INT(hand_state(&g, x), ==, MIGR_NODE_ALIVE);
	CHECK_INT(sent_suspect(first, x), ==, 0);
	CHECK_UINT(g.health, ==, 3);
	CHECK_UINT(g.probe.end, ==, start + 4 * PERIOD);
	/* the ack, late: the member was never suspected, and the next probe starts */
	hand_msg(MSG_GOSSIP_ACK, x, seq);
	gossip_receive(&g, &hm, start + PERIOD * 3 / 2);
	from = out.n;
	gossip_tick(&g, start + 2 * PERIOD);
	CHECK_INT(hand_state(&g, x), ==, MIGR_NODE_ALIVE);
	CHECK_INT(sent_suspect(first, x), ==, 0);
	CHECK_INT(sent_probe(from), >=, 0);
	CHECK_UINT(g.health, ==, 3);
	/* nacks from the helpers, late as well: the member, not us; suspect at the end of
	 * its period, as before */
	p = sent_probe(from);
	seq = out.m[p].seq;
	t = start + 2 * PERIOD;
	size_t asked = out.n;
	gossip_poll(&g, t + PERIOD / 2);
	for (size_t i = asked; i < out.n; i++) {
		if (out.m[i].type != MSG_GOSSIP_PING_REQ)
			continue;
		hand_msg(MSG_GOSSIP_ACK, atoi(out.to[i].addr + strlen("10.1.0.")), seq);
		hm.flags = GOSSIP_NACK;
		gossip_receive(&g, &hm, t + PERIOD * 3 / 2);
	}
	gossip_tick(&g, t + 4 * PERIOD);
	CHECK_INT(hand_state(&g, member_index(out.m[p].target)), ==, MIGR_NODE_SUSPECT);
	CHECK_UINT(g.health, ==, 3);
out:
	gossip_free(&g);
	out_free();
}

/* Issue 16: a member that refuted a suspicion lately is slow rather than dead, most likely.
 * Our probe of it waits two periods more for its ack before suspecting it (its ack, a period
 * and a half late, saves it); once the refutation is old, a probe suspects at the end of its
 * period as before. Each slow member of 10,000 was otherwise suspected by every prober that
 * tried it, and its suspicions and refutations crowded real deaths out of the news. */
static void test_refuted_member_gets_patience(void)
{
	struct gossip g;
	uint64_t t = 8000000;
	hand_init(&g, &defaults, 20, t);
	/* every member refutes: m1 speaks of itself and the others at incarnation 2 */
	for (int first = 2; first <= 20; first += GOSSIP_MAX_ENTRIES - 1) {
		hand_msg(MSG_GOSSIP_PING, 1, 0);
		hm.entries[0].incarnation = 2;
		for (int i = first; i <= 20 && hm.count < GOSSIP_MAX_ENTRIES; i++)
			member_entry(hand_add(), i, GOSSIP_ALIVE, 2, NULL);
		gossip_receive(&g, &hm, t);
	}
	size_t from = out.n;
	uint64_t start = t;
	gossip_tick(&g, t);
	long p = sent_probe(from);
	if (!CHECK_INT(p, >=, 0))
		goto out;
	uint32_t seq = out.m[p].seq;
	/* the helpers nack, the member is silent for a period: not suspect, no next probe */
	int x = probe_round(&g, &t, &from, ALL_NACK);
	CHECK_INT(hand_state(&g, x), ==, MIGR_NODE_ALIVE);
	CHECK_INT(sent_probe(from), ==, -1);
	CHECK_UINT(g.probe.end, ==, start + 3 * PERIOD);
	/* its ack a period and a half late: alive, our health unchanged, the next probe */
	hand_msg(MSG_GOSSIP_ACK, x, seq);
	hm.entries[0].incarnation = 2;
	gossip_receive(&g, &hm, start + PERIOD * 3 / 2);
	from = out.n;
	t = start + 2 * PERIOD;
	gossip_tick(&g, t);
	CHECK_INT(hand_state(&g, x), ==, MIGR_NODE_ALIVE);
	CHECK_UINT(g.health, ==, 0);
	/* the next one never answers: suspect after three periods, not before */
	start = t;
	int y = probe_round(&g, &t, &from, ALL_NACK);
	CHECK_INT(y, !=, x);
	CHECK_INT(hand_state(&g, y), ==, MIGR_NODE_ALIVE);
	gossip_tick(&g, start + 2 * PERIOD);
	CHECK_INT(hand_state(&g, y), ==, MIGR_NODE_ALIVE);
	from = out.n;
	t = start + 3 * PERIOD;
	gossip_tick(&g, t);
	CHECK_INT(hand_state(&g, y), ==, MIGR_NODE_SUSPECT);
	CHECK_UINT(g.health, ==, 0);
	/* long after the refutations (the probe just started answered in time): a probe
	 * suspects at the end of its period again */
	ack_probe(&g, from, t + PERIOD / 4);
	from = out.n;
	t = start + 4 * gossip_suspicion_ms(&defaults, 21, 0) + 10 * PERIOD;
	gossip_tick(&g, t);
	CHECK_UINT(g.probe.end, ==, t + PERIOD);
	int z = probe_round(&g, &t, &from, ALL_NACK);
	CHECK_INT(hand_state(&g, z), ==, MIGR_NODE_SUSPECT);
out:
	gossip_free(&g);
	out_free();
}

/* An ack passed on by a helper saves the member; nacks from every helper say the member
 * is at fault (suspect, our health unchanged); helpers silent too say we may be (Lifeguard:
 * health + 3, and the probe itself, then the next, waits 4 periods before it suspects). */
static void test_probe_indirect(void)
{
	struct gossip g;
	uint64_t t = 2000000;
	hand_init(&g, &defaults, 20, t);
	size_t from = out.n;
	gossip_tick(&g, t);

	int x = probe_round(&g, &t, &from, VIA_HELPER);
	CHECK_INT(hand_state(&g, x), ==, MIGR_NODE_ALIVE);
	CHECK_UINT(g.health, ==, 0);

	x = probe_round(&g, &t, &from, ALL_NACK);
	CHECK_INT(hand_state(&g, x), ==, MIGR_NODE_SUSPECT);
	CHECK_UINT(g.health, ==, 0);
	/* the member hears it at once, and whose probe failed (then refutes, if alive) */
	int told = 0;
	for (size_t i = from; i < out.n; i++) {
		const struct migr_gossip_msg *m = &out.m[i];
		told += m->type == MSG_GOSSIP_PING && !m->seq && member_index(m->target) == x &&
			m->count > 1 && member_index(m->entries[1].name) == x &&
			m->entries[1].status == GOSSIP_SUSPECT &&
			!strcmp(m->entries[1].from, "rx");
	}
	CHECK_INT(told, ==, 1);

	/* the helpers silent too, at the end of the period: nobody accused yet; the probe
	 * stretches to the 4 periods its new health calls for, and no other starts */
	uint64_t start = t;
	x = probe_round(&g, &t, &from, SILENT);
	CHECK_INT(hand_state(&g, x), ==, MIGR_NODE_ALIVE);
	CHECK_UINT(g.health, ==, 3);
	CHECK_UINT(g.probe.end, ==, start + 4 * PERIOD);
	CHECK_INT(sent_probe(from), ==, -1);
	for (int k = 2; k < 4; k++) {
		from = out.n;
		gossip_tick(&g, start + k * PERIOD);
		CHECK_INT(sent_probe(from), ==, -1);
		CHECK_INT(hand_state(&g, x), ==, MIGR_NODE_ALIVE);
	}
	/* still nothing: now it is suspect, the silence counted once */
	from = out.n;
	t = start + 4 * PERIOD;
	gossip_tick(&g, t);
	CHECK_INT(hand_state(&g, x), ==, MIGR_NODE_SUSPECT);
	CHECK_UINT(g.health, ==, 3);
	/* the probe this tick started waits 4 periods: no other starts meanwhile; silent
	 * again, it stretches to 7 (health 6) before it suspects */
	CHECK_UINT(g.probe.end, ==, t + 4 * PERIOD);
	long p = sent_probe(from);
	if (CHECK_INT(p, >=, 0)) {
		int y = member_index(out.m[p].target);
		gossip_poll(&g, t + PERIOD / 2);
		for (int k = 1; k < 7; k++) {
			from = out.n;
			gossip_tick(&g, t + k * PERIOD);
			CHECK_INT(sent_probe(from), ==, -1);
			CHECK_INT(hand_state(&g, y), ==, MIGR_NODE_ALIVE);
		}
		CHECK_UINT(g.health, ==, 6);
		from = out.n;
		gossip_tick(&g, t + 7 * PERIOD);
		CHECK_INT(hand_state(&g, y), ==, MIGR_NODE_SUSPECT);
		CHECK_UINT(g.health, ==, 6);
		CHECK_INT(sent_probe(from), >=, 0);	/* and the next starts */
	}
	gossip_free(&g);
	out_free();
}

/* What a message says of a member, SWIM's way: a higher incarnation wins; at the same one
 * dead or left beats suspect beats alive; news of a node never known alive is no news. */
static void test_merge_order(void)
{
	struct gossip g;
	uint64_t t = 3000000;
	hand_init(&g, &defaults, 20, t);
	struct migr_gossip_entry *e;

	/* suspect at its incarnation: suspect; the same incarnation alive again (a later
	 * heartbeat) carries its load but does not clear it; a higher one does */
	hand_msg(MSG_GOSSIP_PING, 2, 0);
	member_entry(hand_add(), 3, GOSSIP_SUSPECT, 1, "m2");
	gossip_receive(&g, &hm, t);
	CHECK_INT(hand_state(&g, 3), ==, MIGR_NODE_SUSPECT);
	hand_msg(MSG_GOSSIP_PING, 4, 0);
	e = hand_add();
	member_entry(e, 3, GOSSIP_ALIVE, 1, NULL);
	e->heartbeat = 200;
	e->vec.load_milli = 777;
	gossip_receive(&g, &hm, t);
	CHECK_INT(hand_state(&g, 3), ==, MIGR_NODE_SUSPECT);
	CHECK_UINT(gossip_find(&g, "m3")->vec.load_milli, ==, 777);
	member_entry(e, 3, GOSSIP_ALIVE, 2, NULL);
	gossip_receive(&g, &hm, t);
	CHECK_INT(hand_state(&g, 3), ==, MIGR_NODE_ALIVE);
	CHECK_UINT(gossip_find(&g, "m3")->incarnation, ==, 2);

	/* an older incarnation's suspicion is no news */
	hand_msg(MSG_GOSSIP_PING, 2, 0);
	member_entry(hand_add(), 3, GOSSIP_SUSPECT, 1, "m2");
	gossip_receive(&g, &hm, t);
	CHECK_INT(hand_state(&g, 3), ==, MIGR_NODE_ALIVE);

	/* dead beats suspect at the same incarnation, and stays; a higher one revives it */
	hand_msg(MSG_GOSSIP_ACK, 2, 0);
	member_entry(hand_add(), 7, GOSSIP_SUSPECT, 1, "m2");
	member_entry(hand_add(), 7, GOSSIP_DEAD, 1, NULL);
	member_entry(hand_add(), 7, GOSSIP_SUSPECT, 1, "m5");
	member_entry(hand_add(), 7, GOSSIP_ALIVE, 1, NULL);
	gossip_receive(&g, &hm, t);
	CHECK_INT(hand_state(&g, 7), ==, MIGR_NODE_DEAD);
	hand_msg(MSG_GOSSIP_PING, 7, 0);	/* what it says of itself, at that incarnation */
	gossip_receive(&g, &hm, t);
	CHECK_INT(hand_state(&g, 7), ==, MIGR_NODE_DEAD);
	hand_msg(MSG_GOSSIP_PING, 7, 0);
	hm.entries[0].incarnation = 2;
	gossip_receive(&g, &hm, t);
	CHECK_INT(hand_state(&g, 7), ==, MIGR_NODE_ALIVE);

	/* left, likewise; and a left node is not suspected at the same incarnation */
	hand_msg(MSG_GOSSIP_PING, 2, 0);
	member_entry(hand_add(), 9, GOSSIP_LEFT, 1, NULL);
	member_entry(hand_add(), 9, GOSSIP_SUSPECT, 1, "m2");
	gossip_receive(&g, &hm, t);
	CHECK_INT(hand_state(&g, 9), ==, MIGR_NODE_LEFT);
	member_entry(&hm.entries[1], 9, GOSSIP_ALIVE, 2, NULL);
	hm.count = 2;
	gossip_receive(&g, &hm, t);
	CHECK_INT(hand_state(&g, 9), ==, MIGR_NODE_ALIVE);

	/* nodes never known alive: nothing to act on */
	hand_msg(MSG_GOSSIP_PING, 2, 0);
	member_entry(hand_add(), 500, GOSSIP_SUSPECT, 1, "m2");
	member_entry(hand_add(), 501, GOSSIP_DEAD, 1, NULL);
	member_entry(hand_add(), 502, GOSSIP_LEFT, 1, NULL);
	gossip_receive(&g, &hm, t);
	CHECK_INT(hand_state(&g, 500), ==, -1);
	CHECK_INT(hand_state(&g, 501), ==, -1);
	CHECK_INT(hand_state(&g, 502), ==, -1);
	gossip_free(&g);
	out_free();
}

/* The suspicion timeout: 4 log10(N) periods unconfirmed (dead-timeout at least), down to
 * two thirds of that (suspect-timeout at least) with GOSSIP_CONFIRM confirmations; too small
 * a cluster to confirm anything gets the least at once. */
static void test_suspicion_timeouts(void)
{
	static const struct {
		uint32_t members;
		unsigned c;
		uint64_t ms;
	} want[] = {
		{ 3, 0, SUSPECT },	/* too few to confirm */
		{ 4, 0, SUSPECT },
		{ 5, 0, DEAD },
		{ 5, 3, SUSPECT },
		{ 100, 0, DEAD },	/* 4 log10(100) = 8 periods: below dead-timeout */
		{ 1000, 0, 12000 },
		{ 1000, 3, 8000 },	/* 12000 * 2 / 3 */
		{ 10000, 0, 16000 },
		{ 10000, 1, 16000 - (16000 - 10666) / 2 },
		{ 10000, 3, 10666 },
		{ 10000, 9, 10666 },
	};
	for (size_t i = 0; i < UNIT_COUNT(want); i++) {
		UNIT_CTX("%u members, %u confirmations", want[i].members, want[i].c);
		uint64_t ms = gossip_suspicion_ms(&defaults, want[i].members, want[i].c);
		/* log10 is computed in fixed point: within a few ms */
		CHECK_UINT(ms + 3, >=, want[i].ms);
		CHECK_UINT(ms, <=, want[i].ms + 3);
	}
	for (unsigned c = 0; c < GOSSIP_CONFIRM; c++) {
		UNIT_CTX("%u confirmations", c);
		CHECK_UINT(gossip_suspicion_ms(&defaults, 10000, c), >,
			   gossip_suspicion_ms(&defaults, 10000, c + 1));
	}
	UNIT_CTX_CLEAR();
}

/* A suspicion dies at its timeout from when we heard it, shortened by each other member
 * that suspects it too (once each), and not before. */
static void test_suspicion_confirmed(void)
{
	for (int c = 0; c <= GOSSIP_CONFIRM; c++) {
		struct gossip g;
		uint64_t t = 4000000;
		UNIT_CTX("%d confirmations", c);
		hand_init(&g, &defaults, 20, t);
		hand_msg(MSG_GOSSIP_PING, 2, 0);
		member_entry(hand_add(), 3, GOSSIP_SUSPECT, 1, "m2");
		for (int k = 0; k < c; k++) {
			char who[16];
			snprintf(who, sizeof(who), "m%d", 10 + k);
			member_entry(hand_add(), 3, GOSSIP_SUSPECT, 1, who);
			member_entry(hand_add(), 3, GOSSIP_SUSPECT, 1, who);	/* once each */
		}
		member_entry(hand_add(), 3, GOSSIP_SUSPECT, 1, "m2");	/* the first again */
		gossip_receive(&g, &hm, t);
		uint64_t timeout = gossip_suspicion_ms(&defaults, 21, (unsigned)c);
		gossip_tick(&g, t + timeout - 1);
		CHECK_INT(hand_state(&g, 3), ==, MIGR_NODE_SUSPECT);
		gossip_tick(&g, t + timeout);
		CHECK_INT(hand_state(&g, 3), ==, MIGR_NODE_DEAD);
		gossip_free(&g);
	}
	UNIT_CTX_CLEAR();
	out_free();
}

/* Messages sent since `from` to member k, and the last of them (NULL if none). */
static int sent_to_member(size_t from, int k, const struct migr_gossip_msg **last)
{
	char addr[32];
	int c = 0;
	snprintf(addr, sizeof(addr), "10.1.0.%d", k);
	*last = NULL;
	for (size_t i = from; i < out.n; i++)
		if (!strcmp(out.to[i].addr, addr)) {
			c++;
			*last = &out.m[i];
		}
	return c;
}

/* What message m says of member x: its entry, or NULL. */
static const struct migr_gossip_entry *entry_for(const struct migr_gossip_msg *m, const char *x)
{
	for (unsigned e = 0; m && e < m->count; e++)
		if (!strcmp(m->entries[e].name, x))
			return &m->entries[e];
	return NULL;
}

/* Issue 16: a member that passes on a suspicion (or a death) we know to be refuted missed
 * the refutation, and will declare a live member dead when its timer runs out. It hears the
 * refutation from us at once: in our ack if it pinged us, else in an ack of no probe. News
 * as new as ours, or a suspicion of a member alive as before, is not corrected. */
static void test_stale_suspicion_corrected(void)
{
	struct gossip g;
	uint64_t t = 6000000;
	const struct migr_gossip_msg *c;
	const struct migr_gossip_entry *e;
	hand_init(&g, &defaults, 20, t);
	/* m5 refuted twice: alive at 3 */
	hand_msg(MSG_GOSSIP_ACK, 2, 0);
	member_entry(hand_add(), 5, GOSSIP_ALIVE, 3, NULL);
	gossip_receive(&g, &hm, t);
	CHECK_INT(hand_state(&g, 5), ==, MIGR_NODE_ALIVE);
	/* m4 says it is suspect at 2, in an ack: a message of its own back to m4 */
	size_t from = out.n;
	hand_msg(MSG_GOSSIP_ACK, 4, 0);
	member_entry(hand_add(), 5, GOSSIP_SUSPECT, 2, "m7");
	gossip_receive(&g, &hm, t);
	CHECK_INT(hand_state(&g, 5), ==, MIGR_NODE_ALIVE);
	if (CHECK_INT(sent_to_member(from, 4, &c), ==, 1)) {
		CHECK_UINT(c->type, ==, MSG_GOSSIP_ACK);
		CHECK_UINT(c->seq, ==, 0);
		e = entry_for(c, "m5");
		if (CHECK(e != NULL)) {
			CHECK_UINT(e->status, ==, GOSSIP_ALIVE);
			CHECK_UINT(e->incarnation, ==, 3);
		}
	}
	/* dead at 1, in a ping to us: in our ack */
	from = out.n;
	hand_msg(MSG_GOSSIP_PING, 6, 77);
	member_entry(hand_add(), 5, GOSSIP_DEAD, 1, NULL);
	gossip_receive(&g, &hm, t);
	if (CHECK_INT(sent_to_member(from, 6, &c), ==, 1)) {
		CHECK_UINT(c->type, ==, MSG_GOSSIP_ACK);
		CHECK_UINT(c->seq, ==, 77);
		e = entry_for(c, "m5");
		if (CHECK(e != NULL)) {
			CHECK_UINT(e->status, ==, GOSSIP_ALIVE);
			CHECK_UINT(e->incarnation, ==, 3);
		}
	}
	/* suspect at 3: news, not stale; nothing goes back */
	from = out.n;
	hand_msg(MSG_GOSSIP_ACK, 4, 0);
	member_entry(hand_add(), 5, GOSSIP_SUSPECT, 3, "m7");
	gossip_receive(&g, &hm, t);
	CHECK_INT(hand_state(&g, 5), ==, MIGR_NODE_SUSPECT);
	CHECK_INT(sent_to_member(from, 4, &c), ==, 0);
	/* a suspicion of us we refuted: our own entry heads the correction */
	hand_msg(MSG_GOSSIP_ACK, 8, 0);
	struct migr_gossip_entry *me = hand_add();
	member_entry(me, 0, GOSSIP_SUSPECT, 1, "m8");
	snprintf(me->name, sizeof(me->name), "rx");
	gossip_receive(&g, &hm, t);
	CHECK_UINT(g.nodes[0].incarnation, ==, 2);
	from = out.n;
	gossip_receive(&g, &hm, t);	/* the same, now stale */
	if (CHECK_INT(sent_to_member(from, 8, &c), ==, 1)) {
		CHECK_STR(c->entries[0].name, "rx");
		CHECK_UINT(c->entries[0].incarnation, ==, 2);
		CHECK_UINT(c->entries[0].status, ==, GOSSIP_ALIVE);
	}
	gossip_free(&g);
	out_free();
}

/* Issue 16: two periods before a suspicion is up, the suspect hears of it from us (a ping
 * with no seq, its suspicion first); its ack, with its own entry at the incarnation it
 * refuted with, saves it from a death we would have declared for having missed the
 * refutation. Unanswered, it dies on time. */
static void test_suspect_asked_before_death(void)
{
	/* no news pings to random members: what goes to m5 and m6 is the question */
	static const struct gossip_params quiet = { PERIOD, 0, WINDOW, SUSPECT, DEAD, 0 };
	struct gossip g;
	uint64_t t = 7000000;
	const struct migr_gossip_msg *c;
	hand_init(&g, &quiet, 100, t);
	uint64_t timeout = gossip_suspicion_ms(&quiet, 101, 0);
	for (int k = 5; k <= 6; k++) {
		hand_msg(MSG_GOSSIP_ACK, 2, 0);
		member_entry(hand_add(), k, GOSSIP_SUSPECT, 1, "m2");
		gossip_receive(&g, &hm, t);
		CHECK_INT(hand_state(&g, k), ==, MIGR_NODE_SUSPECT);
	}
	size_t from = out.n;
	gossip_tick(&g, t + timeout - 2 * PERIOD - 1);
	CHECK_INT(sent_to_member(from, 5, &c), ==, 0);
	from = out.n;
	gossip_tick(&g, t + timeout - 2 * PERIOD);
	for (int k = 5; k <= 6; k++) {
		UNIT_CTX("m%d", k);
		if (CHECK_INT(sent_to_member(from, k, &c), ==, 1)) {
			char name[8];
			snprintf(name, sizeof(name), "m%d", k);
			CHECK_UINT(c->type, ==, MSG_GOSSIP_PING);
			CHECK_UINT(c->seq, ==, 0);
			const struct migr_gossip_entry *e = entry_for(c, name);
			if (CHECK(e != NULL))
				CHECK_UINT(e->status, ==, GOSSIP_SUSPECT);
		}
	}
	UNIT_CTX_CLEAR();
	/* once only */
	from = out.n;
	gossip_tick(&g, t + timeout - PERIOD);
	CHECK_INT(sent_to_member(from, 5, &c), ==, 0);
	/* m5 answers, slowly, at the incarnation it refuted with; m6 does not */
	hand_msg(MSG_GOSSIP_ACK, 5, 0);
	hm.entries[0].incarnation = 2;
	gossip_receive(&g, &hm, t + timeout - PERIOD / 2);
	gossip_tick(&g, t + timeout);
	CHECK_INT(hand_state(&g, 5), ==, MIGR_NODE_ALIVE);
	CHECK_INT(hand_state(&g, 6), ==, MIGR_NODE_DEAD);
	gossip_free(&g);
	out_free();
}

/* A node that hears itself suspected or dead at its incarnation, or alive at a higher one
 * (an earlier life of its own), raises its incarnation past it: the refutation goes out
 * first thing in whatever it sends. Older news of it is ignored, and so is all of it once
 * it leaves. Being suspected counts against its health (Lifeguard). */
static void test_refute_self(void)
{
	struct gossip g;
	uint64_t t = 5000000;
	hand_init(&g, &defaults, 20, t);
	const struct gossip_node *self = &g.nodes[0];
	uint64_t hb = self->heartbeat;
	struct migr_gossip_entry *e;

	hand_msg(MSG_GOSSIP_PING, 2, 0);
	e = hand_add();
	member_entry(e, 0, GOSSIP_SUSPECT, 1, "m2");
	snprintf(e->name, sizeof(e->name), "rx");
	size_t from = out.n;
	gossip_receive(&g, &hm, t);
	CHECK_UINT(self->incarnation, ==, 2);
	CHECK_UINT(g.health, ==, 1);
	/* the ack carries it back to the accuser at once */
	if (CHECK_UINT(out.n, ==, from + 1)) {
		CHECK_INT(out.m[from].type, ==, MSG_GOSSIP_ACK);
		CHECK_STR(out.m[from].entries[0].name, "rx");
		CHECK_UINT(out.m[from].entries[0].incarnation, ==, 2);
		CHECK_UINT(out.m[from].entries[0].status, ==, GOSSIP_ALIVE);
		CHECK_STR(out.to[from].addr, "10.1.0.2");
	}
	e->status = GOSSIP_DEAD;	/* at 1: older now */
	gossip_receive(&g, &hm, t);
	CHECK_UINT(self->incarnation, ==, 2);
	e->incarnation = 2;
	gossip_receive(&g, &hm, t);
	CHECK_UINT(self->incarnation, ==, 3);
	e->status = GOSSIP_ALIVE;	/* alive at 3: what we say ourselves */
	e->incarnation = 3;
	gossip_receive(&g, &hm, t);
	CHECK_UINT(self->incarnation, ==, 3);
	e->incarnation = 7;		/* alive at 7: a former life of ours */
	gossip_receive(&g, &hm, t);
	CHECK_UINT(self->incarnation, ==, 8);
	CHECK_UINT(g.health, ==, 2);
	e->status = GOSSIP_LEFT;
	e->incarnation = 8;
	gossip_receive(&g, &hm, t);
	CHECK_UINT(self->incarnation, ==, 9);
	/* the rest of what it says of itself stands */
	CHECK_UINT(self->status, ==, GOSSIP_ALIVE);
	CHECK_UINT(self->state, ==, MIGR_NODE_ALIVE);
	CHECK_UINT(self->heartbeat, ==, hb);
	CHECK_UINT(self->port, ==, 7470);
	CHECK_STR(gossip_addr(self), "192.0.2.250");
	/* leaving: let them think what they like */
	gossip_leave(&g, t);
	e->status = GOSSIP_SUSPECT;
	e->incarnation = 9;
	gossip_receive(&g, &hm, t);
	CHECK_UINT(self->incarnation, ==, 9);
	CHECK_UINT(self->status, ==, GOSSIP_LEFT);
	gossip_free(&g);
	out_free();
}

/* gossip_receive() takes entries[0] as the sender: it answers there. Refusing a message
 * whose first entry is not the authenticated peer is the caller's job (migrd/main.c,
 * migrd_peer_message). A ping is answered only if meant for us, not for whoever had our
 * address before. */
static void test_first_entry_is_sender(void)
{
	struct gossip g;
	uint64_t t = 6000000;
	hand_init(&g, &defaults, 5, t);
	hand_msg(MSG_GOSSIP_PING, 30, 77);
	snprintf(hm.entries[0].addr, sizeof(hm.entries[0].addr), "192.0.2.30");
	hm.entries[0].port = 7003;
	member_entry(hand_add(), 20, GOSSIP_ALIVE, 1, NULL);
	gossip_receive(&g, &hm, t);
	if (CHECK_UINT(out.n, ==, 1)) {
		CHECK_STR(out.to[0].addr, "192.0.2.30");
		CHECK_UINT(out.to[0].port, ==, 7003);
		CHECK_INT(out.m[0].type, ==, MSG_GOSSIP_ACK);
		CHECK_UINT(out.m[0].seq, ==, 77);
	}
	snprintf(hm.target, sizeof(hm.target), "someone-else");
	gossip_receive(&g, &hm, t);
	CHECK_UINT(out.n, ==, 1);
	gossip_free(&g);
	out_free();
}

/* A table goes in parts of at most GOSSIP_MAX_ENTRIES entries, our own first in each, PARTS
 * parts a period, the last marked; every node once but what the asker sent (itself here).
 * A node busy sending its table answers another asker with a few entries. */
#define PARTS 64	/* gossip.c's PP_PARTS */
#define BUSY_ENTRIES 8	/* gossip.c's */

static void test_push_pull_parts(void)
{
	struct gossip g;
	enum { M = 4000 };
	uint64_t t = 7000000;
	static int seen[M + 2];
	memset(seen, 0, sizeof(seen));
	hand_init(&g, &defaults, M, t);
	hand_msg(MSG_GOSSIP_PUSH_PULL, M + 1, 0);	/* a new node asks */
	hm.flags = GOSSIP_PP_PULL | GOSSIP_PP_LAST;
	gossip_receive(&g, &hm, t);
	CHECK_UINT(out.n, ==, PARTS);
	hand_msg(MSG_GOSSIP_PUSH_PULL, 1, 0);		/* another, meanwhile */
	hm.flags = GOSSIP_PP_PULL;
	gossip_receive(&g, &hm, t);
	if (CHECK_UINT(out.n, ==, PARTS + 1)) {
		CHECK_STR(out.to[PARTS].addr, "10.1.0.1");
		CHECK_UINT(out.m[PARTS].flags, ==, GOSSIP_PP_LAST | GOSSIP_PP_BUSY);
		CHECK_UINT(out.m[PARTS].count, ==, 1 + BUSY_ENTRIES);
	}
	gossip_tick(&g, t + PERIOD);
	int parts = 0, last = 0, entries = 0;
	for (size_t i = 0; i < out.n; i++) {
		const struct migr_gossip_msg *m = &out.m[i];
		if (m->type != MSG_GOSSIP_PUSH_PULL || strcmp(out.to[i].addr, "10.1.15.161"))
			continue;	/* M + 1 = 4001 = 15 * 256 + 161 */
		parts++;
		CHECK_UINT(m->count, <=, GOSSIP_MAX_ENTRIES);
		CHECK_STR(m->entries[0].name, "rx");
		CHECK_UINT(m->flags & GOSSIP_PP_PULL, ==, 0);
		if (m->flags & GOSSIP_PP_LAST)
			last = parts;
		for (uint16_t k = 1; k < m->count; k++) {
			int j = member_index(m->entries[k].name);
			entries++;
			if (CHECK_INT(j, >=, 1) && CHECK_INT(j, <=, M + 1))
				seen[j]++;
		}
	}
	CHECK_INT(parts, ==, (M + 62) / 63);
	CHECK_INT(last, ==, parts);
	CHECK_INT(entries, ==, M);
	int once = 1;
	for (int j = 1; j <= M; j++)
		once &= seen[j] == 1;
	CHECK(once);
	CHECK_INT(seen[M + 1], ==, 0);
	gossip_free(&g);
	out_free();
}

/* Exchanges started (our table, asking for theirs) among what was sent since `from`. */
static int sent_exchanges(size_t from)
{
	int c = 0;
	for (size_t i = from; i < out.n; i++)
		c += out.m[i].type == MSG_GOSSIP_PUSH_PULL && (out.m[i].flags & GOSSIP_PP_PULL);
	return c;
}

/* An exchange whose answer never comes (lost, or the member died) is not a fruitless one:
 * the next starts a period after its deadline, with another member, and the wait that
 * fruitless exchanges built up is neither reset nor made longer. Counted fruitless, a lost
 * answer made a node starting with thousands wait 2^k periods for nothing (5% loss). */
static void test_lost_answer_is_not_fruitless(void)
{
	struct gossip g;
	uint64_t t = 9000000;
	hand_init(&g, &defaults, 20, t);
	g.pp_next = t;
	g.pp_fruitless = 3;
	size_t from = out.n;
	gossip_tick(&g, t);
	CHECK_INT(sent_exchanges(from), ==, 1);
	uint64_t deadline = g.pp_deadline;
	CHECK_UINT(deadline, >, t + PERIOD);
	for (t += PERIOD; t < deadline; t += PERIOD) {
		from = out.n;
		gossip_tick(&g, t);
		CHECK_INT(sent_exchanges(from), ==, 0);
	}
	from = out.n;
	gossip_tick(&g, deadline);
	CHECK_INT(sent_exchanges(from), ==, 0);
	CHECK_UINT(g.pp_fruitless, ==, 3);
	from = out.n;
	gossip_tick(&g, deadline + PERIOD);
	CHECK_INT(sent_exchanges(from), ==, 1);
	CHECK_UINT(g.pp_fruitless, ==, 3);
	gossip_free(&g);
	out_free();
}

/* Alone, a node asks its seeds for their tables, one seed a period, its own entry alone. */
static void test_join_asks_seeds(void)
{
	struct gossip g;
	struct gossip_transport tr = { capture, NULL, NULL };
	gossip_init(&g, &defaults, &tr, "rx", "192.0.2.250", 7470, 1, 11, 1000);
	gossip_add_seed(&g, "192.0.2.1", 7470);
	gossip_add_seed(&g, "192.0.2.2", 7471);
	for (int k = 0; k < 4; k++)
		gossip_tick(&g, 1000 + (uint64_t)k * PERIOD);
	if (CHECK_UINT(out.n, ==, 4)) {
		for (size_t i = 0; i < 4; i++) {
			UNIT_CTX("knock %zu", i);
			CHECK_INT(out.m[i].type, ==, MSG_GOSSIP_PUSH_PULL);
			CHECK_UINT(out.m[i].flags, ==, GOSSIP_PP_PULL | GOSSIP_PP_LAST);
			CHECK_UINT(out.m[i].count, ==, 1);
			CHECK_STR(out.to[i].addr, i % 2 ? "192.0.2.2" : "192.0.2.1");
		}
		UNIT_CTX_CLEAR();
	}
	gossip_free(&g);
	out_free();
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

/* The news a node sends each period (a ping without seq) holds the sender and at most
 * window vectors of others (window capped to what fits), all distinct, once the news of
 * the nodes just learned has been passed on; a window of 0 sends the sender's own alone. */
static void test_window_bound(void)
{
	static const unsigned windows[] = { 0, 1, 8, GOSSIP_WINDOW_MAX, 1000 };
	for (size_t w = 0; w < UNIT_COUNT(windows); w++) {
		struct gossip g;
		struct gossip_params p = { PERIOD, 1, windows[w], SUSPECT, DEAD, 0 };
		unsigned want = windows[w] < GOSSIP_WINDOW_MAX ? windows[w] : GOSSIP_WINDOW_MAX;
		UNIT_CTX("window %u", windows[w]);
		hand_init(&g, &p, 100, 1000);
		CHECK_UINT(g.p.window, ==, want);
		CHECK_UINT(g.count, ==, 101);
		const struct migr_gossip_msg *last = NULL;
		for (int k = 1; k <= 20; k++) {
			size_t from = out.n;
			gossip_tick(&g, 1000 + (uint64_t)k * PERIOD);
			/* answered, so that nobody is suspected */
			long pr = sent_probe(from);
			if (pr >= 0) {
				hand_msg(MSG_GOSSIP_ACK, member_index(out.m[pr].target),
					 out.m[pr].seq);
				gossip_receive(&g, &hm, 1000 + (uint64_t)k * PERIOD);
			}
			for (size_t i = from; i < out.n; i++)
				if (out.m[i].type == MSG_GOSSIP_PING && !out.m[i].seq)
					last = &out.m[i];
		}
		if (!CHECK(last != NULL))
			continue;
		CHECK_UINT(last->count, ==, 1 + want);
		CHECK_STR(last->entries[0].name, "rx");
		CHECK_UINT(last->entries[0].age_ms, ==, 0);
		CHECK_UINT(last->entries[0].heartbeat, ==, 20);
		int distinct = 1;
		for (int i = 0; i < last->count; i++)
			for (int j = 0; j < i; j++)
				distinct &= !!strcmp(last->entries[i].name, last->entries[j].name);
		CHECK(distinct);
		gossip_free(&g);
		out_free();
	}
	UNIT_CTX_CLEAR();
}

/* The answer to a node that asks for our table goes to that node even when merging its
 * message grew (moved) the node table (once a use-after-free); it carries what the asker
 * did not send us. */
static void test_join_reply_after_growth(void)
{
	struct gossip g;
	uint64_t t = 8000000;
	hand_init(&g, &defaults, 3, t);
	hand_msg(MSG_GOSSIP_PUSH_PULL, 99, 0);
	hm.flags = GOSSIP_PP_PULL;
	for (int i = 1; i < 40; i++)
		member_entry(hand_add(), 100 + i, GOSSIP_ALIVE, 1, NULL);
	UNIT_CTX("the answer to a joining sender, after the node table grew");
	gossip_receive(&g, &hm, t);
	CHECK_UINT(g.count, ==, 44);
	if (CHECK_UINT(out.n, ==, 1)) {
		CHECK_STR(out.to[0].addr, "10.1.0.99");
		CHECK_UINT(out.m[0].flags, ==, GOSSIP_PP_LAST);
		if (CHECK_UINT(out.m[0].count, ==, 4)) {
			int seen = 0;
			for (int i = 1; i < 4; i++)
				seen |= 1 << member_index(out.m[0].entries[i].name);
			CHECK_INT(seen, ==, 2 | 4 | 8);	/* m1, m2, m3 */
		}
	}
	UNIT_CTX_CLEAR();
	gossip_free(&g);
	out_free();
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
		UNIT(test_refutation),
		UNIT(test_partition_heals),
		UNIT(test_restart_after_dead),
		UNIT(test_restart_quickly),
		UNIT(test_stale_news_ignored),
		UNIT(test_probe_order),
		UNIT(test_probe_indirect),
		UNIT(test_health_falls_only_with_timely_acks),
		UNIT(test_silent_helpers_stretch_the_probe),
		UNIT(test_refuted_member_gets_patience),
		UNIT(test_load_news_survives_a_flood),
		UNIT(test_merge_order),
		UNIT(test_suspicion_timeouts),
		UNIT(test_suspicion_confirmed),
		UNIT(test_refute_self),
		UNIT(test_stale_suspicion_corrected),
		UNIT(test_suspect_asked_before_death),
		UNIT(test_first_entry_is_sender),
		UNIT(test_push_pull_parts),
		UNIT(test_lost_answer_is_not_fruitless),
		UNIT(test_join_asks_seeds),
		UNIT(test_leave),
		UNIT(test_alone),
		UNIT(test_window_bound),
		UNIT(test_join_reply_after_growth),
	};
	return unit_main(argc, argv, tests, UNIT_COUNT(tests));
}
