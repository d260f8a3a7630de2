/* netlink.c: taskstats through libnl-genl (see netlink.h). The taskstats family exists
 * only in the initial network namespace, so a migrd inside a test node's namespace falls
 * back to /proc/PID/stat, with the same result. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/taskstats.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "log.h"
#include "netlink.h"

static struct nl_sock *sock;
static int family = -1;

int taskstats_open(void)
{
	sock = nl_socket_alloc();
	if (!sock)
		return -ENOMEM;
	int r = genl_connect(sock);
	if (r == 0)
		r = family = genl_ctrl_resolve(sock, TASKSTATS_GENL_NAME);
	if (r < 0) {
		log_debug("taskstats: %s; using /proc instead", nl_geterror(r));
		nl_socket_free(sock);
		sock = NULL;
		family = -1;
		return -ENOENT;
	}
	return 0;
}

void taskstats_close(void)
{
	if (sock)
		nl_socket_free(sock);
	sock = NULL;
}

int taskstats_active(void)
{
	return sock != NULL;
}

static int parse_reply(struct nl_msg *msg, void *arg)
{
	struct task_usage *u = arg;
	struct nlattr *attrs[TASKSTATS_TYPE_MAX + 1], *nested[TASKSTATS_TYPE_MAX + 1];
	if (genlmsg_parse(nlmsg_hdr(msg), 0, attrs, TASKSTATS_TYPE_MAX, NULL) < 0)
		return NL_SKIP;
	struct nlattr *aggr = attrs[TASKSTATS_TYPE_AGGR_TGID] ? attrs[TASKSTATS_TYPE_AGGR_TGID]
							     : attrs[TASKSTATS_TYPE_AGGR_PID];
	if (!aggr || nla_parse_nested(nested, TASKSTATS_TYPE_MAX, aggr, NULL) < 0 ||
	    !nested[TASKSTATS_TYPE_STATS])
		return NL_SKIP;
	struct taskstats ts;
	size_t n = (size_t)nla_len(nested[TASKSTATS_TYPE_STATS]);
	memset(&ts, 0, sizeof(ts));
	memcpy(&ts, nla_data(nested[TASKSTATS_TYPE_STATS]), n < sizeof(ts) ? n : sizeof(ts));
	u->cpu_ns = (ts.ac_utime + ts.ac_stime) * 1000;
	return NL_OK;
}

static int taskstats_cpu(pid_t pid, struct task_usage *u)
{
	struct nl_msg *msg = nlmsg_alloc();
	if (!msg)
		return -ENOMEM;
	int r = -EIO;
	if (genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, NLM_F_REQUEST,
			TASKSTATS_CMD_GET, TASKSTATS_VERSION) &&
	    nla_put_u32(msg, TASKSTATS_CMD_ATTR_TGID, (uint32_t)pid) == 0) {
		nl_socket_modify_cb(sock, NL_CB_VALID, NL_CB_CUSTOM, parse_reply, u);
		r = nl_send_auto(sock, msg);
		if (r >= 0)
			r = nl_recvmsgs_default(sock);
		r = r < 0 ? -EIO : 0;
	}
	nlmsg_free(msg);
	return r;
}

/* /proc/PID/stat fields 14 and 15: utime and stime in clock ticks. */
static int proc_cpu(pid_t pid, struct task_usage *u)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	unsigned long long ut, st;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &st) != 2)
		return -EINVAL;
	long hz = sysconf(_SC_CLK_TCK);
	u->cpu_ns = (ut + st) * (1000000000ull / (unsigned long long)(hz > 0 ? hz : 100));
	return 0;
}

static int proc_rss(pid_t pid, struct task_usage *u)
{
	char path[64];
	unsigned long long size, resident;
	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	int ok = fscanf(f, "%llu %llu", &size, &resident) == 2;
	fclose(f);
	if (!ok)
		return -EINVAL;
	u->rss_kb = resident * (unsigned long long)(sysconf(_SC_PAGESIZE) / 1024);
	return 0;
}

int task_usage(pid_t pid, struct task_usage *u)
{
	memset(u, 0, sizeof(*u));
	int r = sock ? taskstats_cpu(pid, u) : -ENOENT;
	if (r < 0 && (r = proc_cpu(pid, u)) < 0)
		return r;
	return proc_rss(pid, u);
}
