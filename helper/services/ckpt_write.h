/* ckpt_write.h: one helper's part of a just-in-time checkpoint, in the order a checkpoint
 * uses them. helper/services/ckpt.c strings them together for a step whose helper holds every shard
 * (one node); for a step on several nodes the mesh runs the same calls on each node and
 * carries reports, plans and results between them (see ckpt.h for that flow).
 *
 *   ckpt_gather_reports   every node: its replicas' marks and regions (struct ckpt_report)
 *   ckpt_plan_choose_step / ckpt_plan_build (ckpt_plan.h)
 *                         the leader: step S and the manifest with every range's writer
 *   ckpt_prepare_dir      the leader: DIR/step-S.tmp/, older leftovers removed
 *   ckpt_verify_assign (ckpt_verify.h)
 *                         every node: which replica checks each range of a shard with
 *                         two or more replicas at S
 *   ckpt_write_start      every writer: its ranges, from a local replica at S, and the
 *                         ranges it checks (hashed only), on a thread
 *   ckpt_apply_result     the leader: a writer's hashes into the manifest
 *   ckpt_publish          the leader, once every writer confirmed: manifest, rename, sync
 *   ckpt_abandon          the leader, on any failure: the .tmp directory removed
 *   ckpt_prune            retention: the newest N complete checkpoints are kept
 *
 * Data files are written with pwrite in chunks of CKPT_IO_CHUNK bytes at offsets aligned to
 * the plan's alignment, preallocated with fallocate (so a full disk shows at once), and
 * synced before the writer reports; the manifest is written last and the directory renamed
 * only then. A complete checkpoint (DIR/step-<S>/) is never written into or renamed over;
 * only ckpt_prune removes one, once newer ones exist. Errors name the file and the offset,
 * and say why. */
#ifndef LCR_HELPER_CKPT_WRITE_H
#define LCR_HELPER_CKPT_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal/ckpt_plan.h"
#include "internal/ckpt_verify.h"
#include "internal/manifest.h"
#include "internal/wire.h"

struct lcrd;
struct lcrd_options;
struct region;
struct ckpt_writer;

/* The hash of one range a writer wrote (checked false) or hashed to compare the replicas
 * (checked true), read from replica `rank`. */
struct ckpt_range_hash {
	struct ckpt_range_ref ref;
	uint32_t rank;
	bool checked;
	uint64_t xxh3;
};

/* What a writer reports when it is done. */
struct ckpt_write_result {
	int status; /* 0; -ESTALE: a replica it read began an update meanwhile; or -errno */
	char error[WIRE_TEXT_MAX + 1];
	uint32_t node_id;
	uint64_t step;
	uint64_t bytes;
	double seconds;
	struct ckpt_range_hash *hashes;
	size_t hash_count;
};

/* Called on the loop when a writer is done; result is valid during the call only. */
typedef void ckpt_write_done_fn(struct lcrd *d, const struct ckpt_write_result *result,
				void *arg);

/* The registered local ranks, with their marks and regions, as reports of this node
 * (d->opt.node_id, d->opt.node_name). Free with ckpt_reports_free. */
int ckpt_gather_reports(struct lcrd *d, struct ckpt_report **out, size_t *count, char *err,
			size_t errlen);

/* The directory functions below take the options for --ckpt-dir and --ckpt-roots: each
 * opens the job's directory as a trusted directory (ckpt_dir.h) and works relative to it. */

/* Makes opt->ckpt_dir (0700 where it creates it), removes leftover .tmp directories of
 * earlier attempts, and creates DIR/step-<step>.tmp/. -EEXIST when step-<step> is complete
 * already. */
int ckpt_prepare_dir(const struct lcrd_options *opt, uint64_t step, char *err, size_t errlen);

/* Starts writing the ranges of `plan` whose writer is this node (d->opt.node_id) into
 * DIR/step-S.tmp/, each from a local replica that holds step S (from_snapshots: from a
 * snapshot of S this helper keeps, its own or a held copy, checked against its hash
 * first: -EIO when it differs; snapshot.h); with only != NULL, just
 * those of only[only_count] (the ranges ckpt_plan_reassign moved here). Then, in the same
 * thread, hashes without writing the ranges of checks[check_count] whose node is this one,
 * each from the rank it names (-ESTALE when that rank no longer holds S). done runs on the
 * loop when finished. The plan may change or go once this returns. 0, or -errno with err
 * set (nothing started). */
int ckpt_write_start(struct lcrd *d, const struct manifest *plan, bool from_snapshots,
		     const struct ckpt_range_ref *only, size_t only_count,
		     const struct ckpt_check *checks, size_t check_count,
		     ckpt_write_done_fn *done, void *arg, struct ckpt_writer **out, char *err,
		     size_t errlen);

/* Stops a writer (waiting for its thread); done is not called. */
void ckpt_write_cancel(struct ckpt_writer *w);

/* Whether the writer reads region r (it must not be freed meanwhile). */
bool ckpt_write_uses(const struct ckpt_writer *w, const struct region *r);

/* Stores a writer's hashes of the ranges it wrote, and its time, in m: the number of
 * ranges it confirmed (a checkpoint is complete when the results add up to
 * ckpt_plan_range_count), or -EINVAL when it reports a written range that is not its own in
 * m. Its checked hashes are not stored (the leader compares them: ckpt_verify_add). */
int ckpt_apply_result(struct manifest *m, const struct ckpt_write_result *r, char *err,
		      size_t errlen);

/* Writes m (every range's hash applied) as DIR/step-S.tmp/manifest.yaml, syncs it, renames
 * the directory to DIR/step-S and syncs DIR. Sets m->created. */
int ckpt_publish(const struct lcrd_options *opt, struct manifest *m, char *err, size_t errlen);

/* Removes DIR/step-<step>.tmp/ and what it holds. */
int ckpt_abandon(const struct lcrd_options *opt, uint64_t step, char *err, size_t errlen);

/* The step of the newest complete checkpoint in DIR: 0, -ENOENT when there is none (or no
 * DIR), or -errno with err set. */
int ckpt_newest_complete(const struct lcrd_options *opt, uint64_t *step, char *err,
			 size_t errlen);

/* Removes complete checkpoints older than the newest `keep` (0: keep all): each is first
 * renamed out of sight, so no reader sees one half removed. The number removed, or -errno. */
int ckpt_prune(const struct lcrd_options *opt, uint32_t keep, char *err, size_t errlen);

#endif
