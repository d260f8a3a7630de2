/* migrate.c: moving a running job to another node, source and destination sides.
 *
 *   origin --MIG_REQ--> home --MIG_REQ--> source --OFFER--> destination
 *   destination --ACCEPT--> source: criu dump (lazy: pages stay, served on demand)
 *   source: job frozen -> its pipes drained -> IMAGEs -> IMAGES_DONE
 *   destination: fresh pipes, [criu lazy-pages], criu restore --inherit-fd -> RESTORED
 *   lazy: page-server bytes flow as MIG_PAGES over this authenticated, encrypted peer
 *         link (criu --ps-socket on both sides: no port is opened anywhere)
 *   source: dump ends -> DUMPED; destination: dump and lazy-pages both fine -> COMMIT
 * Before the destination runs the job, any failure lets the source's copy go on (criu
 * dump unfreezes it when told SIGALRM or when it fails). After it, until COMMIT, a broken
 * page stream kills the destination's copy and the source's, rolled back to the freeze,
 * lives on: never two copies. Every wait has a timeout. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "balance.h"
#include "control.h"
#include "criu.h"
#include "job.h"
#include "jobs.h"
#include "log.h"
#include "loop.h"
#include "migrd.h"
#include "peers.h"
#include "xmalloc.h"

enum { MODE_LAZY = 0, MODE_COPY = 1 };
#define MODE_AUTO 0x80	/* on the wire with the mode: the load balancer asks, not a user */
enum { ROLE_SOURCE, ROLE_DEST };

#define OFFER_TIMEOUT_MS 5000
#define FREEZE_TIMEOUT_MS 30000		/* from dump start until the destination runs it */
#define PAGES_TIMEOUT_MS 300000		/* from restore until the last page */
#define PACE_BYTES (1024 * 1024)	/* bulk data queued to a peer before we wait */
#define PACE_MS 2
#define IMAGE_CHUNK (60 * 1024)
#define MIN_FREE_KB (64 * 1024)

struct migration {
	int role, mode;
	char gpid[MIGR_GPID_MAX + 1];
	char home[MIGR_NAME_MAX + 1];
	char source[MIGR_NAME_MAX + 1];
	char dest[MIGR_NAME_MAX + 1];
	char origin[MIGR_NAME_MAX + 1];
	uint32_t reqid;
	char dir[PATH_MAX + 96];
	struct job *job;		/* source: the job; destination: once restored */
	uint64_t t_start, t_dump, t_restored;
	struct loop_timer *timer, *pace;
	/* criu processes; 0 when not running */
	pid_t dump, lazy, restore;
	int dump_status, lazy_status;	/* -1 until known */
	int status_fd;			/* dump's or lazy-pages' readiness byte */
	int ps_fd;			/* our end of the page-server socketpair */
	int ps_watching;
	struct mw ps_out;		/* destination: bytes for lazy-pages not yet written */
	/* source: image files still to send */
	DIR *images;
	int image_fd;
	char image_name[256];
	/* destination */
	uint64_t ino[3];		/* the job's pipes, as the dump knows them */
	int pipes_ours[3], pipes_job[3];
	uint32_t uid, flags, moves;
	char cmd[MIGR_CMD_MAX + 1];
	uint64_t rss_kb;		/* source: as offered */
	int restored, dumped_ok, done;
	int paused;			/* a test pause (migrd.conf test-pause) is over */
	struct migration *next;
};

static struct migration *migrations;

static struct migration *mig_find(const char *gpid, int role)
{
	for (struct migration *m = migrations; m; m = m->next)
		if (m->role == role && !strcmp(m->gpid, gpid) && !m->done)
			return m;
	return NULL;
}

static struct migration *mig_new(int role, const char *gpid)
{
	struct migration *m = xcalloc(1, sizeof(*m));
	m->role = role;
	snprintf(m->gpid, sizeof(m->gpid), "%s", gpid);
	m->dump_status = m->lazy_status = -1;
	m->status_fd = m->ps_fd = m->image_fd = -1;
	for (int i = 0; i < 3; i++)
		m->pipes_ours[i] = m->pipes_job[i] = -1;
	mw_init(&m->ps_out);
	m->t_start = loop_now();
	snprintf(m->dir, sizeof(m->dir), "%s/migrate/%s.%s", migrd.conf.state_dir, gpid,
		 role == ROLE_SOURCE ? "out" : "in");
	m->next = migrations;
	migrations = m;
	return m;
}

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char path[2 * PATH_MAX];
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(dir);
}

static void mig_set_timer(struct migration *m, unsigned ms, loop_timer_cb cb)
{
	loop_timer_cancel(m->timer);
	m->timer = ms ? loop_timer_add(ms, 0, cb, m) : NULL;
}

/* Ends a migration's bookkeeping: descriptors, timers, files. criu runs still going are
 * told to stop; their ends are no longer ours to hear. */
static void mig_finish(struct migration *m)
{
	if (m->done)
		return;
	m->done = 1;
	loop_timer_cancel(m->timer);
	loop_timer_cancel(m->pace);
	m->timer = m->pace = NULL;
	if (m->status_fd >= 0) {
		loop_del(m->status_fd);
		close(m->status_fd);
	}
	if (m->ps_fd >= 0) {
		if (m->ps_watching)
			loop_del(m->ps_fd);
		close(m->ps_fd);
	}
	if (m->images)
		closedir(m->images);
	if (m->image_fd >= 0)
		close(m->image_fd);
	for (int i = 0; i < 3; i++) {
		if (m->pipes_ours[i] >= 0)
			close(m->pipes_ours[i]);
		if (m->pipes_job[i] >= 0)
			close(m->pipes_job[i]);
	}
	mw_free(&m->ps_out);
	for (pid_t *p = &m->dump; p <= &m->restore; p++)
		if (*p > 0) {
			criu_forget(*p);
			kill(*p, SIGKILL);
		}
	if (m->job && m->job->mig == m)
		m->job->mig = NULL;
	rm_dir(m->dir);
	for (struct migration **mp = &migrations; *mp; mp = &(*mp)->next)
		if (*mp == m) {
			*mp = m->next;
			break;
		}
	free(m);
}

