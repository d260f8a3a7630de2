/* gossip.h: cluster membership and failure detection, SWIM's way with Lifeguard's care, and
 * the load vectors MOSIX-style nodes balance by.
 *
 * Failure detection (SWIM). Every period a node probes one member, taking them in turn from
 * a list it shuffles at every pass: a ping, and if no ack comes within half a period, a
 * ping-req to a few other members, which ping it in turn and pass the ack on. A member that
 * answered none of it by the end of the probe is suspect; the suspicion travels with the
 * member's incarnation and the accuser's name. A suspect that is alive hears of it (the
 * accuser tells it at once, and every ping to a suspect carries the suspicion) and refutes
 * it by raising its incarnation; one that does not within the suspicion timeout is dead.
 * The refutation follows the suspicion: a member that passes on a suspicion we know to be
 * refuted hears the refutation from us at once, and a member whose suspicion is about to
 * run out asks the suspect itself first, two periods before.
 * A member that refuted a suspicion lately is more likely slow than dead: for a while our
 * probes of it wait two periods more for its ack before they suspect it again.
 * Detection takes a constant number of periods whatever the cluster's size.
 *
 * Lifeguard. A node whose own probes fail while its helpers say nothing back (nacks), or
 * that finds itself suspected, is probably the slow one: its health score rises, and its
 * probes wait that many periods more before they suspect, the probe that showed it
 * included (one that heard nothing, not even a nack, accuses nobody at the end of its
 * period); the score falls again only with probes acked in time, not with acks that needed
 * the wait. The suspicion timeout starts at 4 log10(N) periods (dead-timeout at least) and
 * shrinks towards two thirds of that (suspect-timeout at least) as other members confirm
 * the suspicion independently.
 *
 * Dissemination. Membership changes (joins, suspicions, refutations, deaths, leaves) and load
 * news ride on every message, each passed on about 4 log10(N) times, the least passed first;
 * besides its probe a node sends news to `fanout` random members per period, with a window of
 * vectors (news, the freshest heard, a round-robin over the table), and they answer with
 * theirs: changes reach everyone in O(log N) periods, messages stay bounded.
 *
 * Push-pull. A joining node asks a seed for its table, which comes in bounded parts, a few
 * per period; while such exchanges teach it something it goes on with random members, and
 * later it does one now and then for anti-entropy, less often in larger clusters.
 *
 * This module does no I/O and reads no clock: the caller passes the time (ms, any
 * monotonic origin) and a transport. The daemon and bench/gossip-sim drive the same code. */
#ifndef MIGR_GOSSIP_H
#define MIGR_GOSSIP_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct gossip_params {
	unsigned period_ms;	/* one probe per period */
	unsigned fanout;	/* members sent news per period, besides the probe */
	unsigned window;	/* vectors of others per message (<= GOSSIP_WINDOW_MAX) */
	unsigned suspect_ms;	/* the least suspicion timeout, however confirmed */
	unsigned dead_ms;	/* the least suspicion timeout before confirmations */
	unsigned no_health;	/* 1: probes never wait longer (the simulator compares) */
};

/* What a node knows of one node. Names and addresses are interned (one copy per process,
 * however many simulated nodes share them), which keeps a 10,000-node simulation in memory. */
