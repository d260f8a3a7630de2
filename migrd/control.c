/* control.c: the control socket (see control.h). A bad frame closes that client's
 * connection and is logged; the daemon serves everyone else on. */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "admin.h"
#include "balance.h"
#include "control.h"
#include "job.h"
#include "jobs.h"
#include "log.h"
#include "loop.h"
#include "migrd.h"
#include "msgbuf.h"
#include "netlink.h"
#include "peers.h"
#include "xmalloc.h"

#define CLIENTS_MAX 128
/* a client's unsent replies: mps of 100,000 jobs is ~43 MB; beyond, it is not reading */
#define CLIENT_OUT_MAX (64 * 1024 * 1024)

struct client {
	uint64_t id;		/* jobs.c refers to clients by id: they may go at any time */
	int fd;
	struct ucred cred;
	struct inq in;		/* room for one whole frame */
	int fds[3];		/* descriptors received (SCM_RIGHTS), for a run request */
	int nfds;
	struct outq out;
	struct client *next;
};

static int ctl_fd = -1;
static unsigned nclients;
static uint64_t last_id;
static struct client *clients;

static struct client *client_find(uint64_t id)
{
	for (struct client *c = clients; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

static void client_close(struct client *c, const char *why)
{
	if (why)
		log_warnx("control: pid %d uid %d: %s", (int)c->cred.pid, (int)c->cred.uid, why);
	for (struct client **cp = &clients; *cp; cp = &(*cp)->next)
		if (*cp == c) {
			*cp = c->next;
			break;
		}
	jobs_client_gone(c->id);
	loop_del(c->fd);
	close(c->fd);
	for (int i = 0; i < c->nfds; i++)
		close(c->fds[i]);
	outq_free(&c->out);
	inq_free(&c->in);
	free(c);
	nclients--;
}

/* Queues a frame for a client, if it is still there, and writes what it can now. */
void control_send(uint64_t id, const struct mw *frame)
{
	struct client *c = client_find(id);
	if (!c)
		return;
	outq_add(&c->out, frame->buf, frame->len);
	/* written by the loop: the caller may be inside this client's own callback */
	loop_mod(c->fd, EPOLLIN | EPOLLOUT);
}

/* Replies queue behind what is still unsent: a client may send requests back to back. */
static void reply(struct client *c, struct mw *frame)
{
	control_send(c->id, frame);
	mw_free(frame);
}

void control_ok(uint64_t id)
{
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, MSG_CTL_OK);
	mw_frame_end(&w);
	control_send(id, &w);
	mw_free(&w);
}

static void reply_ok(struct client *c)
{
	control_ok(c->id);
}

void control_error(uint64_t id, int code, const char *fmt, ...)
{
	char msg[MIGR_ERRMSG_MAX + 1];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, MSG_CTL_ERROR);
	migr_error_encode(&w, code, msg);
	mw_frame_end(&w);
	control_send(id, &w);
	mw_free(&w);
}

static void node_of(const struct gossip_node *g, struct migr_node *n, uint64_t now)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", gossip_name(g));
	snprintf(n->addr, sizeof(n->addr), "%s", gossip_addr(g));
	n->port = g->port;
	n->state = g->state;
	n->load = g->vec.load_milli / 1000.0;
	n->cpus = g->vec.cpus_milli / 1000.0;
	n->mem_free_kb = g->vec.mem_free_kb;
	n->jobs = g->vec.jobs;
	n->incarnation = g->incarnation;
	n->age_ms = now > g->updated_at ? (uint32_t)(now - g->updated_at) : 0;
	n->admin = g->vec.admin;
}

static void do_nodes(struct client *c)
{
	struct gossip *g = &migrd.gossip;
	uint32_t count = g->count < MIGR_CTL_NODES_MAX ? g->count : MIGR_CTL_NODES_MAX;
	struct migr_node *nodes = xcalloc(count, sizeof(*nodes));
	uint64_t now = loop_now();
	for (uint32_t i = 0; i < count; i++)
		node_of(&g->nodes[i], &nodes[i], now);
	nodes[0].self = 1;
	/* as it is now, not as the last period's vector said */
	nodes[0].admin = admin_drained() ? MIGR_ADMIN_DRAINED : MIGR_ADMIN_ACTIVE;
	nodes[0].age_ms = 0;
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, MSG_CTL_NODES_REPLY);
	migr_nodes_encode(&w, nodes, count);
	mw_frame_end(&w);
	reply(c, &w);
	free(nodes);
}

