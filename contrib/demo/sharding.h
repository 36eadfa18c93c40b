/* sharding.h: how the demo trainer splits its state over the ranks (--shard). The model is
 * the same in every mode; what differs is which rank holds what, and so what LCR sees as
 * replicas:
 *
 *   replicated  every rank holds the whole weights and Adam state, under one shard key
 *               ("dp"): plain data parallelism, every rank a replica of the others;
 *   zero1       what ZeRO-1 does: every rank holds the whole weights, but Adam's moments
 *               only for its own slice of the parameters, which it alone updates; the new
 *               weight slices are then gathered by every rank;
 *   none        nothing replicated (ZeRO-3/FSDP style): every rank holds its own slice of
 *               the weights and its slice's moments; the whole weights are gathered into a
 *               scratch buffer before each forward pass.
 *
 * In zero1 and none each rank registers its own shard key (zero1-r<rank>, none-r<rank>):
 * lcr_rank_info has one key per rank, so in zero1 the weights, although identical on
 * every rank, are not seen as replicas by LCR (issue 13's per-region shard key would let
 * them be). Slices are contiguous and as even as can be: the first params % size ranks
 * get one parameter more. The gather is one broadcast per owner: it moves the bits as
 * they are, so every mode computes bit-identical weights for the same seed. */
#ifndef LCR_DEMO_SHARDING_H
#define LCR_DEMO_SHARDING_H

#include <stddef.h>
#include <stdint.h>

enum shard_mode {
	SHARD_REPLICATED = 0,
	SHARD_ZERO1 = 1,
	SHARD_NONE = 2,
};

/* A rank's part of the parameters: [offset, offset + count). */
struct shard_slice {
	size_t offset;
	size_t count;
};

/* The mode named `name` ("replicated", "zero1", "none"): 0, or -EINVAL. */
int shard_mode_parse(const char *name, enum shard_mode *out);

const char *shard_mode_name(enum shard_mode mode);

/* The shard key rank `rank` registers in `mode`, into buf[cap]. */
void shard_key_of(enum shard_mode mode, uint32_t rank, char *buf, size_t cap);

/* The slice of `params` parameters that rank `rank` of `size` owns. */
struct shard_slice shard_slice_of(size_t params, uint32_t rank, uint32_t size);

/* A broadcast of `bytes` of buf from `root` (the caller's, which retries what may be
 * retried): 0 or a negative errno. */
typedef int (*shard_broadcast_fn)(void *ctx, void *buf, size_t bytes, uint32_t root);

/* Gathers every rank's slice of `full` (params floats, this rank's own slice filled in)
 * into every rank's `full`, one broadcast per owner, in owner order. 0, or the first
 * broadcast's error. */
int shard_allgather(shard_broadcast_fn broadcast, void *ctx, float *full, size_t params, uint32_t size);

#endif
