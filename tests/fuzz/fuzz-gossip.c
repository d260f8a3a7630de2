/* fuzz-gossip.c: libFuzzer harness for the gossip module (migrd/gossip.c): one node's table
 * gets decoded peer messages of every gossip kind, ticks, polls and a moving clock, and must
 * stay consistent; everything it sends must decode. A GOP_RECEIVE record is a kind selector
 * byte (an index into gossip_kinds[]) and the payload. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proto.h"

/* The whole file, not its object: its string pool is static, and each input must start
 * from an empty one, or a crash could depend on every input that came before it. */
#include "gossip.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEEDS_MAX 8

static struct gossip g;
static struct migr_gossip_msg msg, sent;	/* 64 entries each: not on the stack */
static uint64_t now;

static const uint8_t gossip_kinds[] = {
	MSG_GOSSIP, MSG_GOSSIP_PING, MSG_GOSSIP_ACK, MSG_GOSSIP_PING_REQ, MSG_GOSSIP_PUSH_PULL,
};

static void pool_reset(void)
{
	for (uint32_t i = 0; i < pool.count; i++)
		free(pool.str[i]);
	free(pool.str);
	free(pool.len);
	free(pool.index);
	memset(&pool, 0, sizeof(pool));
}

/* Whatever gossip sends goes on the wire: it must be a message the receiver accepts. */
static void on_send(void *ctx, const char *addr, uint16_t port, const struct migr_gossip_msg *m)
{
	struct mw w;
	FUZZ_CHECK(addr && strlen(addr) <= MIGR_ADDR_MAX);
	FUZZ_CHECK(migr_gossip_type(m->type) && m->type != MSG_GOSSIP);
	FUZZ_CHECK(m->count >= 1 && m->count <= GOSSIP_MAX_ENTRIES);
	/* news is bounded apart from the window: a suspect told first, membership news, and
	 * the window; only tables come in full parts */
	if (m->type != MSG_GOSSIP_PUSH_PULL)
		FUZZ_CHECK(m->count <= 2 + NEWS_PER_MSG + g.p.window);
	FUZZ_CHECK(!strcmp(m->entries[0].name, GOSSIP_SELF_NAME));
	for (uint16_t i = 0; i < m->count; i++)
		for (uint16_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(m->entries[i].name, m->entries[j].name) != 0);
	mw_init(&w);
	migr_gossip_encode(&w, m);
	FUZZ_CHECK(w.len == migr_gossip_size(m));
	uint8_t *c = fuzz_copy(w.buf, w.len);
	FUZZ_CHECK(migr_gossip_decode_type(m->type, c, w.len, &sent) == 0 &&
		   sent.count == m->count);
	free(c);
	mw_free(&w);
}

static void on_state(void *ctx, const struct gossip_node *n, int old)
{
	FUZZ_CHECK(n != &g.nodes[0]);	/* nobody tells us our own state */
	FUZZ_CHECK(n->state <= MIGR_NODE_LEFT && n->state != old);
	FUZZ_CHECK(old <= MIGR_NODE_LEFT || old == GOSSIP_STATE_NEW);
}

/* The table after every step: one slot per name, found through the index; a suspicion
 * for every suspect and none for the others; the counts and bounds the module keeps. */
