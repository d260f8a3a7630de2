/* pagemap.h: reading CRIU's pagemap-<pid>.img: which pages of a process CRIU left to be
 * served later (a lazy dump marks them PE_LAZY and writes none of their contents). Both
 * ends of a move read the same images: the source to know what to send, the destination
 * to know what it is waiting for. No I/O beyond reading the one file. */
#ifndef MIGR_PAGEMAP_H
#define MIGR_PAGEMAP_H

#include <stddef.h>
#include <stdint.h>

#define PAGEMAP_PAGE 4096ull
#define PAGEMAP_ENTRIES_MAX (1u << 20)	/* a bound on what one image may make us allocate */

struct pm_range {
	uint64_t vaddr;		/* page aligned */
	uint32_t npages;
};

/* The lazy ranges of one image's bytes, sorted by address, adjacent ones merged. Returns
 * 0, or -1 with err saying what is wrong (not a pagemap image, malformed, too big). */
int pagemap_parse_lazy(const uint8_t *img, size_t len, struct pm_range **out, size_t *n,
		       char *err, size_t errlen);
/* The same, from dir/pagemap-<vpid>.img. */
int pagemap_read_lazy(const char *dir, int vpid, struct pm_range **out, size_t *n, char *err,
		      size_t errlen);
/* The vpids that have a pagemap image in dir (the processes whose memory moves); *out is
 * the caller's to free. -1 if dir cannot be read. */
int pagemap_list_pids(const char *dir, int **out, size_t *n);

#endif
