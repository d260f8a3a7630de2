/* jobs.c: the job table, the runner's and the home's side of a job (see jobs.h). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "admin.h"
#include "control.h"
#include "freeze.h"
#include "job.h"
#include "balance.h"
#include "hold.h"
#include "homerec.h"
#include "jobs.h"
#include "launch.h"
#include "log.h"
#include "loop.h"
#include "migrd.h"
#include "netlink.h"
#include "movable.h"
#include "peers.h"
#include "proctree.h"
#include "jobio.h"
#include "xmalloc.h"

#define CHUNK (64 * 1024)
#define START_TIMEOUT_MS 10000
#define PS_TIMEOUT_MS 2000
#define KILL_TIMEOUT_MS 5000
#define PS_JOBS_MAX 100000	/* jobs one mps gathers; beyond, the rest are left out */
#define MIN_FREE_KB (64 * 1024)	/* below this a node takes no new job */

#define SAMPLE_BUDGET 64	/* jobs whose CPU and memory are read per period */

static struct job *jobs;
static unsigned sample_round = 1;
static int gc_scheduled;
static uint64_t next_seq;
static uint32_t next_req;

struct pending {
	uint32_t id;
	uint64_t client;
	int kind;		/* MSG_PS_REQ or MSG_KILL_REQ */
	char (*nodes)[MIGR_NAME_MAX + 1];	/* ps: asked, not yet answered ("" once answered) */
	uint32_t nnodes, left;
	struct migr_job *found;
	size_t nfound;
	struct loop_timer *timer;
	struct pending *next;
};
static struct pending *pendings;

/* ---- routing ---- */

int is_self(const char *node)
{
	return !strcmp(node, migrd.conf.node);
}

/* Sends a frame to a node by name; to this node it is delivered at once. Returns -1 if
 * the node is unknown or dead. */
int node_send(const char *node, const struct mw *frame)
{
	if (is_self(node)) {
		struct migr_frame_hdr h;
		migr_hdr_decode(frame->buf, &h);
		jobs_peer_message(node, h.type, frame->buf + MIGR_FRAME_HDR, h.len);
		return 0;
	}
	/* A node gossip calls dead may only have been slow to answer its probes: it comes
	 * back with a new incarnation. What is sent to it meanwhile (a move's result, news
	 * for a job's home) is still tried: dropped, it would leave a request or a record
	 * waiting for good; if the node is really gone, the connection fails instead. */
	const struct gossip_node *n = gossip_find(&migrd.gossip, node);
	if (!n || n->state == MIGR_NODE_LEFT)
		return -1;
	peers_send(gossip_addr(n), n->port, frame);
	return 0;
}

int node_down(const char *node)
{
	if (is_self(node))
		return 0;
	const struct gossip_node *n = gossip_find(&migrd.gossip, node);
	return !n || n->state == MIGR_NODE_DEAD || n->state == MIGR_NODE_LEFT;
}

void node_reply(const char *node, uint8_t type, uint32_t id, int code, const char *text)
{
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, type);
	mw_u32(&w, id);
	mw_u32(&w, (uint32_t)code);
	mw_str(&w, code < 0 ? text : "");
	mw_frame_end(&w);
	node_send(node, &w);
	mw_free(&w);
}

struct job *job_find(const char *gpid)
{
	for (struct job *j = jobs; j; j = j->next)
		if (!strcmp(j->gpid, gpid) && (j->here || j->at_home))
			return j;
	return NULL;
}

static struct job *job_by_client(uint64_t client)
{
	for (struct job *j = jobs; client && j; j = j->next)
		if (j->at_home && j->client == client)
			return j;
	return NULL;
}

struct job *job_new(const char *gpid)
{
	struct job *j = xcalloc(1, sizeof(*j));
	snprintf(j->gpid, sizeof(j->gpid), "%s", gpid);
	for (int i = 0; i < 3; i++) {
		j->pipe[i] = -1;
		j->user[i].fd = -1;
	}
	j->start_fd = -1;
	mw_init(&j->inq);
	for (int s = 0; s < 3; s++) {
		mw_init(&j->sent[s]);
		mw_init(&j->waiting[s]);
	}
	j->next = jobs;
	jobs = j;
	return j;
}

/* Frees the jobs neither side needs any more. Runs from the loop, never from inside a
 * handler: messages to this node are delivered in-process, so a job may end while a
 * caller further up the stack still holds it. */
static void job_gc(void *arg)
{
	gc_scheduled = 0;
	for (struct job **jp = &jobs; *jp;) {
		struct job *j = *jp;
		if (j->here || j->at_home) {
			jp = &j->next;
			continue;
		}
		*jp = j->next;
		loop_timer_cancel(j->start_timer);
		loop_timer_cancel(j->keep_timer);
		mw_free(&j->inq);
		for (int s = 0; s < 3; s++) {
			mw_free(&j->sent[s]);
			mw_free(&j->waiting[s]);
		}
		free(j->held);
		free(j);
	}
}

void job_maybe_free(struct job *j)
{
	if (j->here || j->at_home || gc_scheduled)
		return;
	gc_scheduled = 1;
	loop_timer_add(0, 0, job_gc, NULL);
}

/* ---- message building ---- */

static void msg_data(struct mw *w, const char *gpid, int stream, const uint8_t *p, size_t n)
{
	mw_frame_begin(w, MSG_JOB_DATA);
	mw_str(w, gpid);
	mw_u8(w, (uint8_t)stream);
	mw_u32(w, (uint32_t)n);
	mw_bytes(w, p, n);
	mw_frame_end(w);
}

static void send_ack(const char *to, const char *gpid, int stream, size_t n)
{
	struct mw w;
	if (!n)
		return;
	mw_init(&w);
	mw_frame_begin(&w, MSG_JOB_ACK);
	mw_str(&w, gpid);
	mw_u8(&w, (uint8_t)stream);
	mw_u32(&w, (uint32_t)n);
	mw_frame_end(&w);
	node_send(to, &w);
	mw_free(&w);
}

void send_simple(const char *to, uint8_t type, const char *gpid, uint32_t value)
{
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, type);
	mw_str(&w, gpid);
	mw_u32(&w, value);
	mw_frame_end(&w);
	node_send(to, &w);
	mw_free(&w);
}

/* ---- runner side ---- */

static void runner_io(int fd, uint32_t events, void *arg);
static void runner_orphan(struct job *j);

void runner_watch(struct job *j, int s, int on)
{
	if (j->pipe[s] < 0 || j->watching[s] == on || (on && j->frozen))
		return;
	if (on)
		loop_add(j->pipe[s], s == STREAM_IN ? EPOLLOUT : EPOLLIN, runner_io, j);
	else
		loop_del(j->pipe[s]);
	j->watching[s] = on;
}

void runner_close(struct job *j, int s)
{
	if (j->pipe[s] < 0)
		return;
	runner_watch(j, s, 0);
	close(j->pipe[s]);
	j->pipe[s] = -1;
	/* its copy too: a job's stdin ends when ours does */
	if (j->holder)
		holder_close_stream(j->holder, s);
}

/* No job here any more: its holder ends once its processes have. */
static void runner_release(struct job *j)
{
	holder_release(j->holder);
	j->holder = NULL;
}

/* What a migrd that starts again needs to take the job on (hold.h): sent to its holder
 * whenever it changes. */
