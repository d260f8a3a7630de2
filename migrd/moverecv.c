/* moverecv.c: the destination end of a move, migr's own page servicer (see mover.h).
 *
 * It takes the images from the data channel, listens on CRIU's lazy-pages socket and runs
 * criu restore, which hands over one userfaultfd per restored process. The job then runs
 * (a copy move keeps it stopped until every page is in) while its memory arrives: pages
 * pushed by the source in the background on the data channel, and pages the job faults on,
 * asked for on the faults channel and answered there ahead of any bulk data. Each page is
 * installed with UFFDIO_COPY in runs as long as a frame; a page that was never dumped is
 * zero-filled; a fork, mremap, munmap or madvise(DONTNEED) under way is followed (pageset.h).
 *
 * Once every process holds every page the userfaultfds are closed and the source is told
 * (BF_DONE): from then on the job depends on nothing at the source. Until then any failure,
 * this node's migrd going away included, kills the copy here and tells the source, whose
 * copy then lives on. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "criu.h"
#include "log.h"
#include "mover.h"
#include "pagemap.h"
#include "pageset.h"
#include "proctree.h"
#include "xmalloc.h"

#define PAGE PAGEMAP_PAGE
#define HEARTBEAT_MS 1000
#define RESTORE_TIMEOUT_MS 60000
#define IMAGES_MAX_BYTES (1ull << 30)	/* a dump's images without memory are far smaller */
#define IMAGES_MAX_FILES 100000
#define DATA_FRAMES_PER_ROUND 1		/* bulk frames between looks at faults */
#define LATENCIES_MAX (1 << 20)
#define STDIO_FD 4			/* migrd hands the job's three stdio pipe ends here */

struct dst_proc {
	int vpid;			/* whose pages at the source fill it (a fork's parent's) */
	int uffd;			/* -1 once closed: it is complete, or gone */
	struct pageset *ps;
};

struct receiver {
	const struct mover_opts *o;
	struct bulk_chan ch[2];
	int ep;
	struct dst_proc **procs;	/* pointers: a fork adds one while others are in use */
	size_t nprocs, cap;
	struct pm_range **ranges;	/* by vpid, from the pagemap images */
	size_t *nranges;
	int *range_vpids;
	size_t nvpids;
	pid_t restore;			/* criu restore, while it runs */
	int restore_fd;			/* its pidfd: readable when it ends */
	int lazy_listen, lazy_sk;	/* CRIU's lazy-pages socket, and restore's connection */
	uint64_t restore_deadline;
	uint64_t t_images;		/* when the first image arrived */
	pid_t restore_root;		/* restore's child, the job's init: killed if restore dies */
	pid_t restored;			/* the restored job's init, once restore has run */
	uint64_t heard, beat;
	uint64_t installed, zeroed, faults, requests;
	/* a fault's wait, from the kernel's word to the page installed: for the report */
	struct { int vpid; uint64_t src; uint32_t npages; uint64_t t0; } waits[256];
	uint32_t *latency_us;
	size_t nlatency;
	char why[400];
};

enum { EP_CH0, EP_CH1, EP_CTL, EP_UFFD, EP_LISTEN, EP_LAZY, EP_RESTORE };

static void ep_add(struct receiver *r, int fd, uint32_t kind, uint32_t index)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)kind << 32 | index };
	epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev);
}

/* ---- images ---- */

static int valid_name(const char *name)
{
	return name[0] && name[0] != '.' && !strchr(name, '/') && strlen(name) <= 200;
}

