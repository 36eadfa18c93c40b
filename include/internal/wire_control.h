/* wire_control.h: the messages of lcrd's control socket, which the ranks' liblcr and lcrctl
 * use: the generic reply, status, ranks and regions, events, the key-value store and barrier,
 * the PMIx events a rank forwards, the mesh's event log and the checkpoint requests (part of
 * wire.h: include internal/wire.h). */
#ifndef LCR_INTERNAL_WIRE_CONTROL_H
#define LCR_INTERNAL_WIRE_CONTROL_H

#include <stdint.h>

#include "internal/wire_describe.h"

/* The link's message types: T(NAME, number) gives enum wire_type's WIRE_NAME and its log
 * name (wire_type_name). */
#define WIRE_CONTROL_TYPES(T)                                                           \
	T(REPLY, 16)                                                                    \
	T(STATUS_REQUEST, 17)      /* no payload */                                     \
	T(STATUS_REPLY, 18)                                                             \
	T(REGISTER, 19)            /* reply: WIRE_REPLY + the rank's control page fd */ \
	T(REGION_ALLOC, 20)        /* reply: WIRE_REGION_INFO + region fd */            \
	T(REGION_LOOKUP, 21)       /* reply: WIRE_REGION_INFO + region fd */            \
	T(REGION_INFO, 22)                                                              \
	T(REGION_FREE, 23)         /* reply: WIRE_REPLY */                              \
	T(REGION_LIST, 24)         /* reply: WIRE_REGION_LIST_REPLY */                  \
	T(REGION_LIST_REPLY, 25)                                                        \
	T(REGION_CHECKSUM, 26)     /* reply: WIRE_REGION_CHECKSUM_REPLY */              \
	T(REGION_CHECKSUM_REPLY, 27)                                                    \
	T(SUBSCRIBE, 28)           /* no payload; reply: WIRE_REPLY, then WIRE_EVENTs */ \
	T(EVENT, 29)                                                                    \
	T(KV_PUT, 30)              /* reply: WIRE_REPLY */                              \
	T(KV_GET, 31)    /* reply: WIRE_KV_VALUE, or WIRE_REPLY -ENOENT/-ETIMEDOUT */   \
	T(KV_VALUE, 32)                                                                 \
	T(BARRIER, 33)             /* reply: WIRE_REPLY once every participant arrived */ \
	T(EVENT_LOG, 53)           /* reply: WIRE_EVENT_LOG_REPLY */                    \
	T(EVENT_LOG_REPLY, 54)                                                          \
	/* PMIx events a rank's liblcr forwards to its helper (70-79) */                \
	T(PMIX_EVENT, 70)          /* reply: WIRE_REPLY */                              \
	/* checkpoints (80-85) */                                                       \
	T(CKPT_NOW, 80)      /* no payload; reply: WIRE_CKPT_RESULT once saved, or failed */ \
	T(CKPT_RESULT, 81)                                                              \
	T(CKPT_INFO_REQUEST, 82)   /* no payload; reply: WIRE_CKPT_INFO */              \
	T(CKPT_INFO, 83)                                                                \
	T(RESUME_STEP, 84)   /* no payload, from a registered rank; reply: RESUME_INFO */ \
	T(RESUME_INFO, 85)

/* --- generic reply --- */

#define WIRE_FIELDS_reply(F)                                                            \
	F(i32, status) /* 0 or a negative errno */                                      \
	F(str, message, WIRE_TEXT_MAX)

/* --- status --- */

enum wire_helper_state {
	WIRE_HELPER_RUNNING = 1,
	WIRE_HELPER_STOPPING = 2,
};

enum wire_task_state {
	WIRE_TASK_EXPECTED = 1, /* named by --ranks, not started yet */
	WIRE_TASK_RUNNING = 2,
	WIRE_TASK_EXITED_STATE = 3,
};

#define WIRE_FIELDS_task_status(F)                                                      \
	F(u32, global_rank)                                                             \
	F(u32, pid)         /* 0 while unknown */                                       \
	F(u16, state)       /* enum wire_task_state */                                  \
	F(u16, registered)  /* 1 when a client holds this rank now */                   \
	F(i32, wait_status) /* meaningful once exited */

