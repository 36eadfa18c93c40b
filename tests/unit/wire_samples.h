/* wire_samples.h: one filled sample of every wire message kind, fill_<kind>(struct
 * wire_<kind> *), with every field set to a value of its own. The codec tests check that each
 * round-trips and refuses malformed forms (wire_codec.h), the golden test that each still
 * encodes to the bytes it did when the golden bytes were made (test_wire_golden.c), and the
 * samples are the wire fuzz target's seeds (fuzz_seed.h). A new message kind needs a sample
 * here: the tables of those tests name fill_<kind> for every kind wire.h lists. */
#ifndef LCR_TESTS_WIRE_SAMPLES_H
#define LCR_TESTS_WIRE_SAMPLES_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal/wire.h"

static inline void fill_ready(void *p)
{
	struct wire_ready *m = p;
	m->pid = 4242;
	strcpy(m->socket_path, "/run/lcr/1001/12.0.n1/lcrd.sock");
}

static inline void fill_task_started(void *p)
{
	struct wire_task_started *m = p;
	*m = (struct wire_task_started){ .local_task_id = 1, .global_rank = 7, .pid = 99 };
}

static inline void fill_task_exited(void *p)
{
	struct wire_task_exited *m = p;
	*m = (struct wire_task_exited){ .global_rank = 7, .pid = 99, .wait_status = -9 };
}

static inline void fill_reply(void *p)
{
	struct wire_reply *m = p;
	m->status = -ENOSPC;
	strcpy(m->message, "region 'optim.exp_avg' (1.5 GiB) exceeds the quota");
}

static inline void fill_status_reply(void *p)
{
	struct wire_status_reply *m = p;
	m->job_id = 12;
	m->step_id = 3;
	m->node_id = 2;
	m->node_count = 5;
	m->uid = 1001;
	m->pid = 4242;
	m->uptime_ms = 123456789012ull;
	m->state = WIRE_HELPER_RUNNING;
	m->clients = 2;
	m->region_count = 4;
	m->region_bytes = 1ull << 33;
	m->region_quota = 1ull << 40;
	m->redundancy = 1; /* copy */
	m->redundancy_copies = 2;
	m->snapshot_hold_max_ms = 1000;
	m->hold_waits = 37;
	m->hold_waited_us = 81234;
	m->redundancy_group_size = 8;
	m->redundancy_auto = 1;
	m->redundancy_parity = 2;
	m->snapshot_every = 10;
	m->protected_step = 40;
	m->redundancy_bytes = 3ull << 30;
	m->redundancy_memory_max = 8ull << 30;
	strcpy(m->node_name, "n3");
	m->rank_count = WIRE_MAX_LOCAL_RANKS;
	for (uint32_t i = 0; i < m->rank_count; i++)
		m->ranks[i] = 1000 + i;
	m->task_count = 3;
	for (uint32_t i = 0; i < m->task_count; i++)
		m->tasks[i] = (struct wire_task_status){ 1000 + i, 500 + i, WIRE_TASK_RUNNING, 1,
							 (int32_t)i };
}

static inline void fill_register(void *p)
{
	struct wire_register *m = p;
	m->global_rank = 5;
	m->dp_index = 1;
	m->dp_size = 4;
	strcpy(m->shard_key, "tp1.pp0");
}

static inline void fill_region_alloc(void *p)
{
	struct wire_region_alloc *m = p;
	m->size = 3ull << 30;
	m->kind = WIRE_REGION_CUDA;
	for (int i = 0; i < WIRE_UUID_SIZE; i++)
		m->device_uuid[i] = (uint8_t)(0xa0 + i);
	strcpy(m->name, "optim.exp_avg");
}

static inline void fill_region_name(void *p)
{
	struct wire_region_name *m = p;
	memset(m->name, 'x', WIRE_NAME_MAX);
	m->name[WIRE_NAME_MAX] = '\0';
}