/* ---- messages ---- */

static void send_gpid_msg(const char *to, uint8_t type, const char *gpid, const char *text)
{
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, type);
	mw_str(&w, gpid);
	if (text) {
		char buf[MIGR_ERRMSG_MAX + 1];
		snprintf(buf, sizeof(buf), "%s", text);
		mw_str(&w, buf);
	}
	mw_frame_end(&w);
	node_send(to, &w);
	mw_free(&w);
}

static void send_result(const char *origin, uint32_t reqid, int code, const char *msg,
			uint32_t freeze_ms, uint32_t total_ms, const char *node)
{
	struct mw w;
	char buf[MIGR_ERRMSG_MAX + 1];
	snprintf(buf, sizeof(buf), "%s", msg ? msg : "");
	mw_init(&w);
	mw_frame_begin(&w, MSG_MIG_RESULT);
	mw_u32(&w, reqid);
	mw_u32(&w, (uint32_t)code);
	mw_str(&w, buf);
	mw_u32(&w, freeze_ms);
	mw_u32(&w, total_ms);
	mw_str(&w, node);
	mw_frame_end(&w);
	node_send(origin, &w);
	mw_free(&w);
}

/* ---- source ---- */

static void src_fail(struct migration *m, const char *why)
{
	struct job *j = m->job;
	log_warnx("%s: move to %s failed: %s", m->gpid, m->dest, why);
	send_gpid_msg(m->dest, MSG_MIG_ABORT, m->gpid, why);
	if (strcmp(m->dest, m->home))
		send_gpid_msg(m->home, MSG_MIG_ABORT, m->gpid, why);
	char msg[MIGR_ERRMSG_MAX + 1];
	snprintf(msg, sizeof(msg), "%s: not moved to %s: %s", m->gpid, m->dest, why);
	send_result(m->origin, m->reqid, -EIO, msg, 0, 0, "");
	if (m->dump > 0) {
		/* the page server waits with no timeout: SIGALRM makes it give up and unfreeze
		 * the job (PLATFORM.md) */
		kill(m->dump, SIGALRM);
		criu_forget(m->dump);
		m->dump = 0;
	}
	mig_finish(m);
	if (j) {
		/* the job goes on here; its output flows again */
		j->frozen = 0;
		runner_watch(j, STREAM_OUT, 1);
		runner_watch(j, STREAM_ERR, 1);
		if (j->exited)
			runner_check_done(j);
	}
}

static void src_timeout(void *arg)
{
	struct migration *m = arg;
	m->timer = NULL;
	src_fail(m, m->restored ? "the page transfer did not finish in time"
		 : m->dump    ? "the destination did not restore the job in time"
			      : "the destination did not answer the offer in time");
}

/* Bulk senders (images, pages) wait while the link to the destination is busy. */
static int dest_busy(struct migration *m, const char *to)
{
	const struct gossip_node *n = gossip_find(&migrd.gossip, to);
	return n && peers_pending(gossip_addr(n), n->port) > PACE_BYTES;
}

static void pace_tick(void *arg);

static void pace_later(struct migration *m)
{
	if (!m->pace)
		m->pace = loop_timer_add(PACE_MS, 0, pace_tick, m);
}

/* Page-server bytes: from our end of the socketpair to the other side. */
static void ps_io(int fd, uint32_t events, void *arg)
{
	struct migration *m = arg;
	const char *to = m->role == ROLE_SOURCE ? m->dest : m->source;
	if (events & EPOLLOUT && m->ps_out.len) {
		ssize_t n = write(fd, m->ps_out.buf, m->ps_out.len);
		if (n > 0) {
			memmove(m->ps_out.buf, m->ps_out.buf + n, m->ps_out.len - (size_t)n);
			m->ps_out.len -= (size_t)n;
		}
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		if (dest_busy(m, to)) {
			loop_mod(fd, m->ps_out.len ? EPOLLOUT : 0);
			pace_later(m);
			return;
		}
		uint8_t buf[IMAGE_CHUNK];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			goto out;
		struct mw w;
		mw_init(&w);
		mw_frame_begin(&w, MSG_MIG_PAGES);
		mw_str(&w, m->gpid);
		mw_u32(&w, n > 0 ? (uint32_t)n : 0);
		if (n > 0)
			mw_bytes(&w, buf, (size_t)n);
		mw_frame_end(&w);
		node_send(to, &w);
		mw_free(&w);
		if (n <= 0) {	/* criu closed its end: so do we */
			loop_del(fd);
			close(fd);
			m->ps_fd = -1;
			m->ps_watching = 0;
			return;
		}
	}
out:
	loop_mod(fd, EPOLLIN | (m->ps_out.len ? EPOLLOUT : 0));
}

static void ps_start(struct migration *m, int fd)
{
	m->ps_fd = fd;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	loop_add(fd, EPOLLIN, ps_io, m);
	m->ps_watching = 1;
}

