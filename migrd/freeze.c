/* freeze.c: jobs frozen to this node's disk, and thawed here (see freeze.h).
 *
 * A freeze: criu dump with every page, the tasks left stopped; then the job's record is
 * written beside the images (.job), its output drained, its processes ended. Until .job
 * exists the job is running (a failed or killed dump resumes it); once it exists the job is
 * frozen. A thaw here: criu restore from the images with fresh stdio pipes; .job goes first
 * once the job runs, then the images. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criu.h"
#include "freeze.h"
#include "hold.h"
#include "job.h"
#include "log.h"
#include "loop.h"
#include "migrd.h"
#include "proctree.h"
#include "proto.h"
#include "xmalloc.h"

#define FREEZE_DUMP_MS 90000	/* then criu is told to give up (SIGALRM), then killed */
#define THAW_RESTORE_MS 120000
#define GIVE_UP_MS 10000
#define DIR_MAX (PATH_MAX + 96)	/* the state dir, /frozen/, a job id */
#define RECORD ".job"		/* not an image: migr-move send skips dot files */

/* A criu run of ours: a freeze's dump or a thaw's restore. */
struct op {
	pid_t criu;
	int thaw;
	int told;		/* SIGALRM sent: criu gives up */
	char gpid[MIGR_GPID_MAX + 1];
	char origin[MIGR_NAME_MAX + 1];
	uint32_t reqid;
	uint64_t t_start;
	int pipes_ours[3];	/* thaw: our ends of the job's new stdio */
	struct holder *holder;	/* thaw: the job's holder to be */
	struct loop_timer *timer;
	struct op *next;
};

static struct op *ops;

void freeze_dir(const char *gpid, char *out, size_t len)
{
	snprintf(out, len, "%s/frozen/%s", migrd.conf.state_dir, gpid);
}

static void op_free(struct op *o)
{
	for (struct op **p = &ops; *p; p = &(*p)->next)
		if (*p == o) {
			*p = o->next;
			break;
		}
	loop_timer_cancel(o->timer);
	for (int s = 0; s < 3; s++)
		if (o->pipes_ours[s] >= 0)
			close(o->pipes_ours[s]);
	holder_release(o->holder);	/* a thaw that failed */
	free(o);
}

static int job_busy(const struct job *j)
{
	for (struct op *o = ops; o; o = o->next)
		if (!strcmp(o->gpid, j->gpid))
			return 1;
	return j->mig || j->frozen;
}

/* criu ran too long: it is asked to give up (a dump then resumes the job), then killed. */
static void op_timeout(void *arg)
{
	struct op *o = arg;
	o->timer = NULL;
	log_warnx("%s: criu %s takes too long: %s", o->gpid, o->thaw ? "restore" : "dump",
		  o->told ? "killed" : "told to give up");
	kill(o->criu, o->told ? SIGKILL : SIGALRM);
	o->told = 1;
	o->timer = loop_timer_add(GIVE_UP_MS, 0, op_timeout, o);
}

static struct op *op_new(const char *origin, uint32_t reqid, const struct job *j, int thaw,
			 unsigned timeout_ms)
{
	struct op *o = xcalloc(1, sizeof(*o));
	o->thaw = thaw;
	o->reqid = reqid;
	o->t_start = loop_now();
	snprintf(o->gpid, sizeof(o->gpid), "%s", j->gpid);
	snprintf(o->origin, sizeof(o->origin), "%s", origin);
	for (int s = 0; s < 3; s++)
		o->pipes_ours[s] = -1;
	o->timer = loop_timer_add(timeout_ms, 0, op_timeout, o);
	o->next = ops;
	ops = o;
	return o;
}

/* ---- the record beside the images ---- */

static int write_record(const struct job *j, const char *dir)
{
	char path[DIR_MAX + 64], tmp[DIR_MAX + 80];
	snprintf(path, sizeof(path), "%s/" RECORD, dir);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	FILE *f = fopen(tmp, "we");
	if (!f)
		return -1;
	fprintf(f, "%s %s %u %u %u %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n%s\n", j->gpid,
		j->home, j->uid, j->flags, j->moves, j->disk_ino[0], j->disk_ino[1], j->disk_ino[2],
		j->rss_kb, j->cmd);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fclose(f);
		unlink(tmp);
		return -1;
	}
	fclose(f);
	return rename(tmp, path);
}

