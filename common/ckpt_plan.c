/* ckpt_plan.c: choosing the step of a checkpoint and splitting its shards across writers
 * (see ckpt_plan.h). Reports are looked at through an index sorted by (shard key, rank), so
 * a shard is a run of consecutive entries and the result does not depend on the order in
 * which the reports arrived. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/ckpt_plan.h"

#define STEPS_SHOWN 4 /* steps of a shard listed in a message */

static int plan_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int plan_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

int ckpt_report_holds_step(const struct ckpt_report *r, uint64_t step)
{
	return r->phase == WIRE_PHASE_COMMITTED && r->committed_step != WIRE_NO_STEP &&
	       r->committed_step == step;
}

static bool holds_commit(const struct ckpt_report *r)
{
	return r->phase == WIRE_PHASE_COMMITTED && r->committed_step != WIRE_NO_STEP;
}

void ckpt_reports_free(struct ckpt_report *reports, size_t count)
{
	for (size_t i = 0; reports && i < count; i++)
		free(reports[i].regions);
	free(reports);
}

/* --- reports sorted by shard --- */

/* The reports as a sorted index, and the runs of it that are shards. */
struct shard_index {
	const struct ckpt_report **sorted;
	size_t count;
	size_t *starts; /* shard i is sorted[starts[i] .. starts[i + 1]) */
	size_t shards;
};

static int compare_reports(const void *a, const void *b)
{
	const struct ckpt_report *x = *(const struct ckpt_report *const *)a;
	const struct ckpt_report *y = *(const struct ckpt_report *const *)b;
	int c = strcmp(x->shard_key, y->shard_key);
	if (c)
		return c;
	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

static void shard_index_free(struct shard_index *ix)
{
	free(ix->sorted);
	free(ix->starts);
}

/* Checks that no rank is reported twice and every rank has a shard key, then indexes. */
static int shard_index_build(const struct ckpt_report *reports, size_t count,
			     struct shard_index *ix, char *err, size_t errlen)
{
	memset(ix, 0, sizeof(*ix));
	if (count == 0)
		return plan_fail(err, errlen, -ENODATA, "no rank has registered: there is no state "
				 "to save");
	ix->sorted = malloc(count * sizeof(*ix->sorted));
	ix->starts = malloc((count + 1) * sizeof(*ix->starts));
	if (!ix->sorted || !ix->starts) {
		shard_index_free(ix);
		return plan_fail(err, errlen, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < count; i++)
		ix->sorted[i] = &reports[i];
	qsort(ix->sorted, count, sizeof(*ix->sorted), compare_reports);
	ix->count = count;
	for (size_t i = 0; i < count; i++) {
		const struct ckpt_report *r = ix->sorted[i];
		if (!r->shard_key[0]) {
			shard_index_free(ix);
			return plan_fail(err, errlen, -EINVAL, "rank %" PRIu32 " registered without a "
					 "shard key: its state cannot be checkpointed", r->rank);
		}
		if (i == 0 || strcmp(ix->sorted[i - 1]->shard_key, r->shard_key) != 0)
			ix->starts[ix->shards++] = i;
	}
	ix->starts[ix->shards] = count;
	for (size_t i = 0; i < count; i++)
		for (size_t j = i + 1; j < count; j++)
			if (reports[i].rank == reports[j].rank) {
				shard_index_free(ix);
				return plan_fail(err, errlen, -EINVAL, "rank %" PRIu32 " is reported "
						 "twice", reports[i].rank);
			}
	return 0;
}

static bool shard_holds_step(const struct shard_index *ix, size_t shard, uint64_t step)
{
	for (size_t i = ix->starts[shard]; i < ix->starts[shard + 1]; i++)
		if (ckpt_report_holds_step(ix->sorted[i], step))
			return true;
	return false;
}

/* --- choosing the step --- */

/* "rank 1 updating (last committed step 7), rank 3 never committed" */
static void describe_replicas(const struct shard_index *ix, size_t shard, char *buf, size_t cap)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = ix->starts[shard]; i < ix->starts[shard + 1] && used < cap; i++) {
		const struct ckpt_report *r = ix->sorted[i];
		const char *sep = i > ix->starts[shard] ? ", " : "";
		if (r->committed_step == WIRE_NO_STEP)
			used += (size_t)snprintf(buf + used, cap - used, "%srank %" PRIu32 " %s", sep,
						 r->rank, r->phase == WIRE_PHASE_UPDATING ?
						 "updating its first step" : "never committed");
		else
			used += (size_t)snprintf(buf + used, cap - used, "%srank %" PRIu32 " %s (last "
						 "committed step %" PRIu64 ")", sep, r->rank,
						 r->phase == WIRE_PHASE_UPDATING ? "updating" :
						 "not committed", r->committed_step);
	}
}

