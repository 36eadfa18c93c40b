/* wire_xfer.h: the state transfer messages between helpers (part of wire.h: include
 * internal/wire.h; see helper/services/transfer.h).
 *
 * A helper that needs a rank's state (the replacement of a lost node) fetches it from the
 * memory of surviving replicas. It connects to a peer's mesh listener and opens with
 * XFER_HELLO (a credential as in MESH_HELLO: job, step, from, to); the peer answers with
 * MESH_WELCOME (its credential, echoing the nonce) or REPLY (refused, with the reason). The
 * connection then carries requests, one at a time: XFER_REQUEST names a shard key, a
 * region, the committed step wanted and a byte range. The server answers REPLY with a
 * negative errno when it cannot serve it (no replica of that shard, no such region, another
 * step, a torn replica, a range beyond the region), else XFER_DATA, then exactly `length`
 * raw bytes outside any frame, then XFER_END with the XXH3-64 of the bytes as it read them
 * and status 0, or a negative status when they must be thrown away (the replica began
 * another update while it was read). */
#ifndef LCR_INTERNAL_WIRE_XFER_H
#define LCR_INTERNAL_WIRE_XFER_H

#include <stdint.h>

#include "internal/wire_describe.h"

/* The link's message types: T(NAME, number) gives enum wire_type's WIRE_NAME and its log
 * name (wire_type_name). */
#define WIRE_XFER_TYPES(T)                                                              \
	T(XFER_HELLO, 92)   /* client -> a peer's mesh listener; reply MESH_WELCOME or REPLY */ \
	T(XFER_REQUEST, 93) /* client -> server: one range; reply REPLY (refused) or DATA */ \
	T(XFER_DATA, 94)    /* server -> client: `length` raw bytes follow, then XFER_END */ \
	T(XFER_END, 95)     /* server -> client: the hash of those bytes, or why they are void */

#define WIRE_XFER_LENGTH_MAX (1ull << 40) /* bytes one XFER_REQUEST may ask for */

#define WIRE_FIELDS_xfer_hello(F)                                                       \
	F(u32, from_node) /* as the credential says */                                  \
	F(u32, to_node)                                                                 \
	F(str, credential, WIRE_CRED_MAX)

/* Refused without a shard key, a region, or a valid range. */
#define WIRE_FIELDS_xfer_request(F)                                                     \
	F(str, shard_key, WIRE_NAME_MAX)                                                \
	F(str, region, WIRE_NAME_MAX)                                                   \
	F(u64, step)   /* the committed step the bytes must be of */                    \
	F(u64, offset) /* in the region */                                              \
	F(u64, length) /* 1 .. WIRE_XFER_LENGTH_MAX; offset + length does not overflow */ \
	F(valid, wire_xfer_request_valid)

/* Refused without a valid range. */
#define WIRE_FIELDS_xfer_data(F)                                                        \
	F(u64, offset)                                                                  \
	F(u64, length) /* raw bytes that follow this message */                         \
	F(u32, rank)   /* the replica they are read from */                             \
	F(valid, wire_xfer_data_valid)

/* A positive status is refused. */
#define WIRE_FIELDS_xfer_end(F)                                                         \
	F(i32, status) /* 0, or a negative errno: the bytes sent are void */            \
	F(u64, xxh3)   /* of the bytes sent, as the server read them */                 \
	F(str, message, WIRE_TEXT_MAX)                                                  \
	F(valid, wire_xfer_end_valid)

/* The link's payloads, all flat (wire_describe.h). */
#define WIRE_XFER_MESSAGES(X) X(xfer_hello) X(xfer_request) X(xfer_data) X(xfer_end)
WIRE_XFER_MESSAGES(WIRE_FLAT_DECLARE)

#endif
