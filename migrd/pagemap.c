/* pagemap.c: CRIU's pagemap images, read without protobuf-c (see pagemap.h).
 *
 * An image is two magic numbers, then entries, each a little-endian u32 length and that many
 * bytes of protobuf: first a pagemap_head, then pagemap_entry messages
 *   1: vaddr (varint)  2: nr_pages (varint)  3: in_parent (varint)  4: flags (varint).
 * Decoding is strict about lengths: an entry that runs past the file, a varint of more than
 * ten bytes or a field of an unknown wire type makes the whole image invalid. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pagemap.h"
#include "xmalloc.h"

#define IMG_COMMON_MAGIC 0x54564319u
#define PAGEMAP_MAGIC 0x56084025u
#define PE_LAZY (1u << 1)
#define IMAGE_MAX (256u << 20)

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* One varint at *p (below end); -1 if it is cut short or too long. */
static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 70; shift += 7) {
		if (*p >= end)
			return -1;
		uint8_t b = *(*p)++;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

/* A pagemap_entry's fields; unknown fields are skipped by their wire type. */
static int parse_entry(const uint8_t *p, const uint8_t *end, uint64_t *vaddr, uint64_t *npages,
		       uint64_t *flags)
{
	int have = 0;
	*flags = 0;
	while (p < end) {
		uint64_t key, v;
		if (varint(&p, end, &key) < 0)
			return -1;
		switch (key & 7) {
		case 0:
			if (varint(&p, end, &v) < 0)
				return -1;
			if ((key >> 3) == 1)
				*vaddr = v, have |= 1;
			else if ((key >> 3) == 2)
				*npages = v, have |= 2;
			else if ((key >> 3) == 4)
				*flags = v;
			break;
		case 1:
			if (end - p < 8)
				return -1;
			p += 8;
			break;
		case 2:
			if (varint(&p, end, &v) < 0 || v > (uint64_t)(end - p))
				return -1;
			p += v;
			break;
		case 5:
			if (end - p < 4)
				return -1;
			p += 4;
			break;
		default:
			return -1;
		}
	}
	return have == 3 ? 0 : -1;
}

static int cmp_range(const void *a, const void *b)
{
	const struct pm_range *x = a, *y = b;
	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

int pagemap_parse_lazy(const uint8_t *img, size_t len, struct pm_range **out, size_t *n,
		       char *err, size_t errlen)
{
	const uint8_t *p = img, *end = img + len;
	struct pm_range *r = NULL;
	size_t count = 0, cap = 0;
	int first = 1;
	*out = NULL;
	*n = 0;
	if (len < 8 || le32(img) != IMG_COMMON_MAGIC || le32(img + 4) != PAGEMAP_MAGIC) {
		snprintf(err, errlen, "not a pagemap image");
		return -1;
	}
	p += 8;
	while (p < end) {
		if (end - p < 4)
			goto bad;
		uint32_t elen = le32(p);
		p += 4;
		if (elen > (size_t)(end - p))
			goto bad;
		const uint8_t *e = p;
		p += elen;
		if (first) {	/* pagemap_head: nothing we need */
			first = 0;
			continue;
		}
		uint64_t vaddr = 0, npages = 0, flags;
		if (parse_entry(e, e + elen, &vaddr, &npages, &flags) < 0)
			goto bad;
		if (!(flags & PE_LAZY) || npages == 0)
			continue;
		if (vaddr % PAGEMAP_PAGE || npages > UINT32_MAX ||
		    vaddr + npages * PAGEMAP_PAGE < vaddr || count == PAGEMAP_ENTRIES_MAX)
			goto bad;
		if (count == cap) {
			cap = cap ? cap * 2 : 64;
			r = xrealloc(r, cap * sizeof(*r));
		}
		r[count++] = (struct pm_range){ .vaddr = vaddr, .npages = (uint32_t)npages };
	}
	if (count)
		qsort(r, count, sizeof(*r), cmp_range);
	/* merge what touches; overlaps would be a broken image */
	size_t k = 0;
	for (size_t i = 0; i < count; i++) {
		if (k && r[k - 1].vaddr + r[k - 1].npages * PAGEMAP_PAGE > r[i].vaddr)
			goto bad;
		if (k && r[k - 1].vaddr + r[k - 1].npages * PAGEMAP_PAGE == r[i].vaddr &&
		    (uint64_t)r[k - 1].npages + r[i].npages <= UINT32_MAX)
			r[k - 1].npages += r[i].npages;
		else
			r[k++] = r[i];
	}
	*out = r;
	*n = k;
	return 0;
bad:
	free(r);
	snprintf(err, errlen, "malformed pagemap image");
	return -1;
}

int pagemap_read_lazy(const char *dir, int vpid, struct pm_range **out, size_t *n, char *err,
		      size_t errlen)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof(path), "%s/pagemap-%d.img", dir, vpid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 0 || st.st_size > IMAGE_MAX) {
		snprintf(err, errlen, "%s: %s", path, fd < 0 ? strerror(errno) : "too big");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	uint8_t *buf = xmalloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	int r = got == (size_t)st.st_size ? pagemap_parse_lazy(buf, got, out, n, err, errlen) : -1;
	if (got != (size_t)st.st_size)
		snprintf(err, errlen, "%s: short read", path);
	free(buf);
	return r;
}

int pagemap_list_pids(const char *dir, int **out, size_t *n)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int *pids = NULL;
	size_t count = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		int pid;
		char tail[8];
		if (sscanf(e->d_name, "pagemap-%d.im%7s", &pid, tail) != 2 || strcmp(tail, "g") ||
		    pid <= 0)
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 16;
			pids = xrealloc(pids, cap * sizeof(*pids));
		}
		pids[count++] = pid;
	}
	closedir(d);
	*out = pids;
	*n = count;
	return 0;
}
