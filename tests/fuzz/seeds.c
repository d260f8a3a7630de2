/* seeds.c: writes the seed corpora of the fuzz harnesses, made by the encoders themselves:
 * `seeds DIR` fills DIR/proto, DIR/auth, DIR/gossip and DIR/config. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth.h"
#include "fuzz.h"
#include "gossip.h"
#include "proto.h"

static char dir[4096];

static void subdir(const char *top, const char *name)
{
	snprintf(dir, sizeof(dir), "%s/%s", top, name);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "seeds: %s: %s\n", dir, strerror(errno));
		exit(1);
	}
}

static void put(const char *name, const struct mw *w)
{
	fuzz_write(dir, name, w->buf, w->len);
}

/* ---- fuzz-proto: [selector][payload] ---- */

static void proto_put(const char *name, uint8_t sel, const struct mw *payload)
{
	struct mw w;
	mw_init(&w);
	mw_u8(&w, sel);
	mw_bytes(&w, payload->buf, payload->len);
	put(name, &w);
	mw_free(&w);
}

static void gossip_sample(struct migr_gossip_msg *m, uint16_t count)
{
	memset(m, 0, sizeof(*m));
	m->count = count;
	for (uint16_t i = 0; i < count; i++) {
		struct migr_gossip_entry *e = &m->entries[i];
		snprintf(e->name, sizeof(e->name), i ? "node%u" : "sender", i);
		snprintf(e->addr, sizeof(e->addr), i % 2 ? "fe80::%x" : "10.0.0.%u", i + 2);
		e->port = (uint16_t)(7470 + i);
		e->status = i == 2 ? GOSSIP_LEFT : GOSSIP_ALIVE;
		e->incarnation = 1 + i;
		e->heartbeat = 100 * i;
		e->age_ms = 250 * i;
		e->vec.load_milli = 1500 * i;
		e->vec.cpus_milli = 4000;
		e->vec.mem_free_kb = 1ull << 20;
		e->vec.jobs = i;
	}
}

static void nodes_sample(struct migr_node *nd, size_t n)
{
	memset(nd, 0, n * sizeof(*nd));
	for (size_t i = 0; i < n; i++) {
		snprintf(nd[i].name, sizeof(nd[i].name), "node%zu", i);
		snprintf(nd[i].addr, sizeof(nd[i].addr), "10.0.0.%zu", i + 1);
		nd[i].port = 7470;
		nd[i].state = (uint8_t)(i % 4);
		nd[i].self = i == 0;
		nd[i].load = 0.125 * (double)i;
		nd[i].cpus = 2.5;
		nd[i].mem_free_kb = 123456789ull * (i + 1);
		nd[i].jobs = (uint32_t)i;
		nd[i].incarnation = 1000 + i;
		nd[i].age_ms = (uint32_t)(i * 250);
	}
}

static void job_sample(struct migr_job *j, unsigned i)
{
	memset(j, 0, sizeof(*j));
	snprintf(j->gpid, sizeof(j->gpid), "home%u.%u", i, 100 + i);
	snprintf(j->home, sizeof(j->home), "home%u", i);
	snprintf(j->node, sizeof(j->node), "node%u", i + 1);
	j->pid = 4000 + i;
	j->uid = 1000;
	j->state = 'R';
	j->cpu = 99.5;
	j->rss_kb = 1ull << 20;
	j->cpu_ms = 12345 * i;
	j->moves = i;
	j->flags = MIGR_RUN_DETACHED;
	snprintf(j->cmd, sizeof(j->cmd), "sleep %u", i);
}

