/* test_command_async.c: commands run from the event loop (helper/loop/command_async.c), against
 * real processes (/bin/sh scripts): their output and status arrive through the loop, which
 * keeps serving its timers while they run; a slow one is killed after its timeout, a
 * cancelled one at once, and neither leaves a child or a descriptor behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loop/command_async.h"
#include "loop/loop.h"

/* What the done callback saw; it stops the loop. */
struct result {
	struct loop *loop;
	int calls;
	int rc;
	char out[256];
	char err[256];
	int ticks_before; /* rounds of a 50 ms timer before the result came */
};

static void done(struct command_async *c, void *arg, int rc, char *out, const char *err)
{
	struct result *r = arg;
	(void)c;
	r->calls++;
	r->rc = rc;
	snprintf(r->out, sizeof(r->out), "%s", out);
	snprintf(r->err, sizeof(r->err), "%s", err);
	loop_stop(r->loop);
}

static void tick(struct loop *loop, void *arg)
{
	struct result *r = arg;
	if (r->calls)
		return;
	r->ticks_before++;
	assert_int_equal(loop_add_timer(loop, 50, tick, r, NULL), 0);
}

static void give_up(struct loop *loop, void *arg)
{
	(void)arg;
	loop_stop(loop);
}

static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Whether every child is gone within a second: the commands' own and, as the test is a
 * subreaper (main), what they left in the background too; the dead are reaped. */
static bool no_child_left(void)
{
	for (int round = 0; round < 100; round++) {
		pid_t pid = waitpid(-1, NULL, WNOHANG);
		if (pid < 0)
			return errno == ECHILD;
		if (pid == 0)
			usleep(10000);
	}
	return false;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Runs `sh -c script` with timeout_ms through the loop until it is done (or 10 s passed). */
static void run_script(struct result *r, const char *script, int timeout_ms, size_t out_cap)
{
	char *const argv[] = { "sh", "-c", (char *)script, NULL };
	struct command_async *c = NULL;
	char err[256];
	assert_int_equal(loop_create(&r->loop), 0);
	assert_int_equal(command_async_start(r->loop, argv, timeout_ms, out_cap, done, r, &c, err,
					     sizeof(err)), 0);
	assert_non_null(c);
	assert_int_equal(loop_add_timer(r->loop, 50, tick, r, NULL), 0);
	assert_int_equal(loop_add_timer(r->loop, 10000, give_up, NULL, NULL), 0);
	assert_int_equal(loop_run(r->loop), 0);
	loop_destroy(r->loop);
}

static void the_output_arrives_without_trailing_newlines(void **state)
{
	struct result r = { 0 };
	int fds = open_fds();
	(void)state;
	run_script(&r, "echo 'n1 n2'; echo; echo", 1000, 256);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "n1 n2");
	assert_true(no_child_left());
	assert_int_equal(open_fds(), fds);
}

static void output_beyond_its_room_is_dropped(void **state)
{
	struct result r = { 0 };
	(void)state;
	run_script(&r, "printf abcdefghij; head -c 100000 /dev/zero | tr '\\0' x", 1000, 5);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "abcd");
}

static void a_failing_command_is_eio(void **state)
{
	struct result r = { 0 };
	(void)state;
	run_script(&r, "echo half; exit 3", 1000, 256);
	assert_int_equal(r.rc, -EIO);
	assert_non_null(strstr(r.err, "sh failed"));
	assert_true(no_child_left());
}

static void a_command_killed_by_a_signal_is_eio(void **state)
{
	struct result r = { 0 };
	(void)state;
	run_script(&r, "echo half; kill -KILL $$", 1000, 256);
	assert_int_equal(r.rc, -EIO);
	assert_string_equal(r.err, "sh failed (wait status 9)");
	assert_string_equal(r.out, "half");
	assert_true(no_child_left());
}

