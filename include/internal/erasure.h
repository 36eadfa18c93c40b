/* erasure.h: Reed–Solomon erasure coding of equal-length blocks, the arithmetic under LCR's
 * erasure-coded redundancy (issue 13), computed by ISA-L. DATA_COUNT data blocks give
 * PARITY_COUNT parity blocks, and any DATA_COUNT of the DATA_COUNT + PARITY_COUNT blocks
 * give back all the others. The code is systematic (the data blocks are kept as they are)
 * and its matrix is a Cauchy matrix, so every choice of DATA_COUNT surviving blocks can be
 * inverted. Parity is computed all at once, or one data block at a time as the blocks
 * arrive from the nodes that hold them; both give the same bytes. */
#ifndef LCR_INTERNAL_ERASURE_H
#define LCR_INTERNAL_ERASURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most blocks of one code (data + parity): the largest erasure group a site may configure. */
#define ERASURE_MAX_BLOCKS 32

struct erasure_code {
	unsigned data_count, parity_count;
	/* (data_count + parity_count) rows of data_count coefficients: identity, then parity */
	uint8_t matrix[ERASURE_MAX_BLOCKS * ERASURE_MAX_BLOCKS];
	/* the parity rows expanded for ISA-L (32 bytes per coefficient) */
	uint8_t tables[ERASURE_MAX_BLOCKS * ERASURE_MAX_BLOCKS * 32];
};

/* Sets up the code: 0, or -EINVAL with err naming the count that is out of range (at least
 * one data and one parity block, at most ERASURE_MAX_BLOCKS in all). */
int erasure_init(struct erasure_code *code, unsigned data_count, unsigned parity_count, char *err,
		 size_t errlen);

/* Computes every parity block from every data block, each `length` bytes. */
void erasure_encode(const struct erasure_code *code, size_t length, uint8_t *const data[],
		    uint8_t *const parity[]);

/* Adds data block `index`'s share to the parity blocks, which start zeroed; once every data
 * block was added once, in any order, they hold what erasure_encode gives. */
void erasure_add_block(const struct erasure_code *code, size_t length, unsigned index, const uint8_t *data,
		       uint8_t *const parity[]);

/* Adds data block `index`'s share to parity block `row` alone (0 .. parity_count - 1), for
 * a node that holds one parity block of a stripe: once every data block was added, it holds
 * erasure_encode's parity block `row`. */
void erasure_add_block_to_row(const struct erasure_code *code, size_t length, unsigned index, unsigned row,
			      const uint8_t *data, uint8_t *parity);

/* Rebuilds the blocks marked lost: blocks[] holds data_count + parity_count buffers of
 * `length` bytes (data first, then parity); those not lost are read, the lost ones written.
 * 0, or -EINVAL with err set when more than parity_count blocks are lost. */
int erasure_recover(const struct erasure_code *code, size_t length, uint8_t *const blocks[],
		    const bool lost[], char *err, size_t errlen);

#endif
