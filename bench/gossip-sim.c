/* gossip-sim: drives migrd's own gossip module (migrd/gossip.c, linked in unchanged) for N
 * simulated nodes on a virtual clock, with an in-memory transport that carries each message
 * in its wire coding (migr_gossip_encode, decoded again by migr_gossip_decode_type).
 *
 * Time moves in rounds of one gossip period, each cut into SLOTS slots. In round r, at time
 * r * period, every running node does what migrd's gossip_period() does: gossip_set_vector(),
 * then gossip_tick(), which probes one member and sends news. A message is delivered at the
 * first slot boundary at or after its send time plus --latency (default 0, as on a LAN),
 * unless the loss draw dropped it or its receiver has stopped; what it provokes follows in
 * the same way. At every slot, after the deliveries, the nodes whose gossip_next_poll() is
 * due get gossip_poll(), as migrd's timer gives it them: a probe's ping-reqs half a period
 * after its ping, a helper's nack. A slow node (--slow) handles every message it is sent
 * --slow-ms late: its answers come late, and so do the answers to its own probes.
 *
 * Scenarios, for each N:
 *   join   a cold start: every node starts at time 0 knowing only one seed (node 0, which
 *          has none), as a daemon does with its `peer` lines; rounds until every node has
 *          every other node in its table, and until every node sees every other alive.
 * Then, on a formed cluster (every node told of every other at time 0 through
 * gossip_receive(), see sim_warm()), one after the other:
 *   steady --steady quiet periods: traffic, false suspicions;
 *   load   one node's load steps from 0 to 1.5 (news, by gossip.c's vector_news()); rounds
 *          until every running node holds the new value;
 *   death  one node stops (no more ticks, messages to it are lost); periods from its last
 *          tick until every running node that knows it sees it dead;
 *   rejoin that node starts again (a higher incarnation, an empty table, its seeds); rounds
 *          until every other node sees it alive again, and until it sees every node alive;
 * and the traffic: the bytes of each message as encoded, per node per period, mean and max,
 * and on the wire (frame header and the sealed record's length and tag added; TCP/IP
 * headers not). False suspicions and deaths are those of running nodes, slow ones included
 * (and counted apart: a node slower than a period is suspected by design). --trace-false
 * names each on stderr: an accusation of a healthy node by its prober, a refutation, each
 * suspicion that times out at a node's tick (the false death: accusers, incarnations on
 * both sides) and each death taken from a rumour; and, every round, how full the news
 * buffers are. Rounds count from 0 in the join and again in the formed cluster.
 *
 * --json prints one JSON object per N (see bench/README.md). Parameters default to migrd's
 * own (libmigr/conf.c defaults, read through migr_config_load()). */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "conf.h"
#include "gossip.h"
#include "proto.h"
#include "xmalloc.h"

#define SIM_PORT MIGR_DEFAULT_PORT
#define NODES_MAX 1000000u
#define N_LIST_MAX 32
#define SLOTS 10	/* slots per period: when deliveries and polls happen */
/* On the wire a gossip payload travels in a frame (header) sealed into a record:
 * u32 length, ciphertext, stream tag (auth.c: migr_auth_seal). */
#define WIRE_OVERHEAD (4 + MIGR_FRAME_HDR + crypto_secretstream_xchacha20poly1305_ABYTES)

/* ---- options ---- */

static struct {
	uint32_t n[N_LIST_MAX];
	unsigned nn;
	double loss;
	double slow;		/* share of the nodes that answer late */
	unsigned slow_ms;
	uint64_t seed;
	const char *csv;
	const char *config;
	unsigned max_rounds;
	unsigned join_rounds;
	unsigned steady_rounds;
	unsigned latency_ms;
	unsigned seeds;
	unsigned death_limit;
	int quiet, json;
	int trace_false;	/* name each false suspicion's origin and each false death */
	struct gossip_params p;
} opt = {
	.loss = 0,
	.seed = 1,
	.max_rounds = 200,
	.join_rounds = 100,
	.steady_rounds = 10,
	.seeds = 1,
	.death_limit = 600,
};

static const char *prog = "gossip-sim";

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: gossip-sim [options]\n"
		"Simulates N migrd nodes running migrd/gossip.c on a virtual clock and measures\n"
		"join, load-change, death and rejoin in gossip periods, false alarms, and bytes.\n"
		"\n"
		"  -n, --nodes LIST      node counts, comma-separated (default 100,1000,10000)\n"
		"  -l, --loss P          drop each message with probability P, 0 <= P < 1 (default 0)\n"
		"      --slow F          a share F of the nodes (one in 1/F) handle every message\n"
		"                        late (default 0)\n"
		"      --slow-ms MS      how late (default 1.5 periods)\n"
		"      --no-lifeguard    probes never wait longer for a node in poor health\n"
		"                        (Lifeguard's local health off, to compare)\n"
		"  -s, --seed S          random seed; same seed, same figures (default 1)\n"
		"      --json            print one JSON object per node count instead of the table\n"
		"      --csv FILE        also write one CSV row per node count to FILE ('-': stdout)\n"
		"  -J, --join-rounds R   run the join scenario for at most R rounds (default 100)\n"
		"  -r, --max-rounds R    give up the load, death and rejoin scenarios after R rounds\n"
		"                        (death: R rounds beyond the suspicion timeout) (default 200)\n"
		"      --steady R        quiet periods of the formed cluster in which traffic and false\n"
		"                        suspicions are measured, before the load change (default 10)\n"
		"  -c, --config FILE     take the gossip parameters from a migrd.conf\n"
		"      --period MS       gossip-period (default: migrd's, %u)\n"
		"      --fanout K        gossip-fanout (default: migrd's, %u)\n"
		"      --window W        gossip-window (default: migrd's, %u)\n"
		"      --suspect MS      suspect-timeout (default: migrd's, %u)\n"
		"      --dead MS         dead-timeout (default: migrd's, %u)\n"
		"      --latency MS      network delay of a message, below the period (default 0)\n"
		"      --seeds K         every node's seeds (peer lines) are nodes 0..K-1 (default 1;\n"
		"                        scripts/cluster lists every node: K >= N)\n"
		"      --death-limit R   skip the death scenario when the suspicion timeout is longer\n"
		"                        than R periods (default 600)\n"
		"  -j, --threads T       worker threads (default: the CPUs online); the figures do\n"
		"                        not depend on it\n"
		"      --trace-false     on stderr, one line per false death (who, slow or not,\n"
		"                        the suspicion, its accusers, the incarnations) and per\n"
		"                        accusation and refutation of a running node; one thread\n"
		"  -q, --quiet           no progress lines on stderr\n"
		"  -h, --help            this help\n"
		"\n"
		"A round is one gossip period: every node ticks (and sends), the messages arrive\n"
		"(after --latency, at the next tenth of a period), replies included, polls run when\n"
		"due. Join and load count the rounds from the first send to the last node knowing,\n"
		"both included; death counts periods from the node's last tick until the last node\n"
		"declares it dead. '-' in the table: not reached within the round limit.\n",
		opt.p.period_ms, opt.p.fanout, opt.p.window, opt.p.suspect_ms, opt.p.dead_ms);
}

/* migrd's defaults, from libmigr/conf.c itself: load a minimal configuration (or the
 * user's). */
static int params_from_config(const char *path, struct gossip_params *p, char *err,
			      size_t errlen)
{
	char tmp[] = "/tmp/gossip-sim.XXXXXX";
	struct migr_config *c = xcalloc(1, sizeof(*c));
	int r;
	if (!path) {
		int fd = mkstemp(tmp);
		if (fd < 0) {
			snprintf(err, errlen, "mkstemp: %s", strerror(errno));
			free(c);
			return -1;
		}
		static const char minimal[] = "node sim\nlisten 127.0.0.1\n";
		ssize_t w = write(fd, minimal, sizeof(minimal) - 1);
		close(fd);
		if (w != (ssize_t)sizeof(minimal) - 1) {
			snprintf(err, errlen, "%s: short write", tmp);
			unlink(tmp);
			free(c);
			return -1;
		}
		r = migr_config_load(tmp, c, err, errlen);
		unlink(tmp);
	} else {
		r = migr_config_load(path, c, err, errlen);
	}
	if (r == 0) {
		p->period_ms = c->gossip_period_ms;
		p->fanout = c->gossip_fanout;
		p->window = c->gossip_window;
		p->suspect_ms = c->suspect_timeout_ms;
		p->dead_ms = c->dead_timeout_ms;
	}
	free(c);
	return r;
}

static unsigned long parse_num(const char *what, const char *s, unsigned long min,
			       unsigned long max)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		die("%s: '%s' is not a number in %lu..%lu", what, s, min, max);
	return v;
}

static void parse_nodes(const char *s)
{
	char *copy = xstrdup(s), *save = NULL;
	opt.nn = 0;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (opt.nn == N_LIST_MAX)
			die("--nodes: at most %d node counts", N_LIST_MAX);
		opt.n[opt.nn++] = (uint32_t)parse_num("--nodes", t, 2, NODES_MAX);
	}
	free(copy);
	if (!opt.nn)
		die("--nodes: want a list like 100,1000,10000");
}

