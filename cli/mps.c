/* mps: the cluster-wide process table: every job, wherever it runs. */
#include <config.h>

#include <getopt.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "log.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: mps [-n NODE] [-u USER] [-m] [--why] [--json]\n"
		   "  -n NODE   only jobs running on NODE\n"
		   "  -u USER   only jobs of USER (a name or a uid)\n"
		   "  -m        a MOVES column: how many times each job has moved\n"
		   "  --why     GPID, NODE and WHY: what keeps each job from moving (\"-\": nothing),\n"
		   "            as its node last looked; the balancer leaves such jobs alone\n"
		   "  --json    a JSON array, one object per job\n"
		   "STAT is the program's state as its node's kernel says (R, S, D, T, Z...), or F\n"
		   "for a job frozen to its node's disk by mmigrate's freeze (json \"frozen\").\n"
		   "A HOME followed by ? is down: the job runs on, its output waits at its node\n"
		   "until its home is back (json \"home_lost\").\n"
		   "Asks every live node at once; a node that does not answer in time is named on\n"
		   "stderr and mps exits 2, still printing the rest.\n");
}

static const char *user_name(uint32_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);
	if (pw)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "%u", uid);
	return buf;
}

static int by_gpid(const void *a, const void *b)
{
	return cli_gpid_cmp(a, b);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "moves", no_argument, NULL, 'm' },
		{ "why", no_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *node = NULL, *user = NULL;
	int json = 0, moves = 0, why = 0, c;
	long uid = -1;

	log_init("mps", 0, 0);
	while ((c = getopt_long(argc, argv, "n:u:mh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			node = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 'J':
			json = 1;
			break;
		case 'm':
			moves = 1;
			break;
		case 'w':
			why = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		log_warnx("unexpected argument '%s'", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (user) {
		struct passwd *pw = getpwnam(user);
		char *end;
		if (pw)
			uid = pw->pw_uid;
		else if ((uid = strtol(user, &end, 10)) < 0 || *end || !*user)
			fatalx("%s: no such user", user);
	}

	struct migr_client *cl = cli_connect();
	struct migr_ps ps;
	int r = migr_ps(cl, node, &ps);
	if (r < 0)
		cli_fail(cl, node ? node : "ps", r);
	qsort(ps.jobs, ps.count, sizeof(*ps.jobs), by_gpid);

	char name[64];
	if (json)
		printf("[");
	else if (why)
		printf("%-16s %-10s %s\n", "GPID", "NODE", "WHY");
	else
		printf("%-16s %-10s %-10s %7s %-10s %4s %5s %9s %9s %s%s\n", "GPID", "HOME", "NODE",
		       "PID", "USER", "STAT", "%CPU", "RSS", "TIME", moves ? "MOVES " : "", "CMD");
	int first = 1;
	for (size_t i = 0; i < ps.count; i++) {
		const struct migr_job *j = &ps.jobs[i];
		if (uid >= 0 && j->uid != (uint32_t)uid)
			continue;
		user_name(j->uid, name, sizeof(name));
		if (json) {
			printf("%s\n  {\"gpid\": ", first ? "" : ",");
			json_str(stdout, j->gpid);
			printf(", \"home\": ");
			json_str(stdout, j->home);
			printf(", \"node\": ");
			json_str(stdout, j->node);
			printf(", \"pid\": %u, \"user\": ", j->pid);
			json_str(stdout, name);
			char state[8] = { j->state, '\0' };
			if (j->state == MIGR_JOB_FROZEN)
				snprintf(state, sizeof(state), "frozen");
			printf(", \"uid\": %u, \"state\": \"%s\", \"cpu\": %.1f, \"rss_kb\": %" PRIu64
			       ", \"time_ms\": %" PRIu64 ", \"moves\": %u, \"no_migrate\": %s, "
			       "\"home_lost\": %s, \"cmd\": ",
			       j->uid, state, j->cpu, j->rss_kb, j->cpu_ms, j->moves,
			       j->flags & MIGR_RUN_NO_MIGRATE ? "true" : "false",
			       j->flags & MIGR_JOB_HOME_LOST ? "true" : "false");
			json_str(stdout, j->cmd);
			printf(", \"why\": ");
			json_str(stdout, j->why);
			printf("}");
		} else if (why) {
			printf("%-16s %-10s %s\n", j->gpid, j->node, j->why[0] ? j->why : "-");
		} else {
			uint64_t s = j->cpu_ms / 1000;
			char time[32];
			snprintf(time, sizeof(time), "%" PRIu64 ":%02" PRIu64 ":%02" PRIu64, s / 3600,
				 s / 60 % 60, s % 60);
			char nmoves[16] = "";
			if (moves)
				snprintf(nmoves, sizeof(nmoves), "%5u ", j->moves);
			char home[MIGR_NAME_MAX + 2];	/* "node1?": its home is down */
			snprintf(home, sizeof(home), "%s%s", j->home,
				 j->flags & MIGR_JOB_HOME_LOST ? "?" : "");
			printf("%-16s %-10s %-10s %7u %-10s %4c %5.1f %9" PRIu64 " %9s %s%s\n", j->gpid,
			       home, j->node, j->pid, name, j->state, j->cpu, j->rss_kb, time,
			       nmoves, j->cmd);
		}
		first = 0;
	}
	if (json)
		printf("%s]\n", first ? "" : "\n");
	fflush(stdout);
	for (size_t i = 0; i < ps.nmissing; i++)
		log_warnx("%s: did not answer in time; its jobs are not listed", ps.missing[i]);
	int status = ps.nmissing ? 2 : 0;
	migr_ps_free(&ps);
	migr_close(cl);
	return status;
}
