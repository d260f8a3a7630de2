/* proto.c: frame headers, the bounded reader and writer, and each message's coding. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "xmalloc.h"

static const struct {
	uint8_t type;
	const char *name;
} msg_names[] = {
	{ MSG_HELLO, "hello" },
	{ MSG_HELLO_ACK, "hello-ack" },
	{ MSG_AUTH, "auth" },
	{ MSG_GOSSIP, "gossip" },
	{ MSG_JOB_START, "job-start" },
	{ MSG_JOB_STARTED, "job-started" },
	{ MSG_JOB_FAILED, "job-failed" },
	{ MSG_JOB_DATA, "job-data" },
	{ MSG_JOB_ACK, "job-ack" },
	{ MSG_JOB_SIGNAL, "job-signal" },
	{ MSG_JOB_EXIT, "job-exit" },
	{ MSG_PS_REQ, "ps-request" },
	{ MSG_PS_REPLY, "ps-reply" },
	{ MSG_KILL_REQ, "kill-request" },
	{ MSG_KILL_REPLY, "kill-reply" },
	{ MSG_JOB_RESYNC, "job-resync" },
	{ MSG_MIG_REQ, "migrate-request" },
	{ MSG_MIG_RESULT, "migrate-result" },
	{ MSG_MIG_OFFER, "migrate-offer" },
	{ MSG_MIG_ACCEPT, "migrate-accept" },
	{ MSG_MIG_REFUSE, "migrate-refuse" },
	{ MSG_MIG_RESTORED, "migrate-restored" },
	{ MSG_MIG_DONE, "migrate-done" },
	{ MSG_MIG_ABORT, "migrate-abort" },
	{ MSG_BULK_ATTACH, "move-channel" },
	{ MSG_MIG_QUERY, "migrate-query" },
	{ MSG_ADMIN_REQ, "admin-request" },
	{ MSG_ADMIN_REPLY, "admin-reply" },
	{ MSG_MIG_FROZEN, "migrate-frozen" },
	{ MSG_MIG_FILES, "migrate-files" },
	{ MSG_MIG_FILES_REPLY, "migrate-files-reply" },
	{ MSG_CTL_NODES, "nodes" },
	{ MSG_CTL_STATUS, "status" },
	{ MSG_CTL_LEAVE, "leave" },
	{ MSG_CTL_RUN, "run" },
	{ MSG_CTL_SIGNAL, "signal" },
	{ MSG_CTL_KILL, "kill" },
	{ MSG_CTL_PS, "ps" },
	{ MSG_CTL_MIGRATE, "migrate" },
	{ MSG_CTL_BALANCE, "balance" },
	{ MSG_CTL_DRAIN, "drain" },
	{ MSG_CTL_ATTACH, "attach" },
	{ MSG_GOSSIP_PING, "gossip-ping" },
	{ MSG_GOSSIP_ACK, "gossip-ack" },
	{ MSG_GOSSIP_PING_REQ, "gossip-ping-req" },
	{ MSG_GOSSIP_PUSH_PULL, "gossip-push-pull" },
	{ MSG_CTL_OK, "ok" },
	{ MSG_CTL_ERROR, "error" },
	{ MSG_CTL_NODES_REPLY, "nodes-reply" },
	{ MSG_CTL_STATUS_REPLY, "status-reply" },
	{ MSG_CTL_RUN_REPLY, "run-reply" },
	{ MSG_CTL_EXIT, "exit" },
	{ MSG_CTL_PS_REPLY, "ps-reply" },
	{ MSG_CTL_MIGRATE_REPLY, "migrate-reply" },
};

const char *migr_msg_type_name(uint8_t type)
{
	for (size_t i = 0; i < sizeof(msg_names) / sizeof(msg_names[0]); i++)
		if (msg_names[i].type == type)
			return msg_names[i].name;
	return "unknown";
}

int migr_msg_type_known(uint8_t type)
{
	return strcmp(migr_msg_type_name(type), "unknown") != 0;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

void migr_hdr_encode(uint8_t out[MIGR_FRAME_HDR], uint8_t type, uint32_t len)
{
	put_le(out, len, 4);
	out[4] = MIGR_PROTO_VERSION;
	out[5] = type;
	put_le(out + 6, 0, 2);
}

int migr_hdr_decode(const uint8_t in[MIGR_FRAME_HDR], struct migr_frame_hdr *hdr)
{
	hdr->len = (uint32_t)get_le(in, 4);
	hdr->version = in[4];
	hdr->type = in[5];
	hdr->flags = (uint16_t)get_le(in + 6, 2);
	if (hdr->version != MIGR_PROTO_VERSION)
		return MIGR_EVERSION;
	if (hdr->len > MIGR_FRAME_MAX)
		return MIGR_ETOOBIG;
	if (hdr->flags != 0 || !migr_msg_type_known(hdr->type))
		return MIGR_EPROTO;
	return 0;
}

/* ---- writer ---- */

