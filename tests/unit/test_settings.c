/*
 * test_settings.c: the table of settings (common/settings.c) against itself, the documentation
 * and lcrd's command line (helper/loop/options.c).
 *
 * Every row must be complete and its defaults within its bounds; every lcr.yaml key, option,
 * environment variable and lcrd argument it names must be documented where users and sites
 * read them (the man pages in doc/, README.md, etc/lcr.yaml, the "every key" table of
 * doc/admin.md, read from $LCR_SRCDIR); and lcrd must accept, with the row's default, bounds
 * and message, every argument the plugin passes it. A setting added to the table but not to the documentation fails here.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "whole_file.h"

#include "internal/parse.h"
#include "internal/settings.h"
#include "internal/site_config.h"
#include "loop/options.h"

static char *read_source_file(const char *relative)
{
	const char *srcdir = getenv("LCR_SRCDIR");
	char path[4096];

	if (!srcdir)
		fail_msg("LCR_SRCDIR is not set: run this test with `make check`");
	snprintf(path, sizeof(path), "%s/%s", srcdir, relative);
	return read_whole_file(path);
}

/* name as a man page writes it: every '-' escaped ("\-\-ckpt\-keep"). */
static void man_escape(const char *name, char *out, size_t outlen)
{
	size_t n = 0;

	for (; *name && n + 3 < outlen; name++) {
		if (*name == '-')
			out[n++] = '\\';
		out[n++] = *name;
	}
	out[n] = '\0';
}

static void assert_documented(const char *file, const char *text, const char *what, const char *name)
{
	if (!strstr(text, name))
		fail_msg("%s %s is not documented in %s", what, name, file);
}

/* The value of a number written as text by the row's type. */
static double number_of(const struct lcr_setting_spec *spec, const char *text)
{
	uint64_t whole;
	double seconds;
	char why[256];

	switch (spec->type) {
	case LCR_TYPE_SECONDS:
		assert_int_equal(lcr_parse_seconds(text, &seconds, why, sizeof(why)), 0);
		return seconds;
	case LCR_TYPE_BYTES:
		assert_int_equal(lcr_parse_bytes(text, &whole, why, sizeof(why)), 0);
		return (double)whole;
	default:
		assert_int_equal(lcr_parse_uint(text, &whole, why, sizeof(why)), 0);
		return (double)whole;
	}
}

static bool is_number(const struct lcr_setting_spec *spec)
{
	return spec->type == LCR_TYPE_SECONDS || spec->type == LCR_TYPE_BYTES || spec->type == LCR_TYPE_COUNT;
}

static void test_every_setting_can_be_set_and_has_a_default(void **state)
{
	(void)state;
	for (size_t i = 0; i < LCR_SETTING_COUNT; i++) {
		const struct lcr_setting_spec *spec = &lcr_settings[i];

		if (!spec->doc || !spec->default_text)
			fail_msg("setting %zu has no description or no default", i);
		if (!spec->yaml_key && !spec->option)
			fail_msg("setting '%s' is neither a key of lcr.yaml nor an option", spec->doc);
		if (spec->option && (!spec->env || strncmp(spec->env, "LCR_", 4) != 0))
			fail_msg("option --%s has no LCR_* environment variable", spec->option);
		if (spec->option && (!spec->option_help || strncmp(spec->option_help, "[lcr] ", 6) != 0))
			fail_msg("option --%s has no help line starting with [lcr]", spec->option);
		if (spec->lcrd_arg && is_number(spec) && !spec->lcrd_default)
			fail_msg("lcrd --%s has no default", spec->lcrd_arg);
	}
}

