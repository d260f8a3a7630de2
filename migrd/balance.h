/* balance.h: the load balancer in the daemon: every period it looks at this node's load,
 * the vectors gossip brought and its jobs, and asks balance_policy.c whether to move one. */
#ifndef MIGR_BALANCE_H
#define MIGR_BALANCE_H

#include <stdint.h>

#include "balance_policy.h"

void balance_init(void);
/* mctl balance on|off */
void balance_set(int on, uint32_t uid);
int balance_on(void);

/* This node as a balancer sees it: its load corrected for moves gossip cannot show yet. */
void balance_self(struct bal_node *self);
/* Whether to take a job a balancer on source offers (load vector as the source sent it). */
int balance_offer_ok(const struct bal_node *source, uint64_t rss_kb, char *why, size_t whylen);

/* From migrate.c: a job left this node for dest; a job landed here. */
void balance_job_left(const char *dest, uint64_t rss_kb, uint32_t total_ms);
void balance_job_arrived(void);
/* From migrate.c: how the balancer's own move ended (code < 0: failed, msg says why). */
void balance_move_result(int code, const char *msg, const char *node, uint32_t freeze_ms,
			 uint32_t total_ms);

#endif