void mw_init(struct mw *w)
{
	memset(w, 0, sizeof(*w));
}

void mw_free(struct mw *w)
{
	free(w->buf);
	mw_init(w);
}

uint8_t *mw_space(struct mw *w, size_t n)
{
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		while (cap < w->len + n)
			cap *= 2;
		w->buf = xrealloc(w->buf, cap);
		w->cap = cap;
	}
	w->len += n;
	return w->buf + w->len - n;
}

void mw_u8(struct mw *w, uint8_t v)
{
	*mw_space(w, 1) = v;
}

void mw_u16(struct mw *w, uint16_t v)
{
	put_le(mw_space(w, 2), v, 2);
}

void mw_u32(struct mw *w, uint32_t v)
{
	put_le(mw_space(w, 4), v, 4);
}

void mw_u64(struct mw *w, uint64_t v)
{
	put_le(mw_space(w, 8), v, 8);
}

void mw_bytes(struct mw *w, const void *p, size_t n)
{
	if (n)
		memcpy(mw_space(w, n), p, n);
}

void mw_str(struct mw *w, const char *s)
{
	size_t n = strlen(s);
	if (n > UINT16_MAX)
		n = UINT16_MAX;
	mw_u16(w, (uint16_t)n);
	mw_bytes(w, s, n);
}

void mw_frame_begin(struct mw *w, uint8_t type)
{
	w->len = 0;
	migr_hdr_encode(mw_space(w, MIGR_FRAME_HDR), type, 0);
}

void mw_frame_end(struct mw *w)
{
	put_le(w->buf, w->len - MIGR_FRAME_HDR, 4);
}

/* ---- reader ---- */

void mr_init(struct mr *r, const void *p, size_t n)
{
	r->p = p;
	r->left = n;
	r->bad = 0;
}

static const uint8_t *mr_take(struct mr *r, size_t n)
{
	if (r->bad || r->left < n) {
		r->bad = 1;
		return NULL;
	}
	const uint8_t *p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

#define MR_INT(fn, type, n)                                 \
	type fn(struct mr *r)                               \
	{                                                   \
		const uint8_t *p = mr_take(r, n);           \
		return p ? (type)get_le(p, n) : 0;          \
	}
MR_INT(mr_u8, uint8_t, 1)
MR_INT(mr_u16, uint16_t, 2)
MR_INT(mr_u32, uint32_t, 4)
MR_INT(mr_u64, uint64_t, 8)

void mr_bytes(struct mr *r, void *out, size_t n)
{
	const uint8_t *p = mr_take(r, n);
	if (p)
		memcpy(out, p, n);
	else
		memset(out, 0, n);
}

void mr_str(struct mr *r, char *out, size_t max)
{
	uint16_t n = mr_u16(r);
	out[0] = '\0';
	if (n > max) {
		r->bad = 1;
		return;
	}
	const uint8_t *p = mr_take(r, n);
	if (!p)
		return;
	if (memchr(p, '\0', n)) {
		r->bad = 1;
		return;
	}
	memcpy(out, p, n);
	out[n] = '\0';
}

int mr_end(struct mr *r)
{
	return r->bad || r->left ? MIGR_EPROTO : 0;
}

int migr_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > MIGR_NAME_MAX)
		return 0;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-'))
			return 0;
	return 1;
}

