/* test-auth.c: cluster key files, the peer handshake and the encrypted stream. Two
 * migr_auth states talk through memory; a test in the middle drops, replays, reorders,
 * or spoils what passes between them. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "unit.h"

#define PLAIN_MAX (MIGR_FRAME_HDR + MIGR_FRAME_MAX)

static const struct migr_key key_a = { { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
					 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
					 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
					 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20 } };
static struct migr_key key_b;	/* key_a with its last bit flipped */

/* One handshake frame, split: its type and an exact-size copy of its payload. */
struct frame {
	uint8_t type;
	uint8_t *p;
	size_t n;
};

/* Takes the one frame in w (and resets w). */
static int take_frame(struct mw *w, struct frame *f)
{
	struct migr_frame_hdr h;
	f->p = NULL;
	f->n = 0;
	if (!CHECK_UINT(w->len, >=, MIGR_FRAME_HDR))
		return -1;
	if (!CHECK_INT(migr_hdr_decode(w->buf, &h), ==, 0))
		return -1;
	if (!CHECK_UINT(w->len, ==, MIGR_FRAME_HDR + h.len))
		return -1;
	f->type = h.type;
	f->n = h.len;
	f->p = malloc(h.len ? h.len : 1);
	if (!f->p)
		abort();
	memcpy(f->p, w->buf + MIGR_FRAME_HDR, h.len);
	w->len = 0;
	return 0;
}

static void frame_free(struct frame *f)
{
	free(f->p);
	f->p = NULL;
}

/* Feeds a (possibly edited) frame to a, with its payload in an exact-size copy. */
static int step(struct migr_auth *a, const struct frame *f, size_t n, struct mw *out)
{
	uint8_t *c = malloc(n ? n : 1);
	if (!c)
		abort();
	memcpy(c, f->p, n);
	int r = migr_auth_step(a, f->type, c, n, out);
	free(c);
	return r;
}

/* A whole handshake, keeping its three frames for tests that replay them. */
struct session {
	struct migr_auth c, s;
	struct frame hello, ack, auth;
};

static int handshake(struct session *x, const struct migr_key *kc, const struct migr_key *ks)
{
	struct mw w;
	int r;
	memset(x, 0, sizeof(*x));
	if (!CHECK_INT(migr_auth_init(&x->c, 1, kc, "client-1"), ==, 0) ||
	    !CHECK_INT(migr_auth_init(&x->s, 0, ks, "server.2"), ==, 0))
		return -1;
	mw_init(&w);
	migr_auth_hello(&x->c, &w);
	if (take_frame(&w, &x->hello) < 0 || !CHECK_UINT(x->hello.type, ==, MSG_HELLO))
		goto fail;
	if ((r = step(&x->s, &x->hello, x->hello.n, &w)) < 0)
		goto out;
	if (take_frame(&w, &x->ack) < 0 || !CHECK_UINT(x->ack.type, ==, MSG_HELLO_ACK))
		goto fail;
	if ((r = step(&x->c, &x->ack, x->ack.n, &w)) < 0)
		goto out;
	if (take_frame(&w, &x->auth) < 0 || !CHECK_UINT(x->auth.type, ==, MSG_AUTH))
		goto fail;
	r = step(&x->s, &x->auth, x->auth.n, &w);
	CHECK_UINT(w.len, ==, 0);	/* the server says nothing more */
out:
	mw_free(&w);
	return r;
fail:
	mw_free(&w);
	return -1;
}

static void session_free(struct session *x)
{
	migr_auth_clear(&x->c);
	migr_auth_clear(&x->s);
	frame_free(&x->hello);
	frame_free(&x->ack);
	frame_free(&x->auth);
}

/* One sealed record, split: its ciphertext in an exact-size copy. */
struct record {
	uint8_t *c;
	size_t n;
};

static struct record seal(struct migr_auth *a, const void *frame, size_t n)
{
	struct mw w;
	struct record rec = { NULL, 0 };
	mw_init(&w);
	migr_auth_seal(a, frame, n, &w);
	if (CHECK_UINT(w.len, >=, 4)) {
		uint32_t len = (uint32_t)(w.buf[0] | w.buf[1] << 8 | w.buf[2] << 16 |
					  (uint32_t)w.buf[3] << 24);
		CHECK_UINT(len, ==, w.len - 4);
		CHECK_UINT(len, ==, n + crypto_secretstream_xchacha20poly1305_ABYTES);
		rec.n = w.len - 4;
		rec.c = malloc(rec.n);
		if (!rec.c)
			abort();
		memcpy(rec.c, w.buf + 4, rec.n);
	}
	mw_free(&w);
	return rec;
}

