/* cpufeat.h: the CPU features a program may use without asking the kernel first (x86's
 * cpuinfo flags of instruction-set extensions), as a bitmap the load vector carries. A job
 * moved to a node whose CPU lacks one its source had may die of SIGILL much later: such a
 * move is refused. Other architectures report no features and are not compared. */
#ifndef MIGR_CPUFEAT_H
#define MIGR_CPUFEAT_H

#include <stddef.h>
#include <stdint.h>

/* The bit of a feature named as /proc/cpuinfo names it, or -1 if migr does not track it. */
int cpufeat_bit(const char *name);

/* The tracked features among the words of a cpuinfo "flags" line's value. */
uint64_t cpufeat_parse(const char *flags);

/* This machine's, from /proc/cpuinfo's first "flags" line; 0 if there is none. */
uint64_t cpufeat_machine(void);

/* What a CPU with features `there` lacks of `have`: all of it when `there` is unknown (0). */
uint64_t cpufeat_missing(uint64_t have, uint64_t there);

/* The names of the features in set, comma-separated, cut short with "..." if need be.
 * Returns how many there are. */
unsigned cpufeat_names(uint64_t set, char *out, size_t outlen);

#endif
