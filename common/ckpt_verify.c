/* ckpt_verify.c: which replica checks each range of a checkpoint, and the leader's
 * comparison of the hashes it receives (see ckpt_verify.h). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/ckpt_verify.h"

struct ckpt_verify_seen {
	uint32_t rank;
	uint64_t xxh3;
	bool seen;
	bool compared;
};

/* --- assigning the checks --- */

/* The replicas of `key` that hold `step`, by rank, into holders (room for count). */
static size_t shard_holders(const struct ckpt_report *reports, size_t count, const char *key,
			    uint64_t step, const struct ckpt_report **holders)
{
	size_t n = 0;
	for (size_t i = 0; i < count; i++) {
		const struct ckpt_report *r = &reports[i];
		size_t at = n;
		if (strcmp(r->shard_key, key) != 0 || !ckpt_report_holds_step(r, step))
			continue;
		while (at > 0 && holders[at - 1]->rank > r->rank)
			at--;
		memmove(&holders[at + 1], &holders[at], (n - at) * sizeof(*holders));
		holders[at] = r;
		n++;
	}
	return n;
}

/* The rank the writer on node `node` reads: its lowest holder there (holders by rank). */
static const struct ckpt_report *writer_source(const struct ckpt_report **holders, size_t n,
					       uint32_t node)
{
	for (size_t i = 0; i < n; i++)
		if (holders[i]->node_id == node)
			return holders[i];
	return NULL;
}

/* The candidates to check a range read from `source`: the holders on other nodes, or, when
 * there are none, the other holders on its node. */
static size_t check_candidates(const struct ckpt_report **holders, size_t n,
			       const struct ckpt_report *source, const struct ckpt_report **out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (holders[i]->node_id != source->node_id)
			out[k++] = holders[i];
	if (k > 0)
		return k;
	for (size_t i = 0; i < n; i++)
		if (holders[i] != source)
			out[k++] = holders[i];
	return k;
}

static int assign_shard(const struct manifest *plan, uint32_t s,
			const struct ckpt_report **holders, size_t n,
			const struct ckpt_report **candidates, struct ckpt_check *checks,
			size_t *used)
{
	const struct manifest_shard *shard = &plan->shards[s];
	size_t turn = 0;
	for (uint32_t j = 0; j < shard->region_count; j++) {
		const struct manifest_region *r = &shard->regions[j];
		for (uint32_t k = 0; k < r->range_count; k++) {
			uint32_t node = plan->writers[r->ranges[k].writer].node_id;
			const struct ckpt_report *source = writer_source(holders, n, node);
			if (!source)
				return -EINVAL;
			size_t c = check_candidates(holders, n, source, candidates);
			if (c == 0)
				continue;
			const struct ckpt_report *checker = candidates[turn++ % c];
			checks[(*used)++] = (struct ckpt_check){ { s, j, k }, checker->node_id,
								 checker->rank };
		}
	}
	return 0;
}

int ckpt_verify_assign(const struct ckpt_report *reports, size_t count,
		       const struct manifest *plan, struct ckpt_check **checks,
		       size_t *check_count, char *err, size_t errlen)
{
	const struct ckpt_report **holders = calloc(count + 1, sizeof(*holders));
	const struct ckpt_report **candidates = calloc(count + 1, sizeof(*candidates));
	struct ckpt_check *out = calloc(ckpt_plan_range_count(plan) + 1, sizeof(*out));
	size_t used = 0;
	int rc = 0;
	*checks = NULL;
	*check_count = 0;
	if (!holders || !candidates || !out) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t s = 0; s < plan->shard_count && rc == 0; s++) {
		size_t n = shard_holders(reports, count, plan->shards[s].key, plan->step, holders);
		rc = assign_shard(plan, s, holders, n, candidates, out, &used);
		if (rc < 0)
			snprintf(err, errlen, "shard '%s': a writer of the plan holds no replica at "
				 "step %" PRIu64, plan->shards[s].key, plan->step);
	}
out:
	free(holders);
	free(candidates);
	if (rc == 0 && used > 0) {
		*checks = out;
		*check_count = used;
		out = NULL;
	}
	free(out);
	return rc;
}

/* --- comparing --- */

int ckpt_verify_init(struct ckpt_verify *v, const struct manifest *plan)
{
	memset(v, 0, sizeof(*v));
	v->range_count = ckpt_plan_range_count(plan);
	v->seen = calloc(v->range_count + 1, sizeof(*v->seen));
	return v->seen ? 0 : -ENOMEM;
}

void ckpt_verify_free(struct ckpt_verify *v)
{
	free(v->seen);
	memset(v, 0, sizeof(*v));
}

/* The index of ref among the plan's ranges, or range_count when it has no such range. */
static size_t range_index(const struct manifest *plan, const struct ckpt_range_ref *ref)
{
	size_t index = 0;
	if (ref->shard >= plan->shard_count ||
	    ref->region >= plan->shards[ref->shard].region_count ||
	    ref->range >= plan->shards[ref->shard].regions[ref->region].range_count)
		return ckpt_plan_range_count(plan);
	for (uint32_t s = 0; s <= ref->shard; s++)
		for (uint32_t j = 0; j < plan->shards[s].region_count; j++) {
			if (s == ref->shard && j == ref->region)
				return index + ref->range;
			index += plan->shards[s].regions[j].range_count;
		}
	return index;
}

int ckpt_verify_add(struct ckpt_verify *v, const struct manifest *plan,
		    const struct ckpt_range_ref *ref, uint32_t rank, uint64_t xxh3,
		    struct ckpt_divergence *d)
{
	size_t i = range_index(plan, ref);
	if (i >= v->range_count)
		return -EINVAL;
	struct ckpt_verify_seen *seen = &v->seen[i];
	if (!seen->seen) {
		*seen = (struct ckpt_verify_seen){ .rank = rank, .xxh3 = xxh3, .seen = true };
		return 0;
	}
	if (seen->xxh3 == xxh3) {
		if (seen->rank != rank && !seen->compared) {
			seen->compared = true;
			v->compared++;
		}
		return 0;
	}
	const struct manifest_shard *s = &plan->shards[ref->shard];
	const struct manifest_region *r = &s->regions[ref->region];
	*d = (struct ckpt_divergence){ .offset = r->ranges[ref->range].offset,
				       .length = r->ranges[ref->range].length,
				       .rank_a = seen->rank, .xxh3_a = seen->xxh3,
				       .rank_b = rank, .xxh3_b = xxh3 };
	strcpy(d->shard_key, s->key);
	strcpy(d->region, r->name);
	return 1;
}

size_t ckpt_verify_compared(const struct ckpt_verify *v)
{
	return v->compared;
}

void ckpt_verify_describe(const struct ckpt_divergence *d, char *buf, size_t cap)
{
	uint32_t low = d->rank_a < d->rank_b ? d->rank_a : d->rank_b;
	uint32_t high = d->rank_a < d->rank_b ? d->rank_b : d->rank_a;
	snprintf(buf, cap, "shard '%s': ranks %" PRIu32 " and %" PRIu32 " hold different bytes in "
		 "region '%s' at offset %" PRIu64 ", length %" PRIu64, d->shard_key, low, high,
		 d->region, d->offset, d->length);
}
