/* test_jobkv_state.c: the job-wide store's contents and ordering (helper/services/jobkv_state.c):
 * the leader numbers each write that changes the store and a follower that applies those
 * changes in order holds the same store; a change out of order is ignored; a retried write
 * is answered as the first time and not applied twice, also by a copy made from a
 * snapshot; ADD gives every sum once; COMPARE_SET and DELETE answer as documented; the key
 * and byte bounds give errors that name them. */
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

#include "services/jobkv_state.h"

static struct jobkv_state leader, follower;
static struct jobkv_outcome out;
static struct wire_store_request req;

static int setup(void **state)
{
	(void)state;
	jobkv_state_init(&leader);
	jobkv_state_init(&follower);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	jobkv_state_clear(&leader);
	jobkv_state_clear(&follower);
	return 0;
}

static const struct wire_store_request *request(uint16_t op, const char *key, const char *value,
						 const char *expected, int64_t delta)
{
	memset(&req, 0, sizeof(req));
	req.op = op;
	snprintf(req.key, sizeof(req.key), "%s", key);
	req.value_len = (uint32_t)strlen(value);
	memcpy(req.value, value, req.value_len);
	req.expected_len = (uint32_t)strlen(expected);
	memcpy(req.expected, expected, req.expected_len);
	req.delta = (uint64_t)delta;
	return &req;
}

/* Executes on the leader as client/seq; a change goes to the follower too. */
static int run(uint16_t op, const char *key, const char *value, const char *expected,
	       int64_t delta, uint64_t client, uint64_t seq)
{
	jobkv_state_execute(&leader, request(op, key, value, expected, delta), client, seq, &out);
	if (out.changed)
		assert_int_equal(jobkv_state_apply(&follower, &out.change), 0);
	return out.status;
}

static void assert_holds(const struct jobkv_state *s, const char *key, const char *value)
{
	uint32_t len = 0;
	const uint8_t *v = jobkv_state_lookup(s, key, &len);
	assert_non_null(v);
	assert_int_equal(len, strlen(value));
	assert_memory_equal(v, value, len);
}

static void test_a_follower_applying_the_changes_holds_the_same_store(void **state)
{
	(void)state;
	assert_int_equal(run(WIRE_STORE_SET, "a", "1", "", 0, 7, 1), 0);
	assert_int_equal(run(WIRE_STORE_SET, "b", "2", "", 0, 7, 2), 0);
	assert_int_equal(run(WIRE_STORE_ADD, "n", "", "", 5, 7, 3), 0);
	assert_int_equal(run(WIRE_STORE_DELETE, "a", "", "", 0, 7, 4), 0);
	assert_int_equal(leader.index, 4);
	assert_int_equal(follower.index, 4);
	assert_holds(&follower, "b", "2");
	assert_holds(&follower, "n", "5");
	uint32_t len;
	assert_null(jobkv_state_lookup(&follower, "a", &len));
	assert_int_equal(follower.keys, leader.keys);
	assert_int_equal(follower.bytes, leader.bytes);
}

static void test_a_change_out_of_order_is_ignored(void **state)
{
	static struct wire_jobkv_apply first;
	(void)state;
	jobkv_state_execute(&leader, request(WIRE_STORE_SET, "a", "1", "", 0), 7, 1, &out);
	first = out.change;
	jobkv_state_execute(&leader, request(WIRE_STORE_SET, "a", "2", "", 0), 7, 2, &out);
	assert_int_equal(jobkv_state_apply(&follower, &out.change), -ESTALE);
	assert_int_equal(jobkv_state_apply(&follower, &first), 0);
	assert_int_equal(jobkv_state_apply(&follower, &first), -ESTALE);
	assert_int_equal(jobkv_state_apply(&follower, &out.change), 0);
	assert_holds(&follower, "a", "2");
}

static void test_a_read_changes_nothing(void **state)
{
	(void)state;
	assert_int_equal(run(WIRE_STORE_GET, "a", "", "", 0, 7, 0), -ENOENT);
	assert_string_equal(out.message, "no key 'a'");
	run(WIRE_STORE_SET, "a", "x", "", 0, 7, 1);
	assert_int_equal(run(WIRE_STORE_GET, "a", "", "", 0, 7, 0), 0);
	assert_false(out.changed);
	assert_int_equal(out.reply.value_len, 1);
	assert_int_equal(leader.index, 1);
}

static void test_a_retried_write_is_answered_again_not_applied_twice(void **state)
{
	(void)state;
	assert_int_equal(run(WIRE_STORE_ADD, "n", "", "", 3, 7, 1), 0);
	assert_int_equal(run(WIRE_STORE_ADD, "n", "", "", 3, 8, 1), 0);
	assert_int_equal((int64_t)out.reply.number, 6);
	assert_int_equal(run(WIRE_STORE_ADD, "n", "", "", 3, 7, 1), 0); /* client 7's retry */
	assert_true(out.repeated);
	assert_false(out.changed);
	assert_int_equal((int64_t)out.reply.number, 3);
	assert_memory_equal(out.reply.value, "3", 1);
	assert_holds(&leader, "n", "6");
	assert_int_equal(leader.index, 2);
}

static void test_concurrent_adds_give_every_sum_once(void **state)
{
	static int seen[401];
	(void)state;
	for (uint64_t seq = 1; seq <= 100; seq++) {
		for (uint64_t client = 1; client <= 4; client++) {
			assert_int_equal(run(WIRE_STORE_ADD, "n", "", "", 1, client, seq), 0);
			int64_t sum = (int64_t)out.reply.number;
			assert_true(sum >= 1 && sum <= 400);
			assert_int_equal(seen[sum]++, 0);
		}
	}
	assert_holds(&follower, "n", "400");
}

