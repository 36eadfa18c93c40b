/* memcpy_baseline.c: the baseline of contrib/bench/snapshot.sh. Copies a buffer of MIB MiB
 * (both ends faulted in first) five times, and five times copies and hashes it (XXH3-64,
 * what a snapshot does), and prints the best of each in MiB/s:
 *   memcpy_mib_s N
 *   memcpy_xxh3_mib_s N
 * Usage: memcpy_baseline MIB */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "internal/util.h"

static volatile uint64_t sink;

static double best_mib_s(uint8_t *dst, const uint8_t *src, size_t len, int hash)
{
	double best = 0;
	for (int round = 0; round < 5; round++) {
		uint64_t start = util_now_ns();
		memcpy(dst, src, len);
		if (hash)
			sink ^= XXH3_64bits(dst, len);
		double seconds = (double)(util_now_ns() - start) / 1e9;
		double mib_s = (double)len / (1 << 20) / seconds;
		if (mib_s > best)
			best = mib_s;
	}
	return best;
}

int main(int argc, char **argv)
{
	uint64_t mib;
	if (argc != 2 || util_parse_u64(argv[1], &mib) < 0 || mib == 0) {
		fprintf(stderr, "usage: memcpy_baseline MIB\n");
		return 2;
	}
	size_t len = (size_t)mib << 20;
	uint8_t *src = malloc(len), *dst = malloc(len);
	if (!src || !dst) {
		fprintf(stderr, "memcpy_baseline: cannot allocate 2 x %zu bytes\n", len);
		return 1;
	}
	memset(src, 0x5a, len);
	memset(dst, 0, len);
	printf("memcpy_mib_s %.0f\n", best_mib_s(dst, src, len, 0));
	printf("memcpy_xxh3_mib_s %.0f\n", best_mib_s(dst, src, len, 1));
	free(src);
	free(dst);
	return 0;
}