#define WIRE_FIELDS_status_reply(F)                                                     \
	F(u32, job_id)                                                                  \
	F(u32, step_id)                                                                 \
	F(u32, node_id)                                                                 \
	F(u32, node_count)                                                              \
	F(u32, uid)                                                                     \
	F(u32, pid)                                                                     \
	F(u64, uptime_ms)                                                               \
	F(u16, state) /* enum wire_helper_state */                                      \
	F(u32, clients)                                                                 \
	F(u32, region_count)                                                            \
	F(u64, region_bytes)                                                            \
	F(u64, region_quota) /* 0: unlimited */                                         \
	F(u16, redundancy)   /* enum lcr_redundancy_mode */                             \
	F(u16, redundancy_auto) /* 1: redundancy is what --redundancy=auto chose */     \
	F(u32, redundancy_copies)                                                       \
	F(u32, redundancy_group_size) /* with erasure */                                \
	F(u32, redundancy_parity)     /* with erasure */                                \
	F(u32, snapshot_every)                                                          \
	F(u64, protected_step) /* the newest protected step, or WIRE_NO_STEP */         \
	F(u64, redundancy_bytes) /* snapshots and copies held now */                    \
	F(u64, redundancy_memory_max) /* 0: no limit */                                 \
	F(u32, snapshot_hold_max_ms) /* 0: updates never wait for a snapshot's copy */  \
	F(u64, hold_waits)     /* updates of this node's ranks that waited for one */  \
	F(u64, hold_waited_us) /* ... and how long, in all */                           \
	F(str, node_name, WIRE_NODE_NAME_MAX)                                           \
	F(u32s, ranks, rank_count, WIRE_MAX_LOCAL_RANKS)                                \
	F(parts, tasks, task_count, WIRE_MAX_LOCAL_RANKS, task_status)

/* --- ranks and regions --- */

#define WIRE_FIELDS_register(F)                                                         \
	F(u32, global_rank)                                                             \
	F(u32, dp_index) /* data-parallel index */                                      \
	F(u32, dp_size)  /* data-parallel size */                                       \
	F(str, shard_key, WIRE_NAME_MAX) /* same key = replicas holding identical state */

enum wire_region_kind {
	WIRE_REGION_HOST = 1,
	WIRE_REGION_CUDA = 2,
};

#define WIRE_FIELDS_region_alloc(F)                                                     \
	F(u64, size)                                                                    \
	F(u16, kind)                             /* enum wire_region_kind */            \
	F(bytes, device_uuid, WIRE_UUID_SIZE)    /* CUDA device (zero for host) */      \
	F(str, name, WIRE_NAME_MAX)

/* WIRE_REGION_LOOKUP, WIRE_REGION_FREE */
#define WIRE_FIELDS_region_name(F) F(str, name, WIRE_NAME_MAX)

#define WIRE_REGION_REATTACHED 0x1 /* wire_region_info.flags: the region existed before */

#define WIRE_FIELDS_region_info(F)                                                      \
	F(u64, id)                                                                      \
	F(u64, size)     /* bytes asked for */                                          \
	F(u64, map_size) /* bytes to map (size rounded to the backend's granularity) */ \
	F(u16, kind)                                                                    \
	F(u16, flags)                                                                   \
	F(bytes, device_uuid, WIRE_UUID_SIZE)                                           \
	F(str, name, WIRE_NAME_MAX)

#define WIRE_FIELDS_region_list(F) F(u32, start) /* index of the first entry wanted */

enum wire_phase {
	WIRE_PHASE_RUNNING = 0,
	WIRE_PHASE_UPDATING = 1,
	WIRE_PHASE_COMMITTED = 2,
	WIRE_PHASE_ROLLING_BACK = 3, /* lcrd copies a protected step's snapshot into the regions */
	WIRE_PHASE_ABANDONED = 4, /* the rank gave its update up: torn, and no commit comes */
};

#define WIRE_OWNER_ALIVE 0x1 /* wire_region_entry.flags: the owner rank holds a session */