static void test_add_to_a_value_that_is_no_number_fails(void **state)
{
	(void)state;
	run(WIRE_STORE_SET, "s", "abc", "", 0, 7, 1);
	assert_int_equal(run(WIRE_STORE_ADD, "s", "", "", 1, 7, 2), -EINVAL);
	assert_string_equal(out.message, "cannot add to key 's': its value is not a decimal number");
	run(WIRE_STORE_SET, "big", "9223372036854775807", "", 0, 7, 3);
	assert_int_equal(run(WIRE_STORE_ADD, "big", "", "", 1, 7, 4), -ERANGE);
	assert_int_equal(run(WIRE_STORE_ADD, "neg", "", "", -5, 7, 5), 0);
	assert_holds(&follower, "neg", "-5");
}

static void test_compare_set_swaps_only_on_the_expected_value(void **state)
{
	(void)state;
	assert_int_equal(run(WIRE_STORE_COMPARE_SET, "k", "v1", "x", 0, 7, 1), -ENOENT);
	assert_int_equal(run(WIRE_STORE_COMPARE_SET, "k", "v1", "", 0, 7, 2), 0);
	assert_int_equal(out.reply.swapped, 1);
	assert_int_equal(run(WIRE_STORE_COMPARE_SET, "k", "v2", "", 0, 7, 3), 0);
	assert_int_equal(out.reply.swapped, 0);
	assert_memory_equal(out.reply.value, "v1", 2);
	assert_int_equal(run(WIRE_STORE_COMPARE_SET, "k", "v2", "v1", 0, 7, 4), 0);
	assert_int_equal(out.reply.swapped, 1);
	assert_holds(&follower, "k", "v2");
	assert_int_equal(leader.index, 2);
}

static void test_delete_of_an_absent_key_fails(void **state)
{
	(void)state;
	assert_int_equal(run(WIRE_STORE_DELETE, "k", "", "", 0, 7, 1), -ENOENT);
	assert_string_equal(out.message, "no key 'k' to delete");
	assert_int_equal(leader.index, 0);
}

static void test_the_key_bound_names_itself(void **state)
{
	char key[16];
	(void)state;
	for (int i = 0; i < JOBKV_KEYS_MAX; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(run(WIRE_STORE_SET, key, "", "", 0, 7, (uint64_t)i + 1), 0);
	}
	assert_int_equal(run(WIRE_STORE_SET, "one-more", "", "", 0, 7, 99999), -ENOSPC);
	assert_string_equal(out.message, "cannot store key 'one-more': the job-wide store holds "
					 "its maximum of 4096 keys");
	assert_int_equal(run(WIRE_STORE_SET, "k1", "replaced", "", 0, 7, 100000), 0);
}

static void test_the_byte_bound_names_itself(void **state)
{
	static char value[WIRE_STORE_VALUE_MAX + 1];
	char key[16];
	int i, rc = 0;
	(void)state;
	memset(value, 'v', WIRE_STORE_VALUE_MAX);
	for (i = 0; rc == 0; i++) {
		snprintf(key, sizeof(key), "b%d", i);
		rc = run(WIRE_STORE_SET, key, value, "", 0, 7, (uint64_t)i + 1);
	}
	assert_int_equal(rc, -E2BIG);
	assert_true(leader.bytes <= JOBKV_BYTES_MAX);
	assert_non_null(strstr(out.message, "more than its maximum of 1048576"));
	assert_int_equal(i - 1, JOBKV_BYTES_MAX / (WIRE_STORE_VALUE_MAX + 2));
}

static void copy_entry(const char *key, const uint8_t *value, uint32_t len, void *arg)
{
	assert_int_equal(jobkv_state_load_entry(arg, key, value, len), 0);
}

static void copy_remembered(const struct jobkv_remembered *r, void *arg)
{
	jobkv_state_remember(arg, r->client, r->client_seq, r->number);
}

static void test_a_copy_from_a_snapshot_answers_retries_as_the_leader(void **state)
{
	static struct jobkv_state copy;
	(void)state;
	run(WIRE_STORE_SET, "a", "1", "", 0, 7, 1);
	run(WIRE_STORE_ADD, "n", "", "", 10, 7, 2);
	jobkv_state_init(&copy);
	jobkv_state_each_entry(&leader, copy_entry, &copy);
	jobkv_state_each_remembered(&leader, copy_remembered, &copy);
	copy.index = leader.index;
	assert_holds(&copy, "a", "1");
	assert_int_equal(copy.bytes, leader.bytes);
	jobkv_state_execute(&copy, request(WIRE_STORE_ADD, "n", "", "", 10), 7, 2, &out);
	assert_true(out.repeated);
	assert_int_equal((int64_t)out.reply.number, 10);
	assert_holds(&copy, "n", "10");
	jobkv_state_clear(&copy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_a_follower_applying_the_changes_holds_the_same_store),
		T(test_a_change_out_of_order_is_ignored),
		T(test_a_read_changes_nothing),
		T(test_a_retried_write_is_answered_again_not_applied_twice),
		T(test_concurrent_adds_give_every_sum_once),
		T(test_add_to_a_value_that_is_no_number_fails),
		T(test_compare_set_swaps_only_on_the_expected_value),
		T(test_delete_of_an_absent_key_fails),
		T(test_the_key_bound_names_itself),
		T(test_the_byte_bound_names_itself),
		T(test_a_copy_from_a_snapshot_answers_retries_as_the_leader),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
