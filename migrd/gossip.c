/* gossip.c: membership, failure detection (SWIM, Lifeguard) and load dissemination (see
 * gossip.h). */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip.h"
#include "xmalloc.h"

/* ---- interned strings: names and addresses, shared by every gossip instance ---- */

static struct {
	char **str;
	uint8_t *len;		/* strlen, up to 255: copied into entries without a strlen */
	uint32_t count, cap;
	uint32_t *index;	/* hash -> id + 1 */
	uint32_t index_cap;
} pool;

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;	/* FNV-1a */
	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

static void pool_reindex(void)
{
	free(pool.index);
	pool.index_cap = pool.index_cap ? pool.index_cap * 2 : 1024;
	pool.index = xcalloc(pool.index_cap, sizeof(*pool.index));
	for (uint32_t id = 0; id < pool.count; id++) {
		uint32_t i = hash_str(pool.str[id]) & (pool.index_cap - 1);
		while (pool.index[i])
			i = (i + 1) & (pool.index_cap - 1);
		pool.index[i] = id + 1;
	}
}

static uint32_t intern(const char *s)
{
	if ((pool.count + 1) * 2 > pool.index_cap)
		pool_reindex();
	uint32_t i = hash_str(s) & (pool.index_cap - 1);
	for (; pool.index[i]; i = (i + 1) & (pool.index_cap - 1))
		if (!strcmp(pool.str[pool.index[i] - 1], s))
			return pool.index[i] - 1;
	if (pool.count == pool.cap) {
		pool.cap = pool.cap ? pool.cap * 2 : 256;
		pool.str = xrealloc(pool.str, pool.cap * sizeof(*pool.str));
		pool.len = xrealloc(pool.len, pool.cap * sizeof(*pool.len));
	}
	size_t n = strlen(s);
	pool.len[pool.count] = (uint8_t)(n < 255 ? n : 255);
	pool.str[pool.count] = xstrdup(s);
	pool.index[i] = pool.count + 1;
	return pool.count++;
}

/* Looks a string up without adding it; UINT32_MAX if unknown. */
static uint32_t interned(const char *s)
{
	if (!pool.index_cap)
		return UINT32_MAX;
	for (uint32_t i = hash_str(s) & (pool.index_cap - 1); pool.index[i];
	     i = (i + 1) & (pool.index_cap - 1))
		if (!strcmp(pool.str[pool.index[i] - 1], s))
			return pool.index[i] - 1;
	return UINT32_MAX;
}

const char *gossip_name(const struct gossip_node *n)
{
	return pool.str[n->name_id];
}

const char *gossip_addr(const struct gossip_node *n)
{
	return pool.str[n->addr_id];
}

#define NONE UINT32_MAX
#define INDIRECT 3	/* members asked to probe one that did not answer (ping-req) */
#define HEALTH_MAX 8	/* Lifeguard: a probe waits at most this many periods */
#define RETRANSMIT 4	/* a change is passed on RETRANSMIT * ceil(log10(N + 1)) times */
#define NEWS_PER_MSG 16	/* membership changes a message carries, besides its window */
#define PP_PARTS 64	/* parts of a table a stream sends per period */
#define PP_BUSY 256	/* askers a busy node answers per period, with BUSY_ENTRIES each */
#define BUSY_ENTRIES 8
#define PP_INTERVAL 30	/* periods between anti-entropy exchanges, up to 32 nodes */
#define HEAL_ODDS 8	/* one period in this many, ping a dead node: partitions heal */

/* ---- the node table ---- */

static uint32_t rnd(struct gossip *g, uint32_t bound)
{
	g->rng ^= g->rng >> 12;	/* xorshift64* */
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return (uint32_t)(((g->rng * 2685821657736338717ull) >> 32) % bound);
}

static uint32_t rnd32(struct gossip *g)
{
	rnd(g, 2);
	return (uint32_t)((g->rng * 2685821657736338717ull) >> 32);
}

static void index_rebuild(struct gossip *g)
{
	free(g->index);
	g->index_cap = g->index_cap ? g->index_cap * 2 : 16;
	g->index = xcalloc(g->index_cap, sizeof(*g->index));
	for (uint32_t s = 0; s < g->count; s++) {
		uint32_t i = g->nodes[s].name_id & (g->index_cap - 1);
		while (g->index[i])
			i = (i + 1) & (g->index_cap - 1);
		g->index[i] = s + 1;
	}
}

static struct gossip_node *lookup(const struct gossip *g, uint32_t name_id)
{
	for (uint32_t i = name_id & (g->index_cap - 1); g->index[i];
	     i = (i + 1) & (g->index_cap - 1))
		if (g->nodes[g->index[i] - 1].name_id == name_id)
			return &g->nodes[g->index[i] - 1];
	return NULL;
}

static struct gossip_node *add_node(struct gossip *g, uint32_t name_id)
{
	if (g->count == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 16;
		g->nodes = xrealloc(g->nodes, g->cap * sizeof(*g->nodes));
	}
	struct gossip_node *n = &g->nodes[g->count++];
	memset(n, 0, sizeof(*n));
	n->name_id = name_id;
	if (g->count * 2 > g->index_cap) {
		index_rebuild(g);
	} else {
		uint32_t i = name_id & (g->index_cap - 1);
		while (g->index[i])
			i = (i + 1) & (g->index_cap - 1);
		g->index[i] = g->count;
	}
	return n;
}

const struct gossip_node *gossip_find(const struct gossip *g, const char *name)
{
	uint32_t id = interned(name);
	return id == UINT32_MAX ? NULL : lookup(g, id);
}

/* The slot of the node a message entry names, or NONE. */
static uint32_t slot_of(const struct gossip *g, const char *name)
{
	const struct gossip_node *n = gossip_find(g, name);
	return n ? (uint32_t)(n - g->nodes) : NONE;
}

void gossip_note_admin(struct gossip *g, const char *name, uint8_t admin)
{
	uint32_t slot = slot_of(g, name);
	if (slot != NONE)
		g->nodes[slot].vec.admin = admin;
}

uint32_t gossip_count_state(const struct gossip *g, int state)
{
	uint32_t c = 0;
	for (uint32_t i = 0; i < g->count; i++)
		c += g->nodes[i].state == state;
	return c;
}

static int is_live(int state)
{
	return state == MIGR_NODE_ALIVE || state == MIGR_NODE_SUSPECT;
}

static void susp_drop(struct gossip *g, struct gossip_node *n)
{
	if (!n->suspicion)
		return;
	uint32_t i = n->suspicion - 1;
	n->suspicion = 0;
	g->susp[i] = g->susp[--g->nsusp];
	if (i < g->nsusp)
		g->nodes[g->susp[i].slot].suspicion = i + 1;
}

static void set_state(struct gossip *g, struct gossip_node *n, int state)
{
	int old = n->state;
	if (state != MIGR_NODE_SUSPECT)
		susp_drop(g, n);
	if (old == state)
		return;
	g->live += (uint32_t)is_live(state) - (uint32_t)is_live(old);
	n->state = (uint8_t)state;
	if (g->t.state_changed)
		g->t.state_changed(g->t.ctx, n, old);
}

static void health_add(struct gossip *g, int delta)
{
	int h = g->p.no_health ? 0 : (int)g->health + delta;
	g->health = h < 0 ? 0 : h >= HEALTH_MAX ? HEALTH_MAX - 1 : (unsigned)h;
}

