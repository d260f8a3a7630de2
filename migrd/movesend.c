/* movesend.c: the source end of a move (see mover.h).
 *
 * criu dump writes the job's images but none of its memory, and leaves its tasks stopped.
 * The images go first on the data channel; then every lazily dumped page is read from the
 * stopped tasks (/proc/PID/mem, which also reads pages the task made unreadable) and pushed
 * in the background, while requests for faulting pages are answered at once on the faults
 * channel, and the background push goes on from where the fault was. The stopped copy is
 * ended only when the destination says it holds every page (BF_DONE); if the destination
 * gives up (BF_ABORT), the copy is resumed; if the link breaks after the images have left,
 * the outcome is in doubt and migrd asks the destination. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "criu.h"
#include "log.h"
#include "mover.h"
#include "pagemap.h"
#include "proctree.h"
#include "xmalloc.h"

#define PAGE PAGEMAP_PAGE
#define PUSH_AHEAD (4u << 20)	/* data queued on the data channel before we wait */
#define PUSH_FRAMES 1		/* background frames between looks at the faults channel */
#define HEARTBEAT_MS 1000
#define DUMP_TIMEOUT_MS 60000
#define PROCS_MAX 4096

struct vma {
	uint64_t start, end;
};

struct src_proc {
	int vpid;
	pid_t host;
	int mem;			/* /proc/HOST/mem */
	struct pm_range *r;		/* lazy ranges */
	size_t nr;
	uint8_t **sent;			/* per range, per page: pushed once already */
	struct vma *vmas;		/* of the frozen task, to keep frames inside one */
	size_t nvmas;
	size_t cur;			/* background cursor: range, page */
	uint32_t cur_page;
	uint64_t unsent;
};

struct sender {
	const struct mover_opts *o;
	struct bulk_chan ch[2];
	struct src_proc *procs;
	size_t nprocs, next_proc;
	int images_out;			/* IMAGES_DONE has reached the kernel */
	int go;				/* the destination restored the job: push its memory */
	uint64_t heard, beat;
	uint64_t pushed, served;
};

/* ---- the frozen tasks ---- */

static int read_vmas(struct src_proc *p)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)p->host);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t cap = 0;
	while (fgets(line, sizeof(line), f)) {
		uint64_t a, b;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64, &a, &b) != 2)
			continue;
		if (p->nvmas == cap) {
			cap = cap ? cap * 2 : 64;
			p->vmas = xrealloc(p->vmas, cap * sizeof(*p->vmas));
		}
		p->vmas[p->nvmas++] = (struct vma){ a, b };
	}
	fclose(f);
	return 0;
}

/* The end of the mapping that holds addr (frames never cross one: the destination copies
 * a frame into one mapping at a time); addr itself if none does. */
