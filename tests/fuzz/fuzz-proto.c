/* fuzz-proto.c: libFuzzer harness for the wire decoders of libmigr/proto.c. The first
 * input byte picks a decoder, the rest is its input; what decodes must encode back. */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Everything a decoder accepts must be a fixed point of encode(decode()), byte for byte,
 * except where a double in thousandths lies between (see same_milli). */
static void same_bytes(const struct mw *w, const uint8_t *p, size_t n)
{
	FUZZ_CHECK(w->len == n);
	FUZZ_CHECK(n == 0 || memcmp(w->buf, p, n) == 0);
}

/* A value that went u64 -> double -> u64 thousandths comes back within rounding. */
static void same_milli(double a, double b)
{
	FUZZ_CHECK(isfinite(a) && isfinite(b) && a >= 0 && b >= 0);
	FUZZ_CHECK(fabs(a - b) <= 1e-3 + 1e-12 * fmax(a, b));
}

static void check_str(const char *s, size_t max)
{
	FUZZ_CHECK(strlen(s) <= max);
}

static void do_hdr(const uint8_t *p, size_t n)
{
	struct migr_frame_hdr h;
	uint8_t out[MIGR_FRAME_HDR];
	if (n < MIGR_FRAME_HDR)
		return;
	int r = migr_hdr_decode(p, &h);
	FUZZ_CHECK(r == 0 || r == MIGR_EVERSION || r == MIGR_ETOOBIG || r == MIGR_EPROTO);
	if (r < 0)
		return;
	FUZZ_CHECK(h.version == MIGR_PROTO_VERSION && h.len <= MIGR_FRAME_MAX);
	FUZZ_CHECK(h.flags == 0 && migr_msg_type_known(h.type));
	migr_hdr_encode(out, h.type, h.len);
	FUZZ_CHECK(memcmp(out, p, MIGR_FRAME_HDR) == 0);
}

static void do_gossip(const uint8_t *p, size_t n)
{
	static struct migr_gossip_msg m;	/* 64 entries: too large for the stack */
	struct mw w;
	if (migr_gossip_decode(p, n, &m) < 0)
		return;
	FUZZ_CHECK(m.count >= 1 && m.count <= GOSSIP_MAX_ENTRIES);
	for (uint16_t i = 0; i < m.count; i++) {
		FUZZ_CHECK(migr_name_valid(m.entries[i].name));
		check_str(m.entries[i].addr, MIGR_ADDR_MAX);
		FUZZ_CHECK(m.entries[i].status <= GOSSIP_LEFT);
	}
	mw_init(&w);
	migr_gossip_encode(&w, &m);
	same_bytes(&w, p, n);
	mw_free(&w);
}

static void same_node(const struct migr_node *a, const struct migr_node *b)
{
	FUZZ_CHECK(!strcmp(a->name, b->name) && !strcmp(a->addr, b->addr));
	FUZZ_CHECK(a->port == b->port && a->state == b->state && a->self == b->self);
	FUZZ_CHECK(a->mem_free_kb == b->mem_free_kb && a->jobs == b->jobs);
	FUZZ_CHECK(a->incarnation == b->incarnation && a->age_ms == b->age_ms);
	same_milli(a->load, b->load);
	same_milli(a->cpus, b->cpus);
}

static void do_nodes(const uint8_t *p, size_t n)
{
	struct migr_node *nodes = NULL, *again = NULL;
	size_t count = 0, count2 = 0;
	struct mw w;
	if (migr_nodes_decode(p, n, &nodes, &count) < 0) {
		FUZZ_CHECK(nodes == NULL);
		return;
	}
	FUZZ_CHECK(nodes != NULL && count <= MIGR_CTL_NODES_MAX);
	for (size_t i = 0; i < count; i++) {
		check_str(nodes[i].name, MIGR_NAME_MAX);
		check_str(nodes[i].addr, MIGR_ADDR_MAX);
	}
	/* the daemon and the tools pass such values on: encode them again */
	mw_init(&w);
	migr_nodes_encode(&w, nodes, count);
	uint8_t *c = fuzz_copy(w.buf, w.len);
	FUZZ_CHECK(migr_nodes_decode(c, w.len, &again, &count2) == 0 && count2 == count);
	for (size_t i = 0; i < count; i++)
		same_node(&nodes[i], &again[i]);
	free(c);
	free(again);
	free(nodes);
	mw_free(&w);
}

