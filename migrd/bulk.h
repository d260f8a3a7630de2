/* bulk.h: a move's own encrypted channels between the source's and the destination's
 * helpers (migr-move): one for images and background pages, one for faults and the pages
 * that answer them, so that a fault never waits behind bulk data (as QEMU's postcopy
 * preempt channel does).
 *
 * Each channel is a TCP connection the two migrds opened and authenticated with the cluster
 * key (peers.c) and then handed to their helpers. From there frames are sealed with
 * AES-256-GCM (OpenSSL's: 2-2.75 GB/s a core here, twice libsodium's) under a key of the
 * move's own, which the destination drew and sent over the peer link: one key per channel
 * and direction, a counter as the nonce, so frames cannot be read, forged, replayed,
 * reordered or moved to the other channel. Frames are encrypted in place in the send buffer and
 * decrypted in place in the receive buffer: page contents are copied once on each side
 * (read into the buffer, copied out of it into the process). */
#ifndef MIGR_BULK_H
#define MIGR_BULK_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "msgbuf.h"

#define BULK_KEY_BYTES 32
#define BULK_FRAME_MAX (1024 * 1024 + 64)	/* plaintext of one frame */
#define BULK_TAG 16

enum bulk_channel { BULK_DATA = 0, BULK_FAULTS = 1 };

/* Frame types (the first plaintext byte). */
enum bulk_type {
	BF_HELLO = 1,		/* dst -> src, first on each channel: the key is right */
	BF_IMAGE = 2,		/* src -> dst: name, then a piece of an image file */
	BF_IMAGES_DONE = 3,	/* src -> dst */
	BF_PAGES = 4,		/* src -> dst: tag u32, vpid u32, addr u64, then the pages */
	BF_REQ = 5,		/* dst -> src: tag u32, vpid u32, addr u64, npages u32 */
	BF_DONE = 6,		/* dst -> src: every page is in; the source copy may go */
	BF_ABORT = 7,		/* either way: the move is off; text says why */
	BF_SENT = 8,		/* src -> dst: every page was pushed once */
	BF_GO = 9,		/* dst -> src: restored, every process known: push the memory */
};

struct bulk_chan {
	int fd;
	EVP_CIPHER_CTX *tx, *rx;	/* AES-256-GCM, each keyed for one direction */
	uint64_t tx_n, rx_n;		/* nonces: frames sent, received */
	struct outq out;		/* sealed frames not yet written */
	uint8_t *frame;			/* bulk_reserve(): the open frame */
	size_t frame_plain;
	struct inq in;			/* received, not yet opened */
	uint64_t bytes_in, bytes_out;
};

/* Derives this side's keys for the channel from the move key. */
int bulk_init(struct bulk_chan *c, int fd, const uint8_t key[BULK_KEY_BYTES], int channel,
	      int is_source);
void bulk_free(struct bulk_chan *c);

/* Opens a frame of type with a header of hlen bytes and room for dlen more: returns where
 * the dlen bytes go (the caller fills them, e.g. with pread), then bulk_seal() closes it. */
uint8_t *bulk_reserve(struct bulk_chan *c, uint8_t type, const void *hdr, size_t hlen,
		      size_t dlen);
void bulk_seal(struct bulk_chan *c);
/* A whole frame at once. */
void bulk_send(struct bulk_chan *c, uint8_t type, const void *hdr, size_t hlen, const void *data,
	       size_t dlen);
/* Writes what it can without blocking: 0 all written, 1 some left, -1 the link is gone. */
int bulk_flush(struct bulk_chan *c);
size_t bulk_unsent(const struct bulk_chan *c);

/* Reads what is there without blocking: 0, or -1 at EOF or on an error. */
int bulk_fill(struct bulk_chan *c);
/* The next whole frame, opened in place: 1 (type, payload, len set; valid until the next
 * call), 0 if none is complete yet, -1 if a frame fails authentication or is malformed. */
int bulk_next(struct bulk_chan *c, uint8_t *type, uint8_t **payload, size_t *len);
/* A whole frame waits in the receive buffer (bulk_next would return one). */
int bulk_has_frame(const struct bulk_chan *c);

#endif
