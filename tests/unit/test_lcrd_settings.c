/*
 * test_lcrd_settings.c: lcrd's setting arguments (helper/loop/options.c) against the one check
 * of a value, lcr_setting_canonical (common/settings.c), which the plugin and the site
 * configuration use too.
 *
 * lcrd must refuse what the shared check refuses within lcrd's bounds, and say the same why;
 * accept what it accepts, up to lcrd's own bounds (wider than a user's where the table says
 * so); and keep the canonical text the plugin passes as it is. A second check of its own in
 * lcrd that disagreed with the plugin's fails here.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "internal/settings.h"
#include "loop/options.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Runs lcrd's parser on a foreground helper with one more argument. */
static int parse_lcrd(const char *argument, struct lcrd_options *o, char *err, size_t errlen)
{
	char *argv[] = { "lcrd", "--job-id=1", "--foreground", (char *)argument, NULL };

	err[0] = '\0';
	return options_parse(4, argv, o, err, errlen);
}

/* Runs lcrd with --ARG=value for the setting; fails the test unless lcrd accepts it. */
static void lcrd_accepts(enum lcr_setting setting, const char *value, struct lcrd_options *o)
{
	char argument[512];
	char err[1024];

	snprintf(argument, sizeof(argument), "--%s=%s", lcr_settings[setting].lcrd_arg, value);
	if (parse_lcrd(argument, o, err, sizeof(err)) != OPTIONS_RUN)
		fail_msg("lcrd refuses %s: %s", argument, err);
}

/* Values that no setting of the type may take, whatever its bounds. */
static const char *const *refused_values(enum lcr_setting_type type)
{
	static const char *const paths[] = { "relative/dir", "/a/../b", "/a/\x01" "b", NULL };
	static const char *const path_lists[] = { "/scratch:relative", "/scratch:/a/../b", NULL };
	static const char *const seconds[] = { "ten", "1e3", "-1", "+2", " 2", "3601", "1.0000001", NULL };
	static const char *const bytes[] = { "64X", "0.5", "-1", "1e6", "99999999999T", NULL };
	static const char *const counts[] = { "ten", "-1", "1.5", "0x10", "99999999999999999999999", NULL };
	static const char *const booleans[] = { "maybe", "", NULL };
	static const char *const levels[] = { "loud", "", NULL };
	static const char *const restores[] = { "sometimes", "relative/step-4", "/ckpt/../step-4", "", NULL };
	static const char *const choices[] = { "maybe", "Spare", "Copy", "", NULL };

	switch (type) {
	case LCR_TYPE_PATH:
	case LCR_TYPE_PATH_OR_EMPTY:
	case LCR_TYPE_PATTERN:
		return paths;
	case LCR_TYPE_PATH_LIST:
		return path_lists;
	case LCR_TYPE_SECONDS:
		return seconds;
	case LCR_TYPE_BYTES:
		return bytes;
	case LCR_TYPE_COUNT:
		return counts;
	case LCR_TYPE_BOOL:
		return booleans;
	case LCR_TYPE_LOG_LEVEL:
		return levels;
	case LCR_TYPE_RESTORE:
		return restores;
	case LCR_TYPE_REPLACE:
	case LCR_TYPE_REDUNDANCY:
		return choices;
	}
	fail_msg("no refused values for type %d", (int)type);
	return NULL;
}

/* lcrd refuses value for the row, with "--ARG=VALUE: " and the shared check's why. */
static void assert_lcrd_refuses_with_the_shared_why(const struct lcr_setting_spec *spec, const char *value)
{
	struct lcrd_options o;
	char argument[512];
	char out[512];
	char why[512] = "";
	char err[1024];

	if (lcr_setting_canonical(spec, value, &spec->lcrd_bounds, out, sizeof(out), why, sizeof(why)) == 0)
		fail_msg("the shared check accepts --%s=%s: the test's value is wrong", spec->lcrd_arg, value);
	snprintf(argument, sizeof(argument), "--%s=%s", spec->lcrd_arg, value);
	if (parse_lcrd(argument, &o, err, sizeof(err)) != -EINVAL)
		fail_msg("lcrd accepts %s, which the shared check refuses (%s)", argument, why);
	if (strncmp(err, argument, strlen(argument)) != 0 || strncmp(err + strlen(argument), ": ", 2) != 0)
		fail_msg("%s: message '%s' does not start with the argument", argument, err);
	if (!strstr(err, why))
		fail_msg("%s: message '%s' does not say the shared check's why '%s'", argument, err, why);
	if (spec->lcrd_expects && !strstr(err, spec->lcrd_expects))
		fail_msg("%s: message '%s' does not say the row's '%s'", argument, err, spec->lcrd_expects);
	options_free(&o);
}