/* ---- gossip ---- */

static void vector_encode(struct mw *w, const struct migr_vector *v)
{
	mw_u32(w, v->load_milli);
	mw_u32(w, v->cpus_milli);
	mw_u64(w, v->mem_free_kb);
	mw_u32(w, v->jobs);
	mw_u64(w, v->cpu_features);
	mw_u8(w, v->admin);
}

static void vector_decode(struct mr *r, struct migr_vector *v)
{
	v->load_milli = mr_u32(r);
	v->cpus_milli = mr_u32(r);
	v->mem_free_kb = mr_u64(r);
	v->jobs = mr_u32(r);
	v->cpu_features = mr_u64(r);
	v->admin = mr_u8(r);
	if (v->admin > MIGR_ADMIN_DRAINED)
		r->bad = 1;
}

int migr_gossip_type(uint8_t type)
{
	return type == MSG_GOSSIP || (type >= MSG_GOSSIP_PING && type <= MSG_GOSSIP_PUSH_PULL);
}

/* MSG_GOSSIP's entries: what a node said of itself, and how long ago that was heard. The
 * other kinds' entries carry the sender's judgement instead of an age: a suspect's entry
 * names its accuser. */
static int extended(const struct migr_gossip_msg *m)
{
	return m->type != MSG_GOSSIP && migr_gossip_type(m->type);
}

void migr_gossip_encode(struct mw *w, const struct migr_gossip_msg *m)
{
	int ext = extended(m);
	switch (ext ? m->type : MSG_GOSSIP) {
	case MSG_GOSSIP_PING:
		mw_u32(w, m->seq);
		mw_str(w, m->target);
		break;
	case MSG_GOSSIP_ACK:
		mw_u32(w, m->seq);
		mw_u8(w, m->flags);
		break;
	case MSG_GOSSIP_PING_REQ:
		mw_u32(w, m->seq);
		mw_str(w, m->target);
		mw_str(w, m->at.addr);
		mw_u16(w, m->at.port);
		break;
	case MSG_GOSSIP_PUSH_PULL:
		mw_u8(w, m->flags);
		break;
	}
	mw_u16(w, m->count);
	for (uint16_t i = 0; i < m->count; i++) {
		const struct migr_gossip_entry *e = &m->entries[i];
		mw_str(w, e->name);
		mw_str(w, e->addr);
		mw_u16(w, e->port);
		mw_u8(w, e->status);
		mw_u64(w, e->incarnation);
		mw_u64(w, e->heartbeat);
		if (!ext)
			mw_u32(w, e->age_ms);
		vector_encode(w, &e->vec);
		if (ext && e->status == GOSSIP_SUSPECT)
			mw_str(w, e->from);
	}
}

size_t migr_gossip_size(const struct migr_gossip_msg *m)
{
	enum { VECTOR = 4 + 4 + 8 + 4 + 8 + 1 };
	int ext = extended(m);
	size_t n = 2;
	switch (ext ? m->type : MSG_GOSSIP) {
	case MSG_GOSSIP_PING:
		n += 4 + 2 + strlen(m->target);
		break;
	case MSG_GOSSIP_ACK:
		n += 4 + 1;
		break;
	case MSG_GOSSIP_PING_REQ:
		n += 4 + 2 + strlen(m->target) + 2 + strlen(m->at.addr) + 2;
		break;
	case MSG_GOSSIP_PUSH_PULL:
		n += 1;
		break;
	}
	for (uint16_t i = 0; i < m->count; i++) {
		const struct migr_gossip_entry *e = &m->entries[i];
		n += 2 + strlen(e->name) + 2 + strlen(e->addr) + 2 + 1 + 8 + 8 + VECTOR;
		if (!ext)
			n += 4;
		else if (e->status == GOSSIP_SUSPECT)
			n += 2 + strlen(e->from);
	}
	return n;
}

