/* mmon: the live cluster monitor: one row per node with its load, the jobs below, redrawn
 * every second; --once prints one frame as plain text. */
#include <config.h>

#include <curses.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <locale.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "log.h"

#define ONCE_BAR_WIDTH 20
#define LINE_MAX_BYTES 512	/* a job's line: 255 bytes of command and ~100 of figures */

static void usage(FILE *f)
{
	fprintf(f, "usage: mmon [-d SECONDS] [-s load|mem|jobs|name] [--once]\n"
		   "  -d SECONDS  redraw every SECONDS (0.2 to 3600, default 1)\n"
		   "  -s load|mem|jobs|name\n"
		   "              sort nodes by load per CPU, free memory, jobs or name\n"
		   "              (default load); jobs follow: by %%CPU, RSS, or node\n"
		   "  --once      print one frame as plain text and exit (also when stdout is\n"
		   "              not a terminal)\n"
		   "Keys: q quits; c, m, j, n sort by load, memory, jobs, name.\n"
		   "MIGR_SOCKET selects the daemon (default " MIGR_DEFAULT_SOCKET ").\n");
}

enum sort_by { SORT_LOAD, SORT_MEM, SORT_JOBS, SORT_NAME };

static const struct {
	const char *word;	/* as -s takes it */
	int key;		/* as the screen takes it */
	const char *title;	/* as the title line says it */
} sorts[] = {
	[SORT_LOAD] = { "load", 'c', "load" },
	[SORT_MEM] = { "mem", 'm', "free memory" },
	[SORT_JOBS] = { "jobs", 'j', "jobs" },
	[SORT_NAME] = { "name", 'n', "name" },
};
#define NSORTS (sizeof(sorts) / sizeof(sorts[0]))

/* One look at the cluster. The last good one is kept while migrd does not answer, so the
 * screen still shows what was there. */
struct snapshot {
	struct migr_node *nodes;
	size_t nnodes;
	struct migr_ps ps;
	time_t when;		/* 0: never looked successfully */
	char error[256];	/* why the latest look failed; "" if it did not */
};

static void snapshot_take(struct snapshot *s)
{
	struct migr_client *c;
	struct migr_node *nodes;
	struct migr_ps ps;
	size_t n;
	const char *what = "nodes";

	/* a connection per look: a daemon restarted between looks costs nothing */
	int r = migr_connect(NULL, &c);
	if (r < 0) {
		snprintf(s->error, sizeof(s->error), "cannot reach migrd at %s: %s",
			 migr_socket_path(NULL), migr_strerror(r));
		return;
	}
	r = migr_nodes(c, &nodes, &n);
	if (r == 0) {
		what = "jobs";
		r = migr_ps(c, NULL, &ps);
		if (r < 0)
			free(nodes);
	}
	if (r < 0) {
		snprintf(s->error, sizeof(s->error), "migrd at %s: %s: %s", migr_socket_path(NULL),
			 what, r == MIGR_EREFUSED ? migr_last_error(c) : migr_strerror(r));
		migr_close(c);
		return;
	}
	migr_close(c);
	free(s->nodes);
	migr_ps_free(&s->ps);
	s->nodes = nodes;
	s->nnodes = n;
	s->ps = ps;
	s->when = time(NULL);
	s->error[0] = '\0';
}

/* ---- sorting ---- */

static int node_gone(const struct migr_node *n)
{
	return n->state == MIGR_NODE_DEAD || n->state == MIGR_NODE_LEFT;
}

static enum sort_by sort_order;	/* qsort takes no argument for it */

#define CMP_DESC(a, b) ((a) < (b) ? 1 : (a) > (b) ? -1 : 0)

/* dead nodes last whatever the order: their figures are old news */
static int node_cmp(const void *a, const void *b)
{
	const struct migr_node *x = a, *y = b;
	int c = node_gone(x) - node_gone(y);
	if (c == 0 && sort_order == SORT_LOAD)
		c = CMP_DESC(x->load, y->load);
	else if (c == 0 && sort_order == SORT_MEM)
		c = CMP_DESC(x->mem_free_kb, y->mem_free_kb);
	else if (c == 0 && sort_order == SORT_JOBS)
		c = CMP_DESC(x->jobs, y->jobs);
	return c ? c : strcmp(x->name, y->name);
}

