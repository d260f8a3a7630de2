/* client.c: the tools' side of the control socket: one request frame, one reply frame. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Sends a request; reads the reply into *payload (malloc'd). MSG_CTL_ERROR becomes
 * MIGR_EREFUSED with the daemon's words in c->error. */
static int call(struct migr_client *c, uint8_t type, const struct mw *req, uint8_t want,
		uint8_t **payload, size_t *len)
{
	struct mw w;
	uint8_t hdr[MIGR_FRAME_HDR];
	struct migr_frame_hdr h;

	mw_init(&w);
	mw_frame_begin(&w, type);
	if (req)
		mw_bytes(&w, req->buf, req->len);
	mw_frame_end(&w);
	int r = write_all(c->fd, w.buf, w.len);
	mw_free(&w);
	if (r < 0)
		return r;
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
