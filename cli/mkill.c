/* mkill: send a signal to jobs anywhere in the cluster. */
#include <config.h>

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>

#include "common.h"
#include "log.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: mkill [-s SIGNAL] GPID...\n"
		   "  -s SIGNAL  a name (TERM, SIGKILL, hup) or a number; default TERM\n"
		   "Only the job's owner or root may signal it.\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int sig = SIGTERM, c;

	log_init("mkill", 0, 0);
	while ((c = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if ((sig = cli_parse_signal(optarg)) < 0) {
				log_warnx("%s: unknown signal", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		log_warnx("missing job id");
		usage(stderr);
		return 2;
	}
	struct migr_client *cl = cli_connect();
	int status = 0;
	for (int i = optind; i < argc; i++) {
		int r = migr_kill(cl, argv[i], sig);
		if (r == MIGR_EREFUSED) {
			log_warnx("%s", migr_last_error(cl));
			status = 1;
		} else if (r < 0) {
			log_warnx("%s: %s", argv[i], r == -EINVAL ? "not a job id (want NODE.N)"
								 : migr_strerror(r));
			status = 1;
		}
	}
	migr_close(cl);
	return status;
}