static int job_cmp(const void *a, const void *b)
{
	const struct migr_job *x = a, *y = b;
	int c;
	if (sort_order == SORT_LOAD)
		c = CMP_DESC(x->cpu, y->cpu);
	else if (sort_order == SORT_MEM)
		c = CMP_DESC(x->rss_kb, y->rss_kb);
	else
		c = strcmp(x->node, y->node);
	return c ? c : cli_gpid_cmp(x, y);
}

/* ---- one frame, to stdout or to the screen ---- */

enum line_kind { LINE_TEXT, LINE_TITLE, LINE_HEADER, LINE_WARNING };

struct out {
	int screen;		/* draw with curses; else print */
	int row;		/* the next row on the screen */
	int last_row;		/* the first row not to draw on (the help line's) */
	int bar_width;
	const char *clock;	/* drawn at the right of the first row, if it fits */
};

static void emit(struct out *o, enum line_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void emit(struct out *o, enum line_kind kind, const char *fmt, ...)
{
	char line[LINE_MAX_BYTES];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (!o->screen) {
		puts(line);
		return;
	}
	if (o->row >= o->last_row)
		return;
	static const attr_t attrs[] = {
		[LINE_TEXT] = A_NORMAL,
		[LINE_TITLE] = A_BOLD,
		[LINE_HEADER] = A_REVERSE,
		[LINE_WARNING] = A_BOLD,
	};
	attrset(attrs[kind]);
	/* a header runs the width of the screen, as top's does */
	if (kind == LINE_HEADER)
		mvhline(o->row, 0, ' ', COLS);
	mvaddnstr(o->row, 0, line, COLS);
	attrset(A_NORMAL);
	if (o->row == 0 && o->clock && strlen(line) + 1 + strlen(o->clock) <= (size_t)COLS)
		mvaddstr(0, COLS - (int)strlen(o->clock), o->clock);
	o->row++;
}

/* "1.5 GiB", "300 MiB", "12 KiB": a size that fits a narrow column */
static const char *human_kb(uint64_t kb, char *buf, size_t len)
{
	if (kb >= 1024 * 1024)
		snprintf(buf, len, "%.1f GiB", kb / (1024.0 * 1024.0));
	else if (kb >= 1024)
		snprintf(buf, len, "%.0f MiB", kb / 1024.0);
	else
		snprintf(buf, len, "%" PRIu64 " KiB", kb);
	return buf;
}

/* The load as a bar, full at one runnable task per CPU; '>' at its end says it is over. */
static const char *load_bar(double load, int width, char *buf, size_t len)
{
	if (width < 3 || (size_t)width >= len)
		width = len > 3 ? (int)len - 1 : 0;
	int inside = width - 2;
	int filled = load <= 0 ? 0 : load >= 1 ? inside : (int)(load * inside + 0.5);
	buf[0] = '[';
	for (int i = 0; i < inside; i++)
		buf[1 + i] = i < filled ? '#' : ' ';
	if (load > 1)
		buf[inside] = '>';
	buf[width - 1] = ']';
	buf[width] = '\0';
	return buf;
}

static int name_width(const struct snapshot *s)
{
	int w = 4;	/* "NODE" */
	for (size_t i = 0; i < s->nnodes; i++) {
		int l = (int)strlen(s->nodes[i].name) + (s->nodes[i].self ? 1 : 0);
		w = l > w ? l : w;
	}
	return w;
}

static void emit_nodes(struct out *o, const struct snapshot *s, int nw)
{
	char mem[32], bar[128];
	emit(o, LINE_HEADER, "%-*s %-7s %-7s %6s %5s %9s %5s %s", nw, "NODE", "STATE", "ADMIN",
	     "LOAD", "CPUS", "MEM_FREE", "JOBS", "LOAD PER CPU (full: 1)");
	for (size_t i = 0; i < s->nnodes; i++) {
		const struct migr_node *n = &s->nodes[i];
		char name[MIGR_NAME_MAX + 2];
		snprintf(name, sizeof(name), "%s%s", n->name, n->self ? "*" : "");
		emit(o, LINE_TEXT, "%-*s %-7s %-7s %6.2f %5.1f %9s %5u %s", nw, name,
		     migr_node_state_name(n->state), migr_node_admin_name(n->admin), n->load, n->cpus,
		     human_kb(n->mem_free_kb, mem, sizeof(mem)), n->jobs,
		     node_gone(n) ? "" : load_bar(n->load, o->bar_width, bar, sizeof(bar)));
	}
}

static void emit_jobs(struct out *o, const struct snapshot *s, int nw)
{
	char rss[32], user[64];
	emit(o, LINE_HEADER, "%-16s %-*s %-10s %4s %5s %9s %9s %s", "GPID", nw, "NODE", "USER",
	     "STAT", "%CPU", "RSS", "TIME", "CMD");
	if (s->ps.count == 0)
		emit(o, LINE_TEXT, "(no jobs)");
	for (size_t i = 0; i < s->ps.count; i++) {
		const struct migr_job *j = &s->ps.jobs[i];
		struct passwd *pw = getpwuid(j->uid);
		if (pw)
			snprintf(user, sizeof(user), "%s", pw->pw_name);
		else
			snprintf(user, sizeof(user), "%u", j->uid);
		uint64_t t = j->cpu_ms / 1000;
		char cputime[32];
		snprintf(cputime, sizeof(cputime), "%" PRIu64 ":%02" PRIu64 ":%02" PRIu64, t / 3600,
			 t / 60 % 60, t % 60);
		emit(o, LINE_TEXT, "%-16s %-*s %-10s %4c %5.1f %9s %9s %s", j->gpid, nw, j->node,
		     user, j->state, j->cpu, human_kb(j->rss_kb, rss, sizeof(rss)), cputime, j->cmd);
	}
}

static void emit_frame(struct out *o, struct snapshot *s, double delay)
{
	char when[16];
	strftime(when, sizeof(when), "%H:%M:%S", localtime(&s->when));
	if (s->error[0]) {
		emit(o, LINE_WARNING, "%s; retrying every %g s", s->error, delay);
		if (!s->when)
			return;
		emit(o, LINE_WARNING, "the figures below are from %s", when);
	}
	qsort(s->nodes, s->nnodes, sizeof(*s->nodes), node_cmp);
	qsort(s->ps.jobs, s->ps.count, sizeof(*s->ps.jobs), job_cmp);

	const char *asked = "?";
	size_t alive = 0;
	for (size_t i = 0; i < s->nnodes; i++) {
		if (s->nodes[i].self)
			asked = s->nodes[i].name;
		alive += s->nodes[i].state == MIGR_NODE_ALIVE;
	}
	emit(o, LINE_TITLE, "mmon: %zu nodes, %zu alive, %zu job%s, as %s sees them; sorted by %s",
	     s->nnodes, alive, s->ps.count, s->ps.count == 1 ? "" : "s", asked,
	     sorts[sort_order].title);
	int nw = name_width(s);
	emit_nodes(o, s, nw);
	emit(o, LINE_TEXT, "%s", "");
	for (size_t i = 0; i < s->ps.nmissing; i++)
		emit(o, LINE_WARNING, "%s did not answer in time; its jobs are not listed",
		     s->ps.missing[i]);
	emit_jobs(o, s, nw);
}

/* ---- the full screen ---- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void draw_screen(struct snapshot *s, double delay)
{
	/* the bar takes what the figures leave, within reason */
	int bar = COLS - (name_width(s) + 1 + 8 + 7 + 6 + 10 + 6);
	char clock[16];
	time_t t = time(NULL);
	strftime(clock, sizeof(clock), "%H:%M:%S", localtime(&t));
	struct out o = {
		.screen = 1,
		.last_row = LINES - 1,
		.bar_width = bar < 10 ? 10 : bar > 60 ? 60 : bar,
		.clock = clock,
	};
	erase();
	emit_frame(&o, s, delay);
	attrset(A_REVERSE);
	mvhline(LINES - 1, 0, ' ', COLS);
	mvaddnstr(LINES - 1, 0, "q quit  sort: c load  m free memory  j jobs  n name", COLS);
	attrset(A_NORMAL);
	refresh();
}

