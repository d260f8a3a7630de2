/* bulk.c: a move's encrypted channels (see bulk.h). On the wire a frame is a little-endian
 * u32 (the sealed length), then the ciphertext and its 16-byte tag. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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
	memset(c, 0, sizeof(*c));
	if (sodium_init() < 0)
		return -1;
	c->fd = fd;
	c->aes = crypto_aead_aes256gcm_is_available();
	derive(c->tx_key, key, channel, is_source ? "s2d" : "d2s");
	derive(c->rx_key, key, channel, is_source ? "d2s" : "s2d");
	if (c->aes) {
		crypto_aead_aes256gcm_beforenm(&c->tx_aes, c->tx_key);
		crypto_aead_aes256gcm_beforenm(&c->rx_aes, c->rx_key);
	}
	c->in_cap = 4 + SEALED_MAX;
	c->in = xmalloc(c->in_cap);
	return 0;
}

void bulk_free(struct bulk_chan *c)
{
	sodium_memzero(c->tx_key, sizeof(c->tx_key));
	sodium_memzero(c->rx_key, sizeof(c->rx_key));
	sodium_memzero(&c->tx_aes, sizeof(c->tx_aes));
	sodium_memzero(&c->rx_aes, sizeof(c->rx_aes));
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
		if (c->out_off) {	/* slide what is left to the front first */
			memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
		}
		if (c->out_len + need > c->out_cap) {
			c->out_cap = c->out_len + need + SEALED_MAX;
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
	if (c->aes)
		crypto_aead_aes256gcm_encrypt_detached_afternm(f + 4, f + 4 + plain, NULL, f + 4,
							       plain, NULL, 0, NULL, nonce,
							       &c->tx_aes);
	else
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(f + 4, f + 4 + plain, NULL, f + 4,
								   plain, NULL, 0, NULL, nonce,
								   c->tx_key);
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
	if (c->in_off && c->in_off == c->in_len)
		c->in_off = c->in_len = 0;
	if (c->in_len == c->in_cap) {	/* room for the rest of the frame at hand */
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
	int r = c->aes ? crypto_aead_aes256gcm_decrypt_detached_afternm(
				 f + 4, NULL, f + 4, plain, f + 4 + plain, NULL, 0, nonce, &c->rx_aes)
		       : crypto_aead_chacha20poly1305_ietf_decrypt_detached(
				 f + 4, NULL, f + 4, plain, f + 4 + plain, NULL, 0, nonce, c->rx_key);
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
	/* the frame at hand must fit from the front of the buffer */
	if (c->in_off && c->in_off + 4 + SEALED_MAX > c->in_cap) {
		memmove(c->in, c->in + c->in_off, have);
		c->in_len = have;
		c->in_off = 0;
	}
	return 0;
}