static void proto_seeds(void)
{
	static struct migr_gossip_msg gm;
	static struct migr_job_spec spec;
	struct migr_node nodes[3];
	struct migr_job jobs[2];
	struct migr_status st;
	struct mw w;
	char name[64];

	mw_init(&w);
	static const uint8_t types[] = { MSG_HELLO, MSG_GOSSIP, MSG_CTL_RUN, MSG_CTL_PS_REPLY };
	for (size_t i = 0; i < sizeof(types); i++) {
		w.len = 0;
		migr_hdr_encode(mw_space(&w, MIGR_FRAME_HDR), types[i], (uint32_t)(i * 1000));
		snprintf(name, sizeof(name), "hdr-%s", migr_msg_type_name(types[i]));
		proto_put(name, PROTO_HDR, &w);
	}

	static const uint16_t counts[] = { 1, 3, GOSSIP_MAX_ENTRIES };
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		w.len = 0;
		gossip_sample(&gm, counts[i]);
		migr_gossip_encode(&w, &gm);
		snprintf(name, sizeof(name), "gossip-%u", counts[i]);
		proto_put(name, PROTO_GOSSIP, &w);
	}

	for (size_t n = 0; n <= 3; n += 3) {
		w.len = 0;
		nodes_sample(nodes, n);
		migr_nodes_encode(&w, nodes, n);
		snprintf(name, sizeof(name), "nodes-%zu", n);
		proto_put(name, PROTO_NODES, &w);
	}

	memset(&st, 0, sizeof(st));
	snprintf(st.name, sizeof(st.name), "node1");
	snprintf(st.addr, sizeof(st.addr), "::1");
	st.port = 7470;
	st.incarnation = 7;
	st.uptime_ms = 60000;
	st.nodes_alive = st.nodes_total = 3;
	st.pid = 42;
	st.load = 1.75;
	st.cpus = 4;
	st.balance = 1;
	w.len = 0;
	migr_status_encode(&w, &st);
	proto_put("status", PROTO_STATUS, &w);

	w.len = 0;
	migr_error_encode(&w, MIGR_EREFUSED, "no such node: nodeX");
	proto_put("error", PROTO_ERROR, &w);

	static char *argv[] = { "/bin/sh", "-c", "echo hi", NULL };
	static char *env[] = { "HOME=/root", "PATH=/bin:/usr/bin", NULL };
	memset(&spec, 0, sizeof(spec));
	snprintf(spec.gpid, sizeof(spec.gpid), "node1.7");
	snprintf(spec.home, sizeof(spec.home), "node1");
	snprintf(spec.node, sizeof(spec.node), "best");
	spec.uid = spec.gid = 1000;
	spec.ngroups = 2;
	spec.groups[0] = 1000;
	spec.groups[1] = 27;
	spec.umask = 022;
	spec.flags = MIGR_RUN_NO_MIGRATE;
	snprintf(spec.cwd, sizeof(spec.cwd), "/home/user");
	spec.nrlimits = 2;
	spec.rlimits[0] = (struct migr_rlimit){ 7, 1024, 4096 };
	spec.rlimits[1] = (struct migr_rlimit){ 3, UINT64_MAX, UINT64_MAX };
	migr_strv_from(&spec.argv, argv);
	migr_strv_from(&spec.env, env);
	w.len = 0;
	migr_job_spec_encode(&w, &spec);
	proto_put("job-spec", PROTO_JOB_SPEC, &w);
	migr_job_spec_free(&spec);

	for (size_t n = 0; n <= 2; n += 2) {
		for (unsigned i = 0; i < n; i++)
			job_sample(&jobs[i], i);
		w.len = 0;
		migr_jobs_encode(&w, jobs, n);
		snprintf(name, sizeof(name), "jobs-%zu", n);
		proto_put(name, PROTO_JOBS, &w);
	}
	job_sample(&jobs[0], 1);
	w.len = 0;
	migr_job_encode(&w, &jobs[0]);
	proto_put("job", PROTO_JOB, &w);

	/* reader: u8 u16 u32 u64 bytes(5) str(max 40) end, over data that fits */
	static const uint8_t ops[] = { RD_U8, RD_U16, RD_U32, RD_U64, RD_BYTES | 5 << 3,
				       RD_STR | 10 << 3, RD_END };
	w.len = 0;
	mw_u8(&w, sizeof(ops));
	mw_bytes(&w, ops, sizeof(ops));
	mw_u8(&w, 1);
	mw_u16(&w, 2);
	mw_u32(&w, 3);
	mw_u64(&w, 4);
	mw_bytes(&w, "fives", 5);
	mw_str(&w, "a string");
	proto_put("reader", PROTO_READER, &w);

	static const char *names[] = { "node1.42", "n.e.t.7", "node_1-x", "a b.1" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		w.len = 0;
		mw_bytes(&w, names[i], strlen(names[i]));
		snprintf(name, sizeof(name), "names-%zu", i);
		proto_put(name, PROTO_NAMES, &w);
	}
	mw_free(&w);
}