/* Opens into an exact PLAIN_MAX buffer, so a write past it is caught. Returns the
 * length or the error; when want is given, compares the plaintext with it. */
static int open_rec(struct migr_auth *a, const struct record *rec, const void *want, size_t n)
{
	uint8_t *plain = malloc(PLAIN_MAX);
	if (!plain)
		abort();
	int r = migr_auth_open(a, rec->c, rec->n, plain);
	if (r >= 0 && want && CHECK_INT(r, ==, n))
		CHECK_MEM(plain, want, n);
	free(plain);
	return r;
}

static void record_free(struct record *rec)
{
	free(rec->c);
	rec->c = NULL;
}

static void test_handshake(void)
{
	struct session x;
	if (!CHECK_INT(handshake(&x, &key_a, &key_a), ==, 0))
		goto out;
	CHECK_INT(x.c.state, ==, AUTH_READY);
	CHECK_INT(x.s.state, ==, AUTH_READY);
	CHECK_STR(x.c.peer, "server.2");	/* each side learns the name the other proved */
	CHECK_STR(x.s.peer, "client-1");
	/* fresh nonces from each side */
	static const uint8_t zero[MIGR_NONCE_BYTES];
	CHECK(memcmp(x.c.nonce_c, zero, sizeof(zero)) != 0);
	CHECK(memcmp(x.s.nonce_s, zero, sizeof(zero)) != 0);
	CHECK_MEM(x.c.nonce_c, x.s.nonce_c, MIGR_NONCE_BYTES);
	CHECK_MEM(x.c.nonce_s, x.s.nonce_s, MIGR_NONCE_BYTES);
	/* the key never travels: no frame holds it */
	const struct frame *fs[] = { &x.hello, &x.ack, &x.auth };
	for (int i = 0; i < 3; i++)
		CHECK(fs[i]->n < sizeof(key_a.k) ||
		      !memmem(fs[i]->p, fs[i]->n, key_a.k, sizeof(key_a.k)));
out:
	session_free(&x);
}

/* Frames flow both ways, in order, each opened by the other side only. */
static void test_stream_both_ways(void)
{
	struct session x;
	if (!CHECK_INT(handshake(&x, &key_a, &key_a), ==, 0))
		goto out;
	for (int i = 0; i < 20; i++) {
		char msg[64];
		int n = snprintf(msg, sizeof(msg), "message %d from %s", i, i % 2 ? "c" : "s");
		struct migr_auth *from = i % 2 ? &x.c : &x.s, *to = i % 2 ? &x.s : &x.c;
		struct record rec = seal(from, msg, (size_t)n);
		UNIT_CTX("message %d", i);
		CHECK(memmem(rec.c, rec.n, "message", 7) == NULL);	/* not in the clear */
		CHECK_INT(open_rec(to, &rec, msg, (size_t)n), ==, n);
		record_free(&rec);
	}
	UNIT_CTX_CLEAR();

	/* an empty frame and the largest one */
	struct record rec = seal(&x.c, "", 0);
	CHECK_INT(open_rec(&x.s, &rec, "", 0), ==, 0);
	record_free(&rec);
	uint8_t *big = malloc(PLAIN_MAX);
	if (!big)
		abort();
	for (size_t i = 0; i < PLAIN_MAX; i++)
		big[i] = (uint8_t)(i * 31 + 7);
	rec = seal(&x.s, big, PLAIN_MAX);
	CHECK_UINT(rec.n, ==, MIGR_SEALED_MAX);
	CHECK_INT(open_rec(&x.c, &rec, big, PLAIN_MAX), ==, PLAIN_MAX);
	record_free(&rec);
	free(big);
out:
	session_free(&x);
}

/* Each direction has its own key: a record cannot be turned back to its sender, and
 * the same plaintext seals differently each way. */