static void do_status(struct client *c)
{
	struct migr_status s = { 0 };
	snprintf(s.name, sizeof(s.name), "%s", migrd.conf.node);
	snprintf(s.addr, sizeof(s.addr), "%s", migrd.conf.listen.addr);
	s.port = migrd.conf.listen.port;
	s.incarnation = migrd.incarnation;
	s.uptime_ms = loop_now() - migrd.started_at;
	s.nodes_alive = gossip_count_state(&migrd.gossip, MIGR_NODE_ALIVE);
	s.nodes_total = migrd.gossip.count;
	s.peers_connected = peers_connected();
	s.pid = (uint32_t)getpid();
	struct task_usage u;
	if (task_usage(getpid(), &u) == 0) {
		s.cpu_ns = u.cpu_ns;
		s.rss_kb = u.rss_kb;
	}
	s.load = migrd.load;
	s.cpus = migrd.conf.cpus;
	s.mem_free_kb = migrd.mem_free_kb;
	s.balance = balance_on();
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, MSG_CTL_STATUS_REPLY);
	migr_status_encode(&w, &s);
	mw_frame_end(&w);
	reply(c, &w);
}

static void do_leave(struct client *c)
{
	if (c->cred.uid != 0) {
		control_error(c->id, -EPERM, "leave: only root may take a node out of the cluster");
		return;
	}
	reply_ok(c);
	/* reply first: the shutdown closes this socket shortly */
	outq_flush(&c->out, c->fd);
	migrd_shutdown("leaving the cluster (mctl leave)");
}

/* The caller's supplementary groups, from the kernel, not from what it says. */
static int peer_groups(int fd, struct migr_job_spec *s)
{
	gid_t groups[JOB_GROUPS_MAX];
	socklen_t len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return -1;
	s->ngroups = (uint16_t)(len / sizeof(gid_t));
	for (uint16_t i = 0; i < s->ngroups; i++)
		s->groups[i] = groups[i];
	return 0;
}

/* A job gets at most the caller's own resource limits, whatever the request says: they are
 * the caller's at the time it connected, read from the kernel. */
static void clamp_rlimits(pid_t pid, struct migr_job_spec *s)
{
	uint64_t hard[JOB_RLIMITS_MAX];
	char path[64], line[256];
	int rows = 0;
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	FILE *f = fopen(path, "re");
	/* one header line, then a row per resource in the kernel's order; the hard limit sits
	 * in a fixed column, "unlimited" or a number */
	if (f && fgets(line, sizeof(line), f)) {
		while (rows < JOB_RLIMITS_MAX && fgets(line, sizeof(line), f)) {
			if (strlen(line) < 47)
				break;
			hard[rows] = strncmp(line + 47, "unlimited", 9) ? strtoull(line + 47, NULL, 10)
									 : UINT64_MAX;
			rows++;
		}
	}
	if (f)
		fclose(f);
	uint8_t kept = 0;
	for (uint8_t i = 0; i < s->nrlimits; i++) {
		struct migr_rlimit *rl = &s->rlimits[i];
		if (rl->resource >= rows)
			continue;	/* unknown here: the job keeps what it inherits */
		if (rl->max > hard[rl->resource])
			rl->max = hard[rl->resource];
		if (rl->cur > rl->max)
			rl->cur = rl->max;
		s->rlimits[kept++] = *rl;
	}
	s->nrlimits = kept;
}

static int do_run(struct client *c, struct mr *r)
{
	struct migr_job_spec s;
	if (c->nfds != 3 || migr_job_spec_decode(r, &s) < 0 || mr_end(r) < 0)
		return -1;
	s.uid = c->cred.uid;
	s.gid = c->cred.gid;
	clamp_rlimits(c->cred.pid, &s);
	if (peer_groups(c->fd, &s) < 0) {
		migr_job_spec_free(&s);
		return -1;
	}
	c->nfds = 0;	/* the job owns them now */
	jobs_run(c->id, &s, c->fds);
	return 0;
}