/* A frozen job found at start-up. 0, or -1 if the record is not one. */
static int read_record(const char *dir, const char *name)
{
	char path[DIR_MAX + 400], gpid[MIGR_GPID_MAX + 1], home[MIGR_NAME_MAX + 1];
	char cmd[MIGR_CMD_MAX + 2] = "";
	unsigned uid, flags, moves;
	uint64_t ino[3], rss;
	snprintf(path, sizeof(path), "%s/" RECORD, dir);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	int ok = fscanf(f, "%63s %31s %u %u %u %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 "%*[^\n]",
			gpid, home, &uid, &flags, &moves, &ino[0], &ino[1], &ino[2], &rss) == 9 &&
		 fgetc(f) == '\n' && fgets(cmd, sizeof(cmd), f);
	fclose(f);
	cmd[strcspn(cmd, "\n")] = '\0';
	if (!ok || strcmp(gpid, name) || !migr_gpid_valid(gpid) || !migr_name_valid(home) ||
	    job_find(gpid))
		return -1;
	job_frozen_found(gpid, home, uid, flags, moves, cmd, ino, rss);
	log_info("%s: frozen here (its images are in %s)", gpid, dir);
	return 0;
}

/* ---- freeze ---- */

void freeze_start(const char *origin, uint32_t reqid, const char *gpid)
{
	char dir[DIR_MAX], base[DIR_MAX], why[MIGR_ERRMSG_MAX + 1];
	struct job *j = job_find(gpid);
	if (!j || !j->here || j->exited || j->start_fd >= 0) {
		migrate_refuse(origin, reqid, gpid, -ESRCH,
			       "the job is not running on its node any more");
		return;
	}
	if (j->on_disk) {
		snprintf(why, sizeof(why), "%s: already frozen on %s", j->gpid, migrd.conf.node);
		migrate_refuse(origin, reqid, j->gpid, -EALREADY, why);
		return;
	}
	if (job_busy(j)) {
		snprintf(why, sizeof(why), "%s: already being moved", j->gpid);
		migrate_refuse(origin, reqid, j->gpid, -EBUSY, why);
		return;
	}
	snprintf(base, sizeof(base), "%s/frozen", migrd.conf.state_dir);
	freeze_dir(j->gpid, dir, sizeof(dir));
	mkdir(base, 0700);
	criu_images_remove(dir);
	struct criu_argv a;
	criu_freeze_argv(&a, j->init_pid, dir);
	pid_t pid = mkdir(dir, 0700) < 0 ? -1 : criu_spawn(migrd.conf.criu, &a, NULL, 0);
	if (pid < 0) {
		snprintf(why, sizeof(why), "%s: cannot freeze on %s: %s", j->gpid, migrd.conf.node,
			 strerror(errno));
		migrate_refuse(origin, reqid, j->gpid, -EIO, why);
		return;
	}
	job_move_begin(j, NULL);	/* its output waits; what its user stopped is noted */
	struct op *o = op_new(origin, reqid, j, 0, FREEZE_DUMP_MS);
	o->criu = pid;
	log_info("%s: freezing to %s", j->gpid, dir);
}