#define WIRE_FIELDS_region_entry(F)                                                     \
	F(u64, id)                                                                      \
	F(u64, size)                                                                    \
	F(u16, kind)                                                                    \
	F(u16, flags)                                                                   \
	F(u32, owner_rank)                                                              \
	F(u16, phase)          /* enum wire_phase, from the owner's control page */     \
	F(u64, committed_step) /* WIRE_NO_STEP when none */                             \
	F(str, name, WIRE_NAME_MAX)                                                     \
	F(str, shard_key, WIRE_NAME_MAX)

#define WIRE_FIELDS_region_list_reply(F)                                                \
	F(u32, total) /* regions in the table */                                        \
	/* entries in this reply, from the requested start */                           \
	F(parts, entries, count, WIRE_REGION_LIST_MAX, region_entry)

#define WIRE_FIELDS_region_checksum(F)                                                  \
	F(u32, owner_rank)                                                              \
	F(str, name, WIRE_NAME_MAX)

#define WIRE_FIELDS_region_checksum_reply(F)                                            \
	F(u64, size)                                                                    \
	F(u64, xxh64) /* XXH3 64-bit hash of the region's first `size` bytes, seed 0 */

/* --- events --- */

enum wire_event_type {
	WIRE_EVENT_RANK_EXITED = 1, /* a rank's process ended */
	WIRE_EVENT_SHUTDOWN = 2,    /* the helper is shutting down (the step ends) */
	WIRE_EVENT_HELPER_LOST = 3, /* a rank lost its resource manager's daemon (PMIx server) */
	WIRE_EVENT_NODE_DOWN = 4,   /* a node of the job is down (node) */
	WIRE_EVENT_NODE_LEFT = 5,   /* a node's helper ended normally (node_id) */
	WIRE_EVENT_MESH_UP = 6,     /* the step's helpers found each other (generation 0) */
	WIRE_EVENT_CHECKPOINT = 7,  /* a checkpoint was published (status 0) or abandoned */
	WIRE_EVENT_REPLACING = 8,   /* the leader launches a replacement for node (epoch) */
	WIRE_EVENT_NODE_JOINED = 9, /* a replacement took node's place (epoch of the attempt) */
	WIRE_EVENT_RECOVERY_FAILED = 10, /* no replacement for node: restart from a checkpoint */
	WIRE_EVENT_PROTECTED = 11,  /* a newer step is protected: every node's copies are held */
	WIRE_EVENT_RECOVERY_TIMELINE = 12, /* where a recovery's time went, as one helper saw it:
					    * in the event log only, never sent to the ranks */
};

/* What detected an event. */
enum wire_event_source {
	WIRE_SOURCE_HELPER = 0, /* lcrd itself: its pidfd watch, the plugin, its own state */
	WIRE_SOURCE_PMIX = 1,   /* a PMIx event that a rank forwarded (WIRE_PMIX_EVENT) */
};

#define WIRE_FIELDS_event(F)                                                            \
	F(u16, type)   /* enum wire_event_type */                                       \
	F(u16, source) /* enum wire_event_source */                                     \
	F(u32, rank)                                                                    \
	F(u32, pid)                                                                     \
	F(i32, status) /* wait status for RANK_EXITED when known, else -1 */            \
	F(str, node, WIRE_NODE_NAME_MAX) /* the node concerned (NODE_DOWN), else "" */   \
	F(str, message, WIRE_TEXT_MAX)                                                  \
	F(u32, node_id)    /* the step node concerned, or WIRE_NO_NODE */               \
	F(u64, generation) /* the mesh membership generation the event belongs to */    \
	F(u32, leader)     /* the mesh leader at that generation, or WIRE_NO_NODE */    \
	F(u64, epoch)      /* REPLACING, NODE_JOINED: the communicator epoch, else 0 */

/* --- key-value store and barrier --- */

#define WIRE_FIELDS_kv_put(F)                                                           \
	F(str, key, WIRE_NAME_MAX)                                                      \
	F(blob, value, value_len, WIRE_KV_VALUE_MAX)

#define WIRE_FIELDS_kv_get(F)                                                           \
	F(u32, timeout_ms) /* 0: answer now; WIRE_WAIT_FOREVER */                       \
	F(str, key, WIRE_NAME_MAX)

#define WIRE_FIELDS_kv_value(F) F(blob, value, value_len, WIRE_KV_VALUE_MAX)