static uint32_t next_seq(struct gossip *g)
{
	if (++g->seq == 0)	/* 0: news, not a probe */
		g->seq = 1;
	return g->seq;
}

/* ---- timeouts ---- */

/* 1000 * log10(n), n >= 1, without libm (migrd links none): log2 by repeated squaring. */
static uint64_t log10_milli(uint64_t n)
{
	unsigned ip = 0;
	uint64_t frac = 0, x;
	if (n < 1)
		n = 1;
	while (n >> (ip + 1))
		ip++;
	x = ip >= 30 ? n >> (ip - 30) : n << (30 - ip);	/* n / 2^ip in [1, 2), Q30 */
	for (int b = 19; b >= 0; b--) {
		x = (x * x) >> 30;
		if (x >= 2ull << 30) {
			x >>= 1;
			frac |= 1ull << b;
		}
	}
	/* (ip + frac / 2^20) * log10(2) * 1000, rounded */
	return ((((uint64_t)ip << 20) + frac) * 301030 / 1000 + (1u << 19)) >> 20;
}

uint64_t gossip_suspicion_ms(const struct gossip_params *p, uint32_t members,
			     unsigned confirmations)
{
	/* log(c + 1) / log(K + 1) in thousandths, K = GOSSIP_CONFIRM: memberlist's curve, which
	 * gives the first confirmations the most weight */
	static const unsigned shrink[] = { 0, 500, 792, 1000 };
	_Static_assert(sizeof(shrink) / sizeof(shrink[0]) == GOSSIP_CONFIRM + 1, "one per c");
	uint64_t scaled = 4 * log10_milli(members) * p->period_ms / 1000;
	uint64_t most = scaled > p->dead_ms ? scaled : p->dead_ms;
	/* down to two thirds: less let nodes that answer late (Lifeguard's case), suspected
	 * over and over by many, be declared dead now and then before their refutation got
	 * round in clusters of thousands (bench/gossip-sim --slow) */
	uint64_t least = scaled * 2 / 3 > p->suspect_ms ? scaled * 2 / 3 : p->suspect_ms;
	if (least > most)
		least = most;
	if (members < GOSSIP_CONFIRM + 2)
		return least;	/* too few others to confirm anything */
	if (confirmations > GOSSIP_CONFIRM)
		confirmations = GOSSIP_CONFIRM;
	return most - (most - least) * shrink[confirmations] / 1000;
}

/* How often a change is passed on: enough for a rumour to reach every node with high
 * probability (SWIM's lambda log N), few enough that old news gives way to new. */
static unsigned news_limit(const struct gossip *g)
{
	return RETRANSMIT * (unsigned)((log10_milli(g->live + 2ull) + 999) / 1000);
}

/* Anti-entropy exchanges cost a whole table: rarer in larger clusters (memberlist's scale). */
static uint64_t pp_interval(const struct gossip *g)
{
	unsigned bits = 0, scale = 1;
	while ((1ull << bits) < g->live + 1ull)
		bits++;
	if (bits > 5)
		scale = bits - 5 + 1;
	return (uint64_t)PP_INTERVAL * scale * g->p.period_ms;
}

/* ---- news: changes passed on, the least passed on first ---- */

static void news_add(struct gossip *g, uint32_t slot, int member, uint64_t now)
{
	struct gossip_news *nw = NULL;
	g->nodes[slot].changed_at = now;
	if (slot == 0)
		return;	/* every message we send starts with our own entry anyway */
	for (uint32_t i = 0; i < g->nnews && !nw; i++)
		if (g->news[i].slot == slot)
			nw = &g->news[i];
	if (!nw && g->nnews < GOSSIP_NEWS) {
		nw = &g->news[g->nnews++];
		nw->member = 0;
	} else if (!nw) {
		/* full: the change of its own kind passed on most often gives way while that
		 * kind holds half the buffer, else one of the other kind: a flood of suspicions
		 * and refutations (slow nodes, thousands of members) must not crowd every load
		 * change out, nor load changes membership */
		unsigned same = 0;
		for (uint32_t i = 0; i < g->nnews; i++)
			same += (g->news[i].member != 0) == (member != 0);
		int give_member = same >= GOSSIP_NEWS / 2 ? member != 0 : member == 0;
		for (uint32_t i = 0; i < g->nnews; i++)
			if ((g->news[i].member != 0) == give_member &&
			    (!nw || g->news[i].sent > nw->sent))
				nw = &g->news[i];
		nw->member = 0;
	}
	nw->slot = slot;
	nw->sent = 0;
	nw->member |= (uint8_t)member;
}

/* A message being built, and the slots in it: no node twice. */
struct build {
	struct migr_gossip_msg *m;
	uint32_t slots[GOSSIP_MAX_ENTRIES];
};

static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* An interned string into dst[size]. */
static void copy_id(char *dst, size_t size, uint32_t id)
{
	size_t n = pool.len[id];
	if (n >= size)
		n = size - 1;
	memcpy(dst, pool.str[id], n);
	dst[n] = '\0';
}

/* Our judgement of a node, as the wire says it; our own status for ourselves. */
static uint8_t wire_status(const struct gossip *g, const struct gossip_node *n)
{
	static const uint8_t wire[] = {
		[MIGR_NODE_ALIVE] = GOSSIP_ALIVE,
		[MIGR_NODE_SUSPECT] = GOSSIP_SUSPECT,
		[MIGR_NODE_DEAD] = GOSSIP_DEAD,
		[MIGR_NODE_LEFT] = GOSSIP_LEFT,
	};
	if (n == g->nodes)
		return n->status;
	return n->state <= MIGR_NODE_LEFT ? wire[n->state] : GOSSIP_ALIVE;
}

/* What we know of n, as an entry: our judgement of it, and for a suspect one of its
 * accusers, each in turn, so that every confirmation travels. */
static void entry_of(struct gossip *g, const struct gossip_node *n, uint64_t now,
		     struct migr_gossip_entry *e)
{
	copy_id(e->name, sizeof(e->name), n->name_id);
	copy_id(e->addr, sizeof(e->addr), n->addr_id);
	e->port = n->port;
	e->status = wire_status(g, n);
	e->incarnation = n->incarnation;
	e->heartbeat = n->heartbeat;
	e->age_ms = now > n->updated_at ? (uint32_t)(now - n->updated_at) : 0;
	e->vec = n->vec;
	e->from[0] = '\0';
	if (e->status == GOSSIP_SUSPECT) {
		struct gossip_suspicion *s = &g->susp[n->suspicion - 1];
		uint32_t a = s->acc[s->sent++ % s->n];
		copy_str(e->from, sizeof(e->from),
			 a < pool.count ? pool.str[a] : gossip_name(g->nodes));
	}
}

static int build_has(const struct build *b, uint32_t slot)
{
	for (uint16_t i = 0; i < b->m->count; i++)
		if (b->slots[i] == slot)
			return 1;
	return 0;
}

static int build_add(struct gossip *g, struct build *b, uint32_t slot, uint64_t now)
{
	struct migr_gossip_msg *m = b->m;
	if (m->count >= GOSSIP_MAX_ENTRIES || build_has(b, slot))
		return 0;
	b->slots[m->count] = slot;
	entry_of(g, &g->nodes[slot], now, &m->entries[m->count++]);
	return 1;
}

