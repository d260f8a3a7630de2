/* admin.c: drain and undrain (see admin.h). A request for another node travels there and
 * its answer comes back to the client; only the node itself changes its state, so the one
 * record of it is the node's own file and its own load vector. */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "balance.h"
#include "control.h"
#include "job.h"
#include "log.h"
#include "loop.h"
#include "migrd.h"
#include "xmalloc.h"

#define ADMIN_TIMEOUT_MS 5000
#define ADMIN_FILE "admin"

/* A request sent to another node, waiting for its answer. */
struct admin_wait {
	uint32_t id;
	uint64_t client;
	char node[MIGR_NAME_MAX + 1];
	int drained;		/* what was asked */
	struct loop_timer *timer;
	struct admin_wait *next;
};

static struct {
	int drained;
	uint32_t next_id;
	struct admin_wait *waits;
} adm;

static void state_path(char *path, size_t len)
{
	snprintf(path, len, "%s/" ADMIN_FILE, migrd.conf.state_dir);
}

void admin_init(void)
{
	char path[PATH_MAX + 16], word[16] = "";
	state_path(path, sizeof(path));
	FILE *f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%15s", word) != 1)
			word[0] = 0;
		fclose(f);
	}
	adm.drained = !strcmp(word, "drained");
	if (adm.drained)
		log_info("admin: drained (since before this start, %s)", path);
}

int admin_drained(void)
{
	return adm.drained;
}

void admin_refusal(const char *node, char *why, size_t len)
{
	snprintf(why, len, "%s is drained: it takes no new jobs (mctl undrain %s)", node, node);
}

/* Written whole to a new file and renamed over the old: a crash leaves one or the other. */
static int save(int drained)
{
	char path[PATH_MAX + 16], tmp[PATH_MAX + 32];
	state_path(path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	FILE *f = fopen(tmp, "we");
	if (!f)
		return -errno;
	int ok = fprintf(f, "%s\n", migr_node_admin_name(drained)) > 0;
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
	if (fclose(f) != 0 || !ok || rename(tmp, path) < 0) {
		int err = errno ? -errno : -EIO;
		unlink(tmp);
		return err;
	}
	return 0;
}

/* Applies a request at this node; 0, or a negative code with why. */
static int apply(int drained, uint32_t uid, const char *by, char *why, size_t len)
{
	if (uid != 0) {
		snprintf(why, len, "drain: only root may drain or undrain a node");
		return -EPERM;
	}
	if (adm.drained == drained)
		return 0;
	int r = save(drained);
	if (r < 0) {
		snprintf(why, len, "%s: cannot keep the setting in %.300s: %s", migrd.conf.node,
			 migrd.conf.state_dir, strerror(-r));
		return r;
	}
	adm.drained = drained;
	gossip_note_admin(&migrd.gossip, migrd.conf.node,
			  drained ? MIGR_ADMIN_DRAINED : MIGR_ADMIN_ACTIVE);
	log_info("admin: %s (mctl on %s)", drained ? "drained: no new jobs, the jobs here leave"
						   : "active again: takes jobs", by);
	balance_admin_changed();
	return 0;
}

static void wait_free(struct admin_wait *a)
{
	for (struct admin_wait **ap = &adm.waits; *ap; ap = &(*ap)->next)
		if (*ap == a) {
			*ap = a->next;
			break;
		}
	if (a->timer)
		loop_timer_cancel(a->timer);
	free(a);
}

static void wait_timeout(void *arg)
{
	struct admin_wait *a = arg;
	a->timer = NULL;
	control_error(a->client, -ETIMEDOUT, "%s: no answer in %d s", a->node,
		      ADMIN_TIMEOUT_MS / 1000);
	wait_free(a);
}

void admin_request(uint64_t client, uint32_t uid, const char *node, int drained)
{
	char why[MIGR_ERRMSG_MAX + 1];
	if (uid != 0) {
		control_error(client, -EPERM, "drain: only root may drain or undrain a node");
		return;
	}
	if (is_self(node)) {
		int r = apply(drained, uid, migrd.conf.node, why, sizeof(why));
		if (r < 0)
			control_error(client, r, "%s", why);
		else
			control_ok(client);
		return;
	}
	const struct gossip_node *g = gossip_find(&migrd.gossip, node);
	if (!g) {
		control_error(client, -ENOENT, "%s: no such node", node);
		return;
	}
	if (node_down(node)) {
		control_error(client, -EHOSTDOWN, "%s: node is %s", node,
			      migr_node_state_name(g->state));
		return;
	}
	struct admin_wait *a = xcalloc(1, sizeof(*a));
	a->id = ++adm.next_id;
	a->client = client;
	a->drained = drained;
	snprintf(a->node, sizeof(a->node), "%s", node);
	a->next = adm.waits;
	adm.waits = a;
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, MSG_ADMIN_REQ);
	mw_u32(&w, a->id);
	mw_u8(&w, drained ? MIGR_ADMIN_DRAINED : MIGR_ADMIN_ACTIVE);
	mw_u32(&w, uid);
	mw_frame_end(&w);
	if (node_send(node, &w) < 0) {
		control_error(client, -EHOSTDOWN, "%s: node is %s", node,
			      migr_node_state_name(g->state));
		wait_free(a);
	} else {
		a->timer = loop_timer_add(ADMIN_TIMEOUT_MS, 0, wait_timeout, a);
	}
	mw_free(&w);
}

int admin_peer_message(const char *from, uint8_t type, const uint8_t *p, size_t n)
{
	struct mr r;
	char why[MIGR_ERRMSG_MAX + 1] = "";
	mr_init(&r, p, n);
	uint32_t id = mr_u32(&r);
	if (type == MSG_ADMIN_REQ) {
		uint8_t drained = mr_u8(&r);
		uint32_t uid = mr_u32(&r);
		if (mr_end(&r) < 0 || drained > MIGR_ADMIN_DRAINED)
			return MIGR_EPROTO;
		node_reply(from, MSG_ADMIN_REPLY, id, apply(drained, uid, from, why, sizeof(why)),
			   why);
		return 0;
	}
	int code = (int)mr_u32(&r);
	mr_str(&r, why, MIGR_ERRMSG_MAX);
	if (mr_end(&r) < 0 || code > 0)
		return MIGR_EPROTO;
	struct admin_wait *a = adm.waits;
	while (a && (a->id != id || strcmp(a->node, from)))
		a = a->next;
	if (!a)
		return 0;	/* answered too late */
	if (code < 0) {
		control_error(a->client, code, "%s", why);
	} else {
		/* this node's next mrun or mmigrate to it goes by the new state at once */
		gossip_note_admin(&migrd.gossip, from,
				  a->drained ? MIGR_ADMIN_DRAINED : MIGR_ADMIN_ACTIVE);
		control_ok(a->client);
	}
	wait_free(a);
	return 0;
}
