/* mmigrate: move a running job to another node. */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "log.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: mmigrate [--mode lazy|copy] [--json] GPID NODE\n"
		   "       mmigrate --check GPID [NODE]\n"
		   "       mmigrate --freeze [--json] GPID\n"
		   "  --mode lazy  (default) the job resumes on NODE at once; its memory follows on\n"
		   "               demand and in the background (post-copy)\n"
		   "  --mode copy  all memory moves first, then the job resumes: a longer freeze,\n"
		   "               but no dependency on the source afterwards\n"
		   "  --json       print {\"gpid\", \"node\", \"mode\", \"freeze_ms\", \"total_ms\"}\n"
		   "  --check      move nothing: print `movable' and exit 0 if a move would be tried,\n"
		   "               else one line per reason (what the job holds that cannot move)\n"
		   "               and exit 1; the job is not stopped or touched\n"
		   "  --freeze     write the job, memory included, to the disk of the node it runs\n"
		   "               on (root only can read it) and end its processes; mps shows it\n"
		   "               frozen, its mrun stays attached; `mmigrate GPID NODE' thaws it\n"
		   "               on NODE, its own node included. SIGKILL and SIGTERM end a frozen\n"
		   "               job; other signals and its stdin wait for the thaw\n"
		   "NODE may be `home': the node the job was started from. Any failure before the job\n"
		   "runs on NODE leaves it running where it was.\n");
}

/* mmigrate --check GPID [NODE] */
static int check_only(int argc, char **argv)
{
	if (argc < 1 || argc > 2) {
		log_warnx("--check: want a job id, and a node if you like");
		usage(stderr);
		return 2;
	}
	const char *gpid = argv[0];
	struct migr_client *cl = cli_connect();
	char why[1024];
	int r = migr_check(cl, gpid, argc == 2 ? argv[1] : NULL, why, sizeof(why));
	if (r == -EINVAL)
		fatalx("%s: not a job id (want NODE.N)", gpid);
	if (r < 0)
		cli_fail(cl, gpid, r);
	migr_close(cl);
	if (r == 0) {
		printf("movable\n");
		return 0;
	}
	for (char *line = strtok(why, "\n"); line; line = strtok(NULL, "\n"))
		printf("%s: %s\n", gpid, line);
	return 1;
}

/* mmigrate --freeze GPID */
static int freeze_only(int argc, char **argv, int json, int have_mode)
{
	if (argc != 1 || have_mode) {
		log_warnx("--freeze: want a job id, and no node or mode");
		usage(stderr);
		return 2;
	}
	const char *gpid = argv[0];
	struct migr_client *cl = cli_connect();
	struct migr_move mv;
	int r = migr_freeze(cl, gpid, &mv);
	if (r == -EINVAL)
		fatalx("%s: not a job id (want NODE.N)", gpid);
	if (r < 0)
		cli_fail(cl, gpid, r);
	if (json) {
		printf("{\"gpid\": ");
		json_str(stdout, gpid);
		printf(", \"node\": ");
		json_str(stdout, mv.node);
		printf(", \"state\": \"frozen\", \"total_ms\": %u}\n", mv.total_ms);
	} else {
		printf("%s: frozen on %s in %u ms\n", gpid, mv.node, mv.total_ms);
	}
	migr_close(cl);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'J' },
		{ "check", no_argument, NULL, 'c' },
		{ "freeze", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int mode = MIGR_MODE_LAZY, json = 0, check = 0, freeze = 0, have_mode = 0, c;

	log_init("mmigrate", 0, 0);
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			have_mode = 1;
			if (!strcmp(optarg, "lazy"))
				mode = MIGR_MODE_LAZY;
			else if (!strcmp(optarg, "copy"))
				mode = MIGR_MODE_COPY;
			else {
				log_warnx("--mode: '%s' is neither lazy nor copy", optarg);
				return 2;
			}
			break;
		case 'J':
			json = 1;
			break;
		case 'c':
			check = 1;
			break;
		case 'f':
			freeze = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (check && freeze) {
		log_warnx("--check and --freeze: one or the other");
		return 2;
	}
	if (check)
		return check_only(argc - optind, argv + optind);
	if (freeze)
		return freeze_only(argc - optind, argv + optind, json, have_mode);
	if (argc - optind != 2) {
		log_warnx("want a job id and a node");
		usage(stderr);
		return 2;
	}
	const char *gpid = argv[optind], *node = argv[optind + 1];
	struct migr_client *cl = cli_connect();
	struct migr_move mv;
	int r = migr_migrate(cl, gpid, node, mode, &mv);
	if (r == -EINVAL)
		fatalx("%s: not a job id (want NODE.N)", gpid);
	if (r < 0)
		cli_fail(cl, gpid, r);
	if (json) {
		printf("{\"gpid\": ");
		json_str(stdout, gpid);
		printf(", \"node\": ");
		json_str(stdout, mv.node);
		printf(", \"mode\": \"%s\", \"freeze_ms\": %u, \"total_ms\": %u}\n",
		       mode == MIGR_MODE_LAZY ? "lazy" : "copy", mv.freeze_ms, mv.total_ms);
	} else {
		printf("%s: moved to %s (%s): freeze %u ms, total %u ms\n", gpid, mv.node,
		       mode == MIGR_MODE_LAZY ? "lazy" : "copy", mv.freeze_ms, mv.total_ms);
	}
	migr_close(cl);
	return 0;
}