#define HOLD_RECORD_VERSION 1
static void runner_record(struct job *j)
{
	if (!j->holder)
		return;
	struct mw w;
	mw_init(&w);
	mw_u8(&w, HOLD_RECORD_VERSION);
	mw_str(&w, j->gpid);
	mw_str(&w, j->home);
	mw_str(&w, j->cmd);
	mw_u32(&w, j->uid);
	mw_u32(&w, j->flags);
	mw_u32(&w, j->moves);
	mw_u32(&w, (uint32_t)j->init_pid);
	holder_record(j->holder, &w);
	mw_free(&w);
}

/* The job's last output has gone home: now its exit status may follow. */
void runner_check_done(struct job *j)
{
	if (!j->here || !j->exited || j->pipe[STREAM_OUT] >= 0 || j->pipe[STREAM_ERR] >= 0)
		return;
	runner_close(j, STREAM_IN);
	log_info("%s: exited with status %d", j->gpid, j->status);
	j->here = 0;
	runner_release(j);
	send_simple(j->home, MSG_JOB_EXIT, j->gpid, (uint32_t)j->status);
	job_maybe_free(j);
}

static void runner_read(struct job *j, int s)
{
	uint8_t buf[CHUNK];
	size_t room = j->orphan ? sizeof(buf) : WINDOW - j->unacked[s];
	ssize_t n = read(j->pipe[s], buf, room < sizeof(buf) ? room : sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (j->orphan) {	/* nobody to send it to: the job must not block on a full pipe */
		if (n <= 0) {
			runner_close(j, s);
			runner_check_done(j);
		}
		return;
	}
	struct mw w;
	mw_init(&w);
	msg_data(&w, j->gpid, s, buf, n > 0 ? (size_t)n : 0);
	if (n > 0) {
		j->unacked[s] += (uint32_t)n;
		mw_bytes(&j->sent[s], buf, (size_t)n);
	} else {
		runner_close(j, s);	/* EOF (or error): tell home, with an empty record */
	}
	node_send(j->home, &w);
	mw_free(&w);
	if (j->pipe[s] >= 0 && j->unacked[s] >= WINDOW)
		runner_watch(j, s, 0);	/* until home acks */
	if (n <= 0)
		runner_check_done(j);
}

static void runner_drain(struct job *j)
{
	uint8_t buf[CHUNK];
	for (int s = STREAM_OUT; s <= STREAM_ERR; s++) {
		ssize_t n;
		while (j->pipe[s] >= 0 && (n = read(j->pipe[s], buf, sizeof(buf))) > 0) {
			struct mw w;
			mw_init(&w);
			msg_data(&w, j->gpid, s, buf, (size_t)n);
			j->unacked[s] += (uint32_t)n;
			mw_bytes(&j->sent[s], buf, (size_t)n);
			node_send(j->home, &w);
			mw_free(&w);
		}
	}
}

static void runner_write_stdin(struct job *j)
{
	size_t done = 0;
	while (done < j->inq.len && j->pipe[STREAM_IN] >= 0) {
		ssize_t n = write(j->pipe[STREAM_IN], j->inq.buf + done, j->inq.len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {	/* the job closed its stdin: the rest is dropped */
			j->in_broken = 1;
			runner_close(j, STREAM_IN);
			done = j->inq.len;
			break;
		}
		done += (size_t)n;
	}
	memmove(j->inq.buf, j->inq.buf + done, j->inq.len - done);
	j->inq.len -= done;
	send_ack(j->home, j->gpid, STREAM_IN, done);
	if (j->inq.len == 0 && j->in_eof)
		runner_close(j, STREAM_IN);
	else
		runner_watch(j, STREAM_IN, j->inq.len > 0);
}

static void runner_io(int fd, uint32_t events, void *arg)
{
	struct job *j = arg;
	if (fd == j->pipe[STREAM_IN])
		runner_write_stdin(j);
	else if (fd == j->pipe[STREAM_OUT])
		runner_read(j, STREAM_OUT);
	else if (fd == j->pipe[STREAM_ERR])
		runner_read(j, STREAM_ERR);
}

/* The command line as logs and mps show it: control characters become '?', so a job's
 * arguments cannot forge log lines or move a terminal's cursor. */
void command_line(const struct migr_strv *argv, char *out, size_t outlen)
{
	char **list = migr_strv_list(argv);
	out[0] = '\0';
	for (uint32_t i = 0; i < argv->count; i++) {
		size_t len = strlen(out);
		snprintf(out + len, outlen - len, "%s%s", i ? " " : "", list[i]);
	}
	free(list);
	for (char *c = out; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
}

static void send_failed(const char *home, const char *gpid, int code, const char *msg)
{
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, MSG_JOB_FAILED);
	mw_str(&w, gpid);
	mw_u32(&w, (uint32_t)code);
	char buf[MIGR_ERRMSG_MAX + 1];
	snprintf(buf, sizeof(buf), "%s", msg);
	mw_str(&w, buf);
	mw_frame_end(&w);
	node_send(home, &w);
	mw_free(&w);
}

/* The program has run (EOF) or said why it could not (a line; its init then exits). */
static void runner_start_status(int fd, uint32_t events, void *arg)
{
	struct job *j = arg;
	char msg[600];
	ssize_t n = read(fd, msg, sizeof(msg) - 1);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	loop_del(fd);
	close(fd);
	j->start_fd = -1;
	if (n > 0) {
		msg[n] = '\0';
		char err[700];
		snprintf(err, sizeof(err), "cannot start on %s: %s", migrd.conf.node, msg);
		log_warnx("%s: %s", j->gpid, err);
		j->start_failed = 1;
		send_failed(j->home, j->gpid, -EIO, err);
		return;
	}
	log_info("%s: started for uid %u (home %s), init pid %d: %s", j->gpid, j->uid, j->home,
		 (int)j->init_pid, j->cmd);
	job_sample(j, loop_now());
	runner_watch(j, STREAM_OUT, 1);
	runner_watch(j, STREAM_ERR, 1);
	send_simple(j->home, MSG_JOB_STARTED, j->gpid, (uint32_t)j->init_pid);
}

static unsigned jobs_of_user_here(uint32_t uid)
{
	unsigned n = 0;
	for (struct job *j = jobs; j; j = j->next)
		n += j->here && !j->exited && j->uid == uid;
	return n;
}

/* In the job's holder, before it becomes migr-hold: migr-init, its child. */
struct launch_args {
	const struct migr_job_spec *spec;
	const int *fds;
};

static pid_t launch_in_holder(void *arg, int *status_fd, char *why, size_t whylen)
{
	struct launch_args *la = arg;
	pid_t pid;
	int r = launch_job(la->spec, la->fds, migrd.conf.cgroup, &pid, status_fd, why, whylen);
	return r < 0 ? r : pid;
}

/* MSG_JOB_START: start the job here, or say why not. */
static void runner_start(struct migr_job_spec *s)
{
	char err[600];
	int ours[3] = { -1, -1, -1 }, theirs[3] = { -1, -1, -1 }, p[2];

	if (job_find(s->gpid) && job_find(s->gpid)->here) {
		send_failed(s->home, s->gpid, -EEXIST, "job already runs here");
		return;
	}
	if (s->uid == 0 && !migrd.conf.peer_root_jobs && !is_self(s->home)) {
		snprintf(err, sizeof(err), "node %s runs no root jobs from other nodes "
			 "(peer-root-jobs no)", migrd.conf.node);
		send_failed(s->home, s->gpid, -EPERM, err);
		return;
	}
	if (migrd.conf.max_user_jobs && s->uid != 0 &&
	    jobs_of_user_here(s->uid) >= migrd.conf.max_user_jobs) {
		snprintf(err, sizeof(err), "node %s: uid %u already runs %u jobs here "
			 "(max-user-jobs)", migrd.conf.node, s->uid, migrd.conf.max_user_jobs);
		send_failed(s->home, s->gpid, -EAGAIN, err);
		return;
	}
	if (admin_drained()) {
		admin_refusal(migrd.conf.node, err, sizeof(err));
		send_failed(s->home, s->gpid, -EBUSY, err);
		return;
	}
	if (migrd.mem_free_kb && migrd.mem_free_kb < MIN_FREE_KB) {
		snprintf(err, sizeof(err), "node %s is full: %llu kB of memory free",
			 migrd.conf.node, (unsigned long long)migrd.mem_free_kb);
		send_failed(s->home, s->gpid, -ENOSPC, err);
		return;
	}
	for (int i = 0; i < 3; i++) {
		if (pipe2(p, O_CLOEXEC) < 0) {
			snprintf(err, sizeof(err), "cannot start on %s: pipe: %s", migrd.conf.node,
				 strerror(errno));
			goto fail;
		}
		ours[i] = i == STREAM_IN ? p[1] : p[0];
		theirs[i] = i == STREAM_IN ? p[0] : p[1];
		fcntl(ours[i], F_SETFL, O_NONBLOCK);
	}
	pid_t pid;
	int status_fd;
	char why[MIGR_ERRMSG_MAX + 1];
	struct launch_args la = { s, theirs };
	struct holder *holder = holder_spawn(s->gpid, ours, 0, launch_in_holder, &la, &pid,
					     &status_fd, why, sizeof(why));
	if (!holder) {
		snprintf(err, sizeof(err), "cannot start on %s: %s", migrd.conf.node, why);
		goto fail;
	}
	for (int i = 0; i < 3; i++)
		close(theirs[i]);
	balance_job_arrived();	/* counted before the load shows it, so a burst spreads */

	struct job *j = job_find(s->gpid);
	if (!j)
		j = job_new(s->gpid);
	snprintf(j->home, sizeof(j->home), "%s", s->home);
	snprintf(j->node, sizeof(j->node), "%s", migrd.conf.node);
	j->uid = s->uid;
	j->flags = s->flags;
	command_line(&s->argv, j->cmd, sizeof(j->cmd));
	j->here = 1;
	j->here_since = loop_now();
	j->init_pid = pid;
	j->holder = holder;
	j->cpu_at = loop_now();
	for (int i = 0; i < 3; i++)
		j->pipe[i] = ours[i];
	runner_record(j);
	j->start_fd = status_fd;
	if (status_fd >= 0)
		loop_add(status_fd, EPOLLIN, runner_start_status, j);
	return;
fail:
	for (int i = 0; i < 3; i++) {
		if (ours[i] >= 0)
			close(ours[i]);
		if (theirs[i] >= 0)
			close(theirs[i]);
	}
	log_warnx("%s: %s", s->gpid, err);
	send_failed(s->home, s->gpid, -EIO, err);
}

void jobs_reaped(pid_t pid, int status)
{
	if (migrate_reaped(pid, status) || freeze_reaped(pid, status))
		return;
	for (struct job *j = jobs; j; j = j->next) {
		if (!j->here || j->init_pid != pid || j->exited)
			continue;
		if (j->on_disk) {	/* frozen: its processes ended on purpose */
			j->init_pid = 0;
			return;
		}
		if (j->start_fd >= 0)	/* its status may wait in the pipe still */
			runner_start_status(j->start_fd, EPOLLIN, j);
		j->exited = 1;
		/* one that failed to start was counted as started: take it off as well; one
		 * that a move took away counts as gone when the move ends */
		if (!j->mig)
			balance_job_ended(j->start_failed || j->cpu_pct >= 1.0);
		if (j->start_failed) {	/* never ran: home knows already */
			for (int s = 0; s < 3; s++)
				runner_close(j, s);
			j->here = 0;
			runner_release(j);
			job_maybe_free(j);
			return;
		}
		j->status = WIFEXITED(status) ? WEXITSTATUS(status)
			    : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
						  : 255;
		if (!j->mig)	/* a move decides what this end means */
			runner_check_done(j);
		return;
	}
}

/* ---- home side ---- */

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

static void home_reply_error(struct job *j, const char *msg)
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

static void home_started(struct job *j, uint32_t pid)
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

/* A home that restarted asks the node running each of its jobs to send again what it did
 * not ack, once gossip knows that node (what goes to a node not known yet is dropped). */
struct resync {
	char gpid[MIGR_GPID_MAX + 1];
	uint64_t since;
};

static void home_resync(void *arg)
{
	struct resync *rs = arg;
	struct job *j = job_find(rs->gpid);
	if (!j || !j->at_home || !j->unattached || j->resynced || j->exit_known) {
		free(rs);
		return;
	}
	const struct gossip_node *n = gossip_find(&migrd.gossip, j->node);
	if (!is_self(j->node) && (!n || n->state != MIGR_NODE_ALIVE)) {
		if (loop_now() - rs->since < 2 * (uint64_t)migrd.conf.dead_timeout_ms)
			loop_timer_add(100, 0, home_resync, rs);
		else	/* it is down: gossip's verdict decides (jobs_node_down) */
			free(rs);
		return;
	}
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, MSG_JOB_RESYNC);
	mw_str(&w, j->gpid);
	mw_u8(&w, 0);
	mw_u32(&w, 0);
	mw_frame_end(&w);
	node_send(j->node, &w);
	mw_free(&w);
	/* asked again if no answer came (a connection that was not up yet) */
	rs->since = rs->since ? rs->since : loop_now();
	loop_timer_add(2000, 0, home_resync, rs);
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
		log_info("%s: home to it again (it ran on %s): its output waits for mrun --attach",
			 r->gpid, r->node);
		struct resync *rs = xcalloc(1, sizeof(*rs));
		snprintf(rs->gpid, sizeof(rs->gpid), "%s", r->gpid);
		rs->since = loop_now();
		loop_timer_add(0, 0, home_resync, rs);
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

static int home_signal(struct job *j, int sig)
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
	if (j->detached)
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

/* The home of a job running here is down: its mrun and its output file are gone with it.
 * The job gets a hang-up, as from a terminal that went away, and what it still writes is
 * dropped so that it never blocks on a full pipe. */
static void runner_orphan(struct job *j)
{
	if (j->on_disk) {	/* nobody could thaw it, or hear from it */
		log_warnx("%s: its home %s is down: the frozen job ends", j->gpid, j->home);
		freeze_end(j, SIGHUP);
		return;
	}
	log_warnx("%s: its home %s is down: hang-up, its output is dropped", j->gpid, j->home);
	j->orphan = 1;
	runner_close(j, STREAM_IN);	/* EOF on its stdin */
	for (int s = STREAM_OUT; s <= STREAM_ERR; s++)
		if (j->pipe[s] >= 0)
			runner_watch(j, s, 1);
	kill(j->init_pid, SIGHUP);
}

/* What a node's death means for the jobs of and on it, once it is sure. */
static void node_gone(const char *node)
{
	for (struct job *j = jobs; j; j = j->next)
		if (j->here && !j->exited && !j->orphan && !j->mig && !strcmp(j->home, node))
			runner_orphan(j);
	for (struct job *j = jobs, *next; j; j = next) {
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

static void node_gone_check(void *arg)
{
	char *node = arg;
	if (node_down(node))
		node_gone(node);
	else
		log_info("%s came back within the grace: its jobs and the jobs it is home to go on",
			 node);
	free(node);
}

void jobs_node_down(const char *node)
{
	migrate_node_down(node);	/* a move's own timers and queries settle it */
	const struct gossip_node *n = gossip_find(&migrd.gossip, node);
	if (n && n->state == MIGR_NODE_LEFT) {
		node_gone(node);
		return;
	}
	/* A node declared dead may only have been slow to answer (a busy machine, a short
	 * cut of its link): its jobs are declared lost, and the jobs it is home to hung up,
	 * only if it is still dead a dead-timeout later. */
	loop_timer_add(migrd.conf.dead_timeout_ms, 0, node_gone_check, xstrdup(node));
}

/* ---- mps: each node reports the jobs running on it ---- */

struct tree_usage {
	uint64_t cpu_ns, rss_kb;
	int count;
};

/* CPU time of the children a process has reaped (they are gone from the tree). */
static uint64_t reaped_children_ns(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long cut = 0, cst = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	char *p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %llu %llu",
			 &cut, &cst) != 2)
		return 0;
	long hz = sysconf(_SC_CLK_TCK);
	return (cut + cst) * (1000000000ull / (uint64_t)(hz > 0 ? hz : 100));
}

/* The job's processes' CPU and memory; CPU from taskstats (netlink.c). */
static void tree_usage(pid_t init, struct tree_usage *u)
{
	pid_t *pids = xmalloc(PROCTREE_MAX * sizeof(*pids));
	size_t n = proctree_list(init, pids, PROCTREE_MAX);
	for (size_t i = 0; i < n; i++) {
		struct task_usage tu;
		if (task_usage(pids[i], &tu) == 0) {
			u->cpu_ns += tu.cpu_ns;
			u->rss_kb += tu.rss_kb;
		}
		u->cpu_ns += reaped_children_ns(pids[i]);
	}
	u->count = (int)n;
	free(pids);
}

/* The user's program: migr-init's first child. */
static pid_t program_pid(pid_t init)
{
	char path[96];
	int child = 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)init, (int)init);
	FILE *f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%d", &child) != 1)
			child = 0;
		fclose(f);
	}
	return child > 0 ? child : init;
}

