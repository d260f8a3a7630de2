/* mctl: look at and steer the cluster: nodes, status, balance, drain, leave, keygen. */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "log.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: mctl nodes [--json]   every node this node knows: address, state, load\n"
		   "       mctl status [--json]  this node's daemon\n"
		   "       mctl balance on|off   turn this node's load balancer on or off\n"
		   "       mctl drain [--wait [--timeout S]] NODE\n"
		   "                             NODE takes no new jobs and its jobs leave for other\n"
		   "                             nodes; --wait: until every job that can leave has\n"
		   "       mctl undrain NODE     NODE takes jobs again\n"
		   "       mctl leave            take this node out of the cluster and stop its migrd\n"
		   "       mctl keygen FILE      write a new cluster key (mode 0600)\n"
		   "       mctl --help\n"
		   "MIGR_SOCKET selects the daemon (default " MIGR_DEFAULT_SOCKET ").\n");
}

static int cmd_nodes(int json)
{
	struct migr_client *c = cli_connect();
	struct migr_node *nodes;
	size_t n;
	int r = migr_nodes(c, &nodes, &n);
	if (r < 0)
		cli_fail(c, "nodes", r);
	if (json) {
		printf("[");
		for (size_t i = 0; i < n; i++) {
			const struct migr_node *nd = &nodes[i];
			printf("%s\n  {\"name\": ", i ? "," : "");
			json_str(stdout, nd->name);
			printf(", \"addr\": ");
			json_str(stdout, nd->addr);
			printf(", \"port\": %u, \"state\": \"%s\", \"load\": %.3f, \"cpus\": %.3f, "
			       "\"mem_free_kb\": %" PRIu64 ", \"jobs\": %u, \"incarnation\": %" PRIu64
			       ", \"age_ms\": %u, \"admin\": \"%s\", \"self\": %s}",
			       nd->port, migr_node_state_name(nd->state), nd->load, nd->cpus,
			       nd->mem_free_kb, nd->jobs, nd->incarnation, nd->age_ms,
			       migr_node_admin_name(nd->admin), nd->self ? "true" : "false");
		}
		printf("%s]\n", n ? "\n" : "");
	} else {
		printf("%-16s %-16s %-8s %-8s %6s %6s %12s %5s %8s\n", "NAME", "ADDR", "STATE",
		       "ADMIN", "LOAD", "CPUS", "MEM_FREE_KB", "JOBS", "AGE");
		for (size_t i = 0; i < n; i++) {
			const struct migr_node *nd = &nodes[i];
			char name[MIGR_NAME_MAX + 3];
			snprintf(name, sizeof(name), "%s%s", nd->name, nd->self ? "*" : "");
			printf("%-16s %-16s %-8s %-8s %6.2f %6.2f %12" PRIu64 " %5u %7.1fs\n", name,
			       nd->addr, migr_node_state_name(nd->state),
			       migr_node_admin_name(nd->admin), nd->load, nd->cpus, nd->mem_free_kb,
			       nd->jobs, nd->age_ms / 1000.0);
		}
	}
	free(nodes);
	migr_close(c);
	return 0;
}

static int cmd_status(int json)
{
	struct migr_client *c = cli_connect();
	struct migr_status s;
	int r = migr_status(c, &s);
	if (r < 0)
		cli_fail(c, "status", r);
	if (json) {
		printf("{\"node\": ");
		json_str(stdout, s.name);
		printf(", \"addr\": ");
		json_str(stdout, s.addr);
		printf(", \"port\": %u, \"pid\": %u, \"incarnation\": %" PRIu64
		       ", \"uptime_ms\": %" PRIu64 ", \"nodes_alive\": %u, \"nodes_total\": %u, "
		       "\"peers_connected\": %u, \"load\": %.3f, \"cpus\": %.3f, \"mem_free_kb\": %" PRIu64
		       ", \"cpu_ns\": %" PRIu64 ", \"rss_kb\": %" PRIu64 ", \"balance\": %s}\n",
		       s.port, s.pid, s.incarnation, s.uptime_ms, s.nodes_alive, s.nodes_total,
		       s.peers_connected, s.load, s.cpus, s.mem_free_kb, s.cpu_ns, s.rss_kb,
		       s.balance ? "true" : "false");
	} else {
		printf("node         %s (%s port %u)\n", s.name, s.addr, s.port);
		printf("migrd        pid %u, incarnation %" PRIu64 ", up %.1f s\n", s.pid,
		       s.incarnation, s.uptime_ms / 1000.0);
		printf("cluster      %u of %u nodes alive, %u peer connections\n", s.nodes_alive,
		       s.nodes_total, s.peers_connected);
		printf("load         %.2f per CPU, %.2f CPUs, %" PRIu64 " kB free\n", s.load,
		       s.cpus, s.mem_free_kb);
		printf("balancer     %s\n", s.balance ? "on" : "off");
		printf("daemon usage %.3f s CPU, %" PRIu64 " kB resident\n", s.cpu_ns / 1e9,
		       s.rss_kb);
	}
	migr_close(c);
	return 0;
}

