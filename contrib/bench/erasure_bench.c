/* erasure_bench.c: the arithmetic of erasure-coded redundancy (issue 13) against its
 * baselines, measured in the same run on the same buffers:
 *   - parity added block by block (erasure_add_block), and by the stripe's holders each
 *     adding every chunk to its own parity block as lcrd's do (erasure_add_block_to_row,
 *     the rate counts the data bytes of the stripe once), against ISA-L's own one-call
 *     encode (ec_encode_data);
 *   - rebuilding PARITY lost data blocks (erasure_recover) against memcpy of the same bytes;
 *   - the extra host memory per node of erasure coding (groups of GROUP, PARITY parity)
 *     against one full copy, for a state of STATE bytes.
 * Prints one RESULT line per figure. Usage: erasure_bench [--mib=N] [--group=G] [--parity=M] */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <isa-l/erasure_code.h>

#include "internal/erasure.h"
#include "internal/redundancy_plan.h"

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* GiB/s of `bytes` done `rounds` times in `seconds`. */
static double rate(size_t bytes, int rounds, double seconds)
{
	return (double)bytes * rounds / seconds / (1u << 30);
}

static void result(const char *name, double value, const char *unit, double baseline)
{
	printf("RESULT name=%s value=%.3f unit=%s baseline=%.3f ratio=%.3f\n", name, value, unit, baseline,
	       value / baseline);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "mib", required_argument, NULL, 'm' },
		{ "group", required_argument, NULL, 'g' },
		{ "parity", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned mib = 64, group = 8, parity = 2, c;
	while ((c = (unsigned)getopt_long(argc, argv, "", options, NULL)) != (unsigned)-1) {
		switch (c) {
		case 'm': mib = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'g': group = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'p': parity = (unsigned)strtoul(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	unsigned data_count = group - parity, total = group;
	size_t state = (size_t)mib << 20, chunk = redundancy_chunk_bytes(state, group, parity);
	struct erasure_code code;
	char err[256];
	uint8_t *blocks[ERASURE_MAX_BLOCKS], *copy = calloc(1, chunk); /* touched: no first-use faults */
	if (!copy || erasure_init(&code, data_count, parity, err, sizeof(err)) < 0) {
		fprintf(stderr, "erasure_bench: %s\n", copy ? err : "out of memory");
		return 1;
	}
	for (unsigned b = 0; b < total; b++) {
		blocks[b] = aligned_alloc(64, chunk);
		if (!blocks[b])
			return 1;
		for (size_t i = 0; i < chunk; i++)
			blocks[b][i] = (uint8_t)(i * 131 + b * 7);
	}
	const int rounds = 20;
	size_t data_bytes = chunk * data_count;

	double t0 = now_s();
	for (int r = 0; r < rounds; r++)
		ec_encode_data((int)chunk, (int)data_count, (int)parity, code.tables, blocks, blocks + data_count);
	double isal = now_s() - t0;
	t0 = now_s();
	for (int r = 0; r < rounds; r++) {
		for (unsigned p = 0; p < parity; p++)
			memset(blocks[data_count + p], 0, chunk);
		for (unsigned b = 0; b < data_count; b++)
			erasure_add_block(&code, chunk, b, blocks[b], blocks + data_count);
	}
	double streamed = now_s() - t0;
	result("parity_encode_block_by_block", rate(data_bytes, rounds, streamed), "GiB/s",
	       rate(data_bytes, rounds, isal));
	/* what lcrd does: each of the stripe's PARITY holders adds every chunk to its own row */
	t0 = now_s();
	for (int r = 0; r < rounds; r++)
		for (unsigned p = 0; p < parity; p++) {
			memset(blocks[data_count + p], 0, chunk);
			for (unsigned b = 0; b < data_count; b++)
				erasure_add_block_to_row(&code, chunk, b, p, blocks[b], blocks[data_count + p]);
		}
	double by_holders = now_s() - t0;
	result("parity_encode_by_holders", rate(data_bytes, rounds, by_holders), "GiB/s",
	       rate(data_bytes, rounds, isal));

	bool lost[ERASURE_MAX_BLOCKS] = { false };
	for (unsigned p = 0; p < parity; p++)
		lost[p] = true;
	t0 = now_s();
	for (int r = 0; r < rounds; r++)
		if (erasure_recover(&code, chunk, blocks, lost, err, sizeof(err)) < 0) {
			fprintf(stderr, "erasure_bench: %s\n", err);
			return 1;
		}
	double rebuild = now_s() - t0;
	t0 = now_s();
	for (int r = 0; r < rounds; r++)
		for (unsigned p = 0; p < parity; p++) {
			memcpy(copy, blocks[data_count + p], chunk);
			__asm__ volatile("" : : "r"(copy) : "memory"); /* the copy is kept */
		}
	double copied = now_s() - t0;
	result("rebuild_lost_blocks", rate(chunk * parity, rounds, rebuild), "GiB/s",
	       rate(chunk * parity, rounds, copied));

	double per_node = (double)redundancy_parity_bytes_per_node(state, group, parity) / (1u << 20);
	result("extra_memory_per_node_erasure", per_node, "MiB", (double)state / (1u << 20));
	return 0;
}