/* Sends the next pieces of the image files; IMAGES_DONE after the last. */
static void src_send_images(struct migration *m)
{
	uint8_t buf[IMAGE_CHUNK];
	while (!dest_busy(m, m->dest)) {
		if (m->image_fd < 0) {
			struct dirent *e = m->images ? readdir(m->images) : NULL;
			if (!e) {
				if (m->images)
					closedir(m->images);
				m->images = NULL;
				send_gpid_msg(m->dest, MSG_MIG_IMAGES_DONE, m->gpid, NULL);
				return;
			}
			if (e->d_name[0] == '.' || strstr(e->d_name, ".log") || strlen(e->d_name) > 200)
				continue;
			char path[2 * PATH_MAX];
			snprintf(path, sizeof(path), "%s/%s", m->dir, e->d_name);
			snprintf(m->image_name, sizeof(m->image_name), "%s", e->d_name);
			m->image_fd = open(path, O_RDONLY | O_CLOEXEC);
			if (m->image_fd < 0)
				continue;
		}
		ssize_t n = read(m->image_fd, buf, sizeof(buf));
		struct mw w;
		mw_init(&w);
		mw_frame_begin(&w, MSG_MIG_IMAGE);
		mw_str(&w, m->gpid);
		mw_str(&w, m->image_name);
		mw_u32(&w, n > 0 ? (uint32_t)n : 0);
		if (n > 0)
			mw_bytes(&w, buf, (size_t)n);
		mw_frame_end(&w);
		node_send(m->dest, &w);
		mw_free(&w);
		if (n <= 0) {
			close(m->image_fd);
			m->image_fd = -1;
		}
	}
	pace_later(m);
}

static void pace_tick(void *arg)
{
	struct migration *m = arg;
	m->pace = NULL;
	if (m->role == ROLE_SOURCE && m->images)
		src_send_images(m);
	if (m->ps_fd >= 0)
		loop_mod(m->ps_fd, EPOLLIN | (m->ps_out.len ? EPOLLOUT : 0));
}

/* The job is frozen and its images are written: what it wrote before goes home, then the
 * images go to the destination. */
static void src_frozen(struct migration *m)
{
	runner_drain(m->job);
	m->images = opendir(m->dir);
	if (!m->images) {
		src_fail(m, "cannot read the dump's images");
		return;
	}
	src_send_images(m);
}

static void src_status_ready(int fd, uint32_t events, void *arg)
{
	struct migration *m = arg;
	char c;
	ssize_t n = read(fd, &c, 1);
	loop_del(fd);
	close(fd);
	m->status_fd = -1;
	if (n == 1)
		src_frozen(m);
	/* else the dump failed: its exit says why */
}

static void src_dump_done(void *arg, int status)
{
	struct migration *m = arg;
	char log[2 * PATH_MAX], err[400], msg[512];
	m->dump = 0;
	m->dump_status = status;
	if (status != 0) {
		snprintf(log, sizeof(log), "%s/dump.log", m->dir);
		criu_log_error(log, err, sizeof(err));
		criu_keep_log(log);
		snprintf(msg, sizeof(msg), "criu dump failed on %s: %s", migrd.conf.node,
			 err[0] ? err : "(no error in its log)");
		if (m->restored)
			send_gpid_msg(m->dest, MSG_MIG_DUMPED, m->gpid, "failed");
		src_fail(m, msg);
		return;
	}
	if (m->mode == MODE_COPY && !m->restored) {
		src_frozen(m);	/* copy: the whole dump is written; tasks left stopped */
		return;
	}
	send_gpid_msg(m->dest, MSG_MIG_DUMPED, m->gpid, "ok");
}

static void src_start_dump(struct migration *m)
{
	char pid[16];
	int keep[2], nkeep = 0, ps[2] = { -1, -1 }, st[2] = { -1, -1 };
	char parent[PATH_MAX + 16];
	snprintf(parent, sizeof(parent), "%s/migrate", migrd.conf.state_dir);
	mkdir(parent, 0700);
	rm_dir(m->dir);
	if (mkdir(m->dir, 0700) < 0) {
		src_fail(m, "cannot make the dump directory");
		return;
	}
	snprintf(pid, sizeof(pid), "%d", (int)m->job->init_pid);
	/* the job's output waits in its pipes until it is frozen, then is drained */
	runner_watch(m->job, STREAM_OUT, 0);
	runner_watch(m->job, STREAM_ERR, 0);
	m->job->frozen = 1;
	const char *args[24];
	int n = 0;
	args[n++] = "dump";
	args[n++] = "-t";
	args[n++] = pid;
	args[n++] = "-D";
	args[n++] = m->dir;
	args[n++] = "-o";
	args[n++] = "dump.log";
	if (m->mode == MODE_LAZY) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ps) < 0 ||
		    pipe2(st, O_CLOEXEC) < 0) {
			src_fail(m, strerror(errno));
			return;
		}
		keep[nkeep++] = ps[1];
		keep[nkeep++] = st[1];
		args[n++] = "--lazy-pages";
		args[n++] = "--ps-socket";
		args[n++] = "3";
		args[n++] = "--status-fd";
		args[n++] = "4";
	} else {
		args[n++] = "--leave-stopped";
	}
	args[n] = NULL;
	m->t_dump = loop_now();
	m->dump = criu_run(args, keep, nkeep, src_dump_done, m);
	if (ps[1] >= 0)
		close(ps[1]);
	if (st[1] >= 0)
		close(st[1]);
	if (m->dump < 0) {
		m->dump = 0;
		if (ps[0] >= 0)
			close(ps[0]);
		if (st[0] >= 0)
			close(st[0]);
		src_fail(m, "cannot run criu");
		return;
	}
	if (m->mode == MODE_LAZY) {
		ps_start(m, ps[0]);
		m->status_fd = st[0];
		loop_add(st[0], EPOLLIN, src_status_ready, m);
	}
	mig_set_timer(m, FREEZE_TIMEOUT_MS, src_timeout);
}

/* The pipes' inodes: how criu dump names them, and what restore --inherit-fd replaces. */
static void pipe_inodes(struct job *j, uint64_t ino[3])
{
	for (int s = 0; s < 3; s++) {
		struct stat st;
		ino[s] = j->pipe[s] >= 0 && fstat(j->pipe[s], &st) == 0 ? st.st_ino : 0;
	}
}

