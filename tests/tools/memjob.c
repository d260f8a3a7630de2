/* memjob: a job for migration tests. Fills MiB mebibytes with a pattern, then forever:
 * checks every byte, prints a counter line ("N ok"), sleeps a little. Exits 3 at the first
 * wrong byte, so a move that loses or corrupts memory shows.
 *   memjob MiB [THREADS] */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint8_t *mem;
static size_t size;

static uint8_t pattern(size_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13);
}

static void *spin(void *arg)
{
	volatile unsigned long n = 0;
	for (;;) {
		n++;
		if (n % 100000000 == 0)
			usleep(1000);
	}
	return arg;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	size = (size_t)atol(argv[1]) << 20;
	int threads = argc > 2 ? atoi(argv[2]) : 0;
	mem = malloc(size ? size : 1);
	if (!mem)
		return 2;
	for (size_t i = 0; i < size; i++)
		mem[i] = pattern(i);
	for (int t = 0; t < threads; t++) {
		pthread_t th;
		pthread_create(&th, NULL, spin, NULL);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (unsigned long n = 1;; n++) {
		for (size_t i = 0; i < size; i += 1)
			if (mem[i] != pattern(i)) {
				printf("%lu BAD at %zu\n", n, i);
				return 3;
			}
		printf("%lu ok\n", n);
		usleep(200000);
	}
}
