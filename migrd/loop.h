/* loop.h: migrd's one event loop: epoll for file descriptors, plus timers. One thread;
 * nothing here blocks, slow work runs in child processes. */
#ifndef MIGR_LOOP_H
#define MIGR_LOOP_H

#include <stdint.h>

typedef void (*loop_fd_cb)(int fd, uint32_t events, void *arg);
typedef void (*loop_timer_cb)(void *arg);
struct loop_timer;

void loop_init(void);
/* Watches fd for events (EPOLLIN, EPOLLOUT...); cb runs when one occurs. */
void loop_add(int fd, uint32_t events, loop_fd_cb cb, void *arg);
void loop_mod(int fd, uint32_t events);
/* Stops watching fd (safe from inside any callback); does not close it. */
void loop_del(int fd);
/* Runs cb after delay_ms, then every period_ms (0: once; the timer is then freed). */
struct loop_timer *loop_timer_add(uint64_t delay_ms, uint64_t period_ms, loop_timer_cb cb,
				  void *arg);
void loop_timer_cancel(struct loop_timer *t);
/* Milliseconds on the monotonic clock. */
uint64_t loop_now(void);
void loop_run(void);
void loop_stop(void);

#endif
