/* jobkv_internal.h: the job-wide store's state, shared by jobkv.c (the clients' requests,
 * forwarding them to the leader, who leads) and jobkv_replica.c (the leader's ordering and
 * replication, a follower's copy). Not for the rest of lcrd, which uses jobkv.h. */
#ifndef LCR_HELPER_JOBKV_INTERNAL_H
#define LCR_HELPER_JOBKV_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "internal/wire.h"
#include "services/jobkv.h"
#include "services/jobkv_state.h"

struct mesh;

#define JOBKV_NO_TERM UINT64_MAX /* a copy that no leader has synced yet */
#define JOBKV_TICK_MS 100        /* unsent requests go out, lagging copies are resent */
#define JOBKV_RESEND_MS 1000     /* a follower that has not acknowledged is sent again */
#define JOBKV_REPLY_MS 10000     /* a forwarded request's answer, beyond its own wait */
#define JOBKV_LOG_MAX 4096       /* writes that wait for every live helper */

struct jobkv_op;      /* a request of this helper's client, in flight (jobkv.c) */
struct jobkv_answer;  /* the leader's answer that waits for its writes (jobkv_replica.c) */
struct jobkv_waiter;  /* the leader's GET that waits for its key (jobkv_replica.c) */
struct jobkv_change;  /* a write not yet on every live helper (jobkv_replica.c) */

/* The leader's view of one other helper's copy. */
struct jobkv_follower {
	uint64_t term;      /* the term it acknowledged last: this reign's, or not synced */
	uint64_t acked;     /* the index it has */
	uint64_t sent;      /* the index sent to it */
	uint64_t sent_ms;   /* when something was last sent to it */
};

struct jobkv {
	struct lcrd *d;
	struct jobkv_state state; /* this helper's copy */
	uint64_t client_id;       /* random: names this helper's writes to the leader */
	uint64_t next_client_seq;
	uint64_t next_op_id;
	uint32_t leader;          /* the store's leader as seen here, WIRE_NO_NODE: none yet */
	uint64_t term;            /* the reign this copy belongs to, JOBKV_NO_TERM: none */
	bool fenced;
	uint64_t tick_timer;
	/* this helper's clients */
	struct jobkv_op *ops;
	/* as the leader */
	struct jobkv_follower *followers; /* per node id */
	uint32_t follower_count;
	struct jobkv_answer *answers;     /* in index order of what they wait for */
	struct jobkv_waiter *waiters;
	struct jobkv_change *changes;     /* oldest first */
	struct jobkv_change *last_change;
	uint32_t change_count;
	/* as a follower: a copy being received */
	struct jobkv_state *incoming;
	uint64_t incoming_term;
	uint64_t incoming_index;
	uint32_t incoming_entries;
	uint32_t incoming_clients;
	/* scratch */
	struct wire_jobkv_forward forward;
	struct wire_jobkv_result result;
	struct wire_jobkv_apply apply;
	struct jobkv_outcome outcome;
	uint8_t buf[WIRE_MAX_PAYLOAD];
};

/* --- jobkv.c --- */

/* The answer to request op_id of this helper, from the leader (or this helper as leader). */
void jobkv_op_answered(struct jobkv *kv, uint64_t op_id, int status, const char *message,
		       const struct wire_store_reply *reply);
/* The leader refused a request because it does not lead (any more): it goes out again. */
void jobkv_op_resend(struct jobkv *kv, uint64_t op_id);

/* --- jobkv_replica.c --- */

/* The leader executes a request from `origin` (this helper or a peer) and answers it when
 * its writes are on every live helper. */
void jobkv_leader_execute(struct jobkv *kv, uint32_t origin, uint64_t op_id, uint64_t client,
			  uint64_t client_seq, const struct wire_store_request *req);
/* This helper begins to lead at term: every other copy is synced anew. */
void jobkv_leader_begin(struct jobkv *kv, uint64_t term);
/* It stops leading (fenced, destroyed): the answers and waits it holds are dropped. */
void jobkv_leader_end(struct jobkv *kv);
/* Every tick and after a membership change: the copies that lag are sent again, the answers
 * whose writes every live helper has go out, waits of removed helpers are dropped. */
void jobkv_leader_tick(struct jobkv *kv);
/* A node's helper was replaced: its new copy starts empty. */
void jobkv_leader_forget(struct jobkv *kv, uint32_t node);
/* A mesh message of the replication (APPLY, ACK, SNAPSHOT_*). */
void jobkv_replica_message(struct jobkv *kv, uint32_t from, const struct wire_msg *msg);
/* Frees what the replication holds. */
void jobkv_replica_free(struct jobkv *kv);

/* Shared: the mesh, and a result message to `origin` (a call when it is this helper). */
struct mesh *jobkv_mesh(struct jobkv *kv);
void jobkv_send_result(struct jobkv *kv, uint32_t origin, uint64_t op_id, int status,
		       const char *message, const struct wire_store_reply *reply);

#endif
