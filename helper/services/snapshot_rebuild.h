/* snapshot_rebuild.h: a lost node's snapshot rebuilt from the erasure-coded parity of its
 * group (issue 13, --redundancy=erasure; doc/redundancy.md, "Recovery from the parity").
 *
 * When a node is down (NODE_DOWN: a failure, not a helper that ended normally) while step P
 * is protected, every live member of its group at P sends the leader, on a transfer
 * connection, its block of each stripe a lost member gave a data chunk to (SNAPSHOT_PUT of
 * kind REBUILD): its own data chunk of that stripe, cut again from
 * its snapshot of P, or the parity block it holds. The first live member of the group also
 * sends the lost members' layouts (kind REBUILD_LAYOUT), which every member received with
 * their chunks. The leader, once each such stripe has as many blocks as it has data chunks
 * and every lost member's layout is in, decodes the lost chunks (erasure_recover), puts
 * each lost member's snapshot together and checks each region against the XXH3 its layout
 * gives, on a worker thread (its event loop serves meanwhile), then keeps the regions as
 * held copies of that node at P (the keep callback: snapshot.c's store, on the loop), from
 * which the replacement fills as from a copy partner's. More
 * lost members in one group than its parity blocks per stripe cannot be rebuilt, and the
 * leader says so. snapshot.c asks snapshot_rebuild_state before it names P as a recovery
 * step. */
#ifndef LCR_HELPER_SNAPSHOT_REBUILD_H
#define LCR_HELPER_SNAPSHOT_REBUILD_H

#include <stddef.h>
#include <stdint.h>

#include "internal/wire.h"
#include "services/snapshot_erasure.h"

struct lcrd;
struct snapshot_rebuild;

#define SNAPSHOT_REBUILD_WAIT_MS 15000 /* the leader waits this long for the blocks */

/* Keeps one region of a lost node's rebuilt snapshot of step (its bytes checked already, in
 * *data, a buffer from malloc of region->size bytes): 0 with *data taken (set to NULL), or
 * -errno with why and *data left to the rebuild, which frees it. On the loop: it must not
 * copy the bytes (a snapshot can be gigabytes, and the loop keeps the heartbeats). */
typedef int snapshot_rebuild_keep_fn(void *arg, uint32_t node, uint64_t incarnation, uint64_t step,
				     const struct wire_snapshot_layout_region *region,
				     uint8_t **data, char *why, size_t cap);

struct snapshot_rebuild *snapshot_rebuild_create(struct lcrd *d, struct erasure_holder *h,
						 snapshot_rebuild_keep_fn *keep, void *arg);
void snapshot_rebuild_destroy(struct snapshot_rebuild *r);

/* Node `lost` is lost while `step` is protected; `live` are the live nodes of when it was
 * protected (the groups' basis). As the leader, this helper expects the blocks of its group;
 * as a member of that group at step, it sends the leader its blocks (its data chunks cut
 * from `pieces`, its own snapshot of step, or count 0 when it keeps none). On the loop. */
void snapshot_rebuild_node_lost(struct snapshot_rebuild *r, uint32_t lost, uint64_t step,
				const struct erasure_piece *pieces, size_t count, const uint32_t *live,
				uint32_t live_count);

/* The leader: whether lost's snapshot of step is rebuilt: 0 (held as copies), -EINPROGRESS
 * (blocks are on their way, for at most SNAPSHOT_REBUILD_WAIT_MS, or being decoded on a
 * worker thread), or another -errno; why says what, but for 0. Once every block is in, the
 * call (or the block's arrival) that sees it starts the decode; a later call sees its end. */
int snapshot_rebuild_state(struct snapshot_rebuild *r, uint32_t lost, uint64_t step,
			   const uint32_t *live, uint32_t live_count, char *why, size_t cap);

/* Frees the leader's rebuilds of steps before step (a newer step is protected). */
void snapshot_rebuild_release_before(struct snapshot_rebuild *r, uint64_t step);

/* A SNAPSHOT_PUT of kind REBUILD or REBUILD_LAYOUT from node `peer`: see transfer.h. */
int snapshot_rebuild_reserve(struct snapshot_rebuild *r, uint32_t peer, const struct wire_snapshot_put *put,
			     uint8_t **dst, char *why, size_t cap);
int snapshot_rebuild_arrived(struct snapshot_rebuild *r, uint32_t peer, const struct wire_snapshot_put *put,
			     uint8_t *dst, int rc, char *why, size_t cap);

/* Bytes held by the rebuilds (blocks received, not yet decoded). */
uint64_t snapshot_rebuild_bytes(const struct snapshot_rebuild *r);

#endif
