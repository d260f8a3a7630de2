/* cgroup.c: the node's cgroups (see cgroup.h). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"

static int write_pid(const char *path, pid_t pid)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%d", (int)pid);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = write(fd, buf, (size_t)len) == len ? 0 : -1;
	int saved = errno;
	close(fd);
	errno = saved;
	return r;
}

int cgroup_join(const char *cgroup, pid_t pid, char *failed, size_t failed_len)
{
	char path[PATH_MAX];
	if (!cgroup || !*cgroup)
		return 0;
	snprintf(path, sizeof(path), "/sys/fs/cgroup/cpu/%s/cgroup.procs", cgroup);
	if (write_pid(path, pid) < 0)
		goto fail;
	snprintf(path, sizeof(path), "/sys/fs/cgroup/memory/%s/cgroup.procs", cgroup);
	if (access(path, F_OK) == 0 && write_pid(path, pid) < 0)
		goto fail;
	return 0;
fail:
	snprintf(failed, failed_len, "%s", path);
	return -1;
}

static int read_u64(const char *path, unsigned long long *v)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	int ok = fscanf(f, "%llu", v) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

/* Page cache the kernel would drop before it reclaims anything else: counted as free, as
 * MemAvailable counts it. */
static unsigned long long inactive_file(const char *dir)
{
	char path[PATH_MAX], line[256];
	unsigned long long v = 0;
	snprintf(path, sizeof(path), "%s/memory.stat", dir);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "total_inactive_file %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

uint64_t cgroup_mem_free_kb(const char *cgroup, uint64_t machine_kb)
{
	char dir[PATH_MAX - 32], path[PATH_MAX];
	unsigned long long limit, usage;
	if (!cgroup || !*cgroup)
		return machine_kb;
	snprintf(dir, sizeof(dir), "/sys/fs/cgroup/memory/%s", cgroup);
	snprintf(path, sizeof(path), "%s/memory.limit_in_bytes", dir);
	if (read_u64(path, &limit) < 0 || limit >= 1ULL << 60)
		return machine_kb;	/* no limit: the kernel shows a huge number */
	snprintf(path, sizeof(path), "%s/memory.usage_in_bytes", dir);
	if (read_u64(path, &usage) < 0)
		return machine_kb;
	unsigned long long dropable = inactive_file(dir);
	unsigned long long held = usage > dropable ? usage - dropable : 0;
	uint64_t free_kb = held < limit ? (limit - held) / 1024 : 0;
	return free_kb < machine_kb ? free_kb : machine_kb;
}