static void freeze_done(struct op *o, struct job *j, int ok)
{
	char dir[DIR_MAX], log[DIR_MAX + 16], err[400], why[MIGR_ERRMSG_MAX + 1];
	uint32_t ms = (uint32_t)(loop_now() - o->t_start);
	freeze_dir(o->gpid, dir, sizeof(dir));
	if (ok && j && j->here && !j->exited) {
		for (int s = 0; s < 3; s++) {
			struct stat st;
			j->disk_ino[s] = j->pipe[s] >= 0 && fstat(j->pipe[s], &st) == 0 ? st.st_ino : 0;
		}
		j->rss_kb = job_rss_kb(j);
		if (write_record(j, dir) == 0) {
			job_frozen_to_disk(j);
			log_info("%s: frozen to %s in %u ms", o->gpid, dir, ms);
			migrate_result(o->origin, o->reqid, 0, NULL, ms, ms, migrd.conf.node);
			migrate_home_news(j->gpid, j->home, MSG_MIG_FROZEN, NULL);
			return;
		}
		snprintf(err, sizeof(err), "cannot write its record: %s", strerror(errno));
	} else if (ok) {
		snprintf(err, sizeof(err), "it ended while it was being frozen");
	} else {
		snprintf(log, sizeof(log), "%s/dump.log", dir);
		criu_log_error(log, err, sizeof(err));
		if (!err[0])
			snprintf(err, sizeof(err), "criu dump failed (no error in its log)");
	}
	snprintf(why, sizeof(why), "%s: not frozen on %s: %s", o->gpid, migrd.conf.node, err);
	log_warnx("%s", why);
	criu_images_remove(dir);
	if (j)
		job_move_resume(j);	/* criu resumed it; what its user had stopped stays so */
	migrate_refuse(o->origin, o->reqid, o->gpid, -EIO, why);
}

/* ---- thaw here ---- */

struct criu_run {
	const int *fds;
	struct criu_argv a;
};

static pid_t criu_in_holder(void *arg, int *unused, char *why, size_t whylen)
{
	struct criu_run *run = arg;
	pid_t pid = criu_spawn(migrd.conf.criu, &run->a, run->fds, 3);
	if (pid < 0)
		snprintf(why, whylen, "cannot run criu: %s", strerror(errno));
	return pid < 0 ? -errno : pid;
}

void freeze_thaw_here(const char *origin, uint32_t reqid, struct job *j)
{
	char dir[DIR_MAX], why[MIGR_ERRMSG_MAX + 1], inherit[3][48];
	const char *specs[3];
	int p[2], theirs[3] = { -1, -1, -1 };
	if (job_busy(j)) {
		snprintf(why, sizeof(why), "%s: already being thawed", j->gpid);
		migrate_refuse(origin, reqid, j->gpid, -EBUSY, why);
		return;
	}
	struct op *o = op_new(origin, reqid, j, 1, THAW_RESTORE_MS);
	for (int s = 0; s < 3; s++) {
		if (pipe2(p, O_CLOEXEC) < 0)
			goto fail;
		o->pipes_ours[s] = s == STREAM_IN ? p[1] : p[0];
		theirs[s] = s == STREAM_IN ? p[0] : p[1];
		fcntl(o->pipes_ours[s], F_SETFL, O_NONBLOCK);
		snprintf(inherit[s], sizeof(inherit[s]), "pipe:[%" PRIu64 "]", j->disk_ino[s]);
		specs[s] = inherit[s];
	}
	freeze_dir(j->gpid, dir, sizeof(dir));
	struct criu_run run = { .fds = theirs };
	criu_restore_argv(&run.a, dir, specs, 3, 0, 0);
	/* the restore runs in the job's holder, whose child the job becomes; until it is
	 * done, a migrd that dies takes both with it, and the images stay the job */
	o->holder = holder_spawn(j->gpid, o->pipes_ours, 1, criu_in_holder, &run, &o->criu,
				 NULL, why, sizeof(why));
	if (!o->holder) {
		log_warnx("%s: %s", j->gpid, why);
		errno = EIO;
		goto fail;
	}
	for (int s = 0; s < 3; s++)
		close(theirs[s]);
	j->frozen = 1;	/* busy until criu is done */
	log_info("%s: thawing here from %s", j->gpid, dir);
	return;
fail:
	snprintf(why, sizeof(why), "%s: not thawed on %s: %s", j->gpid, migrd.conf.node,
		 strerror(errno));
	for (int s = 0; s < 3; s++)
		if (theirs[s] >= 0)
			close(theirs[s]);
	op_free(o);
	migrate_refuse(origin, reqid, j->gpid, -EIO, why);
}