/* ---- small helpers ---- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rand01(uint64_t *x)
{
	return (double)(splitmix64(x) >> 11) / (double)(1ull << 53);
}

/* log2 without libm (the benchmark links only what migrd links) */
static double lg2(double x)
{
	double r = 0, bit = 0.5;
	while (x >= 2) {
		x /= 2;
		r += 1;
	}
	while (x < 1) {
		x *= 2;
		r -= 1;
	}
	for (int i = 0; i < 48; i++, bit /= 2) {
		x *= x;
		if (x >= 2) {
			x /= 2;
			r += bit;
		}
	}
	return r;
}

static double seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Node k is named "nK" and listens on 10.a.b.c (the 24 bits of K), port SIM_PORT. */
static void node_addr(uint32_t k, char *buf, size_t len)
{
	snprintf(buf, len, "10.%u.%u.%u", (k >> 16) & 255, (k >> 8) & 255, k & 255);
}

static uint32_t addr_node(const char *a)
{
	uint32_t part[4], k = 0;
	for (int i = 0; i < 4; i++) {
		if (*a < '0' || *a > '9')
			return UINT32_MAX;
		uint32_t v = 0;
		while (*a >= '0' && *a <= '9' && v < 1000)
			v = v * 10 + (uint32_t)(*a++ - '0');
		if (v > 255 || (i < 3 && *a++ != '.'))
			return UINT32_MAX;
		part[i] = v;
	}
	if (*a || part[0] != 10)
		return UINT32_MAX;
	k = part[1] << 16 | part[2] << 8 | part[3];
	return k;
}

/* ---- the simulated cluster ---- */

/* Nodes are split into LANES contiguous lanes. Ticks, deliveries and polls run in threads, a
 * lane's nodes in one thread at a time; what its nodes send goes to the lane's own queues,
 * and its counters are its own, so threads share nothing but read-only data: the module's
 * interned names, which stop changing once every node exists (gossip.c keeps no other
 * static state). The lane count is fixed, so the figures do not depend on --threads. */
#define LANES 64

struct simnode {
	struct gossip g;
	int up;
	int slow;		/* handles what it is sent --slow-ms late */
	uint16_t lane;
	uint64_t rng;		/* loss draws of messages this node sends */
	uint32_t alive_seen;	/* other nodes this node judges alive */
	uint64_t bytes, msgs;	/* sent this round, as encoded (no frame, no seal) */
	struct migr_vector vec;
	/* --trace-false */
	int in_tick;		/* its gossip_tick() runs: a death now is its own timeout */
	uint32_t sender;	/* the node whose message it is merging */
	uint64_t last_inc;	/* its incarnation at the end of the last round */
};

/* Messages in flight: a byte arena of records [struct qrec][len bytes of payload]. */
struct qrec {
	uint32_t to;
	uint32_t len;
	uint8_t type;
	uint8_t pad[7];
};

struct queue {
	uint8_t *buf;
	size_t len, cap;
};

/* Statistics over a span of rounds. */
struct traffic {
	uint64_t node_rounds, bytes, max_node_round;
	uint64_t msgs, msg_bytes, max_msg;
	uint64_t max_msgs_node_round;
};

struct lane {
	uint32_t first, end;	/* nodes [first, end) */
	uint64_t now;		/* virtual ms of what its nodes are doing: stamps their sends */
	struct queue wave[2];	/* sent for now: [cur] being delivered, [!cur] the next */
	struct queue *ring;	/* sent for later: by the slot they are due in, modulo nring */
	/* counted this round, summed into the sim's after it */
	uint64_t msgs, msg_bytes, max_msg;
	uint64_t sent, lost, dropped_dead, delivered, false_down, false_dead, bad;
	uint64_t slow_down, slow_dead;	/* of them, of slow nodes */
	char pad[64];		/* lanes are written by different threads */
};

struct sim {
	uint32_t n;
	unsigned nlanes;
	struct simnode *nodes;
	struct lane lanes[LANES];
	unsigned nring;		/* slots a message may be in flight, and one */
	unsigned cur;		/* which wave queue is being delivered */
	uint64_t slot;		/* the slot being run, counted from time 0 */
	uint64_t slot_ms;
	uint32_t *id2node;	/* the module's interned name id -> node */
	uint32_t nids;
	uint64_t round;
	struct traffic *tr;	/* where traffic is counted now */
	uint64_t sent, lost, dropped_dead, delivered, bad;
	uint64_t false_down;	/* running nodes judged suspect or dead by someone */
	uint64_t false_dead;	/* running nodes judged dead by someone */
	uint64_t slow_down, slow_dead;	/* of them, slow ones: not what Lifeguard spares */
};

static struct sim S;
static unsigned nthreads = 1;

static void queue_push(struct queue *q, uint32_t to, uint8_t type, const struct mw *w)
{
	size_t need = sizeof(struct qrec) + ((w->len + 7) & ~(size_t)7);
	if (q->len + need > q->cap) {
		q->cap = q->cap ? q->cap * 2 : 1 << 16;
		while (q->len + need > q->cap)
			q->cap *= 2;
		q->buf = xrealloc(q->buf, q->cap);
	}
	struct qrec r = { .to = to, .len = (uint32_t)w->len, .type = type };
	memcpy(q->buf + q->len, &r, sizeof(r));
	memcpy(q->buf + q->len + sizeof(r), w->buf, w->len);
	q->len += need;
}

static void sim_send(void *ctx, const char *addr, uint16_t port, const struct migr_gossip_msg *m)
{
	struct simnode *from = ctx;
	struct lane *l = &S.lanes[from->lane];
	struct mw w;

	mw_init(&w);
	migr_gossip_encode(&w, m);
	uint64_t size = w.len;
	if (m->count > GOSSIP_MAX_ENTRIES || !migr_gossip_type(m->type) || m->type == MSG_GOSSIP)
		l->bad++;	/* a message nobody should send */
	from->bytes += size;
	from->msgs++;
	l->msgs++;
	l->msg_bytes += size;
	if (size > l->max_msg)
		l->max_msg = size;
	l->sent++;

	uint32_t to = addr_node(addr);
	if (to >= S.n || port != SIM_PORT) {
		mw_free(&w);
		return;
	}
	if (opt.loss > 0 && rand01(&from->rng) < opt.loss) {
		l->lost++;
		mw_free(&w);
		return;
	}
	uint64_t at = l->now + opt.latency_ms + (S.nodes[to].slow ? opt.slow_ms : 0);
	uint64_t slot = (at + S.slot_ms - 1) / S.slot_ms;
	if (slot <= S.slot)
		queue_push(&l->wave[!S.cur], to, m->type, &w);
	else
		queue_push(&l->ring[slot % S.nring], to, m->type, &w);
	mw_free(&w);
}

static double per(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0;
}

static uint32_t node_of_id(uint32_t name_id)
{
	return name_id < S.nids ? S.id2node[name_id] : UINT32_MAX;
}

static char slow_mark(uint32_t k)
{
	return k < S.n && S.nodes[k].slow ? 's' : 'h';
}

/* --trace-false: an observer's suspicion of a running node that times out at its tick now:
 * who accused it, since when, and what each side holds of its incarnation. */
static void trace_timeouts(const struct simnode *s, uint64_t now)
{
	const struct gossip *g = &s->g;
	uint32_t obs = (uint32_t)(s - S.nodes);
	for (uint32_t i = 0; i < g->nsusp; i++) {
		const struct gossip_suspicion *sp = &g->susp[i];
		const struct gossip_node *v = &g->nodes[sp->slot];
		if (now < sp->since + gossip_suspicion_ms(&g->p, g->live + 1, sp->n - 1u))
			continue;
		uint32_t x = node_of_id(v->name_id);
		if (x >= S.n || !S.nodes[x].up)
			continue;
		const struct gossip *gx = &S.nodes[x].g;
		fprintf(stderr, "trace: r%" PRIu64 " timeout obs n%u(%c,h%u) subj n%u(%c,h%u) "
			"inc obs %" PRIu64 " true %" PRIu64 " since r%.1f acc",
			S.round, obs, slow_mark(obs), g->health, x, slow_mark(x), gx->health,
			v->incarnation, gx->nodes[0].incarnation,
			(double)sp->since / opt.p.period_ms);
		for (unsigned a = 0; a < sp->n; a++) {
			uint32_t k = node_of_id(sp->acc[a]);
			fprintf(stderr, " n%u(%c)", k, slow_mark(k));
		}
		fprintf(stderr, " heard %.1f ago\n", (double)(now - v->updated_at) / opt.p.period_ms);
	}
}

