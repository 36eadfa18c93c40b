/* wire_jobkv.h: the job-wide key-value store's messages (part of wire.h: include
 * internal/wire.h; helper/services/jobkv.h and doc/mesh.md, "The job-wide store").
 *
 * A rank asks its helper with STORE_REQUEST on the control socket; the answer is a
 * STORE_REPLY, or a WIRE_REPLY with a negative errno and a message. A helper that is not
 * the store's leader forwards the request to the leader (JOBKV_FORWARD, with this helper's
 * client id and a sequence number, so that a write retried after the leader's death is not
 * applied twice) and gets JOBKV_RESULT back. The leader numbers every write (`index`) and
 * sends its outcome, the key's new value or its deletion, to every other live helper
 * (JOBKV_APPLY), which applies the writes in index order and acknowledges (JOBKV_ACK); a
 * write is answered once every live helper has it. A new leader, and a replacement helper,
 * get the whole store first (SNAPSHOT_BEGIN, one ENTRY per key, one CLIENT per write it
 * remembers, SNAPSHOT_END). `term` names one leader's reign: the generation at which it
 * began to lead. */
#ifndef LCR_INTERNAL_WIRE_JOBKV_H
#define LCR_INTERNAL_WIRE_JOBKV_H

#include <stdint.h>

#include "internal/wire_describe.h"

/* The link's message types: T(NAME, number) gives enum wire_type's WIRE_NAME and its log
 * name (wire_type_name). Control socket: 100-101; between helpers: 110-117. */
#define WIRE_JOBKV_TYPES(T)                                                             \
	T(STORE_REQUEST, 100) /* rank -> helper; reply: STORE_REPLY, or WIRE_REPLY */   \
	T(STORE_REPLY, 101)                                                             \
	T(JOBKV_FORWARD, 110) /* helper -> leader: a client's request */                \
	T(JOBKV_RESULT, 111)  /* leader -> helper: its answer */                        \
	T(JOBKV_APPLY, 112)   /* leader -> every live helper: write `index` */          \
	T(JOBKV_ACK, 113)     /* helper -> leader: applied every write up to `index` */ \
	T(JOBKV_SNAPSHOT_BEGIN, 114) /* leader -> helper: the whole store follows */    \
	T(JOBKV_SNAPSHOT_ENTRY, 115) /* one key and its value */                        \
	T(JOBKV_SNAPSHOT_CLIENT, 116) /* one write it remembers (retries) */              \
	T(JOBKV_SNAPSHOT_END, 117)   /* the counts sent; the helper acknowledges */

/* The largest value of the job-wide store: a COMPARE_SET carries two of them in a frame. */
#define WIRE_STORE_VALUE_MAX 16384

enum wire_store_op {
	WIRE_STORE_SET = 1,         /* value under key; reply: empty */
	WIRE_STORE_GET = 2,         /* waits up to timeout_ms for the key; reply: its value */
	WIRE_STORE_ADD = 3,         /* adds delta to the decimal number under key (absent: 0);
				     * reply: number, and value in decimal */
	WIRE_STORE_COMPARE_SET = 4, /* value if the key holds expected (absent: expected
				     * empty); reply: swapped, and the value now stored */
	WIRE_STORE_DELETE = 5,      /* reply: empty, or -ENOENT */
};
#define WIRE_STORE_OP_MAX WIRE_STORE_DELETE

/* An op out of range, or an empty key, is refused. */
#define WIRE_FIELDS_store_request(F)                                                    \
	F(u16, op)         /* enum wire_store_op */                                     \
	F(u32, timeout_ms) /* GET: 0 answers now, WIRE_WAIT_FOREVER */                  \
	F(u64, delta)      /* ADD: a signed 64-bit number, as its bits */               \
	F(str, key, WIRE_NAME_MAX)                                                      \
	F(blob, value, value_len, WIRE_STORE_VALUE_MAX)                                 \
	F(blob, expected, expected_len, WIRE_STORE_VALUE_MAX)                           \
	F(valid, wire_store_request_valid)

#define WIRE_FIELDS_store_reply(F)                                                      \
	F(u16, swapped) /* COMPARE_SET: 1 when it stored the value */                   \
	F(u64, number)  /* ADD: the sum, a signed 64-bit number, as its bits */         \
	F(blob, value, value_len, WIRE_STORE_VALUE_MAX)

/* A request that STORE_REQUEST's decoder would refuse is refused. */
#define WIRE_FIELDS_jobkv_forward(F)                                                    \
	F(u64, op_id)      /* the forwarding helper's name for it, echoed in RESULT */  \
	F(u64, client)     /* the forwarding helper's client id (random per helper) */  \
	F(u64, client_seq) /* its sequence number: a retried write carries the same */  \
	F(part, request, store_request)                                                 \
	F(valid, wire_jobkv_forward_valid)

/* A positive status is refused. */
#define WIRE_FIELDS_jobkv_result(F)                                                     \
	F(u64, op_id)                                                                   \
	F(i32, status) /* 0, or -errno: then message says why */                        \
	F(str, message, WIRE_TEXT_MAX)                                                  \
	F(part, reply, store_reply)                                                     \
	F(valid, wire_jobkv_result_valid)

enum wire_jobkv_change {
	WIRE_JOBKV_STORED = 1,  /* key holds value */
	WIRE_JOBKV_DELETED = 2, /* key is gone */
};

/* A change out of range, or an empty key, is refused. */
#define WIRE_FIELDS_jobkv_apply(F)                                                      \
	F(u64, term)                                                                    \
	F(u64, index)                                                                   \
	F(u16, change) /* enum wire_jobkv_change */                                     \
	F(u64, client)                                                                  \
	F(u64, client_seq)                                                              \
	F(u64, number) /* ADD: the sum, answered again to a retried ADD */          \
	F(str, key, WIRE_NAME_MAX)                                                      \
	F(blob, value, value_len, WIRE_STORE_VALUE_MAX)                                 \
	F(valid, wire_jobkv_apply_valid)

#define WIRE_FIELDS_jobkv_ack(F) F(u64, term) F(u64, index)
#define WIRE_FIELDS_jobkv_snapshot_begin(F) F(u64, term) F(u64, index)

#define WIRE_FIELDS_jobkv_snapshot_entry(F)                                             \
	F(u64, term)                                                                    \
	F(str, key, WIRE_NAME_MAX)                                                      \
	F(blob, value, value_len, WIRE_STORE_VALUE_MAX)

#define WIRE_FIELDS_jobkv_snapshot_client(F)                                            \
	F(u64, term)                                                                    \
	F(u64, client)                                                                  \
	F(u64, client_seq)                                                              \
	F(u64, number)

#define WIRE_FIELDS_jobkv_snapshot_end(F)                                               \
	F(u64, term)                                                                    \
	F(u64, index)                                                                   \
	F(u32, entries)                                                                 \
	F(u32, clients)

/* The link's payloads, all flat (wire_describe.h); the request and reply are also parts of
 * FORWARD and RESULT. */
#define WIRE_JOBKV_MESSAGES(X)                                                          \
	X(store_request) X(store_reply) X(jobkv_forward) X(jobkv_result) X(jobkv_apply) \
	X(jobkv_ack) X(jobkv_snapshot_begin) X(jobkv_snapshot_entry)                    \
	X(jobkv_snapshot_client) X(jobkv_snapshot_end)
WIRE_JOBKV_MESSAGES(WIRE_FLAT_DECLARE)

#endif
