/* load.c: node load and free memory (see load.h). */
#include <config.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "load.h"

#define LOAD_SMOOTHING 0.5	/* weight of the newest sample: reacts in a few periods */

static char tasks_path[PATH_MAX];
static char cgroup_name[PATH_MAX - 64];
static double smoothed = -1;
static uint64_t samples;

void load_init(const char *cgroup)
{
	tasks_path[0] = '\0';
	snprintf(cgroup_name, sizeof(cgroup_name), "%s", cgroup ? cgroup : "");
	if (cgroup && *cgroup)
		snprintf(tasks_path, sizeof(tasks_path), "/sys/fs/cgroup/cpu/%s/tasks", cgroup);
}

static int task_running(const char *tid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%s/stat", tid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'R';
}

/* Runnable threads in the node's cgroup. */
static int cgroup_runnable(void)
{
	char tid[32];
	int running = 0;
	FILE *f = fopen(tasks_path, "re");
	if (!f)
		return -1;
	while (fscanf(f, "%31s", tid) == 1)
		running += task_running(tid);
	fclose(f);
	return running;
}

/* Runnable threads on the machine, less the one reading. */
static int machine_runnable(void)
{
	char line[256];
	int running = -1;
	FILE *f = fopen("/proc/stat", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "procs_running %d", &running) == 1)
			break;
	fclose(f);
	return running > 0 ? running - 1 : 0;
}

static uint64_t mem_available_kb(void)
{
	char line[256];
	unsigned long long kb = 0;
	FILE *f = fopen("/proc/meminfo", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

void load_sample(double cpus, double *load, uint64_t *mem_free_kb)
{
	int runnable = tasks_path[0] ? cgroup_runnable() : -1;
	if (runnable < 0)
		runnable = machine_runnable();
	double now = runnable / (cpus > 0 ? cpus : 1);
	smoothed = smoothed < 0 ? now : LOAD_SMOOTHING * now + (1 - LOAD_SMOOTHING) * smoothed;
	samples++;
	*load = smoothed;
	*mem_free_kb = cgroup_mem_free_kb(cgroup_name, mem_available_kb());
}

uint64_t load_samples(void)
{
	return samples;
}

double load_unseen(uint64_t mark)
{
	double unseen = 1;
	for (uint64_t k = mark; k < samples && unseen > 1e-3; k++)
		unseen *= 1 - LOAD_SMOOTHING;
	return unseen > 1e-3 ? unseen : 0;
}
