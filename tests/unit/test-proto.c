/* test-proto.c: the wire protocol: frame headers, the reader and writer, and every
 * message's coding. Decoders get their input in exact-size heap copies, so under ASan a
 * read one byte past the end is a failure, not luck. */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "proto.h"
#include "unit.h"

/* Every type the header declares, to be sure the name table misses none. */
static const uint8_t all_types[] = {
	MSG_HELLO, MSG_HELLO_ACK, MSG_AUTH, MSG_GOSSIP, MSG_JOB_START, MSG_JOB_STARTED,
	MSG_JOB_FAILED, MSG_JOB_DATA, MSG_JOB_ACK, MSG_JOB_SIGNAL, MSG_JOB_EXIT, MSG_PS_REQ,
	MSG_PS_REPLY, MSG_KILL_REQ, MSG_KILL_REPLY, MSG_JOB_RESYNC, MSG_MIG_REQ, MSG_MIG_RESULT,
	MSG_MIG_OFFER, MSG_MIG_ACCEPT, MSG_MIG_REFUSE, MSG_MIG_RESTORED, MSG_MIG_DONE, MSG_MIG_ABORT,
	MSG_BULK_ATTACH, MSG_MIG_QUERY, MSG_ADMIN_REQ, MSG_ADMIN_REPLY, MSG_MIG_FROZEN,
	MSG_MIG_FILES, MSG_MIG_FILES_REPLY, MSG_CTL_NODES, MSG_CTL_STATUS, MSG_CTL_LEAVE,
	MSG_CTL_RUN, MSG_CTL_SIGNAL, MSG_CTL_KILL, MSG_CTL_PS, MSG_CTL_MIGRATE, MSG_CTL_BALANCE,
	MSG_CTL_DRAIN, MSG_CTL_ATTACH, MSG_GOSSIP_PING, MSG_GOSSIP_ACK, MSG_GOSSIP_PING_REQ,
	MSG_GOSSIP_PUSH_PULL, MSG_CTL_OK, MSG_CTL_ERROR, MSG_CTL_NODES_REPLY,
	MSG_CTL_STATUS_REPLY, MSG_CTL_RUN_REPLY, MSG_CTL_EXIT, MSG_CTL_PS_REPLY,
	MSG_CTL_MIGRATE_REPLY,
};

static int is_declared(unsigned type)
{
	for (size_t i = 0; i < UNIT_COUNT(all_types); i++)
		if (all_types[i] == type)
			return 1;
	return 0;
}

/* An exact-size heap copy of the first n bytes of p; free() it. */
static uint8_t *exact(const void *p, size_t n)
{
	uint8_t *c = malloc(n);
	if (!c && n)
		abort();
	if (n)
		memcpy(c, p, n);
	return c;
}

static void mw_zero(struct mw *w, size_t n)
{
	memset(mw_space(w, n), 0, n);
}

/* A string of n copies of ch. */
static void fill(char *out, char ch, size_t n)
{
	memset(out, ch, n);
	out[n] = '\0';
}

/* ---- headers ---- */

static void test_type_names(void)
{
	for (size_t i = 0; i < UNIT_COUNT(all_types); i++) {
		UNIT_CTX("type %u", all_types[i]);
		CHECK(migr_msg_type_known(all_types[i]));
		CHECK(strcmp(migr_msg_type_name(all_types[i]), "unknown") != 0);
	}
	UNIT_CTX_CLEAR();
	for (unsigned t = 0; t < 256; t++) {
		if (is_declared(t))
			continue;
		UNIT_CTX("type %u", t);
		CHECK(!migr_msg_type_known((uint8_t)t));
		CHECK_STR(migr_msg_type_name((uint8_t)t), "unknown");
	}
	UNIT_CTX_CLEAR();
	/* an enum takes two names for one number without a word: each has its own */
	for (size_t i = 0; i < UNIT_COUNT(all_types); i++)
		for (size_t j = i + 1; j < UNIT_COUNT(all_types); j++) {
			UNIT_CTX("types %s and %s", migr_msg_type_name(all_types[i]),
				 migr_msg_type_name(all_types[j]));
			CHECK_UINT(all_types[i], !=, all_types[j]);
		}
	UNIT_CTX_CLEAR();
	CHECK_STR(migr_msg_type_name(MSG_GOSSIP), "gossip");
	CHECK_STR(migr_msg_type_name(MSG_GOSSIP_PING_REQ), "gossip-ping-req");
	CHECK_STR(migr_msg_type_name(MSG_CTL_NODES), "nodes");
}

static void test_hdr_layout(void)
{
	uint8_t b[MIGR_FRAME_HDR];
	static const uint8_t want[MIGR_FRAME_HDR] = { 0x01, 0x02, 0x03, 0x00,
						      MIGR_PROTO_VERSION, MSG_GOSSIP, 0, 0 };
	memset(b, 0xaa, sizeof(b));
	migr_hdr_encode(b, MSG_GOSSIP, 0x030201);
	CHECK_MEM(b, want, sizeof(want));	/* little-endian length, version, type, flags */
}

static void test_hdr_roundtrip(void)
{
	static const uint32_t lens[] = { 0, 1, 255, 256, 65536, MIGR_FRAME_MAX - 1,
					 MIGR_FRAME_MAX };
	for (size_t i = 0; i < UNIT_COUNT(all_types); i++) {
		for (size_t j = 0; j < UNIT_COUNT(lens); j++) {
			uint8_t b[MIGR_FRAME_HDR];
			struct migr_frame_hdr h;
			UNIT_CTX("type %u len %u", all_types[i], lens[j]);
			migr_hdr_encode(b, all_types[i], lens[j]);
			uint8_t *c = exact(b, sizeof(b));
			memset(&h, 0xff, sizeof(h));
			CHECK_INT(migr_hdr_decode(c, &h), ==, 0);
			CHECK_UINT(h.len, ==, lens[j]);
			CHECK_UINT(h.version, ==, MIGR_PROTO_VERSION);
			CHECK_UINT(h.type, ==, all_types[i]);
			CHECK_UINT(h.flags, ==, 0);
			free(c);
		}
	}
}

static void test_hdr_rejects(void)
{
	uint8_t b[MIGR_FRAME_HDR];
	struct migr_frame_hdr h;

	for (unsigned v = 0; v < 256; v++) {
		if (v == MIGR_PROTO_VERSION)
			continue;
		UNIT_CTX("version %u", v);
		migr_hdr_encode(b, MSG_HELLO, 10);
		b[4] = (uint8_t)v;
		CHECK_INT(migr_hdr_decode(b, &h), ==, MIGR_EVERSION);
	}
	UNIT_CTX_CLEAR();

	migr_hdr_encode(b, MSG_JOB_DATA, MIGR_FRAME_MAX + 1);
	CHECK_INT(migr_hdr_decode(b, &h), ==, MIGR_ETOOBIG);
	migr_hdr_encode(b, MSG_JOB_DATA, UINT32_MAX);
	CHECK_INT(migr_hdr_decode(b, &h), ==, MIGR_ETOOBIG);
	migr_hdr_encode(b, MSG_JOB_DATA, 0x80000000u);
	CHECK_INT(migr_hdr_decode(b, &h), ==, MIGR_ETOOBIG);

	for (unsigned t = 0; t < 256; t++) {
		if (is_declared(t))
			continue;
		UNIT_CTX("type %u", t);
		migr_hdr_encode(b, (uint8_t)t, 0);
		CHECK_INT(migr_hdr_decode(b, &h), ==, MIGR_EPROTO);
	}
	UNIT_CTX_CLEAR();

	/* flags are reserved: any bit set is a protocol error */
	for (int bit = 0; bit < 16; bit++) {
		UNIT_CTX("flag bit %d", bit);
		migr_hdr_encode(b, MSG_GOSSIP, 0);
		b[6 + bit / 8] = (uint8_t)(1u << (bit % 8));
		CHECK_INT(migr_hdr_decode(b, &h), ==, MIGR_EPROTO);
	}
	UNIT_CTX_CLEAR();

	/* the version is judged first: another version may lay out the rest differently */
	migr_hdr_encode(b, 0, UINT32_MAX);
	b[4] = MIGR_PROTO_VERSION + 1;
	CHECK_INT(migr_hdr_decode(b, &h), ==, MIGR_EVERSION);
}

/* ---- the writer and the reader ---- */

static void test_writer_layout(void)
{
	struct mw w;
	static const uint8_t want[] = {
		0xfe,				/* u8 */
		0x34, 0x12,			/* u16 */
		0x78, 0x56, 0x34, 0x12,		/* u32 */
		0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01, /* u64 */
		0x03, 0x00, 'a', 'b', 'c',	/* str */
		0x00, 0x00,			/* empty str */
		'x', 'y',			/* bytes */
	};
	mw_init(&w);
	CHECK(w.buf == NULL && w.len == 0);
	mw_u8(&w, 0xfe);
	mw_u16(&w, 0x1234);
	mw_u32(&w, 0x12345678);
	mw_u64(&w, 0x0123456789abcdefull);
	mw_str(&w, "abc");
	mw_str(&w, "");
	mw_bytes(&w, "xy", 2);
	mw_bytes(&w, NULL, 0);
	if (CHECK_UINT(w.len, ==, sizeof(want)))
		CHECK_MEM(w.buf, want, sizeof(want));
	CHECK(w.cap >= w.len);
	mw_free(&w);
	CHECK(w.buf == NULL && w.len == 0 && w.cap == 0);
}

