/* test-movable: what a job holds that cannot move (migrd/movable.c): the words, and the
 * inspection of real processes that hold each kind of thing. */
#include <config.h>

#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "../../migrd/movable.h"
#include "unit.h"

static void test_reasons_one_line_per_kind(void)
{
	struct holds h = { 0 };
	char out[1024];
	CHECK_UINT(movable_reasons(&h, out, sizeof(out)), ==, 0);
	CHECK_STR(out, "");
	holds_add(&h, HOLD_TCP, NULL, "to 10.0.0.2:80");
	holds_add(&h, HOLD_TCP, NULL, "to 10.0.0.3:80");
	holds_add(&h, HOLD_TCP, NULL, "to 10.0.0.4:80");
	holds_add(&h, HOLD_PROC_FILE, NULL, "/proc/12/maps");
	holds_add(&h, HOLD_PROC_FILE, NULL, "/proc/12/maps");	/* the same, once */
	CHECK_UINT(movable_reasons(&h, out, sizeof(out)), ==, 2);
	CHECK_STR(out, "holds an established TCP connection (to 10.0.0.2:80 and 2 more): its "
		       "address is this node's\n"
		       "holds a file under /proc (/proc/12/maps): it names processes of this "
		       "node\n");
	/* no example: no parentheses */
	struct holds l = { 0 };
	holds_add(&l, HOLD_LOCK, "FLOCK 0:2e:7", NULL);
	movable_reasons(&l, out, sizeof(out));
	CHECK(!strncmp(out, "holds a file lock: ", 19));
}

static void test_reasons_cut_short_safely(void)
{
	struct holds h = { 0 };
	for (int k = 0; k < HOLD_KINDS; k++)
		holds_add(&h, (enum hold_kind)k, NULL, "some example of it");
	char out[40];
	memset(out, 'x', sizeof(out));
	CHECK_UINT(movable_reasons(&h, out, sizeof(out)), ==, HOLD_KINDS);
	CHECK(memchr(out, '\0', sizeof(out)) != NULL);
	CHECK_UINT(movable_reasons(&h, out, 0), ==, HOLD_KINDS);
}

static void test_missing_reason(void)
{
	char out[512];
	CHECK_UINT(movable_missing_reason("node3", "", 0, out, sizeof(out)), ==, 0);
	CHECK_STR(out, "");
	CHECK_UINT(movable_missing_reason("node3", "/data/x", 1, out, sizeof(out)), ==, 1);
	CHECK_STR(out, "holds a file not present on node3 (/data/x): a move would fail to open "
		       "it there\n");
	movable_missing_reason("node3", "/data/x", 3, out, sizeof(out));
	CHECK(strstr(out, "(/data/x and 2 more): ") != NULL);
	/* a long path is cut as any example is; a short buffer is still a string */
	char longpath[300] = "/";
	memset(longpath + 1, 'a', sizeof(longpath) - 2);
	longpath[sizeof(longpath) - 1] = '\0';
	movable_missing_reason("node3", longpath, 1, out, sizeof(out));
	CHECK_UINT(strlen(out), <, 200);
	char tiny[10];
	movable_missing_reason("node3", longpath, 1, tiny, sizeof(tiny));
	CHECK_STR(tiny, "holds a f");
}

static void test_paths_once_and_bounded(void)
{
	static struct job_paths p;
	memset(&p, 0, sizeof(p));
	CHECK_INT(job_paths_add(&p, "/a"), ==, 1);
	CHECK_INT(job_paths_add(&p, "/b"), ==, 1);
	CHECK_INT(job_paths_add(&p, "/a"), ==, 0);
	CHECK_INT(job_paths_add(&p, "relative"), ==, -1);
	CHECK_INT(job_paths_add(&p, ""), ==, -1);
	CHECK_UINT(p.count, ==, 2);
	CHECK_STR(job_paths_get(&p, 0), "/a");
	CHECK_STR(job_paths_get(&p, 1), "/b");
	static char big[PATH_MAX + 1];
	memset(big, 'x', sizeof(big) - 1);
	big[0] = '/';
	CHECK_INT(job_paths_add(&p, big), ==, -1);	/* PATH_MAX bytes and its NUL */
	big[PATH_MAX - 1] = '\0';
	CHECK_INT(job_paths_add(&p, big), ==, 1);	/* the longest a path can be */
	/* the count's bound */
	memset(&p, 0, sizeof(p));
	char path[32];
	for (int i = 0; i < JOB_PATHS_MAX; i++) {
		snprintf(path, sizeof(path), "/%d", i);
		CHECK_INT(job_paths_add(&p, path), ==, 1);
	}
	CHECK_INT(job_paths_add(&p, "/one-more"), ==, -1);
	CHECK_INT(job_paths_add(&p, "/7"), ==, 0);
	CHECK_UINT(p.count, ==, JOB_PATHS_MAX);
	/* the bytes' bound: a short path may still fit after a long one did not */
	memset(&p, 0, sizeof(p));
	big[2000] = '\0';
	int added = 0;
	for (int i = 0; i < 64; i++) {
		big[1] = (char)('A' + i);
		added += job_paths_add(&p, big) == 1;
	}
	CHECK_INT(added, ==, JOB_PATHS_BYTES / 2001);
	CHECK_UINT(p.bytes, <=, JOB_PATHS_BYTES);
	CHECK_INT(job_paths_add(&p, "/short"), ==, 1);
}

