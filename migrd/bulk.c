/* bulk.c: a move's encrypted channels (see bulk.h). On the wire a frame is a little-endian
 * u32 (the sealed length), then the ciphertext and its 16-byte tag. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "bulk.h"
#include "xmalloc.h"

#define SEALED_MAX (BULK_FRAME_MAX + BULK_TAG)

static void derive(uint8_t out[32], const uint8_t key[BULK_KEY_BYTES], int channel,
		   const char *dir)
{
	char label[48];
	int n = snprintf(label, sizeof(label), "migr-bulk:%d:%s", channel, dir);
	crypto_generichash(out, 32, (const uint8_t *)label, (size_t)n, key, BULK_KEY_BYTES);
}

int bulk_init(struct bulk_chan *c, int fd, const uint8_t key[BULK_KEY_BYTES], int channel,
	      int is_source)
{
	uint8_t tx_key[32], rx_key[32];
	memset(c, 0, sizeof(*c));
	if (sodium_init() < 0)
		return -1;
	c->fd = fd;
	derive(tx_key, key, channel, is_source ? "s2d" : "d2s");
	derive(rx_key, key, channel, is_source ? "d2s" : "s2d");
	c->tx = EVP_CIPHER_CTX_new();
	c->rx = EVP_CIPHER_CTX_new();
	int ok = c->tx && c->rx &&
		 EVP_EncryptInit_ex(c->tx, EVP_aes_256_gcm(), NULL, tx_key, NULL) == 1 &&
		 EVP_DecryptInit_ex(c->rx, EVP_aes_256_gcm(), NULL, rx_key, NULL) == 1;
	sodium_memzero(tx_key, sizeof(tx_key));
	sodium_memzero(rx_key, sizeof(rx_key));
	/* room for several frames: the frame at hand is slid to the front seldom */
	c->in_cap = 4 * (4 + SEALED_MAX);
	c->in = xmalloc(c->in_cap);
	return ok ? 0 : -1;
}

void bulk_free(struct bulk_chan *c)
{
	EVP_CIPHER_CTX_free(c->tx);	/* clears the keys too */
	EVP_CIPHER_CTX_free(c->rx);
	c->tx = c->rx = NULL;
	free(c->out);
	free(c->in);
	c->out = c->in = NULL;
}

static void nonce_of(uint8_t nonce[12], uint64_t n)
{
	memset(nonce, 0, 12);
	for (int i = 0; i < 8; i++)
		nonce[i] = (uint8_t)(n >> (8 * i));
}

uint8_t *bulk_reserve(struct bulk_chan *c, uint8_t type, const void *hdr, size_t hlen,
		      size_t dlen)
{
	size_t need = 4 + 1 + hlen + dlen + BULK_TAG;
	if (1 + hlen + dlen > BULK_FRAME_MAX)
		abort();	/* callers size their frames */
	if (c->out_off && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + need > c->out_cap) {
		if (c->out_off >= c->out_len / 2) {	/* slide what is left to the front first */
			memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
		}
		if (c->out_len + need > c->out_cap) {
			c->out_cap = 2 * (c->out_len + need) + SEALED_MAX;
			c->out = xrealloc(c->out, c->out_cap);
		}
	}
	c->reserved = c->out_len;
	uint8_t *p = c->out + c->out_len + 4;
	p[0] = type;
	if (hlen)
		memcpy(p + 1, hdr, hlen);
	c->out_len += need;
	return p + 1 + hlen;
}

