/*
 * test_site_config.c: unit tests of the site configuration (common/site_config.c) and the
 * value parsers (common/parse.c).
 *
 * Each test that reads YAML writes it to its own temporary file, so a case reads in one
 * place. The last group reads the shipped etc/lcr.yaml and doc/lcr.yaml.5 from
 * $LCR_SRCDIR (set by `make check`) and checks they document every key of the schema.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
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
#include "internal/site_config.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Per-test state: a configuration at its defaults, an error buffer, a temporary file. */
struct fixture {
	struct lcr_site_config cfg;
	char err[LCR_SITE_CONFIG_ERRLEN];
	char path[PATH_MAX];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	if (!f)
		return -1;
	lcr_site_config_init_defaults(&f->cfg);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	lcr_site_config_fini(&f->cfg);
	if (f->path[0])
		unlink(f->path);
	free(f);
	return 0;
}

/* Writes text to a new temporary file whose path is f->path. */
static const char *write_temp(struct fixture *f, const char *text)
{
	const char *tmpdir = getenv("TMPDIR");
	FILE *file;
	int fd;

	if (f->path[0])
		unlink(f->path);
	snprintf(f->path, sizeof f->path, "%s/lcr-test-XXXXXX.yaml", tmpdir ? tmpdir : "/tmp");
	fd = mkstemps(f->path, 5);
	assert_true(fd >= 0);
	file = fdopen(fd, "w");
	assert_non_null(file);
	assert_int_equal(fputs(text, file) >= 0 || text[0] == '\0', 1);
	assert_int_equal(fclose(file), 0);
	return f->path;
}

static int load_text(struct fixture *f, const char *text)
{
	f->err[0] = '\0';
	return lcr_site_config_load_file(&f->cfg, write_temp(f, text), f->err, sizeof f->err);
}

/* Path of a file of the source tree. */
static const char *source_file(const char *relative, char *buf, size_t buflen)
{
	const char *srcdir = getenv("LCR_SRCDIR");

	if (!srcdir) {
		print_error("LCR_SRCDIR is not set: run this test with `make check`\n");
		fail();
	}
	snprintf(buf, buflen, "%s/%s", srcdir, relative);
	return buf;
}

static void assert_contains(const char *text, const char *fragment)
{
	if (!strstr(text, fragment)) {
		print_error("expected \"%s\" in: %s\n", fragment, text);
		fail();
	}
}

/* Loads text, expects rc, and expects the message to start "lcr: <file>:<line>: ". */
static void assert_load_error(struct fixture *f, const char *text, int rc, unsigned line,
			      const char *fragment)
{
	char where[PATH_MAX + 32];
	int got = load_text(f, text);

	if (got != rc) {
		print_error("loading \"%s\": expected %d, got %d (%s)\n", text, rc, got, f->err);
		fail();
	}
	snprintf(where, sizeof where, "lcr: %s:%u: ", f->path, line);
	if (strncmp(f->err, where, strlen(where)) != 0) {
		print_error("expected the message to start with \"%s\": %s\n", where, f->err);
		fail();
	}
	assert_contains(f->err, fragment);
}

static void assert_config_equal(const struct lcr_site_config *a,
				const struct lcr_site_config *b)
{
	assert_string_equal(a->helper, b->helper);
	assert_string_equal(a->runtime_dir, b->runtime_dir);
	assert_string_equal(a->ckpt_dir, b->ckpt_dir);
	assert_int_equal(a->ckpt_roots.count, b->ckpt_roots.count);
	for (size_t i = 0; i < a->ckpt_roots.count; i++)
		assert_string_equal(a->ckpt_roots.paths[i], b->ckpt_roots.paths[i]);
	assert_int_equal(a->ckpt_keep, b->ckpt_keep);
	assert_true(a->detect_timeout_default == b->detect_timeout_default);
	assert_true(a->detect_timeout_min == b->detect_timeout_min);
	assert_true(a->detect_timeout_max == b->detect_timeout_max);
	assert_int_equal(a->enabled_by_default, b->enabled_by_default);
	assert_int_equal(a->required, b->required);
	assert_int_equal(a->log_level, b->log_level);
	assert_string_equal(a->munge_socket, b->munge_socket);
	assert_int_equal(a->region_quota, b->region_quota);
	assert_true(a->helper_start_timeout == b->helper_start_timeout);
	assert_true(a->helper_stop_timeout == b->helper_stop_timeout);
	assert_int_equal(a->heartbeat_peers, b->heartbeat_peers);
	assert_int_equal(a->wire_encryption, b->wire_encryption);
}

static void assert_is_default(const struct lcr_site_config *cfg)
{
	struct lcr_site_config defaults;

	lcr_site_config_init_defaults(&defaults);
	assert_config_equal(cfg, &defaults);
	lcr_site_config_fini(&defaults);
}

/* ---- defaults and good files ---- */

static void test_defaults_are_the_documented_ones(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(f->cfg.helper, LCR_DEFAULT_HELPER);
	assert_string_equal(f->cfg.runtime_dir, "/run/lcr");
	assert_string_equal(f->cfg.ckpt_dir, "%h/.lcr/checkpoints/%j");
	assert_int_equal(f->cfg.ckpt_roots.count, 0);
	assert_int_equal(f->cfg.ckpt_keep, 2);
	assert_true(f->cfg.detect_timeout_default == 2.0);
	assert_true(f->cfg.detect_timeout_min == 0.5);
	assert_true(f->cfg.detect_timeout_max == 60.0);
	assert_false(f->cfg.enabled_by_default);
	assert_true(f->cfg.required);
	assert_int_equal(f->cfg.log_level, LCR_LOG_INFO);
	assert_string_equal(f->cfg.munge_socket, "");
	assert_int_equal(f->cfg.region_quota, 64ULL << 30);
	assert_true(f->cfg.helper_start_timeout == 10.0);
	assert_true(f->cfg.helper_stop_timeout == 5.0);
	assert_int_equal(f->cfg.heartbeat_peers, 2);
}

static void test_empty_file_keeps_every_default(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load_text(f, ""), 0);
	assert_is_default(&f->cfg);
}

static void test_comments_and_empty_document_keep_every_default(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load_text(f, "# nothing here\n\n# still nothing\n"), 0);
	assert_is_default(&f->cfg);
	assert_int_equal(load_text(f, "---\n...\n"), 0);
	assert_is_default(&f->cfg);
}

