/* home.c: the side of a job at its home, where its mrun talks to migrd: starting it,
 * the user's descriptors, its end, signals from mrun, where it runs as moves change it,
 * its record on disk, and attaching after a restart (see jobs.h and job.h). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "admin.h"
#include "balance.h"
#include "control.h"
#include "homerec.h"
#include "job.h"
#include "jobs.h"
#include "log.h"
#include "loop.h"
#include "migrd.h"
#include "xmalloc.h"

#define START_TIMEOUT_MS 10000

static uint64_t next_seq;

static struct job *job_by_client(uint64_t client)
{
	for (struct job *j = job_list; client && j; j = j->next)
		if (j->at_home && j->client == client)
			return j;
	return NULL;
}

static void home_user_io(int fd, uint32_t events, void *arg);

static void home_watch(struct job *j, int s, int on)
{
	struct user_fd *u = &j->user[s];
	if (u->fd < 0 || !u->pollable || j->user_watching[s] == on)
		return;
	if (on)
		loop_add(u->fd, s == STREAM_IN ? EPOLLIN : EPOLLOUT, home_user_io, j);
	else
		loop_del(u->fd);
	j->user_watching[s] = on;
}

static void home_close_user(struct job *j)
{
	for (int s = 0; s < 3; s++) {
		home_watch(j, s, 0);
		user_fd_close(&j->user[s]);
	}
}

/* The home's record on disk (homerec.h), kept as the job moves. */
static void home_save(const struct job *j)
{
	struct home_record r;
	memset(&r, 0, sizeof(r));
	snprintf(r.gpid, sizeof(r.gpid), "%s", j->gpid);
	snprintf(r.node, sizeof(r.node), "%s", j->node);
	snprintf(r.cmd, sizeof(r.cmd), "%s", j->cmd);
	r.uid = j->uid;
	r.flags = j->flags;
	home_record_save(&r);
}

/* No longer this node's to keep. */
static void home_forget(struct job *j)
{
	j->at_home = 0;
	home_record_drop(j->gpid);
	for (int s = 0; s < 3; s++)
		mw_free(&j->waiting[s]);
	job_maybe_free(j);
}

void home_reply_error(struct job *j, const char *msg)
{
	if (j->client)
		control_error(j->client, -EIO, "%s", msg);
	j->client = 0;
	home_close_user(j);
	home_forget(j);
}

/* An ended job nobody attached to in that time: its record goes. */
static void home_kept_long(void *arg)
{
	struct job *j = arg;
	j->keep_timer = NULL;
	log_info("%s: ended %d s ago with status %d, nobody attached: forgotten", j->gpid,
		 HOME_KEEP_ENDED_MS / 1000, j->exit_status);
	home_forget(j);
}

/* The exit status goes to mrun after the job's last output has been written out. */
static void home_try_exit(struct job *j)
{
	if (!j->exit_known || user_fd_pending(&j->user[STREAM_OUT]) ||
	    user_fd_pending(&j->user[STREAM_ERR]))
		return;
	if (j->unattached) {	/* its end waits for an mrun, or for the next restart */
		if (!j->keep_timer)
			j->keep_timer = loop_timer_add(HOME_KEEP_ENDED_MS, 0, home_kept_long, j);
		return;
	}
	if (j->client) {
		struct mw w;
		mw_init(&w);
		mw_frame_begin(&w, MSG_CTL_EXIT);
		mw_u32(&w, (uint32_t)j->exit_status);
		mw_frame_end(&w);
		control_send(j->client, &w);
		mw_free(&w);
	}
	home_close_user(j);
	j->client = 0;
	home_forget(j);
}

