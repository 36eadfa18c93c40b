/*
 * test_plugin_options.c: the plugin's reading of --lcr* options: srun command lines (for
 * the implied --no-kill), every accepted and rejected value, and the order of strength
 * command line > LCR_* environment > site configuration, and what of them reaches lcrd.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../plugin/options.h"
#include "../../plugin/srun_cmdline.h"

#define ARGC(argv) ((int)(sizeof(argv) / sizeof((argv)[0])))

static void test_bare_lcr_on_srun_command_line_is_on(void **state)
{
	char *argv[] = { "srun", "-N", "4", "--lcr", "./train" };

	(void)state;
	assert_string_equal(srun_cmdline_lcr_value(ARGC(argv), argv), "on");
	assert_string_equal(srun_cmdline_first_operand(ARGC(argv), argv), "./train");
}

static void test_lcr_with_value_is_returned(void **state)
{
	char *argv[] = { "srun", "--lcr=off", "-w", "n1", "hostname" };

	(void)state;
	assert_string_equal(srun_cmdline_lcr_value(ARGC(argv), argv), "off");
}

static void test_program_argument_lcr_is_not_srun_option(void **state)
{
	char *argv[] = { "srun", "-w", "n1", "--nodes", "2", "./train", "--lcr" };

	(void)state;
	assert_null(srun_cmdline_lcr_value(ARGC(argv), argv));
	assert_string_equal(srun_cmdline_first_operand(ARGC(argv), argv), "./train");
}

static void test_attached_short_values_and_flag_clusters(void **state)
{
	char *argv[] = { "srun", "-N4", "-kl", "-n", "8", "--lcr", "prog" };
	char *after_dashdash[] = { "srun", "--", "--lcr" };
	char *other_lcr_options[] = { "srun", "--lcr-ckpt-dir", "/x", "--lcr-verbose", "prog" };

	(void)state;
	assert_string_equal(srun_cmdline_lcr_value(ARGC(argv), argv), "on");
	assert_null(srun_cmdline_lcr_value(ARGC(after_dashdash), after_dashdash));
	assert_null(srun_cmdline_lcr_value(ARGC(other_lcr_options), other_lcr_options));
	assert_string_equal(srun_cmdline_first_operand(ARGC(other_lcr_options), other_lcr_options), "prog");
}

static const char *fake_environment(void *ctx, const char *name)
{
	const char *const *pairs = ctx;

	for (; pairs && pairs[0]; pairs += 2)
		if (strcmp(pairs[0], name) == 0)
			return pairs[1];
	return NULL;
}

struct fixture {
	struct lcr_site_config site;
	struct lcr_option_values typed;
	struct lcr_user_options options;
	char err[1024];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	lcr_site_config_init_defaults(&f->site);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	lcr_site_config_fini(&f->site);
	free(f);
	return 0;
}

static int resolve(struct fixture *f, const char *const *environment)
{
	static const struct options_job_owner alice = { .user = "alice", .home = "/home/alice" };

	return options_resolve(&f->typed, fake_environment, (void *)environment, &f->site, &alice, 42,
			       &f->options, f->err, sizeof(f->err));
}

static void test_site_defaults_apply_when_nothing_is_given(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(resolve(f, NULL), 0);
	assert_false(f->options.enabled);
	assert_string_equal(f->options.text[LCR_SETTING_RESTORE], "auto");
	assert_string_equal(f->options.text[LCR_SETTING_REPLACE], "spare");
	assert_string_equal(f->options.text[LCR_SETTING_DETECT_TIMEOUT], "2.000");
	assert_string_equal(f->options.text[LCR_SETTING_CKPT_DIR], "/home/alice/.lcr/checkpoints/42");
}

static void test_command_line_beats_environment_beats_site(void **state)
{
	struct fixture *f = *state;
	const char *environment[] = { "LCR_ENABLE", "on", "LCR_DETECT_TIMEOUT", "3", "LCR_REPLACE", "none", NULL };

	f->site.enabled_by_default = false;
	f->typed.text[LCR_SETTING_DETECT_TIMEOUT] = "1.5";
	assert_int_equal(resolve(f, environment), 0);
	assert_true(f->options.enabled);
	assert_string_equal(f->options.text[LCR_SETTING_DETECT_TIMEOUT], "1.500");
	assert_string_equal(f->options.text[LCR_SETTING_REPLACE], "none");
	f->typed.text[LCR_SETTING_DETECT_TIMEOUT] = NULL;
}

static void test_bad_values_name_the_option_and_accepted_values(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *option, *value, *expected;
	} cases[] = {
		{ "lcr", "maybe", "accepted: on, off" },
		{ "lcr-restore", "sometimes", "accepted: auto, never, or an absolute path" },
		{ "lcr-replace", "always", "accepted: spare, none" },
		{ "lcr-detect-timeout", "0.1", "accepted: 0.5 to 60 seconds" },
		{ "lcr-detect-timeout", "-2", "--lcr-detect-timeout" },
		{ "lcr-detect-timeout", "soon", "--lcr-detect-timeout" },
		{ "lcr-ckpt-dir", "relative/dir", "absolute" },
		{ "lcr-ckpt-dir", "/scratch/%x", "--lcr-ckpt-dir" },
		{ "lcr-ckpt-dir", "/scratch/%x", "unknown conversion '%x'" },
		{ "lcr-restore", "/scratch/../step-4", "contains a '..' component" },
		{ "lcr-redundancy", "mirror", "accepted: none, copy, erasure, auto" },
		{ "lcr-redundancy", "Erasure", "--lcr-redundancy" },
		{ "lcr-snapshot-every", "0", "accepted: a whole number from 1 to 1000000" },
		{ "lcr-snapshot-every", "ten", "--lcr-snapshot-every" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f->err[0] = '\0';
		assert_true(options_check_value(cases[i].option, cases[i].value, &f->site, f->err, sizeof(f->err)) < 0);
		if (!strstr(f->err, cases[i].expected))
			fail_msg("--%s=%s: message '%s' lacks '%s'", cases[i].option, cases[i].value, f->err,
				 cases[i].expected);
	}
}

static void test_good_values_are_accepted(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(options_check_value("lcr", "on", &f->site, f->err, sizeof(f->err)), 0);
	assert_int_equal(options_check_value("lcr", "off", &f->site, f->err, sizeof(f->err)), 0);
	assert_int_equal(options_check_value("lcr-restore", "never", &f->site, f->err, sizeof(f->err)), 0);
	assert_int_equal(options_check_value("lcr-restore", "/ckpt/step-4", &f->site, f->err, sizeof(f->err)), 0);
	assert_int_equal(options_check_value("lcr-detect-timeout", "2.5", &f->site, f->err, sizeof(f->err)), 0);
	assert_int_equal(options_check_value("lcr-ckpt-dir", "/scratch/%u/%j", &f->site, f->err, sizeof(f->err)), 0);
	assert_int_equal(options_check_value("lcr-redundancy", "copy", &f->site, f->err, sizeof(f->err)), 0);
	assert_int_equal(options_check_value("lcr-redundancy", "erasure", &f->site, f->err, sizeof(f->err)), 0);
	assert_int_equal(options_check_value("lcr-redundancy", "auto", &f->site, f->err, sizeof(f->err)), 0);
	assert_int_equal(options_check_value("lcr-snapshot-every", "1", &f->site, f->err, sizeof(f->err)), 0);
}

static void test_redundancy_comes_from_the_site_unless_the_user_asks(void **state)
{
	struct fixture *f = *state;
	const char *environment[] = { "LCR_SNAPSHOT_EVERY", "25", NULL };

	assert_int_equal(resolve(f, NULL), 0);
	assert_string_equal(f->options.text[LCR_SETTING_REDUNDANCY], "none");
	assert_string_equal(f->options.text[LCR_SETTING_SNAPSHOT_EVERY], "10");
	f->site.redundancy_default = LCR_REDUNDANCY_COPY;
	f->site.snapshot_every = 5;
	assert_int_equal(resolve(f, NULL), 0);
	assert_string_equal(f->options.text[LCR_SETTING_REDUNDANCY], "copy");
	assert_string_equal(f->options.text[LCR_SETTING_SNAPSHOT_EVERY], "5");
	f->typed.text[LCR_SETTING_REDUNDANCY] = "none";
	assert_int_equal(resolve(f, environment), 0);
	assert_string_equal(f->options.text[LCR_SETTING_REDUNDANCY], "none");
	assert_string_equal(f->options.text[LCR_SETTING_SNAPSHOT_EVERY], "25");
	f->typed.text[LCR_SETTING_REDUNDANCY] = NULL;
}

static void test_ckpt_dir_outside_site_roots_is_refused(void **state)
{
	struct fixture *f = *state;
	char err[256];

	assert_int_equal(lcr_parse_path_list("/scratch:/lustre", &f->site.ckpt_roots, err, sizeof(err)), 0);
	f->typed.text[LCR_SETTING_CKPT_DIR] = "/home/alice/ckpt";
	assert_true(resolve(f, NULL) < 0);
	assert_non_null(strstr(f->err, "--lcr-ckpt-dir"));
	f->typed.text[LCR_SETTING_CKPT_DIR] = "/scratch/%u";
	assert_int_equal(resolve(f, NULL), 0);
	assert_string_equal(f->options.text[LCR_SETTING_CKPT_DIR], "/scratch/alice");
	f->typed.text[LCR_SETTING_CKPT_DIR] = NULL;
}

static void test_restore_path_outside_site_roots_is_refused(void **state)
{
	struct fixture *f = *state;
	char err[256];

	assert_int_equal(lcr_parse_path_list("/scratch:/lustre", &f->site.ckpt_roots, err, sizeof(err)), 0);
	f->typed.text[LCR_SETTING_CKPT_DIR] = "/scratch/%u";
	f->typed.text[LCR_SETTING_RESTORE] = "/home/alice/ckpt/step-4";
	assert_true(resolve(f, NULL) < 0);
	assert_non_null(strstr(f->err, "--lcr-restore"));
	assert_non_null(strstr(f->err, "/home/alice/ckpt/step-4"));
	f->typed.text[LCR_SETTING_RESTORE] = "/scratch/alice/step-4";
	assert_int_equal(resolve(f, NULL), 0);
	assert_string_equal(f->options.text[LCR_SETTING_RESTORE], "/scratch/alice/step-4");
	f->typed.text[LCR_SETTING_RESTORE] = "never";
	assert_int_equal(resolve(f, NULL), 0);
	f->typed.text[LCR_SETTING_RESTORE] = NULL;
	f->typed.text[LCR_SETTING_CKPT_DIR] = NULL;
}

static void test_bad_environment_value_is_an_error(void **state)
{
	struct fixture *f = *state;
	const char *environment[] = { "LCR_RESTORE", "later", NULL };

	assert_true(resolve(f, environment) < 0);
	assert_non_null(strstr(f->err, "later"));
}

static void test_a_wrong_value_is_named_before_a_wrong_checkpoint_directory(void **state)
{
	struct fixture *f = *state;
	const char *environment[] = { "LCR_CKPT_DIR", "relative", "LCR_DETECT_TIMEOUT", "100", NULL };
	const char *restore_and_replace[] = { "LCR_REPLACE", "always", "LCR_RESTORE", "later", NULL };

	assert_true(resolve(f, environment) < 0);
	assert_non_null(strstr(f->err, "--lcr-detect-timeout"));
	assert_true(resolve(f, restore_and_replace) < 0);
	assert_non_null(strstr(f->err, "--lcr-restore"));
}

/* A value of spec's type other than its default, as a user types it, and as lcrd gets it. */
static void value_other_than_default(const struct lcr_setting_spec *spec, const struct lcr_site_config *site,
				     char *typed, char *expected, size_t len)
{
	struct lcr_setting_bounds bounds;

	lcr_site_config_user_bounds(site, spec, &bounds);
	switch (spec->type) {
	case LCR_TYPE_SECONDS:
		snprintf(typed, len, "%g", bounds.max);
		snprintf(expected, len, "%.3f", bounds.max);
		return;
	case LCR_TYPE_COUNT:
	case LCR_TYPE_BYTES:
		snprintf(typed, len, "%.0f", isinf(bounds.max) ? bounds.min + 1 : bounds.max);
		strcpy(expected, typed);
		return;
	case LCR_TYPE_PATTERN:
		snprintf(typed, len, "/scratch/%%u/%%j");
		snprintf(expected, len, "/scratch/alice/42");
		return;
	case LCR_TYPE_RESTORE:
		snprintf(typed, len, "/scratch/alice/step-4");
		strcpy(expected, typed);
		return;
	case LCR_TYPE_REPLACE:
		snprintf(typed, len, "none");
		snprintf(expected, len, "none");
		return;
	case LCR_TYPE_REDUNDANCY:
		snprintf(typed, len, "erasure");
		snprintf(expected, len, "erasure");
		return;
	default:
		fail_msg("--%s: a user option of type %d lcrd gets has no test value", spec->option, (int)spec->type);
	}
}