static int write_image(struct receiver *r, const uint8_t *p, size_t len, uint64_t *total,
		       unsigned *files)
{
	uint16_t nlen;
	char name[256];
	uint64_t off;
	if (len < 2)
		return -1;
	memcpy(&nlen, p, 2);
	if (nlen == 0 || nlen > 200 || len < 2u + nlen + 8)
		return -1;
	memcpy(name, p + 2, nlen);
	name[nlen] = '\0';
	memcpy(&off, p + 2 + nlen, 8);
	size_t dlen = len - 2 - nlen - 8;
	/* whole images hold the job's memory too: as much as its offer said, and some */
	uint64_t max = IMAGES_MAX_BYTES + 2 * r->o->whole_kb * 1024;
	if (!valid_name(name) || strlen(name) != nlen || !strncmp(name, "move.", 5) ||
	    (*total += dlen) > max || off > max)
		return -1;
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", r->o->dir, name);
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (off == 0 ? O_EXCL : 0);
	int fd = open(path, flags, 0600);
	if (fd < 0)
		return -1;
	if (off == 0 && ++*files > IMAGES_MAX_FILES) {
		close(fd);
		return -1;
	}
	ssize_t n = dlen ? pwrite(fd, p + 2 + nlen + 8, dlen, (off_t)off) : 0;
	close(fd);
	return n == (ssize_t)dlen ? 0 : -1;
}

/* ---- installing pages ---- */

static struct dst_proc *add_proc(struct receiver *r, int vpid, int uffd, struct pageset *ps)
{
	if (r->nprocs == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->procs = xrealloc(r->procs, r->cap * sizeof(*r->procs));
	}
	struct dst_proc *p = xcalloc(1, sizeof(*p));
	*p = (struct dst_proc){ .vpid = vpid, .uffd = uffd, .ps = ps };
	r->procs[r->nprocs] = p;
	ep_add(r, uffd, EP_UFFD, (uint32_t)r->nprocs);
	r->nprocs++;
	return p;
}

static void proc_close(struct receiver *r, struct dst_proc *p)
{
	if (p->uffd < 0)
		return;
	epoll_ctl(r->ep, EPOLL_CTL_DEL, p->uffd, NULL);
	close(p->uffd);
	p->uffd = -1;
	pageset_drop_all(p->ps);	/* nothing more is owed to it */
}

static int handle_uffd(struct receiver *r, struct dst_proc *p);

