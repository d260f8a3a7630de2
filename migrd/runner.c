/* runner.c: the side of a job where it runs: starting it under its holder, its stdio
 * pipes, its end, what moves and freezes do to it, and the jobs a restarted migrd finds
 * running here (see jobs.h and job.h). */
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
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "admin.h"
#include "balance.h"
#include "freeze.h"
#include "hold.h"
#include "job.h"
#include "jobs.h"
#include "launch.h"
#include "log.h"
#include "loop.h"
#include "migrd.h"
#include "proctree.h"
#include "xmalloc.h"

#define MIN_FREE_KB (64 * 1024)	/* below this a node takes no new job */

static void runner_io(int fd, uint32_t events, void *arg);

void runner_watch(struct job *j, int s, int on)
{
	if (j->pipe[s] < 0 || j->watching[s] == on || (on && (j->frozen || j->home_lost)))
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
	size_t room = WINDOW - j->unacked[s];
	ssize_t n = read(j->pipe[s], buf, room < sizeof(buf) ? room : sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
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
	for (struct job *j = job_list; j; j = j->next)
		n += j->here && !j->exited && j->uid == uid;
	return n;
}

/* The record of a job that is here now (started, arrived, found after a restart): the
 * same record as its home's when it runs at its home. */
static struct job *job_here(const char *gpid, const char *home, uint32_t uid, uint32_t flags,
			    uint32_t moves, const char *cmd)
{
	struct job *j = job_find(gpid);
	if (!j)
		j = job_new(gpid);
	snprintf(j->home, sizeof(j->home), "%s", home);
	snprintf(j->node, sizeof(j->node), "%s", migrd.conf.node);
	snprintf(j->cmd, sizeof(j->cmd), "%s", cmd);
	j->uid = uid;
	j->flags = flags;
	j->moves = moves;
	j->here = 1;
	j->here_since = j->cpu_at = loop_now();
	j->cpu_ns = 0;
	return j;
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
void runner_start(struct migr_job_spec *s)
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

	char cmd[MIGR_CMD_MAX + 1];
	command_line(&s->argv, cmd, sizeof(cmd));
	struct job *j = job_here(s->gpid, s->home, s->uid, s->flags, 0, cmd);
	j->init_pid = pid;
	j->holder = holder;
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
	for (struct job *j = job_list; j; j = j->next) {
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

/* The home of a job running here is down: its mrun and its output file are gone with it,
 * for now. The job runs on: what it writes waits in its pipes (it blocks once they are
 * full, as with a slow reader), its stdin stays open, and mps marks its home lost, until
 * the home is back and someone attaches there. */
static void runner_home_lost(struct job *j)
{
	log_warnx("%s: its home %s is down: it runs on, its output waits here", j->gpid,
		  j->home);
	j->home_lost = 1;
	runner_watch(j, STREAM_OUT, 0);
	runner_watch(j, STREAM_ERR, 0);
}

/* Its home is back (alive again, or restarted: MSG_JOB_RESYNC): its output goes on. */
static void runner_home_found(struct job *j)
{
	if (!j->home_lost)
		return;
	log_info("%s: its home %s is back: its output goes on", j->gpid, j->home);
	j->home_lost = 0;
	if (!j->mig && !j->on_disk) {
		runner_watch(j, STREAM_OUT, j->unacked[STREAM_OUT] < WINDOW);
		runner_watch(j, STREAM_ERR, j->unacked[STREAM_ERR] < WINDOW);
	}
}

/* n bytes the home wrote out: no longer ours to send again */
static void sent_acked(struct mw *sent, uint32_t n)
{
	size_t k = n < sent->len ? n : sent->len;
	memmove(sent->buf, sent->buf + k, sent->len - k);
	sent->len -= k;
}

/* The jobs running here whose home is down for good (jobs_node_down). */
void runner_home_gone(const char *node)
{
	for (struct job *j = job_list; j; j = j->next)
		if (j->here && !j->exited && !j->home_lost && !j->mig && !strcmp(j->home, node))
			runner_home_lost(j);
}

void runner_home_back(const char *node)
{
	for (struct job *j = job_list; j; j = j->next)
		if (j->here && !strcmp(j->home, node))
			runner_home_found(j);
}

int runner_stdin_in(struct job *j, const uint8_t *data, uint32_t n)
{
	if (n == 0)
		j->in_eof = 1;
	if (j->in_broken || j->pipe[STREAM_IN] < 0) {
		send_ack(j->home, j->gpid, STREAM_IN, n);
		return 0;
	}
	if (j->inq.len + n > 2 * WINDOW)
		return MIGR_EPROTO;	/* past its credit: the home broke flow control */
	mw_bytes(&j->inq, data, n);
	runner_write_stdin(j);
	return 0;
}

void runner_output_acked(struct job *j, int s, uint32_t n)
{
	j->unacked[s] = n > j->unacked[s] ? 0 : j->unacked[s] - n;
	sent_acked(&j->sent[s], n);
	if (j->unacked[s] < WINDOW)
		runner_watch(j, s, 1);	/* not while frozen for a move */
}

/* A signal for the job. migr-init passes the ones it can catch on to the program's
 * process group; SIGSTOP it cannot catch, and it would stop only the init: it stops every
 * process of the job but the init instead, and SIGCONT wakes them all. */
void runner_signal(struct job *j, int sig)
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

/* MSG_JOB_RESYNC at the runner: the home restarted; what it did not ack goes again,
 * after the answer that tells it so (what came before is dropped there). */
void runner_resync(const char *from, const char *gpid)
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
	runner_home_found(j);
	if (j->exited)
		runner_check_done(j);
}

/* ---- what a move does to the job where it runs (migrate.c) ---- */

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
	struct job *j = job_here(gpid, home, uid, flags, moves, cmd);
	j->rss_kb = rss_kb;
	j->on_disk = 1;	/* frozen since */
	memcpy(j->disk_ino, ino, sizeof(j->disk_ino));
	if (is_self(home)) {
		/* no mrun any more (its home record, if any, was found unattached), but a user
		 * may thaw it, end it or attach to it */
		if (!j->at_home) {
			j->at_home = 1;
			j->detached = 1;
			j->started = 1;
		}
		j->home_frozen = 1;
	}
	return j;
}

struct job *job_arrived(const char *gpid, const char *home, uint32_t uid, uint32_t flags,
			uint32_t moves, const char *cmd, pid_t init, int pipes[3],
			struct holder *holder, struct migration *m)
{
	struct job *j = job_here(gpid, home, uid, flags, moves + 1, cmd);
	j->exited = 0;
	j->frozen = 0;
	j->home_lost = 0;
	j->init_pid = init;
	j->holder = holder;
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

void jobs_shutdown(void)
{
	/* one whose holder is gone has nobody to keep it: it ends as with a hang-up */
	for (struct job *j = job_list; j; j = j->next)
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
	for (struct job *j = job_list; j; j = j->next) {
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

/* An adopted job's output waits in its pipes until gossip knows its home again. */
static void adopted_resume(const char *gpid)
{
	struct job *j = job_find(gpid);
	if (!j || !j->here || j->home_lost)	/* one that ended meanwhile still has output */
		return;
	if (!j->mig) {	/* one a move in doubt holds stopped waits for the move's word */
		runner_watch(j, STREAM_OUT, 1);
		runner_watch(j, STREAM_ERR, 1);
	}
	/* what the last migrd held of its stdin died with it: the home's credit starts
	 * again (an ack of more than it sent clears it) */
	if (!is_self(j->home))
		send_ack(j->home, j->gpid, STREAM_IN, UINT32_MAX);
}

static void adopted_home_gone(const char *gpid)
{
	struct job *j = job_find(gpid);
	if (j && j->here && !j->home_lost)
		runner_home_lost(j);	/* a home that did not come back */
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
	j = job_here(gpid, home, uid, flags, moves, cmd);
	j->init_pid = init;
	j->holder = h;
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
	after_node_known(home, gpid, 0, adopted_resume, adopted_home_gone);
	return 1;
}

void jobs_adopt(void)
{
	holders_adopt(adopt);
}
