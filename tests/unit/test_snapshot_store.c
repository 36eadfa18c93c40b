/* test_snapshot_store.c: the copies a helper holds of other nodes' snapshots
 * (helper/services/snapshot_store.c), and their pins: a copy being read (served by the transfer
 * server's worker, or written into the failure's checkpoint) is not freed by a release that
 * comes meanwhile, is hidden from every lookup, and is freed when its last reader is done. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "services/snapshot_store.h"

#define SIZE 4096

/* Receives a complete copy of `region` of rank 7 (shard "own7") at step, filled with fill. */
static struct held_copy *hold(struct snapshot_store *st, const char *region, uint64_t step,
			      uint8_t fill)
{
	struct wire_snapshot_put put = { .node = 3, .rank = 7, .dp_size = 1, .step = step,
					 .size = SIZE };
	uint8_t *dst;
	strcpy(put.shard_key, "own7");
	strcpy(put.region, region);
	assert_int_equal(snapshot_store_reserve(st, &put, &dst), 0);
	memset(dst, fill, SIZE);
	struct held_copy *c = snapshot_store_find(st, dst);
	assert_non_null(c);
	c->complete = true;
	return c;
}

static bool every_copy(const struct held_copy *c, void *arg)
{
	(void)c;
	(void)arg;
	return true;
}

static void test_an_unpinned_copy_is_freed_by_a_release(void **state)
{
	struct snapshot_store st = { 0 };
	(void)state;
	hold(&st, "w", 20, 0xab);
	assert_int_equal(snapshot_store_release(&st, every_copy, NULL), SIZE);
	assert_int_equal(st.count, 0);
	assert_int_equal(st.bytes, 0);
}

static void test_a_copy_pinned_by_a_reader_outlives_a_release(void **state)
{
	struct snapshot_store st = { 0 };
	(void)state;
	struct held_copy *c = hold(&st, "w", 20, 0xab);
	snapshot_store_pin(c); /* a serve in progress */
	assert_int_equal(snapshot_store_release(&st, every_copy, NULL), 0);
	/* the reader still reads the bytes it pinned; nobody else finds them */
	assert_int_equal(c->data[0], 0xab);
	assert_int_equal(c->data[SIZE - 1], 0xab);
	assert_null(snapshot_store_find_shard(&st, "own7", "w", 20, WIRE_NO_RANK));
	assert_int_equal(st.count, 1);
	snapshot_store_unpin(&st, c); /* the last reader is done: freed */
	assert_int_equal(st.count, 0);
	assert_int_equal(st.bytes, 0);
}

static void test_a_copy_is_freed_when_its_last_reader_ends(void **state)
{
	struct snapshot_store st = { 0 };
	(void)state;
	struct held_copy *c = hold(&st, "w", 20, 0x11);
	snapshot_store_pin(c); /* the transfer server */
	snapshot_store_pin(c); /* the checkpoint writer */
	snapshot_store_remove(&st, c);
	snapshot_store_unpin(&st, c);
	assert_int_equal(st.count, 1);
	assert_int_equal(c->data[7], 0x11);
	snapshot_store_unpin(&st, c);
	assert_int_equal(st.count, 0);
}

static void test_a_pinned_copy_that_is_not_released_stays_found(void **state)
{
	struct snapshot_store st = { 0 };
	(void)state;
	struct held_copy *c = hold(&st, "w", 20, 0x22);
	snapshot_store_pin(c);
	snapshot_store_unpin(&st, c);
	assert_ptr_equal(snapshot_store_find_shard(&st, "own7", "w", 20, 7), c);
	assert_null(snapshot_store_find_shard(&st, "own7", "w", 20, 8));
	assert_int_equal(st.count, 1);
	snapshot_store_clear(&st);
	assert_int_equal(st.count, 0);
}