/* A message of the given kind with our own entry first. */
static void msg_start(struct gossip *g, struct build *b, struct migr_gossip_msg *m, uint8_t type,
		      uint64_t now)
{
	m->type = type;
	m->flags = 0;
	m->seq = 0;
	m->target[0] = '\0';
	memset(&m->at, 0, sizeof(m->at));
	m->count = 0;
	b->m = m;
	build_add(g, b, 0, now);
}

/* Adds up to max changes of one kind (membership or load), the least passed on first, and
 * retires those passed on often enough. */
static void add_news(struct gossip *g, struct build *b, int member, unsigned max, uint64_t now)
{
	enum { LEVELS = 64 };
	unsigned hist[LEVELS] = { 0 }, below = 0, t, added = 0, limit = news_limit(g);
	if (!max)
		return;
	for (uint32_t i = 0; i < g->nnews; i++)
		if (g->news[i].member == member)
			hist[g->news[i].sent < LEVELS ? g->news[i].sent : LEVELS - 1]++;
	for (t = 0; t < LEVELS - 1 && below + hist[t] < max; t++)
		below += hist[t];
	/* those passed on fewer than t times, then as many passed on t times as fit */
	for (int pass = 0; pass < 2; pass++)
		for (uint32_t i = 0; i < g->nnews && added < max; i++) {
			struct gossip_news *nw = &g->news[i];
			unsigned s = nw->sent < LEVELS ? nw->sent : LEVELS - 1;
			if (nw->member != member || (pass == 0 ? s >= t : s != t))
				continue;
			if (build_add(g, b, nw->slot, now)) {
				nw->sent++;
				added++;
			}
		}
	for (uint32_t i = 0; i < g->nnews;)
		if (g->news[i].sent >= limit)
			g->news[i] = g->news[--g->nnews];
		else
			i++;
}

static void ring_push(uint32_t *ring, uint32_t *head, uint32_t slot)
{
	ring[*head % GOSSIP_RING] = slot;
	(*head)++;
}

/* Adds the vectors heard most recently (the newest first), up to limit entries in all: a
 * vector is passed on while it is among the freshest a node knows, like a rumour. */
static void fill_freshest(struct gossip *g, struct build *b, unsigned limit, uint64_t now)
{
	uint32_t cand[GOSSIP_RING];
	unsigned n = 0;
	for (uint32_t k = 0; k < GOSSIP_RING && k < g->fresh_head; k++) {
		uint32_t slot = g->fresh[(g->fresh_head - 1 - k) % GOSSIP_RING];
		const struct gossip_node *nd = &g->nodes[slot];
		int dup = slot == 0 || !is_live(nd->state) || build_has(b, slot);
		for (unsigned c = 0; c < n && !dup; c++)
			dup = cand[c] == slot;
		if (dup)
			continue;
		/* insertion sort, newest updated_at first: at most GOSSIP_RING entries */
		unsigned at = n++;
		while (at > 0 && g->nodes[cand[at - 1]].updated_at < nd->updated_at) {
			cand[at] = cand[at - 1];
			at--;
		}
		cand[at] = slot;
	}
	for (unsigned c = 0; c < n && b->m->count < limit; c++)
		build_add(g, b, cand[c], now);
}

/* What every message carries besides its own business: membership changes first, load
 * news within half the window; a message that is only news (full) fills the rest of its
 * window with the freshest vectors, then a round-robin over the whole table, so that every
 * node's vector keeps being passed on. */
static void carry(struct gossip *g, struct build *b, int full, uint64_t now)
{
	unsigned w = g->p.window;
	add_news(g, b, 1, NEWS_PER_MSG, now);
	unsigned base = b->m->count;
	unsigned room = GOSSIP_MAX_ENTRIES - base;
	add_news(g, b, 0, (w + 1) / 2 < room ? (w + 1) / 2 : room, now);
	if (!full)
		return;
	unsigned end = base + (w < room ? w : room);
	fill_freshest(g, b, base + (3 * w + 3) / 4 < end ? base + (3 * w + 3) / 4 : end, now);
	for (uint32_t tries = 1; tries < g->count && b->m->count < end; tries++) {
		g->cursor = g->cursor + 1 < g->count ? g->cursor + 1 : 1;
		if (is_live(g->nodes[g->cursor].state))
			build_add(g, b, g->cursor, now);
	}
}

static void send_to(struct gossip *g, const char *addr, uint16_t port,
		    const struct migr_gossip_msg *m)
{
	g->t.send(g->t.ctx, addr, port, m);
}

static void send_node(struct gossip *g, const struct gossip_node *n,
		      const struct migr_gossip_msg *m)
{
	send_to(g, gossip_addr(n), n->port, m);
}

/* A random member in one of the states in the mask (1 << state), or NULL. Sampling keeps
 * this O(1) in large tables. */
static struct gossip_node *random_member(struct gossip *g, unsigned states)
{
	if (g->count < 2)
		return NULL;
	for (int tries = 0; tries < 32; tries++) {
		struct gossip_node *n = &g->nodes[1 + rnd(g, g->count - 1)];
		if (n->state <= MIGR_NODE_LEFT && (states & 1u << n->state))
			return n;
	}
	return NULL;
}

#define LIVE (1u << MIGR_NODE_ALIVE | 1u << MIGR_NODE_SUSPECT)

/* ---- merging what others say ---- */

/* Content that is news: a change others should hear of soon, not jitter. */
static int vector_news(const struct gossip_node *n, const struct migr_gossip_entry *e,
		       uint32_t addr_id)
{
	const struct migr_vector *a = &n->vec, *b = &e->vec;
	uint32_t dl = a->load_milli > b->load_milli ? a->load_milli - b->load_milli
						    : b->load_milli - a->load_milli;
	uint64_t dm = a->mem_free_kb > b->mem_free_kb ? a->mem_free_kb - b->mem_free_kb
						      : b->mem_free_kb - a->mem_free_kb;
	return n->addr_id != addr_id || n->port != e->port || a->jobs != b->jobs ||
	       a->cpus_milli != b->cpus_milli || dl >= 100 || dm * 16 > a->mem_free_kb;
}

static void susp_new(struct gossip *g, struct gossip_node *n, uint32_t accuser, uint64_t now)
{
	susp_drop(g, n);
	if (g->nsusp == g->capsusp) {
		g->capsusp = g->capsusp ? 2 * g->capsusp : 8;
		g->susp = xrealloc(g->susp, g->capsusp * sizeof(*g->susp));
	}
	struct gossip_suspicion *s = &g->susp[g->nsusp++];
	memset(s, 0, sizeof(*s));
	s->slot = (uint32_t)(n - g->nodes);
	s->n = 1;
	s->acc[0] = accuser;
	s->since = now;
	n->suspicion = g->nsusp;
}

/* Another member suspects it too, at the same incarnation; 1 if we did not know. */
static int susp_confirm(struct gossip_suspicion *s, uint32_t accuser)
{
	for (unsigned k = 0; k < s->n; k++)
		if (s->acc[k] == accuser)
			return 0;
	if (s->n > GOSSIP_CONFIRM)
		return 0;	/* confirmed enough: the timeout is as short as it gets */
	s->acc[s->n++] = accuser;
	return 1;
}

/* News of ourselves. Suspected, dead or gone at our incarnation, or alive at a higher one
 * (an earlier life of ours, restarted before the clock moved on): a new incarnation refutes
 * it, and goes out with everything we send. Being suspected hints we are the slow one. */
