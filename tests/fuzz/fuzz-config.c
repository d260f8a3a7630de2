/* fuzz-config.c: libFuzzer harness for the migrd.conf parser (libmigr/conf.c). What loads
 * must be valid, and what migr_config_print() makes of it must load again, the same. */
#include <config.h>	/* _GNU_SOURCE, for memfd_create */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The parser takes a path: memory files, reached through /proc, spare the disk. */
static int fd_in, fd_out;
static char path_in[64], path_out[64];
static struct migr_config c1, c2;	/* large: PATH_MAX strings and 256 peers */

static int memfile(const char *name, char *path, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0) {
		perror("memfd_create");
		exit(1);
	}
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fd_in = memfile("migrd.conf", path_in, sizeof(path_in));
	fd_out = memfile("migrd.conf.printed", path_out, sizeof(path_out));
	return 0;
}

static void fill(int fd, const void *p, size_t n)
{
	if (ftruncate(fd, 0) < 0 || (n && pwrite(fd, p, n, 0) != (ssize_t)n)) {
		perror("memfd");
		abort();
	}
}

/* What check() and each keyword promise the daemon. */
static void check_valid(const struct migr_config *c)
{
	FUZZ_CHECK(migr_name_valid(c->node) && c->listen.addr[0] && c->listen.port >= 1);
	FUZZ_CHECK(c->npeers <= CONFIG_PEERS_MAX);
	for (unsigned i = 0; i < c->npeers; i++)
		FUZZ_CHECK(c->peers[i].addr[0] && c->peers[i].port >= 1);
	FUZZ_CHECK(c->key_file[0] == '/' && c->state_dir[0] == '/' && c->criu[0] == '/');
	FUZZ_CHECK(c->socket[0] == '/' && strlen(c->socket) < 108);
	FUZZ_CHECK(c->cgroup[0] != '/' && !strstr(c->cgroup, ".."));
	FUZZ_CHECK(c->cpus >= 0.01 && c->cpus <= 4096);
	FUZZ_CHECK(c->gossip_period_ms >= 10 && c->gossip_fanout >= 1 && c->gossip_fanout <= 16);
	FUZZ_CHECK(c->gossip_window <= GOSSIP_WINDOW_MAX);
	FUZZ_CHECK(c->gossip_period_ms < c->suspect_timeout_ms);
	FUZZ_CHECK(c->suspect_timeout_ms < c->dead_timeout_ms && c->dead_timeout_ms <= 3600000);
	FUZZ_CHECK(c->balance == 0 || c->balance == 1);
	FUZZ_CHECK(c->balance_period_ms >= 10 && c->balance_period_ms <= 3600000);
	FUZZ_CHECK(c->balance_margin >= 0 && c->balance_margin <= 100);
	FUZZ_CHECK(c->balance_residency_ms <= 86400000);
	FUZZ_CHECK(c->balance_mem_low_kb <= (1ull << 30) * 1024);
	FUZZ_CHECK(c->peer_root_jobs == 0 || c->peer_root_jobs == 1);
	FUZZ_CHECK(c->max_user_jobs <= 1000000 && c->test_pause_ms <= 600000);
}

/* printf's %g keeps 6 digits */
static int near(double a, double b)
{
	return fabs(a - b) <= 1e-5 * fmax(fabs(a), fabs(b));
}

static void check_same(const struct migr_config *a, const struct migr_config *b)
{
	FUZZ_CHECK(!strcmp(a->node, b->node) && !strcmp(a->listen.addr, b->listen.addr));
	FUZZ_CHECK(a->listen.port == b->listen.port && a->npeers == b->npeers);
	for (unsigned i = 0; i < a->npeers; i++)
		FUZZ_CHECK(!strcmp(a->peers[i].addr, b->peers[i].addr) &&
			   a->peers[i].port == b->peers[i].port);
	FUZZ_CHECK(!strcmp(a->key_file, b->key_file) && !strcmp(a->state_dir, b->state_dir));
	FUZZ_CHECK(!strcmp(a->socket, b->socket) && !strcmp(a->criu, b->criu));
	FUZZ_CHECK(!strcmp(a->cgroup, b->cgroup) && near(a->cpus, b->cpus));
	FUZZ_CHECK(a->gossip_period_ms == b->gossip_period_ms);
	FUZZ_CHECK(a->gossip_fanout == b->gossip_fanout);
	FUZZ_CHECK(a->gossip_window == b->gossip_window);
	FUZZ_CHECK(a->suspect_timeout_ms == b->suspect_timeout_ms);
	FUZZ_CHECK(a->dead_timeout_ms == b->dead_timeout_ms);
	FUZZ_CHECK(a->balance == b->balance && a->balance_period_ms == b->balance_period_ms);
	FUZZ_CHECK(near(a->balance_margin, b->balance_margin));
	FUZZ_CHECK(a->balance_residency_ms == b->balance_residency_ms);
	FUZZ_CHECK(a->balance_mem_low_kb == b->balance_mem_low_kb);
	FUZZ_CHECK(a->peer_root_jobs == b->peer_root_jobs && a->max_user_jobs == b->max_user_jobs);
	FUZZ_CHECK(!strcmp(a->test_pause_at, b->test_pause_at) &&
		   a->test_pause_ms == b->test_pause_ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];

	fill(fd_in, data, size);
	memset(err, 'x', sizeof(err));
	int r = migr_config_load(path_in, &c1, err, sizeof(err));
	FUZZ_CHECK(r == 0 || r == -1);
	if (r < 0) {
		/* one line, naming the file */
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) && !strchr(err, '\n'));
		FUZZ_CHECK(!strncmp(err, path_in, strlen(path_in)));
		return 0;
	}
	check_valid(&c1);

	/* migrd -n prints the effective configuration: it must read back the same */
	FILE *f = fopen(path_out, "w");
	if (!f)
		abort();
	migr_config_print(&c1, f);
	if (fclose(f) != 0)
		abort();
	if (migr_config_load(path_out, &c2, err, sizeof(err)) < 0) {
		fprintf(stderr, "printed configuration does not load: %s\n", err);
		abort();
	}
	check_same(&c1, &c2);
	return 0;
}
