/* tcppipe: a plain TCP byte pipe, the yardstick bench/migrate compares moves against.
 *   tcppipe recv PORT                 accept one connection, copy it to stdout until EOF
 *   tcppipe floor PORT                accept one connection, receive it into memory mapped
 *                                     fresh for it (what any move must fill once): the
 *                                     floor bench/migrate divides a move's total by
 *   tcppipe send ADDR PORT [BYTES]    send BYTES zero bytes (or stdin, to EOF), then wait
 *                                     until the receiver has read everything and closed
 * No encryption, no framing: what the link itself can carry. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHUNK (1 << 20)

static void die(const char *what)
{
	fprintf(stderr, "tcppipe: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int parse_port(const char *s)
{
	char *end;
	long port = strtol(s, &end, 10);
	if (*end || port < 1 || port > 65535) {
		fprintf(stderr, "tcppipe: %s: not a port\n", s);
		exit(2);
	}
	return (int)port;
}

static int do_recv(int port)
{
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (ls < 0)
		die("socket");
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 1) < 0)
		die("bind");
	int s = accept(ls, NULL, NULL);
	if (s < 0)
		die("accept");
	char *buf = malloc(CHUNK);
	if (!buf)
		die("malloc");
	ssize_t n;
	while ((n = read(s, buf, CHUNK)) > 0)
		if (write_all(1, buf, (size_t)n) < 0)
			die("stdout");
	if (n < 0)
		die("read");
	close(s);	/* tells the sender everything arrived */
	return 0;
}

/* The floor: the bytes land in fresh anonymous memory, as a move's pages must. */
static int do_floor(int port)
{
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (ls < 0)
		die("socket");
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 1) < 0)
		die("bind");
	int s = accept(ls, NULL, NULL);
	if (s < 0)
		die("accept");
	size_t cap = 64ul << 30;	/* address space only: pages come as bytes do */
	char *mem = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
			 MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	size_t at = 0;
	ssize_t n;
	while (at < cap && (n = read(s, mem + at, cap - at > CHUNK ? CHUNK : cap - at)) > 0)
		at += (size_t)n;
	close(s);
	munmap(mem, cap);
	return 0;
}

static int do_send(const char *addr, int port, const char *bytes)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "tcppipe: %s: not an IPv4 address\n", addr);
		return 2;
	}
	char *end = NULL;
	unsigned long long left = bytes ? strtoull(bytes, &end, 10) : 0;
	if (bytes && *end) {
		fprintf(stderr, "tcppipe: %s: not a byte count\n", bytes);
		return 2;
	}
	int s = -1;
	for (int tries = 0; tries < 100; tries++) {	/* the receiver may still be starting */
		s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0)
			die("socket");
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		close(s);
		s = -1;
		usleep(20000);
	}
	if (s < 0)
		die("connect");
	char *buf = calloc(1, CHUNK);
	if (!buf)
		die("malloc");
	if (bytes) {
		while (left > 0) {
			size_t n = left < CHUNK ? (size_t)left : CHUNK;
			if (write_all(s, buf, n) < 0)
				die("send");
			left -= n;
		}
	} else {
		ssize_t n;
		while ((n = read(0, buf, CHUNK)) > 0)
			if (write_all(s, buf, (size_t)n) < 0)
				die("send");
		if (n < 0)
			die("stdin");
	}
	shutdown(s, SHUT_WR);
	while (read(s, buf, CHUNK) > 0)	/* until the receiver closes */
		;
	close(s);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "recv"))
		return do_recv(parse_port(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "floor"))
		return do_floor(parse_port(argv[2]));
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "send"))
		return do_send(argv[2], parse_port(argv[3]), argc == 5 ? argv[4] : NULL);
	fprintf(stderr, "usage: tcppipe recv|floor PORT | tcppipe send ADDR PORT [BYTES]\n");
	return 2;
}
