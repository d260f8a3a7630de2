/* peers.c: connections to other nodes (see peers.h). */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "migrd.h"
#include "msgbuf.h"
#include "peers.h"
#include "xmalloc.h"

#define PEERS_MAX 1024		/* authenticated connections, and our own outbound ones */
/* Connections that have not proved the cluster key get little: their own small cap, a few
 * per address, a tiny buffer and frame bound, and a short time. A flood of them can then
 * neither crowd out real peers nor cost more than a few hundred KB. */
#define PREAUTH_MAX 64
#define PREAUTH_PER_ADDR 8
#define PREAUTH_BUF 1024
#define PREAUTH_FRAME_MAX 256	/* the handshake's frames are well under this */
#define HANDSHAKE_TIMEOUT_MS 3000
#define IDLE_TIMEOUT_MS 120000
#define OUTQ_MAX (4 * 1024 * 1024)	/* bytes queued to one peer before we give up on it */
#define LOG_SUMMARY_MS 10000	/* refusals: a few lines, then one summary, per interval */
#define LOG_REFUSALS_MAX 5
#define ACCEPT_PAUSE_MS 1000	/* out of descriptors: stop accepting for a moment */

struct peer {
	int fd;
	int outbound;
	int connecting;
	char addr[MIGR_ADDR_MAX + 1];
	uint16_t port;
	char label[MIGR_ADDR_MAX + MIGR_NAME_MAX + 16];	/* for log lines */
	struct migr_auth auth;
	struct inq in;		/* received, not yet parsed: small until authenticated */
	struct outq out;	/* bytes ready for the socket */
	struct outq pending;	/* frames queued before the handshake finished */
	int preauth;		/* inbound, not yet authenticated: counts against PREAUTH_MAX */
	int dead;		/* closed; freed at the end of the loop round */
	/* a move's channel (bulk.h): authenticated here, then handed to the move */
	int bulk;		/* outbound: made for a move, never used for frames */
	int frames;		/* frames received since the handshake */
	peers_bulk_cb bulk_cb;
	void *bulk_arg;
	uint8_t *attach;	/* inbound: an attach request, handled once parsed */
	size_t attach_len;
	uint64_t opened_at, heard_at;
	struct peer *next;
};

static struct peer *peers, *dead_peers;
static unsigned npeers, npreauth;
static int listen_fd = -1;
static int free_scheduled;
static uint8_t plain[MIGR_FRAME_HDR + MIGR_FRAME_MAX];

/* Refusals are counted and summed up, never logged one by one: anyone who can reach the
 * port could otherwise fill the disk. */
static struct {
	unsigned logged, full, per_addr, handshake, no_fds;
	uint64_t since;
} refused;

