/* snapshot_rounds.c: the leader's account of snapshot rounds (see
 * internal/snapshot_rounds.h for the rules). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/snapshot_rounds.h"

int snapshot_rounds_init(struct snapshot_rounds *r, uint32_t node_count)
{
	memset(r, 0, sizeof(*r));
	r->node_count = node_count;
	r->protected_step = SNAPSHOT_ROUNDS_NO_STEP;
	r->last_reported = malloc((node_count ? node_count : 1) * sizeof(*r->last_reported));
	if (!r->last_reported)
		return -ENOMEM;
	for (uint32_t i = 0; i < node_count; i++)
		r->last_reported[i] = SNAPSHOT_ROUNDS_NO_STEP;
	for (size_t i = 0; i < SNAPSHOT_ROUNDS_OPEN_MAX; i++) {
		r->open[i].step = SNAPSHOT_ROUNDS_NO_STEP;
		r->open[i].ok = calloc(node_count ? node_count : 1, 1);
		if (!r->open[i].ok) {
			snapshot_rounds_fini(r);
			return -ENOMEM;
		}
	}
	return 0;
}

void snapshot_rounds_fini(struct snapshot_rounds *r)
{
	for (size_t i = 0; i < SNAPSHOT_ROUNDS_OPEN_MAX; i++)
		free(r->open[i].ok);
	free(r->last_reported);
	memset(r, 0, sizeof(*r));
}

static bool has_protected(const struct snapshot_rounds *r)
{
	return r->protected_step != SNAPSHOT_ROUNDS_NO_STEP;
}

static void free_round(struct snapshot_rounds *r, struct snapshot_round *x)
{
	x->step = SNAPSHOT_ROUNDS_NO_STEP;
	x->bytes = 0;
	x->failed = false;
	x->why[0] = '\0';
	memset(x->ok, 0, r->node_count);
}

static struct snapshot_round *find_round(struct snapshot_rounds *r, uint64_t step)
{
	for (size_t i = 0; i < SNAPSHOT_ROUNDS_OPEN_MAX; i++)
		if (r->open[i].step == step)
			return &r->open[i];
	return NULL;
}

static struct snapshot_round *oldest_round(struct snapshot_rounds *r)
{
	struct snapshot_round *oldest = NULL;
	for (size_t i = 0; i < SNAPSHOT_ROUNDS_OPEN_MAX; i++)
		if (r->open[i].step != SNAPSHOT_ROUNDS_NO_STEP &&
		    (!oldest || r->open[i].step < oldest->step))
			oldest = &r->open[i];
	return oldest;
}

/* The round of step, opened when it is new (the oldest open one is failed to make room:
 * decide announces it). */
static struct snapshot_round *open_round(struct snapshot_rounds *r, uint64_t step)
{
	struct snapshot_round *x = find_round(r, step);
	if (x)
		return x;
	x = find_round(r, SNAPSHOT_ROUNDS_NO_STEP);
	if (!x) {
		struct snapshot_round *oldest = oldest_round(r);
		if (oldest->step > step)
			return NULL;
		if (!oldest->failed)
			snprintf(oldest->why, sizeof(oldest->why), "%d newer rounds opened before "
				 "every node had reported it", SNAPSHOT_ROUNDS_OPEN_MAX);
		oldest->failed = true;
		return NULL;
	}
	x->step = step;
	return x;
}

void snapshot_rounds_report(struct snapshot_rounds *r, uint32_t node, uint64_t step, bool ok,
			    uint64_t bytes, const char *why)
{
	if (node >= r->node_count || step == SNAPSHOT_ROUNDS_NO_STEP)
		return;
	if (r->last_reported[node] == SNAPSHOT_ROUNDS_NO_STEP || r->last_reported[node] < step)
		r->last_reported[node] = step;
	if (has_protected(r) && step <= r->protected_step)
		return;
	struct snapshot_round *x = open_round(r, step);
	if (!x && !(x = open_round(r, step)))
		return;
	if (ok && !x->ok[node]) {
		x->ok[node] = 1;
		x->bytes += bytes;
	} else if (!ok && !x->failed) {
		x->failed = true;
		snprintf(x->why, sizeof(x->why), "%s", why && why[0] ? why : "a node failed it");
	}
}

