/* cpufeat.c: CPU features as a bitmap (see cpufeat.h). */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "cpufeat.h"

/* A bit each, in this order for good: the bitmap travels in gossip. Instruction-set
 * extensions a compiler or a library's ifunc may pick, not the CPU's other traits. */
static const char *const features[] = {
	"sse3", "ssse3", "sse4_1", "sse4_2", "sse4a", "popcnt", "abm", "movbe",
	"aes", "pclmulqdq", "sha_ni", "rdrand", "rdseed", "adx", "f16c", "fma",
	"fma4", "bmi1", "bmi2", "avx", "avx2", "xsave", "xsaveopt", "xsavec",
	"clflushopt", "clwb", "vaes", "vpclmulqdq", "gfni", "avx_vnni", "avx512f", "avx512dq",
	"avx512cd", "avx512bw", "avx512vl", "avx512ifma", "avx512vbmi", "avx512_vbmi2",
	"avx512_vnni", "avx512_bitalg", "avx512_vpopcntdq", "avx512_bf16", "avx512_fp16",
	"amx_tile", "amx_int8", "amx_bf16", "erms", "fsrm", "movdiri", "movdir64b",
	"serialize", "cx16", "lahf_lm", "pku",
};
_Static_assert(sizeof(features) / sizeof(features[0]) <= 64, "a bitmap of 64");

#define NFEATURES (sizeof(features) / sizeof(features[0]))

int cpufeat_bit(const char *name)
{
	for (size_t i = 0; i < NFEATURES; i++)
		if (!strcmp(features[i], name))
			return (int)i;
	return -1;
}

uint64_t cpufeat_parse(const char *flags)
{
	uint64_t set = 0;
	char word[64];
	const char *p = flags;
	while (*p) {
		p += strspn(p, " \t\n");
		size_t n = strcspn(p, " \t\n");
		if (n && n < sizeof(word)) {
			memcpy(word, p, n);
			word[n] = '\0';
			int b = cpufeat_bit(word);
			if (b >= 0)
				set |= 1ULL << b;
		}
		p += n;
	}
	return set;
}

uint64_t cpufeat_machine(void)
{
	static char line[8192];	/* a flags line is long; one is read, once at start-up */
	uint64_t set = 0;
	FILE *f = fopen("/proc/cpuinfo", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		const char *colon = strchr(line, ':');
		if (colon)
			set = cpufeat_parse(colon + 1);
		break;
	}
	fclose(f);
	return set;
}

uint64_t cpufeat_missing(uint64_t have, uint64_t there)
{
	return have & ~there;
}

unsigned cpufeat_names(uint64_t set, char *out, size_t outlen)
{
	unsigned count = 0;
	size_t used = 0;
	if (outlen)
		out[0] = '\0';
	for (size_t i = 0; i < NFEATURES; i++) {
		if (!(set & (1ULL << i)))
			continue;
		count++;
		int n = snprintf(out + used, outlen > used ? outlen - used : 0, "%s%s",
				 used ? ", " : "", features[i]);
		if (n < 0 || used + (size_t)n >= outlen) {
			if (outlen >= 4)
				memcpy(out + outlen - 4, "...", 4);
			used = outlen;
			continue;
		}
		used += (size_t)n;
	}
	return count;
}