/* The job leaves this node: its pipes close without an EOF for home, its end unreported. */
static void src_release(struct job *j)
{
	for (int s = 0; s < 3; s++)
		runner_close(j, s);
	j->here = 0;
	j->frozen = 0;
	j->moves++;
	job_maybe_free(j);
}

static void src_commit(struct migration *m)
{
	uint32_t freeze = (uint32_t)(m->t_restored - m->t_dump);
	uint32_t total = (uint32_t)(loop_now() - m->t_dump);
	struct job *j = m->job;
	log_info("%s: moved to %s (%s): frozen %u ms, total %u ms", m->gpid, m->dest,
		 m->mode == MODE_LAZY ? "lazy" : "copy", freeze, total);
	send_result(m->origin, m->reqid, 0, NULL, freeze, total, m->dest);
	balance_job_left(m->dest, m->rss_kb, total);
	if (m->mode == MODE_COPY && !j->exited)
		kill(j->init_pid, SIGKILL);	/* the stopped copy, now restored elsewhere */
	j->mig = NULL;
	m->job = NULL;
	mig_finish(m);
	src_release(j);
}

/* MIG_REQ at the node where the job runs. */
static void src_request(const char *origin, uint32_t reqid, const char *gpid, const char *dest,
			int mode, int automatic)
{
	struct job *j = job_find(gpid);
	char msg[256];
	if (!j || !j->here || j->exited) {
		send_result(origin, reqid, -ESRCH, "the job is not running on its node any more", 0, 0,
			    "");
		return;
	}
	if (j->mig) {
		snprintf(msg, sizeof(msg), "%s: already being moved", gpid);
		send_result(origin, reqid, -EBUSY, msg, 0, 0, "");
		return;
	}
	struct migration *m = mig_new(ROLE_SOURCE, gpid);
	m->mode = mode;
	m->reqid = reqid;
	m->job = j;
	j->mig = m;
	snprintf(m->origin, sizeof(m->origin), "%s", origin);
	snprintf(m->dest, sizeof(m->dest), "%s", dest);
	snprintf(m->home, sizeof(m->home), "%s", j->home);
	snprintf(m->source, sizeof(m->source), "%s", migrd.conf.node);
	uint64_t ino[3], rss = job_rss_kb(j);
	m->rss_kb = rss;
	pipe_inodes(j, ino);
	struct bal_node self;
	balance_self(&self);
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, MSG_MIG_OFFER);
	mw_str(&w, gpid);
	mw_str(&w, j->home);
	mw_u32(&w, j->uid);
	mw_u32(&w, j->flags);
	mw_u32(&w, j->moves);
	mw_str(&w, j->cmd);
	mw_u64(&w, rss);
	mw_u8(&w, (uint8_t)(mode | (automatic ? MODE_AUTO : 0)));
	for (int s = 0; s < 3; s++)
		mw_u64(&w, ino[s]);
	/* our load as we see it now, for a destination weighing an automatic move */
	mw_u32(&w, (uint32_t)(self.load * 1000));
	mw_u32(&w, (uint32_t)(self.cpus * 1000));
	mw_u64(&w, self.mem_free_kb);
	mw_frame_end(&w);
	int r = node_send(dest, &w);
	mw_free(&w);
	if (r < 0) {
		snprintf(msg, sizeof(msg), "%s: node is not reachable", dest);
		src_fail(m, msg);
		return;
	}
	mig_set_timer(m, OFFER_TIMEOUT_MS, src_timeout);
}

/* ---- destination ---- */

static void dst_fail(struct migration *m, const char *why)
{
	log_warnx("%s: move from %s failed here: %s", m->gpid, m->source, why);
	if (m->job && m->restored) {
		/* the copy here dies; the source's copy lives on */
		if (!m->job->exited)
			kill(m->job->init_pid, SIGKILL);
		m->job->here = 0;
		for (int s = 0; s < 3; s++)
			runner_close(m->job, s);
		job_maybe_free(m->job);
	}
	send_gpid_msg(m->source, MSG_MIG_ABORT, m->gpid, why);
	if (m->restored)
		send_gpid_msg(m->home, MSG_MIG_ABORT, m->gpid, why);
	mig_finish(m);
}

static void dst_timeout(void *arg)
{
	struct migration *m = arg;
	m->timer = NULL;
	dst_fail(m, m->restored ? "the pages did not all arrive in time"
				: "the images did not arrive in time");
}

/* Lazy: commit once both the dump and lazy-pages have ended well. */
static void dst_try_commit(struct migration *m)
{
	if (!m->restored || (m->mode == MODE_LAZY && (m->lazy_status < 0 || !m->dumped_ok)))
		return;
	if (m->mode == MODE_LAZY && m->lazy_status != 0) {
		dst_fail(m, "criu lazy-pages failed: the page stream broke");
		return;
	}
	struct job *j = m->job;
	send_gpid_msg(m->source, MSG_MIG_COMMIT, m->gpid, NULL);
	if (strcmp(m->home, m->source))
		send_gpid_msg(m->home, MSG_MIG_COMMIT, m->gpid, NULL);
	m->job = NULL;
	j->mig = NULL;
	mig_finish(m);
	if (j->exited)
		runner_check_done(j);
}

static void dst_lazy_done(void *arg, int status)
{
	struct migration *m = arg;
	m->lazy = 0;
	m->lazy_status = status;
	if (status != 0 && !m->restored) {
		char log[2 * PATH_MAX], err[400], msg[512];
		snprintf(log, sizeof(log), "%s/lazy.log", m->dir);
		criu_log_error(log, err, sizeof(err));
		snprintf(msg, sizeof(msg), "criu lazy-pages failed on %s: %s", migrd.conf.node, err);
		dst_fail(m, msg);
		return;
	}
	dst_try_commit(m);
}

