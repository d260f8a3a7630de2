/* fuzz-auth.c: libFuzzer harness for the peer handshake and the sealed stream of
 * libmigr/auth.c, on either side, fed what an attacker on the network may send. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ABYTES crypto_secretstream_xchacha20poly1305_ABYTES

static uint8_t *plain;	/* room for one frame, as the daemon has */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_rng_install();
	plain = malloc(MIGR_FRAME_HDR + MIGR_FRAME_MAX);
	if (!plain)
		abort();
	return 0;
}

/* What a step produced is one well-formed frame of the type the protocol says. */
static void check_frame(const struct mw *out, uint8_t type)
{
	struct migr_frame_hdr h;
	FUZZ_CHECK(out->len >= MIGR_FRAME_HDR);
	FUZZ_CHECK(migr_hdr_decode(out->buf, &h) == 0);
	FUZZ_CHECK(h.type == type && out->len == MIGR_FRAME_HDR + h.len);
}

/* One handshake frame from the attacker. Returns 0 to go on, -1 where migrd would close. */
static int handshake_step(struct migr_auth *a, uint8_t type, const uint8_t *p, size_t n)
{
	struct mw out;
	enum auth_state before = a->state;
	mw_init(&out);
	int r = migr_auth_step(a, type, p, n, &out);
	FUZZ_CHECK(r == 0 || r == MIGR_EAUTH || r == MIGR_EPROTO);
	if (r < 0) {
		/* nothing to send, and never authenticated by a failed step */
		FUZZ_CHECK(out.len == 0 && a->state == before);
	} else if (!a->is_client && before == AUTH_START) {
		FUZZ_CHECK(a->state == AUTH_WAIT_AUTH && migr_name_valid(a->peer));
		check_frame(&out, MSG_HELLO_ACK);
	} else if (a->is_client) {
		FUZZ_CHECK(before == AUTH_WAIT_ACK && a->state == AUTH_READY);
		FUZZ_CHECK(migr_name_valid(a->peer));
		check_frame(&out, MSG_AUTH);
	} else {
		FUZZ_CHECK(before == AUTH_WAIT_AUTH && a->state == AUTH_READY && out.len == 0);
	}
	mw_free(&out);
	return r < 0 ? -1 : 0;
}

/* One record after the handshake. Returns 0 to go on, -1 where migrd would close. */
static int ready_step(struct migr_auth *a, uint8_t type, const uint8_t *p, size_t n)
{
	struct mw out;
	mw_init(&out);
	if (type != AUTH_REC_SEALED) {
		/* a handshake message once authenticated is refused, whatever it holds */
		FUZZ_CHECK(migr_auth_step(a, type, p, n, &out) == MIGR_EPROTO && out.len == 0);
		mw_free(&out);
		return 0;
	}
	int r = migr_auth_open(a, p, n, plain);
	if (r == MIGR_ETOOBIG) {
		FUZZ_CHECK(n < ABYTES);
	} else if (r < 0) {
		FUZZ_CHECK(r == MIGR_EAUTH);
	} else {
		FUZZ_CHECK((size_t)r == n - ABYTES);
		/* answer it: the stream the other way must go on working */
		migr_auth_seal(a, plain, (size_t)r, &out);
		FUZZ_CHECK(out.len == 4 + (size_t)r + ABYTES);
	}
	mw_free(&out);
	return r < 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct migr_auth a;
	struct fin f;
	uint8_t *p;
	size_t n;

	fin_init(&f, data, size);
	if (size < 1)
		return 0;
	int client = fin_u8(&f) % AUTH_MODES == AUTH_AS_CLIENT;
	fuzz_rng_reset();
	fuzz_rng_party(client ? PARTY_CLIENT : PARTY_SERVER);
	FUZZ_CHECK(migr_auth_init(&a, client, &fuzz_key,
				  client ? AUTH_CLIENT_NAME : AUTH_SERVER_NAME) == 0);
	if (client) {
		struct mw out;
		mw_init(&out);
		migr_auth_hello(&a, &out);
		check_frame(&out, MSG_HELLO);
		FUZZ_CHECK(a.state == AUTH_WAIT_ACK);
		mw_free(&out);
	}
	for (;;) {
		uint8_t type = fin_u8(&f);
		if (!(p = fin_record(&f, &n)))
			break;
		int r = a.state == AUTH_READY ? ready_step(&a, type, p, n)
					      : handshake_step(&a, type, p, n);
		free(p);
		if (r < 0)
			break;
	}
	migr_auth_clear(&a);
	return 0;
}
