/* test-movable: what a job holds that cannot move (migrd/movable.c): the words, and the
 * inspection of real processes that hold each kind of thing. */
#include <config.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
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

int main(int argc, char **argv)
{
	/* the "jobs" here inherit our descriptors: none of whoever ran us (a lock held by a
	 * wrapper, say) may count as theirs */
	close_range(3, ~0U, 0);
	static const struct unit_test tests[] = {
		UNIT(test_reasons_one_line_per_kind),
		UNIT(test_reasons_cut_short_safely),
		UNIT(test_inspect_a_plain_job_may_move),
		UNIT(test_inspect_finds_proc_files_locks_and_terminals),
		UNIT(test_inspect_finds_outside_sockets_only),
	};
	return unit_main(argc, argv, tests, UNIT_COUNT(tests));
}