static inline void fill_region_info(void *p)
{
	struct wire_region_info *m = p;
	m->id = 77;
	m->size = 1000;
	m->map_size = 4096;
	m->kind = WIRE_REGION_HOST;
	m->flags = WIRE_REGION_REATTACHED;
	strcpy(m->name, "model.weights");
}

static inline void fill_region_list(void *p)
{
	struct wire_region_list *m = p;
	m->start = 17;
}

static inline void fill_region_list_reply(void *p)
{
	struct wire_region_list_reply *m = p;
	m->total = 300;
	m->count = 2;
	m->entries[0] = (struct wire_region_entry){ .id = 1, .size = 10, .kind = WIRE_REGION_HOST,
						    .flags = WIRE_OWNER_ALIVE, .owner_rank = 3,
						    .phase = WIRE_PHASE_COMMITTED,
						    .committed_step = 41 };
	strcpy(m->entries[0].name, "a");
	strcpy(m->entries[0].shard_key, "k0");
	m->entries[1] = (struct wire_region_entry){ .id = 2, .size = 20, .kind = WIRE_REGION_CUDA,
						    .owner_rank = 4, .phase = WIRE_PHASE_RUNNING,
						    .committed_step = WIRE_NO_STEP };
	strcpy(m->entries[1].name, "b");
}

static inline void fill_region_checksum(void *p)
{
	struct wire_region_checksum *m = p;
	m->owner_rank = 9;
	strcpy(m->name, "w");
}

static inline void fill_region_checksum_reply(void *p)
{
	struct wire_region_checksum_reply *m = p;
	m->size = 1 << 20;
	m->xxh64 = 0x0123456789abcdefull;
}

static inline void fill_kv_put(void *p)
{
	struct wire_kv_put *m = p;
	strcpy(m->key, "nccl.uid.0");
	m->value_len = 128;
	for (uint32_t i = 0; i < m->value_len; i++)
		m->value[i] = (uint8_t)i;
}

static inline void fill_kv_get(void *p)
{
	struct wire_kv_get *m = p;
	m->timeout_ms = 5000;
	strcpy(m->key, "nccl.uid.0");
}

static inline void fill_kv_value(void *p)
{
	struct wire_kv_value *m = p;
	m->value_len = WIRE_KV_VALUE_MAX;
	memset(m->value, 0x5a, m->value_len);
}

static inline void fill_barrier(void *p)
{
	struct wire_barrier *m = p;
	m->participants = 4;
	m->timeout_ms = 100;
	strcpy(m->name, "init");
}

/* ranks[count] = first, first + 1, ... */
static inline void fill_ranks(uint32_t *ranks, uint32_t *count, uint32_t n, uint32_t first)
{
	*count = n;
	for (uint32_t i = 0; i < n; i++)
		ranks[i] = first + i;
}

static inline void fill_credential(char *cred)
{
	for (int i = 0; i < WIRE_CRED_MAX; i++)
		cred[i] = (char)('A' + i % 26);
	cred[WIRE_CRED_MAX] = '\0';
}

static inline void fill_mesh_auth(void *p)
{
	struct wire_mesh_auth *m = p;
	*m = (struct wire_mesh_auth){ .purpose = WIRE_MESH_JOIN, .job_id = 12, .step_id = 3, .from_node = 1, .to_node = 4,
				      .nonce = 0x1122334455667788ull, .echo = 0x99,
				      .incarnation = 0x5566 };
}

static inline void fill_mesh_hello(void *p)
{
	struct wire_mesh_hello *m = p;
	m->from_node = 7;
	m->to_node = 8;
	fill_credential(m->credential);
}

static inline void fill_mesh_welcome(void *p)
{
	struct wire_mesh_welcome *m = p;
	strcpy(m->credential, "MUNGE:AwQFAAD...:");
}

static inline void fill_mesh_challenge(void *p)
{
	struct wire_mesh_challenge *m = p;
	m->nonce = 0x0123456789abcdefull;
}

