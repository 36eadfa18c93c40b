/* snapshot_erasure.h: erasure-coded redundancy of the snapshots (issue 13, --redundancy=
 * erasure; doc/redundancy.md). snapshot.c takes the rounds, reports them and hears the
 * verdicts as for copies; this module is what differs: where a node's snapshot goes, and
 * the parity this helper holds for its group.
 *
 * Sending. The live nodes (mesh order, internal/redundancy_plan.h) are cut into N / G groups
 * (G = --redundancy-group-size) as even as can be: each of G to 2G - 1 nodes. A node's snapshot, its regions one after the
 * other, is cut into g - m chunks of redundancy_chunk_bytes (the last one zero-padded);
 * chunk c is the data block of the stripe redundancy_stripe_of_chunk names, and goes to the
 * m members that hold that stripe's parity blocks (SNAPSHOT_PUT of kind CHUNK on a transfer
 * connection). Each holder answers with the XXH3 of the chunk it added, checked against the
 * sender's.
 *
 * Holding. A holder checks that the chunk's group, geometry and roles are the ones it
 * computes from its own live nodes, receives the chunk into a buffer of its own, adds it to
 * the one parity block it holds of that stripe at that step (erasure_add_block_to_row) and
 * frees the buffer: it never keeps another node's data. Chunks of different lengths (the
 * members' snapshots differ in size) are zero-padded to the longest, which the parity
 * block grows to. Once every data chunk of the stripe is in, the block is complete and its
 * XXH3 is logged. A member holds m parity blocks of one step: redundancy_parity_bytes_per_
 * node of the largest snapshot in its group. */
#ifndef LCR_HELPER_SNAPSHOT_ERASURE_H
#define LCR_HELPER_SNAPSHOT_ERASURE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal/erasure.h"
#include "internal/redundancy_plan.h"
#include "internal/wire.h"
#include "services/transfer.h"

struct lcrd;

/* One region of a node's snapshot, in the order the snapshot lists them. */
struct erasure_piece {
	const uint8_t *data;
	uint64_t size;
};

/* Bytes [offset, offset + len) of a snapshot (its pieces one after the other) into out,
 * zero past its end: its chunk `c` is at offset c * chunk bytes. */
void snapshot_erasure_gather(const struct erasure_piece *pieces, size_t count, uint64_t offset,
			     uint8_t *out, uint64_t len);

/* Where this node's chunks of one round go, computed on the loop before the round. */
struct erasure_sending {
	struct erasure_membership group; /* this node's */
	unsigned parity;
	uint32_t node;        /* this node */
	uint64_t incarnation; /* its helper's */
	uint64_t step;
	struct transfer_peer members[ERASURE_MAX_BLOCKS]; /* by position (this node's unused) */
};

/* The round's plan over d's live nodes: 0, or -EINVAL / -EHOSTUNREACH with why (fewer live
 * nodes than a group, a member whose address is not known). */
int snapshot_erasure_plan(struct lcrd *d, uint64_t step, uint64_t incarnation,
			  struct erasure_sending *out, char *why, size_t cap);

/* Pushes the snapshot's layout (wire_encode_snapshot_layout's bytes) to every other member
 * of the group, then every chunk of the snapshot to its parity holders (blocking: on the
 * round's worker). 0, or -errno with why: a member that cannot be reached, refused a chunk
 * or the layout, or acknowledged another hash than the one sent. */
int snapshot_erasure_push(const struct erasure_sending *plan, const struct transfer_identity *id,
			  const struct erasure_piece *pieces, size_t count, const uint8_t *layout,
			  size_t layout_len, const atomic_bool *cancel, char *why, size_t cap);

/* Node's erasure group over the live nodes `live` (in the mesh's order), and the node at
 * each position of it: 0, or -errno with why. */
int snapshot_erasure_group_over(const uint32_t *live, uint32_t live_count, uint32_t node,
				unsigned group_size, unsigned parity, struct erasure_membership *g,
				uint32_t members[ERASURE_MAX_BLOCKS], char *why, size_t cap);

/* The parity this helper holds for the members of its group, and the layouts of their
 * snapshots (kind LAYOUT), kept as long as the parity of their step. */
struct erasure_holder;

/* One member's snapshot layout at one step, and the group as this helper saw it then. */
struct erasure_layout {
	uint64_t step;
	uint32_t node;
	uint64_t incarnation; /* of the member's helper */
	uint32_t group, group_size, parity;
	uint32_t members[ERASURE_MAX_BLOCKS]; /* the node at each position of the group */
	uint32_t count;
	struct wire_snapshot_layout_region *regions;
};

/* The layout of node's snapshot at step that this helper holds, or NULL; any one of step. */
const struct erasure_layout *snapshot_erasure_layout(const struct erasure_holder *h, uint64_t step,
						     uint32_t node);
const struct erasure_layout *snapshot_erasure_any_layout(const struct erasure_holder *h, uint64_t step);

/* A copy of the complete parity block this helper holds of stripe of group at step: 0 with
 * *data (the caller's to free), *length and *row, or -ENOENT / -ENOMEM. */
int snapshot_erasure_parity_copy(const struct erasure_holder *h, uint64_t step, uint32_t group,
				 uint32_t stripe, uint8_t **data, uint64_t *length, unsigned *row);

struct erasure_holder *snapshot_erasure_holder_create(struct lcrd *d);
void snapshot_erasure_holder_destroy(struct erasure_holder *h);

/* Bytes held: parity blocks, and chunks being received. */
uint64_t snapshot_erasure_bytes(const struct erasure_holder *h);

/* A SNAPSHOT_PUT of kind CHUNK or LAYOUT from node `peer` (transfer_server_take_copies' reserve and
 * done, after snapshot.c checked the memory budget): see transfer.h. */
int snapshot_erasure_reserve(struct erasure_holder *h, uint32_t peer, const struct wire_snapshot_put *put,
			     uint8_t **dst, char *why, size_t cap);
int snapshot_erasure_arrived(struct erasure_holder *h, uint32_t peer, const struct wire_snapshot_put *put,
			     uint8_t *dst, int rc, uint64_t xxh3, char *why, size_t cap);

/* Frees the parity blocks and layouts of the steps `drop` says yes to; returns the bytes
 * freed. */
typedef bool snapshot_erasure_drop_fn(uint64_t step, void *arg);
uint64_t snapshot_erasure_release(struct erasure_holder *h, snapshot_erasure_drop_fn *drop, void *arg);

#endif
