/* test_control_page.c: the control page's rollback phase (internal/control_page.h). A rank
 * and lcrd change the phase with one compare-and-swap each, so a rollback and an update
 * never overlap: lcrd cannot claim a page whose rank is updating; a rank cannot begin an
 * update on a page lcrd claimed, and the page is left as it was; ending the rollback shows
 * the rolled-back step committed and raises the page's rollback generation: a rank that has
 * not acknowledged it (lcr_resume_step) is refused (-ESTALE) with the page left as it was,
 * so it cannot commit a step of its own on top of the rolled-back state; once it has, it
 * updates again. A rank whose page was never rolled back is not affected.
 * The snapshot hold: lcrd holds a page only while it shows the round's step committed; a
 * rank's update waits for the release (counted on the page), at most the page's
 * snapshot_hold_max_ms, after which it goes on and does not wait for that hold again; with
 * a maximum of 0 it never waits. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

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
	assert_int_equal(control_page_begin_update(&p, 26, 0), 0);
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_UPDATING);
	assert_int_equal(atomic_load(&p.step), 26);
	assert_int_equal(atomic_load(&p.committed_step), 25);
	p = page_at(WIRE_PHASE_RUNNING, 0, WIRE_NO_STEP);
	assert_int_equal(control_page_begin_update(&p, 1, 0), 0);
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
	assert_int_equal(control_page_begin_update(&p, 26, 0), 0);
	assert_false(control_page_claim_rollback(&p));
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_UPDATING);
	assert_int_equal(atomic_load(&p.step), 26);
}

static void test_update_refused_while_rolling_back(void **state)
{
	(void)state;
	struct control_page p = page_at(WIRE_PHASE_COMMITTED, 25, 25);
	assert_true(control_page_claim_rollback(&p));
	assert_int_equal(control_page_begin_update(&p, 26, 0), -EINPROGRESS);
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_ROLLING_BACK);
	assert_int_equal(atomic_load(&p.step), 25);
	assert_int_equal(atomic_load(&p.committed_step), 25);
}

static void test_abandoned_update_lets_the_rollback_claim_the_page(void **state)
{
	(void)state;
	struct control_page p = page_at(WIRE_PHASE_COMMITTED, 25, 25);
	assert_int_equal(control_page_begin_update(&p, 26, 0), 0);
	assert_false(control_page_claim_rollback(&p));
	assert_int_equal(control_page_abandon_update(&p, 26), 0);
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_ABANDONED);
	assert_int_equal(atomic_load(&p.step), 26);
	assert_int_equal(atomic_load(&p.committed_step), 25); /* no commit of 26 */
	assert_false(control_page_hold_snapshot(&p, 25));     /* torn: no snapshot copies it */
	assert_true(control_page_claim_rollback(&p));
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_ROLLING_BACK);
	control_page_end_rollback(&p, 20);
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_COMMITTED);
	assert_int_equal(atomic_load(&p.committed_step), 20);
}

static void test_only_the_update_in_progress_can_be_abandoned(void **state)
{
	(void)state;
	struct control_page p = page_at(WIRE_PHASE_COMMITTED, 25, 25);
	assert_int_equal(control_page_abandon_update(&p, 25), -EINVAL); /* committed, not updating */
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_COMMITTED);
	assert_int_equal(control_page_begin_update(&p, 26, 0), 0);
	assert_int_equal(control_page_abandon_update(&p, 27), -EINVAL); /* another step */
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_UPDATING);
	assert_int_equal(control_page_abandon_update(&p, 26), 0);
	assert_int_equal(control_page_abandon_update(&p, 26), -EINVAL); /* given up already */
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_ABANDONED);
	assert_true(control_page_claim_rollback(&p));
	assert_int_equal(control_page_abandon_update(&p, 26), -EINVAL); /* the rollback's now */
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_ROLLING_BACK);
}

static void test_a_page_of_an_older_helper_is_never_abandoned(void **state)
{
	(void)state;
	struct control_page p = page_at(WIRE_PHASE_COMMITTED, 25, 25);
	p.version = CONTROL_PAGE_ABANDON_VERSION - 1; /* its lcrd knows no ABANDONED phase */
	assert_int_equal(control_page_begin_update(&p, 26, 0), 0);
	assert_int_equal(control_page_abandon_update(&p, 26), -EOPNOTSUPP);
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_UPDATING);
}

