/* test-config.c: migrd.conf parsing: what a valid file yields, the defaults, and the exact
 * message for each kind of mistake (FILE:LINE: what is wrong, or FILE: what is wrong for
 * what no single line says). */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "cpufeat.h"
#include "unit.h"

static char path[256];	/* the temporary config file of the running test */

/* Writes n bytes of text to a fresh temporary file, named in path. */
static void write_conf_n(const char *text, size_t n)
{
	const char *t = getenv("TMPDIR");
	snprintf(path, sizeof(path), "%s/migrd-conf.XXXXXX",
		 t && *t && strlen(t) < 128 ? t : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, text, n) != (ssize_t)n || close(fd) < 0)
		abort();
}

/* Loads text as a config file; the file is gone again afterwards. */
static int load_n(const char *text, size_t n, struct migr_config *c, char *err, size_t errlen)
{
	write_conf_n(text, n);
	err[0] = '\0';
	int r = migr_config_load(path, c, err, errlen);
	unlink(path);
	return r;
}

static int load(const char *text, struct migr_config *c, char *err, size_t errlen)
{
	return load_n(text, strlen(text), c, err, errlen);
}

static struct migr_config conf;	/* large: PATH_MAX strings and 256 peers */

static void test_minimal_defaults(void)
{
	char err[512];
	if (!CHECK_INT(load("node solo\nlisten 127.0.0.1\n", &conf, err, sizeof(err)), ==, 0))
		fprintf(stderr, "  %s\n", err);
	CHECK_STR(conf.path, path);
	CHECK_STR(conf.node, "solo");
	CHECK_STR(conf.listen.addr, "127.0.0.1");
	CHECK_UINT(conf.listen.port, ==, MIGR_DEFAULT_PORT);
	CHECK_UINT(conf.npeers, ==, 0);
	CHECK_STR(conf.key_file, "/etc/migr/cluster.key");
	CHECK_STR(conf.state_dir, "/var/lib/migr");
	CHECK_STR(conf.socket, MIGR_DEFAULT_SOCKET);
	CHECK_STR(conf.criu, MIGR_CRIU_PATH);
	CHECK_STR(conf.cgroup, "");
	long nproc = sysconf(_SC_NPROCESSORS_ONLN);
	CHECK(conf.cpus == (double)(nproc > 0 ? nproc : 1));
	CHECK_UINT(conf.gossip_period_ms, ==, 1000);
	CHECK_UINT(conf.gossip_fanout, ==, 2);
	CHECK_UINT(conf.gossip_window, ==, 8);
	CHECK_UINT(conf.suspect_timeout_ms, ==, 5000);
	CHECK_UINT(conf.dead_timeout_ms, ==, 10000);
	CHECK_INT(conf.balance, ==, 1);
	CHECK_UINT(conf.balance_period_ms, ==, 2000);
	CHECK(conf.balance_margin == 0.25);
	CHECK_UINT(conf.balance_residency_ms, ==, 10000);
	CHECK_UINT(conf.balance_mem_low_kb, ==, 256 * 1024);
	CHECK_INT(conf.balance_freeze, ==, 0);
	CHECK_STR(conf.test_hide_path, "");
	CHECK_INT(conf.peer_root_jobs, ==, 1);
	CHECK_UINT(conf.max_user_jobs, ==, 1000);
	CHECK(err[0] == '\0');
}

static const char full_conf[] =
	"# every keyword, with comments and blank lines in between\n"
	"node   node-7.a_b        # a trailing comment\n"
	"\n"
	"listen ::1 7500\n"
	"peer 10.0.0.2\n"
	"peer 10.0.0.3 7471\n"
	"\tpeer\tfe80::1\t7472\t\n"
	"key /etc/migr/test.key\n"
	"state-dir /var/lib/migr-test\n"
	"socket /run/migr-test/migrd.sock\n"
	"criu /opt/criu/sbin/criu\n"
	"cgroup migr/test\n"
	"cpus 1.5\n"
	"gossip-period 250\n"
	"gossip-fanout 3\n"
	"gossip-window 4\n"
	"suspect-timeout 2000\n"
	"dead-timeout 4000\n"
	"balance off\n"
	"balance-period 500\n"
	"balance-margin 0.5\n"
	"balance-residency 0\n"
	"balance-mem-low 512\n"
	"balance-freeze on\n"
	"cpu-check off\n"
	"test-cpu-hide avx2 sse3\n"
	"test-hide-path /tmp/hidden\n"
	"peer-root-jobs no\n"
	"max-user-jobs 50\n";