static void trace_change(struct simnode *s, const struct gossip_node *n, int old, uint32_t x)
{
	uint32_t obs = (uint32_t)(s - S.nodes);
	const struct gossip *gx = &S.nodes[x].g;
	if (n->state == MIGR_NODE_SUSPECT && n->suspicion) {
		const struct gossip_suspicion *sp = &s->g.susp[n->suspicion - 1];
		if (sp->acc[0] == s->g.nodes[0].name_id && !S.nodes[x].slow)
			fprintf(stderr, "trace: r%" PRIu64 ".%" PRIu64 " accuse obs n%u(%c,h%u) "
				"subj n%u(%c,h%u) inc %" PRIu64 " true %" PRIu64 "\n", S.round,
				S.slot % SLOTS, obs, slow_mark(obs), s->g.health, x, slow_mark(x),
				gx->health, n->incarnation, gx->nodes[0].incarnation);
	} else if (n->state == MIGR_NODE_DEAD && !s->in_tick) {
		/* a death at its own tick is a timeout, traced by trace_timeouts() */
		fprintf(stderr, "trace: r%" PRIu64 ".%" PRIu64 " rumour obs n%u(%c) subj n%u(%c) "
			"was %d inc %" PRIu64 " true %" PRIu64 " from n%u(%c)\n", S.round,
			S.slot % SLOTS, obs, slow_mark(obs), x, slow_mark(x), old, n->incarnation,
			gx->nodes[0].incarnation, s->sender, slow_mark(s->sender));
	}
}

static void sim_state_changed(void *ctx, const struct gossip_node *n, int old)
{
	struct simnode *s = ctx;
	if (old == MIGR_NODE_ALIVE)
		s->alive_seen--;
	if (n->state == MIGR_NODE_ALIVE)
		s->alive_seen++;
	int down = (old == MIGR_NODE_ALIVE || old == GOSSIP_STATE_NEW) &&
		   (n->state == MIGR_NODE_SUSPECT || n->state == MIGR_NODE_DEAD);
	/* what migrd acts on: jobs_node_down() for a node turned dead */
	int dead = n->state == MIGR_NODE_DEAD && old != MIGR_NODE_DEAD && old != MIGR_NODE_LEFT;
	if (down || dead) {
		uint32_t k = n->name_id < S.nids ? S.id2node[n->name_id] : UINT32_MAX;
		if (k < S.n && S.nodes[k].up) {
			if (opt.trace_false)
				trace_change(s, n, old, k);
			S.lanes[s->lane].false_down += down;
			S.lanes[s->lane].false_dead += dead;
			S.lanes[s->lane].slow_down += down && S.nodes[k].slow;
			S.lanes[s->lane].slow_dead += dead && S.nodes[k].slow;
		}
	}
}

/* ---- threads ---- */

typedef void lane_fn(unsigned lo, unsigned hi, void *arg);

struct job {
	lane_fn *fn;
	void *arg;
	unsigned lo, hi;
};

static void *job_run(void *p)
{
	struct job *j = p;
	j->fn(j->lo, j->hi, j->arg);
	return NULL;
}

/* fn on lanes [lo, hi), the lanes shared out between the threads */
static void parallel(lane_fn *fn, void *arg)
{
	unsigned t = nthreads < S.nlanes ? nthreads : S.nlanes;
	struct job jobs[LANES];
	pthread_t th[LANES];
	int started[LANES] = { 0 };
	for (unsigned i = 0; i < t; i++) {
		jobs[i] = (struct job){ fn, arg, i * S.nlanes / t, (i + 1) * S.nlanes / t };
		if (i > 0)
			started[i] = pthread_create(&th[i], NULL, job_run, &jobs[i]) == 0;
	}
	job_run(&jobs[0]);
	for (unsigned i = 1; i < t; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		else
			job_run(&jobs[i]);	/* could not start a thread: do it here */
	}
}

/* ---- rounds ---- */

/* Starts node k's daemon: a fresh table, the given incarnation, its seeds (`peer` lines):
 * nodes 0 .. --seeds - 1 but itself. */
static void node_start(uint32_t k, uint64_t incarnation, uint64_t now, uint64_t rng_seed)
{
	struct simnode *s = &S.nodes[k];
	struct gossip_transport t = {
		.send = sim_send,
		.state_changed = sim_state_changed,
		.ctx = s,
	};
	char name[32], addr[32];
	snprintf(name, sizeof(name), "n%u", k);
	node_addr(k, addr, sizeof(addr));
	gossip_init(&s->g, &opt.p, &t, name, addr, SIM_PORT, incarnation, rng_seed, now);
	for (uint32_t i = 0; i < opt.seeds && i < S.n; i++) {
		if (i == k)
			continue;
		node_addr(i, addr, sizeof(addr));
		gossip_add_seed(&s->g, addr, SIM_PORT);
	}
	s->alive_seen = 0;
	s->bytes = s->msgs = 0;
	s->up = 1;
}

/* The slow nodes: one in 1/--slow, spread evenly, never node 0 (the seed) nor the ones
 * in `spare` (the load and death scenarios' nodes, so that the figures compare). */
static void pick_slow(const uint32_t *spare, int nspare)
{
	if (opt.slow <= 0)
		return;
	uint32_t stride = (uint32_t)(1 / opt.slow + 0.5);
	if (stride < 2)
		stride = 2;
	for (uint32_t k = stride / 2; k < S.n; k += stride) {
		uint32_t x = k;
		for (int again = 1; again;) {
			again = x == 0;
			for (int i = 0; i < nspare; i++)
				again |= x == spare[i];
			if (again)
				x = (x + 1) % S.n;
		}
		S.nodes[x].slow = 1;
	}
}

static void sim_init(uint32_t n, const uint32_t *spare, int nspare)
{
	memset(&S, 0, sizeof(S));
	S.n = n;
	S.nlanes = n < LANES ? n : LANES;
	S.nodes = xcalloc(n, sizeof(*S.nodes));
	S.slot_ms = opt.p.period_ms / SLOTS ? opt.p.period_ms / SLOTS : 1;
	S.nring = (unsigned)((opt.latency_ms + opt.slow_ms) / S.slot_ms + 3);
	uint64_t seeder = opt.seed * 0x2545f4914f6cdd1dull + n;
	char addr[32];
	for (unsigned i = 0; i < S.nlanes; i++) {
		struct lane *l = &S.lanes[i];
		l->first = (uint32_t)((uint64_t)i * n / S.nlanes);
		l->end = (uint32_t)((uint64_t)(i + 1) * n / S.nlanes);
		l->ring = xcalloc(S.nring, sizeof(*l->ring));
		for (uint32_t k = l->first; k < l->end; k++)
			S.nodes[k].lane = (uint16_t)i;
	}
	for (uint32_t k = 0; k < n; k++) {
		struct simnode *s = &S.nodes[k];
		node_start(k, 1, 0, splitmix64(&seeder));
		s->rng = splitmix64(&seeder);
		s->vec.load_milli = 0;
		s->vec.cpus_milli = 4000;
		s->vec.mem_free_kb = 8ull << 20;
		s->vec.jobs = 0;
	}
	pick_slow(spare, nspare);
	/* The module interns every name and address it meets in one process-wide pool, and
	 * may re-hash it on the call after the last new string: make that call now, before
	 * threads read the pool. Every name and address the nodes will ever send exists now. */
	struct gossip warm;
	struct gossip_transport none = { .send = sim_send };
	node_addr(0, addr, sizeof(addr));
	gossip_init(&warm, &opt.p, &none, "n0", addr, SIM_PORT, 1, 1, 0);
	gossip_free(&warm);
	for (uint32_t k = 0; k < n; k++)
		if (S.nodes[k].g.nodes[0].name_id + 1 > S.nids)
			S.nids = S.nodes[k].g.nodes[0].name_id + 1;
	S.id2node = xmalloc(S.nids * sizeof(*S.id2node));
	memset(S.id2node, 0xff, S.nids * sizeof(*S.id2node));
	for (uint32_t k = 0; k < n; k++)
		S.id2node[S.nodes[k].g.nodes[0].name_id] = k;
}

static void sim_free(void)
{
	for (uint32_t k = 0; k < S.n; k++)
		gossip_free(&S.nodes[k].g);
	free(S.nodes);
	for (unsigned i = 0; i < S.nlanes; i++) {
		for (int j = 0; j < 2; j++)
			free(S.lanes[i].wave[j].buf);
		for (unsigned j = 0; j < S.nring; j++)
			free(S.lanes[i].ring[j].buf);
		free(S.lanes[i].ring);
	}
	free(S.id2node);
	memset(&S, 0, sizeof(S));
}

static void tick_lanes(unsigned lo, unsigned hi, void *arg)
{
	uint64_t now = *(const uint64_t *)arg;
	for (unsigned i = lo; i < hi; i++) {
		struct lane *l = &S.lanes[i];
		l->now = now;
		for (uint32_t k = l->first; k < l->end; k++) {
			struct simnode *s = &S.nodes[k];
			if (!s->up)
				continue;
			gossip_set_vector(&s->g, &s->vec, now);
			if (opt.trace_false)
				trace_timeouts(s, now);
			s->in_tick = 1;
			gossip_tick(&s->g, now);
			s->in_tick = 0;
		}
	}
}