/* The entries, after the kind's own fields. */
static int entries_decode(struct mr *r, struct migr_gossip_msg *m, int ext)
{
	m->count = mr_u16(r);
	if (m->count == 0 || m->count > GOSSIP_MAX_ENTRIES)
		return MIGR_EPROTO;
	for (uint16_t i = 0; i < m->count && !r->bad; i++) {
		struct migr_gossip_entry *e = &m->entries[i];
		mr_str(r, e->name, MIGR_NAME_MAX);
		mr_str(r, e->addr, MIGR_ADDR_MAX);
		e->port = mr_u16(r);
		e->status = mr_u8(r);
		e->incarnation = mr_u64(r);
		e->heartbeat = mr_u64(r);
		e->age_ms = ext ? 0 : mr_u32(r);
		vector_decode(r, &e->vec);
		e->from[0] = '\0';
		if (r->bad)
			break;
		/* the sender speaks for itself only: alive, or leaving */
		uint8_t max = ext && i > 0 ? GOSSIP_DEAD : GOSSIP_LEFT;
		if (!migr_name_valid(e->name) || e->status > max)
			return MIGR_EPROTO;
		if (e->status == GOSSIP_SUSPECT) {
			mr_str(r, e->from, MIGR_NAME_MAX);
			if (!r->bad && !migr_name_valid(e->from))
				return MIGR_EPROTO;
		}
	}
	return mr_end(r);
}

int migr_gossip_decode_type(uint8_t type, const void *p, size_t n, struct migr_gossip_msg *m)
{
	struct mr r;
	if (!migr_gossip_type(type))
		return MIGR_EPROTO;
	mr_init(&r, p, n);
	m->type = type;
	m->flags = 0;
	m->seq = 0;
	m->target[0] = '\0';
	memset(&m->at, 0, sizeof(m->at));
	switch (type) {
	case MSG_GOSSIP_PING:
		m->seq = mr_u32(&r);
		mr_str(&r, m->target, MIGR_NAME_MAX);
		if (!r.bad && !migr_name_valid(m->target))
			return MIGR_EPROTO;
		break;
	case MSG_GOSSIP_ACK:
		m->seq = mr_u32(&r);
		m->flags = mr_u8(&r);
		if (m->flags & ~GOSSIP_NACK)
			return MIGR_EPROTO;
		break;
	case MSG_GOSSIP_PING_REQ:
		m->seq = mr_u32(&r);
		mr_str(&r, m->target, MIGR_NAME_MAX);
		mr_str(&r, m->at.addr, MIGR_ADDR_MAX);
		m->at.port = mr_u16(&r);
		if (!r.bad && !migr_name_valid(m->target))
			return MIGR_EPROTO;
		break;
	case MSG_GOSSIP_PUSH_PULL:
		m->flags = mr_u8(&r);
		if (m->flags & ~(GOSSIP_PP_PULL | GOSSIP_PP_LAST | GOSSIP_PP_BUSY))
			return MIGR_EPROTO;
		break;
	}
	if (r.bad)
		return MIGR_EPROTO;
	return entries_decode(&r, m, type != MSG_GOSSIP);
}

int migr_gossip_decode(const void *p, size_t n, struct migr_gossip_msg *m)
{
	return migr_gossip_decode_type(MSG_GOSSIP, p, n, m);
}

/* ---- control replies ---- */

/* Doubles travel as fixed-point thousandths: no float formats on the wire. Values out of
 * range saturate, as a cast of NaN or of 2^64 and beyond is undefined, and thousandths near
 * UINT64_MAX, decoded, come back as 2^64 (a home re-encodes the jobs its peers report). */