static void test_full_file_sets_every_key(void **state)
{
	struct fixture *f = *state;
	const char *yaml =
		"helper: /opt/lcr/sbin/lcrd\n"
		"runtime_dir: /run/lcr-test/\n"
		"ckpt_dir: /scratch//%u/ckpt-%j-100%%\n"
		"ckpt_roots:\n"
		"  - /scratch\n"
		"  - /lustre/./ckpt/\n"
		"ckpt_keep: 5\n"
		"detect_timeout:\n"
		"  default: 3.25s\n"
		"  min: 1\n"
		"  max: 3600\n"
		"enabled_by_default: YES\n"
		"required: off\n"
		"log_level: Debug\n"
		"munge_socket: /run/munge-test/munge.socket.2\n"
		"region_quota: 1.5TiB\n"
		"helper_start_timeout: 0.1\n"
		"helper_stop_timeout: 300\n"
		"heartbeat_peers: 16\n";

	assert_int_equal(load_text(f, yaml), 0);
	assert_string_equal(f->cfg.helper, "/opt/lcr/sbin/lcrd");
	assert_string_equal(f->cfg.runtime_dir, "/run/lcr-test");
	assert_string_equal(f->cfg.ckpt_dir, "/scratch/%u/ckpt-%j-100%%");
	assert_int_equal(f->cfg.ckpt_roots.count, 2);
	assert_string_equal(f->cfg.ckpt_roots.paths[0], "/scratch");
	assert_string_equal(f->cfg.ckpt_roots.paths[1], "/lustre/ckpt");
	assert_int_equal(f->cfg.ckpt_keep, 5);
	assert_true(f->cfg.detect_timeout_default == 3.25);
	assert_true(f->cfg.detect_timeout_min == 1.0);
	assert_true(f->cfg.detect_timeout_max == 3600.0);
	assert_true(f->cfg.enabled_by_default);
	assert_false(f->cfg.required);
	assert_int_equal(f->cfg.log_level, LCR_LOG_DEBUG);
	assert_string_equal(f->cfg.munge_socket, "/run/munge-test/munge.socket.2");
	assert_int_equal(f->cfg.region_quota, 3ULL << 39);
	assert_true(f->cfg.helper_start_timeout == 0.1);
	assert_true(f->cfg.helper_stop_timeout == 300.0);
	assert_int_equal(f->cfg.heartbeat_peers, 16);
}

static void test_file_changes_only_the_keys_it_sets(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load_text(f, "required: no\nmunge_socket: \"\"\nckpt_roots: []\n"), 0);
	assert_false(f->cfg.required);
	f->cfg.required = true;
	assert_is_default(&f->cfg);
}

static void test_detect_timeout_keys_may_come_in_any_order(void **state)
{
	struct fixture *f = *state;

	/* max 1 is below the default 2 until default is read: only the final order counts. */
	assert_int_equal(load_text(f, "detect_timeout:\n  max: 1\n  default: 1\n  min: 1\n"), 0);
	assert_true(f->cfg.detect_timeout_max == 1.0);
}

/* ---- file errors ---- */

static void test_missing_file_is_an_error_naming_it(void **state)
{
	struct fixture *f = *state;
	int rc = lcr_site_config_load_file(&f->cfg, "/nonexistent-lcr/lcr.yaml", f->err,
					   sizeof f->err);

	assert_int_equal(rc, -ENOENT);
	assert_string_equal(f->err, "lcr: cannot read site config '/nonexistent-lcr/lcr.yaml': "
			    "No such file or directory");
}

static void test_directory_is_not_a_site_config(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(lcr_site_config_load_file(&f->cfg, "/", f->err, sizeof f->err), -EINVAL);
	assert_string_equal(f->err, "lcr: cannot read site config '/': not a regular file");
}

static void test_malformed_yaml_is_reported_with_its_line(void **state)
{
	struct fixture *f = *state;

	assert_load_error(f, "required: yes\nlog_level: info\n- debug\n", -EINVAL, 3,
			  "malformed YAML: did not find expected key (while parsing a block "
			  "mapping on line 1)");
	assert_load_error(f, "ckpt_roots: [/a, /b\nrequired: yes\n", -EINVAL, 2,
			  "malformed YAML: did not find expected ',' or ']' (while parsing a flow "
			  "sequence on line 1)");
}

static void test_invalid_utf8_is_malformed_yaml(void **state)
{
	struct fixture *f = *state;
	char prefix[PATH_MAX + 32];

	assert_int_equal(load_text(f, "required: \xff\n"), -EINVAL);
	snprintf(prefix, sizeof prefix, "lcr: %s: malformed YAML: ", f->path);
	assert_contains(f->err, prefix);
	assert_contains(f->err, "at byte 10");
}

static void test_second_document_is_an_error(void **state)
{
	struct fixture *f = *state;

	assert_load_error(f, "required: yes\n---\nrequired: no\n", -EINVAL, 3,
			  "a second YAML document (a site config holds one)");
}

static void test_top_level_must_be_a_mapping(void **state)
{
	struct fixture *f = *state;

	assert_load_error(f, "- helper\n- required\n", -EINVAL, 1,
			  "expected a mapping of keys at the top level, found a sequence");
	assert_load_error(f, "\nhelper\n", -EINVAL, 2,
			  "expected a mapping of keys at the top level, found a scalar");
}

static void test_unknown_key_names_it_and_lists_accepted_keys(void **state)
{
	struct fixture *f = *state;

	assert_load_error(f, "required: yes\nrequierd: no\n", -EINVAL, 2,
			  "unknown key 'requierd' (accepted: helper, runtime_dir, ckpt_dir, "
			  "ckpt_roots, ckpt_keep, detect_timeout, enabled_by_default, required, "
			  "log_level, munge_socket, region_quota, helper_start_timeout, "
			  "helper_stop_timeout, heartbeat_peers, wire_encryption, redundancy)");
}

static void test_unknown_nested_key_lists_the_mapping_keys(void **state)
{
	struct fixture *f = *state;

	assert_load_error(f, "detect_timeout:\n  default: 2\n  maximum: 9\n", -EINVAL, 3,
			  "unknown key 'detect_timeout.maximum' (accepted: default, min, max)");
}

static void test_dotted_name_is_not_a_yaml_key(void **state)
{
	struct fixture *f = *state;

	assert_load_error(f, "detect_timeout.min: 1\n", -EINVAL, 1,
			  "unknown key 'detect_timeout.min' (accepted: helper,");
}

