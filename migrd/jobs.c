/* jobs.c: the job table and what both roles share: routing, the job messages from peers,
 * mps and mkill, sampling, a node's death. The runner's side is runner.c, the home's
 * home.c (see jobs.h and job.h). */
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

#include "control.h"
#include "job.h"
#include "balance.h"
#include "jobs.h"
#include "log.h"
#include "loop.h"
#include "migrd.h"
#include "netlink.h"
#include "movable.h"
#include "peers.h"
#include "proctree.h"
#include "xmalloc.h"

#define PS_TIMEOUT_MS 2000
#define KILL_TIMEOUT_MS 5000
#define PS_JOBS_MAX 100000	/* jobs one mps gathers; beyond, the rest are left out */

#define SAMPLE_BUDGET 64	/* jobs whose CPU and memory are read per period */

struct job *job_list;
static unsigned sample_round = 1;
static int gc_scheduled;
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
	for (struct job *j = job_list; j; j = j->next)
		if (!strcmp(j->gpid, gpid) && (j->here || j->at_home))
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
	j->next = job_list;
	job_list = j;
	return j;
}

/* Frees the jobs neither side needs any more. Runs from the loop, never from inside a
 * handler: messages to this node are delivered in-process, so a job may end while a
 * caller further up the stack still holds it. */
static void job_gc(void *arg)
{
	gc_scheduled = 0;
	for (struct job **jp = &job_list; *jp;) {
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

/* ---- waiting for gossip to know a node (after a restart) ---- */

struct node_wait {
	char gpid[MIGR_GPID_MAX + 1];
	char node[MIGR_NAME_MAX + 1];
	uint64_t since;
	void (*ready)(const char *gpid);
	void (*gave_up)(const char *gpid);
};

static void node_wait_tick(void *arg)
{
	struct node_wait *w = arg;
	const struct gossip_node *n = gossip_find(&migrd.gossip, w->node);
	int known = is_self(w->node) || (n && n->state == MIGR_NODE_ALIVE);
	if (!known && loop_now() - w->since < 2 * (uint64_t)migrd.conf.dead_timeout_ms) {
		loop_timer_add(100, 0, node_wait_tick, w);
		return;
	}
	if (known)
		w->ready(w->gpid);
	else if (w->gave_up)
		w->gave_up(w->gpid);
	free(w);
}

void after_node_known(const char *node, const char *gpid, unsigned delay_ms,
		      void (*ready)(const char *gpid), void (*gave_up)(const char *gpid))
{
	struct node_wait *w = xcalloc(1, sizeof(*w));
	snprintf(w->gpid, sizeof(w->gpid), "%s", gpid);
	snprintf(w->node, sizeof(w->node), "%s", node);
	w->since = loop_now();
	w->ready = ready;
	w->gave_up = gave_up;
	loop_timer_add(delay_ms, 0, node_wait_tick, w);
}

/* ---- message building ---- */

void msg_data(struct mw *w, const char *gpid, int stream, const uint8_t *p, size_t n)
{
	mw_frame_begin(w, MSG_JOB_DATA);
	mw_str(w, gpid);
	mw_u8(w, (uint8_t)stream);
	mw_u32(w, (uint32_t)n);
	mw_bytes(w, p, n);
	mw_frame_end(w);
}

void send_ack(const char *to, const char *gpid, int stream, size_t n)
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

/* What a node's death means for the jobs of and on it, once it is sure. */
static void node_gone(const char *node)
{
	runner_home_gone(node);
	home_node_gone(node);
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

void jobs_node_up(const char *node)
{
	runner_home_back(node);
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
		for (struct job *j = job_list; j && done < SAMPLE_BUDGET; j = j->next) {
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
	for (struct job *j = job_list; j; j = j->next)
		n += j->here && !j->exited;
	struct bal_job *b = xcalloc(n + 1, sizeof(*b));
	n = 0;
	for (struct job *j = job_list; j; j = j->next) {
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
	for (struct job *j = job_list; j; j = j->next)
		n += j->here && j->on_disk;
	struct bal_job *b = xcalloc(n + 1, sizeof(*b));
	n = 0;
	for (struct job *j = job_list; j; j = j->next) {
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
	for (struct job *j = job_list; j; j = j->next)
		n += j->here && !j->exited;
	return n;
}

/* The jobs running here, as mps shows them: CPU and memory as last sampled. */
static size_t local_jobs(struct migr_job **out)
{
	size_t n = 0;
	struct migr_job *list = xcalloc(jobs_running_here() + 1, sizeof(*list));
	for (struct job *j = job_list; j; j = j->next) {
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
		m->flags = j->flags | (j->home_lost ? MIGR_JOB_HOME_LOST : 0);
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
	if (s == STREAM_IN)
		return j && j->here ? runner_stdin_in(j, data, n) : 0;	/* or it has ended */
	if (!j || !j->at_home) {
		send_ack(from, gpid, s, n);	/* keep the runner flowing */
		return 0;
	}
	home_output_in(j, s, data, n);
	return 0;
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
	if (j && s == STREAM_IN && j->at_home)
		home_stdin_acked(j, n);
	else if (j && s != STREAM_IN && j->here)
		runner_output_acked(j, s, n);
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
			if (type == MSG_JOB_STARTED)
				home_started(j, v);
			else
				home_job_ended(j, (int)v);
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

