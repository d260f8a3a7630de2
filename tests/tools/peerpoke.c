/* peerpoke: sends hostile input to a migrd, for the robustness tests.
 *   peerpoke random ADDR PORT       random bytes to the peer port
 *   peerpoke oversize ADDR PORT     a frame header claiming more than MIGR_FRAME_MAX
 *   peerpoke truncated ADDR PORT    a frame cut short, then hang up
 *   peerpoke badversion ADDR PORT   a frame of another protocol version
 *   peerpoke badtype ADDR PORT      a frame of an unknown type
 *   peerpoke hold ADDR PORT N       N connections that never say anything
 *   peerpoke flood ADDR PORT N SECONDS
 *                                   N idle connections kept open for SECONDS, each one
 *                                   made again as soon as the daemon closes it
 *   peerpoke replay-handshake ADDR PORT KEYFILE
 *                                   a real handshake, then the same client messages again
 *                                   on a new connection (the server's nonce is new)
 *   peerpoke replay-record ADDR PORT KEYFILE
 *                                   one authenticated gossip record, sent twice
 *   peerpoke bad-files ADDR PORT KEYFILE
 *                                   an authenticated MSG_MIG_FILES asking about a path
 *                                   that is not absolute
 *   peerpoke ctl-garbage SOCKET     random bytes to the control socket
 *   peerpoke ctl-oversize SOCKET    an oversized frame to the control socket
 *   peerpoke ctl-run-rlimit SOCKET RES CUR MAX CMD...
 *                                   a run request for CMD on this node asking for rlimit RES
 *                                   as CUR:MAX whatever the caller's own is; waits for the
 *                                   job and exits with its status
 * Prints what the daemon did: "closed" when it hung up on us, "open" when it did not within
 * the wait. Exits 0 unless the poke itself could not be made. */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "proto.h"

#define WAIT_MS 3000

static void die(const char *what)
{
	fprintf(stderr, "peerpoke: %s: %s\n", what, strerror(errno));
	exit(2);
}

static int tcp_connect(const char *addr, const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "peerpoke: %s: not an IPv4 address\n", addr);
		exit(2);
	}
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect");
	return fd;
}

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect");
	return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
	if (send(fd, p, n, MSG_NOSIGNAL) != (ssize_t)n && errno != EPIPE && errno != ECONNRESET)
		die("send");
}

/* Reads and drops input until the peer hangs up or WAIT_MS passes. */
static const char *outcome(int fd)
{
	uint8_t buf[4096];
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, WAIT_MS);
		if (r <= 0)
			return "open";
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return "closed";
	}
}

static void random_bytes(uint8_t *p, size_t n)
{
	FILE *f = fopen("/dev/urandom", "re");
	if (!f || fread(p, 1, n, f) != n)
		die("/dev/urandom");
	fclose(f);
}

static void raw_frame(int fd, uint8_t version, uint8_t type, uint32_t len, size_t send_len)
{
	uint8_t hdr[MIGR_FRAME_HDR];
	migr_hdr_encode(hdr, type, len);
	hdr[4] = version;
	send_all(fd, hdr, sizeof(hdr));
	uint8_t *body = calloc(1, send_len ? send_len : 1);
	send_all(fd, body, send_len);
	free(body);
}

/* Reads one clear frame (the handshake's); returns its payload length. */
static size_t read_frame(int fd, uint8_t *buf, size_t cap, struct migr_frame_hdr *h)
{
	size_t got = 0, want = MIGR_FRAME_HDR;
	while (got < want) {
		ssize_t n = read(fd, buf + got, want - got);
		if (n <= 0) {
			fprintf(stderr, "peerpoke: the daemon hung up during the handshake\n");
			exit(2);
		}
		got += (size_t)n;
		if (got == MIGR_FRAME_HDR) {
			if (migr_hdr_decode(buf, h) < 0 || MIGR_FRAME_HDR + h->len > cap) {
				fprintf(stderr, "peerpoke: bad frame from the daemon\n");
				exit(2);
			}
			want += h->len;
		}
	}
	return h->len;
}

/* A full client handshake; the client's own frames are appended to sent. */
static int handshake(const char *addr, const char *port, const struct migr_key *key,
		     struct migr_auth *a, struct mw *sent)
{
	uint8_t buf[4096];
	struct migr_frame_hdr h;
	struct mw out;
	int fd = tcp_connect(addr, port);
	migr_auth_init(a, 1, key, "peerpoke");
	mw_init(&out);
	migr_auth_hello(a, &out);
	send_all(fd, out.buf, out.len);
	mw_bytes(sent, out.buf, out.len);
	read_frame(fd, buf, sizeof(buf), &h);
	out.len = 0;
	if (migr_auth_step(a, h.type, buf + MIGR_FRAME_HDR, h.len, &out) < 0) {
		fprintf(stderr, "peerpoke: handshake failed: wrong key?\n");
		exit(2);
	}
	send_all(fd, out.buf, out.len);
	mw_bytes(sent, out.buf, out.len);
	mw_free(&out);
	return fd;
}