#define WIRE_FIELDS_barrier(F)                                                          \
	F(u32, participants)                                                            \
	F(u32, timeout_ms) /* 0: do not wait; WIRE_WAIT_FOREVER */                      \
	F(str, name, WIRE_NAME_MAX)

/* --- PMIx events --- */

#define WIRE_PMIX_NSPACE_MAX 255      /* PMIX_MAX_NSLEN */
#define WIRE_PMIX_NO_RANK UINT32_MAX   /* wire_pmix_event.rank: the event names no process */
#define WIRE_PMIX_NO_NODE_ID UINT32_MAX /* wire_pmix_event.node_id: no PMIX_NODEID given */

/* The PMIx events liblcr forwards; the PMIx status that arrived is in `status`. */
enum wire_pmix_kind {
	WIRE_PMIX_NODE_DOWN = 1,       /* PMIX_EVENT_NODE_DOWN */
	WIRE_PMIX_PROC_ABORTED = 2,    /* PMIX_ERR_PROC_ABORTED */
	WIRE_PMIX_PROC_TERMINATED = 3, /* PMIX_EVENT_PROC_TERMINATED */
	WIRE_PMIX_LOST_CONNECTION = 4, /* PMIX_ERR_LOST_CONNECTION */
};
#define WIRE_PMIX_KIND_MAX WIRE_PMIX_LOST_CONNECTION

/* One PMIx event as a rank received it, one message per affected process. A kind outside
 * 1..WIRE_PMIX_KIND_MAX is refused. */
#define WIRE_FIELDS_pmix_event(F)                                                       \
	F(u16, kind)   /* enum wire_pmix_kind */                                        \
	F(i32, status) /* the pmix_status_t delivered to the handler */                 \
	/* the affected process (PMIX_EVENT_AFFECTED_PROC[S]), or WIRE_PMIX_NO_RANK */  \
	F(u32, rank)                                                                    \
	F(str, nspace, WIRE_PMIX_NSPACE_MAX) /* its namespace, "" when none */          \
	F(u32, node_id) /* the affected node (PMIX_NODEID), or WIRE_PMIX_NO_NODE_ID */   \
	F(str, node, WIRE_NODE_NAME_MAX) /* the affected node (PMIX_HOSTNAME), or "" */  \
	F(u32, reporter_rank) /* the forwarding rank, in PMIx terms */                  \
	F(str, reporter_nspace, WIRE_PMIX_NSPACE_MAX) /* and its namespace */           \
	F(valid, wire_pmix_event_valid)
/* The longest encoded wire_pmix_event (a little more than its struct). */
#define WIRE_PMIX_EVENT_SIZE_MAX \
	(2 + 4 + 4 + 2 + WIRE_PMIX_NSPACE_MAX + 4 + 2 + WIRE_NODE_NAME_MAX + 4 + 2 + \
	 WIRE_PMIX_NSPACE_MAX)

/* --- the mesh's state and event log, as lcrctl asks for them --- */

#define WIRE_EVENT_LOG_MAX 128 /* entries per WIRE_EVENT_LOG_REPLY */

#define WIRE_FIELDS_event_log(F) F(u32, start) /* index of the first entry wanted */

#define WIRE_FIELDS_event_log_entry(F)                                                  \
	F(u64, time_ms) /* CLOCK_REALTIME when this helper applied it */                \
	F(u64, generation)                                                              \
	F(u32, leader)                                                                  \
	F(u16, type) /* enum wire_event_type */                                         \
	F(u32, node)                                                                    \
	F(u32, rank)                                                                    \
	F(u32, pid)                                                                     \
	F(i32, status)                                                                  \
	F(str, message, WIRE_TEXT_MAX)                                                  \
	F(u64, epoch) /* REPLACING, NODE_JOINED: the communicator epoch, else 0 */

enum wire_mesh_state {
	WIRE_MESH_STANDALONE = 1,    /* no rendezvous given: a mesh of one */
	WIRE_MESH_BOOTSTRAPPING = 2, /* waiting for the rendezvous' table */
	WIRE_MESH_UP = 3,
	WIRE_MESH_FENCED_STATE = 4,  /* removed by the others */
	WIRE_MESH_FAILED = 5,        /* the rendezvous failed: running alone */
};

