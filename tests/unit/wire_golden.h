/* wire_golden.h: the wire protocol as lib/wire.c encoded it before the codecs were split by
 * link and generated from descriptions (main at 6160292, WIRE_VERSION 2): for every message
 * kind, the length and FNV-1a 64 hash of its sample's encoding (wire_samples.h), and every
 * message type's number and name. test_wire_golden.c checks that the code of today still
 * produces exactly these. Never edit an entry: a change of the bytes of a message is a
 * change of the protocol, which needs a new WIRE_VERSION (and new golden bytes made on
 * purpose). A new message kind or type adds its entry. */
#ifndef LCR_TESTS_WIRE_GOLDEN_H
#define LCR_TESTS_WIRE_GOLDEN_H

#include <stdint.h>

struct wire_golden_payload {
	const char *kind;
	int length;
	uint64_t fnv1a64;
};

static const struct wire_golden_payload wire_golden_payloads[] = {
	{ "ready", 37, 0x8ea64d5cae699d58ull },
	{ "task_started", 12, 0x5e39e53808d86270ull },
	{ "task_exited", 12, 0xdbaf644e3a2cf425ull },
	{ "reply", 56, 0xd0d013f019267256ull },
	/* WIRE_VERSION 5: the status carries the redundancy */
	{ "status_reply", 1206, 0xcd11f83427b4f247ull }, /* WIRE_VERSION 8: erasure groups, auto;
							 * 10: the snapshot hold */
	{ "register", 21, 0x90e47a0531d4685bull },
	{ "region_alloc", 41, 0x18e01e59dd45e45bull },
	{ "region_name", 65, 0x722fc9cc4bdcc556ull },
	{ "region_info", 59, 0xa4b69c6ba42e00b6ull },
	{ "region_list", 4, 0xacd58afcaaf42074ull },
	{ "region_list_reply", 88, 0xa0127ae7585ce59dull },
	{ "region_checksum", 7, 0xe57582dcf83969e6ull },
	{ "region_checksum_reply", 16, 0x28fcf549d87f4405ull },
	{ "event", 108, 0xdf5e0164b82d6631ull },
	{ "kv_put", 144, 0x82172a84683c56b1ull },
	{ "kv_get", 16, 0xc6136cb1a6a38f9cull },
	{ "kv_value", 32772, 0x915563f6f74abe75ull },
	{ "barrier", 14, 0x271879f0f563be17ull },
	{ "pmix_event", 56, 0x7f425956d8bb3956ull },
	{ "mesh_auth", 42, 0xeeac12493d065ccfull },
	{ "mesh_hello", 2057, 0xecb344393f157f0cull },
	{ "mesh_welcome", 19, 0xe38d35ed3ac6a4c5ull },
	{ "mesh_challenge", 8, 0x37eb3f3347761c55ull },
	{ "rdv_register", 2143, 0xea5c43fe896de472ull },
	{ "rdv_table", 1600, 0x36d4f406b9d3a30dull },
	{ "mesh_heartbeat", 8, 0xff3add6b3789daefull },
	{ "mesh_join", 3106, 0x3228d1f8658ee05cull },
	{ "mesh_join_accept", 2069, 0xabb0ca0788662fe4ull },
	{ "mesh_join_refused", 79, 0x5e7af58168c0fc7eull },
	{ "mesh_suspect", 10, 0x8f01c7c33370bf68ull },
	{ "mesh_ping", 8, 0x3eac9f053bd57f6bull },
	{ "mesh_probe", 4, 0xcd3ac65e44f721b1ull },
	{ "mesh_report", 56, 0x23956c2eda71954eull },
	/* WIRE_VERSION 6: REPLACING's resume step */
	{ "mesh_event", 182, 0xa04e65b608417f1cull },
	{ "mesh_fenced", 8, 0x81a3697174a540acull },
	{ "mesh_sync", 8, 0x0de21504f16dc720ull },
	{ "event_log", 4, 0x4a7b7aaab8ac5c75ull },
	{ "event_log_reply", 11121, 0x99ccff5373b0bf15ull },
	{ "mesh_ckpt_ask", 16, 0x60816fb7bfd8afa3ull }, /* WIRE_VERSION 7: the snapshot step */
	{ "mesh_ckpt_reports", 298, 0x72174aa3f1fb22b3ull },
	{ "mesh_ckpt_write", 320, 0x4c03ac8ee9b4e6b8ull }, /* WIRE_VERSION 7: the snapshot step */
	/* WIRE_VERSION 3: each hash carries its rank and whether it was checked */
	{ "mesh_ckpt_result", 183, 0x4959707c03b0e738ull },
	{ "mesh_ckpt_request", 25, 0xd26186b3ffdc5a79ull },
	{ "ckpt_result", 95, 0x8f584f2a1686812aull },
	{ "ckpt_info", 93, 0xa6fb80fca2d9c324ull },
	{ "resume_info", 33, 0x6b21ae36d2413c32ull },
	{ "xfer_hello", 2057, 0xab01d1e16860038full },
	{ "xfer_request", 47, 0x69d6ce0c0ae41441ull },
	{ "xfer_data", 20, 0x6f283874fccaed4cull },
	{ "xfer_end", 59, 0x88fadfa919e312a9ull },
	/* the job-wide key-value store (wire_jobkv.h) */
	{ "store_request", 46, 0x51bc769be629ea9cull },
	{ "store_reply", 16, 0xbc509da4fe5a8a0eull },
	{ "jobkv_forward", 70, 0xfdfb4279ce1274fcull },
	{ "jobkv_result", 90, 0xa733132a752019c1ull },
	{ "jobkv_apply", 57, 0x8a9098134d6c6cafull },
	{ "jobkv_ack", 16, 0x3775e30e9263a648ull },
	{ "jobkv_snapshot_begin", 16, 0x3775e30e9263a648ull },
	{ "jobkv_snapshot_entry", 33, 0x4f0b0eb19af3c933ull },
	{ "jobkv_snapshot_client", 32, 0xee0944cde46bea85ull },
	{ "jobkv_snapshot_end", 24, 0xf799983801872206ull },
	/* WIRE_VERSION 5: snapshots and their copies (wire_snapshot.h) */
	{ "snapshot_put", 77, 0x6ce60b0fba899095ull }, /* 6: the shard key; 7: dp_size; 8: chunks;
							 * 10: region kind */
	{ "snapshot_ack", 80, 0xb424513c5aaef713ull },
	{ "snapshot_done", 91, 0xe468d3464ff9335full }, /* WIRE_VERSION 7: the partners */
	{ "snapshot_end", 20, 0x83c29c6bd11c052cull },
};