static void load_key(const char *path, struct migr_key *key)
{
	char err[256];
	if (migr_key_load(path, key, err, sizeof(err)) < 0) {
		fprintf(stderr, "peerpoke: %s\n", err);
		exit(2);
	}
}

static int replay_handshake(const char *addr, const char *port, const char *keyfile)
{
	struct migr_key key;
	struct migr_auth a;
	struct mw sent;
	load_key(keyfile, &key);
	mw_init(&sent);
	close(handshake(addr, port, &key, &a, &sent));
	/* same HELLO and AUTH bytes again: the AUTH answers an old challenge */
	int fd = tcp_connect(addr, port);
	uint8_t buf[4096];
	struct migr_frame_hdr h;
	struct migr_frame_hdr first;
	migr_hdr_decode(sent.buf, &first);
	size_t hello_len = MIGR_FRAME_HDR + first.len;
	send_all(fd, sent.buf, hello_len);
	read_frame(fd, buf, sizeof(buf), &h);
	send_all(fd, sent.buf + hello_len, sent.len - hello_len);
	printf("%s\n", outcome(fd));
	return 0;
}

static int replay_record(const char *addr, const char *port, const char *keyfile)
{
	struct migr_key key;
	struct migr_auth a;
	struct mw sent, frame, sealed;
	load_key(keyfile, &key);
	mw_init(&sent);
	int fd = handshake(addr, port, &key, &a, &sent);
	/* a goodbye in our own name: harmless to the cluster */
	struct migr_gossip_msg m = { .count = 1 };
	snprintf(m.entries[0].name, sizeof(m.entries[0].name), "peerpoke");
	snprintf(m.entries[0].addr, sizeof(m.entries[0].addr), "127.0.0.1");
	m.entries[0].port = 1;
	m.entries[0].status = GOSSIP_LEFT;
	m.entries[0].incarnation = 1;
	m.entries[0].heartbeat = 1;
	mw_init(&frame);
	mw_frame_begin(&frame, MSG_GOSSIP);
	migr_gossip_encode(&frame, &m);
	mw_frame_end(&frame);
	mw_init(&sealed);
	migr_auth_seal(&a, frame.buf, frame.len, &sealed);
	send_all(fd, sealed.buf, sealed.len);
	usleep(200000);
	send_all(fd, sealed.buf, sealed.len);	/* the replay */
	printf("%s\n", outcome(fd));
	return 0;
}

static int bad_files(const char *addr, const char *port, const char *keyfile)
{
	struct migr_key key;
	struct migr_auth a;
	struct mw sent, frame, sealed;
	load_key(keyfile, &key);
	mw_init(&sent);
	int fd = handshake(addr, port, &key, &a, &sent);
	mw_init(&frame);
	mw_frame_begin(&frame, MSG_MIG_FILES);
	mw_u32(&frame, 1);
	mw_str(&frame, "node1.1");
	mw_u16(&frame, 2);
	mw_str(&frame, "/etc/hostname");
	mw_str(&frame, "etc/shadow");
	mw_frame_end(&frame);
	mw_init(&sealed);
	migr_auth_seal(&a, frame.buf, frame.len, &sealed);
	send_all(fd, sealed.buf, sealed.len);
	printf("%s\n", outcome(fd));
	return 0;
}

/* Keeps n connections open, reconnecting each one the daemon closes (non-blocking, so a
 * full backlog does not stall the others). */
static int flood(const char *addr, const char *port, int n, int seconds)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 16) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		die("address");
	struct pollfd *pfd = calloc((size_t)n, sizeof(*pfd));
	unsigned long connects = 0, closed = 0;
	time_t end = time(NULL) + seconds;
	for (int i = 0; i < n; i++)
		pfd[i].fd = -1;
	while (time(NULL) < end) {
		for (int i = 0; i < n; i++) {
			if (pfd[i].fd >= 0)
				continue;
			int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
			if (fd < 0)
				break;
			if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
			    errno != EINPROGRESS) {
				close(fd);
				continue;
			}
			pfd[i].fd = fd;
			pfd[i].events = POLLIN;
			connects++;
		}
		if (poll(pfd, (nfds_t)n, 100) < 0)
			continue;
		for (int i = 0; i < n; i++) {
			if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			char buf[512];
			if (read(pfd[i].fd, buf, sizeof(buf)) > 0)
				continue;
			close(pfd[i].fd);
			pfd[i].fd = -1;
			closed++;
		}
	}
	printf("held %d connections for %d s: %lu connects, %lu closed by the daemon\n", n,
	       seconds, connects, closed);
	return 0;
}