/* ---- fuzz-auth: [mode] then [type][record]... ---- */

static void auth_rec(struct mw *w, uint8_t type, const uint8_t *p, size_t n)
{
	mw_u8(w, type);
	mw_record(w, p, n);
}

/* The frame in f, as a record of its type. */
static void auth_frame(struct mw *w, const struct mw *f)
{
	auth_rec(w, f->buf[5], f->buf + MIGR_FRAME_HDR, f->len - MIGR_FRAME_HDR);
}

static int auth_step(struct migr_auth *a, const struct mw *in, struct mw *out)
{
	fuzz_rng_party(a->is_client ? PARTY_CLIENT : PARTY_SERVER);
	out->len = 0;
	return migr_auth_step(a, in->buf[5], in->buf + MIGR_FRAME_HDR,
			      in->len - MIGR_FRAME_HDR, out);
}

/* Seals a small frame of the given type and appends its ciphertext as a record. */
static void auth_sealed(struct mw *w, struct migr_auth *a, uint8_t type, const char *text)
{
	struct mw f, s;
	mw_init(&f);
	mw_init(&s);
	mw_frame_begin(&f, type);
	mw_str(&f, text);
	mw_frame_end(&f);
	migr_auth_seal(a, f.buf, f.len, &s);
	auth_rec(w, AUTH_REC_SEALED, s.buf + 4, s.len - 4);
	mw_free(&f);
	mw_free(&s);
}

/* A genuine handshake, with the random streams the harness replays (fuzz_rng_*). */
static void auth_seeds(void)
{
	struct migr_auth c, s;
	struct mw hello, ack, auth, to_s, to_c;

	fuzz_rng_reset();
	if (migr_auth_init(&c, 1, &fuzz_key, AUTH_CLIENT_NAME) < 0 ||
	    migr_auth_init(&s, 0, &fuzz_key, AUTH_SERVER_NAME) < 0)
		exit(1);
	mw_init(&hello);
	mw_init(&ack);
	mw_init(&auth);
	mw_init(&to_s);
	mw_init(&to_c);
	fuzz_rng_party(PARTY_CLIENT);
	migr_auth_hello(&c, &hello);
	if (auth_step(&s, &hello, &ack) < 0 || auth_step(&c, &ack, &auth) < 0 ||
	    auth_step(&s, &auth, &to_s) < 0 || c.state != AUTH_READY || s.state != AUTH_READY) {
		fprintf(stderr, "seeds: the handshake failed\n");
		exit(1);
	}

	/* what reaches the server: HELLO, then AUTH, then sealed records */
	to_s.len = 0;
	mw_u8(&to_s, AUTH_AS_SERVER);
	auth_frame(&to_s, &hello);
	put("server-hello", &to_s);
	auth_frame(&to_s, &auth);
	put("server-auth", &to_s);
	auth_sealed(&to_s, &c, MSG_GOSSIP, "hello over the stream");
	auth_sealed(&to_s, &c, MSG_JOB_DATA, "");
	put("server-stream", &to_s);
	auth_frame(&to_s, &hello);	/* a handshake frame once ready: refused */
	put("server-late-hello", &to_s);

	/* what reaches the client: HELLO_ACK, then sealed records */
	mw_u8(&to_c, AUTH_AS_CLIENT);
	auth_frame(&to_c, &ack);
	put("client-ack", &to_c);
	auth_sealed(&to_c, &s, MSG_GOSSIP, "and back");
	auth_sealed(&to_c, &s, MSG_PS_REPLY, "a second record");
	put("client-stream", &to_c);

	migr_auth_clear(&c);
	migr_auth_clear(&s);
	mw_free(&hello);
	mw_free(&ack);
	mw_free(&auth);
	mw_free(&to_s);
	mw_free(&to_c);
}

