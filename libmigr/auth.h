/* auth.h: the cluster key, mutual authentication of peers, and the encrypted channel.
 *
 * Built on libsodium. The handshake is a challenge-response over the pre-shared cluster key:
 *   client -> HELLO     name_c, nonce_c
 *   server -> HELLO_ACK name_s, nonce_s, HMAC(K, "server" | transcript), header_s2c
 *   client -> AUTH      HMAC(K, "client" | transcript), header_c2s
 * Each side proves it holds K over fresh nonces, so a replayed handshake fails. Each
 * direction then gets its own key, derived from K and both nonces, and runs a
 * crypto_secretstream (XChaCha20-Poly1305) stream: frames are secret, authenticated and
 * bound to their place in the stream, so a frame replayed, reordered, or cut in fails.
 * This module does no I/O: it turns received payloads into payloads to send. */
#ifndef MIGR_AUTH_H
#define MIGR_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "proto.h"

#define MIGR_KEY_BYTES 32
#define MIGR_NONCE_BYTES 32
/* Bound on one encrypted record: a whole frame plus the stream's tag. */
#define MIGR_SEALED_MAX (MIGR_FRAME_HDR + MIGR_FRAME_MAX + crypto_secretstream_xchacha20poly1305_ABYTES)

struct migr_key {
	uint8_t k[MIGR_KEY_BYTES];
};

/* Reads a key file (64 hex digits); refuses one others can read. On error fills err. */
int migr_key_load(const char *path, struct migr_key *key, char *err, size_t errlen);

enum auth_state {
	AUTH_START,		/* client: send HELLO; server: await HELLO */
	AUTH_WAIT_ACK,		/* client sent HELLO */
	AUTH_WAIT_AUTH,		/* server sent HELLO_ACK */
	AUTH_READY,
};

struct migr_auth {
	int is_client;
	enum auth_state state;
	struct migr_key key;
	char self[MIGR_NAME_MAX + 1];
	char peer[MIGR_NAME_MAX + 1];	/* the name the peer proved, once READY */
	uint8_t nonce_c[MIGR_NONCE_BYTES], nonce_s[MIGR_NONCE_BYTES];
	crypto_secretstream_xchacha20poly1305_state tx, rx;
};

int migr_auth_init(struct migr_auth *a, int is_client, const struct migr_key *key,
		   const char *self);
void migr_auth_clear(struct migr_auth *a);

/* Client: the HELLO frame to send first. */
void migr_auth_hello(struct migr_auth *a, struct mw *out);
/* Either side: a handshake frame arrived (type, payload). Appends the reply frame (if any)
 * to out. Returns 0, MIGR_EAUTH (wrong key) or MIGR_EPROTO (bad or unexpected message). */
int migr_auth_step(struct migr_auth *a, uint8_t type, const uint8_t *p, size_t n,
		   struct mw *out);

/* READY only. Seal appends [u32 length][ciphertext] for one frame to out. Open decrypts one
 * record's ciphertext into plain (room for MIGR_FRAME_HDR + MIGR_FRAME_MAX); returns the
 * plaintext length or MIGR_EAUTH. */
void migr_auth_seal(struct migr_auth *a, const uint8_t *frame, size_t n, struct mw *out);
/* The same into out, which has room for migr_auth_sealed_len(n) bytes. */
size_t migr_auth_sealed_len(size_t n);
void migr_auth_seal_into(struct migr_auth *a, const uint8_t *frame, size_t n, uint8_t *out);
int migr_auth_open(struct migr_auth *a, const uint8_t *c, size_t n, uint8_t *plain);

#endif
