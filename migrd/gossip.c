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

/* Fills from a ring, newest first, up to limit entries in all. */
static void window_fill(const struct gossip *g, struct migr_gossip_msg *m, uint32_t *slots,
			const uint32_t *ring, uint32_t head, unsigned limit, uint64_t now)
{
	for (uint32_t k = 0; k < GOSSIP_RING && k < head && m->count < limit; k++) {
		uint32_t slot = ring[(head - 1 - k) % GOSSIP_RING];
		const struct gossip_node *n = &g->nodes[slot];
		if (slot == 0 || (n->state == MIGR_NODE_DEAD) || window_has(m, slots, slot))
			continue;
		slots[m->count] = slot;
		entry_of(n, now, &m->entries[m->count++]);
	}
}

static void build_message(struct gossip *g, struct migr_gossip_msg *m, uint64_t now)
{
	uint32_t slots[GOSSIP_MAX_ENTRIES];
	m->count = 0;
	slots[m->count] = 0;
	entry_of(&g->nodes[0], now, &m->entries[m->count++]);
	unsigned total = 1 + g->p.window;
	window_fill(g, m, slots, g->news, g->news_head, 1 + (g->p.window + 1) / 2, now);
	window_fill(g, m, slots, g->fresh, g->fresh_head, total, now);
	window_fill(g, m, slots, g->news, g->news_head, total, now);
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

void gossip_tick(struct gossip *g, uint64_t now)
{
	struct gossip_node *self = &g->nodes[0];
	self->heartbeat++;
	self->updated_at = now;

	uint32_t live = 0;
	for (uint32_t i = 1; i < g->count; i++) {
		struct gossip_node *n = &g->nodes[i];
		if (n->status == GOSSIP_LEFT)
			continue;
		uint64_t silent = now > n->updated_at ? now - n->updated_at : 0;
		int state = silent >= g->p.dead_ms	  ? MIGR_NODE_DEAD
			    : silent >= g->p.suspect_ms ? MIGR_NODE_SUSPECT
							: MIGR_NODE_ALIVE;
		set_state(g, n, state);
		live += state != MIGR_NODE_DEAD;
	}

	struct migr_gossip_msg m;
	build_message(g, &m, now);
	/* Alone: knock on every seed, so a node joins through any of them. */
	if (live == 0)
		for (uint32_t i = 0; i < g->nseeds; i++)
			send_to(g, g->seeds[i].addr, g->seeds[i].port, &m);
	for (unsigned k = 0; k < g->p.fanout && live; k++) {
		struct gossip_node *n = random_peer(g, 0);
		if (n)
			send_node(g, n, &m);
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
	if (heard > n->updated_at || fresh_node)
		n->updated_at = heard;
	ring_push(g->fresh, &g->fresh_head, (uint32_t)(n - g->nodes));

	uint64_t silent = now - n->updated_at;
	int state = n->status == GOSSIP_LEFT	    ? MIGR_NODE_LEFT
		    : silent >= g->p.dead_ms	    ? MIGR_NODE_DEAD
		    : silent >= g->p.suspect_ms ? MIGR_NODE_SUSPECT
						    : MIGR_NODE_ALIVE;
	if (fresh_node)
		n->state = GOSSIP_STATE_NEW;	/* report a join as a change from nothing */
	set_state(g, n, state);
	return (was != MIGR_NODE_ALIVE && state == MIGR_NODE_ALIVE) ? n : NULL;
}

void gossip_receive(struct gossip *g, const struct migr_gossip_msg *m, uint64_t now)
{
	struct gossip_node *sender_new = NULL;
	for (uint16_t i = 0; i < m->count; i++) {
		struct gossip_node *n = merge(g, &m->entries[i], now);
		if (i == 0)
			sender_new = n;
	}
	/* A sender we did not count as alive (it joined or came back) gets our view at once,
	 * so a joining node learns the cluster in one round trip. */
	if (sender_new) {
		struct migr_gossip_msg reply;
		build_message(g, &reply, now);
		send_node(g, sender_new, &reply);
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