static void test_stream_directions(void)
{
	struct session x;
	if (!CHECK_INT(handshake(&x, &key_a, &key_a), ==, 0))
		goto out;
	struct record c2s = seal(&x.c, "same words", 10);
	struct record s2c = seal(&x.s, "same words", 10);
	CHECK(memcmp(c2s.c, s2c.c, c2s.n) != 0);
	CHECK_INT(open_rec(&x.c, &c2s, NULL, 0), ==, MIGR_EAUTH);	/* reflected to client */
	CHECK_INT(open_rec(&x.s, &s2c, NULL, 0), ==, MIGR_EAUTH);	/* reflected to server */
	/* and the rightful receivers still open them */
	CHECK_INT(open_rec(&x.s, &c2s, "same words", 10), ==, 10);
	CHECK_INT(open_rec(&x.c, &s2c, "same words", 10), ==, 10);
	record_free(&c2s);
	record_free(&s2c);
out:
	session_free(&x);
}

static void test_stream_replay(void)
{
	struct session x;
	if (!CHECK_INT(handshake(&x, &key_a, &key_a), ==, 0))
		goto out;
	struct record r1 = seal(&x.c, "one", 3), r2 = seal(&x.c, "two", 3);
	CHECK_INT(open_rec(&x.s, &r1, "one", 3), ==, 3);
	CHECK_INT(open_rec(&x.s, &r1, NULL, 0), ==, MIGR_EAUTH);	/* the same again */
	CHECK_INT(open_rec(&x.s, &r2, "two", 3), ==, 3);
	CHECK_INT(open_rec(&x.s, &r2, NULL, 0), ==, MIGR_EAUTH);
	CHECK_INT(open_rec(&x.s, &r1, NULL, 0), ==, MIGR_EAUTH);	/* an older one */
	record_free(&r1);
	record_free(&r2);
out:
	session_free(&x);
}

static void test_stream_reorder(void)
{
	struct session x;
	if (!CHECK_INT(handshake(&x, &key_a, &key_a), ==, 0))
		goto out;
	struct record r1 = seal(&x.s, "first", 5), r2 = seal(&x.s, "second", 6);
	CHECK_INT(open_rec(&x.c, &r2, NULL, 0), ==, MIGR_EAUTH);	/* one was cut out */
	record_free(&r1);
	record_free(&r2);
out:
	session_free(&x);
}

static void test_stream_tamper(void)
{
	struct session x;
	if (!CHECK_INT(handshake(&x, &key_a, &key_a), ==, 0))
		goto out;
	static const char msg[] = "kill -9 gpid node1.7";
	struct record rec = seal(&x.c, msg, sizeof(msg));
	/* one flipped bit anywhere: in the tag byte, the ciphertext, the MAC */
	for (size_t i = 0; i < rec.n; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			UNIT_CTX("byte %zu bit %d of %zu", i, bit, rec.n);
			rec.c[i] ^= (uint8_t)(1u << bit);
			CHECK_INT(open_rec(&x.s, &rec, NULL, 0), ==, MIGR_EAUTH);
			rec.c[i] ^= (uint8_t)(1u << bit);
		}
	}
	UNIT_CTX_CLEAR();
	/* cut short, or with a byte added */
	struct record cut = { rec.c, rec.n - 1 };
	CHECK_INT(open_rec(&x.s, &cut, NULL, 0), <, 0);
	struct record longer = { malloc(rec.n + 1), rec.n + 1 };
	if (!longer.c)
		abort();
	memcpy(longer.c, rec.c, rec.n);
	longer.c[rec.n] = 0;
	CHECK_INT(open_rec(&x.s, &longer, NULL, 0), <, 0);
	record_free(&longer);
	/* after all that, the genuine record opens */
	CHECK_INT(open_rec(&x.s, &rec, msg, sizeof(msg)), ==, (int)sizeof(msg));
	record_free(&rec);
out:
	session_free(&x);
}

/* Records too short to hold a tag, or over the bound, are refused before decrypting. */
static void test_stream_bounds(void)
{
	struct session x;
	if (!CHECK_INT(handshake(&x, &key_a, &key_a), ==, 0))
		goto out;
	for (size_t n = 0; n < crypto_secretstream_xchacha20poly1305_ABYTES; n++) {
		struct record rec = { calloc(1, n ? n : 1), n };
		UNIT_CTX("%zu bytes", n);
		CHECK_INT(open_rec(&x.s, &rec, NULL, 0), <, 0);
		record_free(&rec);
	}
	UNIT_CTX_CLEAR();
	struct record over = { calloc(1, MIGR_SEALED_MAX + 1), MIGR_SEALED_MAX + 1 };
	CHECK_INT(open_rec(&x.s, &over, NULL, 0), <, 0);
	record_free(&over);
	/* a genuine record one byte over: its plaintext would not fit the caller's buffer */
	uint8_t *big = calloc(1, PLAIN_MAX + 1);
	if (!big)
		abort();
	over = seal(&x.c, big, PLAIN_MAX + 1);
	CHECK_INT(open_rec(&x.s, &over, NULL, 0), ==, MIGR_ETOOBIG);
	record_free(&over);
	free(big);
	/* what was refused was not taken from the stream: the record sealed after the
	 * oversized one is the next in line, and does not open before it */
	struct record rec = seal(&x.c, "still fine", 10);
	CHECK_INT(open_rec(&x.s, &rec, NULL, 0), ==, MIGR_EAUTH);
	record_free(&rec);
out:
	session_free(&x);
}

