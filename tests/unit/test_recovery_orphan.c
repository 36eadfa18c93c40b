/* test_recovery_orphan.c: the spares of a former leader's unfinished attempts
 * (helper/services/recovery_orphan.c), against a fake Slurm put first in PATH: squeue prints the file
 * "steps" of its directory (the job's steps as "JOB.STEP NODES"), or fails when the file
 * "fail" is there, after 2 s when the file "slow" is there; scancel appends its arguments to
 * "scancel.args". The commands run from a real event loop (helper/loop/loop.c), which must keep
 * serving while they run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loop/loop.h"
#include "services/recovery_orphan.h"

#define JOB 42
#define OWN_STEP 1

static char fake_dir[] = "/tmp/lcr-recovery-orphan-XXXXXX";

static void write_file(const char *name, const char *text, mode_t mode)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", fake_dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

/* The file name of fake_dir, whitespace at its end removed, into out ("" when missing). */
static void read_file(const char *name, char *out, size_t cap)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", fake_dir, name);
	out[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	size_t n = fread(out, 1, cap - 1, f);
	fclose(f);
	while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
		n--;
	out[n] = '\0';
}

static void remove_file(const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", fake_dir, name);
	unlink(path);
}

static int setup(void **state)
{
	char path[4096];
	(void)state;
	if (!mkdtemp(fake_dir))
		return -1;
	write_file("squeue", "#!/bin/sh\nd=$(dirname \"$0\")\n[ -e \"$d/slow\" ] && sleep 2\n"
		   "[ -e \"$d/fail\" ] && exit 1\ncat \"$d/steps\"\n", 0755);
	write_file("scancel", "#!/bin/sh\necho \"$*\" >>\"$(dirname \"$0\")/scancel.args\"\n", 0755);
	snprintf(path, sizeof(path), "%s:%s", fake_dir, getenv("PATH"));
	setenv("PATH", path, 1);
	return 0;
}

static int teardown(void **state)
{
	char command[512];
	(void)state;
	snprintf(command, sizeof(command), "rm -rf %s", fake_dir);
	return system(command);
}

static int reset(void **state)
{
	(void)state;
	remove_file("fail");
	remove_file("slow");
	remove_file("scancel.args");
	write_file("steps", "", 0644);
	return 0;
}

/* What the settled callback saw, and the loop it stops. */
struct settled_seen {
	struct loop *loop;
	int calls;
	char spare[64];
	bool usable;
	struct timespec at;
};

static void settled(void *arg, const char *spare, bool usable)
{
	struct settled_seen *seen = arg;
	seen->calls++;
	snprintf(seen->spare, sizeof(seen->spare), "%s", spare);
	seen->usable = usable;
	clock_gettime(CLOCK_MONOTONIC, &seen->at);
	loop_stop(seen->loop);
}

static void give_up_waiting(struct loop *loop, void *arg)
{
	(void)arg;
	loop_stop(loop);
}

static void step_ends(struct loop *loop, void *arg)
{
	(void)loop;
	(void)arg;
	write_file("steps", "42.1 n[1-3]\n", 0644);
}

/* Counts the loop's rounds of a 100 ms timer until the first settled call: the loop serves. */
struct ticks {
	struct settled_seen *seen;
	int before_settled;
};

static void tick(struct loop *loop, void *arg)
{
	struct ticks *t = arg;
	if (t->seen->calls)
		return;
	t->before_settled++;
	assert_int_equal(loop_add_timer(loop, 100, tick, t, NULL), 0);
}

/* Runs the loop until the settled callback stops it, or for at most limit_ms. */
static void run_until_settled(struct settled_seen *seen, uint64_t limit_ms)
{
	uint64_t id;
	assert_int_equal(loop_add_timer(seen->loop, limit_ms, give_up_waiting, NULL, &id), 0);
	assert_int_equal(loop_run(seen->loop), 0);
	loop_cancel_timer(seen->loop, id);
}

/* Whether every child of this process has been reaped. */
static bool no_child_left(void)
{
	return waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD;
}

static double seconds_since(const struct timespec *t0, const struct timespec *t1)
{
	return (double)(t1->tv_sec - t0->tv_sec) + (double)(t1->tv_nsec - t0->tv_nsec) / 1e9;
}