static void merge_self(struct gossip *g, const struct migr_gossip_entry *e, uint64_t now)
{
	struct gossip_node *self = &g->nodes[0];
	if (self->status == GOSSIP_LEFT || e->incarnation < self->incarnation ||
	    (e->incarnation == self->incarnation && e->status == GOSSIP_ALIVE))
		return;
	if (e->incarnation == UINT64_MAX)
		return;	/* nothing higher to refute it with */
	self->incarnation = e->incarnation + 1;
	self->changed_at = self->updated_at = now;
	if (e->status == GOSSIP_SUSPECT || e->status == GOSSIP_DEAD)
		health_add(g, 1);
}

/* How long a refutation makes our probes of its member patient: four unconfirmed suspicion
 * timeouts (64 periods at 10,000 members), so that a member slow for good is suspected once
 * in that while, not by every prober that tries it. */
static uint64_t refuted_memory_ms(const struct gossip *g)
{
	return 4 * gossip_suspicion_ms(&g->p, g->live + 1, 0);
}

static void refuted_note(struct gossip *g, uint32_t slot, uint64_t now)
{
	struct gossip_refuted *r = &g->refuted[g->refuted_head++ % GOSSIP_REFUTED];
	r->slot = slot;
	r->at = now;
}

static int refuted_lately(const struct gossip *g, uint32_t slot, uint64_t now)
{
	uint64_t memory = refuted_memory_ms(g);
	for (int i = 0; i < GOSSIP_REFUTED; i++)
		if (g->refuted[i].slot == slot && g->refuted[i].at + memory > now)
			return 1;
	return 0;
}

/* Merges what one entry says of a node, SWIM's way: a higher incarnation wins; at the same
 * one, dead or left beats suspect beats alive. Load vectors go by incarnation and heartbeat.
 * `told`: pass it on if it changes anything (a rumour, or a sender's word of itself; not
 * the bulk of a table). Returns the node if it came alive to us. */
static struct gossip_node *merge(struct gossip *g, const struct migr_gossip_entry *e, int told,
				 uint64_t now, uint32_t *slotp)
{
	*slotp = NONE;
	if (g->count >= GOSSIP_NODES_MAX) {
		/* full: news of known nodes only, so the table and its strings stay bounded */
		uint32_t id = interned(e->name);
		if (id == UINT32_MAX || !lookup(g, id))
			return NULL;
	}
	uint32_t name_id = intern(e->name);
	if (name_id == g->nodes[0].name_id) {
		merge_self(g, e, now);
		return NULL;
	}
	struct gossip_node *n = lookup(g, name_id);
	if (!n) {
		/* a node suspect, dead or gone that we never knew alive: nothing to act on */
		if (e->status != GOSSIP_ALIVE)
			return NULL;
		uint32_t addr_id = intern(e->addr);
		n = add_node(g, name_id);
		n->addr_id = addr_id;
		n->port = e->port;
		n->status = GOSSIP_ALIVE;
		n->incarnation = e->incarnation;
		n->heartbeat = e->heartbeat;
		n->vec = e->vec;
		n->updated_at = now;
		n->state = GOSSIP_STATE_NEW;	/* report a join as a change from nothing */
		uint32_t slot = (uint32_t)(n - g->nodes);
		*slotp = slot;
		ring_push(g->fresh, &g->fresh_head, slot);
		if (told)
			news_add(g, slot, 1, now);
		set_state(g, n, MIGR_NODE_ALIVE);
		return n;
	}
	uint32_t slot = (uint32_t)(n - g->nodes);
	*slotp = slot;
	int was = n->state;
	if (e->incarnation > n->incarnation ||
	    (e->incarnation == n->incarnation && e->heartbeat > n->heartbeat)) {
		uint32_t addr_id = intern(e->addr);
		if (told && vector_news(n, e, addr_id))
			news_add(g, slot, 0, now);
		n->addr_id = addr_id;
		n->port = e->port;
		n->heartbeat = e->heartbeat;
		n->vec = e->vec;
		n->updated_at = now;
		ring_push(g->fresh, &g->fresh_head, slot);
	}
	if (e->incarnation < n->incarnation)
		return NULL;
	int newer = e->incarnation > n->incarnation, member = 0;
	/* alive (or suspected again) at a higher incarnation than we knew: it refuted */
	if (newer && is_live(was) && (e->status == GOSSIP_ALIVE || e->status == GOSSIP_SUSPECT))
		refuted_note(g, slot, now);
	switch (e->status) {
	case GOSSIP_ALIVE:
		if (newer) {
			n->incarnation = e->incarnation;
			n->status = GOSSIP_ALIVE;
			set_state(g, n, MIGR_NODE_ALIVE);
			member = 1;
		}
		break;
	case GOSSIP_SUSPECT: {
		if (!newer && (was == MIGR_NODE_DEAD || was == MIGR_NODE_LEFT))
			break;
		uint32_t acc = g->count < GOSSIP_NODES_MAX ? intern(e->from) : interned(e->from);
		if (newer || was != MIGR_NODE_SUSPECT) {
			n->incarnation = e->incarnation;
			n->status = GOSSIP_ALIVE;
			susp_new(g, n, acc, now);
			set_state(g, n, MIGR_NODE_SUSPECT);
			member = 1;
		} else {
			member = susp_confirm(&g->susp[n->suspicion - 1], acc);
		}
		break;
	}
	case GOSSIP_DEAD:
		if (!newer && (was == MIGR_NODE_DEAD || was == MIGR_NODE_LEFT))
			break;
		n->incarnation = e->incarnation;
		n->status = GOSSIP_ALIVE;
		set_state(g, n, MIGR_NODE_DEAD);
		member = 1;
		break;
	case GOSSIP_LEFT:
		if (!newer && was == MIGR_NODE_LEFT)
			break;
		n->incarnation = e->incarnation;
		n->status = GOSSIP_LEFT;
		set_state(g, n, MIGR_NODE_LEFT);
		member = 1;
		break;
	}
	if (member) {
		n->updated_at = now;
		if (told)
			news_add(g, slot, 1, now);
		else
			n->changed_at = now;
	}
	return was != MIGR_NODE_ALIVE && n->state == MIGR_NODE_ALIVE ? n : NULL;
}

/* ---- probes ---- */

/* A ping: a probe (seq != 0) or news for a member. A suspect or dead member hears what we
 * think of it first (Lifeguard's buddy system): alive, it refutes at once. */
static void send_ping(struct gossip *g, uint32_t slot, uint32_t seq, int full, uint64_t now)
{
	struct migr_gossip_msg m;
	struct build b;
	const struct gossip_node *n = &g->nodes[slot];
	msg_start(g, &b, &m, MSG_GOSSIP_PING, now);
	m.seq = seq;
	copy_str(m.target, sizeof(m.target), gossip_name(n));
	if (n->state == MIGR_NODE_SUSPECT || n->state == MIGR_NODE_DEAD)
		build_add(g, &b, slot, now);
	carry(g, &b, full, now);
	send_node(g, n, &m);
}

/* An ack (or a helper's nack) to addr:port; `about`, if not NONE, a member whose view of
 * itself we doubt: it goes first, so that it refutes. `ping` (and the slots its entries
 * merged into), if not NULL: what it said that we know to be refuted goes next
 * (add_stale). */