/* A record sealed in one session is worthless in another under the same key. */
static void test_stream_other_session(void)
{
	struct session x, y;
	int okx = handshake(&x, &key_a, &key_a), oky = handshake(&y, &key_a, &key_a);
	if (CHECK_INT(okx, ==, 0) && CHECK_INT(oky, ==, 0)) {
		struct record rec = seal(&x.c, "session x", 9);
		CHECK_INT(open_rec(&y.s, &rec, NULL, 0), ==, MIGR_EAUTH);
		CHECK_INT(open_rec(&x.s, &rec, "session x", 9), ==, 9);
		record_free(&rec);
	}
	session_free(&x);
	session_free(&y);
}

/* A client with the wrong key: the server answers (it cannot tell yet), but the client
 * refuses the server's proof, and nothing is sent on. */
static void test_wrong_key(void)
{
	struct session x;
	CHECK_INT(handshake(&x, &key_b, &key_a), ==, MIGR_EAUTH);
	CHECK(x.c.state != AUTH_READY);
	CHECK(x.s.state != AUTH_READY);
	CHECK(x.auth.p == NULL);	/* no AUTH frame went out */
	session_free(&x);

	CHECK_INT(handshake(&x, &key_a, &key_b), ==, MIGR_EAUTH);
	CHECK(x.c.state != AUTH_READY);
	session_free(&x);
}

/* Brings a fresh pair through HELLO and the server's HELLO_ACK, left in *ack; unless
 * auth is NULL, on through the client taking it, its AUTH left in *auth. */
static int half_handshake(struct migr_auth *c, struct migr_auth *s, struct frame *ack,
			  struct frame *auth)
{
	struct frame hello = { 0, NULL, 0 };
	struct mw w;
	int r = -1;
	migr_auth_init(c, 1, &key_a, "client-1");
	migr_auth_init(s, 0, &key_a, "server.2");
	ack->p = NULL;
	if (auth)
		auth->p = NULL;
	mw_init(&w);
	migr_auth_hello(c, &w);
	if (take_frame(&w, &hello) == 0 && CHECK_INT(step(s, &hello, hello.n, &w), ==, 0) &&
	    take_frame(&w, ack) == 0 &&
	    (!auth || (CHECK_INT(step(c, ack, ack->n, &w), ==, 0) && take_frame(&w, auth) == 0)))
		r = 0;
	frame_free(&hello);
	mw_free(&w);
	return r;
}

/* The server's side of the proof: an AUTH with one bit wrong is refused. A bit wrong in
 * the stream header the AUTH carries is not part of the proof, but then nothing the
 * client sends opens, so the link is useless all the same. */
static void test_bad_client_proof(void)
{
	const size_t mac = crypto_auth_hmacsha256_BYTES;
	for (size_t i = 0; i < mac + crypto_secretstream_xchacha20poly1305_HEADERBYTES; i++) {
		struct migr_auth c, s;
		struct frame ack, auth;
		struct mw w;
		UNIT_CTX("AUTH byte %zu", i);
		mw_init(&w);
		if (half_handshake(&c, &s, &ack, &auth) == 0 &&
		    CHECK_UINT(auth.n, ==, mac + crypto_secretstream_xchacha20poly1305_HEADERBYTES)) {
			auth.p[i] ^= 0x01;
			int r = step(&s, &auth, auth.n, &w);
			if (i < mac) {
				CHECK_INT(r, ==, MIGR_EAUTH);
				CHECK(s.state != AUTH_READY);
			} else if (r == 0) {
				struct record rec = seal(&c, "hello", 5);
				CHECK_INT(open_rec(&s, &rec, NULL, 0), ==, MIGR_EAUTH);
				record_free(&rec);
			}
		}
		frame_free(&ack);
		frame_free(&auth);
		migr_auth_clear(&c);
		migr_auth_clear(&s);
		mw_free(&w);
	}
	UNIT_CTX_CLEAR();
}