/* ---- fuzz-gossip: [params] then [op][record]... ---- */

/* A few nodes gossiping with the harness's own node ("self"): everything self hears,
 * and when it ticks, becomes the input, so the harness replays the same conversation. */
#define SIM_PEERS 3

struct sim_node {
	char name[MIGR_NAME_MAX + 1], addr[MIGR_ADDR_MAX + 1];
	int up;
	struct gossip g;
};

struct sim_msg {
	int to;
	struct migr_gossip_msg m;
};

static struct sim {
	struct sim_node nodes[1 + SIM_PEERS];	/* [0] is self */
	struct sim_msg q[256];
	size_t nq;
	uint64_t now;
	uint32_t waited;	/* of the period, since its tick */
	struct mw in;		/* the input being written */
} sim;

/* fuzz-gossip's GOP_RECEIVE records start with an index into its gossip_kinds[] */
static uint8_t kind_index(uint8_t type)
{
	static const uint8_t kinds[] = {
		MSG_GOSSIP, MSG_GOSSIP_PING, MSG_GOSSIP_ACK, MSG_GOSSIP_PING_REQ,
		MSG_GOSSIP_PUSH_PULL,
	};
	for (uint8_t i = 0; i < sizeof(kinds); i++)
		if (kinds[i] == type)
			return i;
	return 0;
}

static void sim_send(void *ctx, const char *addr, uint16_t port, const struct migr_gossip_msg *m)
{
	for (int i = 0; i <= SIM_PEERS; i++)
		if (!strcmp(sim.nodes[i].addr, addr) && sim.nq < 256) {
			sim.q[sim.nq].to = i;
			sim.q[sim.nq++].m = *m;
		}
}

static void sim_op(uint8_t op, uint64_t advance, const void *p, size_t n)
{
	mw_u8(&sim.in, (uint8_t)(op | (advance / GOSSIP_STEP_MS) << 3));
	mw_record(&sim.in, p, n);
}

static void sim_start(int i, const struct gossip_params *p, uint64_t incarnation)
{
	struct sim_node *nd = &sim.nodes[i];
	struct gossip_transport t = { sim_send, NULL, nd };
	if (i == 0) {
		gossip_init(&nd->g, p, &t, GOSSIP_SELF_NAME, GOSSIP_SELF_ADDR, GOSSIP_SELF_PORT,
			    GOSSIP_SELF_INCARNATION, 1, sim.now);
	} else {
		gossip_init(&nd->g, p, &t, nd->name, nd->addr, GOSSIP_SELF_PORT, incarnation,
			    (uint64_t)i * 7919, sim.now);
		gossip_add_seed(&nd->g, GOSSIP_SELF_ADDR, GOSSIP_SELF_PORT);
	}
	nd->up = 1;
}

/* Delivers what was sent; what reaches self is written down as it arrives. */
static void sim_deliver(void)
{
	static struct sim_msg q[256];
	for (int pass = 0; pass < 4 && sim.nq; pass++) {
		size_t n = sim.nq;
		memcpy(q, sim.q, n * sizeof(q[0]));
		sim.nq = 0;
		for (size_t i = 0; i < n; i++) {
			struct sim_node *to = &sim.nodes[q[i].to];
			if (!to->up)
				continue;
			if (q[i].to == 0) {
				struct mw w;
				mw_init(&w);
				mw_u8(&w, kind_index(q[i].m.type));
				migr_gossip_encode(&w, &q[i].m);
				sim_op(GOP_RECEIVE, 0, w.buf, w.len);
				mw_free(&w);
			}
			gossip_receive(&to->g, &q[i].m, sim.now);
		}
	}
}

