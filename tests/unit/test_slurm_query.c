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
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