static int cmd_leave(void)
{
	struct migr_client *c = cli_connect();
	int r = migr_leave(c);
	if (r < 0)
		cli_fail(c, "leave", r);
	migr_close(c);
	/* done when the daemon is gone: its socket stops answering */
	for (int i = 0; i < 100; i++) {
		if (migr_connect(NULL, &c) < 0)
			return 0;
		migr_close(c);
		usleep(100000);
	}
	fatalx("leave: the daemon still answers after 10 s");
}

static int cmd_balance(const char *arg)
{
	if (strcmp(arg, "on") && strcmp(arg, "off")) {
		log_warnx("balance: want on or off, not '%s'", arg);
		return 2;
	}
	struct migr_client *c = cli_connect();
	int r = migr_balance(c, !strcmp(arg, "on"));
	if (r < 0)
		cli_fail(c, "balance", r);
	migr_close(c);
	return 0;
}

/* The jobs on node: how many could still leave it, and, if say, one line for each that
 * cannot. -1 if the cluster's job list could not be had. */
static int jobs_left(struct migr_client *c, const char *node, int say)
{
	struct migr_ps ps;
	if (migr_ps(c, node, &ps) < 0)
		return -1;
	int movable = 0;
	for (size_t i = 0; i < ps.count; i++) {
		const struct migr_job *j = &ps.jobs[i];
		const char *why = j->why[0] ? j->why
				  : (j->flags & MIGR_RUN_NO_MIGRATE) ? "started with --no-migrate"
								     : NULL;
		if (!why)
			movable++;
		else if (say)
			printf("%s stays on %s: %s\n", j->gpid, node, why);
	}
	migr_ps_free(&ps);
	return movable;
}

/* Node names as the daemon takes them: [A-Za-z0-9._-], 1 to MIGR_NAME_MAX bytes. */
static int node_name_ok(const char *s)
{
	static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
	size_t n = strlen(s);
	return n > 0 && n <= MIGR_NAME_MAX && strspn(s, ok) == n;
}

static int cmd_drain(const char *node, int drained, int wait, unsigned timeout_s)
{
	const char *what = drained ? "drain" : "undrain";
	if (!node_name_ok(node)) {
		log_warnx("%s: %s: not a node name", what, node);
		return 2;
	}
	struct migr_client *c = cli_connect();
	int r = migr_drain(c, node, drained);
	if (r < 0)
		cli_fail(c, what, r);
	if (!drained) {
		migr_close(c);
		return 0;
	}
	/* what cannot leave is said now: the administrator decides what to do with it */
	if (jobs_left(c, node, 1) < 0)
		log_warnx("drain: %s: cannot list its jobs", node);
	for (unsigned waited = 0; wait; waited++) {
		int n = jobs_left(c, node, 0);
		if (n == 0)
			break;
		if (waited >= timeout_s * 2) {
			migr_close(c);
			fatalx("drain: %s: %d jobs that could leave are still there after %u s", node,
			       n, timeout_s);
		}
		usleep(500000);
	}
	migr_close(c);
	return 0;
}

static int cmd_keygen(const char *path)
{
	int r = migr_key_generate(path);
	if (r < 0)
		fatalx("keygen: %s: %s", path, migr_strerror(r));
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "wait", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int json = 0, wait = 0, timed = 0, c;
	unsigned timeout_s = 600;

	log_init("mctl", 0, 0);
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		usage(stderr);
		return 2;
	}
	if (optind >= argc) {
		log_warnx("missing command");
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[optind++];
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'j') {
			json = 1;
			continue;
		}
		if (c == 'w') {
			wait = 1;
			continue;
		}
		if (c == 't') {
			char *end;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || v == 0 || v > 86400) {
				log_warnx("--timeout: want seconds from 1 to 86400, not '%s'", optarg);
				return 2;
			}
			timeout_s = (unsigned)v;
			timed = 1;
			continue;
		}
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		usage(stderr);
		return 2;
	}
	int nargs = argc - optind;
	int is_drain = !strcmp(cmd, "drain");
	if ((wait || timed) && !is_drain) {
		log_warnx("%s: --wait and --timeout are for drain", cmd);
		return 2;
	}
	if (timed && !wait) {
		log_warnx("drain: --timeout goes with --wait");
		return 2;
	}
	if ((is_drain || !strcmp(cmd, "undrain")) && nargs == 1 && !json)
		return cmd_drain(argv[optind], is_drain, wait, timeout_s);
	if (!strcmp(cmd, "nodes") && nargs == 0)
		return cmd_nodes(json);
	if (!strcmp(cmd, "status") && nargs == 0)
		return cmd_status(json);
	if (!strcmp(cmd, "leave") && nargs == 0 && !json)
		return cmd_leave();
	if (!strcmp(cmd, "keygen") && nargs == 1 && !json)
		return cmd_keygen(argv[optind]);
	if (!strcmp(cmd, "balance") && nargs == 1 && !json)
		return cmd_balance(argv[optind]);
	if (strcmp(cmd, "nodes") && strcmp(cmd, "status") && strcmp(cmd, "leave") &&
	    strcmp(cmd, "keygen") && strcmp(cmd, "balance") && strcmp(cmd, "drain") &&
	    strcmp(cmd, "undrain"))
		log_warnx("%s: unknown command", cmd);
	else
		log_warnx("%s: wrong arguments", cmd);
	usage(stderr);
	return 2;
}
