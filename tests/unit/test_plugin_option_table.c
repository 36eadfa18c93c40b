/*
 * test_plugin_option_table.c: the --lcr* options plugin/options.c registers with Slurm, made
 * from the table of settings: their names, arguments and order as srun --help shows them
 * (doc/spank_lcr.8), and what their callbacks keep. Slurm's functions are replaced here by
 * ones that record what the plugin asks.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "options.h"

#define MAX_REGISTERED 32

static struct spank_option registered[MAX_REGISTERED];
static int registered_count;
static char last_error[1024];

spank_err_t spank_option_register(spank_t sp, struct spank_option *opt)
{
	(void)sp;
	if (registered_count == MAX_REGISTERED)
		return ESPANK_ERROR;
	registered[registered_count++] = *opt;
	return ESPANK_SUCCESS;
}

spank_err_t spank_option_getopt(spank_t sp, struct spank_option *opt, char **optarg)
{
	(void)sp;
	(void)opt;
	(void)optarg;
	return ESPANK_ERROR;
}

const char *spank_strerror(spank_err_t err)
{
	(void)err;
	return "error";
}

void slurm_error(const char *format, ...)
{
	va_list ap;

	va_start(ap, format);
	vsnprintf(last_error, sizeof(last_error), format, ap);
	va_end(ap);
}

static const struct spank_option *find_registered(const char *name)
{
	for (int i = 0; i < registered_count; i++)
		if (strcmp(registered[i].name, name) == 0)
			return &registered[i];
	fail_msg("option --%s was not registered", name);
	return NULL;
}

static int setup(void **state)
{
	static struct lcr_option_values values;

	memset(&values, 0, sizeof(values));
	registered_count = 0;
	last_error[0] = '\0';
	assert_int_equal(options_register(NULL, &values), 0);
	*state = &values;
	return 0;
}

static int teardown(void **state)
{
	options_values_fini(*state);
	return 0;
}

static void test_options_are_registered_in_help_order_with_their_arguments(void **state)
{
	static const struct {
		const char *name, *arginfo;
		int has_arg;
	} expected[] = {
		{ "lcr", "on|off", 2 },
		{ "lcr-ckpt-dir", "PATH", 1 },
		{ "lcr-restore", "auto|never|PATH", 1 },
		{ "lcr-replace", "spare|none", 1 },
		{ "lcr-detect-timeout", "SECONDS", 1 },
		{ "lcr-redundancy", "none|copy|erasure|auto", 1 },
		{ "lcr-snapshot-every", "STEPS", 1 },
		{ "lcr-verbose", NULL, 0 },
	};

	(void)state;
	assert_int_equal(registered_count, sizeof(expected) / sizeof(expected[0]));
	for (int i = 0; i < registered_count; i++) {
		assert_string_equal(registered[i].name, expected[i].name);
		if (expected[i].arginfo)
			assert_string_equal(registered[i].arginfo, expected[i].arginfo);
		else
			assert_null(registered[i].arginfo);
		assert_int_equal(registered[i].has_arg, expected[i].has_arg);
		assert_int_equal(strncmp(registered[i].usage, "[lcr] ", 6), 0);
	}
}

static void test_callbacks_keep_the_value_of_their_option(void **state)
{
	struct lcr_option_values *values = *state;
	const struct spank_option *replace = find_registered("lcr-replace");
	const struct spank_option *lcr = find_registered("lcr");
	const struct spank_option *verbose = find_registered("lcr-verbose");

	assert_int_equal(replace->cb(replace->val, "none", 0), 0);
	assert_string_equal(values->text[LCR_SETTING_REPLACE], "none");
	assert_int_equal(lcr->cb(lcr->val, NULL, 0), 0);
	assert_string_equal(values->text[LCR_SETTING_ENABLED], "on");
	assert_int_equal(verbose->cb(verbose->val, NULL, 0), 0);
	assert_true(values->verbose);
}

static void test_a_bad_value_stops_srun_with_a_message_naming_the_option(void **state)
{
	const struct spank_option *restore = find_registered("lcr-restore");

	(void)state;
	assert_int_equal(restore->cb(restore->val, "sometimes", 0), -1);
	assert_string_equal(last_error, "lcr: invalid value 'sometimes' for --lcr-restore (accepted: auto, "
					"never, or an absolute path)");
	last_error[0] = '\0';
	assert_int_equal(restore->cb(restore->val, "sometimes", 1), 0);
	assert_string_equal(last_error, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_options_are_registered_in_help_order_with_their_arguments,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_callbacks_keep_the_value_of_their_option, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_bad_value_stops_srun_with_a_message_naming_the_option, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