static int add_stale(struct gossip *g, struct build *b, const struct migr_gossip_msg *m,
		     const uint32_t *slots, uint64_t now);

static void send_ack(struct gossip *g, const char *addr, uint16_t port, uint32_t about,
		     const struct migr_gossip_msg *ping, const uint32_t *slots, uint32_t seq,
		     uint8_t flags, uint64_t now)
{
	struct migr_gossip_msg m;
	struct build b;
	msg_start(g, &b, &m, MSG_GOSSIP_ACK, now);
	m.seq = seq;
	m.flags = flags;
	if (about != NONE && (g->nodes[about].state == MIGR_NODE_SUSPECT ||
			      g->nodes[about].state == MIGR_NODE_DEAD))
		build_add(g, &b, about, now);
	if (ping)
		add_stale(g, &b, ping, slots, now);
	carry(g, &b, 0, now);
	send_to(g, addr, port, &m);
}

/* The next member to probe, in the order of this pass, or NULL if there is none alive. */
static struct gossip_node *next_target(struct gossip *g)
{
	for (int pass = 0; pass < 2; pass++) {
		uint32_t mask = (1u << g->perm_bits) - 1;
		while (g->perm_i <= mask) {
			uint32_t slot = (g->perm_a * g->perm_i++ + g->perm_b) & mask;
			if (slot > 0 && slot < g->count && is_live(g->nodes[slot].state))
				return &g->nodes[slot];
		}
		/* a new pass, in a new order; members that joined since are in it */
		g->perm_bits = 0;
		while ((1u << g->perm_bits) < g->count)
			g->perm_bits++;
		g->perm_a = rnd32(g) | 1;
		g->perm_b = rnd32(g);
		g->perm_i = 0;
	}
	return NULL;
}

static void probe_start(struct gossip *g, uint64_t now)
{
	struct gossip_probe *pr = &g->probe;
	struct gossip_node *n = next_target(g);
	if (!n)
		return;
	memset(pr, 0, sizeof(*pr));
	pr->slot = (uint32_t)(n - g->nodes);
	pr->seq = next_seq(g);
	pr->incarnation = n->incarnation;
	pr->indirect_at = now + g->p.period_ms / 2;
	/* Lifeguard: a node in poor health waits longer before it blames anyone else */
	pr->end = now + (uint64_t)g->p.period_ms * (g->health + 1);
	/* A member that refuted a suspicion lately is slow rather than dead, most likely: its
	 * ack gets two periods more. Suspected by every prober that tried it instead, each
	 * of a hundred slow members in 10,000 (bench/gossip-sim --slow) kept a suspicion and
	 * a refutation in every node's news, and a real death's news waited behind them. */
	if (refuted_lately(g, pr->slot, now))
		pr->end += 2ull * g->p.period_ms;
	send_ping(g, pr->slot, pr->seq, 0, now);
}

/* We suspect the member in slot ourselves: a new suspicion, or our confirmation of one. */
static void suspect(struct gossip *g, uint32_t slot, uint64_t now)
{
	struct gossip_node *n = &g->nodes[slot];
	uint32_t me = g->nodes[0].name_id;
	if (n->state == MIGR_NODE_SUSPECT) {
		if (susp_confirm(&g->susp[n->suspicion - 1], me))
			news_add(g, slot, 1, now);
	} else {
		susp_new(g, n, me, now);
		set_state(g, n, MIGR_NODE_SUSPECT);
		n->updated_at = now;
		news_add(g, slot, 1, now);
	}
	/* and tell it at once: alive, it refutes before the news gets far */
	send_ping(g, slot, 0, 0, now);
}

/* Judges the probe once acked or its window is over (at the tick that ends it, which a
 * daemon's timer may run a little early or late). */
static void probe_end(struct gossip *g, uint64_t now)
{
	struct gossip_probe *pr = &g->probe;
	if (!pr->slot || (!pr->acked && now + g->p.period_ms / 2 < pr->end))
		return;
	/* Lifeguard: helpers that did not even nack point at us, not at the member. A node
	 * that learns so (its health goes up) first gives this probe the longer window its
	 * new health calls for, as it would the next: a slow node's ack comes in the
	 * stretch. Accusing now instead is what a slow node in good health did to one
	 * healthy member each, once: a refutation every node must hear, in a cluster of
	 * thousands where the slow ones keep the news slots full (bench/gossip-sim --slow). */
	if (!pr->acked && !pr->stretched && pr->helpers && !pr->nacks && !g->p.no_health) {
		uint64_t start = pr->indirect_at - g->p.period_ms / 2;
		health_add(g, pr->helpers);
		pr->stretched = 1;
		if (start + (uint64_t)g->p.period_ms * (g->health + 1) > pr->end) {
			pr->end = start + (uint64_t)g->p.period_ms * (g->health + 1);
			return;
		}
	}
	uint32_t slot = pr->slot;
	pr->slot = 0;
	if (pr->acked) {
		/* only a probe that needed no extra wait says we are well again: a slow node
		 * whose acks come late keeps waiting for them, rather than accuse every
		 * member it probes once its score has run down */
		if (!pr->late)
			health_add(g, -1);
		return;
	}
	/* Lifeguard: helpers that did not even nack in time point at us, not at the member
	 * (a stretched probe has counted them already) */
	if (!pr->stretched)
		health_add(g, pr->helpers ? pr->helpers - pr->nacks : 1);
	const struct gossip_node *n = &g->nodes[slot];
	if (n->incarnation == pr->incarnation && is_live(n->state))
		suspect(g, slot, now);
}

/* No ack within half a period: ask a few members to try, and try once more ourselves. */
static void probe_indirect(struct gossip *g, uint64_t now)
{
	struct gossip_probe *pr = &g->probe;
	const struct gossip_node *target = &g->nodes[pr->slot];
	struct gossip_node *asked[INDIRECT];
	unsigned n = 0;
	pr->indirect = 1;
	for (int tries = 0; tries < 4 * INDIRECT && n < INDIRECT; tries++) {
		struct gossip_node *h = random_member(g, 1u << MIGR_NODE_ALIVE);
		int dup = !h || h == target;
		for (unsigned k = 0; k < n && !dup; k++)
			dup = asked[k] == h;
		if (dup)
			continue;
		asked[n++] = h;
		struct migr_gossip_msg m;
		struct build b;
		msg_start(g, &b, &m, MSG_GOSSIP_PING_REQ, now);
		m.seq = pr->seq;
		copy_str(m.target, sizeof(m.target), gossip_name(target));
		copy_str(m.at.addr, sizeof(m.at.addr), gossip_addr(target));
		m.at.port = target->port;
		carry(g, &b, 0, now);
		send_node(g, h, &m);
	}
	pr->helpers = (uint8_t)n;
	send_ping(g, pr->slot, pr->seq, 0, now);
}

/* ---- push-pull: whole tables, in parts ---- */

static int bit_get(const uint64_t *bits, uint32_t n, uint32_t i)
{
	return i < n && (bits[i / 64] >> (i % 64) & 1);
}

static void stream_start(struct gossip *g, struct gossip_stream *s, uint32_t peer, int pull)
{
	s->peer = peer;
	s->pull = (uint8_t)pull;
	s->total = g->count;
	s->first = g->count > 1 ? rnd(g, g->count - 1) : 0;
	s->sent = 0;
}

