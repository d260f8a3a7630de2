/* test-criu: CRIU's command lines as migr builds them, and what a failed run's log is
 * turned into for the user (migrd/criu.c). */
#include <config.h>

#include "../../migrd/criu.h"
#include "unit.h"

static int has_arg(const struct criu_argv *a, const char *s)
{
	for (int i = 0; i < a->n; i++)
		if (!strcmp(a->v[i], s))
			return 1;
	return 0;
}

static void test_dump_leaves_pages_and_tasks(void)
{
	struct criu_argv a;
	criu_dump_argv(&a, 4242, "/d");
	CHECK_STR(a.v[0], "dump");
	CHECK(has_arg(&a, "4242"));
	CHECK(has_arg(&a, "/d"));
	CHECK(has_arg(&a, "--lazy-pages"));
	CHECK(has_arg(&a, "--lazy-pages-external"));
	CHECK(has_arg(&a, "--leave-stopped"));
	/* never the options CRIU suggests for what cannot move */
	CHECK(!has_arg(&a, "--tcp-established"));
	CHECK(!has_arg(&a, "--ext-unix-sk"));
	CHECK(!has_arg(&a, "--shell-job"));
	CHECK(a.v[a.n] == NULL);
}

static void test_restore_inherits_stdio_as_the_user(void)
{
	struct criu_argv a;
	const char *inherit[3] = { "pipe:[1]", "pipe:[2]", "pipe:[3]" };
	criu_restore_argv(&a, "/d", inherit, 3, 0, 1);
	CHECK_STR(a.v[0], "restore");
	CHECK(has_arg(&a, "--lazy-pages"));
	CHECK(has_arg(&a, "--task-fs-creds"));
	CHECK(has_arg(&a, "fd[3]:pipe:[1]"));
	CHECK(has_arg(&a, "fd[5]:pipe:[3]"));
	CHECK(!has_arg(&a, "--leave-stopped"));
	criu_restore_argv(&a, "/d", inherit, 3, 1, 1);
	CHECK(has_arg(&a, "--leave-stopped"));
	CHECK(a.v[a.n] == NULL);
	/* a thaw from disk: every page is in the images */
	criu_restore_argv(&a, "/d", inherit, 3, 0, 0);
	CHECK(!has_arg(&a, "--lazy-pages"));
	CHECK(has_arg(&a, "fd[4]:pipe:[2]"));
	CHECK(a.v[a.n] == NULL);
}

static void test_freeze_keeps_every_page_and_the_tasks(void)
{
	struct criu_argv a;
	criu_freeze_argv(&a, 4242, "/f");
	CHECK_STR(a.v[0], "dump");
	CHECK(has_arg(&a, "4242"));
	CHECK(has_arg(&a, "/f"));
	CHECK(!has_arg(&a, "--lazy-pages"));
	/* migrd ends the tasks once the images are recorded: not CRIU, whose kill would
	 * look like the job's own end */
	CHECK(has_arg(&a, "--leave-stopped"));
	CHECK(!has_arg(&a, "--tcp-established"));
	CHECK(a.v[a.n] == NULL);
}

static void error_of(const char *log, char *out, size_t len)
{
	char path[] = "/tmp/test-criu-XXXXXX";
	int fd = mkstemp(path);
	if (!CHECK(fd >= 0))
		return;
	CHECK_INT(write(fd, log, strlen(log)), ==, (ssize_t)strlen(log));
	close(fd);
	criu_log_error(path, out, len);
	unlink(path);
}

static void test_log_error_first_real_one(void)
{
	char out[400];
	error_of("(00.001) Error (criu/util.c:1533): rlimit: Can't setup RLIMIT_NOFILE for self\n"
		 "(00.002) Error (criu/files-reg.c:2399): Can't open file tmp/x: Permission denied\n"
		 "(00.003) Error (criu/cr-restore.c:2323): Restoring FAILED.\n",
		 out, sizeof(out));
	CHECK_STR(out, "Can't open file tmp/x: Permission denied");
	/* only a FAILED line: it is still better than nothing */
	error_of("(00.003) Error (criu/cr-restore.c:2323): Restoring FAILED.\n", out, sizeof(out));
	CHECK(strstr(out, "Restoring FAILED") != NULL);
	error_of("(00.001) nothing wrong\n", out, sizeof(out));
	CHECK_STR(out, "");
	criu_log_error("/nonexistent/criu.log", out, sizeof(out));
	CHECK_STR(out, "");
}

static void test_log_error_explains_what_cannot_move(void)
{
	char out[400];
	error_of("(00.1) Error (criu/sk-inet.c:191): inet: Connected TCP socket, consider using "
		 "--tcp-established option.\n(00.2) Error (criu/cr-dump.c:1): Dumping FAILED.\n",
		 out, sizeof(out));
	CHECK(strstr(out, "established TCP connection") != NULL);
	CHECK(strstr(out, "--tcp-established") == NULL);
	error_of("(00.1) Error (criu/sk-unix.c:874): External socket is used. Consider using "
		 "--ext-unix-sk option.\n", out, sizeof(out));
	CHECK(strstr(out, "unix socket") != NULL);
	error_of("(00.1) Error (criu/file-lock.c:110): Some file locks are hold by dumping tasks! "
		 "You can try --file-locks to dump them.\n", out, sizeof(out));
	CHECK(strstr(out, "file locks") != NULL && strstr(out, "--file-locks") == NULL);
	error_of("(00.1) Error (criu/files-reg.c:2399): Can't open file proc/7386/maps on restore: "
		 "No such file or directory\n", out, sizeof(out));
	CHECK(strstr(out, "/proc") != NULL);
	CHECK(criu_explain("Can't open file tmp/x: Permission denied") == NULL);
	/* a truncated buffer still ends in a NUL */
	char small[8];
	error_of("(00.1) Error (x.c:1): a long message indeed\n", small, sizeof(small));
	CHECK_INT(strlen(small), ==, 7);
}

int main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		UNIT(test_dump_leaves_pages_and_tasks),
		UNIT(test_restore_inherits_stdio_as_the_user),
		UNIT(test_freeze_keeps_every_page_and_the_tasks),
		UNIT(test_log_error_first_real_one),
		UNIT(test_log_error_explains_what_cannot_move),
	};
	return unit_main(argc, argv, tests, UNIT_COUNT(tests));
}