/* Logs a stranger's refusal while few have been this interval; counts it always. */
static void log_refusal(unsigned *counter, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void log_refusal(unsigned *counter, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	(*counter)++;
	if (refused.logged >= LOG_REFUSALS_MAX)
		return;
	refused.logged++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s", msg);
}

static void peer_label(struct peer *p)
{
	const char *name = p->auth.state == AUTH_READY ? p->auth.peer : "?";
	snprintf(p->label, sizeof(p->label), "peer %s:%u (%s)", p->addr, p->port, name);
}

static void peers_free_dead(void *arg)
{
	free_scheduled = 0;
	while (dead_peers) {
		struct peer *p = dead_peers;
		dead_peers = p->next;
		migr_auth_clear(&p->auth);
		inq_free(&p->in);
		free(p->attach);
		outq_free(&p->out);
		outq_free(&p->pending);
		free(p);
	}
}

/* Closes at once; the memory waits for the end of the loop round, since a caller up the
 * stack (a frame being parsed, whose handler sent to this very peer) may still hold p. */
static void peer_close(struct peer *p, const char *why)
{
	if (p->dead)
		return;
	if (why && p->preauth)
		log_refusal(&refused.handshake, "%s: %s", p->label, why);
	else if (why)
		log_warnx("%s: %s", p->label, why);
	if (p->fd >= 0) {
		loop_del(p->fd);
		close(p->fd);
	}
	p->fd = -1;
	p->dead = 1;
	if (p->bulk_cb) {	/* a move's channel that never got through */
		peers_bulk_cb cb = p->bulk_cb;
		p->bulk_cb = NULL;
		cb(p->bulk_arg, -1);
	}
	for (struct peer **pp = &peers; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	npeers--;
	if (p->preauth)
		npreauth--;
	migr_auth_clear(&p->auth);
	p->next = dead_peers;
	dead_peers = p;
	if (!free_scheduled) {
		free_scheduled = 1;
		loop_timer_add(0, 0, peers_free_dead, NULL);
	}
}

/* Takes the connection out of our hands without closing it: a move's helper talks on it
 * from now on. The peer's memory waits for the end of the loop round, as a closed one's. */
static int peer_detach(struct peer *p)
{
	int fd = p->fd;
	loop_del(fd);
	p->fd = -1;
	p->bulk_cb = NULL;
	peer_close(p, NULL);
	return fd;
}

/* Outbound move channel: everything queued (the attach request) is written, then the
 * descriptor goes to the move. */
static void bulk_hand_over(struct peer *p)
{
	int r = 1;
	for (int tries = 0; tries < 100 && (r = outq_flush(&p->out, p->fd)) == 1; tries++) {
		struct pollfd w = { .fd = p->fd, .events = POLLOUT };
		poll(&w, 1, 10);
	}
	if (r != 0) {
		peer_close(p, "move channel: the attach request would not go out");
		return;
	}
	peers_bulk_cb cb = p->bulk_cb;
	void *arg = p->bulk_arg;
	int fd = peer_detach(p);
	cb(arg, fd);
}

static void want_write(struct peer *p)
{
	uint32_t ev = EPOLLIN;
	if (outq_pending(&p->out) || p->connecting)
		ev |= EPOLLOUT;
	loop_mod(p->fd, ev);
}

static void queue_plain(struct peer *p, const uint8_t *frame, size_t n)
{
	if (p->auth.state == AUTH_READY)
		migr_auth_seal_into(&p->auth, frame, n,
				    outq_reserve(&p->out, migr_auth_sealed_len(n)));
	else
		outq_add(&p->out, frame, n);
}

/* Seals the frames queued while the handshake ran. */
static void flush_pending(struct peer *p)
{
	const uint8_t *f = p->pending.buf + p->pending.off;
	size_t left = outq_pending(&p->pending);
	while (left >= MIGR_FRAME_HDR) {
		struct migr_frame_hdr h;
		migr_hdr_decode(f, &h);
		queue_plain(p, f, MIGR_FRAME_HDR + h.len);
		f += MIGR_FRAME_HDR + h.len;
		left -= MIGR_FRAME_HDR + h.len;
	}
	outq_free(&p->pending);
}

/* One frame, in the clear (handshake) or decrypted. Returns -1 if p was closed. */
static int handle_frame(struct peer *p, const uint8_t *f, size_t n)
{
	struct migr_frame_hdr h;
	int r = migr_hdr_decode(f, &h);
	if (r == 0 && h.len != n - MIGR_FRAME_HDR)
		r = MIGR_EPROTO;
	if (r < 0) {
		peer_close(p, migr_strerror(r));
		return -1;
	}
	if (p->auth.state != AUTH_READY) {
		struct mw reply;
		mw_init(&reply);
		r = migr_auth_step(&p->auth, h.type, f + MIGR_FRAME_HDR, h.len, &reply);
		if (r == 0 && reply.len)
			outq_add(&p->out, reply.buf, reply.len);
		mw_free(&reply);
		if (r < 0) {
			peer_close(p, r == MIGR_EAUTH ? "handshake: bad key, refused"
						      : "handshake: protocol error");
			return -1;
		}
		if (p->auth.state == AUTH_READY) {
			if (!strcmp(p->auth.peer, migrd.conf.node)) {
				peer_close(p, "handshake: the peer says it is this node, refused");
				return -1;
			}
			if (p->preauth) {
				p->preauth = 0;
				npreauth--;
			}
			/* proved the key: now room for whole sealed records */
			inq_set_max(&p->in, 4 + MIGR_SEALED_MAX);
			peer_label(p);
			log_debug("%s: authenticated", p->label);
			flush_pending(p);
			if (p->bulk) {
				bulk_hand_over(p);
				return -1;	/* no longer ours to parse */
			}
		}
		want_write(p);
		return 0;
	}
	if (h.type == MSG_BULK_ATTACH) {
		/* only as the first frame of a connection someone opened to us */
		if (p->outbound || p->frames++ != 0) {
			peer_close(p, "a move channel request out of place");
			return -1;
		}
		p->attach = xmalloc(h.len + 1);
		memcpy(p->attach, f + MIGR_FRAME_HDR, h.len);
		p->attach_len = h.len;
		return 0;
	}
	p->frames++;
	if (h.type == MSG_HELLO || h.type == MSG_HELLO_ACK || h.type == MSG_AUTH) {
		peer_close(p, "handshake message after the handshake");
		return -1;
	}
	r = migrd_peer_message(p->auth.peer, h.type, f + MIGR_FRAME_HDR, h.len);
	if (p->dead)
		return -1;	/* its handler sent to it, over its queue bound */
	if (r < 0) {
		char why[160];
		snprintf(why, sizeof(why), "bad %s message (%s), closed",
			 migr_msg_type_name(h.type), migr_strerror(r));
		peer_close(p, why);
		return -1;
	}
	return 0;
}

/* Parses what has arrived. Before the handshake frames are in the clear; after it each is
 * a sealed record [u32 length][ciphertext]. Returns -1 if p was closed. */
static int parse_input(struct peer *p)
{
	for (;;) {
		if (p->auth.state != AUTH_READY) {
			struct migr_frame_hdr h;
			int r = inq_frame(&p->in, &h);
			if (r >= 0 && inq_avail(&p->in) >= MIGR_FRAME_HDR && h.len > PREAUTH_FRAME_MAX)
				r = MIGR_ETOOBIG;
			if (r < 0) {
				peer_close(p, migr_strerror(r));
				return -1;
			}
			if (r == 0)
				break;
			/* taken first: the bytes stay put until the next read */
			uint8_t *f = inq_data(&p->in);
			inq_consume(&p->in, MIGR_FRAME_HDR + h.len);
			if (handle_frame(p, f, MIGR_FRAME_HDR + h.len) < 0)
				return -1;
		} else {
			uint32_t clen;
			int r = inq_record(&p->in, MIGR_FRAME_HDR, &clen);
			if (r < 0) {
				peer_close(p, "sealed record with a bad length");
				return -1;
			}
			if (r == 0)
				break;
			uint8_t *c = inq_data(&p->in) + 4;
			inq_consume(&p->in, 4 + clen);
			int n = migr_auth_open(&p->auth, c, clen, plain);
			if (n < MIGR_FRAME_HDR) {
				peer_close(p, "record fails authentication (forged, replayed or corrupt)");
				return -1;
			}
			if (handle_frame(p, plain, (size_t)n) < 0)
				return -1;
			if (p->attach) {
				/* nothing may follow until the move's helper speaks */
				if (inq_avail(&p->in)) {
					peer_close(p, "data after a move channel request");
					return -1;
				}
				char from[MIGR_NAME_MAX + 1];
				snprintf(from, sizeof(from), "%s", p->auth.peer);
				uint8_t *req = p->attach;
				size_t len = p->attach_len;
				p->attach = NULL;
				int fd = peer_detach(p);
				if (migrd_bulk_attach(from, req, len, fd) < 0)
					close(fd);
				free(req);
				return -1;
			}
		}
	}
	return 0;
}

static void peer_io(int fd, uint32_t events, void *arg)
{
	struct peer *p = arg;

	if (p->connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		int err = 0;
		socklen_t len = sizeof(err);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			log_debug("%s: connect: %s", p->label, strerror(err));
			peer_close(p, NULL);
			return;
		}
		p->connecting = 0;
	}
	if (events & EPOLLIN) {
		/* room for one whole sealed record plus its length (a handshake frame before) */
		ssize_t n = inq_fill(&p->in, fd);
		if (n == 0) {
			/* A peer that hangs up after our challenge could not answer it. */
			if (p->auth.state == AUTH_WAIT_AUTH)
				peer_close(p, "refused: closed without proving the cluster key");
			else
				peer_close(p, NULL);
			return;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			log_debug("%s: read: %s", p->label, strerror(errno));
			peer_close(p, NULL);
			return;
		}
		if (n > 0) {
			p->heard_at = loop_now();
			if (parse_input(p) < 0)
				return;
		}
	}
	if (outq_pending(&p->out) && !p->connecting && outq_flush(&p->out, fd) < 0) {
		log_debug("%s: write: %s", p->label, strerror(errno));
		peer_close(p, NULL);
		return;
	}
	want_write(p);
}

static struct peer *peer_new(int fd, int outbound, const char *addr, uint16_t port)
{
	struct peer *p = xcalloc(1, sizeof(*p));
	p->fd = fd;
	p->outbound = outbound;
	snprintf(p->addr, sizeof(p->addr), "%s", addr);
	p->port = port;
	inq_init(&p->in, PREAUTH_BUF);
	outq_init(&p->out);
	outq_init(&p->pending);
	p->opened_at = p->heard_at = loop_now();
	migr_auth_init(&p->auth, outbound, &migrd.key, migrd.conf.node);
	peer_label(p);
	p->next = peers;
	peers = p;
	npeers++;
	loop_add(fd, EPOLLIN | EPOLLOUT, peer_io, p);
	return p;
}

static int sockaddr_of(const char *addr, uint16_t port, struct sockaddr_storage *ss,
		       socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

static struct peer *peer_connect(const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (sockaddr_of(addr, port, &ss, &len) < 0 || npeers >= PEERS_MAX)
		return NULL;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_warn("socket");
		return NULL;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
		log_debug("connect %s:%u: %s", addr, port, strerror(errno));
		close(fd);
		return NULL;
	}
	struct peer *p = peer_new(fd, 1, addr, port);
	p->connecting = 1;
	struct mw hello;
	mw_init(&hello);
	migr_auth_hello(&p->auth, &hello);
	outq_add(&p->out, hello.buf, hello.len);
	mw_free(&hello);
	return p;
}

void peers_send(const char *addr, uint16_t port, const struct mw *frame)
{
	struct peer *p;
	if (frame->len > MIGR_FRAME_HDR + MIGR_FRAME_MAX) {
		/* the receiver would drop the link and everything on it: callers check sizes,
		 * so this is a bug, logged and not sent */
		log_warnx("peer %s:%u: not sending a %s frame of %zu bytes, over the bound", addr,
			  port, migr_msg_type_name(frame->buf[5]), frame->len);
		return;
	}
	for (p = peers; p; p = p->next)
		if (p->outbound && !p->bulk && p->port == port && !strcmp(p->addr, addr))
			break;
	if (!p && !(p = peer_connect(addr, port)))
		return;
	if (outq_pending(&p->out) + outq_pending(&p->pending) > OUTQ_MAX) {
		peer_close(p, "send queue full: peer not reading, dropped");
		return;
	}
	if (p->auth.state == AUTH_READY)
		queue_plain(p, frame->buf, frame->len);
	else
		outq_add(&p->pending, frame->buf, frame->len);
	want_write(p);
}

static void accept_resume(void *arg)
{
	if (listen_fd >= 0)
		loop_mod(listen_fd, EPOLLIN);
}

static unsigned preauth_from(const char *addr)
{
	unsigned n = 0;
	for (struct peer *p = peers; p; p = p->next)
		n += p->preauth && !strcmp(p->addr, addr);
	return n;
}

static void peers_accept(int fd, uint32_t events, void *arg)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int c = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* the connection stays queued and the socket readable: do not spin */
			log_refusal(&refused.no_fds, "peers: accept: %s: pausing for %d ms",
				    strerror(errno), ACCEPT_PAUSE_MS);
			loop_mod(fd, 0);
			loop_timer_add(ACCEPT_PAUSE_MS, 0, accept_resume, NULL);
		}
		return;
	}
	char addr[INET6_ADDRSTRLEN] = "?";
	uint16_t port = 0;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
		port = ntohs(sin->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr));
		port = ntohs(sin6->sin6_port);
	}
	if (npreauth >= PREAUTH_MAX || npeers >= PEERS_MAX) {
		log_refusal(&refused.full, "peer %s:%u: too many unauthenticated connections, "
			    "refused", addr, port);
		close(c);
		return;
	}
	if (preauth_from(addr) >= PREAUTH_PER_ADDR) {
		log_refusal(&refused.per_addr, "peer %s:%u: too many unauthenticated connections "
			    "from %s, refused", addr, port, addr);
		close(c);
		return;
	}
	int one = 1;
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct peer *p = peer_new(c, 0, addr, port);
	p->preauth = 1;
	npreauth++;
}

