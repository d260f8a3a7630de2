/* msgbuf.c: output queues and input buffers (see msgbuf.h). */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msgbuf.h"
#include "xmalloc.h"

void outq_init(struct outq *q)
{
	memset(q, 0, sizeof(*q));
}

void outq_free(struct outq *q)
{
	free(q->buf);
	memset(q, 0, sizeof(*q));
}

void outq_clear(struct outq *q)
{
	q->off = q->len = 0;
}

uint8_t *outq_reserve(struct outq *q, size_t n)
{
	if (q->off == q->len)
		q->off = q->len = 0;
	if (q->len + n > q->cap) {
		/* what left is more than what stays: slide the rest down rather than grow */
		if (q->off && q->off >= q->len - q->off) {
			memmove(q->buf, q->buf + q->off, q->len - q->off);
			q->len -= q->off;
			q->off = 0;
		}
		if (q->len + n > q->cap) {
			q->cap = 2 * (q->len + n);
			q->buf = xrealloc(q->buf, q->cap);
		}
	}
	uint8_t *p = q->buf + q->len;
	q->len += n;
	return p;
}

void outq_add(struct outq *q, const void *p, size_t n)
{
	if (n)
		memcpy(outq_reserve(q, n), p, n);
}

size_t outq_pending(const struct outq *q)
{
	return q->len - q->off;
}

int outq_flush(struct outq *q, int fd)
{
	while (q->off < q->len) {
		/* write, not send: the queue also serves pipes and terminals; migrd and the
		 * helpers ignore SIGPIPE */
		ssize_t n = write(fd, q->buf + q->off, q->len - q->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		if (n <= 0) {
			if (n == 0)
				errno = EPIPE;
			return -1;
		}
		q->off += (size_t)n;
	}
	q->off = q->len = 0;
	return 0;
}

void inq_init(struct inq *q, size_t max)
{
	memset(q, 0, sizeof(*q));
	q->max = max;
}

void inq_free(struct inq *q)
{
	free(q->buf);
	memset(q, 0, sizeof(*q));
}

void inq_set_max(struct inq *q, size_t max)
{
	q->max = max;
}

uint8_t *inq_tail(struct inq *q, size_t *room)
{
	if (q->off == q->len)
		q->off = q->len = 0;
	/* room for a whole record of the largest kind behind what is here */
	if (q->cap - q->len < q->max) {
		if (q->off) {
			memmove(q->buf, q->buf + q->off, q->len - q->off);
			q->len -= q->off;
			q->off = 0;
		}
		if (q->cap - q->len < q->max) {
			q->cap = q->len + q->max;
			q->buf = xrealloc(q->buf, q->cap);
		}
	}
	*room = q->cap - q->len;
	return q->buf + q->len;
}

void inq_grew(struct inq *q, size_t n)
{
	q->len += n;
}

ssize_t inq_fill(struct inq *q, int fd)
{
	size_t room;
	uint8_t *tail = inq_tail(q, &room);
	for (;;) {
		ssize_t n = read(fd, tail, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0)
			inq_grew(q, (size_t)n);
		return n;
	}
}

size_t inq_avail(const struct inq *q)
{
	return q->len - q->off;
}

uint8_t *inq_data(const struct inq *q)
{
	return q->buf + q->off;
}

void inq_consume(struct inq *q, size_t n)
{
	q->off += n < q->len - q->off ? n : q->len - q->off;
	if (q->off == q->len)
		q->off = q->len = 0;
}

int inq_frame(struct inq *q, struct migr_frame_hdr *h)
{
	if (inq_avail(q) < MIGR_FRAME_HDR)
		return 0;
	int r = migr_hdr_decode(inq_data(q), h);
	if (r < 0)
		return r;
	if (MIGR_FRAME_HDR + (size_t)h->len > q->max)
		return MIGR_ETOOBIG;
	return inq_avail(q) >= MIGR_FRAME_HDR + (size_t)h->len;
}

int inq_record(struct inq *q, size_t min, uint32_t *len)
{
	const uint8_t *p = inq_data(q);
	if (inq_avail(q) < 4)
		return 0;
	uint32_t n = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		     (uint32_t)p[3] << 24;
	if (n < min || (size_t)n + 4 > q->max)
		return -1;
	*len = n;
	return inq_avail(q) >= 4 + (size_t)n;
}