static void home_pump_stdin(struct job *j)
{
	struct user_fd *u = &j->user[STREAM_IN];
	uint8_t buf[CHUNK];
	if (j->migrating || j->home_frozen) {	/* until the job has landed, or thawed */
		home_watch(j, STREAM_IN, 0);
		return;
	}
	while (!j->user_in_done && !j->exit_known && u->fd >= 0 && j->in_unacked < WINDOW) {
		size_t room = WINDOW - j->in_unacked;
		ssize_t n = read(u->fd, buf, room < sizeof(buf) ? room : sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		struct mw w;
		mw_init(&w);
		msg_data(&w, j->gpid, STREAM_IN, buf, n > 0 ? (size_t)n : 0);
		node_send(j->node, &w);
		mw_free(&w);
		if (n <= 0) {
			j->user_in_done = 1;	/* EOF passed on */
			break;
		}
		j->in_unacked += (uint32_t)n;
		if (u->pollable)
			break;	/* one read per readiness event */
	}
	home_watch(j, STREAM_IN, !j->user_in_done && !j->exit_known && j->in_unacked < WINDOW);
}

static void home_flush(struct job *j, int s)
{
	send_ack(j->node, j->gpid, s, user_fd_flush(&j->user[s]));
	home_watch(j, s, user_fd_pending(&j->user[s]) > 0);
	home_try_exit(j);
}

static void home_user_io(int fd, uint32_t events, void *arg)
{
	struct job *j = arg;
	if (fd == j->user[STREAM_IN].fd)
		home_pump_stdin(j);
	else if (fd == j->user[STREAM_OUT].fd)
		home_flush(j, STREAM_OUT);
	else if (fd == j->user[STREAM_ERR].fd)
		home_flush(j, STREAM_ERR);
}

void home_started(struct job *j, uint32_t pid)
{
	loop_timer_cancel(j->start_timer);
	j->start_timer = NULL;
	j->started = 1;
	j->pid_there = pid;
	home_save(j);
	if (j->client) {
		struct mw w;
		mw_init(&w);
		mw_frame_begin(&w, MSG_CTL_RUN_REPLY);
		mw_str(&w, j->gpid);
		mw_str(&w, j->node);
		mw_u32(&w, pid);
		mw_frame_end(&w);
		control_send(j->client, &w);
		mw_free(&w);
	}
	if (j->detached)
		j->client = 0;	/* mrun -d leaves at once; no hang-up for it */
	home_pump_stdin(j);
}

static void home_start_timeout(void *arg)
{
	struct job *j = arg;
	char msg[128];
	j->start_timer = NULL;
	snprintf(msg, sizeof(msg), "node %s did not answer in time", j->node);
	home_reply_error(j, msg);
}

/* The next job number, recorded before it is used: a migrd killed at any moment comes back
 * with a counter at least as high (written aside and renamed, never half written). */
static uint64_t take_seq(void)
{
	char path[PATH_MAX + 16], tmp[PATH_MAX + 24];
	snprintf(path, sizeof(path), "%s/jobs-counter", migrd.conf.state_dir);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	uint64_t seq = ++next_seq;
	FILE *f = fopen(tmp, "we");
	if (f) {
		fprintf(f, "%llu\n", (unsigned long long)seq);
		if (fclose(f) == 0)
			rename(tmp, path);
	}
	return seq;
}

/* ---- after a restart: the jobs this node is home to ---- */

/* A home that restarted asks the node running each of its jobs to send again what it did
 * not ack; again every 2 s until it answers (a connection not up yet drops the ask). */
static void home_resync(const char *gpid)
{
	struct job *j = job_find(gpid);
	if (!j || !j->at_home || !j->resyncing || j->exit_known)
		return;
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, MSG_JOB_RESYNC);
	mw_str(&w, j->gpid);
	mw_u8(&w, 0);
	mw_u32(&w, 0);
	mw_frame_end(&w);
	node_send(j->node, &w);
	mw_free(&w);
	/* a node that stays down: gossip's verdict decides (jobs_node_down) */
	after_node_known(j->node, gpid, 2000, home_resync, NULL);
}

/* At start-up: the jobs this node is home to, from their records. No mrun is attached:
 * their output waits for one (mrun --attach), their end too. */
static void home_records_found(void)
{
	struct home_record *recs;
	size_t n = home_records_load(&recs);
	for (size_t i = 0; i < n; i++) {
		struct home_record *r = &recs[i];
		struct job *j = job_new(r->gpid);
		snprintf(j->home, sizeof(j->home), "%s", migrd.conf.node);
		snprintf(j->node, sizeof(j->node), "%s", r->node);
		snprintf(j->cmd, sizeof(j->cmd), "%s", r->cmd);
		j->uid = r->uid;
		j->flags = r->flags;
		j->at_home = 1;
		j->started = 1;
		j->unattached = 1;
		j->resyncing = 1;
		log_info("%s: home to it again (it ran on %s): its output waits for mrun --attach",
			 r->gpid, r->node);
		after_node_known(r->node, r->gpid, 0, home_resync, NULL);
	}
	free(recs);
}