static int sort_by_key(int key)
{
	for (size_t i = 0; i < NSORTS; i++)
		if (sorts[i].key == key)
			return (int)i;
	return -1;
}

static int run_screen(struct snapshot *s, double delay)
{
	/* newterm, not initscr: a terminal curses does not know is an error, not an exit */
	SCREEN *scr = newterm(NULL, stdout, stdin);
	if (!scr)
		fatalx("cannot drive the terminal (TERM=%s); mmon --once prints one frame",
		       getenv("TERM") ? getenv("TERM") : "");
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	for (;;) {
		snapshot_take(s);
		double next = now_s() + delay;
		for (;;) {
			draw_screen(s, delay);
			int wait_ms = (int)((next - now_s()) * 1000);
			if (wait_ms <= 0)
				break;
			timeout(wait_ms);
			int key = getch();	/* ERR: the time is up; KEY_RESIZE: draw again */
			if (key == 'q' || key == 'Q')
				goto quit;
			int by = sort_by_key(key);
			if (by >= 0)
				sort_order = (enum sort_by)by;
		}
	}
quit:
	endwin();
	delscreen(scr);
	return 0;
}

static int print_once(struct snapshot *s)
{
	snapshot_take(s);
	if (s->error[0])
		fatalx("%s", s->error);
	struct out o = { .bar_width = ONCE_BAR_WIDTH };
	emit_frame(&o, s, 0);
	fflush(stdout);
	/* as mps: a node that did not answer makes the list incomplete */
	return s->ps.nmissing ? 2 : 0;
}