static uint64_t milli(double v)
{
	if (!(v > 0))	/* negative, zero or NaN */
		return 0;
	double m = v * 1000.0 + 0.5;
	return m < 0x1p64 ? (uint64_t)m : UINT64_MAX;
}

void migr_nodes_encode(struct mw *w, const struct migr_node *nodes, size_t count)
{
	mw_u32(w, (uint32_t)count);
	for (size_t i = 0; i < count; i++) {
		const struct migr_node *nd = &nodes[i];
		mw_str(w, nd->name);
		mw_str(w, nd->addr);
		mw_u16(w, nd->port);
		mw_u8(w, nd->state);
		mw_u8(w, nd->self);
		mw_u64(w, milli(nd->load));
		mw_u64(w, milli(nd->cpus));
		mw_u64(w, nd->mem_free_kb);
		mw_u32(w, nd->jobs);
		mw_u64(w, nd->incarnation);
		mw_u32(w, nd->age_ms);
		mw_u8(w, nd->admin);
	}
}

int migr_nodes_decode(const void *p, size_t n, struct migr_node **nodesp, size_t *countp)
{
	struct mr r;
	mr_init(&r, p, n);
	uint32_t count = mr_u32(&r);
	if (r.bad || count > MIGR_CTL_NODES_MAX)
		return MIGR_EPROTO;
	struct migr_node *nodes = calloc(count ? count : 1, sizeof(*nodes));
	if (!nodes)
		return -ENOMEM;
	for (uint32_t i = 0; i < count && !r.bad; i++) {
		struct migr_node *nd = &nodes[i];
		mr_str(&r, nd->name, MIGR_NAME_MAX);
		mr_str(&r, nd->addr, MIGR_ADDR_MAX);
		nd->port = mr_u16(&r);
		nd->state = mr_u8(&r);
		nd->self = mr_u8(&r);
		nd->load = mr_u64(&r) / 1000.0;
		nd->cpus = mr_u64(&r) / 1000.0;
		nd->mem_free_kb = mr_u64(&r);
		nd->jobs = mr_u32(&r);
		nd->incarnation = mr_u64(&r);
		nd->age_ms = mr_u32(&r);
		nd->admin = mr_u8(&r);
	}
	if (mr_end(&r) < 0) {
		free(nodes);
		return MIGR_EPROTO;
	}
	*nodesp = nodes;
	*countp = count;
	return 0;
}

void migr_status_encode(struct mw *w, const struct migr_status *s)
{
	mw_str(w, s->name);
	mw_str(w, s->addr);
	mw_u16(w, s->port);
	mw_u64(w, s->incarnation);
	mw_u64(w, s->uptime_ms);
	mw_u32(w, s->nodes_alive);
	mw_u32(w, s->nodes_total);
	mw_u32(w, s->peers_connected);
	mw_u32(w, s->pid);
	mw_u64(w, s->cpu_ns);
	mw_u64(w, s->rss_kb);
	mw_u64(w, milli(s->load));
	mw_u64(w, milli(s->cpus));
	mw_u64(w, s->mem_free_kb);
	mw_u8(w, s->balance ? 1 : 0);
}

int migr_status_decode(const void *p, size_t n, struct migr_status *s)
{
	struct mr r;
	mr_init(&r, p, n);
	mr_str(&r, s->name, MIGR_NAME_MAX);
	mr_str(&r, s->addr, MIGR_ADDR_MAX);
	s->port = mr_u16(&r);
	s->incarnation = mr_u64(&r);
	s->uptime_ms = mr_u64(&r);
	s->nodes_alive = mr_u32(&r);
	s->nodes_total = mr_u32(&r);
	s->peers_connected = mr_u32(&r);
	s->pid = mr_u32(&r);
	s->cpu_ns = mr_u64(&r);
	s->rss_kb = mr_u64(&r);
	s->load = mr_u64(&r) / 1000.0;
	s->cpus = mr_u64(&r) / 1000.0;
	s->mem_free_kb = mr_u64(&r);
	s->balance = mr_u8(&r);
	return mr_end(&r);
}