static const struct gossip_inbound *inbound_find(const struct gossip *g, uint32_t peer)
{
	for (int i = 0; i < GOSSIP_INBOUND; i++)
		if (g->inbound[i].peer == peer)
			return &g->inbound[i];
	return NULL;
}

/* Sends up to PP_PARTS parts of our table to the stream's member, the last marked, less
 * what the member has sent us meanwhile: an exchange's two tables cross, each side skipping
 * what the other holds as far as it knows. Parts of answers count against the period's
 * budget for answers, however many they are. */
static void stream_send(struct gossip *g, struct gossip_stream *s, uint64_t now)
{
	const struct gossip_node *to = lookup(g, s->peer);
	const struct gossip_inbound *in = inbound_find(g, s->peer);
	unsigned *budget = s == &g->streams[0] ? NULL : &g->answer_parts;
	if (!to) {
		s->peer = NONE;
		return;
	}
	for (unsigned k = 0; k < PP_PARTS && s->peer != NONE && (!budget || *budget); k++) {
		if (budget)
			(*budget)--;
		struct migr_gossip_msg m;
		struct build b;
		msg_start(g, &b, &m, MSG_GOSSIP_PUSH_PULL, now);
		/* from a random slot round the table, so that the tables a node gets at once
		 * from several members do not all start alike; slots are distinct: no need to
		 * look for duplicates. Nodes that join meanwhile are in the next one. */
		for (; s->sent + 1 < s->total && m.count < GOSSIP_MAX_ENTRIES; s->sent++) {
			uint32_t slot = 1 + (s->first + s->sent) % (s->total - 1);
			if (!in || !bit_get(in->has, in->bits, slot))
				entry_of(g, &g->nodes[slot], now, &m.entries[m.count++]);
		}
		if (s->sent + 1 >= s->total) {
			m.flags |= GOSSIP_PP_LAST;
			s->peer = NONE;
		}
		/* ask for theirs once they know the first of ours: a small table's answer is
		 * then exactly what we lack */
		if (s->pull && (m.flags & GOSSIP_PP_LAST || k == PP_PARTS - 1)) {
			m.flags |= GOSSIP_PP_PULL;
			s->pull = 0;
		}
		send_node(g, to, &m);
	}
}

/* What a member's table says it holds, for the answer it will ask for. */
static struct gossip_inbound *inbound_of(struct gossip *g, uint32_t peer, uint64_t now)
{
	struct gossip_inbound *in = NULL;
	for (int i = 0; i < GOSSIP_INBOUND; i++)
		if (g->inbound[i].peer == peer)
			in = &g->inbound[i];
	for (int i = 0; i < GOSSIP_INBOUND && !in; i++)
		if (g->inbound[i].peer == NONE)
			in = &g->inbound[i];
	if (!in) {
		in = &g->inbound[0];	/* the oldest gives way: its answer will be whole */
		for (int i = 1; i < GOSSIP_INBOUND; i++)
			if (g->inbound[i].at < in->at)
				in = &g->inbound[i];
	}
	if (in->peer != peer) {
		free(in->has);
		in->has = NULL;
		in->bits = 0;
		in->peer = peer;
	}
	in->at = now;
	return in;
}

static void inbound_mark(struct gossip_inbound *in, uint32_t slot)
{
	if (slot >= in->bits) {
		uint32_t bits = (slot / 64 + 1) * 64 * 2;
		in->has = xrealloc(in->has, bits / 8);
		memset((uint8_t *)in->has + in->bits / 8, 0, (bits - in->bits) / 8);
		in->bits = bits;
	}
	in->has[slot / 64] |= 1ull << (slot % 64);
}

/* Marks the nodes a member's part tells of that it holds as new as we do (after merging). */
static void inbound_part(struct gossip *g, const struct migr_gossip_msg *m,
			 const uint32_t *slots, uint64_t now)
{
	uint32_t peer = interned(m->entries[0].name);
	if (peer == UINT32_MAX)
		return;
	struct gossip_inbound *in = inbound_of(g, peer, now);
	for (uint16_t i = 0; i < m->count; i++) {
		const struct migr_gossip_entry *e = &m->entries[i];
		const struct gossip_node *n = slots[i] != NONE ? &g->nodes[slots[i]] : NULL;
		if (n && e->incarnation == n->incarnation && e->heartbeat >= n->heartbeat &&
		    e->status == wire_status(g, n))
			inbound_mark(in, slots[i]);
	}
}


/* A member sent us its table and wants ours: what it does not hold as new as we do. One
 * answer at a time; a busy node answers with a few entries, from a cursor that moves on,
 * so that many askers (a cluster starting at once through one seed) each learn a different
 * few and go on with each other, up to PP_BUSY askers a period: bytes stay bounded however
 * many ask. */
static void answer_pull(struct gossip *g, const struct migr_gossip_entry *from, uint64_t now)
{
	uint32_t peer = interned(from->name);
	if (peer == UINT32_MAX || !lookup(g, peer))
		return;
	for (int i = 1; i < GOSSIP_STREAMS; i++)
		if (g->streams[i].peer == peer)
			return;	/* it is getting it already */
	for (int i = 1; i < GOSSIP_STREAMS && g->answer_parts; i++) {
		struct gossip_stream *s = &g->streams[i];
		if (s->peer == NONE) {
			stream_start(g, s, peer, 0);
			stream_send(g, s, now);
			return;
		}
	}
	if (!g->busy_left)
		return;	/* it will ask again, or hear from those who got an answer */
	g->busy_left--;
	struct migr_gossip_msg m;
	struct build b;
	msg_start(g, &b, &m, MSG_GOSSIP_PUSH_PULL, now);
	m.flags = GOSSIP_PP_LAST | GOSSIP_PP_BUSY;
	for (uint32_t k = 1; k < g->count && m.count < 1 + BUSY_ENTRIES; k++) {
		g->busy_cursor = g->busy_cursor + 1 < g->count ? g->busy_cursor + 1 : 1;
		build_add(g, &b, g->busy_cursor, now);
	}
	send_to(g, from->addr, from->port, &m);
}

/* An exchange that taught us something: the next at once, we are still catching up. One
 * that did not: the next after 1, 2, 4... periods, up to the anti-entropy interval, as the
 * partner may have been as far behind as we are (a cluster starting all at once). */
static void exchange_done(struct gossip *g, uint64_t now)
{
	uint64_t iv = pp_interval(g);
	uint64_t wait = g->pp_fruitless < 32 ? (uint64_t)g->p.period_ms << g->pp_fruitless : iv;
	g->pp_peer = NONE;
	if (g->pp_learned) {
		g->pp_fruitless = 0;
		g->pp_next = now;
		return;
	}
	if (wait >= iv)
		wait = iv / 2 + rnd(g, (uint32_t)iv + 1);
	else
		g->pp_fruitless++;
	g->pp_next = now + wait;
}