static const char full_printed[] =
	"node node-7.a_b\n"
	"listen ::1 7500\n"
	"peer 10.0.0.2 7470\n"
	"peer 10.0.0.3 7471\n"
	"peer fe80::1 7472\n"
	"key /etc/migr/test.key\n"
	"state-dir /var/lib/migr-test\n"
	"socket /run/migr-test/migrd.sock\n"
	"criu /opt/criu/sbin/criu\n"
	"cgroup migr/test\n"
	"cpus 1.5\n"
	"gossip-period 250\n"
	"gossip-fanout 3\n"
	"gossip-window 4\n"
	"suspect-timeout 2000\n"
	"dead-timeout 4000\n"
	"balance off\n"
	"balance-period 500\n"
	"balance-margin 0.5\n"
	"balance-residency 0\n"
	"balance-mem-low 512\n"
	"balance-freeze on\n"
	"cpu-check off\n"
	"test-cpu-hide sse3 avx2\n"
	"test-hide-path /tmp/hidden\n"
	"peer-root-jobs no\n"
	"max-user-jobs 50\n";

static void test_full(void)
{
	char err[512];
	if (!CHECK_INT(load(full_conf, &conf, err, sizeof(err)), ==, 0))
		fprintf(stderr, "  %s\n", err);
	CHECK_STR(conf.node, "node-7.a_b");
	CHECK_STR(conf.listen.addr, "::1");
	CHECK_UINT(conf.listen.port, ==, 7500);
	if (CHECK_UINT(conf.npeers, ==, 3)) {
		CHECK_STR(conf.peers[0].addr, "10.0.0.2");
		CHECK_UINT(conf.peers[0].port, ==, MIGR_DEFAULT_PORT);
		CHECK_STR(conf.peers[1].addr, "10.0.0.3");
		CHECK_UINT(conf.peers[1].port, ==, 7471);
		CHECK_STR(conf.peers[2].addr, "fe80::1");
		CHECK_UINT(conf.peers[2].port, ==, 7472);
	}
	CHECK_STR(conf.key_file, "/etc/migr/test.key");
	CHECK_STR(conf.state_dir, "/var/lib/migr-test");
	CHECK_STR(conf.socket, "/run/migr-test/migrd.sock");
	CHECK_STR(conf.criu, "/opt/criu/sbin/criu");
	CHECK_STR(conf.cgroup, "migr/test");
	CHECK(conf.cpus == 1.5);
	CHECK_UINT(conf.gossip_period_ms, ==, 250);
	CHECK_UINT(conf.gossip_fanout, ==, 3);
	CHECK_UINT(conf.gossip_window, ==, 4);
	CHECK_UINT(conf.suspect_timeout_ms, ==, 2000);
	CHECK_UINT(conf.dead_timeout_ms, ==, 4000);
	CHECK_INT(conf.balance, ==, 0);
	CHECK_UINT(conf.balance_period_ms, ==, 500);
	CHECK(conf.balance_margin == 0.5);
	CHECK_UINT(conf.balance_residency_ms, ==, 0);
	CHECK_UINT(conf.balance_mem_low_kb, ==, 512 * 1024);
	CHECK_INT(conf.balance_freeze, ==, 1);
	CHECK_STR(conf.test_hide_path, "/tmp/hidden");
	CHECK_INT(conf.peer_root_jobs, ==, 0);
	CHECK_UINT(conf.max_user_jobs, ==, 50);
}

static char *print_conf(const struct migr_config *c)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);
	if (!f)
		abort();
	migr_config_print(c, f);
	fclose(f);
	return text;
}

/* What print writes is a config file that reads back the same. */
static void test_print(void)
{
	char err[512];
	static struct migr_config again;
	if (!CHECK_INT(load(full_conf, &conf, err, sizeof(err)), ==, 0))
		return;
	char *text = print_conf(&conf);
	CHECK_STR(text, full_printed);
	if (CHECK_INT(load(text, &again, err, sizeof(err)), ==, 0)) {
		char *text2 = print_conf(&again);
		CHECK_STR(text2, text);
		free(text2);
		/* everything but the file name */
		snprintf(again.path, sizeof(again.path), "%s", conf.path);
		CHECK(memcmp(&conf, &again, sizeof(conf)) == 0);
	}
	free(text);
}

