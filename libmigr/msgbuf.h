/* msgbuf.h: buffering and framing, written once (as tmux's proc.c and OpenBSD's imsg do)
 * for everything that talks over a non-blocking descriptor: the peer connections, the
 * control socket, a job's stdio at its home, and a move's own channels.
 *
 * An outq holds bytes not yet written; they leave from the front as the descriptor takes
 * them, without being slid down at each write (the queue compacts itself only when what
 * left is more than what stays). An inq holds bytes read, from which whole frames
 * (proto.h) or length-prefixed records are taken in place; it never grows past the bound
 * its owner gives, so a peer cannot make it allocate more. Allocation cannot fail
 * (xmalloc). */
#ifndef MIGR_MSGBUF_H
#define MIGR_MSGBUF_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct outq {
	uint8_t *buf;
	size_t off, len, cap;	/* [off, len) waits to be written */
};

void outq_init(struct outq *q);
void outq_free(struct outq *q);
void outq_add(struct outq *q, const void *p, size_t n);
/* n bytes of room at the tail, for the caller to fill (e.g. encrypt in place); they are
 * queued at once. The pointer is good until the next call on q. */
uint8_t *outq_reserve(struct outq *q, size_t n);
size_t outq_pending(const struct outq *q);
/* Writes what fd takes now: 0 all written, 1 some left, -1 on an error (errno says). */
int outq_flush(struct outq *q, int fd);
void outq_clear(struct outq *q);

struct inq {
	uint8_t *buf;
	size_t off, len, cap;	/* [off, len) read, not yet taken */
	size_t max;		/* the largest whole record it must hold */
};

void inq_init(struct inq *q, size_t max);
void inq_free(struct inq *q);
/* A new bound (a peer that proved the cluster key may send bigger records). */
void inq_set_max(struct inq *q, size_t max);
/* One read: bytes read, 0 at EOF, -1 on an error or when nothing is there (errno says). */
ssize_t inq_fill(struct inq *q, int fd);
/* For a read of one's own (recvmsg): room for a whole record at the tail, then how much
 * of it was filled. */
uint8_t *inq_tail(struct inq *q, size_t *room);
void inq_grew(struct inq *q, size_t n);
size_t inq_avail(const struct inq *q);
/* Not const: a frame may be opened (decrypted) in place. */
uint8_t *inq_data(const struct inq *q);
void inq_consume(struct inq *q, size_t n);

/* The next whole frame (MIGR_FRAME_HDR bytes of header, then its payload): 1 with *h
 * decoded and the frame at inq_data() (consume MIGR_FRAME_HDR + h->len after use), 0 if it
 * is not whole yet, or the header's error (MIGR_EVERSION, MIGR_ETOOBIG, MIGR_EPROTO). A
 * frame longer than the queue's bound is MIGR_ETOOBIG. */
int inq_frame(struct inq *q, struct migr_frame_hdr *h);
/* The next whole record of a little-endian u32 length and that many bytes: 1 with *len
 * set and the record's bytes at inq_data() + 4, 0 if not whole yet, -1 if the length is
 * outside [min, the bound - 4]. */
int inq_record(struct inq *q, size_t min, uint32_t *len);

#endif