/* The client's side: a HELLO_ACK with one bit wrong in the server's proof is refused; one
 * wrong in its stream header leaves nothing the server sends readable. */
static void test_bad_server_proof(void)
{
	size_t name = 2 + strlen("server.2");
	size_t mac = name + MIGR_NONCE_BYTES;
	size_t hdr = mac + crypto_auth_hmacsha256_BYTES;
	for (size_t i = name; i < hdr + crypto_secretstream_xchacha20poly1305_HEADERBYTES; i++) {
		struct migr_auth s, c;
		struct frame ack;
		struct mw w;
		UNIT_CTX("HELLO_ACK byte %zu", i);
		mw_init(&w);
		if (half_handshake(&c, &s, &ack, NULL) == 0 &&
		    CHECK_UINT(ack.n, ==, hdr + crypto_secretstream_xchacha20poly1305_HEADERBYTES)) {
			ack.p[i] ^= 0x80;
			int r = step(&c, &ack, ack.n, &w);
			if (i < hdr) {	/* the server's nonce or its MAC */
				CHECK_INT(r, ==, MIGR_EAUTH);
				CHECK(c.state != AUTH_READY);
				CHECK_UINT(w.len, ==, 0);	/* no AUTH goes out */
			} else if (r == 0) {
				struct record rec = seal(&s, "hello", 5);
				CHECK_INT(open_rec(&c, &rec, NULL, 0), ==, MIGR_EAUTH);
				record_free(&rec);
			}
		}
		frame_free(&ack);
		migr_auth_clear(&c);
		migr_auth_clear(&s);
		mw_free(&w);
	}
	UNIT_CTX_CLEAR();
}

/* An eavesdropper replays a whole recorded client side to a new server: the server's
 * fresh nonce makes the recorded proof worthless. */
static void test_replayed_handshake(void)
{
	struct session x;
	if (!CHECK_INT(handshake(&x, &key_a, &key_a), ==, 0))
		goto out;
	struct migr_auth s;
	struct mw w;
	mw_init(&w);
	migr_auth_init(&s, 0, &key_a, "server.2");
	CHECK_INT(step(&s, &x.hello, x.hello.n, &w), ==, 0);
	CHECK_INT(step(&s, &x.auth, x.auth.n, &w), ==, MIGR_EAUTH);
	CHECK(s.state != AUTH_READY);
	migr_auth_clear(&s);

	/* and a recorded server side replayed to a new client */
	struct migr_auth c;
	migr_auth_init(&c, 1, &key_a, "client-1");
	w.len = 0;
	migr_auth_hello(&c, &w);
	w.len = 0;
	CHECK_INT(step(&c, &x.ack, x.ack.n, &w), ==, MIGR_EAUTH);
	CHECK_UINT(w.len, ==, 0);
	CHECK(c.state != AUTH_READY);
	migr_auth_clear(&c);
	mw_free(&w);
out:
	session_free(&x);
}

/* Names are part of what each side proves: a man in the middle cannot rename either. */
static void test_names_bound(void)
{
	struct session x;
	struct mw w;
	mw_init(&w);

	/* rename the client in its HELLO ("client-1" -> "client-9") */
	memset(&x, 0, sizeof(x));
	migr_auth_init(&x.c, 1, &key_a, "client-1");
	migr_auth_init(&x.s, 0, &key_a, "server.2");
	migr_auth_hello(&x.c, &w);
	if (take_frame(&w, &x.hello) == 0) {
		if (CHECK_MEM(x.hello.p + 2, "client-1", 8)) {
			x.hello.p[9] = '9';
			CHECK_INT(step(&x.s, &x.hello, x.hello.n, &w), ==, 0);
			CHECK_STR(x.s.peer, "client-9");
			if (take_frame(&w, &x.ack) == 0)
				CHECK_INT(step(&x.c, &x.ack, x.ack.n, &w), ==, MIGR_EAUTH);
		}
	}
	session_free(&x);

	/* rename the server in its ACK ("server.2" -> "server.3") */
	w.len = 0;
	memset(&x, 0, sizeof(x));
	migr_auth_init(&x.c, 1, &key_a, "client-1");
	migr_auth_init(&x.s, 0, &key_a, "server.2");
	migr_auth_hello(&x.c, &w);
	if (take_frame(&w, &x.hello) == 0 &&
	    CHECK_INT(step(&x.s, &x.hello, x.hello.n, &w), ==, 0) &&
	    take_frame(&w, &x.ack) == 0 && CHECK_MEM(x.ack.p + 2, "server.2", 8)) {
		x.ack.p[9] = '3';
		CHECK_INT(step(&x.c, &x.ack, x.ack.n, &w), ==, MIGR_EAUTH);
	}
	session_free(&x);
	mw_free(&w);
}

