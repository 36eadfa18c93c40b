/*
 * test_rejoin.c: the plugin's reading of a replacement step's LCR_REJOIN_* variables
 * (plugin/rejoin.c): a whole plan is read, an ordinary step is told apart, and every value
 * that would let the stand-in take the wrong identity is refused with its name.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../plugin/rejoin.h"

/* rejoin_read and rejoin_renumber_task reach slurmstepd through these; the tests call only
 * rejoin_read_env. */
spank_err_t spank_getenv(spank_t spank, const char *var, char *buf, int len)
{
	(void)spank, (void)var, (void)buf, (void)len;
	fail_msg("spank_getenv called");
	return ESPANK_ERROR;
}

spank_err_t spank_setenv(spank_t spank, const char *var, const char *val, int overwrite)
{
	(void)spank, (void)var, (void)val, (void)overwrite;
	fail_msg("spank_setenv called");
	return ESPANK_ERROR;
}

/* A replacement step's environment: name=value pairs, NULL-terminated. */
static const char *good_environment[] = {
	"LCR_REJOIN_PEER=n1:17001", "LCR_REJOIN_STEP=3",     "LCR_REJOIN_NODE_ID=2",
	"LCR_REJOIN_NODE_COUNT=4",  "LCR_REJOIN_NTASKS=16",  "LCR_REJOIN_NODES=n0,n1,s5,n3",
	"LCR_REJOIN_RANKS=8,9,10,11", NULL,
};

struct environment {
	const char **pairs;
	const char *override; /* "NAME=value" replacing NAME's pair */
};

static const char *lookup(void *ctx, const char *name)
{
	const struct environment *env = ctx;
	size_t length = strlen(name);

	if (env->override && !strncmp(env->override, name, length) && env->override[length] == '=')
		return env->override + length + 1;
	for (const char **pair = env->pairs; *pair; pair++)
		if (!strncmp(*pair, name, length) && (*pair)[length] == '=')
			return *pair + length + 1;
	return NULL;
}

static struct rejoin_plan plan;
static char err[512];

static int read_with(const char *override)
{
	struct environment env = { good_environment, override };

	err[0] = '\0';
	return rejoin_read_env(lookup, &env, &plan, err, sizeof(err));
}

static void test_whole_plan_is_read(void **state)
{
	(void)state;
	assert_int_equal(read_with(NULL), 0);
	assert_int_equal(plan.step_id, 3);
	assert_int_equal(plan.node_id, 2);
	assert_int_equal(plan.node_count, 4);
	assert_int_equal(plan.ntasks, 16);
	assert_int_equal(plan.rank_count, 4);
	assert_int_equal(plan.ranks[0], 8);
	assert_int_equal(plan.ranks[3], 11);
	assert_string_equal(plan.peer, "n1:17001");
	assert_string_equal(plan.nodes, "n0,n1,s5,n3");
	assert_string_equal(plan.ckpt, "");
}

static void test_step_without_peer_is_ordinary(void **state)
{
	(void)state;
	assert_int_equal(read_with("LCR_REJOIN_PEER="), -ENOENT);
}

static void test_rank_named_twice_is_refused(void **state)
{
	(void)state;
	assert_int_equal(read_with("LCR_REJOIN_RANKS=8,9,8,11"), -EINVAL);
	assert_non_null(strstr(err, "rank 8 appears twice in LCR_REJOIN_RANKS=8,9,8,11"));
}

static void test_rank_out_of_range_is_refused(void **state)
{
	(void)state;
	assert_int_equal(read_with("LCR_REJOIN_RANKS=8,16"), -EINVAL);
	assert_non_null(strstr(err, "rank 16 in LCR_REJOIN_RANKS is not below LCR_REJOIN_NTASKS=16"));
}

static void test_node_out_of_range_is_refused(void **state)
{
	(void)state;
	assert_int_equal(read_with("LCR_REJOIN_NODE_ID=4"), -EINVAL);
	assert_non_null(strstr(err, "LCR_REJOIN_NODE_ID=4 is not below LCR_REJOIN_NODE_COUNT=4"));
}

static void test_malformed_numbers_are_named(void **state)
{
	(void)state;
	assert_int_equal(read_with("LCR_REJOIN_STEP=3x"), -EINVAL);
	assert_non_null(strstr(err, "LCR_REJOIN_STEP='3x' is not a number"));
	assert_int_equal(read_with("LCR_REJOIN_RANKS=8,-1"), -EINVAL);
	assert_non_null(strstr(err, "LCR_REJOIN_RANKS='-1' is not a number"));
	assert_int_equal(read_with("LCR_REJOIN_RANKS=,"), -EINVAL);
	assert_non_null(strstr(err, "LCR_REJOIN_RANKS is empty"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_plan_is_read),
		cmocka_unit_test(test_step_without_peer_is_ordinary),
		cmocka_unit_test(test_rank_named_twice_is_refused),
		cmocka_unit_test(test_rank_out_of_range_is_refused),
		cmocka_unit_test(test_node_out_of_range_is_refused),
		cmocka_unit_test(test_malformed_numbers_are_named),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