/* "shard 'a' holds step 8; shard 'b' holds steps 7, 6" */
static void describe_steps(const struct shard_index *ix, char *buf, size_t cap)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t s = 0; s < ix->shards && used < cap; s++) {
		size_t shown = 0;
		used += (size_t)snprintf(buf + used, cap - used, "%sshard '%s' holds step", s ? "; " : "",
					 ix->sorted[ix->starts[s]]->shard_key);
		for (size_t i = ix->starts[s]; i < ix->starts[s + 1] && used < cap; i++) {
			const struct ckpt_report *r = ix->sorted[i];
			if (!holds_commit(r) || shown == STEPS_SHOWN)
				continue;
			used += (size_t)snprintf(buf + used, cap - used, "%s %" PRIu64 " (rank %" PRIu32
						 ")", shown ? "," : "", r->committed_step, r->rank);
			shown++;
		}
	}
}

static int choose_from_index(const struct shard_index *ix, uint64_t *step, char *err,
			     size_t errlen)
{
	char what[1024];
	bool found = false;
	for (size_t s = 0; s < ix->shards; s++) {
		bool any = false;
		for (size_t i = ix->starts[s]; i < ix->starts[s + 1]; i++)
			any |= holds_commit(ix->sorted[i]);
		if (!any) {
			describe_replicas(ix, s, what, sizeof(what));
			return plan_fail(err, errlen, -ENODATA, "shard '%s' has no replica whose "
					 "state is committed: %s", ix->sorted[ix->starts[s]]->shard_key,
					 what);
		}
	}
	/* Candidates: the steps the first shard holds; the newest that every shard holds. */
	for (size_t i = ix->starts[0]; i < ix->starts[1]; i++) {
		const struct ckpt_report *r = ix->sorted[i];
		bool everywhere = holds_commit(r) && (!found || r->committed_step > *step);
		for (size_t s = 1; everywhere && s < ix->shards; s++)
			everywhere = shard_holds_step(ix, s, r->committed_step);
		if (everywhere) {
			*step = r->committed_step;
			found = true;
		}
	}
	if (found)
		return 0;
	describe_steps(ix, what, sizeof(what));
	return plan_fail(err, errlen, -ENODATA, "no step is committed on a replica of every "
			 "shard: %s", what);
}

int ckpt_plan_choose_step(const struct ckpt_report *reports, size_t count, uint64_t *step,
			  char *err, size_t errlen)
{
	struct shard_index ix;
	int rc = shard_index_build(reports, count, &ix, err, errlen);
	if (rc < 0)
		return rc;
	rc = choose_from_index(&ix, step, err, errlen);
	shard_index_free(&ix);
	return rc;
}

/* --- building the manifest --- */

static int compare_region_reports(const void *a, const void *b)
{
	return strcmp(((const struct ckpt_region_report *)a)->name,
		      ((const struct ckpt_region_report *)b)->name);
}

/* The holder's regions, sorted by name, must be the other holders' too. */
static int same_regions(const struct ckpt_report *a, const struct ckpt_report *b,
			const char *key, char *err, size_t errlen)
{
	if (a->region_count != b->region_count)
		return plan_fail(err, errlen, -EINVAL, "ranks %" PRIu32 " and %" PRIu32 " of shard "
				 "'%s' hold %zu and %zu regions: replicas must hold the same", a->rank,
				 b->rank, key, a->region_count, b->region_count);
	for (size_t i = 0; i < a->region_count; i++) {
		const struct ckpt_region_report *x = &a->regions[i], *y = &b->regions[i];
		if (strcmp(x->name, y->name) != 0 || x->size != y->size || x->kind != y->kind)
			return plan_fail(err, errlen, -EINVAL, "ranks %" PRIu32 " and %" PRIu32 " of "
					 "shard '%s' differ: region '%s' (%" PRIu64 " bytes, %s) against "
					 "'%s' (%" PRIu64 " bytes, %s)", a->rank, b->rank, key, x->name,
					 x->size, manifest_kind_name(x->kind), y->name, y->size,
					 manifest_kind_name(y->kind));
	}
	return 0;
}