static void test_lcrd_refuses_what_the_shared_check_refuses_with_its_why(void **state)
{
	(void)state;
	for (size_t i = 0; i < LCR_SETTING_COUNT; i++) {
		const struct lcr_setting_spec *spec = &lcr_settings[i];
		const char *const *values;

		if (!spec->lcrd_arg)
			continue;
		for (values = refused_values(spec->type); *values; values++)
			if (spec->type != LCR_TYPE_PATH_OR_EMPTY || (*values)[0])
				assert_lcrd_refuses_with_the_shared_why(spec, *values);
	}
}

/* Writes the bound as the row's type reads it ("0.1", "16"). */
static void bound_text(double bound, char *out, size_t cap)
{
	snprintf(out, cap, "%.15g", bound);
}

static void test_lcrd_accepts_values_at_its_bounds(void **state)
{
	struct lcrd_options o;
	char text[64];

	(void)state;
	for (size_t i = 0; i < LCR_SETTING_COUNT; i++) {
		const struct lcr_setting_spec *spec = &lcr_settings[i];
		bool number = spec->type == LCR_TYPE_SECONDS || spec->type == LCR_TYPE_BYTES ||
			      spec->type == LCR_TYPE_COUNT;

		if (!spec->lcrd_arg || !number)
			continue;
		if (!spec->lcrd_bounds.min_exclusive) {
			bound_text(spec->lcrd_bounds.min, text, sizeof(text));
			lcrd_accepts((enum lcr_setting)i, text, &o);
			options_free(&o);
		}
		if (!isinf(spec->lcrd_bounds.max)) {
			bound_text(spec->lcrd_bounds.max, text, sizeof(text));
			lcrd_accepts((enum lcr_setting)i, text, &o);
			options_free(&o);
		}
	}
	lcrd_accepts(LCR_SETTING_DETECT_TIMEOUT, "0.1", &o);
	assert_int_equal(o.detect_timeout_ms, 100);
	options_free(&o);
	lcrd_accepts(LCR_SETTING_DETECT_TIMEOUT, "3600", &o);
	assert_int_equal(o.detect_timeout_ms, 3600000);
	options_free(&o);
	lcrd_accepts(LCR_SETTING_CKPT_KEEP, "1000000", &o);
	assert_int_equal(o.ckpt_keep, 1000000);
	options_free(&o);
	lcrd_accepts(LCR_SETTING_HEARTBEAT_PEERS, "16", &o);
	assert_int_equal(o.heartbeat_peers, 16);
	options_free(&o);
}

/* A region quota of 0 (no limit) is below what a site may set, not below lcrd's bound. */
static void test_lcrd_bounds_are_its_own_not_the_users(void **state)
{
	const struct lcr_setting_spec *spec = &lcr_settings[LCR_SETTING_REGION_QUOTA];
	struct lcrd_options o;
	char out[64];
	char why[512];

	(void)state;
	assert_int_equal(lcr_setting_canonical(spec, "0", NULL, out, sizeof(out), why, sizeof(why)), -ERANGE);
	lcrd_accepts(LCR_SETTING_REGION_QUOTA, "0", &o);
	assert_int_equal(o.region_quota, 0);
	options_free(&o);
}

/* What the plugin passes, normalised or not, lcrd keeps as the shared check writes it. */
static void test_lcrd_keeps_the_canonical_text(void **state)
{
	struct lcrd_options o;

	(void)state;
	lcrd_accepts(LCR_SETTING_CKPT_DIR, "/scratch//lcr/./42/", &o);
	assert_string_equal(o.ckpt_dir, "/scratch/lcr/42");
	options_free(&o);
	lcrd_accepts(LCR_SETTING_RESTORE, "/ckpt//step-4/", &o);
	assert_int_equal(o.restore, LCR_RESTORE_PATH);
	assert_string_equal(o.restore_path, "/ckpt/step-4");
	options_free(&o);
	lcrd_accepts(LCR_SETTING_RESTORE, "auto", &o);
	assert_int_equal(o.restore, LCR_RESTORE_AUTO);
	assert_null(o.restore_path);
	options_free(&o);
	lcrd_accepts(LCR_SETTING_CKPT_ROOTS, "/scratch/:/lustre//a", &o);
	assert_int_equal(o.ckpt_roots.count, 2);
	assert_string_equal(o.ckpt_roots.paths[0], "/scratch");
	assert_string_equal(o.ckpt_roots.paths[1], "/lustre/a");
	options_free(&o);
	lcrd_accepts(LCR_SETTING_MUNGE_SOCKET, "", &o);
	assert_string_equal(o.munge_socket, "");
	options_free(&o);
	lcrd_accepts(LCR_SETTING_MUNGE_SOCKET, "/run/munge//munge.socket.2", &o);
	assert_string_equal(o.munge_socket, "/run/munge/munge.socket.2");
	options_free(&o);
}

