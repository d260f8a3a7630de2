/* proto.h: migr's wire protocol, between peers and on the control socket.
 *
 * Every message is a frame: an 8-byte header (little-endian) then `len` bytes of payload.
 * Between peers each frame travels encrypted and authenticated (auth.h); on the local control
 * socket it travels as is. Decoding is strict: the length is checked against MIGR_FRAME_MAX
 * before anything is read or allocated, unknown types and versions are rejected, and every
 * payload must be consumed exactly. */
#ifndef MIGR_PROTO_H
#define MIGR_PROTO_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "migr.h"

#define MIGR_PROTO_VERSION 6	/* 2: moves carry their pages on channels of their own;
				 * 3: a job's row says what keeps it from moving;
				 * 4: SWIM's gossip kinds, a load vector carries CPU features;
				 * 5: a load vector carries the node's admin state (drain);
				 * 6: frozen jobs, file checks, a home's resync, attach */
#define MIGR_FRAME_HDR 8
#define MIGR_FRAME_MAX (256 * 1024)	/* payload bound, for every message type */

struct migr_frame_hdr {
	uint32_t len;		/* payload bytes that follow the header */
	uint8_t version;	/* MIGR_PROTO_VERSION */
	uint8_t type;		/* enum migr_msg_type */
	uint16_t flags;		/* must be 0 */
};

enum migr_msg_type {
	/* peer handshake, in the clear (auth.c) */
	MSG_HELLO = 1,
	MSG_HELLO_ACK = 2,
	MSG_AUTH = 3,
	/* peer messages, encrypted */
	MSG_GOSSIP = 10,
	MSG_JOB_START = 11,	/* home -> node: start this job */
	MSG_JOB_STARTED = 12,	/* node -> home */
	MSG_JOB_FAILED = 13,	/* node -> home: could not start */
	MSG_JOB_DATA = 14,	/* stdin home -> node; stdout, stderr node -> home; empty: EOF */
	MSG_JOB_ACK = 15,	/* bytes written out, returning flow-control credit */
	MSG_JOB_SIGNAL = 16,	/* -> node where the job runs */
	MSG_JOB_EXIT = 17,	/* node -> home, after the job's last output */
	MSG_PS_REQ = 18,
	MSG_PS_REPLY = 19,
	MSG_KILL_REQ = 20,	/* any node -> home -> node */
	MSG_KILL_REPLY = 21,
	MSG_JOB_RESYNC = 27,	/* a home that restarted -> node: send again what I did not ack
				 * (u8 0); node -> home: it follows (u8 1), or no such job here (2) */
	/* moving a job (migrate.c); images and pages go on the move's own channels (bulk.h) */
	MSG_MIG_REQ = 22,	/* origin -> home -> source */
	MSG_MIG_RESULT = 23,	/* -> origin */
	MSG_MIG_OFFER = 24,	/* source -> destination */
	MSG_MIG_ACCEPT = 25,	/* destination -> source: yes, and the move's key */
	MSG_MIG_REFUSE = 26,
	MSG_MIG_RESTORED = 30,	/* destination -> source, home: it runs there */
	MSG_MIG_DONE = 32,	/* destination -> source, home: every page is in */
	MSG_MIG_ABORT = 33,	/* anyone -> the others: the copy at the source is the one */
	MSG_BULK_ATTACH = 34,	/* first frame of a move's own channel (peers.h) */
	MSG_MIG_QUERY = 35,	/* source -> destination: how did this move end? */
	MSG_ADMIN_REQ = 36,	/* any node -> the node: drain or undrain yourself */
	MSG_ADMIN_REPLY = 37,
	MSG_MIG_FROZEN = 38,	/* source -> home: the job is frozen to that node's disk */
	MSG_MIG_FILES = 39,	/* source -> destination, for mmigrate --check: paths the job
				 * needs there */
	MSG_MIG_FILES_REPLY = 31,	/* those it cannot stat (31: unused since version 2) */
	/* control socket: requests */
	MSG_CTL_NODES = 40,
	MSG_CTL_STATUS = 41,
	MSG_CTL_LEAVE = 42,
	MSG_CTL_RUN = 43,	/* with three fds (SCM_RIGHTS) */
	MSG_CTL_SIGNAL = 44,
	MSG_CTL_KILL = 45,
	MSG_CTL_PS = 46,
	MSG_CTL_MIGRATE = 47,
	MSG_CTL_BALANCE = 48,	/* u8 on */
	MSG_CTL_DRAIN = 49,	/* str node, u8 migr_node_admin */
	MSG_CTL_ATTACH = 58,	/* str gpid, with three fds (SCM_RIGHTS): mrun --attach */
	/* gossip (gossip.h): SWIM's probes and push-pull, load vectors carried along */
	MSG_GOSSIP_PING = 50,	/* a probe (seq != 0) or news (seq 0): answer with an ack */
	MSG_GOSSIP_ACK = 51,	/* the answer; from a helper, GOSSIP_NACK: no answer came */
	MSG_GOSSIP_PING_REQ = 52,	/* probe that node for me, and tell me */
	MSG_GOSSIP_PUSH_PULL = 53,	/* part of a table; GOSSIP_PP_PULL: send me yours */
	/* control socket: replies */
	MSG_CTL_OK = 60,
	MSG_CTL_ERROR = 61,
	MSG_CTL_NODES_REPLY = 62,
	MSG_CTL_STATUS_REPLY = 63,
	MSG_CTL_RUN_REPLY = 64,
	MSG_CTL_EXIT = 65,
	MSG_CTL_PS_REPLY = 66,
	MSG_CTL_MIGRATE_REPLY = 67,
};

