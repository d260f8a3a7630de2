/* migr.h: the public API of libmigr, the library the migr tools use to talk to migrd.
 * Functions return 0 or a negative error code; migr_strerror() names it. The library
 * never prints and never exits. */
#ifndef MIGR_H
#define MIGR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MIGR_DEFAULT_SOCKET "/run/migr/migrd.sock"
#define MIGR_NAME_MAX 31	/* node names: [A-Za-z0-9._-], at most this long */
#define MIGR_ADDR_MAX 45	/* a numeric IPv4 or IPv6 address */

/* Error codes beyond -errno (all negative). */
enum {
	MIGR_EPROTO = -1000,	/* the peer broke the protocol */
	MIGR_EVERSION = -1001,	/* the peer speaks another protocol version */
	MIGR_EAUTH = -1002,	/* authentication failed: wrong cluster key */
	MIGR_ETOOBIG = -1003,	/* a message over the size bound */
	MIGR_EREFUSED = -1004,	/* the daemon refused the request; see migr_last_error() */
};

const char *migr_strerror(int err);

struct migr_client;

/* Connects to the local migrd: path, else $MIGR_SOCKET, else MIGR_DEFAULT_SOCKET. */
int migr_connect(const char *path, struct migr_client **clientp);
void migr_close(struct migr_client *client);
/* The socket path a client connected (or tried to connect) to. */
const char *migr_socket_path(const char *path);
/* The daemon's own words for the last MIGR_EREFUSED. */
const char *migr_last_error(const struct migr_client *client);

enum migr_node_state {
	MIGR_NODE_ALIVE = 0,
	MIGR_NODE_SUSPECT = 1,
	MIGR_NODE_DEAD = 2,
	MIGR_NODE_LEFT = 3,	/* left cleanly (mctl leave); shown as dead */
};
const char *migr_node_state_name(int state);

/* What an administrator made of a node (mctl drain). */
enum migr_node_admin {
	MIGR_ADMIN_ACTIVE = 0,
	MIGR_ADMIN_DRAINED = 1,	/* takes no new job; its jobs leave for other nodes */
};
const char *migr_node_admin_name(int admin);

struct migr_node {
	char name[MIGR_NAME_MAX + 1];
	char addr[MIGR_ADDR_MAX + 1];
	uint16_t port;
	uint8_t state;		/* enum migr_node_state */
	uint8_t self;		/* 1 for the node that answered */
	double load;		/* runnable tasks per CPU of capacity */
	double cpus;		/* CPU capacity */
	uint64_t mem_free_kb;
	uint32_t jobs;
	uint64_t incarnation;
	uint32_t age_ms;	/* how old the newest news of this node is */
	uint8_t admin;		/* enum migr_node_admin */
};

/* The answering node's view of the cluster; free *nodesp with free(). */
int migr_nodes(struct migr_client *client, struct migr_node **nodesp, size_t *countp);

struct migr_status {
	char name[MIGR_NAME_MAX + 1];
	char addr[MIGR_ADDR_MAX + 1];
	uint16_t port;
	uint64_t incarnation;
	uint64_t uptime_ms;
	uint32_t nodes_alive;
	uint32_t nodes_total;
	uint32_t peers_connected;
	uint32_t pid;
	uint64_t cpu_ns;	/* the daemon's own CPU time (taskstats) */
	uint64_t rss_kb;	/* the daemon's own resident memory */
	double load;
	double cpus;
	uint64_t mem_free_kb;
	int balance;		/* the load balancer is on */
};

int migr_status(struct migr_client *client, struct migr_status *status);

/* ---- jobs ---- */

#define MIGR_GPID_MAX 63	/* "<home>.<n>" */
#define MIGR_CMD_MAX 255	/* command line as mps shows it */
#define MIGR_WHY_MAX 159	/* what a job holds that cannot move, one line */

enum {
	MIGR_RUN_NO_MIGRATE = 1,	/* the load balancer leaves it where it is */
	MIGR_RUN_DETACHED = 2,	/* no mrun waits: no hang-up when the connection closes */
	MIGR_JOB_HOME_LOST = 0x100,	/* in mps only: its home is down; it runs on, its output
					 * waits at its node */
};

struct migr_run_request {
	const char *node;	/* NULL or "": this node; "best": most room; else a name */
	char *const *argv;	/* argv[0] resolved by the caller, NULL-terminated */
	char *const *envp;	/* NULL-terminated */
	const char *cwd;
	unsigned umask;
	unsigned flags;		/* MIGR_RUN_* */
	int fds[3];		/* the job's stdin, stdout, stderr, handed to the daemon */
};

