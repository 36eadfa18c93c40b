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

/* A service's interest in the mesh: fn is called for every membership event this helper
 * applies (after the membership is updated), in the order of subscription. The mesh names
 * no service: the checkpoint and recovery subscribe (main.c has them do so).
 * 0, or -ENOSPC (MESH_SUBSCRIBERS_MAX). */
#define MESH_SUBSCRIBERS_MAX 8
struct mesh;
typedef void mesh_event_fn(struct mesh *m, const struct wire_mesh_event *ev, void *arg);
int mesh_subscribe(struct lcrd *d, mesh_event_fn *fn, void *arg);

#endif
