/* test_slurm_query.c: lcrd's bounded runs of Slurm commands (helper/slurm_query.c), against
 * real processes: fake squeue and sinfo scripts put first in PATH, and plain commands for
 * the runner's failure modes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "slurm_query.h"

static char fake_dir[] = "/tmp/lcr-slurm-query-XXXXXX";

static void write_script(const char *name, const char *body)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fake_dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
}

static int setup(void **state)
{
	char path[4096];

	(void)state;
	if (!mkdtemp(fake_dir))
		return -1;
	/* squeue echoes its arguments where the node list would be, so the test sees them. */
	write_script("squeue", "echo \"$*\"");
	write_script("sinfo", "printf 'n2\\nn4\\n'");
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

static void run_captures_stdout_without_trailing_newline(void **state)
{
	char *const argv[] = { "printf", "n[1-5]\\n\\n", NULL };
	char out[64], err[256];

	(void)state;
	assert_int_equal(slurm_query_run(argv, 2000, out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "n[1-5]");
}

static void run_truncates_long_output_safely(void **state)
{
	char *const argv[] = { "sh", "-c", "seq 1 10000", NULL };
	char out[8], err[256];

	(void)state;
	assert_int_equal(slurm_query_run(argv, 2000, out, sizeof(out), err, sizeof(err)), 0);
	assert_int_equal(strlen(out), 7);
}

static void run_reports_a_failing_command(void **state)
{
	char *const argv[] = { "false", NULL };
	char out[16], err[256];

	(void)state;
	assert_int_equal(slurm_query_run(argv, 2000, out, sizeof(out), err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "false failed"));
}

static void run_reports_a_missing_command(void **state)
{
	char *const argv[] = { "lcr-no-such-command", NULL };
	char out[16], err[256];

	(void)state;
	assert_int_equal(slurm_query_run(argv, 2000, out, sizeof(out), err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "not in PATH"));
}

static void run_kills_a_command_past_its_timeout(void **state)
{
	char *const argv[] = { "sleep", "10", NULL };
	char out[16], err[256];
	time_t started = time(NULL);

	(void)state;
	assert_int_equal(slurm_query_run(argv, 200, out, sizeof(out), err, sizeof(err)), -ETIMEDOUT);
	assert_true(time(NULL) - started < 5);
	assert_non_null(strstr(err, "did not answer"));
}

static void job_nodes_asks_squeue_for_the_job(void **state)
{
	char out[128], err[256];

	(void)state;
	assert_int_equal(slurm_query_job_nodes(42, out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "--noheader --jobs 42 --format=%N");
}

static void unusable_nodes_come_back_comma_separated(void **state)
{
	char out[128], err[256];

	(void)state;
	assert_int_equal(slurm_query_unusable_nodes("n[1-5]", out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "n2,n4");
}

/* The file fake_dir/name, whitespace at its end removed, into out. */
static void read_fake_file(const char *name, char *out, size_t cap)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", fake_dir, name);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(out, 1, cap - 1, f);
	fclose(f);
	while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
		n--;
	out[n] = '\0';
}

static void steps_on_node_are_the_numbered_steps_of_the_job_on_that_node_alone(void **state)
{
	char err[256], args[256];
	uint32_t steps[4];
	size_t count = 9;

	(void)state;
	write_script("squeue", "echo \"$*\" >\"$(dirname \"$0\")/squeue.args\"\n"
		     "printf '%s\\n' '    4345.0 h[0-3]' '4345.3 s1' '4345.batch s1' '4345.extern s1' "
		     "'4345.4 s[1-2]' '4340_5.5 s1' '4346.8 s1' '4345.7 s10' '4345+0.6 s1' "
		     "'4345.9 s1' '4345.1 s1'");
	/* squeue names an array's task 4340_5 and a heterogeneous job's part 4345+0: their
	 * steps count as well (squeue was asked for this job's steps only). */
	assert_int_equal(slurm_query_steps_on_node(4345, 1, "s1", steps, 4, &count, err,
						   sizeof(err)), 0);
	assert_int_equal(count, 4);
	assert_int_equal(steps[0], 3);
	assert_int_equal(steps[1], 5);
	assert_int_equal(steps[2], 6);
	assert_int_equal(steps[3], 9);
	read_fake_file("squeue.args", args, sizeof(args));
	assert_string_equal(args, "--noheader --steps --jobs=4345 --format=%i %N");
	assert_int_equal(slurm_query_steps_on_node(4345, 1, "s2", steps, 4, &count, err,
						   sizeof(err)), 0);
	assert_int_equal(count, 0);
}

static void steps_on_node_fail_when_squeue_fails(void **state)
{
	char err[256];
	uint32_t steps[4];
	size_t count = 9;

	(void)state;
	write_script("squeue", "echo '4345.3 s1'; exit 1");
	assert_int_equal(slurm_query_steps_on_node(4345, 0, "s1", steps, 4, &count, err,
						   sizeof(err)), -EIO);
	assert_int_equal(count, 0);
}

static void cancel_step_runs_scancel_on_job_dot_step(void **state)
{
	char err[256], args[256];

	(void)state;
	write_script("scancel", "echo \"$*\" >\"$(dirname \"$0\")/scancel.args\"");
	assert_int_equal(slurm_query_cancel_step(4345, 3, err, sizeof(err)), 0);
	read_fake_file("scancel.args", args, sizeof(args));
	assert_string_equal(args, "--quiet 4345.3");
	write_script("scancel", "exit 1");
	assert_int_equal(slurm_query_cancel_step(4345, 3, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "scancel failed"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(run_captures_stdout_without_trailing_newline),
		cmocka_unit_test(run_truncates_long_output_safely),
		cmocka_unit_test(run_reports_a_failing_command),
		cmocka_unit_test(run_reports_a_missing_command),
		cmocka_unit_test(run_kills_a_command_past_its_timeout),
		cmocka_unit_test(job_nodes_asks_squeue_for_the_job),
		cmocka_unit_test(unusable_nodes_come_back_comma_separated),
		/* these rewrite squeue and scancel: last */
		cmocka_unit_test(steps_on_node_are_the_numbered_steps_of_the_job_on_that_node_alone),
		cmocka_unit_test(steps_on_node_fail_when_squeue_fails),
		cmocka_unit_test(cancel_step_runs_scancel_on_job_dot_step),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
