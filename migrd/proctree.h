/* proctree.h: the processes of a job, found from its init through /proc, and the signals
 * that stop, resume and end them. Shared by migrd and migr-move.
 *
 * A process forked by a thread other than a process's main one is listed under that
 * thread's /proc/PID/task/TID/children, so every thread's list is read. A job's processes
 * are named across nodes by their vpid, the pid inside the job's PID namespace, which a
 * restore keeps. */
#ifndef MIGR_PROCTREE_H
#define MIGR_PROCTREE_H

#include <stddef.h>
#include <sys/types.h>

#define PROCTREE_MAX 4096	/* processes of one job we look at, at most */
/* The file, among a move's images, that names the processes its user had stopped. */
#define PROCTREE_STOPPED_FILE "migr-stopped"

/* init and its descendants, parents before their children; returns how many (<= max). */
size_t proctree_list(pid_t init, pid_t *out, size_t max);
/* Sends sig to every process of the tree, children first. */
void proctree_signal(pid_t init, int sig);
/* The pid of host in the innermost PID namespace it is in; -1 if it is gone. */
pid_t proctree_vpid(pid_t host);
/* The state letter of /proc/PID/stat ('R', 'S', 'T' for stopped, ...); 'Z' if gone. */
char proctree_state(pid_t pid);

/* The vpids of the tree's processes that are stopped (by SIGSTOP and kin, not traced), in
 * *out (the caller's to free). */
size_t proctree_stopped(pid_t init, int **out);
/* Writes them to path, one per line; how many, or -1 if it cannot. */
int proctree_save_stopped(pid_t init, const char *path);
/* Reads such a file; a missing or unreadable one names none. */
size_t proctree_load_stopped(const char *path, int **out);
/* Resumes a tree a move stopped (SIGCONT), except the processes its user had stopped. */
void proctree_continue(pid_t init, const int *stopped, size_t nstopped);

#endif
