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
#include <stdint.h>

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

/* What the services register with the mesh (mesh_hooks.c), since the mesh names none of
 * them. main.c has them register after mesh_create, before the loop runs. */

/* A service's own message type from a peer, on an established connection (the
 * checkpoint's WIRE_MESH_CKPT_*). 0, -EEXIST (the type is taken) or -ENOSPC. */
#define MESH_MESSAGE_HANDLERS_MAX 32
typedef void mesh_message_fn(struct mesh *m, uint32_t from, const struct wire_msg *msg);
int mesh_handle_message(struct lcrd *d, uint16_t type, mesh_message_fn *fn);

/* The first message of an incoming connection that opens a service's own link (a state
 * transfer's WIRE_XFER_HELLO): fn takes the connection over. 0, -EEXIST or -ENOSPC. */
#define MESH_ADOPTERS_MAX 4
struct mesh_conn;
typedef void mesh_adopt_fn(struct mesh *m, struct mesh_conn *c, const struct wire_msg *msg);
int mesh_handle_connection(struct lcrd *d, uint16_t type, mesh_adopt_fn *fn);

/* A service's work that must stop with the mesh: when this helper is fenced, in the order
 * of registration, and when the mesh is destroyed, the last registered first.
 * 0 or -ENOSPC. */
#define MESH_STOP_HOOKS_MAX 4
typedef void mesh_stop_fn(struct mesh *m);
int mesh_on_stop(struct lcrd *d, mesh_stop_fn *fn);

/* This helper was fenced: the mesh has stopped (connections closed, the stop hooks run,
 * the ranks told NODE_DOWN); fn stops the ranks and ends the helper (fence.c). */
typedef void mesh_fenced_fn(struct lcrd *d, const char *why);
void mesh_on_fenced(struct lcrd *d, mesh_fenced_fn *fn);

/* The leader's side of a replacement's JOIN (recovery.c): admit says whether a JOIN of
 * node `node` by the helper named `name` belongs to the replacement in flight (0 with its
 * epoch, or -EPERM with the reason in why); joined is told once its NODE_JOINED has
 * generation g. Without them, every JOIN is refused. */
typedef int mesh_admit_fn(struct mesh *m, uint32_t node, const char *name, uint64_t *epoch,
			  char *why, size_t cap);
typedef void mesh_joined_fn(struct mesh *m, uint32_t node, uint64_t g);
void mesh_on_join(struct lcrd *d, mesh_admit_fn *admit, mesh_joined_fn *joined);

/* A replacement's side (--rejoin): it has joined and its part of the mesh runs; fn tells
 * whoever started it that it is ready (main.c: lcrd_announce). 0 or -errno (the helper
 * fails). */
typedef int mesh_ready_fn(struct lcrd *d);
void mesh_on_joined(struct lcrd *d, mesh_ready_fn *fn);

/* A service that must hold the ranks' news of a join back (the snapshot's rollback, until
 * the protected step is in their regions): hold is asked before this helper tells its ranks
 * of a NODE_JOINED; while it answers true the join is kept, and the service calls
 * mesh_release_held_join once it no longer must (the join is then told). */
typedef bool mesh_hold_fn(struct lcrd *d);
void mesh_on_hold_join(struct lcrd *d, mesh_hold_fn *hold);
void mesh_release_held_join(struct lcrd *d);

/* A replacement's side (--rejoin): it is a member at the generation of its NODE_JOINED,
 * which it applied from no event of its own, with that event's epoch (recovery.c: the
 * epoch its ranks share with the replacements of the nodes still down, which it takes over
 * if it leads). Called before the ready hook. */
typedef void mesh_member_fn(struct mesh *m, uint64_t epoch);
void mesh_on_member(struct lcrd *d, mesh_member_fn *fn);

#endif
