/* auth.c: cluster key files, the peer handshake and the encrypted stream (see auth.h). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"

typedef crypto_secretstream_xchacha20poly1305_state stream_state;
#define HDR_BYTES crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define MAC_BYTES crypto_auth_hmacsha256_BYTES

int migr_key_load(const char *path, struct migr_key *key, char *err, size_t errlen)
{
	char hex[2 * MIGR_KEY_BYTES + 2];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	/* whoever else owns or can read it holds root on every node */
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s: owned by uid %u, not root: chown root it", path,
			 (unsigned)st.st_uid);
		close(fd);
		return -EPERM;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s: readable by others (mode %04o): chmod 600 it", path,
			 (unsigned)(st.st_mode & 07777));
		close(fd);
		return -EPERM;
	}
	ssize_t n = read(fd, hex, sizeof(hex));
	close(fd);
	while (n > 0 && (hex[n - 1] == '\n' || hex[n - 1] == '\r'))
		n--;
	size_t got = 0;
	int r = 0;
	if (n != 2 * MIGR_KEY_BYTES ||
	    sodium_hex2bin(key->k, sizeof(key->k), hex, (size_t)n, NULL, &got, NULL) < 0 ||
	    got != MIGR_KEY_BYTES) {
		snprintf(err, errlen, "%s: not a cluster key (want %d hex digits)", path,
			 2 * MIGR_KEY_BYTES);
		r = -EINVAL;
	}
	sodium_memzero(hex, sizeof(hex));
	return r;
}

int migr_key_generate(const char *path)
{
	struct migr_key key;
	char hex[2 * MIGR_KEY_BYTES + 1];
	if (sodium_init() < 0)
		return -EIO;
	randombytes_buf(key.k, sizeof(key.k));
	sodium_bin2hex(hex, sizeof(hex), key.k, sizeof(key.k));
	sodium_memzero(&key, sizeof(key));
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	hex[2 * MIGR_KEY_BYTES] = '\n';
	ssize_t n = write(fd, hex, sizeof(hex));
	int err = n == (ssize_t)sizeof(hex) ? 0 : -EIO;
	if (close(fd) < 0 && !err)
		err = -errno;
	sodium_memzero(hex, sizeof(hex));
	return err;
}

int migr_auth_init(struct migr_auth *a, int is_client, const struct migr_key *key,
		   const char *self)
{
	if (sodium_init() < 0)
		return -EIO;
	memset(a, 0, sizeof(*a));
	a->is_client = is_client;
	a->state = AUTH_START;
	a->key = *key;
	snprintf(a->self, sizeof(a->self), "%s", self);
	return 0;
}

void migr_auth_clear(struct migr_auth *a)
{
	sodium_memzero(a, sizeof(*a));
}

/* The MAC over everything both sides said; role keeps the two MACs distinct. */
static void transcript_mac(const struct migr_auth *a, const char *role,
			   uint8_t mac[MAC_BYTES])
{
	const char *cname = a->is_client ? a->self : a->peer;
	const char *sname = a->is_client ? a->peer : a->self;
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, a->key.k, sizeof(a->key.k));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)"migr-v1 ", 8);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)role, strlen(role) + 1);
	crypto_auth_hmacsha256_update(&st, a->nonce_c, sizeof(a->nonce_c));
	crypto_auth_hmacsha256_update(&st, a->nonce_s, sizeof(a->nonce_s));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)cname, strlen(cname) + 1);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)sname, strlen(sname) + 1);
	crypto_auth_hmacsha256_final(&st, mac);
}

static int mac_ok(const struct migr_auth *a, const char *role, const uint8_t mac[MAC_BYTES])
{
	uint8_t want[MAC_BYTES];
	transcript_mac(a, role, want);
	return sodium_memcmp(want, mac, MAC_BYTES) == 0;
}

/* One key per direction, from the cluster key and both nonces. */
static void direction_key(const struct migr_auth *a, const char *dir,
			  uint8_t out[crypto_secretstream_xchacha20poly1305_KEYBYTES])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, a->key.k, sizeof(a->key.k),
				crypto_secretstream_xchacha20poly1305_KEYBYTES);
	crypto_generichash_update(&st, (const uint8_t *)dir, strlen(dir) + 1);
	crypto_generichash_update(&st, a->nonce_c, sizeof(a->nonce_c));
	crypto_generichash_update(&st, a->nonce_s, sizeof(a->nonce_s));
	crypto_generichash_final(&st, out, crypto_secretstream_xchacha20poly1305_KEYBYTES);
}

static void stream_push_init(struct migr_auth *a, const char *dir, uint8_t header[HDR_BYTES])
{
	uint8_t k[crypto_secretstream_xchacha20poly1305_KEYBYTES];
	direction_key(a, dir, k);
	crypto_secretstream_xchacha20poly1305_init_push(&a->tx, header, k);
	sodium_memzero(k, sizeof(k));
}

static int stream_pull_init(struct migr_auth *a, const char *dir, const uint8_t header[HDR_BYTES])
{
	uint8_t k[crypto_secretstream_xchacha20poly1305_KEYBYTES];
	direction_key(a, dir, k);
	int r = crypto_secretstream_xchacha20poly1305_init_pull(&a->rx, header, k);
	sodium_memzero(k, sizeof(k));
	return r == 0 ? 0 : MIGR_EPROTO;
}