static void test_duplicate_keys_are_errors(void **state)
{
	struct fixture *f = *state;

	assert_load_error(f, "required: yes\nlog_level: info\nrequired: no\n", -EINVAL, 3,
			  "duplicate key 'required' (first on line 1)");
	assert_load_error(f, "detect_timeout:\n  min: 1\n  min: 2\n", -EINVAL, 3,
			  "duplicate key 'detect_timeout.min' (first on line 2)");
	assert_load_error(f, "detect_timeout:\n  min: 1\ndetect_timeout:\n  max: 5\n", -EINVAL,
			  3, "duplicate key 'detect_timeout' (first on line 1)");
}

static void test_wrong_types_are_errors(void **state)
{
	struct fixture *f = *state;

	assert_load_error(f, "helper:\n  - /usr/sbin/lcrd\n", -EINVAL, 1,
			  "key 'helper': expected an absolute path, found a sequence");
	assert_load_error(f, "required: {value: yes}\n", -EINVAL, 1,
			  "key 'required': expected a boolean, found a mapping");
	assert_load_error(f, "ckpt_roots: /scratch\n", -EINVAL, 1,
			  "key 'ckpt_roots': expected a sequence of absolute paths, found a scalar");
	assert_load_error(f, "ckpt_roots:\n  - /scratch\n  - [/lustre]\n", -EINVAL, 3,
			  "key 'ckpt_roots': expected a sequence of absolute paths, found a "
			  "sequence in it");
	assert_load_error(f, "detect_timeout: 5\n", -EINVAL, 1,
			  "key 'detect_timeout': expected a mapping of default, min, max, found a "
			  "scalar");
	assert_load_error(f, "? [helper]\n: /usr/sbin/lcrd\n", -EINVAL, 1,
			  "expected a key name, found a sequence");
	assert_load_error(f, "ckpt_roots: &roots [/scratch]\nrequired: yes\nhelper: *roots\n",
			  -EINVAL, 3, "key 'helper': expected an absolute path, found a sequence");
}

static void test_nul_byte_in_a_value_is_an_error(void **state)
{
	struct fixture *f = *state;

	assert_load_error(f, "helper: \"/usr/sbin/\\0lcrd\"\n", -EINVAL, 1,
			  "key 'helper': value holds a NUL byte");
}

static void test_out_of_range_names_file_line_key_and_range(void **state)
{
	struct fixture *f = *state;
	char expected[PATH_MAX + 200];

	assert_int_equal(load_text(f, "required: yes\ndetect_timeout:\n  max: 9000\n"), -ERANGE);
	snprintf(expected, sizeof expected, "lcr: %s:3: key 'detect_timeout.max': 9000 is out "
		 "of range (accepted: more than 0 and at most 3600 seconds)", f->path);
	assert_string_equal(f->err, expected);
}

/* One bad value: its YAML, the error expected, its line and the message fragment. */
struct bad_value {
	const char *yaml;
	int rc;
	unsigned line;
	const char *fragment;
};

static const struct bad_value bad_values[] = {
	{ "helper: lcrd\n", -EINVAL, 1, "key 'helper': 'lcrd' is not an absolute path" },
	{ "helper:\n", -EINVAL, 1, "key 'helper': '' is not an absolute path" },
	{ "runtime_dir: /run/../etc\n", -EINVAL, 1,
	  "key 'runtime_dir': '/run/../etc' contains a '..' component" },
	{ "ckpt_dir: /tmp/%u/%x\n", -EINVAL, 1,
	  "key 'ckpt_dir': '/tmp/%u/%x' uses unknown conversion '%x' (accepted: %u user, "
	  "%h home, %j job id, %% a literal %)" },
	{ "ckpt_dir: /tmp/ckpt%\n", -EINVAL, 1, "ends with a lone '%'" },
	{ "ckpt_dir: scratch/%u\n", -EINVAL, 1, "'scratch/%u' is not an absolute path" },
	{ "ckpt_roots: [/scratch, lustre]\n", -EINVAL, 1,
	  "key 'ckpt_roots': 'lustre' is not an absolute path" },
	{ "ckpt_roots:\n  - /scratch/../etc\n", -EINVAL, 2, "contains a '..' component" },
	{ "detect_timeout:\n  min: 0\n", -ERANGE, 2,
	  "key 'detect_timeout.min': 0 is out of range (accepted: more than 0 and at most "
	  "3600 seconds)" },
	{ "detect_timeout:\n  default: -1\n", -EINVAL, 2,
	  "key 'detect_timeout.default': '-1' is not a duration (accepted: decimal seconds" },
	{ "detect_timeout:\n  default: .nan\n", -EINVAL, 2, "'.nan' is not a duration" },
	{ "detect_timeout:\n  default: inf\n", -EINVAL, 2, "'inf' is not a duration" },
	{ "detect_timeout:\n  default: 1e3\n", -EINVAL, 2, "'1e3' is not a duration" },
	{ "detect_timeout:\n  max: 1.1234567\n", -EINVAL, 2, "has more than 6 decimals" },
	{ "enabled_by_default: maybe\n", -EINVAL, 1,
	  "key 'enabled_by_default': 'maybe' is not a boolean (accepted: yes, no, true, false, "
	  "on, off, 1, 0)" },
	{ "required: 2\n", -EINVAL, 1, "key 'required': '2' is not a boolean" },
	{ "log_level: loud\n", -EINVAL, 1,
	  "key 'log_level': 'loud' is not a log level (accepted: error, warning, info, verbose, "
	  "debug)" },
	{ "munge_socket: munge.socket.2\n", -EINVAL, 1,
	  "key 'munge_socket': 'munge.socket.2' is not an absolute path" },
	{ "region_quota: 512K\n", -ERANGE, 1,
	  "key 'region_quota': 512K is out of range (accepted: at least 1MiB)" },
	{ "region_quota: 64XB\n", -EINVAL, 1, "key 'region_quota': '64XB' is not a size" },
	{ "region_quota: 20000000T\n", -ERANGE, 1, "'20000000T' is too large" },
	{ "helper_start_timeout: 0.05\n", -ERANGE, 1,
	  "key 'helper_start_timeout': 0.05 is out of range (accepted: 0.1..300 seconds)" },
	{ "helper_stop_timeout: 301\n", -ERANGE, 1,
	  "key 'helper_stop_timeout': 301 is out of range (accepted: 0.1..300 seconds)" },
	{ "heartbeat_peers: 0\n", -ERANGE, 1,
	  "key 'heartbeat_peers': 0 is out of range (accepted: 1..16)" },
	{ "heartbeat_peers: 17\n", -ERANGE, 1, "17 is out of range (accepted: 1..16)" },
	{ "heartbeat_peers: 2.5\n", -EINVAL, 1, "'2.5' is not a whole number" },
};

