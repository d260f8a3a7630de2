/* checks.h: what migrd needs of the machine, checked at start-up with a clear message for
 * each thing missing. */
#ifndef MIGR_CHECKS_H
#define MIGR_CHECKS_H

/* Each returns 0, or -1 after logging what is wrong and how to fix it. */
int check_capabilities(void);
int check_criu(const char *criu);
int check_pipe_max_size(void);

#define MIGR_PIPE_MAX_SIZE (16 * 1024 * 1024)

#endif
