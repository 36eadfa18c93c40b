/* ckpt.h: just-in-time checkpoints in lcrd. No checkpoint is taken periodically: one is
 * taken when asked (`lcrctl ckpt now`, a WIRE_CKPT_NOW from a rank, SIGUSR1) or when a
 * failure is detected, from the state the helper already holds, and saved once, fast and
 * consistently, into the job's checkpoint directory (--ckpt-dir; layout and rules in
 * doc/checkpoint.md).
 *
 * The node-local flow, run here when this helper holds every shard of the step (a step on
 * one node): gather the local replicas' reports, choose the newest step S committed on a
 * replica of every shard (ckpt_plan_choose_step), plan it, write it on a worker thread
 * (ckpt_write_start), check that no replica read began an update meanwhile (else try
 * again, up to CKPT_ATTEMPTS times), then publish (manifest, rename) and prune; on any
 * failure the .tmp directory is removed and the requester told why. One checkpoint runs at
 * a time: a request that arrives meanwhile waits for the one in progress.
 *
 * The multi-node flow (a step on several nodes) is the mesh's to run (helper/mesh_ckpt.c),
 * with the same calls (ckpt_write.h, ckpt_plan.h); ckpt_now forwards the request there and
 * ckpt_mesh_finished answers its requesters. The leader, on a failure event or a forwarded
 * request:
 *   1. asks every live helper for ckpt_gather_reports(), after telling the ranks to stop;
 *   2. runs ckpt_plan_choose_step and ckpt_plan_build on all reports (a pure function: any
 *      node given the same reports computes the same plan) and ckpt_prepare_dir;
 *   3. has every writer of the plan run ckpt_write_start(d, dir, plan, NULL, 0, done, ...)
 *      and send back its struct ckpt_write_result;
 *   4. feeds each result to ckpt_apply_result; when they add up to ckpt_plan_range_count,
 *      calls ckpt_publish, then ckpt_prune(dir, d->opt.ckpt_keep);
 *   5. if a writer's node is lost before it reported: ckpt_plan_reassign (with the
 *      surviving reports) and ckpt_write_start with the moved ranges on their new writers;
 *      -EHOSTDOWN there, a -ESTALE result, or any other error: ckpt_abandon.
 * ckpt_on_failure() is where the failure detector hands a failure of a one-node step. */
#ifndef LCR_HELPER_CKPT_H
#define LCR_HELPER_CKPT_H

#include <stdbool.h>
#include <stdint.h>

#include "requests.h"

#define CKPT_ATTEMPTS 3 /* tries when a replica began an update during the copy */

struct lcrd;
struct client;
struct region;

/* Sets up d->ckpt: 0 or -ENOMEM. */
int ckpt_create(struct lcrd *d);

/* Stops a checkpoint in progress (its .tmp directory is removed), answers its requesters
 * with -ECANCELED, and frees d->ckpt. */
void ckpt_destroy(struct lcrd *d);

/* Takes a checkpoint now. `reason` is logged; `waiter` (or NULL) is answered on `seq` with
 * WIRE_CKPT_RESULT when it is published, or WIRE_REPLY and the error. */
void ckpt_now(struct lcrd *d, const char *reason, struct client *waiter, uint32_t seq);

/* A failure was detected: save the state now (the node-local flow). */
void ckpt_on_failure(struct lcrd *d, const char *what);

/* A multi-node checkpoint ended (published, or abandoned with the reason): answers the
 * requesters waiting on this helper and remembers it for CKPT_INFO. */
void ckpt_mesh_finished(struct lcrd *d, const struct wire_ckpt_result *result);

/* The session c is closing: it no longer waits for a checkpoint. */
void ckpt_release_client(struct lcrd *d, struct client *c);

/* Whether checkpoint or restore I/O is using region r (it must not be freed now). */
bool ckpt_region_busy(struct lcrd *d, const struct region *r);

request_handler request_ckpt_now;
request_handler request_ckpt_info;

#endif
