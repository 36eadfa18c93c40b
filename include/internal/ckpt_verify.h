/* ckpt_verify.h: comparing the replicas of a shard while a checkpoint is written, as pure
 * functions (no I/O, no global state), so that every helper given the same reports and
 * plan assigns the same comparisons.
 *
 * Ranks that register one shard key claim to hold the same bytes; a checkpoint writes each
 * range once, from one of them. So that the claim is checked, not trusted:
 *
 * 1. ckpt_verify_assign: for every range of a plan whose shard has two or more replicas
 *    that hold the plan's step, a *checker*: a replica other than the one the range's
 *    writer reads (the lowest rank of the shard on the writer's node that holds the step,
 *    as ckpt_write.c picks it), on another node when one holds the step, else another rank
 *    on the writer's node. Within a shard the checkers rotate range by range over the
 *    candidates (by rank), so that the work spreads over the nodes and every replica is
 *    compared when the shard has enough ranges. A checker hashes its range (XXH3, as the
 *    writer does) without writing it.
 * 2. ckpt_verify_add: the leader feeds it every hash it receives, written or checked, with
 *    the rank it was read from; the first hash of a range is kept, and a later one that
 *    differs is a divergence: the replicas of that shard do not hold the same bytes. Nobody
 *    can tell which of two replicas is right, so the caller abandons the checkpoint.
 *
 * Errors: 0 or a negative errno with a message in err: -ENOMEM, -EINVAL (a hash of a range
 * the plan does not have). */
#ifndef LCR_INTERNAL_CKPT_VERIFY_H
#define LCR_INTERNAL_CKPT_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "internal/ckpt_plan.h"
#include "internal/manifest.h"

/* One comparison: node node_id hashes range `ref` of replica `rank`. */
struct ckpt_check {
	struct ckpt_range_ref ref;
	uint32_t node_id;
	uint32_t rank;
};

/* The checks of a plan built from reports[count] (ckpt_plan_build), in the plan's range
 * order, into *checks (malloc'ed; NULL when there are none). */
int ckpt_verify_assign(const struct ckpt_report *reports, size_t count,
		       const struct manifest *plan, struct ckpt_check **checks,
		       size_t *check_count, char *err, size_t errlen);

/* Two hashes of one range that differ. */
struct ckpt_divergence {
	char shard_key[WIRE_NAME_MAX + 1];
	char region[WIRE_NAME_MAX + 1];
	uint64_t offset;
	uint64_t length;
	uint32_t rank_a; /* the first hash seen */
	uint64_t xxh3_a;
	uint32_t rank_b; /* the one that differs */
	uint64_t xxh3_b;
};

/* The leader's comparison of one checkpoint: the first hash seen of each range (its fields
 * are ckpt_verify.c's). */
struct ckpt_verify {
	struct ckpt_verify_seen *seen; /* one per range of the plan, in its order */
	size_t range_count;
	size_t compared;
};

/* For plan (whose ranges do not change until ckpt_verify_free: reassigning writers is
 * fine). 0 or -ENOMEM. */
int ckpt_verify_init(struct ckpt_verify *v, const struct manifest *plan);
void ckpt_verify_free(struct ckpt_verify *v);

/* A hash of range ref read from rank: 0 when it agrees with what was seen (or is the
 * first), 1 when it differs (*d says how), -EINVAL when the plan has no such range. */
int ckpt_verify_add(struct ckpt_verify *v, const struct manifest *plan,
		    const struct ckpt_range_ref *ref, uint32_t rank, uint64_t xxh3,
		    struct ckpt_divergence *d);

/* The ranges that got a second hash, from another rank, equal to the first. */
size_t ckpt_verify_compared(const struct ckpt_verify *v);

/* "shard 'k': ranks 0 and 2 hold different bytes in region 'w' at offset 0, length 4096"
 * (the lower rank first) */
void ckpt_verify_describe(const struct ckpt_divergence *d, char *buf, size_t cap);

#endif
