/* wire_mesh_ckpt.h: the mesh's multi-node checkpoint messages, between the leader and the
 * other helpers over the mesh's connections (part of wire.h: include internal/wire.h;
 * doc/checkpoint.md).
 *
 * The leader gathers every live node's replica reports (ASK, REPORTS), chooses the step and
 * sends the same reports to every writer (WRITE), so that each computes the same plan
 * (ckpt_plan_build, then ckpt_plan_reassign for each lost writer in `lost`, in order) and
 * writes its ranges; each writer answers RESULT. `id` names one checkpoint of one leader: a
 * message with another id is stale. */
#ifndef LCR_INTERNAL_WIRE_MESH_CKPT_H
#define LCR_INTERNAL_WIRE_MESH_CKPT_H

#include <stdint.h>

#include "internal/wire_describe.h"

/* The link's message types: T(NAME, number) gives enum wire_type's WIRE_NAME and its log
 * name (wire_type_name). */
#define WIRE_MESH_CKPT_TYPES(T)                                                         \
	T(MESH_CKPT_ASK, 86)     /* leader -> every live node: send your replicas' reports */ \
	T(MESH_CKPT_REPORTS, 87) /* node -> leader: its reports (or why it has none) */  \
	T(MESH_CKPT_WRITE, 88)   /* leader -> writer: the plan's inputs; write your ranges */ \
	T(MESH_CKPT_RESULT, 89)  /* writer -> leader: its ranges' hashes, or its error */ \
	T(MESH_CKPT_REQUEST, 90) /* node -> leader: `lcrctl ckpt now` or a rank asked */ \
	T(MESH_CKPT_DONE, 91)    /* leader -> every live node: a wire_ckpt_result */

#define WIRE_CKPT_REPLICAS_MAX 64  /* replicas in one REPORTS or WRITE */
#define WIRE_CKPT_REGIONS_MAX 128  /* their regions, all together */
#define WIRE_CKPT_LOST_MAX 32      /* writers lost during one checkpoint */
#define WIRE_CKPT_HASHES_MAX 2048  /* range hashes in one RESULT, written and checked together */

struct wire_ckpt_replica {
	uint32_t rank;
	uint32_t node_id;
	char node[WIRE_NODE_NAME_MAX + 1];
	char shard_key[WIRE_NAME_MAX + 1];
	uint32_t dp_size;
	uint16_t phase;          /* enum wire_phase */
	uint64_t committed_step; /* WIRE_NO_STEP when none */
	uint32_t region_count;   /* its regions: the next region_count of the list */
};

struct wire_ckpt_replica_region {
	char name[WIRE_NAME_MAX + 1];
	uint16_t kind; /* enum wire_region_kind */
	uint64_t size;
};

/* Replicas and their regions, in replica order: the regions' count is the sum of the
 * replicas' region_count, and a phase is one of enum wire_phase (coded by hand, as a part
 * of REPORTS and WRITE). */
struct wire_ckpt_replicas {
	uint32_t count;
	struct wire_ckpt_replica replicas[WIRE_CKPT_REPLICAS_MAX];
	uint32_t region_count;
	struct wire_ckpt_replica_region regions[WIRE_CKPT_REGIONS_MAX];
};

/* snapshot_step WIRE_NO_STEP: report the live ranks; else report the replicas of this
 * helper's snapshots of that protected step (its own ranks' and the copies it holds of
 * lost nodes' ranks: redundancy "copy"), as of a failure that left a shard without a live
 * replica. */
#define WIRE_FIELDS_mesh_ckpt_ask(F)                                                    \
	F(u64, id)                                                                      \
	F(u64, snapshot_step)

/* A positive status is rejected by the decoder. */
#define WIRE_FIELDS_mesh_ckpt_reports(F)                                                \
	F(u64, id)                                                                      \
	F(i32, status) /* 0, or why this node has no reports (-errno) */                \
	F(str, error, WIRE_TEXT_MAX)                                                    \
	F(part, replicas, ckpt_replicas)                                                \
	F(valid_decoded, wire_mesh_ckpt_reports_valid)

/* A step of WIRE_NO_STEP, or a snapshot_step other than WIRE_NO_STEP and step, is
 * rejected by the decoder. */
#define WIRE_FIELDS_mesh_ckpt_write(F)                                                  \
	F(u64, id)                                                                      \
	F(u64, step)                                                                    \
	/* step: the ranges are read from the helpers' snapshots of it, not the ranks */  \
	F(u64, snapshot_step)                                                           \
	/* writers lost, in the order they were lost */                                 \
	F(u32s, lost, lost_count, WIRE_CKPT_LOST_MAX)                                   \
	F(part, replicas, ckpt_replicas) /* every report the plan was built from */     \
	F(valid_decoded, wire_mesh_ckpt_write_valid)

/* A range's hash, read from replica `rank`: written into its file (checked 0), or only
 * hashed to compare the replicas (checked 1; ckpt_verify.h). */
#define WIRE_FIELDS_ckpt_hash(F)                                                        \
	F(u32, shard)                                                                   \
	F(u32, region)                                                                  \
	F(u32, range)                                                                   \
	F(u32, rank)                                                                    \
	F(u16, checked)                                                                 \
	F(u64, xxh3)

/* A positive status, or a hash whose `checked` is neither 0 nor 1, is refused. */
#define WIRE_FIELDS_mesh_ckpt_result(F)                                                 \
	F(u64, id)                                                                      \
	F(i32, status) /* 0, or -errno (-ESTALE: a replica began an update meanwhile) */ \
	F(str, error, WIRE_TEXT_MAX)                                                    \
	F(u64, step)                                                                    \
	F(u64, bytes)                                                                   \
	F(u64, elapsed_us)                                                              \
	F(parts, hashes, hash_count, WIRE_CKPT_HASHES_MAX, ckpt_hash)                   \
	F(valid, wire_mesh_ckpt_result_valid)

#define WIRE_FIELDS_mesh_ckpt_request(F) F(str, reason, WIRE_TEXT_MAX)

/* The link's part and payloads, all flat (wire_describe.h) around the replicas. */
WIRE_FLAT_STRUCT(ckpt_hash)
#define WIRE_MESH_CKPT_MESSAGES(X)                                                      \
	X(mesh_ckpt_ask) X(mesh_ckpt_reports) X(mesh_ckpt_write) X(mesh_ckpt_result)    \
	X(mesh_ckpt_request)
WIRE_MESH_CKPT_MESSAGES(WIRE_FLAT_DECLARE)

#endif