/* Copies a run into the process; a page that is there already is skipped. */
static int install_run(struct receiver *r, struct dst_proc *p, const struct ps_run *run,
		       const uint8_t *data)
{
	uint64_t done = 0, len = (uint64_t)run->npages * PAGE;
	int retries = 0;
	while (done < len && p->uffd >= 0) {
		struct uffdio_copy c = { .dst = run->dst + done, .src = (uint64_t)(uintptr_t)(data + done),
					 .len = len - done };
		if (ioctl(p->uffd, UFFDIO_COPY, &c) == 0) {
			done = len;
			break;
		}
		if (c.copy > 0)
			done += (uint64_t)c.copy;
		if (errno == EEXIST) {
			done += PAGE;	/* present already: the process has it */
		} else if (errno == EAGAIN && retries++ < 1000) {
			/* an mmap change is under way: its event first, then again */
			if (handle_uffd(r, p) < 0)
				return -1;
			/* the run may have moved or gone: look it up afresh by its source */
			struct ps_run again[1];
			uint64_t src = run->src + done;
			if (pageset_runs_src(p->ps, src, (uint32_t)((len - done) / PAGE), again, 1) != 1 ||
			    again[0].src != src) {
				break;	/* unmapped meanwhile, or moved in pieces: the rest comes again */
			}
			struct ps_run moved = { .src = src, .dst = again[0].dst, .npages = again[0].npages };
			pageset_resolve_src(p->ps, run->src, (uint32_t)(done / PAGE));
			r->installed += done / PAGE;
			return install_run(r, p, &moved, data + done);
		} else if (errno == ENOENT || errno == ESRCH) {
			proc_close(r, p);	/* its memory is gone: exited or exec'ed */
			return 0;
		} else {
			log_warnx("process %d: UFFDIO_COPY at %#llx: %s", p->vpid,
				  (unsigned long long)(run->dst + done), strerror(errno));
			return -1;
		}
	}
	pageset_resolve_src(p->ps, run->src, (uint32_t)(done / PAGE));
	r->installed += done / PAGE;
	return 0;
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Pages of vpid from src came: the faults that waited on them are served. */
static void served(struct receiver *r, int vpid, uint64_t src, uint32_t npages)
{
	for (size_t i = 0; i < sizeof(r->waits) / sizeof(r->waits[0]); i++) {
		if (!r->waits[i].t0 || r->waits[i].vpid != vpid || r->waits[i].src < src ||
		    r->waits[i].src >= src + npages * PAGE)
			continue;
		if (!r->latency_us)
			r->latency_us = xmalloc(LATENCIES_MAX * sizeof(*r->latency_us));
		if (r->nlatency < LATENCIES_MAX)
			r->latency_us[r->nlatency++] = (uint32_t)(now_us() - r->waits[i].t0);
		r->waits[i].t0 = 0;
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Pages from the source (vpid's memory at addr): into every process that waits for them,
 * the process itself and any child it forked before they came. */
static int install_pages(struct receiver *r, const uint8_t *p, size_t len)
{
	uint32_t tag, vpid;
	uint64_t addr;
	if (len < 16 || (len - 16) % PAGE)
		return -1;
	memcpy(&tag, p, 4);
	memcpy(&vpid, p + 4, 4);
	memcpy(&addr, p + 8, 8);
	const uint8_t *data = p + 16;
	uint32_t npages = (uint32_t)((len - 16) / PAGE);
	served(r, (int)vpid, addr, npages);
	for (size_t i = 0; i < r->nprocs; i++) {
		struct dst_proc *dp = r->procs[i];
		if (dp->vpid != (int)vpid || dp->uffd < 0)
			continue;
		struct ps_run runs[MOVER_PAGES_CHUNK];
		size_t n = pageset_runs_src(dp->ps, addr, npages, runs, MOVER_PAGES_CHUNK);
		for (size_t k = 0; k < n; k++)
			if (install_run(r, dp, &runs[k], data + (runs[k].src - addr)) < 0)
				return -1;
	}
	return 0;
}

static void zero_page(struct dst_proc *p, uint64_t addr)
{
	struct uffdio_zeropage z = { .range = { .start = addr, .len = PAGE } };
	if (ioctl(p->uffd, UFFDIO_ZEROPAGE, &z) < 0 && errno == EEXIST) {
		struct uffdio_range w = { .start = addr, .len = PAGE };
		ioctl(p->uffd, UFFDIO_WAKE, &w);
	}
}

static void request(struct receiver *r, struct dst_proc *p, uint64_t src)
{
	uint8_t req[20];
	uint32_t tag = 0, vpid = (uint32_t)p->vpid, n = MOVER_FAULT_PAGES;
	memcpy(req, &tag, 4);
	memcpy(req + 4, &vpid, 4);
	memcpy(req + 8, &src, 8);
	memcpy(req + 16, &n, 4);
	bulk_send(&r->ch[BULK_FAULTS], BF_REQ, req, sizeof(req), NULL, 0);
	bulk_flush(&r->ch[BULK_FAULTS]);
	for (size_t i = 0; i < sizeof(r->waits) / sizeof(r->waits[0]); i++)
		if (!r->waits[i].t0) {
			r->waits[i].vpid = p->vpid;
			r->waits[i].src = src;
			r->waits[i].npages = n;
			r->waits[i].t0 = now_us();
			break;
		}
	/* every process that waits on the same source pages gets them from this answer */
	for (size_t i = 0; i < r->nprocs; i++)
		if (r->procs[i]->vpid == p->vpid && r->procs[i]->uffd >= 0)
			pageset_mark_requested(r->procs[i]->ps, src, n);
	r->requests++;
}

static void fault(struct receiver *r, struct dst_proc *p, uint64_t addr)
{
	uint64_t src;
	int requested = 0;
	r->faults++;
	switch (pageset_find_dst(p->ps, addr, &src, &requested)) {
	case 1:
		if (!requested)
			request(r, p, src);
		break;	/* its page is on the way; the copy wakes the thread */
	default:
		/* never dumped, or discarded since: it reads as zeros */
		zero_page(p, addr & ~(PAGE - 1));
		r->zeroed++;
		break;
	}
}

/* Reads what the kernel says of one process: faults, and the changes to its memory that
 * the process makes meanwhile. */
static int handle_uffd(struct receiver *r, struct dst_proc *p)
{
	struct uffd_msg msg[16];
	for (;;) {
		if (p->uffd < 0)
			return 0;
		ssize_t n = read(p->uffd, msg, sizeof(msg));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			proc_close(r, p);
			return 0;
		}
		for (size_t i = 0; i < (size_t)n / sizeof(msg[0]); i++) {
			struct uffd_msg *m = &msg[i];
			switch (m->event) {
			case UFFD_EVENT_PAGEFAULT:
				fault(r, p, m->arg.pagefault.address);
				break;
			case UFFD_EVENT_FORK: {
				/* the child waits for what the parent waits for, from the same pages */
				add_proc(r, p->vpid, (int)m->arg.fork.ufd, pageset_clone(p->ps));
				break;
			}
			case UFFD_EVENT_REMAP:
				pageset_remap(p->ps, m->arg.remap.from, m->arg.remap.to, m->arg.remap.len);
				break;
			case UFFD_EVENT_REMOVE:
			case UFFD_EVENT_UNMAP:
				pageset_drop_dst(p->ps, m->arg.remove.start, m->arg.remove.end);
				break;
			default:
				break;
			}
		}
	}
}

static uint64_t pages_left(const struct receiver *r)
{
	uint64_t n = 0;
	for (size_t i = 0; i < r->nprocs; i++)
		if (r->procs[i]->uffd >= 0)
			n += pageset_left(r->procs[i]->ps);
	return n;
}

/* ---- the restore ---- */

static int read_ranges(struct receiver *r)
{
	int *vpids;
	size_t n;
	char err[256];
	if (pagemap_list_pids(r->o->dir, &vpids, &n) < 0)
		return -1;
	r->range_vpids = vpids;
	r->nvpids = n;
	r->ranges = xcalloc(n + 1, sizeof(*r->ranges));
	r->nranges = xcalloc(n + 1, sizeof(*r->nranges));
	for (size_t i = 0; i < n; i++)
		if (pagemap_read_lazy(r->o->dir, vpids[i], &r->ranges[i], &r->nranges[i], err,
				      sizeof(err)) < 0) {
			snprintf(r->why, sizeof(r->why), "%s", err);
			return -1;
		}
	return 0;
}

static struct pageset *pageset_for(struct receiver *r, int vpid)
{
	for (size_t i = 0; i < r->nvpids; i++)
		if (r->range_vpids[i] == vpid)
			return pageset_new(r->ranges[i], r->nranges[i]);
	return pageset_new(NULL, 0);
}

/* Starts criu restore: it connects to CRIU's lazy-pages socket (which must listen first),
 * hands over each task's userfaultfd there, and ends once the job runs. Its faults may come
 * before it ends: the main loop serves them meanwhile. */
/* Until the child has exec'd prog (a second at most): a test stops criu, not our fork. */
static void wait_exec(pid_t pid, const char *prog)
{
	char path[64], cmd[4096];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	for (int i = 0; i < 200; i++) {
		FILE *f = fopen(path, "re");
		size_t n = f ? fread(cmd, 1, sizeof(cmd) - 1, f) : 0;
		if (f)
			fclose(f);
		cmd[n] = '\0';
		if (!strcmp(cmd, prog))
			return;
		usleep(5000);
	}
}

static int start_restore(struct receiver *r)
{
	r->lazy_sk = r->restore_fd = r->lazy_listen = -1;
	if (!r->o->whole)
		r->lazy_listen = criu_lazy_listen(r->o->dir);
	if (!r->o->whole && r->lazy_listen < 0) {
		snprintf(r->why, sizeof(r->why), "lazy-pages socket: %s", strerror(errno));
		return -1;
	}
	struct criu_argv a;
	int stdio[3] = { STDIO_FD, STDIO_FD + 1, STDIO_FD + 2 };
	criu_restore_argv(&a, r->o->dir, r->o->inherit, 3, r->o->mode_copy, !r->o->whole);
	r->restore = criu_spawn(r->o->criu, &a, stdio, 3);
	for (int i = 0; i < 3; i++)
		close(stdio[i]);	/* the restored job holds them now */
	if (r->restore < 0) {
		snprintf(r->why, sizeof(r->why), "cannot run criu: %s", strerror(errno));
		return -1;
	}
	r->restore_fd = pidfd_open(r->restore, 0);
	if (r->restore_fd < 0) {
		snprintf(r->why, sizeof(r->why), "pidfd_open: %s", strerror(errno));
		return -1;
	}
	if (r->o->stop_restore_ms) {
		/* test-pause in-restore: a restore that stays alive for a test to kill */
		log_info("test: criu restore (pid %d) stopped for %u ms", (int)r->restore,
			 r->o->stop_restore_ms);
		wait_exec(r->restore, r->o->criu);
		pidfd_send_signal(r->restore_fd, SIGSTOP, NULL, 0);
		usleep(r->o->stop_restore_ms * 1000);
		pidfd_send_signal(r->restore_fd, SIGCONT, NULL, 0);
	}
	r->restore_deadline = mover_now_ms() + RESTORE_TIMEOUT_MS;
	if (r->lazy_listen >= 0)
		ep_add(r, r->lazy_listen, EP_LISTEN, 0);
	ep_add(r, r->restore_fd, EP_RESTORE, 0);
	return 0;
}

/* The job's init as restore makes it: its child in a PID namespace of its own. Known early,
 * so that a restore that dies half way leaves no half-restored tasks behind. */
static pid_t restore_child(pid_t restore)
{
	char path[64];
	int child, found = 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)restore, (int)restore);
	FILE *f = fopen(path, "re");
	while (f && !found && fscanf(f, "%d", &child) == 1)
		found = proctree_vpid(child) == 1 ? child : 0;
	if (f)
		fclose(f);
	return found;
}

/* Sets the restored job going, but for the processes its user had stopped: CRIU restored
 * those stopped, and they stay so. */
static void resume(struct receiver *r)
{
	char path[4096];
	int *stopped;
	snprintf(path, sizeof(path), "%s/" PROCTREE_STOPPED_FILE, r->o->dir);
	size_t n = proctree_load_stopped(path, &stopped);
	proctree_continue(r->restored, stopped, n);
	free(stopped);
}

/* One message of restore's on the lazy-pages socket: a task and its userfaultfd. */
static int lazy_message(struct receiver *r)
{
	int vpid, uffd;
	int got = criu_lazy_recv(r->lazy_sk, &vpid, &uffd);
	if (got == 1 && uffd >= 0)
		add_proc(r, vpid, uffd, pageset_for(r, vpid));
	if (got <= 0) {	/* finished, or restore went away: its end says which */
		epoll_ctl(r->ep, EPOLL_CTL_DEL, r->lazy_sk, NULL);
		close(r->lazy_sk);
		r->lazy_sk = -1;
	}
	return 0;
}

/* criu restore has ended: the job runs (or its restore failed). */
static int restore_ended(struct receiver *r)
{
	int status;
	if (waitpid(r->restore, &status, 0) != r->restore)
		status = 1 << 8;
	r->restore = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		r->restore_root = 0;
	epoll_ctl(r->ep, EPOLL_CTL_DEL, r->restore_fd, NULL);
	close(r->restore_fd);
	r->restore_fd = -1;
	/* whatever it sent before it ended is in the socket still */
	while (r->lazy_sk >= 0) {
		struct pollfd p = { .fd = r->lazy_sk, .events = POLLIN };
		if (poll(&p, 1, 0) <= 0)
			break;
		lazy_message(r);
	}
	if (r->lazy_listen >= 0) {
		epoll_ctl(r->ep, EPOLL_CTL_DEL, r->lazy_listen, NULL);
		close(r->lazy_listen);
		r->lazy_listen = -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char log[4200], keep[4200], err[300];
		snprintf(log, sizeof(log), "%s/restore.log", r->o->dir);
		criu_log_error(log, err, sizeof(err));
		snprintf(keep, sizeof(keep), "%s/../last-failure.log", r->o->dir);
		criu_keep_log(log, keep);
		snprintf(r->why, sizeof(r->why), "criu restore failed on %s: %s", r->o->node,
			 err[0] ? err : "(no error in its log)");
		return -1;
	}
	char path[4200];
	snprintf(path, sizeof(path), "%s/restored.pid", r->o->dir);
	FILE *f = fopen(path, "re");
	int rp = 0;
	if (!f || fscanf(f, "%d", &rp) != 1 || rp <= 0) {
		if (f)
			fclose(f);
		snprintf(r->why, sizeof(r->why), "criu restore left no pid");
		return -1;
	}
	fclose(f);
	r->restored = rp;
	/* every process is known now: the source may push the rest of the memory */
	bulk_send(&r->ch[BULK_FAULTS], BF_GO, NULL, 0, NULL, 0);
	mover_record(r->o->dir, "restored %d", (int)r->restored);
	mover_report("restored %d %" PRIu64, (int)r->restored, mover_now_ms() - r->t_images);
	return 0;
}

/* ---- the conversation ---- */

static int receive_images(struct receiver *r)
{
	uint64_t total = 0;
	unsigned files = 0;
	r->heard = r->beat = mover_now_ms();
	for (;;) {
		uint64_t now = mover_now_ms();
		if (now - r->heard > MOVER_IDLE_MS) {
			snprintf(r->why, sizeof(r->why), "the images stopped coming");
			return -1;
		}
		if (now - r->beat >= HEARTBEAT_MS) {
			bulk_send(&r->ch[BULK_FAULTS], BF_HELLO, NULL, 0, NULL, 0);
			r->beat = now;
		}
		if (bulk_flush(&r->ch[BULK_FAULTS]) < 0) {
			snprintf(r->why, sizeof(r->why), "the link to the source broke");
			return -1;
		}
		struct pollfd p[3] = { { .fd = r->ch[0].fd, .events = POLLIN },
				       { .fd = r->ch[1].fd, .events = POLLIN },
				       { .fd = MOVER_CTL_FD, .events = POLLIN } };
		if (poll(p, 3, 200) <= 0)
			continue;
		if (p[2].revents) {
			char buf[64];
			if (recv(MOVER_CTL_FD, buf, sizeof(buf), MSG_DONTWAIT) <= 0 ||
			    !strncmp(buf, "abort", 5)) {
				snprintf(r->why, sizeof(r->why), "migrd here gave up or went away");
				return -1;
			}
		}
		for (int i = 0; i < 2; i++) {
			if (!p[i].revents)
				continue;
			if (bulk_fill(&r->ch[i]) < 0) {
				snprintf(r->why, sizeof(r->why), "the link to the source broke");
				return -1;
			}
			uint8_t type, *pl;
			size_t len;
			int k;
			while ((k = bulk_next(&r->ch[i], &type, &pl, &len)) > 0) {
				r->heard = mover_now_ms();
				if (type == BF_IMAGES_DONE)
					return 0;
				if (type == BF_ABORT) {
					/* its own words (criu dump failed on ...): the same
					 * answer whichever of us tells the origin first */
					snprintf(r->why, sizeof(r->why), "%.*s",
						 (int)(len > 300 ? 300 : len), (const char *)pl);
					return -1;
				}
				if (type == BF_IMAGE && !r->t_images)
					r->t_images = mover_now_ms();
				if (type == BF_IMAGE && write_image(r, pl, len, &total, &files) < 0) {
					snprintf(r->why, sizeof(r->why), "a bad image from the source");
					return -1;
				}
			}
			if (k < 0) {
				snprintf(r->why, sizeof(r->why), "a frame from the source fails "
					 "authentication");
				return -1;
			}
		}
	}
}

/* Frames of one channel: at most max of them (the data channel yields to faults). */
static int take_frames(struct receiver *r, int ch, int max)
{
	uint8_t type, *pl;
	size_t len;
	int k, frames = 0;
	while ((max < 0 || frames++ < max) && (k = bulk_next(&r->ch[ch], &type, &pl, &len)) > 0) {
		r->heard = mover_now_ms();
		if (type == BF_PAGES && install_pages(r, pl, len) < 0) {
			snprintf(r->why, sizeof(r->why), "pages that do not fit the job");
			return -1;
		}
		if (type == BF_ABORT) {
			snprintf(r->why, sizeof(r->why), "%.*s", (int)(len > 300 ? 300 : len),
				 (const char *)pl);	/* the source's own words, as above */
			return -1;
		}
	}
	if (k < 0) {
		snprintf(r->why, sizeof(r->why), "a frame from the source fails authentication");
		return -1;
	}
	return 0;
}

/* Fills the restored job's memory until every page is in: 0, or -1 with r->why. */
static int fill(struct receiver *r)
{
	ep_add(r, r->ch[BULK_DATA].fd, EP_CH0, 0);
	ep_add(r, r->ch[BULK_FAULTS].fd, EP_CH1, 0);
	ep_add(r, MOVER_CTL_FD, EP_CTL, 0);
	r->heard = r->beat = mover_now_ms();
	while (!r->restored || pages_left(r) > 0) {
		uint64_t now = mover_now_ms();
		if (now - r->heard > MOVER_IDLE_MS) {
			snprintf(r->why, sizeof(r->why), "the source fell silent");
			return -1;
		}
		if (r->restore > 0 && !r->restore_root)
			r->restore_root = restore_child(r->restore);
		if (r->restore > 0 && now > r->restore_deadline) {
			kill(r->restore, SIGKILL);
			snprintf(r->why, sizeof(r->why), "criu restore did not finish in time");
			return -1;
		}
		if (now - r->beat >= HEARTBEAT_MS) {
			bulk_send(&r->ch[BULK_FAULTS], BF_HELLO, NULL, 0, NULL, 0);
			r->beat = now;
		}
		if (bulk_flush(&r->ch[BULK_FAULTS]) < 0) {
			snprintf(r->why, sizeof(r->why), "the link to the source broke");
			return -1;
		}
		/* data frames already read make no event: do not sleep while some wait */
		int buffered = bulk_has_frame(&r->ch[BULK_DATA]);
		struct epoll_event evs[64];
		int n = epoll_wait(r->ep, evs, 64, buffered ? 0 : 200);
		int data_ready = buffered;
		/* faults, their answers and the process's own events before bulk data */
		for (int i = 0; i < n; i++) {
			uint32_t kind = (uint32_t)(evs[i].data.u64 >> 32);
			uint32_t idx = (uint32_t)evs[i].data.u64;
			if (kind == EP_CH0) {
				data_ready = 1;
			} else if (kind == EP_CTL) {
				char buf[64];
				ssize_t k = recv(MOVER_CTL_FD, buf, sizeof(buf), MSG_DONTWAIT);
				if (k == 0 || (k > 0 && !strncmp(buf, "abort", 5))) {
					snprintf(r->why, sizeof(r->why), "migrd here %s",
						 k == 0 ? "went away" : "gave up");
					return -1;
				}
			} else if (kind == EP_UFFD) {
				if (idx < r->nprocs && handle_uffd(r, r->procs[idx]) < 0)
					return -1;
			} else if (kind == EP_LISTEN) {
				if (r->lazy_sk < 0) {
					r->lazy_sk = accept4(r->lazy_listen, NULL, NULL, SOCK_CLOEXEC);
					struct timeval tv = { .tv_sec = 5 };
					setsockopt(r->lazy_sk, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
					if (r->lazy_sk >= 0)
						ep_add(r, r->lazy_sk, EP_LAZY, 0);
				}
			} else if (kind == EP_LAZY) {
				if (r->lazy_sk >= 0)
					lazy_message(r);
			} else if (kind == EP_RESTORE) {
				if (restore_ended(r) < 0)
					return -1;
			} else {
				if (bulk_fill(&r->ch[BULK_FAULTS]) < 0) {
					snprintf(r->why, sizeof(r->why), "the link to the source broke");
					return -1;
				}
				if (take_frames(r, BULK_FAULTS, -1) < 0)
					return -1;
			}
		}
		if (data_ready) {
			if (n > 0 && bulk_fill(&r->ch[BULK_DATA]) < 0) {
				snprintf(r->why, sizeof(r->why), "the link to the source broke");
				return -1;
			}
			if (take_frames(r, BULK_DATA, DATA_FRAMES_PER_ROUND) < 0)
				return -1;
		}
	}
	return 0;
}

static void give_up(struct receiver *r)
{
	if (r->restore > 0) {
		kill(r->restore, SIGKILL);
		waitpid(r->restore, NULL, 0);
		r->restore = 0;
	}
	if (!r->restored && r->restore_root > 0)
		proctree_signal(r->restore_root, SIGKILL);	/* whatever restore left */
	if (r->restored > 0)
		proctree_signal(r->restored, SIGKILL);
	for (size_t i = 0; i < r->nprocs; i++)
		proc_close(r, r->procs[i]);
	log_warnx("%s", r->why);
	/* tells the source its copy is the one (or confirms its own giving up) */
	bulk_send(&r->ch[BULK_FAULTS], BF_ABORT, NULL, 0, r->why, strlen(r->why));
	for (int i = 0; i < 50 && bulk_flush(&r->ch[BULK_FAULTS]) == 1; i++)
		usleep(10000);
	mover_record(r->o->dir, "aborted %s", r->why);
	mover_report("aborted %s", r->why);
}

int mover_recv(const struct mover_opts *o)
{
	struct receiver r = { .o = o };
	uint8_t key[BULK_KEY_BYTES];
	int fds[2];
	r.ep = epoll_create1(EPOLL_CLOEXEC);
	if (mover_receive_start(key, fds) < 0) {
		for (int i = 0; i < 3; i++)
			close(STDIO_FD + i);
		mover_record(o->dir, "aborted before the images");
		mover_report("aborted the move could not start");
		return MOVER_EXIT_ABORTED;
	}
	for (int i = 0; i < 2; i++) {
		bulk_init(&r.ch[i], fds[i], key, i, 0);
		bulk_send(&r.ch[i], BF_HELLO, NULL, 0, NULL, 0);
		bulk_flush(&r.ch[i]);
	}
	sodium_memzero(key, sizeof(key));
	/* whole images (a job frozen to disk) leave no page to fill */
	if (receive_images(&r) < 0 || (!o->whole && read_ranges(&r) < 0)) {
		for (int i = 0; i < 3; i++)
			close(STDIO_FD + i);
		give_up(&r);
		return MOVER_EXIT_ABORTED;
	}
	if (o->pause_restore_ms) {
		log_info("test: pausing before restore for %u ms", o->pause_restore_ms);
		mover_report("pausing %u", o->pause_restore_ms);
		usleep(o->pause_restore_ms * 1000);
	}
	if (start_restore(&r) < 0) {
		give_up(&r);
		return MOVER_EXIT_ABORTED;
	}
	if (fill(&r) < 0) {
		give_up(&r);
		return MOVER_EXIT_ABORTED;
	}
	/* every page is in: the job depends on nothing at the source any more */
	for (size_t i = 0; i < r.nprocs; i++)
		proc_close(&r, r.procs[i]);
	if (o->mode_copy)
		resume(&r);
	bulk_send(&r.ch[BULK_FAULTS], BF_DONE, NULL, 0, NULL, 0);
	for (int i = 0; i < 100 && bulk_flush(&r.ch[BULK_FAULTS]) == 1; i++)
		usleep(10000);
	mover_record(o->dir, "done");
	uint32_t p50 = 0, p99 = 0;
	if (r.nlatency) {
		qsort(r.latency_us, r.nlatency, sizeof(*r.latency_us), cmp_u32);
		p50 = r.latency_us[r.nlatency / 2];
		p99 = r.latency_us[r.nlatency * 99 / 100];
	}
	log_debug("done: %" PRIu64 " pages installed, %" PRIu64 " zero-filled, %" PRIu64
		  " faults, %" PRIu64 " requests", r.installed, r.zeroed, r.faults, r.requests);
	mover_report("done faults %" PRIu64 " served %zu p50 %u us p99 %u us", r.faults,
		     r.nlatency, p50, p99);
	return MOVER_EXIT_DONE;
}