static void test_every_option_lcrd_gets_reaches_its_argument(void **state)
{
	struct fixture *f = *state;
	char typed[LCR_SETTING_COUNT][256], expected[LCR_SETTING_COUNT][256];
	const char *settings[LCR_SETTING_COUNT] = { 0 };
	size_t passed = 0;

	for (size_t i = 0; i < LCR_SETTING_COUNT; i++) {
		if (!lcr_settings[i].option || !lcr_settings[i].lcrd_arg)
			continue;
		value_other_than_default(&lcr_settings[i], &f->site, typed[i], expected[i], sizeof(typed[i]));
		assert_string_not_equal(typed[i], lcr_settings[i].default_text);
		f->typed.text[i] = typed[i];
		passed++;
	}
	assert_int_equal(resolve(f, NULL), 0);
	options_pass_to_lcrd(&f->options, settings);
	for (size_t i = 0; i < LCR_SETTING_COUNT; i++) {
		f->typed.text[i] = NULL;
		if (!lcr_settings[i].option || !lcr_settings[i].lcrd_arg) {
			assert_null(settings[i]);
			continue;
		}
		if (!settings[i] || strcmp(settings[i], expected[i]) != 0)
			fail_msg("--%s=%s reached lcrd --%s as '%s', not '%s'", lcr_settings[i].option, typed[i],
				 lcr_settings[i].lcrd_arg, settings[i] ? settings[i] : "(nothing)", expected[i]);
	}
	assert_true(passed >= 6);
}