/* A period: every node ticks, messages arrive; half a period later what fell due (the
 * probes' ping-reqs: the harness polls after a wait) and what that brings. */
static void sim_round(const struct gossip_params *p)
{
	uint32_t advance = p->period_ms - sim.waited, half = p->period_ms / 2;
	uint8_t wait[4];
	sim.now += advance;
	sim_op(GOP_TICK, advance, NULL, 0);
	for (int i = 0; i <= SIM_PEERS; i++)
		if (sim.nodes[i].up)
			gossip_tick(&sim.nodes[i].g, sim.now);
	sim_deliver();
	sim.now += half;
	for (int k = 0; k < 4; k++)
		wait[k] = (uint8_t)(half >> (8 * k));
	sim_op(GOP_WAIT, 0, wait, sizeof(wait));
	for (int i = 0; i <= SIM_PEERS; i++)
		if (sim.nodes[i].up && gossip_next_poll(&sim.nodes[i].g) <= sim.now)
			gossip_poll(&sim.nodes[i].g, sim.now);
	sim_deliver();
	sim.waited = half;
}

/* scenario: 0 join, 1 a peer goes quiet and comes back restarted, 2 a peer and self leave */
static void gossip_scenario(const char *name, const uint8_t pb[GOSSIP_PARAM_BYTES],
			    int scenario)
{
	struct gossip_params p;
	memset(&p, 0, sizeof(p));
	fuzz_gossip_params(pb, &p);
	if (p.period_ms % GOSSIP_STEP_MS || p.period_ms / GOSSIP_STEP_MS > 31)
		exit(1);	/* a period the op byte can say */
	memset(&sim, 0, sizeof(sim));
	mw_init(&sim.in);
	mw_bytes(&sim.in, pb, GOSSIP_PARAM_BYTES);
	sim.now = GOSSIP_T0;
	for (int i = 1; i <= SIM_PEERS; i++) {
		snprintf(sim.nodes[i].name, sizeof(sim.nodes[i].name), "peer%d", i);
		snprintf(sim.nodes[i].addr, sizeof(sim.nodes[i].addr), "10.0.0.%d", i + 1);
	}
	snprintf(sim.nodes[0].addr, sizeof(sim.nodes[0].addr), GOSSIP_SELF_ADDR);
	for (int i = 0; i <= SIM_PEERS; i++)
		sim_start(i, &p, 1);

	struct migr_vector v = { 1250, 4000, 1 << 20, 3 };
	uint8_t vb[20];
	struct mw w;
	mw_init(&w);
	mw_u32(&w, v.load_milli);
	mw_u32(&w, v.cpus_milli);
	mw_u64(&w, v.mem_free_kb);
	mw_u32(&w, v.jobs);
	memcpy(vb, w.buf, sizeof(vb));
	mw_free(&w);
	sim_op(GOP_VECTOR, 0, vb, sizeof(vb));
	gossip_set_vector(&sim.nodes[0].g, &v, sim.now);

	for (int r = 0; r < 4; r++)
		sim_round(&p);
	if (scenario == 1) {
		sim.nodes[2].up = 0;
		uint8_t wait[4] = { 0 };
		uint32_t ms = p.dead_ms;
		for (int k = 0; k < 4; k++)
			wait[k] = (uint8_t)(ms >> (8 * k));
		sim.now += ms;
		sim_op(GOP_WAIT, 0, wait, sizeof(wait));
		sim_round(&p);
		gossip_free(&sim.nodes[2].g);
		sim_start(2, &p, 2);	/* restarted: a higher incarnation */
		sim_round(&p);
		sim_round(&p);
	} else if (scenario == 2) {
		gossip_leave(&sim.nodes[3].g, sim.now);
		sim.nodes[3].up = 0;
		sim_deliver();
		sim_round(&p);
		sim_op(GOP_LEAVE, 0, NULL, 0);
		gossip_leave(&sim.nodes[0].g, sim.now);
		sim.nodes[0].up = 0;	/* as migrd: gone, it hears nothing more */
		sim_deliver();
	}
	put(name, &sim.in);
	for (int i = 0; i <= SIM_PEERS; i++)
		gossip_free(&sim.nodes[i].g);	/* each was started; a restart freed the old */
	mw_free(&sim.in);
}