static void test_writer_grows(void)
{
	struct mw w;
	mw_init(&w);
	/* many small writes across several reallocations keep every earlier byte */
	for (uint32_t i = 0; i < 100000; i++)
		mw_u32(&w, i * 2654435761u);
	CHECK_UINT(w.len, ==, 400000);
	struct mr r;
	mr_init(&r, w.buf, w.len);
	int same = 1;
	for (uint32_t i = 0; i < 100000; i++)
		same &= mr_u32(&r) == i * 2654435761u;
	CHECK(same);
	CHECK_INT(mr_end(&r), ==, 0);

	/* one write bigger than the doubling step */
	uint8_t *big = mw_space(&w, 3 * 1024 * 1024);
	memset(big, 0x5a, 3 * 1024 * 1024);
	CHECK_UINT(w.len, ==, 400000 + 3 * 1024 * 1024);
	CHECK(w.cap >= w.len);
	CHECK_UINT(w.buf[w.len - 1], ==, 0x5a);
	mw_free(&w);
}

static void test_frame(void)
{
	struct mw w;
	struct migr_frame_hdr h;
	mw_init(&w);
	mw_frame_begin(&w, MSG_JOB_DATA);
	mw_bytes(&w, "hello", 5);
	mw_frame_end(&w);
	CHECK_UINT(w.len, ==, MIGR_FRAME_HDR + 5);
	CHECK_INT(migr_hdr_decode(w.buf, &h), ==, 0);
	CHECK_UINT(h.len, ==, 5);
	CHECK_UINT(h.type, ==, MSG_JOB_DATA);
	CHECK_MEM(w.buf + MIGR_FRAME_HDR, "hello", 5);

	/* a writer is reused: begin starts over */
	mw_frame_begin(&w, MSG_CTL_OK);
	mw_frame_end(&w);
	CHECK_UINT(w.len, ==, MIGR_FRAME_HDR);
	CHECK_INT(migr_hdr_decode(w.buf, &h), ==, 0);
	CHECK_UINT(h.len, ==, 0);
	CHECK_UINT(h.type, ==, MSG_CTL_OK);
	mw_free(&w);
}

static void test_reader_ints(void)
{
	static const uint8_t in[] = { 0xfe, 0x34, 0x12, 0x78, 0x56, 0x34, 0x12, 0xef, 0xcd,
				      0xab, 0x89, 0x67, 0x45, 0x23, 0x01 };
	uint8_t *c = exact(in, sizeof(in));
	struct mr r;
	mr_init(&r, c, sizeof(in));
	CHECK_UINT(mr_u8(&r), ==, 0xfe);
	CHECK_UINT(mr_u16(&r), ==, 0x1234);
	CHECK_UINT(mr_u32(&r), ==, 0x12345678);
	CHECK_UINT(mr_u64(&r), ==, 0x0123456789abcdefull);
	CHECK(!r.bad);
	CHECK_UINT(r.left, ==, 0);
	CHECK_INT(mr_end(&r), ==, 0);
	/* past the end: 0, and the reader is spoiled for good */
	CHECK_UINT(mr_u8(&r), ==, 0);
	CHECK(r.bad);
	CHECK_INT(mr_end(&r), ==, MIGR_EPROTO);
	free(c);
}