static void test_bad_values_name_line_key_and_accepted_values(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < ARRAY_SIZE(bad_values); i++)
		assert_load_error(f, bad_values[i].yaml, bad_values[i].rc, bad_values[i].line,
				  bad_values[i].fragment);
}

static void test_detect_timeout_order_is_checked_after_the_file(void **state)
{
	struct fixture *f = *state;

	assert_load_error(f, "required: yes\ndetect_timeout:\n  default: 30\n  max: 20\n",
			  -ERANGE, 2, "key 'detect_timeout': min 0.5, default 30 and max 20 are "
			  "out of order (accepted: 0 < min <= default <= max <= 3600 seconds)");
}

/* ---- lcr_site_config_set and plugstack arguments ---- */

static void test_set_rejects_unknown_keys_and_keeps_old_values(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(lcr_site_config_set(&f->cfg, "region_quota", "1K", "test", f->err,
					     sizeof f->err), -ERANGE);
	assert_int_equal(f->cfg.region_quota, 64ULL << 30);
	assert_int_equal(lcr_site_config_set(&f->cfg, "ckpt_roots", "/a:b", "test", f->err,
					     sizeof f->err), -EINVAL);
	assert_string_equal(f->err, "lcr: test: key 'ckpt_roots': 'b' is not an absolute path");
	assert_int_equal(f->cfg.ckpt_roots.count, 0);
	assert_int_equal(lcr_site_config_set(&f->cfg, "colour", "blue", "test", f->err,
					     sizeof f->err), -EINVAL);
	assert_contains(f->err, "lcr: test: unknown key 'colour' (accepted: helper, ");
	assert_is_default(&f->cfg);
}

static int from_plugstack(struct fixture *f, int argc, char **argv)
{
	lcr_site_config_fini(&f->cfg);
	f->err[0] = '\0';
	return lcr_site_config_from_plugstack(&f->cfg, argc, argv, f->err,
					      sizeof f->err);
}

static void test_plugstack_without_config_uses_defaults(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(from_plugstack(f, 0, NULL), 0);
	assert_is_default(&f->cfg);
}

static void test_plugstack_reads_config_first_wherever_it_stands(void **state)
{
	struct fixture *f = *state;
	char config[PATH_MAX + 8];
	char *argv[] = { "log_level=error", config, "heartbeat_peers=4" };

	write_temp(f, "required: no\nlog_level: debug\nheartbeat_peers: 3\n");
	snprintf(config, sizeof config, "config=%s", f->path);
	assert_int_equal(from_plugstack(f, 3, argv), 0);
	assert_false(f->cfg.required);
	assert_int_equal(f->cfg.log_level, LCR_LOG_ERROR);
	assert_int_equal(f->cfg.heartbeat_peers, 4);
}

static void test_plugstack_overrides_apply_in_order(void **state)
{
	struct fixture *f = *state;
	char *argv[] = { "log_level=debug", "required=no", "log_level=warning" };

	assert_int_equal(from_plugstack(f, 3, argv), 0);
	assert_int_equal(f->cfg.log_level, LCR_LOG_WARNING);
	assert_false(f->cfg.required);
}

static void test_plugstack_sets_nested_keys_and_root_lists(void **state)
{
	struct fixture *f = *state;
	char *argv[] = { "detect_timeout.min=1", "detect_timeout.default=5s",
			       "ckpt_roots=/scratch:/lustre//ckpt/", "runtime_dir=/x" };

	assert_int_equal(from_plugstack(f, 4, argv), 0);
	assert_true(f->cfg.detect_timeout_min == 1.0);
	assert_true(f->cfg.detect_timeout_default == 5.0);
	assert_int_equal(f->cfg.ckpt_roots.count, 2);
	assert_string_equal(f->cfg.ckpt_roots.paths[0], "/scratch");
	assert_string_equal(f->cfg.ckpt_roots.paths[1], "/lustre/ckpt");
	assert_string_equal(f->cfg.runtime_dir, "/x");
}

static void test_plugstack_empty_root_list_lifts_the_file_restriction(void **state)
{
	struct fixture *f = *state;
	char config[PATH_MAX + 8];
	char *argv[] = { config, "ckpt_roots=" };

	write_temp(f, "ckpt_roots: [/scratch]\n");
	snprintf(config, sizeof config, "config=%s", f->path);
	assert_int_equal(from_plugstack(f, 1, argv), 0);
	assert_int_equal(f->cfg.ckpt_roots.count, 1);
	assert_int_equal(from_plugstack(f, 2, argv), 0);
	assert_int_equal(f->cfg.ckpt_roots.count, 0);
}

static void test_plugstack_unknown_key_lists_accepted_keys(void **state)
{
	struct fixture *f = *state;
	char *argv[] = { "foo=1" };

	assert_int_equal(from_plugstack(f, 1, argv), -EINVAL);
	assert_string_equal(f->err, "lcr: plugstack argument 'foo=1': unknown key 'foo' "
			    "(accepted: config, helper, runtime_dir, ckpt_dir, ckpt_roots, ckpt_keep, "
			    "detect_timeout.default, detect_timeout.min, detect_timeout.max, "
			    "enabled_by_default, required, log_level, munge_socket, region_quota, "
			    "helper_start_timeout, helper_stop_timeout, heartbeat_peers, wire_encryption, "
			    "redundancy.default, redundancy.copies, redundancy.group_size, "
			    "redundancy.parity, redundancy.snapshot_every, "
			    "redundancy.snapshot_hold_max, redundancy.memory_max)");
}

static void test_plugstack_bad_value_names_argument_and_key(void **state)
{
	struct fixture *f = *state;
	char *argv[] = { "required=maybe" };

	assert_int_equal(from_plugstack(f, 1, argv), -EINVAL);
	assert_string_equal(f->err, "lcr: plugstack argument 'required=maybe': key 'required': "
			    "'maybe' is not a boolean (accepted: yes, no, true, false, on, off, "
			    "1, 0)");
}

