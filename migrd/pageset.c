/* pageset.c: the pages a restored process still waits for (see pageset.h).
 *
 * Ranges kept in source address order, each with a state byte per page. Lookups by source
 * address are a binary search; by destination address a scan (ranges are few: one per run
 * of lazily dumped pages, split further only by mremap()). */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "pageset.h"
#include "xmalloc.h"

#define PAGE PAGEMAP_PAGE
enum { PAGE_PENDING = 1, PAGE_REQUESTED = 2 };

struct range {
	uint64_t src, dst;
	uint32_t npages;
	uint32_t left;		/* pending among them */
	uint8_t *state;		/* per page: PAGE_PENDING | PAGE_REQUESTED, 0 once resolved */
};

struct pageset {
	struct range *r;
	size_t n, cap;
	uint64_t left;
};

static void push(struct pageset *ps, struct range r)
{
	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 8;
		ps->r = xrealloc(ps->r, ps->cap * sizeof(*ps->r));
	}
	ps->r[ps->n++] = r;
}

struct pageset *pageset_new(const struct pm_range *ranges, size_t n)
{
	struct pageset *ps = xcalloc(1, sizeof(*ps));
	for (size_t i = 0; i < n; i++) {
		struct range r = { .src = ranges[i].vaddr, .dst = ranges[i].vaddr,
				   .npages = ranges[i].npages, .left = ranges[i].npages };
		r.state = xmalloc(r.npages ? r.npages : 1);
		memset(r.state, PAGE_PENDING, r.npages);
		push(ps, r);
		ps->left += r.npages;
	}
	return ps;
}

struct pageset *pageset_clone(const struct pageset *from)
{
	struct pageset *ps = xcalloc(1, sizeof(*ps));
	for (size_t i = 0; i < from->n; i++) {
		struct range r = from->r[i];
		if (!r.left)
			continue;
		r.state = xmalloc(r.npages);
		/* the child asks on its own: nothing of its is requested yet */
		for (uint32_t k = 0; k < r.npages; k++)
			r.state[k] = from->r[i].state[k] ? PAGE_PENDING : 0;
		push(ps, r);
		ps->left += r.left;
	}
	return ps;
}

void pageset_free(struct pageset *ps)
{
	if (!ps)
		return;
	for (size_t i = 0; i < ps->n; i++)
		free(ps->r[i].state);
	free(ps->r);
	free(ps);
}

uint64_t pageset_left(const struct pageset *ps)
{
	return ps->left;
}

