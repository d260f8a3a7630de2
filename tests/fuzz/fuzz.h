/* fuzz.h: what the libFuzzer harnesses and their seed generator (seeds.c) share: the
 * layout of each harness's input, a reader for it, and a deterministic random source. */
#ifndef MIGR_FUZZ_H
#define MIGR_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "proto.h"

/* A failed check: prints what broke and aborts, so libFuzzer saves the input. */
#define FUZZ_CHECK(cond)                                                                    \
	do {                                                                                \
		if (!(cond))                                                                \
			fuzz_fail(__FILE__, __LINE__, #cond);                               \
	} while (0)
void fuzz_fail(const char *file, int line, const char *what) __attribute__((noreturn));

/* The input as a sequence of fields; a short read yields zeros and sets bad. */
struct fin {
	const uint8_t *p;
	size_t left;
	int bad;
};
void fin_init(struct fin *f, const uint8_t *p, size_t n);
uint8_t fin_u8(struct fin *f);
uint16_t fin_u16(struct fin *f);
uint32_t fin_u32(struct fin *f);
/* A record: u16 length, then that many bytes (fewer if the input ends), copied to an
 * exact-size heap buffer so that ASan catches a decoder reading one byte past it. NULL at
 * the end of the input; free() it. */
uint8_t *fin_record(struct fin *f, size_t *n);
/* Appends a record as fin_record() reads it. */
void mw_record(struct mw *w, const void *p, size_t n);

/* An exact-size heap copy of p (1 byte if n is 0); free() it. */
uint8_t *fuzz_copy(const void *p, size_t n);
/* Writes a seed file dir/name; exits on error. */
void fuzz_write(const char *dir, const char *name, const void *p, size_t n);

/* ---- fuzz-proto: the first byte picks the decoder (modulo the count) ---- */
enum {
	PROTO_HDR,
	PROTO_GOSSIP,
	PROTO_NODES,
	PROTO_STATUS,
	PROTO_ERROR,
	PROTO_JOB_SPEC,
	PROTO_JOBS,
	PROTO_JOB,
	PROTO_READER,	/* a program of mr_* reads: see fuzz-proto.c */
	PROTO_NAMES,	/* migr_name_valid, migr_gpid_valid, migr_gpid_home */
	PROTO_COUNT,
};
/* PROTO_READER: the op byte's low 3 bits pick the read, the rest is an argument */
enum { RD_U8, RD_U16, RD_U32, RD_U64, RD_BYTES, RD_STR, RD_END, RD_COUNT };

/* ---- fuzz-auth: a mode byte, then records (fin_record) each led by a type byte ---- */
enum {
	AUTH_AS_SERVER,	/* the harness is the responder; records come from a client */
	AUTH_AS_CLIENT,	/* the harness is the initiator; it sends HELLO first */
	AUTH_MODES,
};
/* Once READY, a record of this type is a sealed record's ciphertext for migr_auth_open;
 * any other type goes to migr_auth_step, which must refuse it. */
#define AUTH_REC_SEALED 0
#define AUTH_CLIENT_NAME "client-1"
#define AUTH_SERVER_NAME "server.2"
extern const struct migr_key fuzz_key;

/* libsodium's randomness, replaced by one reproducible stream per party (client, server),
 * restarted for every input: the same input always takes the same path, and the seed
 * generator can compute handshakes whose MACs hold when the harness replays them. */
enum { PARTY_CLIENT, PARTY_SERVER };
void fuzz_rng_install(void);	/* before sodium_init() */
void fuzz_rng_reset(void);
void fuzz_rng_party(int party);

/* ---- fuzz-gossip: GOSSIP_PARAM_BYTES of parameters, then [op byte][record]... ---- */
#define GOSSIP_PARAM_BYTES 6
struct gossip_params;
/* Parameters as migrd.conf allows them: 10 ms <= period < suspect < dead. */
void fuzz_gossip_params(const uint8_t b[GOSSIP_PARAM_BYTES], struct gossip_params *p);
#define GOSSIP_SELF_NAME "self"
#define GOSSIP_SELF_ADDR "10.0.0.1"
#define GOSSIP_SELF_PORT 7470
#define GOSSIP_SELF_INCARNATION 5
#define GOSSIP_T0 1000000	/* the clock at the start: any origin */
/* the op byte's low 3 bits pick the op; the clock first advances by (op >> 3) * this */
#define GOSSIP_STEP_MS 50
enum { GOP_RECEIVE, GOP_TICK, GOP_VECTOR, GOP_LEAVE, GOP_SEED, GOP_WAIT, GOP_COUNT };

#endif