/* One line for every refusal since the last: strangers cannot make the log grow fast. */
static void log_refusals(uint64_t now)
{
	if (now - refused.since < LOG_SUMMARY_MS)
		return;
	if (refused.full + refused.per_addr + refused.handshake + refused.no_fds > refused.logged)
		log_warnx("peers: in the last %llu s refused %u connections (at most %d "
			  "unauthenticated, %d per address: %u over those), %u failed or timed-out "
			  "handshakes, %u accepts without a free descriptor",
			  (unsigned long long)(now - refused.since) / 1000,
			  refused.full + refused.per_addr, PREAUTH_MAX, PREAUTH_PER_ADDR,
			  refused.per_addr, refused.handshake, refused.no_fds);
	memset(&refused, 0, sizeof(refused));
	refused.since = now;
}

/* Closes connections stuck in the handshake or silent for long. */
static void peers_sweep(void *arg)
{
	uint64_t now = loop_now();
	log_refusals(now);
	struct peer *p = peers;
	while (p) {
		struct peer *next = p->next;
		if (p->auth.state != AUTH_READY && now - p->opened_at > HANDSHAKE_TIMEOUT_MS)
			peer_close(p, "handshake timed out");
		else if (!p->outbound && now - p->heard_at > IDLE_TIMEOUT_MS)
			peer_close(p, NULL);
		p = next;
	}
}

