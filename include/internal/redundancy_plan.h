/* redundancy_plan.h: where the redundancy of a step's state goes (issue 13), computed the
 * same way by every helper from the node count and, where Slurm names them, the nodes'
 * switches, so that no message is needed to agree on it.
 *
 * Nodes are first put in a spread order that alternates between switches. Copies: copy c
 * of a node goes to the node c + 1 places after it in that order, so no node holds its own
 * copy, a node's K copies go to K different partners (on other switches while there are
 * any), and every node holds exactly K other nodes' copies.
 *
 * Erasure coding: the spread order is cut into groups of at least GROUP_SIZE nodes (sizes
 * differ by at most one). In a group of g nodes with m parity blocks per stripe, each node's
 * state is cut into g - m chunks of the group's chunk size, and there are g stripes: in
 * stripe s, the member at position p holds parity block (p - s) mod g when that is below m,
 * else it gives its data chunk (p - s) mod g - m. Every member has one block in every
 * stripe, so any m lost members lose at most m blocks of each stripe, and each member
 * holds m parity chunks: m / (g - m) of the largest state in the group, against 1 for a
 * copy (doc/redundancy.md). */
#ifndef LCR_INTERNAL_REDUNDANCY_PLAN_H
#define LCR_INTERNAL_REDUNDANCY_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "internal/settings.h"

struct redundancy_nodes {
	uint32_t count;
	const uint32_t *switch_of; /* count switch numbers, or NULL when all share one switch */
};

/* The spread order: order[i] is the node at place i. 0, or -EINVAL (no nodes). */
int redundancy_spread_order(const struct redundancy_nodes *nodes, uint32_t *order);

/* The `copies` partners holding node `node`'s copies, in copy order: 0, or -EINVAL with err
 * set when there are not that many other nodes. */
int redundancy_copy_partners(const struct redundancy_nodes *nodes, uint32_t node, unsigned copies,
			     uint32_t *partners, char *err, size_t errlen);

struct erasure_membership {
	uint32_t group;    /* which group the node is in */
	uint32_t position; /* its position in the group, 0 .. size - 1 */
	uint32_t size;     /* the group's node count */
	uint32_t first;    /* the group's first place in the spread order */
};

/* The erasure group of node `node` for groups of at least `group_size` nodes with `parity`
 * parity blocks: 0, or -EINVAL with err set (fewer nodes than one group, a group without
 * a data chunk per member, or a group larger than an erasure code allows). */
int redundancy_erasure_membership(const struct redundancy_nodes *nodes, uint32_t node, unsigned group_size,
				  unsigned parity, struct erasure_membership *out, char *err, size_t errlen);

/* What the member at `position` of a group of `size` holds in stripe `stripe`: a parity
 * block (returns 1, *index its parity index) or its data chunk (returns 0, *index the
 * chunk of its state, which is also the data block index in the stripe). */
int redundancy_stripe_role(uint32_t size, unsigned parity, uint32_t position, uint32_t stripe, unsigned *index);

/* The stripe in which the member at `position` gives its data chunk `chunk`. */
uint32_t redundancy_stripe_of_chunk(uint32_t size, unsigned parity, uint32_t position, unsigned chunk);

/* The chunk size of a group whose largest state is `largest` bytes (rounded up to 64 bytes,
 * what the parity code works in), and the parity bytes each member then holds. */
size_t redundancy_chunk_bytes(size_t largest, uint32_t size, unsigned parity);
size_t redundancy_parity_bytes_per_node(size_t largest, uint32_t size, unsigned parity);

/* What --redundancy=auto becomes, the same on every helper of the step (it depends on the
 * options only): copy when K copies fit the budget, else erasure when its parity does, else
 * none. The most a helper holds while a round is in flight is counted, for a state of
 * state_max bytes per node (the region quota): 2 (1 + K) state_max for copy,
 * 2 state_max + 2 redundancy_parity_bytes_per_node(state_max, G, m) for erasure. Without a
 * budget (memory_max 0), copy; with a budget but no bound on the state, none. Copy needs
 * more than K nodes, erasure at least G. Returns the method, with why into `why`. */
struct redundancy_budget {
	uint64_t state_max;  /* bytes of state per node (region quota); 0: not bounded */
	uint64_t memory_max; /* bytes one helper may use for redundancy; 0: no limit */
	unsigned copies, group_size, parity;
	uint32_t node_count;
};
enum lcr_redundancy_mode redundancy_choose(const struct redundancy_budget *b, char *why, size_t cap);

#endif