void migr_auth_hello(struct migr_auth *a, struct mw *out)
{
	randombytes_buf(a->nonce_c, sizeof(a->nonce_c));
	mw_frame_begin(out, MSG_HELLO);
	mw_str(out, a->self);
	mw_bytes(out, a->nonce_c, sizeof(a->nonce_c));
	mw_frame_end(out);
	a->state = AUTH_WAIT_ACK;
}

static int server_on_hello(struct migr_auth *a, struct mr *r, struct mw *out)
{
	uint8_t header[HDR_BYTES], mac[MAC_BYTES];
	mr_str(r, a->peer, MIGR_NAME_MAX);
	mr_bytes(r, a->nonce_c, sizeof(a->nonce_c));
	if (mr_end(r) < 0 || !migr_name_valid(a->peer))
		return MIGR_EPROTO;
	randombytes_buf(a->nonce_s, sizeof(a->nonce_s));
	transcript_mac(a, "server", mac);
	stream_push_init(a, "s2c", header);
	mw_frame_begin(out, MSG_HELLO_ACK);
	mw_str(out, a->self);
	mw_bytes(out, a->nonce_s, sizeof(a->nonce_s));
	mw_bytes(out, mac, sizeof(mac));
	mw_bytes(out, header, sizeof(header));
	mw_frame_end(out);
	a->state = AUTH_WAIT_AUTH;
	return 0;
}

static int client_on_ack(struct migr_auth *a, struct mr *r, struct mw *out)
{
	uint8_t header_s[HDR_BYTES], header_c[HDR_BYTES], mac[MAC_BYTES];
	mr_str(r, a->peer, MIGR_NAME_MAX);
	mr_bytes(r, a->nonce_s, sizeof(a->nonce_s));
	mr_bytes(r, mac, sizeof(mac));
	mr_bytes(r, header_s, sizeof(header_s));
	if (mr_end(r) < 0 || !migr_name_valid(a->peer))
		return MIGR_EPROTO;
	if (!mac_ok(a, "server", mac))
		return MIGR_EAUTH;
	if (stream_pull_init(a, "s2c", header_s) < 0)
		return MIGR_EPROTO;
	transcript_mac(a, "client", mac);
	stream_push_init(a, "c2s", header_c);
	mw_frame_begin(out, MSG_AUTH);
	mw_bytes(out, mac, sizeof(mac));
	mw_bytes(out, header_c, sizeof(header_c));
	mw_frame_end(out);
	a->state = AUTH_READY;
	return 0;
}

static int server_on_auth(struct migr_auth *a, struct mr *r)
{
	uint8_t header_c[HDR_BYTES], mac[MAC_BYTES];
	mr_bytes(r, mac, sizeof(mac));
	mr_bytes(r, header_c, sizeof(header_c));
	if (mr_end(r) < 0)
		return MIGR_EPROTO;
	if (!mac_ok(a, "client", mac))
		return MIGR_EAUTH;
	if (stream_pull_init(a, "c2s", header_c) < 0)
		return MIGR_EPROTO;
	a->state = AUTH_READY;
	return 0;
}

int migr_auth_step(struct migr_auth *a, uint8_t type, const uint8_t *p, size_t n,
		   struct mw *out)
{
	struct mr r;
	mr_init(&r, p, n);
	if (a->is_client && a->state == AUTH_WAIT_ACK && type == MSG_HELLO_ACK)
		return client_on_ack(a, &r, out);
	if (!a->is_client && a->state == AUTH_START && type == MSG_HELLO)
		return server_on_hello(a, &r, out);
	if (!a->is_client && a->state == AUTH_WAIT_AUTH && type == MSG_AUTH)
		return server_on_auth(a, &r);
	return MIGR_EPROTO;
}

size_t migr_auth_sealed_len(size_t n)
{
	return 4 + n + crypto_secretstream_xchacha20poly1305_ABYTES;
}

void migr_auth_seal_into(struct migr_auth *a, const uint8_t *frame, size_t n, uint8_t *out)
{
	uint32_t clen = (uint32_t)(n + crypto_secretstream_xchacha20poly1305_ABYTES);
	out[0] = (uint8_t)clen;
	out[1] = (uint8_t)(clen >> 8);
	out[2] = (uint8_t)(clen >> 16);
	out[3] = (uint8_t)(clen >> 24);
	crypto_secretstream_xchacha20poly1305_push(&a->tx, out + 4, NULL, frame, n, NULL, 0, 0);
}

void migr_auth_seal(struct migr_auth *a, const uint8_t *frame, size_t n, struct mw *out)
{
	migr_auth_seal_into(a, frame, n, mw_space(out, migr_auth_sealed_len(n)));
}

int migr_auth_open(struct migr_auth *a, const uint8_t *c, size_t n, uint8_t *plain)
{
	unsigned long long plen;
	unsigned char tag;
	if (n < crypto_secretstream_xchacha20poly1305_ABYTES || n > MIGR_SEALED_MAX)
		return MIGR_ETOOBIG;
	if (crypto_secretstream_xchacha20poly1305_pull(&a->rx, plain, &plen, &tag, c, n, NULL,
						       0) != 0)
		return MIGR_EAUTH;
	return (int)plen;
}