/* Restored tasks join the node's cgroup, like a job started here. */
static void join_cgroup(pid_t pid)
{
	char path[PATH_MAX + 64], buf[32];
	if (!migrd.conf.cgroup[0])
		return;
	snprintf(path, sizeof(path), "/sys/fs/cgroup/cpu/%s/cgroup.procs", migrd.conf.cgroup);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	int len = snprintf(buf, sizeof(buf), "%d", (int)pid);
	if (write(fd, buf, (size_t)len) < 0)
		log_warn("%s", path);
	close(fd);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	FILE *f = fopen(path, "re");
	int child;
	while (f && fscanf(f, "%d", &child) == 1)
		join_cgroup(child);
	if (f)
		fclose(f);
}

static void dst_restore_done(void *arg, int status)
{
	struct migration *m = arg;
	char path[2 * PATH_MAX], err[400], msg[512];
	m->restore = 0;
	if (status != 0) {
		snprintf(path, sizeof(path), "%s/restore.log", m->dir);
		criu_log_error(path, err, sizeof(err));
		criu_keep_log(path);
		snprintf(msg, sizeof(msg), "criu restore failed on %s: %s", migrd.conf.node, err);
		dst_fail(m, msg);
		return;
	}
	snprintf(path, sizeof(path), "%s/restored.pid", m->dir);
	int pid = 0;
	FILE *f = fopen(path, "re");
	if (!f || fscanf(f, "%d", &pid) != 1 || pid <= 0) {
		if (f)
			fclose(f);
		dst_fail(m, "criu restore left no pid");
		return;
	}
	fclose(f);
	join_cgroup(pid);

	struct job *j = job_find(m->gpid);
	if (!j)
		j = job_new(m->gpid);
	snprintf(j->home, sizeof(j->home), "%s", m->home);
	snprintf(j->node, sizeof(j->node), "%s", migrd.conf.node);
	j->uid = m->uid;
	j->flags = m->flags;
	j->moves = m->moves + 1;
	snprintf(j->cmd, sizeof(j->cmd), "%s", m->cmd);
	j->here = 1;
	j->exited = 0;
	j->frozen = 0;
	j->init_pid = pid;
	j->here_since = loop_now();
	j->cpu_at = loop_now();
	j->cpu_ns = 0;
	balance_job_arrived();
	for (int s = 0; s < 3; s++) {
		j->pipe[s] = m->pipes_ours[s];
		j->unacked[s] = 0;
		m->pipes_ours[s] = -1;
		close(m->pipes_job[s]);
		m->pipes_job[s] = -1;
	}
	j->mig = m;
	m->job = j;
	m->restored = 1;
	runner_watch(j, STREAM_OUT, 1);
	runner_watch(j, STREAM_ERR, 1);
	log_info("%s: restored here from %s, init pid %d", m->gpid, m->source, pid);
	send_simple(m->source, MSG_MIG_RESTORED, m->gpid, (uint32_t)pid);
	if (strcmp(m->home, m->source))
		send_simple(m->home, MSG_MIG_RESTORED, m->gpid, (uint32_t)pid);
	if (m->mode == MODE_LAZY)
		mig_set_timer(m, PAGES_TIMEOUT_MS, dst_timeout);
	dst_try_commit(m);
}

static void dst_start_restore(struct migration *m)
{
	char inherit[3][64];
	const char *args[32];
	int n = 0;
	args[n++] = "restore";
	args[n++] = "-D";
	args[n++] = m->dir;
	args[n++] = "-o";
	args[n++] = "restore.log";
	args[n++] = "-d";
	args[n++] = "--pidfile";
	args[n++] = "restored.pid";
	args[n++] = "--manage-cgroups=ignore";
	/* the job's files are opened as the job's user, never as root (patches/criu/0002) */
	args[n++] = "--task-fs-creds";
	if (m->mode == MODE_LAZY)
		args[n++] = "--lazy-pages";
	for (int s = 0; s < 3; s++) {
		snprintf(inherit[s], sizeof(inherit[s]), "fd[%d]:pipe:[%llu]", 3 + s,
			 (unsigned long long)m->ino[s]);
		args[n++] = "--inherit-fd";
		args[n++] = inherit[s];
	}
	args[n] = NULL;
	m->restore = criu_run(args, m->pipes_job, 3, dst_restore_done, m);
	if (m->restore < 0) {
		m->restore = 0;
		dst_fail(m, "cannot run criu");
	}
}

static void dst_lazy_ready(int fd, uint32_t events, void *arg)
{
	struct migration *m = arg;
	char c;
	ssize_t n = read(fd, &c, 1);
	loop_del(fd);
	close(fd);
	m->status_fd = -1;
	if (n == 1)
		dst_start_restore(m);
}

static void dst_images_done(struct migration *m);

static void dst_pause_done(void *arg)
{
	struct migration *m = arg;
	m->timer = NULL;
	mig_set_timer(m, FREEZE_TIMEOUT_MS, dst_timeout);
	dst_images_done(m);
}

static void dst_images_done(struct migration *m)
{
	int p[2];
	if (!strcmp(migrd.conf.test_pause_at, "before-restore") && !m->paused) {
		log_info("%s: test: pausing before restore for %u ms", m->gpid,
			 migrd.conf.test_pause_ms);
		m->paused = 1;
		mig_set_timer(m, migrd.conf.test_pause_ms, dst_pause_done);
		return;
	}

	for (int s = 0; s < 3; s++) {
		if (pipe2(p, O_CLOEXEC) < 0) {
			dst_fail(m, "pipe");
			return;
		}
		m->pipes_ours[s] = s == STREAM_IN ? p[1] : p[0];
		m->pipes_job[s] = s == STREAM_IN ? p[0] : p[1];
		fcntl(m->pipes_ours[s], F_SETFL, O_NONBLOCK);
	}
	if (m->mode == MODE_COPY) {
		dst_start_restore(m);
		return;
	}
	int ps[2], st[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ps) < 0) {
		dst_fail(m, "socketpair");
		return;
	}
	if (pipe2(st, O_CLOEXEC) < 0) {
		close(ps[0]);
		close(ps[1]);
		dst_fail(m, "pipe");
		return;
	}
	const char *args[] = { "lazy-pages", "--page-server", "--ps-socket", "3", "--status-fd",
			       "4", "-D", m->dir, "-o", "lazy.log", NULL };
	int keep[2] = { ps[1], st[1] };
	m->lazy = criu_run(args, keep, 2, dst_lazy_done, m);
	close(ps[1]);
	close(st[1]);
	if (m->lazy < 0) {
		m->lazy = 0;
		close(ps[0]);
		close(st[0]);
		dst_fail(m, "cannot run criu");
		return;
	}
	ps_start(m, ps[0]);
	m->status_fd = st[0];
	loop_add(st[0], EPOLLIN, dst_lazy_ready, m);
}