int migr_msg_type_known(uint8_t type);
const char *migr_msg_type_name(uint8_t type);

/* Header coding. Decoding returns 0, MIGR_EVERSION, MIGR_ETOOBIG or MIGR_EPROTO. */
void migr_hdr_encode(uint8_t out[MIGR_FRAME_HDR], uint8_t type, uint32_t len);
int migr_hdr_decode(const uint8_t in[MIGR_FRAME_HDR], struct migr_frame_hdr *hdr);

/* A growable little-endian writer; allocation cannot fail (xmalloc). */
struct mw {
	uint8_t *buf;
	size_t len, cap;
};
void mw_init(struct mw *w);
void mw_free(struct mw *w);
void mw_u8(struct mw *w, uint8_t v);
void mw_u16(struct mw *w, uint16_t v);
void mw_u32(struct mw *w, uint32_t v);
void mw_u64(struct mw *w, uint64_t v);
void mw_bytes(struct mw *w, const void *p, size_t n);
void mw_str(struct mw *w, const char *s);	/* u16 length, then the bytes */
/* Appends n bytes of room and returns them, for a caller to fill. */
uint8_t *mw_space(struct mw *w, size_t n);
/* Starts a frame: reserves the header, fixed up by mw_frame_end(). */
void mw_frame_begin(struct mw *w, uint8_t type);
void mw_frame_end(struct mw *w);

/* A bounded reader: after the first short read every further read fails too (r->bad). */
struct mr {
	const uint8_t *p;
	size_t left;
	int bad;
};
void mr_init(struct mr *r, const void *p, size_t n);
uint8_t mr_u8(struct mr *r);
uint16_t mr_u16(struct mr *r);
uint32_t mr_u32(struct mr *r);
uint64_t mr_u64(struct mr *r);
void mr_bytes(struct mr *r, void *out, size_t n);
/* Reads a string of at most max bytes into out[max + 1]; fails on longer or embedded NUL. */
void mr_str(struct mr *r, char *out, size_t max);
/* 0 when every read succeeded and nothing is left over, else MIGR_EPROTO. */
int mr_end(struct mr *r);

/* Where a node listens: a numeric address and a TCP port. */
struct migr_endpoint {
	char addr[MIGR_ADDR_MAX + 1];
	uint16_t port;
};

