/* unit.h: a header-only harness for the C unit tests.
 *
 * A test is a function; CHECK() records a failure (file:line and the expression) and goes
 * on, so one run shows every broken assertion. Each test runs in its own child process:
 * a crash or a sanitizer report fails that test alone, and the others still run and count.
 * The last line on stdout is always `N passed, M failed` (test functions), which
 * scripts/check parses; the exit status is non-zero when M > 0.
 *
 * Usage: ./test-foo [NAME...] runs the named tests only; UNIT_NOFORK=1 runs them in
 * process (for gdb); UNIT_TIMEOUT=SECONDS bounds each test (default 300). */
#ifndef MIGR_UNIT_H
#define MIGR_UNIT_H

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct unit_test {
	const char *name;
	void (*fn)(void);
};

#define UNIT(fn) { #fn, fn }
#define UNIT_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *unit_current;	/* the test that runs */
static unsigned unit_fails;		/* failed checks in it */
static char unit_ctx[256];		/* UNIT_CTX(): shown with each failure */

/* Says where in a loop the checks that follow are, for their failure messages. */
#define UNIT_CTX(...) snprintf(unit_ctx, sizeof(unit_ctx), __VA_ARGS__)
#define UNIT_CTX_CLEAR() (unit_ctx[0] = '\0')

static inline int unit_failf(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline int unit_failf(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s:%d: %s: FAILED: ", file, line, unit_current);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (unit_ctx[0])
		fprintf(stderr, " [%s]", unit_ctx);
	fputc('\n', stderr);
	unit_fails++;
	return 0;
}

/* Each macro evaluates its arguments once and yields 1 when the check held, so a test can
 * skip what would crash after a failure: `if (!CHECK(p != NULL)) return;` */
#define CHECK(cond)                                                                         \
	({                                                                                  \
		int unit_ok_ = !!(cond);                                                    \
		unit_ok_ ? 1 : unit_failf(__FILE__, __LINE__, "%s", #cond);                 \
	})

#define CHECK_INT(a, op, b)                                                                 \
	({                                                                                  \
		long long unit_a_ = (long long)(a), unit_b_ = (long long)(b);               \
		unit_a_ op unit_b_ ? 1 : unit_failf(__FILE__, __LINE__, "%s %s %s (%lld %s %lld)", \
						  #a, #op, #b, unit_a_, #op, unit_b_);      \
	})

#define CHECK_UINT(a, op, b)                                                                \
	({                                                                                  \
		uint64_t unit_a_ = (uint64_t)(a), unit_b_ = (uint64_t)(b);                  \
		unit_a_ op unit_b_ ? 1 : unit_failf(__FILE__, __LINE__,                     \
						  "%s %s %s (%" PRIu64 " %s %" PRIu64 ")",  \
						  #a, #op, #b, unit_a_, #op, unit_b_);      \
	})

#define CHECK_STR(a, b)                                                                     \
	({                                                                                  \
		const char *unit_a_ = (a), *unit_b_ = (b);                                  \
		unit_a_ && unit_b_ && strcmp(unit_a_, unit_b_) == 0                         \
			? 1                                                                 \
			: unit_failf(__FILE__, __LINE__, "%s == %s (\"%s\" vs \"%s\")", #a, #b, \
				     unit_a_ ? unit_a_ : "(null)", unit_b_ ? unit_b_ : "(null)"); \
	})

#define CHECK_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)

static inline int unit_selected(int argc, char **argv, const char *name)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return 1;
	return 0;
}

/* Runs one test in process; 1 if it passed. */
static inline int unit_run_here(const struct unit_test *t)
{
	unit_current = t->name;
	unit_fails = 0;
	UNIT_CTX_CLEAR();
	t->fn();
	return unit_fails == 0;
}

/* Runs one test in a child, so that a crash or a sanitizer abort fails it alone. */
static inline int unit_run_child(const struct unit_test *t, unsigned timeout)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		perror("unit: fork");
		return unit_run_here(t);
	}
	if (pid == 0) {
		alarm(timeout);
		int ok = unit_run_here(t);
		fflush(stdout);
		fflush(stderr);
		exit(ok ? 0 : 1);	/* exit, not _exit: the leak checker runs at exit */
	}
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			perror("unit: waitpid");
			return 0;
		}
	}
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "%s: FAILED: killed by signal %d (%s)\n", t->name,
			WTERMSIG(status), WTERMSIG(status) == SIGALRM ? "timeout" :
			strsignal(WTERMSIG(status)));
		return 0;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static inline int unit_main(int argc, char **argv, const struct unit_test *tests, size_t n)
{
	const char *env = getenv("UNIT_NOFORK");
	int nofork = env && *env && strcmp(env, "0") != 0;
	env = getenv("UNIT_TIMEOUT");
	unsigned timeout = env && atoi(env) > 0 ? (unsigned)atoi(env) : 300;
	unsigned passed = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < n; i++) {
		if (!unit_selected(argc, argv, tests[i].name))
			continue;
		int ok = nofork ? unit_run_here(&tests[i]) : unit_run_child(&tests[i], timeout);
		printf("%s %s\n", ok ? "ok  " : "FAIL", tests[i].name);
		if (ok)
			passed++;
		else
			failed++;
	}
	/* a name that matches no test is a mistake, not an empty pass */
	for (int a = 1; a < argc; a++) {
		size_t i = 0;
		while (i < n && strcmp(argv[a], tests[i].name) != 0)
			i++;
		if (i == n) {
			fprintf(stderr, "unit: no test named %s\n", argv[a]);
			failed++;
		}
	}
	fflush(stderr);
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}

#endif
