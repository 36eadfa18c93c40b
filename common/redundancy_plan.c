/* redundancy_plan.c: where copies and erasure-coded parity of a step's state go (see
 * redundancy_plan.h). Pure arithmetic on node numbers: every helper computes the same plan. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/erasure.h"
#include "internal/redundancy_plan.h"

static uint32_t switch_of(const struct redundancy_nodes *nodes, uint32_t node)
{
	return nodes->switch_of ? nodes->switch_of[node] : 0;
}

/* Deals the nodes out switch by switch, in node order within a switch: place i takes the
 * next node of the switch after the one place i - 1 took from, skipping switches with no
 * nodes left. Quadratic in the node count, which is at most a few thousand. */
int redundancy_spread_order(const struct redundancy_nodes *nodes, uint32_t *order)
{
	bool *placed;
	uint32_t last_switch = UINT32_MAX;

	if (nodes->count == 0)
		return -EINVAL;
	placed = calloc(nodes->count, sizeof(*placed));
	if (!placed)
		return -ENOMEM;
	for (uint32_t place = 0; place < nodes->count; place++) {
		/* the unplaced node on the smallest switch number above the last one, else the
		 * unplaced node on the smallest switch number */
		uint32_t best = UINT32_MAX, wrap = UINT32_MAX;
		for (uint32_t node = 0; node < nodes->count; node++) {
			if (placed[node])
				continue;
			uint32_t s = switch_of(nodes, node);
			if ((last_switch == UINT32_MAX || s > last_switch) &&
			    (best == UINT32_MAX || s < switch_of(nodes, best)))
				best = node;
			if (wrap == UINT32_MAX || s < switch_of(nodes, wrap))
				wrap = node;
		}
		if (best == UINT32_MAX)
			best = wrap;
		placed[best] = true;
		order[place] = best;
		last_switch = switch_of(nodes, best);
	}
	free(placed);
	return 0;
}

/* The spread order, allocated into *order (the caller frees it), and the place of `node`
 * in it. 0, -EINVAL or -ENOMEM. */
static int spread_place(const struct redundancy_nodes *nodes, uint32_t node, uint32_t **order, uint32_t *place)
{
	int rc;

	*order = malloc(nodes->count * sizeof(**order));
	if (!*order)
		return -ENOMEM;
	rc = redundancy_spread_order(nodes, *order);
	for (*place = 0; rc == 0 && *place < nodes->count && (*order)[*place] != node; (*place)++)
		;
	return rc;
}

int redundancy_copy_partners(const struct redundancy_nodes *nodes, uint32_t node, unsigned copies,
			     uint32_t *partners, char *err, size_t errlen)
{
	uint32_t *order = NULL, place;
	int rc;

	if (node >= nodes->count || copies == 0 || copies >= nodes->count) {
		snprintf(err, errlen, "%u cop%s of node %u: a step of %u nodes has %u other nodes to hold them",
			 copies, copies == 1 ? "y" : "ies", node, nodes->count,
			 nodes->count ? nodes->count - 1 : 0);
		return -EINVAL;
	}
	rc = spread_place(nodes, node, &order, &place);
	for (unsigned copy = 0; rc == 0 && copy < copies; copy++)
		partners[copy] = order[(place + 1 + copy) % nodes->count];
	free(order);
	return rc;
}

int redundancy_erasure_membership(const struct redundancy_nodes *nodes, uint32_t node, unsigned group_size,
				  unsigned parity, struct erasure_membership *out, char *err, size_t errlen)
{
	uint32_t *order = NULL, groups, place, small, larger_groups;
	int rc;

	if (parity == 0 || group_size < parity + 1 || node >= nodes->count || nodes->count < group_size) {
		snprintf(err, errlen, "erasure groups of %u nodes with %u parity: need at least one parity and one "
			 "data chunk per node, and a step of %u nodes holds %s", group_size, parity,
			 nodes->count, nodes->count < group_size ? "no such group" : "them");
		return -EINVAL;
	}
	groups = nodes->count / group_size;
	small = nodes->count / groups;
	larger_groups = nodes->count % groups; /* the first ones have small + 1 nodes */
	if (small + (larger_groups ? 1 : 0) > ERASURE_MAX_BLOCKS) {
		snprintf(err, errlen, "erasure groups of %u nodes: %u nodes make groups of %u, more than %d",
			 group_size, nodes->count, small + 1, ERASURE_MAX_BLOCKS);
		return -EINVAL;
	}
	rc = spread_place(nodes, node, &order, &place);
	if (rc == 0) {
		uint32_t in_larger = larger_groups * (small + 1);
		if (place < in_larger) {
			out->group = place / (small + 1);
			out->size = small + 1;
			out->first = out->group * (small + 1);
		} else {
			out->group = larger_groups + (place - in_larger) / small;
			out->size = small;
			out->first = in_larger + (out->group - larger_groups) * small;
		}
		out->position = place - out->first;
	}
	free(order);
	return rc;
}