/* Each width, read from every shorter input: fails, reads nothing, yields 0. */
static void test_reader_short(void)
{
	static const uint8_t ones[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
	for (size_t n = 0; n < 8; n++) {
		uint8_t *c = exact(ones, n);
		struct mr r;
		UNIT_CTX("%zu bytes", n);
		if (n < 2) {
			mr_init(&r, c, n);
			CHECK_UINT(mr_u16(&r), ==, 0);
			CHECK(r.bad);
		}
		if (n < 4) {
			mr_init(&r, c, n);
			CHECK_UINT(mr_u32(&r), ==, 0);
			CHECK(r.bad);
		}
		mr_init(&r, c, n);
		CHECK_UINT(mr_u64(&r), ==, 0);
		CHECK(r.bad);
		CHECK_INT(mr_end(&r), ==, MIGR_EPROTO);

		uint8_t out[8];
		memset(out, 0x77, sizeof(out));
		mr_init(&r, c, n);
		mr_bytes(&r, out, 8);
		CHECK(r.bad);
		CHECK_MEM(out, "\0\0\0\0\0\0\0\0", 8);	/* no stale bytes pass for data */
		free(c);
	}
	UNIT_CTX_CLEAR();

	/* after one short read, a read that would fit fails too */
	static const uint8_t three[3] = { 1, 2, 3 };
	struct mr r;
	mr_init(&r, three, sizeof(three));
	mr_u32(&r);
	CHECK(r.bad);
	CHECK_UINT(mr_u8(&r), ==, 0);
	CHECK_UINT(mr_u16(&r), ==, 0);
	CHECK(r.bad);

	/* leftovers are an error too */
	mr_init(&r, three, sizeof(three));
	mr_u16(&r);
	CHECK(!r.bad);
	CHECK_INT(mr_end(&r), ==, MIGR_EPROTO);
}

static void test_reader_str(void)
{
	struct mw w;
	struct mr r;
	char s31[32], s32[33], out[64];
	fill(s31, 'n', 31);
	fill(s32, 'n', 32);

	/* exactly max fits */
	mw_init(&w);
	mw_str(&w, s31);
	uint8_t *c = exact(w.buf, w.len);
	mr_init(&r, c, w.len);
	memset(out, 'x', sizeof(out));
	mr_str(&r, out, 31);
	CHECK_INT(mr_end(&r), ==, 0);
	CHECK_STR(out, s31);
	free(c);
	mw_free(&w);

	/* one over max: refused, and nothing is written past out[max] */
	mw_init(&w);
	mw_str(&w, s32);
	c = exact(w.buf, w.len);
	mr_init(&r, c, w.len);
	memset(out, 'x', sizeof(out));
	mr_str(&r, out, 31);
	CHECK(r.bad);
	CHECK_STR(out, "");
	CHECK(out[32] == 'x');
	free(c);
	mw_free(&w);

	/* empty */
	mw_init(&w);
	mw_str(&w, "");
	c = exact(w.buf, w.len);
	mr_init(&r, c, w.len);
	memset(out, 'x', sizeof(out));
	mr_str(&r, out, 0);
	CHECK_INT(mr_end(&r), ==, 0);
	CHECK_STR(out, "");
	free(c);
	mw_free(&w);

	/* embedded NUL */
	static const uint8_t nul[] = { 3, 0, 'a', 0, 'b' };
	c = exact(nul, sizeof(nul));
	mr_init(&r, c, sizeof(nul));
	mr_str(&r, out, 31);
	CHECK(r.bad);
	free(c);

	/* the length promises more than there is: every cut of a 10-byte string */
	static const uint8_t ten[] = { 10, 0, '0', '1', '2', '3', '4', '5', '6', '7', '8', '9' };
	for (size_t n = 0; n < sizeof(ten); n++) {
		UNIT_CTX("%zu of %zu bytes", n, sizeof(ten));
		c = exact(ten, n);
		mr_init(&r, c, n);
		mr_str(&r, out, 31);
		CHECK(r.bad);
		CHECK_STR(out, "");
		free(c);
	}
	UNIT_CTX_CLEAR();

	/* a length of 65535 with a small max is refused before anything is read */
	static const uint8_t huge[] = { 0xff, 0xff, 'a' };
	mr_init(&r, huge, sizeof(huge));
	mr_str(&r, out, 31);
	CHECK(r.bad);
}

static void test_writer_str_bound(void)
{
	/* a string over the u16 length is cut at 65535, never misframed */
	size_t n = 70000;
	char *s = malloc(n + 1);
	if (!CHECK(s != NULL))
		return;
	fill(s, 'q', n);
	struct mw w;
	mw_init(&w);
	mw_str(&w, s);
	CHECK_UINT(w.len, ==, 2 + 65535);
	CHECK_UINT(w.buf[0] | w.buf[1] << 8, ==, 65535);
	mw_free(&w);
	free(s);
}

static void test_name_valid(void)
{
	static const char *good[] = { "a", "node1", "Node-1.example_2", "0", "...", "-",
				      "abcdefghijklmnopqrstuvwxyz01234" };
	static const char *bad[] = { "", "a b", "a/b", "a:b", "node\n", "n\xc3\xa9", "a\tb",
				     "abcdefghijklmnopqrstuvwxyz012345", "a,b", "a@b" };
	for (size_t i = 0; i < UNIT_COUNT(good); i++) {
		UNIT_CTX("'%s'", good[i]);
		CHECK(migr_name_valid(good[i]));
	}
	for (size_t i = 0; i < UNIT_COUNT(bad); i++) {
		UNIT_CTX("'%s'", bad[i]);
		CHECK(!migr_name_valid(bad[i]));
	}
}

/* ---- gossip ---- */

static void gossip_sample(struct migr_gossip_msg *m, uint16_t count)
{
	memset(m, 0, sizeof(*m));
	m->count = count;
	for (uint16_t i = 0; i < count; i++) {
		struct migr_gossip_entry *e = &m->entries[i];
		if (i == 0)
			fill(e->name, 'N', MIGR_NAME_MAX);	/* longest name */
		else
			snprintf(e->name, sizeof(e->name), "node%u", i);
		if (i == 1)
			snprintf(e->addr, sizeof(e->addr),
				 "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
		else
			snprintf(e->addr, sizeof(e->addr), "10.0.%u.%u", i / 256, i % 256);
		e->port = (uint16_t)(7000 + i);
		e->status = i % 5 == 4 ? GOSSIP_LEFT : GOSSIP_ALIVE;
		e->incarnation = 0x0102030405060708ull + i;
		e->heartbeat = UINT64_MAX - i;
		e->age_ms = i * 1000u;
		e->vec.load_milli = 1234 + i;
		e->vec.cpus_milli = 4000;
		e->vec.mem_free_kb = (uint64_t)1 << 40 | i;
		e->vec.jobs = i;
		e->vec.cpu_features = 0x8000000000000001ull | (uint64_t)i << 8;
		e->vec.admin = i % 2 ? MIGR_ADMIN_DRAINED : MIGR_ADMIN_ACTIVE;
	}
}

static int gossip_equal(const struct migr_gossip_msg *a, const struct migr_gossip_msg *b)
{
	if (a->count != b->count)
		return 0;
	for (uint16_t i = 0; i < a->count; i++) {
		const struct migr_gossip_entry *x = &a->entries[i], *y = &b->entries[i];
		if (strcmp(x->name, y->name) || strcmp(x->addr, y->addr) || x->port != y->port ||
		    x->status != y->status || x->incarnation != y->incarnation ||
		    x->heartbeat != y->heartbeat || x->age_ms != y->age_ms ||
		    x->vec.load_milli != y->vec.load_milli ||
		    x->vec.cpus_milli != y->vec.cpus_milli ||
		    x->vec.mem_free_kb != y->vec.mem_free_kb || x->vec.jobs != y->vec.jobs ||
		    x->vec.cpu_features != y->vec.cpu_features || x->vec.admin != y->vec.admin)
			return 0;
	}
	return 1;
}

static int gossip_decode_exact(const uint8_t *p, size_t n, struct migr_gossip_msg *m)
{
	uint8_t *c = exact(p, n);
	int r = migr_gossip_decode(c, n, m);
	free(c);
	return r;
}

static void test_gossip_roundtrip(void)
{
	static const uint16_t counts[] = { 1, 2, 9, GOSSIP_MAX_ENTRIES };
	static struct migr_gossip_msg in, out;
	for (size_t k = 0; k < UNIT_COUNT(counts); k++) {
		struct mw w;
		UNIT_CTX("%u entries", counts[k]);
		gossip_sample(&in, counts[k]);
		mw_init(&w);
		migr_gossip_encode(&w, &in);
		memset(&out, 0xee, sizeof(out));
		CHECK_INT(gossip_decode_exact(w.buf, w.len, &out), ==, 0);
		CHECK(gossip_equal(&in, &out));
		mw_free(&w);
	}
}

static void test_gossip_truncated(void)
{
	static struct migr_gossip_msg in, out;
	struct mw w;
	gossip_sample(&in, 3);
	mw_init(&w);
	migr_gossip_encode(&w, &in);
	for (size_t n = 0; n < w.len; n++) {
		UNIT_CTX("%zu of %zu bytes", n, w.len);
		CHECK_INT(gossip_decode_exact(w.buf, n, &out), ==, MIGR_EPROTO);
	}
	UNIT_CTX_CLEAR();
	/* one byte too many */
	mw_u8(&w, 0);
	CHECK_INT(gossip_decode_exact(w.buf, w.len, &out), ==, MIGR_EPROTO);
	mw_free(&w);
}

/* Encodes in after letting edit() spoil it, and expects the decoder to refuse. */
static void gossip_expect_reject(const char *what, void (*edit)(struct migr_gossip_msg *))
{
	static struct migr_gossip_msg in, out;
	struct mw w;
	gossip_sample(&in, 3);
	edit(&in);
	mw_init(&w);
	migr_gossip_encode(&w, &in);
	UNIT_CTX("%s", what);
	CHECK_INT(gossip_decode_exact(w.buf, w.len, &out), ==, MIGR_EPROTO);
	UNIT_CTX_CLEAR();
	mw_free(&w);
}

static void edit_bad_name(struct migr_gossip_msg *m) { snprintf(m->entries[1].name, 32, "a b"); }
static void edit_empty_name(struct migr_gossip_msg *m) { m->entries[0].name[0] = '\0'; }
static void edit_status(struct migr_gossip_msg *m) { m->entries[2].status = GOSSIP_LEFT + 1; }
static void edit_status_ff(struct migr_gossip_msg *m) { m->entries[0].status = 0xff; }
static void edit_admin(struct migr_gossip_msg *m) { m->entries[1].vec.admin = MIGR_ADMIN_DRAINED + 1; }

static void test_gossip_rejects(void)
{
	gossip_expect_reject("name with a space", edit_bad_name);
	gossip_expect_reject("empty sender name", edit_empty_name);
	gossip_expect_reject("status 2", edit_status);
	gossip_expect_reject("status 255", edit_status_ff);
	gossip_expect_reject("admin state 2", edit_admin);

	static struct migr_gossip_msg out;
	struct mw w;

	/* no entries: there is no sender */
	mw_init(&w);
	mw_u16(&w, 0);
	CHECK_INT(gossip_decode_exact(w.buf, w.len, &out), ==, MIGR_EPROTO);
	mw_free(&w);

	/* more entries than the bound, refused on the count alone: 65 and 65535 */
	static const uint16_t counts[] = { GOSSIP_MAX_ENTRIES + 1, UINT16_MAX };
	for (size_t k = 0; k < UNIT_COUNT(counts); k++) {
		static struct migr_gossip_msg big;
		UNIT_CTX("count %u", counts[k]);
		gossip_sample(&big, GOSSIP_MAX_ENTRIES);
		mw_init(&w);
		migr_gossip_encode(&w, &big);
		w.buf[0] = (uint8_t)counts[k];
		w.buf[1] = (uint8_t)(counts[k] >> 8);
		CHECK_INT(gossip_decode_exact(w.buf, w.len, &out), ==, MIGR_EPROTO);
		mw_free(&w);
	}
	UNIT_CTX_CLEAR();

	/* a name one over MIGR_NAME_MAX, an address one over MIGR_ADDR_MAX, written by hand:
	 * the struct cannot hold them */
	char s[64];
	for (int which = 0; which < 2; which++) {
		mw_init(&w);
		mw_u16(&w, 1);
		fill(s, 'a', which == 0 ? MIGR_NAME_MAX + 1 : 5);
		mw_str(&w, s);
		fill(s, '1', which == 1 ? MIGR_ADDR_MAX + 1 : 7);
		mw_str(&w, s);
		mw_u16(&w, 7470);
		mw_u8(&w, GOSSIP_ALIVE);
		mw_u64(&w, 1);
		mw_u64(&w, 1);
		mw_u32(&w, 0);
		mw_zero(&w, 29);	/* the load vector */
		UNIT_CTX("%s over its bound", which == 0 ? "name" : "address");
		CHECK_INT(gossip_decode_exact(w.buf, w.len, &out), ==, MIGR_EPROTO);
		mw_free(&w);
	}
	UNIT_CTX_CLEAR();
}

/* The reference message, rebuilt by hand with the bounds exactly met, decodes. */
static void test_gossip_at_bounds(void)
{
	static struct migr_gossip_msg out;
	struct mw w;
	char name[MIGR_NAME_MAX + 1], addr[MIGR_ADDR_MAX + 1];
	fill(name, 'z', MIGR_NAME_MAX);
	fill(addr, '1', MIGR_ADDR_MAX);
	mw_init(&w);
	mw_u16(&w, 1);
	mw_str(&w, name);
	mw_str(&w, addr);
	mw_u16(&w, 65535);
	mw_u8(&w, GOSSIP_LEFT);
	mw_u64(&w, UINT64_MAX);
	mw_u64(&w, UINT64_MAX);
	mw_u32(&w, UINT32_MAX);
	mw_u32(&w, UINT32_MAX);
	mw_u32(&w, UINT32_MAX);
	mw_u64(&w, UINT64_MAX);
	mw_u32(&w, UINT32_MAX);
	mw_u64(&w, UINT64_MAX);
	mw_u8(&w, MIGR_ADMIN_DRAINED);
	if (CHECK_INT(gossip_decode_exact(w.buf, w.len, &out), ==, 0)) {
		CHECK_STR(out.entries[0].name, name);
		CHECK_STR(out.entries[0].addr, addr);
		CHECK_UINT(out.entries[0].port, ==, 65535);
		CHECK_UINT(out.entries[0].status, ==, GOSSIP_LEFT);
		CHECK_UINT(out.entries[0].heartbeat, ==, UINT64_MAX);
		CHECK_UINT(out.entries[0].vec.mem_free_kb, ==, UINT64_MAX);
		CHECK_UINT(out.entries[0].vec.cpu_features, ==, UINT64_MAX);
		CHECK_UINT(out.entries[0].vec.admin, ==, MIGR_ADMIN_DRAINED);
	}
	mw_free(&w);
}

/* ---- gossip: the SWIM kinds (ping, ack, ping-req, push-pull) ---- */

static const uint8_t gossip_kinds[] = {
	MSG_GOSSIP_PING, MSG_GOSSIP_ACK, MSG_GOSSIP_PING_REQ, MSG_GOSSIP_PUSH_PULL,
};

/* A message of the given kind: every field at work, every status past the sender's own,
 * suspects naming their accuser. */
static void kind_sample(struct migr_gossip_msg *m, uint8_t type, uint16_t count)
{
	gossip_sample(m, count);
	m->type = type;
	for (uint16_t i = 0; i < count; i++) {
		struct migr_gossip_entry *e = &m->entries[i];
		e->age_ms = 0;	/* not on the wire in these kinds */
		e->status = i == 0 ? GOSSIP_ALIVE : (uint8_t)(i % 4);
		if (e->status == GOSSIP_SUSPECT)
			snprintf(e->from, sizeof(e->from), i == 2 ? "accuser-%u" : "a", i);
	}
	switch (type) {
	case MSG_GOSSIP_PING:
		m->seq = 0xdeadbeef;
		fill(m->target, 't', MIGR_NAME_MAX);
		break;
	case MSG_GOSSIP_ACK:
		m->seq = 1;
		m->flags = GOSSIP_NACK;
		break;
	case MSG_GOSSIP_PING_REQ:
		m->seq = UINT32_MAX;
		snprintf(m->target, sizeof(m->target), "node7");
		fill(m->at.addr, '9', MIGR_ADDR_MAX);
		m->at.port = 65535;
		break;
	case MSG_GOSSIP_PUSH_PULL:
		m->flags = GOSSIP_PP_PULL | GOSSIP_PP_LAST | GOSSIP_PP_BUSY;
		break;
	}
}

static int kind_equal(const struct migr_gossip_msg *a, const struct migr_gossip_msg *b)
{
	if (a->type != b->type || a->flags != b->flags || a->seq != b->seq ||
	    strcmp(a->target, b->target) || strcmp(a->at.addr, b->at.addr) ||
	    a->at.port != b->at.port || !gossip_equal(a, b))
		return 0;
	for (uint16_t i = 0; i < a->count; i++)
		if (strcmp(a->entries[i].from, b->entries[i].from))
			return 0;
	return 1;
}

static int kind_decode_exact(uint8_t type, const uint8_t *p, size_t n, struct migr_gossip_msg *m)
{
	uint8_t *c = exact(p, n);
	int r = migr_gossip_decode_type(type, c, n, m);
	free(c);
	return r;
}

static void test_gossip_kinds_roundtrip(void)
{
	static const uint16_t counts[] = { 1, 2, 5, GOSSIP_MAX_ENTRIES };
	static struct migr_gossip_msg in, out;
	for (size_t t = 0; t < UNIT_COUNT(gossip_kinds); t++)
		for (size_t k = 0; k < UNIT_COUNT(counts); k++) {
			struct mw w;
			UNIT_CTX("%s, %u entries", migr_msg_type_name(gossip_kinds[t]), counts[k]);
			CHECK(migr_gossip_type(gossip_kinds[t]));
			kind_sample(&in, gossip_kinds[t], counts[k]);
			mw_init(&w);
			migr_gossip_encode(&w, &in);
			CHECK_UINT(migr_gossip_size(&in), ==, w.len);
			memset(&out, 0xee, sizeof(out));
			CHECK_INT(kind_decode_exact(gossip_kinds[t], w.buf, w.len, &out), ==, 0);
			CHECK(kind_equal(&in, &out));
			mw_free(&w);
		}
	UNIT_CTX_CLEAR();
	/* MSG_GOSSIP too: the size of its coding, and its type set by the decoder */
	gossip_sample(&in, 9);
	struct mw w;
	mw_init(&w);
	migr_gossip_encode(&w, &in);
	CHECK_UINT(migr_gossip_size(&in), ==, w.len);
	CHECK_INT(migr_gossip_decode_type(MSG_GOSSIP, w.buf, w.len, &out), ==, 0);
	CHECK_UINT(out.type, ==, MSG_GOSSIP);
	CHECK(gossip_equal(&in, &out));
	mw_free(&w);
	/* no other type is a gossip kind */
	for (unsigned t = 0; t < 256; t++) {
		int kind = t == MSG_GOSSIP;
		for (size_t i = 0; i < UNIT_COUNT(gossip_kinds); i++)
			kind |= t == gossip_kinds[i];
		UNIT_CTX("type %u", t);
		CHECK_INT(migr_gossip_type((uint8_t)t), ==, kind);
		if (!kind)
			CHECK_INT(migr_gossip_decode_type((uint8_t)t, "", 0, &out), ==,
				  MIGR_EPROTO);
	}
	UNIT_CTX_CLEAR();
}

static void test_gossip_kinds_truncated(void)
{
	static struct migr_gossip_msg in, out;
	for (size_t t = 0; t < UNIT_COUNT(gossip_kinds); t++) {
		struct mw w;
		kind_sample(&in, gossip_kinds[t], 4);
		mw_init(&w);
		migr_gossip_encode(&w, &in);
		for (size_t n = 0; n < w.len; n++) {
			UNIT_CTX("%s: %zu of %zu bytes", migr_msg_type_name(gossip_kinds[t]), n,
				 w.len);
			CHECK_INT(kind_decode_exact(gossip_kinds[t], w.buf, n, &out), ==,
				  MIGR_EPROTO);
		}
		mw_u8(&w, 0);
		UNIT_CTX("%s: one byte too many", migr_msg_type_name(gossip_kinds[t]));
		CHECK_INT(kind_decode_exact(gossip_kinds[t], w.buf, w.len, &out), ==, MIGR_EPROTO);
		mw_free(&w);
	}
	UNIT_CTX_CLEAR();
}

/* Encodes a sample of the kind after edit() spoiled it; the decoder must refuse it. */
static void kind_expect_reject(const char *what, uint8_t type,
			       void (*edit)(struct migr_gossip_msg *))
{
	static struct migr_gossip_msg in, out;
	struct mw w;
	kind_sample(&in, type, 4);
	edit(&in);
	mw_init(&w);
	migr_gossip_encode(&w, &in);
	UNIT_CTX("%s: %s", migr_msg_type_name(type), what);
	CHECK_INT(kind_decode_exact(type, w.buf, w.len, &out), ==, MIGR_EPROTO);
	UNIT_CTX_CLEAR();
	mw_free(&w);
}

static void k_sender_suspect(struct migr_gossip_msg *m)
{
	m->entries[0].status = GOSSIP_SUSPECT;
	snprintf(m->entries[0].from, sizeof(m->entries[0].from), "x");
}
static void k_sender_dead(struct migr_gossip_msg *m) { m->entries[0].status = GOSSIP_DEAD; }
static void k_status_4(struct migr_gossip_msg *m) { m->entries[1].status = GOSSIP_DEAD + 1; }
static void k_bad_accuser(struct migr_gossip_msg *m) { snprintf(m->entries[2].from, 32, "a b"); }
static void k_no_accuser(struct migr_gossip_msg *m) { m->entries[2].from[0] = '\0'; }
static void k_bad_name(struct migr_gossip_msg *m) { snprintf(m->entries[3].name, 32, "x/y"); }
static void k_no_target(struct migr_gossip_msg *m) { m->target[0] = '\0'; }
static void k_bad_target(struct migr_gossip_msg *m) { snprintf(m->target, 32, "a\tb"); }
static void k_flags(struct migr_gossip_msg *m) { m->flags = 0x80; }
static void k_flag_2(struct migr_gossip_msg *m) { m->flags = 2; }
static void k_pp_flag_8(struct migr_gossip_msg *m) { m->flags = 8; }

static void test_gossip_kinds_rejects(void)
{
	for (size_t t = 0; t < UNIT_COUNT(gossip_kinds); t++) {
		uint8_t type = gossip_kinds[t];
		kind_expect_reject("the sender says it is suspect", type, k_sender_suspect);
		kind_expect_reject("the sender says it is dead", type, k_sender_dead);
		kind_expect_reject("status 4", type, k_status_4);
		kind_expect_reject("an accuser with a space", type, k_bad_accuser);
		kind_expect_reject("a suspect with no accuser", type, k_no_accuser);
		kind_expect_reject("a name with a slash", type, k_bad_name);
	}
	kind_expect_reject("no target", MSG_GOSSIP_PING, k_no_target);
	kind_expect_reject("a target with a tab", MSG_GOSSIP_PING, k_bad_target);
	kind_expect_reject("no target", MSG_GOSSIP_PING_REQ, k_no_target);
	kind_expect_reject("a target with a tab", MSG_GOSSIP_PING_REQ, k_bad_target);
	kind_expect_reject("flags 0x80", MSG_GOSSIP_ACK, k_flags);
	kind_expect_reject("flags 2", MSG_GOSSIP_ACK, k_flag_2);
	kind_expect_reject("flags 0x80", MSG_GOSSIP_PUSH_PULL, k_flags);
	kind_expect_reject("flags 8", MSG_GOSSIP_PUSH_PULL, k_pp_flag_8);

	/* counts: 0 (no sender) and over the bound, refused on the count alone */
	static struct migr_gossip_msg in, out;
	static const uint16_t counts[] = { 0, GOSSIP_MAX_ENTRIES + 1, UINT16_MAX };
	struct mw w;
	for (size_t k = 0; k < UNIT_COUNT(counts); k++) {
		UNIT_CTX("push-pull, count %u", counts[k]);
		kind_sample(&in, MSG_GOSSIP_PUSH_PULL, GOSSIP_MAX_ENTRIES);
		mw_init(&w);
		migr_gossip_encode(&w, &in);
		w.buf[1] = (uint8_t)counts[k];	/* after the flags byte */
		w.buf[2] = (uint8_t)(counts[k] >> 8);
		CHECK_INT(kind_decode_exact(MSG_GOSSIP_PUSH_PULL, w.buf, w.len, &out), ==,
			  MIGR_EPROTO);
		mw_free(&w);
	}
	UNIT_CTX_CLEAR();

	/* a ping-req's address one over MIGR_ADDR_MAX, written by hand */
	char s[64];
	mw_init(&w);
	mw_u32(&w, 1);
	mw_str(&w, "node1");
	fill(s, '1', MIGR_ADDR_MAX + 1);
	mw_str(&w, s);
	mw_u16(&w, 7470);
	mw_u16(&w, 1);
	mw_str(&w, "sender");
	mw_str(&w, "10.0.0.1");
	mw_u16(&w, 7470);
	mw_u8(&w, GOSSIP_ALIVE);
	mw_u64(&w, 1);
	mw_u64(&w, 1);
	mw_zero(&w, 29);	/* the load vector */
	CHECK_INT(kind_decode_exact(MSG_GOSSIP_PING_REQ, w.buf, w.len, &out), ==, MIGR_EPROTO);
	/* the same with an address that fits decodes: the layout is as written here */
	w.len = 0;
	mw_u32(&w, 1);
	mw_str(&w, "node1");
	fill(s, '1', MIGR_ADDR_MAX);
	mw_str(&w, s);
	mw_u16(&w, 7470);
	mw_u16(&w, 1);
	mw_str(&w, "sender");
	mw_str(&w, "10.0.0.1");
	mw_u16(&w, 7470);
	mw_u8(&w, GOSSIP_LEFT);
	mw_u64(&w, 1);
	mw_u64(&w, 1);
	mw_zero(&w, 29);	/* the load vector */
	if (CHECK_INT(kind_decode_exact(MSG_GOSSIP_PING_REQ, w.buf, w.len, &out), ==, 0)) {
		CHECK_STR(out.at.addr, s);
		CHECK_STR(out.target, "node1");
		CHECK_UINT(out.entries[0].status, ==, GOSSIP_LEFT);
	}
	mw_free(&w);
}

/* ---- control replies ---- */

static void nodes_sample(struct migr_node *nd, size_t n)
{
	memset(nd, 0, n * sizeof(*nd));
	for (size_t i = 0; i < n; i++) {
		snprintf(nd[i].name, sizeof(nd[i].name), "node%zu", i);
		snprintf(nd[i].addr, sizeof(nd[i].addr), "fe80::%zx", i + 1);
		nd[i].port = (uint16_t)(7470 + i);
		nd[i].state = (uint8_t)(i % 4);
		nd[i].self = i == 1;
		nd[i].load = 0.125 * (double)i;
		nd[i].cpus = 2.5;
		nd[i].mem_free_kb = 123456789ull * (i + 1);
		nd[i].jobs = (uint32_t)(i * 3);
		nd[i].incarnation = 1000 + i;
		nd[i].age_ms = (uint32_t)(i * 250);
		nd[i].admin = i % 3 == 2 ? MIGR_ADMIN_DRAINED : MIGR_ADMIN_ACTIVE;
	}
}

static void test_nodes_roundtrip(void)
{
	static const size_t counts[] = { 0, 1, 5 };
	for (size_t k = 0; k < UNIT_COUNT(counts); k++) {
		struct migr_node in[5], *out = NULL;
		size_t n = 99;
		struct mw w;
		UNIT_CTX("%zu nodes", counts[k]);
		nodes_sample(in, counts[k]);
		mw_init(&w);
		migr_nodes_encode(&w, in, counts[k]);
		uint8_t *c = exact(w.buf, w.len);
		if (CHECK_INT(migr_nodes_decode(c, w.len, &out, &n), ==, 0) &&
		    CHECK_UINT(n, ==, counts[k])) {
			for (size_t i = 0; i < n; i++) {
				CHECK_STR(out[i].name, in[i].name);
				CHECK_STR(out[i].addr, in[i].addr);
				CHECK_UINT(out[i].port, ==, in[i].port);
				CHECK_UINT(out[i].state, ==, in[i].state);
				CHECK_UINT(out[i].self, ==, in[i].self);
				CHECK(out[i].load == in[i].load);	/* exact in thousandths */
				CHECK(out[i].cpus == in[i].cpus);
				CHECK_UINT(out[i].mem_free_kb, ==, in[i].mem_free_kb);
				CHECK_UINT(out[i].jobs, ==, in[i].jobs);
				CHECK_UINT(out[i].incarnation, ==, in[i].incarnation);
				CHECK_UINT(out[i].age_ms, ==, in[i].age_ms);
				CHECK_UINT(out[i].admin, ==, in[i].admin);
			}
		}
		free(out);
		free(c);
		mw_free(&w);
	}
}

/* Doubles travel in thousandths: rounded to nearest, negatives as 0. */
static void test_nodes_fixed_point(void)
{
	struct migr_node in, *out = NULL;
	size_t n;
	struct mw w;
	nodes_sample(&in, 1);
	in.load = 1.23449;
	in.cpus = -3;
	mw_init(&w);
	migr_nodes_encode(&w, &in, 1);
	if (CHECK_INT(migr_nodes_decode(w.buf, w.len, &out, &n), ==, 0)) {
		CHECK(out[0].load > 1.2339 && out[0].load < 1.2341);
		CHECK(out[0].cpus == 0);
	}
	free(out);
	mw_free(&w);
}

/* Out of range, thousandths saturate: a decoded UINT64_MAX (2^64 once multiplied back),
 * huge and infinite values encode as UINT64_MAX, NaN as 0; none is an undefined cast. */
static void test_fixed_point_bounds(void)
{
	static const struct {
		double v;
		uint64_t want;
	} cases[] = {
		{ (double)UINT64_MAX / 1000.0, UINT64_MAX },
		{ 1e300, UINT64_MAX },
		{ INFINITY, UINT64_MAX },
		{ NAN, 0 },
		{ -INFINITY, 0 },
		{ 0.0004, 0 },
		{ 2.5, 2500 },
	};
	for (size_t i = 0; i < UNIT_COUNT(cases); i++) {
		struct migr_node in, *out = NULL;
		struct migr_job job, back;
		size_t n;
		struct mw w;
		struct mr r;
		UNIT_CTX("%g", cases[i].v);
		nodes_sample(&in, 1);
		in.load = in.cpus = cases[i].v;
		mw_init(&w);
		migr_nodes_encode(&w, &in, 1);
		if (CHECK_INT(migr_nodes_decode(w.buf, w.len, &out, &n), ==, 0)) {
			CHECK(out[0].load == (double)cases[i].want / 1000.0);
			CHECK(out[0].cpus == (double)cases[i].want / 1000.0);
		}
		free(out);
		/* a job, as a home passes on what a peer reported (MSG_PS_REPLY) */
		memset(&job, 0, sizeof(job));
		job.cpu = cases[i].v;
		w.len = 0;
		migr_job_encode(&w, &job);
		mr_init(&r, w.buf, w.len);
		migr_job_decode(&r, &back);
		if (CHECK_INT(mr_end(&r), ==, 0))
			CHECK(back.cpu == (double)cases[i].want / 1000.0);
		mw_free(&w);
	}
	UNIT_CTX_CLEAR();
}

static void test_nodes_bad(void)
{
	struct migr_node in[3], *out = NULL;
	size_t n;
	struct mw w;
	nodes_sample(in, 3);
	mw_init(&w);
	migr_nodes_encode(&w, in, 3);
	for (size_t len = 0; len < w.len; len++) {
		UNIT_CTX("%zu of %zu bytes", len, w.len);
		uint8_t *c = exact(w.buf, len);
		out = NULL;
		CHECK_INT(migr_nodes_decode(c, len, &out, &n), ==, MIGR_EPROTO);
		CHECK(out == NULL);	/* nothing handed out on failure */
		free(c);
	}
	UNIT_CTX_CLEAR();
	mw_u8(&w, 0);
	out = NULL;
	CHECK_INT(migr_nodes_decode(w.buf, w.len, &out, &n), ==, MIGR_EPROTO);
	CHECK(out == NULL);
	mw_free(&w);

	/* a count over the bound, and a huge count with nothing behind it */
	static const uint32_t counts[] = { MIGR_CTL_NODES_MAX + 1, UINT32_MAX };
	for (size_t k = 0; k < UNIT_COUNT(counts); k++) {
		UNIT_CTX("count %u", counts[k]);
		mw_init(&w);
		mw_u32(&w, counts[k]);
		out = NULL;
		CHECK_INT(migr_nodes_decode(w.buf, w.len, &out, &n), ==, MIGR_EPROTO);
		CHECK(out == NULL);
		mw_free(&w);
	}
	UNIT_CTX_CLEAR();

	/* at the bound the count is allowed, but entries must then be there */
	mw_init(&w);
	mw_u32(&w, MIGR_CTL_NODES_MAX);
	CHECK_INT(migr_nodes_decode(w.buf, w.len, &out, &n), ==, MIGR_EPROTO);
	mw_free(&w);

	/* a name over MIGR_NAME_MAX */
	char name[MIGR_NAME_MAX + 2];
	fill(name, 'a', MIGR_NAME_MAX + 1);
	mw_init(&w);
	mw_u32(&w, 1);
	mw_str(&w, name);
	mw_str(&w, "10.0.0.1");
	mw_zero(&w, 2 + 1 + 1 + 8 + 8 + 8 + 4 + 8 + 4);
	CHECK_INT(migr_nodes_decode(w.buf, w.len, &out, &n), ==, MIGR_EPROTO);
	mw_free(&w);
}

static void status_sample(struct migr_status *s)
{
	memset(s, 0, sizeof(*s));
	fill(s->name, 'n', MIGR_NAME_MAX);
	fill(s->addr, 'a', MIGR_ADDR_MAX);
	s->port = 65535;
	s->incarnation = UINT64_MAX;
	s->uptime_ms = 123456789012ull;
	s->nodes_alive = 7;
	s->nodes_total = 9;
	s->peers_connected = 5;
	s->pid = 4242;
	s->cpu_ns = 987654321;
	s->rss_kb = 2048;
	s->load = 3.75;
	s->cpus = 64;
	s->mem_free_kb = 1ull << 35;
	s->balance = 1;
}

static void test_status(void)
{
	struct migr_status in, out;
	struct mw w;
	status_sample(&in);
	mw_init(&w);
	migr_status_encode(&w, &in);
	uint8_t *c = exact(w.buf, w.len);
	memset(&out, 0xee, sizeof(out));
	if (CHECK_INT(migr_status_decode(c, w.len, &out), ==, 0)) {
		CHECK_STR(out.name, in.name);
		CHECK_STR(out.addr, in.addr);
		CHECK_UINT(out.port, ==, in.port);
		CHECK_UINT(out.incarnation, ==, in.incarnation);
		CHECK_UINT(out.uptime_ms, ==, in.uptime_ms);
		CHECK_UINT(out.nodes_alive, ==, in.nodes_alive);
		CHECK_UINT(out.nodes_total, ==, in.nodes_total);
		CHECK_UINT(out.peers_connected, ==, in.peers_connected);
		CHECK_UINT(out.pid, ==, in.pid);
		CHECK_UINT(out.cpu_ns, ==, in.cpu_ns);
		CHECK_UINT(out.rss_kb, ==, in.rss_kb);
		CHECK(out.load == in.load);
		CHECK(out.cpus == in.cpus);
		CHECK_UINT(out.mem_free_kb, ==, in.mem_free_kb);
		CHECK_INT(out.balance, ==, in.balance);
	}
	free(c);
	mw_free(&w);

	/* balance off, and any true value travels as 1 */
	in.balance = 0;
	mw_init(&w);
	migr_status_encode(&w, &in);
	CHECK_INT(migr_status_decode(w.buf, w.len, &out), ==, 0);
	CHECK_INT(out.balance, ==, 0);
	mw_free(&w);
	in.balance = 7;
	mw_init(&w);
	migr_status_encode(&w, &in);
	CHECK_INT(migr_status_decode(w.buf, w.len, &out), ==, 0);
	CHECK_INT(out.balance, ==, 1);
	for (size_t len = 0; len < w.len; len++) {
		UNIT_CTX("%zu of %zu bytes", len, w.len);
		c = exact(w.buf, len);
		CHECK_INT(migr_status_decode(c, len, &out), ==, MIGR_EPROTO);
		free(c);
	}
	UNIT_CTX_CLEAR();
	mw_u8(&w, 1);
	CHECK_INT(migr_status_decode(w.buf, w.len, &out), ==, MIGR_EPROTO);
	mw_free(&w);
}

static void test_error(void)
{
	struct mw w;
	int code = 0;
	char msg[MIGR_ERRMSG_MAX + 1];

	mw_init(&w);
	migr_error_encode(&w, MIGR_EREFUSED, "node3: no such node");
	uint8_t *c = exact(w.buf, w.len);
	CHECK_INT(migr_error_decode(c, w.len, &code, msg), ==, 0);
	CHECK_INT(code, ==, MIGR_EREFUSED);
	CHECK_STR(msg, "node3: no such node");
	free(c);
	for (size_t len = 0; len < w.len; len++) {
		UNIT_CTX("%zu of %zu bytes", len, w.len);
		c = exact(w.buf, len);
		CHECK_INT(migr_error_decode(c, len, &code, msg), ==, MIGR_EPROTO);
		free(c);
	}
	UNIT_CTX_CLEAR();
	mw_free(&w);

	/* the encoder cuts a long message to the bound; the decoder takes exactly that */
	char *longmsg = malloc(2000);
	if (!CHECK(longmsg != NULL))
		return;
	fill(longmsg, 'e', 1999);
	mw_init(&w);
	migr_error_encode(&w, -2, longmsg);
	CHECK_UINT(w.len, ==, 4 + 2 + MIGR_ERRMSG_MAX);
	CHECK_INT(migr_error_decode(w.buf, w.len, &code, msg), ==, 0);
	CHECK_INT(code, ==, -2);
	CHECK_UINT(strlen(msg), ==, MIGR_ERRMSG_MAX);
	mw_free(&w);

	/* one over the bound, written by hand, is refused */
	longmsg[MIGR_ERRMSG_MAX + 1] = '\0';
	mw_init(&w);
	mw_u32(&w, 1);
	mw_str(&w, longmsg);
	memset(msg, 'x', sizeof(msg));
	CHECK_INT(migr_error_decode(w.buf, w.len, &code, msg), ==, MIGR_EPROTO);
	mw_free(&w);
	free(longmsg);
}

/* ---- jobs ---- */

static void test_strv(void)
{
	char *const list[] = { "ls", "-l", "", "a b", NULL };
	struct migr_strv v;
	migr_strv_from(&v, list);
	CHECK_UINT(v.count, ==, 4);
	CHECK_UINT(v.len, ==, 3 + 3 + 1 + 4);
	char **back = migr_strv_list(&v);
	if (CHECK(back != NULL)) {
		for (int i = 0; i < 4; i++)
			CHECK_STR(back[i], list[i]);
		CHECK(back[4] == NULL);
	}
	free(back);
	migr_strv_free(&v);
	CHECK(v.data == NULL && v.count == 0 && v.len == 0);

	char *const empty[] = { NULL };
	migr_strv_from(&v, empty);
	CHECK_UINT(v.count, ==, 0);
	CHECK_UINT(v.len, ==, 0);
	back = migr_strv_list(&v);
	CHECK(back && back[0] == NULL);
	free(back);
	migr_strv_free(&v);

	migr_strv_from(&v, NULL);
	CHECK_UINT(v.count, ==, 0);
	migr_strv_free(&v);
}

static void spec_sample(struct migr_job_spec *s)
{
	char *const argv[] = { "/bin/sleep", "10", NULL };
	char *const env[] = { "PATH=/bin", "HOME=/root", "EMPTY=", NULL };
	memset(s, 0, sizeof(*s));
	fill(s->gpid, 'g', MIGR_GPID_MAX);
	snprintf(s->home, sizeof(s->home), "home-node");
	snprintf(s->node, sizeof(s->node), "best");
	s->uid = 1000;
	s->gid = 100;
	s->ngroups = JOB_GROUPS_MAX;
	for (int i = 0; i < JOB_GROUPS_MAX; i++)
		s->groups[i] = 5000u + (uint32_t)i;
	s->umask = 022;
	s->flags = MIGR_RUN_NO_MIGRATE | MIGR_RUN_DETACHED;
	fill(s->cwd, 'c', sizeof(s->cwd) - 1);
	s->cwd[0] = '/';
	s->nrlimits = JOB_RLIMITS_MAX;
	for (int i = 0; i < JOB_RLIMITS_MAX; i++) {
		s->rlimits[i].resource = (uint8_t)i;
		s->rlimits[i].cur = (uint64_t)i << 33;
		s->rlimits[i].max = UINT64_MAX - (uint64_t)i;
	}
	migr_strv_from(&s->argv, argv);
	migr_strv_from(&s->env, env);
}

static int strv_equal(const struct migr_strv *a, const struct migr_strv *b)
{
	return a->count == b->count && a->len == b->len &&
	       (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static int spec_decode_exact(const uint8_t *p, size_t n, struct migr_job_spec *s, int *end)
{
	uint8_t *c = exact(p, n);
	struct mr r;
	mr_init(&r, c, n);
	int ret = migr_job_spec_decode(&r, s);
	*end = mr_end(&r);
	free(c);
	return ret;
}

static void test_job_spec_roundtrip(void)
{
	static struct migr_job_spec in, out;
	struct mw w;
	int end;
	spec_sample(&in);
	mw_init(&w);
	migr_job_spec_encode(&w, &in);
	if (CHECK_INT(spec_decode_exact(w.buf, w.len, &out, &end), ==, 0)) {
		CHECK_INT(end, ==, 0);
		CHECK_STR(out.gpid, in.gpid);
		CHECK_STR(out.home, in.home);
		CHECK_STR(out.node, in.node);
		CHECK_UINT(out.uid, ==, in.uid);
		CHECK_UINT(out.gid, ==, in.gid);
		CHECK_UINT(out.ngroups, ==, in.ngroups);
		CHECK_MEM(out.groups, in.groups, sizeof(in.groups));
		CHECK_UINT(out.umask, ==, in.umask);
		CHECK_UINT(out.flags, ==, in.flags);
		CHECK_STR(out.cwd, in.cwd);
		CHECK_UINT(out.nrlimits, ==, in.nrlimits);
		for (int i = 0; i < JOB_RLIMITS_MAX; i++) {
			CHECK_UINT(out.rlimits[i].resource, ==, in.rlimits[i].resource);
			CHECK_UINT(out.rlimits[i].cur, ==, in.rlimits[i].cur);
			CHECK_UINT(out.rlimits[i].max, ==, in.rlimits[i].max);
		}
		CHECK(strv_equal(&out.argv, &in.argv));
		CHECK(strv_equal(&out.env, &in.env));
		char **argv = migr_strv_list(&out.argv);
		CHECK_STR(argv[0], "/bin/sleep");
		CHECK_STR(argv[1], "10");
		CHECK(argv[2] == NULL);
		free(argv);
		migr_job_spec_free(&out);
	}
	mw_free(&w);

	/* no groups, no rlimits, an empty environment; umask keeps only permission bits */
	migr_job_spec_free(&in);
	spec_sample(&in);
	in.ngroups = 0;
	in.nrlimits = 0;
	in.umask = 07777;
	in.cwd[1] = '\0';
	migr_strv_free(&in.env);
	mw_init(&w);
	migr_job_spec_encode(&w, &in);
	if (CHECK_INT(spec_decode_exact(w.buf, w.len, &out, &end), ==, 0)) {
		CHECK_INT(end, ==, 0);
		CHECK_UINT(out.ngroups, ==, 0);
		CHECK_UINT(out.nrlimits, ==, 0);
		CHECK_UINT(out.umask, ==, 0777);
		CHECK_STR(out.cwd, "/");
		CHECK_UINT(out.env.count, ==, 0);
		migr_job_spec_free(&out);
	}
	mw_free(&w);
	migr_job_spec_free(&in);
}

static void test_job_spec_truncated(void)
{
	static struct migr_job_spec in, out;
	struct mw w;
	int end;
	spec_sample(&in);
	in.ngroups = 2;
	in.nrlimits = 2;
	in.cwd[5] = '\0';
	mw_init(&w);
	migr_job_spec_encode(&w, &in);
	for (size_t n = 0; n < w.len; n++) {
		UNIT_CTX("%zu of %zu bytes", n, w.len);
		CHECK_INT(spec_decode_exact(w.buf, n, &out, &end), ==, MIGR_EPROTO);
		/* freed on failure: the leak checker would see argv or env otherwise */
		CHECK(out.argv.data == NULL && out.env.data == NULL);
	}
	UNIT_CTX_CLEAR();
	/* a trailing byte is for the caller's mr_end to see */
	mw_u8(&w, 0);
	if (CHECK_INT(spec_decode_exact(w.buf, w.len, &out, &end), ==, 0)) {
		CHECK_INT(end, ==, MIGR_EPROTO);
		migr_job_spec_free(&out);
	}
	mw_free(&w);
	migr_job_spec_free(&in);
}

/* Offsets in an encoded spec, for the tests that spoil one field. */
struct spec_layout {
	size_t ngroups, nrlimits, argv;
};

static struct spec_layout spec_layout_of(const struct migr_job_spec *s)
{
	struct spec_layout l;
	size_t off = 2 + strlen(s->gpid) + 2 + strlen(s->home) + 2 + strlen(s->node) + 8;
	l.ngroups = off;
	off += 2 + 4u * s->ngroups + 8 + 2 + strlen(s->cwd);
	l.nrlimits = off;
	off += 1 + 17u * s->nrlimits;
	l.argv = off;
	return l;
}

static void put_le(uint8_t *p, uint32_t v, int width)
{
	for (int i = 0; i < width; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void test_job_spec_bad(void)
{
	static struct migr_job_spec in, out;
	struct mw w;
	int end;
	spec_sample(&in);
	in.ngroups = 1;
	in.nrlimits = 1;
	in.cwd[4] = '\0';
	mw_init(&w);
	migr_job_spec_encode(&w, &in);
	struct spec_layout l = spec_layout_of(&in);
	/* the layout the test assumes is the one encoded */
	CHECK_UINT(w.buf[l.ngroups], ==, 1);
	CHECK_UINT(w.buf[l.nrlimits], ==, 1);
	CHECK_UINT(w.buf[l.argv], ==, in.argv.count);
	CHECK_INT(spec_decode_exact(w.buf, w.len, &out, &end), ==, 0);
	migr_job_spec_free(&out);

	uint8_t *b = exact(w.buf, w.len);
	size_t n = w.len;

	struct {
		const char *what;
		size_t off;
		int width;
		uint32_t v;
	} spoil[] = {
		{ "ngroups over the bound", l.ngroups, 2, JOB_GROUPS_MAX + 1 },
		{ "ngroups 65535", l.ngroups, 2, 0xffff },
		{ "nrlimits over the bound", l.nrlimits, 1, JOB_RLIMITS_MAX + 1 },
		{ "nrlimits 255", l.nrlimits, 1, 0xff },
		{ "argv count 0", l.argv, 4, 0 },
		{ "argv count one short", l.argv, 4, in.argv.count - 1 },
		{ "argv count one over", l.argv, 4, in.argv.count + 1 },
		{ "argv count huge", l.argv, 4, UINT32_MAX },
		{ "argv len over what is left", l.argv + 4, 4, (uint32_t)(n - l.argv) },
		{ "argv len 4 GiB", l.argv + 4, 4, UINT32_MAX },
	};
	for (size_t k = 0; k < UNIT_COUNT(spoil); k++) {
		memcpy(b, w.buf, n);
		put_le(b + spoil[k].off, spoil[k].v, spoil[k].width);
		UNIT_CTX("%s", spoil[k].what);
		CHECK_INT(spec_decode_exact(b, n, &out, &end), ==, MIGR_EPROTO);
		CHECK(out.argv.data == NULL && out.env.data == NULL);
	}
	UNIT_CTX_CLEAR();

	/* argv's last string without its NUL */
	memcpy(b, w.buf, n);
	b[l.argv + 8 + in.argv.len - 1] = 'x';
	CHECK_INT(spec_decode_exact(b, n, &out, &end), ==, MIGR_EPROTO);
	/* an extra NUL inside: one more string than counted */
	memcpy(b, w.buf, n);
	b[l.argv + 8 + 1] = '\0';
	CHECK_INT(spec_decode_exact(b, n, &out, &end), ==, MIGR_EPROTO);
	/* the environment is checked just the same: spoil its final NUL */
	memcpy(b, w.buf, n);
	b[n - 1] = 'x';
	CHECK_INT(spec_decode_exact(b, n, &out, &end), ==, MIGR_EPROTO);
	free(b);
	mw_free(&w);

	/* a well-formed empty argv: nothing to execute */
	migr_strv_free(&in.argv);
	mw_init(&w);
	migr_job_spec_encode(&w, &in);
	CHECK_INT(spec_decode_exact(w.buf, w.len, &out, &end), ==, MIGR_EPROTO);
	CHECK(out.argv.data == NULL && out.env.data == NULL);
	mw_free(&w);
	migr_job_spec_free(&in);
}

/* A spec written field by field, so counts can exceed what the struct holds while
 * every byte they promise is there. */
static void spec_by_hand(struct mw *w, unsigned ngroups, unsigned nrlimits)
{
	mw_str(w, "home.1");
	mw_str(w, "home");
	mw_str(w, "");
	mw_u32(w, 1000);
	mw_u32(w, 1000);
	mw_u16(w, (uint16_t)ngroups);
	for (unsigned i = 0; i < ngroups; i++)
		mw_u32(w, 100 + i);
	mw_u32(w, 022);
	mw_u32(w, 0);
	mw_str(w, "/");
	mw_u8(w, (uint8_t)nrlimits);
	for (unsigned i = 0; i < nrlimits; i++) {
		mw_u8(w, (uint8_t)i);
		mw_u64(w, 1);
		mw_u64(w, 2);
	}
	mw_u32(w, 1);		/* argv: "true" */
	mw_u32(w, 5);
	mw_bytes(w, "true", 5);
	mw_u32(w, 0);		/* no environment */
	mw_u32(w, 0);
}

/* Counts over the arrays' bounds are refused even when the data is all there: reading
 * them would write past the struct's arrays. */
static void test_job_spec_counts(void)
{
	static struct migr_job_spec out;
	static const struct {
		unsigned ngroups, nrlimits;
		int ok;
	} cases[] = {
		{ 0, 0, 1 },
		{ JOB_GROUPS_MAX, JOB_RLIMITS_MAX, 1 },
		{ JOB_GROUPS_MAX + 1, 0, 0 },
		{ 0, JOB_RLIMITS_MAX + 1, 0 },
		{ 1000, 0, 0 },
		{ 0, 255, 0 },
	};
	for (size_t k = 0; k < UNIT_COUNT(cases); k++) {
		struct mw w;
		int end;
		UNIT_CTX("%u groups, %u rlimits", cases[k].ngroups, cases[k].nrlimits);
		mw_init(&w);
		spec_by_hand(&w, cases[k].ngroups, cases[k].nrlimits);
		int r = spec_decode_exact(w.buf, w.len, &out, &end);
		if (cases[k].ok) {
			if (CHECK_INT(r, ==, 0)) {
				CHECK_INT(end, ==, 0);
				CHECK_UINT(out.ngroups, ==, cases[k].ngroups);
				CHECK_UINT(out.nrlimits, ==, cases[k].nrlimits);
				if (cases[k].ngroups)
					CHECK_UINT(out.groups[cases[k].ngroups - 1], ==,
						   100 + cases[k].ngroups - 1);
				CHECK_STR(out.argv.data, "true");
				migr_job_spec_free(&out);
			}
		} else {
			CHECK_INT(r, ==, MIGR_EPROTO);
		}
		mw_free(&w);
	}
	UNIT_CTX_CLEAR();
}

static long max_rss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* A length or count from the wire is checked against what is there before anything is
 * allocated or zeroed for it: 4 GiB promised in a few bytes costs nothing. */
static void test_no_big_allocation(void)
{
	static struct migr_job_spec out;
	struct mw w;
	int end;
	long before = max_rss_kb();
	for (int which = 0; which < 2; which++) {
		mw_init(&w);
		spec_by_hand(&w, 0, 0);
		/* the spec ends: argv count, length, "true\0", env count, length */
		size_t off = which == 0 ? w.len - 4 - 4 - 5 - 4 : w.len - 4;
		CHECK_UINT(w.buf[off], ==, which == 0 ? 5 : 0);
		put_le(w.buf + off, UINT32_MAX, 4);
		UNIT_CTX("%s length 4 GiB", which == 0 ? "argv" : "env");
		CHECK_INT(spec_decode_exact(w.buf, w.len, &out, &end), ==, MIGR_EPROTO);
		mw_free(&w);
	}
	UNIT_CTX_CLEAR();
	CHECK_INT(max_rss_kb() - before, <, 64 * 1024);
}

static void job_sample(struct migr_job *j, unsigned i)
{
	memset(j, 0, sizeof(*j));
	snprintf(j->gpid, sizeof(j->gpid), "home%u.%u", i, 100 + i);
	snprintf(j->home, sizeof(j->home), "home%u", i);
	snprintf(j->node, sizeof(j->node), "node%u", i + 1);
	j->pid = 4000000 + i;
	j->uid = 65534;
	j->state = "RSDTZ"[i % 5];
	j->cpu = 99.5;
	j->rss_kb = 1ull << 33;
	j->cpu_ms = 123456789ull * i;
	j->moves = i;
	j->flags = MIGR_RUN_DETACHED;
	if (i == 0)
		fill(j->cmd, 'c', MIGR_CMD_MAX);
	else
		snprintf(j->cmd, sizeof(j->cmd), "sleep %u", i);
}

static int job_equal(const struct migr_job *a, const struct migr_job *b)
{
	return !strcmp(a->gpid, b->gpid) && !strcmp(a->home, b->home) &&
	       !strcmp(a->node, b->node) && a->pid == b->pid && a->uid == b->uid &&
	       a->state == b->state && a->cpu == b->cpu && a->rss_kb == b->rss_kb &&
	       a->cpu_ms == b->cpu_ms && a->moves == b->moves && a->flags == b->flags &&
	       !strcmp(a->cmd, b->cmd);
}

static void test_job(void)
{
	struct migr_job in, out;
	struct mw w;
	struct mr r;
	job_sample(&in, 0);
	mw_init(&w);
	migr_job_encode(&w, &in);
	uint8_t *c = exact(w.buf, w.len);
	mr_init(&r, c, w.len);
	migr_job_decode(&r, &out);
	CHECK_INT(mr_end(&r), ==, 0);
	CHECK(job_equal(&in, &out));
	free(c);
	for (size_t n = 0; n < w.len; n++) {
		UNIT_CTX("%zu of %zu bytes", n, w.len);
		c = exact(w.buf, n);
		mr_init(&r, c, n);
		migr_job_decode(&r, &out);
		CHECK_INT(mr_end(&r), ==, MIGR_EPROTO);
		free(c);
	}
	UNIT_CTX_CLEAR();
	mw_free(&w);
}

static void test_jobs(void)
{
	struct migr_job in[4], *out;
	size_t n;
	struct mw w;
	struct mr r;
	for (unsigned i = 0; i < 4; i++)
		job_sample(&in[i], i);

	for (size_t count = 0; count <= 4; count += 4) {
		UNIT_CTX("%zu jobs", count);
		mw_init(&w);
		migr_jobs_encode(&w, in, count);
		uint8_t *c = exact(w.buf, w.len);
		mr_init(&r, c, w.len);
		out = NULL;
		n = 99;
		if (CHECK_INT(migr_jobs_decode(&r, &out, &n), ==, 0)) {
			CHECK_INT(mr_end(&r), ==, 0);
			CHECK_UINT(n, ==, count);
			for (size_t i = 0; i < n && i < count; i++)
				CHECK(job_equal(&in[i], &out[i]));
		}
		free(out);
		free(c);
		mw_free(&w);
	}

	mw_init(&w);
	migr_jobs_encode(&w, in, 4);
	for (size_t len = 0; len < w.len; len++) {
		UNIT_CTX("%zu of %zu bytes", len, w.len);
		uint8_t *c = exact(w.buf, len);
		mr_init(&r, c, len);
		out = NULL;
		CHECK_INT(migr_jobs_decode(&r, &out, &n), ==, MIGR_EPROTO);
		CHECK(out == NULL);
		free(c);
	}
	UNIT_CTX_CLEAR();
	mw_free(&w);

	static const uint32_t counts[] = { MIGR_JOBS_MAX + 1, UINT32_MAX };
	for (size_t k = 0; k < UNIT_COUNT(counts); k++) {
		UNIT_CTX("count %u", counts[k]);
		mw_init(&w);
		mw_u32(&w, counts[k]);
		mr_init(&r, w.buf, w.len);
		out = NULL;
		CHECK_INT(migr_jobs_decode(&r, &out, &n), ==, MIGR_EPROTO);
		CHECK(out == NULL);
		mw_free(&w);
	}
	UNIT_CTX_CLEAR();
}

static void test_gpid(void)
{
	char home[MIGR_NAME_MAX + 1];
	static const struct {
		const char *gpid, *home;
	} good[] = {
		{ "node1.42", "node1" },
		{ "a.0", "a" },
		{ "n.e.t.7", "n.e.t" },	/* names may hold dots: the last one splits */
		{ "abcdefghijklmnopqrstuvwxyz01234.18446744073709551615",
		  "abcdefghijklmnopqrstuvwxyz01234" },
	};
	for (size_t i = 0; i < UNIT_COUNT(good); i++) {
		UNIT_CTX("'%s'", good[i].gpid);
		memset(home, 'x', sizeof(home));
		CHECK(migr_gpid_valid(good[i].gpid));
		CHECK_INT(migr_gpid_home(good[i].gpid, home), ==, 0);
		CHECK_STR(home, good[i].home);
	}
	static const char *bad[] = {
		"", "node1", "node1.", ".42", "node1.4a", "node1.-4", "no de.4", "a/b.3",
		"abcdefghijklmnopqrstuvwxyz012345.1",	/* home over MIGR_NAME_MAX */
		"node1.42 ",
	};
	for (size_t i = 0; i < UNIT_COUNT(bad); i++) {
		UNIT_CTX("'%s'", bad[i]);
		CHECK(!migr_gpid_valid(bad[i]));
		CHECK_INT(migr_gpid_home(bad[i], home), ==, -1);
	}
	/* over MIGR_GPID_MAX in all, though its home is fine */
	char longgpid[MIGR_GPID_MAX + 8];
	snprintf(longgpid, sizeof(longgpid), "node.");
	fill(longgpid + 5, '9', MIGR_GPID_MAX - 4);
	UNIT_CTX("%zu bytes", strlen(longgpid));
	CHECK(!migr_gpid_valid(longgpid));
	longgpid[MIGR_GPID_MAX] = '\0';
	UNIT_CTX("%zu bytes", strlen(longgpid));
	CHECK(migr_gpid_valid(longgpid));
}

int main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		UNIT(test_type_names),
		UNIT(test_hdr_layout),
		UNIT(test_hdr_roundtrip),
		UNIT(test_hdr_rejects),
		UNIT(test_writer_layout),
		UNIT(test_writer_grows),
		UNIT(test_frame),
		UNIT(test_reader_ints),
		UNIT(test_reader_short),
		UNIT(test_reader_str),
		UNIT(test_writer_str_bound),
		UNIT(test_name_valid),
		UNIT(test_gossip_roundtrip),
		UNIT(test_gossip_truncated),
		UNIT(test_gossip_rejects),
		UNIT(test_gossip_at_bounds),
		UNIT(test_gossip_kinds_roundtrip),
		UNIT(test_gossip_kinds_truncated),
		UNIT(test_gossip_kinds_rejects),
		UNIT(test_nodes_roundtrip),
		UNIT(test_nodes_fixed_point),
		UNIT(test_fixed_point_bounds),
		UNIT(test_nodes_bad),
		UNIT(test_status),
		UNIT(test_error),
		UNIT(test_strv),
		UNIT(test_job_spec_roundtrip),
		UNIT(test_job_spec_truncated),
		UNIT(test_job_spec_bad),
		UNIT(test_job_spec_counts),
		UNIT(test_no_big_allocation),
		UNIT(test_job),
		UNIT(test_jobs),
		UNIT(test_gpid),
	};
	return unit_main(argc, argv, tests, UNIT_COUNT(tests));
}