void migr_error_encode(struct mw *w, int code, const char *msg)
{
	mw_u32(w, (uint32_t)code);
	char buf[MIGR_ERRMSG_MAX + 1];
	snprintf(buf, sizeof(buf), "%s", msg);
	mw_str(w, buf);
}

int migr_error_decode(const void *p, size_t n, int *code, char msg[MIGR_ERRMSG_MAX + 1])
{
	struct mr r;
	mr_init(&r, p, n);
	*code = (int)mr_u32(&r);
	mr_str(&r, msg, MIGR_ERRMSG_MAX);
	return mr_end(&r);
}

/* ---- jobs ---- */

void migr_strv_from(struct migr_strv *v, char *const *list)
{
	struct mw w;
	mw_init(&w);
	v->count = 0;
	for (; list && *list; list++, v->count++)
		mw_bytes(&w, *list, strlen(*list) + 1);
	v->len = (uint32_t)w.len;
	v->data = (char *)w.buf;
}

char **migr_strv_list(const struct migr_strv *v)
{
	char **list = xcalloc(v->count + 1, sizeof(*list));
	char *p = v->data;
	for (uint32_t i = 0; i < v->count; i++) {
		list[i] = p;
		p += strlen(p) + 1;
	}
	return list;
}

void migr_strv_free(struct migr_strv *v)
{
	free(v->data);
	memset(v, 0, sizeof(*v));
}

static void strv_encode(struct mw *w, const struct migr_strv *v)
{
	mw_u32(w, v->count);
	mw_u32(w, v->len);
	mw_bytes(w, v->data, v->len);
}

/* The bytes must hold exactly count NUL-terminated strings. */
static void strv_decode(struct mr *r, struct migr_strv *v)
{
	v->count = mr_u32(r);
	v->len = mr_u32(r);
	v->data = NULL;
	if (r->bad || v->len > r->left || v->count > v->len) {
		r->bad = 1;
		return;
	}
	v->data = xmalloc(v->len ? v->len : 1);
	mr_bytes(r, v->data, v->len);
	uint32_t nuls = 0;
	for (uint32_t i = 0; i < v->len; i++)
		nuls += v->data[i] == '\0';
	if (nuls != v->count || (v->len && v->data[v->len - 1] != '\0'))
		r->bad = 1;
}

void migr_job_spec_encode(struct mw *w, const struct migr_job_spec *s)
{
	mw_str(w, s->gpid);
	mw_str(w, s->home);
	mw_str(w, s->node);
	mw_u32(w, s->uid);
	mw_u32(w, s->gid);
	mw_u16(w, s->ngroups);
	for (uint16_t i = 0; i < s->ngroups; i++)
		mw_u32(w, s->groups[i]);
	mw_u32(w, s->umask);
	mw_u32(w, s->flags);
	mw_str(w, s->cwd);
	mw_u8(w, s->nrlimits);
	for (uint8_t i = 0; i < s->nrlimits; i++) {
		mw_u8(w, s->rlimits[i].resource);
		mw_u64(w, s->rlimits[i].cur);
		mw_u64(w, s->rlimits[i].max);
	}
	strv_encode(w, &s->argv);
	strv_encode(w, &s->env);
}