static void test_an_update_begins_again_after_one_abandoned(void **state)
{
	(void)state;
	struct control_page p = page_at(WIRE_PHASE_COMMITTED, 25, 25);
	assert_int_equal(control_page_begin_update(&p, 26, 0), 0);
	assert_int_equal(control_page_abandon_update(&p, 26), 0);
	/* a replica's bytes copied in inside an update of the step they hold */
	assert_int_equal(control_page_begin_update(&p, 30, 0), 0);
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_UPDATING);
	assert_int_equal(atomic_load(&p.step), 30);
}

static void test_ending_the_rollback_shows_the_step_committed(void **state)
{
	(void)state;
	struct control_page p = page_at(WIRE_PHASE_COMMITTED, 25, 25);
	uint32_t before = control_page_rollback_generation(&p);
	assert_true(control_page_claim_rollback(&p));
	control_page_end_rollback(&p, 20);
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_COMMITTED);
	assert_int_equal(atomic_load(&p.step), 20);
	assert_int_equal(atomic_load(&p.committed_step), 20);
	assert_int_equal(control_page_rollback_generation(&p), before + 1);
}

static void test_rank_unaware_of_the_rollback_cannot_commit_on_top_of_it(void **state)
{
	(void)state;
	struct control_page p = page_at(WIRE_PHASE_COMMITTED, 25, 25);
	uint32_t acknowledged = control_page_rollback_generation(&p); /* at registration */
	assert_true(control_page_claim_rollback(&p));
	control_page_end_rollback(&p, 20);
	/* the rank goes on from its own step 25 without asking lcr_resume_step */
	assert_int_equal(control_page_begin_update(&p, 26, acknowledged), -ESTALE);
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_COMMITTED);
	assert_int_equal(atomic_load(&p.step), 20);
	assert_int_equal(atomic_load(&p.committed_step), 20);
	assert_true(control_page_claim_rollback(&p)); /* the refusal left no claim in the way */
	control_page_end_rollback(&p, 20); /* a second rollback: still unacknowledged */
	assert_int_equal(control_page_begin_update(&p, 21, acknowledged), -ESTALE);
}

static void test_rank_that_acknowledged_the_rollback_updates_again(void **state)
{
	(void)state;
	struct control_page p = page_at(WIRE_PHASE_COMMITTED, 25, 25);
	assert_true(control_page_claim_rollback(&p));
	control_page_end_rollback(&p, 20);
	uint32_t acknowledged = control_page_rollback_generation(&p); /* lcr_resume_step */
	assert_int_equal(control_page_begin_update(&p, 21, acknowledged), 0);
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_UPDATING);
	assert_int_equal(atomic_load(&p.step), 21);
	atomic_store(&p.committed_step, 21);
	atomic_store(&p.phase, WIRE_PHASE_COMMITTED);
	assert_int_equal(control_page_begin_update(&p, 22, acknowledged), 0);
}

static void test_page_never_rolled_back_keeps_its_generation(void **state)
{
	(void)state;
	struct control_page p = page_at(WIRE_PHASE_COMMITTED, 25, 25);
	uint32_t acknowledged = control_page_rollback_generation(&p);
	for (uint64_t step = 26; step < 30; step++) {
		assert_int_equal(control_page_begin_update(&p, step, acknowledged), 0);
		atomic_store(&p.committed_step, step);
		atomic_store(&p.phase, WIRE_PHASE_COMMITTED);
	}
	assert_int_equal(control_page_rollback_generation(&p), acknowledged);
	/* a rollback of another rank's page does not touch this one */
	struct control_page other = page_at(WIRE_PHASE_COMMITTED, 29, 29);
	assert_true(control_page_claim_rollback(&other));
	control_page_end_rollback(&other, 20);
	assert_int_equal(control_page_begin_update(&p, 30, acknowledged), 0);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_hold_is_taken_on_the_rounds_committed_step_only(void **state)
{
	(void)state;
	struct control_page p = page_at(WIRE_PHASE_COMMITTED, 20, 20);
	assert_true(control_page_hold_snapshot(&p, 20));
	assert_int_equal(atomic_load(&p.snapshot_hold), 1);
	control_page_release_snapshot(&p);
	assert_int_equal(atomic_load(&p.snapshot_hold), 2);
	assert_false(control_page_hold_snapshot(&p, 30));
	assert_int_equal(atomic_load(&p.snapshot_hold), 4);
	p = page_at(WIRE_PHASE_UPDATING, 21, 20);
	assert_false(control_page_hold_snapshot(&p, 20));
	assert_int_equal(atomic_load(&p.snapshot_hold) % 2, 0);
}

struct begin_in_thread {
	struct control_page *p;
	uint64_t step;
	int rc;
	_Atomic uint64_t called_ms; /* just before the call */
	uint64_t done_ms;
	pthread_t thread;
};

static void *begin_update_thread(void *arg)
{
	struct begin_in_thread *b = arg;

	atomic_store(&b->called_ms, now_ms());
	b->rc = control_page_begin_update(b->p, b->step, 0);
	b->done_ms = now_ms();
	return NULL;
}

static void test_update_waits_for_the_release(void **state)
{
	(void)state;
	static struct control_page p;
	p = page_at(WIRE_PHASE_COMMITTED, 20, 20);
	p.snapshot_hold_max_ms = 10000;
	assert_true(control_page_hold_snapshot(&p, 20));
	struct begin_in_thread b = { .p = &p, .step = 21, .rc = 1 };
	assert_int_equal(pthread_create(&b.thread, NULL, begin_update_thread, &b), 0);
	while (!atomic_load(&b.called_ms))
		usleep(1000);
	usleep(200 * 1000);
	/* still waiting: the page shows step 20 committed, nothing of the update */
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_COMMITTED);
	assert_int_equal(atomic_load(&p.step), 20);
	uint64_t released = now_ms();
	control_page_release_snapshot(&p);
	pthread_join(b.thread, NULL);
	assert_int_equal(b.rc, 0);
	assert_true(b.done_ms >= released);
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_UPDATING);
	assert_int_equal(atomic_load(&p.step), 21);
	assert_int_equal(atomic_load(&p.hold_waits), 1);
	/* the wait counted runs from about the call to the return */
	assert_true(atomic_load(&p.hold_waited_us) + 10 * 1000 >= (released - b.called_ms) * 1000);
	assert_true(atomic_load(&p.hold_waited_us) <= (b.done_ms - b.called_ms + 1) * 1000);
}

