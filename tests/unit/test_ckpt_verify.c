/* test_ckpt_verify.c: comparing the replicas of a checkpoint (common/ckpt_verify.c): every
 * range of a shard with two or more replicas at the step gets a checker that is not the
 * replica its writer reads (on another node when one holds the step, else another rank of
 * the writer's node), checkers rotate over the replicas, a shard with one replica at the
 * step gets none, the checks do not depend on the order of the reports; and the leader's
 * comparison finds two hashes of a range that differ, naming the shard, the ranks and the
 * range. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal/ckpt_verify.h"

#define MiB (1024ull * 1024ull)

static char err[1024];

static const struct ckpt_plan_params params = {
	.job_id = 30, .alignment = CKPT_ALIGNMENT, .range_max = CKPT_RANGE_MAX,
};

/* A replica of `key` on node `node` with one region "w" of `size` bytes. */
static struct ckpt_report replica(uint32_t rank, uint32_t node, const char *key,
				  enum wire_phase phase, uint64_t committed, uint64_t size)
{
	struct ckpt_report r = { .rank = rank, .node_id = node, .dp_size = 2, .phase = phase,
				 .committed_step = committed, .region_count = 1 };
	snprintf(r.node, sizeof(r.node), "n%u", node);
	snprintf(r.shard_key, sizeof(r.shard_key), "%s", key);
	r.regions = calloc(2, sizeof(*r.regions));
	assert_non_null(r.regions);
	snprintf(r.regions[0].name, sizeof(r.regions[0].name), "w");
	r.regions[0].kind = WIRE_REGION_HOST;
	r.regions[0].size = size;
	return r;
}

static void free_reports(struct ckpt_report *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(r[i].regions);
}

#define COMMITTED WIRE_PHASE_COMMITTED
#define UPDATING WIRE_PHASE_UPDATING

static const struct manifest_range *range_of(const struct manifest *m,
					     const struct ckpt_range_ref *ref)
{
	return &m->shards[ref->shard].regions[ref->region].ranges[ref->range];
}

static uint32_t writer_node_of(const struct manifest *m, const struct ckpt_range_ref *ref)
{
	return m->writers[range_of(m, ref)->writer].node_id;
}

static void plan_and_checks(struct ckpt_report *r, size_t n, struct manifest *m,
			    struct ckpt_check **checks, size_t *count)
{
	assert_int_equal(ckpt_plan_build(r, n, 7, &params, m, err, sizeof(err)), 0);
	assert_int_equal(ckpt_verify_assign(r, n, m, checks, count, err, sizeof(err)), 0);
}

static void test_each_range_is_checked_on_another_node(void **state)
{
	struct ckpt_report r[] = {
		replica(0, 0, "s0", COMMITTED, 7, 200 * MiB),
		replica(1, 1, "s0", COMMITTED, 7, 200 * MiB),
	};
	struct manifest m;
	struct ckpt_check *checks;
	size_t count;
	(void)state;
	plan_and_checks(r, 2, &m, &checks, &count);
	assert_true(m.writer_count == 2);
	assert_int_equal(count, ckpt_plan_range_count(&m));
	for (size_t i = 0; i < count; i++) {
		uint32_t writer = writer_node_of(&m, &checks[i].ref);
		assert_int_not_equal(checks[i].node_id, writer);
		/* the writer on node 0 reads rank 0, on node 1 rank 1: the other one checks */
		assert_int_equal(checks[i].rank, writer == 0 ? 1 : 0);
		assert_int_equal(checks[i].node_id, checks[i].rank);
	}
	free(checks);
	manifest_free(&m);
	free_reports(r, 2);
}

static void test_one_node_checks_with_another_rank(void **state)
{
	struct ckpt_report r[] = {
		replica(2, 0, "s0", COMMITTED, 7, 70 * MiB),
		replica(0, 0, "s0", COMMITTED, 7, 70 * MiB),
	};
	struct manifest m;
	struct ckpt_check *checks;
	size_t count;
	(void)state;
	plan_and_checks(r, 2, &m, &checks, &count);
	assert_int_equal(count, 2); /* 64 MiB and 6 MiB */
	for (size_t i = 0; i < count; i++) {
		assert_int_equal(checks[i].node_id, 0);
		assert_int_equal(checks[i].rank, 2); /* the writer reads rank 0, the lowest */
		assert_int_equal(checks[i].ref.range, i);
	}
	free(checks);
	manifest_free(&m);
	free_reports(r, 2);
}

static void test_shard_with_one_replica_at_the_step_is_not_checked(void **state)
{
	struct ckpt_report r[] = {
		replica(0, 0, "s0", COMMITTED, 7, 8 * MiB),
		replica(2, 1, "s0", UPDATING, 7, 8 * MiB), /* holds nothing */
		replica(1, 0, "s1", COMMITTED, 7, 8 * MiB),
		replica(3, 1, "s1", COMMITTED, 7, 8 * MiB),
	};
	struct manifest m;
	struct ckpt_check *checks;
	size_t count;
	(void)state;
	plan_and_checks(r, 4, &m, &checks, &count);
	assert_int_equal(count, m.shards[1].regions[0].range_count);
	for (size_t i = 0; i < count; i++)
		assert_int_equal(checks[i].ref.shard, 1);
	free(checks);
	manifest_free(&m);
	free_reports(r, 4);
}

