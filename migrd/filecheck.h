/* filecheck.h: whether a job's files are on a destination, for `mmigrate --check GPID
 * NODE` (MOSIX's "a file not present on the destination"). The node where the job runs
 * sends NODE the paths the job needs (movable_paths); NODE answers with those it cannot
 * stat. Only paths travel, never what the files hold. */
#ifndef MIGR_FILECHECK_H
#define MIGR_FILECHECK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FILECHECK_TIMEOUT_MS 5000

/* Where the job runs, every other check passed: asks dest, and answers origin's request
 * reqid once dest does; a dest silent for FILECHECK_TIMEOUT_MS leaves the job movable. */
void filecheck_start(const char *origin, uint32_t reqid, const char *gpid, pid_t init,
		     const char *dest);
/* MSG_MIG_FILES, MSG_MIG_FILES_REPLY; a negative return closes the peer's connection. */
int filecheck_peer_message(const char *from, uint8_t type, const uint8_t *p, size_t n);

#endif
