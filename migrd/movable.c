/* movable.c: what a job holds that a move cannot carry (see movable.h). */
#include <config.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <unistd.h>

#include "movable.h"
#include "proctree.h"
#include "xmalloc.h"

/* ---- the words (no I/O) ---- */

static uint64_t fnv1a(const char *s)
{
	uint64_t x = 14695981039346656037ull;
	for (; *s; s++)
		x = (x ^ (uint8_t)*s) * 1099511628211ull;
	return x | 1;	/* never 0, the empty slot */
}

void holds_add(struct holds *h, enum hold_kind k, const char *key, const char *example)
{
	uint64_t x = fnv1a(key ? key : example ? example : "");
	unsigned told = h->count[k] < HOLD_SEEN_MAX ? h->count[k] : HOLD_SEEN_MAX;
	for (unsigned i = 0; i < told; i++)
		if (h->seen[k][i] == x)
			return;
	if (h->count[k] < HOLD_SEEN_MAX)
		h->seen[k][h->count[k]] = x;
	if (h->count[k]++ == 0) {
		/* cut to fit: an example only shows which one */
		size_t n = example ? strlen(example) : 0;
		if (n > sizeof(h->example[k]) - 1)
			n = sizeof(h->example[k]) - 1;
		memcpy(h->example[k], example ? example : "", n);
		h->example[k][n] = '\0';
	}
}

/* What each is, and why it cannot move. */
static const struct {
	const char *noun, *why;
} words[HOLD_KINDS] = {
	[HOLD_TCP] = { "an established TCP connection", "its address is this node's" },
	[HOLD_UNIX_OUTSIDE] = { "a unix socket connected to a process outside the job",
				"the other end stays here" },
	[HOLD_LOCK] = { "a file lock", "the stopped copy would still hold it as the job "
				       "restores" },
	[HOLD_PROC_FILE] = { "a file under /proc", "it names processes of this node" },
	[HOLD_TERMINAL] = { "a terminal", "it belongs to this node" },
	[HOLD_DEVICE] = { "a device file", "migr moves no devices but null, zero, full and "
					   "random" },
	[HOLD_ANON] = { "a kernel object CRIU cannot checkpoint", "CRIU 4.1 has no support "
								  "for it" },
};

unsigned movable_reasons(const struct holds *h, char *out, size_t len)
{
	unsigned kinds = 0;
	size_t used = 0;
	if (len)
		out[0] = '\0';
	for (int k = 0; k < HOLD_KINDS; k++) {
		if (!h->count[k])
			continue;
		kinds++;
		char more[32] = "", ex[HOLD_EXAMPLE_MAX + 48] = "";
		if (h->count[k] > 1)
			snprintf(more, sizeof(more), " and %u more", h->count[k] - 1);
		if (h->example[k][0])
			snprintf(ex, sizeof(ex), " (%s%s)", h->example[k], more);
		int n = snprintf(out + used, used < len ? len - used : 0, "holds %s%s: %s\n",
				 words[k].noun, ex, words[k].why);
		if (n > 0)
			used += (size_t)n;
	}
	return kinds;
}

unsigned movable_missing_reason(const char *node, const char *first, unsigned count,
				char *out, size_t len)
{
	char more[32] = "";
	if (len)
		out[0] = '\0';
	if (!count)
		return 0;
	if (count > 1)
		snprintf(more, sizeof(more), " and %u more", count - 1);
	/* cut as an example is: it only shows which one */
	snprintf(out, len, "holds a file not present on %s (%.*s%s): a move would fail to open "
		 "it there\n", node, HOLD_EXAMPLE_MAX - 1, first, more);
	return 1;
}

/* ---- the paths (no I/O) ---- */

int job_paths_add(struct job_paths *p, const char *path)
{
	size_t n = strlen(path) + 1;
	if (path[0] != '/' || n > PATH_MAX)
		return -1;
	uint64_t x = fnv1a(path);
	for (unsigned i = 0; i < p->count; i++)
		if (p->hash[i] == x && !strcmp(p->text + p->at[i], path))
			return 0;
	if (p->count == JOB_PATHS_MAX || n > sizeof(p->text) - p->bytes)
		return -1;
	memcpy(p->text + p->bytes, path, n);
	p->at[p->count] = (uint32_t)p->bytes;
	p->hash[p->count++] = x;
	p->bytes += n;
	return 1;
}

const char *job_paths_get(const struct job_paths *p, unsigned i)
{
	return p->text + p->at[i];
}

/* ---- the inspection ---- */

struct inodes {
	uint64_t *v;
	size_t n, cap;
};

static void inodes_add(struct inodes *s, uint64_t ino)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = ino;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int inodes_has(const struct inodes *s, uint64_t ino)
{
	return s->n && bsearch(&ino, s->v, s->n, sizeof(*s->v), cmp_u64) != NULL;
}