/* Names of nodes travel on the wire; only these are accepted. */
int migr_name_valid(const char *name);

/* ---- messages ---- */

/* A node's load vector, as gossip spreads it. */
struct migr_vector {
	uint32_t load_milli;	/* runnable tasks per CPU of capacity, x1000 */
	uint32_t cpus_milli;	/* CPU capacity, x1000 */
	uint64_t mem_free_kb;
	uint32_t jobs;
	uint64_t cpu_features;	/* the CPU's instruction-set extensions (cpufeat.h) */
	uint8_t admin;		/* enum migr_node_admin */
};

/* An entry's status. MSG_GOSSIP carries what the node itself said (alive, left); the
 * MSG_GOSSIP_* kinds also what the sender judges it (suspect, dead), SWIM's way. */
enum { GOSSIP_ALIVE = 0, GOSSIP_LEFT = 1, GOSSIP_SUSPECT = 2, GOSSIP_DEAD = 3 };

struct migr_gossip_entry {
	char name[MIGR_NAME_MAX + 1];
	char addr[MIGR_ADDR_MAX + 1];
	uint16_t port;
	uint8_t status;		/* GOSSIP_* */
	uint64_t incarnation;	/* raised at every start of that node's migrd, and by the node
				 * itself when it refutes a suspicion */
	uint64_t heartbeat;	/* bumped every period by that node: orders its load vectors */
	uint32_t age_ms;	/* MSG_GOSSIP: how long ago the sender heard this */
	struct migr_vector vec;
	char from[MIGR_NAME_MAX + 1];	/* GOSSIP_SUSPECT: whose probe of the node failed */
};

#define GOSSIP_MAX_ENTRIES 64	/* bound on one message: sender + window */
#define GOSSIP_WINDOW_MAX (GOSSIP_MAX_ENTRIES - 1)

#define GOSSIP_NACK 1		/* MSG_GOSSIP_ACK: the helper's ping went unanswered */
#define GOSSIP_PP_PULL 1	/* MSG_GOSSIP_PUSH_PULL: answer with your own table */
#define GOSSIP_PP_LAST 2	/* MSG_GOSSIP_PUSH_PULL: the last part of the sender's table */
#define GOSSIP_PP_BUSY 4	/* MSG_GOSSIP_PUSH_PULL: a busy node's few entries, not its table */

/* One gossip message of any kind. Every kind starts its entries with the sender's own,
 * alive or left: it speaks for its sender only. */
struct migr_gossip_msg {
	uint8_t type;		/* MSG_GOSSIP_*; anything else is coded as MSG_GOSSIP */
	uint8_t flags;		/* ACK: GOSSIP_NACK; PUSH_PULL: GOSSIP_PP_* */
	uint32_t seq;		/* PING, ACK, PING_REQ: pairs an answer with its probe */
	char target[MIGR_NAME_MAX + 1];	/* PING, PING_REQ: the node probed */
	struct migr_endpoint at;	/* PING_REQ: where the node probed listens */
	uint16_t count;		/* entries[0] is the sender's own */
	struct migr_gossip_entry entries[GOSSIP_MAX_ENTRIES];
};

/* The payload of m, as its type says. */
void migr_gossip_encode(struct mw *w, const struct migr_gossip_msg *m);
/* The bytes migr_gossip_encode() would write, without writing them. */
size_t migr_gossip_size(const struct migr_gossip_msg *m);
/* Decodes a MSG_GOSSIP payload. */
int migr_gossip_decode(const void *p, size_t n, struct migr_gossip_msg *m);
/* Decodes the payload of a frame of any gossip type; MIGR_EPROTO for any other type. */
int migr_gossip_decode_type(uint8_t type, const void *p, size_t n, struct migr_gossip_msg *m);
/* MSG_GOSSIP or one of the MSG_GOSSIP_* kinds. */
int migr_gossip_type(uint8_t type);

