/*
 * test_erasure.c: Reed–Solomon erasure coding (common/erasure.c): parity computed at once, block
 * by block, and one parity row at a time agree, every pattern of up to PARITY lost blocks
 * is rebuilt bit-identical (data and parity blocks alike), chunks of different lengths
 * added to their rows as they come are rebuilt from blocks padded with zeros (a lost
 * node's rebuild), more losses are refused with a message, and bad counts are named.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal/erasure.h"

#define LENGTH 4160 /* not a multiple of ISA-L's 32- or 64-byte vectors */

static uint8_t blocks[ERASURE_MAX_BLOCKS][LENGTH], saved[ERASURE_MAX_BLOCKS][LENGTH];
static uint8_t *pointers[ERASURE_MAX_BLOCKS];
static struct erasure_code code;
static char err[256];

static void fill_data(unsigned data_count, unsigned seed)
{
	srand(seed);
	for (unsigned b = 0; b < ERASURE_MAX_BLOCKS; b++)
		pointers[b] = blocks[b];
	for (unsigned b = 0; b < data_count; b++)
		for (unsigned i = 0; i < LENGTH; i++)
			blocks[b][i] = (uint8_t)rand();
}

static void test_bad_counts_are_named(void **state)
{
	(void)state;
	assert_int_equal(erasure_init(&code, 0, 2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "0 data and 2 parity"));
	assert_int_equal(erasure_init(&code, 4, 0, err, sizeof(err)), -EINVAL);
	assert_int_equal(erasure_init(&code, 30, 3, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "at most 32 in all"));
	assert_int_equal(erasure_init(&code, 29, 3, err, sizeof(err)), 0);
}

static void test_block_by_block_parity_equals_encode(void **state)
{
	static uint8_t streamed[4][LENGTH];
	uint8_t *streamed_pointers[4] = { streamed[0], streamed[1], streamed[2], streamed[3] };
	const unsigned arrival[6] = { 3, 0, 5, 1, 4, 2 };

	(void)state;
	assert_int_equal(erasure_init(&code, 6, 4, err, sizeof(err)), 0);
	fill_data(6, 1);
	erasure_encode(&code, LENGTH, pointers, pointers + 6);
	memset(streamed, 0, sizeof(streamed));
	for (unsigned i = 0; i < 6; i++)
		erasure_add_block(&code, LENGTH, arrival[i], blocks[arrival[i]], streamed_pointers);
	for (unsigned p = 0; p < 4; p++)
		assert_memory_equal(streamed[p], blocks[6 + p], LENGTH);
	/* the parity depends on the data: it is not all zero, and not a copy of one block */
	assert_memory_not_equal(blocks[6], blocks[0], LENGTH);
}

/* Each parity holder of a stripe adds the chunks it gets to its own parity block only. */
static void test_one_row_holder_gets_the_encoded_parity_block(void **state)
{
	static uint8_t rows[3][LENGTH];
	const unsigned arrival[5] = { 4, 2, 0, 3, 1 };

	(void)state;
	assert_int_equal(erasure_init(&code, 5, 3, err, sizeof(err)), 0);
	fill_data(5, 7);
	erasure_encode(&code, LENGTH, pointers, pointers + 5);
	memset(rows, 0, sizeof(rows));
	for (unsigned row = 0; row < 3; row++)
		for (unsigned i = 0; i < 5; i++)
			erasure_add_block_to_row(&code, LENGTH, arrival[i], row, blocks[arrival[i]], rows[row]);
	for (unsigned row = 0; row < 3; row++)
		assert_memory_equal(rows[row], blocks[5 + row], LENGTH);
	/* the rows differ: each holder's block is its own */
	assert_memory_not_equal(rows[0], rows[1], LENGTH);
}

/* Loses every set of blocks given by the bits of `mask` and checks the rebuild. */
static void lose_and_rebuild(unsigned total, unsigned mask)
{
	bool lost[ERASURE_MAX_BLOCKS] = { false };

	for (unsigned b = 0; b < total; b++)
		if (mask & (1u << b)) {
			lost[b] = true;
			memset(blocks[b], 0xa5, LENGTH);
		}
	assert_int_equal(erasure_recover(&code, LENGTH, pointers, lost, err, sizeof(err)), 0);
	for (unsigned b = 0; b < total; b++)
		assert_memory_equal(blocks[b], saved[b], LENGTH);
}