static void dst_offer(const char *from, struct mr *r)
{
	char gpid[MIGR_GPID_MAX + 1], home[MIGR_NAME_MAX + 1], cmd[MIGR_CMD_MAX + 1], msg[256];
	mr_str(r, gpid, MIGR_GPID_MAX);
	mr_str(r, home, MIGR_NAME_MAX);
	uint32_t uid = mr_u32(r), flags = mr_u32(r), moves = mr_u32(r);
	mr_str(r, cmd, MIGR_CMD_MAX);
	uint64_t rss = mr_u64(r);
	uint8_t mode = mr_u8(r);
	uint64_t ino[3];
	for (int s = 0; s < 3; s++)
		ino[s] = mr_u64(r);
	uint32_t src_load_milli = mr_u32(r), src_cpus_milli = mr_u32(r);
	uint64_t src_mem_free_kb = mr_u64(r);
	int automatic = !!(mode & MODE_AUTO);
	mode &= (uint8_t)~MODE_AUTO;
	if (mr_end(r) < 0 || mode > MODE_COPY || src_cpus_milli == 0)
		return;
	struct job *existing = job_find(gpid);
	if (mig_find(gpid, ROLE_DEST) || (existing && existing->here)) {
		send_gpid_msg(from, MSG_MIG_REFUSE, gpid, "the job is already here");
		return;
	}
	if (!migr_gpid_valid(gpid) || !migr_name_valid(home))
		return;
	if (uid == 0 && !migrd.conf.peer_root_jobs) {
		snprintf(msg, sizeof(msg), "%s takes no root jobs from other nodes (peer-root-jobs no)",
			 migrd.conf.node);
		send_gpid_msg(from, MSG_MIG_REFUSE, gpid, msg);
		return;
	}
	if (migrd.mem_free_kb && migrd.mem_free_kb < rss + MIN_FREE_KB) {
		snprintf(msg, sizeof(msg), "%s has no room: %llu kB free", migrd.conf.node,
			 (unsigned long long)migrd.mem_free_kb);
		send_gpid_msg(from, MSG_MIG_REFUSE, gpid, msg);
		return;
	}
	struct bal_node source = {
		.name = from,
		.load = src_load_milli / 1000.0,
		.cpus = src_cpus_milli / 1000.0,
		.mem_free_kb = src_mem_free_kb,
	};
	if (automatic && !balance_offer_ok(&source, rss, msg, sizeof(msg))) {
		log_info("balance: refusing %s from %s: %s", gpid, from, msg);
		send_gpid_msg(from, MSG_MIG_REFUSE, gpid, msg);
		return;
	}
	struct migration *m = mig_new(ROLE_DEST, gpid);
	snprintf(m->source, sizeof(m->source), "%s", from);
	snprintf(m->home, sizeof(m->home), "%s", home);
	snprintf(m->dest, sizeof(m->dest), "%s", migrd.conf.node);
	snprintf(m->cmd, sizeof(m->cmd), "%s", cmd);
	m->uid = uid;
	m->flags = flags;
	m->moves = moves;
	m->mode = mode;
	memcpy(m->ino, ino, sizeof(ino));
	char parent[PATH_MAX + 16];
	snprintf(parent, sizeof(parent), "%s/migrate", migrd.conf.state_dir);
	mkdir(parent, 0700);
	rm_dir(m->dir);
	if (mkdir(m->dir, 0700) < 0) {
		send_gpid_msg(from, MSG_MIG_REFUSE, gpid, "cannot make the image directory");
		mig_finish(m);
		return;
	}
	mig_set_timer(m, FREEZE_TIMEOUT_MS, dst_timeout);
	send_gpid_msg(from, MSG_MIG_ACCEPT, gpid, NULL);
}

static int dst_image(struct migration *m, struct mr *r)
{
	char name[256];
	mr_str(r, name, 200);
	uint32_t n = mr_u32(r);
	if (r->bad || n != r->left || !name[0] || strchr(name, '/') || name[0] == '.')
		return MIGR_EPROTO;
	char path[2 * PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", m->dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || (n && write(fd, r->p, n) != (ssize_t)n)) {
		if (fd >= 0)
			close(fd);
		dst_fail(m, "cannot write an image file");
		return 0;
	}
	close(fd);
	r->p += n;
	r->left = 0;
	return 0;
}

/* ---- requests and results ---- */

#define AUTO_REQID 0	/* the load balancer's requests; a user's count up from 1 */
static uint32_t next_req;

struct request {
	uint32_t id;
	uint64_t client;
	struct loop_timer *timer;
	struct request *next;
};
static struct request *requests;

static struct request *request_take(uint32_t id)
{
	for (struct request **rp = &requests; *rp; rp = &(*rp)->next)
		if ((*rp)->id == id) {
			struct request *r = *rp;
			*rp = r->next;
			loop_timer_cancel(r->timer);
			return r;
		}
	return NULL;
}