static void test_options_nobody_gives_reach_lcrd_as_defaults(void **state)
{
	struct fixture *f = *state;
	const char *settings[LCR_SETTING_COUNT] = { 0 };

	f->typed.verbose = true;
	assert_int_equal(resolve(f, NULL), 0);
	options_pass_to_lcrd(&f->options, settings);
	for (size_t i = 0; i < LCR_SETTING_COUNT; i++)
		if (lcr_settings[i].option && lcr_settings[i].lcrd_arg && !settings[i])
			fail_msg("--%s: lcrd gets no --%s", lcr_settings[i].option, lcr_settings[i].lcrd_arg);
	assert_string_equal(settings[LCR_SETTING_SNAPSHOT_EVERY], "10");
	assert_string_equal(settings[LCR_SETTING_LOG_LEVEL], "verbose");
}

static void test_lcr_and_its_variables_take_only_the_documented_switch_spellings(void **state)
{
	struct fixture *f = *state;
	static const char *const refused[] = { "true", "false", "TRUE", "On" };
	const char *enable[] = { "LCR_ENABLE", "true", NULL };
	const char *verbose[] = { "LCR_VERBOSE", "true", NULL };

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		f->err[0] = '\0';
		assert_int_equal(options_check_value("lcr", refused[i], &f->site, f->err, sizeof(f->err)), -EINVAL);
		if (!strstr(f->err, "accepted: on, off"))
			fail_msg("--lcr=%s: message '%s' lacks the accepted spellings", refused[i], f->err);
	}
	assert_int_equal(resolve(f, enable), -EINVAL);
	assert_non_null(strstr(f->err, "--lcr"));
	assert_int_equal(resolve(f, verbose), -EINVAL);
	assert_non_null(strstr(f->err, "LCR_VERBOSE"));
	f->site.enabled_by_default = true;
	assert_int_equal(resolve(f, NULL), 0);
	assert_true(f->options.enabled);
}

