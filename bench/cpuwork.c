/* cpuwork: a CPU-bound job of known size for bench/balance. Does UNITS units of pure
 * computation, then exits 0. The progress counter lives in memory, so a job that is moved
 * mid-way does exactly the same work in all (CPU-time clocks restart after a restore).
 *   cpuwork UNITS */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define UNIT_ITERATIONS 100000000UL	/* ~0.1 s of one core, the machine decides */

int main(int argc, char **argv)
{
	char *end;
	long units = argc == 2 ? strtol(argv[1], &end, 10) : -1;
	if (argc != 2 || *end || units < 0) {
		fprintf(stderr, "usage: cpuwork UNITS\n");
		return 2;
	}
	volatile uint64_t x = 1;
	for (long u = 0; u < units; u++)
		for (unsigned long i = 0; i < UNIT_ITERATIONS; i++)
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	return x == 0;	/* never: keeps the loop from being optimised away */
}