#define WIRE_FIELDS_event_log_reply(F)                                                  \
	F(u32, node_id)                                                                 \
	F(u16, state) /* enum wire_mesh_state */                                        \
	F(u64, generation)                                                              \
	F(u32, leader)                                                                  \
	F(u32, live_count)                                                              \
	F(u32, node_count)                                                              \
	F(str, address, WIRE_ADDR_MAX) /* the mesh listener, "" when none */            \
	F(u16, port)                                                                    \
	F(u32, heartbeat_peers)                                                         \
	F(u32, timeout_ms)                                                              \
	F(u64, uptime_ms)         /* since the mesh came up, 0 before */                \
	F(u64, messages_sent)     /* mesh messages since it came up */                  \
	F(u64, messages_received)                                                       \
	F(u64, bytes_sent)                                                              \
	F(u64, bytes_received)                                                          \
	F(u32, total) /* entries in the log */                                          \
	/* entries in this reply, from the requested start */                           \
	F(parts, entries, count, WIRE_EVENT_LOG_MAX, event_log_entry)

/* --- checkpoints --- */

#define WIRE_CKPT_PATH_MAX 1023 /* a checkpoint directory */

/* The outcome of a checkpoint (WIRE_CKPT_NOW; WIRE_MESH_CKPT_DONE carries it too). */
#define WIRE_FIELDS_ckpt_result(F)                                                      \
	F(i32, status)     /* 0, or the negative errno of the failure */                \
	F(u64, step)       /* the step saved, or WIRE_NO_STEP when none could be chosen */ \
	F(u64, bytes)      /* state bytes written */                                    \
	F(u64, elapsed_us) /* from the request (or failure event) to publication */     \
	F(str, path, WIRE_CKPT_PATH_MAX) /* the complete checkpoint, "" on failure */   \
	F(str, message, WIRE_TEXT_MAX)   /* what happened, or why it failed */

enum wire_restore_mode {
	WIRE_RESTORE_NEVER = 0,
	WIRE_RESTORE_AUTO = 1, /* the newest complete checkpoint of the checkpoint directory */
	WIRE_RESTORE_PATH = 2, /* one checkpoint named by its path */
};

/* What a helper knows of checkpoints (WIRE_CKPT_INFO_REQUEST). */
#define WIRE_FIELDS_ckpt_info(F)                                                        \
	F(str, ckpt_dir, WIRE_CKPT_PATH_MAX) /* "" when none was given */               \
	F(u32, keep)                         /* complete checkpoints kept, 0: all */    \
	F(u16, restore_mode)                 /* enum wire_restore_mode */               \
	F(u64, restored_step)                /* WIRE_NO_STEP when nothing is restored */ \
	F(str, restored_from, WIRE_CKPT_PATH_MAX)                                       \
	F(u16, busy)                         /* 1 while a checkpoint is being written */ \
	F(u64, busy_step)                                                               \
	F(i32, last_status)                  /* the last checkpoint: 0 or -errno */     \
	F(u64, last_step)                    /* WIRE_NO_STEP when there was none */     \
	F(str, last_message, WIRE_TEXT_MAX)

/* The step a rank resumes from (WIRE_RESUME_STEP). */
#define WIRE_FIELDS_resume_info(F)                                                      \
	F(u64, step) /* WIRE_NO_STEP: nothing was restored for this rank */             \
	F(str, checkpoint, WIRE_CKPT_PATH_MAX)

/* The link's parts and payloads, all flat (wire_describe.h). */
WIRE_FLAT_STRUCT(task_status)
WIRE_FLAT_STRUCT(region_entry)
WIRE_FLAT_STRUCT(event_log_entry)
#define WIRE_CONTROL_MESSAGES(X)                                                        \
	X(reply) X(status_reply) X(register) X(region_alloc) X(region_name)             \
	X(region_info) X(region_list) X(region_list_reply) X(region_checksum)           \
	X(region_checksum_reply) X(event) X(kv_put) X(kv_get) X(kv_value) X(barrier)    \
	X(pmix_event) X(event_log) X(event_log_reply) X(ckpt_result) X(ckpt_info)       \
	X(resume_info)
WIRE_CONTROL_MESSAGES(WIRE_FLAT_DECLARE)

#endif
