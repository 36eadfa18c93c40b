/* test_ckpt_plan.c: planning a checkpoint (common/ckpt_plan.c): which step is chosen from the
 * replicas' marks (never a replica in the middle of an update), what is said when no step
 * can be chosen, how shards are split across writers (disjoint, aligned, covering, about
 * equal, the same whatever the order of the reports), and how a lost writer's ranges are
 * covered by the others. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal/ckpt_plan.h"

#define MiB (1024ull * 1024ull)
#define GiB (1024ull * MiB)

static char err[1024];

static const struct ckpt_plan_params params = {
	.job_id = 30, .alignment = CKPT_ALIGNMENT, .range_max = CKPT_RANGE_MAX,
};

/* A replica on node `node` with regions named "a", "b", ... of the given sizes. */
static struct ckpt_report replica(uint32_t rank, uint32_t node, const char *key,
				  enum wire_phase phase, uint64_t committed, const uint64_t *sizes,
				  size_t n)
{
	struct ckpt_report r = { .rank = rank, .node_id = node, .dp_size = 2, .phase = phase,
				 .committed_step = committed, .region_count = n };
	snprintf(r.node, sizeof(r.node), "n%u", node);
	snprintf(r.shard_key, sizeof(r.shard_key), "%s", key);
	r.regions = calloc(n + 1, sizeof(*r.regions));
	assert_non_null(r.regions);
	/* Listed backwards: the plan sorts them. */
	for (size_t i = 0; i < n; i++) {
		snprintf(r.regions[i].name, sizeof(r.regions[i].name), "%c", (char)('a' + n - 1 - i));
		r.regions[i].kind = WIRE_REGION_HOST;
		r.regions[i].size = sizes[n - 1 - i];
	}
	return r;
}

static void free_reports(struct ckpt_report *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(r[i].regions);
}

static const uint64_t one_region[] = { 3 * MiB };

#define COMMITTED WIRE_PHASE_COMMITTED
#define UPDATING WIRE_PHASE_UPDATING
#define RUNNING WIRE_PHASE_RUNNING

static void test_newest_step_committed_everywhere_is_chosen(void **state)
{
	struct ckpt_report r[] = {
		replica(0, 0, "s0", COMMITTED, 7, one_region, 1),
		replica(2, 1, "s0", COMMITTED, 7, one_region, 1),
		replica(1, 0, "s1", COMMITTED, 7, one_region, 1),
		replica(3, 1, "s1", COMMITTED, 7, one_region, 1),
	};
	uint64_t step = 0;
	(void)state;
	assert_int_equal(ckpt_plan_choose_step(r, 4, &step, err, sizeof(err)), 0);
	assert_int_equal(step, 7);
	free_reports(r, 4);
}

static void test_replica_in_an_update_is_never_chosen(void **state)
{
	/* Shard s0: rank 0 committed 8, rank 2 is updating 8 (its last commit, 7, is torn).
	 * Shard s1: both committed 8. So 8; rank 2 is not a holder of 7 or 8. */
	struct ckpt_report r[] = {
		replica(0, 0, "s0", COMMITTED, 8, one_region, 1),
		replica(2, 1, "s0", UPDATING, 7, one_region, 1),
		replica(1, 0, "s1", COMMITTED, 8, one_region, 1),
		replica(3, 1, "s1", COMMITTED, 8, one_region, 1),
	};
	uint64_t step = 0;
	struct manifest m;
	(void)state;
	assert_int_equal(ckpt_plan_choose_step(r, 4, &step, err, sizeof(err)), 0);
	assert_int_equal(step, 8);
	assert_int_equal(ckpt_plan_build(r, 4, step, &params, &m, err, sizeof(err)), 0);
	/* Shard s0 is written by node 0 alone: node 1's replica is torn. */
	for (size_t k = 0; k < m.shards[0].regions[0].range_count; k++)
		assert_string_equal(m.writers[m.shards[0].regions[0].ranges[k].writer].node, "n0");
	/* Every replica is restored, the torn one too. */
	assert_int_equal(m.shards[0].rank_count, 2);
	manifest_free(&m);
	/* The previous commit of the updating replica is not chosen either: with s0's only
	 * committed replica at 8 and s1 at 7, there is no common step. */
	r[2].committed_step = 7;
	r[3].committed_step = 7;
	assert_int_equal(ckpt_plan_choose_step(r, 4, &step, err, sizeof(err)), -ENODATA);
	assert_string_equal(err, "no step is committed on a replica of every shard: shard 's0' "
			    "holds step 8 (rank 0); shard 's1' holds step 7 (rank 1), 7 (rank 3)");
	free_reports(r, 4);
}