uint64_t job_rss_kb(const struct job *j)
{
	if (j->on_disk)
		return j->rss_kb;	/* as it was when frozen */
	struct tree_usage u = { 0 };
	tree_usage(j->init_pid, &u);
	return u.rss_kb;
}

/* What the job holds that cannot move, kept for mps and the balancer; the balancer's
 * skipping it is logged once, when it starts. */
void job_check_movable(struct job *j)
{
	struct holds h;
	char why[MIGR_WHY_MAX + 1] = "";
	if (movable_inspect(j->init_pid, &h) == 0)
		movable_reasons(&h, why, sizeof(why));
	why[strcspn(why, "\n")] = '\0';	/* the first reason is enough here */
	if (why[0] && strcmp(why, j->cantmove))
		log_info("%s: the balancer leaves it here: it %s", j->gpid, why);
	snprintf(j->cantmove, sizeof(j->cantmove), "%s", why);
}

/* One job's CPU and memory, kept for mps and the balancer. The first sample after a start
 * or a move only sets the base for %CPU. */
void job_sample(struct job *j, uint64_t now)
{
	struct tree_usage u = { 0 };
	tree_usage(j->init_pid, &u);
	if (j->cpu_ns && now > j->cpu_at && u.cpu_ns >= j->cpu_ns)
		j->cpu_pct = (double)(u.cpu_ns - j->cpu_ns) / 1e6 / (double)(now - j->cpu_at) * 100;
	j->cpu_ns = u.cpu_ns;
	j->cpu_at = now;
	j->rss_kb = u.rss_kb;
	j->sampled = sample_round;
	job_check_movable(j);
}

