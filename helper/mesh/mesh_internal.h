/* mesh_internal.h: the mesh's shared state, for the mesh layer's own files: mesh.c
 * (membership, connections, handshake, dispatch), mesh_view.c (the read-only accessors of
 * mesh.h), mesh_events.c (sequencing, broadcast, catch-up, the event log), mesh_hooks.c
 * (what the services registered), mesh_join.c, mesh_dialer.c, rendezvous_client.c and
 * detector.c (heartbeats, suspicion, confirmation: what it keeps per node is its own, and
 * the mesh's files call it through detector.h). Not for the rest of lcrd, which uses
 * mesh.h (tests/build/layers.sh keeps the list of the files that include this one).
 *
 * Nodes are the step's nodes, indexed by node id (0 .. count-1, as Slurm numbers them).
 * A node is live until the leader removes it, as DOWN (dead or hung) or LEFT (its helper
 * ended normally); a removed node never comes back as itself, but a replacement helper may
 * take its id (NODE_JOINED, mesh_join.c and recovery.c). The live ids, sorted, form the ring
 * on which heartbeats go to each node's successors, and the tree on which the leader's
 * events travel (position p forwards to positions p*F+1 .. p*F+F). */
#ifndef LCR_HELPER_MESH_INTERNAL_H
#define LCR_HELPER_MESH_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "internal/wire.h"
#include "loop/mesh_conn.h"
#include "mesh/mesh.h"
#include "mesh/quorum.h"

struct lcrd;
struct auth_queue;
struct conn_gate;
struct mesh_auth;
struct mesh_auth_expect;
struct rendezvous_client;

#define MESH_TREE_FANOUT 4       /* children per node in the broadcast tree */
#define MESH_LOG_MAX 4096        /* event log entries kept */
#define MESH_SYNC_BATCH 64       /* events sent per catch-up */
#define MESH_DRAIN_MS 2000       /* a stopping helper's wait for its exits to be numbered */
#define MESH_NODE_UNKNOWN 0      /* a node's state before the table names it */
/* Incoming connections that have not authenticated yet (conn_gate.h): at most this many
 * from one address (a node's helper opens a handful: HELLO, a transfer, a JOIN; on one
 * machine, the tests' whole mesh shares 127.0.0.1) and in all from addresses that are no
 * node's of the step (or a quarter of RLIMIT_NOFILE, when that is less). */
#define MESH_PREAUTH_PER_ADDRESS 32
#define MESH_PREAUTH_TOTAL 256
/* An unauthenticated connection is not closed to make room before this (the time a peer
 * needs to answer the challenge with its HELLO). */
#define MESH_PREAUTH_GRACE_MS 1000

struct mesh_node {
	uint32_t id;
	char name[WIRE_NODE_NAME_MAX + 1];
	char address[WIRE_ADDR_MAX + 1];
	uint16_t port;
	uint32_t rank_count;        /* its global ranks (lcrd --ranks), from the table */
	uint32_t ranks[WIRE_MAX_LOCAL_RANKS];
	uint64_t joined_generation; /* the NODE_JOINED that brought its helper, 0: original */
	struct sockaddr_storage sa;
	socklen_t sa_len;
	enum wire_node_state state;
	bool leaving;               /* it said LEAVE: its closing connections are no failure */
	struct mesh_conn *conn;     /* an established connection, used to send */
	struct mesh_conn *dialing;  /* this node's connection to it being set up */
	uint64_t next_dial_ms;      /* no new attempt before (one per heartbeat period) */
	uint64_t refused_timer;     /* a refused connection, to report to the detector from the
				     * loop (mesh.c) */
	struct mesh *mesh;
};

/* A local rank's exit, sent to the leader until it comes back numbered. */
struct mesh_report {
	struct wire_mesh_report report;
	uint64_t sent_ms;
	struct mesh_report *next;
};

/* One entry of the event log. */
struct mesh_log_entry {
	struct wire_event_log_entry entry;
	bool sequenced;      /* numbered by a leader (generation >= 1): can be sent on */
	uint64_t leader_ms;  /* CLOCK_REALTIME at the leader */
	uint64_t resume_step; /* a REPLACING's (wire_mesh_event.resume_step), else WIRE_NO_STEP */
};

/* The order in which nodes were removed: the membership at generation g is "every node
 * whose removal has a generation <= g is gone". */
struct mesh_removal {
	uint32_t node;
	uint16_t state;
	uint64_t generation;
};

/* A NODE_JOINED's node, kept for peers that catch up on it. */
struct mesh_join_record {
	uint64_t generation;
	struct wire_rdv_node node;
};

struct detector;
struct quorum;
struct mesh_joiner;