static void test_update_goes_on_once_the_hold_max_passed(void **state)
{
	(void)state;
	struct control_page p = page_at(WIRE_PHASE_COMMITTED, 20, 20);
	p.snapshot_hold_max_ms = 300;
	assert_true(control_page_hold_snapshot(&p, 20));
	uint64_t started = now_ms();
	assert_int_equal(control_page_begin_update(&p, 21, 0), 0);
	assert_true(now_ms() - started >= 300);
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_UPDATING);
	assert_int_equal(atomic_load(&p.hold_given_up), atomic_load(&p.snapshot_hold));
	/* the same hold, never released, does not hold the next update back */
	atomic_store(&p.committed_step, 21);
	atomic_store(&p.phase, WIRE_PHASE_COMMITTED);
	started = now_ms();
	assert_int_equal(control_page_begin_update(&p, 22, 0), 0);
	assert_true(now_ms() - started < 150);
	assert_int_equal(atomic_load(&p.hold_waits), 1);
}

static void test_a_hold_max_of_zero_never_waits(void **state)
{
	(void)state;
	struct control_page p = page_at(WIRE_PHASE_COMMITTED, 20, 20);
	assert_true(control_page_hold_snapshot(&p, 20));
	assert_int_equal(control_page_begin_update(&p, 21, 0), 0);
	assert_int_equal(atomic_load(&p.phase), WIRE_PHASE_UPDATING);
	assert_int_equal(atomic_load(&p.hold_waits), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_update_begins_on_committed_or_running_page),
		cmocka_unit_test(test_rollback_claims_a_page_not_updating),
		cmocka_unit_test(test_rollback_cannot_claim_a_rank_updating),
		cmocka_unit_test(test_update_refused_while_rolling_back),
		cmocka_unit_test(test_abandoned_update_lets_the_rollback_claim_the_page),
		cmocka_unit_test(test_only_the_update_in_progress_can_be_abandoned),
		cmocka_unit_test(test_a_page_of_an_older_helper_is_never_abandoned),
		cmocka_unit_test(test_an_update_begins_again_after_one_abandoned),
		cmocka_unit_test(test_ending_the_rollback_shows_the_step_committed),
		cmocka_unit_test(test_rank_unaware_of_the_rollback_cannot_commit_on_top_of_it),
		cmocka_unit_test(test_rank_that_acknowledged_the_rollback_updates_again),
		cmocka_unit_test(test_page_never_rolled_back_keeps_its_generation),
		cmocka_unit_test(test_hold_is_taken_on_the_rounds_committed_step_only),
		cmocka_unit_test(test_update_waits_for_the_release),
		cmocka_unit_test(test_update_goes_on_once_the_hold_max_passed),
		cmocka_unit_test(test_a_hold_max_of_zero_never_waits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