/* Returns -1 if the request is malformed. */
static int handle_request(struct client *c, const struct migr_frame_hdr *h, const uint8_t *p)
{
	struct mr r;
	char name[MIGR_GPID_MAX + 1];
	mr_init(&r, p, h->len);
	if (h->type != MSG_CTL_RUN && h->type != MSG_CTL_ATTACH && c->nfds)
		return -1;	/* descriptors only come with a run or attach request */
	switch (h->type) {
	case MSG_CTL_NODES:
	case MSG_CTL_STATUS:
	case MSG_CTL_LEAVE:
		if (h->len != 0)
			return -1;
		if (h->type == MSG_CTL_NODES)
			do_nodes(c);
		else if (h->type == MSG_CTL_STATUS)
			do_status(c);
		else
			do_leave(c);
		return 0;
	case MSG_CTL_RUN:
		return do_run(c, &r);
	case MSG_CTL_ATTACH:
		mr_str(&r, name, MIGR_GPID_MAX);
		if (c->nfds != 3 || mr_end(&r) < 0 || !migr_gpid_valid(name))
			return -1;
		c->nfds = 0;	/* the job's, or closed by jobs_attach */
		jobs_attach(c->id, c->cred.uid, name, c->fds);
		for (int i = 0; i < 3; i++)
			if (c->fds[i] >= 0)
				close(c->fds[i]);
		return 0;
	case MSG_CTL_SIGNAL: {
		uint32_t sig = mr_u32(&r);
		if (mr_end(&r) < 0 || sig == 0 || sig >= NSIG)
			return -1;
		jobs_client_signal(c->id, (int)sig);
		return 0;
	}
	case MSG_CTL_KILL: {
		mr_str(&r, name, MIGR_GPID_MAX);
		uint32_t sig = mr_u32(&r);
		if (mr_end(&r) < 0)
			return -1;
		jobs_kill(c->id, c->cred.uid, name, (int)sig);
		return 0;
	}
	case MSG_CTL_MIGRATE: {
		char dest[MIGR_NAME_MAX + 1];
		mr_str(&r, name, MIGR_GPID_MAX);
		mr_str(&r, dest, MIGR_NAME_MAX);
		uint8_t mode = mr_u8(&r);
		if (mr_end(&r) < 0 || mode > MIGR_CTL_MODE_FREEZE ||
		    (mode < MIGR_CTL_MODE_CHECK && !dest[0]))
			return -1;
		migrate_request(c->id, c->cred.uid, name, dest, mode);
		return 0;
	}
	case MSG_CTL_BALANCE: {
		uint8_t on = mr_u8(&r);
		if (mr_end(&r) < 0 || on > 1)
			return -1;
		if (c->cred.uid != 0) {
			control_error(c->id, -EPERM, "balance: only root may turn the balancer on or off");
			return 0;
		}
		balance_set(on, c->cred.uid);
		reply_ok(c);
		return 0;
	}
	case MSG_CTL_DRAIN: {
		mr_str(&r, name, MIGR_NAME_MAX);
		uint8_t admin = mr_u8(&r);
		if (mr_end(&r) < 0 || admin > MIGR_ADMIN_DRAINED || !migr_name_valid(name))
			return -1;
		admin_request(c->id, c->cred.uid, name, admin == MIGR_ADMIN_DRAINED);
		return 0;
	}
	case MSG_CTL_PS:
		mr_str(&r, name, MIGR_NAME_MAX);
		if (mr_end(&r) < 0)
			return -1;
		jobs_ps(c->id, name);
		return 0;
	default:
		return -1;
	}
}