/* What the services registered (mesh.h, mesh_hooks.c). */
struct mesh_hooks {
	struct {
		uint16_t type;
		mesh_message_fn *fn;
	} messages[MESH_MESSAGE_HANDLERS_MAX];
	uint32_t message_count;
	struct {
		uint16_t type;
		mesh_adopt_fn *fn;
	} adopters[MESH_ADOPTERS_MAX];
	uint32_t adopter_count;
	mesh_stop_fn *stops[MESH_STOP_HOOKS_MAX];
	uint32_t stop_count;
	mesh_fenced_fn *fenced;
	mesh_admit_fn *admit;
	mesh_joined_fn *joined;
	mesh_ready_fn *ready;
	mesh_member_fn *member;
	mesh_hold_fn *hold_join;
};

struct mesh {
	struct lcrd *d;
	enum wire_mesh_state state;
	uint32_t self;
	uint32_t count;
	struct mesh_node *nodes;
	uint32_t *live;             /* live ids, ascending */
	uint32_t live_count;
	uint32_t leader;
	uint64_t generation;
	uint64_t fenced_generation;  /* the generation at which this helper was fenced */
	uint64_t timeout_ms;
	uint64_t period_ms;         /* heartbeat period: timeout / 4 */
	uint32_t heartbeat_peers;
	int listen_fd;
	char address[WIRE_ADDR_MAX + 1];
	uint16_t port;
	uint64_t up_since_ms;
	struct mesh_conn *conns;    /* every connection, established or not */
	struct mesh_auth *auth;
	struct conn_gate *gate;      /* the incoming connections not authenticated yet */
	struct auth_queue *auth_queue; /* their credentials, opened off the loop */
	struct rendezvous_client *rendezvous;
	struct detector *detector;
	struct quorum *quorum;       /* the majority check (quorum.c), NULL until up */
	struct mesh_report *reports;
	struct mesh_log_entry *log;  /* a ring of log_cap entries, log_count used */
	uint32_t log_cap;
	uint32_t log_start;          /* index of the oldest entry */
	uint32_t log_count;
	uint64_t log_dropped;        /* entries dropped from the front */
	struct mesh_removal *removals;
	uint32_t removal_count;
	struct mesh_join_record *joins; /* every NODE_JOINED applied, in order */
	uint32_t join_count;
	uint64_t joined_generation;  /* this helper replaced a node at this generation, or 0 */
	struct mesh_joiner *joiner;  /* --rejoin: joining through a live helper (mesh_join.c) */
	struct mesh_stats stats;
	struct {
		mesh_event_fn *fn;
		void *arg;
	} subscribers[MESH_SUBSCRIBERS_MAX]; /* told of each applied event (mesh_subscribe) */
	uint32_t subscriber_count;
	struct mesh_hooks hooks;     /* the services' handlers and hooks (mesh_hooks.c) */
	bool join_held;              /* held_join waits for the hold_join hook to let it go */
	struct wire_event_log_entry held_join;
	uint32_t sync_peer;          /* the peer last asked for a catch-up */
	uint64_t sync_after;         /* and from which generation */
	struct wire_mesh_event event; /* scratch for one event (about 64 KiB) */
	struct wire_mesh_event incoming; /* the event being received */
	uint8_t scratch[WIRE_MAX_PAYLOAD];
};

/* --- mesh.c --- */

/* Copies a table entry's ranks into x. */
void mesh_node_set_ranks(struct mesh_node *x, const uint32_t *ranks, uint32_t count);
/* Starts the mesh from the rendezvous' table (m->nodes filled): listener already open. */
int mesh_start(struct mesh *m);
/* The rendezvous failed: this helper runs alone. */
void mesh_give_up(struct mesh *m, const char *why);
/* Opens the mesh listener on the address this helper reached the rendezvous from. */
int mesh_listen(struct mesh *m, const struct sockaddr *local, socklen_t len);
/* The same on the local address of the connected socket fd: where the others reach us. */
int mesh_listen_where_reached(struct mesh *m, int fd);
/* Marks a node removed, closes its connections; the caller updates live and leader. */
void mesh_remove_node(struct mesh *m, uint32_t node, enum wire_node_state state);
/* Takes a table entry (a JOIN's table, a NODE_JOINED) into x: name, address, port, ranks,
 * state; joined_generation is the NODE_JOINED that brought it (0: none). 0 or -EINVAL (an
 * address that is not numeric). */
int mesh_node_take(struct mesh *m, struct mesh_node *x, const struct wire_rdv_node *n,
		   uint64_t joined_generation);