/* What falls due by now, as migrd's timer runs it: ping-reqs, nacks. */
static void poll_lanes(unsigned lo, unsigned hi, void *arg)
{
	uint64_t now = *(const uint64_t *)arg;
	for (unsigned i = lo; i < hi; i++) {
		struct lane *l = &S.lanes[i];
		l->now = now;
		for (uint32_t k = l->first; k < l->end; k++) {
			struct simnode *s = &S.nodes[k];
			if (s->up && gossip_next_poll(&s->g) <= now)
				gossip_poll(&s->g, now);
		}
	}
}

struct step {
	const struct queue *in[2 * LANES];	/* delivered in this order */
	unsigned nin;
	uint64_t now;
};

/* Delivers the records of st->in addressed to nodes of lanes [lo, hi). */
static void deliver_lanes(unsigned lo, unsigned hi, void *arg)
{
	const struct step *st = arg;
	struct migr_gossip_msg *m = xmalloc(sizeof(*m));
	for (unsigned i = lo; i < hi; i++)
		S.lanes[i].now = st->now;
	for (unsigned qi = 0; qi < st->nin; qi++) {
		const struct queue *q = st->in[qi];
		for (size_t at = 0; at < q->len;) {
			struct qrec r;
			memcpy(&r, q->buf + at, sizeof(r));
			const uint8_t *p = q->buf + at + sizeof(r);
			at += sizeof(r) + ((r.len + 7) & ~(size_t)7);
			struct simnode *to = &S.nodes[r.to];
			if (to->lane < lo || to->lane >= hi)
				continue;
			struct lane *l = &S.lanes[to->lane];
			if (!to->up) {
				l->dropped_dead++;
				continue;
			}
			if (migr_gossip_decode_type(r.type, p, r.len, m) != 0) {
				l->bad++;
				continue;
			}
			l->delivered++;
			if (opt.trace_false)
				to->sender = addr_node(m->entries[0].addr);
			gossip_receive(&to->g, m, st->now);
		}
	}
	free(m);
}

static int waves_pending(void)
{
	for (unsigned i = 0; i < S.nlanes; i++)
		if (S.lanes[i].wave[!S.cur].len)
			return 1;
	return 0;
}

/* Runs one slot at time `now`: what is due arrives, then what that provokes, wave after
 * wave; then the polls due, and what they provoke; until nothing is left for now. */
static void sim_slot(uint64_t now)
{
	static struct step st;
	unsigned ring = (unsigned)(S.slot % S.nring);
	st.now = now;
	st.nin = 0;
	for (unsigned i = 0; i < S.nlanes; i++)
		st.in[st.nin++] = &S.lanes[i].ring[ring];
	for (;;) {
		/* the next wave: what was sent for now since the last */
		S.cur = !S.cur;
		for (unsigned i = 0; i < S.nlanes; i++)
			st.in[st.nin++] = &S.lanes[i].wave[S.cur];
		size_t left = 0;
		for (unsigned i = 0; i < st.nin; i++)
			left += st.in[i]->len;
		if (left)
			parallel(deliver_lanes, &st);
		for (unsigned i = 0; i < S.nlanes; i++) {
			S.lanes[i].ring[ring].len = 0;
			S.lanes[i].wave[S.cur].len = 0;
		}
		st.nin = 0;
		if (waves_pending())
			continue;
		parallel(poll_lanes, &now);
		if (!waves_pending())
			break;
	}
}

/* One period: every running node does what migrd's gossip_period() does, then the
 * period's slots run, with their deliveries and polls. */
static void sim_round(void)
{
	uint64_t now = S.round * opt.p.period_ms;

	for (uint32_t k = 0; k < S.n; k++)
		S.nodes[k].bytes = S.nodes[k].msgs = 0;
	S.slot = S.round * SLOTS;
	parallel(tick_lanes, &now);
	for (unsigned i = 0; i < SLOTS; i++, S.slot++)
		sim_slot(now + i * S.slot_ms);

	struct traffic *t = S.tr;
	if (opt.trace_false) {
		/* how full the news buffers are: a flood of membership news crowds out some */
		uint64_t sum = 0, full = 0, member = 0, susp = 0;
		for (uint32_t k = 0; k < S.n; k++) {
			const struct gossip *g = &S.nodes[k].g;
			if (!S.nodes[k].up)
				continue;
			sum += g->nnews;
			full += g->nnews == GOSSIP_NEWS;
			susp += g->nsusp;
			for (uint32_t i = 0; i < g->nnews; i++)
				member += g->news[i].member != 0;
		}
		fprintf(stderr, "trace: r%" PRIu64 " news mean %.1f (membership %.1f), full %"
			PRIu64 ", suspicions held mean %.2f\n", S.round, per(sum, S.n),
			per(member, S.n), full, per(susp, S.n));
	}
	for (unsigned i = 0; i < S.nlanes; i++) {
		struct lane *l = &S.lanes[i];
		t->msgs += l->msgs;
		t->msg_bytes += l->msg_bytes;
		if (l->max_msg > t->max_msg)
			t->max_msg = l->max_msg;
		S.sent += l->sent;
		S.lost += l->lost;
		S.dropped_dead += l->dropped_dead;
		S.delivered += l->delivered;
		S.bad += l->bad;
		S.false_down += l->false_down;
		S.false_dead += l->false_dead;
		S.slow_down += l->slow_down;
		S.slow_dead += l->slow_dead;
		l->msgs = l->msg_bytes = l->max_msg = 0;
		l->sent = l->lost = l->dropped_dead = l->delivered = l->bad = 0;
		l->false_down = l->false_dead = l->slow_down = l->slow_dead = 0;
	}
	for (uint32_t k = 0; k < S.n; k++) {
		struct simnode *s = &S.nodes[k];
		if (!s->up)
			continue;
		uint64_t b = s->bytes, msgs = s->msgs;
		t->node_rounds++;
		t->bytes += b;
		if (b > t->max_node_round)
			t->max_node_round = b;
		if (msgs > t->max_msgs_node_round)
			t->max_msgs_node_round = msgs;
		uint64_t inc = s->g.nodes[0].incarnation;
		if (opt.trace_false && inc != s->last_inc && s->last_inc && !s->slow)
			fprintf(stderr, "trace: r%" PRIu64 " refute n%u(%c,h%u) inc %" PRIu64
				" -> %" PRIu64 "\n", S.round, k, slow_mark(k), s->g.health,
				s->last_inc, inc);
		s->last_inc = inc;
	}
	S.round++;
}

/* A formed cluster at time 0: every node learns every other node, alive, as a table from a
 * push-pull would tell it (gossip_receive, the module's own merge). Each message's first
 * entry, the one that speaks for the sender, is the receiver's own, which gossip.c does not
 * answer, so nothing is sent. */
static struct migr_gossip_entry *warm_entries;

static void warm_lanes(unsigned lo, unsigned hi, void *arg)
{
	struct migr_gossip_msg *m = xcalloc(1, sizeof(*m));
	m->type = MSG_GOSSIP_PUSH_PULL;
	for (unsigned i = lo; i < hi; i++) {
		struct lane *l = &S.lanes[i];
		for (uint32_t k = l->first; k < l->end; k++) {
			m->entries[0] = warm_entries[k];
			m->count = 1;
			for (uint32_t j = 0; j < S.n; j++) {
				if (j == k)
					continue;
				m->entries[m->count++] = warm_entries[j];
				if (m->count == GOSSIP_MAX_ENTRIES) {
					gossip_receive(&S.nodes[k].g, m, 0);
					m->count = 1;
				}
			}
			if (m->count > 1)
				gossip_receive(&S.nodes[k].g, m, 0);
		}
	}
	free(m);
}

static void sim_warm(void)
{
	warm_entries = xcalloc(S.n, sizeof(*warm_entries));
	for (uint32_t k = 0; k < S.n; k++) {
		struct migr_gossip_entry *e = &warm_entries[k];
		snprintf(e->name, sizeof(e->name), "n%u", k);
		node_addr(k, e->addr, sizeof(e->addr));
		e->port = SIM_PORT;
		e->status = GOSSIP_ALIVE;
		e->incarnation = 1;
		e->heartbeat = 0;
		e->vec = S.nodes[k].vec;
	}
	parallel(warm_lanes, NULL);
	free(warm_entries);
	warm_entries = NULL;
}

/* ---- what the nodes know ---- */

static uint32_t up_count(void)
{
	uint32_t c = 0;
	for (uint32_t k = 0; k < S.n; k++)
		c += S.nodes[k].up;
	return c;
}

/* Nodes that hold every node in their table, and that see every other node alive; the
 * mean share of the others seen alive, and of the cluster known. */
