/* wire_snapshot.h: the messages of in-memory snapshots and their copies on other nodes
 * (issue 13, redundancy "copy"; part of wire.h: include internal/wire.h; see
 * helper/services/snapshot.h and doc/redundancy.md).
 *
 * Copies. A helper pushes each region of its snapshot of step P to its copy partners on a
 * state-transfer connection (XFER_HELLO's handshake, wire_xfer.h): SNAPSHOT_PUT names the
 * copy; the partner answers REPLY, status 0 (send it) or a negative errno with the reason
 * (refused: the memory budget, a malformed or duplicate copy). After a 0 the sender sends
 * exactly `size` raw bytes, sealed in pieces as a transfer's range is, and the partner
 * answers SNAPSHOT_ACK with the XXH3-64 of the bytes it now holds, or a negative status.
 *
 * Erasure coding. A helper pushes each data chunk of its snapshot of step P to the parity
 * holders of the chunk's stripe the same way, SNAPSHOT_PUT of kind CHUNK; each holder adds
 * it to the parity block it holds and acknowledges the chunk's XXH3 as for a copy. Before
 * its chunks, it sends every other member of its group its snapshot's layout (kind LAYOUT:
 * the bytes are a wire_snapshot_layout, below), which a rebuild of its state needs.
 *
 * Rebuild. After a member of a group is lost, each live member sends the leader its block
 * of every stripe the lost member gave data to (kind REBUILD: its data chunk, rebuilt from
 * its snapshot, or its parity block; `chunk` is the block's index in the stripe's code,
 * data chunks first, then parity rows), and the first live member sends the lost member's
 * layout (kind REBUILD_LAYOUT, `node` the lost member). The leader decodes the lost chunks.
 *
 * Rounds. Each node tells the leader, over the mesh, how its round of step P ended
 * (SNAPSHOT_DONE: every copy acknowledged, or why not); the leader tells every live node
 * (SNAPSHOT_END) that P is protected (every live node's copies acknowledged) or abandoned. */
#ifndef LCR_INTERNAL_WIRE_SNAPSHOT_H
#define LCR_INTERNAL_WIRE_SNAPSHOT_H

#include <stdint.h>

#include "internal/wire_describe.h"

/* The link's message types: T(NAME, number) gives enum wire_type's WIRE_NAME and its log
 * name (wire_type_name). */
#define WIRE_SNAPSHOT_TYPES(T)                                                          \
	T(SNAPSHOT_PUT, 96)  /* sender -> partner (transfer connection): a copy; REPLY */ \
	T(SNAPSHOT_ACK, 97)  /* partner -> sender: the hash of the copy held, or why not */ \
	T(SNAPSHOT_DONE, 98) /* node -> leader (mesh): its round of a step ended */     \
	T(SNAPSHOT_END, 99)  /* leader -> every live node (mesh): the step protected or not */

#define WIRE_SNAPSHOT_SIZE_MAX (1ull << 40) /* bytes of one copy */

/* What a SNAPSHOT_PUT carries. */
enum wire_snapshot_kind {
	WIRE_SNAPSHOT_COPY = 0,  /* one region of the node's snapshot (redundancy copy) */
	WIRE_SNAPSHOT_CHUNK = 1, /* one data chunk of an erasure-coded stripe, for its parity
				  * holder (redundancy erasure; rank, shard_key, region unused) */
	WIRE_SNAPSHOT_LAYOUT = 2, /* the sender's snapshot layout, for its group (stripe,
				   * chunk, rank, shard_key, region unused) */
	WIRE_SNAPSHOT_REBUILD = 3, /* a block of a stripe, for the leader's rebuild of a lost
				    * member (chunk: the block's index in the code) */
	WIRE_SNAPSHOT_REBUILD_LAYOUT = 4, /* a lost member's layout, for the leader's rebuild
					   * (node: the lost member) */
};

/* The layout of one node's snapshot: its regions, one after the other in this order, make
 * up the bytes that are cut into chunks. */
struct wire_snapshot_layout_region {
	uint32_t rank;
	uint32_t dp_size;
	char shard_key[WIRE_NAME_MAX + 1];
	char name[WIRE_NAME_MAX + 1];
	uint16_t kind; /* enum wire_region_kind: where the rank holds it (host or CUDA) */
	uint64_t size;
	uint64_t xxh3; /* of the region's bytes at the step */
};

#define WIRE_SNAPSHOT_LAYOUT_MAX 4096 /* regions of one node's snapshot */

/* The encoded length of a layout of `count` regions, at most. */
#define WIRE_SNAPSHOT_LAYOUT_BYTES(count) (4 + 8 + (size_t)(count) * (4 + 4 + 2 + WIRE_NAME_MAX + 2 + WIRE_NAME_MAX + 2 + 8 + 8))