/* A "job": a child that sets up what it is told, then a grandchild, then waits. */
static pid_t job(void (*setup)(void *), void *arg, int ready_fd[2])
{
	pid_t pid = fork();
	if (pid)
		return pid;
	setpgid(0, 0);	/* end() kills the group */
	close(ready_fd[0]);
	if (setup)
		setup(arg);
	pid_t kid = fork();
	if (kid == 0) {
		pause();
		_exit(0);
	}
	(void)!write(ready_fd[1], "x", 1);
	pause();
	_exit(0);
}

static void end(pid_t pid)
{
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int inspect(void (*setup)(void *), void *arg, struct holds *h)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	pid_t pid = job(setup, arg, p);
	close(p[1]);
	char c;
	int r = read(p[0], &c, 1) == 1 ? 0 : -1;
	close(p[0]);
	usleep(50000);	/* the grandchild is forked before the byte: let it run */
	if (r == 0)
		r = movable_inspect(pid, h);
	end(pid);
	return r;
}

static void test_inspect_a_plain_job_may_move(void)
{
	struct holds h;
	CHECK_INT(inspect(NULL, NULL, &h), ==, 0);
	CHECK_UINT(h.processes, ==, 2);
	char out[512];
	CHECK_UINT(movable_reasons(&h, out, sizeof(out)), ==, 0);
	CHECK_INT(movable_inspect(999999999, &h), ==, -1);
}

static void hold_proc_and_lock(void *arg)
{
	const char *path = arg;
	(void)!open("/proc/self/status", O_RDONLY);
	int fd = open(path, O_RDWR | O_CREAT, 0600);
	flock(fd, LOCK_EX);
	(void)!open("/dev/null", O_RDONLY);	/* fine */
	(void)!open("/dev/ptmx", O_RDWR | O_NOCTTY);
}

static void test_inspect_finds_proc_files_locks_and_terminals(void)
{
	char path[] = "/tmp/test-movable-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	struct holds h;
	CHECK_INT(inspect(hold_proc_and_lock, path, &h), ==, 0);
	CHECK_UINT(h.count[HOLD_PROC_FILE], ==, 1);	/* the init's, its child's too */
	CHECK(strstr(h.example[HOLD_PROC_FILE], "/status") != NULL);
	CHECK_UINT(h.count[HOLD_LOCK], ==, 1);
	CHECK_UINT(h.count[HOLD_TERMINAL], >=, 1);
	CHECK_UINT(h.count[HOLD_DEVICE], ==, 0);
	CHECK_UINT(h.count[HOLD_TCP], ==, 0);
	unlink(path);
}

static void hold_sockets(void *arg)
{
	const int *fds = arg;	/* [0]: the test's end of a socketpair; [1]: a TCP port */
	close(fds[0]);		/* the other end stays inherited: its peer is outside the job */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)fds[1]),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	(void)!connect(s, (struct sockaddr *)&a, sizeof(a));
	int inner[2];	/* both ends in the job: fine */
	(void)!socketpair(AF_UNIX, SOCK_STREAM, 0, inner);
}

