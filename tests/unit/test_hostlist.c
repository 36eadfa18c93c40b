/* test_hostlist.c: Slurm host lists as lcrd reads them, and the choice of spare nodes. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "internal/hostlist.h"

static void expect_names(const char *text, const char *const *names, size_t count)
{
	struct hostlist list;
	char err[256];

	assert_int_equal(hostlist_expand(text, &list, err, sizeof(err)), 0);
	assert_int_equal(list.count, count);
	for (size_t i = 0; i < count; i++)
		assert_string_equal(list.names[i], names[i]);
	hostlist_fini(&list);
}

static void test_plain_names_and_ranges_expand_in_order(void **state)
{
	const char *simple[] = { "n1" };
	const char *ranges[] = { "n1", "n2", "n3", "n7", "login" };
	const char *padded[] = { "gpu08", "gpu09", "gpu10", "cpu3" };
	const char *last[] = { "n18446744073709551614", "n18446744073709551615" };

	(void)state;
	expect_names("n1", simple, 1);
	expect_names("n[1-3,7],login", ranges, 5);
	expect_names("gpu[08-10],cpu3", padded, 4);
	expect_names("n[18446744073709551614-18446744073709551615]", last, 2); /* no wrap */
}

static void test_malformed_lists_are_refused_with_a_message(void **state)
{
	const char *bad[] = { "", "n[1-", "n[3-1]", "n[a-b]", "n]1[", "n[1-2]x", "n[[1]]", "n[1,,2]", "n[-2]",
			      "n[18446744073709551616]", "n[1-99999999999999999999]" };
	struct hostlist list;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (hostlist_expand(bad[i], &list, err, sizeof(err)) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
		assert_true(err[0] != '\0');
		assert_null(list.names);
	}
}

static void test_spares_are_job_nodes_outside_step_and_failures(void **state)
{
	struct hostlist job, step, failed, spares;
	char err[256];

	(void)state;
	assert_int_equal(hostlist_expand("n[1-6]", &job, err, sizeof(err)), 0);
	assert_int_equal(hostlist_expand("n[1-4]", &step, err, sizeof(err)), 0);
	assert_int_equal(hostlist_expand("n5", &failed, err, sizeof(err)), 0);
	assert_int_equal(hostlist_spares(&job, &step, &failed, &spares), 0);
	assert_int_equal(spares.count, 1);
	assert_string_equal(spares.names[0], "n6");
	hostlist_fini(&spares);
	hostlist_fini(&failed);
	assert_int_equal(hostlist_expand("n6", &failed, err, sizeof(err)), 0);
	assert_int_equal(hostlist_spares(&job, &step, &failed, &spares), 0);
	assert_int_equal(spares.count, 1);
	assert_string_equal(spares.names[0], "n5");
	assert_true(hostlist_contains(&spares, "n5"));
	assert_false(hostlist_contains(&spares, "n1"));
	hostlist_fini(&spares);
	hostlist_fini(&failed);
	hostlist_fini(&step);
	hostlist_fini(&job);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_names_and_ranges_expand_in_order),
		cmocka_unit_test(test_malformed_lists_are_refused_with_a_message),
		cmocka_unit_test(test_spares_are_job_nodes_outside_step_and_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
