/* conf.h: migrd.conf, parsed and checked (see man/migrd.conf.5). */
#ifndef MIGR_CONFIG_H
#define MIGR_CONFIG_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "migr.h"
#include "proto.h"

#define MIGR_DEFAULT_CONFIG "/etc/migr/migrd.conf"
#define MIGR_DEFAULT_PORT 7470
#define CONFIG_PEERS_MAX 256

struct migr_config {
	char path[PATH_MAX];
	char node[MIGR_NAME_MAX + 1];
	struct migr_endpoint listen;
	struct migr_endpoint peers[CONFIG_PEERS_MAX];	/* seeds */
	unsigned npeers;
	char key_file[PATH_MAX];
	char state_dir[PATH_MAX];
	char socket[PATH_MAX];
	char criu[PATH_MAX];
	char cgroup[PATH_MAX];		/* under each cgroup v1 controller; "" for none */
	double cpus;
	unsigned gossip_period_ms;
	unsigned gossip_fanout;
	unsigned gossip_window;
	unsigned suspect_timeout_ms;
	unsigned dead_timeout_ms;
	/* load balancing (see man/migrd.conf.5) */
	int balance;			/* on at start-up; mctl balance on|off changes it */
	unsigned balance_period_ms;
	double balance_margin;		/* load per CPU a move must gain beyond its cost */
	unsigned balance_residency_ms;	/* a job stays at least this long where it landed */
	uint64_t balance_mem_low_kb;	/* below this much free memory, jobs move out */
	int balance_freeze;		/* and are frozen to disk when no node has room */
	int cpu_strict;			/* refuse moves to a CPU lacking a feature of the source's */
	uint64_t cpu_features_hidden;	/* for tests: features this node pretends to lack */
	char test_hide_path[PATH_MAX];	/* for tests: paths this node says it lacks */
	/* jobs and trust */
	int peer_root_jobs;		/* peers may start and restore uid 0 jobs here */
	unsigned max_user_jobs;		/* jobs one (non-root) user may run here; 0: no bound */
	/* for tests only: a move waits this long at a named point (migrd.conf(5)) */
	char test_pause_at[32];
	unsigned test_pause_ms;
};

/* Fills defaults, then reads path. On error returns -1 with err naming file, line, problem. */
int migr_config_load(const char *path, struct migr_config *c, char *err, size_t errlen);
/* Prints the effective configuration in the file's own syntax. */
void migr_config_print(const struct migr_config *c, FILE *f);

#endif