struct scan {
	struct holds *h;
	pid_t *pids;
	size_t npids;
	struct inodes sockets;		/* the job's sockets, by inode */
};

static int is_plain_device(const char *path)
{
	static const char *const fine[] = { "/dev/null", "/dev/zero", "/dev/full", "/dev/random",
					    "/dev/urandom" };
	for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++)
		if (!strcmp(path, fine[i]))
			return 1;
	return 0;
}

/* The anonymous-inode objects CRIU 4.1 checkpoints. */
static int is_dumpable_anon(const char *link)
{
	static const char *const fine[] = { "anon_inode:[eventfd]", "anon_inode:[eventpoll]",
					    "anon_inode:[signalfd]", "anon_inode:[timerfd]",
					    "anon_inode:inotify", "anon_inode:[fanotify]",
					    "anon_inode:[pidfd]" };
	for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++)
		if (!strncmp(link, fine[i], strlen(fine[i])))
			return 1;
	return 0;
}

/* The locks held through one descriptor: its fdinfo lists them ("lock:" lines, of its
 * process for POSIX locks, of its open file for flock and OFD ones), which /proc/locks,
 * naming only the pid that took a flock, cannot tell. */
static void scan_locks(struct scan *s, pid_t pid, const char *fd)
{
	char path[96], line[256];
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", (int)pid, fd);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char kind[16], key[64];
		unsigned long long ino;
		unsigned maj, min;
		if (sscanf(line, "lock: %*d: %15s %*s %*s %*d %x:%x:%llu", kind, &maj, &min, &ino) ==
		    4) {
			/* one lock, held through a descriptor several processes share */
			snprintf(key, sizeof(key), "%s %x:%x:%llu", kind, maj, min, ino);
			holds_add(s->h, HOLD_LOCK, key, kind);
		}
	}
	fclose(f);
}

static void scan_fd(struct scan *s, pid_t pid, const char *fd)
{
	char path[96], link[512];
	snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)pid, fd);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return;
	link[n] = '\0';
	unsigned long long ino;
	if (sscanf(link, "socket:[%llu]", &ino) == 1) {
		inodes_add(&s->sockets, ino);
		return;
	}
	if (!strncmp(link, "anon_inode:", 11)) {
		if (!is_dumpable_anon(link))
			holds_add(s->h, HOLD_ANON, NULL, link + 11);
		return;
	}
	if (!strncmp(link, "/proc/", 6)) {
		holds_add(s->h, HOLD_PROC_FILE, NULL, link);
		return;
	}
	struct stat st;
	if (link[0] != '/' || stat(path, &st) < 0)
		return;		/* pipes, deleted files and the like: CRIU's business */
	if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		unsigned maj = major(st.st_rdev);
		/* 4: ttys and consoles; 5: /dev/tty, ptmx; 136-143: ptys */
		if (S_ISCHR(st.st_mode) && (maj == 4 || maj == 5 || (maj >= 136 && maj <= 143)))
			holds_add(s->h, HOLD_TERMINAL, NULL, link);
		else if (!is_plain_device(link))
			holds_add(s->h, HOLD_DEVICE, NULL, link);
	} else if (S_ISREG(st.st_mode)) {
		scan_locks(s, pid, fd);
	}
}

static void scan_fds(struct scan *s, pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
			scan_fd(s, pid, e->d_name);
	closedir(d);
}

/* TCP sockets of the job that are neither listening nor closed: CRIU dumps those only with
 * --tcp-established, which a move to another address cannot use. */
static void scan_tcp(struct scan *s, pid_t pid, const char *table)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/net/%s", (int)pid, table);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char rem[64];
		unsigned st;
		unsigned long long ino;
		if (sscanf(line, " %*u: %*s %63s %x %*s %*s %*s %*u %*u %llu", rem, &st, &ino) != 3)
			continue;	/* the heading */
		if (st == 0x0A || st == 0x07 || !inodes_has(&s->sockets, ino))
			continue;	/* LISTEN, CLOSE, or not the job's */
		char ex[HOLD_EXAMPLE_MAX] = "";
		unsigned addr, port;
		if (!strcmp(table, "tcp") && sscanf(rem, "%x:%x", &addr, &port) == 2) {
			struct in_addr a = { .s_addr = addr };
			char ip[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &a, ip, sizeof(ip));
			snprintf(ex, sizeof(ex), "to %s:%u", ip, port);
		} else {
			snprintf(ex, sizeof(ex), "over IPv6");
		}
		char key[32];
		snprintf(key, sizeof(key), "%llu", ino);
		holds_add(s->h, HOLD_TCP, key, ex);
	}
	fclose(f);
}

/* Unix sockets of the job whose peer is a socket the job does not hold, from sock_diag
 * (the network namespace is the node's, as the job's). */
