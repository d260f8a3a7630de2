/* gossip.h: cluster membership, load dissemination and failure detection, MOSIX-style.
 *
 * Every period a node bumps its heartbeat and sends its own load vector plus a window of the
 * vectors it knows to a few different random peers. Up to half the window carries recent
 * news (vectors whose content changed, nodes that joined or left, for O(log N) periods), a
 * quarter the freshest heartbeats it heard, the rest a round-robin over its whole table,
 * so a change spreads like a rumour in O(log N) periods while message size stays bounded.
 * A node not heard of for half the suspect timeout is probed directly (a few per period)
 * and answers at once; one not heard of for suspect_ms is suspect, for dead_ms dead. In a
 * cluster too large for every heartbeat to get round within those (N-1 > fanout * window
 * * suspect periods / 4), both stretch in proportion to N: bounded bytes per node, never a
 * false death. A restarted node comes back with a higher incarnation.
 *
 * This module does no I/O and reads no clock: the caller passes the time (ms, any
 * monotonic origin) and a transport. The daemon and bench/gossip-sim drive the same code. */
#ifndef MIGR_GOSSIP_H
#define MIGR_GOSSIP_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct gossip_params {
	unsigned period_ms;
	unsigned fanout;	/* peers sent to per period */
	unsigned window;	/* vectors of others per message (<= GOSSIP_WINDOW_MAX) */
	unsigned suspect_ms;
	unsigned dead_ms;
};

/* What a node knows of one node. Names and addresses are interned (one copy per process,
 * however many simulated nodes share them), which keeps a 10,000-node simulation in memory. */
struct gossip_node {
	uint32_t name_id;
	uint32_t addr_id;
	uint16_t port;
	uint8_t status;		/* GOSSIP_ALIVE or GOSSIP_LEFT, as the node itself said */
	uint8_t state;		/* enum migr_node_state, as this node judges it */
	uint64_t incarnation;
	uint64_t heartbeat;
	struct migr_vector vec;
	uint64_t updated_at;	/* when its heartbeat last advanced (local clock) */
	uint64_t changed_at;	/* when its content last changed: news */
};

/* The old state passed to state_changed for a node just learned of. */
#define GOSSIP_STATE_NEW 255

struct gossip_transport {
	/* Sends m to the node at addr:port. Best effort: gossip tolerates loss. */
	void (*send)(void *ctx, const char *addr, uint16_t port, const struct migr_gossip_msg *m);
	/* A node changed state (joined, suspect, dead, alive again, left). May be NULL. */
	void (*state_changed)(void *ctx, const struct gossip_node *node, int old_state);
	void *ctx;
};

#define GOSSIP_NODES_MAX 65536	/* nodes a table holds; news of others is ignored */
#define GOSSIP_RING 64	/* recent news and heartbeats remembered for the window */

struct gossip {
	struct gossip_params p;
	struct gossip_transport t;
	struct gossip_node *nodes;	/* nodes[0] is this node */
	uint32_t count, cap;
	uint32_t *index;		/* open-addressing hash: name_id -> nodes slot + 1 */
	uint32_t index_cap;
	struct migr_endpoint *seeds;
	uint32_t nseeds;
	uint32_t news[GOSSIP_RING], fresh[GOSSIP_RING];	/* rings of node slots */
	uint32_t news_head, fresh_head;
	uint32_t cursor;		/* round-robin over the table for the rest of the window */
	unsigned replies_left;		/* direct answers to stale views of us, per period */
	uint32_t others;		/* nodes known and not gone (left) at the last tick: sizes
					 * the timeouts; a dead node counts, as it may only be slow */
	uint64_t rng;
	uint64_t sent_bytes;		/* encoded bytes sent, for the benchmark */
};

void gossip_init(struct gossip *g, const struct gossip_params *p,
		 const struct gossip_transport *t, const char *name, const char *addr,
		 uint16_t port, uint64_t incarnation, uint64_t seed, uint64_t now);
void gossip_free(struct gossip *g);
void gossip_add_seed(struct gossip *g, const char *addr, uint16_t port);

/* Sets this node's own load vector. */
void gossip_set_vector(struct gossip *g, const struct migr_vector *v, uint64_t now);
/* One period: heartbeat, failure detection, send to fanout random peers. */
void gossip_tick(struct gossip *g, uint64_t now);
/* Merges a message a peer sent. */
void gossip_receive(struct gossip *g, const struct migr_gossip_msg *m, uint64_t now);
/* Says goodbye: marks this node left and tells every live peer at once. */
void gossip_leave(struct gossip *g, uint64_t now);

const char *gossip_name(const struct gossip_node *n);
const char *gossip_addr(const struct gossip_node *n);
/* The slot of a node by name, or NULL. */
const struct gossip_node *gossip_find(const struct gossip *g, const char *name);
uint32_t gossip_count_state(const struct gossip *g, int state);
/* The suspect and dead timeouts a node applies when it knows `others` other nodes: the
 * configured ones, stretched in proportion once heartbeats cannot get round in time. */
uint64_t gossip_suspect_ms(const struct gossip_params *p, uint32_t others);
uint64_t gossip_dead_ms(const struct gossip_params *p, uint32_t others);

#endif