/* Adds the node of r to the writers unless it is there: at its place by node id when
 * `sorted` (before any range names a writer), else at the end (range indices stay valid). */
static int add_writer(struct manifest *m, const struct ckpt_report *r, bool sorted, char *err,
		      size_t errlen)
{
	size_t at = 0;
	for (size_t i = 0; i < m->writer_count; i++) {
		if (m->writers[i].node_id == r->node_id) {
			if (strcmp(m->writers[i].node, r->node) == 0)
				return 0;
			return plan_fail(err, errlen, -EINVAL, "node id %" PRIu32 " is reported as "
					 "both '%s' and '%s'", r->node_id, m->writers[i].node, r->node);
		}
		if (!sorted || m->writers[i].node_id < r->node_id)
			at = i + 1;
	}
	struct manifest_writer *grown = realloc(m->writers, (m->writer_count + 1) * sizeof(*grown));
	if (!grown)
		return plan_fail(err, errlen, -ENOMEM, "out of memory");
	m->writers = grown;
	memmove(&grown[at + 1], &grown[at], (m->writer_count - at) * sizeof(*grown));
	memset(&grown[at], 0, sizeof(*grown));
	strcpy(grown[at].node, r->node);
	grown[at].node_id = r->node_id;
	m->writer_count++;
	return 0;
}

static uint32_t writer_index(const struct manifest *m, uint32_t node_id)
{
	uint32_t i = 0;
	while (i < m->writer_count && m->writers[i].node_id != node_id)
		i++;
	return i;
}

