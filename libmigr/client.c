/* client.c: the tools' side of the control socket: one request frame, one reply frame. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "migr.h"
#include "proto.h"

#define CLIENT_TIMEOUT_S 10

struct migr_client {
	int fd;
	char error[MIGR_ERRMSG_MAX + 1];
	int error_code;		/* the daemon's code with it (-errno) */
};

const char *migr_socket_path(const char *path)
{
	if (path && *path)
		return path;
	const char *env = getenv("MIGR_SOCKET");
	return env && *env ? env : MIGR_DEFAULT_SOCKET;
}

int migr_connect(const char *path, struct migr_client **clientp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CLIENT_TIMEOUT_S };

	path = migr_socket_path(path);
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	struct migr_client *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;
		if (c->fd >= 0)
			close(c->fd);
		free(c);
		return err;
	}
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	*clientp = c;
	return 0;
}

void migr_close(struct migr_client *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c);
}

const char *migr_last_error(const struct migr_client *c)
{
	return c->error;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (r == 0)
			return -ECONNRESET;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Reads one frame; MSG_CTL_ERROR becomes MIGR_EREFUSED with the daemon's words. */
static int read_reply(struct migr_client *c, uint8_t want, uint8_t **payload, size_t *len)
{
	uint8_t hdr[MIGR_FRAME_HDR];
	struct migr_frame_hdr h;
	int r;
	if ((r = read_all(c->fd, hdr, sizeof(hdr))) < 0)
		return r;
	if ((r = migr_hdr_decode(hdr, &h)) < 0)
		return r;
	uint8_t *p = malloc(h.len ? h.len : 1);
	if (!p)
		return -ENOMEM;
	if ((r = read_all(c->fd, p, h.len)) < 0) {
		free(p);
		return r;
	}
	if (h.type == MSG_CTL_ERROR) {
		int code;
		r = migr_error_decode(p, h.len, &code, c->error);
		c->error_code = code;
		free(p);
		return r < 0 ? r : MIGR_EREFUSED;
	}
	if (h.type != want) {
		free(p);
		return MIGR_EPROTO;
	}
	*payload = p;
	*len = h.len;
	return 0;
}

/* Sends a request; reads the reply into *payload (malloc'd). MSG_CTL_ERROR becomes
 * MIGR_EREFUSED with the daemon's words in c->error. */
static int call(struct migr_client *c, uint8_t type, const struct mw *req, uint8_t want,
		uint8_t **payload, size_t *len)
{
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, type);
	if (req)
		mw_bytes(&w, req->buf, req->len);
	mw_frame_end(&w);
	int r = write_all(c->fd, w.buf, w.len);
	mw_free(&w);
	if (r < 0)
		return r;
	return read_reply(c, want, payload, len);
}

int migr_nodes(struct migr_client *c, struct migr_node **nodesp, size_t *countp)
{
	uint8_t *p;
	size_t n;
	int r = call(c, MSG_CTL_NODES, NULL, MSG_CTL_NODES_REPLY, &p, &n);
	if (r < 0)
		return r;
	r = migr_nodes_decode(p, n, nodesp, countp);
	free(p);
	return r;
}

int migr_status(struct migr_client *c, struct migr_status *s)
{
	uint8_t *p;
	size_t n;
	int r = call(c, MSG_CTL_STATUS, NULL, MSG_CTL_STATUS_REPLY, &p, &n);
	if (r < 0)
		return r;
	r = migr_status_decode(p, n, s);
	free(p);
	return r;
}

int migr_leave(struct migr_client *c)
{
	uint8_t *p;
	size_t n;
	int r = call(c, MSG_CTL_LEAVE, NULL, MSG_CTL_OK, &p, &n);
	if (r == 0)
		free(p);
	return r;
}

int migr_balance(struct migr_client *c, int on)
{
	uint8_t *p;
	size_t n;
	struct mw req;
	mw_init(&req);
	mw_u8(&req, on ? 1 : 0);
	int r = call(c, MSG_CTL_BALANCE, &req, MSG_CTL_OK, &p, &n);
	mw_free(&req);
	if (r == 0)
		free(p);
	return r;
}

int migr_drain(struct migr_client *c, const char *node, int drained)
{
	uint8_t *p;
	size_t n;
	if (!migr_name_valid(node))
		return -EINVAL;
	struct mw req;
	mw_init(&req);
	mw_str(&req, node);
	mw_u8(&req, drained ? MIGR_ADMIN_DRAINED : MIGR_ADMIN_ACTIVE);
	int r = call(c, MSG_CTL_DRAIN, &req, MSG_CTL_OK, &p, &n);
	mw_free(&req);
	if (r == 0)
		free(p);
	return r;
}

int migr_client_fd(const struct migr_client *c)
{
	return c->fd;
}

/* The caller's resource limits travel with the job. */
static void add_rlimits(struct migr_job_spec *s)
{
	for (int res = 0; res < RLIMIT_NLIMITS && s->nrlimits < JOB_RLIMITS_MAX; res++) {
		struct rlimit rl;
		if (getrlimit(res, &rl) < 0)
			continue;
		s->rlimits[s->nrlimits].resource = (uint8_t)res;
		s->rlimits[s->nrlimits].cur = rl.rlim_cur;
		s->rlimits[s->nrlimits].max = rl.rlim_max;
		s->nrlimits++;
	}
}