static void test_a_site_default_at_the_users_minimum_passes_unchecked(void **state)
{
	struct fixture *f = *state;

	f->site.detect_timeout_min = 1.2344;
	f->site.detect_timeout_default = 1.2344;
	assert_int_equal(resolve(f, NULL), 0);
	assert_string_equal(f->options.text[LCR_SETTING_DETECT_TIMEOUT], "1.234");
	f->typed.text[LCR_SETTING_DETECT_TIMEOUT] = "1.234";
	assert_int_equal(resolve(f, NULL), -EINVAL);
	assert_non_null(strstr(f->err, "--lcr-detect-timeout"));
	f->typed.text[LCR_SETTING_DETECT_TIMEOUT] = NULL;
}

static void test_a_checkpoint_directory_may_start_with_home(void **state)
{
	struct fixture *f = *state;

	f->typed.text[LCR_SETTING_CKPT_DIR] = "%h.lcr/%j";
	assert_int_equal(resolve(f, NULL), 0);
	assert_string_equal(f->options.text[LCR_SETTING_CKPT_DIR], "/home/alice.lcr/42");
	f->typed.text[LCR_SETTING_CKPT_DIR] = "%h";
	assert_int_equal(resolve(f, NULL), 0);
	assert_string_equal(f->options.text[LCR_SETTING_CKPT_DIR], "/home/alice");
	f->typed.text[LCR_SETTING_CKPT_DIR] = NULL;
}