/* Our own exchange: our table to a random member, and back what we lack of theirs. */
static void exchange(struct gossip *g, uint64_t now)
{
	if (g->pp_peer != NONE && now >= g->pp_deadline) {
		/* its answer got lost: that says nothing of what the others could teach us;
		 * another member next period, the wait after fruitless exchanges kept */
		if (g->pp_learned) {
			exchange_done(g, now);
		} else {
			g->pp_peer = NONE;
			g->pp_next = now + g->p.period_ms;
		}
	}
	if (g->joining && g->live) {
		/* in, whoever answered (a busy seed may not have): now exchanges with random
		 * members, while they teach us anything */
		g->joining = 0;
		g->pp_next = now;
		g->pp_fruitless = 0;
	}
	if (g->pp_next == UINT64_MAX && g->live) {
		/* in a cluster we did not join through a seed: no hurry, and not all at once */
		uint64_t iv = pp_interval(g);
		g->pp_next = now + rnd(g, (uint32_t)iv + 1);
	}
	if (g->pp_peer != NONE || g->streams[0].peer != NONE || now < g->pp_next)
		return;
	struct gossip_node *n = random_member(g, 1u << MIGR_NODE_ALIVE);
	if (!n)
		return;
	uint64_t parts = g->count / (GOSSIP_MAX_ENTRIES - 1) + 1;
	g->pp_peer = n->name_id;
	g->pp_learned = 0;
	g->pp_deadline = now + g->p.period_ms * (4 + 2 * parts / PP_PARTS);
	stream_start(g, &g->streams[0], n->name_id, 1);
	stream_send(g, &g->streams[0], now);
}

/* ---- public ---- */

void gossip_init(struct gossip *g, const struct gossip_params *p,
		 const struct gossip_transport *t, const char *name, const char *addr,
		 uint16_t port, uint64_t incarnation, uint64_t seed, uint64_t now)
{
	memset(g, 0, sizeof(*g));
	g->p = *p;
	if (g->p.window > GOSSIP_WINDOW_MAX)
		g->p.window = GOSSIP_WINDOW_MAX;
	if (g->p.fanout > 16)
		g->p.fanout = 16;
	g->t = *t;
	g->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
	g->seq = rnd32(g);
	g->pp_peer = NONE;
	for (int i = 0; i < GOSSIP_STREAMS; i++)
		g->streams[i].peer = NONE;
	for (int i = 0; i < GOSSIP_INBOUND; i++)
		g->inbound[i].peer = NONE;
	/* anti-entropy exchanges spread over time, not all in the same period */
	g->pp_next = UINT64_MAX;	/* the first exchange: see exchange() */
	g->busy_left = PP_BUSY;
	g->answer_parts = PP_PARTS;
	g->pp_fruitless = 63;		/* settled, until it joins through a seed */
	index_rebuild(g);
	struct gossip_node *self = add_node(g, intern(name));
	self->addr_id = intern(addr);
	self->port = port;
	self->incarnation = incarnation;
	self->state = MIGR_NODE_ALIVE;
	self->updated_at = self->changed_at = now;
}

void gossip_free(struct gossip *g)
{
	for (int i = 0; i < GOSSIP_INBOUND; i++)
		free(g->inbound[i].has);
	free(g->nodes);
	free(g->index);
	free(g->seeds);
	free(g->susp);
	memset(g, 0, sizeof(*g));
}

void gossip_add_seed(struct gossip *g, const char *addr, uint16_t port)
{
	g->seeds = xrealloc(g->seeds, (g->nseeds + 1) * sizeof(*g->seeds));
	struct migr_endpoint *s = &g->seeds[g->nseeds++];
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	s->port = port;
}

void gossip_set_vector(struct gossip *g, const struct migr_vector *v, uint64_t now)
{
	struct gossip_node *self = &g->nodes[0];
	struct migr_gossip_entry e;
	e.port = self->port;
	e.vec = *v;
	if (vector_news(self, &e, self->addr_id))
		self->changed_at = now;	/* our own entry heads every message anyway */
	self->vec = *v;
}

void gossip_poll(struct gossip *g, uint64_t now)
{
	struct gossip_probe *pr = &g->probe;
	if (g->nodes[0].status == GOSSIP_LEFT)
		return;
	if (pr->slot && !pr->acked && !pr->indirect && now >= pr->indirect_at)
		probe_indirect(g, now);
	for (int i = 0; i < GOSSIP_RELAYS; i++) {
		struct gossip_relay *r = &g->relays[i];
		if (r->seq && now >= r->nack_at) {
			r->seq = 0;
			send_ack(g, r->requester.addr, r->requester.port, NONE, NULL, NULL,
				 r->their_seq, GOSSIP_NACK, now);
		}
	}
}

uint64_t gossip_next_poll(const struct gossip *g)
{
	const struct gossip_probe *pr = &g->probe;
	uint64_t t = UINT64_MAX;
	if (pr->slot && !pr->acked && !pr->indirect)
		t = pr->indirect_at;
	for (int i = 0; i < GOSSIP_RELAYS; i++)
		if (g->relays[i].seq && g->relays[i].nack_at < t)
			t = g->relays[i].nack_at;
	return t;
}

void gossip_tick(struct gossip *g, uint64_t now)
{
	struct gossip_node *self = &g->nodes[0];
	self->heartbeat++;
	self->updated_at = now;
	g->busy_left = PP_BUSY;
	g->answer_parts = PP_PARTS;
	gossip_poll(g, now);

	/* the last probe, and suspicions that ran out of time */
	probe_end(g, now);
	for (uint32_t i = 0; i < g->nsusp;) {
		struct gossip_suspicion *s = &g->susp[i];
		uint64_t t = gossip_suspicion_ms(&g->p, g->live + 1, s->n - 1u);
		if (now < s->since + t) {
			/* Two periods before it is up, the suspect hears of it from us: alive,
			 * its ack tells us its incarnation, the refutation we may have missed
			 * (with many members suspected over and over, slow nodes in a cluster
			 * of thousands, a few in each thousand miss one, and news of the
			 * suspicion no longer goes round for the members that know better to
			 * correct us). A slow one has two periods to answer. */
			if (!s->called && now + 2ull * g->p.period_ms >= s->since + t) {
				s->called = 1;
				send_ping(g, s->slot, 0, 0, now);
			}
			i++;
			continue;
		}
		uint32_t slot = s->slot;
		set_state(g, &g->nodes[slot], MIGR_NODE_DEAD);	/* drops s: i is the next */
		g->nodes[slot].updated_at = now;
		news_add(g, slot, 1, now);
	}
	if (!g->probe.slot)
		probe_start(g, now);

	/* tables on their way, and our own exchange */
	for (int i = 0; i < GOSSIP_STREAMS; i++)
		if (g->streams[i].peer != NONE)
			stream_send(g, &g->streams[i], now);
	exchange(g, now);

	/* Alone: ask a seed for its table, a different one each period. */
	if (g->live == 0 && g->nseeds) {
		struct migr_gossip_msg m;
		struct build b;
		const struct migr_endpoint *s = &g->seeds[g->next_seed++ % g->nseeds];
		msg_start(g, &b, &m, MSG_GOSSIP_PUSH_PULL, now);
		m.flags = GOSSIP_PP_PULL | GOSSIP_PP_LAST;
		send_to(g, s->addr, s->port, &m);
		g->joining = 1;
	}

	/* news to fanout different members, who answer with theirs */
	struct gossip_node *sent[16];
	unsigned nsent = 0;
	for (unsigned k = 0; k < g->p.fanout && k < g->live; k++) {
		struct gossip_node *n = NULL;
		for (int tries = 0; tries < 8 && !n; tries++) {
			n = random_member(g, LIVE);
			for (unsigned s = 0; n && s < nsent; s++)
				if (sent[s] == n)
					n = NULL;
		}
		if (n) {
			sent[nsent++] = n;
			send_ping(g, (uint32_t)(n - g->nodes), 0, 1, now);
		}
	}
	/* Now and then a node we think dead hears so: back from a partition, it refutes. */
	if (rnd(g, HEAL_ODDS) == 0) {
		struct gossip_node *n = random_member(g, 1u << MIGR_NODE_DEAD);
		if (n)
			send_ping(g, (uint32_t)(n - g->nodes), 0, 0, now);
	}
}