void jobs_init(void)
{
	char path[PATH_MAX + 16];
	unsigned long long seq = 0;
	snprintf(path, sizeof(path), "%s/jobs-counter", migrd.conf.state_dir);
	FILE *f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%llu", &seq) != 1)
			seq = 0;
		fclose(f);
	}
	next_seq = seq;
	home_records_found();
}

void jobs_run(uint64_t client, struct migr_job_spec *s, int fds[3])
{
	const char *node = s->node;
	char placed[MIGR_ERRMSG_MAX] = "";
	if (!node[0]) {
		node = migrd.conf.node;
		if (admin_drained()) {
			admin_refusal(node, placed, sizeof(placed));
			control_error(client, -EBUSY, "%s", placed);
			goto out;
		}
	} else if (!strcmp(node, "best")) {
		node = balance_place_job(placed, sizeof(placed));
		if (!node) {
			control_error(client, -EBUSY, "no node takes new jobs: %s", placed);
			goto out;
		}
	} else {
		const struct gossip_node *n = gossip_find(&migrd.gossip, node);
		if (!n) {
			control_error(client, -ENOENT, "%s: no such node", node);
			goto out;
		}
		/* a suspect is only a missed probe (a busy node misses some) until the
		 * suspicion times out: try it; the start times out if it is gone */
		if (n->state != MIGR_NODE_ALIVE && n->state != MIGR_NODE_SUSPECT) {
			control_error(client, -EHOSTDOWN, "%s: node is %s", node,
				      n->state == MIGR_NODE_LEFT ? "gone (it left)"
								  : migr_node_state_name(n->state));
			goto out;
		}
		/* a drained node refuses the start itself: its own state is the one that
		 * counts, whatever gossip has brought here yet */
		if (is_self(node) && admin_drained()) {
			admin_refusal(node, placed, sizeof(placed));
			control_error(client, -EBUSY, "%s", placed);
			goto out;
		}
	}
	snprintf(s->gpid, sizeof(s->gpid), "%s.%llu", migrd.conf.node,
		 (unsigned long long)take_seq());
	snprintf(s->home, sizeof(s->home), "%s", migrd.conf.node);

	if (placed[0])
		log_info("%s: placed on %s: %s", s->gpid, node, placed);

	struct job *j = job_new(s->gpid);
	snprintf(j->home, sizeof(j->home), "%s", migrd.conf.node);
	snprintf(j->node, sizeof(j->node), "%s", node);
	j->uid = s->uid;
	j->flags = s->flags;
	command_line(&s->argv, j->cmd, sizeof(j->cmd));
	j->at_home = 1;
	j->client = client;
	j->detached = !!(s->flags & MIGR_RUN_DETACHED);
	int flags[3];
	for (int i = 0; i < 3; i++)
		flags[i] = fcntl(fds[i], F_GETFL);
	for (int i = 0; i < 3; i++) {
		user_fd_open(&j->user[i], fds[i], flags[i]);
		fds[i] = -1;
	}

	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, MSG_JOB_START);
	migr_job_spec_encode(&w, s);
	mw_frame_end(&w);
	if (w.len > MIGR_FRAME_HDR + MIGR_FRAME_MAX) {
		/* the request fitted, but with the job's ids it would not: refuse it here, the
		 * node would drop the link it came on */
		home_reply_error(j, "argument list and environment too long");
		mw_free(&w);
		goto out;
	}
	if (!is_self(node))
		j->start_timer = loop_timer_add(START_TIMEOUT_MS, 0, home_start_timeout, j);
	if (node_send(node, &w) < 0) {
		char msg[128];
		snprintf(msg, sizeof(msg), "%s: node is not reachable", node);
		home_reply_error(j, msg);
	}
	mw_free(&w);
out:
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	migr_job_spec_free(s);
}

/* Sends sig to where the job runs; while it moves, the signal waits for the move to end
 * (see home_release_signals): one that reached the stopped copy could wake it (SIGCONT) or
 * end it (SIGKILL) mid-move. -1 if JOB_SIGS_HELD signals wait already. */
/* mrun --attach, or an mrun that lost its migrd and found it again: the job's output and
 * end go to these descriptors from now on. */