static void do_status(const uint8_t *p, size_t n)
{
	struct migr_status s, t;
	struct mw w;
	if (migr_status_decode(p, n, &s) < 0)
		return;
	check_str(s.name, MIGR_NAME_MAX);
	check_str(s.addr, MIGR_ADDR_MAX);
	mw_init(&w);
	migr_status_encode(&w, &s);
	uint8_t *c = fuzz_copy(w.buf, w.len);
	FUZZ_CHECK(migr_status_decode(c, w.len, &t) == 0);
	FUZZ_CHECK(!strcmp(s.name, t.name) && !strcmp(s.addr, t.addr) && s.port == t.port);
	FUZZ_CHECK(s.incarnation == t.incarnation && s.uptime_ms == t.uptime_ms);
	FUZZ_CHECK(s.nodes_alive == t.nodes_alive && s.nodes_total == t.nodes_total);
	FUZZ_CHECK(s.peers_connected == t.peers_connected && s.pid == t.pid);
	FUZZ_CHECK(s.cpu_ns == t.cpu_ns && s.rss_kb == t.rss_kb);
	FUZZ_CHECK(s.mem_free_kb == t.mem_free_kb && !!s.balance == t.balance);
	same_milli(s.load, t.load);
	same_milli(s.cpus, t.cpus);
	free(c);
	mw_free(&w);
}

static void do_error(const uint8_t *p, size_t n)
{
	char msg[MIGR_ERRMSG_MAX + 1];
	int code;
	struct mw w;
	if (migr_error_decode(p, n, &code, msg) < 0)
		return;
	check_str(msg, MIGR_ERRMSG_MAX);
	mw_init(&w);
	migr_error_encode(&w, code, msg);
	same_bytes(&w, p, n);
	mw_free(&w);
}

/* The strings of a decoded strv lie inside its data, count of them. */
static void check_strv(const struct migr_strv *v)
{
	char **list = migr_strv_list(v);
	size_t total = 0;
	for (uint32_t i = 0; i < v->count; i++) {
		FUZZ_CHECK(list[i] >= v->data && list[i] < v->data + v->len);
		total += strlen(list[i]) + 1;
	}
	FUZZ_CHECK(list[v->count] == NULL && total == v->len);
	free(list);
}

static void same_spec(const struct migr_job_spec *a, const struct migr_job_spec *b)
{
	FUZZ_CHECK(!strcmp(a->gpid, b->gpid) && !strcmp(a->home, b->home));
	FUZZ_CHECK(!strcmp(a->node, b->node) && !strcmp(a->cwd, b->cwd));
	FUZZ_CHECK(a->uid == b->uid && a->gid == b->gid && a->ngroups == b->ngroups);
	FUZZ_CHECK(!memcmp(a->groups, b->groups, a->ngroups * sizeof(a->groups[0])));
	FUZZ_CHECK(a->umask == b->umask && a->flags == b->flags && a->nrlimits == b->nrlimits);
	for (uint8_t i = 0; i < a->nrlimits; i++)
		FUZZ_CHECK(a->rlimits[i].resource == b->rlimits[i].resource &&
			   a->rlimits[i].cur == b->rlimits[i].cur &&
			   a->rlimits[i].max == b->rlimits[i].max);
	FUZZ_CHECK(a->argv.count == b->argv.count && a->argv.len == b->argv.len);
	FUZZ_CHECK(!memcmp(a->argv.data, b->argv.data, a->argv.len));
	FUZZ_CHECK(a->env.count == b->env.count && a->env.len == b->env.len);
	FUZZ_CHECK(!memcmp(a->env.data, b->env.data, a->env.len));
}