static void test_older_common_step_is_chosen_when_replicas_differ(void **state)
{
	struct ckpt_report r[] = {
		replica(0, 0, "s0", COMMITTED, 8, one_region, 1),
		replica(2, 1, "s0", COMMITTED, 7, one_region, 1),
		replica(1, 0, "s1", COMMITTED, 7, one_region, 1),
		replica(3, 1, "s1", UPDATING, 7, one_region, 1),
	};
	uint64_t step = 0;
	(void)state;
	assert_int_equal(ckpt_plan_choose_step(r, 4, &step, err, sizeof(err)), 0);
	assert_int_equal(step, 7);
	free_reports(r, 4);
}

static void test_shard_without_a_commit_is_named(void **state)
{
	struct ckpt_report r[] = {
		replica(0, 0, "s0", COMMITTED, 3, one_region, 1),
		replica(1, 0, "s1", UPDATING, 3, one_region, 1),
		replica(3, 0, "s1", RUNNING, WIRE_NO_STEP, one_region, 1),
	};
	uint64_t step = 0;
	(void)state;
	assert_int_equal(ckpt_plan_choose_step(r, 3, &step, err, sizeof(err)), -ENODATA);
	assert_string_equal(err, "shard 's1' has no replica whose state is committed: rank 1 "
			    "updating (last committed step 3), rank 3 never committed");
	assert_int_equal(ckpt_plan_choose_step(r, 0, &step, err, sizeof(err)), -ENODATA);
	assert_string_equal(err, "no rank has registered: there is no state to save");
	free_reports(r, 3);
}

