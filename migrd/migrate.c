/* migrate.c: moving a running job to another node: the daemon's part (the rules are in
 * migrate_fsm.c, the work in the migr-move helpers, mover.h).
 *
 *   origin --REQ--> home --REQ--> source --OFFER--> destination
 *   destination --ACCEPT (the move's key)--> source
 *   source: two channels of the move's own to the destination (peers_bulk_open), handed
 *           with the key to its helper, which dumps the job and sends images and pages
 *   destination: its helper restores the job and fills its memory --RESTORED--> source,
 *           home; every page in --DONE--> source, home
 *   source: the stopped copy ends --RESULT--> origin
 * Any failure before DONE: ABORT, the destination's copy (if any) ends, the source's
 * resumes. A source that loses its helper's link after the images left asks (QUERY). */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "admin.h"
#include "balance.h"
#include "bulk.h"
#include "cpufeat.h"
#include "cgroup.h"
#include "criu.h"
#include "control.h"
#include "filecheck.h"
#include "freeze.h"
#include "job.h"
#include "hold.h"
#include "jobs.h"
#include "launch.h"
#include "log.h"
#include "loop.h"
#include "migrate_fsm.h"
#include "migrd.h"
#include "movable.h"
#include "peers.h"
#include "proctree.h"
#include "xmalloc.h"

enum { MODE_LAZY = 0, MODE_COPY = 1, MODE_FREEZE = 2 };	/* freeze: MIG_REQ only */
#define MODE_AUTO 0x80	/* on the wire with the mode: the load balancer asks, not a user */
#define MODE_CHECK 0x40	/* on the wire with the mode: only say whether a move would be tried */
#define MODE_WHOLE 0x20	/* in an offer with the mode: the images hold every page (a thaw) */
#define MIN_FREE_KB (64 * 1024)
/* The load balancer's requests carry this bit and its slot; a user's count up from 1. */
#define AUTO_REQID 0x80000000u
#define IS_AUTO(reqid) (((reqid) & AUTO_REQID) != 0)
#define HOME_RESULT_GRACE_MS 2000	/* how long the home's answer waits for the source's */
#define OUTCOME_KEEP_MS (600 * 1000)	/* a destination remembers how a move ended */
#define RESUME_AGAIN_MS 2000
#define HELPER_NICE -10

struct migration {
	enum mig_role role;
	enum mig_state state;
	uint64_t id;			/* drawn by the source: names the move on the wire */
	char gpid[MIGR_GPID_MAX + 1];
	char home[MIGR_NAME_MAX + 1];
	char source[MIGR_NAME_MAX + 1];
	char dest[MIGR_NAME_MAX + 1];
	char origin[MIGR_NAME_MAX + 1];
	uint32_t reqid;
	int mode, automatic;
	int whole;			/* destination: the images hold every page (a thaw) */
	char dir[PATH_MAX + 96];
	struct job *job;		/* source: the job; destination: once restored */
	pid_t left_pid;			/* a copy no job record holds (found at restart) */
	struct loop_timer *timer;
	/* the helper */
	pid_t helper;
	int ctl;			/* its control socket; -1 once closed */
	int last_word;			/* it reported how it ended */
	int channels;			/* source: channels handed to it */
	uint8_t key[BULK_KEY_BYTES];
	/* the destination's record of the offer */
	uint64_t ino[3];
	int pipes_ours[3];
	struct holder *holder;		/* of the job to be, until it runs here */
	uint32_t uid, flags, moves;
	char cmd[MIGR_CMD_MAX + 1];
	uint64_t rss_kb;
	pid_t restored;
	/* times, for the answer */
	uint64_t t_start, t_freeze, t_restored;
	char why[MIGR_ERRMSG_MAX + 1];
	int finished;
	struct migration *next;
};

static struct migration *migrations;
static int gc_scheduled;

/* Helpers that outlived their move (killed, or ended after it): reaped quietly. */
static pid_t orphans[64];

static const char *role_name(const struct migration *m)
{
	return m->role == MIG_SOURCE ? "source" : "destination";
}

static struct migration *mig_find(const char *gpid, uint64_t id, enum mig_role role)
{
	for (struct migration *m = migrations; m; m = m->next)
		if (m->role == role && m->id == id && !strcmp(m->gpid, gpid))
			return m;
	return NULL;
}

/* The move of this job under way here in this role, if any. */
static struct migration *mig_active(const char *gpid, enum mig_role role)
{
	for (struct migration *m = migrations; m; m = m->next)
		if (m->role == role && !m->finished && !strcmp(m->gpid, gpid))
			return m;
	return NULL;
}

static struct migration *mig_new(enum mig_role role, const char *gpid, uint64_t id)
{
	struct migration *m = xcalloc(1, sizeof(*m));
	m->role = role;
	m->id = id;
	m->ctl = -1;
	snprintf(m->gpid, sizeof(m->gpid), "%s", gpid);
	for (int i = 0; i < 3; i++)
		m->pipes_ours[i] = -1;
	m->t_start = loop_now();
	snprintf(m->dir, sizeof(m->dir), "%s/migrate/%s.%016" PRIx64 ".%s", migrd.conf.state_dir,
		 gpid, id, role == MIG_SOURCE ? "out" : "in");
	m->next = migrations;
	migrations = m;
	return m;
}

static int make_dir(const char *dir)
{
	char parent[PATH_MAX + 16];
	snprintf(parent, sizeof(parent), "%s/migrate", migrd.conf.state_dir);
	mkdir(parent, 0700);
	criu_images_remove(dir);
	return mkdir(dir, 0700);
}

/* Frees finished moves from the loop, never from inside one of their own handlers. */
static void mig_gc(void *arg)
{
	gc_scheduled = 0;
	uint64_t now = loop_now();
	for (struct migration **mp = &migrations; *mp;) {
		struct migration *m = *mp;
		/* a destination keeps its outcome a while, for a source that asks */
		int keep = m->role == MIG_DEST && now - m->t_start < OUTCOME_KEEP_MS;
		if (!m->finished || keep) {
			mp = &m->next;
			continue;
		}
		*mp = m->next;
		free(m);
	}
}

static void gc_later(unsigned ms)
{
	if (!ms && gc_scheduled)
		return;
	gc_scheduled |= !ms;
	loop_timer_add(ms, 0, mig_gc, NULL);
}

/* ---- messages ---- */

static void frame_begin(struct mw *w, uint8_t type, const struct migration *m)
{
	mw_init(w);
	mw_frame_begin(w, type);
	mw_str(w, m->gpid);
	mw_u64(w, m->id);
}

static void send_frame(const char *to, struct mw *w)
{
	mw_frame_end(w);
	node_send(to, w);
	mw_free(w);
}

static void send_text(const char *to, uint8_t type, const struct migration *m, const char *text)
{
	struct mw w;
	char buf[MIGR_ERRMSG_MAX + 1];
	frame_begin(&w, type, m);
	if (type == MSG_MIG_ABORT || type == MSG_MIG_REFUSE) {
		snprintf(buf, sizeof(buf), "%s", text ? text : "");
		mw_str(&w, buf);
	}
	send_frame(to, &w);
}

static void send_result_as(const char *origin, uint32_t reqid, int code, const char *msg,
			   uint32_t freeze_ms, uint32_t total_ms, const char *node, int by_home)
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
	mw_u8(&w, (uint8_t)by_home);
	mw_frame_end(&w);
	node_send(origin, &w);
	mw_free(&w);
}

static void send_result(const char *origin, uint32_t reqid, int code, const char *msg,
			uint32_t freeze_ms, uint32_t total_ms, const char *node)
{
	send_result_as(origin, reqid, code, msg, freeze_ms, total_ms, node, 0);
}

void migrate_result(const char *origin, uint32_t reqid, int code, const char *msg,
		    uint32_t freeze_ms, uint32_t total_ms, const char *node)
{
	send_result(origin, reqid, code, msg, freeze_ms, total_ms, node);
}

/* The home's word on how a move ended, for whoever asked: the source's own answer, with its
 * times, is preferred; this one stands if the source cannot give it (its migrd died). */
