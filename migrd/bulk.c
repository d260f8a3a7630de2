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
	inq_init(&c->in, 4 + SEALED_MAX);
	outq_init(&c->out);
	return ok ? 0 : -1;
}

void bulk_free(struct bulk_chan *c)
{
	EVP_CIPHER_CTX_free(c->tx);	/* clears the keys too */
	EVP_CIPHER_CTX_free(c->rx);
	c->tx = c->rx = NULL;
	outq_free(&c->out);
	inq_free(&c->in);
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
	if (1 + hlen + dlen > BULK_FRAME_MAX)
		abort();	/* callers size their frames */
	c->frame = outq_reserve(&c->out, 4 + 1 + hlen + dlen + BULK_TAG);
	c->frame_plain = 1 + hlen + dlen;
	uint8_t *p = c->frame + 4;
	p[0] = type;
	if (hlen)
		memcpy(p + 1, hdr, hlen);
	return p + 1 + hlen;
}

void bulk_seal(struct bulk_chan *c)
{
	uint8_t *f = c->frame;
	size_t plain = c->frame_plain;
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
	c->frame = NULL;
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
	return outq_flush(&c->out, c->fd);
}

size_t bulk_unsent(const struct bulk_chan *c)
{
	return outq_pending(&c->out);
}

int bulk_fill(struct bulk_chan *c)
{
	/* a whole frame waits already: take it first (reading on would only pile up data
	 * to slide about) */
	if (bulk_has_frame(c))
		return 0;
	ssize_t n = inq_fill(&c->in, c->fd);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	return n > 0 ? 0 : -1;
}

int bulk_next(struct bulk_chan *c, uint8_t *type, uint8_t **payload, size_t *len)
{
	uint32_t sealed;
	int r = inq_record(&c->in, BULK_TAG + 1, &sealed);
	if (r <= 0)
		return r;
	uint8_t *f = inq_data(&c->in);
	size_t plain = sealed - BULK_TAG;
	uint8_t nonce[12];
	nonce_of(nonce, c->rx_n);
	int n, ok = EVP_DecryptInit_ex(c->rx, NULL, NULL, NULL, nonce) == 1 &&
		    EVP_DecryptUpdate(c->rx, f + 4, &n, f + 4, (int)plain) == 1 &&
		    EVP_CIPHER_CTX_ctrl(c->rx, EVP_CTRL_GCM_SET_TAG, BULK_TAG, f + 4 + plain) == 1 &&
		    EVP_DecryptFinal_ex(c->rx, f + 4 + n, &n) == 1;
	if (!ok)
		return -1;
	c->rx_n++;
	/* taken now; the bytes stay put until the next read, which the caller does after */
	inq_consume(&c->in, 4 + sealed);
	c->bytes_in += plain;
	*type = f[4];
	*payload = f + 5;
	*len = plain - 1;
	return 1;
}

int bulk_has_frame(const struct bulk_chan *c)
{
	uint32_t sealed;
	return inq_record((struct inq *)&c->in, BULK_TAG + 1, &sealed) == 1;
}