static void test_checkers_rotate_over_the_replicas(void **state)
{
	/* One node, four replicas, 256 MiB: four ranges written from rank 0, each checked by
	 * the next of ranks 1, 2, 3. */
	struct ckpt_report r[] = {
		replica(0, 0, "s0", COMMITTED, 7, 256 * MiB),
		replica(1, 0, "s0", COMMITTED, 7, 256 * MiB),
		replica(2, 0, "s0", COMMITTED, 7, 256 * MiB),
		replica(3, 0, "s0", COMMITTED, 7, 256 * MiB),
	};
	struct manifest m;
	struct ckpt_check *checks;
	size_t count;
	bool seen[4] = { false };
	(void)state;
	plan_and_checks(r, 4, &m, &checks, &count);
	assert_int_equal(count, 4);
	for (size_t i = 0; i < count; i++)
		seen[checks[i].rank] = true;
	assert_false(seen[0]);
	assert_true(seen[1] && seen[2] && seen[3]);
	free(checks);
	manifest_free(&m);
	free_reports(r, 4);
}

static void test_checks_do_not_depend_on_the_order_of_the_reports(void **state)
{
	struct ckpt_report a[] = {
		replica(0, 0, "s0", COMMITTED, 7, 300 * MiB),
		replica(1, 1, "s0", COMMITTED, 7, 300 * MiB),
		replica(2, 2, "s0", COMMITTED, 7, 300 * MiB),
		replica(3, 2, "s0", COMMITTED, 7, 300 * MiB),
	};
	struct ckpt_report b[] = { a[3], a[1], a[2], a[0] };
	struct manifest ma, mb;
	struct ckpt_check *ca, *cb;
	size_t na, nb;
	(void)state;
	plan_and_checks(a, 4, &ma, &ca, &na);
	plan_and_checks(b, 4, &mb, &cb, &nb);
	assert_int_equal(na, nb);
	assert_memory_equal(ca, cb, na * sizeof(*ca));
	free(ca);
	free(cb);
	manifest_free(&ma);
	manifest_free(&mb);
	free_reports(a, 4);
}

static void test_differing_hashes_of_a_range_are_found(void **state)
{
	struct ckpt_report r[] = {
		replica(0, 0, "s0", COMMITTED, 7, 70 * MiB),
		replica(2, 0, "s0", COMMITTED, 7, 70 * MiB),
	};
	struct manifest m;
	struct ckpt_verify v;
	struct ckpt_divergence d;
	char what[256];
	(void)state;
	assert_int_equal(ckpt_plan_build(r, 2, 7, &params, &m, err, sizeof(err)), 0);
	assert_int_equal(ckpt_verify_init(&v, &m), 0);
	struct ckpt_range_ref first = { 0, 0, 0 }, second = { 0, 0, 1 }, none = { 0, 0, 2 };
	assert_int_equal(ckpt_verify_add(&v, &m, &first, 0, 0x1111, &d), 0);
	assert_int_equal(ckpt_verify_add(&v, &m, &first, 2, 0x1111, &d), 0);
	assert_int_equal(ckpt_verify_compared(&v), 1);
	assert_int_equal(ckpt_verify_add(&v, &m, &second, 2, 0x2222, &d), 0);
	assert_int_equal(ckpt_verify_add(&v, &m, &second, 0, 0x3333, &d), 1);
	assert_string_equal(d.shard_key, "s0");
	assert_string_equal(d.region, "w");
	assert_int_equal(d.offset, 64 * MiB);
	assert_int_equal(d.length, 6 * MiB);
	assert_int_equal(d.rank_a, 2);
	assert_int_equal(d.xxh3_a, 0x2222);
	assert_int_equal(d.rank_b, 0);
	assert_int_equal(d.xxh3_b, 0x3333);
	ckpt_verify_describe(&d, what, sizeof(what));
	assert_string_equal(what, "shard 's0': ranks 0 and 2 hold different bytes in region 'w' "
			    "at offset 67108864, length 6291456");
	assert_int_equal(ckpt_verify_add(&v, &m, &none, 0, 0x1111, &d), -EINVAL);
	assert_int_equal(ckpt_verify_compared(&v), 1);
	ckpt_verify_free(&v);
	manifest_free(&m);
	free_reports(r, 2);
}

static void test_a_hash_twice_from_one_rank_is_no_comparison(void **state)
{
	struct ckpt_report r[] = { replica(0, 0, "s0", COMMITTED, 7, 4 * MiB) };
	struct manifest m;
	struct ckpt_verify v;
	struct ckpt_divergence d;
	struct ckpt_check *checks;
	size_t count;
	struct ckpt_range_ref ref = { 0, 0, 0 };
	(void)state;
	plan_and_checks(r, 1, &m, &checks, &count);
	assert_int_equal(count, 0);
	assert_null(checks);
	assert_int_equal(ckpt_verify_init(&v, &m), 0);
	assert_int_equal(ckpt_verify_add(&v, &m, &ref, 0, 0x1111, &d), 0);
	assert_int_equal(ckpt_verify_add(&v, &m, &ref, 0, 0x1111, &d), 0);
	assert_int_equal(ckpt_verify_compared(&v), 0);
	ckpt_verify_free(&v);
	manifest_free(&m);
	free_reports(r, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_range_is_checked_on_another_node),
		cmocka_unit_test(test_one_node_checks_with_another_rank),
		cmocka_unit_test(test_shard_with_one_replica_at_the_step_is_not_checked),
		cmocka_unit_test(test_checkers_rotate_over_the_replicas),
		cmocka_unit_test(test_checks_do_not_depend_on_the_order_of_the_reports),
		cmocka_unit_test(test_differing_hashes_of_a_range_are_found),
		cmocka_unit_test(test_a_hash_twice_from_one_rank_is_no_comparison),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