static void test_plugstack_malformed_arguments(void **state)
{
	struct fixture *f = *state;
	char *no_equals[] = { "debug" };
	char *section[] = { "detect_timeout=5" };
	char *twice[] = { "config=/a.yaml", "config=/b.yaml" };
	char *empty[] = { "config=" };

	assert_int_equal(from_plugstack(f, 1, no_equals), -EINVAL);
	assert_string_equal(f->err, "lcr: plugstack argument 'debug': expected key=value");
	assert_int_equal(from_plugstack(f, 1, section), -EINVAL);
	assert_string_equal(f->err, "lcr: plugstack argument 'detect_timeout=5': key "
			    "'detect_timeout' is a mapping: set one of its keys instead (accepted: "
			    "detect_timeout.default, detect_timeout.min, detect_timeout.max)");
	assert_int_equal(from_plugstack(f, 2, twice), -EINVAL);
	assert_string_equal(f->err, "lcr: plugstack argument 'config=/b.yaml': config given "
			    "twice (a plugin reads one file)");
	assert_int_equal(from_plugstack(f, 1, empty), -EINVAL);
	assert_contains(f->err, "config needs the path of an lcr.yaml");
}

static void test_plugstack_missing_config_file_is_an_error(void **state)
{
	struct fixture *f = *state;
	char *argv[] = { "required=no", "config=/nonexistent-lcr/lcr.yaml" };

	assert_int_equal(from_plugstack(f, 2, argv), -ENOENT);
	assert_contains(f->err, "'/nonexistent-lcr/lcr.yaml': No such file or directory");
}

static void test_plugstack_file_error_is_reported_as_is(void **state)
{
	struct fixture *f = *state;
	char config[PATH_MAX + 8];
	char expected[PATH_MAX + 64];
	char *argv[] = { config };

	write_temp(f, "required: yes\nfoo: 1\n");
	snprintf(config, sizeof config, "config=%s", f->path);
	snprintf(expected, sizeof expected, "lcr: %s:2: unknown key 'foo'", f->path);
	assert_int_equal(from_plugstack(f, 1, argv), -EINVAL);
	assert_contains(f->err, expected);
}

static void test_plugstack_checks_timeout_order_after_all_overrides(void **state)
{
	struct fixture *f = *state;
	char *raise_both[] = { "detect_timeout.default=100", "detect_timeout.max=200" };
	char *bad_min[] = { "detect_timeout.min=5" };

	assert_int_equal(from_plugstack(f, 2, raise_both), 0);
	assert_true(f->cfg.detect_timeout_default == 100.0);
	assert_int_equal(from_plugstack(f, 1, bad_min), -ERANGE);
	assert_string_equal(f->err, "lcr: plugstack arguments: key 'detect_timeout': min 5, "
			    "default 2 and max 60 are out of order (accepted: 0 < min <= default "
			    "<= max <= 3600 seconds)");
}

/* ---- value parsers ---- */

static void test_parse_bool_accepts_every_spelling(void **state)
{
	static const char *const yes[] = { "yes", "YES", "true", "True", "on", "ON", "1" };
	static const char *const no[] = { "no", "No", "false", "FALSE", "off", "Off", "0" };
	static const char *const bad[] = { "", "y", "2", "yes ", " no", "enable" };
	char err[256];
	bool value;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		value = false;
		assert_int_equal(lcr_parse_bool(yes[i], &value, err, sizeof err), 0);
		assert_true(value);
		assert_int_equal(lcr_parse_bool(no[i], &value, err, sizeof err), 0);
		assert_false(value);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(lcr_parse_bool(bad[i], &value, NULL, 0), -EINVAL);
}

static void test_parse_seconds_reads_plain_decimals_only(void **state)
{
	static const struct {
		const char *text;
		double value;
	} good[] = {
		{ "2", 2.0 }, { "0.5", 0.5 }, { "1.5s", 1.5 }, { "0", 0.0 }, { "10s", 10.0 },
		{ "0.000001", 0.000001 }, { "0.1", 0.1 }, { "3600", 3600.0 },
		{ "1000000000", 1e9 },
	};
	static const char *const bad[] = {
		"", "s", "-1", "+1", "nan", "inf", "1e3", "0x10", ".5", "5.", "1.5ss", " 1",
		"1 ", "1,5", "1.5 s", "2m",
	};
	char err[256];
	double value;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		assert_int_equal(lcr_parse_seconds(good[i].text, &value, err, sizeof err), 0);
		assert_true(value == good[i].value);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		value = 42.0;
		if (lcr_parse_seconds(bad[i], &value, err, sizeof err) != -EINVAL) {
			print_error("'%s' was accepted as seconds\n", bad[i]);
			fail();
		}
		assert_true(value == 42.0);
	}
	assert_int_equal(lcr_parse_seconds("-1", &value, err, sizeof err), -EINVAL);
	assert_string_equal(err, "'-1' is not a duration (accepted: decimal seconds with an "
			    "optional 's' suffix, such as 2, 0.5 or 1.5s)");
	assert_int_equal(lcr_parse_seconds("0.1234567", &value, err, sizeof err), -EINVAL);
	assert_string_equal(err, "'0.1234567' has more than 6 decimals");
	assert_int_equal(lcr_parse_seconds("1000000001", &value, err, sizeof err), -ERANGE);
	assert_string_equal(err, "'1000000001' is too large (at most 1000000000 seconds)");
}