/* The plugin expands the user's pattern: a '%' left by "%%" is part of the directory's name. */
static void test_lcrd_reads_the_checkpoint_directory_expanded(void **state)
{
	const struct lcr_setting_spec *spec = &lcr_settings[LCR_SETTING_CKPT_DIR];
	struct lcrd_options o;
	char out[64];
	char why[512];

	(void)state;
	assert_int_equal(lcr_setting_canonical(spec, "/data/100%", NULL, out, sizeof(out), why, sizeof(why)), -EINVAL);
	lcrd_accepts(LCR_SETTING_CKPT_DIR, "/data/100%", &o);
	assert_string_equal(o.ckpt_dir, "/data/100%");
	options_free(&o);
	assert_int_equal(parse_lcrd("--ckpt-dir=%h/ckpt", &o, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "'%h/ckpt' is not an absolute path"));
	options_free(&o);
}

/* Values spelt as lcr.yaml spells them mean to lcrd what they mean to the site's config. */
static void test_lcrd_reads_values_as_the_site_config_does(void **state)
{
	struct lcrd_options o;

	(void)state;
	lcrd_accepts(LCR_SETTING_DETECT_TIMEOUT, "1.25s", &o);
	assert_int_equal(o.detect_timeout_ms, 1250);
	options_free(&o);
	lcrd_accepts(LCR_SETTING_DETECT_TIMEOUT, "2.000", &o);
	assert_int_equal(o.detect_timeout_ms, 2000);
	options_free(&o);
	lcrd_accepts(LCR_SETTING_REGION_QUOTA, "64G", &o);
	assert_int_equal(o.region_quota, 64ULL << 30);
	options_free(&o);
	lcrd_accepts(LCR_SETTING_REGION_QUOTA, "500MB", &o);
	assert_int_equal(o.region_quota, 500000000ULL);
	options_free(&o);
	lcrd_accepts(LCR_SETTING_LOG_LEVEL, "DEBUG", &o);
	assert_int_equal(o.log_level, LOG_LEVEL_DEBUG);
	options_free(&o);
	lcrd_accepts(LCR_SETTING_WIRE_ENCRYPTION, "yes", &o);
	assert_true(o.wire_encryption);
	options_free(&o);
	lcrd_accepts(LCR_SETTING_WIRE_ENCRYPTION, "off", &o);
	assert_false(o.wire_encryption);
	options_free(&o);
	lcrd_accepts(LCR_SETTING_REDUNDANCY_COPIES, "007", &o);
	assert_int_equal(o.redundancy_copies, 7);
	options_free(&o);
}

/* lcrd keeps seconds as 32-bit milliseconds and counts as 32-bit numbers: its bounds fit. */
static void test_lcrd_bounds_fit_its_fields(void **state)
{
	(void)state;
	for (size_t i = 0; i < LCR_SETTING_COUNT; i++) {
		const struct lcr_setting_spec *spec = &lcr_settings[i];

		if (!spec->lcrd_arg)
			continue;
		if (spec->type == LCR_TYPE_SECONDS && !(spec->lcrd_bounds.max * 1000 <= UINT32_MAX))
			fail_msg("lcrd --%s: %g seconds do not fit its milliseconds", spec->lcrd_arg,
				 spec->lcrd_bounds.max);
		if (spec->type == LCR_TYPE_COUNT && !(spec->lcrd_bounds.max <= UINT32_MAX))
			fail_msg("lcrd --%s: %g does not fit its field", spec->lcrd_arg, spec->lcrd_bounds.max);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lcrd_refuses_what_the_shared_check_refuses_with_its_why),
		cmocka_unit_test(test_lcrd_accepts_values_at_its_bounds),
		cmocka_unit_test(test_lcrd_bounds_are_its_own_not_the_users),
		cmocka_unit_test(test_lcrd_keeps_the_canonical_text),
		cmocka_unit_test(test_lcrd_reads_the_checkpoint_directory_expanded),
		cmocka_unit_test(test_lcrd_reads_values_as_the_site_config_does),
		cmocka_unit_test(test_lcrd_bounds_fit_its_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