/* A run or attach request: the three descriptors ride on its first byte; the answer says
 * which job, and where it runs. */
static int send_with_fds(struct migr_client *c, const struct mw *w, const int fds[3],
			 struct migr_run_reply *reply)
{
	char cbuf[CMSG_SPACE(3 * sizeof(int))];
	memset(cbuf, 0, sizeof(cbuf));
	struct iovec iov = { .iov_base = w->buf, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(3 * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, 3 * sizeof(int));
	int r = sendmsg(c->fd, &mh, MSG_NOSIGNAL) == 1 ? 0 : -errno;
	if (r == 0)
		r = write_all(c->fd, w->buf + 1, w->len - 1);
	if (r < 0)
		return r;
	uint8_t *p;
	size_t n;
	if ((r = read_reply(c, MSG_CTL_RUN_REPLY, &p, &n)) < 0)
		return r;
	struct mr rd;
	mr_init(&rd, p, n);
	mr_str(&rd, reply->gpid, MIGR_GPID_MAX);
	mr_str(&rd, reply->node, MIGR_NAME_MAX);
	reply->pid = mr_u32(&rd);
	r = mr_end(&rd);
	free(p);
	return r;
}

int migr_run(struct migr_client *c, const struct migr_run_request *req,
	     struct migr_run_reply *reply)
{
	struct migr_job_spec s;
	struct mw w;
	memset(&s, 0, sizeof(s));
	snprintf(s.node, sizeof(s.node), "%s", req->node ? req->node : "");
	if (strlen(req->cwd) >= sizeof(s.cwd))
		return -ENAMETOOLONG;
	snprintf(s.cwd, sizeof(s.cwd), "%s", req->cwd);
	s.umask = req->umask & 0777;
	s.flags = req->flags;
	add_rlimits(&s);
	migr_strv_from(&s.argv, req->argv);
	migr_strv_from(&s.env, req->envp);
	mw_init(&w);
	mw_frame_begin(&w, MSG_CTL_RUN);
	migr_job_spec_encode(&w, &s);
	mw_frame_end(&w);
	migr_job_spec_free(&s);
	if (w.len - MIGR_FRAME_HDR > MIGR_FRAME_MAX) {
		mw_free(&w);
		return -E2BIG;
	}
	int r = send_with_fds(c, &w, req->fds, reply);
	mw_free(&w);
	return r;
}

int migr_attach(struct migr_client *c, const char *gpid, const int fds[3],
		struct migr_run_reply *reply)
{
	if (!migr_gpid_valid(gpid))
		return -EINVAL;
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, MSG_CTL_ATTACH);
	mw_str(&w, gpid);
	mw_frame_end(&w);
	int r = send_with_fds(c, &w, fds, reply);
	mw_free(&w);
	return r;
}

int migr_run_wait(struct migr_client *c, int *status)
{
	struct timeval none = { 0 };
	uint8_t *p;
	size_t n;
	/* a job may run for days: no receive timeout here */
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
	int r = read_reply(c, MSG_CTL_EXIT, &p, &n);
	if (r < 0)
		return r;
	struct mr rd;
	mr_init(&rd, p, n);
	*status = (int)mr_u32(&rd);
	r = mr_end(&rd);
	free(p);
	return r;
}

int migr_run_signal(struct migr_client *c, int sig)
{
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, MSG_CTL_SIGNAL);
	mw_u32(&w, (uint32_t)sig);
	mw_frame_end(&w);
	int r = write_all(c->fd, w.buf, w.len);
	mw_free(&w);
	return r;
}

int migr_kill(struct migr_client *c, const char *gpid, int sig)
{
	struct mw req;
	uint8_t *p;
	size_t n;
	if (!migr_gpid_valid(gpid))
		return -EINVAL;
	mw_init(&req);
	mw_str(&req, gpid);
	mw_u32(&req, (uint32_t)sig);
	int r = call(c, MSG_CTL_KILL, &req, MSG_CTL_OK, &p, &n);
	mw_free(&req);
	if (r == 0)
		free(p);
	return r;
}

static int migrate_call(struct migr_client *c, const char *gpid, const char *node, int mode,
			struct migr_move *move)
{
	struct mw req;
	uint8_t *p;
	size_t n;
	if (!migr_gpid_valid(gpid))
		return -EINVAL;
	/* a big move may take minutes; the daemon gives up first (after 825 s), and a fault
	 * is answered within seconds */
	struct timeval tv = { .tv_sec = 900 };
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	mw_init(&req);
	mw_str(&req, gpid);
	mw_str(&req, node);
	mw_u8(&req, (uint8_t)mode);
	int r = call(c, MSG_CTL_MIGRATE, &req, MSG_CTL_MIGRATE_REPLY, &p, &n);
	mw_free(&req);
	if (r < 0)
		return r;
	struct mr rd;
	mr_init(&rd, p, n);
	move->freeze_ms = mr_u32(&rd);
	move->total_ms = mr_u32(&rd);
	mr_str(&rd, move->node, MIGR_NAME_MAX);
	r = mr_end(&rd);
	free(p);
	return r;
}