static void join_status(uint32_t *know_all, uint32_t *alive_all, double *alive_frac,
			double *known_frac)
{
	uint32_t ka = 0, aa = 0;
	double sum = 0, known = 0;
	for (uint32_t k = 0; k < S.n; k++) {
		const struct simnode *s = &S.nodes[k];
		ka += s->g.count == S.n;
		aa += s->alive_seen == S.n - 1;
		sum += (double)s->alive_seen / (S.n - 1);
		known += (double)s->g.count / S.n;
	}
	*know_all = ka;
	*alive_all = aa;
	*alive_frac = sum / S.n;
	*known_frac = known / S.n;
}

/* Running nodes other than x whose view of node x satisfies pred; *unaware: those that
 * do not know x at all. */
static uint32_t view_count(uint32_t x, int (*pred)(const struct gossip_node *), uint32_t *unaware)
{
	char name[32];
	uint32_t c = 0, u = 0;
	snprintf(name, sizeof(name), "n%u", x);
	for (uint32_t k = 0; k < S.n; k++) {
		if (k == x || !S.nodes[k].up)
			continue;
		const struct gossip_node *v = gossip_find(&S.nodes[k].g, name);
		if (!v)
			u++;
		else
			c += pred(v);
	}
	if (unaware)
		*unaware = u;
	return c;
}

static uint32_t new_load;

static int has_new_load(const struct gossip_node *v)
{
	return v->vec.load_milli == new_load;
}

static int seen_dead(const struct gossip_node *v)
{
	return v->state == MIGR_NODE_DEAD || v->state == MIGR_NODE_LEFT;
}

static int seen_down(const struct gossip_node *v)
{
	return v->state != MIGR_NODE_ALIVE;
}

static int seen_back(const struct gossip_node *v)
{
	return v->state == MIGR_NODE_ALIVE && v->incarnation >= 2;
}

/* ---- one node count ---- */

/* the suspicion timeout in periods, unconfirmed and fully confirmed, for N nodes */
static double suspicion_periods(uint32_t n, unsigned confirmations)
{
	return (double)gossip_suspicion_ms(&opt.p, n, confirmations) / opt.p.period_ms;
}