static void home_result(struct job *j, int ok, const char *why)
{
	char msg[MIGR_ERRMSG_MAX + 1];
	if (!j->migrating || IS_AUTO(j->move_reqid))
		return;
	if (ok)
		send_result_as(j->move_origin, j->move_reqid, 0, NULL, 0, 0, j->moving_to, 1);
	else {
		snprintf(msg, sizeof(msg), "%s: not moved to %s: %s", j->gpid, j->moving_to,
			 why && *why ? why : "the move failed");
		send_result_as(j->move_origin, j->move_reqid, -EIO, msg, 0, 0, "", 1);
	}
}

/* The home learns of the move from whoever knows first; this node may be the home. */
static void tell_home(const struct migration *m, uint8_t type, const char *text)
{
	if (is_self(m->home)) {
		struct job *j = job_find(m->gpid);
		if (!j || !j->at_home)
			return;
		if (type == MSG_MIG_RESTORED) {
			home_move_restored(j, m->dest);
		} else if (type == MSG_MIG_FROZEN) {
			home_result(j, 1, NULL);
			home_move_frozen(j);
		} else if (type == MSG_MIG_DONE) {
			home_result(j, 1, NULL);
			home_move_done(j);
		} else {
			home_result(j, 0, text);
			home_move_aborted(j);
		}
		return;
	}
	if (type == MSG_MIG_RESTORED) {
		struct mw w;
		frame_begin(&w, type, m);
		mw_u32(&w, (uint32_t)m->restored);
		send_frame(m->home, &w);
	} else {
		send_text(m->home, type, m, text);
	}
}

/* ---- the helper ---- */

static void helper_io(int fd, uint32_t events, void *arg);

/* What a migrd that comes back needs to settle the move (migrate_init): who, with whom, which
 * processes; the helper writes how it went beside it (move.rec). */
static void write_info(const struct migration *m)
{
	char path[PATH_MAX + 128];
	snprintf(path, sizeof(path), "%s/move.info", m->dir);
	FILE *f = fopen(path, "we");
	if (!f)
		return;
	fprintf(f, "%s %s %016" PRIx64 " %s %d %d\n", m->role == MIG_SOURCE ? "source" : "dest",
		m->gpid, m->id, m->role == MIG_SOURCE ? m->dest : m->source,
		m->role == MIG_SOURCE && m->job && !m->job->on_disk ? (int)m->job->init_pid : 0,
		(int)m->helper);
	fclose(f);
}

/* migr-move's fork and exec, with its control socket on fd 3 and fds 4.. as given. */
struct helper_args {
	const char *const *argv;
	int ctl;
	const int *fds;
	int nfds;
};