static void do_job_spec(const uint8_t *p, size_t n)
{
	static struct migr_job_spec s, t;	/* 4 KiB of cwd each */
	struct mr r;
	struct mw w;
	mr_init(&r, p, n);
	if (migr_job_spec_decode(&r, &s) < 0) {
		FUZZ_CHECK(s.argv.data == NULL && s.env.data == NULL);
		return;
	}
	FUZZ_CHECK(s.ngroups <= JOB_GROUPS_MAX && s.nrlimits <= JOB_RLIMITS_MAX);
	FUZZ_CHECK(s.argv.count >= 1 && s.umask <= 0777);
	check_strv(&s.argv);
	check_strv(&s.env);
	/* bytes left over are the caller's to refuse; the spec itself encodes back to as many
	 * bytes as it took (not the same ones: umask loses its bits beyond 0777) */
	mw_init(&w);
	migr_job_spec_encode(&w, &s);
	FUZZ_CHECK(w.len == n - r.left);
	uint8_t *c = fuzz_copy(w.buf, w.len);
	mr_init(&r, c, w.len);
	FUZZ_CHECK(migr_job_spec_decode(&r, &t) == 0 && mr_end(&r) == 0);
	same_spec(&s, &t);
	migr_job_spec_free(&t);
	migr_job_spec_free(&s);
	free(c);
	mw_free(&w);
}

static void same_job(const struct migr_job *a, const struct migr_job *b)
{
	FUZZ_CHECK(!strcmp(a->gpid, b->gpid) && !strcmp(a->home, b->home));
	FUZZ_CHECK(!strcmp(a->node, b->node) && !strcmp(a->cmd, b->cmd));
	FUZZ_CHECK(a->pid == b->pid && a->uid == b->uid && a->state == b->state);
	FUZZ_CHECK(a->rss_kb == b->rss_kb && a->cpu_ms == b->cpu_ms);
	FUZZ_CHECK(a->moves == b->moves && a->flags == b->flags);
	same_milli(a->cpu, b->cpu);
}

static void do_jobs(const uint8_t *p, size_t n)
{
	struct migr_job *jobs = NULL, *again = NULL;
	size_t count = 0, count2 = 0;
	struct mr r;
	struct mw w;
	mr_init(&r, p, n);
	if (migr_jobs_decode(&r, &jobs, &count) < 0) {
		FUZZ_CHECK(jobs == NULL);
		return;
	}
	FUZZ_CHECK(jobs != NULL && count <= MIGR_JOBS_MAX);
	/* a home passes the jobs its peers report on to mps (MSG_PS_REPLY, ps_finish) */
	mw_init(&w);
	migr_jobs_encode(&w, jobs, count);
	uint8_t *c = fuzz_copy(w.buf, w.len);
	mr_init(&r, c, w.len);
	FUZZ_CHECK(migr_jobs_decode(&r, &again, &count2) == 0 && mr_end(&r) == 0);
	FUZZ_CHECK(count2 == count);
	for (size_t i = 0; i < count; i++)
		same_job(&jobs[i], &again[i]);
	free(c);
	free(again);
	free(jobs);
	mw_free(&w);
}

static void do_job(const uint8_t *p, size_t n)
{
	struct migr_job j, k;
	struct mr r;
	struct mw w;
	mr_init(&r, p, n);
	migr_job_decode(&r, &j);
	if (r.bad)
		return;
	check_str(j.gpid, MIGR_GPID_MAX);
	check_str(j.home, MIGR_NAME_MAX);
	check_str(j.node, MIGR_NAME_MAX);
	check_str(j.cmd, MIGR_CMD_MAX);
	mw_init(&w);
	migr_job_encode(&w, &j);
	uint8_t *c = fuzz_copy(w.buf, w.len);
	mr_init(&r, c, w.len);
	migr_job_decode(&r, &k);
	FUZZ_CHECK(mr_end(&r) == 0);
	same_job(&j, &k);
	free(c);
	mw_free(&w);
}

/* The bounded reader against a model of it: [nops][op...][data...], each op a read
 * (low 3 bits) with an argument (high 5 bits) for mr_bytes and mr_str. */