static void test_a_refused_path_says_why_before_the_value(void **state)
{
	struct fixture *f = *state;
	char long_path[4200];

	assert_int_equal(options_check_value("lcr-ckpt-dir", "/scratch/%x", &f->site, f->err, sizeof(f->err)),
			 -EINVAL);
	assert_null(strstr(f->err, "accepted: an absolute path"));
	assert_int_equal(options_check_value("lcr-ckpt-dir", "relative", &f->site, f->err, sizeof(f->err)), -EINVAL);
	assert_string_equal(f->err, "lcr: invalid value 'relative' for --lcr-ckpt-dir: 'relative' is not an absolute "
				    "path (accepted: an absolute path)");
	memset(long_path, 'a', sizeof(long_path));
	memcpy(long_path, "/scratch/", 9);
	strcpy(long_path + 4000, "/%x");
	assert_int_equal(options_check_value("lcr-ckpt-dir", long_path, &f->site, f->err, sizeof(f->err)), -EINVAL);
	if (!strstr(f->err, "unknown conversion '%x'"))
		fail_msg("the reason is cut: '%s'", f->err);
	long_path[4000] = '\0';
	memset(long_path + 4000, 'b', 199);
	long_path[4199] = '\0';
	assert_int_equal(options_check_value("lcr-restore", long_path, &f->site, f->err, sizeof(f->err)),
			 -ENAMETOOLONG);
	assert_string_equal(f->err, "lcr: --lcr-restore path is too long (4199 bytes)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bare_lcr_on_srun_command_line_is_on),
		cmocka_unit_test(test_lcr_with_value_is_returned),
		cmocka_unit_test(test_program_argument_lcr_is_not_srun_option),
		cmocka_unit_test(test_attached_short_values_and_flag_clusters),
		cmocka_unit_test_setup_teardown(test_site_defaults_apply_when_nothing_is_given, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_line_beats_environment_beats_site, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_values_name_the_option_and_accepted_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_good_values_are_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redundancy_comes_from_the_site_unless_the_user_asks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ckpt_dir_outside_site_roots_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_path_outside_site_roots_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_environment_value_is_an_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_wrong_value_is_named_before_a_wrong_checkpoint_directory, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_every_option_lcrd_gets_reaches_its_argument, setup, teardown),
		cmocka_unit_test_setup_teardown(test_options_nobody_gives_reach_lcrd_as_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lcr_and_its_variables_take_only_the_documented_switch_spellings,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_site_default_at_the_users_minimum_passes_unchecked, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_checkpoint_directory_may_start_with_home, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_refused_path_says_why_before_the_value, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