static void request_timeout(void *arg)
{
	struct request *r = request_take((uint32_t)(uintptr_t)arg);
	if (!r)
		return;
	control_error(r->client, -ETIMEDOUT, "no answer in time from the nodes involved");
	free(r);
}

/* At the job's home: ownership, destination, then on to where the job runs. */
static void home_request(const char *origin, uint32_t reqid, const char *gpid, const char *dest,
			 int mode, int automatic, uint32_t uid)
{
	struct job *j = job_find(gpid);
	char msg[256], target[MIGR_NAME_MAX + 1];
	snprintf(target, sizeof(target), "%s", !strcmp(dest, "home") ? migrd.conf.node : dest);
	const struct gossip_node *n = gossip_find(&migrd.gossip, target);
	int code = 0;
	if (!j || !j->at_home || j->exit_known) {
		snprintf(msg, sizeof(msg), "%s: no such job", gpid);
		code = -ESRCH;
	} else if (uid != 0 && uid != j->uid) {
		snprintf(msg, sizeof(msg), "%s: not your job (it belongs to uid %u)", gpid, j->uid);
		code = -EPERM;
	} else if (!n) {
		snprintf(msg, sizeof(msg), "%s: no such node", target);
		code = -ENOENT;
	} else if (n->state != MIGR_NODE_ALIVE) {
		snprintf(msg, sizeof(msg), "%s: node is %s", target, migr_node_state_name(n->state));
		code = -EHOSTDOWN;
	} else if (!strcmp(j->node, target)) {
		snprintf(msg, sizeof(msg), "%s: already runs on %s", gpid, target);
		code = -EALREADY;
	} else if (!j->started) {
		snprintf(msg, sizeof(msg), "%s: not started yet", gpid);
		code = -EAGAIN;
	} else if (j->migrating) {
		snprintf(msg, sizeof(msg), "%s: already being moved", gpid);
		code = -EBUSY;
	} else if (automatic && (j->flags & MIGR_RUN_NO_MIGRATE)) {
		snprintf(msg, sizeof(msg), "%s: started with --no-migrate", gpid);
		code = -EPERM;
	}
	if (code) {
		send_result(origin, reqid, code, msg, 0, 0, "");
		return;
	}
	j->migrating = 1;	/* stdin waits until the job has landed */
	snprintf(j->moving_from, sizeof(j->moving_from), "%s", j->node);
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, MSG_MIG_REQ);
	mw_u32(&w, reqid);
	mw_str(&w, origin);
	mw_str(&w, gpid);
	mw_str(&w, target);
	mw_u8(&w, (uint8_t)(mode | (automatic ? MODE_AUTO : 0)));
	mw_u32(&w, 0);
	mw_frame_end(&w);
	/* marked "from home" by sending it from here; the runner trusts only that */
	node_send(j->node, &w);
	mw_free(&w);
}

int migrate_auto(const char *gpid, const char *dest)
{
	char home[MIGR_NAME_MAX + 1];
	if (migr_gpid_home(gpid, home) < 0)
		return -1;
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, MSG_MIG_REQ);
	mw_u32(&w, AUTO_REQID);
	mw_str(&w, migrd.conf.node);
	mw_str(&w, gpid);
	mw_str(&w, dest);
	mw_u8(&w, MODE_LAZY | MODE_AUTO);
	mw_u32(&w, 0);
	mw_frame_end(&w);
	int r = node_send(home, &w);
	mw_free(&w);
	return r;
}

unsigned migrate_incoming(void)
{
	unsigned n = 0;
	for (struct migration *m = migrations; m; m = m->next)
		n += m->role == ROLE_DEST;
	return n;
}

void migrate_request(uint64_t client, uint32_t uid, const char *gpid, const char *dest, int mode)
{
	char home[MIGR_NAME_MAX + 1];
	if (migr_gpid_home(gpid, home) < 0) {
		control_error(client, -EINVAL, "%s: not a job id (want NODE.N)", gpid);
		return;
	}
	struct request *r = xcalloc(1, sizeof(*r));
	r->id = ++next_req;
	if (r->id == AUTO_REQID)
		r->id = ++next_req;
	r->client = client;
	r->next = requests;
	requests = r;
	r->timer = loop_timer_add(FREEZE_TIMEOUT_MS + PAGES_TIMEOUT_MS + 10000, 0, request_timeout,
				  (void *)(uintptr_t)r->id);
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, MSG_MIG_REQ);
	mw_u32(&w, r->id);
	mw_str(&w, migrd.conf.node);
	mw_str(&w, gpid);
	mw_str(&w, dest);
	mw_u8(&w, (uint8_t)mode);
	mw_u32(&w, uid);
	mw_frame_end(&w);
	if (node_send(home, &w) < 0) {
		request_take(r->id);
		free(r);
		control_error(client, -EHOSTDOWN, "%s: its home node %s is not reachable", gpid,
			      home);
	}
	mw_free(&w);
}

static void result_in(struct mr *r)
{
	char msg[MIGR_ERRMSG_MAX + 1], node[MIGR_NAME_MAX + 1];
	uint32_t id = mr_u32(r);
	int code = (int)mr_u32(r);
	mr_str(r, msg, MIGR_ERRMSG_MAX);
	uint32_t freeze = mr_u32(r), total = mr_u32(r);
	mr_str(r, node, MIGR_NAME_MAX);
	if (mr_end(r) < 0)
		return;
	if (id == AUTO_REQID) {
		balance_move_result(code, msg, node, freeze, total);
		return;
	}
	struct request *req = request_take(id);
	if (!req)
		return;
	if (code < 0) {
		control_error(req->client, code, "%s", msg);
	} else {
		struct mw w;
		mw_init(&w);
		mw_frame_begin(&w, MSG_CTL_MIGRATE_REPLY);
		mw_u32(&w, freeze);
		mw_u32(&w, total);
		mw_str(&w, node);
		mw_frame_end(&w);
		control_send(req->client, &w);
		mw_free(&w);
	}
	free(req);
}

