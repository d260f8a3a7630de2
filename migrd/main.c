/* main.c: migrd start-up (config, checks, sockets), gossip's transport, and shutdown. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "checks.h"
#include "cpufeat.h"
#include "freeze.h"
#include "control.h"
#include "balance.h"
#include "jobs.h"
#include "load.h"
#include "log.h"
#include "loop.h"
#include "migrd.h"
#include "netlink.h"
#include "notify.h"
#include "peers.h"

#define LEAVE_GRACE_MS 500	/* time for the goodbye to reach the peers */

struct migrd migrd;
static char pidfile[PATH_MAX + 16];

static void usage(FILE *f)
{
	fprintf(f,
		"usage: migrd [-f] [-n] [-v] [-c FILE]\n"
		"  -c FILE  configuration (default " MIGR_DEFAULT_CONFIG ")\n"
		"  -f       stay in the foreground and log to stderr\n"
		"  -n       check the configuration, print it and exit\n"
		"  -v       verbose logging\n"
		"  -h, --help     this help\n"
		"  --version      print the version and exit\n");
}

/* ---- gossip transport ---- */

static void gossip_send(void *ctx, const char *addr, uint16_t port,
			const struct migr_gossip_msg *m)
{
	struct mw w;
	mw_init(&w);
	mw_frame_begin(&w, migr_gossip_type(m->type) ? m->type : MSG_GOSSIP);
	migr_gossip_encode(&w, m);
	mw_frame_end(&w);
	peers_send(addr, port, &w);
	mw_free(&w);
}

static void gossip_state_changed(void *ctx, const struct gossip_node *n, int old)
{
	const char *was = old == GOSSIP_STATE_NEW ? "new" : migr_node_state_name(old);
	const char *now = n->state == MIGR_NODE_LEFT ? "left" : migr_node_state_name(n->state);
	if (old == MIGR_NODE_LEFT)
		was = "left";
	log_info("%s: %s -> %s (incarnation %llu)", gossip_name(n), was, now,
		 (unsigned long long)n->incarnation);
	if (n->state == MIGR_NODE_DEAD || n->state == MIGR_NODE_LEFT)
		jobs_node_down(gossip_name(n));
	else if (n->state == MIGR_NODE_ALIVE && (old == MIGR_NODE_DEAD || old == MIGR_NODE_LEFT))
		jobs_node_up(gossip_name(n));
}

/* gossip_poll() when it has something due between periods (a probe's ping-reqs, a helper's
 * nack): one timer, moved to the earliest. */
static struct loop_timer *poll_timer;
static uint64_t poll_due = UINT64_MAX;

static void gossip_arm_poll(void);

static void gossip_poll_timer(void *arg)
{
	poll_timer = NULL;
	poll_due = UINT64_MAX;
	if (migrd.leaving)
		return;
	gossip_poll(&migrd.gossip, loop_now());
	gossip_arm_poll();
}

static void gossip_arm_poll(void)
{
	uint64_t due = gossip_next_poll(&migrd.gossip), now = loop_now();
	if (due == poll_due)
		return;
	loop_timer_cancel(poll_timer);
	poll_timer = NULL;
	poll_due = due;
	if (due != UINT64_MAX)
		poll_timer = loop_timer_add(due > now ? due - now : 0, 0, gossip_poll_timer, NULL);
}

int migrd_peer_message(const char *peer, uint8_t type, const uint8_t *p, size_t n)
{
	static struct migr_gossip_msg m;	/* large; one message at a time */
	if (type == MSG_ADMIN_REQ || type == MSG_ADMIN_REPLY)
		return migrd.leaving ? 0 : admin_peer_message(peer, type, p, n);
	if (!migr_gossip_type(type))
		return migrd.leaving ? 0 : jobs_peer_message(peer, type, p, n);
	int r = migr_gossip_decode_type(type, p, n, &m);
	if (r < 0)
		return r;
	/* The first entry speaks for the sender: only the node itself may send it. */
	if (strcmp(m.entries[0].name, peer) != 0)
		return MIGR_EAUTH;
	if (!migrd.leaving) {
		gossip_receive(&migrd.gossip, &m, loop_now());
		gossip_arm_poll();
	}
	return 0;
}

static void gossip_period(void *arg)
{
	struct migr_vector v = { 0 };
	if (migrd.leaving)
		return;
	load_sample(migrd.conf.cpus, &migrd.load, &migrd.mem_free_kb);
	/* with the jobs just started or arrived that the smoothed load does not show yet */
	v.load_milli = (uint32_t)(balance_load() * 1000 + 0.5);
	v.cpus_milli = (uint32_t)(migrd.conf.cpus * 1000 + 0.5);
	v.mem_free_kb = migrd.mem_free_kb;
	jobs_sample();
	v.jobs = jobs_running_here();
	v.cpu_features = migrd.cpu_features;
	v.admin = admin_drained() ? MIGR_ADMIN_DRAINED : MIGR_ADMIN_ACTIVE;
	uint64_t now = loop_now();
	gossip_set_vector(&migrd.gossip, &v, now);
	gossip_tick(&migrd.gossip, now);
	gossip_arm_poll();
}

/* ---- start and stop ---- */

static void stop_now(void *arg)
{
	loop_stop();
}

void migrd_shutdown(const char *why)
{
	if (migrd.leaving)
		return;
	log_info("shutting down: %s", why);
	notify_stopping(why);
	migrd.leaving = 1;
	if (strstr(why, "leav")) {
		gossip_leave(&migrd.gossip, loop_now());
		loop_timer_add(LEAVE_GRACE_MS, 0, stop_now, NULL);
	} else {
		loop_stop();
	}
}