/* Messages out of turn are protocol errors, and change nothing. */
static void test_out_of_turn(void)
{
	struct session x;
	struct mw w;
	if (!CHECK_INT(handshake(&x, &key_a, &key_a), ==, 0))
		goto out;
	mw_init(&w);

	struct migr_auth c, s;
	migr_auth_init(&c, 1, &key_a, "client-1");
	migr_auth_init(&s, 0, &key_a, "server.2");
	/* before HELLO: a client takes nothing, a server only HELLO */
	CHECK_INT(step(&c, &x.ack, x.ack.n, &w), ==, MIGR_EPROTO);
	CHECK_INT(step(&c, &x.hello, x.hello.n, &w), ==, MIGR_EPROTO);
	CHECK_INT(step(&s, &x.ack, x.ack.n, &w), ==, MIGR_EPROTO);
	CHECK_INT(step(&s, &x.auth, x.auth.n, &w), ==, MIGR_EPROTO);
	CHECK_UINT(w.len, ==, 0);
	CHECK_INT(c.state, ==, AUTH_START);
	CHECK_INT(s.state, ==, AUTH_START);
	/* a client that sent HELLO takes no HELLO or AUTH */
	migr_auth_hello(&c, &w);
	w.len = 0;
	CHECK_INT(step(&c, &x.hello, x.hello.n, &w), ==, MIGR_EPROTO);
	CHECK_INT(step(&c, &x.auth, x.auth.n, &w), ==, MIGR_EPROTO);
	CHECK_INT(c.state, ==, AUTH_WAIT_ACK);
	/* a server that answered takes no second HELLO */
	CHECK_INT(step(&s, &x.hello, x.hello.n, &w), ==, 0);
	w.len = 0;
	CHECK_INT(step(&s, &x.hello, x.hello.n, &w), ==, MIGR_EPROTO);
	CHECK_UINT(w.len, ==, 0);
	CHECK_INT(s.state, ==, AUTH_WAIT_AUTH);
	/* once READY, the handshake is over for both */
	CHECK_INT(step(&x.c, &x.ack, x.ack.n, &w), ==, MIGR_EPROTO);
	CHECK_INT(step(&x.s, &x.auth, x.auth.n, &w), ==, MIGR_EPROTO);
	CHECK_INT(step(&x.s, &x.hello, x.hello.n, &w), ==, MIGR_EPROTO);
	CHECK_UINT(w.len, ==, 0);
	/* a type from outside the handshake */
	struct frame g = x.hello;
	g.type = MSG_GOSSIP;
	CHECK_INT(step(&s, &g, g.n, &w), ==, MIGR_EPROTO);
	migr_auth_clear(&c);
	migr_auth_clear(&s);
	mw_free(&w);
out:
	session_free(&x);
}

