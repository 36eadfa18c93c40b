/* test_slurm_query.c: the Slurm commands lcrd runs (helper/loop/slurm_query.c): each builder's
 * argv, and each reader on output as squeue and sinfo print it, edge cases included.
 * Running the commands (output captured, failures, timeouts, missing commands) is
 * test_command_async.c's; asking them from a recovery, test_slurm_nodes.c's and
 * test_recovery_orphan.c's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "loop/slurm_query.h"

/* c's argv is expected[] and ends there with NULL. */
static void assert_argv(const struct slurm_query_command *c, const char *const expected[],
			size_t n)
{
	assert_true(n < sizeof(c->argv) / sizeof(c->argv[0]));
	for (size_t i = 0; i < n; i++) {
		assert_non_null(c->argv[i]);
		assert_string_equal(c->argv[i], expected[i]);
	}
	assert_null(c->argv[n]);
}

#define ASSERT_ARGV(c, ...)                                                                   \
	do {                                                                                  \
		const char *const expected_[] = { __VA_ARGS__ };                              \
		assert_argv((c), expected_, sizeof(expected_) / sizeof(expected_[0]));        \
	} while (0)

static void job_nodes_command_asks_squeue_for_the_job_alone(void **state)
{
	struct slurm_query_command c;
	(void)state;
	slurm_query_job_nodes_command(&c, 42);
	ASSERT_ARGV(&c, "squeue", "--noheader", "--jobs", "42", "--format=%N");
	slurm_query_job_nodes_command(&c, UINT32_MAX);
	ASSERT_ARGV(&c, "squeue", "--noheader", "--jobs", "4294967295", "--format=%N");
}

static void unusable_command_asks_sinfo_about_the_nodes_in_the_bad_states(void **state)
{
	struct slurm_query_command c;
	(void)state;
	slurm_query_unusable_command(&c, "n[1-5]");
	ASSERT_ARGV(&c, "sinfo", "--noheader", "--Node", "--nodes", "n[1-5]",
		    "--states=down,drained,draining,fail,failing,no_respond", "--format=%N");
}

static void steps_command_lists_the_steps_of_the_job_with_their_nodes(void **state)
{
	struct slurm_query_command c;
	(void)state;
	slurm_query_steps_command(&c, 4345);
	ASSERT_ARGV(&c, "squeue", "--noheader", "--steps", "--jobs=4345", "--format=%i %N");
}

static void cancel_command_runs_scancel_on_job_dot_step(void **state)
{
	struct slurm_query_command c;
	(void)state;
	slurm_query_cancel_command(&c, 4345, 3);
	ASSERT_ARGV(&c, "scancel", "--quiet", "4345.3");
	slurm_query_cancel_command(&c, UINT32_MAX, UINT32_MAX - 1);
	ASSERT_ARGV(&c, "scancel", "--quiet", "4294967295.4294967294");
}

static void one_node_list_is_the_jobs_nodes(void **state)
{
	char err[256] = "";
	(void)state;
	assert_int_equal(slurm_query_read_job_nodes("n[1-5]", 42, err, sizeof(err)), 0);
	assert_int_equal(slurm_query_read_job_nodes("gpu-a17", 42, err, sizeof(err)), 0);
	assert_string_equal(err, "");
}

/* A pending job prints an empty list; a job id that names several jobs (an array) one
 * line per job: neither says which nodes the job has. */
static void no_or_several_node_lists_are_no_answer(void **state)
{
	char err[256];
	(void)state;
	assert_int_equal(slurm_query_read_job_nodes("", 42, err, sizeof(err)), -ENODATA);
	assert_string_equal(err, "squeue printed no single node list for job 42");
	err[0] = '\0';
	assert_int_equal(slurm_query_read_job_nodes("n[1-2]\nn[3-4]", 42, err, sizeof(err)),
			 -ENODATA);
	assert_string_equal(err, "squeue printed no single node list for job 42");
}

static void unusable_nodes_come_back_comma_separated(void **state)
{
	char out[64];
	(void)state;
	snprintf(out, sizeof(out), "n2\nn4");
	slurm_query_read_unusable(out);
	assert_string_equal(out, "n2,n4");
	snprintf(out, sizeof(out), "n3");
	slurm_query_read_unusable(out);
	assert_string_equal(out, "n3");
}

static void no_unusable_node_is_an_empty_list(void **state)
{
	char out[4] = "";
	(void)state;
	slurm_query_read_unusable(out);
	assert_string_equal(out, "");
}