static void thaw_done(struct op *o, struct job *j, int ok)
{
	char dir[DIR_MAX], path[DIR_MAX + 32], err[400], why[MIGR_ERRMSG_MAX + 1];
	uint32_t ms = (uint32_t)(loop_now() - o->t_start);
	int pid = 0;
	freeze_dir(o->gpid, dir, sizeof(dir));
	if (j)
		j->frozen = 0;
	if (ok) {
		snprintf(path, sizeof(path), "%s/restored.pid", dir);
		FILE *f = fopen(path, "re");
		if (!f || fscanf(f, "%d", &pid) != 1)
			pid = 0;
		if (f)
			fclose(f);
	}
	if (pid > 0 && j && j->on_disk) {
		/* it runs: it must never be found frozen again */
		snprintf(path, sizeof(path), "%s/" RECORD, dir);
		unlink(path);
		job_thawed(j, pid, o->pipes_ours, o->holder);
		o->holder = NULL;
		job_join_cgroup(pid);
		criu_images_remove(dir);
		log_info("%s: thawed here in %u ms, init pid %d", o->gpid, ms, pid);
		migrate_result(o->origin, o->reqid, 0, NULL, ms, ms, migrd.conf.node);
		migrate_home_news(j->gpid, j->home, MSG_MIG_DONE, NULL);
		return;
	}
	if (pid > 0) {
		proctree_signal(pid, SIGKILL);	/* ended meanwhile: nothing to thaw into */
		snprintf(err, sizeof(err), "the job was ended while it was being thawed");
	} else {
		snprintf(path, sizeof(path), "%s/restore.log", dir);
		criu_log_error(path, err, sizeof(err));
		if (!err[0])
			snprintf(err, sizeof(err), "criu restore failed (no error in its log)");
	}
	snprintf(why, sizeof(why), "%s: not thawed on %s: %s", o->gpid, migrd.conf.node, err);
	log_warnx("%s", why);
	migrate_refuse(o->origin, o->reqid, o->gpid, -EIO, why);
}

int freeze_reaped(pid_t pid, int status)
{
	for (struct op *o = ops; o; o = o->next) {
		if (o->criu != pid)
			continue;
		int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		struct job *j = job_find(o->gpid);
		if (o->thaw)
			thaw_done(o, j, ok);
		else
			freeze_done(o, j, ok);
		op_free(o);
		return 1;
	}
	return 0;
}

/* ---- the rest of a frozen job's life ---- */

int freeze_link_images(const struct job *j, const char *dir)
{
	char from[DIR_MAX], src[DIR_MAX + 300], dst[2 * PATH_MAX + 300];
	freeze_dir(j->gpid, from, sizeof(from));
	DIR *d = opendir(from);
	if (!d)
		return -1;
	struct dirent *e;
	int r = 0;
	while (r == 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;	/* ., .., and the record */
		snprintf(src, sizeof(src), "%s/%s", from, e->d_name);
		snprintf(dst, sizeof(dst), "%s/%s", dir, e->d_name);
		r = link(src, dst);
	}
	closedir(d);
	return r;
}

void freeze_end(struct job *j, int sig)
{
	char dir[DIR_MAX], path[DIR_MAX + 16];
	if (job_busy(j)) {
		log_warnx("%s: signal %d for a frozen job while it is thawed: dropped", j->gpid, sig);
		return;
	}
	freeze_dir(j->gpid, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/" RECORD, dir);
	unlink(path);
	criu_images_remove(dir);
	log_info("%s: ended while frozen, by signal %d", j->gpid, sig);
	job_frozen_ended(j, 128 + sig);
}

void freeze_init(void)
{
	char base[DIR_MAX], dir[DIR_MAX + 300];
	snprintf(base, sizeof(base), "%s/frozen", migrd.conf.state_dir);
	DIR *d = opendir(base);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", base, e->d_name);
		if (read_record(dir, e->d_name) < 0) {
			/* a freeze that never finished: the job was resumed, not frozen */
			log_info("%s: removing an unfinished freeze", dir);
			criu_images_remove(dir);
		}
	}
	closedir(d);
}
