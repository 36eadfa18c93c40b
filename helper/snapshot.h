/* snapshot.h: in-memory snapshots of the ranks' state at committed steps, and their copies
 * in other nodes' helpers (issue 13, redundancy "copy"; doc/redundancy.md).
 *
 * With --redundancy=copy, a timer (SNAPSHOT_POLL_MS) reads the control pages of this node's
 * registered ranks. When they all show step P committed, P a multiple of --snapshot-every,
 * a worker copies every host region of those ranks into this helper's memory, reads the
 * pages again (a rank that began an update meanwhile voids the round on this node), and
 * pushes each region to the node's copy partners (redundancy_plan over the live nodes,
 * --redundancy-copies of them) on sealed transfer connections; each partner answers with
 * the XXH3 of what it holds, checked against the snapshot's. The node then tells the
 * leader how its round ended (SNAPSHOT_DONE); the leader, once every live node's round of P
 * is acknowledged, tells every helper that P is protected (SNAPSHOT_END): each logs it,
 * tells its ranks (WIRE_EVENT_PROTECTED), keeps its snapshot of P and frees older
 * snapshots and copies. One round at a time per node; the newest protected snapshot is kept
 * until a newer one is protected. Everything counts against --redundancy-memory-max.
 * Every region is copied, replicated or not; CUDA regions are not protected yet. */
#ifndef LCR_HELPER_SNAPSHOT_H
#define LCR_HELPER_SNAPSHOT_H

#include <stdbool.h>

#include "internal/wire.h"

struct lcrd;
struct region;

#define SNAPSHOT_POLL_MS 5          /* how often the control pages are read */
#define SNAPSHOT_REPORT_AGAIN_MS 2000 /* a round's report without an answer is sent again */
#define SNAPSHOT_PARTNERS_MAX 8     /* --redundancy-copies' bound */

/* Starts the service with --redundancy=copy (else does nothing): registers its mesh
 * messages, its membership subscriber, the copies it takes, and its timer. 0 or -errno. */
int snapshot_create(struct lcrd *d);

/* Stops the worker and frees every snapshot and copy. */
void snapshot_destroy(struct lcrd *d);

/* Whether a round is reading region r (it must not be freed meanwhile). */
bool snapshot_uses(struct lcrd *d, const struct region *r);

/* The leader, after node `lost` died: the protected step at which it can be recovered from
 * the copies (some partner that held its copies of that step, placed over the live nodes
 * of then, is live), or WIRE_NO_STEP with why. Every helper rolls its ranks back to the
 * step that a REPLACING names (wire_mesh_event.resume_step), from its own snapshot of it,
 * once its ranks are between updates; the ranks' pages then show it committed. */
uint64_t snapshot_recovery_step(struct lcrd *d, uint32_t lost, char *why, size_t cap);

/* A held copy of region `region` of a rank of `shard_key` at step: 0 with its bytes (valid
 * until the copy is released: a newer protected step, or the step's end) and the rank it
 * is of, or -ENOENT. */
int snapshot_copy_for(struct lcrd *d, const char *shard_key, const char *region, uint64_t step,
		      const uint8_t **data, uint64_t *size, uint32_t *rank);

/* Fills the redundancy part of a status reply. */
void snapshot_fill_status(struct lcrd *d, struct wire_status_reply *s);

#endif