/* Reads, keeping any descriptors that come along (at most three, for a run request). */
static ssize_t client_read(struct client *c)
{
	char cbuf[CMSG_SPACE(3 * sizeof(int))];
	size_t room;
	uint8_t *tail = inq_tail(&c->in, &room);
	struct iovec iov = { .iov_base = tail, .iov_len = room };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return n;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		int *fds = (int *)CMSG_DATA(cm);
		for (int i = 0; i < k; i++) {
			if (c->nfds < 3)
				c->fds[c->nfds++] = fds[i];
			else
				close(fds[i]);
		}
		if (k > 3)
			mh.msg_flags |= MSG_CTRUNC;
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		errno = EBADMSG;
		return -1;
	}
	inq_grew(&c->in, (size_t)n);
	return n;
}

static void client_io(int fd, uint32_t events, void *arg)
{
	struct client *c = arg;
	if (events & EPOLLIN) {
		ssize_t n = client_read(c);
		if (n < 0 && errno == EBADMSG) {
			client_close(c, "too many descriptors, closed");
			return;
		}
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			client_close(c, NULL);
			return;
		}
		for (;;) {
			struct migr_frame_hdr h;
			int r = inq_frame(&c->in, &h);
			if (r < 0) {
				char why[128];
				snprintf(why, sizeof(why), "bad frame (%s), closed", migr_strerror(r));
				client_close(c, why);
				return;
			}
			if (r == 0)
				break;
			if (handle_request(c, &h, inq_data(&c->in) + MIGR_FRAME_HDR) < 0) {
				char why[128];
				snprintf(why, sizeof(why), "malformed %s request, closed",
					 migr_msg_type_name(h.type));
				client_close(c, why);
				return;
			}
			inq_consume(&c->in, MIGR_FRAME_HDR + h.len);
		}
		if (outq_pending(&c->out) > CLIENT_OUT_MAX) {
			client_close(c, "not reading its replies, closed");
			return;
		}
	}
	if (outq_pending(&c->out) && outq_flush(&c->out, fd) < 0) {
		client_close(c, NULL);
		return;
	}
	loop_mod(fd, EPOLLIN | (outq_pending(&c->out) ? EPOLLOUT : 0));
}

static void accept_resume(void *arg)
{
	if (ctl_fd >= 0)
		loop_mod(ctl_fd, EPOLLIN);
}

static void control_accept(int fd, uint32_t events, void *arg)
{
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* the client stays queued and the socket readable: pause, do not spin */
			log_warn("control: accept");
			loop_mod(fd, 0);
			loop_timer_add(1000, 0, accept_resume, NULL);
		}
		return;
	}
	if (nclients >= CLIENTS_MAX) {
		log_warnx("control: too many clients, refused one");
		close(cfd);
		return;
	}
	struct client *c = xcalloc(1, sizeof(*c));
	c->fd = cfd;
	socklen_t len = sizeof(c->cred);
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) < 0) {
		close(cfd);
		free(c);
		return;
	}
	outq_init(&c->out);
	c->id = ++last_id;
	inq_init(&c->in, MIGR_FRAME_HDR + MIGR_FRAME_MAX);
	c->next = clients;
	clients = c;
	nclients++;
	loop_add(cfd, EPOLLIN, client_io, c);
}

void control_init(void)
{
	const char *path = migrd.conf.socket;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(migrd.conf.socket)];

	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			fatal("control socket directory %s", dir);
	}
	if (strlen(path) >= sizeof(sa.sun_path))
		fatalx("control socket %s: path too long", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* A socket file left by a daemon that died is stale; a live one answers. */
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		fatalx("control socket %s: another migrd is running", path);
	if (probe >= 0)
		close(probe);
	unlink(path);
	ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl_fd < 0)
		fatal("socket");
	if (bind(ctl_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fatal("control socket %s", path);
	/* Anyone may ask; SO_PEERCRED decides what they may do. */
	chmod(path, 0666);
	if (listen(ctl_fd, 64) < 0)
		fatal("listen %s", path);
	loop_add(ctl_fd, EPOLLIN, control_accept, NULL);
}

void control_close(void)
{
	if (ctl_fd < 0)
		return;
	while (clients)
		client_close(clients, NULL);
	loop_del(ctl_fd);
	close(ctl_fd);
	unlink(migrd.conf.socket);
	ctl_fd = -1;
}