/* A layout's bytes: u64 incarnation of the sender's helper, u32 count, then each region
 * (u32 rank, u32 dp_size, string shard key, string name, u16 kind, u64 size, u64 xxh3).
 * Encode: the length, or -EINVAL (too many regions) / -EMSGSIZE (cap). Decode: 0 with
 * *regions (the caller's to free) and *count, or -EBADMSG (malformed: a count over the
 * maximum, an empty name or shard key, a kind neither host nor CUDA, a size of 0 or over
 * WIRE_SNAPSHOT_SIZE_MAX, bytes left over) or -ENOMEM. */
int wire_encode_snapshot_layout(uint64_t incarnation, const struct wire_snapshot_layout_region *regions,
				uint32_t count, uint8_t *buf, size_t cap);
int wire_decode_snapshot_layout(const uint8_t *buf, size_t len, uint64_t *incarnation,
				struct wire_snapshot_layout_region **regions, uint32_t *count);

/* Refused with a step of WIRE_NO_STEP or a size of 0 or over the maximum; a copy without a
 * shard key or a region, with a dp_size of 0 or a region kind neither host nor CUDA; a chunk whose group geometry is impossible
 * (internal/redundancy_plan.h: groups of 2 to 32 nodes, parity below the group size, a
 * stripe per member, a data chunk below group_size - parity); a layout or rebuild with an
 * impossible geometry, a rebuild block not below group_size. */
#define WIRE_FIELDS_snapshot_put(F)                                                     \
	F(u32, node)        /* the node whose state it is */                            \
	F(u64, incarnation) /* its helper: 0, or the NODE_JOINED that brought it */     \
	F(u32, rank)                                                                    \
	F(str, shard_key, WIRE_NAME_MAX) /* the rank's: a replacement asks by it */     \
	F(u32, dp_size)     /* the rank's data-parallel size (a checkpoint's manifest) */ \
	F(str, region, WIRE_NAME_MAX)                                                   \
	F(u16, region_kind) /* a copy: its region's enum wire_region_kind */            \
	F(u64, step)                                                                    \
	F(u64, size)        /* raw bytes that follow the partner's go-ahead */          \
	F(u16, kind)        /* enum wire_snapshot_kind */                               \
	F(u32, group)       /* a chunk: the sender's erasure group */                   \
	F(u16, group_size)  /* its node count */                                        \
	F(u16, parity)      /* parity blocks per stripe */                              \
	F(u16, stripe)      /* the stripe the chunk is a data block of */               \
	F(u16, chunk)       /* which chunk of the sender's state: the data block index */ \
	F(valid, wire_snapshot_put_valid)

/* A positive status is refused. */
#define WIRE_FIELDS_snapshot_ack(F)                                                     \
	F(i32, status) /* 0: held; or a negative errno: not held */                     \
	F(u64, xxh3)   /* of the bytes held */                                          \
	F(str, message, WIRE_TEXT_MAX)                                                  \
	F(valid, wire_snapshot_ack_valid)

#define WIRE_SNAPSHOT_PARTNERS_MAX 8 /* copy partners of one node's round */

/* A positive status or a step of WIRE_NO_STEP is refused. */
#define WIRE_FIELDS_snapshot_done(F)                                                    \
	F(u64, step)                                                                    \
	F(i32, status) /* 0: every copy acknowledged; or a negative errno */            \
	F(u64, bytes)  /* the node's snapshot */                                        \
	/* the nodes that acknowledged its copies (status 0): where they are held */     \
	F(u32s, partners, partner_count, WIRE_SNAPSHOT_PARTNERS_MAX)                    \
	F(str, message, WIRE_TEXT_MAX) /* why not, when status < 0 */                   \
	F(valid, wire_snapshot_done_valid)

/* A step of WIRE_NO_STEP, or `protected` other than 0 or 1, is refused. */
#define WIRE_FIELDS_snapshot_end(F)                                                     \
	F(u64, step)                                                                    \
	F(u16, protected) /* 1: every live node's copies of step are acknowledged */    \
	F(u64, bytes)     /* protected: the snapshots of every node, all together */    \
	F(str, message, WIRE_TEXT_MAX) /* abandoned: why */                             \
	F(valid, wire_snapshot_end_valid)

/* The link's payloads, all flat (wire_describe.h). */
#define WIRE_SNAPSHOT_MESSAGES(X)                                                       \
	X(snapshot_put) X(snapshot_ack) X(snapshot_done) X(snapshot_end)
WIRE_SNAPSHOT_MESSAGES(WIRE_FLAT_DECLARE)

#endif
