/* filecheck.c: whether a job's files are on a destination (see filecheck.h). The source
 * keeps each check it asked a node about in a small table, until the answer or its timer;
 * the daemon's loop never waits for one. */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "filecheck.h"
#include "job.h"
#include "log.h"
#include "loop.h"
#include "migrd.h"
#include "movable.h"

#define FILECHECKS_MAX 16	/* checks waiting at once; beyond, the files go unchecked */

_Static_assert(4 + 2 + MIGR_GPID_MAX + 2 + 2 * JOB_PATHS_MAX + JOB_PATHS_BYTES <= MIGR_FRAME_MAX,
	       "a job's paths fit in a frame");

struct filecheck {
	uint32_t id;		/* 0: a free slot */
	uint32_t reqid;
	char gpid[MIGR_GPID_MAX + 1];
	char origin[MIGR_NAME_MAX + 1];
	char dest[MIGR_NAME_MAX + 1];
	struct loop_timer *timer;
};

static struct filecheck checks[FILECHECKS_MAX];
static uint32_t next_id;

static void answer(struct filecheck *c, int code, const char *why)
{
	migrate_result(c->origin, c->reqid, code, why, 0, 0, migrd.conf.node);
	loop_timer_cancel(c->timer);
	memset(c, 0, sizeof(*c));
}

static void check_timeout(void *arg)
{
	struct filecheck *c = arg;
	c->timer = NULL;
	log_warnx("%s: %s did not say in %d s whether it has the job's files: answered movable",
		  c->gpid, c->dest, FILECHECK_TIMEOUT_MS / 1000);
	answer(c, 0, NULL);
}

static void paths_write(struct mw *w, const struct job_paths *p)
{
	mw_u16(w, (uint16_t)p->count);
	for (unsigned i = 0; i < p->count; i++)
		mw_str(w, job_paths_get(p, i));
}

/* Strict: absolute paths, none twice, within the bounds the sender keeps too. */
static int paths_read(struct mr *r, struct job_paths *p)
{
	char path[PATH_MAX];
	memset(p, 0, offsetof(struct job_paths, text));
	unsigned count = mr_u16(r);
	if (count > JOB_PATHS_MAX)
		return MIGR_EPROTO;
	for (unsigned i = 0; i < count; i++) {
		mr_str(r, path, sizeof(path) - 1);
		if (r->bad || job_paths_add(p, path) != 1)
			return MIGR_EPROTO;
	}
	return 0;
}

void filecheck_start(const char *origin, uint32_t reqid, const char *gpid, pid_t init,
		     const char *dest)
{
	static struct job_paths paths;	/* large; one check at a time */
	struct filecheck *c = NULL;
	for (size_t i = 0; i < FILECHECKS_MAX && !c; i++)
		if (!checks[i].id)
			c = &checks[i];
	if (movable_paths(init, &paths) < 0) {
		migrate_result(origin, reqid, -ESRCH, "the job is not running on its node any more",
			       0, 0, "");
		return;
	}
	if (!paths.count || !c) {
		if (!c)
			log_warnx("%s: %d checks already wait for other nodes: its files on %s go "
				  "unchecked", gpid, FILECHECKS_MAX, dest);
		migrate_result(origin, reqid, 0, NULL, 0, 0, migrd.conf.node);
		return;
	}
	c->id = ++next_id ? next_id : ++next_id;
	c->reqid = reqid;
	snprintf(c->gpid, sizeof(c->gpid), "%s", gpid);
	snprintf(c->origin, sizeof(c->origin), "%s", origin);
	snprintf(c->dest, sizeof(c->dest), "%s", dest);
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, MSG_MIG_FILES);
	mw_u32(&w, c->id);
	mw_str(&w, gpid);
	paths_write(&w, &paths);
	mw_frame_end(&w);
	int r = node_send(dest, &w);
	mw_free(&w);
	if (r < 0) {
		log_warnx("%s: %s is not reachable to say whether it has the job's files: answered "
			  "movable", gpid, dest);
		answer(c, 0, NULL);
		return;
	}
	c->timer = loop_timer_add(FILECHECK_TIMEOUT_MS, 0, check_timeout, c);
}

/* stat(2) as root, following links: only "no such file" counts, not a failure to look. */
static int path_missing(const char *path)
{
	const char *hidden = migrd.conf.test_hide_path;
	struct stat st;
	if (hidden[0] && !strncmp(path, hidden, strlen(hidden)))
		return 1;
	return stat(path, &st) < 0 && (errno == ENOENT || errno == ENOTDIR);
}

/* At the destination: which of these paths it lacks. */
static int files_asked(const char *from, struct mr *r)
{
	static struct job_paths asked, missing;
	char gpid[MIGR_GPID_MAX + 1];
	uint32_t id = mr_u32(r);
	mr_str(r, gpid, MIGR_GPID_MAX);
	if (paths_read(r, &asked) < 0 || mr_end(r) < 0 || !migr_gpid_valid(gpid))
		return MIGR_EPROTO;
	memset(&missing, 0, offsetof(struct job_paths, text));
	for (unsigned i = 0; i < asked.count; i++)
		if (path_missing(job_paths_get(&asked, i)))
			job_paths_add(&missing, job_paths_get(&asked, i));
	log_debug("%s: %s asked about %u of its files: %u not here", gpid, from, asked.count,
		  missing.count);
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, MSG_MIG_FILES_REPLY);
	mw_u32(&w, id);
	paths_write(&w, &missing);
	mw_frame_end(&w);
	node_send(from, &w);
	mw_free(&w);
	return 0;
}

/* At the source: the destination's answer, for whoever asked. */
static int files_answered(const char *from, struct mr *r)
{
	static struct job_paths missing;
	char why[MIGR_ERRMSG_MAX + 1];
	uint32_t id = mr_u32(r);
	if (paths_read(r, &missing) < 0 || mr_end(r) < 0 || !id)
		return MIGR_EPROTO;
	struct filecheck *c = NULL;
	for (size_t i = 0; i < FILECHECKS_MAX && !c; i++)
		if (checks[i].id == id && !strcmp(checks[i].dest, from))
			c = &checks[i];
	if (!c)
		return 0;	/* answered too late */
	if (!movable_missing_reason(from, missing.count ? job_paths_get(&missing, 0) : "",
				    missing.count, why, sizeof(why))) {
		answer(c, 0, NULL);
		return 0;
	}
	why[strcspn(why, "\n")] = '\0';
	answer(c, MIGR_CANTMOVE, why);
	return 0;
}

int filecheck_peer_message(const char *from, uint8_t type, const uint8_t *p, size_t n)
{
	struct mr r;
	mr_init(&r, p, n);
	if (type == MSG_MIG_FILES)
		return files_asked(from, &r);
	if (type == MSG_MIG_FILES_REPLY)
		return files_answered(from, &r);
	return MIGR_EPROTO;
}