static void test_defaults_lie_within_their_bounds(void **state)
{
	(void)state;
	for (size_t i = 0; i < LCR_SETTING_COUNT; i++) {
		const struct lcr_setting_spec *spec = &lcr_settings[i];

		if (!is_number(spec))
			continue;
		if (!lcr_setting_in_bounds(&spec->bounds, number_of(spec, spec->default_text)))
			fail_msg("setting '%s': default %s is out of its bounds", spec->doc, spec->default_text);
		if (spec->lcrd_arg &&
		    !lcr_setting_in_bounds(&spec->lcrd_bounds, number_of(spec, spec->lcrd_default)))
			fail_msg("lcrd --%s: default %s is out of its bounds", spec->lcrd_arg, spec->lcrd_default);
	}
}

static void test_options_have_one_place_each_in_help(void **state)
{
	bool taken[LCR_SETTING_COUNT + 1] = { false };
	int options = 0;

	(void)state;
	for (size_t i = 0; i < LCR_SETTING_COUNT; i++) {
		int rank = lcr_settings[i].option_rank;

		if (!lcr_settings[i].option)
			continue;
		options++;
		if (rank < 1 || rank > LCR_SETTING_COUNT || taken[rank])
			fail_msg("option --%s: rank %d is not free", lcr_settings[i].option, rank);
		taken[rank] = true;
	}
	for (int rank = 1; rank <= options; rank++)
		if (!taken[rank])
			fail_msg("no option has rank %d: ranks must follow each other from 1", rank);
}

static void test_names_are_found_by_lookup(void **state)
{
	(void)state;
	for (size_t i = 0; i < LCR_SETTING_COUNT; i++) {
		const struct lcr_setting_spec *spec = &lcr_settings[i];

		if (spec->yaml_key)
			assert_ptr_equal(lcr_setting_by_yaml_key(spec->yaml_key), spec);
		if (spec->option)
			assert_ptr_equal(lcr_setting_by_option(spec->option), spec);
		if (spec->lcrd_arg)
			assert_ptr_equal(lcr_setting_by_lcrd_arg(spec->lcrd_arg), spec);
		assert_int_equal(lcr_setting_id(spec), i);
	}
	assert_null(lcr_setting_by_option("lcr-nothing"));
}

static void test_every_name_is_documented(void **state)
{
	char *yaml_page = read_source_file("doc/lcr.yaml.5");
	char *example = read_source_file("etc/lcr.yaml");
	char *plugin_page = read_source_file("doc/spank_lcr.8");
	char *lcrd_page = read_source_file("doc/lcrd.8");
	char *readme = read_source_file("README.md");
	char *admin = read_source_file("doc/admin.md");
	char name[128];

	(void)state;
	for (size_t i = 0; i < LCR_SETTING_COUNT; i++) {
		const struct lcr_setting_spec *spec = &lcr_settings[i];
		const char *leaf = spec->yaml_key ? strrchr(spec->yaml_key, '.') : NULL;

		if (spec->yaml_key) {
			snprintf(name, sizeof(name), "%s:", leaf ? leaf + 1 : spec->yaml_key);
			assert_documented("etc/lcr.yaml", example, "key", name);
			assert_documented("doc/lcr.yaml.5", yaml_page, "key", leaf ? leaf + 1 : spec->yaml_key);
			snprintf(name, sizeof(name), "| `%s` |", spec->yaml_key);
			assert_documented("doc/admin.md", admin, "key", name);
		}
		if (spec->option) {
			man_escape(spec->option, name, sizeof(name));
			assert_documented("doc/spank_lcr.8", plugin_page, "option", name);
			assert_documented("doc/spank_lcr.8", plugin_page, "variable", spec->env);
			snprintf(name, sizeof(name), "`--%s", spec->option);
			assert_documented("README.md", readme, "option", name);
			snprintf(name, sizeof(name), "`%s`", spec->env);
			assert_documented("README.md", readme, "variable", name);
		}
		if (spec->lcrd_arg) {
			char escaped[96];

			man_escape(spec->lcrd_arg, escaped, sizeof(escaped));
			snprintf(name, sizeof(name), "\\-\\-%s=", escaped);
			assert_documented("doc/lcrd.8", lcrd_page, "lcrd argument", name);
		}
	}
	free(yaml_page);
	free(example);
	free(plugin_page);
	free(lcrd_page);
	free(admin);
	free(readme);
}