static void test_every_loss_up_to_parity_is_rebuilt(void **state)
{
	const unsigned data_count = 5, parity_count = 3, total = data_count + parity_count;
	unsigned patterns = 0;

	(void)state;
	assert_int_equal(erasure_init(&code, data_count, parity_count, err, sizeof(err)), 0);
	fill_data(data_count, 2);
	erasure_encode(&code, LENGTH, pointers, pointers + data_count);
	memcpy(saved, blocks, sizeof(saved));
	for (unsigned mask = 1; mask < (1u << total); mask++) {
		if (__builtin_popcount(mask) > (int)parity_count)
			continue;
		lose_and_rebuild(total, mask);
		patterns++;
	}
	assert_int_equal(patterns, 8 + 28 + 56); /* C(8,1) + C(8,2) + C(8,3) */
}

/* The rebuild of a lost node (helper/services/snapshot_rebuild.c): the members' chunks differ in
 * length, each parity holder added them to its row as they came (zero-padded to the
 * longest), and the leader pads every surviving block to the parity's length and decodes.
 * Two lost data chunks of a stripe with 2 parity come back byte for byte, and past each
 * lost chunk's own length the decoded block is zero. */
static void test_chunks_of_different_lengths_are_rebuilt_from_padded_blocks(void **state)
{
	enum { DATA = 4, PARITY = 2 };
	static const size_t lengths[DATA] = { 4160, 1024, 3008, 64 };
	static uint8_t chunks[DATA][LENGTH], rows[PARITY][LENGTH], padded[DATA + PARITY][LENGTH];
	uint8_t *decoded[DATA + PARITY];
	bool lost[DATA + PARITY] = { false, true, false, true, false, false };

	(void)state;
	assert_int_equal(erasure_init(&code, DATA, PARITY, err, sizeof(err)), 0);
	srand(11);
	memset(chunks, 0, sizeof(chunks));
	memset(rows, 0, sizeof(rows));
	for (unsigned c = 0; c < DATA; c++) {
		for (size_t i = 0; i < lengths[c]; i++)
			chunks[c][i] = (uint8_t)rand();
		/* a holder adds a chunk of its own length to its row */
		for (unsigned row = 0; row < PARITY; row++)
			erasure_add_block_to_row(&code, lengths[c], c, row, chunks[c], rows[row]);
	}
	/* the survivors' blocks, padded with zeros to the parity's length; the lost ones junk */
	memset(padded, 0xa5, sizeof(padded));
	for (unsigned c = 0; c < DATA; c++)
		if (!lost[c]) {
			memset(padded[c], 0, LENGTH);
			memcpy(padded[c], chunks[c], lengths[c]);
		}
	memcpy(padded[DATA], rows[0], LENGTH);
	memcpy(padded[DATA + 1], rows[1], LENGTH);
	for (unsigned b = 0; b < DATA + PARITY; b++)
		decoded[b] = padded[b];
	assert_int_equal(erasure_recover(&code, LENGTH, decoded, lost, err, sizeof(err)), 0);
	for (unsigned c = 0; c < DATA; c++)
		assert_memory_equal(padded[c], chunks[c], LENGTH); /* zero past its length */
}

static void test_too_many_losses_are_refused(void **state)
{
	bool lost[ERASURE_MAX_BLOCKS] = { true, false, true, false, true };

	(void)state;
	assert_int_equal(erasure_init(&code, 3, 2, err, sizeof(err)), 0);
	fill_data(3, 3);
	erasure_encode(&code, LENGTH, pointers, pointers + 3);
	assert_int_equal(erasure_recover(&code, LENGTH, pointers, lost, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "3 of 5 erasure-coded blocks are lost: at most 2 can be rebuilt");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_counts_are_named),
		cmocka_unit_test(test_block_by_block_parity_equals_encode),
		cmocka_unit_test(test_one_row_holder_gets_the_encoded_parity_block),
		cmocka_unit_test(test_every_loss_up_to_parity_is_rebuilt),
		cmocka_unit_test(test_chunks_of_different_lengths_are_rebuilt_from_padded_blocks),
		cmocka_unit_test(test_too_many_losses_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