/* Starts the mesh of a replacement from the leader's table (m->nodes filled). */
int mesh_start_joined(struct mesh *m, uint64_t generation, uint64_t epoch);
/* Rebuilds the sorted live list and the leader from the nodes' states. */
void mesh_rebuild_live(struct mesh *m);
/* This node is no member of the mesh any more: the others removed it (at generation), or it
 * is cut off from the majority (quorum.c). Either way its checkpoint writers and recovery
 * stop, it refuses every shared write, and it stops its ranks and ends (fence.h). */
void mesh_fence_self(struct mesh *m, uint64_t generation, const char *why);
void mesh_fence_cut_off(struct mesh *m, const char *why);
/* Opens the credential that msg, on the incoming connection c, carries, off the loop
 * (auth_queue.h): -EINPROGRESS the first time (the handler returns; msg comes back to it
 * once the credential is opened); then 0 with the payload in *out, or another -errno with
 * the reason in err (refuse the connection). */
int mesh_open_credential(struct mesh *m, struct mesh_conn *c, const struct wire_msg *msg,
			 const char *cred, const struct mesh_auth_expect *expect,
			 struct wire_mesh_auth *out, char *err, size_t errlen);
/* The frame session of a connection of this step's mesh whose handshake is h (the caller
 * sets its ends, purpose, challenge and nonces; the job and step are filled in), with the
 * site's wire_encryption: 0, or -errno with err set. */
struct conn_seal_handshake;
struct frame_session;
int mesh_seal_start(struct mesh *m, struct conn_seal_handshake *h, bool is_opener,
		    struct frame_session **seal, char *err, size_t errlen);

/* --- mesh_events.c --- */

/* Records that node was removed at generation g (the membership of later events). */
void mesh_record_removal(struct mesh *m, uint32_t node, uint16_t state, uint64_t g);
/* The leader numbers a change, applies it here and sends it down the tree. */
void mesh_sequence(struct mesh *m, uint16_t type, uint32_t node, uint32_t rank, uint32_t pid,
		   int32_t status, const char *message);
/* An event from a peer (the tree or a catch-up). */
void mesh_on_event(struct mesh *m, uint32_t from, const struct wire_mesh_event *ev);
/* A peer's generation, from its heartbeat: send it what it misses, or ask for ours. */
void mesh_on_peer_generation(struct mesh *m, uint32_t peer, uint64_t generation);
/* A peer asks for the events after a generation. */
void mesh_on_sync(struct mesh *m, uint32_t peer, uint64_t after);
/* The numbered event of generation g as the log keeps it, as a peer that missed it gets it
 * (with a REPLACING's resume step): false when the log no longer has it, or a NODE_JOINED
 * whose node is not known any more. */
bool mesh_logged_event(struct mesh *m, uint64_t g, struct wire_mesh_event *ev);
/* A peer's rank exited (it reports to us as the leader). */
void mesh_on_report(struct mesh *m, uint32_t peer, const struct wire_mesh_report *r);
/* Sends the reports not yet numbered to the leader again. */
void mesh_resend_reports(struct mesh *m);
/* Adds the local NODE_JOINED of a replacement (its own join) and tells its ranks. */
void mesh_log_joined(struct mesh *m, uint64_t epoch, const char *message);
void mesh_log_free(struct mesh *m);

/* --- mesh_hooks.c: calling what the services registered --- */

/* Hands msg to the service that registered its type: false when none did. */
bool mesh_hooks_message(struct mesh *m, uint32_t from, const struct wire_msg *msg);
/* Hands the incoming connection c, whose first message is msg, to the service that
 * registered its type: false when none did. */
bool mesh_hooks_adopt(struct mesh *m, struct mesh_conn *c, const struct wire_msg *msg);
/* Runs the stop hooks: in order of registration when fenced, else the last first. */
void mesh_hooks_stop(struct mesh *m, bool fenced);
/* Tells the fence hook (none: nothing happens). */
void mesh_hooks_fenced(struct mesh *m, const char *why);
/* The admit and joined hooks; without an admit hook, every JOIN is refused (-EPERM). */
int mesh_hooks_admit(struct mesh *m, uint32_t node, const char *name, uint64_t *epoch,
		     char *why, size_t cap);
void mesh_hooks_joined(struct mesh *m, uint32_t node, uint64_t g);
/* The ready hook of a replacement: 0 when none is registered. */
int mesh_hooks_ready(struct mesh *m);
/* A replacement's part of the mesh runs, joined with epoch (mesh_on_member). */
void mesh_hooks_member(struct mesh *m, uint64_t epoch);

/* --- mesh_join.c --- */

/* --rejoin: opens the listener and asks the helper at target for node self's place. */
int mesh_join_start(struct mesh *m, const char *target);
/* A JOIN on an incoming connection (this helper should be the leader). */
void mesh_join_on_request(struct mesh *m, struct mesh_conn *c, const struct wire_msg *msg);
void mesh_join_destroy(struct mesh *m);

#endif