static inline void fill_rdv_register(void *p)
{
	struct wire_rdv_register *m = p;
	strcpy(m->token, "0123456789abcdef0123456789abcdef");
	m->node_id = 4;
	m->node_count = 5;
	strcpy(m->node_name, "n5");
	strcpy(m->address, "fe80::1ff:fe23:4567:890a");
	m->port = 40123;
	fill_credential(m->credential);
	fill_ranks(m->ranks, &m->rank_count, 4, 16);
}

static inline void fill_rdv_table(void *p)
{
	struct wire_rdv_table *m = p;
	m->total = 1000;
	m->start = 256;
	m->count = WIRE_TABLE_PAGE_MAX;
	for (uint32_t i = 0; i < m->count; i++) {
		m->nodes[i].node_id = m->start + i;
		m->nodes[i].port = (uint16_t)(30000 + i);
		snprintf(m->nodes[i].node_name, sizeof(m->nodes[i].node_name), "node%04u",
			 m->start + i);
		strcpy(m->nodes[i].address, "10.77.0.11");
		m->nodes[i].state = i % 3 ? WIRE_NODE_LIVE : WIRE_NODE_DOWN;
		fill_ranks(m->nodes[i].ranks, &m->nodes[i].rank_count, i % 5,
			   (m->start + i) * 4);
	}
}

static inline void fill_mesh_heartbeat(void *p)
{
	struct wire_mesh_heartbeat *m = p;
	m->generation = 42;
}

static inline void fill_mesh_suspect(void *p)
{
	struct wire_mesh_suspect *m = p;
	*m = (struct wire_mesh_suspect){ .node = 3, .evidence = WIRE_EVIDENCE_REFUSED,
					 .silent_ms = 2100 };
}

static inline void fill_mesh_ping(void *p)
{
	struct wire_mesh_ping *m = p;
	m->nonce = 0xfeedfacecafebeefull;
}

static inline void fill_mesh_probe(void *p)
{
	struct wire_mesh_probe *m = p;
	m->node = 4;
}

static inline void fill_mesh_report(void *p)
{
	struct wire_mesh_report *m = p;
	*m = (struct wire_mesh_report){ .type = WIRE_EVENT_RANK_EXITED, .rank = 6, .pid = 4321,
					.status = 9 };
	strcpy(m->message, "rank 6 (pid 4321) was killed by signal 9");
}

static inline void fill_mesh_event(void *p)
{
	struct wire_mesh_event *m = p;
	m->generation = 7;
	m->leader = 1;
	m->time_ms = 1700000000123ull;
	m->type = WIRE_EVENT_NODE_DOWN;
	m->node = 0;
	m->rank = WIRE_NO_RANK;
	m->status = -1;
	strcpy(m->message, "node n1 (0) is down: its helper refused a connection");
	m->epoch = 6;
	m->resume_step = 40;
	m->joined = (struct wire_rdv_node){ .node_id = 0, .port = 41234, .state = WIRE_NODE_LIVE };
	strcpy(m->joined.node_name, "n9");
	strcpy(m->joined.address, "10.77.0.19");
	fill_ranks(m->joined.ranks, &m->joined.rank_count, 4, 0);
	m->removed_count = 3;
	for (uint32_t i = 0; i < WIRE_MESH_NODES_MAX; i++)
		m->removed[i] = (struct wire_mesh_member){ i, i % 2 ? WIRE_NODE_LEFT : WIRE_NODE_DOWN };
}

static inline void fill_mesh_fenced(void *p)
{
	struct wire_mesh_fenced *m = p;
	m->generation = 9;
}

static inline void fill_mesh_sync(void *p)
{
	struct wire_mesh_sync *m = p;
	m->after = 5;
}

static inline void fill_event_log(void *p)
{
	struct wire_event_log *m = p;
	m->start = 128;
}