static void a_spare_without_a_step_of_the_job_is_a_spare_like_the_others(void **state)
{
	struct recovery_orphans o;
	struct settled_seen seen = { 0 };
	char args[256];
	(void)state;
	assert_int_equal(loop_create(&seen.loop), 0);
	write_file("steps", "42.1 n[1-3]\n42.1 s1\n43.3 s1\n42.4 s[1-2]\n", 0644);
	recovery_orphans_init(&o, seen.loop, JOB, OWN_STEP, 5000, settled, &seen);
	recovery_orphans_add(&o, "s1");
	assert_true(recovery_orphans_busy(&o, "s1")); /* until Slurm answers */
	run_until_settled(&seen, 5000);
	assert_int_equal(seen.calls, 1);
	assert_string_equal(seen.spare, "s1");
	assert_true(seen.usable);
	assert_false(recovery_orphans_busy(&o, "s1"));
	assert_false(recovery_orphans_tried_last(&o, "s1"));
	assert_int_equal(recovery_orphans_busy_count(&o), 0);
	read_file("scancel.args", args, sizeof(args));
	assert_string_equal(args, "");
	recovery_orphans_fini(&o);
	loop_destroy(seen.loop);
}

static void a_spare_that_slurm_cannot_tell_about_is_tried_last(void **state)
{
	struct recovery_orphans o;
	struct settled_seen seen = { 0 };
	(void)state;
	assert_int_equal(loop_create(&seen.loop), 0);
	write_file("fail", "", 0644);
	recovery_orphans_init(&o, seen.loop, JOB, OWN_STEP, 5000, settled, &seen);
	recovery_orphans_add(&o, "s1");
	assert_true(recovery_orphans_busy(&o, "s1"));
	assert_false(recovery_orphans_tried_last(&o, "s1"));
	run_until_settled(&seen, 5000);
	assert_int_equal(seen.calls, 1);
	assert_true(seen.usable);
	assert_true(recovery_orphans_tried_last(&o, "s1"));
	assert_false(recovery_orphans_busy(&o, "s1"));
	assert_false(recovery_orphans_tried_last(&o, "s2"));
	assert_int_equal(recovery_orphans_busy_count(&o), 0);
	recovery_orphans_fini(&o);
	loop_destroy(seen.loop);
}

static void the_orphan_step_is_cancelled_and_its_spare_usable_once_slurm_lists_it_gone(void **state)
{
	struct recovery_orphans o;
	struct settled_seen seen = { 0 };
	char args[256];
	(void)state;
	assert_int_equal(loop_create(&seen.loop), 0);
	write_file("steps", "42.1 n[1-3]\n42.3 s1\n", 0644);
	recovery_orphans_init(&o, seen.loop, JOB, OWN_STEP, 8000, settled, &seen);
	recovery_orphans_add(&o, "s1");
	recovery_orphans_add(&o, "s1"); /* listed already: asked and cancelled once */
	assert_true(recovery_orphans_busy(&o, "s1"));
	assert_false(recovery_orphans_tried_last(&o, "s1"));
	assert_int_equal(recovery_orphans_busy_count(&o), 1);
	assert_int_equal(loop_add_timer(seen.loop, 1500, step_ends, NULL, NULL), 0);
	run_until_settled(&seen, 1400);
	assert_int_equal(seen.calls, 0); /* cancelled, still listed */
	read_file("scancel.args", args, sizeof(args));
	assert_string_equal(args, "--quiet 42.3");
	assert_true(recovery_orphans_busy(&o, "s1"));
	assert_int_equal(recovery_orphans_busy_count(&o), 1);
	run_until_settled(&seen, 7000);
	assert_int_equal(seen.calls, 1);
	assert_string_equal(seen.spare, "s1");
	assert_true(seen.usable);
	assert_false(recovery_orphans_busy(&o, "s1"));
	assert_int_equal(recovery_orphans_busy_count(&o), 0);
	read_file("scancel.args", args, sizeof(args));
	assert_string_equal(args, "--quiet 42.3");
	recovery_orphans_fini(&o);
	loop_destroy(seen.loop);
}

