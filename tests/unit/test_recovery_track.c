/* test_recovery_track.c: every helper's record of each node's recovery, from which a new
 * leader decides which nodes to take over from the old one (helper/services/recovery_track.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "services/recovery_track.h"

static void replacing(struct recovery_track *t, uint64_t epoch, const char *spare)
{
	char message[WIRE_TEXT_MAX + 1];
	recovery_track_format_replacing(message, sizeof(message), "n2", 1, WIRE_NO_STEP, spare);
	recovery_track_apply(t, WIRE_EVENT_REPLACING, epoch, message);
}

static void test_a_node_down_without_replacing_is_adopted_with_no_orphan(void **state)
{
	struct recovery_track t = { 0 };
	(void)state;
	recovery_track_apply(&t, WIRE_EVENT_NODE_DOWN, 0, "node n2 (1) is down");
	assert_true(recovery_track_adoptable(&t, WIRE_NODE_DOWN));
	assert_null(recovery_track_orphan_spare(&t));
}

static void test_a_replacing_never_joined_is_adopted_and_names_its_spare(void **state)
{
	struct recovery_track t = { 0 };
	(void)state;
	recovery_track_apply(&t, WIRE_EVENT_NODE_DOWN, 0, "node n2 (1) is down");
	replacing(&t, 7, "n4");
	assert_true(recovery_track_adoptable(&t, WIRE_NODE_DOWN));
	assert_string_equal(recovery_track_orphan_spare(&t), "n4");
	assert_int_equal(t.epoch, 7);
}

static void test_the_last_replacing_names_the_orphan(void **state)
{
	struct recovery_track t = { 0 };
	(void)state;
	recovery_track_apply(&t, WIRE_EVENT_NODE_DOWN, 0, "");
	replacing(&t, 7, "n4");
	replacing(&t, 9, "n5");
	assert_string_equal(recovery_track_orphan_spare(&t), "n5");
	assert_int_equal(t.epoch, 9);
}

static void test_a_spare_name_with_the_mark_in_it_is_read_from_the_last_mark(void **state)
{
	struct recovery_track t = { 0 };
	(void)state;
	recovery_track_apply(&t, WIRE_EVENT_REPLACING, 3,
			     "replacing node a with spare b (1) with spare c");
	assert_string_equal(recovery_track_orphan_spare(&t), "c");
}

static void test_a_joined_node_is_not_adopted(void **state)
{
	struct recovery_track t = { 0 };
	(void)state;
	recovery_track_apply(&t, WIRE_EVENT_NODE_DOWN, 0, "");
	replacing(&t, 7, "n4");
	recovery_track_apply(&t, WIRE_EVENT_NODE_JOINED, 7, "node n2 (1) joined on n4");
	assert_false(recovery_track_adoptable(&t, WIRE_NODE_LIVE));
	assert_null(recovery_track_orphan_spare(&t));
}

static void test_a_node_given_up_is_not_adopted(void **state)
{
	struct recovery_track t = { 0 };
	(void)state;
	recovery_track_apply(&t, WIRE_EVENT_NODE_DOWN, 0, "");
	recovery_track_apply(&t, WIRE_EVENT_RECOVERY_FAILED, 0, "cannot replace node n2 (1)");
	assert_false(recovery_track_adoptable(&t, WIRE_NODE_DOWN));
}

static void test_a_node_down_again_after_giving_up_is_adopted(void **state)
{
	struct recovery_track t = { 0 };
	(void)state;
	recovery_track_apply(&t, WIRE_EVENT_NODE_DOWN, 0, "");
	replacing(&t, 7, "n4");
	recovery_track_apply(&t, WIRE_EVENT_NODE_JOINED, 7, "");
	recovery_track_apply(&t, WIRE_EVENT_NODE_DOWN, 0, "");
	assert_true(recovery_track_adoptable(&t, WIRE_NODE_DOWN));
	assert_null(recovery_track_orphan_spare(&t));
}

static void test_a_node_down_whose_events_were_not_seen_is_adopted(void **state)
{
	struct recovery_track t = { 0 };
	(void)state;
	assert_true(recovery_track_adoptable(&t, WIRE_NODE_DOWN));
	assert_false(recovery_track_adoptable(&t, WIRE_NODE_LEFT));
	assert_false(recovery_track_adoptable(&t, WIRE_NODE_LIVE));
}

static void test_events_of_other_types_change_nothing(void **state)
{
	struct recovery_track t = { 0 };
	(void)state;
	recovery_track_apply(&t, WIRE_EVENT_NODE_DOWN, 0, "");
	replacing(&t, 7, "n4");
	recovery_track_apply(&t, WIRE_EVENT_RANK_EXITED, 0, "rank 1 exited");
	assert_string_equal(recovery_track_orphan_spare(&t), "n4");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_node_down_without_replacing_is_adopted_with_no_orphan),
		cmocka_unit_test(test_a_replacing_never_joined_is_adopted_and_names_its_spare),
		cmocka_unit_test(test_the_last_replacing_names_the_orphan),
		cmocka_unit_test(test_a_spare_name_with_the_mark_in_it_is_read_from_the_last_mark),
		cmocka_unit_test(test_a_joined_node_is_not_adopted),
		cmocka_unit_test(test_a_node_given_up_is_not_adopted),
		cmocka_unit_test(test_a_node_down_again_after_giving_up_is_adopted),
		cmocka_unit_test(test_a_node_down_whose_events_were_not_seen_is_adopted),
		cmocka_unit_test(test_events_of_other_types_change_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
