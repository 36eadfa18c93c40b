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
#include <sys/socket.h>

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

/* What an adopter (above) calls to authenticate the connection it was handed, as the mesh
 * does an opener's HELLO (purpose: the first message's type, WIRE_XFER_HELLO), in two
 * halves. Open: the claim that node `from` addresses this node as `to` is checked against
 * the step's nodes, then the credential is opened off the loop: -EINPROGRESS the first
 * time (the adopter returns; it is called again with the same msg once the credential is
 * opened); then 0 with *auth, else -errno with the reason in err. claim gets " (claims to
 * be node N)" for the refusal's log line. Answer: the WELCOME credential answering auth's
 * nonce into *welcome and the connection's frame session; 0, or -errno with err. The
 * adopter then takes the connection's socket with mesh_conn_detach (mesh_conn.h). */
struct frame_session;
int mesh_hello_open(struct mesh *m, struct mesh_conn *c, const struct wire_msg *msg,
		    uint16_t purpose, uint32_t from, uint32_t to, const char *cred,
		    struct wire_mesh_auth *auth, char *claim, size_t claimcap, char *err,
		    size_t errlen);
int mesh_hello_answer(struct mesh *m, const struct mesh_conn *c, uint16_t purpose, uint32_t from,
		      const struct wire_mesh_auth *auth, struct wire_mesh_welcome *welcome,
		      struct frame_session **seal, char *err, size_t errlen);

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

/* --- What the services read of the membership (mesh_view.c) ---
 *
 * A service reads the membership through these, not through struct mesh (mesh_internal.h
 * is the mesh layer's own; tests/build/layers.sh lists the files that still include it).
 * Node ids are the step's (0 .. mesh_node_count() - 1, as Slurm numbers them); a node id
 * passed to a mesh_node_* function must be one of them. */

/* The helper this mesh belongs to. */
struct lcrd *mesh_lcrd(const struct mesh *m);
/* The mesh's own state: standalone, joining, up, failed, fenced (enum wire_mesh_state). */
enum wire_mesh_state mesh_state(const struct mesh *m);
/* This helper's node id, the number of nodes of the step's table, and the leader's id. */
uint32_t mesh_self(const struct mesh *m);
uint32_t mesh_node_count(const struct mesh *m);
uint32_t mesh_leader(const struct mesh *m);
/* Whether this helper is the leader. */
bool mesh_is_leader(const struct mesh *m);
/* The membership generation applied here (mesh_generation, for a mesh that exists). */
uint64_t mesh_applied_generation(const struct mesh *m);
/* The live nodes' ids, ascending, mesh_live_count() of them: the membership after the
 * last event applied (the array changes with the next one). */
uint32_t mesh_live_count(const struct mesh *m);
const uint32_t *mesh_live_ids(const struct mesh *m);
/* Whether node is in that list. */
bool mesh_is_live(const struct mesh *m, uint32_t node);
/* The generation at which this helper replaced a node (a --rejoin helper's NODE_JOINED),
 * 0 for a helper of the step's start. */
uint64_t mesh_joined_generation(const struct mesh *m);
/* Where this helper's mesh listens: its address (numeric) and port. */
const char *mesh_address(const struct mesh *m);
uint16_t mesh_port(const struct mesh *m);

/* A node of the table: its name ("" while unknown), its state (enum wire_node_state), its
 * global ranks (*count of them), the NODE_JOINED that brought its helper (0: its first
 * helper), whether it said LEAVE (its helper ends normally), and where its mesh listens
 * (*sa; returns the length, 0 while unknown). */
const char *mesh_node_name(const struct mesh *m, uint32_t node);
enum wire_node_state mesh_node_state(const struct mesh *m, uint32_t node);
const uint32_t *mesh_node_ranks(const struct mesh *m, uint32_t node, uint32_t *count);
uint64_t mesh_node_joined_generation(const struct mesh *m, uint32_t node);
bool mesh_node_leaving(const struct mesh *m, uint32_t node);
socklen_t mesh_node_sockaddr(const struct mesh *m, uint32_t node, struct sockaddr_storage *sa);

/* --- What the services may ask of the mesh --- */

/* The mesh of the helper. */
struct mesh *mesh_of(struct lcrd *d);

/* "n5 (4)" for logs, into buf[cap]. */
const char *mesh_node_label(const struct mesh *m, uint32_t node, char *buf, size_t cap);

/* Sends a message to a live node, connecting first when needed (the message waits for the
 * handshake). 0, or -errno when it cannot go now (the callers repeat what matters). */
int mesh_send(struct mesh *m, uint32_t node, uint16_t type, const uint8_t *payload, int len);

/* How many nodes of the table are down (removed by a NODE_DOWN and not brought back). */
uint32_t mesh_nodes_down(const struct mesh *m);

/* The step's ranks: every node's of the table, live or not. */
uint32_t mesh_total_ranks(const struct mesh *m);

/* Whether this helper may write what the job shares: not once it is fenced. The fence tears
 * the checkpoint and recovery work down, so nothing new starts; this guards what their
 * teardown would still write (removing a checkpoint's .tmp directory, the outcome,
 * scancel). A refusal is logged with `what` ("writing the step's outcome"). */
bool mesh_may_write_shared(struct mesh *m, const char *what);

/* The leader numbers a recovery event (REPLACING: its epoch is `epoch`, or its own
 * generation when 0; NODE_JOINED: joined is the node's new helper), applies it and sends
 * it down the tree. Returns its generation. */
uint64_t mesh_sequence_recovery(struct mesh *m, uint16_t type, uint32_t node, uint64_t epoch,
				const struct wire_rdv_node *joined, const char *message);

/* The same, for a REPLACING that rolls every rank back to resume_step (the protected step
 * of recovery from the copies; WIRE_NO_STEP: no rollback). */
uint64_t mesh_sequence_replacement(struct mesh *m, uint16_t type, uint32_t node, uint64_t epoch,
				   const struct wire_rdv_node *joined, uint64_t resume_step,
				   const char *message);

/* Adds a local entry to the event log and tells the subscribed ranks (generation 0 events:
 * MESH_UP, exits before the mesh is up). */
void mesh_log_local(struct mesh *m, uint16_t type, uint32_t node, uint32_t rank, uint32_t pid,
		    int32_t status, const char *message);

/* The entries of the event log kept now, and the i-th of them, oldest first. */
uint32_t mesh_log_length(const struct mesh *m);
const struct wire_event_log_entry *mesh_log_entry(const struct mesh *m, uint32_t i);

/* Whether this node reported the exit of its rank `rank` to the leader and has not seen it
 * numbered yet (a report still pending), with the process's wait status. */
bool mesh_exit_reported(const struct mesh *m, uint32_t rank, int32_t *wait_status);

#endif