/* Someone asks us to probe a member for them (ping-req): we ping it with a seq of ours, and
 * pass its ack on, or say we got none (Lifeguard's nack) before their probe ends. */
static void relay(struct gossip *g, const struct migr_gossip_msg *m, uint64_t now)
{
	struct gossip_relay *r = NULL;
	for (int i = 0; i < GOSSIP_RELAYS && !r; i++)
		if (!g->relays[i].seq)
			r = &g->relays[i];
	if (!r) {	/* all busy: the oldest gives way */
		r = &g->relays[0];
		for (int i = 1; i < GOSSIP_RELAYS; i++)
			if (g->relays[i].nack_at < r->nack_at)
				r = &g->relays[i];
	}
	r->seq = next_seq(g);
	r->their_seq = m->seq;
	copy_str(r->requester.addr, sizeof(r->requester.addr), m->entries[0].addr);
	r->requester.port = m->entries[0].port;
	r->nack_at = now + g->p.period_ms * 2 / 5;

	struct migr_gossip_msg p;
	struct build b;
	msg_start(g, &b, &p, MSG_GOSSIP_PING, now);
	p.seq = r->seq;
	copy_str(p.target, sizeof(p.target), m->target);
	carry(g, &b, 0, now);
	send_to(g, m->at.addr, m->at.port, &p);
}

static void ack_received(struct gossip *g, const struct migr_gossip_msg *m, uint64_t now)
{
	struct gossip_probe *pr = &g->probe;
	if (!m->seq)
		return;
	if (pr->slot && m->seq == pr->seq) {
		if (!(m->flags & GOSSIP_NACK) && !pr->acked) {
			pr->acked = 1;
			pr->late = now > pr->indirect_at + g->p.period_ms / 2;
		}
		else if (pr->nacks < 255)
			pr->nacks++;
		return;
	}
	for (int i = 0; i < GOSSIP_RELAYS; i++) {
		struct gossip_relay *r = &g->relays[i];
		if (r->seq && r->seq == m->seq && !(m->flags & GOSSIP_NACK)) {
			r->seq = 0;
			send_ack(g, r->requester.addr, r->requester.port, NONE, NULL, NULL,
				 r->their_seq, 0, now);
		}
	}
}

/* The sender of m told us a member (or we) was suspect or dead at an incarnation it has
 * since refuted: the sender missed the refutation, and will declare that member dead when
 * its timer runs out. Adds what we know of those members to b; 1 if there was any. */
static int add_stale(struct gossip *g, struct build *b, const struct migr_gossip_msg *m,
		     const uint32_t *slots, uint64_t now)
{
	int stale = 0;
	for (uint16_t i = 1; i < m->count; i++) {
		const struct migr_gossip_entry *e = &m->entries[i];
		if (e->status != GOSSIP_SUSPECT && e->status != GOSSIP_DEAD)
			continue;
		if (slots[i] != NONE) {
			if (g->nodes[slots[i]].incarnation > e->incarnation) {
				build_add(g, b, slots[i], now);
				stale = 1;
			}
		} else if (e->incarnation < g->nodes[0].incarnation &&
			   !strcmp(e->name, gossip_name(g->nodes))) {
			stale = 1;	/* about us: our own entry heads every message */
		}
	}
	return stale;
}

/* The sender hears such refutations from us at once: in our ack to its ping, or else in a
 * message of their own (an ack with no seq, which nothing answers). The refutation then
 * follows the suspicion wherever it is passed on, not only where the refutation's own
 * rumour happens to get in time: with members suspected over and over (slow nodes in a
 * cluster of thousands) their news crowds every message, and a few members in each
 * thousand heard a suspicion and not the refutation after it (bench/gossip-sim --slow
 * --trace-false). */
static void correct_stale(struct gossip *g, const struct migr_gossip_msg *m,
			  const uint32_t *slots, uint64_t now)
{
	struct migr_gossip_msg c;
	struct build b;
	msg_start(g, &b, &c, MSG_GOSSIP_ACK, now);
	if (add_stale(g, &b, m, slots, now))
		send_to(g, m->entries[0].addr, m->entries[0].port, &c);
}

void gossip_receive(struct gossip *g, const struct migr_gossip_msg *m, uint64_t now)
{
	if (m->count == 0)
		return;
	/* a table's bulk is not news; a rumour, or what a sender says of itself, is */
	int rumour = m->type != MSG_GOSSIP_PUSH_PULL;
	uint32_t learned = 0, slots[GOSSIP_MAX_ENTRIES];
	for (uint16_t i = 0; i < m->count; i++)
		learned += merge(g, &m->entries[i], rumour || i == 0, now, &slots[i]) != NULL;
	/* only now: merging may have grown (moved) the table */
	const struct gossip_node *self = &g->nodes[0];
	const struct migr_gossip_entry *from = &m->entries[0];
	if (self->status == GOSSIP_LEFT || !strcmp(from->name, gossip_name(self)))
		return;
	uint32_t sender = slot_of(g, from->name);
	/* a ping meant for us, not for whoever had this address before, gets an ack */
	int ack = m->type == MSG_GOSSIP_PING && !strcmp(m->target, gossip_name(self));
	if (!ack)
		correct_stale(g, m, slots, now);
	switch (m->type) {
	case MSG_GOSSIP_PING:
		if (ack)
			send_ack(g, from->addr, from->port, sender, m, slots, m->seq, 0, now);
		break;
	case MSG_GOSSIP_ACK:
		ack_received(g, m, now);
		break;
	case MSG_GOSSIP_PING_REQ:
		relay(g, m, now);
		break;
	case MSG_GOSSIP_PUSH_PULL:
		/* a part of its table: it holds what it sent us, and what we send it skips
		 * that; its answer to ours, or its own, to which it wants an answer */
		if (sender != NONE)
			inbound_part(g, m, slots, now);
		if (m->flags & GOSSIP_PP_PULL)
			answer_pull(g, from, now);
		if (sender != NONE && g->nodes[sender].name_id == g->pp_peer) {
			g->pp_learned += learned;
			if (m->flags & GOSSIP_PP_BUSY) {
				/* not an answer: another member, next period; no use
				 * sending the rest of ours to this one */
				g->pp_peer = NONE;
				g->pp_next = now;
				if (g->streams[0].peer == g->nodes[sender].name_id)
					g->streams[0].peer = NONE;
			} else if (m->flags & GOSSIP_PP_LAST) {
				exchange_done(g, now);
			}
		}
		break;
	}
}

void gossip_leave(struct gossip *g, uint64_t now)
{
	struct gossip_node *self = &g->nodes[0];
	self->status = GOSSIP_LEFT;
	self->state = MIGR_NODE_LEFT;
	self->heartbeat++;
	self->updated_at = self->changed_at = now;
	struct migr_gossip_msg m;
	struct build b;
	msg_start(g, &b, &m, MSG_GOSSIP_PUSH_PULL, now);
	for (uint32_t i = 1; i < g->count; i++)
		if (is_live(g->nodes[i].state))
			send_node(g, &g->nodes[i], &m);
}