static void test_choices_read_back_their_names(void **state)
{
	enum lcr_restore_mode restore;
	enum lcr_replace_mode replace;

	(void)state;
	assert_int_equal(lcr_restore_mode_parse(lcr_restore_mode_name(LCR_RESTORE_AUTO), &restore), 0);
	assert_int_equal(restore, LCR_RESTORE_AUTO);
	assert_int_equal(lcr_restore_mode_parse(lcr_restore_mode_name(LCR_RESTORE_NEVER), &restore), 0);
	assert_int_equal(restore, LCR_RESTORE_NEVER);
	assert_int_equal(lcr_replace_mode_parse(lcr_replace_mode_name(LCR_REPLACE_SPARE), &replace), 0);
	assert_int_equal(replace, LCR_REPLACE_SPARE);
	assert_int_equal(lcr_replace_mode_parse(lcr_replace_mode_name(LCR_REPLACE_NONE), &replace), 0);
	assert_int_equal(replace, LCR_REPLACE_NONE);
	assert_int_equal(lcr_replace_mode_parse("Spare", &replace), -EINVAL);
	assert_int_equal(lcr_restore_mode_parse("/ckpt/step-4", &restore), -EINVAL);
}

static void test_redundancy_names_read_back(void **state)
{
	enum lcr_redundancy_mode mode = LCR_REDUNDANCY_NONE;

	(void)state;
	assert_int_equal(lcr_redundancy_mode_parse(lcr_redundancy_mode_name(LCR_REDUNDANCY_COPY), &mode), 0);
	assert_int_equal(mode, LCR_REDUNDANCY_COPY);
	assert_int_equal(lcr_redundancy_mode_parse(lcr_redundancy_mode_name(LCR_REDUNDANCY_NONE), &mode), 0);
	assert_int_equal(mode, LCR_REDUNDANCY_NONE);
	assert_int_equal(lcr_redundancy_mode_parse("erasure", &mode), 0);
	assert_int_equal(mode, LCR_REDUNDANCY_ERASURE);
	assert_int_equal(lcr_redundancy_mode_parse("auto", &mode), 0);
	assert_int_equal(mode, LCR_REDUNDANCY_AUTO);
	assert_int_equal(lcr_redundancy_mode_parse("Copy", &mode), -EINVAL);
	assert_int_equal(mode, LCR_REDUNDANCY_AUTO);
}

/* Runs lcrd's parser on a foreground helper with one more argument. */
static int parse_lcrd(const char *argument, struct lcrd_options *o, char *err, size_t errlen)
{
	char *argv[] = { "lcrd", "--job-id=1", "--foreground", (char *)argument, NULL };
	int argc = argument ? 4 : 3;

	err[0] = '\0';
	return options_parse(argc, argv, o, err, errlen);
}

/* A value lcrd must accept for the setting: its default, or one of its type. */
static const char *accepted_value(const struct lcr_setting_spec *spec)
{
	if (spec->lcrd_default)
		return spec->lcrd_default;
	return spec->type == LCR_TYPE_PATH_OR_EMPTY ? "" : "/scratch/lcr";
}

static void test_lcrd_accepts_every_argument_the_plugin_passes(void **state)
{
	struct lcrd_options o;
	char argument[256];
	char err[512];

	(void)state;
	for (size_t i = 0; i < LCR_SETTING_COUNT; i++) {
		const struct lcr_setting_spec *spec = &lcr_settings[i];

		if (!spec->lcrd_arg)
			continue;
		snprintf(argument, sizeof(argument), "--%s=%s", spec->lcrd_arg, accepted_value(spec));
		if (parse_lcrd(argument, &o, err, sizeof(err)) != OPTIONS_RUN)
			fail_msg("lcrd refuses %s: %s", argument, err);
		options_free(&o);
	}
}