static inline void fill_event_log_reply(void *p)
{
	struct wire_event_log_reply *m = p;
	m->node_id = 2;
	m->state = WIRE_MESH_UP;
	m->generation = 3;
	m->leader = 0;
	m->live_count = 4;
	m->node_count = 5;
	strcpy(m->address, "127.0.0.1");
	m->port = 41000;
	m->heartbeat_peers = 2;
	m->timeout_ms = 2000;
	m->uptime_ms = 60000;
	m->messages_sent = 240;
	m->messages_received = 241;
	m->bytes_sent = 7680;
	m->bytes_received = 7712;
	m->total = 300;
	m->count = WIRE_EVENT_LOG_MAX;
	for (uint32_t i = 0; i < m->count; i++) {
		struct wire_event_log_entry *e = &m->entries[i];
		*e = (struct wire_event_log_entry){ .time_ms = 1700000000000ull + i,
						    .generation = i,
						    .leader = 0,
						    .type = WIRE_EVENT_RANK_EXITED,
						    .node = 3,
						    .rank = i,
						    .pid = 100 + i,
						    .status = 0 };
		snprintf(e->message, sizeof(e->message), "rank %u (pid %u) exited with status 0",
			 i, 100 + i);
	}
}

static inline void fill_event(void *p)
{
	struct wire_event *m = p;
	m->type = WIRE_EVENT_NODE_DOWN;
	m->rank = WIRE_NO_RANK;
	m->status = -1;
	strcpy(m->node, "n4");
	strcpy(m->message, "node n4 (3) is down: no heartbeat for 2.0 s, seen by n5 and n1");
	m->node_id = 3;
	m->generation = 2;
	m->leader = 0;
	m->source = WIRE_SOURCE_PMIX;
	m->pid = 4321;
	m->epoch = 5;
}

static inline void fill_mesh_join(void *p)
{
	struct wire_mesh_join *m = p;
	*m = (struct wire_mesh_join){ .node_id = 2, .to_node = 0, .node_count = 4, .port = 40999 };
	strcpy(m->node_name, "n5");
	strcpy(m->address, "127.0.0.1");
	fill_ranks(m->ranks, &m->rank_count, WIRE_MAX_LOCAL_RANKS, 8);
	fill_credential(m->credential);
}

static inline void fill_mesh_join_accept(void *p)
{
	struct wire_mesh_join_accept *m = p;
	*m = (struct wire_mesh_join_accept){ .generation = 4, .epoch = 3, .leader = 0 };
	fill_credential(m->credential);
}

static inline void fill_mesh_join_refused(void *p)
{
	struct wire_mesh_join_refused *m = p;
	*m = (struct wire_mesh_join_refused){ .status = -EREMOTE, .leader = 1, .port = 40001 };
	strcpy(m->address, "127.0.0.1");
	strcpy(m->message, "this helper does not lead: ask n2 (1) at 127.0.0.1:40001");
}

/* Four replicas of shard "dp" on four nodes, two regions each. */
static inline void fill_replicas(struct wire_ckpt_replicas *m)
{
	m->count = 4;
	m->region_count = 8;
	for (uint32_t i = 0; i < m->count; i++) {
		struct wire_ckpt_replica *r = &m->replicas[i];
		*r = (struct wire_ckpt_replica){ .rank = i, .node_id = i, .dp_size = 4,
						 .phase = WIRE_PHASE_COMMITTED,
						 .committed_step = 41 + i % 2, .region_count = 2 };
		snprintf(r->node, sizeof(r->node), "n%u", i + 1);
		strcpy(r->shard_key, "dp");
	}
	for (uint32_t i = 0; i < m->region_count; i++) {
		struct wire_ckpt_replica_region *g = &m->regions[i];
		strcpy(g->name, i % 2 ? "adam" : "weights");
		g->kind = WIRE_REGION_HOST;
		g->size = (64ull << 20) + i;
	}
}

static inline void fill_mesh_ckpt_ask(void *p)
{
	struct wire_mesh_ckpt_ask *m = p;
	m->id = 0x70001;
	m->snapshot_step = 40;
}

static inline void fill_mesh_ckpt_reports(void *p)
{
	struct wire_mesh_ckpt_reports *m = p;
	m->id = 0x70001;
	fill_replicas(&m->replicas);
}

