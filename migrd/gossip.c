/* gossip.c: membership, load dissemination and failure detection (see gossip.h). */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip.h"
#include "xmalloc.h"

/* ---- interned strings: names and addresses, shared by every gossip instance ---- */

static struct {
	char **str;
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
	}
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

/* Direct answers per period to nodes whose view of us is stale: bounded, so that a burst
 * of probes (everyone probing the seed they all joined through) costs little. A joiner is
 * always answered: that is one message per node that joins, and what makes a cold start
 * of a whole cluster through one seed take O(log N) periods rather than O(N). */
#define REPLIES 8

/* ---- the node table ---- */

static uint32_t rnd(struct gossip *g, uint32_t bound)
{
	g->rng ^= g->rng >> 12;	/* xorshift64* */
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return (uint32_t)(((g->rng * 2685821657736338717ull) >> 32) % bound);
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

uint32_t gossip_count_state(const struct gossip *g, int state)
{
	uint32_t c = 0;
	for (uint32_t i = 0; i < g->count; i++)
		c += g->nodes[i].state == state;
	return c;
}

static void ring_push(uint32_t *ring, uint32_t *head, uint32_t slot)
{
	ring[*head % GOSSIP_RING] = slot;
	(*head)++;
}

static void set_state(struct gossip *g, struct gossip_node *n, int state)
{
	int old = n->state;
	if (old == state)
		return;
	n->state = (uint8_t)state;
	if (g->t.state_changed)
		g->t.state_changed(g->t.ctx, n, old);
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
	g->t = *t;
	g->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
	g->replies_left = REPLIES;
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
	free(g->nodes);
	free(g->index);
	free(g->seeds);
	memset(g, 0, sizeof(*g));
}

void gossip_add_seed(struct gossip *g, const char *addr, uint16_t port)
{
	g->seeds = xrealloc(g->seeds, (g->nseeds + 1) * sizeof(*g->seeds));
	struct migr_endpoint *s = &g->seeds[g->nseeds++];
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	s->port = port;
}

/* Content that is news: a change others should hear of soon, not jitter. */
static int is_news(const struct gossip_node *n, const struct migr_gossip_entry *e,
		   uint32_t addr_id)
{
	const struct migr_vector *a = &n->vec, *b = &e->vec;
	uint32_t dl = a->load_milli > b->load_milli ? a->load_milli - b->load_milli
						    : b->load_milli - a->load_milli;
	uint64_t dm = a->mem_free_kb > b->mem_free_kb ? a->mem_free_kb - b->mem_free_kb
						      : b->mem_free_kb - a->mem_free_kb;
	return n->incarnation != e->incarnation || n->status != e->status ||
	       n->addr_id != addr_id || n->port != e->port || a->jobs != b->jobs ||
	       a->cpus_milli != b->cpus_milli || dl >= 100 || dm * 16 > a->mem_free_kb;
}

static void entry_of(const struct gossip_node *n, uint64_t now, struct migr_gossip_entry *e)
{
	snprintf(e->name, sizeof(e->name), "%s", gossip_name(n));
	snprintf(e->addr, sizeof(e->addr), "%s", gossip_addr(n));
	e->port = n->port;
	e->status = n->status;
	e->incarnation = n->incarnation;
	e->heartbeat = n->heartbeat;
	e->age_ms = now > n->updated_at ? (uint32_t)(now - n->updated_at) : 0;
	e->vec = n->vec;
}

static int window_has(const struct migr_gossip_msg *m, const uint32_t *slots, uint32_t slot)
{
	for (uint16_t i = 0; i < m->count; i++)
		if (slots[i] == slot)
			return 1;
	return 0;
}

/* How long a change counts as news to pass on: long enough for a rumour to reach every
 * node (O(log N) periods), short enough that old news does not crowd out new. */
static uint64_t news_ttl(const struct gossip *g)
{
	unsigned log2n = 0;
	while ((1u << log2n) < g->count)
		log2n++;
	return (uint64_t)g->p.period_ms * (4 + 2 * log2n);
}

/* Fills from a ring, newest first, up to limit entries in all. */
static void window_fill(const struct gossip *g, struct migr_gossip_msg *m, uint32_t *slots,
			const uint32_t *ring, uint32_t head, unsigned limit, int news, uint64_t now)
{
	for (uint32_t k = 0; k < GOSSIP_RING && k < head && m->count < limit; k++) {
		uint32_t slot = ring[(head - 1 - k) % GOSSIP_RING];
		const struct gossip_node *n = &g->nodes[slot];
		if (slot == 0 || (n->state == MIGR_NODE_DEAD) || window_has(m, slots, slot))
			continue;
		if (news && now - n->changed_at > news_ttl(g))
			break;	/* the ring is newest first: the rest is older still */
		slots[m->count] = slot;
		entry_of(n, now, &m->entries[m->count++]);
	}
}

/* Fills with the heartbeats heard most recently (the smallest age first): a heartbeat is
 * passed on while it is among the freshest a node knows, which spreads it like a rumour. */
static void fill_freshest(const struct gossip *g, struct migr_gossip_msg *m, uint32_t *slots,
			  unsigned limit, uint64_t now)
{
	uint32_t cand[GOSSIP_RING];
	unsigned n = 0;
	for (uint32_t k = 0; k < GOSSIP_RING && k < g->fresh_head; k++) {
		uint32_t slot = g->fresh[(g->fresh_head - 1 - k) % GOSSIP_RING];
		const struct gossip_node *nd = &g->nodes[slot];
		int dup = slot == 0 || nd->state == MIGR_NODE_DEAD || window_has(m, slots, slot);
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
	for (unsigned c = 0; c < n && m->count < limit; c++) {
		slots[m->count] = cand[c];
		entry_of(&g->nodes[cand[c]], now, &m->entries[m->count++]);
	}
}

static void build_message(struct gossip *g, struct migr_gossip_msg *m, uint64_t now)
{
	uint32_t slots[GOSSIP_MAX_ENTRIES];
	m->count = 0;
	slots[m->count] = 0;
	entry_of(&g->nodes[0], now, &m->entries[m->count++]);
	unsigned total = 1 + g->p.window;
	/* up to half news, a quarter the heartbeats heard last, the rest round-robin over
	 * the whole table, so that every node's state keeps being passed on */
	window_fill(g, m, slots, g->news, g->news_head, 1 + (g->p.window + 1) / 2, 1, now);
	fill_freshest(g, m, slots, 1 + (3 * g->p.window + 3) / 4, now);
	for (uint32_t tries = 1; tries < g->count && m->count < total; tries++) {
		g->cursor = g->cursor + 1 < g->count ? g->cursor + 1 : 1;
		const struct gossip_node *n = &g->nodes[g->cursor];
		if (n->state == MIGR_NODE_DEAD || window_has(m, slots, g->cursor))
			continue;
		slots[m->count] = g->cursor;
		entry_of(n, now, &m->entries[m->count++]);
	}
}

static void send_to(struct gossip *g, const char *addr, uint16_t port,
		    const struct migr_gossip_msg *m)
{
	/* bytes as encoded, without framing and encryption overhead */
	struct mw w;
	mw_init(&w);
	migr_gossip_encode(&w, m);
	g->sent_bytes += w.len;
	mw_free(&w);
	g->t.send(g->t.ctx, addr, port, m);
}

static void send_node(struct gossip *g, const struct gossip_node *n,
		      const struct migr_gossip_msg *m)
{
	send_to(g, gossip_addr(n), n->port, m);
}

/* A random peer that may be alive, or NULL. Sampling keeps this O(1) for large tables. */
static struct gossip_node *random_peer(struct gossip *g, int allow_dead)
{
	if (g->count < 2)
		return NULL;
	for (int tries = 0; tries < 32; tries++) {
		struct gossip_node *n = &g->nodes[1 + rnd(g, g->count - 1)];
		if (n->status == GOSSIP_LEFT)
			continue;
		if (allow_dead || n->state != MIGR_NODE_DEAD)
			return n;
	}
	return NULL;
}

void gossip_set_vector(struct gossip *g, const struct migr_vector *v, uint64_t now)
{
	struct gossip_node *self = &g->nodes[0];
	struct migr_gossip_entry e;
	entry_of(self, now, &e);
	e.vec = *v;
	if (is_news(self, &e, self->addr_id)) {
		self->changed_at = now;
		ring_push(g->news, &g->news_head, 0);
	}
	self->vec = *v;
}

/* The timeouts as configured, stretched for a cluster too large for every heartbeat to get
 * round in time: a node hears of about fanout * window others per period, so news of all
 * N-1 takes at least (N-1) / (fanout * window) periods, and with random choice a few times
 * that. Messages stay bounded; detection slows down as O(N), never a false death. */
uint64_t gossip_suspect_ms(const struct gossip_params *p, uint32_t others)
{
	uint64_t per_period = (uint64_t)p->fanout * (p->window ? p->window : 1);
	uint64_t scaled = (uint64_t)p->period_ms * 4 * others / per_period;
	return scaled > p->suspect_ms ? scaled : p->suspect_ms;
}

uint64_t gossip_dead_ms(const struct gossip_params *p, uint32_t others)
{
	return gossip_suspect_ms(p, others) + (p->dead_ms - p->suspect_ms);
}

static uint64_t suspect_after(const struct gossip *g)
{
	return gossip_suspect_ms(&g->p, g->others);
}

static uint64_t dead_after(const struct gossip *g)
{
	return gossip_dead_ms(&g->p, g->others);
}

/* Sends m to n with n's own entry in it (in place of the last window entry if full), so
 * that n sees how stale our view of it is and answers at once (see refute). */
static void probe(struct gossip *g, const struct gossip_node *n, const struct migr_gossip_msg *m,
		  uint64_t now)
{
	struct migr_gossip_msg p = *m;
	int has = 0;
	for (uint16_t i = 1; i < p.count; i++)
		has |= !strcmp(p.entries[i].name, gossip_name(n));
	if (!has) {
		uint16_t at = p.count < 1 + g->p.window ? p.count++ : (uint16_t)(p.count - 1);
		if (at == 0)
			return;	/* a window of 0: nothing to probe with */
		entry_of(n, now, &p.entries[at]);
	}
	send_node(g, n, &p);
}

void gossip_tick(struct gossip *g, uint64_t now)
{
	struct gossip_node *self = &g->nodes[0];
	self->heartbeat++;
	self->updated_at = now;
	g->replies_left = REPLIES;

	/* Nodes quiet for half the suspect timeout are probed directly, the quietest first, a
	 * few per period: a live node answers at once, so only one that does not becomes
	 * suspect, however thinly gossip happened to spread its heartbeat. */
	enum { PROBES = 2 };
	uint64_t suspect_ms = suspect_after(g), dead_ms = dead_after(g);
	uint32_t quiet[PROBES] = { 0 };
	uint64_t quiet_for[PROBES] = { 0 };
	uint32_t live = 0, known = 0;
	for (uint32_t i = 1; i < g->count; i++) {
		struct gossip_node *n = &g->nodes[i];
		if (n->status == GOSSIP_LEFT)
			continue;
		known++;
		uint64_t silent = now > n->updated_at ? now - n->updated_at : 0;
		int state = silent >= dead_ms	 ? MIGR_NODE_DEAD
			    : silent >= suspect_ms ? MIGR_NODE_SUSPECT
						   : MIGR_NODE_ALIVE;
		set_state(g, n, state);
		live += state != MIGR_NODE_DEAD;
		if (state != MIGR_NODE_DEAD && silent >= suspect_ms / 2) {
			for (int k = 0; k < PROBES; k++)
				if (silent > quiet_for[k]) {
					for (int j = PROBES - 1; j > k; j--) {
						quiet[j] = quiet[j - 1];
						quiet_for[j] = quiet_for[j - 1];
					}
					quiet[k] = i;
					quiet_for[k] = silent;
					break;
				}
		}
	}

	g->others = known;
	struct migr_gossip_msg m;
	build_message(g, &m, now);
	for (int k = 0; k < PROBES; k++)
		if (quiet[k])
			probe(g, &g->nodes[quiet[k]], &m, now);
	/* Alone: knock on every seed, so a node joins through any of them. */
	if (live == 0)
		for (uint32_t i = 0; i < g->nseeds; i++)
			send_to(g, g->seeds[i].addr, g->seeds[i].port, &m);
	/* fanout different peers (as far as there are that many) */
	struct gossip_node *sent[16];
	unsigned nsent = 0;
	for (unsigned k = 0; k < g->p.fanout && k < live && nsent < 16; k++) {
		struct gossip_node *n = NULL;
		for (int tries = 0; tries < 8 && !n; tries++) {
			n = random_peer(g, 0);
			for (unsigned s = 0; n && s < nsent; s++)
				if (sent[s] == n)
					n = NULL;
		}
		if (n) {
			send_node(g, n, &m);
			sent[nsent++] = n;
		}
	}
	/* Now and then try a dead node: a healed partition joins up again. */
	if (rnd(g, 8) == 0) {
		struct gossip_node *n = random_peer(g, 1);
		if (n && n->state == MIGR_NODE_DEAD)
			send_node(g, n, &m);
	}
}

/* Merges one entry; returns the node if it was unknown or not alive before. */
static struct gossip_node *merge(struct gossip *g, const struct migr_gossip_entry *e,
				 uint64_t now)
{
	if (g->count >= GOSSIP_NODES_MAX) {
		/* full: news of known nodes only, so the table and its strings stay bounded */
		uint32_t id = interned(e->name);
		if (id == UINT32_MAX || !lookup(g, id))
			return NULL;
	}
	uint32_t name_id = intern(e->name);
	if (name_id == g->nodes[0].name_id)
		return NULL;	/* nobody knows better than we do about ourselves */
	uint32_t addr_id = intern(e->addr);
	struct gossip_node *n = lookup(g, name_id);
	int fresh_node = !n;
	if (!n) {
		n = add_node(g, name_id);
		n->state = MIGR_NODE_DEAD;	/* until its news is judged below */
		n->status = GOSSIP_ALIVE;
	} else if (e->incarnation < n->incarnation ||
		   (e->incarnation == n->incarnation && e->heartbeat <= n->heartbeat)) {
		return NULL;	/* not newer than what we have */
	}
	uint64_t heard = now > e->age_ms ? now - e->age_ms : 0;
	if (fresh_node || is_news(n, e, addr_id)) {
		n->changed_at = now;
		ring_push(g->news, &g->news_head, (uint32_t)(n - g->nodes));
	}
	int was = n->state;
	n->addr_id = addr_id;
	n->port = e->port;
	n->status = e->status;
	n->incarnation = e->incarnation;
	n->heartbeat = e->heartbeat;
	n->vec = e->vec;
	if (heard > n->updated_at || fresh_node) {
		n->updated_at = heard;
		/* fresher than anything we had: worth passing on soon */
		ring_push(g->fresh, &g->fresh_head, (uint32_t)(n - g->nodes));
	}

	uint64_t silent = now - n->updated_at;
	int state = n->status == GOSSIP_LEFT	    ? MIGR_NODE_LEFT
		    : silent >= dead_after(g)	    ? MIGR_NODE_DEAD
		    : silent >= suspect_after(g) ? MIGR_NODE_SUSPECT
						    : MIGR_NODE_ALIVE;
	if (fresh_node)
		n->state = GOSSIP_STATE_NEW;	/* report a join as a change from nothing */
	set_state(g, n, state);
	return (was != MIGR_NODE_ALIVE && state == MIGR_NODE_ALIVE) ? n : NULL;
}

/* The sender's entry about us is well behind: it is about to suspect us (or probes us).
 * Answer it directly, a few times per period at most. */
static void refute(struct gossip *g, const struct migr_gossip_msg *m, uint64_t now)
{
	const struct gossip_node *self = &g->nodes[0];
	uint64_t behind = suspect_after(g) / 2 / (g->p.period_ms ? g->p.period_ms : 1);
	if (m->count < 2 || !g->replies_left || self->status == GOSSIP_LEFT)
		return;
	for (uint16_t i = 1; i < m->count; i++) {
		const struct migr_gossip_entry *e = &m->entries[i];
		if (strcmp(e->name, gossip_name(self)) || e->incarnation != self->incarnation ||
		    e->heartbeat + behind > self->heartbeat)
			continue;
		const struct gossip_node *sender = gossip_find(g, m->entries[0].name);
		if (!sender || sender == self)
			return;
		struct migr_gossip_msg reply;
		build_message(g, &reply, now);
		send_node(g, sender, &reply);
		g->replies_left--;
		return;
	}
}

void gossip_receive(struct gossip *g, const struct migr_gossip_msg *m, uint64_t now)
{
	/* a slot, not a pointer: merging the rest may grow (move) the table */
	uint32_t sender_new = 0;
	for (uint16_t i = 0; i < m->count; i++) {
		struct gossip_node *n = merge(g, &m->entries[i], now);
		if (i == 0 && n)
			sender_new = (uint32_t)(n - g->nodes);
	}
	/* A sender we did not count as alive (it joined or came back) gets our view at once,
	 * so a joining node learns the cluster in one round trip. */
	if (sender_new) {
		struct migr_gossip_msg reply;
		build_message(g, &reply, now);
		send_node(g, &g->nodes[sender_new], &reply);
	} else {
		refute(g, m, now);
	}
}

void gossip_leave(struct gossip *g, uint64_t now)
{
	struct gossip_node *self = &g->nodes[0];
	self->status = GOSSIP_LEFT;
	self->state = MIGR_NODE_LEFT;
	self->heartbeat++;
	self->updated_at = self->changed_at = now;
	ring_push(g->news, &g->news_head, 0);
	struct migr_gossip_msg m;
	build_message(g, &m, now);
	for (uint32_t i = 1; i < g->count; i++)
		if (g->nodes[i].state != MIGR_NODE_DEAD && g->nodes[i].status != GOSSIP_LEFT)
			send_node(g, &g->nodes[i], &m);
}
