/* test_snapshot_rounds.c: the leader's account of snapshot rounds
 * (internal/snapshot_rounds.h): a round is protected once every live node reported it ok,
 * and only then; it is abandoned when a node failed it, went on to a later round without
 * it, or was lost before reporting it; a lost node no longer holds up a round it reported; every verdict is given once, oldest
 * first; reports at or below the protected step decide nothing new. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "internal/snapshot_rounds.h"

static const uint32_t three[] = { 0, 1, 2 };

struct fixture {
	struct snapshot_rounds r;
	struct snapshot_verdict v[SNAPSHOT_ROUNDS_OPEN_MAX];
};

static int setup(void **state)
{
	static struct fixture f;
	assert_int_equal(snapshot_rounds_init(&f.r, 3), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	snapshot_rounds_fini(&f->r);
	return 0;
}

static size_t decide(struct fixture *f, const uint32_t *live, uint32_t count)
{
	return snapshot_rounds_decide(&f->r, live, count, f->v, SNAPSHOT_ROUNDS_OPEN_MAX);
}

static void test_a_round_is_protected_once_every_live_node_reported_it_ok(void **state)
{
	struct fixture *f = *state;
	snapshot_rounds_report(&f->r, 0, 10, true, 100, NULL);
	snapshot_rounds_report(&f->r, 1, 10, true, 200, NULL);
	assert_int_equal(decide(f, three, 3), 0);
	assert_int_equal(f->r.protected_step, SNAPSHOT_ROUNDS_NO_STEP);
	snapshot_rounds_report(&f->r, 2, 10, true, 300, NULL);
	assert_int_equal(decide(f, three, 3), 1);
	assert_int_equal(f->v[0].step, 10);
	assert_true(f->v[0].protected);
	assert_int_equal(f->v[0].bytes, 600);
	assert_int_equal(f->r.protected_step, 10);
	assert_int_equal(decide(f, three, 3), 0); /* said once */
}

static void test_a_failed_report_abandons_the_round_with_its_reason(void **state)
{
	struct fixture *f = *state;
	snapshot_rounds_report(&f->r, 0, 10, true, 100, NULL);
	snapshot_rounds_report(&f->r, 1, 10, false, 0, "rank 3 began another update");
	assert_int_equal(decide(f, three, 3), 1);
	assert_int_equal(f->v[0].step, 10);
	assert_false(f->v[0].protected);
	assert_string_equal(f->v[0].why, "rank 3 began another update");
	/* the late ok of node 2 does not bring it back */
	snapshot_rounds_report(&f->r, 2, 10, true, 100, NULL);
	assert_int_equal(decide(f, three, 3), 0);
	assert_int_equal(f->r.protected_step, SNAPSHOT_ROUNDS_NO_STEP);
}

static void test_a_node_that_went_on_without_the_round_abandons_it(void **state)
{
	struct fixture *f = *state;
	snapshot_rounds_report(&f->r, 0, 10, true, 100, NULL);
	snapshot_rounds_report(&f->r, 1, 10, true, 100, NULL);
	snapshot_rounds_report(&f->r, 2, 20, true, 100, NULL); /* never took step 10 */
	assert_int_equal(decide(f, three, 3), 1);
	assert_int_equal(f->v[0].step, 10);
	assert_false(f->v[0].protected);
	assert_non_null(strstr(f->v[0].why, "node 2 went on to step 20"));
	snapshot_rounds_report(&f->r, 0, 20, true, 100, NULL);
	snapshot_rounds_report(&f->r, 1, 20, true, 100, NULL);
	assert_int_equal(decide(f, three, 3), 1);
	assert_int_equal(f->v[0].step, 20);
	assert_true(f->v[0].protected);
}

static void test_a_lost_node_no_longer_holds_a_round_up(void **state)
{
	struct fixture *f = *state;
	static const uint32_t without_1[] = { 0, 2 };
	snapshot_rounds_report(&f->r, 0, 10, true, 100, NULL);
	snapshot_rounds_report(&f->r, 2, 10, true, 100, NULL);
	assert_int_equal(decide(f, three, 3), 0);
	assert_int_equal(decide(f, without_1, 2), 1);
	assert_int_equal(f->v[0].step, 10);
	assert_true(f->v[0].protected);
}

static void test_a_rollback_drops_the_later_rounds_and_lets_them_be_taken_again(void **state)
{
	struct fixture *f = *state;
	snapshot_rounds_report(&f->r, 0, 10, true, 100, NULL);
	snapshot_rounds_report(&f->r, 1, 10, true, 100, NULL);
	snapshot_rounds_report(&f->r, 2, 10, true, 100, NULL);
	assert_int_equal(decide(f, three, 3), 1);
	/* nodes 0 and 1 went on to 20 and 30 before node 2 was lost and replaced */
	snapshot_rounds_report(&f->r, 0, 20, true, 100, NULL);
	snapshot_rounds_report(&f->r, 0, 30, true, 100, NULL);
	snapshot_rounds_report(&f->r, 1, 20, true, 100, NULL);
	snapshot_rounds_rollback(&f->r, 10);
	assert_int_equal(decide(f, three, 3), 0); /* dropped, no verdict */
	/* step 20 taken again everywhere: node 0's report of 30 no longer passes it over */
	snapshot_rounds_report(&f->r, 1, 20, true, 100, NULL);
	snapshot_rounds_report(&f->r, 2, 20, true, 100, NULL);
	assert_int_equal(decide(f, three, 3), 0); /* node 0's old report of 20 was dropped */
	snapshot_rounds_report(&f->r, 0, 20, true, 100, NULL);
	assert_int_equal(decide(f, three, 3), 1);
	assert_int_equal(f->v[0].step, 20);
	assert_true(f->v[0].protected);
	assert_int_equal(f->v[0].bytes, 300);
}