static uint64_t vma_end(const struct src_proc *p, uint64_t addr)
{
	size_t lo = 0, hi = p->nvmas;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (p->vmas[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < p->nvmas && p->vmas[lo].start <= addr ? p->vmas[lo].end : addr;
}

static int find_procs(struct sender *s, char *err, size_t errlen)
{
	pid_t hosts[PROCS_MAX];
	size_t nhosts = s->o->from_disk ? 0 : proctree_list(s->o->pid, hosts, PROCS_MAX);
	int *vpids;
	size_t nv;
	if (pagemap_list_pids(s->o->dir, &vpids, &nv) < 0) {
		snprintf(err, errlen, "cannot read the dump's images");
		return -1;
	}
	s->procs = xcalloc(nv + 1, sizeof(*s->procs));
	for (size_t i = 0; i < nv; i++) {
		struct src_proc *p = &s->procs[s->nprocs];
		p->vpid = vpids[i];
		p->host = -1;
		for (size_t k = 0; k < nhosts && p->host < 0; k++)
			if (proctree_vpid(hosts[k]) == p->vpid)
				p->host = hosts[k];
		if (pagemap_read_lazy(s->o->dir, p->vpid, &p->r, &p->nr, err, errlen) < 0)
			goto fail;
		if (!p->nr) {	/* nothing lazy in it */
			free(p->r);
			continue;
		}
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/mem", (int)p->host);
		if (p->host < 0 || (p->mem = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
		    read_vmas(p) < 0) {
			snprintf(err, errlen, "process %d of the job: cannot read its memory", p->vpid);
			goto fail;
		}
		p->sent = xcalloc(p->nr, sizeof(*p->sent));
		for (size_t k = 0; k < p->nr; k++) {
			p->sent[k] = xcalloc(p->r[k].npages, 1);
			p->unsent += p->r[k].npages;
		}
		s->nprocs++;
	}
	free(vpids);
	return 0;
fail:
	free(vpids);
	return -1;
}

static struct src_proc *proc_of(struct sender *s, int vpid)
{
	for (size_t i = 0; i < s->nprocs; i++)
		if (s->procs[i].vpid == vpid)
			return &s->procs[i];
	return NULL;
}

/* The range of p holding addr, or -1. */
static ssize_t range_of(const struct src_proc *p, uint64_t addr)
{
	size_t lo = 0, hi = p->nr;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (p->r[mid].vaddr + p->r[mid].npages * PAGE <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < p->nr && p->r[lo].vaddr <= addr ? (ssize_t)lo : -1;
}

static void mark_sent(struct src_proc *p, uint64_t addr, uint32_t npages)
{
	for (uint32_t i = 0; i < npages; i++) {
		ssize_t k = range_of(p, addr + i * PAGE);
		if (k < 0)
			continue;
		uint8_t *b = &p->sent[k][(addr + i * PAGE - p->r[k].vaddr) / PAGE];
		if (!*b) {
			*b = 1;
			p->unsent--;
		}
	}
}

/* One frame of pages read from the frozen task. Returns -1 if its memory cannot be read:
 * sending anything else would corrupt the job. */
static int send_pages(struct sender *s, struct bulk_chan *c, uint32_t tag, struct src_proc *p,
		      uint64_t addr, uint32_t npages)
{
	uint8_t hdr[16];
	uint32_t vpid = (uint32_t)p->vpid;
	memcpy(hdr, &tag, 4);
	memcpy(hdr + 4, &vpid, 4);
	memcpy(hdr + 8, &addr, 8);
	uint8_t *data = bulk_reserve(c, BF_PAGES, hdr, sizeof(hdr), npages * PAGE);
	size_t got = 0, want = npages * PAGE;
	/* process_vm_readv is the fast way; it fails on pages the task cannot read
	 * (PROT_NONE), which /proc/PID/mem reads all the same */
	struct iovec local = { .iov_base = data, .iov_len = want };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = want };
	ssize_t fast = process_vm_readv(p->host, &local, 1, &remote, 1, 0);
	if (fast > 0)
		got = (size_t)fast;
	while (got < want) {
		ssize_t n = pread(p->mem, data + got, want - got, (off_t)(addr + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warnx("process %d: reading %#" PRIx64 ": %s", p->vpid, addr + got,
				  n < 0 ? strerror(errno) : "end of memory");
			return -1;
		}
		got += (size_t)n;
	}
	bulk_seal(c);
	mark_sent(p, addr, npages);
	return 0;
}

/* The next background frame of p from its cursor: unsent pages, one range and one
 * mapping. 0 if p has nothing left to push. */
static int push_one(struct sender *s, struct src_proc *p)
{
	for (size_t steps = 0; steps <= p->nr && p->unsent; steps++) {
		if (p->cur >= p->nr) {
			p->cur = 0;
			p->cur_page = 0;
		}
		const struct pm_range *r = &p->r[p->cur];
		uint32_t k = p->cur_page;
		while (k < r->npages && p->sent[p->cur][k])
			k++;
		if (k == r->npages) {
			p->cur++;
			p->cur_page = 0;
			continue;
		}
		uint64_t addr = r->vaddr + k * PAGE;
		uint64_t stop = vma_end(p, addr);
		uint32_t n = 0;
		while (k + n < r->npages && n < MOVER_PAGES_CHUNK && !p->sent[p->cur][k + n] &&
		       addr + (n + 1) * PAGE <= stop)
			n++;
		if (!n)
			n = 1;	/* a page no mapping holds: read fails and says so */
		p->cur_page = k + n;
		if (send_pages(s, &s->ch[BULK_DATA], 0, p, addr, n) < 0)
			return -1;
		s->pushed += n;
		return 1;
	}
	return 0;
}

/* Keeps the data channel busy: frames round-robin over the processes, a few at a time so
 * that a fault's request is never long unread. */
static int push_background(struct sender *s)
{
	for (int frames = 0; frames < PUSH_FRAMES && bulk_unsent(&s->ch[BULK_DATA]) < PUSH_AHEAD;
	     frames++) {
		int any = 0;
		for (size_t i = 0; i < s->nprocs && !any; i++) {
			struct src_proc *p = &s->procs[(s->next_proc + i) % s->nprocs];
			int r = push_one(s, p);
			if (r < 0)
				return -1;
			if (r > 0) {
				any = 1;
				s->next_proc = (s->next_proc + i + 1) % s->nprocs;
			}
		}
		if (!any)
			return 0;
	}
	return 0;
}

static uint64_t unsent_total(const struct sender *s)
{
	uint64_t n = 0;
	for (size_t i = 0; i < s->nprocs; i++)
		n += s->procs[i].unsent;
	return n;
}

/* A fault at the destination: the pages now, on the faults channel; the background push
 * of that process goes on from there (what follows a fault is likely wanted next). */
static int serve_request(struct sender *s, const uint8_t *p, size_t len)
{
	uint32_t tag, vpid, npages;
	uint64_t addr;
	if (len != 20)
		return -1;
	memcpy(&tag, p, 4);
	memcpy(&vpid, p + 4, 4);
	memcpy(&addr, p + 8, 8);
	memcpy(&npages, p + 16, 4);
	struct src_proc *sp = proc_of(s, (int)vpid);
	if (!sp || addr % PAGE || npages == 0 || npages > MOVER_FAULT_PAGES)
		return -1;
	/* never past the mapping: shorten the request instead */
	uint64_t stop = vma_end(sp, addr);
	if (stop <= addr)
		return -1;
	if (addr + npages * PAGE > stop)
		npages = (uint32_t)((stop - addr) / PAGE);
	if (send_pages(s, &s->ch[BULK_FAULTS], tag, sp, addr, npages) < 0)
		return -1;
	bulk_flush(&s->ch[BULK_FAULTS]);	/* now: a thread waits on it */
	s->served += npages;
	ssize_t k = range_of(sp, addr + npages * PAGE);
	if (k >= 0) {
		sp->cur = (size_t)k;
		sp->cur_page = (uint32_t)((addr + npages * PAGE - sp->r[k].vaddr) / PAGE);
	}
	return 0;
}

/* ---- images ---- */

static int is_image(const char *name)
{
	size_t n = strlen(name);
	/* not the move's own records (move.info, move.rec), logs or sockets */
	return name[0] != '.' && n <= 200 && strncmp(name, "move.", 5) &&
	       !(n > 4 && !strcmp(name + n - 4, ".log")) && !strstr(name, ".socket");
}

/* Queues every image file as BF_IMAGE frames: name length, name, offset, data. */
static int queue_images(struct sender *s, char *err, size_t errlen)
{
	DIR *d = opendir(s->o->dir);
	if (!d) {
		snprintf(err, errlen, "cannot read the dump's images");
		return -1;
	}
	struct dirent *e;
	int r = 0;
	while (r == 0 && (e = readdir(d))) {
		if (!is_image(e->d_name))
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", s->o->dir, e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		uint16_t nlen = (uint16_t)strlen(e->d_name);
		uint64_t off = 0;
		do {
			uint8_t hdr[2 + 256 + 8];
			memcpy(hdr, &nlen, 2);
			memcpy(hdr + 2, e->d_name, nlen);
			memcpy(hdr + 2 + nlen, &off, 8);
			size_t want = (uint64_t)st.st_size - off > MOVER_IMAGE_CHUNK
					      ? MOVER_IMAGE_CHUNK
					      : (size_t)((uint64_t)st.st_size - off);
			uint8_t *data = bulk_reserve(&s->ch[BULK_DATA], BF_IMAGE, hdr,
						     2 + nlen + 8, want);
			if (pread(fd, data, want, (off_t)off) != (ssize_t)want) {
				snprintf(err, errlen, "%s: short read", e->d_name);
				r = -1;
			}
			bulk_seal(&s->ch[BULK_DATA]);
			off += want;
		} while (r == 0 && off < (uint64_t)st.st_size);
		close(fd);
	}
	closedir(d);
	bulk_send(&s->ch[BULK_DATA], BF_IMAGES_DONE, NULL, 0, NULL, 0);
	return r;
}

/* ---- the dump ---- */

static void stopped_path(const struct mover_opts *o, char *path, size_t len)
{
	snprintf(path, len, "%s/" PROCTREE_STOPPED_FILE, o->dir);
}

/* Which processes the user had stopped: criu dump stops them all, and the copy that
 * resumes, here or at the destination, must not wake those. */
static void note_stopped(const struct mover_opts *o)
{
	char path[4096];
	stopped_path(o, path, sizeof(path));
	int n = proctree_save_stopped(o->pid, path);
	if (n < 0)
		log_warn("%s", path);
	else if (n > 0)
		log_info("%d of the job's processes were stopped by their user: they stay so", n);
}

/* The stopped copy here runs again, but for what its user had stopped. */
static void resume(const struct mover_opts *o)
{
	char path[4096];
	int *stopped;
	stopped_path(o, path, sizeof(path));
	size_t n = proctree_load_stopped(path, &stopped);
	proctree_continue(o->pid, stopped, n);
	free(stopped);
}

/* Runs criu dump to its end: 0 with the job stopped and its images written, or -1 with the
 * job running again (CRIU unfreezes it on failure) and err saying why. */
static int dump(struct sender *s, char *err, size_t errlen)
{
	struct criu_argv a;
	criu_dump_argv(&a, s->o->pid, s->o->dir);
	pid_t pid = criu_spawn(s->o->criu, &a, NULL, 0);
	if (pid < 0) {
		snprintf(err, errlen, "cannot run criu: %s", strerror(errno));
		return -1;
	}
	uint64_t deadline = mover_now_ms() + DUMP_TIMEOUT_MS;
	int status;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (mover_now_ms() > deadline) {
			/* SIGALRM makes a dump give up and unfreeze the job (PLATFORM.md) */
			kill(pid, SIGALRM);
			deadline = mover_now_ms() + 5000;
		}
		usleep(5000);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	char log[4200];
	snprintf(log, sizeof(log), "%s/dump.log", s->o->dir);
	char why[400];
	criu_log_error(log, why, sizeof(why));
	snprintf(err, errlen, "criu dump failed on %s: %s", s->o->node,
		 why[0] ? why : "(no error in its log)");
	return -1;
}

/* ---- the conversation ---- */

/* Waits for the destination's hello on both channels: they work, the key is right. */
static int await_hellos(struct sender *s)
{
	int got[2] = { 0, 0 };
	uint64_t deadline = mover_now_ms() + MOVER_START_MS;
	while (!got[0] || !got[1]) {
		struct pollfd p[2] = { { .fd = s->ch[0].fd, .events = POLLIN },
				       { .fd = s->ch[1].fd, .events = POLLIN } };
		int left = (int)(deadline - mover_now_ms());
		if (left <= 0 || poll(p, 2, left) <= 0)
			return -1;
		for (int i = 0; i < 2; i++) {
			if (!p[i].revents)
				continue;
			uint8_t type, *pl;
			size_t len;
			if (bulk_fill(&s->ch[i]) < 0)
				return -1;
			int r = bulk_next(&s->ch[i], &type, &pl, &len);
			if (r < 0 || (r > 0 && type != BF_HELLO))
				return -1;
			got[i] |= r > 0;
		}
	}
	return 0;
}

enum outcome { GOING, DONE, ABORTED, DOUBT };

static enum outcome handle_frames(struct sender *s, int i, char *why, size_t whylen)
{
	uint8_t type, *p;
	size_t len;
	int r;
	while ((r = bulk_next(&s->ch[i], &type, &p, &len)) > 0) {
		s->heard = mover_now_ms();
		switch (type) {
		case BF_HELLO:
			break;	/* a heartbeat */
		case BF_GO:
			s->go = 1;	/* it runs there now */
			mover_report("running");
			break;
		case BF_REQ:
			if (serve_request(s, p, len) < 0) {
				snprintf(why, whylen, "a request for memory the job does not have");
				return DOUBT;
			}
			break;
		case BF_DONE:
			return DONE;
		case BF_ABORT:
			snprintf(why, whylen, "%.*s", (int)(len > 300 ? 300 : len), (const char *)p);
			return ABORTED;
		default:
			snprintf(why, whylen, "an unexpected frame from the destination");
			return DOUBT;
		}
	}
	if (r < 0) {
		snprintf(why, whylen, "a frame from the destination fails authentication");
		return DOUBT;
	}
	return GOING;
}

static enum outcome serve(struct sender *s, char *why, size_t whylen)
{
	int sent_all = 0, asked_abort = 0;
	uint64_t abort_deadline = 0;
	s->heard = s->beat = mover_now_ms();
	for (;;) {
		if (!asked_abort && s->go && push_background(s) < 0) {
			snprintf(why, whylen, "cannot read the job's memory");
			/* nothing wrong was sent: the destination must give up, then we resume */
			bulk_send(&s->ch[BULK_FAULTS], BF_ABORT, NULL, 0, why, strlen(why));
			asked_abort = 1;
			abort_deadline = mover_now_ms() + MOVER_IDLE_MS;
		}
		if (!sent_all && s->go && !asked_abort && !unsent_total(s) &&
		    !bulk_unsent(&s->ch[BULK_DATA])) {
			bulk_send(&s->ch[BULK_DATA], BF_SENT, NULL, 0, NULL, 0);
			sent_all = 1;
			log_debug("every page pushed once (%" PRIu64 " pushed, %" PRIu64 " on demand)",
				  s->pushed, s->served);
		}
		uint64_t now = mover_now_ms();
		if (now - s->beat >= HEARTBEAT_MS) {
			bulk_send(&s->ch[BULK_FAULTS], BF_HELLO, NULL, 0, NULL, 0);
			s->beat = now;
		}
		for (int i = 0; i < 2; i++) {
			int r = bulk_flush(&s->ch[i]);
			if (r < 0) {
				snprintf(why, whylen, "the link to the destination broke");
				return DOUBT;
			}
			if (i == BULK_DATA && r == 0 && !s->images_out)
				s->images_out = 1;
		}
		if (now - s->heard > MOVER_IDLE_MS) {
			snprintf(why, whylen, "the destination fell silent");
			return DOUBT;
		}
		if (asked_abort && now > abort_deadline) {
			snprintf(why, whylen, "the destination did not confirm giving up");
			return DOUBT;
		}
		struct pollfd p[3] = {
			{ .fd = s->ch[0].fd, .events = POLLIN | (bulk_unsent(&s->ch[0]) ? POLLOUT : 0) },
			{ .fd = s->ch[1].fd, .events = POLLIN | (bulk_unsent(&s->ch[1]) ? POLLOUT : 0) },
			{ .fd = mover_ctl_alive() ? MOVER_CTL_FD : -1, .events = POLLIN },
		};
		/* more to push and room for it: do not sleep */
		int more = s->go && !asked_abort && unsent_total(s) &&
			   bulk_unsent(&s->ch[BULK_DATA]) < PUSH_AHEAD;
		if (poll(p, 3, more ? 0 : 200) < 0)
			continue;
		/* faults first: a waiting thread must not wait behind bulk data */
		for (int i = BULK_FAULTS; i >= BULK_DATA; i--) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (bulk_fill(&s->ch[i]) < 0) {
				snprintf(why, whylen, "the link to the destination broke");
				return DOUBT;
			}
			enum outcome o = handle_frames(s, i, why, whylen);
			if (o == ABORTED && asked_abort)
				snprintf(why, whylen, "cannot read the job's memory");
			if (o != GOING)
				return o;
		}
		if (p[2].revents) {
			char buf[64];
			ssize_t n = recv(MOVER_CTL_FD, buf, sizeof(buf) - 1, MSG_DONTWAIT);
			if (n > 0 && !strncmp(buf, "abort", 5) && !asked_abort) {
				snprintf(why, whylen, "the source gave up (migrd asked)");
				bulk_send(&s->ch[BULK_FAULTS], BF_ABORT, NULL, 0, why, strlen(why));
				asked_abort = 1;
				abort_deadline = mover_now_ms() + MOVER_IDLE_MS;
			}
			/* n == 0: migrd went away; the move goes on without it */
			if (n == 0)
				mover_ctl_gone();
		}
	}
}

int mover_send(const struct mover_opts *o)
{
	struct sender s = { .o = o };
	uint8_t key[BULK_KEY_BYTES];
	int fds[2];
	char err[512] = "";
	if (mover_receive_start(key, fds) < 0) {
		mover_record(o->dir, "aborted before the dump");
		mover_report("failed the move could not start");
		return MOVER_EXIT_ABORTED;
	}
	for (int i = 0; i < 2; i++)
		bulk_init(&s.ch[i], fds[i], key, i, 1);
	sodium_memzero(key, sizeof(key));
	if (await_hellos(&s) < 0) {
		mover_record(o->dir, "aborted before the dump");
		mover_report("failed the destination did not open the move's channels");
		return MOVER_EXIT_ABORTED;
	}
	uint64_t t0 = mover_now_ms();
	mover_report("dumping");
	if (!o->from_disk)
		note_stopped(o);
	if (!o->from_disk && dump(&s, err, sizeof(err)) < 0) {
		bulk_send(&s.ch[BULK_FAULTS], BF_ABORT, NULL, 0, err, strlen(err));
		bulk_flush(&s.ch[BULK_FAULTS]);
		mover_record(o->dir, "aborted dump failed");
		mover_report("failed %s", err);
		return MOVER_EXIT_ABORTED;
	}
	mover_record(o->dir, "frozen");
	mover_report("frozen %" PRIu64, mover_now_ms() - t0);
	enum outcome out;
	/* from disk, the images hold every page: nothing to read from tasks */
	if ((!o->from_disk && find_procs(&s, err, sizeof(err)) < 0) ||
	    queue_images(&s, err, sizeof(err)) < 0) {
		/* nothing usable left here: the destination cannot restore it */
		bulk_send(&s.ch[BULK_FAULTS], BF_ABORT, NULL, 0, err, strlen(err));
		bulk_flush(&s.ch[BULK_FAULTS]);
		out = ABORTED;
	} else {
		out = serve(&s, err, sizeof(err));
	}
	if (out == DOUBT && !s.images_out) {
		/* the destination cannot have every image: it cannot run the job */
		out = ABORTED;
	}
	switch (out) {
	case DONE:
		/* the destination holds every page: the stopped copy here goes */
		if (o->from_disk)
			criu_images_remove(o->from_disk);
		else
			proctree_signal(o->pid, SIGKILL);
		mover_record(o->dir, "committed");
		log_debug("done: %" PRIu64 " pages pushed, %" PRIu64 " on demand", s.pushed, s.served);
		mover_report("done %" PRIu64 " %" PRIu64, s.pushed, s.served);
		return MOVER_EXIT_DONE;
	case ABORTED:
		if (!o->from_disk)
			resume(o);
		mover_record(o->dir, "aborted %s", err);
		mover_report("aborted %s", err);
		return MOVER_EXIT_ABORTED;
	default:
		mover_record(o->dir, "doubt %s", err);
		mover_report("doubt %s", err);
		return MOVER_EXIT_DOUBT;
	}
}