int migr_job_spec_decode(struct mr *r, struct migr_job_spec *s)
{
	memset(s, 0, sizeof(*s));
	mr_str(r, s->gpid, MIGR_GPID_MAX);
	mr_str(r, s->home, MIGR_NAME_MAX);
	mr_str(r, s->node, MIGR_NAME_MAX);
	s->uid = mr_u32(r);
	s->gid = mr_u32(r);
	s->ngroups = mr_u16(r);
	if (s->ngroups > JOB_GROUPS_MAX)
		r->bad = 1;
	for (uint16_t i = 0; i < s->ngroups && !r->bad; i++)
		s->groups[i] = mr_u32(r);
	s->umask = mr_u32(r) & 0777;
	s->flags = mr_u32(r) & (MIGR_RUN_NO_MIGRATE | MIGR_RUN_DETACHED);	/* what a run asks */
	mr_str(r, s->cwd, sizeof(s->cwd) - 1);
	s->nrlimits = mr_u8(r);
	if (s->nrlimits > JOB_RLIMITS_MAX)
		r->bad = 1;
	for (uint8_t i = 0; i < s->nrlimits && !r->bad; i++) {
		s->rlimits[i].resource = mr_u8(r);
		s->rlimits[i].cur = mr_u64(r);
		s->rlimits[i].max = mr_u64(r);
	}
	strv_decode(r, &s->argv);
	if (!r->bad)
		strv_decode(r, &s->env);
	if (!r->bad && s->argv.count == 0)
		r->bad = 1;
	if (r->bad) {
		migr_job_spec_free(s);
		return MIGR_EPROTO;
	}
	return 0;
}

void migr_job_spec_free(struct migr_job_spec *s)
{
	migr_strv_free(&s->argv);
	migr_strv_free(&s->env);
}

void migr_job_encode(struct mw *w, const struct migr_job *j)
{
	mw_str(w, j->gpid);
	mw_str(w, j->home);
	mw_str(w, j->node);
	mw_u32(w, j->pid);
	mw_u32(w, j->uid);
	mw_u8(w, (uint8_t)j->state);
	mw_u64(w, milli(j->cpu));
	mw_u64(w, j->rss_kb);
	mw_u64(w, j->cpu_ms);
	mw_u32(w, j->moves);
	mw_u32(w, j->flags);
	mw_str(w, j->cmd);
	mw_str(w, j->why);
}

void migr_job_decode(struct mr *r, struct migr_job *j)
{
	mr_str(r, j->gpid, MIGR_GPID_MAX);
	mr_str(r, j->home, MIGR_NAME_MAX);
	mr_str(r, j->node, MIGR_NAME_MAX);
	j->pid = mr_u32(r);
	j->uid = mr_u32(r);
	j->state = (char)mr_u8(r);
	j->cpu = mr_u64(r) / 1000.0;
	j->rss_kb = mr_u64(r);
	j->cpu_ms = mr_u64(r);
	j->moves = mr_u32(r);
	j->flags = mr_u32(r);
	mr_str(r, j->cmd, MIGR_CMD_MAX);
	mr_str(r, j->why, MIGR_WHY_MAX);
}

void migr_jobs_encode(struct mw *w, const struct migr_job *jobs, size_t n)
{
	mw_u32(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		migr_job_encode(w, &jobs[i]);
}

int migr_jobs_decode(struct mr *r, struct migr_job **jobsp, size_t *np)
{
	uint32_t n = mr_u32(r);
	if (r->bad || n > MIGR_JOBS_MAX)
		return MIGR_EPROTO;
	struct migr_job *jobs = xcalloc(n ? n : 1, sizeof(*jobs));
	for (uint32_t i = 0; i < n && !r->bad; i++)
		migr_job_decode(r, &jobs[i]);
	if (r->bad) {
		free(jobs);
		return MIGR_EPROTO;
	}
	*jobsp = jobs;
	*np = n;
	return 0;
}

int migr_gpid_home(const char *gpid, char *home)
{
	const char *dot = strrchr(gpid, '.');
	if (!dot || dot == gpid || (size_t)(dot - gpid) > MIGR_NAME_MAX || !dot[1])
		return -1;
	for (const char *d = dot + 1; *d; d++)
		if (*d < '0' || *d > '9')
			return -1;
	memcpy(home, gpid, (size_t)(dot - gpid));
	home[dot - gpid] = '\0';
	return migr_name_valid(home) ? 0 : -1;
}

int migr_gpid_valid(const char *gpid)
{
	char home[MIGR_NAME_MAX + 1];
	return strlen(gpid) <= MIGR_GPID_MAX && migr_gpid_home(gpid, home) == 0;
}