void peers_init(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const struct migr_endpoint *l = &migrd.conf.listen;
	if (sockaddr_of(l->addr, l->port, &ss, &len) < 0)
		fatalx("listen %s: not an address", l->addr);
	listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (listen_fd < 0)
		fatal("socket");
	int one = 1;
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(listen_fd, (struct sockaddr *)&ss, len) < 0)
		fatal("listen %s port %u", l->addr, l->port);
	if (listen(listen_fd, 256) < 0)
		fatal("listen");
	loop_add(listen_fd, EPOLLIN, peers_accept, NULL);
	refused.since = loop_now();
	loop_timer_add(1000, 1000, peers_sweep, NULL);
}

size_t peers_pending(const char *addr, uint16_t port)
{
	for (struct peer *p = peers; p; p = p->next)
		if (p->outbound && !p->bulk && p->port == port && !strcmp(p->addr, addr))
			return outq_pending(&p->out) + outq_pending(&p->pending);
	return 0;
}

unsigned peers_connected(void)
{
	unsigned n = 0;
	for (struct peer *p = peers; p; p = p->next)
		n += p->auth.state == AUTH_READY && !p->bulk;
	return n;
}

void peers_close_all(void)
{
	/* flush what we can (a goodbye), then close */
	for (struct peer *p = peers; p; p = p->next)
		if (outq_pending(&p->out) && !p->connecting)
			outq_flush(&p->out, p->fd);
	while (peers)
		peer_close(peers, NULL);
	peers_free_dead(NULL);
	if (listen_fd >= 0) {
		loop_del(listen_fd);
		close(listen_fd);
		listen_fd = -1;
	}
}

int peers_bulk_open(const char *addr, uint16_t port, const struct mw *attach, peers_bulk_cb cb,
		    void *arg)
{
	if (attach->len > MIGR_FRAME_HDR + MIGR_FRAME_MAX)
		return -1;
	struct peer *p = peer_connect(addr, port);
	if (!p)
		return -1;
	p->bulk = 1;
	p->bulk_cb = cb;
	p->bulk_arg = arg;
	outq_add(&p->pending, attach->buf, attach->len);
	return 0;
}