void bulk_seal(struct bulk_chan *c)
{
	uint8_t *f = c->out + c->reserved;
	size_t plain = c->out_len - c->reserved - 4 - BULK_TAG;
	uint32_t sealed = (uint32_t)(plain + BULK_TAG);
	uint8_t nonce[12];
	nonce_of(nonce, c->tx_n++);
	f[0] = (uint8_t)sealed;
	f[1] = (uint8_t)(sealed >> 8);
	f[2] = (uint8_t)(sealed >> 16);
	f[3] = (uint8_t)(sealed >> 24);
	/* in place: the 96-bit IV is the frame's number on this channel and direction */
	int len;
	if (EVP_EncryptInit_ex(c->tx, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(c->tx, f + 4, &len, f + 4, (int)plain) != 1 ||
	    EVP_EncryptFinal_ex(c->tx, f + 4 + len, &len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c->tx, EVP_CTRL_GCM_GET_TAG, BULK_TAG, f + 4 + plain) != 1)
		abort();	/* cannot happen with a keyed context; never send in the clear */
	c->bytes_out += plain;
}

void bulk_send(struct bulk_chan *c, uint8_t type, const void *hdr, size_t hlen, const void *data,
	       size_t dlen)
{
	uint8_t *p = bulk_reserve(c, type, hdr, hlen, dlen);
	if (dlen)
		memcpy(p, data, dlen);
	bulk_seal(c);
}

int bulk_flush(struct bulk_chan *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		if (n <= 0)
			return -1;
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	return 0;
}

size_t bulk_unsent(const struct bulk_chan *c)
{
	return c->out_len - c->out_off;
}

int bulk_fill(struct bulk_chan *c)
{
	/* a whole frame waits already: take it first (reading on would only pile up data
	 * to slide about) */
	if (bulk_has_frame(c))
		return 0;
	if (c->in_off && c->in_off == c->in_len)
		c->in_off = c->in_len = 0;
	if (c->in_cap - c->in_len < 4 + SEALED_MAX) {
		/* the part of a frame at hand goes to the front: room for the whole of it */
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	for (;;) {
		ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return -1;
		c->in_len += (size_t)n;
		return 0;
	}
}

int bulk_next(struct bulk_chan *c, uint8_t *type, uint8_t **payload, size_t *len)
{
	size_t have = c->in_len - c->in_off;
	uint8_t *f = c->in + c->in_off;
	if (have < 4)
		goto need_more;
	uint32_t sealed = (uint32_t)f[0] | (uint32_t)f[1] << 8 | (uint32_t)f[2] << 16 |
			  (uint32_t)f[3] << 24;
	if (sealed < BULK_TAG + 1 || sealed > SEALED_MAX)
		return -1;
	if (have < 4 + (size_t)sealed)
		goto need_more;
	size_t plain = sealed - BULK_TAG;
	uint8_t nonce[12];
	nonce_of(nonce, c->rx_n);
	int n, r = EVP_DecryptInit_ex(c->rx, NULL, NULL, NULL, nonce) == 1 &&
			   EVP_DecryptUpdate(c->rx, f + 4, &n, f + 4, (int)plain) == 1 &&
			   EVP_CIPHER_CTX_ctrl(c->rx, EVP_CTRL_GCM_SET_TAG, BULK_TAG,
					       f + 4 + plain) == 1 &&
			   EVP_DecryptFinal_ex(c->rx, f + 4 + n, &n) == 1
		    ? 0
		    : -1;
	if (r != 0)
		return -1;
	c->rx_n++;
	c->in_off += 4 + sealed;
	c->bytes_in += plain;
	*type = f[4];
	*payload = f + 5;
	*len = plain - 1;
	return 1;
need_more:
	/* the rest of the frame at hand must fit behind it: slide it to the front if not
	 * (seldom: only when the frame would run past the end of the buffer) */
	if (c->in_off) {
		size_t want = have < 4 ? 4 : 4 + ((size_t)f[0] | (size_t)f[1] << 8 |
						 (size_t)f[2] << 16 | (size_t)f[3] << 24);
		if (c->in_off + want > c->in_cap) {
			memmove(c->in, c->in + c->in_off, have);
			c->in_len = have;
			c->in_off = 0;
		}
	}
	return 0;
}

int bulk_has_frame(const struct bulk_chan *c)
{
	size_t have = c->in_len - c->in_off;
	const uint8_t *f = c->in + c->in_off;
	if (have < 4)
		return 0;
	size_t sealed = (size_t)f[0] | (size_t)f[1] << 8 | (size_t)f[2] << 16 | (size_t)f[3] << 24;
	return have >= 4 + sealed;
}
