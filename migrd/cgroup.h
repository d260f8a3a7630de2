/* cgroup.h: the node's cgroups, named by the `cgroup` key of migrd.conf (cgroup v1). Jobs
 * join the one of the cpu controller, whose quota is the node's CPU capacity, and the one
 * of the memory controller where it exists, whose limit is the node's memory capacity. */
#ifndef MIGR_CGROUP_H
#define MIGR_CGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Puts pid in the node's cgroups: the cpu one must take it, the memory one too if there
 * is one. Safe in a forked child (no allocation). Returns 0, or -1 with errno set and the
 * path that failed in failed. */
int cgroup_join(const char *cgroup, pid_t pid, char *failed, size_t failed_len);

/* Memory free within the node's memory cgroup (its limit less what it holds that cannot be
 * dropped), machine_kb at most; machine_kb when it has no such cgroup or no limit. */
uint64_t cgroup_mem_free_kb(const char *cgroup, uint64_t machine_kb);

#endif
