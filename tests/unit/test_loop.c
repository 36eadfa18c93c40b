/* test_loop.c: lcrd's event loop: timers fire in deadline order and can be cancelled, a
 * descriptor removed during dispatch receives no stale event, and loop_stop ends the run. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop/loop.h"

static int order[8];
static int fired;

static void record(struct loop *loop, void *arg)
{
	order[fired++] = (int)(intptr_t)arg;
	if (fired == 3)
		loop_stop(loop);
}

static void test_timers_fire_in_deadline_order(void **state)
{
	(void)state;
	struct loop *loop;
	uint64_t cancelled;
	fired = 0;
	assert_int_equal(loop_create(&loop), 0);
	assert_int_equal(loop_add_timer(loop, 30, record, (void *)3, NULL), 0);
	assert_int_equal(loop_add_timer(loop, 10, record, (void *)1, NULL), 0);
	assert_int_equal(loop_add_timer(loop, 20, record, (void *)99, &cancelled), 0);
	assert_int_equal(loop_add_timer(loop, 20, record, (void *)2, NULL), 0);
	assert_true(cancelled != 0);
	loop_cancel_timer(loop, cancelled);
	loop_cancel_timer(loop, 12345);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(fired, 3);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 2);
	assert_int_equal(order[2], 3);
	loop_destroy(loop);
}

struct pair {
	int calls[2];
	int fds[2];
};

/* Whichever descriptor fires first removes the other. */
static void remove_other(struct loop *loop, int fd, short revents, void *arg)
{
	struct pair *p = arg;
	(void)revents;
	int me = fd == p->fds[0] ? 0 : 1;
	p->calls[me]++;
	loop_remove_fd(loop, p->fds[1 - me]);
	loop_remove_fd(loop, fd);
	loop_stop(loop);
}

static void test_removed_descriptor_gets_no_stale_event(void **state)
{
	(void)state;
	struct loop *loop;
	struct pair p = { { 0, 0 }, { -1, -1 } };
	int a[2], b[2];
	assert_int_equal(pipe(a), 0);
	assert_int_equal(pipe(b), 0);
	assert_int_equal(write(a[1], "x", 1), 1);
	assert_int_equal(write(b[1], "x", 1), 1);
	p.fds[0] = a[0];
	p.fds[1] = b[0];
	assert_int_equal(loop_create(&loop), 0);
	assert_int_equal(loop_add_fd(loop, a[0], POLLIN, remove_other, &p), 0);
	assert_int_equal(loop_add_fd(loop, a[0], POLLIN, remove_other, &p), -EEXIST);
	assert_int_equal(loop_add_fd(loop, b[0], POLLIN, remove_other, &p), 0);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(p.calls[0] + p.calls[1], 1);
	loop_destroy(loop);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_fire_in_deadline_order),
		cmocka_unit_test(test_removed_descriptor_gets_no_stale_event),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