static void test_parse_bytes_reads_binary_and_decimal_units(void **state)
{
	static const struct {
		const char *text;
		uint64_t value;
	} good[] = {
		{ "4096", 4096 }, { "0", 0 }, { "1B", 1 }, { "1K", 1024 }, { "1KiB", 1024 },
		{ "1kB", 1000 }, { "2 MiB", 2 << 20 }, { "500MB", 500000000 },
		{ "64G", 64ULL << 30 }, { "64GiB", 64ULL << 30 }, { "3GB", 3000000000ULL },
		{ "1.5T", 3ULL << 39 }, { "2TiB", 2ULL << 40 }, { "1.5TB", 1500000000000ULL },
		{ "0.5K", 512 }, { "16777215T", 16777215ULL << 40 },
	};
	static const struct {
		const char *text;
		int rc;
	} bad[] = {
		{ "", -EINVAL }, { "K", -EINVAL }, { "1KB", -EINVAL }, { "1 gib", -EINVAL },
		{ "-1", -EINVAL }, { "1e6", -EINVAL }, { "1.5", -EINVAL }, { "0.3K", -EINVAL },
		{ "1.0000001G", -EINVAL }, { "64G ", -EINVAL }, { "16777216T", -ERANGE },
		{ "18446744073709551615", -ERANGE },
	};
	char err[512];
	uint64_t value;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		if (lcr_parse_bytes(good[i].text, &value, err, sizeof err) != 0) {
			print_error("'%s' was refused: %s\n", good[i].text, err);
			fail();
		}
		assert_int_equal(value, good[i].value);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		value = 42;
		if (lcr_parse_bytes(bad[i].text, &value, err, sizeof err) != bad[i].rc) {
			print_error("'%s': expected %d: %s\n", bad[i].text, bad[i].rc, err);
			fail();
		}
		assert_int_equal(value, 42);
	}
	assert_int_equal(lcr_parse_bytes("0.3K", &value, err, sizeof err), -EINVAL);
	assert_string_equal(err, "'0.3K' is not a whole number of bytes");
}

static void test_parse_uint_reads_digits_only(void **state)
{
	char err[256];
	uint64_t value;

	(void)state;
	assert_int_equal(lcr_parse_uint("0", &value, err, sizeof err), 0);
	assert_int_equal(value, 0);
	assert_int_equal(lcr_parse_uint("18446744073709551615", &value, err, sizeof err), 0);
	assert_int_equal(value, UINT64_MAX);
	assert_int_equal(lcr_parse_uint("18446744073709551616", &value, err, sizeof err), -ERANGE);
	assert_int_equal(lcr_parse_uint("", &value, err, sizeof err), -EINVAL);
	assert_int_equal(lcr_parse_uint("-1", &value, err, sizeof err), -EINVAL);
	assert_int_equal(lcr_parse_uint("1.0", &value, err, sizeof err), -EINVAL);
	assert_int_equal(lcr_parse_uint(" 1", &value, err, sizeof err), -EINVAL);
	assert_string_equal(err, "' 1' is not a whole number (accepted: digits 0-9)");
}

static void test_log_level_names_round_trip(void **state)
{
	enum lcr_log_level level;
	char err[256];

	(void)state;
	for (int i = LCR_LOG_ERROR; i <= LCR_LOG_DEBUG; i++) {
		assert_int_equal(lcr_parse_log_level(lcr_log_level_name((enum lcr_log_level)i),
						     &level, err, sizeof err), 0);
		assert_int_equal(level, i);
	}
	assert_int_equal(lcr_parse_log_level("VERBOSE", &level, err, sizeof err), 0);
	assert_int_equal(level, LCR_LOG_VERBOSE);
	assert_int_equal(lcr_parse_log_level("trace", &level, err, sizeof err), -EINVAL);
	assert_string_equal(lcr_log_level_name((enum lcr_log_level)99), "unknown");
}