/* Control socket replies. */
void migr_nodes_encode(struct mw *w, const struct migr_node *nodes, size_t count);
/* Allocates *nodesp (free()); at most MIGR_CTL_NODES_MAX entries. */
#define MIGR_CTL_NODES_MAX 4096
int migr_nodes_decode(const void *p, size_t n, struct migr_node **nodesp, size_t *countp);
void migr_status_encode(struct mw *w, const struct migr_status *s);
int migr_status_decode(const void *p, size_t n, struct migr_status *s);
void migr_error_encode(struct mw *w, int code, const char *msg);
#define MIGR_ERRMSG_MAX 511
/* MSG_CTL_MIGRATE's mode byte: migr_mode, or these for `mmigrate --check` and
 * `mmigrate --freeze`. */
#define MIGR_CTL_MODE_CHECK 2
#define MIGR_CTL_MODE_FREEZE 3
/* The code of an error that lists what keeps a job from moving, one reason per line. */
#define MIGR_CANTMOVE (-EXDEV)
int migr_error_decode(const void *p, size_t n, int *code, char msg[MIGR_ERRMSG_MAX + 1]);

/* ---- jobs ---- */

/* Strings packed NUL-separated in one allocation: argv, the environment. */
struct migr_strv {
	uint32_t count;
	uint32_t len;		/* bytes in data, every string's NUL included */
	char *data;
};
void migr_strv_from(struct migr_strv *v, char *const *list);
/* A NULL-terminated array pointing into v->data; free() it (not the strings). */
char **migr_strv_list(const struct migr_strv *v);
void migr_strv_free(struct migr_strv *v);

#define JOB_GROUPS_MAX 64
#define JOB_RLIMITS_MAX 16

struct migr_rlimit {
	uint8_t resource;
	uint64_t cur, max;
};

/* Everything needed to start a job, wherever it runs. */
struct migr_job_spec {
	char gpid[MIGR_GPID_MAX + 1];	/* filled by the home node */
	char home[MIGR_NAME_MAX + 1];
	char node[MIGR_NAME_MAX + 1];	/* requested: "", "best" or a name */
	uint32_t uid, gid;		/* filled from SO_PEERCRED at home */
	uint16_t ngroups;
	uint32_t groups[JOB_GROUPS_MAX];
	uint32_t umask;
	uint32_t flags;
	char cwd[4096];
	uint8_t nrlimits;
	struct migr_rlimit rlimits[JOB_RLIMITS_MAX];
	struct migr_strv argv, env;
};
void migr_job_spec_encode(struct mw *w, const struct migr_job_spec *s);
/* Allocates argv and env (migr_job_spec_free). */
int migr_job_spec_decode(struct mr *r, struct migr_job_spec *s);
void migr_job_spec_free(struct migr_job_spec *s);

void migr_job_encode(struct mw *w, const struct migr_job *j);
void migr_job_decode(struct mr *r, struct migr_job *j);
/* A list of jobs: u32 count, then each. At most MIGR_JOBS_MAX: a job takes at most
 * MIGR_JOB_WIRE_MAX bytes, so that many fit in one frame with room to spare. Longer lists
 * (mps of a big cluster) travel as pages of at most that many, each with a "more" flag. */
#define MIGR_JOB_WIRE_MAX (3 * 2 + MIGR_GPID_MAX + 2 * MIGR_NAME_MAX + 4 + 4 + 1 + 3 * 8 + \
			   4 + 4 + 2 + MIGR_CMD_MAX + 2 + MIGR_WHY_MAX)
#define MIGR_JOBS_MAX 400
_Static_assert(4 + 64 + MIGR_JOBS_MAX * MIGR_JOB_WIRE_MAX <= MIGR_FRAME_MAX,
	       "a page of jobs fits in a frame");
void migr_jobs_encode(struct mw *w, const struct migr_job *jobs, size_t n);
int migr_jobs_decode(struct mr *r, struct migr_job **jobs, size_t *n);

int migr_gpid_valid(const char *gpid);
/* The home node's name of a gpid, into home[MIGR_NAME_MAX + 1]; -1 if malformed. */
int migr_gpid_home(const char *gpid, char *home);

#endif
