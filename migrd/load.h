/* load.h: this node's load vector, read from the kernel: runnable tasks in the node's
 * cgroup (or the whole machine without one) per CPU of capacity, smoothed; free memory. */
#ifndef MIGR_LOAD_H
#define MIGR_LOAD_H

#include "proto.h"

void load_init(const char *cgroup);
/* Takes one sample; fills load (per CPU) and free memory. */
void load_sample(double cpus, double *load, uint64_t *mem_free_kb);
/* Samples taken so far: a mark to pass to load_unseen() later. */
uint64_t load_samples(void);
/* How much of a task that started or stopped running just after sample `mark` the smoothed
 * load does not show yet: 1 until the next sample, then less with each. */
double load_unseen(uint64_t mark);

#endif
