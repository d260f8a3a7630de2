/* common.h: what the migr tools share: connecting with a clear error, JSON strings. */
#ifndef MIGR_CLI_COMMON_H
#define MIGR_CLI_COMMON_H

#include <stdio.h>

#include "migr.h"

/* Connects to the local migrd or exits 1 naming the socket and the reason. */
struct migr_client *cli_connect(void);
/* Exits 1 with "PROG: WHAT: reason" for a failed call (the daemon's own words if refused). */
void cli_fail(struct migr_client *c, const char *what, int err) __attribute__((noreturn));
/* Prints s as a JSON string. */
void json_str(FILE *f, const char *s);



/* Orders jobs as mps lists them: by home, then by the number of their gpid. */
int cli_gpid_cmp(const struct migr_job *x, const struct migr_job *y);

/* A signal by name (TERM, SIGTERM, term) or number; -1 if unknown. */
int cli_parse_signal(const char *s);
#endif