void jobs_attach(uint64_t client, uint32_t uid, const char *gpid, int fds[3])
{
	struct job *j = job_find(gpid);
	const char *dot = strrchr(gpid, '.');
	if (!j || !j->at_home) {
		if (dot && ((size_t)(dot - gpid) != strlen(migrd.conf.node) ||
			    strncmp(gpid, migrd.conf.node, (size_t)(dot - gpid))))
			control_error(client, -ENOENT, "%s: its home is %.*s: attach there", gpid,
				      (int)(dot - gpid), gpid);
		else
			control_error(client, -ENOENT, "%s: no such job", gpid);
		return;
	}
	if (uid != 0 && uid != j->uid) {
		control_error(client, -EPERM, "%s: not your job", gpid);
		return;
	}
	if (!j->started) {
		control_error(client, -EAGAIN, "%s: not started yet", gpid);
		return;
	}
	if (j->client) {
		control_error(client, -EBUSY, "%s: an mrun is attached to it already", gpid);
		return;
	}
	loop_timer_cancel(j->keep_timer);	/* an ended one's end goes to it now */
	j->keep_timer = NULL;
	/* a job started with -d, or whose mrun went away: what it wrote to the file so far
	 * stays there, from now on it comes here */
	home_close_user(j);
	int flags[3];
	for (int s = 0; s < 3; s++)
		flags[s] = fcntl(fds[s], F_GETFL);
	for (int s = 0; s < 3; s++) {
		user_fd_open(&j->user[s], fds[s], flags[s]);
		fds[s] = -1;
	}
	j->client = client;
	j->detached = 0;
	j->unattached = 0;
	j->user_in_done = 0;
	j->in_unacked = 0;
	log_info("%s: an mrun attached (uid %u)", gpid, uid);
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, MSG_CTL_RUN_REPLY);
	mw_str(&w, j->gpid);
	mw_str(&w, j->node);
	mw_u32(&w, j->pid_there);
	mw_frame_end(&w);
	control_send(client, &w);
	mw_free(&w);
	/* what waited for it, acked as it is written out */
	for (int s = STREAM_OUT; s <= STREAM_ERR; s++) {
		if (j->waiting[s].len)
			send_ack(j->node, gpid, s,
				 user_fd_write(&j->user[s], j->waiting[s].buf, j->waiting[s].len));
		mw_free(&j->waiting[s]);
		mw_init(&j->waiting[s]);
		home_watch(j, s, user_fd_pending(&j->user[s]) > 0);
	}
	home_pump_stdin(j);
	home_try_exit(j);
}

int home_signal(struct job *j, int sig)
{
	int waits = j->migrating || (j->home_frozen && sig != SIGKILL && sig != SIGTERM);
	if (!waits) {
		send_simple(j->node, MSG_JOB_SIGNAL, j->gpid, (uint32_t)sig);
		return 0;
	}
	if (j->nsigs_held && j->sigs_held[j->nsigs_held - 1] == sig)
		return 0;	/* the same twice in a row is once, as with the kernel's */
	if (j->nsigs_held == JOB_SIGS_HELD)
		return -1;
	j->sigs_held[j->nsigs_held++] = (uint8_t)sig;
	log_info("%s: signal %d waits for the move", j->gpid, sig);
	return 0;
}

void jobs_client_signal(uint64_t client, int sig)
{
	struct job *j = job_by_client(client);
	if (j && j->started && home_signal(j, sig) < 0)
		log_warnx("%s: signal %d from mrun dropped: the job is moving, and %d signals "
			  "wait for it already", j->gpid, sig, JOB_SIGS_HELD);
}

void jobs_client_gone(uint64_t client)
{
	struct job *j = job_by_client(client);
	if (!j)
		return;
	j->client = 0;
	/* migrd stopping closes every connection: the mruns wait and attach to the next */
	if (j->detached || migrd.leaving)
		return;
	/* mrun went away: the job gets a hang-up, as from a closed terminal */
	if (j->started && !j->exit_known) {
		log_info("%s: mrun went away, sending SIGHUP", j->gpid);
		if (home_signal(j, SIGHUP) < 0)
			log_warnx("%s: SIGHUP dropped: the job is moving, and %d signals wait for "
				  "it already", j->gpid, JOB_SIGS_HELD);
	}
	home_close_user(j);
	if (j->exit_known)
		home_forget(j);
}

