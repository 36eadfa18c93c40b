/* test_control_page.c: the control page's rollback phase (internal/control_page.h). A rank
 * and lcrd change the phase with one compare-and-swap each, so a rollback and an update
 * never overlap: lcrd cannot claim a page whose rank is updating; a rank cannot begin an
 * update on a page lcrd claimed, and the page is left as it was; marking the rolled-back
 * step committed lets the rank update again. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "internal/control_page.h"
#include "internal/wire.h"

static struct control_page page_at(uint32_t phase, uint64_t step, uint64_t committed)
{
	struct control_page p = { .magic = CONTROL_PAGE_MAGIC, .version = CONTROL_PAGE_VERSION };
	atomic_store(&p.phase, phase);
	atomic_store(&p.step, step);
	atomic_store(&p.committed_step, committed);
	return p;
}

static void test_update_begins_on_committed_or_running_page(void **state)
{
	(void)state;
	struct control_page p = page_at(WIRE_PHASE_COMMITTED, 25, 25);
	assert_int_equal(control_page_begin_update(&p, 26), 0);
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_UPDATING);
	assert_int_equal(atomic_load(&p.step), 26);
	assert_int_equal(atomic_load(&p.committed_step), 25);
	p = page_at(WIRE_PHASE_RUNNING, 0, WIRE_NO_STEP);
	assert_int_equal(control_page_begin_update(&p, 1), 0);
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_UPDATING);
}

static void test_rollback_claims_a_page_not_updating(void **state)
{
	(void)state;
	struct control_page p = page_at(WIRE_PHASE_COMMITTED, 25, 25);
	assert_true(control_page_claim_rollback(&p));
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_ROLLING_BACK);
	assert_true(control_page_claim_rollback(&p)); /* claimed again: still claimed */
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_ROLLING_BACK);
	p = page_at(WIRE_PHASE_RUNNING, 0, WIRE_NO_STEP);
	assert_true(control_page_claim_rollback(&p));
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_ROLLING_BACK);
}

static void test_rollback_cannot_claim_a_rank_updating(void **state)
{
	(void)state;
	struct control_page p = page_at(WIRE_PHASE_COMMITTED, 25, 25);
	assert_int_equal(control_page_begin_update(&p, 26), 0);
	assert_false(control_page_claim_rollback(&p));
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_UPDATING);
	assert_int_equal(atomic_load(&p.step), 26);
}

static void test_update_refused_while_rolling_back(void **state)
{
	(void)state;
	struct control_page p = page_at(WIRE_PHASE_COMMITTED, 25, 25);
	assert_true(control_page_claim_rollback(&p));
	assert_int_equal(control_page_begin_update(&p, 26), -EINPROGRESS);
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_ROLLING_BACK);
	assert_int_equal(atomic_load(&p.step), 25);
	assert_int_equal(atomic_load(&p.committed_step), 25);
}

static void test_marking_the_step_committed_ends_the_rollback(void **state)
{
	(void)state;
	struct control_page p = page_at(WIRE_PHASE_COMMITTED, 25, 25);
	assert_true(control_page_claim_rollback(&p));
	control_page_mark_committed(&p, 20);
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_COMMITTED);
	assert_int_equal(atomic_load(&p.step), 20);
	assert_int_equal(atomic_load(&p.committed_step), 20);
	assert_int_equal(control_page_begin_update(&p, 21), 0);
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_UPDATING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_update_begins_on_committed_or_running_page),
		cmocka_unit_test(test_rollback_claims_a_page_not_updating),
		cmocka_unit_test(test_rollback_cannot_claim_a_rank_updating),
		cmocka_unit_test(test_update_refused_while_rolling_back),
		cmocka_unit_test(test_marking_the_step_committed_ends_the_rollback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
