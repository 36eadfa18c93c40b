/* ckpt.h: just-in-time checkpoints in lcrd, as the ranks and lcrctl ask for them. No
 * checkpoint is taken periodically: one is taken when asked (`lcrctl ckpt now`, a
 * WIRE_CKPT_NOW from a rank, SIGUSR1) or when a failure is detected, from the state the
 * helpers already hold, and saved once, fast and consistently, into the job's checkpoint
 * directory (--ckpt-dir; layout and rules in doc/checkpoint.md).
 *
 * This file is the front door: it checks a request, remembers who waits for its answer,
 * and hands it to the one checkpoint flow, the mesh's (helper/services/mesh_ckpt.c), for a step on
 * one node (a mesh of one) as for a step on several. The mesh's leader gathers every
 * replica's report, chooses and plans the step, has the writers write it, publishes and
 * prunes; the end comes back here through ckpt_mesh_finished on every helper (the flow's end
 * callback, mesh_ckpt_on_end: the flow does not name this file), which answers
 * the requesters and remembers the outcome for CKPT_INFO. One checkpoint runs at a time: a
 * request that arrives meanwhile waits for the one in progress. */
#ifndef LCR_HELPER_CKPT_H
#define LCR_HELPER_CKPT_H

#include <stdbool.h>
#include <stdint.h>

#include "internal/wire.h"

struct lcrd;
struct client;
struct region;

/* Sets up d->ckpt and registers its requests (CKPT_NOW, CKPT_INFO_REQUEST) with the
 * control socket: 0 or -errno. */
int ckpt_create(struct lcrd *d);

/* Answers the requesters still waiting with -ECANCELED, and frees d->ckpt. */
void ckpt_destroy(struct lcrd *d);

/* Takes a checkpoint now. `reason` is logged; `waiter` (or NULL) is answered on `seq` with
 * WIRE_CKPT_RESULT when it is published, or WIRE_REPLY and the error. */
void ckpt_now(struct lcrd *d, const char *reason, struct client *waiter, uint32_t seq);

/* A checkpoint ended (published, or abandoned with the reason): answers the requesters
 * waiting on this helper and remembers it for CKPT_INFO. main.c makes it the flow's end
 * callback (mesh_ckpt_on_end). */
void ckpt_mesh_finished(struct lcrd *d, const struct wire_ckpt_result *result);

/* The session c is closing: it no longer waits for a checkpoint. */
void ckpt_release_client(struct lcrd *d, struct client *c);

/* Whether checkpoint or restore I/O is using region r (it must not be freed now). */
bool ckpt_region_busy(struct lcrd *d, const struct region *r);

#endif
