/* parity_expect.c: the parity that the helpers of one erasure group should hold at a step,
 * computed here from scratch for tests/helper/snapshot_erasure.sh. Node p of the group (its
 * position) holds one region whose bytes are ckpt_client's "train" pattern of seed STEP,
 * SIZE_p bytes long. Each node's state is cut into chunks (redundancy_chunk_bytes), every
 * stripe's data chunks are zero-padded to the longest and encoded at once (erasure_encode),
 * and for each parity block this prints
 *
 *   position P stripe S row J bytes L xxh3 H
 *
 * P the member that holds it (redundancy_stripe_role), L its length, H its XXH3-64.
 *
 * Usage: parity_expect GROUP_SIZE PARITY STEP SIZE_0 ... SIZE_{GROUP_SIZE-1} */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "internal/erasure.h"
#include "internal/redundancy_plan.h"
#include "internal/util.h"

/* ckpt_client's pattern (xorshift64 words seeded per region). */
static uint64_t pattern_word(uint64_t seed, uint64_t index)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + index + 1;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

static uint8_t *pattern(uint64_t size, uint64_t seed)
{
	uint8_t *p = malloc(size ? size : 1);
	for (uint64_t i = 0; p && i < size; i += 8) {
		uint64_t w = pattern_word(seed, i / 8);
		memcpy(p + i, &w, size - i < 8 ? size - i : 8);
	}
	return p;
}

struct node_state {
	uint8_t *bytes;
	uint64_t size, chunk_bytes;
};

/* Chunk `chunk` of a node's state, zero-padded to length, into out. */
static void chunk_of(const struct node_state *n, unsigned chunk, uint8_t *out, uint64_t length)
{
	uint64_t from = chunk * n->chunk_bytes, have = 0;
	memset(out, 0, length);
	if (from < n->size)
		have = n->size - from < n->chunk_bytes ? n->size - from : n->chunk_bytes;
	memcpy(out, n->bytes + from, have);
}

static int print_stripe(const struct erasure_code *code, const struct node_state *nodes, uint32_t size,
			unsigned parity, uint32_t stripe)
{
	uint8_t *data[ERASURE_MAX_BLOCKS], *rows[ERASURE_MAX_BLOCKS];
	uint32_t holder[ERASURE_MAX_BLOCKS];
	uint64_t length = 0;
	unsigned index;
	for (uint32_t p = 0; p < size; p++)
		if (redundancy_stripe_role(size, parity, p, stripe, &index) == 0 &&
		    nodes[p].chunk_bytes > length)
			length = nodes[p].chunk_bytes;
	for (unsigned i = 0; i < size; i++) {
		data[i] = calloc(1, length);
		if (!data[i])
			return 1;
	}
	for (uint32_t p = 0; p < size; p++) {
		int is_parity = redundancy_stripe_role(size, parity, p, stripe, &index);
		if (is_parity)
			holder[index] = p;
		else
			chunk_of(&nodes[p], index, data[index], length);
	}
	for (unsigned j = 0; j < parity; j++)
		rows[j] = data[size - parity + j];
	erasure_encode(code, length, data, rows);
	for (unsigned j = 0; j < parity; j++)
		printf("position %" PRIu32 " stripe %" PRIu32 " row %u bytes %" PRIu64 " xxh3 %016" PRIx64 "\n",
		       holder[j], stripe, j, length, (uint64_t)XXH3_64bits(rows[j], length));
	for (unsigned i = 0; i < size; i++)
		free(data[i]);
	return 0;
}

int main(int argc, char **argv)
{
	uint32_t size, parity;
	uint64_t step;
	struct node_state nodes[ERASURE_MAX_BLOCKS];
	struct erasure_code code;
	char err[256];
	if (argc < 4 || util_parse_u32(argv[1], &size) || util_parse_u32(argv[2], &parity) ||
	    util_parse_u64(argv[3], &step) || size > ERASURE_MAX_BLOCKS || (uint32_t)argc != 4 + size)
		return fprintf(stderr, "usage: parity_expect GROUP_SIZE PARITY STEP SIZE...\n"), 2;
	if (erasure_init(&code, size - parity, parity, err, sizeof(err)) < 0)
		return fprintf(stderr, "parity_expect: %s\n", err), 2;
	for (uint32_t p = 0; p < size; p++) {
		if (util_parse_size(argv[4 + p], &nodes[p].size))
			return fprintf(stderr, "parity_expect: bad size %s\n", argv[4 + p]), 2;
		nodes[p].bytes = pattern(nodes[p].size, step);
		nodes[p].chunk_bytes = redundancy_chunk_bytes(nodes[p].size, size, parity);
		if (!nodes[p].bytes)
			return 1;
	}
	int rc = 0;
	for (uint32_t stripe = 0; stripe < size && rc == 0; stripe++)
		rc = print_stripe(&code, nodes, size, parity, stripe) ? 1 : 0;
	for (uint32_t p = 0; p < size; p++)
		free(nodes[p].bytes); /* LeakSanitizer (CI's sanitizer stage) counts them otherwise */
	return rc;
}