static void test_bad_reports_are_refused(void **state)
{
	struct ckpt_report r[] = {
		replica(0, 0, "s0", COMMITTED, 3, one_region, 1),
		replica(0, 1, "s1", COMMITTED, 3, one_region, 1),
	};
	uint64_t step;
	struct manifest m;
	(void)state;
	assert_int_equal(ckpt_plan_choose_step(r, 2, &step, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "rank 0 is reported twice");
	r[1].rank = 1;
	r[1].shard_key[0] = '\0';
	assert_int_equal(ckpt_plan_choose_step(r, 2, &step, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "rank 1 registered without a shard key: its state cannot be "
			    "checkpointed");
	strcpy(r[1].shard_key, "s0");
	r[1].dp_size = 4;
	assert_int_equal(ckpt_plan_build(r, 2, 3, &params, &m, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "ranks 0 and 1 of shard 's0' registered with data-parallel "
			    "sizes 2 and 4");
	r[1].dp_size = 2;
	r[1].regions[0].size = 5 * MiB;
	assert_int_equal(ckpt_plan_build(r, 2, 3, &params, &m, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "ranks 0 and 1 of shard 's0' differ: region 'a' (3145728 bytes, "
			    "host) against 'a' (5242880 bytes, host)");
	free_reports(r, 2);
}

/* Checks the plan's ranges: aligned, at most range_max, and writer byte counts. */
static void assert_ranges_sane(const struct manifest *m)
{
	for (size_t i = 0; i < m->shard_count; i++)
		for (size_t j = 0; j < m->shards[i].region_count; j++) {
			const struct manifest_region *r = &m->shards[i].regions[j];
			for (size_t k = 0; k < r->range_count; k++) {
				assert_int_equal(r->ranges[k].offset % CKPT_ALIGNMENT, 0);
				assert_true(r->ranges[k].length <= CKPT_RANGE_MAX);
			}
		}
	assert_int_equal(manifest_check(m, "test", err, sizeof(err)), 0);
}

static void test_shard_is_split_across_every_replica_node(void **state)
{
	/* Four nodes, one shard of 1 GiB in two regions, a replica on every node. */
	static const uint64_t sizes[] = { 600 * MiB + 12345, 424 * MiB - 12345 };
	struct ckpt_report r[4];
	struct manifest m;
	(void)state;
	for (uint32_t i = 0; i < 4; i++)
		r[i] = replica(i, i, "tp0", COMMITTED, 5, sizes, 2);
	r[1].dp_size = r[0].dp_size = r[2].dp_size = r[3].dp_size = 4;
	assert_int_equal(ckpt_plan_build(r, 4, 5, &params, &m, err, sizeof(err)), 0);
	assert_ranges_sane(&m);
	assert_int_equal(m.step, 5);
	assert_int_equal(m.job_id, 30);
	assert_int_equal(m.rank_count, 4);
	assert_int_equal(m.writer_count, 4);
	assert_string_equal(m.shards[0].regions[0].name, "a");
	assert_string_equal(m.shards[0].regions[0].file, "s0-a");
	assert_string_equal(m.shards[0].regions[1].file, "s0-b");
	for (size_t w = 0; w < 4; w++) {
		assert_true(m.writers[w].bytes >= 256 * MiB - CKPT_ALIGNMENT);
		assert_true(m.writers[w].bytes <= 256 * MiB + CKPT_ALIGNMENT);
	}
	manifest_free(&m);
	free_reports(r, 4);
}

static void test_ranks_lost_without_replica_are_counted(void **state)
{
	/* Six ranks, one per node; nodes 2 and 5 are lost. Data parallel ("dp", dp_size 6): the
	 * four left are replicas of both lost ranks. ZeRO-1 style (one shard per rank, dp_size
	 * 1): both lost ranks held state nothing else holds. */
	struct ckpt_report dp[4], own[4];
	struct manifest m;
	char key[16];
	(void)state;
	for (uint32_t i = 0, node = 0; i < 4; i++, node += node == 1 || node == 3 ? 2 : 1) {
		dp[i] = replica(node, node, "dp", COMMITTED, 5, one_region, 1);
		dp[i].dp_size = 6;
		snprintf(key, sizeof(key), "own%u", node);
		own[i] = replica(node, node, key, COMMITTED, 5, one_region, 1);
		own[i].dp_size = 1;
	}
	assert_int_equal(ckpt_plan_build(dp, 4, 5, &params, &m, err, sizeof(err)), 0);
	assert_int_equal(ckpt_plan_ranks_without_replica(&m, 6), 0);
	assert_int_equal(ckpt_plan_ranks_without_replica(&m, 4), 0);
	manifest_free(&m);
	assert_int_equal(ckpt_plan_build(own, 4, 5, &params, &m, err, sizeof(err)), 0);
	assert_int_equal(ckpt_plan_ranks_without_replica(&m, 6), 2);
	assert_int_equal(ckpt_plan_ranks_without_replica(&m, 4), 0);
	manifest_free(&m);
	/* The demo trainer's zero1: a key per rank, registered with the job's data-parallel
	 * size 6: the sizes would make 20 replicas of 2 missing ranks; not trusted. */
	for (uint32_t i = 0; i < 4; i++)
		own[i].dp_size = 6;
	assert_int_equal(ckpt_plan_build(own, 4, 5, &params, &m, err, sizeof(err)), 0);
	assert_int_equal(ckpt_plan_ranks_without_replica(&m, 6), 2);
	manifest_free(&m);
	/* Mixed: ranks 0, 1 and the lost 2 replicas of "dp" (dp_size 3), ranks 3, 4 and the
	 * lost 5 each a shard of its own: one lost rank without a replica. */
	struct ckpt_report mixed[4];
	for (uint32_t i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "own%u", i + 1);
		mixed[i] = replica(i < 2 ? i : i + 1, i, i < 2 ? "dp" : key, COMMITTED, 5, one_region, 1);
		mixed[i].dp_size = i < 2 ? 3 : 1;
	}
	assert_int_equal(ckpt_plan_build(mixed, 4, 5, &params, &m, err, sizeof(err)), 0);
	assert_int_equal(ckpt_plan_ranks_without_replica(&m, 6), 1);
	manifest_free(&m);
	free_reports(mixed, 4);
	free_reports(dp, 4);
	free_reports(own, 4);
}

static void test_small_regions_go_whole_to_one_writer(void **state)
{
	static const uint64_t sizes[] = { 1000, 3 * MiB, 5 };
	struct ckpt_report r[] = {
		replica(0, 0, "s0", COMMITTED, 1, sizes, 3),
		replica(1, 1, "s0", COMMITTED, 1, sizes, 3),
	};
	struct manifest m;
	(void)state;
	assert_int_equal(ckpt_plan_build(r, 2, 1, &params, &m, err, sizeof(err)), 0);
	assert_ranges_sane(&m);
	for (size_t j = 0; j < 3; j++)
		assert_int_equal(m.shards[0].regions[j].range_count, 1);
	assert_int_equal(manifest_total_bytes(&m), 1000 + 3 * MiB + 5);
	manifest_free(&m);
	free_reports(r, 2);
}

static void test_plan_does_not_depend_on_report_order(void **state)
{
	static const uint64_t sizes[] = { 100 * MiB, 37 * MiB + 1 };
	struct ckpt_report r[] = {
		replica(0, 0, "s0", COMMITTED, 2, sizes, 2),
		replica(1, 1, "s1", COMMITTED, 2, sizes, 2),
		replica(2, 1, "s0", COMMITTED, 2, sizes, 2),
		replica(3, 2, "s1", COMMITTED, 2, sizes, 2),
	};
	struct ckpt_report reversed[] = { r[3], r[2], r[1], r[0] };
	struct manifest a, b;
	char *ta, *tb;
	size_t la, lb;
	(void)state;
	assert_int_equal(ckpt_plan_build(r, 4, 2, &params, &a, err, sizeof(err)), 0);
	assert_int_equal(ckpt_plan_build(reversed, 4, 2, &params, &b, err, sizeof(err)), 0);
	assert_int_equal(manifest_encode(&a, &ta, &la, err, sizeof(err)), 0);
	assert_int_equal(manifest_encode(&b, &tb, &lb, err, sizeof(err)), 0);
	assert_string_equal(ta, tb);
	/* Both shards span two nodes; node 1 holds a replica of each. */
	assert_int_equal(a.writer_count, 3);
	assert_int_equal(a.shards[0].rank_count, 2);
	assert_int_equal(ckpt_plan_range_count(&a), 8);
	free(ta);
	free(tb);
	manifest_free(&a);
	manifest_free(&b);
	free_reports(r, 4);
}

static void test_long_region_is_cut_into_hash_ranges(void **state)
{
	static const uint64_t sizes[] = { 200 * MiB + 7 };
	struct ckpt_report r[] = { replica(0, 0, "s0", COMMITTED, 1, sizes, 1) };
	struct manifest m;
	(void)state;
	assert_int_equal(ckpt_plan_build(r, 1, 1, &params, &m, err, sizeof(err)), 0);
	assert_ranges_sane(&m);
	assert_int_equal(m.shards[0].regions[0].range_count, 4);
	assert_int_equal(m.shards[0].regions[0].ranges[3].length, 8 * MiB + 7);
	manifest_free(&m);
	free_reports(r, 1);
}

static void test_lost_writer_is_covered_by_the_other_replicas(void **state)
{
	static const uint64_t sizes[] = { 300 * MiB };
	struct ckpt_report r[] = {
		replica(0, 0, "s0", COMMITTED, 4, sizes, 1),
		replica(2, 1, "s0", COMMITTED, 4, sizes, 1),
		replica(4, 2, "s0", COMMITTED, 4, sizes, 1),
		replica(1, 1, "s1", COMMITTED, 4, sizes, 1),
		replica(3, 2, "s1", COMMITTED, 4, sizes, 1),
	};
	struct manifest m;
	struct ckpt_range_ref *moved;
	size_t moved_count, node1_ranges = 0;
	(void)state;
	assert_int_equal(ckpt_plan_build(r, 5, 4, &params, &m, err, sizeof(err)), 0);
	assert_int_equal(m.writer_count, 3);
	assert_string_equal(m.writers[1].node, "n1");
	for (size_t s = 0; s < m.shard_count; s++)
		for (size_t k = 0; k < m.shards[s].regions[0].range_count; k++)
			node1_ranges += m.shards[s].regions[0].ranges[k].writer == 1;
	if (ckpt_plan_reassign(&m, r, 5, 1, &moved, &moved_count, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	/* Exactly node 1's ranges moved, each to a node that holds its shard. */
	assert_int_equal(moved_count, node1_ranges);
	for (size_t i = 0; i < moved_count; i++) {
		const struct manifest_range *g =
			&m.shards[moved[i].shard].regions[moved[i].region].ranges[moved[i].range];
		assert_string_not_equal(m.writers[g->writer].node, "n1");
		if (moved[i].shard == 1)
			assert_string_equal(m.writers[g->writer].node, "n2");
	}
	free(moved);
	assert_ranges_sane(&m);
	assert_int_equal(m.writer_count, 2);
	assert_string_equal(m.writers[0].node, "n0");
	assert_string_equal(m.writers[1].node, "n2");
	assert_int_equal(m.writers[0].bytes + m.writers[1].bytes, 600 * MiB);
	/* Node 1 is gone: shard s1 now lives only on node 2, and losing it too leaves no one
	 * to write it. */
	struct ckpt_report survivors[] = { r[0], r[2], r[4] };
	assert_int_equal(ckpt_plan_reassign(&m, survivors, 3, 2, NULL, NULL, err, sizeof(err)),
			 -EHOSTDOWN);
	assert_string_equal(err, "no other node holds shard 's1' at step 4: the checkpoint "
			    "cannot be completed without node n2");
	manifest_free(&m);
	free_reports(r, 5);
}

/* A checkpoint from the snapshots, K = 2: lost node 2's rank 2 (shard s2, no replica) is
 * held by nodes 0 and 1. The plan is built from the first holder's report; when that
 * holder is lost while writing, the other holder's report (kept for it) takes its ranges. */
static void test_a_lost_copy_holder_is_covered_by_the_next_holder(void **state)
{
	static const uint64_t sizes[] = { 8 * MiB };
	struct ckpt_report r[] = {
		replica(0, 0, "s0", COMMITTED, 20, sizes, 1),
		replica(1, 1, "s0", COMMITTED, 20, sizes, 1),
		replica(2, 0, "s2", COMMITTED, 20, sizes, 1), /* the first holder's copy */
		replica(2, 1, "s2", COMMITTED, 20, sizes, 1), /* the second holder's */
	};
	struct manifest m;
	(void)state;
	r[2].dp_size = r[3].dp_size = 1;
	if (ckpt_plan_build(r, 3, 20, &params, &m, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	struct ckpt_report without_node0[] = { r[1], r[3] };
	if (ckpt_plan_reassign(&m, without_node0, 2, 0, NULL, NULL, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(m.writer_count, 1);
	assert_string_equal(m.writers[0].node, "n1");
	assert_int_equal(m.writers[0].bytes, 16 * MiB);
	manifest_free(&m);
	struct ckpt_report first_holder_only[] = { r[1] };
	assert_int_equal(ckpt_plan_build(r, 3, 20, &params, &m, err, sizeof(err)), 0);
	assert_int_equal(ckpt_plan_reassign(&m, first_holder_only, 1, 0, NULL, NULL, err,
					    sizeof(err)), -EHOSTDOWN);
	manifest_free(&m);
	free_reports(r, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_newest_step_committed_everywhere_is_chosen),
		cmocka_unit_test(test_a_lost_copy_holder_is_covered_by_the_next_holder),
		cmocka_unit_test(test_replica_in_an_update_is_never_chosen),
		cmocka_unit_test(test_older_common_step_is_chosen_when_replicas_differ),
		cmocka_unit_test(test_shard_without_a_commit_is_named),
		cmocka_unit_test(test_bad_reports_are_refused),
		cmocka_unit_test(test_shard_is_split_across_every_replica_node),
		cmocka_unit_test(test_small_regions_go_whole_to_one_writer),
		cmocka_unit_test(test_ranks_lost_without_replica_are_counted),
		cmocka_unit_test(test_plan_does_not_depend_on_report_order),
		cmocka_unit_test(test_long_region_is_cut_into_hash_ranges),
		cmocka_unit_test(test_lost_writer_is_covered_by_the_other_replicas),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
