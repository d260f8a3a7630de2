/* fuzz.c: helpers shared by the fuzz harnesses and the seed generator (see fuzz.h). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "fuzz.h"
#include "gossip.h"

void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
	abort();
}

void fin_init(struct fin *f, const uint8_t *p, size_t n)
{
	f->p = p;
	f->left = n;
	f->bad = 0;
}

static uint64_t fin_le(struct fin *f, size_t n)
{
	uint64_t v = 0;
	if (f->left < n) {
		f->bad = 1;
		f->left = 0;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)f->p[i] << (8 * i);
	f->p += n;
	f->left -= n;
	return v;
}

uint8_t fin_u8(struct fin *f)
{
	return (uint8_t)fin_le(f, 1);
}

uint16_t fin_u16(struct fin *f)
{
	return (uint16_t)fin_le(f, 2);
}

uint32_t fin_u32(struct fin *f)
{
	return (uint32_t)fin_le(f, 4);
}

uint8_t *fin_record(struct fin *f, size_t *n)
{
	if (f->left == 0)
		return NULL;
	size_t len = fin_u16(f);
	if (len > f->left)
		len = f->left;	/* a cut-off record still counts: short input is input too */
	uint8_t *p = fuzz_copy(f->p, len);
	f->p += len;
	f->left -= len;
	*n = len;
	return p;
}

void mw_record(struct mw *w, const void *p, size_t n)
{
	mw_u16(w, (uint16_t)n);
	mw_bytes(w, p, n);
}

uint8_t *fuzz_copy(const void *p, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);
	if (!c)
		abort();
	if (n)
		memcpy(c, p, n);
	return c;
}

void fuzz_write(const char *dir, const char *name, const void *p, size_t n)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, p, n) != (ssize_t)n || close(fd) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(1);
	}
}

const struct migr_key fuzz_key = { { 0x6d, 0x69, 0x67, 0x72, 0x2d, 0x66, 0x75, 0x7a,
				     0x7a, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
				     0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
				     0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17 } };

/* ---- reproducible randomness ---- */

static uint64_t rng_state[2];
static int rng_party;

void fuzz_rng_reset(void)
{
	rng_state[PARTY_CLIENT] = 0x636c69656e74ull;
	rng_state[PARTY_SERVER] = 0x736572766572ull;
	rng_party = PARTY_SERVER;
}

void fuzz_rng_party(int party)
{
	rng_party = party;
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static const char *rng_name(void)
{
	return "migr-fuzz";
}

static uint32_t rng_random(void)
{
	return (uint32_t)splitmix64(&rng_state[rng_party]);
}

static void rng_buf(void *const buf, const size_t size)
{
	uint8_t *p = buf;
	for (size_t i = 0; i < size; i++)
		p[i] = (uint8_t)splitmix64(&rng_state[rng_party]);
}

static struct randombytes_implementation rng_impl = {
	.implementation_name = rng_name,
	.random = rng_random,
	.buf = rng_buf,
};

void fuzz_rng_install(void)
{
	fuzz_rng_reset();
	if (randombytes_set_implementation(&rng_impl) != 0 || sodium_init() < 0) {
		fprintf(stderr, "fuzz: cannot install the random source\n");
		exit(1);
	}
}

void fuzz_gossip_params(const uint8_t b[GOSSIP_PARAM_BYTES], struct gossip_params *p)
{
	p->period_ms = 10 + (b[0] | (unsigned)b[1] << 8) % 5000;
	p->fanout = 1 + b[2] % 16;
	p->window = b[3] % (GOSSIP_WINDOW_MAX + 1);
	p->suspect_ms = p->period_ms + 1 + b[4] * p->period_ms / 8;
	p->dead_ms = p->suspect_ms + 1 + b[5] * p->period_ms / 8;
}
