/* homerec.c: a home's records of its jobs on disk (see homerec.h). */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "homerec.h"
#include "log.h"
#include "migrd.h"
#include "xmalloc.h"

#define RECORD_MAGIC "migr-home 1"

static void record_path(const char *gpid, const char *suffix, char *out, size_t len)
{
	snprintf(out, len, "%s/home/%s%s", migrd.conf.state_dir, gpid, suffix);
}

void home_record_save(const struct home_record *r)
{
	char path[PATH_MAX + 96], tmp[PATH_MAX + 96];
	snprintf(path, sizeof(path), "%s/home", migrd.conf.state_dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		log_warn("%s", path);
		return;
	}
	record_path(r->gpid, "", path, sizeof(path));
	record_path(r->gpid, ".new", tmp, sizeof(tmp));
	FILE *f = fopen(tmp, "we");
	if (!f) {
		log_warn("%s", tmp);
		return;
	}
	fprintf(f, RECORD_MAGIC "\n%s\n%u\n%u\n%s\n", r->node, r->uid, r->flags, r->cmd);
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		log_warn("%s", path);
		unlink(tmp);
	}
}

void home_record_drop(const char *gpid)
{
	char path[PATH_MAX + 96];
	record_path(gpid, "", path, sizeof(path));
	unlink(path);
}

static int load_one(const char *path, struct home_record *r)
{
	char line[MIGR_CMD_MAX + 4];
	FILE *f = fopen(path, "re");
	int ok = 0;
	if (!f)
		return 0;
	if (fgets(line, sizeof(line), f) && !strcmp(line, RECORD_MAGIC "\n") &&
	    fgets(line, sizeof(line), f) && (line[strcspn(line, "\n")] = '\0', 1) &&
	    strlen(line) <= MIGR_NAME_MAX && migr_name_valid(line)) {
		memcpy(r->node, line, strlen(line) + 1);
		ok = fscanf(f, "%u\n%u\n", &r->uid, &r->flags) == 2 &&
		     fgets(r->cmd, sizeof(r->cmd), f);
		r->cmd[strcspn(r->cmd, "\n")] = '\0';
	}
	fclose(f);
	return ok;
}

size_t home_records_load(struct home_record **out)
{
	char dir[PATH_MAX + 16], path[PATH_MAX + 300];
	size_t n = 0, cap = 0;
	*out = NULL;
	snprintf(dir, sizeof(dir), "%s/home", migrd.conf.state_dir);
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		struct home_record r;
		memset(&r, 0, sizeof(r));
		size_t len = strlen(e->d_name);
		if (len <= MIGR_GPID_MAX)
			memcpy(r.gpid, e->d_name, len + 1);
		if (len > MIGR_GPID_MAX || !migr_gpid_valid(r.gpid) || !load_one(path, &r)) {
			log_warnx("%s: not a job's record: removed", path);
			unlink(path);
			continue;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		(*out)[n++] = r;
	}
	closedir(d);
	return n;
}
