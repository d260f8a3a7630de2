/* loop.c: epoll loop and timers (see loop.h). */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "xmalloc.h"

struct watch {
	int fd;
	int dead;
	loop_fd_cb cb;
	void *arg;
	struct watch *next_grave;
};

struct loop_timer {
	uint64_t due, period;
	loop_timer_cb cb;
	void *arg;
	int cancelled;
	struct loop_timer *next;
};

static int epfd = -1;
static struct watch **watches;	/* by fd; grows with the highest fd watched */
static size_t nwatches;
static struct watch *graveyard;	/* freed after the current batch */
static struct loop_timer *timers;
static int running;

uint64_t loop_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void loop_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		fatal("epoll_create1");
}

void loop_add(int fd, uint32_t events, loop_fd_cb cb, void *arg)
{
	if (fd < 0)
		fatalx("loop: fd %d out of range", fd);
	if ((size_t)fd >= nwatches) {
		size_t n = nwatches ? nwatches : 1024;
		while (n <= (size_t)fd)
			n *= 2;
		watches = xrealloc(watches, n * sizeof(*watches));
		memset(watches + nwatches, 0, (n - nwatches) * sizeof(*watches));
		nwatches = n;
	}
	struct watch *w = xcalloc(1, sizeof(*w));
	w->fd = fd;
	w->cb = cb;
	w->arg = arg;
	struct epoll_event ev = { .events = events, .data.ptr = w };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		fatal("epoll_ctl add fd %d", fd);
	watches[fd] = w;
}

void loop_mod(int fd, uint32_t events)
{
	struct watch *w = fd >= 0 && (size_t)fd < nwatches ? watches[fd] : NULL;
	struct epoll_event ev = { .events = events, .data.ptr = w };
	if (w && epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		fatal("epoll_ctl mod fd %d", fd);
}

void loop_del(int fd)
{
	struct watch *w = fd >= 0 && (size_t)fd < nwatches ? watches[fd] : NULL;
	if (!w)
		return;
	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	watches[fd] = NULL;
	w->dead = 1;
	w->next_grave = graveyard;
	graveyard = w;
}

struct loop_timer *loop_timer_add(uint64_t delay_ms, uint64_t period_ms, loop_timer_cb cb,
				  void *arg)
{
	struct loop_timer *t = xcalloc(1, sizeof(*t));
	t->due = loop_now() + delay_ms;
	t->period = period_ms;
	t->cb = cb;
	t->arg = arg;
	t->next = timers;
	timers = t;
	return t;
}

void loop_timer_cancel(struct loop_timer *t)
{
	if (t)
		t->cancelled = 1;
}

/* Runs due timers; returns the ms until the next one (-1: none). */
static int run_timers(void)
{
	uint64_t now = loop_now();
	for (struct loop_timer *t = timers; t; t = t->next) {
		if (t->cancelled || t->due > now)
			continue;
		if (t->period) {
			t->due += t->period;
			if (t->due <= now)	/* we fell behind: do not run it in a burst */
				t->due = now + t->period;
		} else {
			t->cancelled = 1;
		}
		t->cb(t->arg);
	}
	int64_t next = -1;
	for (struct loop_timer **tp = &timers; *tp;) {
		struct loop_timer *t = *tp;
		if (t->cancelled) {
			*tp = t->next;
			free(t);
			continue;
		}
		int64_t in = t->due > now ? (int64_t)(t->due - now) : 0;
		if (next < 0 || in < next)
			next = in;
		tp = &t->next;
	}
	return (int)next;
}

void loop_run(void)
{
	struct epoll_event evs[64];
	running = 1;
	while (running) {
		int timeout = run_timers();
		if (!running)
			break;
		int n = epoll_wait(epfd, evs, 64, timeout);
		if (n < 0 && errno != EINTR)
			fatal("epoll_wait");
		for (int i = 0; i < n && running; i++) {
			struct watch *w = evs[i].data.ptr;
			if (!w->dead)
				w->cb(w->fd, evs[i].events, w->arg);
		}
		while (graveyard) {
			struct watch *w = graveyard;
			graveyard = w->next_grave;
			free(w);
		}
	}
}

void loop_stop(void)
{
	running = 0;
}