static int parse_delay(const char *arg, double *delay)
{
	char *end;
	errno = 0;
	double d = strtod(arg, &end);
	if (errno || end == arg || *end || !(d >= 0.2 && d <= 3600))
		return -1;
	*delay = d;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "once", no_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int once = 0, c, by;
	double delay = 1;

	log_init("mmon", 0, 0);
	setlocale(LC_ALL, "");
	opterr = 0;	/* one line of our own instead of getopt's and the usage */
	while ((c = getopt_long(argc, argv, ":d:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (parse_delay(optarg, &delay) < 0) {
				log_warnx("-d: want seconds from 0.2 to 3600, not '%s'", optarg);
				return 2;
			}
			break;
		case 's':
			for (by = 0; by < (int)NSORTS && strcmp(optarg, sorts[by].word); by++)
				;
			if (by == (int)NSORTS) {
				log_warnx("-s: want load, mem, jobs or name, not '%s'", optarg);
				return 2;
			}
			sort_order = (enum sort_by)by;
			break;
		case 'o':
			once = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			log_warnx("%s: needs an argument (mmon --help)", argv[optind - 1]);
			return 2;
		default:
			if (!strncmp(argv[optind - 1], "--", 2) && strchr(argv[optind - 1], '='))
				log_warnx("%s: takes no argument (mmon --help)", argv[optind - 1]);
			else if (!strncmp(argv[optind - 1], "--", 2))
				log_warnx("%s: unknown option (mmon --help)", argv[optind - 1]);
			else
				log_warnx("-%c: unknown option (mmon --help)", optopt);
			return 2;
		}
	}
	if (optind != argc) {
		log_warnx("unexpected argument '%s' (mmon --help)", argv[optind]);
		return 2;
	}

	struct snapshot s = { 0 };
	int status = once || !isatty(STDOUT_FILENO) ? print_once(&s) : run_screen(&s, delay);
	free(s.nodes);
	migr_ps_free(&s.ps);
	return status;
}