static void scan_unix(struct scan *s)
{
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return;
	struct timeval tv = { .tv_sec = 1 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req r;
	} req = {
		.nlh = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.r = { .sdiag_family = AF_UNIX, .udiag_states = ~0u, .udiag_show = UDIAG_SHOW_PEER },
	};
	if (send(fd, &req, sizeof(req), 0) != (ssize_t)sizeof(req)) {
		close(fd);
		return;
	}
	static uint8_t buf[32768] __attribute__((aligned(4)));
	for (int done = 0; !done;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n);
		     nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_type == NLMSG_DONE || nh->nlmsg_type == NLMSG_ERROR) {
				done = 1;
				break;
			}
			if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct unix_diag_msg)))
				continue;
			struct unix_diag_msg *m = NLMSG_DATA(nh);
			if (!inodes_has(&s->sockets, m->udiag_ino))
				continue;
			int alen = (int)(nh->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
			for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, alen);
			     a = RTA_NEXT(a, alen)) {
				if (a->rta_type != UNIX_DIAG_PEER || RTA_PAYLOAD(a) < 4)
					continue;
				uint32_t peer;
				memcpy(&peer, RTA_DATA(a), 4);
				if (peer && !inodes_has(&s->sockets, peer)) {
					char ex[64];
					snprintf(ex, sizeof(ex), "socket:[%u]", m->udiag_ino);
					holds_add(s->h, HOLD_UNIX_OUTSIDE, NULL, ex);
				}
			}
		}
	}
	close(fd);
}

int movable_inspect(pid_t init, struct holds *h)
{
	memset(h, 0, sizeof(*h));
	struct scan s = { .h = h };
	s.pids = xmalloc(PROCTREE_MAX * sizeof(*s.pids));
	s.npids = proctree_list(init, s.pids, PROCTREE_MAX);
	if (!s.npids || kill(init, 0) < 0) {
		free(s.pids);
		return -1;
	}
	h->processes = (unsigned)s.npids;
	for (size_t i = 0; i < s.npids; i++)
		scan_fds(&s, s.pids[i]);
	if (s.sockets.n) {	/* none: v is NULL, which qsort may not be given */
		qsort(s.sockets.v, s.sockets.n, sizeof(*s.sockets.v), cmp_u64);
		scan_tcp(&s, init, "tcp");
		scan_tcp(&s, init, "tcp6");
		scan_unix(&s);
	}
	free(s.sockets.v);
	free(s.pids);
	return 0;
}

/* ---- the paths a job needs ---- */

/* A path as /proc shows one, if the destination must have it: not deleted (CRIU carries
 * those) and not a pipe, socket or anonymous inode (not absolute). */
static void paths_add_link(struct job_paths *p, const char *link)
{
	static const char deleted[] = " (deleted)";
	size_t n = strlen(link), d = sizeof(deleted) - 1;
	if (link[0] == '/' && !(n >= d && !strcmp(link + n - d, deleted)))
		job_paths_add(p, link);
}

/* /proc/PID/<name>, a link to a path, added to p. */
static void paths_add_proc_link(struct job_paths *p, pid_t pid, const char *name)
{
	char path[96], link[PATH_MAX];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return;
	link[n] = '\0';
	paths_add_link(p, link);
}

static void paths_add_fds(struct job_paths *p, pid_t pid)
{
	char dir[64], path[64 + sizeof(((struct dirent *)0)->d_name)], link[PATH_MAX];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) && p->count < JOB_PATHS_MAX) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		struct stat st;
		ssize_t n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0 || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		link[n] = '\0';
		paths_add_link(p, link);
	}
	closedir(d);
}

/* The files a process maps: its libraries, and whatever it mmap()ed. */
static void paths_add_maps(struct job_paths *p, pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0 && p->count < JOB_PATHS_MAX) {
		int at = 0;
		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		/* start-end perms offset dev inode, then the path if any */
		if (sscanf(line, "%*s %*s %*s %*s %*s %n", &at) < 0 || at == 0)
			continue;
		/* maps writes a newline in a name as \012, and a backslash as itself: such a
		 * name cannot be told back, so it goes unchecked */
		if (!strchr(line + at, '\\'))
			paths_add_link(p, line + at);
	}
	free(line);
	fclose(f);
}

int movable_paths(pid_t init, struct job_paths *p)
{
	memset(p, 0, offsetof(struct job_paths, text));
	pid_t *pids = xmalloc(PROCTREE_MAX * sizeof(*pids));
	size_t npids = proctree_list(init, pids, PROCTREE_MAX);
	if (!npids || kill(init, 0) < 0) {
		free(pids);
		return -1;
	}
	/* what restore opens by name first, the mapped files (libraries, mostly) after */
	for (size_t i = 0; i < npids; i++) {
		paths_add_proc_link(p, pids[i], "exe");
		paths_add_proc_link(p, pids[i], "cwd");
		paths_add_fds(p, pids[i]);
	}
	for (size_t i = 0; i < npids; i++)
		paths_add_maps(p, pids[i]);
	free(pids);
	return 0;
}