/* The jobs this node is home to that ran on a node now down for good: lost. */
void home_node_gone(const char *node)
{
	for (struct job *j = job_list, *next; j; j = next) {
		next = j->next;
		/* a job being moved lives where the move says (the source resumes it when its
		 * destination goes down mid-move) */
		if (!j->at_home || strcmp(j->node, node) || j->exit_known || j->migrating)
			continue;
		log_warnx("%s: lost: node %s is down", j->gpid, node);
		if (!j->started) {
			char msg[128];
			snprintf(msg, sizeof(msg), "%s: node went down before the job started", node);
			home_reply_error(j, msg);
			continue;
		}
		if (j->client) {
			const char *msg = "migr: job lost: the node it ran on went down\n";
			user_fd_write(&j->user[STREAM_ERR], (const uint8_t *)msg, strlen(msg));
		}
		j->exit_known = 1;
		j->exit_status = 255;
		user_fd_drop(&j->user[STREAM_OUT]);
		user_fd_drop(&j->user[STREAM_ERR]);
		home_try_exit(j);
	}
}

void home_output_in(struct job *j, int s, const uint8_t *data, uint32_t n)
{
	if (j->resyncing)
		return;	/* it comes again after the runner's answer to our resync */
	if (j->unattached) {	/* kept, unacked, for an mrun to attach */
		if (j->waiting[s].len + n <= 2 * WINDOW)
			mw_bytes(&j->waiting[s], data, n);
		return;
	}
	if (n)
		send_ack(j->node, j->gpid, s, user_fd_write(&j->user[s], data, n));
	home_watch(j, s, user_fd_pending(&j->user[s]) > 0);
}

void home_stdin_acked(struct job *j, uint32_t n)
{
	j->in_unacked = n > j->in_unacked ? 0 : j->in_unacked - n;
	home_pump_stdin(j);
}

void home_job_ended(struct job *j, int status)
{
	j->exit_known = 1;
	j->exit_status = status;
	home_try_exit(j);
}

/* The runner's answer at a home that restarted. */
void home_resynced(const char *from, const char *gpid, uint8_t answer, uint32_t pid)
{
	struct job *j = job_find(gpid);
	if (!j || !j->at_home || !j->resyncing || strcmp(j->node, from))
		return;
	if (answer == 2) {
		log_warnx("%s: lost: %s no longer runs it", gpid, from);
		j->exit_known = 1;
		j->exit_status = 255;
		home_try_exit(j);
		return;
	}
	j->resyncing = 0;
	j->pid_there = pid;
	for (int s = STREAM_OUT; s <= STREAM_ERR; s++)
		j->waiting[s].len = 0;	/* all of it comes again */
}

/* ---- moves, as the home sees them (migrate.c) ---- */

/* The move is over, one way or the other: the signals sent meanwhile go where it runs. */
static void home_release_signals(struct job *j)
{
	for (unsigned i = 0; i < j->nsigs_held; i++)
		send_simple(j->node, MSG_JOB_SIGNAL, j->gpid, j->sigs_held[i]);
	j->nsigs_held = 0;
}

void home_move_start(struct job *j, const char *to, const char *origin, uint32_t reqid)
{
	j->migrating = 1;	/* stdin waits until the job has landed */
	snprintf(j->move_origin, sizeof(j->move_origin), "%s", origin);
	j->move_reqid = reqid;
	snprintf(j->moving_from, sizeof(j->moving_from), "%s", j->node);
	snprintf(j->moving_to, sizeof(j->moving_to), "%s", to);
}

void home_move_restored(struct job *j, const char *where)
{
	if (!j->migrating || strcmp(where, j->moving_to) || !strcmp(j->node, where))
		return;
	snprintf(j->node, sizeof(j->node), "%s", where);	/* its output comes from there */
	j->moves++;
	home_save(j);
}

void home_move_done(struct job *j)
{
	if (!j->migrating)
		return;
	if (strcmp(j->node, j->moving_to)) {	/* its restored message went astray */
		snprintf(j->node, sizeof(j->node), "%s", j->moving_to);
		j->moves++;
	}
	j->migrating = 0;
	j->home_frozen = 0;	/* a thaw: it runs again */
	home_save(j);
	home_release_signals(j);
	home_pump_stdin(j);
}

void home_move_aborted(struct job *j)
{
	if (!j->migrating)
		return;
	if (strcmp(j->node, j->moving_from) && j->moves)
		j->moves--;
	snprintf(j->node, sizeof(j->node), "%s", j->moving_from);
	j->migrating = 0;
	home_save(j);
	if (j->home_frozen)
		return;	/* a thaw failed: it stays frozen, its signals and stdin wait */
	home_release_signals(j);
	home_pump_stdin(j);
}

void home_move_frozen(struct job *j)
{
	if (!j->migrating)
		return;
	j->migrating = 0;
	j->home_frozen = 1;
	log_info("%s: frozen on %s", j->gpid, j->node);
}