/* Once a period: the jobs least lately sampled, at most SAMPLE_BUDGET of them, so the
 * loop's cost per period stays bounded however many jobs a node runs. */
void jobs_sample(void)
{
	uint64_t now = loop_now();
	unsigned done = 0;
	for (int pass = 0; pass < 2 && done < SAMPLE_BUDGET; pass++) {
		for (struct job *j = jobs; j && done < SAMPLE_BUDGET; j = j->next) {
			if (!j->here || j->exited || j->start_fd >= 0 || j->sampled == sample_round ||
			    j->on_disk || j->frozen)
				continue;
			job_sample(j, now);
			done++;
		}
		if (done < SAMPLE_BUDGET)
			sample_round++;	/* every job had its turn: the next round starts */
	}
}

size_t jobs_balance_candidates(struct bal_job **out, uint64_t now)
{
	size_t n = 0;
	for (struct job *j = jobs; j; j = j->next)
		n += j->here && !j->exited;
	struct bal_job *b = xcalloc(n + 1, sizeof(*b));
	n = 0;
	for (struct job *j = jobs; j; j = j->next) {
		if (!j->here || j->exited || j->on_disk)
			continue;	/* a frozen job weighs on no CPU, and moves when thawed */
		b[n].gpid = j->gpid;
		b[n].cpu_pct = j->cpu_pct;
		b[n].rss_kb = j->rss_kb;
		b[n].resident_ms = now - j->here_since;
		b[n].moves = j->moves;
		b[n].movable = !(j->flags & MIGR_RUN_NO_MIGRATE) && !j->mig && !j->frozen &&
			       j->start_fd < 0 && !j->cantmove[0];
		n++;
	}
	*out = b;
	return n;
}

size_t jobs_frozen_candidates(struct bal_job **out, uint64_t now)
{
	size_t n = 0;
	for (struct job *j = jobs; j; j = j->next)
		n += j->here && j->on_disk;
	struct bal_job *b = xcalloc(n + 1, sizeof(*b));
	n = 0;
	for (struct job *j = jobs; j; j = j->next) {
		if (!j->here || !j->on_disk)
			continue;
		b[n].gpid = j->gpid;
		b[n].rss_kb = j->rss_kb;
		b[n].resident_ms = now - j->here_since;
		b[n].moves = j->moves;
		b[n].movable = !(j->flags & MIGR_RUN_NO_MIGRATE) && !j->mig && !j->frozen;
		n++;
	}
	*out = b;
	return n;
}

uint32_t jobs_running_here(void)
{
	uint32_t n = 0;
	for (struct job *j = jobs; j; j = j->next)
		n += j->here && !j->exited;
	return n;
}

/* The jobs running here, as mps shows them: CPU and memory as last sampled. */
static size_t local_jobs(struct migr_job **out)
{
	size_t n = 0;
	struct migr_job *list = xcalloc(jobs_running_here() + 1, sizeof(*list));
	for (struct job *j = jobs; j; j = j->next) {
		if (!j->here || j->exited || j->frozen == 2)
			continue;
		struct migr_job *m = &list[n++];
		snprintf(m->gpid, sizeof(m->gpid), "%s", j->gpid);
		snprintf(m->home, sizeof(m->home), "%s", j->home);
		snprintf(m->node, sizeof(m->node), "%s", j->node);
		pid_t prog = j->on_disk ? 0 : program_pid(j->init_pid);
		m->pid = (uint32_t)prog;
		m->uid = j->uid;
		m->state = j->on_disk ? MIGR_JOB_FROZEN : proctree_state(prog);
		m->cpu = j->cpu_pct;
		m->cpu_ms = j->cpu_ns / 1000000;
		m->rss_kb = j->rss_kb;
		m->moves = j->moves;
		m->flags = j->flags;
		snprintf(m->cmd, sizeof(m->cmd), "%s", j->cmd);
		snprintf(m->why, sizeof(m->why), "%s", j->cantmove);
	}
	*out = list;
	return n;
}

