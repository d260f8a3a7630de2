/* load.h: this node's load vector, read from the kernel: runnable tasks in the node's
 * cgroup (or the whole machine without one) per CPU of capacity, smoothed; free memory. */
#ifndef MIGR_LOAD_H
#define MIGR_LOAD_H

#include "proto.h"

void load_init(const char *cgroup);
/* Takes one sample; fills load (per CPU) and free memory. */
void load_sample(double cpus, double *load, uint64_t *mem_free_kb);

#endif