static inline void fill_mesh_ckpt_write(void *p)
{
	struct wire_mesh_ckpt_write *m = p;
	m->id = 0x70001;
	m->step = 40;
	m->snapshot_step = 40;
	m->lost_count = 2;
	m->lost[0] = 2;
	m->lost[1] = 3;
	fill_replicas(&m->replicas);
}

static inline void fill_mesh_ckpt_result(void *p)
{
	struct wire_mesh_ckpt_result *m = p;
	m->id = 0x70001;
	m->status = -EIO;
	strcpy(m->error, "cannot write ckpt/step-41.tmp/dp.weights at offset 4194304: EIO");
	m->step = 41;
	m->bytes = 1ull << 30;
	m->elapsed_us = 1250000;
	m->hash_count = 3;
	for (uint32_t i = 0; i < m->hash_count; i++)
		m->hashes[i] = (struct wire_ckpt_hash){ 0, i % 2, i, 4 + i, i == 2,
							0x0123456789abcdefull + i };
}

static inline void fill_mesh_ckpt_request(void *p)
{
	struct wire_mesh_ckpt_request *m = p;
	strcpy(m->reason, "asked by pid 4242 on n2");
}

static inline void fill_xfer_hello(void *p)
{
	struct wire_xfer_hello *m = p;
	m->from_node = 0;
	m->to_node = 2;
	for (int i = 0; i < WIRE_CRED_MAX; i++)
		m->credential[i] = (char)('A' + i % 26);
	m->credential[WIRE_CRED_MAX] = '\0';
}

static inline void fill_xfer_request(void *p)
{
	struct wire_xfer_request *m = p;
	strcpy(m->shard_key, "shard0");
	strcpy(m->region, "optim.exp_avg");
	m->step = 7;
	m->offset = 0x0000000123456789ull;
	m->length = 64ull << 20;
}

static inline void fill_xfer_data(void *p)
{
	struct wire_xfer_data *m = p;
	*m = (struct wire_xfer_data){ .offset = 0x0000000123456789ull, .length = 64ull << 20,
				      .rank = 4 };
}

static inline void fill_xfer_end(void *p)
{
	struct wire_xfer_end *m = p;
	m->status = -ESTALE;
	m->xxh3 = 0x0123456789abcdefull;
	strcpy(m->message, "rank 4 began step 8 while its bytes were read");
}

static inline void fill_store_request(void *p)
{
	struct wire_store_request *m = p;
	m->op = WIRE_STORE_COMPARE_SET;
	m->timeout_ms = 2500;
	m->delta = (uint64_t)-3;
	strcpy(m->key, "pg0/rank_count");
	m->value_len = 5;
	memcpy(m->value, "owner", 5);
	m->expected_len = 3;
	memcpy(m->expected, "old", 3);
}

static inline void fill_store_reply(void *p)
{
	struct wire_store_reply *m = p;
	m->swapped = 1;
	m->number = 42;
	m->value_len = 2;
	memcpy(m->value, "42", 2);
}

static inline void fill_jobkv_forward(void *p)
{
	struct wire_jobkv_forward *m = p;
	m->op_id = 17;
	m->client = 0x1122334455667788ull;
	m->client_seq = 9;
	fill_store_request(&m->request);
}

static inline void fill_jobkv_result(void *p)
{
	struct wire_jobkv_result *m = p;
	m->op_id = 17;
	m->status = -E2BIG;
	strcpy(m->message, "cannot store key 'big' (16000 bytes): past the store's bound");
	fill_store_reply(&m->reply);
}

static inline void fill_jobkv_apply(void *p)
{
	struct wire_jobkv_apply *m = p;
	m->term = 3;
	m->index = 1234;
	m->change = WIRE_JOBKV_STORED;
	m->client = 0x1122334455667788ull;
	m->client_seq = 9;
	m->number = 42;
	strcpy(m->key, "counter");
	m->value_len = 2;
	memcpy(m->value, "42", 2);
}

static inline void fill_jobkv_ack(void *p)
{
	struct wire_jobkv_ack *m = p;
	m->term = 3;
	m->index = 1234;
}