int redundancy_stripe_role(uint32_t size, unsigned parity, uint32_t position, uint32_t stripe, unsigned *index)
{
	unsigned role = (position + size - stripe % size) % size;

	if (role < parity) {
		*index = role;
		return 1;
	}
	*index = role - parity;
	return 0;
}

uint32_t redundancy_stripe_of_chunk(uint32_t size, unsigned parity, uint32_t position, unsigned chunk)
{
	return (position + 2 * size - parity - chunk) % size;
}

size_t redundancy_chunk_bytes(size_t largest, uint32_t size, unsigned parity)
{
	size_t chunks = size - parity, chunk = (largest + chunks - 1) / chunks;

	return (chunk + 63) / 64 * 64;
}

size_t redundancy_parity_bytes_per_node(size_t largest, uint32_t size, unsigned parity)
{
	return parity * redundancy_chunk_bytes(largest, size, parity);
}

/* "1.5 MiB", for the chooser's reasons. */
static const char *mib_text(uint64_t bytes, char *buf, size_t cap)
{
	snprintf(buf, cap, "%.1f MiB", (double)bytes / (1 << 20));
	return buf;
}

enum lcr_redundancy_mode redundancy_choose(const struct redundancy_budget *b, char *why, size_t cap)
{
	uint64_t s = b->state_max, copy_needs = 2 * (1 + (uint64_t)b->copies) * s, erasure_needs = 0;
	bool copy_fits = b->node_count > b->copies, erasure_fits = b->node_count >= b->group_size &&
								  b->parity < b->group_size;
	char a[32], c[32], m[32];
	if (erasure_fits)
		erasure_needs = 2 * s + 2 * (uint64_t)redundancy_parity_bytes_per_node(s, b->group_size, b->parity);
	if (b->memory_max == 0 && copy_fits)
		return snprintf(why, cap, "no memory budget: %u cop%s of each node's snapshot", b->copies,
				b->copies == 1 ? "y" : "ies"), LCR_REDUNDANCY_COPY;
	if (b->memory_max && s == 0)
		return snprintf(why, cap, "the state per node is not bounded (no region quota), so no "
				"method can be said to fit in the budget of %s",
				mib_text(b->memory_max, m, sizeof(m))), LCR_REDUNDANCY_NONE;
	if (copy_fits && (b->memory_max == 0 || copy_needs <= b->memory_max))
		return snprintf(why, cap, "%u cop%s up to %s of the budget of %s", b->copies,
				b->copies == 1 ? "y needs" : "ies need", mib_text(copy_needs, c, sizeof(c)),
				mib_text(b->memory_max, m, sizeof(m))), LCR_REDUNDANCY_COPY;
	if (erasure_fits && (b->memory_max == 0 || erasure_needs <= b->memory_max))
		return snprintf(why, cap, "copies would need %s, erasure coding (groups of %u, %u parity) "
				"needs up to %s of the budget of %s", mib_text(copy_needs, c, sizeof(c)),
				b->group_size, b->parity, mib_text(erasure_needs, a, sizeof(a)),
				mib_text(b->memory_max, m, sizeof(m))), LCR_REDUNDANCY_ERASURE;
	char copy_text[96], erasure_text[96];
	if (copy_fits)
		snprintf(copy_text, sizeof(copy_text), "%u cop%s would need %s", b->copies,
			 b->copies == 1 ? "y" : "ies", mib_text(copy_needs, c, sizeof(c)));
	else
		snprintf(copy_text, sizeof(copy_text), "%u cop%s more nodes than the step's %" PRIu32,
			 b->copies, b->copies == 1 ? "y needs" : "ies need", b->node_count);
	if (erasure_fits)
		snprintf(erasure_text, sizeof(erasure_text), "erasure coding would need %s",
			 mib_text(erasure_needs, a, sizeof(a)));
	else
		snprintf(erasure_text, sizeof(erasure_text), "erasure coding needs groups of %u nodes, "
			 "and the step has %" PRIu32, b->group_size, b->node_count);
	snprintf(why, cap, "neither fits: %s, %s, and the budget is %s", copy_text, erasure_text,
		 b->memory_max ? mib_text(b->memory_max, m, sizeof(m)) : "unlimited");
	return LCR_REDUNDANCY_NONE;
}
