/* sharded_step.c: the demo trainer's update, checkpoint and final checksum when its state
 * is sharded (--shard=zero1 or none; sharding.h says who holds what). The update of a step
 * is computed in scratch memory and copied into the regions inside the update mark only
 * once every collective of the step succeeded, so a failure never leaves a region torn or
 * a rank one update ahead of what its own shard holds. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "trainer.h"

static int broadcast_for_gather(void *trainer, void *buf, size_t bytes, uint32_t root)
{
	return trainer_broadcast(trainer, buf, bytes, root);
}

int sharded_gather_weights(struct trainer *t)
{
	memcpy(t->full + t->own.offset, t->weights, t->own.count * sizeof(float));
	return shard_allgather(broadcast_for_gather, t, t->full, t->params, t->opt.size);
}

/* Copies the new state of `step` from scratch memory into the regions, marked: 0, or
 * trainer_update_begin's error (nothing copied). */
static int commit_update(struct trainer *t, uint64_t step)
{
	size_t bytes = t->own.count * sizeof(float);
	int rc = trainer_update_begin(t, step);

	if (rc < 0)
		return rc;
	if (t->opt.shard == SHARD_ZERO1)
		memcpy(t->weights, t->full, t->params * sizeof(float));
	else
		memcpy(t->weights, t->full + t->own.offset, bytes);
	memcpy(t->adam_m, t->next_m, bytes);
	memcpy(t->adam_v, t->next_v, bytes);
	if (t->session)
		lcr_update_end(t->session, step);
	return 0;
}

int sharded_update(struct trainer *t, uint64_t step)
{
	size_t bytes = t->own.count * sizeof(float);
	float *slice = t->full + t->own.offset; /* none: gathered for this step's forward pass */
	int rc;

	if (t->opt.shard == SHARD_ZERO1)
		memcpy(slice, t->weights + t->own.offset, bytes);
	memcpy(t->next_m, t->adam_m, bytes);
	memcpy(t->next_v, t->adam_v, bytes);
	mlp_adam_update(t->own.count, slice, t->next_m, t->next_v, t->grad + t->own.offset, t->opt.lr, step);
	if (t->opt.shard == SHARD_ZERO1) {
		rc = shard_allgather(broadcast_for_gather, t, t->full, t->params, t->opt.size);
		if (rc < 0)
			return rc;
	}
	return commit_update(t, step);
}

int sharded_checkpoint_together(struct trainer *t, uint64_t step)
{
	uint64_t saved = LCR_NO_STEP;
	int rc = trainer_barrier(t);

	if (rc < 0)
		return rc;
	if (!t->session)
		return 0;
	rc = lcr_checkpoint(t->session, &saved);
	if (rc < 0)
		fprintf(stderr, "trainer: rank %u: checkpoint after step %" PRIu64 " refused: %s (%s)\n", t->opt.rank,
			step, lcr_strerror(rc), lcr_last_error(t->session));
	else
		printf("trainer: rank %u: checkpoint of step %" PRIu64 " saved\n", t->opt.rank, saved);
	return 0;
}

/* This rank's state hash: the XXH3 of the XXH3s of its weights, m and v. */
static uint64_t state_hash(const struct trainer *t)
{
	size_t weights = t->opt.shard == SHARD_NONE ? t->own.count : t->params;
	uint64_t parts[3] = {
		XXH3_64bits(t->weights, weights * sizeof(float)),
		XXH3_64bits(t->adam_m, t->own.count * sizeof(float)),
		XXH3_64bits(t->adam_v, t->own.count * sizeof(float)),
	};

	return XXH3_64bits(parts, sizeof(parts));
}

/* Every rank's state hash, in rank order, into hashes[size]: each rank fills its slot and
 * the sum over the ranks (of zeros but one per slot) is exact. */
static int gather_state_hashes(struct trainer *t, uint64_t *hashes)
{
	uint64_t mine = state_hash(t);
	int64_t *slots = calloc(t->opt.size, sizeof(*slots));
	int rc;

	if (!slots)
		return -ENOMEM;
	memcpy(&slots[t->opt.rank], &mine, sizeof(mine));
	rc = trainer_allreduce(t, slots, t->opt.size, LCR_DTYPE_INT64);
	if (rc == 0)
		memcpy(hashes, slots, t->opt.size * sizeof(*hashes));
	free(slots);
	return rc;
}

int sharded_final_line(struct trainer *t, double steps_per_second)
{
	uint64_t *hashes = calloc(t->opt.size, sizeof(*hashes));
	int rc = hashes ? gather_state_hashes(t, hashes) : -ENOMEM;

	if (rc == 0 && t->opt.shard == SHARD_NONE)
		rc = sharded_gather_weights(t);
	if (rc < 0) {
		fprintf(stderr, "trainer: rank %u: exchanging the final state hashes failed: %s\n", t->opt.rank,
			lcr_strerror(rc));
		free(hashes);
		return 75;
	}
	const float *weights = t->opt.shard == SHARD_NONE ? t->full : t->weights;
	printf("final rank %u step %" PRIu64 " steps/s %.2f weights %016llx checksum %016llx\n", t->opt.rank,
	       t->opt.steps, steps_per_second,
	       (unsigned long long)XXH3_64bits(weights, t->params * sizeof(float)),
	       (unsigned long long)XXH3_64bits(hashes, t->opt.size * sizeof(*hashes)));
	free(hashes);
	return 0;
}