static void do_reader(const uint8_t *p, size_t n)
{
	char str[4096 + 1];
	uint8_t bytes[32];
	struct mr r;
	if (n < 1 || (size_t)p[0] + 1 > n)
		return;
	const uint8_t *ops = p + 1, *d = ops + p[0];
	size_t dn = n - 1 - p[0], at = 0;
	int bad = 0;
	mr_init(&r, d, dn);
	for (size_t i = 0; i < p[0]; i++) {
		unsigned op = (ops[i] & 7) % RD_COUNT, arg = ops[i] >> 3;
		size_t w = op == RD_U8 ? 1 : op == RD_U16 ? 2 : op == RD_U32 ? 4 : 8;
		uint64_t v = 0, want = 0;
		switch (op) {
		case RD_U8:
		case RD_U16:
		case RD_U32:
		case RD_U64:
			v = op == RD_U8 ? mr_u8(&r) : op == RD_U16 ? mr_u16(&r) :
			    op == RD_U32 ? mr_u32(&r) : mr_u64(&r);
			if (!bad && dn - at >= w) {
				for (size_t k = 0; k < w; k++)
					want |= (uint64_t)d[at + k] << (8 * k);
				at += w;
			} else {
				bad = 1;
			}
			FUZZ_CHECK(v == (bad ? 0 : want));
			break;
		case RD_BYTES:
			mr_bytes(&r, bytes, arg);
			if (!bad && dn - at >= arg) {
				FUZZ_CHECK(!memcmp(bytes, d + at, arg));
				at += arg;
			} else {
				bad = 1;
				for (unsigned k = 0; k < arg; k++)
					FUZZ_CHECK(bytes[k] == 0);
			}
			break;
		case RD_STR: {
			size_t max = arg == 31 ? 4096 : arg * 4, len;
			mr_str(&r, str, max);
			if (bad || dn - at < 2) {
				bad = 1;
			} else if ((len = d[at] | (size_t)d[at + 1] << 8) > max ||
				   dn - at - 2 < len || memchr(d + at + 2, 0, len)) {
				bad = 1;
			} else {
				FUZZ_CHECK(strlen(str) == len && !memcmp(str, d + at + 2, len));
				at += 2 + len;
			}
			if (bad)
				FUZZ_CHECK(str[0] == '\0');
			break;
		}
		default:
			FUZZ_CHECK(mr_end(&r) == (bad || at != dn ? MIGR_EPROTO : 0));
			break;
		}
		FUZZ_CHECK(!!r.bad == bad);
		if (!bad)
			FUZZ_CHECK(r.left == dn - at && r.p == d + at);
	}
	FUZZ_CHECK(mr_end(&r) == (bad || at != dn ? MIGR_EPROTO : 0));
}

static void do_names(const uint8_t *p, size_t n)
{
	char home[MIGR_NAME_MAX + 1];
	char *s = malloc(n + 1);
	if (!s)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	int valid = migr_name_valid(s);
	FUZZ_CHECK(!valid || (strlen(s) >= 1 && strlen(s) <= MIGR_NAME_MAX));
	if (migr_gpid_home(s, home) == 0) {
		FUZZ_CHECK(migr_name_valid(home) && !strncmp(s, home, strlen(home)));
		FUZZ_CHECK(s[strlen(home)] == '.');
	}
	if (migr_gpid_valid(s))
		FUZZ_CHECK(strlen(s) <= MIGR_GPID_MAX);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	/* an exact-size copy: the decoder's input ends where the heap block does */
	size_t n = size - 1;
	uint8_t *p = fuzz_copy(data + 1, n);
	switch (data[0] % PROTO_COUNT) {
	case PROTO_HDR:
		do_hdr(p, n);
		break;
	case PROTO_GOSSIP:
		do_gossip(p, n);
		break;
	case PROTO_NODES:
		do_nodes(p, n);
		break;
	case PROTO_STATUS:
		do_status(p, n);
		break;
	case PROTO_ERROR:
		do_error(p, n);
		break;
	case PROTO_JOB_SPEC:
		do_job_spec(p, n);
		break;
	case PROTO_JOBS:
		do_jobs(p, n);
		break;
	case PROTO_JOB:
		do_job(p, n);
		break;
	case PROTO_READER:
		do_reader(p, n);
		break;
	case PROTO_NAMES:
		do_names(p, n);
		break;
	}
	free(p);
	return 0;
}