struct migr_run_reply {
	char gpid[MIGR_GPID_MAX + 1];
	char node[MIGR_NAME_MAX + 1];	/* where it runs */
	uint32_t pid;			/* its pid there */
};

/* Starts a job; the connection then belongs to it: the daemon sends its exit status on it,
 * and closing it before the job ends sends the job SIGHUP (a hang-up). The caller's rlimits
 * travel with the request; uid and groups come from the socket's credentials. */
int migr_run(struct migr_client *client, const struct migr_run_request *req,
	     struct migr_run_reply *reply);
/* Attaches to a job this node is home to (mrun --attach, or after the daemon restarted):
 * its output and end come to fds from now, and the connection belongs to it as with
 * migr_run. Only the job's user, or root; only one attached at a time. */
int migr_attach(struct migr_client *client, const char *gpid, const int fds[3],
		struct migr_run_reply *reply);
/* Waits for the job's end: *status is its exit code, 128+N if signal N killed it. */
int migr_run_wait(struct migr_client *client, int *status);
/* Forwards a signal to the job started on this connection. */
int migr_run_signal(struct migr_client *client, int sig);
/* The connection's descriptor, to poll for the exit message. */
int migr_client_fd(const struct migr_client *client);

/* A job's state while it is frozen to its node's disk (mmigrate --freeze): no processes. */
#define MIGR_JOB_FROZEN 'F'

struct migr_job {
	char gpid[MIGR_GPID_MAX + 1];
	char home[MIGR_NAME_MAX + 1];
	char node[MIGR_NAME_MAX + 1];
	uint32_t pid;		/* the program's pid on node */
	uint32_t uid;
	char state;		/* R running, S sleeping, D, T, Z... as the kernel says, or
				 * MIGR_JOB_FROZEN */
	double cpu;		/* percent of one CPU, recent */
	uint64_t rss_kb;
	uint64_t cpu_ms;	/* CPU time used */
	uint32_t moves;
	uint32_t flags;		/* MIGR_RUN_* */
	char cmd[MIGR_CMD_MAX + 1];
	char why[MIGR_WHY_MAX + 1];	/* what it holds that cannot move; "" if nothing */
};

struct migr_ps {
	struct migr_job *jobs;
	size_t count;
	char (*missing)[MIGR_NAME_MAX + 1];	/* live nodes that did not answer in time */
	size_t nmissing;
};

/* Every job in the cluster (node: only those running there, NULL for all). */
int migr_ps(struct migr_client *client, const char *node, struct migr_ps *ps);
void migr_ps_free(struct migr_ps *ps);
/* Sends sig to a job anywhere in the cluster (owner or root only). */
int migr_kill(struct migr_client *client, const char *gpid, int sig);

enum migr_mode { MIGR_MODE_LAZY = 0, MIGR_MODE_COPY = 1 };

struct migr_move {
	char node[MIGR_NAME_MAX + 1];	/* where the job runs now */
	uint32_t freeze_ms;		/* from freeze to running again */
	uint32_t total_ms;		/* until the last page */
};

/* Moves a job to node ("home": back to its home). Waits until the move is over. */
int migr_migrate(struct migr_client *client, const char *gpid, const char *node, int mode,
		 struct migr_move *move);

/* Freezes a job to the disk of the node it runs on: its memory and state are written
 * there, its processes end; migr_migrate() to any node brings it back. Waits until it is
 * done; move->node is where it is frozen. */
int migr_freeze(struct migr_client *client, const char *gpid, struct migr_move *move);

/* Whether a move of the job (to node, or anywhere if node is NULL or "") would be tried,
 * without touching the job: 0 if so, 1 if not, with why holding one reason per line
 * (what the job holds that cannot move), or a negative error (why then empty). */
int migr_check(struct migr_client *client, const char *gpid, const char *node, char *why,
	       size_t whylen);

/* Writes a fresh random cluster key to path (mode 0600); fails if path exists. */
int migr_key_generate(const char *path);

/* Asks the node to leave the cluster cleanly and stop (root only). */
int migr_leave(struct migr_client *client);
/* Turns this node's load balancer on or off until migrd restarts (root only). */
int migr_balance(struct migr_client *client, int on);
/* Drains a node (drained 1) or makes it active again (0), node being any node of the
 * cluster (root only). The node keeps the setting across its daemon's restarts. */
int migr_drain(struct migr_client *client, const char *node, int drained);

#ifdef __cplusplus
}
#endif

#endif