/* What the plugin passes of a site's own settings (lcr_site_config_value_text), lcrd reads back. */
static void test_lcrd_reads_the_sites_settings_as_the_plugin_writes_them(void **state)
{
	struct lcr_site_config site;
	struct lcrd_options o;
	char argument[256];
	char text[128];
	char err[512];

	(void)state;
	lcr_site_config_init_defaults(&site);
	assert_int_equal(lcr_site_config_set(&site, "ckpt_keep", "7", "test", err, sizeof(err)), 0);
	assert_int_equal(lcr_site_config_set(&site, "heartbeat_peers", "5", "test", err, sizeof(err)), 0);
	assert_int_equal(lcr_site_config_set(&site, "wire_encryption", "true", "test", err, sizeof(err)), 0);
	assert_int_equal(lcr_site_config_set(&site, "region_quota", "3GiB", "test", err, sizeof(err)), 0);
	assert_int_equal(lcr_site_config_set(&site, "log_level", "debug", "test", err, sizeof(err)), 0);
	assert_int_equal(lcr_site_config_set(&site, "ckpt_roots", "/scratch:/lustre", "test", err, sizeof(err)), 0);
	for (size_t i = 0; i < LCR_SETTING_COUNT; i++) {
		const struct lcr_setting_spec *spec = &lcr_settings[i];

		if (!spec->lcrd_arg || !spec->yaml_key || spec->option)
			continue;
		assert_int_equal(lcr_site_config_value_text(&site, spec, text, sizeof(text), err, sizeof(err)), 0);
		snprintf(argument, sizeof(argument), "--%s=%s", spec->lcrd_arg, text);
		if (parse_lcrd(argument, &o, err, sizeof(err)) != OPTIONS_RUN)
			fail_msg("lcrd refuses %s: %s", argument, err);
		if (i == LCR_SETTING_CKPT_KEEP)
			assert_int_equal(o.ckpt_keep, 7);
		if (i == LCR_SETTING_HEARTBEAT_PEERS)
			assert_int_equal(o.heartbeat_peers, 5);
		if (i == LCR_SETTING_WIRE_ENCRYPTION)
			assert_true(o.wire_encryption);
		if (i == LCR_SETTING_REGION_QUOTA)
			assert_int_equal(o.region_quota, 3ULL << 30);
		if (i == LCR_SETTING_LOG_LEVEL)
			assert_int_equal(o.log_level, LOG_LEVEL_DEBUG);
		if (i == LCR_SETTING_CKPT_ROOTS)
			assert_int_equal(o.ckpt_roots.count, 2);
		options_free(&o);
	}
	assert_int_equal(lcr_site_config_value_text(&site, &lcr_settings[LCR_SETTING_CKPT_ROOTS], text, 4, err,
						    sizeof(err)),
			 -ENAMETOOLONG);
	lcr_site_config_fini(&site);
}

static void test_lcrd_refuses_values_beyond_bounds_with_the_rows_message(void **state)
{
	struct lcrd_options o;
	char argument[256];
	char err[512];

	(void)state;
	for (size_t i = 0; i < LCR_SETTING_COUNT; i++) {
		const struct lcr_setting_spec *spec = &lcr_settings[i];

		if (!spec->lcrd_arg || !is_number(spec) || isinf(spec->lcrd_bounds.max))
			continue;
		snprintf(argument, sizeof(argument), "--%s=%.0f", spec->lcrd_arg, spec->lcrd_bounds.max + 1);
		assert_int_equal(parse_lcrd(argument, &o, err, sizeof(err)), -EINVAL);
		if (!strstr(err, argument) || !strstr(err, spec->lcrd_expects))
			fail_msg("%s: message '%s' does not say what is accepted", argument, err);
		options_free(&o);
	}
}