static void on_signal(int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo si;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
		migrd_shutdown(si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
	if (si.ssi_signo == SIGCHLD) {
		/* jobs' inits, restored jobs too: we are their subreaper */
		int status;
		pid_t pid;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			jobs_reaped(pid, status);
	}
}

static void setup_signals(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		fatal("signalfd");
	loop_add(fd, EPOLLIN, on_signal, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, mode) < 0 && errno != EEXIST ? -1 : 0;
}

/* Each start gets a higher incarnation than the last, so peers take the restarted node's
 * news over what they remember of the old one. Kept in the state dir; the clock keeps it
 * rising even if the file is lost. */
static uint64_t next_incarnation(const char *dir)
{
	char path[PATH_MAX + 16];
	unsigned long long last = 0;
	snprintf(path, sizeof(path), "%s/incarnation", dir);
	FILE *f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%llu", &last) != 1)
			last = 0;
		fclose(f);
	}
	uint64_t inc = last + 1;
	uint64_t clock = (uint64_t)time(NULL);
	if (clock > inc)
		inc = clock;
	f = fopen(path, "we");
	if (!f || fprintf(f, "%llu\n", (unsigned long long)inc) < 0 || fclose(f) != 0)
		fatal("%s", path);
	return inc;
}

static void daemonize(void)
{
	pid_t pid = fork();
	if (pid < 0)
		fatal("fork");
	if (pid > 0)
		_exit(0);
	setsid();
	pid = fork();
	if (pid < 0)
		fatal("fork");
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		fatal("chdir /");
	int fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
}

static void write_pidfile(void)
{
	snprintf(pidfile, sizeof(pidfile), "%s/migrd.pid", migrd.conf.state_dir);
	FILE *f = fopen(pidfile, "we");
	if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0)
		fatal("%s", pidfile);
}

int main(int argc, char **argv)
{
	const char *conf_path = MIGR_DEFAULT_CONFIG;
	int foreground = 0, check_only = 0, verbose = 0, c;
	char err[1024];
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};

	log_init("migrd", 0, 0);
	while ((c = getopt_long(argc, argv, "c:fnvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			conf_path = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'n':
			check_only = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("migrd %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		log_warnx("unexpected argument '%s'", argv[optind]);
		usage(stderr);
		return 2;
	}
	log_init("migrd", 0, verbose);
	if (migr_config_load(conf_path, &migrd.conf, err, sizeof(err)) < 0)
		fatalx("%s", err);
	if (check_only) {
		migr_config_print(&migrd.conf, stdout);
		return 0;
	}

	/* Every check runs, so one start names every problem. */
	int bad = check_capabilities();
	bad |= check_pipe_max_size();
	bad |= check_criu(migrd.conf.criu);
	if (migr_key_load(migrd.conf.key_file, &migrd.key, err, sizeof(err)) < 0) {
		log_warnx("cluster key: %s", err);
		bad = -1;
	}
	if (bad)
		fatalx("not starting: fix the above");
	if (mkdir_p(migrd.conf.state_dir, 0755) < 0)
		fatal("state dir %s", migrd.conf.state_dir);

	if (!foreground) {
		daemonize();
		log_init("migrd", 1, verbose);
	}
	/* every job holds a few of our descriptors: take all the kernel lets us have */
	struct rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	/* Restored jobs are re-parented to us, so we can wait for them. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	migrd.incarnation = next_incarnation(migrd.conf.state_dir);
	write_pidfile();

	loop_init();
	migrd.started_at = loop_now();
	setup_signals();
	load_init(migrd.conf.cgroup);
	migrd.cpu_features = cpufeat_machine() & ~migrd.conf.cpu_features_hidden;
	jobs_init();
	admin_init();
	balance_init();
	taskstats_open();

	struct gossip_params gp = {
		.period_ms = migrd.conf.gossip_period_ms,
		.fanout = migrd.conf.gossip_fanout,
		.window = migrd.conf.gossip_window,
		.suspect_ms = migrd.conf.suspect_timeout_ms,
		.dead_ms = migrd.conf.dead_timeout_ms,
	};
	struct gossip_transport gt = {
		.send = gossip_send,
		.state_changed = gossip_state_changed,
	};
	uint64_t seed = migrd.incarnation ^ ((uint64_t)getpid() << 32);
	gossip_init(&migrd.gossip, &gp, &gt, migrd.conf.node, migrd.conf.listen.addr,
		    migrd.conf.listen.port, migrd.incarnation, seed, loop_now());
	for (unsigned i = 0; i < migrd.conf.npeers; i++) {
		const struct migr_endpoint *s = &migrd.conf.peers[i];
		if (strcmp(s->addr, migrd.conf.listen.addr) || s->port != migrd.conf.listen.port)
			gossip_add_seed(&migrd.gossip, s->addr, s->port);
	}

	peers_init();
	control_init();
	jobs_adopt();	/* before the moves: a move under way decides what its job is */
	freeze_init();	/* before the moves: a thaw elsewhere under way needs its job */
	migrate_init();
	log_info("%s: listening on %s port %u, incarnation %llu, %g cpus", migrd.conf.node,
		 migrd.conf.listen.addr, migrd.conf.listen.port,
		 (unsigned long long)migrd.incarnation, migrd.conf.cpus);
	notify_ready("%s: listening on %s port %u", migrd.conf.node, migrd.conf.listen.addr,
		     migrd.conf.listen.port);
	gossip_period(NULL);
	loop_timer_add(migrd.conf.gossip_period_ms, migrd.conf.gossip_period_ms, gossip_period,
		       NULL);
	loop_run();

	jobs_shutdown();
	peers_close_all();
	control_close();
	taskstats_close();
	gossip_free(&migrd.gossip);
	unlink(pidfile);
	sodium_memzero(&migrd.key, sizeof(migrd.key));
	log_info("stopped");
	return 0;
}