/* Every handshake frame cut short, or with a byte too many, is a protocol error. */
static void test_handshake_malformed(void)
{
	struct session x;
	struct mw w;
	if (!CHECK_INT(handshake(&x, &key_a, &key_a), ==, 0))
		goto out;
	mw_init(&w);
	for (int which = 0; which < 3; which++) {
		struct frame *f = which == 0 ? &x.hello : which == 1 ? &x.ack : &x.auth;
		struct frame longer = { f->type, malloc(f->n + 1), f->n + 1 };
		if (!longer.p)
			abort();
		memcpy(longer.p, f->p, f->n);
		longer.p[f->n] = 0;
		for (size_t n = 0; n <= f->n + 1; n++) {
			struct migr_auth c, s;
			if (n == f->n)
				continue;	/* the genuine length */
			UNIT_CTX("frame %s, %zu of %zu bytes", migr_msg_type_name(f->type), n, f->n);
			/* bring a fresh pair to where f is expected */
			migr_auth_init(&c, 1, &key_a, "client-1");
			migr_auth_init(&s, 0, &key_a, "server.2");
			w.len = 0;
			if (which >= 1) {
				migr_auth_hello(&c, &w);
				w.len = 0;
			}
			if (which == 2) {
				CHECK_INT(step(&s, &x.hello, x.hello.n, &w), ==, 0);
				w.len = 0;
			}
			struct migr_auth *to = which == 1 ? &c : &s;
			CHECK_INT(step(to, &longer, n, &w), ==, MIGR_EPROTO);
			CHECK_UINT(w.len, ==, 0);
			CHECK(to->state != AUTH_READY);
			migr_auth_clear(&c);
			migr_auth_clear(&s);
		}
		frame_free(&longer);
	}
	UNIT_CTX_CLEAR();

	/* a HELLO with a name that is no node name */
	static const char *names[] = { "", "a b", "../etc", "abcdefghijklmnopqrstuvwxyz012345" };
	for (size_t i = 0; i < UNIT_COUNT(names); i++) {
		struct migr_auth s;
		struct frame f;
		uint8_t nonce[MIGR_NONCE_BYTES] = { 1 };
		UNIT_CTX("name '%s'", names[i]);
		w.len = 0;
		mw_frame_begin(&w, MSG_HELLO);
		mw_str(&w, names[i]);
		mw_bytes(&w, nonce, sizeof(nonce));
		mw_frame_end(&w);
		if (take_frame(&w, &f) < 0)
			continue;
		migr_auth_init(&s, 0, &key_a, "server.2");
		CHECK_INT(step(&s, &f, f.n, &w), ==, MIGR_EPROTO);
		CHECK_UINT(w.len, ==, 0);
		migr_auth_clear(&s);
		frame_free(&f);
	}
	UNIT_CTX_CLEAR();
	mw_free(&w);
out:
	session_free(&x);
}

/* ---- key files ---- */

static char tmpdir[64];

static void tmpdir_make(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/migr-auth.XXXXXX",
		 t && *t && strlen(t) < 32 ? t : "/tmp");
	if (!mkdtemp(tmpdir))
		abort();
}

static void tmpdir_remove(const char *const *files, size_t n)
{
	char path[128];
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
		unlink(path);
	}
	CHECK_INT(rmdir(tmpdir), ==, 0);	/* nothing else was left behind */
}

static void write_file(const char *path, const char *s, size_t n, mode_t mode)
{
	unlink(path);	/* a fresh file: an earlier one may be read-only */
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	if (fd < 0 || write(fd, s, n) != (ssize_t)n || fchmod(fd, mode) < 0 || close(fd) < 0)
		abort();
}

static const char hex_a[] = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20";