static void test_inspect_finds_outside_sockets_only(void)
{
	int sp[2];
	if (!CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0))
		return;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	bind(l, (struct sockaddr *)&a, sizeof(a));
	listen(l, 4);
	getsockname(l, (struct sockaddr *)&a, &alen);
	int arg[2] = { sp[0], ntohs(a.sin_port) };
	struct holds h;
	CHECK_INT(inspect(hold_sockets, arg, &h), ==, 0);
	CHECK_UINT(h.count[HOLD_UNIX_OUTSIDE], ==, 1);
	CHECK_UINT(h.count[HOLD_TCP], ==, 1);
	CHECK(strstr(h.example[HOLD_TCP], "127.0.0.1") != NULL);
	close(sp[0]);
	close(sp[1]);
	close(l);
}

struct paths_setup {
	char dir[64], open[96], gone[96], mapped[96];
};

static void hold_paths(void *arg)
{
	const struct paths_setup *ps = arg;
	(void)!chdir(ps->dir);
	(void)!open(ps->open, O_RDONLY);
	(void)!open(ps->gone, O_RDONLY);
	unlink(ps->gone);
	int fd = open(ps->mapped, O_RDONLY);
	if (mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED)
		_exit(1);
	close(fd);	/* held by its mapping only */
	int p[2];
	(void)!pipe(p);
	(void)!open("/dev/null", O_RDONLY);
}

static int has_path(const struct job_paths *p, const char *path)
{
	for (unsigned i = 0; i < p->count; i++)
		if (!strcmp(job_paths_get(p, i), path))
			return 1;
	return 0;
}

static void test_paths_of_a_job(void)
{
	struct paths_setup ps;
	char tmpl[] = "/tmp/test-movable-paths-XXXXXX";
	if (!CHECK(mkdtemp(tmpl) != NULL))
		return;
	snprintf(ps.dir, sizeof(ps.dir), "%s", tmpl);
	snprintf(ps.open, sizeof(ps.open), "%s/open", tmpl);
	snprintf(ps.gone, sizeof(ps.gone), "%s/gone", tmpl);
	snprintf(ps.mapped, sizeof(ps.mapped), "%s/mapped", tmpl);
	const char *files[] = { ps.open, ps.gone, ps.mapped };
	for (size_t i = 0; i < UNIT_COUNT(files); i++) {
		int fd = open(files[i], O_WRONLY | O_CREAT, 0600);
		(void)!write(fd, "x", 1);
		close(fd);
	}
	static struct job_paths p;
	int pipefd[2];
	if (!CHECK(pipe(pipefd) == 0))
		return;
	pid_t pid = job(hold_paths, &ps, pipefd);
	close(pipefd[1]);
	char c;
	if (CHECK(read(pipefd[0], &c, 1) == 1)) {
		usleep(50000);
		CHECK_INT(movable_paths(pid, &p), ==, 0);
	}
	close(pipefd[0]);
	end(pid);
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	CHECK(has_path(&p, exe));
	CHECK(has_path(&p, ps.dir));
	CHECK(has_path(&p, ps.open));
	CHECK(has_path(&p, ps.mapped));
	CHECK(!has_path(&p, ps.gone));	/* CRIU carries a deleted file itself */
	CHECK(!has_path(&p, "/dev/null"));
	/* the exe first, each once though both processes have it */
	CHECK_STR(job_paths_get(&p, 0), exe);
	unsigned seen = 0;
	for (unsigned i = 0; i < p.count; i++)
		seen += !strcmp(job_paths_get(&p, i), ps.open);
	CHECK_UINT(seen, ==, 1);
	for (unsigned i = 0; i < p.count; i++)
		CHECK(job_paths_get(&p, i)[0] == '/');
	CHECK_INT(movable_paths(999999999, &p), ==, -1);
	unlink(ps.open);
	unlink(ps.mapped);
	rmdir(tmpl);
}

int main(int argc, char **argv)
{
	/* the "jobs" here inherit our descriptors: none of whoever ran us (a lock held by a
	 * wrapper, say) may count as theirs */
	close_range(3, ~0U, 0);
	static const struct unit_test tests[] = {
		UNIT(test_reasons_one_line_per_kind),
		UNIT(test_reasons_cut_short_safely),
		UNIT(test_missing_reason),
		UNIT(test_paths_once_and_bounded),
		UNIT(test_inspect_a_plain_job_may_move),
		UNIT(test_inspect_finds_proc_files_locks_and_terminals),
		UNIT(test_inspect_finds_outside_sockets_only),
		UNIT(test_paths_of_a_job),
	};
	return unit_main(argc, argv, tests, UNIT_COUNT(tests));
}