static inline void fill_jobkv_snapshot_begin(void *p)
{
	struct wire_jobkv_snapshot_begin *m = p;
	m->term = 3;
	m->index = 1234;
}

static inline void fill_jobkv_snapshot_entry(void *p)
{
	struct wire_jobkv_snapshot_entry *m = p;
	m->term = 3;
	strcpy(m->key, "MASTER_ADDR");
	m->value_len = 8;
	memcpy(m->value, "10.0.0.1", 8);
}

static inline void fill_jobkv_snapshot_client(void *p)
{
	struct wire_jobkv_snapshot_client *m = p;
	m->term = 3;
	m->client = 0x1122334455667788ull;
	m->client_seq = 9;
	m->number = 42;
}

static inline void fill_jobkv_snapshot_end(void *p)
{
	struct wire_jobkv_snapshot_end *m = p;
	m->term = 3;
	m->index = 1234;
	m->entries = 12;
	m->clients = 34;
}

static inline void fill_snapshot_put(void *p)
{
	struct wire_snapshot_put *m = p;
	*m = (struct wire_snapshot_put){ .node = 3, .incarnation = 12, .rank = 7, .dp_size = 1,
					 .region_kind = WIRE_REGION_CUDA, .step = 40,
					 .size = 3ull << 20 };
	strcpy(m->shard_key, "zero1-r7");
	strcpy(m->region, "optim.exp_avg");
}

static inline void fill_snapshot_ack(void *p)
{
	struct wire_snapshot_ack *m = p;
	m->status = -ENOSPC;
	m->xxh3 = 0x0123456789abcdefull;
	strcpy(m->message, "lcrd on n2 cannot hold the copy of region 'w' of rank 7 at step 40");
}

static inline void fill_snapshot_done(void *p)
{
	struct wire_snapshot_done *m = p;
	*m = (struct wire_snapshot_done){ .step = 40, .status = -ESTALE, .bytes = 3ull << 20,
					  .partner_count = 2, .partners = { 4, 1 } };
	strcpy(m->message, "rank 7 began another update while its regions were copied");
}

static inline void fill_snapshot_end(void *p)
{
	struct wire_snapshot_end *m = p;
	*m = (struct wire_snapshot_end){ .step = 40, .protected = 1, .bytes = 12ull << 20 };
	strcpy(m->message, "");
}

static inline void fill_pmix_event(void *p)
{
	struct wire_pmix_event *m = p;
	m->kind = WIRE_PMIX_PROC_ABORTED;
	m->status = -7;
	m->rank = 5;
	strcpy(m->nspace, "slurm.pmix.12.3");
	m->node_id = 3;
	strcpy(m->node, "n4");
	m->reporter_rank = 1;
	strcpy(m->reporter_nspace, "slurm.pmix.12.3");
}

static inline void fill_ckpt_result(void *p)
{
	struct wire_ckpt_result *m = p;
	*m = (struct wire_ckpt_result){ .status = -ENOSPC, .step = 7, .bytes = 1ull << 40,
					.elapsed_us = 123456 };
	strcpy(m->path, "/scratch/ckpt/30/step-7");
	strcpy(m->message, "checkpoint of step 7 abandoned: no space");
}

static inline void fill_ckpt_info(void *p)
{
	struct wire_ckpt_info *m = p;
	*m = (struct wire_ckpt_info){ .keep = 2, .restore_mode = WIRE_RESTORE_AUTO,
				      .restored_step = 6, .busy = 1, .busy_step = 9,
				      .last_status = -EIO, .last_step = 8 };
	strcpy(m->ckpt_dir, "/scratch/ckpt/30");
	strcpy(m->restored_from, "/scratch/ckpt/30/step-6");
	strcpy(m->last_message, "step 8 saved");
}

static inline void fill_resume_info(void *p)
{
	struct wire_resume_info *m = p;
	m->step = 6;
	strcpy(m->checkpoint, "/scratch/ckpt/30/step-6");
}

#endif