struct result {
	uint32_t n;
	long join_known, join_alive;	/* rounds, -1: not reached */
	double alive_frac;		/* at the end of the join scenario */
	uint32_t alive_all_nodes;	/* nodes seeing every node alive then */
	double known_frac;		/* mean share of the cluster in a node's table then */
	uint64_t join_false_down, join_false_dead;
	long load;
	uint32_t load_missing;		/* nodes without the new value when given up */
	long death_suspect, death;	/* rounds from the last tick */
	uint32_t death_unaware;		/* running nodes that never knew the dead node */
	uint32_t death_missing;
	int death_skipped;		/* its timeout is beyond --death-limit */
	long rejoin_others, rejoin_self;	/* rounds: the others see it back; it sees all */
	double rejoin_seen;		/* share it sees alive at the end */
	uint32_t rejoin_missing;
	long join_cap, cap;
	struct traffic join_tr, steady_tr, later_tr;
	uint64_t steady_false_down, steady_false_dead;
	uint64_t later_false_down, later_false_dead;	/* over load, death and rejoin */
	uint32_t slow_nodes;
	uint64_t slow_down, slow_dead;	/* of the false ones, of slow nodes (whole run) */
	uint64_t bad;			/* messages the wire coding or the sizes got wrong */
	double wall;
	uint64_t mem_entries;		/* table entries in all, at the end */
};

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...)
{
	if (opt.quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void run_one(uint32_t n, struct result *res)
{
	double t0 = seconds();
	memset(res, 0, sizeof(*res));
	res->n = n;
	long cap = opt.max_rounds;
	res->join_cap = opt.join_rounds;
	res->cap = cap;
	uint64_t pick = opt.seed ^ 0x5851f42d4c957f2dull ^ n;
	uint32_t spare[2];
	spare[0] = 1 + (uint32_t)(splitmix64(&pick) % (n - 1));	/* the load's node */
	spare[1] = spare[0];					/* the death's */
	if (n > 2)
		while (spare[1] == spare[0])
			spare[1] = 1 + (uint32_t)(splitmix64(&pick) % (n - 1));
	uint32_t x_load = spare[0], x_dead = spare[1];

	/* join */
	sim_init(n, spare, 2);
	for (uint32_t k = 0; k < n; k++)
		res->slow_nodes += S.nodes[k].slow;
	S.tr = &res->join_tr;
	res->join_known = res->join_alive = -1;
	uint32_t ka = 0, aa = 0;
	double frac = 0;
	while ((long)S.round < res->join_cap) {
		sim_round();
		join_status(&ka, &aa, &frac, &res->known_frac);
		long r = (long)S.round;	/* rounds run, round 0 included */
		if (res->join_known < 0 && ka == n)
			res->join_known = r;
		if (res->join_alive < 0 && aa == n)
			res->join_alive = r;
		if (res->join_known >= 0 && res->join_alive >= 0)
			break;
		if (r % 10 == 0 && r)
			progress("N=%u join: round %ld, %u nodes know all, %u see all alive, "
				 "%.1f%% seen alive (%.0f s)", n, r, ka, aa, 100 * frac,
				 seconds() - t0);
	}
	res->alive_frac = frac;
	res->alive_all_nodes = aa;
	res->join_false_down = S.false_down;
	res->join_false_dead = S.false_dead;
	res->slow_down = S.slow_down;
	res->slow_dead = S.slow_dead;
	res->bad += S.bad;
	progress("N=%u join: know-all %ld, alive-all %ld rounds (%.0f s)", n, res->join_known,
		 res->join_alive, seconds() - t0);
	sim_free();

	/* The other scenarios run on a formed cluster: every node knows every node. */
	sim_init(n, spare, 2);
	sim_warm();
	progress("N=%u: a formed cluster (%.0f s)", n, seconds() - t0);

	/* steady state: traffic and false suspicions */
	S.tr = &res->steady_tr;
	for (unsigned i = 0; i < opt.steady_rounds; i++)
		sim_round();
	res->steady_false_down = S.false_down;
	res->steady_false_dead = S.false_dead;
	S.tr = &res->later_tr;	/* the scenarios below, as a whole */

	/* load change: x_load's next tick carries it */
	new_load = 1500;
	S.nodes[x_load].vec.load_milli = new_load;
	long start = (long)S.round;
	res->load = -1;
	uint32_t have = 0;
	while ((long)S.round - start < cap) {
		sim_round();
		have = view_count(x_load, has_new_load, NULL);
		if (have == up_count() - 1) {
			res->load = (long)S.round - start;
			break;
		}
		if (((long)S.round - start) % 25 == 0)
			progress("N=%u load: round %ld, %u of %u nodes have it (%.0f s)", n,
				 (long)S.round - start, have, up_count() - 1, seconds() - t0);
	}
	res->load_missing = up_count() - 1 - have;
	progress("N=%u load: %ld rounds (%.0f s)", n, res->load, seconds() - t0);

	/* death: x_dead's last tick was in the round before this one */
	uint32_t dead = 0, unaware = 0;
	S.nodes[x_dead].up = 0;
	long last = (long)S.round - 1;
	res->death = res->death_suspect = -1;
	long timeout = (long)(suspicion_periods(n, 0) + 0.999);
	long death_cap = timeout + cap;
	if (timeout + 5 > (long)opt.death_limit) {
		res->death_skipped = 1;
		death_cap = 1;	/* down for a round, then the rejoin */
		progress("N=%u death: suspicion timeout %ld periods, beyond --death-limit %u: "
			 "skipped", n, timeout, opt.death_limit);
	}
	while ((long)S.round - 1 - last < death_cap) {
		sim_round();
		uint32_t down = view_count(x_dead, seen_down, &unaware);
		dead = view_count(x_dead, seen_dead, &unaware);
		uint32_t aware = up_count() - unaware;	/* x_dead is not up: not counted */
		if (res->death_suspect < 0 && down == aware)
			res->death_suspect = (long)S.round - 1 - last;
		if (dead == aware) {
			res->death = (long)S.round - 1 - last;
			break;
		}
	}
	res->death_unaware = unaware;
	res->death_missing = up_count() - unaware - dead;
	progress("N=%u death: %ld rounds (%.0f s)", n, res->death, seconds() - t0);

	/* rejoin: x_dead's daemon starts again, a higher incarnation, an empty table */
	gossip_free(&S.nodes[x_dead].g);
	node_start(x_dead, 2, S.round * opt.p.period_ms, splitmix64(&pick));
	start = (long)S.round;
	res->rejoin_others = res->rejoin_self = -1;
	uint32_t back = 0;
	while ((long)S.round - start < cap) {
		sim_round();
		long r = (long)S.round - start;
		uint32_t seen = S.nodes[x_dead].alive_seen, want = up_count() - 1;
		back = view_count(x_dead, seen_back, NULL);
		if (res->rejoin_others < 0 && back == want)
			res->rejoin_others = r;
		if (res->rejoin_self < 0 && seen == want)
			res->rejoin_self = r;
		if (res->rejoin_others >= 0 && res->rejoin_self >= 0)
			break;
	}
	res->rejoin_seen = per(S.nodes[x_dead].alive_seen, up_count() - 1);
	res->later_false_down = S.false_down - res->steady_false_down;
	res->later_false_dead = S.false_dead - res->steady_false_dead;
	res->slow_down += S.slow_down;
	res->slow_dead += S.slow_dead;
	res->rejoin_missing = up_count() - 1 - back;
	res->bad += S.bad;
	progress("N=%u rejoin: %ld rounds until all see it, %ld until it sees all (%.0f s)", n,
		 res->rejoin_others, res->rejoin_self, seconds() - t0);

	for (uint32_t k = 0; k < n; k++)
		res->mem_entries += S.nodes[k].g.count;
	sim_free();
	res->wall = seconds() - t0;
}

/* ---- output ---- */

static long max_rounds(long a, long b)
{
	return a < 0 || b < 0 ? -1 : a > b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t false_down(const struct result *r)
{
	return r->join_false_down + r->steady_false_down + r->later_false_down;
}

static uint64_t false_dead(const struct result *r)
{
	return r->join_false_dead + r->steady_false_dead + r->later_false_dead;
}

static uint64_t bytes_max(const struct result *r)
{
	return max_u64(r->join_tr.max_node_round,
		       max_u64(r->steady_tr.max_node_round, r->later_tr.max_node_round));
}

static void fmt_rounds(char *buf, size_t len, long r)
{
	if (r < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%ld", r);
}

static void fmt_ratio(char *buf, size_t len, long r, uint32_t n)
{
	if (r < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.2f", (double)r / lg2(n));
}

#define COLW 11

static void row(const char *label, const struct result *res, unsigned nr,
		void (*cell)(const struct result *, char *, size_t))
{
	char buf[64];
	printf("%-46s", label);
	for (unsigned i = 0; i < nr; i++) {
		cell(&res[i], buf, sizeof(buf));
		printf(" %*s", COLW, buf);
	}
	putchar('\n');
}

static double wire_mean(const struct traffic *t)
{
	return per(t->bytes + t->msgs * WIRE_OVERHEAD, t->node_rounds);
}

#define CELL(name, ...)                                                         \
	static void name(const struct result *r, char *b, size_t l) { __VA_ARGS__; }

CELL(c_n, snprintf(b, l, "%u", r->n))
CELL(c_log2n, snprintf(b, l, "%.2f", lg2(r->n)))
CELL(c_slow, snprintf(b, l, "%u", r->slow_nodes))
CELL(c_join_known, fmt_rounds(b, l, r->join_known))
CELL(c_join_alive, fmt_rounds(b, l, r->join_alive))
CELL(c_join_alive_ratio, fmt_ratio(b, l, r->join_alive, r->n))
CELL(c_known_frac, snprintf(b, l, "%.1f%%", 100 * r->known_frac))
CELL(c_alive_frac, snprintf(b, l, "%.1f%%", 100 * r->alive_frac))
CELL(c_alive_all, snprintf(b, l, "%u", r->alive_all_nodes))
CELL(c_join_false_down, snprintf(b, l, "%" PRIu64, r->join_false_down))
CELL(c_join_false_dead, snprintf(b, l, "%" PRIu64, r->join_false_dead))
CELL(c_false_down, snprintf(b, l, "%" PRIu64, r->steady_false_down))
CELL(c_false_dead, snprintf(b, l, "%" PRIu64, r->steady_false_dead))
CELL(c_load, fmt_rounds(b, l, r->load))
CELL(c_load_ratio, fmt_ratio(b, l, r->load, r->n))
CELL(c_load_missing, snprintf(b, l, "%u", r->load_missing))
CELL(c_susp_max, snprintf(b, l, "%.1f", suspicion_periods(r->n, 0)))
CELL(c_susp_min, snprintf(b, l, "%.1f", suspicion_periods(r->n, GOSSIP_CONFIRM)))
CELL(c_suspect, if (r->death_skipped) snprintf(b, l, "skipped");
     else fmt_rounds(b, l, r->death_suspect))
CELL(c_death, if (r->death_skipped) snprintf(b, l, "skipped");
     else fmt_rounds(b, l, r->death))
CELL(c_death_unaware, snprintf(b, l, "%u", r->death_unaware))
CELL(c_rejoin_others, fmt_rounds(b, l, r->rejoin_others))
CELL(c_rejoin_ratio, fmt_ratio(b, l, r->rejoin_others, r->n))
CELL(c_rejoin_missing, snprintf(b, l, "%u", r->rejoin_missing))
CELL(c_rejoin_self, fmt_rounds(b, l, r->rejoin_self))
CELL(c_rejoin_seen, snprintf(b, l, "%.1f%%", 100 * r->rejoin_seen))
CELL(c_bytes_mean, snprintf(b, l, "%.0f", per(r->steady_tr.bytes, r->steady_tr.node_rounds)))
CELL(c_bytes_max, snprintf(b, l, "%" PRIu64, r->steady_tr.max_node_round))
CELL(c_wire_mean, snprintf(b, l, "%.0f", wire_mean(&r->steady_tr)))
CELL(c_msgs_mean, snprintf(b, l, "%.2f", per(r->steady_tr.msgs, r->steady_tr.node_rounds)))
CELL(c_msg_mean, snprintf(b, l, "%.0f", per(r->steady_tr.msg_bytes, r->steady_tr.msgs)))
CELL(c_msg_max, snprintf(b, l, "%" PRIu64, r->steady_tr.max_msg))
CELL(c_later_false_down, snprintf(b, l, "%" PRIu64, r->later_false_down))
CELL(c_later_false_dead, snprintf(b, l, "%" PRIu64, r->later_false_dead))
CELL(c_later_rounds, snprintf(b, l, "%.0f", per(r->later_tr.node_rounds, r->n)))
CELL(c_later_bytes_mean, snprintf(b, l, "%.0f", per(r->later_tr.bytes, r->later_tr.node_rounds)))
CELL(c_later_bytes_max, snprintf(b, l, "%" PRIu64, r->later_tr.max_node_round))
CELL(c_later_msgs_mean, snprintf(b, l, "%.2f", per(r->later_tr.msgs, r->later_tr.node_rounds)))
CELL(c_join_bytes_mean, snprintf(b, l, "%.0f", per(r->join_tr.bytes, r->join_tr.node_rounds)))
CELL(c_join_bytes_max, snprintf(b, l, "%" PRIu64, r->join_tr.max_node_round))
CELL(c_join_msgs_max, snprintf(b, l, "%" PRIu64, r->join_tr.max_msgs_node_round))
CELL(c_mem, snprintf(b, l, "%.0f", (double)r->mem_entries * sizeof(struct gossip_node) / 1048576))
CELL(c_wall, snprintf(b, l, "%.1f", r->wall))

static void print_table(const struct result *res, unsigned nr)
{
	printf("gossip-sim: period %u ms, fanout %u, window %u, suspect %u ms, dead %u ms, "
	       "loss %g, latency %u ms, slow %g (%u ms late), seed %" PRIu64 "\n",
	       opt.p.period_ms, opt.p.fanout, opt.p.window, opt.p.suspect_ms, opt.p.dead_ms,
	       opt.loss, opt.latency_ms, opt.slow, opt.slow_ms, opt.seed);
	printf("rounds = gossip periods; '-' = not reached within the limit (join %u, "
	       "others %u rounds)\n\n", opt.join_rounds, opt.max_rounds);
	row("nodes N", res, nr, c_n);
	row("log2(N)", res, nr, c_log2n);
	if (opt.slow > 0)
		row("slow nodes", res, nr, c_slow);
	printf("join (cold start): all start at once, knowing only the seed\n");
	row("  rounds until all know all", res, nr, c_join_known);
	row("  rounds until all see all alive", res, nr, c_join_alive);
	row("    / log2(N)", res, nr, c_join_alive_ratio);
	row("  at the end: share of the cluster known", res, nr, c_known_frac);
	row("  at the end: share seen alive", res, nr, c_alive_frac);
	row("  at the end: nodes seeing all alive", res, nr, c_alive_all);
	row("  false suspicions, false deaths (counts)", res, nr, c_join_false_down);
	row("", res, nr, c_join_false_dead);
	row("  bytes/node/period, mean", res, nr, c_join_bytes_mean);
	row("  bytes/node/period, max", res, nr, c_join_bytes_max);
	row("  messages/node/period, max", res, nr, c_join_msgs_max);
	printf("formed cluster, quiet (--steady periods); payload = migr_gossip_encode\n");
	row("  bytes/node/period, mean", res, nr, c_bytes_mean);
	row("  bytes/node/period, max", res, nr, c_bytes_max);
	row("  on the wire (+frame, seal)/node/period", res, nr, c_wire_mean);
	row("  messages/node/period, mean", res, nr, c_msgs_mean);
	row("  bytes/message, mean", res, nr, c_msg_mean);
	row("  bytes/message, max", res, nr, c_msg_max);
	row("  false suspicions (count)", res, nr, c_false_down);
	row("  false deaths (count)", res, nr, c_false_dead);
	printf("formed cluster, over the load, death and rejoin scenarios\n");
	row("  periods", res, nr, c_later_rounds);
	row("  bytes/node/period, mean", res, nr, c_later_bytes_mean);
	row("  bytes/node/period, max", res, nr, c_later_bytes_max);
	row("  messages/node/period, mean", res, nr, c_later_msgs_mean);
	row("  false suspicions (count)", res, nr, c_later_false_down);
	row("  false deaths (count)", res, nr, c_later_false_dead);
	printf("load change: one node's load 0 -> 1.5\n");
	row("  rounds until all have it", res, nr, c_load);
	row("    / log2(N)", res, nr, c_load_ratio);
	row("  nodes without it at the limit", res, nr, c_load_missing);
	printf("death: one node stops; periods from its last tick\n");
	row("  suspicion timeout, unconfirmed, periods", res, nr, c_susp_max);
	row("  suspicion timeout, confirmed, periods", res, nr, c_susp_min);
	row("  periods until all see it suspect", res, nr, c_suspect);
	row("  periods until all see it dead", res, nr, c_death);
	row("  nodes that never knew it", res, nr, c_death_unaware);
	printf("rejoin: that node starts again (new incarnation, empty table)\n");
	row("  rounds until all see it alive", res, nr, c_rejoin_others);
	row("    / log2(N)", res, nr, c_rejoin_ratio);
	row("  nodes not seeing it alive at the limit", res, nr, c_rejoin_missing);
	row("  rounds until it sees all alive", res, nr, c_rejoin_self);
	row("  share it sees alive at the end", res, nr, c_rejoin_seen);
	printf("simulator\n");
	row("  node tables (formed cluster), MiB", res, nr, c_mem);
	row("  wall time, s", res, nr, c_wall);
}

static void json_rounds(const char *key, long r)
{
	if (r >= 0)
		printf(", \"%s\": %ld", key, r);
	else
		printf(", \"%s\": null", key);
}

/* One object per node count, on one line; null: not reached within the limit. */
static void print_json(const struct result *r)
{
	const struct traffic *s = &r->steady_tr;
	printf("{\"n\": %u, \"loss\": %g, \"slow_nodes\": %u, \"slow_ms\": %u, "
	       "\"lifeguard\": %s, \"latency_ms\": %u, \"seed\": %" PRIu64 ", \"period_ms\": %u, \"fanout\": %u, \"window\": %u, "
	       "\"suspect_ms\": %u, \"dead_ms\": %u",
	       r->n, opt.loss, r->slow_nodes, opt.slow > 0 ? opt.slow_ms : 0,
	       opt.p.no_health ? "false" : "true", opt.latency_ms,
	       opt.seed, opt.p.period_ms, opt.p.fanout, opt.p.window, opt.p.suspect_ms,
	       opt.p.dead_ms);
	json_rounds("join_all_rounds", r->join_alive);
	json_rounds("join_know_all_rounds", r->join_known);
	printf(", \"join_known_share\": %.4f, \"join_alive_share\": %.4f", r->known_frac,
	       r->alive_frac);
	json_rounds("rejoin_all_rounds", max_rounds(r->rejoin_others, r->rejoin_self));
	json_rounds("rejoin_seen_rounds", r->rejoin_others);
	json_rounds("rejoin_sees_all_rounds", r->rejoin_self);
	json_rounds("death_all_rounds", r->death_skipped ? -1 : r->death);
	json_rounds("death_suspect_rounds", r->death_skipped ? -1 : r->death_suspect);
	json_rounds("load_all_rounds", r->load);
	printf(", \"suspicion_periods_unconfirmed\": %.2f, \"suspicion_periods_confirmed\": %.2f",
	       suspicion_periods(r->n, 0), suspicion_periods(r->n, GOSSIP_CONFIRM));
	printf(", \"false_deaths\": %" PRIu64 ", \"false_suspicions\": %" PRIu64
	       ", \"join_false_deaths\": %" PRIu64 ", \"join_false_suspicions\": %" PRIu64
	       ", \"healthy_false_deaths\": %" PRIu64 ", \"healthy_false_suspicions\": %" PRIu64,
	       false_dead(r), false_down(r), r->join_false_dead, r->join_false_down,
	       false_dead(r) - r->slow_dead, false_down(r) - r->slow_down);
	printf(", \"bytes_node_period_max\": %" PRIu64 ", \"steady_bytes_node_period_mean\": %.1f"
	       ", \"steady_bytes_node_period_max\": %" PRIu64 ", \"join_bytes_node_period_max\": %"
	       PRIu64 ", \"later_bytes_node_period_max\": %" PRIu64
	       ", \"steady_msgs_node_period_mean\": %.3f, \"msg_bytes_max\": %" PRIu64,
	       bytes_max(r), per(s->bytes, s->node_rounds), s->max_node_round,
	       r->join_tr.max_node_round, r->later_tr.max_node_round,
	       per(s->msgs, s->node_rounds),
	       max_u64(r->join_tr.max_msg, max_u64(s->max_msg, r->later_tr.max_msg)));
	printf(", \"coding_errors\": %" PRIu64 ", \"table_mib\": %.0f, \"wall_s\": %.1f}\n",
	       r->bad, (double)r->mem_entries * sizeof(struct gossip_node) / 1048576, r->wall);
	fflush(stdout);
}

static void csv_rounds(FILE *f, long r)
{
	if (r >= 0)
		fprintf(f, "%ld,", r);
	else
		fprintf(f, ",");
}

static void csv_ratio(FILE *f, long r, uint32_t n)
{
	if (r >= 0)
		fprintf(f, "%.4f,", r / lg2(n));
	else
		fprintf(f, ",");
}

/* One row per node count; an empty rounds field: not reached within the limit. */
static void print_csv(FILE *f, const struct result *res, unsigned nr)
{
	fprintf(f, "nodes,log2n,loss,latency_ms,slow_nodes,slow_ms,seed,period_ms,fanout,window,"
		   "suspect_ms,dead_ms,join_limit,limit,"
		   "join_know_all_rounds,join_alive_all_rounds,join_alive_per_log2n,"
		   "join_end_known_share,join_end_alive_share,join_end_nodes_seeing_all_alive,"
		   "join_false_suspicions,join_false_deaths,"
		   "false_suspicions_node_period,false_deaths_node_period,"
		   "load_rounds,load_per_log2n,load_missing,"
		   "suspicion_periods_unconfirmed,suspicion_periods_confirmed,death_skipped,"
		   "death_suspect_rounds,death_rounds,death_unaware,"
		   "rejoin_rounds,rejoin_per_log2n,rejoin_missing,rejoin_sees_all_rounds,"
		   "rejoin_sees_alive_share,"
		   "bytes_node_period_mean,bytes_node_period_max,wire_bytes_node_period_mean,"
		   "msgs_node_period_mean,msg_bytes_mean,msg_bytes_max,"
		   "join_bytes_node_period_mean,join_bytes_node_period_max,"
		   "join_msgs_node_period_max,"
		   "later_periods,later_bytes_node_period_mean,later_bytes_node_period_max,"
		   "later_msgs_node_period_mean,later_false_suspicions,later_false_deaths,"
		   "all_false_suspicions,all_false_deaths,all_bytes_node_period_max,wall_s\n");
	for (unsigned i = 0; i < nr; i++) {
		const struct result *r = &res[i];
		fprintf(f, "%u,%.4f,%g,%u,%u,%u,%" PRIu64 ",%u,%u,%u,%u,%u,%ld,%ld,", r->n,
			lg2(r->n), opt.loss, opt.latency_ms, r->slow_nodes,
			opt.slow > 0 ? opt.slow_ms : 0, opt.seed, opt.p.period_ms, opt.p.fanout,
			opt.p.window, opt.p.suspect_ms, opt.p.dead_ms, r->join_cap, r->cap);
		csv_rounds(f, r->join_known);
		csv_rounds(f, r->join_alive);
		csv_ratio(f, r->join_alive, r->n);
		double span = (double)opt.steady_rounds * r->n;
		fprintf(f, "%.4f,%.4f,%u,%" PRIu64 ",%" PRIu64 ",%.4f,%.4f,", r->known_frac,
			r->alive_frac, r->alive_all_nodes, r->join_false_down, r->join_false_dead,
			r->steady_false_down / span, r->steady_false_dead / span);
		csv_rounds(f, r->load);
		csv_ratio(f, r->load, r->n);
		fprintf(f, "%u,%.2f,%.2f,%d,", r->load_missing, suspicion_periods(r->n, 0),
			suspicion_periods(r->n, GOSSIP_CONFIRM), r->death_skipped);
		csv_rounds(f, r->death_suspect);
		csv_rounds(f, r->death);
		fprintf(f, "%u,", r->death_unaware);
		csv_rounds(f, r->rejoin_others);
		csv_ratio(f, r->rejoin_others, r->n);
		fprintf(f, "%u,", r->rejoin_missing);
		csv_rounds(f, r->rejoin_self);
		fprintf(f, "%.4f,", r->rejoin_seen);
		const struct traffic *t = &r->steady_tr;
		fprintf(f, "%.1f,%" PRIu64 ",%.1f,%.3f,%.1f,%" PRIu64 ",",
			per(t->bytes, t->node_rounds), t->max_node_round, wire_mean(t),
			per(t->msgs, t->node_rounds), per(t->msg_bytes, t->msgs), t->max_msg);
		fprintf(f, "%.1f,%" PRIu64 ",%" PRIu64 ",",
			per(r->join_tr.bytes, r->join_tr.node_rounds), r->join_tr.max_node_round,
			r->join_tr.max_msgs_node_round);
		t = &r->later_tr;
		fprintf(f, "%.0f,%.1f,%" PRIu64 ",%.3f,%" PRIu64 ",%" PRIu64 ",",
			per(t->node_rounds, r->n), per(t->bytes, t->node_rounds), t->max_node_round,
			per(t->msgs, t->node_rounds), r->later_false_down, r->later_false_dead);
		fprintf(f, "%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.1f\n", false_down(r),
			false_dead(r), bytes_max(r), r->wall);
	}
}

int main(int argc, char **argv)
{
	enum {
		O_CSV = 256,
		O_STEADY,
		O_PERIOD,
		O_FANOUT,
		O_WINDOW,
		O_SUSPECT,
		O_DEAD,
		O_LATENCY,
		O_DEATH_LIMIT,
		O_SEEDS,
		O_JSON,
		O_SLOW,
		O_SLOW_MS,
		O_NO_LIFEGUARD,
		O_TRACE_FALSE,
	};
	static const struct option longopts[] = {
		{ "nodes", required_argument, NULL, 'n' },
		{ "loss", required_argument, NULL, 'l' },
		{ "slow", required_argument, NULL, O_SLOW },
		{ "slow-ms", required_argument, NULL, O_SLOW_MS },
		{ "no-lifeguard", no_argument, NULL, O_NO_LIFEGUARD },
		{ "trace-false", no_argument, NULL, O_TRACE_FALSE },
		{ "seed", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, O_JSON },
		{ "csv", required_argument, NULL, O_CSV },
		{ "max-rounds", required_argument, NULL, 'r' },
		{ "join-rounds", required_argument, NULL, 'J' },
		{ "steady", required_argument, NULL, O_STEADY },
		{ "config", required_argument, NULL, 'c' },
		{ "period", required_argument, NULL, O_PERIOD },
		{ "fanout", required_argument, NULL, O_FANOUT },
		{ "window", required_argument, NULL, O_WINDOW },
		{ "suspect", required_argument, NULL, O_SUSPECT },
		{ "dead", required_argument, NULL, O_DEAD },
		{ "latency", required_argument, NULL, O_LATENCY },
		{ "death-limit", required_argument, NULL, O_DEATH_LIMIT },
		{ "seeds", required_argument, NULL, O_SEEDS },
		{ "threads", required_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char err[PATH_MAX + 256];
	const char *nodes = "100,1000,10000";
	struct gossip_params over = { 0 };
	int have_over[5] = { 0 }, have_slow_ms = 0;
	int c;

	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	nthreads = cpus < 1 ? 1 : cpus > LANES ? LANES : (unsigned)cpus;
	/* defaults first, for --help */
	if (params_from_config(NULL, &opt.p, err, sizeof(err)) < 0)
		die("reading migrd's defaults: %s", err);
	while ((c = getopt_long(argc, argv, "n:l:s:r:J:c:j:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			nodes = optarg;
			break;
		case 'l':
		case O_SLOW: {
			char *end;
			double v;
			errno = 0;
			v = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(v >= 0 && v < 1))
				die("--%s: '%s' is not a share in [0, 1)",
				    c == 'l' ? "loss" : "slow", optarg);
			if (c == 'l')
				opt.loss = v;
			else
				opt.slow = v;
			break;
		}
		case O_NO_LIFEGUARD:
			opt.p.no_health = 1;
			break;
		case O_TRACE_FALSE:
			opt.trace_false = 1;
			break;
		case O_SLOW_MS:
			opt.slow_ms = (unsigned)parse_num("--slow-ms", optarg, 0, 3600000);
			have_slow_ms = 1;
			break;
		case 's':
			opt.seed = parse_num("--seed", optarg, 0, ULONG_MAX);
			break;
		case O_JSON:
			opt.json = 1;
			break;
		case O_CSV:
			opt.csv = optarg;
			break;
		case 'r':
			opt.max_rounds = (unsigned)parse_num("--max-rounds", optarg, 1, 1000000);
			break;
		case 'J':
			opt.join_rounds = (unsigned)parse_num("--join-rounds", optarg, 1, 1000000);
			break;
		case O_STEADY:
			opt.steady_rounds = (unsigned)parse_num("--steady", optarg, 1, 100000);
			break;
		case 'c':
			opt.config = optarg;
			break;
		case O_PERIOD:
			over.period_ms = (unsigned)parse_num("--period", optarg, 10, 3600000);
			have_over[0] = 1;
			break;
		case O_FANOUT:
			over.fanout = (unsigned)parse_num("--fanout", optarg, 1, 16);
			have_over[1] = 1;
			break;
		case O_WINDOW:
			over.window = (unsigned)parse_num("--window", optarg, 0, GOSSIP_WINDOW_MAX);
			have_over[2] = 1;
			break;
		case O_SUSPECT:
			over.suspect_ms = (unsigned)parse_num("--suspect", optarg, 10, 3600000);
			have_over[3] = 1;
			break;
		case O_DEAD:
			over.dead_ms = (unsigned)parse_num("--dead", optarg, 10, 3600000);
			have_over[4] = 1;
			break;
		case O_LATENCY:
			opt.latency_ms = (unsigned)parse_num("--latency", optarg, 0, 3600000);
			break;
		case 'j':
			nthreads = (unsigned)parse_num("--threads", optarg, 1, LANES);
			break;
		case O_DEATH_LIMIT:
			opt.death_limit = (unsigned)parse_num("--death-limit", optarg, 1, 10000000);
			break;
		case O_SEEDS:
			opt.seeds = (unsigned)parse_num("--seeds", optarg, 1, NODES_MAX);
			break;
		case 'q':
			opt.quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		die("unexpected argument '%s' (see --help)", argv[optind]);
	if (opt.trace_false)
		nthreads = 1;	/* trace lines in the simulation's order */
	parse_nodes(nodes);
	if (opt.config && params_from_config(opt.config, &opt.p, err, sizeof(err)) < 0)
		die("%s", err);
	if (have_over[0])
		opt.p.period_ms = over.period_ms;
	if (have_over[1])
		opt.p.fanout = over.fanout;
	if (have_over[2])
		opt.p.window = over.window;
	if (have_over[3])
		opt.p.suspect_ms = over.suspect_ms;
	if (have_over[4])
		opt.p.dead_ms = over.dead_ms;
	if (opt.p.suspect_ms <= opt.p.period_ms || opt.p.dead_ms <= opt.p.suspect_ms)
		die("want period < suspect < dead (migrd.conf(5) insists too)");
	if (opt.latency_ms >= opt.p.period_ms)
		die("--latency must be below the gossip period (%u ms)", opt.p.period_ms);
	if (!have_slow_ms)
		opt.slow_ms = opt.p.period_ms * 3 / 2;
	if (opt.slow_ms > 100 * opt.p.period_ms)
		die("--slow-ms: at most 100 periods");
	if (opt.p.window > GOSSIP_WINDOW_MAX)
		opt.p.window = GOSSIP_WINDOW_MAX;	/* gossip_init clamps it the same way */

	struct result *res = xcalloc(opt.nn, sizeof(*res));
	for (unsigned i = 0; i < opt.nn; i++) {
		run_one(opt.n[i], &res[i]);
		if (opt.json)
			print_json(&res[i]);
		if (res[i].bad)
			fprintf(stderr, "%s: N=%u: %" PRIu64 " messages miscoded or missized\n",
				prog, res[i].n, res[i].bad);
	}
	if (!opt.json)
		print_table(res, opt.nn);
	if (opt.csv) {
		FILE *f = strcmp(opt.csv, "-") ? fopen(opt.csv, "w") : stdout;
		if (!f)
			die("%s: %s", opt.csv, strerror(errno));
		if (f == stdout && !opt.json)
			putchar('\n');
		print_csv(f, res, opt.nn);
		if (f != stdout && fclose(f) != 0)
			die("%s: %s", opt.csv, strerror(errno));
	}
	free(res);
	return 0;
}