static struct pending *pending_find(uint32_t id)
{
	for (struct pending *p = pendings; p; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

static void pending_free(struct pending *p)
{
	for (struct pending **pp = &pendings; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	loop_timer_cancel(p->timer);
	free(p->nodes);
	free(p->found);
	free(p);
}

/* To mps: pages of jobs, the last one with the nodes that did not answer. */
static void ps_finish(struct pending *p)
{
	size_t at = 0;
	do {
		size_t k = p->nfound - at < MIGR_JOBS_MAX ? p->nfound - at : MIGR_JOBS_MAX;
		int more = at + k < p->nfound;
		struct mw w;
		mw_init(&w);
		mw_frame_begin(&w, MSG_CTL_PS_REPLY);
		mw_u8(&w, (uint8_t)more);
		migr_jobs_encode(&w, p->found + at, k);
		if (!more) {
			mw_u32(&w, p->left);
			for (uint32_t i = 0; i < p->nnodes; i++)
				if (p->nodes[i][0])
					mw_str(&w, p->nodes[i]);
		}
		mw_frame_end(&w);
		control_send(p->client, &w);
		mw_free(&w);
		at += k;
	} while (at < p->nfound);
	p->timer = NULL;
	pending_free(p);
}

static void pending_timeout(void *arg)
{
	struct pending *p = pending_find((uint32_t)(uintptr_t)arg);
	if (!p)
		return;
	p->timer = NULL;
	if (p->kind == MSG_PS_REQ) {
		ps_finish(p);
	} else {
		control_error(p->client, -ETIMEDOUT, "the job's home node did not answer in time");
		pending_free(p);
	}
}

static struct pending *pending_new(uint64_t client, int kind, unsigned timeout_ms)
{
	struct pending *p = xcalloc(1, sizeof(*p));
	p->id = ++next_req;
	p->client = client;
	p->kind = kind;
	p->next = pendings;
	pendings = p;
	p->timer = loop_timer_add(timeout_ms, 0, pending_timeout, (void *)(uintptr_t)p->id);
	return p;
}

void jobs_ps(uint64_t client, const char *node)
{
	struct gossip *g = &migrd.gossip;
	struct pending *p = pending_new(client, MSG_PS_REQ, PS_TIMEOUT_MS);
	uint32_t id = p->id;
	p->nodes = xcalloc(g->count, sizeof(*p->nodes));
	for (uint32_t i = 0; i < g->count; i++) {
		const struct gossip_node *n = &g->nodes[i];
		if (n->state != MIGR_NODE_ALIVE && n->state != MIGR_NODE_SUSPECT && i != 0)
			continue;
		if (node[0] && strcmp(node, gossip_name(n)))
			continue;
		snprintf(p->nodes[p->nnodes++], sizeof(p->nodes[0]), "%s", gossip_name(n));
	}
	if (node[0] && p->nnodes == 0) {
		control_error(client, -ENOENT, "%s: no such live node", node);
		pending_free(p);
		return;
	}
	p->left = p->nnodes;
	/* ask them all at once; our own answer arrives before this loop ends */
	for (uint32_t i = 0, n = p->nnodes; i < n; i++) {
		char name[MIGR_NAME_MAX + 1];
		snprintf(name, sizeof(name), "%s", p->nodes[i]);
		struct mw w;
		mw_init(&w);
		mw_frame_begin(&w, MSG_PS_REQ);
		mw_u32(&w, id);
		mw_frame_end(&w);
		node_send(name, &w);
		mw_free(&w);
		if (!pending_find(id))
			return;	/* every node answered already */
	}
}

/* A page of a node's jobs; the node has answered when its last page is in. */
static void ps_reply_in(const char *from, uint32_t id, int more, struct migr_job *found,
			size_t n)
{
	struct pending *p = pending_find(id);
	if (!p || p->kind != MSG_PS_REQ) {
		free(found);
		return;
	}
	for (uint32_t i = 0; i < p->nnodes; i++) {
		if (strcmp(p->nodes[i], from))
			continue;
		if (p->nfound + n <= PS_JOBS_MAX) {
			p->found = xrealloc(p->found, (p->nfound + n + 1) * sizeof(*p->found));
			memcpy(p->found + p->nfound, found, n * sizeof(*found));
			p->nfound += n;
		}
		if (!more) {
			p->nodes[i][0] = '\0';
			p->left--;
		}
		break;
	}
	free(found);
	if (p->left == 0)
		ps_finish(p);
}

/* ---- mkill: routed through the job's home, which knows where it runs ---- */

/* At the home node: checks the owner, passes the signal on. 0 or -errno with msg. */
static int kill_at_home(uint32_t uid, const char *gpid, int sig, char *msg, size_t len)
{
	struct job *j = job_find(gpid);
	if (!j || !j->at_home || j->exit_known) {
		snprintf(msg, len, "%s: no such job", gpid);
		return -ESRCH;
	}
	if (uid != 0 && uid != j->uid) {
		snprintf(msg, len, "%s: not your job (it belongs to uid %u)", gpid, j->uid);
		return -EPERM;
	}
	if (!j->started) {
		snprintf(msg, len, "%s: not started yet", gpid);
		return -EAGAIN;
	}
	if (home_signal(j, sig) < 0) {
		snprintf(msg, len, "%s: is moving, and %d signals already wait for it", gpid,
			 JOB_SIGS_HELD);
		return -EAGAIN;
	}
	msg[0] = '\0';
	return 0;
}

void jobs_kill(uint64_t client, uint32_t uid, const char *gpid, int sig)
{
	char home[MIGR_NAME_MAX + 1], msg[256];
	if (sig < 0 || sig >= NSIG || migr_gpid_home(gpid, home) < 0) {
		control_error(client, -EINVAL, "%s: not a job id (want NODE.N)", gpid);
		return;
	}
	if (is_self(home)) {
		int r = kill_at_home(uid, gpid, sig, msg, sizeof(msg));
		if (r < 0)
			control_error(client, r, "%s", msg);
		else
			control_ok(client);
		return;
	}
	if (node_down(home)) {
		control_error(client, -EHOSTDOWN, "%s: its home node %s is not reachable", gpid, home);
		return;
	}
	struct pending *p = pending_new(client, MSG_KILL_REQ, KILL_TIMEOUT_MS);
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, MSG_KILL_REQ);
	mw_u32(&w, p->id);
	mw_str(&w, gpid);
	mw_u32(&w, (uint32_t)sig);
	mw_u32(&w, uid);
	mw_frame_end(&w);
	if (node_send(home, &w) < 0) {
		control_error(client, -EHOSTDOWN, "%s: its home node %s is not reachable", gpid, home);
		pending_free(p);
	}
	mw_free(&w);
}

/* ---- messages from peers (and from this node to itself) ---- */

/* A signal for the job. migr-init passes the ones it can catch on to the program's
 * process group; SIGSTOP it cannot catch, and it would stop only the init: it stops every
 * process of the job but the init instead, and SIGCONT wakes them all. */
static void runner_signal(struct job *j, int sig)
{
	if (j->on_disk) {	/* the home sends only these to a frozen job */
		if (sig == SIGKILL || sig == SIGTERM)
			freeze_end(j, sig);
		return;
	}
	if (sig == SIGSTOP) {
		pid_t *pids = xmalloc(PROCTREE_MAX * sizeof(*pids));
		size_t n = proctree_list(j->init_pid, pids, PROCTREE_MAX);
		for (size_t i = 1; i < n; i++)
			kill(pids[i], SIGSTOP);
		free(pids);
	} else if (sig == SIGCONT) {
		proctree_signal(j->init_pid, SIGCONT);
	} else {
		kill(j->init_pid, sig);
	}
}

static int on_job_data(const char *from, struct mr *r)
{
	char gpid[MIGR_GPID_MAX + 1];
	mr_str(r, gpid, MIGR_GPID_MAX);
	uint8_t s = mr_u8(r);
	uint32_t n = mr_u32(r);
	if (r->bad || s > STREAM_ERR || n != r->left)
		return MIGR_EPROTO;
	const uint8_t *data = r->p;
	r->p += n;
	r->left = 0;
	struct job *j = job_find(gpid);
	if (s == STREAM_IN) {
		if (!j || !j->here)
			return 0;	/* the job has ended: nobody wants it */
		if (n == 0)
			j->in_eof = 1;
		if (j->in_broken || j->pipe[STREAM_IN] < 0) {
			send_ack(j->home, gpid, STREAM_IN, n);
			return 0;
		}
		if (j->inq.len + n > 2 * WINDOW)
			return MIGR_EPROTO;	/* past its credit: the home broke flow control */
		mw_bytes(&j->inq, data, n);
		runner_write_stdin(j);
		return 0;
	}
	if (!j || !j->at_home) {
		send_ack(from, gpid, s, n);	/* keep the runner flowing */
		return 0;
	}
	if (j->unattached) {
		/* kept, unacked, for an mrun to attach; what came before the runner's answer
		 * to our resync comes again after it */
		if (j->resynced && j->waiting[s].len + n <= 2 * WINDOW)
			mw_bytes(&j->waiting[s], data, n);
		return 0;
	}
	if (n)
		send_ack(j->node, gpid, s, user_fd_write(&j->user[s], data, n));
	home_watch(j, s, user_fd_pending(&j->user[s]) > 0);
	return 0;
}

/* n bytes the home wrote out: no longer ours to send again */
static void sent_acked(struct mw *sent, uint32_t n)
{
	size_t k = n < sent->len ? n : sent->len;
	memmove(sent->buf, sent->buf + k, sent->len - k);
	sent->len -= k;
}

/* MSG_JOB_RESYNC at the runner: the home restarted; what it did not ack goes again,
 * after the answer that tells it so (what came before is dropped there). */
static void runner_resync(const char *from, const char *gpid)
{
	struct job *j = job_find(gpid);
	int here = j && j->here && !strcmp(j->home, from);
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, MSG_JOB_RESYNC);
	mw_str(&w, gpid);
	mw_u8(&w, here ? 1 : 2);
	mw_u32(&w, here ? (uint32_t)j->init_pid : 0);
	mw_frame_end(&w);
	node_send(from, &w);
	mw_free(&w);
	if (!here)
		return;
	log_info("%s: its home %s restarted: %zu and %zu bytes of output go again", gpid, from,
		 j->sent[STREAM_OUT].len, j->sent[STREAM_ERR].len);
	for (int s = STREAM_OUT; s <= STREAM_ERR; s++)
		for (size_t at = 0; at < j->sent[s].len; at += CHUNK) {
			size_t k = j->sent[s].len - at < CHUNK ? j->sent[s].len - at : CHUNK;
			mw_init(&w);
			msg_data(&w, gpid, s, j->sent[s].buf + at, k);
			node_send(from, &w);
			mw_free(&w);
		}
	if (j->exited)
		runner_check_done(j);
}

/* The runner's answer at a home that restarted. */
static void home_resynced(const char *from, const char *gpid, uint8_t answer, uint32_t pid)
{
	struct job *j = job_find(gpid);
	if (!j || !j->at_home || !j->unattached || j->resynced || strcmp(j->node, from))
		return;
	if (answer == 2) {
		log_warnx("%s: lost: %s no longer runs it", gpid, from);
		j->exit_known = 1;
		j->exit_status = 255;
		home_try_exit(j);
		return;
	}
	j->resynced = 1;
	j->pid_there = pid;
	for (int s = STREAM_OUT; s <= STREAM_ERR; s++)
		j->waiting[s].len = 0;	/* all of it comes again */
}

static int on_job_ack(struct mr *r)
{
	char gpid[MIGR_GPID_MAX + 1];
	mr_str(r, gpid, MIGR_GPID_MAX);
	uint8_t s = mr_u8(r);
	uint32_t n = mr_u32(r);
	if (mr_end(r) < 0 || s > STREAM_ERR)
		return MIGR_EPROTO;
	struct job *j = job_find(gpid);
	if (!j)
		return 0;
	if (s == STREAM_IN && j->at_home) {
		j->in_unacked = n > j->in_unacked ? 0 : j->in_unacked - n;
		home_pump_stdin(j);
	} else if (s != STREAM_IN && j->here) {
		j->unacked[s] = n > j->unacked[s] ? 0 : j->unacked[s] - n;
		sent_acked(&j->sent[s], n);
		if (j->unacked[s] < WINDOW)
			runner_watch(j, s, 1);	/* not while frozen for a move */
	}
	return 0;
}

int jobs_peer_message(const char *from, uint8_t type, const uint8_t *p, size_t n)
{
	struct mr r;
	char gpid[MIGR_GPID_MAX + 1], msg[MIGR_ERRMSG_MAX + 1];
	mr_init(&r, p, n);
	switch (type) {
	case MSG_JOB_START: {
		struct migr_job_spec s;
		if (migr_job_spec_decode(&r, &s) < 0)
			return MIGR_EPROTO;
		if (mr_end(&r) < 0 || strcmp(s.home, from) || !migr_gpid_valid(s.gpid)) {
			migr_job_spec_free(&s);
			return MIGR_EPROTO;
		}
		runner_start(&s);
		migr_job_spec_free(&s);
		return 0;
	}
	case MSG_JOB_STARTED:
	case MSG_JOB_EXIT:
	case MSG_JOB_SIGNAL: {
		mr_str(&r, gpid, MIGR_GPID_MAX);
		uint32_t v = mr_u32(&r);
		if (mr_end(&r) < 0)
			return MIGR_EPROTO;
		struct job *j = job_find(gpid);
		if (type == MSG_JOB_SIGNAL) {
			if (j && j->here && !j->exited && v > 0 && v < NSIG)
				runner_signal(j, (int)v);
		} else if (j && j->at_home && !strcmp(j->node, from)) {
			if (type == MSG_JOB_STARTED) {
				home_started(j, v);
			} else {
				j->exit_known = 1;
				j->exit_status = (int)v;
				home_try_exit(j);
			}
		}
		return 0;
	}
	case MSG_JOB_FAILED: {
		mr_str(&r, gpid, MIGR_GPID_MAX);
		mr_u32(&r);
		mr_str(&r, msg, MIGR_ERRMSG_MAX);
		if (mr_end(&r) < 0)
			return MIGR_EPROTO;
		struct job *j = job_find(gpid);
		if (j && j->at_home && !j->started && !strcmp(j->node, from))
			home_reply_error(j, msg);
		return 0;
	}
	case MSG_JOB_RESYNC: {
		mr_str(&r, gpid, MIGR_GPID_MAX);
		uint8_t what = mr_u8(&r);
		uint32_t pid = mr_u32(&r);
		if (mr_end(&r) < 0 || what > 2)
			return MIGR_EPROTO;
		if (what == 0)
			runner_resync(from, gpid);
		else
			home_resynced(from, gpid, what, pid);
		return 0;
	}
	case MSG_JOB_DATA:
		return on_job_data(from, &r);
	case MSG_JOB_ACK:
		return on_job_ack(&r);
	case MSG_PS_REQ: {
		uint32_t id = mr_u32(&r);
		if (mr_end(&r) < 0)
			return MIGR_EPROTO;
		struct migr_job *list;
		size_t count = local_jobs(&list), at = 0;
		do {	/* in pages, each well inside a frame */
			size_t k = count - at < MIGR_JOBS_MAX ? count - at : MIGR_JOBS_MAX;
			struct mw w;
			mw_init(&w);
			mw_frame_begin(&w, MSG_PS_REPLY);
			mw_u32(&w, id);
			mw_u8(&w, at + k < count);
			migr_jobs_encode(&w, list + at, k);
			mw_frame_end(&w);
			node_send(from, &w);
			mw_free(&w);
			at += k;
		} while (at < count);
		free(list);
		return 0;
	}
	case MSG_PS_REPLY: {
		uint32_t id = mr_u32(&r);
		uint8_t more = mr_u8(&r);
		struct migr_job *list;
		size_t count;
		if (r.bad || more > 1 || migr_jobs_decode(&r, &list, &count) < 0)
			return MIGR_EPROTO;
		if (mr_end(&r) < 0) {
			free(list);
			return MIGR_EPROTO;
		}
		ps_reply_in(from, id, more, list, count);
		return 0;
	}
	case MSG_KILL_REQ: {
		uint32_t id = mr_u32(&r);
		mr_str(&r, gpid, MIGR_GPID_MAX);
		uint32_t sig = mr_u32(&r), uid = mr_u32(&r);
		if (mr_end(&r) < 0)
			return MIGR_EPROTO;
		int code = -EINVAL;
		if (sig < NSIG)
			code = kill_at_home(uid, gpid, (int)sig, msg, sizeof(msg));
		else
			snprintf(msg, sizeof(msg), "%u: not a signal number", sig);
		node_reply(from, MSG_KILL_REPLY, id, code, msg);
		return 0;
	}
	case MSG_KILL_REPLY: {
		uint32_t id = mr_u32(&r);
		int code = (int)mr_u32(&r);
		mr_str(&r, msg, MIGR_ERRMSG_MAX);
		if (mr_end(&r) < 0)
			return MIGR_EPROTO;
		struct pending *pend = pending_find(id);
		if (!pend || pend->kind != MSG_KILL_REQ)
			return 0;
		if (code < 0)
			control_error(pend->client, code, "%s", msg);
		else
			control_ok(pend->client);
		pending_free(pend);
		return 0;
	}
	default:
		return migrate_peer_message(from, type, p, n);
	}
}

/* ---- moves ---- */

void job_move_begin(struct job *j, struct migration *m)
{
	j->mig = m;
	j->frozen = 1;
	if (j->on_disk)
		return;	/* a thaw elsewhere: no processes, no output */
	/* the move stops every process; those its user had stopped stay so if it resumes */
	free(j->held);
	j->nheld = proctree_stopped(j->init_pid, &j->held);
	runner_watch(j, STREAM_OUT, 0);
	runner_watch(j, STREAM_ERR, 0);
}

void job_move_found(struct job *j, struct migration *m, const char *stopped_file)
{
	j->mig = m;
	j->frozen = 1;
	free(j->held);
	j->nheld = proctree_load_stopped(stopped_file, &j->held);
	runner_watch(j, STREAM_OUT, 0);
	runner_watch(j, STREAM_ERR, 0);
}

void job_move_frozen(struct job *j)
{
	runner_drain(j);
}

void job_move_hidden(struct job *j)
{
	j->frozen = 2;
}

void job_move_resume(struct job *j)
{
	if (!j->here)
		return;
	j->mig = NULL;
	j->frozen = 0;
	if (j->on_disk)
		return;	/* a thaw elsewhere failed: it stays frozen here */
	proctree_continue(j->init_pid, j->held, j->nheld);
	runner_watch(j, STREAM_OUT, 1);
	runner_watch(j, STREAM_ERR, 1);
	if (j->exited)
		runner_check_done(j);
}

void job_move_kill(struct job *j)
{
	if (j->here && !j->exited && !j->on_disk)	/* images: the helper removed them */
		proctree_signal(j->init_pid, SIGKILL);
}

void job_move_left(struct job *j)
{
	for (int s = 0; s < 3; s++)
		runner_close(j, s);
	j->here = 0;
	j->frozen = 0;
	j->on_disk = 0;
	j->mig = NULL;
	j->moves++;
	for (int s = 0; s < 3; s++)
		j->sent[s].len = 0;	/* the destination answers for its output now */
	runner_release(j);
	job_maybe_free(j);
}

/* ---- frozen to this node's disk (freeze.c) ---- */

void job_frozen_to_disk(struct job *j)
{
	runner_drain(j);	/* what it wrote before the dump goes home */
	for (int s = 0; s < 3; s++)
		runner_close(j, s);
	j->on_disk = 1;
	j->frozen = 0;
	j->mig = NULL;
	j->cpu_pct = 0;
	j->here_since = loop_now();	/* frozen since */
	proctree_signal(j->init_pid, SIGKILL);	/* reaped quietly: it is on_disk */
	runner_release(j);
	balance_job_ended(0);
}

void job_thawed(struct job *j, pid_t init, int pipes[3], struct holder *holder)
{
	j->on_disk = 0;
	j->frozen = 0;
	j->init_pid = init;
	j->holder = holder;
	runner_record(j);
	holder_held(holder);
	j->here_since = j->cpu_at = loop_now();
	j->cpu_ns = 0;
	free(j->held);
	j->held = NULL;
	j->nheld = 0;
	for (int s = 0; s < 3; s++) {
		j->pipe[s] = pipes[s];
		j->watching[s] = 0;
		j->unacked[s] = 0;
		j->sent[s].len = 0;
		pipes[s] = -1;
	}
	runner_watch(j, STREAM_OUT, 1);
	runner_watch(j, STREAM_ERR, 1);
	if (j->inq.len)
		runner_watch(j, STREAM_IN, 1);
	else if (j->in_eof)
		runner_close(j, STREAM_IN);
	balance_job_arrived();
}

void job_frozen_ended(struct job *j, int status)
{
	j->on_disk = 0;
	j->exited = 1;
	j->status = status;
	runner_check_done(j);	/* its pipes are closed: the end goes home */
}

struct job *job_frozen_found(const char *gpid, const char *home, uint32_t uid, uint32_t flags,
			     uint32_t moves, const char *cmd, const uint64_t ino[3],
			     uint64_t rss_kb)
{
	struct job *j = job_new(gpid);
	snprintf(j->home, sizeof(j->home), "%s", home);
	snprintf(j->node, sizeof(j->node), "%s", migrd.conf.node);
	snprintf(j->cmd, sizeof(j->cmd), "%s", cmd);
	j->uid = uid;
	j->flags = flags;
	j->moves = moves;
	j->rss_kb = rss_kb;
	j->here = 1;
	j->on_disk = 1;
	j->here_since = loop_now();
	memcpy(j->disk_ino, ino, sizeof(j->disk_ino));
	if (is_self(home)) {
		/* its home record died with the last migrd: no mrun any more, but a user may
		 * thaw it or end it */
		j->at_home = 1;
		j->detached = 1;
		j->started = 1;
		j->home_frozen = 1;
	}
	return j;
}

struct job *job_arrived(const char *gpid, const char *home, uint32_t uid, uint32_t flags,
			uint32_t moves, const char *cmd, pid_t init, int pipes[3],
			struct holder *holder, struct migration *m)
{
	struct job *j = job_find(gpid);
	if (!j)
		j = job_new(gpid);
	snprintf(j->home, sizeof(j->home), "%s", home);
	snprintf(j->node, sizeof(j->node), "%s", migrd.conf.node);
	j->uid = uid;
	j->flags = flags;
	j->moves = moves + 1;
	snprintf(j->cmd, sizeof(j->cmd), "%s", cmd);
	j->here = 1;
	j->exited = 0;
	j->frozen = 0;
	j->orphan = 0;
	j->init_pid = init;
	j->holder = holder;
	j->here_since = loop_now();
	j->cpu_at = loop_now();
	j->cpu_ns = 0;
	j->mig = m;
	runner_record(j);
	for (int s = 0; s < 3; s++) {
		j->pipe[s] = pipes[s];
		j->unacked[s] = 0;
		j->sent[s].len = 0;
		pipes[s] = -1;
	}
	runner_watch(j, STREAM_OUT, 1);
	runner_watch(j, STREAM_ERR, 1);
	return j;
}

void job_move_landed(struct job *j)
{
	j->mig = NULL;
	if (j->exited)
		runner_check_done(j);
}

void job_vanished(struct job *j)
{
	if (j->here && !j->exited)
		proctree_signal(j->init_pid, SIGKILL);
	for (int s = 0; s < 3; s++)
		runner_close(j, s);
	j->here = 0;
	j->mig = NULL;
	runner_release(j);
	job_maybe_free(j);
}

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

void jobs_shutdown(void)
{
	/* one whose holder is gone has nobody to keep it: it ends as with a hang-up */
	for (struct job *j = jobs; j; j = j->next)
		if (j->here && !j->exited && !j->on_disk && !j->holder)
			kill(j->init_pid, SIGHUP);
}

/* The init of a job whose holder died and that is not our child (a migrd before us
 * started it): it is watched, and its end, whose status nobody can learn any more, is
 * reported as 255. */
static void orphan_init_ended(int fd, uint32_t events, void *arg)
{
	pid_t pid = (pid_t)(intptr_t)arg;
	loop_del(fd);
	close(fd);
	jobs_reaped(pid, 255 << 8);
}

void jobs_holder_gone(struct holder *h)
{
	for (struct job *j = jobs; j; j = j->next) {
		if (j->holder != h)
			continue;
		j->holder = NULL;
		if (!j->here || j->exited || j->on_disk || j->init_pid <= 0 || !holder_adopted(h))
			continue;	/* re-parented to us, the subreaper: reaped as ours */
		int fd = pidfd_open(j->init_pid, 0);
		if (fd >= 0)
			loop_add(fd, EPOLLIN, orphan_init_ended, (void *)(intptr_t)j->init_pid);
		log_warnx("%s: its holder died and its init is not ours: its status will be "
			  "unknown", j->gpid);
	}
}

/* ---- after a restart: the jobs still running here ---- */

/* An adopted job's output waits in its pipes until gossip knows its home again (what is
 * sent to a node not known yet is dropped). */
struct adopted {
	char gpid[MIGR_GPID_MAX + 1];
	uint64_t since;
};

static void adopted_resume(void *arg)
{
	struct adopted *a = arg;
	struct job *j = job_find(a->gpid);
	if (!j || !j->here || j->orphan) {	/* one that ended meanwhile still has output */
		free(a);
		return;
	}
	const struct gossip_node *n = gossip_find(&migrd.gossip, j->home);
	if (!is_self(j->home) && (!n || n->state != MIGR_NODE_ALIVE)) {
		if (loop_now() - a->since < 2 * (uint64_t)migrd.conf.dead_timeout_ms) {
			loop_timer_add(100, 0, adopted_resume, a);
			return;
		}
		free(a);
		runner_orphan(j);	/* a home that did not come back */
		return;
	}
	free(a);
	if (!j->mig) {	/* one a move in doubt holds stopped waits for the move's word */
		runner_watch(j, STREAM_OUT, 1);
		runner_watch(j, STREAM_ERR, 1);
	}
	/* what the last migrd held of its stdin died with it: the home's credit starts
	 * again (an ack of more than it sent clears it) */
	if (!is_self(j->home))
		send_ack(j->home, j->gpid, STREAM_IN, UINT32_MAX);
}

/* A holder's record (runner_record): the job it holds, taken on again. */
static int adopt(struct holder *h, const uint8_t *record, size_t len, int pipes[3])
{
	struct mr r;
	char gpid[MIGR_GPID_MAX + 1], home[MIGR_NAME_MAX + 1], cmd[MIGR_CMD_MAX + 1];
	mr_init(&r, record, len);
	uint8_t version = mr_u8(&r);
	mr_str(&r, gpid, MIGR_GPID_MAX);
	mr_str(&r, home, MIGR_NAME_MAX);
	mr_str(&r, cmd, MIGR_CMD_MAX);
	uint32_t uid = mr_u32(&r), flags = mr_u32(&r), moves = mr_u32(&r);
	pid_t init = (pid_t)mr_u32(&r);
	if (mr_end(&r) < 0 || version != HOLD_RECORD_VERSION || !migr_gpid_valid(gpid) ||
	    !migr_name_valid(home) || init <= 0) {
		log_warnx("holder %d: no job it could name: released", (int)holder_pid(h));
		return 0;
	}
	struct job *j = job_find(gpid);
	if (j && j->here) {
		log_warnx("%s: a second holder (pid %d): released", gpid, (int)holder_pid(h));
		return 0;
	}
	if (!j)
		j = job_new(gpid);
	snprintf(j->home, sizeof(j->home), "%s", home);
	snprintf(j->node, sizeof(j->node), "%s", migrd.conf.node);
	snprintf(j->cmd, sizeof(j->cmd), "%s", cmd);
	j->uid = uid;
	j->flags = flags;
	j->moves = moves;
	j->here = 1;
	j->init_pid = init;
	j->holder = h;
	j->here_since = j->cpu_at = loop_now();
	for (int s = 0; s < 3; s++) {
		j->pipe[s] = pipes[s];
		if (pipes[s] >= 0)
			fcntl(pipes[s], F_SETFL, O_NONBLOCK);
	}
	if (is_self(home) && !j->at_home) {
		/* its home record is gone (an older migrd kept none): no mrun any more, but
		 * its user may still signal it, move it, list it */
		j->at_home = 1;
		j->detached = 1;
		j->started = 1;
	}
	log_info("%s: adopted from its holder (pid %d): init pid %d, home %s, %u moves", gpid,
		 (int)holder_pid(h), (int)init, home, moves);
	struct adopted *a = xcalloc(1, sizeof(*a));
	snprintf(a->gpid, sizeof(a->gpid), "%s", gpid);
	a->since = loop_now();
	adopted_resume(a);
	return 1;
}

void jobs_adopt(void)
{
	holders_adopt(adopt);
}
