/* ckpt_plan.h: planning a just-in-time checkpoint, as pure functions of what the helpers
 * report about their replicas (no I/O, no global state), so that every helper that is given
 * the same reports computes the same plan.
 *
 * 1. ckpt_plan_choose_step: the step S to save, the newest step that every shard has
 *    COMMITTED on at least one reported replica. A replica in the middle of an update
 *    (UPDATING) or that never committed is never chosen; when some shard has no such step in
 *    common with the others, the message says which shard holds what.
 * 2. ckpt_plan_build: the checkpoint's manifest before its hashes are known. Each shard is
 *    written once: the bytes of its regions are split across the nodes that hold a replica
 *    at S, about equally, at `alignment` boundaries, and cut into ranges of at most
 *    `range_max` bytes (the unit of a hash, so a damaged byte is found within one range).
 *    Each range names its writer; a writer reads it from any local replica at S.
 * 3. ckpt_plan_reassign: a writer was lost while writing; its ranges go to the other nodes
 *    that hold a replica of the same shard at S, or the checkpoint cannot be completed.
 *
 * Errors: 0 or a negative errno with a message in err: -ENODATA (no step to save),
 * -EINVAL (inconsistent reports), -EHOSTDOWN (no other replica to cover a lost writer),
 * -ENOMEM. */
#ifndef LCR_INTERNAL_CKPT_PLAN_H
#define LCR_INTERNAL_CKPT_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "internal/manifest.h"
#include "internal/wire.h"

#define CKPT_ALIGNMENT (4ull << 20)  /* 4 MiB */
#define CKPT_RANGE_MAX (64ull << 20) /* 64 MiB: one hash per range */

struct ckpt_region_report {
	char name[WIRE_NAME_MAX + 1];
	enum wire_region_kind kind;
	uint64_t size;
};

/* One replica (a rank and the regions its helper holds for it), from its control page. */
struct ckpt_report {
	uint32_t rank;
	uint32_t node_id;                  /* the helper holding it: the writer */
	char node[WIRE_NODE_NAME_MAX + 1];
	char shard_key[WIRE_NAME_MAX + 1];
	uint32_t dp_size;
	enum wire_phase phase;
	uint64_t committed_step;           /* WIRE_NO_STEP when none */
	struct ckpt_region_report *regions;
	size_t region_count;
};

/* A range of a plan: indices in its manifest. */
struct ckpt_range_ref {
	uint32_t shard;
	uint32_t region;
	uint32_t range;
};

struct ckpt_plan_params {
	uint32_t job_id;
	uint64_t alignment; /* a power of two, at least MANIFEST_MIN_ALIGNMENT */
	uint64_t range_max; /* a multiple of alignment */
};

/* Whether a replica holds the committed state of `step`. */
int ckpt_report_holds_step(const struct ckpt_report *r, uint64_t step);

int ckpt_plan_choose_step(const struct ckpt_report *reports, size_t count, uint64_t *step,
			  char *err, size_t errlen);

/* Builds the manifest of step S into *out (checksums 0, writers' seconds 0, created 0). */
int ckpt_plan_build(const struct ckpt_report *reports, size_t count, uint64_t step,
		    const struct ckpt_plan_params *params, struct manifest *out, char *err,
		    size_t errlen);

/* Moves the ranges of the writer on node lost_node_id to the other nodes that hold their
 * shard at m->step according to `reports` (the replicas still alive), round robin, and
 * drops the lost writer. When moved is not NULL, *moved (malloc'ed) lists the ranges that
 * changed writer: only those need writing again. On -EHOSTDOWN m is left half changed:
 * abandon the checkpoint. */
int ckpt_plan_reassign(struct manifest *m, const struct ckpt_report *reports, size_t count,
		       uint32_t lost_node_id, struct ckpt_range_ref **moved, size_t *moved_count,
		       char *err, size_t errlen);

/* How many of the step's total_ranks ranks are neither in plan m nor a replica of one of
 * its shards: the ranks missing from it (a lost node's) less those its shards' data-parallel
 * sizes say are replicas of them. 0 when every missing rank's shard has a replica in the
 * plan (its state survives); more when some missing rank held state nothing else holds.
 * When the sizes name more missing replicas than ranks are missing, they do not count the
 * replicas of a key (ranks of a ZeRO layout, each under its own key, with the data-parallel
 * size of the job): every missing rank is counted. */
uint32_t ckpt_plan_ranks_without_replica(const struct manifest *m, uint32_t total_ranks);

/* The number of ranges of a plan, all shards together. */
size_t ckpt_plan_range_count(const struct manifest *m);

/* Frees reports[count] and their regions. */
void ckpt_reports_free(struct ckpt_report *reports, size_t count);

#endif