static int append_range(struct manifest_region *r, uint64_t offset, uint64_t length,
			uint32_t writer)
{
	struct manifest_range *grown = realloc(r->ranges, (r->range_count + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	r->ranges = grown;
	grown[r->range_count++] = (struct manifest_range){ .offset = offset, .length = length,
							   .writer = writer };
	return 0;
}

/* Bytes [a, b) of a region go to one writer, in ranges of at most range_max. */
static int add_piece(struct manifest_region *r, uint64_t a, uint64_t b, uint32_t writer,
		     const struct ckpt_plan_params *p)
{
	for (uint64_t at = a; at < b; at += p->range_max) {
		uint64_t end = b - at < p->range_max ? b : at + p->range_max;
		if (append_range(r, at, end - at, writer) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* The writers of a shard: the distinct nodes of its holders at `step`, by node id, rotated
 * by the shard's index so that the rounding of the cuts does not favour one node. */
static size_t shard_writers(const struct shard_index *ix, size_t shard, uint64_t step,
			    uint32_t *nodes)
{
	size_t n = 0;
	for (size_t i = ix->starts[shard]; i < ix->starts[shard + 1]; i++) {
		const struct ckpt_report *r = ix->sorted[i];
		size_t at = 0;
		if (!ckpt_report_holds_step(r, step))
			continue;
		while (at < n && nodes[at] < r->node_id)
			at++;
		if (at < n && nodes[at] == r->node_id)
			continue;
		memmove(&nodes[at + 1], &nodes[at], (n - at) * sizeof(*nodes));
		nodes[at] = r->node_id;
		n++;
	}
	for (size_t turn = 0; n > 1 && turn < shard % n; turn++) {
		uint32_t first = nodes[0];
		memmove(&nodes[0], &nodes[1], (n - 1) * sizeof(*nodes));
		nodes[n - 1] = first;
	}
	return n;
}

/* Where the k-th of n equal parts of a shard's `total` bytes ends, in the shard's byte
 * stream (its regions one after the other), moved back to an aligned offset of the region
 * it falls in. */
static uint64_t aligned_cut(const struct manifest_shard *s, uint64_t total, size_t k, size_t n,
			    uint64_t alignment)
{
	uint64_t target = total / n * k + total % n * k / n, start = 0;
	if (k == n)
		return total;
	for (size_t j = 0; j < s->region_count; j++) {
		uint64_t size = s->regions[j].size;
		if (target < start + size) {
			uint64_t inside = target - start;
			return start + inside - inside % alignment;
		}
		start += size;
	}
	return total;
}

/* Splits the shard's regions across its writers (node ids in nodes[n]). */
static int split_shard(struct manifest *m, struct manifest_shard *s, const uint32_t *nodes,
		       size_t n, const struct ckpt_plan_params *p)
{
	uint64_t total = 0, start = 0;
	for (size_t j = 0; j < s->region_count; j++)
		total += s->regions[j].size;
	for (size_t j = 0; j < s->region_count; j++) {
		struct manifest_region *r = &s->regions[j];
		for (size_t k = 0; k < n; k++) {
			uint64_t lo = aligned_cut(s, total, k, n, p->alignment);
			uint64_t hi = aligned_cut(s, total, k + 1, n, p->alignment);
			uint64_t from = lo > start ? lo : start;
			uint64_t to = hi < start + r->size ? hi : start + r->size;
			if (from >= to)
				continue;
			uint32_t w = writer_index(m, nodes[k]);
			if (add_piece(r, from - start, to - start, w, p) < 0)
				return -ENOMEM;
			m->writers[w].bytes += to - from;
		}
		start += r->size;
	}
	return 0;
}

/* The shard's layout from its reports: ranks, data-parallel size, regions, files. */
static int describe_shard(const struct shard_index *ix, size_t shard, uint64_t step,
			  struct manifest_shard *s, char *err, size_t errlen)
{
	const struct ckpt_report *first = NULL;
	size_t begin = ix->starts[shard], end = ix->starts[shard + 1];
	int rc;
	strcpy(s->key, ix->sorted[begin]->shard_key);
	s->dp_size = ix->sorted[begin]->dp_size;
	s->rank_count = end - begin;
	s->ranks = malloc(s->rank_count * sizeof(*s->ranks));
	if (!s->ranks)
		return plan_fail(err, errlen, -ENOMEM, "out of memory");
	for (size_t i = begin; i < end; i++) {
		const struct ckpt_report *r = ix->sorted[i];
		s->ranks[i - begin] = r->rank;
		if (r->dp_size != s->dp_size)
			return plan_fail(err, errlen, -EINVAL, "ranks %" PRIu32 " and %" PRIu32 " of "
					 "shard '%s' registered with data-parallel sizes %" PRIu32
					 " and %" PRIu32, ix->sorted[begin]->rank, r->rank, s->key,
					 s->dp_size, r->dp_size);
		if (!ckpt_report_holds_step(r, step))
			continue;
		if (first && (rc = same_regions(first, r, s->key, err, errlen)) < 0)
			return rc;
		if (!first)
			first = r;
	}
	if (!first)
		return plan_fail(err, errlen, -ENODATA, "shard '%s' has no replica whose committed "
				 "step is %" PRIu64, s->key, step);
	s->region_count = first->region_count;
	s->regions = calloc(s->region_count + 1, sizeof(*s->regions));
	if (!s->regions)
		return plan_fail(err, errlen, -ENOMEM, "out of memory");
	for (size_t j = 0; j < s->region_count; j++) {
		struct manifest_region *r = &s->regions[j];
		strcpy(r->name, first->regions[j].name);
		r->kind = first->regions[j].kind;
		r->size = first->regions[j].size;
		snprintf(r->file, sizeof(r->file), "s%zu-%s", shard, r->name);
	}
	return 0;
}

/* Sorts each report's regions by name, in a copy the caller frees with ckpt_reports_free. */
static int sorted_copy(const struct ckpt_report *reports, size_t count,
		       struct ckpt_report **out, char *err, size_t errlen)
{
	struct ckpt_report *copy = calloc(count + 1, sizeof(*copy));
	if (!copy)
		return plan_fail(err, errlen, -ENOMEM, "out of memory");
	for (size_t i = 0; i < count; i++) {
		copy[i] = reports[i];
		copy[i].regions = malloc((reports[i].region_count + 1) * sizeof(*copy[i].regions));
		if (!copy[i].regions) {
			ckpt_reports_free(copy, i);
			return plan_fail(err, errlen, -ENOMEM, "out of memory");
		}
		memcpy(copy[i].regions, reports[i].regions,
		       reports[i].region_count * sizeof(*copy[i].regions));
		qsort(copy[i].regions, copy[i].region_count, sizeof(*copy[i].regions),
		      compare_region_reports);
	}
	*out = copy;
	return 0;
}

static int build_from_index(const struct shard_index *ix, uint64_t step,
			    const struct ckpt_plan_params *p, struct manifest *m, char *err,
			    size_t errlen)
{
	uint32_t *nodes = malloc(ix->count * sizeof(*nodes));
	int rc = 0;
	m->shards = calloc(ix->shards, sizeof(*m->shards));
	if (!nodes || !m->shards) {
		rc = plan_fail(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	m->shard_count = ix->shards;
	for (size_t s = 0; s < ix->shards && rc == 0; s++)
		rc = describe_shard(ix, s, step, &m->shards[s], err, errlen);
	for (size_t i = 0; i < ix->count && rc == 0; i++)
		if (ckpt_report_holds_step(ix->sorted[i], step))
			rc = add_writer(m, ix->sorted[i], true, err, errlen);
	for (size_t s = 0; s < ix->shards && rc == 0; s++) {
		size_t n = shard_writers(ix, s, step, nodes);
		if (split_shard(m, &m->shards[s], nodes, n, p) < 0)
			rc = plan_fail(err, errlen, -ENOMEM, "out of memory");
	}
out:
	free(nodes);
	return rc;
}

int ckpt_plan_build(const struct ckpt_report *reports, size_t count, uint64_t step,
		    const struct ckpt_plan_params *params, struct manifest *out, char *err,
		    size_t errlen)
{
	struct ckpt_report *copy = NULL;
	struct shard_index ix = { 0 };
	int rc;
	memset(out, 0, sizeof(*out));
	if (params->alignment < MANIFEST_MIN_ALIGNMENT ||
	    (params->alignment & (params->alignment - 1)) || params->range_max == 0 ||
	    params->range_max % params->alignment)
		return plan_fail(err, errlen, -EINVAL, "bad plan parameters: alignment %" PRIu64
				 ", range size %" PRIu64, params->alignment, params->range_max);
	rc = sorted_copy(reports, count, &copy, err, errlen);
	if (rc == 0)
		rc = shard_index_build(copy, count, &ix, err, errlen);
	if (rc < 0)
		goto out;
	out->job_id = params->job_id;
	out->step = step;
	out->alignment = params->alignment;
	out->rank_count = (uint32_t)count;
	rc = build_from_index(&ix, step, params, out, err, errlen);
	if (rc == 0)
		rc = manifest_check(out, "checkpoint plan", err, errlen);
out:
	shard_index_free(&ix);
	ckpt_reports_free(copy, count);
	if (rc < 0)
		manifest_free(out);
	return rc;
}

/* --- covering a lost writer --- */

/* The nodes other than `lost` with a replica of `key` at `step`, by node id. */
static size_t other_holders(const struct ckpt_report *reports, size_t count, const char *key,
			    uint64_t step, uint32_t lost, const struct ckpt_report **out)
{
	size_t n = 0;
	for (size_t i = 0; i < count; i++) {
		const struct ckpt_report *r = &reports[i];
		size_t at = 0;
		if (r->node_id == lost || strcmp(r->shard_key, key) != 0 ||
		    !ckpt_report_holds_step(r, step))
			continue;
		while (at < n && out[at]->node_id < r->node_id)
			at++;
		if (at < n && out[at]->node_id == r->node_id)
			continue;
		memmove(&out[at + 1], &out[at], (n - at) * sizeof(*out));
		out[at] = r;
		n++;
	}
	return n;
}

/* The ranges that changed writer. */
struct moved_list {
	struct ckpt_range_ref *refs;
	size_t count;
};

static int note_moved(struct moved_list *moved, uint32_t shard, uint32_t region, uint32_t range)
{
	struct ckpt_range_ref *grown = realloc(moved->refs, (moved->count + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	moved->refs = grown;
	grown[moved->count++] = (struct ckpt_range_ref){ shard, region, range };
	return 0;
}

static int reassign_shard(struct manifest *m, uint32_t shard, uint32_t lost_writer,
			  const struct ckpt_report *reports, size_t count,
			  const struct ckpt_report **holders, struct moved_list *moved, char *err,
			  size_t errlen)
{
	struct manifest_shard *s = &m->shards[shard];
	size_t n = other_holders(reports, count, s->key, m->step, m->writers[lost_writer].node_id,
				 holders), next = 0;
	int rc;
	for (uint32_t j = 0; j < s->region_count; j++) {
		struct manifest_region *r = &s->regions[j];
		for (uint32_t k = 0; k < r->range_count; k++) {
			if (r->ranges[k].writer != lost_writer)
				continue;
			if (n == 0)
				return plan_fail(err, errlen, -EHOSTDOWN, "no other node holds shard "
						 "'%s' at step %" PRIu64 ": the checkpoint cannot be "
						 "completed without node %s", s->key, m->step,
						 m->writers[lost_writer].node);
			const struct ckpt_report *to = holders[next++ % n];
			if ((rc = add_writer(m, to, false, err, errlen)) < 0)
				return rc;
			r->ranges[k].writer = writer_index(m, to->node_id);
			if (note_moved(moved, shard, j, k) < 0)
				return plan_fail(err, errlen, -ENOMEM, "out of memory");
		}
	}
	return 0;
}

/* Removes writer w (which writes nothing now) and recounts every writer's bytes. */
static void drop_writer(struct manifest *m, uint32_t w)
{
	memmove(&m->writers[w], &m->writers[w + 1], (m->writer_count - w - 1) * sizeof(*m->writers));
	m->writer_count--;
	for (size_t i = 0; i < m->writer_count; i++)
		m->writers[i].bytes = 0;
	for (size_t i = 0; i < m->shard_count; i++)
		for (size_t j = 0; j < m->shards[i].region_count; j++) {
			struct manifest_region *r = &m->shards[i].regions[j];
			for (size_t k = 0; k < r->range_count; k++) {
				if (r->ranges[k].writer > w)
					r->ranges[k].writer--;
				m->writers[r->ranges[k].writer].bytes += r->ranges[k].length;
			}
		}
}

int ckpt_plan_reassign(struct manifest *m, const struct ckpt_report *reports, size_t count,
		       uint32_t lost_node_id, struct ckpt_range_ref **moved_out, size_t *moved_count,
		       char *err, size_t errlen)
{
	const struct ckpt_report **holders = malloc((count + 1) * sizeof(*holders));
	struct moved_list moved = { 0 };
	uint32_t lost = writer_index(m, lost_node_id);
	int rc = 0;
	if (!holders)
		return plan_fail(err, errlen, -ENOMEM, "out of memory");
	if (lost == m->writer_count)
		goto out;
	for (uint32_t i = 0; i < m->shard_count && rc == 0; i++)
		rc = reassign_shard(m, i, lost, reports, count, holders, &moved, err, errlen);
	if (rc == 0) {
		drop_writer(m, lost);
		rc = manifest_check(m, "checkpoint plan", err, errlen);
	}
out:
	free(holders);
	if (rc == 0 && moved_out) {
		*moved_out = moved.refs;
		*moved_count = moved.count;
		moved.refs = NULL;
	}
	free(moved.refs);
	return rc;
}

uint32_t ckpt_plan_ranks_without_replica(const struct manifest *m, uint32_t total_ranks)
{
	uint64_t in_plan = 0, replicated_elsewhere = 0;
	for (size_t i = 0; i < m->shard_count; i++) {
		const struct manifest_shard *s = &m->shards[i];
		in_plan += s->rank_count;
		if (s->dp_size > s->rank_count)
			replicated_elsewhere += s->dp_size - s->rank_count;
	}
	uint64_t missing = total_ranks > in_plan ? total_ranks - in_plan : 0;
	/* More replicas missing than ranks: the sizes do not count replicas of one key (ZeRO
	 * ranks that register the data-parallel size with a key each), so none is trusted. */
	if (replicated_elsewhere > missing)
		return (uint32_t)missing;
	return (uint32_t)(missing - replicated_elsewhere);
}

size_t ckpt_plan_range_count(const struct manifest *m)
{
	size_t n = 0;
	for (size_t i = 0; i < m->shard_count; i++)
		for (size_t j = 0; j < m->shards[i].region_count; j++)
			n += m->shards[i].regions[j].range_count;
	return n;
}
