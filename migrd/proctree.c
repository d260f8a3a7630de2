/* proctree.c: a job's processes through /proc (see proctree.h). */
#include <config.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proctree.h"
#include "xmalloc.h"

/* Appends the children of every thread of pid to out[*n..max). */
static void add_children(pid_t pid, pid_t *out, size_t *n, size_t max)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *e;
	while (*n < max && (e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		char cpath[320];
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", (int)pid, e->d_name);
		FILE *f = fopen(cpath, "re");
		if (!f)
			continue;
		int child;
		while (*n < max && fscanf(f, "%d", &child) == 1)
			if (child > 0)
				out[(*n)++] = child;
		fclose(f);
	}
	closedir(d);
}

size_t proctree_list(pid_t init, pid_t *out, size_t max)
{
	if (init <= 0 || max == 0)
		return 0;
	size_t n = 0;
	out[n++] = init;
	/* breadth first, out[] itself the queue: no recursion, bounded by max */
	for (size_t i = 0; i < n && n < max; i++)
		add_children(out[i], out, &n, max);
	return n;
}

void proctree_signal(pid_t init, int sig)
{
	pid_t *pids = xmalloc(PROCTREE_MAX * sizeof(*pids));
	size_t n = proctree_list(init, pids, PROCTREE_MAX);
	/* children first: a resumed parent finds its children as they were */
	while (n--)
		kill(pids[n], sig);
	free(pids);
}

pid_t proctree_vpid(pid_t host)
{
	char path[64], line[256];
	pid_t vpid = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)host);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "NSpid:", 6))
			continue;
		/* the last number is the pid in the innermost namespace */
		char *save, *tok, *last = NULL;
		for (tok = strtok_r(line + 6, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save))
			last = tok;
		if (last)
			vpid = (pid_t)atoi(last);
		break;
	}
	fclose(f);
	return vpid;
}

char proctree_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 'Z';
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] ? p[2] : '?';
}

size_t proctree_stopped(pid_t init, int **out)
{
	pid_t *pids = xmalloc(PROCTREE_MAX * sizeof(*pids));
	size_t n = proctree_list(init, pids, PROCTREE_MAX), k = 0;
	*out = NULL;
	for (size_t i = 0; i < n; i++) {
		if (proctree_state(pids[i]) != 'T')
			continue;
		pid_t v = proctree_vpid(pids[i]);
		if (v <= 0)
			continue;
		*out = xrealloc(*out, (k + 1) * sizeof(**out));
		(*out)[k++] = v;
	}
	free(pids);
	return k;
}

int proctree_save_stopped(pid_t init, const char *path)
{
	int *v;
	size_t n = proctree_stopped(init, &v);
	FILE *f = fopen(path, "we");
	if (!f) {
		free(v);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%d\n", v[i]);
	free(v);
	return fclose(f) == 0 ? (int)n : -1;
}

size_t proctree_load_stopped(const char *path, int **out)
{
	size_t n = 0;
	int v;
	*out = NULL;
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	while (n < PROCTREE_MAX && fscanf(f, "%d", &v) == 1) {
		*out = xrealloc(*out, (n + 1) * sizeof(**out));
		(*out)[n++] = v;
	}
	fclose(f);
	return n;
}

void proctree_continue(pid_t init, const int *stopped, size_t nstopped)
{
	pid_t *pids = xmalloc(PROCTREE_MAX * sizeof(*pids));
	size_t n = proctree_list(init, pids, PROCTREE_MAX);
	while (n--) {
		int keep = 0;
		if (nstopped) {
			pid_t v = proctree_vpid(pids[n]);
			for (size_t i = 0; i < nstopped && !keep; i++)
				keep = stopped[i] == v;
		}
		if (!keep)
			kill(pids[n], SIGCONT);
	}
	free(pids);
}
