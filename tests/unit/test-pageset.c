/* test-pageset: reading CRIU pagemap images (migrd/pagemap.c) and the destination's
 * bookkeeping of pages still to come (migrd/pageset.c): installs, faults, requests, forks,
 * mremap, munmap, and malformed images. */
#include <config.h>

#include "../../migrd/pagemap.h"
#include "../../migrd/pageset.h"
#include "unit.h"

#define P 4096ull

/* ---- a pagemap image, encoded as CRIU writes it ---- */
struct img {
	uint8_t b[4096];
	size_t n;
};

static void put32(struct img *m, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		m->b[m->n++] = (uint8_t)(v >> (8 * i));
}

static void put_varint(uint8_t *b, size_t *n, uint64_t v)
{
	do {
		b[(*n)++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
}

static void img_start(struct img *m)
{
	m->n = 0;
	put32(m, 0x54564319);
	put32(m, 0x56084025);
	uint8_t head[8];
	size_t hn = 0;
	put_varint(head, &hn, 1 << 3);
	put_varint(head, &hn, 7);
	put32(m, (uint32_t)hn);
	memcpy(m->b + m->n, head, hn);
	m->n += hn;
}

static void img_entry(struct img *m, uint64_t vaddr, uint64_t npages, uint64_t flags)
{
	uint8_t e[64];
	size_t en = 0;
	put_varint(e, &en, 1 << 3);
	put_varint(e, &en, vaddr);
	put_varint(e, &en, 2 << 3);
	put_varint(e, &en, npages);
	put_varint(e, &en, 4 << 3);
	put_varint(e, &en, flags);
	put32(m, (uint32_t)en);
	memcpy(m->b + m->n, e, en);
	m->n += en;
}

static void test_pagemap_lazy_ranges(void)
{
	struct img m;
	struct pm_range *r;
	size_t n;
	char err[128];
	img_start(&m);
	img_entry(&m, 0x8000, 2, 2 | 4);	/* lazy */
	img_entry(&m, 0x1000, 3, 2);		/* lazy, out of order */
	img_entry(&m, 0x4000, 3, 2);		/* touches the one before: merged */
	img_entry(&m, 0x20000, 5, 4);		/* present in pages.img, not lazy */
	if (!CHECK_INT(pagemap_parse_lazy(m.b, m.n, &r, &n, err, sizeof(err)), ==, 0))
		return;
	CHECK_UINT(n, ==, 2);
	CHECK_UINT(r[0].vaddr, ==, 0x1000);
	CHECK_UINT(r[0].npages, ==, 6);
	CHECK_UINT(r[1].vaddr, ==, 0x8000);
	CHECK_UINT(r[1].npages, ==, 2);
	free(r);
}

static void test_pagemap_malformed(void)
{
	struct img m;
	struct pm_range *r;
	size_t n;
	char err[128];
	img_start(&m);
	img_entry(&m, 0x1000, 3, 2);
	/* every truncation fails or yields a prefix, never reads past the end */
	for (size_t cut = 0; cut < m.n; cut++) {
		UNIT_CTX("cut at %zu", cut);
		int ret = pagemap_parse_lazy(m.b, cut, &r, &n, err, sizeof(err));
		if (ret == 0)
			free(r);
		CHECK(ret == -1 || cut >= 8);
	}
	UNIT_CTX_CLEAR();
	/* an unaligned address, overlapping ranges, an entry longer than the file */
	img_start(&m);
	img_entry(&m, 0x1001, 1, 2);
	CHECK_INT(pagemap_parse_lazy(m.b, m.n, &r, &n, err, sizeof(err)), ==, -1);
	img_start(&m);
	img_entry(&m, 0x1000, 4, 2);
	img_entry(&m, 0x2000, 1, 2);
	CHECK_INT(pagemap_parse_lazy(m.b, m.n, &r, &n, err, sizeof(err)), ==, -1);
	img_start(&m);
	put32(&m, 1000);
	CHECK_INT(pagemap_parse_lazy(m.b, m.n, &r, &n, err, sizeof(err)), ==, -1);
	CHECK_STR(err, "malformed pagemap image");
	m.b[0] ^= 1;
	CHECK_INT(pagemap_parse_lazy(m.b, m.n, &r, &n, err, sizeof(err)), ==, -1);
	CHECK_STR(err, "not a pagemap image");
}

/* ---- pageset ---- */

static struct pageset *two_ranges(void)
{
	struct pm_range r[] = { { 0x10000, 16 }, { 0x40000, 4 } };
	return pageset_new(r, 2);
}

static void test_install_and_left(void)
{
	struct pageset *ps = two_ranges();
	struct ps_run runs[8];
	CHECK_UINT(pageset_left(ps), ==, 20);
	/* a chunk that spans the hole between the ranges: two runs */
	size_t n = pageset_runs_src(ps, 0x1c000, 40, runs, 8);
	if (CHECK_UINT(n, ==, 2)) {
		CHECK_UINT(runs[0].src, ==, 0x1c000);
		CHECK_UINT(runs[0].npages, ==, 4);
		CHECK_UINT(runs[1].src, ==, 0x40000);
		CHECK_UINT(runs[1].npages, ==, 4);
	}
	pageset_resolve_src(ps, 0x1c000, 40);
	CHECK_UINT(pageset_left(ps), ==, 12);
	/* installed pages are not offered again; the rest are, in runs */
	n = pageset_runs_src(ps, 0x10000, 16, runs, 8);
	if (CHECK_UINT(n, ==, 1))
		CHECK_UINT(runs[0].npages, ==, 12);
	pageset_resolve_src(ps, 0x12000, 1);
	n = pageset_runs_src(ps, 0x10000, 16, runs, 8);
	CHECK_UINT(n, ==, 2);
	pageset_resolve_src(ps, 0, 1 << 20);
	CHECK_UINT(pageset_left(ps), ==, 0);
	pageset_free(ps);
}

static void test_faults_and_requests(void)
{
	struct pageset *ps = two_ranges();
	uint64_t src;
	int req;
	CHECK_INT(pageset_find_dst(ps, 0x10000 + 5 * P + 17, &src, &req), ==, 1);
	CHECK_UINT(src, ==, 0x10000 + 5 * P);
	CHECK_INT(req, ==, 0);
	CHECK_INT(pageset_find_dst(ps, 0x30000, &src, &req), ==, -1);	/* never lazy */
	pageset_mark_requested(ps, 0x10000 + 5 * P, 2);
	CHECK_INT(pageset_find_dst(ps, 0x10000 + 6 * P, &src, &req), ==, 1);
	CHECK_INT(req, ==, 1);
	/* the next thing to ask for skips what was asked, wraps around */
	struct ps_run run;
	CHECK_INT(pageset_next_unrequested(ps, 0x10000 + 5 * P, 64, &run), ==, 1);
	CHECK_UINT(run.src, ==, 0x10000 + 7 * P);
	CHECK_UINT(run.npages, ==, 9);
	CHECK_INT(pageset_next_unrequested(ps, 0x40000 + 4 * P, 2, &run), ==, 1);
	CHECK_UINT(run.src, ==, 0x10000);
	CHECK_UINT(run.npages, ==, 2);
	pageset_resolve_src(ps, 0x10000 + 5 * P, 1);
	CHECK_INT(pageset_find_dst(ps, 0x10000 + 5 * P, &src, &req), ==, 0);
	pageset_free(ps);
}

static void test_fork_clone(void)
{
	struct pageset *ps = two_ranges();
	pageset_resolve_src(ps, 0x10000, 10);
	pageset_mark_requested(ps, 0x10000 + 10 * P, 2);
	struct pageset *child = pageset_clone(ps);
	CHECK_UINT(pageset_left(child), ==, 10);
	/* the child's own requests start afresh */
	struct ps_run run;
	CHECK_INT(pageset_next_unrequested(child, 0, 64, &run), ==, 1);
	CHECK_UINT(run.src, ==, 0x10000 + 10 * P);
	/* and the two go their own ways */
	pageset_resolve_src(ps, 0, 1 << 20);
	CHECK_UINT(pageset_left(ps), ==, 0);
	CHECK_UINT(pageset_left(child), ==, 10);
	pageset_free(ps);
	pageset_free(child);
}

static void test_remap_and_unmap(void)
{
	struct pageset *ps = two_ranges();
	uint64_t src;
	/* pages 4..7 of the first range move to 0x900000 */
	pageset_remap(ps, 0x10000 + 4 * P, 0x900000, 4 * P);
	CHECK_INT(pageset_find_dst(ps, 0x10000 + 5 * P, &src, NULL), ==, -1);
	CHECK_INT(pageset_find_dst(ps, 0x900000 + 1 * P, &src, NULL), ==, 1);
	CHECK_UINT(src, ==, 0x10000 + 5 * P);
	CHECK_INT(pageset_find_dst(ps, 0x10000 + 8 * P, &src, NULL), ==, 1);
	CHECK_UINT(src, ==, 0x10000 + 8 * P);
	CHECK_UINT(pageset_left(ps), ==, 20);
	/* data arriving by source address lands where the page is now */
	struct ps_run runs[8];
	size_t n = pageset_runs_src(ps, 0x10000, 16, runs, 8);
	if (CHECK_UINT(n, ==, 3)) {
		CHECK_UINT(runs[1].src, ==, 0x10000 + 4 * P);
		CHECK_UINT(runs[1].dst, ==, 0x900000);
		CHECK_UINT(runs[1].npages, ==, 4);
	}
	/* unmapping or discarding owes nothing */
	pageset_drop_dst(ps, 0x900000, 0x900000 + 2 * P);
	CHECK_UINT(pageset_left(ps), ==, 18);
	pageset_drop_dst(ps, 0x40000 + P, 0x50000);
	CHECK_UINT(pageset_left(ps), ==, 15);
	CHECK_INT(pageset_find_dst(ps, 0x40000, &src, NULL), ==, 1);
	pageset_free(ps);
}

int main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		UNIT(test_pagemap_lazy_ranges), UNIT(test_pagemap_malformed),
		UNIT(test_install_and_left),	UNIT(test_faults_and_requests),
		UNIT(test_fork_clone),		UNIT(test_remap_and_unmap),
	};
	return unit_main(argc, argv, tests, UNIT_COUNT(tests));
}