/* lcrd --help, as it prints it. */
static char *lcrd_help(void)
{
	char *argv[] = { "lcrd", "--help", NULL };
	struct lcrd_options o;
	FILE *capture = tmpfile();
	char err[256];
	char *text;
	long size;
	int saved;

	assert_non_null(capture);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(capture), STDOUT_FILENO) >= 0);
	assert_int_equal(options_parse(2, argv, &o, err, sizeof(err)), OPTIONS_EXIT);
	fflush(stdout);
	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
	options_free(&o);
	size = ftell(capture);
	assert_true(size > 0);
	text = calloc(1, (size_t)size + 1);
	assert_non_null(text);
	rewind(capture);
	assert_int_equal(fread(text, 1, (size_t)size, capture), (size_t)size);
	fclose(capture);
	return text;
}

static void test_lcrd_help_names_every_setting_argument(void **state)
{
	char *help = lcrd_help();
	char name[128];

	(void)state;
	for (size_t i = 0; i < LCR_SETTING_COUNT; i++) {
		if (!lcr_settings[i].lcrd_arg)
			continue;
		snprintf(name, sizeof(name), "[--%s=", lcr_settings[i].lcrd_arg);
		assert_documented("lcrd --help", help, "lcrd argument", name);
	}
	free(help);
}