static void test_path_normalize_is_lexical_and_refuses_dotdot(void **state)
{
	static const struct {
		const char *in;
		const char *out;
	} good[] = {
		{ "/", "/" }, { "//", "/" }, { "/.", "/" }, { "/a", "/a" }, { "/a/", "/a" },
		{ "//a//b/./c/", "/a/b/c" }, { "/a/.b/..c", "/a/.b/..c" }, { "/%u/x", "/%u/x" },
	};
	static const char *const bad[] = { "", "a/b", "./a", "/a/../b", "/..", "/a/..", "/a\nb" };
	char out[PATH_MAX];
	char small[6];
	char err[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		assert_int_equal(lcr_path_normalize(good[i].in, out, sizeof out, err, sizeof err), 0);
		assert_string_equal(out, good[i].out);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(lcr_path_normalize(bad[i], out, sizeof out, err, sizeof err),
				 -EINVAL);
	assert_int_equal(lcr_path_normalize("/abcd", small, sizeof small, err, sizeof err), 0);
	assert_string_equal(small, "/abcd");
	assert_int_equal(lcr_path_normalize("/abcde", small, sizeof small, err, sizeof err),
			 -ENAMETOOLONG);
	assert_string_equal(err, "'/abcde' is too long (at most 5 bytes)");
	assert_int_equal(lcr_path_normalize("/a\nb", out, sizeof out, err, sizeof err), -EINVAL);
	assert_string_equal(err, "'/a?b' contains a control character");
}

static void test_ckpt_pattern_accepts_only_u_h_j_and_percent(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(lcr_check_ckpt_pattern("/tmp/%u/%j/100%%", err, sizeof err), 0);
	assert_int_equal(lcr_check_ckpt_pattern("%h/ckpt/%j", err, sizeof err), 0);
	assert_int_equal(lcr_check_ckpt_pattern("/tmp/%x", err, sizeof err), -EINVAL);
	assert_string_equal(err, "'/tmp/%x' uses unknown conversion '%x' (accepted: %u user, "
			    "%h home, %j job id, %% a literal %)");
	assert_int_equal(lcr_check_ckpt_pattern("/tmp/%", err, sizeof err), -EINVAL);
	assert_contains(err, "ends with a lone '%'");
}

static void test_expand_ckpt_pattern(void **state)
{
	static const char *const bad_users[] = { "", ".", "..", "a/b", "a\nb" };
	char out[64];
	char err[256];

	(void)state;
	assert_int_equal(lcr_expand_ckpt_pattern("/tmp/lcr/%u/%j", "alice", "/home/alice", 42, out, sizeof out,
						 err, sizeof err), 0);
	assert_string_equal(out, "/tmp/lcr/alice/42");
	assert_int_equal(lcr_expand_ckpt_pattern("/a/100%%/%u-%u/%j", "bob", "/home/alice", UINT32_MAX, out,
						 sizeof out, err, sizeof err), 0);
	assert_string_equal(out, "/a/100%/bob-bob/4294967295");
	/* "/x/alice" is 8 bytes: it fits in 9, not in 8. */
	assert_int_equal(lcr_expand_ckpt_pattern("/x/%u", "alice", "/home/alice", 1, out, 9, err, sizeof err), 0);
	assert_string_equal(out, "/x/alice");
	assert_int_equal(lcr_expand_ckpt_pattern("/x/%u", "alice", "/home/alice", 1, out, 8, err, sizeof err),
			 -ENAMETOOLONG);
	assert_string_equal(err, "'/x/%u' expands to 8 bytes for user 'alice' (at most 7)");
	for (size_t i = 0; i < ARRAY_SIZE(bad_users); i++)
		assert_int_equal(lcr_expand_ckpt_pattern("/x/%u", bad_users[i], "/home/alice", 1, out, sizeof out,
							 err, sizeof err), -EINVAL);
	assert_contains(err, "user name 'a?b' cannot be part of a path");
	assert_int_equal(lcr_expand_ckpt_pattern("/x/%q", "alice", "/home/alice", 1, out, sizeof out, err,
						 sizeof err), -EINVAL);
	assert_contains(err, "unknown conversion '%q'");
}

static void test_ckpt_pattern_starts_in_the_home_directory(void **state)
{
	char out[64];
	char err[256];

	(void)state;
	assert_int_equal(lcr_expand_ckpt_pattern("%h/.lcr/checkpoints/%j", "alice", "/home/alice",
						 42, out, sizeof out, err, sizeof err), 0);
	assert_string_equal(out, "/home/alice/.lcr/checkpoints/42");
	/* "%%h" is a literal "%h": no home needed. */
	assert_int_equal(lcr_expand_ckpt_pattern("/x/%%h/%u", "alice", "", 1, out, sizeof out,
						 err, sizeof err), 0);
	assert_string_equal(out, "/x/%h/alice");
	assert_int_equal(lcr_expand_ckpt_pattern("%h/ckpt", "alice", "", 1, out, sizeof out, err,
						 sizeof err), -EINVAL);
	assert_contains(err, "the home directory of user 'alice' is '', not an absolute path");
}

static void test_path_under_roots(void **state)
{
	struct lcr_path_list roots = { 0 };
	struct lcr_path_list none = { 0 };
	struct lcr_path_list slash = { 0 };
	char err[1024];

	(void)state;
	assert_int_equal(lcr_parse_path_list("/scratch:/lustre/ckpt/", &roots, err, sizeof err), 0);
	assert_int_equal(lcr_path_list_append(&slash, "//", err, sizeof err), 0);
	assert_int_equal(lcr_path_under_roots("/scratch", &roots, err, sizeof err), 0);
	assert_int_equal(lcr_path_under_roots("/scratch/alice/run1", &roots, err, sizeof err), 0);
	assert_int_equal(lcr_path_under_roots("/scratch//alice/./x/", &roots, err, sizeof err), 0);
	assert_int_equal(lcr_path_under_roots("/lustre/ckpt/a", &roots, err, sizeof err), 0);
	assert_int_equal(lcr_path_under_roots("/scratchy", &roots, err, sizeof err), -EACCES);
	assert_int_equal(lcr_path_under_roots("/lustre", &roots, err, sizeof err), -EACCES);
	assert_int_equal(lcr_path_under_roots("/lustre/ckpt2", &roots, err, sizeof err), -EACCES);
	assert_string_equal(err, "'/lustre/ckpt2' is not under an allowed checkpoint root "
			    "(accepted: /scratch, /lustre/ckpt)");
	assert_int_equal(lcr_path_under_roots("/scratch/../etc", &roots, err, sizeof err), -EINVAL);
	assert_string_equal(err, "'/scratch/../etc' contains a '..' component");
	assert_int_equal(lcr_path_under_roots("scratch/a", &roots, err, sizeof err), -EINVAL);
	assert_int_equal(lcr_path_under_roots("/anywhere", &none, err, sizeof err), 0);
	assert_int_equal(lcr_path_under_roots("/a/../b", &none, err, sizeof err), -EINVAL);
	assert_int_equal(lcr_path_under_roots("/anywhere", &slash, err, sizeof err), 0);
	lcr_path_list_clear(&roots);
	lcr_path_list_clear(&slash);
}

static void test_path_list_parse_replaces_only_on_success(void **state)
{
	struct lcr_path_list list = { 0 };
	char err[256];

	(void)state;
	assert_int_equal(lcr_parse_path_list("/a//:/b/./c/", &list, err, sizeof err), 0);
	assert_int_equal(list.count, 2);
	assert_string_equal(list.paths[0], "/a");
	assert_string_equal(list.paths[1], "/b/c");
	assert_int_equal(lcr_parse_path_list("/x:y", &list, err, sizeof err), -EINVAL);
	assert_int_equal(list.count, 2);
	assert_int_equal(lcr_parse_path_list("", &list, err, sizeof err), 0);
	assert_int_equal(list.count, 0);
	assert_null(list.paths);
}

static void test_printable_masks_and_cuts(void **state)
{
	char buf[8];

	(void)state;
	assert_string_equal(lcr_printable("a\tb\x80", buf, sizeof buf), "a?b?");
	assert_string_equal(lcr_printable("abcdefg", buf, sizeof buf), "abcdefg");
	assert_string_equal(lcr_printable("abcdefgh", buf, sizeof buf), "abcd...");
}

/* ---- writing, and the shipped documentation ---- */

static void test_written_yaml_reads_back_the_same(void **state)
{
	struct fixture *f = *state;
	static const char *const settings[][2] = {
		{ "helper", "/opt/it's/lcrd" }, { "ckpt_dir", "/s/%u #1/%j%%" },
		{ "ckpt_roots", "/s:/l/ckpt" }, { "detect_timeout.min", "0.000001" },
		{ "detect_timeout.default", "0.3" }, { "detect_timeout.max", "3600" },
		{ "enabled_by_default", "on" }, { "required", "off" }, { "log_level", "verbose" },
		{ "munge_socket", "/run/m.sock" }, { "region_quota", "1234567" },
		{ "helper_start_timeout", "0.1" }, { "heartbeat_peers", "16" }, { "ckpt_keep", "0" },
	};
	struct lcr_site_config reread;
	FILE *out;

	for (size_t i = 0; i < ARRAY_SIZE(settings); i++)
		assert_int_equal(lcr_site_config_set(&f->cfg, settings[i][0], settings[i][1],
						     "test", f->err, sizeof f->err), 0);
	for (int pass = 0; pass < 2; pass++) {
		write_temp(f, "");
		out = fopen(f->path, "w");
		assert_non_null(out);
		assert_int_equal(lcr_site_config_write_yaml(&f->cfg, out), 0);
		assert_int_equal(fclose(out), 0);
		lcr_site_config_init_defaults(&reread);
		if (lcr_site_config_load_file(&reread, f->path, f->err, sizeof f->err) != 0) {
			print_error("%s\n", f->err);
			fail();
		}
		assert_config_equal(&reread, &f->cfg);
		lcr_site_config_fini(&reread);
		/* Second pass: the defaults. */
		lcr_site_config_fini(&f->cfg);
		lcr_site_config_init_defaults(&f->cfg);
	}
}

static void test_shipped_example_parses_to_defaults(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX];

	assert_int_equal(lcr_site_config_load_file(&f->cfg, source_file("etc/lcr.yaml", path,
									sizeof path),
						   f->err, sizeof f->err), 0);
	assert_is_default(&f->cfg);
}

