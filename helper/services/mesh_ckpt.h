/* mesh_ckpt.h: the one checkpoint flow of lcrd, run by the mesh's leader (mesh_ckpt.c; a
 * step on one node is a mesh of one). ckpt.c hands it the requests and hears of their end
 * through the callback it is given (mesh_ckpt_on_end), so the calls go one way; it registers with the
 * mesh for the WIRE_MESH_CKPT_* messages and hears of failures by subscribing to the
 * mesh's events. */
#ifndef LCR_HELPER_MESH_CKPT_H
#define LCR_HELPER_MESH_CKPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal/wire.h"

struct lcrd;
struct mesh;
struct region;

/* Attaches the checkpoint to the mesh: its WIRE_MESH_CKPT_* messages
 * (mesh_handle_message), its end with the mesh's (mesh_on_stop: this node's writers and
 * the leader's checkpoint stop, its .tmp removed), the mesh's events (mesh_subscribe).
 * 0 or -errno. */
int mesh_ckpt_subscribe(struct lcrd *d);

/* The end of every checkpoint on this helper (published, or abandoned with the reason),
 * whoever asked for it: fn answers the requesters (ckpt.c's ckpt_mesh_finished, which
 * main.c registers). The flow names no caller. */
typedef void mesh_ckpt_end_fn(struct lcrd *d, const struct wire_ckpt_result *r);
void mesh_ckpt_on_end(struct lcrd *d, mesh_ckpt_end_fn *fn);

/* Asks the leader for a checkpoint of the whole step (mesh_ckpt.c; a step on one node is a
 * mesh of one, whose leader is this helper); its end comes back through the end callback
 * (mesh_ckpt_on_end) on every helper. An asked-for checkpoint that finds a shard with no committed replica,
 * because a replica is in an update, takes the next committed step (a bounded wait).
 * 0, or -errno with err set (the mesh is not up, the leader cannot be reached). */
int mesh_ckpt_request(struct lcrd *d, const char *reason, char *err, size_t errlen);

/* Whether this node's part of a multi-node checkpoint reads region r. */
bool mesh_ckpt_uses(struct lcrd *d, const struct region *r);

/* Whether a checkpoint is in progress here (this helper leads one, or writes its part);
 * *step is the step being written, or WIRE_NO_STEP while it is being chosen. */
bool mesh_ckpt_in_progress(struct lcrd *d, uint64_t *step);

/* An applied membership event: the leader checkpoints on a failure and covers a writer
 * that was removed. */
void mesh_ckpt_on_membership(struct mesh *m, const struct wire_mesh_event *ev);
/* Whether the leader's checkpoint is running (recovery waits for its step to be chosen,
 * or for its end). */
bool mesh_ckpt_running(struct mesh *m);

#endif