static void test_key_load(void)
{
	static const char *const files[] = { "k" };
	char path[128], err[256];
	struct migr_key k;
	tmpdir_make();
	snprintf(path, sizeof(path), "%s/k", tmpdir);

	static const char *const endings[] = { "", "\n", "\r\n", "\n\n" };
	for (size_t i = 0; i < UNIT_COUNT(endings); i++) {
		char text[80];
		int n = snprintf(text, sizeof(text), "%s%s", hex_a, endings[i]);
		UNIT_CTX("variant %zu", i);
		write_file(path, text, (size_t)n, 0600);
		memset(&k, 0, sizeof(k));
		err[0] = '\0';
		CHECK_INT(migr_key_load(path, &k, err, sizeof(err)), ==, 0);
		CHECK_MEM(k.k, key_a.k, MIGR_KEY_BYTES);
	}
	/* upper-case hex digits are hex digits */
	char upper[80];
	for (size_t i = 0; i < sizeof(hex_a); i++)
		upper[i] = (char)(hex_a[i] >= 'a' && hex_a[i] <= 'f' ? hex_a[i] - 32 : hex_a[i]);
	write_file(path, upper, strlen(upper), 0400);
	UNIT_CTX("upper case, mode 0400");
	CHECK_INT(migr_key_load(path, &k, err, sizeof(err)), ==, 0);
	CHECK_MEM(k.k, key_a.k, MIGR_KEY_BYTES);
	UNIT_CTX_CLEAR();

	/* readable or writable by group or others: refused, saying how to fix it */
	static const mode_t modes[] = { 0640, 0604, 0660, 0602, 0644 };
	for (size_t i = 0; i < UNIT_COUNT(modes); i++) {
		char want[256];
		UNIT_CTX("mode %04o", (unsigned)modes[i]);
		write_file(path, hex_a, 64, modes[i]);
		CHECK_INT(migr_key_load(path, &k, err, sizeof(err)), ==, -EPERM);
		snprintf(want, sizeof(want), "%s: readable by others (mode %04o): chmod 600 it",
			 path, (unsigned)modes[i]);
		CHECK_STR(err, want);
	}
	UNIT_CTX_CLEAR();

	/* not 64 hex digits */
	char want[256];
	snprintf(want, sizeof(want), "%s: not a cluster key (want 64 hex digits)", path);
	static const char *const bad[] = {
		"",
		"\n",
		"0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2",	/* 63 */
		"0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f200",	/* 65 */
		"0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1fzz",
		"0102030405060708090a0b0c0d0e0f10 112131415161718191a1b1c1d1e1f20",
		"0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20 junk",
		" 0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
	};
	for (size_t i = 0; i < UNIT_COUNT(bad); i++) {
		UNIT_CTX("'%s'", bad[i]);
		write_file(path, bad[i], strlen(bad[i]), 0600);
		err[0] = '\0';
		CHECK_INT(migr_key_load(path, &k, err, sizeof(err)), ==, -EINVAL);
		CHECK_STR(err, want);
	}
	UNIT_CTX_CLEAR();

	unlink(path);
	CHECK_INT(migr_key_load(path, &k, err, sizeof(err)), ==, -ENOENT);
	snprintf(want, sizeof(want), "%s: %s", path, strerror(ENOENT));
	CHECK_STR(err, want);

	/* a short error buffer is cut, never overrun */
	char small[8];
	memset(small, 'x', sizeof(small));
	CHECK_INT(migr_key_load(path, &k, small, 5), ==, -ENOENT);
	CHECK_UINT(strlen(small), ==, 4);
	CHECK(small[5] == 'x');
	tmpdir_remove(files, UNIT_COUNT(files));
}

static void test_key_generate(void)
{
	static const char *const files[] = { "k1", "k2" };
	char p1[128], p2[128], err[256];
	struct migr_key k1, k2;
	struct stat st;
	tmpdir_make();
	snprintf(p1, sizeof(p1), "%s/k1", tmpdir);
	snprintf(p2, sizeof(p2), "%s/k2", tmpdir);
	mode_t old = umask(0);	/* the mode must not depend on the caller's umask */
	CHECK_INT(migr_key_generate(p1), ==, 0);
	CHECK_INT(migr_key_generate(p2), ==, 0);
	umask(old);
	if (CHECK_INT(stat(p1, &st), ==, 0)) {
		CHECK_UINT(st.st_mode & 07777, ==, 0600);
		CHECK_UINT(st.st_size, ==, 65);	/* 64 hex digits and a newline */
	}
	CHECK_INT(migr_key_load(p1, &k1, err, sizeof(err)), ==, 0);
	CHECK_INT(migr_key_load(p2, &k2, err, sizeof(err)), ==, 0);
	CHECK(memcmp(k1.k, k2.k, MIGR_KEY_BYTES) != 0);

	/* never overwrites a key */
	CHECK_INT(migr_key_generate(p1), ==, -EEXIST);
	struct migr_key again;
	CHECK_INT(migr_key_load(p1, &again, err, sizeof(err)), ==, 0);
	CHECK_MEM(again.k, k1.k, MIGR_KEY_BYTES);

	/* two nodes with the generated key talk */
	struct session x;
	CHECK_INT(handshake(&x, &k1, &again), ==, 0);
	session_free(&x);
	tmpdir_remove(files, UNIT_COUNT(files));
}

int main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		UNIT(test_handshake),
		UNIT(test_stream_both_ways),
		UNIT(test_stream_directions),
		UNIT(test_stream_replay),
		UNIT(test_stream_reorder),
		UNIT(test_stream_tamper),
		UNIT(test_stream_bounds),
		UNIT(test_stream_other_session),
		UNIT(test_wrong_key),
		UNIT(test_bad_client_proof),
		UNIT(test_bad_server_proof),
		UNIT(test_replayed_handshake),
		UNIT(test_names_bound),
		UNIT(test_out_of_turn),
		UNIT(test_handshake_malformed),
		UNIT(test_key_load),
		UNIT(test_key_generate),
	};
	key_b = key_a;
	key_b.k[MIGR_KEY_BYTES - 1] ^= 1;
	return unit_main(argc, argv, tests, UNIT_COUNT(tests));
}