struct gossip_node {
	uint32_t name_id;
	uint32_t addr_id;
	uint16_t port;
	uint8_t status;		/* GOSSIP_ALIVE or GOSSIP_LEFT, as the node itself said */
	uint8_t state;		/* enum migr_node_state, as this node judges it */
	uint32_t suspicion;	/* its suspicion's index in gossip.susp + 1; 0: none */
	uint64_t incarnation;
	uint64_t heartbeat;
	struct migr_vector vec;
	uint64_t updated_at;	/* when we last heard something new of it (local clock) */
	uint64_t changed_at;	/* when its membership or its load last changed: news */
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
#define GOSSIP_RING 64		/* heartbeats remembered as the freshest heard */
#define GOSSIP_NEWS 128		/* changes being passed on */
#define GOSSIP_CONFIRM 3	/* confirmations that bring a suspicion to its least timeout */
#define GOSSIP_RELAYS 16	/* ping-reqs this node helps with at once */
#define GOSSIP_STREAMS 2	/* tables sent at once: our own exchange's, and one answer */
#define GOSSIP_INBOUND 4	/* tables coming in at once: what each member holds */
#define GOSSIP_REFUTED 256	/* refutations remembered: members probed with patience */

/* A change being passed on: the node's current entry goes, not the change itself. */
struct gossip_news {
	uint32_t slot;
	uint16_t sent;		/* times passed on so far */
	uint8_t member;		/* membership, not load: goes first */
};

/* A node we suspect, and who else does (the accusers are confirmations, SWIM/Lifeguard). */
struct gossip_suspicion {
	uint32_t slot;
	uint8_t n;		/* accusers known; acc[0] the first */
	uint8_t called;		/* we asked the suspect itself, near the end */
	uint16_t sent;		/* news of it sent: names each accuser in turn */
	uint32_t acc[GOSSIP_CONFIRM + 1];	/* accusers' name ids */
	uint64_t since;		/* when we first heard it, at this incarnation */
};

/* A member that raised its incarnation while alive: it refuted a suspicion. */
struct gossip_refuted {
	uint32_t slot;		/* 0: none */
	uint64_t at;
};

/* Our probe of one member, from the ping to the end of its window. */
struct gossip_probe {
	uint32_t slot;		/* 0: none */
	uint32_t seq;
	uint64_t incarnation;	/* the member's when probed: refuted meanwhile, it is alive */
	uint64_t indirect_at;	/* no ack by then: ping-reqs */
	uint64_t end;		/* no ack by then: suspect */
	uint8_t acked, indirect, nacks, helpers;
	uint8_t late;		/* acked, but after a probe in good health would have ended */
	uint8_t stretched;	/* its window grew: nobody answered, not even with a nack */
};

/* A ping we send for another member (ping-req): its ack, or our nack, goes back to them. */
struct gossip_relay {
	uint32_t seq;		/* our ping's; 0: free */
	uint32_t their_seq;
	struct migr_endpoint requester;
	uint64_t nack_at;
};

/* Our table on its way to a member, GOSSIP_MAX_ENTRIES - 1 entries per part. */
struct gossip_stream {
	uint32_t peer;		/* name id; UINT32_MAX: idle */
	uint32_t total;		/* the table's size when it started */
	uint32_t first;		/* it goes from slot 1 + first round to slot first */
	uint32_t sent;		/* slots sent */
	uint8_t pull;		/* the last part of the first burst asks for the peer's table */
};

/* A member's table coming in: which of our nodes it holds as new as we do, so that what we
 * send it (our answer, or our own table while its answer comes) skips those. */
struct gossip_inbound {
	uint32_t peer;		/* name id; UINT32_MAX: free */
	uint32_t bits;
	uint64_t *has;
	uint64_t at;		/* its last part: the oldest gives way */
};

struct gossip {
	struct gossip_params p;
	struct gossip_transport t;
	struct gossip_node *nodes;	/* nodes[0] is this node */
	uint32_t count, cap;
	uint32_t *index;		/* open-addressing hash: name_id -> nodes slot + 1 */
	uint32_t index_cap;
	uint32_t live;			/* others alive or suspect */
	struct migr_endpoint *seeds;
	uint32_t nseeds, next_seed;
	uint32_t fresh[GOSSIP_RING];	/* slots whose heartbeat advanced lately */
	uint32_t fresh_head;
	uint32_t cursor;		/* round-robin over the table for the rest of the window */
	struct gossip_news news[GOSSIP_NEWS];
	uint32_t nnews;
	struct gossip_suspicion *susp;
	uint32_t nsusp, capsusp;
	/* the probe order: slot = (perm_a * perm_i + perm_b) mod 2^perm_bits, a shuffle that
	 * costs no memory per member, redrawn at every pass */
	uint32_t perm_a, perm_b, perm_i, perm_bits;
	struct gossip_probe probe;
	struct gossip_refuted refuted[GOSSIP_REFUTED];	/* a ring, the oldest overwritten */
	uint32_t refuted_head;
	unsigned health;		/* Lifeguard's local health: probes wait this much more */
	uint32_t seq;
	struct gossip_relay relays[GOSSIP_RELAYS];
	struct gossip_stream streams[GOSSIP_STREAMS];	/* [0]: our exchange's */
	struct gossip_inbound inbound[GOSSIP_INBOUND];
	uint32_t pp_peer;		/* name id of our exchange's member; UINT32_MAX: none */
	uint32_t pp_learned;		/* nodes its answer taught us */
	uint64_t pp_deadline;		/* when we stop waiting for its answer */
	uint64_t pp_next;		/* when the next exchange may start */
	unsigned pp_fruitless;		/* exchanges in a row that taught us nothing */
	uint32_t busy_cursor;		/* the part a busy node answers with instead */
	unsigned busy_left;		/* such answers left this period */
	unsigned answer_parts;		/* parts of tables in answer left this period */
	int joining;			/* knocked on a seed: once in, exchanges start */
	uint64_t rng;
};

void gossip_init(struct gossip *g, const struct gossip_params *p,
		 const struct gossip_transport *t, const char *name, const char *addr,
		 uint16_t port, uint64_t incarnation, uint64_t seed, uint64_t now);
void gossip_free(struct gossip *g);
void gossip_add_seed(struct gossip *g, const char *addr, uint16_t port);

/* Sets this node's own load vector. */
void gossip_set_vector(struct gossip *g, const struct migr_vector *v, uint64_t now);
/* One period: judges the last probe, starts the next, suspicions that timed out die, news
 * and parts of tables go out. */
void gossip_tick(struct gossip *g, uint64_t now);
/* Merges a message a peer sent, and answers it. */
void gossip_receive(struct gossip *g, const struct migr_gossip_msg *m, uint64_t now);
/* Does what fell due between ticks: a probe's ping-reqs, a helper's nack. */
void gossip_poll(struct gossip *g, uint64_t now);
/* When gossip_poll() has something to do next; UINT64_MAX: nothing until the next tick. */
uint64_t gossip_next_poll(const struct gossip *g);
/* Says goodbye: marks this node left and tells every live peer at once. */
void gossip_leave(struct gossip *g, uint64_t now);

const char *gossip_name(const struct gossip_node *n);
const char *gossip_addr(const struct gossip_node *n);
/* The slot of a node by name, or NULL. */
const struct gossip_node *gossip_find(const struct gossip *g, const char *name);
uint32_t gossip_count_state(const struct gossip *g, int state);
/* A node's admin state as it said it directly (an answer to a drain request), before its
 * next load vector gets here; for this node, at once in what it sends. */
void gossip_note_admin(struct gossip *g, const char *name, uint8_t admin);
/* The suspicion timeout in a cluster of `members` nodes once `confirmations` other members
 * suspect the node too: 4 log10(members) periods (dead_ms at least) unconfirmed, down to
 * two thirds of 4 log10(members) periods (suspect_ms at least). */
uint64_t gossip_suspicion_ms(const struct gossip_params *p, uint32_t members,
			     unsigned confirmations);

#endif