static void a_missing_command_is_enoent_at_once(void **state)
{
	char *const argv[] = { "lcr-no-such-command", NULL };
	struct command_async *c = NULL;
	struct loop *loop;
	char err[256];
	int fds = open_fds();
	(void)state;
	assert_int_equal(loop_create(&loop), 0);
	assert_int_equal(command_async_start(loop, argv, 1000, 64, done, NULL, &c, err, sizeof(err)),
			 -ENOENT);
	assert_null(c);
	assert_string_equal(err, "lcr-no-such-command is not in PATH");
	loop_destroy(loop);
	assert_true(no_child_left());
	assert_int_equal(open_fds(), fds);
}

/* The loop keeps its timers while the command sleeps; the result comes after. */
static void the_loop_serves_while_a_slow_command_runs(void **state)
{
	struct result r = { 0 };
	struct timespec t0;
	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	run_script(&r, "sleep 1; echo late", 5000, 256);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "late");
	assert_true(seconds_since(&t0) >= 1.0);
	assert_true(r.ticks_before >= 10);
}

/* Past its timeout the command's whole group is killed: a child that keeps stdout open too. */
static void a_command_past_its_timeout_is_killed(void **state)
{
	struct result r = { 0 };
	struct timespec t0;
	int fds = open_fds();
	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	run_script(&r, "echo early; sleep 5 & sleep 5", 300, 256);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.rc, -ETIMEDOUT);
	assert_string_equal(r.err, "sh did not answer within 300 ms");
	assert_string_equal(r.out, "early");
	assert_true(seconds_since(&t0) < 2.0);
	assert_true(r.ticks_before >= 2);
	assert_true(no_child_left());
	assert_int_equal(open_fds(), fds);
}

/* A command that exits at once but leaves a child holding its stdout ends at its timeout,
 * and that child is killed with its group. */
static void a_child_left_holding_the_output_is_killed_at_the_timeout(void **state)
{
	struct result r = { 0 };
	int fds = open_fds();
	(void)state;
	run_script(&r, "echo early; sleep 5 &", 300, 256);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.rc, -ETIMEDOUT);
	assert_string_equal(r.out, "early");
	assert_true(no_child_left());
	assert_int_equal(open_fds(), fds);
}

static void a_cancelled_command_is_reaped_and_never_reported(void **state)
{
	char *const argv[] = { "sh", "-c", "sleep 5", NULL };
	struct result r = { 0 };
	struct command_async *c = NULL;
	struct timespec t0;
	char err[256];
	int fds = open_fds();
	(void)state;
	assert_int_equal(loop_create(&r.loop), 0);
	assert_int_equal(command_async_start(r.loop, argv, 5000, 64, done, &r, &c, err, sizeof(err)),
			 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	command_async_cancel(c);
	assert_true(seconds_since(&t0) < 1.0);
	assert_true(no_child_left());
	assert_int_equal(loop_add_timer(r.loop, 200, give_up, NULL, NULL), 0);
	assert_int_equal(loop_run(r.loop), 0);
	assert_int_equal(r.calls, 0);
	loop_destroy(r.loop);
	assert_int_equal(open_fds(), fds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_output_arrives_without_trailing_newlines),
		cmocka_unit_test(output_beyond_its_room_is_dropped),
		cmocka_unit_test(a_failing_command_is_eio),
		cmocka_unit_test(a_command_killed_by_a_signal_is_eio),
		cmocka_unit_test(a_missing_command_is_enoent_at_once),
		cmocka_unit_test(the_loop_serves_while_a_slow_command_runs),
		cmocka_unit_test(a_command_past_its_timeout_is_killed),
		cmocka_unit_test(a_child_left_holding_the_output_is_killed_at_the_timeout),
		cmocka_unit_test(a_cancelled_command_is_reaped_and_never_reported),
	};
	/* The commands' background children become this process's when their shell dies, so
	 * that no_child_left sees whether they were killed. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
