/* homerec.h: what a job's home keeps on disk of it (<state-dir>/home/GPID): where it runs,
 * whose it is, its command line. A home migrd that starts again knows its jobs from
 * these, and keeps their output for a user who attaches (mrun --attach). */
#ifndef MIGR_HOMEREC_H
#define MIGR_HOMEREC_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct home_record {
	char gpid[MIGR_GPID_MAX + 1];
	char node[MIGR_NAME_MAX + 1];	/* where it runs, as last heard */
	uint32_t uid, flags;
	char cmd[MIGR_CMD_MAX + 1];
};

/* Written aside and renamed: a record is whole or absent. */
void home_record_save(const struct home_record *r);
void home_record_drop(const char *gpid);
/* Every record found; *out is the caller's to free. Malformed ones are removed. */
size_t home_records_load(struct home_record **out);

#endif
