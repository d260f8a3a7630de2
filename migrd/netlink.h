/* netlink.h: per-task CPU and memory. CPU time comes from the kernel's taskstats over
 * generic netlink (libnl-3), resident memory from /proc. */
#ifndef MIGR_NETLINK_H
#define MIGR_NETLINK_H

#include <stdint.h>
#include <sys/types.h>

struct task_usage {
	uint64_t cpu_ns;	/* user + system, whole thread group */
	uint64_t rss_kb;
};

/* Opens the taskstats socket; 0, or a negative error (then task_usage falls back to /proc). */
int taskstats_open(void);
void taskstats_close(void);
/* 1 if the last query came from taskstats, 0 if from /proc. */
int taskstats_active(void);
int task_usage(pid_t pid, struct task_usage *u);

#endif