/* Removes the '#' of every example setting: "#key: ..." and "#  key: ...". */
static void uncomment_settings(char *text)
{
	char *line = text;
	char *out = text;

	while (*line) {
		size_t len = strcspn(line, "\n") + (line[strcspn(line, "\n")] == '\n');
		bool setting = line[0] == '#' &&
			       ((line[1] >= 'a' && line[1] <= 'z') ||
				(line[1] == ' ' && line[2] == ' ' && line[3] >= 'a' && line[3] <= 'z'));

		if (setting) {
			line++;
			len--;
		}
		memmove(out, line, len);
		out += len;
		line += len;
	}
	*out = '\0';
}

static void test_shipped_example_settings_are_the_defaults(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX];
	char *text = read_whole_file(source_file("etc/lcr.yaml", path, sizeof path));

	uncomment_settings(text);
	if (load_text(f, text) != 0) {
		print_error("%s\n", f->err);
		fail();
	}
	free(text);
	/* The example shows the helper of a system package; the build's may differ. */
	assert_string_equal(f->cfg.helper, "/usr/sbin/lcrd");
	assert_int_equal(lcr_site_config_set(&f->cfg, "helper", LCR_DEFAULT_HELPER, "test",
					     f->err, sizeof f->err), 0);
	assert_is_default(&f->cfg);
}

static void test_shipped_example_and_man_page_document_every_key(void **state)
{
	char path[PATH_MAX];
	char *example = read_whole_file(source_file("etc/lcr.yaml", path, sizeof path));
	char *manual = read_whole_file(source_file("doc/lcr.yaml.5", path, sizeof path));
	char wanted[128];
	const char *name;

	(void)state;
	for (size_t i = 0; (name = lcr_site_config_key_name(i)) != NULL; i++) {
		const char *dot = strchr(name, '.');

		if (dot) {
			snprintf(wanted, sizeof wanted, "\n#%.*s:\n", (int)(dot - name), name);
			assert_contains(example, wanted);
			snprintf(wanted, sizeof wanted, "\n#  %s: ", dot + 1);
		} else {
			snprintf(wanted, sizeof wanted, "\n#%s:", name);
		}
		assert_contains(example, wanted);
		snprintf(wanted, sizeof wanted, "\n.B %s\n", name);
		assert_contains(manual, wanted);
	}
	free(example);
	free(manual);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_defaults_are_the_documented_ones),
		TEST(test_empty_file_keeps_every_default),
		TEST(test_comments_and_empty_document_keep_every_default),
		TEST(test_full_file_sets_every_key),
		TEST(test_file_changes_only_the_keys_it_sets),
		TEST(test_detect_timeout_keys_may_come_in_any_order),
		TEST(test_missing_file_is_an_error_naming_it),
		TEST(test_directory_is_not_a_site_config),
		TEST(test_malformed_yaml_is_reported_with_its_line),
		TEST(test_invalid_utf8_is_malformed_yaml),
		TEST(test_second_document_is_an_error),
		TEST(test_top_level_must_be_a_mapping),
		TEST(test_unknown_key_names_it_and_lists_accepted_keys),
		TEST(test_unknown_nested_key_lists_the_mapping_keys),
		TEST(test_dotted_name_is_not_a_yaml_key),
		TEST(test_duplicate_keys_are_errors),
		TEST(test_wrong_types_are_errors),
		TEST(test_nul_byte_in_a_value_is_an_error),
		TEST(test_out_of_range_names_file_line_key_and_range),
		TEST(test_bad_values_name_line_key_and_accepted_values),
		TEST(test_detect_timeout_order_is_checked_after_the_file),
		TEST(test_set_rejects_unknown_keys_and_keeps_old_values),
		TEST(test_plugstack_without_config_uses_defaults),
		TEST(test_plugstack_reads_config_first_wherever_it_stands),
		TEST(test_plugstack_overrides_apply_in_order),
		TEST(test_plugstack_sets_nested_keys_and_root_lists),
		TEST(test_plugstack_empty_root_list_lifts_the_file_restriction),
		TEST(test_plugstack_unknown_key_lists_accepted_keys),
		TEST(test_plugstack_bad_value_names_argument_and_key),
		TEST(test_plugstack_malformed_arguments),
		TEST(test_plugstack_missing_config_file_is_an_error),
		TEST(test_plugstack_file_error_is_reported_as_is),
		TEST(test_plugstack_checks_timeout_order_after_all_overrides),
		cmocka_unit_test(test_parse_bool_accepts_every_spelling),
		cmocka_unit_test(test_parse_seconds_reads_plain_decimals_only),
		cmocka_unit_test(test_parse_bytes_reads_binary_and_decimal_units),
		cmocka_unit_test(test_parse_uint_reads_digits_only),
		cmocka_unit_test(test_log_level_names_round_trip),
		cmocka_unit_test(test_path_normalize_is_lexical_and_refuses_dotdot),
		cmocka_unit_test(test_ckpt_pattern_accepts_only_u_h_j_and_percent),
		cmocka_unit_test(test_expand_ckpt_pattern),
		cmocka_unit_test(test_ckpt_pattern_starts_in_the_home_directory),
		cmocka_unit_test(test_path_under_roots),
		cmocka_unit_test(test_path_list_parse_replaces_only_on_success),
		cmocka_unit_test(test_printable_masks_and_cuts),
		TEST(test_written_yaml_reads_back_the_same),
		TEST(test_shipped_example_parses_to_defaults),
		TEST(test_shipped_example_settings_are_the_defaults),
		cmocka_unit_test(test_shipped_example_and_man_page_document_every_key),
	};

	return cmocka_run_group_tests_name("site_config", tests, NULL, NULL);
}