void snapshot_rounds_node_lost(struct snapshot_rounds *r, uint32_t node)
{
	if (node >= r->node_count)
		return;
	for (size_t i = 0; i < SNAPSHOT_ROUNDS_OPEN_MAX; i++) {
		struct snapshot_round *x = &r->open[i];
		if (x->step == SNAPSHOT_ROUNDS_NO_STEP || x->ok[node] || x->failed)
			continue;
		x->failed = true;
		snprintf(x->why, sizeof(x->why), "node %" PRIu32 " was lost before its snapshot of "
			 "step %" PRIu64 " was held", node, x->step);
	}
}

void snapshot_rounds_rollback(struct snapshot_rounds *r, uint64_t step)
{
	for (size_t i = 0; i < SNAPSHOT_ROUNDS_OPEN_MAX; i++)
		if (r->open[i].step != SNAPSHOT_ROUNDS_NO_STEP && r->open[i].step > step)
			free_round(r, &r->open[i]);
	for (uint32_t i = 0; i < r->node_count; i++)
		if (r->last_reported[i] != SNAPSHOT_ROUNDS_NO_STEP && r->last_reported[i] > step)
			r->last_reported[i] = step;
}

/* Whether every live node reported x ok. */
static bool all_ok(const struct snapshot_round *x, const uint32_t *live, uint32_t live_count)
{
	for (uint32_t i = 0; i < live_count; i++)
		if (!x->ok[live[i]])
			return false;
	return live_count > 0;
}

/* A live node that went on to a later round without this one ok, or NULL: its id in *node. */
static bool passed_over(const struct snapshot_rounds *r, const struct snapshot_round *x,
			const uint32_t *live, uint32_t live_count, uint32_t *node)
{
	for (uint32_t i = 0; i < live_count; i++) {
		uint64_t last = r->last_reported[live[i]];
		if (!x->ok[live[i]] && last != SNAPSHOT_ROUNDS_NO_STEP && last > x->step) {
			*node = live[i];
			return true;
		}
	}
	return false;
}

/* The newest round every live node reported ok and none failed, or NULL. */
static struct snapshot_round *newest_complete(struct snapshot_rounds *r, const uint32_t *live,
					      uint32_t live_count)
{
	struct snapshot_round *best = NULL;
	for (size_t i = 0; i < SNAPSHOT_ROUNDS_OPEN_MAX; i++) {
		struct snapshot_round *x = &r->open[i];
		if (x->step != SNAPSHOT_ROUNDS_NO_STEP && !x->failed && all_ok(x, live, live_count) &&
		    (!best || x->step > best->step))
			best = x;
	}
	return best;
}

static size_t add_verdict(struct snapshot_verdict *out, size_t cap, size_t n,
			  const struct snapshot_round *x, bool protected)
{
	if (n >= cap)
		return n;
	out[n] = (struct snapshot_verdict){ .step = x->step, .protected = protected,
					    .bytes = x->bytes };
	snprintf(out[n].why, sizeof(out[n].why), "%s", protected ? "" : x->why);
	return n + 1;
}

/* Why x cannot be protected any more, into x->why; false while it still can. */
static bool settled_failed(struct snapshot_rounds *r, struct snapshot_round *x,
			   const uint32_t *live, uint32_t live_count)
{
	uint32_t node;
	if (x->failed)
		return true;
	if (has_protected(r) && x->step <= r->protected_step) {
		snprintf(x->why, sizeof(x->why), "step %" PRIu64 " is protected", r->protected_step);
		return true;
	}
	if (passed_over(r, x, live, live_count, &node)) {
		snprintf(x->why, sizeof(x->why), "node %" PRIu32 " went on to step %" PRIu64
			 " without a snapshot of step %" PRIu64, node, r->last_reported[node],
			 x->step);
		return true;
	}
	return false;
}

size_t snapshot_rounds_decide(struct snapshot_rounds *r, const uint32_t *live, uint32_t live_count,
			      struct snapshot_verdict *out, size_t cap)
{
	struct snapshot_round *done = newest_complete(r, live, live_count);
	size_t n = 0;
	if (done)
		r->protected_step = done->step;
	/* oldest first: the abandoned rounds below the protected one, then it */
	for (struct snapshot_round *x; (x = oldest_round(r)) != NULL && n < cap;) {
		if (x == done) {
			n = add_verdict(out, cap, n, x, true);
			free_round(r, x);
			done = NULL;
			continue;
		}
		if (!settled_failed(r, x, live, live_count))
			break;
		n = add_verdict(out, cap, n, x, false);
		free_round(r, x);
	}
	return n;
}