static pid_t helper_fork(void *arg, int *unused, char *why, size_t whylen)
{
	struct helper_args *ha = arg;
	const char *const *argv = ha->argv;
	const int *fds = ha->fds;
	int nfds = ha->nfds;
	const char *path = launch_mover_path();
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		return -errno;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		/* a job's faults wait on its move's helpers: they go before the jobs' own work */
		setpriority(PRIO_PROCESS, 0, HELPER_NICE);
		int moved[4];
		moved[0] = fcntl(ha->ctl, F_DUPFD, 100);
		for (int i = 0; i < nfds && i < 3; i++)
			moved[1 + i] = fcntl(fds[i], F_DUPFD, 100);
		for (int i = 0; i < 1 + nfds && i < 4; i++)
			dup2(moved[i], 3 + i);
		close_range(4 + (unsigned)nfds, ~0U, 0);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* Starts migr-move: the destination's from the job's holder to be, whose child the job
 * restored becomes (hold.h). */
static int spawn_helper(struct migration *m, const char *const *argv, const int *fds, int nfds)
{
	int sp[2];
	char why[MIGR_ERRMSG_MAX + 1];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -1;
	struct helper_args ha = { argv, sp[1], fds, nfds };
	pid_t pid;
	if (m->role == MIG_DEST) {
		m->holder = holder_spawn(m->gpid, m->pipes_ours, 0, helper_fork, &ha, &pid, NULL,
					 why, sizeof(why));
		if (!m->holder) {
			log_warnx("%s: %s", m->gpid, why);
			pid = -EIO;
		}
	} else {
		pid = helper_fork(&ha, NULL, why, sizeof(why));
	}
	close(sp[1]);
	if (pid < 0) {
		close(sp[0]);
		errno = -pid;
		return -1;
	}
	m->helper = pid;
	m->ctl = sp[0];
	write_info(m);
	fcntl(m->ctl, F_SETFL, O_NONBLOCK);
	loop_add(m->ctl, EPOLLIN, helper_io, m);
	return 0;
}

static void helper_send(struct migration *m, const char *line, int fd)
{
	if (m->ctl < 0)
		return;
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = (void *)line, .iov_len = strlen(line) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	if (sendmsg(m->ctl, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_warn("%s: telling its helper", m->gpid);
}

static void helper_send_key(struct migration *m)
{
	char line[8 + 2 * BULK_KEY_BYTES + 1];
	memcpy(line, "key ", 4);
	sodium_bin2hex(line + 4, sizeof(line) - 4, m->key, BULK_KEY_BYTES);
	helper_send(m, line, -1);
	sodium_memzero(line, sizeof(line));
}

static void helper_forget(struct migration *m, int kill_it)
{
	if (m->ctl >= 0) {
		loop_del(m->ctl);
		close(m->ctl);
		m->ctl = -1;
	}
	if (m->helper > 0) {
		if (kill_it)
			kill(m->helper, SIGKILL);
		for (size_t i = 0; i < sizeof(orphans) / sizeof(orphans[0]); i++)
			if (!orphans[i]) {
				orphans[i] = m->helper;
				break;
			}
		m->helper = 0;
	}
}

/* ---- carrying out the machine's steps ---- */

static void mig_event(struct migration *m, enum mig_event ev, const char *why);

static void mig_timeout(void *arg)
{
	struct migration *m = arg;
	m->timer = NULL;
	if (m->role == MIG_SOURCE && m->state == SRC_IN_DOUBT) {
		/* a destination declared dead before we began to doubt, or never heard of
		 * since this migrd started, will not answer: its copy went with it */
		const struct gossip_node *n = gossip_find(&migrd.gossip, m->dest);
		if ((n && (n->state == MIGR_NODE_DEAD || n->state == MIGR_NODE_LEFT)) ||
		    (!n && loop_now() - migrd.started_at > 2ull * migrd.conf.dead_timeout_ms)) {
			mig_event(m, EV_PEER_DEAD, "the destination is down");
			return;
		}
	}
	mig_event(m, EV_TIMEOUT, NULL);
}

/* A freeze or a thaw on this node (freeze.c): no move, so no id. */
void migrate_home_news(const char *gpid, const char *home, uint8_t type, const char *text)
{
	struct migration m = { .id = 0 };
	snprintf(m.gpid, sizeof(m.gpid), "%s", gpid);
	snprintf(m.home, sizeof(m.home), "%s", home);
	snprintf(m.dest, sizeof(m.dest), "%s", migrd.conf.node);
	tell_home(&m, type, text);
}

static void resume_again(void *arg)
{
	char *gpid = arg;
	struct job *j = job_find(gpid);
	if (j && j->here && !j->mig)
		job_move_resume(j);
	free(gpid);
}

static void open_channels(struct migration *m);

/* Resumes a job the helper left stopped, found after a restart: its processes but those
 * its user had stopped (the helper wrote which). */
static void continue_left(pid_t pid, const char *dir)
{
	char path[PATH_MAX + 400];
	if (pid <= 0)
		return;	/* a thaw from this node's disk: no processes here */
	int *stopped;
	snprintf(path, sizeof(path), "%s/" PROCTREE_STOPPED_FILE, dir);
	size_t n = proctree_load_stopped(path, &stopped);
	proctree_continue(pid, stopped, n);
	free(stopped);
}

static void result(struct migration *m, int ok)
{
	uint64_t now = loop_now();
	uint32_t total = (uint32_t)(now - (m->t_freeze ? m->t_freeze : m->t_start));
	uint32_t freeze = 0;
	if (ok)
		freeze = m->mode == MODE_COPY || !m->t_restored
				 ? total
				 : (uint32_t)(m->t_restored - m->t_freeze);
	if (ok) {
		log_info("%s: moved to %s (%s): frozen %u ms, total %u ms", m->gpid, m->dest,
			 m->mode == MODE_LAZY ? "lazy" : "copy", freeze, total);
		balance_job_left(m->gpid, m->dest, m->rss_kb, total);
		send_result(m->origin, m->reqid, 0, NULL, freeze, total, m->dest);
		return;
	}
	char msg[2 * MIGR_ERRMSG_MAX];
	snprintf(msg, sizeof(msg), "%s: not moved to %s: %s", m->gpid, m->dest,
		 m->why[0] ? m->why : "the move failed");
	msg[MIGR_ERRMSG_MAX] = '\0';	/* the bound of the message that carries it */
	log_warnx("%s", msg);
	send_result(m->origin, m->reqid, -EIO, msg, 0, 0, "");
}

static void run_actions(struct migration *m, unsigned a)
{
	const char *other = m->role == MIG_SOURCE ? m->dest : m->source;
	if (a & ACT_KILL_HELPER)
		helper_forget(m, 1);
	if (a & ACT_HELPER_ABORT)
		helper_send(m, "abort", -1);
	if (a & ACT_STOP_OUTPUT && m->job)
		job_move_begin(m->job, m);
	if (a & ACT_OPEN_CHANNELS)
		open_channels(m);
	if (a & ACT_DRAIN_OUTPUT && m->job)
		job_move_frozen(m->job);
	if (a & ACT_HIDE_JOB && m->job)
		job_move_hidden(m->job);
	if (a & ACT_ADOPT_JOB) {
		m->job = job_arrived(m->gpid, m->home, m->uid, m->flags, m->moves, m->cmd,
				     m->restored, m->pipes_ours, m->holder, m);
		m->holder = NULL;
		job_join_cgroup(m->restored);
		balance_job_arrived();
		log_info("%s: restored here from %s, init pid %d", m->gpid, m->source,
			 (int)m->restored);
	}
	if (a & ACT_SEND_RESTORED) {
		struct mw w;
		frame_begin(&w, MSG_MIG_RESTORED, m);
		mw_u32(&w, (uint32_t)m->restored);
		send_frame(m->source, &w);
		if (strcmp(m->home, m->source))
			tell_home(m, MSG_MIG_RESTORED, NULL);
	}
	if (a & ACT_SEND_DONE) {
		send_text(m->source, MSG_MIG_DONE, m, NULL);
		if (m->role == MIG_DEST && m->job && m->state == MIG_COMMITTED) {
			job_move_landed(m->job);
			m->job = NULL;
		}
		if (strcmp(m->home, m->source))
			tell_home(m, MSG_MIG_DONE, NULL);
	}
	if (a & ACT_KILL_DEST_COPY && m->job) {
		job_vanished(m->job);
		m->job = NULL;
	}
	if (a & ACT_KILL_SOURCE_COPY && m->job && m->job->on_disk) {
		/* thawed elsewhere: its images here must never be found again (the helper
		 * removes them, but may have died first) */
		char frozen[PATH_MAX + 96];
		freeze_dir(m->gpid, frozen, sizeof(frozen));
		criu_images_remove(frozen);
	} else if (a & ACT_KILL_SOURCE_COPY && m->job) {
		job_move_kill(m->job);
	}
	if (a & (ACT_KILL_SOURCE_COPY | ACT_KILL_DEST_COPY) && m->left_pid > 0) {
		proctree_signal(m->left_pid, SIGKILL);
		m->left_pid = 0;
	}
	if (a & ACT_RESUME_JOB && m->left_pid > 0) {
		continue_left(m->left_pid, m->dir);
		m->left_pid = 0;
	}
	if (a & ACT_RELEASE_JOB && m->job) {
		job_move_left(m->job);
		m->job = NULL;
		tell_home(m, MSG_MIG_DONE, NULL);
	}
	if (a & ACT_RESUME_JOB && m->job) {
		job_move_resume(m->job);
		m->job = NULL;
	}
	if (a & ACT_RESUME_AGAIN)
		loop_timer_add(RESUME_AGAIN_MS, 0, resume_again, xstrdup(m->gpid));
	if (a & ACT_SEND_ABORT) {
		send_text(other, MSG_MIG_ABORT, m, m->why);
		if (strcmp(m->home, other))
			tell_home(m, MSG_MIG_ABORT, m->why);
	}
	if (a & ACT_SEND_QUERY) {
		struct mw w;
		frame_begin(&w, MSG_MIG_QUERY, m);
		send_frame(m->dest, &w);
	}
	if (a & ACT_RESULT_OK)
		result(m, 1);
	if (a & ACT_RESULT_FAIL)
		result(m, 0);
	if (a & ACT_FINISH) {
		m->finished = 1;
		helper_forget(m, 0);
		holder_release(m->holder);	/* no job came of it */
		m->holder = NULL;
		loop_timer_cancel(m->timer);
		m->timer = NULL;
		for (int i = 0; i < 3; i++)
			if (m->pipes_ours[i] >= 0) {
				close(m->pipes_ours[i]);
				m->pipes_ours[i] = -1;
			}
		sodium_memzero(m->key, sizeof(m->key));
		if (m->job && m->job->mig == m)
			m->job->mig = NULL;
		m->job = NULL;
		criu_images_remove(m->dir);
		gc_later(0);
		if (m->role == MIG_DEST)
			gc_later(OUTCOME_KEEP_MS + 1000);
	}
}

/* Every event goes through here: the machine decides, the change is logged, then done. */
static void mig_event(struct migration *m, enum mig_event ev, const char *why)
{
	struct mig_step step;
	if (m->finished && m->role == MIG_SOURCE)
		return;
	if (mig_fsm_step(m->role, m->state, ev, &step) < 0) {
		log_debug("%s: move as %s: %s ignored in %s", m->gpid, role_name(m),
			  mig_event_name(ev), mig_state_name(m->state));
		return;
	}
	if (why && *why && !m->why[0])
		snprintf(m->why, sizeof(m->why), "%s", why);
	if (step.next != m->state || step.actions)
		log_info("%s: move %s %s: %s -> %s (%s)%s%s", m->gpid,
			 m->role == MIG_SOURCE ? "to" : "from",
			 m->role == MIG_SOURCE ? m->dest : m->source, mig_state_name(m->state),
			 mig_state_name(step.next), mig_event_name(ev), why && *why ? ": " : "",
			 why && *why ? why : "");
	m->state = step.next;
	if (!m->finished) {
		loop_timer_cancel(m->timer);
		m->timer = step.timer_ms ? loop_timer_add(step.timer_ms, 0, mig_timeout, m) : NULL;
	}
	run_actions(m, step.actions);
}

/* A line from a helper: how its part goes. */
static void helper_line(struct migration *m, const char *line)
{
	unsigned long long a;
	int pid;
	if (!strncmp(line, "dumping", 7)) {
		m->t_freeze = loop_now();
	} else if (!strncmp(line, "running", 7)) {
		if (!m->t_restored)
			m->t_restored = loop_now();
		mig_event(m, EV_RESTORED, NULL);
	} else if (!strncmp(line, "frozen", 6)) {
		if (!m->t_freeze)
			m->t_freeze = loop_now();
		if (sscanf(line, "frozen %llu", &a) == 1)
			log_info("%s: dumped in %llu ms", m->gpid, a);
		mig_event(m, EV_FROZEN, NULL);
	} else if (sscanf(line, "restored %d %llu", &pid, &a) >= 1 && m->role == MIG_DEST) {
		m->restored = pid;
		if (sscanf(line, "restored %d %llu", &pid, &a) == 2)
			log_info("%s: images in and restored in %llu ms", m->gpid, a);
		mig_event(m, EV_RESTORED, NULL);
	} else if (!strncmp(line, "done", 4)) {
		m->last_word = 1;
		if (m->role == MIG_DEST && line[4])
			log_info("%s: every page in: %s", m->gpid, line + 5);
		mig_event(m, EV_DONE, NULL);
	} else if (!strncmp(line, "aborted", 7) || !strncmp(line, "failed", 6)) {
		char why[MIGR_ERRMSG_MAX + 1];
		m->last_word = 1;
		snprintf(why, sizeof(why), "%s", line[0] == 'a' ? line + 7 + !!line[7]
								 : line + 6 + !!line[6]);
		mig_event(m, line[0] == 'a' ? EV_ABORTED : EV_FAILED, why[0] ? why : NULL);
	} else if (!strncmp(line, "doubt", 5)) {
		m->last_word = 1;
		mig_event(m, EV_DOUBT, line[5] ? line + 6 : NULL);
	} else if (!strncmp(line, "pausing", 7)) {
		log_info("%s: test: pausing before restore", m->gpid);
	}
}

static void helper_io(int fd, uint32_t events, void *arg)
{
	struct migration *m = arg;
	char line[600];
	ssize_t n = recv(fd, line, sizeof(line) - 1, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		int spoke = m->last_word;
		helper_forget(m, 0);
		if (!spoke)
			mig_event(m, EV_HELPER_GONE, "its helper ended without a word");
		return;
	}
	line[n] = '\0';
	line[strcspn(line, "\n")] = '\0';
	helper_line(m, line);
}

/* ---- source ---- */

struct channel_req {
	char gpid[MIGR_GPID_MAX + 1];
	uint64_t id;
	int ch;
};

static void channel_open(void *arg, int fd)
{
	struct channel_req *c = arg;
	struct migration *m = mig_find(c->gpid, c->id, MIG_SOURCE);
	if (!m || m->finished || m->state != SRC_STARTING) {
		if (fd >= 0)
			close(fd);
	} else if (fd < 0) {
		mig_event(m, EV_CHANNEL_FAILED, "the move's channel to the destination failed");
	} else {
		char line[32];
		snprintf(line, sizeof(line), "channel %d", c->ch);
		helper_send(m, line, fd);
		close(fd);
		if (++m->channels == 2)
			mig_event(m, EV_CHANNELS_READY, NULL);
	}
	free(c);
}

/* From inside an action: the state's timer, due at once, makes the machine fail it. */
static void fail_soon(struct migration *m)
{
	loop_timer_cancel(m->timer);
	m->timer = loop_timer_add(0, 0, mig_timeout, m);
}

/* Accepted: the helper starts, the two channels open; the helper dumps once it has both. */
static void open_channels(struct migration *m)
{
	char pid[16], frozen[PATH_MAX + 96];
	int from_disk = m->job->on_disk;
	snprintf(pid, sizeof(pid), "%d", from_disk ? 0 : (int)m->job->init_pid);
	freeze_dir(m->gpid, frozen, sizeof(frozen));
	const char *argv[18];
	int n = 0;
	argv[n++] = "migr-move";
	argv[n++] = "send";
	argv[n++] = "--gpid";
	argv[n++] = m->gpid;
	argv[n++] = "--dir";
	argv[n++] = m->dir;
	argv[n++] = "--pid";
	argv[n++] = pid;
	argv[n++] = "--criu";
	argv[n++] = migrd.conf.criu;
	argv[n++] = "--node";
	argv[n++] = migrd.conf.node;
	if (from_disk) {	/* a thaw elsewhere: the images are made; the helper removes them */
		argv[n++] = "--from-disk";
		argv[n++] = frozen;
	}
	if (log_verbose())
		argv[n++] = "-v";
	argv[n] = NULL;
	if (make_dir(m->dir) < 0 || (from_disk && freeze_link_images(m->job, m->dir) < 0) ||
	    spawn_helper(m, argv, NULL, 0) < 0) {
		snprintf(m->why, sizeof(m->why), "cannot start the move's helper: %s",
			 strerror(errno));
		fail_soon(m);
		return;
	}
	helper_send_key(m);
	const struct gossip_node *node = gossip_find(&migrd.gossip, m->dest);
	for (int ch = 0; ch < 2; ch++) {
		struct channel_req *c = xcalloc(1, sizeof(*c));
		snprintf(c->gpid, sizeof(c->gpid), "%s", m->gpid);
		c->id = m->id;
		c->ch = ch;
		struct mw w;
		frame_begin(&w, MSG_BULK_ATTACH, m);
		mw_u8(&w, (uint8_t)ch);
		mw_frame_end(&w);
		int r = node ? peers_bulk_open(gossip_addr(node), node->port, &w, channel_open, c) : -1;
		mw_free(&w);
		if (r < 0) {
			free(c);
			snprintf(m->why, sizeof(m->why), "cannot open a channel to %s", m->dest);
			fail_soon(m);
			return;
		}
	}
}

/* A line for a destination whose free memory, as gossip last said, cannot take the job:
 * what its own admission would answer (dest_offer). 0 if it can, or is not known. */
static int dest_room_reason(const struct job *j, const char *dest, char *why, size_t len)
{
	const struct gossip_node *g = dest[0] && !is_self(dest) ? gossip_find(&migrd.gossip, dest)
								: NULL;
	uint64_t rss = job_rss_kb(j);
	if (!g || !g->vec.mem_free_kb || g->vec.mem_free_kb >= rss + MIN_FREE_KB)
		return 0;
	snprintf(why, len, "%s has too little free memory: %llu MiB, and the job holds %llu MiB",
		 gossip_name(g), (unsigned long long)(g->vec.mem_free_kb / 1024),
		 (unsigned long long)(rss / 1024));
	return 1;
}

/* MIG_REQ --check where the job runs: what it holds that a move cannot carry, without
 * touching it; then whether dest has its files (filecheck.h). */
static void src_check(const char *origin, uint32_t reqid, const char *gpid, const char *dest)
{
	struct job *j = job_find(gpid);
	struct holds h = { 0 };
	char why[MIGR_ERRMSG_MAX + 1];
	if (!j || !j->here || j->exited || j->start_fd >= 0 ||
	    (!j->on_disk && movable_inspect(j->init_pid, &h) < 0)) {
		send_result(origin, reqid, -ESRCH, "the job is not running on its node any more", 0, 0,
			    "");
		return;
	}
	if (j->mig || j->frozen) {
		snprintf(why, sizeof(why), "%s: already being moved", gpid);
		send_result(origin, reqid, -EBUSY, why, 0, 0, "");
		return;
	}
	size_t len = movable_reasons(&h, why, sizeof(why)) ? strlen(why) : 0;
	if (len < sizeof(why) - 1 && dest_room_reason(j, dest, why + len, sizeof(why) - len))
		len = strlen(why);
	if (len) {
		if (why[len - 1] == '\n')
			why[len - 1] = '\0';
		send_result(origin, reqid, MIGR_CANTMOVE, why, 0, 0, migrd.conf.node);
		return;
	}
	/* last: it waits for dest's answer */
	if (dest[0] && !is_self(dest) && !j->on_disk) {
		filecheck_start(origin, reqid, gpid, j->init_pid, dest);
		return;
	}
	send_result(origin, reqid, 0, NULL, 0, 0, migrd.conf.node);
}

/* The source turns a move down before it began: whoever asked hears why, and the home,
 * which marked the job as moving when it sent the request on, hears that it ended. */
void migrate_refuse(const char *origin, uint32_t reqid, const char *gpid, int code,
		    const char *why)
{
	char home[MIGR_NAME_MAX + 1];
	send_result(origin, reqid, code, why, 0, 0, "");
	if (migr_gpid_home(gpid, home) < 0)
		return;
	if (is_self(home)) {
		struct job *j = job_find(gpid);
		if (j && j->at_home && j->migrating && !strcmp(j->moving_from, migrd.conf.node))
			home_move_aborted(j);
		return;
	}
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, MSG_MIG_ABORT);
	mw_str(&w, gpid);
	mw_u64(&w, 0);	/* no move began: none has an id */
	mw_str(&w, why);
	mw_frame_end(&w);
	node_send(home, &w);
	mw_free(&w);
}

static void src_request(const char *origin, uint32_t reqid, const char *gpid, const char *dest,
			int mode, int automatic)
{
	struct job *j = job_find(gpid);
	char msg[256];
	if (!j || !j->here || j->exited || j->start_fd >= 0) {
		migrate_refuse(origin, reqid, gpid, -ESRCH, "the job is not running on its node any more");
		return;
	}
	if (j->mig || j->frozen) {
		snprintf(msg, sizeof(msg), "%s: already being moved", gpid);
		migrate_refuse(origin, reqid, gpid, -EBUSY, msg);
		return;
	}
	if (j->on_disk && is_self(dest)) {
		freeze_thaw_here(origin, reqid, j);
		return;
	}
	uint64_t id;
	randombytes_buf(&id, sizeof(id));
	struct migration *m = mig_new(MIG_SOURCE, gpid, id);
	m->state = SRC_OFFERED;
	m->mode = mode;
	m->automatic = automatic;
	m->reqid = reqid;
	m->job = j;
	j->mig = m;
	snprintf(m->origin, sizeof(m->origin), "%s", origin);
	snprintf(m->dest, sizeof(m->dest), "%s", dest);
	snprintf(m->home, sizeof(m->home), "%s", j->home);
	snprintf(m->source, sizeof(m->source), "%s", migrd.conf.node);
	m->rss_kb = job_rss_kb(j);
	struct bal_node self;
	balance_self(&self);
	struct mw w;
	frame_begin(&w, MSG_MIG_OFFER, m);
	mw_str(&w, j->home);
	mw_u32(&w, j->uid);
	mw_u32(&w, j->flags);
	mw_u32(&w, j->moves);
	mw_str(&w, j->cmd);
	mw_u64(&w, m->rss_kb);
	/* a drained node's balancer empties it, and a frozen job weighs on no CPU here: the
	 * destination need only have room, as for a move a user asked for, not be lighter
	 * than this node */
	mw_u8(&w, (uint8_t)(mode | (automatic && !admin_drained() && !j->on_disk ? MODE_AUTO : 0) |
			    (j->on_disk ? MODE_WHOLE : 0)));
	/* the pipes' inodes: how the dump names them, what restore --inherit-fd replaces */
	for (int s = 0; s < 3; s++) {
		struct stat st;
		mw_u64(&w, j->on_disk ? j->disk_ino[s]
		       : j->pipe[s] >= 0 && fstat(j->pipe[s], &st) == 0 ? st.st_ino : 0);
	}
	/* our load as we see it now, for a destination weighing an automatic move */
	mw_u32(&w, (uint32_t)(self.load * 1000));
	mw_u32(&w, (uint32_t)(self.cpus * 1000));
	mw_u64(&w, self.mem_free_kb);
	mw_frame_end(&w);
	int r = node_send(dest, &w);
	mw_free(&w);
	log_info("%s: move to %s offered (%s)", gpid, dest, mode == MODE_COPY ? "copy" : "lazy");
	if (r < 0) {
		snprintf(m->why, sizeof(m->why), "%s: node is not reachable", dest);
		mig_event(m, EV_PEER_DEAD, NULL);
		return;
	}
	m->timer = loop_timer_add(MIG_OFFER_MS, 0, mig_timeout, m);
	snprintf(m->why, sizeof(m->why), "the destination did not answer the offer in time");
}

/* ---- destination ---- */

/* Restored tasks join the node's cgroups, like a job started here. */
void job_join_cgroup(pid_t pid)
{
	char failed[PATH_MAX];
	if (!migrd.conf.cgroup[0])
		return;
	pid_t *pids = xmalloc(PROCTREE_MAX * sizeof(*pids));
	size_t n = proctree_list(pid, pids, PROCTREE_MAX);
	for (size_t i = 0; i < n; i++)
		if (cgroup_join(migrd.conf.cgroup, pids[i], failed, sizeof(failed)) < 0 && i == 0)
			log_warn("%s", failed);
	free(pids);
}

static void refuse(const char *to, const char *gpid, uint64_t id, const char *why)
{
	struct mw w;
	char buf[MIGR_ERRMSG_MAX + 1];
	mw_init(&w);
	mw_frame_begin(&w, MSG_MIG_REFUSE);
	mw_str(&w, gpid);
	mw_u64(&w, id);
	snprintf(buf, sizeof(buf), "%s", why);
	mw_str(&w, buf);
	mw_frame_end(&w);
	node_send(to, &w);
	mw_free(&w);
}

/* Starts the destination's helper: images in, restore, memory. */
static int dst_start(struct migration *m, char *why, size_t whylen)
{
	int p[2], theirs[3] = { -1, -1, -1 };
	char inherit[3][48], pause[16], rss[24];
	for (int s = 0; s < 3; s++) {
		if (pipe2(p, O_CLOEXEC) < 0) {
			snprintf(why, whylen, "%s: pipe: %s", migrd.conf.node, strerror(errno));
			goto fail;
		}
		m->pipes_ours[s] = s == STREAM_IN ? p[1] : p[0];
		theirs[s] = s == STREAM_IN ? p[0] : p[1];
		fcntl(m->pipes_ours[s], F_SETFL, O_NONBLOCK);
		snprintf(inherit[s], sizeof(inherit[s]), "pipe:[%llu]",
			 (unsigned long long)m->ino[s]);
	}
	const char *argv[24];
	int n = 0;
	argv[n++] = "migr-move";
	argv[n++] = "recv";
	argv[n++] = "--gpid";
	argv[n++] = m->gpid;
	argv[n++] = "--dir";
	argv[n++] = m->dir;
	argv[n++] = "--criu";
	argv[n++] = migrd.conf.criu;
	argv[n++] = "--node";
	argv[n++] = migrd.conf.node;
	for (int s = 0; s < 3; s++) {
		argv[n++] = "--inherit";
		argv[n++] = inherit[s];
	}
	if (m->mode == MODE_COPY)
		argv[n++] = "--copy";
	if (m->whole) {
		snprintf(rss, sizeof(rss), "%" PRIu64, m->rss_kb);
		argv[n++] = "--whole";
		argv[n++] = rss;
	}
	if (!strcmp(migrd.conf.test_pause_at, "before-restore") ||
	    !strcmp(migrd.conf.test_pause_at, "in-restore")) {
		snprintf(pause, sizeof(pause), "%u", migrd.conf.test_pause_ms);
		argv[n++] = migrd.conf.test_pause_at[0] == 'b' ? "--pause-restore" : "--stop-restore";
		argv[n++] = pause;
	}
	if (log_verbose())
		argv[n++] = "-v";
	argv[n] = NULL;
	if (make_dir(m->dir) < 0 || spawn_helper(m, argv, theirs, 3) < 0) {
		snprintf(why, whylen, "%s cannot start the move's helper: %s", migrd.conf.node,
			 strerror(errno));
		goto fail;
	}
	for (int s = 0; s < 3; s++)
		close(theirs[s]);
	randombytes_buf(m->key, sizeof(m->key));
	helper_send_key(m);
	return 0;
fail:
	for (int s = 0; s < 3; s++)
		if (theirs[s] >= 0)
			close(theirs[s]);
	return -1;
}

static int dst_offer(const char *from, struct mr *r)
{
	char gpid[MIGR_GPID_MAX + 1], home[MIGR_NAME_MAX + 1], cmd[MIGR_CMD_MAX + 1], msg[256];
	mr_str(r, gpid, MIGR_GPID_MAX);
	uint64_t id = mr_u64(r);
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
	int automatic = !!(mode & MODE_AUTO), whole = !!(mode & MODE_WHOLE);
	mode &= (uint8_t)~(MODE_AUTO | MODE_WHOLE);
	if (mr_end(r) < 0 || mode > MODE_COPY || src_cpus_milli == 0 || !migr_gpid_valid(gpid) ||
	    !migr_name_valid(home))
		return MIGR_EPROTO;
	struct job *existing = job_find(gpid);
	if (mig_active(gpid, MIG_DEST) || (existing && existing->here)) {
		refuse(from, gpid, id, "the job is already here");
		return 0;
	}
	if (admin_drained()) {
		admin_refusal(migrd.conf.node, msg, sizeof(msg));
		refuse(from, gpid, id, msg);
		return 0;
	}
	if (uid == 0 && !migrd.conf.peer_root_jobs) {
		snprintf(msg, sizeof(msg), "%s takes no root jobs from other nodes (peer-root-jobs no)",
			 migrd.conf.node);
		refuse(from, gpid, id, msg);
		return 0;
	}
	if (migrd.mem_free_kb && migrd.mem_free_kb < rss + MIN_FREE_KB) {
		snprintf(msg, sizeof(msg), "%s has no room: %llu kB free", migrd.conf.node,
			 (unsigned long long)migrd.mem_free_kb);
		refuse(from, gpid, id, msg);
		return 0;
	}
	struct bal_node source = {
		.name = from,
		.load = src_load_milli / 1000.0,
		.cpus = src_cpus_milli / 1000.0,
		.mem_free_kb = src_mem_free_kb,
	};
	if (automatic && !balance_offer_ok(&source, rss, msg, sizeof(msg))) {
		log_info("balance: refusing %s from %s: %s", gpid, from, msg);
		refuse(from, gpid, id, msg);
		return 0;
	}
	struct migration *m = mig_new(MIG_DEST, gpid, id);
	m->state = DST_RECEIVING;
	snprintf(m->source, sizeof(m->source), "%s", from);
	snprintf(m->home, sizeof(m->home), "%s", home);
	snprintf(m->dest, sizeof(m->dest), "%s", migrd.conf.node);
	snprintf(m->cmd, sizeof(m->cmd), "%s", cmd);
	m->uid = uid;
	m->flags = flags;
	m->moves = moves;
	m->mode = mode;
	m->whole = whole;
	m->rss_kb = rss;
	memcpy(m->ino, ino, sizeof(ino));
	if (dst_start(m, msg, sizeof(msg)) < 0) {
		refuse(from, gpid, id, msg);
		m->state = MIG_ABORTED;
		run_actions(m, ACT_FINISH);
		return 0;
	}
	m->timer = loop_timer_add(MIG_RECEIVE_MS, 0, mig_timeout, m);
	struct mw w;
	frame_begin(&w, MSG_MIG_ACCEPT, m);
	mw_bytes(&w, m->key, sizeof(m->key));
	send_frame(from, &w);
	log_info("%s: move from %s accepted (%s)", gpid, from, mode == MODE_COPY ? "copy" : "lazy");
	return 0;
}

int migrd_bulk_attach(const char *peer, const uint8_t *p, size_t n, int fd)
{
	struct mr r;
	char gpid[MIGR_GPID_MAX + 1];
	mr_init(&r, p, n);
	mr_str(&r, gpid, MIGR_GPID_MAX);
	uint64_t id = mr_u64(&r);
	uint8_t ch = mr_u8(&r);
	if (mr_end(&r) < 0 || ch > 1)
		return -1;
	struct migration *m = mig_find(gpid, id, MIG_DEST);
	if (!m || m->finished || m->state != DST_RECEIVING || strcmp(m->source, peer))
		return -1;
	char line[32];
	snprintf(line, sizeof(line), "channel %u", ch);
	helper_send(m, line, fd);
	close(fd);
	return 0;
}

/* ---- requests and results ---- */

#define REQUEST_TIMEOUT_MS (MIG_START_MS + MIG_DUMP_MS + MIG_FROZEN_MS + MIG_PAGES_MS)
static uint32_t next_req;

struct request {
	uint32_t id;
	uint64_t client;
	struct loop_timer *timer;
	/* the home's answer, waiting a moment for the source's */
	int home_code;
	char home_msg[MIGR_ERRMSG_MAX + 1], home_node[MIGR_NAME_MAX + 1];
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

/* 1 with why if the CPU of dest lacks features that of source (where the job runs) has:
 * the job may use them (cpu-check strict). Gossip tells every node's. */
static int cpu_refusal(const char *source, const struct gossip_node *dest, char *why,
		       size_t len)
{
	const struct gossip_node *src = gossip_find(&migrd.gossip, source);
	if (!migrd.conf.cpu_strict || (!src && !is_self(source)))
		return 0;
	uint64_t have = is_self(source) ? migrd.cpu_features : src->vec.cpu_features;
	uint64_t missing = cpufeat_missing(have, dest->vec.cpu_features);
	if (!missing)
		return 0;
	char names[160];
	cpufeat_names(missing, names, sizeof(names));
	snprintf(why, len, "%s's CPU lacks what %s's has and the job may use: %s",
		 gossip_name(dest), source, names);
	return 1;
}

/* At the job's home: ownership, destination, then on to where the job runs. */
static void home_request(const char *origin, uint32_t reqid, const char *gpid, const char *dest,
			 int mode, int automatic, int check, uint32_t uid)
{
	struct job *j = job_find(gpid);
	char msg[256], target[MIGR_NAME_MAX + 1];
	snprintf(target, sizeof(target), "%s", !strcmp(dest, "home") ? migrd.conf.node : dest);
	const struct gossip_node *n = gossip_find(&migrd.gossip, target);
	int code = 0, freeze = mode == MODE_FREEZE;
	if (!j || !j->at_home || j->exit_known) {
		snprintf(msg, sizeof(msg), "%s: no such job", gpid);
		code = -ESRCH;
	} else if (uid != 0 && uid != j->uid) {
		snprintf(msg, sizeof(msg), "%s: not your job (it belongs to uid %u)", gpid, j->uid);
		code = -EPERM;
	} else if (freeze) {
		/* it stays where it runs: only the job's own state matters */
		if (!j->started) {
			snprintf(msg, sizeof(msg), "%s: not started yet", gpid);
			code = -EAGAIN;
		} else if (j->migrating) {
			snprintf(msg, sizeof(msg), "%s: already being moved", gpid);
			code = -EBUSY;
		} else if (j->home_frozen) {
			snprintf(msg, sizeof(msg), "%s: already frozen on %s", gpid, j->node);
			code = -EALREADY;
		} else if (automatic && (j->flags & MIGR_RUN_NO_MIGRATE)) {
			snprintf(msg, sizeof(msg), "%s: started with --no-migrate", gpid);
			code = -EPERM;
		}
	} else if (check && !target[0]) {
		/* a check without a destination: only what the job holds */
		if (!j->started) {
			snprintf(msg, sizeof(msg), "%s: not started yet", gpid);
			code = -EAGAIN;
		} else if (j->migrating) {
			snprintf(msg, sizeof(msg), "%s: already being moved", gpid);
			code = -EBUSY;
		}
	} else if (!n) {
		snprintf(msg, sizeof(msg), "%s: no such node", target);
		code = -ENOENT;
	} else if (n->state != MIGR_NODE_ALIVE) {
		snprintf(msg, sizeof(msg), "%s: node is %s", target, migr_node_state_name(n->state));
		code = -EHOSTDOWN;
	} else if (!strcmp(j->node, target) && !j->home_frozen) {
		snprintf(msg, sizeof(msg), "%s: already runs on %s", gpid, target);
		code = -EALREADY;
	} else if (is_self(target) ? admin_drained() : n->vec.admin == MIGR_ADMIN_DRAINED) {
		admin_refusal(target, msg, sizeof(msg));
		code = MIGR_CANTMOVE;
	} else if (!j->started) {
		snprintf(msg, sizeof(msg), "%s: not started yet", gpid);
		code = -EAGAIN;
	} else if (j->migrating) {
		snprintf(msg, sizeof(msg), "%s: already being moved", gpid);
		code = -EBUSY;
	} else if (automatic && (j->flags & MIGR_RUN_NO_MIGRATE)) {
		snprintf(msg, sizeof(msg), "%s: started with --no-migrate", gpid);
		code = -EPERM;
	} else if (cpu_refusal(j->node, n, msg, sizeof(msg))) {
		code = MIGR_CANTMOVE;
	}
	if (code) {
		send_result(origin, reqid, code, msg, 0, 0, "");
		return;
	}
	if (check && is_self(j->node)) {
		src_check(origin, reqid, gpid, target);
		return;
	}
	if (!check)
		home_move_start(j, freeze ? j->node : target, origin, reqid);
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, MSG_MIG_REQ);
	mw_u32(&w, reqid);
	mw_str(&w, origin);
	mw_str(&w, gpid);
	mw_str(&w, target);
	mw_u8(&w, (uint8_t)(mode | (automatic ? MODE_AUTO : 0) | (check ? MODE_CHECK : 0)));
	mw_u32(&w, 0);
	mw_frame_end(&w);
	/* marked "from home" by sending it from here; the runner trusts only that */
	if (node_send(j->node, &w) < 0) {
		if (!check)
			home_move_aborted(j);
		snprintf(msg, sizeof(msg), "%s: the node it runs on (%s) is not reachable", gpid,
			 j->node);
		send_result(origin, reqid, -EHOSTDOWN, msg, 0, 0, "");
	}
	mw_free(&w);
}

static int auto_request(const char *gpid, const char *dest, uint8_t mode, uint32_t tag)
{
	char home[MIGR_NAME_MAX + 1];
	if (migr_gpid_home(gpid, home) < 0 || tag >= AUTO_TAGS)
		return -1;
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, MSG_MIG_REQ);
	mw_u32(&w, AUTO_REQID | tag);
	mw_str(&w, migrd.conf.node);
	mw_str(&w, gpid);
	mw_str(&w, dest);
	mw_u8(&w, mode | MODE_AUTO);
	mw_u32(&w, 0);
	mw_frame_end(&w);
	int r = node_send(home, &w);
	mw_free(&w);
	return r;
}

int migrate_auto(const char *gpid, const char *dest, uint32_t tag)
{
	return auto_request(gpid, dest, MODE_LAZY, tag);
}

int migrate_auto_freeze(const char *gpid, uint32_t tag)
{
	return auto_request(gpid, "", MODE_FREEZE, tag);
}

unsigned migrate_incoming(void)
{
	unsigned n = 0;
	for (struct migration *m = migrations; m; m = m->next)
		n += m->role == MIG_DEST && !m->finished && !m->restored;	/* then it arrived */
	return n;
}

void migrate_request(uint64_t client, uint32_t uid, const char *gpid, const char *dest, int mode)
{
	char home[MIGR_NAME_MAX + 1];
	if (migr_gpid_home(gpid, home) < 0) {
		control_error(client, -EINVAL, "%s: not a job id (want NODE.N)", gpid);
		return;
	}
	if (node_down(home)) {
		control_error(client, -EHOSTDOWN, "%s: its home node %s is not reachable", gpid,
			      home);
		return;
	}
	struct request *r = xcalloc(1, sizeof(*r));
	next_req = (next_req + 1) & ~AUTO_REQID;
	r->id = next_req ? next_req : ++next_req;
	r->client = client;
	r->next = requests;
	requests = r;
	r->timer = loop_timer_add(REQUEST_TIMEOUT_MS, 0, request_timeout, (void *)(uintptr_t)r->id);
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, MSG_MIG_REQ);
	mw_u32(&w, r->id);
	mw_str(&w, migrd.conf.node);
	mw_str(&w, gpid);
	mw_str(&w, dest);
	mw_u8(&w, mode == MIGR_CTL_MODE_CHECK    ? MODE_CHECK
		  : mode == MIGR_CTL_MODE_FREEZE ? MODE_FREEZE
						 : (uint8_t)mode);
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

static void answer(struct request *req, int code, const char *msg, uint32_t freeze,
		   uint32_t total, const char *node)
{
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

static void home_answer_stands(void *arg)
{
	struct request *req = request_take((uint32_t)(uintptr_t)arg);
	if (req)
		answer(req, req->home_code, req->home_msg, 0, 0, req->home_node);
}

static struct request *request_find(uint32_t id)
{
	for (struct request *r = requests; r; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

static int result_in(struct mr *r)
{
	char msg[MIGR_ERRMSG_MAX + 1], node[MIGR_NAME_MAX + 1];
	uint32_t id = mr_u32(r);
	int code = (int)mr_u32(r);
	mr_str(r, msg, MIGR_ERRMSG_MAX);
	uint32_t freeze = mr_u32(r), total = mr_u32(r);
	mr_str(r, node, MIGR_NAME_MAX);
	uint8_t by_home = mr_u8(r);
	if (mr_end(r) < 0 || by_home > 1)
		return MIGR_EPROTO;
	if (IS_AUTO(id)) {
		if (!by_home)
			balance_move_result(id & ~AUTO_REQID, code, msg, node, freeze, total);
		return 0;
	}
	if (by_home) {
		struct request *req = request_find(id);
		if (req && !req->home_msg[0] && !req->home_node[0]) {
			req->home_code = code;
			snprintf(req->home_msg, sizeof(req->home_msg), "%s", code < 0 ? msg : "");
			snprintf(req->home_node, sizeof(req->home_node), "%s", node);
			loop_timer_cancel(req->timer);
			req->timer = loop_timer_add(HOME_RESULT_GRACE_MS, 0, home_answer_stands,
						    (void *)(uintptr_t)id);
		}
		return 0;
	}
	struct request *req = request_take(id);
	if (req)
		answer(req, code, msg, freeze, total, node);
	return 0;
}

/* ---- dispatch ---- */

static int request_in(const char *from, struct mr *r)
{
	char origin[MIGR_NAME_MAX + 1], gpid[MIGR_GPID_MAX + 1], dest[MIGR_NAME_MAX + 1];
	char home[MIGR_NAME_MAX + 1];
	uint32_t reqid = mr_u32(r);
	mr_str(r, origin, MIGR_NAME_MAX);
	mr_str(r, gpid, MIGR_GPID_MAX);
	mr_str(r, dest, MIGR_NAME_MAX);
	uint8_t mode = mr_u8(r);
	uint32_t uid = mr_u32(r);
	int automatic = !!(mode & MODE_AUTO), check = !!(mode & MODE_CHECK);
	mode &= (uint8_t)~(MODE_AUTO | MODE_CHECK);
	if (mr_end(r) < 0 || mode > MODE_FREEZE || migr_gpid_home(gpid, home) < 0 ||
	    !migr_name_valid(origin) || (!check && mode != MODE_FREEZE && !dest[0]) ||
	    (mode == MODE_FREEZE && check))
		return MIGR_EPROTO;
	struct job *j = job_find(gpid);
	/* the home checks first; it then sends the request on, from itself */
	if (is_self(home) && !(j && j->migrating && !strcmp(from, home) && !check))
		home_request(origin, reqid, gpid, dest, mode, automatic, check, uid);
	else if (!strcmp(from, home) && check)
		src_check(origin, reqid, gpid, dest);
	else if (!strcmp(from, home) && mode == MODE_FREEZE)
		freeze_start(origin, reqid, gpid);
	else if (!strcmp(from, home))
		src_request(origin, reqid, gpid, dest, mode, automatic);
	else
		return MIGR_EPROTO;
	return 0;
}

/* The home's part of the messages about a move: where the job's output comes from. */
static void home_message(const char *from, uint8_t type, const char *gpid, const char *text)
{
	struct job *j = job_find(gpid);
	if (!j || !j->at_home || !j->migrating)
		return;
	int party = !strcmp(from, j->moving_to) || !strcmp(from, j->moving_from);
	if (type == MSG_MIG_RESTORED && !strcmp(from, j->moving_to)) {
		home_move_restored(j, from);
	} else if (type == MSG_MIG_FROZEN && party) {
		home_result(j, 1, NULL);
		home_move_frozen(j);
	} else if (type == MSG_MIG_DONE && party) {
		home_result(j, 1, NULL);
		home_move_done(j);
	} else if (type == MSG_MIG_ABORT && party) {
		home_result(j, 0, text);
		home_move_aborted(j);
	}
}

int migrate_peer_message(const char *from, uint8_t type, const uint8_t *p, size_t n)
{
	struct mr r;
	char gpid[MIGR_GPID_MAX + 1], text[MIGR_ERRMSG_MAX + 1] = "";
	mr_init(&r, p, n);
	switch (type) {
	case MSG_MIG_REQ:
		return request_in(from, &r);
	case MSG_MIG_RESULT:
		return result_in(&r);
	case MSG_MIG_OFFER:
		return dst_offer(from, &r);
	case MSG_MIG_FILES:
	case MSG_MIG_FILES_REPLY:
		return filecheck_peer_message(from, type, p, n);
	default:
		break;
	}
	mr_str(&r, gpid, MIGR_GPID_MAX);
	uint64_t id = mr_u64(&r);
	uint8_t key[BULK_KEY_BYTES];
	uint32_t pid = 0;
	switch (type) {
	case MSG_MIG_ACCEPT:
		mr_bytes(&r, key, sizeof(key));
		break;
	case MSG_MIG_REFUSE:
	case MSG_MIG_ABORT:
		mr_str(&r, text, MIGR_ERRMSG_MAX);
		break;
	case MSG_MIG_RESTORED:
		pid = mr_u32(&r);
		break;
	case MSG_MIG_DONE:
	case MSG_MIG_QUERY:
	case MSG_MIG_FROZEN:
		break;
	default:
		return MIGR_EPROTO;
	}
	if (mr_end(&r) < 0)
		return MIGR_EPROTO;
	(void)pid;
	struct migration *src = mig_find(gpid, id, MIG_SOURCE);
	struct migration *dst = mig_find(gpid, id, MIG_DEST);
	if (src && strcmp(from, src->dest))
		src = NULL;	/* only the destination speaks for the destination */
	if (dst && strcmp(from, dst->source))
		dst = NULL;
	switch (type) {
	case MSG_MIG_ACCEPT:
		if (src) {
			memcpy(src->key, key, sizeof(key));
			src->why[0] = '\0';
			mig_event(src, EV_ACCEPTED, NULL);
		}
		sodium_memzero(key, sizeof(key));
		break;
	case MSG_MIG_REFUSE:
		if (src) {
			src->why[0] = '\0';
			mig_event(src, EV_REFUSED, text);
		}
		break;
	case MSG_MIG_RESTORED:
		if (src && !src->t_restored)
			src->t_restored = loop_now();
		if (src)
			mig_event(src, EV_RESTORED, NULL);
		home_message(from, type, gpid, NULL);
		break;
	case MSG_MIG_DONE:
		if (src)
			mig_event(src, EV_DONE, NULL);
		home_message(from, type, gpid, NULL);
		break;
	case MSG_MIG_ABORT:
		if (src)
			mig_event(src, EV_ABORTED, text[0] ? text : "the destination gave up");
		if (dst)
			mig_event(dst, EV_PEER_DEAD, text);	/* its helper is told to give up */
		home_message(from, type, gpid, text);
		break;
	case MSG_MIG_FROZEN:
		home_message(from, type, gpid, NULL);
		break;
	case MSG_MIG_QUERY:
		if (dst) {
			mig_event(dst, EV_QUERY, NULL);
		} else {
			/* a move this node never heard of, or forgot: nothing of it runs here */
			struct migration tmp = { .id = id };
			snprintf(tmp.gpid, sizeof(tmp.gpid), "%s", gpid);
			send_text(from, MSG_MIG_ABORT, &tmp, "the destination knows no such move");
		}
		break;
	}
	return 0;
}

int migrate_reaped(pid_t pid, int status)
{
	for (struct migration *m = migrations; m; m = m->next)
		if (m->helper == pid) {
			m->helper = 0;
			if (m->ctl < 0 && !m->last_word && !m->finished)
				mig_event(m, EV_HELPER_GONE, "its helper died");
			return 1;
		}
	for (size_t i = 0; i < sizeof(orphans) / sizeof(orphans[0]); i++)
		if (orphans[i] == pid) {
			orphans[i] = 0;
			return 1;
		}
	return 0;
}

void migrate_node_down(const char *node)
{
	for (struct migration *m = migrations; m; m = m->next) {
		if (m->finished)
			continue;
		if ((m->role == MIG_SOURCE && !strcmp(m->dest, node)) ||
		    (m->role == MIG_DEST && !strcmp(m->source, node))) {
			char why[96];
			snprintf(why, sizeof(why), "%s went down", node);
			mig_event(m, EV_PEER_DEAD, why);
		}
	}
}

/* ---- after a restart: moves this node's last migrd left under way ---- */

/* The helper of a move is still at it: its migrd died and came back in the meantime. */
static int helper_alive(pid_t pid, const char *gpid)
{
	char path[64], cmd[512];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(cmd, 1, sizeof(cmd) - 1, f);
	fclose(f);
	for (size_t i = 0; i < n; i++)
		if (!cmd[i])
			cmd[i] = ' ';
	cmd[n] = '\0';
	return strstr(cmd, "migr-move") && strstr(cmd, gpid);
}

static void settle(void *arg);

/* One move directory found at start-up: settle it from its records, or wait for its helper
 * to finish first. */
static void settle_dir(const char *dir)
{
	char path[PATH_MAX + 128], role[16], gpid[MIGR_GPID_MAX + 1], peer[MIGR_NAME_MAX + 1];
	char rec[512] = "";
	unsigned long long id;
	int job_pid = 0, helper = 0;
	snprintf(path, sizeof(path), "%s/move.info", dir);
	FILE *f = fopen(path, "re");
	int ok = f && fscanf(f, "%15s %63s %llx %31s %d %d", role, gpid, &id, peer, &job_pid,
			     &helper) == 6;
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "%s/move.rec", dir);
	f = fopen(path, "re");
	if (f) {
		if (!fgets(rec, sizeof(rec), f))
			rec[0] = '\0';
		fclose(f);
		rec[strcspn(rec, "\n")] = '\0';
	}
	if (!ok || !migr_gpid_valid(gpid) || !migr_name_valid(peer)) {
		criu_images_remove(dir);
		return;
	}
	if (helper > 0 && helper_alive(helper, gpid)) {
		/* it goes on without us: look again once it has ended */
		log_info("%s: a move's helper (pid %d) outlived migrd: waiting for it", gpid, helper);
		loop_timer_add(1000, 0, settle, xstrdup(dir));
		return;
	}
	int source = !strcmp(role, "source");
	struct migration *m = mig_new(source ? MIG_SOURCE : MIG_DEST, gpid, (uint64_t)id);
	snprintf(m->dir, sizeof(m->dir), "%s", dir);
	snprintf(source ? m->dest : m->source, sizeof(m->dest), "%s", peer);
	snprintf(source ? m->source : m->dest, sizeof(m->dest), "%s", migrd.conf.node);
	int restored_pid = 0;
	/* the job as its holder gave it back (jobs_adopt), if it did */
	struct job *j = job_find(gpid);
	struct job *adopted = j && j->here && !j->on_disk && !j->mig ? j : NULL;
	if (source) {
		if (!strncmp(rec, "committed", 9)) {
			m->state = MIG_COMMITTED;	/* the helper ended the stopped copy */
			if (adopted)
				job_move_left(adopted);
		} else if (!strncmp(rec, "aborted", 7) || !rec[0]) {
			m->state = MIG_ABORTED;		/* it resumed, or never stopped */
			continue_left(job_pid, dir);
		} else {
			/* frozen, or in doubt: the job waits, stopped, for the destination's word */
			m->state = SRC_IN_DOUBT;
			m->left_pid = job_pid;
			if (!job_pid && j && j->on_disk && !j->mig) {
				/* a thaw elsewhere: its images wait for the same word */
				m->job = j;
				j->mig = m;
				j->frozen = 1;
			} else if (adopted && adopted->init_pid == job_pid) {
				/* the word ends it or resumes it as any move's job (the processes
				 * its user had stopped stay so) */
				snprintf(path, sizeof(path), "%s/" PROCTREE_STOPPED_FILE, dir);
				m->job = adopted;
				m->left_pid = 0;
				job_move_found(adopted, m, path);
			}
			snprintf(m->why, sizeof(m->why), "this node's migrd restarted mid-move");
		}
	} else if (!strncmp(rec, "done", 4)) {
		m->state = MIG_COMMITTED;	/* the job runs here (its holder gave it back) */
	} else {
		if (sscanf(rec, "restored %d", &restored_pid) == 1)
			proctree_signal(restored_pid, SIGKILL);	/* an incomplete copy */
		if (adopted)
			job_vanished(adopted);
		m->state = MIG_ABORTED;
	}
	log_info("%s: a move %s %s found after a restart: %s", gpid, source ? "to" : "from", peer,
		 mig_state_name(m->state));
	if (m->state == SRC_IN_DOUBT) {
		run_actions(m, ACT_SEND_QUERY);
		m->timer = loop_timer_add(MIG_QUERY_MS, 0, mig_timeout, m);
		return;
	}
	/* settled: a destination keeps its word for a source that asks */
	run_actions(m, ACT_FINISH);
}

static void settle(void *arg)
{
	char *dir = arg;
	settle_dir(dir);
	free(dir);
}

void migrate_init(void)
{
	char base[PATH_MAX + 16];
	snprintf(base, sizeof(base), "%s/migrate", migrd.conf.state_dir);
	DIR *d = opendir(base);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 4 || (strcmp(e->d_name + n - 4, ".out") && strcmp(e->d_name + n - 3, ".in")))
			continue;
		char dir[PATH_MAX + 300];
		snprintf(dir, sizeof(dir), "%s/%s", base, e->d_name);
		settle_dir(dir);
	}
	closedir(d);
}