/* The first range whose end is past src. */
static size_t first_src(const struct pageset *ps, uint64_t src)
{
	size_t lo = 0, hi = ps->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (ps->r[mid].src + ps->r[mid].npages * PAGE <= src)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

size_t pageset_runs_src(const struct pageset *ps, uint64_t src, uint32_t npages,
			struct ps_run *out, size_t max)
{
	uint64_t end = src + (uint64_t)npages * PAGE;
	size_t count = 0;
	for (size_t i = first_src(ps, src); i < ps->n && count < max; i++) {
		const struct range *r = &ps->r[i];
		if (r->src >= end)
			break;
		if (!r->left)
			continue;
		uint64_t a = src > r->src ? src : r->src;
		uint64_t b = end < r->src + r->npages * PAGE ? end : r->src + r->npages * PAGE;
		for (uint64_t p = a; p < b && count < max;) {
			uint32_t k = (uint32_t)((p - r->src) / PAGE);
			if (!r->state[k]) {
				p += PAGE;
				continue;
			}
			uint64_t q = p;
			while (q < b && r->state[(q - r->src) / PAGE])
				q += PAGE;
			out[count++] = (struct ps_run){ .src = p, .dst = r->dst + (p - r->src),
							.npages = (uint32_t)((q - p) / PAGE) };
			p = q;
		}
	}
	return count;
}

static struct range *find_dst(const struct pageset *ps, uint64_t dst)
{
	for (size_t i = 0; i < ps->n; i++)
		if (dst >= ps->r[i].dst && dst < ps->r[i].dst + ps->r[i].npages * PAGE)
			return &ps->r[i];
	return NULL;
}

int pageset_find_dst(const struct pageset *ps, uint64_t dst, uint64_t *src, int *requested)
{
	const struct range *r = find_dst(ps, dst & ~(PAGE - 1));
	if (!r)
		return -1;
	uint32_t k = (uint32_t)(((dst & ~(PAGE - 1)) - r->dst) / PAGE);
	if (!r->state[k])
		return 0;
	*src = r->src + k * PAGE;
	if (requested)
		*requested = !!(r->state[k] & PAGE_REQUESTED);
	return 1;
}

/* Applies fn to every page of [src, src + npages) that a range holds. */
static void each_src(struct pageset *ps, uint64_t src, uint32_t npages,
		     void (*fn)(struct pageset *, struct range *, uint32_t))
{
	uint64_t end = src + (uint64_t)npages * PAGE;
	for (size_t i = first_src(ps, src); i < ps->n && ps->r[i].src < end; i++) {
		struct range *r = &ps->r[i];
		uint64_t a = src > r->src ? src : r->src;
		uint64_t b = end < r->src + r->npages * PAGE ? end : r->src + r->npages * PAGE;
		for (uint64_t p = a; p < b; p += PAGE)
			fn(ps, r, (uint32_t)((p - r->src) / PAGE));
	}
}

static void resolve_one(struct pageset *ps, struct range *r, uint32_t k)
{
	if (!r->state[k])
		return;
	r->state[k] = 0;
	r->left--;
	ps->left--;
}

static void request_one(struct pageset *ps, struct range *r, uint32_t k)
{
	if (r->state[k])
		r->state[k] |= PAGE_REQUESTED;
}

void pageset_resolve_src(struct pageset *ps, uint64_t src, uint32_t npages)
{
	each_src(ps, src, npages, resolve_one);
}

void pageset_mark_requested(struct pageset *ps, uint64_t src, uint32_t npages)
{
	each_src(ps, src, npages, request_one);
}

int pageset_next_unrequested(const struct pageset *ps, uint64_t src, uint32_t max,
			     struct ps_run *out)
{
	if (!ps->left || !ps->n)
		return 0;
	size_t start = first_src(ps, src);
	for (size_t step = 0; step < ps->n; step++) {
		const struct range *r = &ps->r[(start + step) % ps->n];
		if (!r->left)
			continue;
		uint32_t k = 0;
		if (step == 0 && src > r->src && src < r->src + r->npages * PAGE)
			k = (uint32_t)((src - r->src) / PAGE);
		for (; k < r->npages; k++) {
			if (r->state[k] != PAGE_PENDING)
				continue;
			uint32_t e = k;
			while (e < r->npages && r->state[e] == PAGE_PENDING && e - k < max)
				e++;
			*out = (struct ps_run){ .src = r->src + k * PAGE, .dst = r->dst + k * PAGE,
						.npages = e - k };
			return 1;
		}
	}
	return 0;
}

/* Cuts the range at index i so that a page boundary at dst starts a range of its own. */
static void split_at_dst(struct pageset *ps, size_t i, uint64_t dst)
{
	struct range *r = &ps->r[i];
	if (dst <= r->dst || dst >= r->dst + r->npages * PAGE)
		return;
	uint32_t k = (uint32_t)((dst - r->dst) / PAGE);
	struct range tail = { .src = r->src + k * PAGE, .dst = dst, .npages = r->npages - k };
	tail.state = xmalloc(tail.npages);
	memcpy(tail.state, r->state + k, tail.npages);
	for (uint32_t j = 0; j < tail.npages; j++)
		tail.left += !!tail.state[j];
	r->npages = k;
	r->left -= tail.left;
	/* keep source order: the tail follows at once */
	push(ps, tail);
	memmove(&ps->r[i + 2], &ps->r[i + 1], (ps->n - i - 2) * sizeof(*ps->r));
	ps->r[i + 1] = tail;
}

/* Cuts ranges so that [start, end) (dst) begins and ends on range boundaries. */
static void split_dst(struct pageset *ps, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < ps->n; i++) {
		split_at_dst(ps, i, start);
		split_at_dst(ps, i, end);
	}
}

void pageset_drop_dst(struct pageset *ps, uint64_t start, uint64_t end)
{
	start &= ~(PAGE - 1);
	for (size_t i = 0; i < ps->n; i++) {
		struct range *r = &ps->r[i];
		uint64_t rend = r->dst + r->npages * PAGE;
		if (rend <= start || r->dst >= end || !r->left)
			continue;
		uint64_t a = start > r->dst ? start : r->dst;
		uint64_t b = end < rend ? end : rend;
		for (uint64_t p = a; p < b; p += PAGE)
			resolve_one(ps, r, (uint32_t)((p - r->dst) / PAGE));
	}
}

void pageset_drop_all(struct pageset *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		memset(ps->r[i].state, 0, ps->r[i].npages);
		ps->r[i].left = 0;
	}
	ps->left = 0;
}

void pageset_remap(struct pageset *ps, uint64_t from, uint64_t to, uint64_t len)
{
	from &= ~(PAGE - 1);
	to &= ~(PAGE - 1);
	split_dst(ps, from, from + len);
	for (size_t i = 0; i < ps->n; i++) {
		struct range *r = &ps->r[i];
		if (r->dst >= from && r->dst < from + len)
			r->dst = r->dst - from + to;
	}
}
