/*
 * test_plugin_options.c: the plugin's reading of --lcr* options: srun command lines (for
 * the implied --no-kill), every accepted and rejected value, and the order of strength
 * command line > LCR_* environment > site configuration.
 */
#include "config.h"

#include <errno.h>
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
	assert_int_equal(f->options.restore, LCR_RESTORE_AUTO);
	assert_int_equal(f->options.replace, LCR_REPLACE_SPARE);
	assert_true(f->options.detect_timeout == f->site.detect_timeout_default);
	assert_string_equal(f->options.ckpt_dir, "/home/alice/.lcr/checkpoints/42");
}

static void test_command_line_beats_environment_beats_site(void **state)
{
	struct fixture *f = *state;
	const char *environment[] = { "LCR_ENABLE", "on", "LCR_DETECT_TIMEOUT", "3", "LCR_REPLACE", "none", NULL };

	f->site.enabled_by_default = false;
	f->typed.text[LCR_SETTING_DETECT_TIMEOUT] = "1.5";
	assert_int_equal(resolve(f, environment), 0);
	assert_true(f->options.enabled);
	assert_true(f->options.detect_timeout == 1.5);
	assert_int_equal(f->options.replace, LCR_REPLACE_NONE);
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
	assert_int_equal(f->options.redundancy, LCR_REDUNDANCY_NONE);
	assert_int_equal(f->options.snapshot_every, 10);
	f->site.redundancy_default = LCR_REDUNDANCY_COPY;
	f->site.snapshot_every = 5;
	assert_int_equal(resolve(f, NULL), 0);
	assert_int_equal(f->options.redundancy, LCR_REDUNDANCY_COPY);
	assert_int_equal(f->options.snapshot_every, 5);
	f->typed.text[LCR_SETTING_REDUNDANCY] = "none";
	assert_int_equal(resolve(f, environment), 0);
	assert_int_equal(f->options.redundancy, LCR_REDUNDANCY_NONE);
	assert_int_equal(f->options.snapshot_every, 25);
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
	assert_string_equal(f->options.ckpt_dir, "/scratch/alice");
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
	assert_int_equal(f->options.restore, LCR_RESTORE_PATH);
	assert_string_equal(f->options.restore_path, "/scratch/alice/step-4");
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