static void check_table(void)
{
	uint32_t live = 0;
	FUZZ_CHECK(g.count >= 1 && g.count * 2 <= g.index_cap);
	FUZZ_CHECK(gossip_find(&g, GOSSIP_SELF_NAME) == &g.nodes[0]);
	for (uint32_t i = 0; i < g.count; i++) {
		const struct gossip_node *n = &g.nodes[i];
		FUZZ_CHECK(lookup(&g, n->name_id) == n);
		FUZZ_CHECK(migr_name_valid(gossip_name(n)));
		FUZZ_CHECK(strlen(gossip_addr(n)) <= MIGR_ADDR_MAX);
		FUZZ_CHECK(n->state <= MIGR_NODE_LEFT && n->status <= GOSSIP_LEFT);
		FUZZ_CHECK(n->updated_at <= now && n->changed_at <= now);
		FUZZ_CHECK((n->state == MIGR_NODE_SUSPECT) == (n->suspicion != 0));
		if (n->suspicion)
			FUZZ_CHECK(n->suspicion <= g.nsusp && g.susp[n->suspicion - 1].slot == i);
		live += i > 0 && is_live(n->state);
	}
	for (uint32_t i = 0; i < g.nsusp; i++) {
		FUZZ_CHECK(g.susp[i].slot < g.count && g.susp[i].n >= 1);
		FUZZ_CHECK(g.susp[i].n <= GOSSIP_CONFIRM + 1 && g.susp[i].since <= now);
	}
	FUZZ_CHECK(live == g.live);
	FUZZ_CHECK(g.health < HEALTH_MAX && g.nnews <= GOSSIP_NEWS);
	for (uint32_t i = 0; i < g.nnews; i++)
		FUZZ_CHECK(g.news[i].slot > 0 && g.news[i].slot < g.count);
	FUZZ_CHECK(g.probe.slot < g.count);
	for (int i = 0; i < GOSSIP_STREAMS; i++)
		FUZZ_CHECK(g.streams[i].peer == NONE || (g.streams[i].total <= g.count &&
							 g.streams[i].sent < g.streams[i].total));
}

static void set_vector(const uint8_t *p, size_t n)
{
	struct migr_vector v = { 0 };
	struct mr r;
	mr_init(&r, p, n);	/* short: the rest reads as 0 */
	v.load_milli = mr_u32(&r);
	v.cpus_milli = mr_u32(&r);
	v.mem_free_kb = mr_u64(&r);
	v.jobs = mr_u32(&r);
	v.cpu_features = mr_u64(&r);
	v.admin = mr_u8(&r) & 1;	/* migrd only ever sets active or drained */
	gossip_set_vector(&g, &v, now);
}

static void add_seed(const uint8_t *p, size_t n)
{
	char addr[MIGR_ADDR_MAX + 1];
	if (g.nseeds >= SEEDS_MAX || n < 2)
		return;
	size_t len = n - 2 < MIGR_ADDR_MAX ? n - 2 : MIGR_ADDR_MAX;
	memcpy(addr, p + 2, len);
	addr[len] = '\0';
	gossip_add_seed(&g, addr, (uint16_t)(p[0] | p[1] << 8));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gossip_transport t = { on_send, on_state, NULL };
	struct gossip_params p;
	struct fin f;
	uint8_t *rec;
	size_t n;
	int left = 0;

	if (size < GOSSIP_PARAM_BYTES)
		return 0;
	memset(&p, 0, sizeof(p));
	fuzz_gossip_params(data, &p);
	fin_init(&f, data + GOSSIP_PARAM_BYTES, size - GOSSIP_PARAM_BYTES);
	now = GOSSIP_T0;
	gossip_init(&g, &p, &t, GOSSIP_SELF_NAME, GOSSIP_SELF_ADDR, GOSSIP_SELF_PORT,
		    GOSSIP_SELF_INCARNATION, 1, now);
	for (;;) {
		uint8_t op = fin_u8(&f);
		if (!(rec = fin_record(&f, &n)))
			break;
		now += (uint64_t)(op >> 3) * GOSSIP_STEP_MS;
		switch ((op & 7) % GOP_COUNT) {
		case GOP_RECEIVE:
			/* as migrd: a node that left neither listens nor ticks */
			if (!left && n >= 1 &&
			    migr_gossip_decode_type(gossip_kinds[rec[0] % sizeof(gossip_kinds)],
						    rec + 1, n - 1, &msg) == 0)
				gossip_receive(&g, &msg, now);
			break;
		case GOP_TICK:
			if (!left)
				gossip_tick(&g, now);
			break;
		case GOP_VECTOR:
			if (!left)
				set_vector(rec, n);
			break;
		case GOP_LEAVE:
			if (!left)
				gossip_leave(&g, now);
			left = 1;
			break;
		case GOP_SEED:
			add_seed(rec, n);
			break;
		case GOP_WAIT: {
			/* and what fell due meanwhile: ping-reqs, nacks (migrd's timer) */
			struct mr r;
			mr_init(&r, rec, n);
			now += mr_u32(&r);
			if (!left && gossip_next_poll(&g) <= now)
				gossip_poll(&g, now);
			break;
		}
		}
		free(rec);
		check_table();
	}
	gossip_free(&g);
	pool_reset();
	return 0;
}