struct wire_golden_type {
	unsigned number;
	const char *name;
};

static const struct wire_golden_type wire_golden_types[] = {
	{ 1, "READY" },
	{ 2, "TASK_STARTED" },
	{ 3, "TASK_EXITED" },
	{ 4, "SHUTDOWN" },
	{ 16, "REPLY" },
	{ 17, "STATUS_REQUEST" },
	{ 18, "STATUS_REPLY" },
	{ 19, "REGISTER" },
	{ 20, "REGION_ALLOC" },
	{ 21, "REGION_LOOKUP" },
	{ 22, "REGION_INFO" },
	{ 23, "REGION_FREE" },
	{ 24, "REGION_LIST" },
	{ 25, "REGION_LIST_REPLY" },
	{ 26, "REGION_CHECKSUM" },
	{ 27, "REGION_CHECKSUM_REPLY" },
	{ 28, "SUBSCRIBE" },
	{ 29, "EVENT" },
	{ 30, "KV_PUT" },
	{ 31, "KV_GET" },
	{ 32, "KV_VALUE" },
	{ 33, "BARRIER" },
	{ 40, "MESH_HELLO" },
	{ 41, "MESH_WELCOME" },
	{ 42, "RDV_REGISTER" },
	{ 43, "RDV_TABLE" },
	{ 44, "MESH_HEARTBEAT" },
	{ 45, "MESH_SUSPECT" },
	{ 46, "MESH_PING" },
	{ 47, "MESH_PONG" },
	{ 48, "MESH_REPORT" },
	{ 49, "MESH_LEAVE" },
	{ 50, "MESH_EVENT" },
	{ 51, "MESH_FENCED" },
	{ 52, "MESH_SYNC" },
	{ 53, "EVENT_LOG" },
	{ 54, "EVENT_LOG_REPLY" },
	{ 55, "MESH_PROBE" },
	{ 56, "MESH_JOIN" },
	{ 57, "MESH_JOIN_ACCEPT" },
	{ 58, "MESH_JOIN_REFUSED" },
	{ 59, "MESH_CHALLENGE" },
	{ 70, "PMIX_EVENT" },
	{ 80, "CKPT_NOW" },
	{ 81, "CKPT_RESULT" },
	{ 82, "CKPT_INFO_REQUEST" },
	{ 83, "CKPT_INFO" },
	{ 84, "RESUME_STEP" },
	{ 85, "RESUME_INFO" },
	{ 86, "MESH_CKPT_ASK" },
	{ 87, "MESH_CKPT_REPORTS" },
	{ 88, "MESH_CKPT_WRITE" },
	{ 89, "MESH_CKPT_RESULT" },
	{ 90, "MESH_CKPT_REQUEST" },
	{ 91, "MESH_CKPT_DONE" },
	{ 92, "XFER_HELLO" },
	{ 93, "XFER_REQUEST" },
	{ 94, "XFER_DATA" },
	{ 95, "XFER_END" },
	{ 96, "SNAPSHOT_PUT" },
	{ 97, "SNAPSHOT_ACK" },
	{ 98, "SNAPSHOT_DONE" },
	{ 99, "SNAPSHOT_END" },
	{ 100, "STORE_REQUEST" },
	{ 101, "STORE_REPLY" },
	{ 110, "JOBKV_FORWARD" },
	{ 111, "JOBKV_RESULT" },
	{ 112, "JOBKV_APPLY" },
	{ 113, "JOBKV_ACK" },
	{ 114, "JOBKV_SNAPSHOT_BEGIN" },
	{ 115, "JOBKV_SNAPSHOT_ENTRY" },
	{ 116, "JOBKV_SNAPSHOT_CLIENT" },
	{ 117, "JOBKV_SNAPSHOT_END" },
};

#endif