static void gossip_seeds(void)
{
	/* period 1000 ms, fanout 2, window 4, suspect 5001 ms, dead 10002 ms */
	static const uint8_t def[GOSSIP_PARAM_BYTES] = { 0xde, 0x03, 1, 4, 32, 40 };
	/* period 500 ms, fanout 1, window 0, suspect 1001 ms, dead 1502 ms */
	static const uint8_t tight[GOSSIP_PARAM_BYTES] = { 0xea, 0x01, 0, 0, 8, 8 };
	gossip_scenario("join", def, 0);
	gossip_scenario("restart", def, 1);
	gossip_scenario("leave", def, 2);
	gossip_scenario("tight-restart", tight, 1);

	/* a stranger's ping telling self it is suspect: self refutes, and answers */
	static struct migr_gossip_msg m;
	struct mw w, in;
	gossip_sample(&m, 3);
	m.type = MSG_GOSSIP_PING;
	m.seq = 7;
	snprintf(m.target, sizeof(m.target), GOSSIP_SELF_NAME);
	snprintf(m.entries[1].name, sizeof(m.entries[1].name), GOSSIP_SELF_NAME);
	m.entries[1].incarnation = GOSSIP_SELF_INCARNATION;
	m.entries[1].status = GOSSIP_SUSPECT;
	snprintf(m.entries[1].from, sizeof(m.entries[1].from), "sender");
	m.entries[2].status = GOSSIP_DEAD;
	mw_init(&w);
	mw_u8(&w, kind_index(m.type));
	migr_gossip_encode(&w, &m);
	mw_init(&in);
	mw_bytes(&in, def, GOSSIP_PARAM_BYTES);
	uint8_t seed[] = { 0x2e, 0x1d, '1', '0', '.', '0', '.', '0', '.', '9' };
	mw_u8(&in, GOP_SEED);
	mw_record(&in, seed, sizeof(seed));
	for (int k = 0; k < 8; k++) {
		mw_u8(&in, GOP_TICK | 20 << 3);
		mw_record(&in, NULL, 0);
	}
	mw_u8(&in, GOP_RECEIVE);
	mw_record(&in, w.buf, w.len);
	put("refute", &in);
	mw_free(&w);
	mw_free(&in);
}

/* ---- fuzz-config: files (the run script adds the golden .conf files of tests/) ---- */

static void config_seeds(void)
{
	static const char every[] =
		"node n1\nlisten 10.0.0.1 7470\npeer 10.0.0.2\npeer ::1 7471\n"
		"key /k\nstate-dir /s\nsocket /run/m.sock\ncriu /c\ncgroup migr/jobs\n"
		"cpus 2.5\ngossip-period 500\ngossip-fanout 3\ngossip-window 63\n"
		"suspect-timeout 1000\ndead-timeout 3600000\nbalance off\n"
		"balance-period 10\nbalance-margin 0.5\nbalance-residency 86400000\n"
		"balance-mem-low 1073741824\n";
	fuzz_write(dir, "every-keyword", every, sizeof(every) - 1);
	static const char edges[] =
		"node a # comment\r\n\t listen\t::ffff:1.2.3.4 65535\n\n#\ncpus 4096\n"
		"cpus 0.01\nbalance-margin 100\ngossip-window 0\n";
	fuzz_write(dir, "edges", edges, sizeof(edges) - 1);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: seeds DIR\n");
		return 2;
	}
	fuzz_rng_install();
	subdir(argv[1], "proto");
	proto_seeds();
	subdir(argv[1], "auth");
	auth_seeds();
	subdir(argv[1], "gossip");
	gossip_seeds();
	subdir(argv[1], "config");
	config_seeds();
	return 0;
}