/* A run request as a hostile client may send it: one rlimit of its choosing. */
static int run_with_rlimit(const char *sock, int res, uint64_t cur, uint64_t max, char **cmd)
{
	extern char **environ;
	struct migr_job_spec s;
	char cwd[4096];
	memset(&s, 0, sizeof(s));
	if (!getcwd(cwd, sizeof(cwd)))
		die("getcwd");
	snprintf(s.cwd, sizeof(s.cwd), "%s", cwd);
	s.umask = 022;
	s.nrlimits = 1;
	s.rlimits[0].resource = (uint8_t)res;
	s.rlimits[0].cur = cur;
	s.rlimits[0].max = max;
	migr_strv_from(&s.argv, cmd);
	migr_strv_from(&s.env, environ);
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, MSG_CTL_RUN);
	migr_job_spec_encode(&w, &s);
	mw_frame_end(&w);
	int fd = unix_connect(sock), fds[3] = { 0, 1, 2 };
	char cbuf[CMSG_SPACE(3 * sizeof(int))];
	memset(cbuf, 0, sizeof(cbuf));
	struct iovec iov = { .iov_base = w.buf, .iov_len = w.len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(3 * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	if (sendmsg(fd, &mh, 0) != (ssize_t)w.len)
		die("sendmsg");
	/* replies: the run reply, then the exit; the exit's payload is the status */
	for (;;) {
		uint8_t hdr[MIGR_FRAME_HDR], body[MIGR_FRAME_MAX];
		struct migr_frame_hdr h;
		if (recv(fd, hdr, sizeof(hdr), MSG_WAITALL) != (ssize_t)sizeof(hdr) ||
		    migr_hdr_decode(hdr, &h) < 0 ||
		    (h.len && recv(fd, body, h.len, MSG_WAITALL) != (ssize_t)h.len)) {
			fprintf(stderr, "peerpoke: lost the daemon\n");
			return 2;
		}
		if (h.type == MSG_CTL_ERROR) {
			int code;
			char msg[MIGR_ERRMSG_MAX + 1];
			migr_error_decode(body, h.len, &code, msg);
			fprintf(stderr, "peerpoke: %s\n", msg);
			return 2;
		}
		if (h.type == MSG_CTL_EXIT && h.len == 4)
			return body[0];
	}
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: peerpoke MODE ARGS... (see the source)\n");
		return 2;
	}
	const char *mode = argv[1];
	if (!strcmp(mode, "ctl-run-rlimit") && argc >= 7)
		return run_with_rlimit(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 0),
				       strtoull(argv[5], NULL, 0), argv + 6);
	if (!strncmp(mode, "ctl-", 4)) {
		int fd = unix_connect(argv[2]);
		if (!strcmp(mode, "ctl-garbage")) {
			uint8_t junk[512];
			random_bytes(junk, sizeof(junk));
			junk[4] = 0xff;	/* never a valid version */
			send_all(fd, junk, sizeof(junk));
		} else {
			raw_frame(fd, MIGR_PROTO_VERSION, MSG_CTL_NODES, 0x7fffffff, 0);
		}
		printf("%s\n", outcome(fd));
		return 0;
	}
	if (argc < 4) {
		fprintf(stderr, "peerpoke: %s: want ADDR PORT\n", mode);
		return 2;
	}
	const char *addr = argv[2], *port = argv[3];
	if (!strcmp(mode, "replay-handshake") && argc == 5)
		return replay_handshake(addr, port, argv[4]);
	if (!strcmp(mode, "replay-record") && argc == 5)
		return replay_record(addr, port, argv[4]);
	if (!strcmp(mode, "bad-files") && argc == 5)
		return bad_files(addr, port, argv[4]);
	if (!strcmp(mode, "flood") && argc == 6)
		return flood(addr, port, atoi(argv[4]), atoi(argv[5]));
	if (!strcmp(mode, "hold") && argc == 5) {
		int n = atoi(argv[4]);
		int *fds = calloc((size_t)n, sizeof(int));
		for (int i = 0; i < n; i++)
			fds[i] = tcp_connect(addr, port);
		int closed = 0;
		for (int i = 0; i < n; i++)
			closed += !strcmp(outcome(fds[i]), "closed");
		printf("%d of %d closed\n", closed, n);
		return 0;
	}
	int fd = tcp_connect(addr, port);
	if (!strcmp(mode, "random")) {
		uint8_t junk[4096];
		random_bytes(junk, sizeof(junk));
		junk[4] = 0xff;	/* never a valid version */
		send_all(fd, junk, sizeof(junk));
	} else if (!strcmp(mode, "oversize")) {
		raw_frame(fd, MIGR_PROTO_VERSION, MSG_HELLO, MIGR_FRAME_MAX + 1, 0);
	} else if (!strcmp(mode, "truncated")) {
		raw_frame(fd, MIGR_PROTO_VERSION, MSG_HELLO, 40, 10);
		shutdown(fd, SHUT_WR);
	} else if (!strcmp(mode, "badversion")) {
		raw_frame(fd, MIGR_PROTO_VERSION + 1, MSG_HELLO, 0, 0);
	} else if (!strcmp(mode, "badtype")) {
		raw_frame(fd, MIGR_PROTO_VERSION, 0xee, 0, 0);
	} else {
		fprintf(stderr, "peerpoke: %s: unknown mode\n", mode);
		return 2;
	}
	printf("%s\n", outcome(fd));
	return 0;
}
