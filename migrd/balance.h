/* balance.h: the load balancer in the daemon: every period it looks at this node's load,
 * the vectors gossip brought and its jobs, and asks balance_policy.c which to move where.
 * It also says where a new job should start, and keeps the view both rest on: jobs that
 * just started, arrived or left count before the smoothed loads show them. */
#ifndef MIGR_BALANCE_H
#define MIGR_BALANCE_H

#include <stdint.h>

#include "balance_policy.h"

void balance_init(void);
/* mctl balance on|off */
void balance_set(int on, uint32_t uid);
int balance_on(void);
/* This node was drained or undrained (admin.c). */
void balance_admin_changed(void);

/* This node as a balancer sees it: its load corrected for the jobs that started, arrived
 * or left lately and the smoothed load does not show yet, and for moves under way here. */
void balance_self(struct bal_node *self);
/* That load per CPU: what gossip announces, so that others count those jobs at once. */
double balance_load(void);
/* Where a job started here without a node named should run (mrun without -n): a node name
 * (this one's, or a live peer's, valid until gossip changes), NULL when every node is
 * drained; why says what decided it. */
const char *balance_place_job(char *why, size_t whylen);
/* Whether to take a job a balancer on source offers (load vector as the source sent it). */
int balance_offer_ok(const struct bal_node *source, uint64_t rss_kb, char *why, size_t whylen);

/* From migrate.c: a job left this node for dest. From migrate.c and jobs.c: a job landed
 * or started here. */
void balance_job_left(const char *gpid, const char *dest, uint64_t rss_kb, uint32_t total_ms);
void balance_job_arrived(void);
/* From jobs.c: a job here ended; busy if it kept a CPU busy (the load counted it). */
void balance_job_ended(int busy);
/* From migrate.c: how the balancer's own move tagged tag (as given to migrate_auto) ended
 * (code < 0: failed, msg says why). */
void balance_move_result(uint32_t tag, int code, const char *msg, const char *node,
			 uint32_t freeze_ms, uint32_t total_ms);

#endif