/* What squeue --steps prints for job 4345 (asked with except_step 1, the caller's own). */
static const char steps_output[] =
	"    4345.0 h[0-3]\n"   /* on several nodes: not a replacement */
	"4345.3 s1\n"           /* counted */
	"4345.batch s1\n"       /* not numbered */
	"4345.extern s1\n"
	"4345.interactive s1\n"
	"4345.4 s[1-2]\n"       /* not on s1 alone */
	"4340_5.5 s1\n"         /* an array task of the job: counted */
	"4346.8 s1\n"           /* another job's */
	"4345.7 s10\n"          /* another node, whose name starts alike */
	"4345+0.6 s1\n"         /* a heterogeneous job's part: counted */
	"4345.9  s1\n"          /* counted, however many spaces */
	"4345.1 s1";            /* except_step */

static void steps_on_node_are_the_numbered_steps_of_the_job_on_that_node_alone(void **state)
{
	char out[sizeof(steps_output)];
	uint32_t steps[8];
	size_t count = 99;
	(void)state;
	memcpy(out, steps_output, sizeof(out));
	slurm_query_read_steps(out, 4345, 1, "s1", steps, 8, &count);
	assert_int_equal(count, 4);
	assert_int_equal(steps[0], 3);
	assert_int_equal(steps[1], 5);
	assert_int_equal(steps[2], 6);
	assert_int_equal(steps[3], 9);
}

static void a_node_without_a_step_of_the_job_has_none(void **state)
{
	char out[sizeof(steps_output)];
	uint32_t steps[8];
	size_t count = 99;
	(void)state;
	memcpy(out, steps_output, sizeof(out));
	slurm_query_read_steps(out, 4345, 1, "s2", steps, 8, &count);
	assert_int_equal(count, 0);
}

static void no_steps_at_all_is_none(void **state)
{
	char out[4] = "";
	uint32_t steps[8];
	size_t count = 99;
	(void)state;
	slurm_query_read_steps(out, 4345, 1, "s1", steps, 8, &count);
	assert_int_equal(count, 0);
}

static void steps_beyond_the_room_are_not_taken(void **state)
{
	char out[] = "4345.3 s1\n4345.5 s1\n4345.6 s1";
	uint32_t steps[3] = { 0, 0, 77 };
	size_t count = 99;
	(void)state;
	slurm_query_read_steps(out, 4345, 1, "s1", steps, 2, &count);
	assert_int_equal(count, 2);
	assert_int_equal(steps[0], 3);
	assert_int_equal(steps[1], 5);
	assert_int_equal(steps[2], 77);
}

/* Lines that are no "JOB.STEP NODE" of this job are skipped, the others still read. */
static void unreadable_lines_are_skipped(void **state)
{
	char out[] = "squeue: error: slurm_load_jobs error\n"
		     "4345.3\n"                      /* no node */
		     "4345.3s1\n"
		     ".3 s1\n"
		     "4345. s1\n"
		     "4345.x3 s1\n"
		     "4345.3x s1\n"
		     "4345x.3 s1\n"
		     "4345.4294967296 s1\n"          /* beyond a step id */
		     "99999999999999999999.3 s1\n"   /* beyond a job id */
		     "\n"
		     "4345.2 s1";
	uint32_t steps[8];
	size_t count = 99;
	(void)state;
	slurm_query_read_steps(out, 4345, 1, "s1", steps, 8, &count);
	assert_int_equal(count, 1);
	assert_int_equal(steps[0], 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(job_nodes_command_asks_squeue_for_the_job_alone),
		cmocka_unit_test(unusable_command_asks_sinfo_about_the_nodes_in_the_bad_states),
		cmocka_unit_test(steps_command_lists_the_steps_of_the_job_with_their_nodes),
		cmocka_unit_test(cancel_command_runs_scancel_on_job_dot_step),
		cmocka_unit_test(one_node_list_is_the_jobs_nodes),
		cmocka_unit_test(no_or_several_node_lists_are_no_answer),
		cmocka_unit_test(unusable_nodes_come_back_comma_separated),
		cmocka_unit_test(no_unusable_node_is_an_empty_list),
		cmocka_unit_test(steps_on_node_are_the_numbered_steps_of_the_job_on_that_node_alone),
		cmocka_unit_test(a_node_without_a_step_of_the_job_has_none),
		cmocka_unit_test(no_steps_at_all_is_none),
		cmocka_unit_test(steps_beyond_the_room_are_not_taken),
		cmocka_unit_test(unreadable_lines_are_skipped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
