/* mesh.h: the step's helpers as one group: who is alive, who leads, and the events they
 * agree on. This is what the rest of lcrd sees of the mesh; how it works is in
 * doc/mesh.md and in the mesh*.c and detector.c files.
 *
 * Without --rendezvous, the mesh is a mesh of one: this helper is its leader, and the exits
 * of its ranks are sequenced and delivered here. With it, lcrd registers with the step's
 * rendezvous, gets the table of every helper of the step, and from then on talks to them
 * directly over authenticated TCP: heartbeats find dead and hung nodes, the leader (lowest
 * live node id) numbers every change with a generation, and every change reaches every live
 * helper and, through the control socket, every subscribed rank. */
#ifndef LCR_HELPER_MESH_H
#define LCR_HELPER_MESH_H

#include <stdbool.h>
#include <stddef.h>

#include "internal/wire.h"

struct lcrd;
struct region;

/* Sets up the mesh from the options: a mesh of one, or the start of the rendezvous (which
 * goes on in the loop; a failure there leaves this helper alone, and is logged).
 * 0 or -errno (MUNGE cannot be set up, the rendezvous address is not usable). */
int mesh_create(struct lcrd *d);

/* Tells the peers this helper leaves (a normal end), closes every connection, frees. */
void mesh_destroy(struct lcrd *d);

/* A local rank's process ended: the leader numbers it and every helper tells its ranks. */
void mesh_report_rank_exit(struct lcrd *d, const struct wire_event *ev);

/* Before stopping: let the leader number this node's pending rank exits (bounded). */
void mesh_drain_reports(struct lcrd *d);

/* The membership generation this helper has applied (0 before any event, or without a
 * mesh): what a checkpoint it publishes records. */
uint64_t mesh_generation(struct lcrd *d);

/* The mesh's state and its event log from entry `start` on, for lcrctl events. */
void mesh_fill_event_log(struct lcrd *d, uint32_t start, struct wire_event_log_reply *out);

/* Asks the leader for a checkpoint of the whole step (mesh_ckpt.c; a step on one node is a
 * mesh of one, whose leader is this helper); its end comes back through ckpt_mesh_finished
 * on every helper. An asked-for checkpoint that finds a shard with no committed replica,
 * because a replica is in an update, takes the next committed step (a bounded wait).
 * 0, or -errno with err set (the mesh is not up, the leader cannot be reached). */
int mesh_ckpt_request(struct lcrd *d, const char *reason, char *err, size_t errlen);

/* Whether this node's part of a multi-node checkpoint reads region r. */
bool mesh_ckpt_uses(struct lcrd *d, const struct region *r);

/* Whether a checkpoint is in progress here (this helper leads one, or writes its part);
 * *step is the step being written, or WIRE_NO_STEP while it is being chosen. */
bool mesh_ckpt_in_progress(struct lcrd *d, uint64_t *step);

#endif
