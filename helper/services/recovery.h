/* recovery.h: in-job recovery on the leader (lcrd --replace=spare): after a node is down
 * and its just-in-time checkpoint has chosen its step (it is written meanwhile), launch a
 * replacement helper and ranks on a spare node of the job, bound the attempt, try the next
 * spare when one fails, and say RECOVERY_FAILED when none is left. The replacement's side is mesh_join.c; the protocol
 * and its events are in doc/mesh.md, "Replacement and rejoin". */
#ifndef LCR_HELPER_RECOVERY_H
#define LCR_HELPER_RECOVERY_H

#include <stddef.h>
#include <stdint.h>

#include "internal/wire.h"

struct lcrd;
struct mesh;

/* Attaches recovery (and the outcome it feeds) to the mesh: its end with the mesh's
 * (mesh_on_stop: recovery_destroy), the leader's side of a JOIN (mesh_on_join:
 * recovery_admit, recovery_joined), the mesh's events (mesh_subscribe). 0 or -errno. */
int recovery_subscribe(struct lcrd *d);

/* An applied membership event: the leader queues each NODE_DOWN it applies; every event
 * goes on to outcome.c (the step's outcome), on every helper. */
void recovery_on_membership(struct mesh *m, const struct wire_mesh_event *ev);

/* The leader's checkpoint chose the step it saves: the failures waiting for it go on (their
 * replacements are launched while it is written, told where it is to be published). plan,
 * its manifest, tells whether a lost rank's shard has no live replica (redundancy copy). */
struct manifest;
void recovery_on_checkpoint_step(struct mesh *m, uint64_t step, const struct manifest *plan);

/* The leader's checkpoint ended (published or abandoned): the failures still waiting for it
 * go on; one that fails while a replacement is on its way is reported, not fatal. */
void recovery_on_checkpoint_end(struct mesh *m, const struct wire_ckpt_result *r);

/* Whether a JOIN of node `node` by a helper named `name` belongs to the attempt in flight:
 * 0 with its epoch, or -EPERM with the reason in why. */
int recovery_admit(struct mesh *m, uint32_t node, const char *name, uint64_t *epoch,
		   char *why, size_t cap);

/* The replacement of node joined (its NODE_JOINED has generation g): the attempt ends, its
 * launcher stays watched, the next failure goes on. */
void recovery_joined(struct mesh *m, uint32_t node, uint64_t g);

/* Stops an attempt in flight (its launcher's process group gets SIGTERM), frees. */
void recovery_destroy(struct mesh *m);

/* This helper stops, before the mesh is taken down: the outcome's drain (outcome_drain),
 * while the mesh is up. */
void recovery_drain(struct lcrd *d);

#endif
