/* erasure.c: Reed–Solomon erasure coding over ISA-L (see erasure.h). ISA-L takes lengths as
 * int, so longer blocks go through in pieces. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <isa-l/erasure_code.h>

#include "internal/erasure.h"

/* The most bytes handed to ISA-L in one call: a multiple of 64 below INT_MAX. */
#define ERASURE_PIECE ((size_t)1 << 30)

int erasure_init(struct erasure_code *code, unsigned data_count, unsigned parity_count, char *err,
		 size_t errlen)
{
	unsigned total = data_count + parity_count;

	if (data_count == 0 || parity_count == 0 || total > ERASURE_MAX_BLOCKS) {
		snprintf(err, errlen, "erasure code of %u data and %u parity blocks: needs at least one of "
			 "each and at most %d in all", data_count, parity_count, ERASURE_MAX_BLOCKS);
		return -EINVAL;
	}
	memset(code, 0, sizeof(*code));
	code->data_count = data_count;
	code->parity_count = parity_count;
	gf_gen_cauchy1_matrix(code->matrix, (int)total, (int)data_count);
	ec_init_tables((int)data_count, (int)parity_count, code->matrix + data_count * data_count,
		       code->tables);
	return 0;
}

/* ec_encode_data over blocks of any length, `rows` outputs with their expanded tables. */
static void encode_pieces(unsigned sources, unsigned rows, const uint8_t *tables, size_t length,
			  uint8_t *const in[], uint8_t *const out[])
{
	uint8_t *in_at[ERASURE_MAX_BLOCKS], *out_at[ERASURE_MAX_BLOCKS];

	for (size_t done = 0; done < length; done += ERASURE_PIECE) {
		size_t piece = length - done < ERASURE_PIECE ? length - done : ERASURE_PIECE;
		for (unsigned i = 0; i < sources; i++)
			in_at[i] = in[i] + done;
		for (unsigned i = 0; i < rows; i++)
			out_at[i] = out[i] + done;
		ec_encode_data((int)piece, (int)sources, (int)rows, (unsigned char *)tables, in_at, out_at);
	}
}

void erasure_encode(const struct erasure_code *code, size_t length, uint8_t *const data[],
		    uint8_t *const parity[])
{
	encode_pieces(code->data_count, code->parity_count, code->tables, length, data, parity);
}

void erasure_add_block(const struct erasure_code *code, size_t length, unsigned index, const uint8_t *data,
		       uint8_t *const parity[])
{
	uint8_t *out_at[ERASURE_MAX_BLOCKS];

	for (size_t done = 0; done < length; done += ERASURE_PIECE) {
		size_t piece = length - done < ERASURE_PIECE ? length - done : ERASURE_PIECE;
		for (unsigned i = 0; i < code->parity_count; i++)
			out_at[i] = parity[i] + done;
		ec_encode_data_update((int)piece, (int)code->data_count, (int)code->parity_count, (int)index,
				      (unsigned char *)code->tables, (unsigned char *)data + done, out_at);
	}
}

void erasure_add_block_to_row(const struct erasure_code *code, size_t length, unsigned index, unsigned row,
			      const uint8_t *data, uint8_t *parity)
{
	/* ISA-L's tables hold 32 bytes per coefficient, data_count coefficients per row */
	const uint8_t *row_tables = code->tables + (size_t)row * code->data_count * 32;

	for (size_t done = 0; done < length; done += ERASURE_PIECE) {
		size_t piece = length - done < ERASURE_PIECE ? length - done : ERASURE_PIECE;
		uint8_t *out_at[1] = { parity + done };
		ec_encode_data_update((int)piece, (int)code->data_count, 1, (int)index,
				      (unsigned char *)row_tables, (unsigned char *)data + done, out_at);
	}
}

/* The row that gives lost block `block` from the chosen survivors: for a data block, its
 * row of the inverse; for a parity block, its row of the matrix times the inverse. */
static void recovery_row(const struct erasure_code *code, const uint8_t *inverse, unsigned block,
			 uint8_t *row)
{
	unsigned k = code->data_count;

	if (block < k) {
		memcpy(row, inverse + block * k, k);
		return;
	}
	for (unsigned column = 0; column < k; column++) {
		uint8_t sum = 0;
		for (unsigned j = 0; j < k; j++)
			sum ^= gf_mul(code->matrix[block * k + j], inverse[j * k + column]);
		row[column] = sum;
	}
}

int erasure_recover(const struct erasure_code *code, size_t length, uint8_t *const blocks[],
		    const bool lost[], char *err, size_t errlen)
{
	static _Thread_local uint8_t chosen_rows[ERASURE_MAX_BLOCKS * ERASURE_MAX_BLOCKS],
		inverse[ERASURE_MAX_BLOCKS * ERASURE_MAX_BLOCKS], rows[ERASURE_MAX_BLOCKS * ERASURE_MAX_BLOCKS],
		tables[ERASURE_MAX_BLOCKS * ERASURE_MAX_BLOCKS * 32];
	unsigned k = code->data_count, total = k + code->parity_count, chosen = 0, missing = 0;
	uint8_t *survivors[ERASURE_MAX_BLOCKS], *outputs[ERASURE_MAX_BLOCKS];

	for (unsigned block = 0; block < total; block++) {
		if (lost[block]) {
			outputs[missing++] = blocks[block];
		} else if (chosen < k) {
			memcpy(chosen_rows + chosen * k, code->matrix + block * k, k);
			survivors[chosen++] = blocks[block];
		}
	}
	if (missing == 0)
		return 0;
	if (chosen < k) {
		snprintf(err, errlen, "%u of %u erasure-coded blocks are lost: at most %u can be rebuilt",
			 missing, total, code->parity_count);
		return -EINVAL;
	}
	if (gf_invert_matrix(chosen_rows, inverse, (int)k) < 0) {
		/* A Cauchy code's rows are independent: this is a broken matrix, not lost data. */
		snprintf(err, errlen, "erasure code: the surviving blocks' matrix cannot be inverted");
		return -EINVAL;
	}
	for (unsigned block = 0, row = 0; block < total; block++)
		if (lost[block])
			recovery_row(code, inverse, block, rows + row++ * k);
	ec_init_tables((int)k, (int)missing, rows, tables);
	encode_pieces(k, missing, tables, length, survivors, outputs);
	return 0;
}