static void a_cancelled_step_that_outlives_the_wait_leaves_its_spare_unused(void **state)
{
	struct recovery_orphans o;
	struct settled_seen seen = { 0 };
	struct timespec t0;
	char args[256];
	(void)state;
	assert_int_equal(loop_create(&seen.loop), 0);
	write_file("steps", "42.3 s1\n42.5 s1\n", 0644);
	recovery_orphans_init(&o, seen.loop, JOB, OWN_STEP, 2000, settled, &seen);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	recovery_orphans_add(&o, "s1");
	assert_int_equal(loop_add_timer(seen.loop, 8000, give_up_waiting, NULL, NULL), 0);
	assert_int_equal(loop_run(seen.loop), 0);
	assert_int_equal(seen.calls, 1);
	assert_string_equal(seen.spare, "s1");
	assert_false(seen.usable);
	assert_true(seconds_since(&t0, &seen.at) >= 2.0);
	assert_int_equal(recovery_orphans_busy_count(&o), 0);
	read_file("scancel.args", args, sizeof(args));
	assert_string_equal(args, "--quiet 42.3\n--quiet 42.5");
	recovery_orphans_fini(&o);
	loop_destroy(seen.loop);
}

static void clearing_forgets_the_spares_and_stops_asking(void **state)
{
	struct recovery_orphans o;
	struct settled_seen seen = { 0 };
	(void)state;
	assert_int_equal(loop_create(&seen.loop), 0);
	write_file("steps", "42.3 s1\n", 0644);
	recovery_orphans_init(&o, seen.loop, JOB, OWN_STEP, 1000, settled, &seen);
	recovery_orphans_add(&o, "s1");
	recovery_orphans_clear(&o); /* squeue still runs: killed and reaped */
	assert_true(no_child_left());
	assert_false(recovery_orphans_busy(&o, "s1"));
	recovery_orphans_add(&o, "s1");
	run_until_settled(&seen, 300); /* asked, cancelled, waiting for the step's end */
	recovery_orphans_clear(&o);
	assert_true(no_child_left());
	assert_false(recovery_orphans_busy(&o, "s1"));
	run_until_settled(&seen, 2500);
	assert_int_equal(seen.calls, 0);
	recovery_orphans_fini(&o);
	loop_destroy(seen.loop);
}

static void a_slow_squeue_leaves_the_loop_serving_and_its_answer_still_comes(void **state)
{
	struct recovery_orphans o;
	struct settled_seen seen = { 0 };
	struct ticks ticks = { .seen = &seen };
	struct timespec t0, t1;
	char args[256];
	(void)state;
	assert_int_equal(loop_create(&seen.loop), 0);
	write_file("slow", "", 0644);
	write_file("steps", "42.3 s1\n", 0644);
	recovery_orphans_init(&o, seen.loop, JOB, OWN_STEP, 1000, settled, &seen);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	recovery_orphans_add(&o, "s1");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(seconds_since(&t0, &t1) < 0.5);
	assert_true(recovery_orphans_busy(&o, "s1"));
	assert_int_equal(loop_add_timer(seen.loop, 100, tick, &ticks, NULL), 0);
	run_until_settled(&seen, 9000);
	assert_true(ticks.before_settled >= 15); /* 2 s of squeue, twice */
	assert_int_equal(seen.calls, 1);
	assert_false(seen.usable); /* the step outlived the 1 s wait */
	read_file("scancel.args", args, sizeof(args));
	assert_string_equal(args, "--quiet 42.3");
	recovery_orphans_fini(&o);
	loop_destroy(seen.loop);
}

static void clearing_kills_a_slow_squeue_at_once(void **state)
{
	struct recovery_orphans o;
	struct settled_seen seen = { 0 };
	struct timespec t0, t1;
	(void)state;
	assert_int_equal(loop_create(&seen.loop), 0);
	write_file("slow", "", 0644);
	recovery_orphans_init(&o, seen.loop, JOB, OWN_STEP, 1000, settled, &seen);
	recovery_orphans_add(&o, "s1");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	recovery_orphans_fini(&o);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(seconds_since(&t0, &t1) < 0.5);
	assert_true(no_child_left());
	loop_destroy(seen.loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(a_spare_without_a_step_of_the_job_is_a_spare_like_the_others, reset),
		cmocka_unit_test_setup(a_spare_that_slurm_cannot_tell_about_is_tried_last, reset),
		cmocka_unit_test_setup(the_orphan_step_is_cancelled_and_its_spare_usable_once_slurm_lists_it_gone,
				       reset),
		cmocka_unit_test_setup(a_cancelled_step_that_outlives_the_wait_leaves_its_spare_unused, reset),
		cmocka_unit_test_setup(clearing_forgets_the_spares_and_stops_asking, reset),
		cmocka_unit_test_setup(a_slow_squeue_leaves_the_loop_serving_and_its_answer_still_comes,
				       reset),
		cmocka_unit_test_setup(clearing_kills_a_slow_squeue_at_once, reset),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
