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
#define SNAPSHOT_ROLLBACK_WAIT_MS 30000 /* a rollback waits this long for a rank's update, the
					 * round in progress and checkpoint I/O, then fails */
#define SNAPSHOT_PARTNERS_MAX WIRE_SNAPSHOT_PARTNERS_MAX /* --redundancy-copies' bound */

/* Starts the service with --redundancy=copy (else does nothing): registers its mesh
 * messages, its membership subscriber, the copies it takes, and its timer. 0 or -errno. */
int snapshot_create(struct lcrd *d);

/* Stops the worker and frees every snapshot and copy. */
void snapshot_destroy(struct lcrd *d);

/* Whether a round is reading region r (it must not be freed meanwhile). */
bool snapshot_uses(struct lcrd *d, const struct region *r);

/* The leader, after node `lost` died: the protected step at which it can be recovered from
 * the copies (some partner that acknowledged its copies of that step, as its SNAPSHOT_DONE
 * named them, is live; where this leader did not get that report, the partners placed
 * over the live nodes of then), or, with --redundancy=erasure, at which this leader has
 * rebuilt its snapshot from the parity of its group (snapshot_rebuild.h), or WIRE_NO_STEP
 * with why. Every helper rolls its ranks back to the
 * step that a REPLACING names (wire_mesh_event.resume_step), from its own snapshot of it,
 * once its ranks are between updates; the ranks' pages then show it committed. */
uint64_t snapshot_recovery_step(struct lcrd *d, uint32_t lost, char *why, size_t cap);

/* The leader, --redundancy=erasure: whether lost's snapshot of the protected step (with
 * WIRE_NO_NODE: any lost node's) is being rebuilt from the parity of its group (its blocks
 * on their way, for a bounded time): the recovery and the failure's checkpoint wait for it
 * before they ask snapshot_recovery_step or snapshot_checkpoint_step. */
bool snapshot_rebuild_pending(struct lcrd *d, uint32_t lost);

/* The bytes of a region at a step in a snapshot, pinned while they are read (off the loop
 * too): a release meanwhile (a newer protected step, an abandoned round) frees them only
 * once snapshot_source_unpin is called, on the loop. */
struct held_copy;
struct snapshot_source {
	const uint8_t *data;
	uint64_t size;
	enum wire_region_kind kind; /* where the rank holds the region (host or CUDA) */
	uint64_t xxh3;          /* of the whole region: as the snapshot took it, or the copy arrived */
	uint32_t rank;
	uint64_t step;
	struct held_copy *copy; /* NULL: this helper's own snapshot */
};

/* A held copy of region `region` of a rank of `shard_key` at step (another node's
 * snapshot): 0 with it pinned, or -ENOENT. */
int snapshot_copy_pin(struct lcrd *d, const char *shard_key, const char *region, uint64_t step,
		      struct snapshot_source *out);

/* Region `region` of `rank` (WIRE_NO_RANK: of any rank of `shard_key`) at step: from this
 * helper's own protected snapshot, else from a copy it holds: 0 with it pinned, or -ENOENT. */
int snapshot_source_pin(struct lcrd *d, const char *shard_key, uint32_t rank, const char *region,
			uint64_t step, struct snapshot_source *out);

/* A reader is done with a source pinned above. */
void snapshot_source_unpin(struct lcrd *d, struct snapshot_source *src);

/* The failure's checkpoint from the snapshots (doc/checkpoint.md): the leader, after a
 * failure left ranks whose shard no live rank holds, gets the protected step from which a
 * complete checkpoint can be written (for every node lost since it was protected, a live
 * node holds its copies: snapshot_recovery_step), or WIRE_NO_STEP with why. */
uint64_t snapshot_checkpoint_step(struct lcrd *d, char *why, size_t cap);

/* This helper's replicas at protected step `step`, as checkpoint reports (committed at
 * step, node_id this node, which writes them): its own ranks from its snapshot, and the
 * ranks of lost nodes whose copies it holds. Free with ckpt_reports_free. -ENODATA with err
 * when it keeps no snapshot of step, or a rank's region is not in it (CUDA). */
struct ckpt_report;
int snapshot_gather_reports(struct lcrd *d, uint64_t step, struct ckpt_report **out,
			    size_t *count, char *err, size_t errlen);

/* Fills the redundancy part of a status reply. */
void snapshot_fill_status(struct lcrd *d, struct wire_status_reply *s);

#endif
