/* pageset.h: one restored process's pages still to come, at a move's destination.
 *
 * The pages are named twice: by their address at the source (src), where they are read,
 * and by where they belong in the restored process now (dst). The two are equal until the
 * process moves memory with mremap(); a fork gives the child a copy of the set. A page is
 * pending until it is installed, or until the process unmaps or discards it (then no
 * contents are owed). Pure bookkeeping, no I/O: the page servicer (moverecv.c) and the unit
 * tests drive it. */
#ifndef MIGR_PAGESET_H
#define MIGR_PAGESET_H

#include <stddef.h>
#include <stdint.h>

#include "pagemap.h"

struct pageset;

/* A run of pending pages contiguous in both address spaces. */
struct ps_run {
	uint64_t src, dst;
	uint32_t npages;
};

/* The lazy ranges of a process as dumped (src == dst). */
struct pageset *pageset_new(const struct pm_range *ranges, size_t n);
/* A forked child's: what the parent still waits for, the child waits for too. */
struct pageset *pageset_clone(const struct pageset *ps);
void pageset_free(struct pageset *ps);

/* Pages still pending. */
uint64_t pageset_left(const struct pageset *ps);

/* The pending runs among the npages from src; at most max of them into out. */
size_t pageset_runs_src(const struct pageset *ps, uint64_t src, uint32_t npages,
			struct ps_run *out, size_t max);
/* The page at dst: 1 pending (its src in *src), 0 installed or given up, -1 never lazy. */
int pageset_find_dst(const struct pageset *ps, uint64_t dst, uint64_t *src, int *requested);
/* Marks pages asked for (a fault) so that they are not asked for twice. */
void pageset_mark_requested(struct pageset *ps, uint64_t src, uint32_t npages);
/* The first pending run at or after src (wrapping to the start), at most max pages, not yet
 * requested: what to ask for next. 0 if nothing is left to ask for. */
int pageset_next_unrequested(const struct pageset *ps, uint64_t src, uint32_t max,
			     struct ps_run *out);

/* Pages installed (by src). */
void pageset_resolve_src(struct pageset *ps, uint64_t src, uint32_t npages);
/* The process unmapped or discarded [start, end) (dst): nothing owed there any more. */
void pageset_drop_dst(struct pageset *ps, uint64_t start, uint64_t end);
/* The process is gone (exited, exec'ed): nothing is owed to it. */
void pageset_drop_all(struct pageset *ps);
/* mremap() moved [from, from + len) to [to, to + len) (dst). */
void pageset_remap(struct pageset *ps, uint64_t from, uint64_t to, uint64_t len);

#endif
