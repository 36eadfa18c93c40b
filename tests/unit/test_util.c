/* test_util.c: the shared parsing and formatting helpers (sizes, numbers, rank lists). */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "internal/util.h"

static void test_sizes_parse_with_binary_suffixes(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(util_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(util_parse_size("512K", &v), 0);
	assert_int_equal(v, 512 * 1024);
	assert_int_equal(util_parse_size("1.5G", &v), 0);
	assert_int_equal(v, 3ull << 29);
	assert_int_equal(util_parse_size("2GiB", &v), 0);
	assert_int_equal(v, 2ull << 30);
	assert_int_equal(util_parse_size("3tb", &v), 0);
	assert_int_equal(v, 3ull << 40);
	assert_int_equal(util_parse_size("7B", &v), 0);
	assert_int_equal(v, 7);
}

static void test_bad_sizes_are_rejected(void **state)
{
	(void)state;
	uint64_t v;
	const char *bad[] = { "", "G", "-1", "1X", "1 G", "0x10", "1.3", "1GG", "inf", "1Gib" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (util_parse_size(bad[i], &v) == 0)
			fail_msg("size '%s' was accepted", bad[i]);
	assert_int_equal(util_parse_size("99999999P", &v), -ERANGE);
}

static void test_sizes_format_for_humans(void **state)
{
	(void)state;
	char buf[32];
	assert_string_equal(util_format_size(17, buf, sizeof(buf)), "17 B");
	assert_string_equal(util_format_size(512 * 1024, buf, sizeof(buf)), "512 KiB");
	assert_string_equal(util_format_size(3ull << 29, buf, sizeof(buf)), "1.5 GiB");
}

static void test_numbers_parse_strictly(void **state)
{
	(void)state;
	uint32_t v;
	uint64_t w;
	assert_int_equal(util_parse_u32("4294967295", &v), 0);
	assert_int_equal(v, UINT32_MAX);
	assert_int_equal(util_parse_u32("4294967296", &v), -ERANGE);
	assert_int_equal(util_parse_u32("12a", &v), -EINVAL);
	assert_int_equal(util_parse_u32("-1", &v), -EINVAL);
	assert_int_equal(util_parse_u32(" 1", &v), -EINVAL);
	assert_int_equal(util_parse_u64("", &w), -EINVAL);
	assert_int_equal(util_parse_u64("99999999999999999999", &w), -ERANGE);
}

static void test_rank_lists_parse_ranges(void **state)
{
	(void)state;
	uint32_t r[8];
	size_t n;
	char buf[64];
	assert_int_equal(util_parse_rank_list("0,1,4-6", r, 8, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(r[4], 6);
	assert_string_equal(util_format_rank_list(r, n, buf, sizeof(buf)), "0,1,4,5,6");
	assert_int_equal(util_parse_rank_list("", r, 8, &n), 0);
	assert_int_equal(n, 0);
	assert_string_equal(util_format_rank_list(r, n, buf, sizeof(buf)), "-");
	assert_int_equal(util_parse_rank_list("0-8", r, 8, &n), -E2BIG);
	assert_int_equal(util_parse_rank_list("1,", r, 8, &n), -EINVAL);
	assert_int_equal(util_parse_rank_list("3-1", r, 8, &n), -EINVAL);
	assert_int_equal(util_parse_rank_list("a", r, 8, &n), -EINVAL);
}

static void test_string_copy_refuses_truncation(void **state)
{
	(void)state;
	char buf[4];
	assert_int_equal(util_copy_string(buf, sizeof(buf), "abc"), 0);
	assert_string_equal(buf, "abc");
	assert_int_equal(util_copy_string(buf, sizeof(buf), "abcd"), -ENAMETOOLONG);
	assert_string_equal(buf, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes_parse_with_binary_suffixes),
		cmocka_unit_test(test_bad_sizes_are_rejected),
		cmocka_unit_test(test_sizes_format_for_humans),
		cmocka_unit_test(test_numbers_parse_strictly),
		cmocka_unit_test(test_rank_lists_parse_ranges),
		cmocka_unit_test(test_string_copy_refuses_truncation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