/* ---- dispatch ---- */

int migrate_peer_message(const char *from, uint8_t type, const uint8_t *p, size_t n)
{
	struct mr r;
	char gpid[MIGR_GPID_MAX + 1], text[MIGR_ERRMSG_MAX + 1];
	mr_init(&r, p, n);
	switch (type) {
	case MSG_MIG_REQ: {
		char origin[MIGR_NAME_MAX + 1], dest[MIGR_NAME_MAX + 1];
		uint32_t reqid = mr_u32(&r);
		mr_str(&r, origin, MIGR_NAME_MAX);
		mr_str(&r, gpid, MIGR_GPID_MAX);
		mr_str(&r, dest, MIGR_NAME_MAX);
		uint8_t mode = mr_u8(&r);
		uint32_t uid = mr_u32(&r);
		int automatic = !!(mode & MODE_AUTO);
		mode &= (uint8_t)~MODE_AUTO;
		if (mr_end(&r) < 0 || mode > MODE_COPY)
			return MIGR_EPROTO;
		char home[MIGR_NAME_MAX + 1];
		if (migr_gpid_home(gpid, home) < 0)
			return MIGR_EPROTO;
		struct job *j = job_find(gpid);
		/* the home checks first; it then sends the request on, from itself */
		if (is_self(home) && !(j && j->migrating && !strcmp(from, home)))
			home_request(origin, reqid, gpid, dest, mode, automatic, uid);
		else if (!strcmp(from, home))
			src_request(origin, reqid, gpid, dest, mode, automatic);
		else
			return MIGR_EPROTO;
		return 0;
	}
	case MSG_MIG_RESULT:
		result_in(&r);
		return 0;
	case MSG_MIG_OFFER:
		dst_offer(from, &r);
		return 0;
	default:
		break;
	}

	mr_str(&r, gpid, MIGR_GPID_MAX);
	if (r.bad)
		return MIGR_EPROTO;
	struct migration *src = mig_find(gpid, ROLE_SOURCE), *dst = mig_find(gpid, ROLE_DEST);
	struct job *j = job_find(gpid);
	switch (type) {
	case MSG_MIG_ACCEPT:
		if (src && !strcmp(from, src->dest) && !src->dump)
			src_start_dump(src);
		return 0;
	case MSG_MIG_REFUSE:
		mr_str(&r, text, MIGR_ERRMSG_MAX);
		if (src && !strcmp(from, src->dest))
			src_fail(src, text);
		return 0;
	case MSG_MIG_IMAGE:
		return dst && !strcmp(from, dst->source) ? dst_image(dst, &r) : 0;
	case MSG_MIG_IMAGES_DONE:
		if (dst && !strcmp(from, dst->source))
			dst_images_done(dst);
		return 0;
	case MSG_MIG_PAGES: {
		struct migration *m = src && !strcmp(from, src->dest)	 ? src
				      : dst && !strcmp(from, dst->source) ? dst
									  : NULL;
		uint32_t len = mr_u32(&r);
		if (r.bad || len != r.left)
			return MIGR_EPROTO;
		if (!m || m->ps_fd < 0)
			return 0;
		if (len == 0) {	/* the other criu closed: so does ours */
			shutdown(m->ps_fd, SHUT_WR);
			return 0;
		}
		mw_bytes(&m->ps_out, r.p, len);
		loop_mod(m->ps_fd, EPOLLIN | EPOLLOUT);
		return 0;
	}
	case MSG_MIG_RESTORED: {
		uint32_t pid = mr_u32(&r);
		(void)pid;
		if (src && !strcmp(from, src->dest)) {
			src->restored = 1;
			src->job->frozen = 2;	/* mps lists it where it runs now */
			src->t_restored = loop_now();
			mig_set_timer(src, PAGES_TIMEOUT_MS + 10000, src_timeout);
			if (src->mode == MODE_COPY)
				src_commit(src);
		}
		/* at home: the job's output now comes from there; stdin waits for COMMIT */
		if (j && j->at_home && j->migrating) {
			snprintf(j->node, sizeof(j->node), "%s", from);
			j->moves++;
		}
		return 0;
	}
	case MSG_MIG_DUMPED:
		mr_str(&r, text, MIGR_ERRMSG_MAX);
		if (dst && !strcmp(from, dst->source)) {
			dst->dumped_ok = !strcmp(text, "ok");
			if (dst->dumped_ok)
				dst_try_commit(dst);
			else
				dst_fail(dst, "criu dump on the source failed");
		}
		return 0;
	case MSG_MIG_COMMIT:
		if (src && !strcmp(from, src->dest))
			src_commit(src);
		if (j && j->at_home && j->migrating) {
			j->migrating = 0;
			home_pump_stdin(j);
		}
		return 0;
	case MSG_MIG_ABORT:
		mr_str(&r, text, MIGR_ERRMSG_MAX);
		if (src && !strcmp(from, src->dest))
			src_fail(src, text);
		else if (dst && !strcmp(from, dst->source))
			dst_fail(dst, text);
		if (j && j->at_home && j->migrating) {
			snprintf(j->node, sizeof(j->node), "%s", j->moving_from);
			j->migrating = 0;
			home_pump_stdin(j);
		}
		return 0;
	default:
		return MIGR_EPROTO;
	}
}

int migrate_reaped(pid_t pid, int status)
{
	return criu_reaped(pid, status);
}

void migrate_node_down(const char *node)
{
	for (struct migration *m = migrations, *next; m; m = next) {
		next = m->next;
		if (m->role == ROLE_SOURCE && !strcmp(m->dest, node))
			src_fail(m, "the destination went down");
		else if (m->role == ROLE_DEST && !strcmp(m->source, node))
			dst_fail(m, "the source went down");
	}
}
