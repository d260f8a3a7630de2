/* conf.c: migrd.conf parsing. One `keyword value...` per line; `#` starts a comment.
 * Every error names the file, the line and what is wrong with it. */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "cpufeat.h"

#define LINE_MAX_LEN 1024
#define WORDS_MAX 8

struct parse {
	const char *path;
	unsigned line;
	char *err;
	size_t errlen;
};

static int bad(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct parse *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->line)
		snprintf(p->err, p->errlen, "%s:%u: %s", p->path, p->line, msg);
	else
		snprintf(p->err, p->errlen, "%s: %s", p->path, msg);
	return -1;
}

/* Words the tools read where a node name goes (mrun -n here|best, mmigrate GPID home): a
 * node so named could not be named there. */
static int name_reserved(const char *name)
{
	return !strcmp(name, "here") || !strcmp(name, "best") || !strcmp(name, "home");
}

static void defaults(struct migr_config *c)
{
	memset(c, 0, sizeof(*c));
	char host[256] = "";
	if (gethostname(host, sizeof(host) - 1) == 0) {
		host[strcspn(host, ".")] = '\0';
		if (migr_name_valid(host) && !name_reserved(host))
			snprintf(c->node, sizeof(c->node), "%s", host);
	}
	c->listen.port = MIGR_DEFAULT_PORT;
	snprintf(c->key_file, sizeof(c->key_file), "/etc/migr/cluster.key");
	snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/migr");
	snprintf(c->socket, sizeof(c->socket), "%s", MIGR_DEFAULT_SOCKET);
	snprintf(c->criu, sizeof(c->criu), "%s", MIGR_CRIU_PATH);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	c->cpus = n > 0 ? (double)n : 1.0;
	c->gossip_period_ms = 1000;
	c->gossip_fanout = 2;
	c->gossip_window = 8;
	c->suspect_timeout_ms = 5000;
	c->dead_timeout_ms = 10000;
	c->balance = 1;
	c->balance_period_ms = 2000;
	c->balance_margin = 0.25;
	c->balance_residency_ms = 10000;
	c->balance_mem_low_kb = 256 * 1024;
	c->cpu_strict = 1;
	c->peer_root_jobs = 1;
	c->max_user_jobs = 1000;
}

static int parse_uint(struct parse *p, const char *what, const char *s, unsigned long min,
		      unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || end == s || *s == '-' || v < min || v > max)
		return bad(p, "%s: '%s' is not a number in %lu..%lu", what, s, min, max);
	*out = v;
	return 0;
}

static int parse_endpoint(struct parse *p, const char *what, char **w, int nw,
			  struct migr_endpoint *ep)
{
	unsigned char tmp[16];
	if (nw < 2 || nw > 3)
		return bad(p, "%s: want an address and an optional port", what);
	if (strlen(w[1]) > MIGR_ADDR_MAX || (inet_pton(AF_INET, w[1], tmp) != 1 &&
					     inet_pton(AF_INET6, w[1], tmp) != 1))
		return bad(p, "%s: '%s' is not a numeric IPv4 or IPv6 address", what, w[1]);
	snprintf(ep->addr, sizeof(ep->addr), "%s", w[1]);
	ep->port = MIGR_DEFAULT_PORT;
	if (nw == 3) {
		unsigned long port;
		char port_what[32];
		snprintf(port_what, sizeof(port_what), "%s port", what);
		if (parse_uint(p, port_what, w[2], 1, 65535, &port) < 0)
			return -1;
		ep->port = (uint16_t)port;
	}
	return 0;
}

static int parse_path(struct parse *p, const char *what, char **w, int nw, char *out,
		      size_t outlen, int absolute)
{
	if (nw != 2)
		return bad(p, "%s: want one path", what);
	if (absolute && w[1][0] != '/')
		return bad(p, "%s: '%s' is not an absolute path", what, w[1]);
	if (strlen(w[1]) >= outlen)
		return bad(p, "%s: path too long", what);
	snprintf(out, outlen, "%s", w[1]);
	return 0;
}