static void test_a_node_lost_before_its_report_abandons_the_round(void **state)
{
	struct fixture *f = *state;
	static const uint32_t without_1[] = { 0, 2 };
	snapshot_rounds_report(&f->r, 0, 10, true, 100, NULL);
	snapshot_rounds_report(&f->r, 2, 10, true, 100, NULL);
	snapshot_rounds_node_lost(&f->r, 1);
	assert_int_equal(decide(f, without_1, 2), 1);
	assert_int_equal(f->v[0].step, 10);
	assert_false(f->v[0].protected);
	assert_non_null(strstr(f->v[0].why, "node 1 was lost"));
	/* a round node 1 had reported ok stays protectable without it */
	snapshot_rounds_report(&f->r, 0, 20, true, 100, NULL);
	snapshot_rounds_report(&f->r, 1, 20, true, 100, NULL);
	snapshot_rounds_node_lost(&f->r, 1);
	snapshot_rounds_report(&f->r, 2, 20, true, 100, NULL);
	assert_int_equal(decide(f, without_1, 2), 1);
	assert_int_equal(f->v[0].step, 20);
	assert_true(f->v[0].protected);
}

static void test_a_newer_protected_round_closes_the_older_ones_first(void **state)
{
	struct fixture *f = *state;
	snapshot_rounds_report(&f->r, 0, 10, true, 100, NULL);
	for (uint32_t n = 0; n < 3; n++)
		snapshot_rounds_report(&f->r, n, 20, true, 100, NULL);
	assert_int_equal(decide(f, three, 3), 2);
	assert_int_equal(f->v[0].step, 10);
	assert_false(f->v[0].protected);
	assert_int_equal(f->v[1].step, 20);
	assert_true(f->v[1].protected);
	assert_int_equal(f->r.protected_step, 20);
}

static void test_reports_at_or_below_the_protected_step_decide_nothing(void **state)
{
	struct fixture *f = *state;
	for (uint32_t n = 0; n < 3; n++)
		snapshot_rounds_report(&f->r, n, 20, true, 100, NULL);
	assert_int_equal(decide(f, three, 3), 1);
	snapshot_rounds_report(&f->r, 0, 10, true, 100, NULL);
	snapshot_rounds_report(&f->r, 1, 20, false, 0, "late failure");
	assert_int_equal(decide(f, three, 3), 0);
	assert_int_equal(f->r.protected_step, 20);
}

static void test_no_live_node_protects_nothing(void **state)
{
	struct fixture *f = *state;
	snapshot_rounds_report(&f->r, 0, 10, true, 100, NULL);
	assert_int_equal(decide(f, NULL, 0), 0);
	assert_int_equal(f->r.protected_step, SNAPSHOT_ROUNDS_NO_STEP);
}

static void test_reports_of_unknown_nodes_are_ignored(void **state)
{
	struct fixture *f = *state;
	snapshot_rounds_report(&f->r, 7, 10, false, 0, "not a node");
	for (uint32_t n = 0; n < 3; n++)
		snapshot_rounds_report(&f->r, n, 10, true, 100, NULL);
	assert_int_equal(decide(f, three, 3), 1);
	assert_true(f->v[0].protected);
}

static void test_a_full_table_abandons_its_oldest_round(void **state)
{
	struct fixture *f = *state;
	/* node 0 reports rounds that nodes 1 and 2 never report */
	for (uint64_t s = 1; s <= SNAPSHOT_ROUNDS_OPEN_MAX; s++)
		snapshot_rounds_report(&f->r, 0, s * 10, true, 100, NULL);
	assert_int_equal(decide(f, three, 3), 0);
	snapshot_rounds_report(&f->r, 0, (SNAPSHOT_ROUNDS_OPEN_MAX + 1) * 10, true, 100, NULL);
	size_t n = decide(f, three, 3);
	assert_true(n >= 1);
	assert_int_equal(f->v[0].step, 10);
	assert_false(f->v[0].protected);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_a_round_is_protected_once_every_live_node_reported_it_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_failed_report_abandons_the_round_with_its_reason, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_node_that_went_on_without_the_round_abandons_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_lost_node_no_longer_holds_a_round_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_node_lost_before_its_report_abandons_the_round, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_newer_protected_round_closes_the_older_ones_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reports_at_or_below_the_protected_step_decide_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_live_node_protects_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reports_of_unknown_nodes_are_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_full_table_abandons_its_oldest_round, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_rollback_drops_the_later_rounds_and_lets_them_be_taken_again, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