/* Boundary values that are allowed. */
static void test_limits_ok(void)
{
	char err[512];
	char text[2048], sock[120];
	memset(sock, 's', 107);
	sock[0] = '/';
	sock[107] = '\0';
	snprintf(text, sizeof(text),
		 "node abcdefghijklmnopqrstuvwxyz01234\n"	/* MIGR_NAME_MAX */
		 "listen ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 65535\n"
		 "peer 0.0.0.0 1\n"
		 "socket %s\n"
		 "cpus 0.01\n"
		 "gossip-period 10\n"
		 "suspect-timeout 11\n"
		 "dead-timeout 3600000\n"
		 "gossip-fanout 16\n"
		 "gossip-window 0\n"
		 "balance on\n"
		 "balance-margin 100\n"
		 "balance-residency 86400000\n"
		 "balance-mem-low 1073741824\n",
		 sock);
	if (!CHECK_INT(load(text, &conf, err, sizeof(err)), ==, 0))
		fprintf(stderr, "  %s\n", err);
	CHECK_STR(conf.node, "abcdefghijklmnopqrstuvwxyz01234");
	CHECK_STR(conf.listen.addr, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
	CHECK_UINT(conf.listen.port, ==, 65535);
	CHECK_UINT(conf.peers[0].port, ==, 1);
	CHECK_STR(conf.socket, sock);
	CHECK(conf.cpus == 0.01);
	CHECK_UINT(conf.gossip_period_ms, ==, 10);
	CHECK_UINT(conf.suspect_timeout_ms, ==, 11);
	CHECK_UINT(conf.dead_timeout_ms, ==, 3600000);
	CHECK_UINT(conf.gossip_fanout, ==, 16);
	CHECK_UINT(conf.gossip_window, ==, 0);
	CHECK_INT(conf.balance, ==, 1);
	CHECK(conf.balance_margin == 100);
	CHECK_UINT(conf.balance_residency_ms, ==, 86400000);
	CHECK_UINT(conf.balance_mem_low_kb, ==, (uint64_t)1 << 40);	/* 1 TiB in KiB */

	snprintf(text, sizeof(text), "node n\nlisten 1.2.3.4\ncpus 4096\ngossip-window %d\n",
		 GOSSIP_WINDOW_MAX);
	CHECK_INT(load(text, &conf, err, sizeof(err)), ==, 0);
	CHECK(conf.cpus == 4096);
	CHECK_UINT(conf.gossip_window, ==, GOSSIP_WINDOW_MAX);

	/* exactly 256 peers */
	char *many = malloc(256 * 24 + 64);
	if (!many)
		abort();
	size_t n = (size_t)sprintf(many, "node n\nlisten 1.2.3.4\n");
	for (int i = 0; i < CONFIG_PEERS_MAX; i++)
		n += (size_t)sprintf(many + n, "peer 10.0.%d.%d %d\n", i / 256, i % 256, 1000 + i);
	if (CHECK_INT(load(many, &conf, err, sizeof(err)), ==, 0) &&
	    CHECK_UINT(conf.npeers, ==, CONFIG_PEERS_MAX)) {
		CHECK_STR(conf.peers[255].addr, "10.0.0.255");
		CHECK_UINT(conf.peers[255].port, ==, 1255);
	}
	free(many);
}

/* Blank lines, comments, tabs, CRLF line ends, no final newline. */
static void test_layout(void)
{
	char err[512];
	static const char text[] =
		"\n"
		"   \t  \n"
		"# listen 9.9.9.9\n"
		"  node\tn1#no space before the comment\r\n"
		"listen 10.1.2.3 7000 # port\r\n"
		"#\n"
		"key /k#ey";
	if (!CHECK_INT(load(text, &conf, err, sizeof(err)), ==, 0))
		fprintf(stderr, "  %s\n", err);
	CHECK_STR(conf.node, "n1");
	CHECK_STR(conf.listen.addr, "10.1.2.3");
	CHECK_UINT(conf.listen.port, ==, 7000);
	CHECK_STR(conf.key_file, "/k");	/* '#' starts a comment, even inside a word */

	/* an empty file: only what check() asks for is missing */
	CHECK_INT(load("", &conf, err, sizeof(err)), ==, -1);
	char host[256] = "";
	char want[512];
	gethostname(host, sizeof(host) - 1);
	host[strcspn(host, ".")] = '\0';
	if (migr_name_valid(host))
		snprintf(want, sizeof(want), "%s: missing 'listen ADDRESS [PORT]'", path);
	else
		snprintf(want, sizeof(want),
			 "%s: missing 'node' (and the host name is not a valid node name)", path);
	CHECK_STR(err, want);
}

/* Without a node line, the host name (up to its first dot) is the node name. */
static void test_default_node(void)
{
	char err[512], host[256] = "";
	int r = load("listen 127.0.0.1\n", &conf, err, sizeof(err));
	gethostname(host, sizeof(host) - 1);
	host[strcspn(host, ".")] = '\0';
	if (migr_name_valid(host)) {
		CHECK_INT(r, ==, 0);
		CHECK_STR(conf.node, host);
	} else {
		char want[512];
		snprintf(want, sizeof(want),
			 "%s: missing 'node' (and the host name is not a valid node name)", path);
		CHECK_INT(r, ==, -1);
		CHECK_STR(err, want);
	}
}

/* A keyword given twice: the later line wins; peers add up. */
static void test_repeated(void)
{
	char err[512];
	CHECK_INT(load("node a\nlisten 1.1.1.1\nnode b\nlisten 2.2.2.2 9\ncpus 2\ncpus 3\n"
		       "peer 3.3.3.3\npeer 3.3.3.3\n",
		       &conf, err, sizeof(err)),
		  ==, 0);
	CHECK_STR(conf.node, "b");
	CHECK_STR(conf.listen.addr, "2.2.2.2");
	CHECK_UINT(conf.listen.port, ==, 9);
	CHECK(conf.cpus == 3);
	CHECK_UINT(conf.npeers, ==, 2);
}

struct bad_case {
	const char *text;
	unsigned line;		/* 0: a whole-file error, "FILE: msg" */
	const char *msg;
};

/* Each line is placed after two valid ones, so its line number is 3 unless said. */
static const struct bad_case bad_lines[] = {
	{ "node a b", 3, "node: want one name of 1..31 letters, digits, '.', '_', '-'" },
	{ "node", 3, "node: want one name of 1..31 letters, digits, '.', '_', '-'" },
	{ "node bad/name", 3, "node: want one name of 1..31 letters, digits, '.', '_', '-'" },
	{ "node abcdefghijklmnopqrstuvwxyz012345", 3,
	  "node: want one name of 1..31 letters, digits, '.', '_', '-'" },
	{ "node here", 3, "node: 'here' means something else to the tools: pick another name" },
	{ "node best", 3, "node: 'best' means something else to the tools: pick another name" },
	{ "node home", 3, "node: 'home' means something else to the tools: pick another name" },
	{ "lisen 1.2.3.4", 3, "unknown keyword 'lisen'" },
	{ "Node a", 3, "unknown keyword 'Node'" },
	{ "listen", 3, "listen: want an address and an optional port" },
	{ "listen 1.2.3.4 1 2", 3, "listen: want an address and an optional port" },
	{ "listen 10.0.0.300", 3, "listen: '10.0.0.300' is not a numeric IPv4 or IPv6 address" },
	{ "listen localhost", 3, "listen: 'localhost' is not a numeric IPv4 or IPv6 address" },
	{ "listen 1.2.3", 3, "listen: '1.2.3' is not a numeric IPv4 or IPv6 address" },
	{ "listen ::1%eth0", 3, "listen: '::1%eth0' is not a numeric IPv4 or IPv6 address" },
	{ "listen 1.2.3.4 70000", 3, "listen port: '70000' is not a number in 1..65535" },
	{ "listen 1.2.3.4 0", 3, "listen port: '0' is not a number in 1..65535" },
	{ "listen 1.2.3.4 -1", 3, "listen port: '-1' is not a number in 1..65535" },
	{ "listen 1.2.3.4 12ab", 3, "listen port: '12ab' is not a number in 1..65535" },
	{ "listen 1.2.3.4 0x10", 3, "listen port: '0x10' is not a number in 1..65535" },
	{ "listen 1.2.3.4 99999999999999999999999", 3,
	  "listen port: '99999999999999999999999' is not a number in 1..65535" },
	{ "peer 1.2.3.4 65536", 3, "peer port: '65536' is not a number in 1..65535" },
	{ "peer", 3, "peer: want an address and an optional port" },
	{ "peer host.example", 3, "peer: 'host.example' is not a numeric IPv4 or IPv6 address" },
	{ "key cluster.key", 3, "key: 'cluster.key' is not an absolute path" },
	{ "key", 3, "key: want one path" },
	{ "key /a /b", 3, "key: want one path" },
	{ "state-dir var/lib", 3, "state-dir: 'var/lib' is not an absolute path" },
	{ "socket run/migrd.sock", 3, "socket: 'run/migrd.sock' is not an absolute path" },
	{ "criu criu", 3, "criu: 'criu' is not an absolute path" },
	{ "cgroup ../escape", 3, "cgroup: '../escape' must be relative, without '..'" },
	{ "cgroup a/../../b", 3, "cgroup: 'a/../../b' must be relative, without '..'" },
	{ "cgroup /migr", 3, "cgroup: '/migr' must be relative, without '..'" },
	{ "cgroup", 3, "cgroup: want one path" },
	{ "cpus 0", 3, "cpus: want a number of CPUs in 0.01..4096" },
	{ "cpus 0.009", 3, "cpus: want a number of CPUs in 0.01..4096" },
	{ "cpus 4097", 3, "cpus: want a number of CPUs in 0.01..4096" },
	{ "cpus -1", 3, "cpus: want a number of CPUs in 0.01..4096" },
	{ "cpus 1.5x", 3, "cpus: want a number of CPUs in 0.01..4096" },
	{ "cpus many", 3, "cpus: want a number of CPUs in 0.01..4096" },
	{ "cpus inf", 3, "cpus: want a number of CPUs in 0.01..4096" },
	{ "cpus", 3, "cpus: want a number of CPUs in 0.01..4096" },
	{ "cpus 1 2", 3, "cpus: want a number of CPUs in 0.01..4096" },
	{ "gossip-period 5", 3, "gossip-period: '5' is not a number in 10..3600000" },
	{ "gossip-period 3600001", 3, "gossip-period: '3600001' is not a number in 10..3600000" },
	{ "gossip-period 1s", 3, "gossip-period: '1s' is not a number in 10..3600000" },
	{ "gossip-period -100", 3, "gossip-period: '-100' is not a number in 10..3600000" },
	{ "gossip-period", 3, "gossip-period: want milliseconds" },
	{ "gossip-period 100 200", 3, "gossip-period: want milliseconds" },
	{ "suspect-timeout soon", 3, "suspect-timeout: 'soon' is not a number in 10..3600000" },
	{ "dead-timeout 9", 3, "dead-timeout: '9' is not a number in 10..3600000" },
	{ "dead-timeout 18446744073709551616", 3,
	  "dead-timeout: '18446744073709551616' is not a number in 10..3600000" },
	{ "gossip-fanout 0", 3, "gossip-fanout: '0' is not a number in 1..16" },
	{ "gossip-fanout 17", 3, "gossip-fanout: '17' is not a number in 1..16" },
	{ "gossip-fanout", 3, "gossip-fanout: want a number" },
	{ "gossip-fanout 1 2", 3, "gossip-fanout: want a number" },
	{ "gossip-window 64", 3, "gossip-window: '64' is not a number in 0..63" },
	{ "gossip-window -0", 3, "gossip-window: '-0' is not a number in 0..63" },
	{ "gossip-window", 3, "gossip-window: want a number" },
	{ "balance maybe", 3, "balance: want on or off" },
	{ "balance On", 3, "balance: want on or off" },
	{ "balance", 3, "balance: want on or off" },
	{ "balance on off", 3, "balance: want on or off" },
	{ "balance-period 5", 3, "balance-period: '5' is not a number in 10..3600000" },
	{ "balance-period", 3, "balance-period: want milliseconds" },
	{ "balance-margin -0.1", 3, "balance-margin: want a load per CPU in 0..100" },
	{ "balance-margin 100.5", 3, "balance-margin: want a load per CPU in 0..100" },
	{ "balance-margin nan", 3, "balance-margin: want a load per CPU in 0..100" },
	{ "balance-margin 1x", 3, "balance-margin: want a load per CPU in 0..100" },
	{ "balance-margin", 3, "balance-margin: want a load per CPU in 0..100" },
	{ "balance-residency 86400001", 3,
	  "balance-residency: '86400001' is not a number in 0..86400000" },
	{ "balance-residency", 3, "balance-residency: want milliseconds" },
	{ "balance-mem-low 1073741825", 3,
	  "balance-mem-low: '1073741825' is not a number in 0..1073741824" },
	{ "balance-mem-low 1G", 3, "balance-mem-low: '1G' is not a number in 0..1073741824" },
	{ "balance-mem-low", 3, "balance-mem-low: want MiB" },
	{ "balance-freeze yes", 3, "balance-freeze: want on or off" },
	{ "balance-freeze", 3, "balance-freeze: want on or off" },
	{ "cpu-check loose", 3, "cpu-check: want strict or off" },
	{ "cpu-check", 3, "cpu-check: want strict or off" },
	{ "test-cpu-hide", 3, "test-cpu-hide: want CPU features, as /proc/cpuinfo names them" },
	{ "test-cpu-hide avx2 avx9", 3, "test-cpu-hide: 'avx9' is not a CPU feature migr tracks" },
	{ "test-hide-path", 3, "test-hide-path: want one path" },
	{ "test-hide-path /a /b", 3, "test-hide-path: want one path" },
	{ "test-hide-path tmp/x", 3, "test-hide-path: 'tmp/x' is not an absolute path" },
	{ "peer-root-jobs maybe", 3, "peer-root-jobs: want yes or no" },
	{ "peer-root-jobs", 3, "peer-root-jobs: want yes or no" },
	{ "max-user-jobs 1000001", 3, "max-user-jobs: '1000001' is not a number in 0..1000000" },
	{ "max-user-jobs", 3, "max-user-jobs: want a number of jobs" },
	{ "peer 1 2 3 4 5 6 7 8", 3, "peer: too many words" },
	{ "nonsense 1 2 3 4 5 6 7 8 9 10", 3, "nonsense: too many words" },
};

static void check_bad(const char *text, size_t n, unsigned line, const char *msg)
{
	char err[512], want[1024];
	int r = load_n(text, n, &conf, err, sizeof(err));
	if (line)
		snprintf(want, sizeof(want), "%s:%u: %s", path, line, msg);
	else
		snprintf(want, sizeof(want), "%s: %s", path, msg);
	CHECK_INT(r, ==, -1);
	CHECK_STR(err, want);
}

static void test_bad_lines(void)
{
	for (size_t i = 0; i < UNIT_COUNT(bad_lines); i++) {
		char text[512];
		int n = snprintf(text, sizeof(text), "node n\nlisten 127.0.0.1\n%s\n",
				 bad_lines[i].text);
		UNIT_CTX("'%s'", bad_lines[i].text);
		check_bad(text, (size_t)n, bad_lines[i].line, bad_lines[i].msg);
	}
	UNIT_CTX_CLEAR();
}

/* Line numbers count blank and comment lines; the first error is the one reported. */
static void test_line_numbers(void)
{
	static const char text[] = "# a comment\n\nnode n\n   \n# another\nlisten 1.2.3.4\n"
				   "gossip-fanout 99\nlisen x\n";
	check_bad(text, strlen(text), 7, "gossip-fanout: '99' is not a number in 1..16");
	static const char last[] = "node n\nlisten 1.2.3.4\n\n\n\nbogus";	/* no newline */
	check_bad(last, strlen(last), 6, "unknown keyword 'bogus'");
}

static void test_whole_file_errors(void)
{
	check_bad("node n\n", 7, 0, "missing 'listen ADDRESS [PORT]'");
	static const char *t1 = "node n\nlisten 1.2.3.4\nsuspect-timeout 900\n";
	check_bad(t1, strlen(t1), 0,
		  "suspect-timeout (900 ms) must be longer than gossip-period (1000 ms)");
	static const char *t2 = "node n\nlisten 1.2.3.4\ngossip-period 500\nsuspect-timeout 500\n";
	check_bad(t2, strlen(t2), 0,
		  "suspect-timeout (500 ms) must be longer than gossip-period (500 ms)");
	static const char *t3 = "node n\nlisten 1.2.3.4\nsuspect-timeout 3000\ndead-timeout 3000\n";
	check_bad(t3, strlen(t3), 0,
		  "dead-timeout (3000 ms) must be longer than suspect-timeout (3000 ms)");
	/* the check compares the final values, wherever they were set */
	static const char *t4 = "node n\ndead-timeout 20000\nlisten 1.2.3.4\nsuspect-timeout 20000\n";
	check_bad(t4, strlen(t4), 0,
		  "dead-timeout (20000 ms) must be longer than suspect-timeout (20000 ms)");
}

static void test_too_many_peers(void)
{
	char *text = malloc((CONFIG_PEERS_MAX + 1) * 20 + 64);
	if (!text)
		abort();
	size_t n = (size_t)sprintf(text, "node n\nlisten 1.2.3.4\n");
	for (int i = 0; i <= CONFIG_PEERS_MAX; i++)
		n += (size_t)sprintf(text + n, "peer 10.1.%d.%d\n", i / 256, i % 256);
	check_bad(text, n, CONFIG_PEERS_MAX + 3, "peer: more than 256 peers");
	free(text);
}

static void test_long_lines(void)
{
	char *text = malloc(4096);
	char sock[200];
	if (!text)
		abort();
	/* a line of 1023 bytes and its newline is fine */
	int n = sprintf(text, "node n\nlisten 1.2.3.4\nkey /");
	memset(text + n, 'k', 1023 - 5);
	n += 1023 - 5;
	n += sprintf(text + n, "\n");
	char err[512];
	CHECK_INT(load_n(text, (size_t)n, &conf, err, sizeof(err)), ==, 0);
	CHECK_UINT(strlen(conf.key_file), ==, 1023 - 4);

	/* 1024 bytes and a newline are allowed (the newline does not count, so that a
	 * config printed back by migrd -n loads again), with or without the newline */
	n = sprintf(text, "node n\nlisten 1.2.3.4\nkey /");
	memset(text + n, 'k', 1024 - 5);
	n += 1024 - 5;
	n += sprintf(text + n, "\n");
	CHECK_INT(load_n(text, (size_t)n, &conf, err, sizeof(err)), ==, 0);
	CHECK_UINT(strlen(conf.key_file), ==, 1024 - 4);
	CHECK_INT(load_n(text, (size_t)n - 1, &conf, err, sizeof(err)), ==, 0);
	/* 1025 are not, with or without */
	text[n - 1] = 'k';
	check_bad(text, (size_t)n, 3, "line longer than 1024 bytes");
	text[n++] = '\n';
	check_bad(text, (size_t)n, 3, "line longer than 1024 bytes");

	/* far over: refused as such, not parsed in pieces */
	n = sprintf(text, "node n\nlisten 1.2.3.4\n# ");
	memset(text + n, 'x', 3000);
	n += 3000;
	n += sprintf(text + n, "\nnode z\n");
	check_bad(text, (size_t)n, 3, "line longer than 1024 bytes");
	/* at the end of the file, without a newline */
	text[n - 8] = '\0';
	check_bad(text, (size_t)n - 8, 3, "line longer than 1024 bytes");
	free(text);

	/* socket paths must fit sun_path */
	memset(sock, 's', 108);
	sock[0] = '/';
	sock[108] = '\0';
	char t[512];
	n = snprintf(t, sizeof(t), "node n\nlisten 1.2.3.4\nsocket %s\n", sock);
	check_bad(t, (size_t)n, 3, "socket: path longer than 107 bytes");

	/* a key path of PATH_MAX bytes cannot be stored; but no line holds one: the line
	 * limit is what refuses it */
	char *kp = malloc(PATH_MAX + 64);
	if (!kp)
		abort();
	n = sprintf(kp, "node n\nlisten 1.2.3.4\nkey /");
	memset(kp + n, 'p', PATH_MAX);
	n += PATH_MAX;
	kp[n++] = '\n';
	check_bad(kp, (size_t)n, 3, "line longer than 1024 bytes");
	free(kp);
}

/* A NUL byte cannot hide the rest of its line. */
static void test_nul_byte(void)
{
	static const char t1[] = "node a\nlisten 127.0.0.1\nno\0de b\n";
	check_bad(t1, sizeof(t1) - 1, 3, "NUL byte in line");
	static const char t2[] = "node a\0bogus words here\nlisten 127.0.0.1\n";
	check_bad(t2, sizeof(t2) - 1, 1, "NUL byte in line");
	static const char t3[] = "node a\nlisten 127.0.0.1\n\0";	/* last, no newline */
	check_bad(t3, sizeof(t3) - 1, 3, "NUL byte in line");
}

static void test_missing_file(void)
{
	char err[512], want[600];
	const char *t = getenv("TMPDIR");
	snprintf(path, sizeof(path), "%s/migrd-conf-absent.XXXXXX",
		 t && *t && strlen(t) < 128 ? t : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0)
		abort();
	close(fd);
	unlink(path);
	CHECK_INT(migr_config_load(path, &conf, err, sizeof(err)), ==, -1);
	snprintf(want, sizeof(want), "%s: %s", path, strerror(ENOENT));
	CHECK_STR(err, want);
	CHECK_STR(conf.path, path);	/* the defaults are still filled */
	CHECK_UINT(conf.gossip_period_ms, ==, 1000);

	/* a directory is not a config file */
	char dir[256];
	snprintf(dir, sizeof(dir), "%s/migrd-conf-dir.XXXXXX", t && *t && strlen(t) < 128 ? t : "/tmp");
	if (!mkdtemp(dir))
		abort();
	CHECK_INT(migr_config_load(dir, &conf, err, sizeof(err)), ==, -1);
	CHECK(strncmp(err, dir, strlen(dir)) == 0 && err[strlen(dir)] == ':');
	rmdir(dir);
}

/* The message is cut to the buffer, never past it. */
static void test_short_err(void)
{
	char err[16];
	memset(err, 'x', sizeof(err));
	write_conf_n("lisen 1.2.3.4\n", 14);
	CHECK_INT(migr_config_load(path, &conf, err, 8), ==, -1);
	unlink(path);
	CHECK_UINT(strlen(err), ==, 7);
	CHECK_MEM(err, path, 7);
	CHECK(err[8] == 'x');
}

/* strtod() takes "nan", and NaN fails every comparison, so a range check written as
 * "d < min || d > max" lets it through; migrd would then turn NaN * 1000 into an integer. */
static void test_cpus_nan(void)
{
	static const char *const words[] = { "nan", "NAN", "-nan", "nan(0x1)" };
	for (size_t i = 0; i < UNIT_COUNT(words); i++) {
		char text[128];
		int n = snprintf(text, sizeof(text), "node n\nlisten 1.2.3.4\ncpus %s\n", words[i]);
		UNIT_CTX("cpus %s", words[i]);
		check_bad(text, (size_t)n, 3, "cpus: want a number of CPUs in 0.01..4096");
		CHECK(!isnan(conf.cpus));
	}
	UNIT_CTX_CLEAR();
}

/* CPU features (cpufeat.c), which cpu-check and test-cpu-hide name: a cpuinfo flags line
 * to a bitmap, what one CPU lacks of another's, and the names said back. */
static void test_cpu_features(void)
{
	uint64_t have = cpufeat_parse(" fpu sse3 avx avx2 bmi2 unknown_flag\tsha_ni\n");
	uint64_t there = cpufeat_parse("fpu sse3 avx sha_ni");
	CHECK_UINT(have & (1ULL << cpufeat_bit("avx2")), !=, 0);
	CHECK_INT(cpufeat_bit("fpu"), ==, -1);	/* every x86-64 has it: not tracked */
	CHECK_INT(cpufeat_bit(""), ==, -1);
	uint64_t missing = cpufeat_missing(have, there);
	char names[64];
	CHECK_UINT(cpufeat_names(missing, names, sizeof(names)), ==, 2);
	CHECK_STR(names, "bmi2, avx2");
	CHECK_UINT(cpufeat_missing(there, have), ==, 0);	/* a superset takes anything */
	CHECK_UINT(cpufeat_missing(have, 0), ==, have);	/* an unknown CPU lacks everything */
	CHECK_UINT(cpufeat_missing(0, 0), ==, 0);	/* no features known: not compared */
	char tiny[8];
	CHECK_UINT(cpufeat_names(have, tiny, sizeof(tiny)), ==, 5);
	CHECK_STR(tiny, "sse3...");
	CHECK_UINT(cpufeat_names(0, names, sizeof(names)), ==, 0);
	CHECK_STR(names, "");
}

int main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		UNIT(test_minimal_defaults),
		UNIT(test_full),
		UNIT(test_print),
		UNIT(test_limits_ok),
		UNIT(test_layout),
		UNIT(test_default_node),
		UNIT(test_repeated),
		UNIT(test_bad_lines),
		UNIT(test_line_numbers),
		UNIT(test_whole_file_errors),
		UNIT(test_too_many_peers),
		UNIT(test_long_lines),
		UNIT(test_nul_byte),
		UNIT(test_missing_file),
		UNIT(test_short_err),
		UNIT(test_cpus_nan),
		UNIT(test_cpu_features),
	};
	return unit_main(argc, argv, tests, UNIT_COUNT(tests));
}
