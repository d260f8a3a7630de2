/* memjob: a job for migration tests. Fills MiB mebibytes with a pattern, then forever:
 * checks every byte, prints a counter line ("N ok"), sleeps a little. Exits 3 at the first
 * wrong byte, so a move that loses or corrupts memory shows.
 *   memjob MiB [THREADS]
 *   memjob MiB random   reads random pages instead (a hash table, a graph), each checked,
 *                       and says each second how long the slow reads took: a read over
 *                       20 us is a page fault served from afar after a move:
 *                       "N ok reads R slow S p50 X us p99 Y us"
 *   memjob MiB idle     fills its memory, then only prints "N idle" every 0.2 s and never
 *                       looks at it again: after a lazy move its pages come only by the
 *                       background push, which takes as long as the memory is big */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Random pages, a byte of each checked; each second a line with the slow reads' latency. */
static int random_reads(void)
{
	static uint32_t slow[1 << 20];
	size_t pages = size / 4096, nslow = 0;
	uint64_t x = 88172645463325252ull, reads = 0, second = now_ns();
	for (unsigned long n = 1;;) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size_t i = (size_t)(x % pages) * 4096 + (size_t)(x >> 52) % 4096;
		uint64_t t0 = now_ns();
		uint8_t v = ((volatile uint8_t *)mem)[i];
		uint64_t dt = now_ns() - t0;
		if (v != pattern(i)) {
			printf("%lu BAD at %zu\n", n, i);
			return 3;
		}
		reads++;
		if (dt > 20000 && nslow < sizeof(slow) / sizeof(slow[0]))
			slow[nslow++] = (uint32_t)(dt / 1000);
		if (t0 - second >= 1000000000u) {
			uint32_t p50 = 0, p99 = 0;
			if (nslow) {
				qsort(slow, nslow, sizeof(slow[0]), cmp_u32);
				p50 = slow[nslow / 2];
				p99 = slow[nslow * 99 / 100];
			}
			printf("%lu ok reads %llu slow %zu p50 %u us p99 %u us\n", n++,
			       (unsigned long long)reads, nslow, p50, p99);
			reads = nslow = 0;
			second = t0;
		}
	}
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	size = (size_t)atol(argv[1]) << 20;
	int random = argc > 2 && !strcmp(argv[2], "random");
	int idle = argc > 2 && !strcmp(argv[2], "idle");
	int threads = argc > 2 && !random && !idle ? atoi(argv[2]) : 0;
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
	if (random)
		return random_reads();
	for (unsigned long n = 1; idle; n++) {
		printf("%lu idle\n", n);
		usleep(200000);
	}
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
