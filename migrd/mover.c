/* mover.c: migr-move's start, its talk with migrd, and process trees (see mover.h).
 *
 *   migr-move send --gpid G --dir D (--pid INIT | --from-disk FROZEN) [--copy] [--criu PATH]
 *                  [--node NAME] [-v]
 *   migr-move recv --gpid G --dir D --inherit SPEC --inherit SPEC --inherit SPEC
 *                  [--copy] [--whole RSS_KB] [--criu PATH] [--node NAME] [--pause-restore MS]
 *                  [--stop-restore MS] [-v]
 * (started by migrd; not meant to be run by hand) */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "log.h"
#include "mover.h"

static int ctl_ok = 1;

uint64_t mover_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void mover_report(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(line))
		n = sizeof(line) - 1;
	log_debug("report: %s", line);
	if (ctl_ok && send(MOVER_CTL_FD, line, (size_t)n, MSG_NOSIGNAL) < 0)
		ctl_ok = 0;	/* migrd is gone: the record says it instead */
}

int mover_ctl_alive(void)
{
	return ctl_ok;
}

void mover_ctl_gone(void)
{
	ctl_ok = 0;
}

void mover_record(const char *dir, const char *fmt, ...)
{
	char path[4096], tmp[4200], line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/move.rec", dir);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	FILE *f = fopen(tmp, "we");
	if (!f)
		return;
	fprintf(f, "%s\n", line);
	if (fclose(f) == 0)
		rename(tmp, path);
}

/* One packet from migrd, with at most one descriptor; 0 at EOF, -1 on timeout or error. */
static ssize_t ctl_recv(char *buf, size_t len, int *fd, int timeout_ms)
{
	struct pollfd p = { .fd = MOVER_CTL_FD, .events = POLLIN };
	if (poll(&p, 1, timeout_ms) <= 0)
		return -1;
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = buf, .iov_len = len - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(MOVER_CTL_FD, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	*fd = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	return n;
}

int mover_receive_start(uint8_t key[BULK_KEY_BYTES], int fds[2])
{
	uint64_t deadline = mover_now_ms() + MOVER_START_MS;
	int have_key = 0;
	fds[0] = fds[1] = -1;
	while (!have_key || fds[0] < 0 || fds[1] < 0) {
		char buf[256];
		int fd, left = (int)(deadline - mover_now_ms());
		if (left <= 0) {
			log_warnx("no key or channels from migrd in time");
			return -1;
		}
		ssize_t n = ctl_recv(buf, sizeof(buf), &fd, left);
		if (n <= 0) {
			log_warnx("migrd went away before the move started");
			return -1;
		}
		unsigned ch;
		if (!strncmp(buf, "key ", 4) && strlen(buf + 4) == 2 * BULK_KEY_BYTES) {
			size_t got;
			have_key = sodium_hex2bin(key, BULK_KEY_BYTES, buf + 4, 2 * BULK_KEY_BYTES,
						  NULL, &got, NULL) == 0 && got == BULK_KEY_BYTES;
			sodium_memzero(buf, sizeof(buf));
		} else if (sscanf(buf, "channel %u", &ch) == 1 && ch < 2 && fd >= 0 &&
			   fds[ch] < 0) {
			fds[ch] = fd;
			fd = -1;
		} else if (!strcmp(buf, "abort")) {
			return -1;
		}
		if (fd >= 0)
			close(fd);
	}
	return 0;
}

/* ---- start ---- */

static void usage(void)
{
	fprintf(stderr, "usage: migr-move send|recv --gpid G --dir D ... (started by migrd; not "
			"meant to be run by hand)\n");
	exit(MOVER_EXIT_USAGE);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "gpid", required_argument, NULL, 'g' },
		{ "dir", required_argument, NULL, 'd' },
		{ "pid", required_argument, NULL, 'p' },
		{ "copy", no_argument, NULL, 'c' },
		{ "criu", required_argument, NULL, 'C' },
		{ "inherit", required_argument, NULL, 'i' },
		{ "pause-restore", required_argument, NULL, 'P' },
		{ "stop-restore", required_argument, NULL, 'S' },
		{ "node", required_argument, NULL, 'N' },
		{ "from-disk", required_argument, NULL, 'F' },
		{ "whole", required_argument, NULL, 'W' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct mover_opts o = { .criu = MIGR_CRIU_PATH, .node = "this node" };
	int ninherit = 0, c;
	if (argc < 2 || (strcmp(argv[1], "send") && strcmp(argv[1], "recv")))
		usage();
	int sending = !strcmp(argv[1], "send");
	optind = 2;
	while ((c = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		switch (c) {
		case 'g':
			o.gpid = optarg;
			break;
		case 'd':
			o.dir = optarg;
			break;
		case 'p':
			o.pid = (pid_t)atoi(optarg);
			break;
		case 'c':
			o.mode_copy = 1;
			break;
		case 'C':
			o.criu = optarg;
			break;
		case 'i':
			if (ninherit == 3)
				usage();
			o.inherit[ninherit++] = optarg;
			break;
		case 'P':
			o.pause_restore_ms = (unsigned)atoi(optarg);
			break;
		case 'S':
			o.stop_restore_ms = (unsigned)atoi(optarg);
			break;
		case 'N':
			o.node = optarg;
			break;
		case 'F':
			o.from_disk = optarg;
			break;
		case 'W':
			o.whole = 1;
			o.whole_kb = strtoull(optarg, NULL, 10);
			break;
		case 'v':
			o.verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (!o.gpid || !o.dir || (sending && o.pid <= 0 && !o.from_disk) ||
	    (!sending && ninherit != 3))
		usage();
	static char progname[96];
	snprintf(progname, sizeof(progname), "migr-move %s %s", argv[1], o.gpid);
	log_init(progname, 0, o.verbose);
	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		fatalx("libsodium does not start");
	return sending ? mover_send(&o) : mover_recv(&o);
}