static void test_a_new_copy_with_the_key_of_a_pinned_one_does_not_touch_it(void **state)
{
	struct snapshot_store st = { 0 };
	(void)state;
	struct held_copy *old = hold(&st, "w", 20, 0x33);
	snapshot_store_pin(old);
	struct held_copy *fresh = hold(&st, "w", 20, 0x44); /* the same round pushed again */
	assert_ptr_not_equal(old, fresh);
	assert_int_equal(old->data[0], 0x33);
	assert_ptr_equal(snapshot_store_find_shard(&st, "own7", "w", 20, WIRE_NO_RANK), fresh);
	assert_int_equal(st.count, 2);
	snapshot_store_unpin(&st, old);
	assert_int_equal(st.count, 1);
	assert_int_equal(st.bytes, SIZE);
	snapshot_store_clear(&st);
}

/* A replacement protected at the step its node was recovered at: its holder keeps both
 * incarnations' copies of the step, and reports only the newer one. */
static void test_the_older_incarnation_of_a_step_is_superseded(void **state)
{
	struct snapshot_store st = { 0 };
	(void)state;
	struct held_copy *old = hold(&st, "w", 20, 0x33);
	struct wire_snapshot_put put = { .node = 3, .incarnation = 1, .rank = 7, .dp_size = 1,
					 .step = 20, .size = SIZE };
	uint8_t *dst;
	strcpy(put.shard_key, "own7");
	strcpy(put.region, "w");
	assert_int_equal(snapshot_store_reserve(&st, &put, &dst), 0);
	struct held_copy *fresh = snapshot_store_find(&st, dst);
	assert_false(snapshot_store_superseded(&st, old)); /* the newer one is not whole yet */
	fresh->complete = true;
	assert_true(snapshot_store_superseded(&st, old));
	assert_false(snapshot_store_superseded(&st, fresh));
	struct held_copy *other_region = hold(&st, "v", 20, 0x55);
	assert_false(snapshot_store_superseded(&st, other_region));
	snapshot_store_clear(&st);
}

/* A rebuilt region is adopted, not copied: the store holds the very buffer, complete, found
 * by its shard, counted; it replaces a complete copy of the same key, and is refused (the
 * buffer still the caller's) while a copy of that key is being received. */
static void test_an_adopted_buffer_is_held_as_a_complete_copy(void **state)
{
	struct snapshot_store st = { 0 };
	struct wire_snapshot_put put = { .node = 3, .rank = 7, .dp_size = 1, .step = 20,
					 .size = SIZE };
	uint8_t *data = malloc(SIZE), *receiving;
	(void)state;
	assert_non_null(data);
	strcpy(put.shard_key, "own7");
	strcpy(put.region, "w");
	hold(&st, "w", 20, 0x11);
	assert_int_equal(snapshot_store_adopt(&st, &put, data, 0x1234), 0);
	assert_int_equal(st.count, 1);
	assert_int_equal(st.bytes, SIZE);
	struct held_copy *c = snapshot_store_find_shard(&st, "own7", "w", 20, 7);
	assert_non_null(c);
	assert_ptr_equal(c->data, data);
	assert_true(c->complete);
	assert_int_equal(c->xxh3, 0x1234);

	strcpy(put.region, "m");
	assert_int_equal(snapshot_store_reserve(&st, &put, &receiving), 0); /* not complete */
	uint8_t *second = malloc(SIZE);
	assert_non_null(second);
	assert_int_equal(snapshot_store_adopt(&st, &put, second, 0x5678), -EBUSY);
	free(second);
	snapshot_store_clear(&st);
	assert_int_equal(st.count, 0);
	assert_int_equal(st.bytes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_unpinned_copy_is_freed_by_a_release),
		cmocka_unit_test(test_a_copy_pinned_by_a_reader_outlives_a_release),
		cmocka_unit_test(test_a_copy_is_freed_when_its_last_reader_ends),
		cmocka_unit_test(test_a_pinned_copy_that_is_not_released_stays_found),
		cmocka_unit_test(test_a_new_copy_with_the_key_of_a_pinned_one_does_not_touch_it),
		cmocka_unit_test(test_the_older_incarnation_of_a_step_is_superseded),
		cmocka_unit_test(test_an_adopted_buffer_is_held_as_a_complete_copy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
