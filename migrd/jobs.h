/* jobs.h: jobs started with mrun: this node's part of the cluster-wide process table.
 *
 * A job has a home (the node its mrun talks to) and a node where it runs; they may be the
 * same. The runner holds the job's stdio pipes and reaps its init; the home holds the
 * descriptors mrun handed over, and a pointer to where the job runs. Between the two,
 * stdin, stdout and stderr flow as MSG_JOB_DATA with credit-based flow control, and the
 * exit status follows the job's last output. The same messages serve a job that runs at
 * home: they are delivered in-process. A job's holder (hold.h) is the parent of its init and
 * keeps its pipes open while no migrd runs: a migrd that starts again adopts the jobs
 * running here. */
#ifndef MIGR_JOBS_H
#define MIGR_JOBS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto.h"

void jobs_init(void);
/* Control requests; fds and spec become the job's. Replies go to the client by id. */
void jobs_run(uint64_t client, struct migr_job_spec *spec, int fds[3]);
void jobs_client_signal(uint64_t client, int sig);
void jobs_kill(uint64_t client, uint32_t uid, const char *gpid, int sig);
void jobs_ps(uint64_t client, const char *node);
void jobs_client_gone(uint64_t client);
/* mrun --attach: fds become the job's stdio at its home. */
void jobs_attach(uint64_t client, uint32_t uid, const char *gpid, int fds[3]);

/* A job message from an authenticated peer (or this node); negative if malformed. */
int jobs_peer_message(const char *from, uint8_t type, const uint8_t *p, size_t n);
/* A child of migrd or of a job's holder ended (migr-init of a job here, a helper). */
void jobs_reaped(pid_t pid, int status);
/* At start-up, after jobs_init: the jobs still running here under their holders. */
void jobs_adopt(void);
struct holder;
/* A holder ended before it was released: the job it held is migrd's alone. */
void jobs_holder_gone(struct holder *h);
/* Gossip says a node is dead or left. */
void jobs_node_down(const char *node);
/* Gossip says a node is alive again after it was dead. */
void jobs_node_up(const char *node);
/* Once per period: CPU use samples. */
void jobs_sample(void);
uint32_t jobs_running_here(void);
/* The jobs running here, as the load balancer weighs them; *out is the caller's to free. */
struct bal_job;
size_t jobs_balance_candidates(struct bal_job **out, uint64_t now);
/* The jobs frozen to this node's disk, resident_ms how long since: those the balancer may
 * thaw (movable: not --no-migrate, not being thawed). */
size_t jobs_frozen_candidates(struct bal_job **out, uint64_t now);

/* migrate.c: a move the balancer starts (lazy, from this node); -1 if the job's home is not
 * reachable. The result comes back through balance_move_result with the same tag
 * (below AUTO_TAGS), possibly before this returns. */
#define AUTO_TAGS 0x80000000u
int migrate_auto(const char *gpid, const char *dest, uint32_t tag);
/* The same for a freeze to this node's disk (balance-freeze on). */
int migrate_auto_freeze(const char *gpid, uint32_t tag);
/* Moves under way to this node whose job does not run here yet. */
unsigned migrate_incoming(void);
/* At start-up: settles the moves the last migrd here left under way (state dir). */
void migrate_init(void);
/* migrd is stopping: the jobs here go on under their holders, for the next migrd. */
void jobs_shutdown(void);

#endif
