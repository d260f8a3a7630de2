/* migrd.h: what the daemon's parts share: its configuration, identity and cluster view. */
#ifndef MIGR_MIGRD_H
#define MIGR_MIGRD_H

#include <stdint.h>

#include "auth.h"
#include "conf.h"
#include "gossip.h"

struct migrd {
	struct migr_config conf;
	struct migr_key key;
	struct gossip gossip;
	uint64_t incarnation;
	uint64_t started_at;	/* loop_now() at start */
	double load;		/* last sample, per CPU of capacity */
	uint64_t mem_free_kb;
	uint64_t cpu_features;	/* the CPU's (cpufeat.h), less what test-cpu-hide hides */
	int leaving;
};

extern struct migrd migrd;

/* A frame from an authenticated peer; a negative return closes its connection. */
int migrd_peer_message(const char *peer, uint8_t type, const uint8_t *p, size_t n);
/* A peer opened a move channel to us (MSG_BULK_ATTACH's payload): 0 if a move took fd,
 * -1 if none wants it (the caller closes it). */
int migrd_bulk_attach(const char *peer, const uint8_t *p, size_t n, int fd);
/* Starts a clean shutdown (SIGTERM, mctl leave). */
void migrd_shutdown(const char *why);

#endif