int migr_migrate(struct migr_client *c, const char *gpid, const char *node, int mode,
		 struct migr_move *move)
{
	if (mode != MIGR_MODE_LAZY && mode != MIGR_MODE_COPY)
		return -EINVAL;
	return migrate_call(c, gpid, node, mode, move);
}

int migr_freeze(struct migr_client *c, const char *gpid, struct migr_move *move)
{
	return migrate_call(c, gpid, "", MIGR_CTL_MODE_FREEZE, move);
}

int migr_check(struct migr_client *c, const char *gpid, const char *node, char *why,
	       size_t whylen)
{
	struct mw req;
	uint8_t *p;
	size_t n;
	if (whylen)
		why[0] = '\0';
	if (!migr_gpid_valid(gpid))
		return -EINVAL;
	struct timeval tv = { .tv_sec = 30 };
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	mw_init(&req);
	mw_str(&req, gpid);
	mw_str(&req, node ? node : "");
	mw_u8(&req, MIGR_CTL_MODE_CHECK);
	int r = call(c, MSG_CTL_MIGRATE, &req, MSG_CTL_MIGRATE_REPLY, &p, &n);
	mw_free(&req);
	if (r == MIGR_EREFUSED && c->error_code == MIGR_CANTMOVE) {
		snprintf(why, whylen, "%s", c->error);
		return 1;
	}
	if (r < 0)
		return r;
	free(p);
	return 0;
}

#define PS_JOBS_MAX 1000000	/* a bound on what one answer may make us allocate */

/* The answer comes in pages: each says whether more follow; the last names the nodes that
 * did not answer in time. */
int migr_ps(struct migr_client *c, const char *node, struct migr_ps *ps)
{
	struct mw req;
	uint8_t *p;
	size_t n;
	memset(ps, 0, sizeof(*ps));
	mw_init(&req);
	mw_str(&req, node ? node : "");
	int r = call(c, MSG_CTL_PS, &req, MSG_CTL_PS_REPLY, &p, &n);
	mw_free(&req);
	for (;;) {
		if (r < 0)
			break;
		struct mr rd;
		struct migr_job *page;
		size_t count;
		mr_init(&rd, p, n);
		uint8_t more = mr_u8(&rd);
		r = rd.bad || more > 1 ? MIGR_EPROTO : migr_jobs_decode(&rd, &page, &count);
		if (r == 0 && ps->count + count > PS_JOBS_MAX) {
			free(page);
			r = MIGR_ETOOBIG;
		}
		if (r == 0) {
			struct migr_job *all = realloc(ps->jobs, (ps->count + count + 1) * sizeof(*all));
			if (all) {
				memcpy(all + ps->count, page, count * sizeof(*page));
				ps->jobs = all;
				ps->count += count;
			} else {
				r = -ENOMEM;
			}
			free(page);
		}
		if (r == 0 && !more) {
			uint32_t nm = mr_u32(&rd);
			if (nm <= MIGR_CTL_NODES_MAX) {
				ps->missing = calloc(nm ? nm : 1, sizeof(*ps->missing));
				for (uint32_t i = 0; i < nm && ps->missing; i++)
					mr_str(&rd, ps->missing[i], MIGR_NAME_MAX);
				ps->nmissing = nm;
			}
			if (!ps->missing || mr_end(&rd) < 0)
				r = MIGR_EPROTO;
		} else if (r == 0 && mr_end(&rd) < 0) {
			r = MIGR_EPROTO;
		}
		free(p);
		if (r < 0 || !more)
			break;
		r = read_reply(c, MSG_CTL_PS_REPLY, &p, &n);
	}
	if (r < 0)
		migr_ps_free(ps);
	return r;
}

void migr_ps_free(struct migr_ps *ps)
{
	free(ps->jobs);
	free(ps->missing);
	memset(ps, 0, sizeof(*ps));
}

const char *migr_node_state_name(int state)
{
	switch (state) {
	case MIGR_NODE_ALIVE:
		return "alive";
	case MIGR_NODE_SUSPECT:
		return "suspect";
	default:
		return "dead";
	}
}

const char *migr_node_admin_name(int admin)
{
	return admin == MIGR_ADMIN_DRAINED ? "drained" : "active";
}

const char *migr_strerror(int err)
{
	switch (err) {
	case MIGR_EPROTO:
		return "protocol error";
	case MIGR_EVERSION:
		return "protocol version mismatch";
	case MIGR_EAUTH:
		return "authentication failed (wrong cluster key?)";
	case MIGR_ETOOBIG:
		return "message too big";
	case MIGR_EREFUSED:
		return "request refused";
	case -ETIMEDOUT:
		return "daemon did not answer in time";
	default:
		return err < 0 ? strerror(-err) : "success";
	}
}