/* `keyword N`: one whole number in min..max; want says what N is, for the error */
static int parse_count(struct parse *p, const char *what, char **w, int nw, const char *want,
		       unsigned long min, unsigned long max, unsigned long *out)
{
	if (nw != 2)
		return bad(p, "%s: want %s", what, want);
	return parse_uint(p, what, w[1], min, max, out);
}

static int parse_ms(struct parse *p, const char *what, char **w, int nw, unsigned *out)
{
	unsigned long v;
	if (parse_count(p, what, w, nw, "milliseconds", 10, 3600000, &v) < 0)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* `keyword X`: one real number in min..max (NaN is not); -1 without a message */
static int parse_real(char **w, int nw, double min, double max, double *out)
{
	char *end;
	double d = nw == 2 ? strtod(w[1], &end) : 0;
	if (nw != 2 || *end || !(d >= min && d <= max))
		return -1;
	*out = d;
	return 0;
}

static int parse_line(struct parse *p, struct migr_config *c, char **w, int nw)
{
	const char *k = w[0];
	unsigned long v;

	if (!strcmp(k, "node")) {
		if (nw != 2 || !migr_name_valid(w[1]))
			return bad(p, "node: want one name of 1..%d letters, digits, '.', '_', '-'",
				   MIGR_NAME_MAX);
		if (name_reserved(w[1]))
			return bad(p, "node: '%s' means something else to the tools: pick another "
				   "name", w[1]);
		snprintf(c->node, sizeof(c->node), "%s", w[1]);
	} else if (!strcmp(k, "listen")) {
		return parse_endpoint(p, k, w, nw, &c->listen);
	} else if (!strcmp(k, "peer")) {
		if (c->npeers == CONFIG_PEERS_MAX)
			return bad(p, "peer: more than %d peers", CONFIG_PEERS_MAX);
		return parse_endpoint(p, k, w, nw, &c->peers[c->npeers++]);
	} else if (!strcmp(k, "key")) {
		return parse_path(p, k, w, nw, c->key_file, sizeof(c->key_file), 1);
	} else if (!strcmp(k, "state-dir")) {
		return parse_path(p, k, w, nw, c->state_dir, sizeof(c->state_dir), 1);
	} else if (!strcmp(k, "socket")) {
		/* sun_path is 108 bytes */
		if (nw == 2 && strlen(w[1]) >= 108)
			return bad(p, "socket: path longer than 107 bytes");
		return parse_path(p, k, w, nw, c->socket, sizeof(c->socket), 1);
	} else if (!strcmp(k, "criu")) {
		return parse_path(p, k, w, nw, c->criu, sizeof(c->criu), 1);
	} else if (!strcmp(k, "cgroup")) {
		if (nw == 2 && (strstr(w[1], "..") || w[1][0] == '/'))
			return bad(p, "cgroup: '%s' must be relative, without '..'", w[1]);
		return parse_path(p, k, w, nw, c->cgroup, sizeof(c->cgroup), 0);
	} else if (!strcmp(k, "cpus")) {
		if (parse_real(w, nw, 0.01, 4096, &c->cpus) < 0)
			return bad(p, "cpus: want a number of CPUs in 0.01..4096");
	} else if (!strcmp(k, "gossip-period")) {
		return parse_ms(p, k, w, nw, &c->gossip_period_ms);
	} else if (!strcmp(k, "suspect-timeout")) {
		return parse_ms(p, k, w, nw, &c->suspect_timeout_ms);
	} else if (!strcmp(k, "dead-timeout")) {
		return parse_ms(p, k, w, nw, &c->dead_timeout_ms);
	} else if (!strcmp(k, "gossip-fanout")) {
		if (parse_count(p, k, w, nw, "a number", 1, 16, &v) < 0)
			return -1;
		c->gossip_fanout = (unsigned)v;
	} else if (!strcmp(k, "gossip-window")) {
		if (parse_count(p, k, w, nw, "a number", 0, GOSSIP_WINDOW_MAX, &v) < 0)
			return -1;
		c->gossip_window = (unsigned)v;
	} else if (!strcmp(k, "balance")) {
		if (nw != 2 || (strcmp(w[1], "on") && strcmp(w[1], "off")))
			return bad(p, "balance: want on or off");
		c->balance = !strcmp(w[1], "on");
	} else if (!strcmp(k, "balance-period")) {
		return parse_ms(p, k, w, nw, &c->balance_period_ms);
	} else if (!strcmp(k, "balance-residency")) {
		if (parse_count(p, k, w, nw, "milliseconds", 0, 86400000, &v) < 0)
			return -1;
		c->balance_residency_ms = (unsigned)v;
	} else if (!strcmp(k, "balance-margin")) {
		if (parse_real(w, nw, 0, 100, &c->balance_margin) < 0)
			return bad(p, "balance-margin: want a load per CPU in 0..100");
	} else if (!strcmp(k, "balance-mem-low")) {
		if (parse_count(p, k, w, nw, "MiB", 0, 1UL << 30, &v) < 0)
			return -1;
		c->balance_mem_low_kb = (uint64_t)v * 1024;
	} else if (!strcmp(k, "balance-freeze")) {
		if (nw != 2 || (strcmp(w[1], "on") && strcmp(w[1], "off")))
			return bad(p, "balance-freeze: want on or off");
		c->balance_freeze = !strcmp(w[1], "on");
	} else if (!strcmp(k, "cpu-check")) {
		if (nw != 2 || (strcmp(w[1], "strict") && strcmp(w[1], "off")))
			return bad(p, "cpu-check: want strict or off");
		c->cpu_strict = !strcmp(w[1], "strict");
	} else if (!strcmp(k, "test-cpu-hide")) {
		if (nw < 2)
			return bad(p, "test-cpu-hide: want CPU features, as /proc/cpuinfo names them");
		for (int i = 1; i < nw; i++) {
			int b = cpufeat_bit(w[i]);
			if (b < 0)
				return bad(p, "test-cpu-hide: '%s' is not a CPU feature migr tracks", w[i]);
			c->cpu_features_hidden |= 1ULL << b;
		}
	} else if (!strcmp(k, "test-hide-path")) {
		return parse_path(p, k, w, nw, c->test_hide_path, sizeof(c->test_hide_path), 1);
	} else if (!strcmp(k, "peer-root-jobs")) {
		if (nw != 2 || (strcmp(w[1], "yes") && strcmp(w[1], "no")))
			return bad(p, "peer-root-jobs: want yes or no");
		c->peer_root_jobs = !strcmp(w[1], "yes");
	} else if (!strcmp(k, "test-pause")) {
		if (nw != 3 || !migr_name_valid(w[1]) || strlen(w[1]) >= sizeof(c->test_pause_at))
			return bad(p, "test-pause: want a point and milliseconds");
		snprintf(c->test_pause_at, sizeof(c->test_pause_at), "%s", w[1]);
		char *ms[2] = { w[0], w[2] };
		if (parse_count(p, k, ms, 2, "milliseconds", 0, 600000, &v) < 0)
			return -1;
		c->test_pause_ms = (unsigned)v;
	} else if (!strcmp(k, "max-user-jobs")) {
		if (parse_count(p, k, w, nw, "a number of jobs", 0, 1000000, &v) < 0)
			return -1;
		c->max_user_jobs = (unsigned)v;
	} else {
		return bad(p, "unknown keyword '%s'", k);
	}
	return 0;
}

static int check(struct parse *p, struct migr_config *c)
{
	p->line = 0;
	if (!c->node[0])
		return bad(p, "missing 'node' (and the host name is not a valid node name)");
	if (!c->listen.addr[0])
		return bad(p, "missing 'listen ADDRESS [PORT]'");
	if (c->suspect_timeout_ms <= c->gossip_period_ms)
		return bad(p, "suspect-timeout (%u ms) must be longer than gossip-period (%u ms)",
			   c->suspect_timeout_ms, c->gossip_period_ms);
	if (c->dead_timeout_ms <= c->suspect_timeout_ms)
		return bad(p, "dead-timeout (%u ms) must be longer than suspect-timeout (%u ms)",
			   c->dead_timeout_ms, c->suspect_timeout_ms);
	return 0;
}

int migr_config_load(const char *path, struct migr_config *c, char *err, size_t errlen)
{
	struct parse p = { .path = path, .line = 0, .err = err, .errlen = errlen };
	char *buf = NULL;
	size_t cap = 0;
	ssize_t len;

	defaults(c);
	snprintf(c->path, sizeof(c->path), "%s", path);
	FILE *f = fopen(path, "re");
	if (!f)
		return bad(&p, "%s", strerror(errno));
	int r = 0;
	/* getline, not fgets: it reports the true length, so a NUL byte cannot hide the rest of a line */
	while (r == 0 && (len = getline(&buf, &cap, f)) >= 0) {
		p.line++;
		/* the newline does not count: a line printed back (migrd -n) loads again */
		if (len > LINE_MAX_LEN + (len && buf[len - 1] == '\n')) {
			r = bad(&p, "line longer than %d bytes", LINE_MAX_LEN);
			break;
		}
		if (strlen(buf) != (size_t)len) {
			r = bad(&p, "NUL byte in line");
			break;
		}
		buf[strcspn(buf, "#")] = '\0';
		char *w[WORDS_MAX + 1], *save = NULL;
		int nw = 0;
		for (char *t = strtok_r(buf, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
			if (nw == WORDS_MAX) {
				nw++;
				break;
			}
			w[nw++] = t;
		}
		if (nw == 0)
			continue;
		if (nw > WORDS_MAX)
			r = bad(&p, "%s: too many words", w[0]);
		else
			r = parse_line(&p, c, w, nw);
	}
	if (r == 0 && ferror(f))
		r = bad(&p, "read error");
	free(buf);
	fclose(f);
	return r == 0 ? check(&p, c) : -1;
}

void migr_config_print(const struct migr_config *c, FILE *f)
{
	fprintf(f, "node %s\n", c->node);
	fprintf(f, "listen %s %u\n", c->listen.addr, c->listen.port);
	for (unsigned i = 0; i < c->npeers; i++)
		fprintf(f, "peer %s %u\n", c->peers[i].addr, c->peers[i].port);
	fprintf(f, "key %s\n", c->key_file);
	fprintf(f, "state-dir %s\n", c->state_dir);
	fprintf(f, "socket %s\n", c->socket);
	fprintf(f, "criu %s\n", c->criu);
	if (c->cgroup[0])
		fprintf(f, "cgroup %s\n", c->cgroup);
	fprintf(f, "cpus %g\n", c->cpus);
	fprintf(f, "gossip-period %u\n", c->gossip_period_ms);
	fprintf(f, "gossip-fanout %u\n", c->gossip_fanout);
	fprintf(f, "gossip-window %u\n", c->gossip_window);
	fprintf(f, "suspect-timeout %u\n", c->suspect_timeout_ms);
	fprintf(f, "dead-timeout %u\n", c->dead_timeout_ms);
	fprintf(f, "balance %s\n", c->balance ? "on" : "off");
	fprintf(f, "balance-period %u\n", c->balance_period_ms);
	fprintf(f, "balance-margin %g\n", c->balance_margin);
	fprintf(f, "balance-residency %u\n", c->balance_residency_ms);
	fprintf(f, "balance-mem-low %llu\n", (unsigned long long)(c->balance_mem_low_kb / 1024));
	fprintf(f, "balance-freeze %s\n", c->balance_freeze ? "on" : "off");
	fprintf(f, "cpu-check %s\n", c->cpu_strict ? "strict" : "off");
	if (c->cpu_features_hidden) {
		fprintf(f, "test-cpu-hide");
		for (int b = 0; b < 64; b++) {
			char name[64];
			if ((c->cpu_features_hidden >> b & 1) &&
			    cpufeat_names(1ULL << b, name, sizeof(name)))
				fprintf(f, " %s", name);
		}
		fprintf(f, "\n");
	}
	if (c->test_hide_path[0])
		fprintf(f, "test-hide-path %s\n", c->test_hide_path);
	fprintf(f, "peer-root-jobs %s\n", c->peer_root_jobs ? "yes" : "no");
	fprintf(f, "max-user-jobs %u\n", c->max_user_jobs);
	if (c->test_pause_at[0])
		fprintf(f, "test-pause %s %u\n", c->test_pause_at, c->test_pause_ms);
}