static void test_lcrd_takes_erasure_and_auto(void **state)
{
	struct lcrd_options o;
	char err[512];

	(void)state;
	assert_int_equal(parse_lcrd("--redundancy=auto", &o, err, sizeof(err)), OPTIONS_RUN);
	assert_int_equal(o.redundancy, LCR_REDUNDANCY_AUTO);
	options_free(&o);
	assert_int_equal(parse_lcrd("--redundancy=Auto", &o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--redundancy=Auto"));
	assert_non_null(strstr(err, "expected none, copy, erasure or auto"));
	options_free(&o);
	assert_int_equal(parse_lcrd("--redundancy=erasure", &o, err, sizeof(err)), OPTIONS_RUN);
	assert_int_equal(o.redundancy, LCR_REDUNDANCY_ERASURE);
	assert_int_equal(o.redundancy_group_size, 4);
	assert_int_equal(o.redundancy_parity, 1);
	options_free(&o);
}

static void test_lcrd_refuses_parity_not_below_the_group_size(void **state)
{
	char *argv[] = { "lcrd", "--job-id=1", "--foreground", "--redundancy=erasure",
			 "--redundancy-group-size=3", "--redundancy-parity=3", NULL };
	struct lcrd_options o;
	char err[512];

	(void)state;
	assert_int_equal(options_parse(6, argv, &o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--redundancy-parity=3 must be below --redundancy-group-size=3"));
	options_free(&o);
}

static void test_lcrd_defaults_are_the_tables(void **state)
{
	struct lcrd_options o;
	char err[512];

	(void)state;
	assert_int_equal(parse_lcrd(NULL, &o, err, sizeof(err)), OPTIONS_RUN);
	assert_int_equal(o.ckpt_keep, 2);
	assert_int_equal(o.heartbeat_peers, 2);
	assert_int_equal(o.detect_timeout_ms, 2000);
	assert_false(o.wire_encryption);
	assert_int_equal(o.region_quota, 0);
	assert_int_equal(o.restore, LCR_RESTORE_NEVER);
	assert_int_equal(o.replace, LCR_REPLACE_NONE);
	assert_int_equal(o.redundancy, LCR_REDUNDANCY_NONE);
	assert_int_equal(o.redundancy_copies, 1);
	assert_int_equal(o.snapshot_every, 10);
	assert_int_equal(o.redundancy_memory_max, 0);
	assert_int_equal(o.log_level, LOG_LEVEL_INFO);
	assert_null(o.ckpt_dir);
	assert_null(o.munge_socket);
	options_free(&o);
}

static void test_a_checkpoint_pattern_may_start_with_home_alone(void **state)
{
	const struct lcr_setting_spec *spec = &lcr_settings[LCR_SETTING_CKPT_DIR];
	char out[256];
	char why[512];

	(void)state;
	assert_int_equal(lcr_setting_canonical(spec, "%h", NULL, out, sizeof(out), why, sizeof(why)), 0);
	assert_string_equal(out, "%h");
	assert_int_equal(lcr_setting_canonical(spec, "%h.lcr", NULL, out, sizeof(out), why, sizeof(why)), 0);
	assert_string_equal(out, "%h.lcr");
	assert_int_equal(lcr_setting_canonical(spec, "%h.lcr//ckpt/./%j", NULL, out, sizeof(out), why, sizeof(why)),
			 0);
	assert_string_equal(out, "%h.lcr/ckpt/%j");
	assert_int_equal(lcr_setting_canonical(spec, "%h/ckpt/", NULL, out, sizeof(out), why, sizeof(why)), 0);
	assert_string_equal(out, "%h/ckpt");
	assert_int_equal(lcr_setting_canonical(spec, "%u/ckpt", NULL, out, sizeof(out), why, sizeof(why)), -EINVAL);
	assert_int_equal(lcr_setting_canonical(spec, "%h/../x", NULL, out, sizeof(out), why, sizeof(why)), -EINVAL);
}

static void test_a_value_too_long_for_out_leaves_out_as_it_was(void **state)
{
	char out[8] = "kept";
	char why[512];

	(void)state;
	assert_int_equal(lcr_setting_canonical(&lcr_settings[LCR_SETTING_HELPER], "/usr/sbin/lcrd", NULL, out,
					       sizeof(out), why, sizeof(why)),
			 -ENAMETOOLONG);
	assert_string_equal(out, "kept");
	assert_int_equal(lcr_setting_canonical(&lcr_settings[LCR_SETTING_REDUNDANCY], "erasure", NULL, out, 7, why,
					       sizeof(why)),
			 -ENAMETOOLONG);
	assert_string_equal(out, "kept");
}

static void test_a_users_switch_is_on_off_yes_no_1_0_as_written(void **state)
{
	static const char *const refused[] = { "true", "false", "On", "YES", "", "2", "onn" };
	bool on = false;

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(lcr_setting_parse_switch((const char *[]){ "on", "yes", "1" }[i], &on), 0);
		assert_true(on);
		assert_int_equal(lcr_setting_parse_switch((const char *[]){ "off", "no", "0" }[i], &on), 0);
		assert_false(on);
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (lcr_setting_parse_switch(refused[i], &on) != -EINVAL)
			fail_msg("'%s' is taken as a switch", refused[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_setting_can_be_set_and_has_a_default),
		cmocka_unit_test(test_defaults_lie_within_their_bounds),
		cmocka_unit_test(test_options_have_one_place_each_in_help),
		cmocka_unit_test(test_names_are_found_by_lookup),
		cmocka_unit_test(test_every_name_is_documented),
		cmocka_unit_test(test_choices_read_back_their_names),
		cmocka_unit_test(test_redundancy_names_read_back),
		cmocka_unit_test(test_lcrd_accepts_every_argument_the_plugin_passes),
		cmocka_unit_test(test_lcrd_reads_the_sites_settings_as_the_plugin_writes_them),
		cmocka_unit_test(test_lcrd_refuses_values_beyond_bounds_with_the_rows_message),
		cmocka_unit_test(test_lcrd_help_names_every_setting_argument),
		cmocka_unit_test(test_lcrd_defaults_are_the_tables),
		cmocka_unit_test(test_lcrd_takes_erasure_and_auto),
		cmocka_unit_test(test_lcrd_refuses_parity_not_below_the_group_size),
		cmocka_unit_test(test_a_checkpoint_pattern_may_start_with_home_alone),
		cmocka_unit_test(test_a_value_too_long_for_out_leaves_out_as_it_was),
		cmocka_unit_test(test_a_users_switch_is_on_off_yes_no_1_0_as_written),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
