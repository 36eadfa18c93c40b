/*
 * settings.c: the table of LCR's settings (see include/internal/settings.h) and the checks
 * that every reader of a setting shares: bounds, the names of the restore and replace
 * choices, and the check of a value by its type (lcr_setting_canonical).
 *
 * Rows with a yaml_key come in lcr.yaml's order (lcrctl config writes them so); keys of
 * one mapping ("detect_timeout.*", "redundancy.*") are adjacent. The rows without a key
 * (restore, replace, verbose) are the user's alone; their default_text is the user's default.
 */
#include "config.h"

#include "internal/settings.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal/parse.h"
#include "internal/site_config.h"

#ifndef LCR_DEFAULT_HELPER
#define LCR_DEFAULT_HELPER "/usr/sbin/lcrd"
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SITE_FIELD(member) offsetof(struct lcr_site_config, member)
#define QUOTE_MAX 256

/* Bounds of a detection timeout, wherever it is set: more than 0, at most an hour. */
#define TIMEOUT_BOUNDS { .min = 0, .max = 3600, .min_exclusive = true }

const struct lcr_setting_spec lcr_settings[LCR_SETTING_COUNT] = {
	[LCR_SETTING_HELPER] = {
		.type = LCR_TYPE_PATH,
		.doc = "absolute path of the per-node helper daemon lcrd",
		.yaml_key = "helper", .site_field = SITE_FIELD(helper),
		.default_text = LCR_DEFAULT_HELPER,
	},
	[LCR_SETTING_RUNTIME_DIR] = {
		.type = LCR_TYPE_PATH,
		.doc = "absolute directory under which each helper makes its 0700 socket directory",
		.yaml_key = "runtime_dir", .site_field = SITE_FIELD(runtime_dir),
		.default_text = "/run/lcr",
	},
	[LCR_SETTING_CKPT_DIR] = {
		.type = LCR_TYPE_PATTERN,
		.doc = "default checkpoint directory: %h home directory, %u user name, %j job id, "
		       "%% a literal %",
		.yaml_key = "ckpt_dir", .site_field = SITE_FIELD(ckpt_dir),
		.default_text = "%h/.lcr/checkpoints/%j",
		.option = "lcr-ckpt-dir", .option_rank = 2, .option_arg = "PATH",
		.option_help = "[lcr] Directory for LCR's just-in-time checkpoints (%u user, %j job id).",
		.accepted = "an absolute path", .env = "LCR_CKPT_DIR",
		.lcrd_arg = "ckpt-dir", .lcrd_expects = "must be an absolute path",
	},
	[LCR_SETTING_CKPT_ROOTS] = {
		.type = LCR_TYPE_PATH_LIST,
		.doc = "directories a user's --lcr-ckpt-dir must lie under; empty: anywhere",
		.yaml_key = "ckpt_roots", .site_field = SITE_FIELD(ckpt_roots),
		.default_text = "",
		.lcrd_arg = "ckpt-roots",
	},
	[LCR_SETTING_CKPT_KEEP] = {
		.type = LCR_TYPE_COUNT,
		.doc = "complete checkpoints kept per job, the newest; 0: all",
		.yaml_key = "ckpt_keep", .site_field = SITE_FIELD(ckpt_keep),
		.default_text = "2", .bounds = { .min = 0, .max = 1000000 },
		.lcrd_arg = "ckpt-keep", .lcrd_default = "2",
		.lcrd_bounds = { .min = 0, .max = 1000000 },
		.lcrd_expects = "expected how many complete checkpoints to keep, from 0 (all) to "
				"1000000",
	},
	[LCR_SETTING_DETECT_TIMEOUT] = {
		.type = LCR_TYPE_SECONDS,
		.doc = "seconds without heartbeat before a node is declared dead, unless the user "
		       "asks for another value",
		.yaml_key = "detect_timeout.default", .site_field = SITE_FIELD(detect_timeout_default),
		.default_text = "2", .bounds = TIMEOUT_BOUNDS,
		.option = "lcr-detect-timeout", .option_rank = 5, .option_arg = "SECONDS",
		.option_help = "[lcr] Declare a silent node dead after SECONDS.",
		.env = "LCR_DETECT_TIMEOUT",
		.user_min_key = "detect_timeout.min", .user_max_key = "detect_timeout.max",
		.lcrd_arg = "detect-timeout", .lcrd_default = "2",
		.lcrd_bounds = { .min = 0.1, .max = 3600 },
		.lcrd_expects = "expected seconds from 0.1 to 3600, such as 2 or 0.5",
	},
	[LCR_SETTING_DETECT_TIMEOUT_MIN] = {
		.type = LCR_TYPE_SECONDS,
		.doc = "smallest detection timeout a user may ask for, in seconds",
		.yaml_key = "detect_timeout.min", .site_field = SITE_FIELD(detect_timeout_min),
		.default_text = "0.5", .bounds = TIMEOUT_BOUNDS,
	},
	[LCR_SETTING_DETECT_TIMEOUT_MAX] = {
		.type = LCR_TYPE_SECONDS,
		.doc = "largest detection timeout a user may ask for, in seconds",
		.yaml_key = "detect_timeout.max", .site_field = SITE_FIELD(detect_timeout_max),
		.default_text = "60", .bounds = TIMEOUT_BOUNDS,
	},
	[LCR_SETTING_ENABLED] = {
		.type = LCR_TYPE_BOOL,
		.doc = "run LCR for steps that do not ask with --lcr",
		.yaml_key = "enabled_by_default", .site_field = SITE_FIELD(enabled_by_default),
		.default_text = "false",
		.option = "lcr", .option_rank = 1, .option_arg = "on|off",
		.option_help = "[lcr] Protect this job step with LCR (checkpoint recovery); implies "
			       "--no-kill.",
		.accepted = "on, off", .env = "LCR_ENABLE",
	},
	[LCR_SETTING_REQUIRED] = {
		.type = LCR_TYPE_BOOL,
		.doc = "fail the step when its helper cannot start; false: run the step without LCR",
		.yaml_key = "required", .site_field = SITE_FIELD(required),
		.default_text = "true",
	},
	[LCR_SETTING_LOG_LEVEL] = {
		.type = LCR_TYPE_LOG_LEVEL,
		.doc = "error, warning, info, verbose or debug",
		.yaml_key = "log_level", .site_field = SITE_FIELD(log_level),
		.default_text = "info",
		.lcrd_arg = "log-level", .lcrd_default = "info",
		.lcrd_expects = "expected error, warning, info, verbose or debug",
	},
	[LCR_SETTING_MUNGE_SOCKET] = {
		.type = LCR_TYPE_PATH_OR_EMPTY,
		.doc = "munged's socket for mesh authentication; empty: MUNGE's default",
		.yaml_key = "munge_socket", .site_field = SITE_FIELD(munge_socket),
		.default_text = "",
		.lcrd_arg = "munge-socket",
		.lcrd_expects = "must be an absolute path (or empty for MUNGE's default)",
	},
	[LCR_SETTING_REGION_QUOTA] = {
		.type = LCR_TYPE_BYTES,
		.doc = "most state memory one helper may hand out, in bytes (K, M, G, T: powers of "
		       "1024)",
		.yaml_key = "region_quota", .site_field = SITE_FIELD(region_quota),
		.default_text = "64GiB", .bounds = { .min = 1048576, .max = INFINITY },
		.lcrd_arg = "region-quota", .lcrd_default = "0",
		.lcrd_bounds = { .min = 0, .max = INFINITY },
		.lcrd_expects = "expected a byte count such as 68719476736 or 64G",
	},
	[LCR_SETTING_HELPER_START_TIMEOUT] = {
		.type = LCR_TYPE_SECONDS,
		.doc = "seconds the plugin waits for a new helper to report ready",
		.yaml_key = "helper_start_timeout", .site_field = SITE_FIELD(helper_start_timeout),
		.default_text = "10", .bounds = { .min = 0.1, .max = 300 },
	},
	[LCR_SETTING_HELPER_STOP_TIMEOUT] = {
		.type = LCR_TYPE_SECONDS,
		.doc = "seconds the plugin waits for a helper to exit before it kills it",
		.yaml_key = "helper_stop_timeout", .site_field = SITE_FIELD(helper_stop_timeout),
		.default_text = "5", .bounds = { .min = 0.1, .max = 300 },
	},
	[LCR_SETTING_HEARTBEAT_PEERS] = {
		.type = LCR_TYPE_COUNT,
		.doc = "ring neighbours whose heartbeats each helper watches",
		.yaml_key = "heartbeat_peers", .site_field = SITE_FIELD(heartbeat_peers),
		.default_text = "2", .bounds = { .min = 1, .max = 16 },
		.lcrd_arg = "heartbeat-peers", .lcrd_default = "2",
		.lcrd_bounds = { .min = 1, .max = 16 },
		.lcrd_expects = "expected 1 to 16",
	},
	[LCR_SETTING_WIRE_ENCRYPTION] = {
		.type = LCR_TYPE_BOOL,
		.doc = "encrypt the helpers' connections after the handshake; false: authenticate "
		       "every frame only",
		.yaml_key = "wire_encryption", .site_field = SITE_FIELD(wire_encryption),
		.default_text = "false",
		.lcrd_arg = "wire-encryption", .lcrd_default = "false",
		.lcrd_expects = "expected true or false",
	},
	[LCR_SETTING_REDUNDANCY] = {
		.type = LCR_TYPE_REDUNDANCY,
		.doc = "how the helpers keep state that has no replica on another node, unless the "
		       "user asks otherwise: none, copy (snapshots held by other nodes' helpers), "
		       "erasure (parity of the snapshots held by the nodes of a group), or auto (copy "
		       "when the memory budget allows it, else erasure, else none)",
		.yaml_key = "redundancy.default", .site_field = SITE_FIELD(redundancy_default),
		.default_text = "none",
		.option = "lcr-redundancy", .option_rank = 6, .option_arg = "none|copy|erasure|auto",
		.option_help = "[lcr] Keep copies of the state in other nodes' helpers (copy), "
			       "parity of it (erasure), neither (none), or what the memory budget "
			       "allows (auto).",
		.accepted = "none, copy, erasure, auto", .env = "LCR_REDUNDANCY",
		.lcrd_arg = "redundancy", .lcrd_default = "none",
		.lcrd_expects = "expected none, copy, erasure or auto",
	},
	[LCR_SETTING_REDUNDANCY_COPIES] = {
		.type = LCR_TYPE_COUNT,
		.doc = "with copy: how many other nodes hold each node's snapshot",
		.yaml_key = "redundancy.copies", .site_field = SITE_FIELD(redundancy_copies),
		.default_text = "1", .bounds = { .min = 1, .max = 8 },
		.lcrd_arg = "redundancy-copies", .lcrd_default = "1",
		.lcrd_bounds = { .min = 1, .max = 8 },
		.lcrd_expects = "expected 1 to 8",
	},
	[LCR_SETTING_REDUNDANCY_GROUP_SIZE] = {
		.type = LCR_TYPE_COUNT,
		.doc = "with erasure: nodes per parity group (at least this many, at most 32; the "
		       "step's N nodes are cut into N / size groups as even as can be, each of "
		       "this size to twice it less one)",
		.yaml_key = "redundancy.group_size", .site_field = SITE_FIELD(redundancy_group_size),
		.default_text = "4", .bounds = { .min = 2, .max = 32 },
		.lcrd_arg = "redundancy-group-size", .lcrd_default = "4",
		.lcrd_bounds = { .min = 2, .max = 32 },
		.lcrd_expects = "expected 2 to 32",
	},
	[LCR_SETTING_REDUNDANCY_PARITY] = {
		.type = LCR_TYPE_COUNT,
		.doc = "with erasure: parity blocks per stripe, the nodes of one group that may be "
		       "lost at once (below the group size)",
		.yaml_key = "redundancy.parity", .site_field = SITE_FIELD(redundancy_parity),
		.default_text = "1", .bounds = { .min = 1, .max = 8 },
		.lcrd_arg = "redundancy-parity", .lcrd_default = "1",
		.lcrd_bounds = { .min = 1, .max = 8 },
		.lcrd_expects = "expected 1 to 8",
	},
	[LCR_SETTING_SNAPSHOT_EVERY] = {
		.type = LCR_TYPE_COUNT,
		.doc = "with redundancy: committed steps between two snapshots, unless the user asks "
		       "for another value",
		.yaml_key = "redundancy.snapshot_every", .site_field = SITE_FIELD(snapshot_every),
		.default_text = "10", .bounds = { .min = 1, .max = 1000000 },
		.option = "lcr-snapshot-every", .option_rank = 7, .option_arg = "STEPS",
		.option_help = "[lcr] With --lcr-redundancy: snapshot the state every STEPS "
			       "committed steps.",
		.accepted = "a whole number from 1 to 1000000", .env = "LCR_SNAPSHOT_EVERY",
		.lcrd_arg = "snapshot-every", .lcrd_default = "10",
		.lcrd_bounds = { .min = 1, .max = 1000000 },
		.lcrd_expects = "expected committed steps from 1 to 1000000",
	},
	[LCR_SETTING_SNAPSHOT_HOLD_MAX] = {
		.type = LCR_TYPE_SECONDS,
		.doc = "with redundancy: the longest a rank's next update waits for its helper to "
		       "finish copying the committed state for a snapshot, in seconds; 0: the "
		       "update never waits, and a copy it overlaps is torn and dropped",
		.yaml_key = "redundancy.snapshot_hold_max",
		.site_field = SITE_FIELD(snapshot_hold_max),
		.default_text = "1", .bounds = { .min = 0, .max = 60 },
		.lcrd_arg = "snapshot-hold-max", .lcrd_default = "1",
		.lcrd_bounds = { .min = 0, .max = 60 },
		.lcrd_expects = "expected seconds from 0 to 60, such as 1 or 0.25",
	},
	[LCR_SETTING_REDUNDANCY_MEMORY_MAX] = {
		.type = LCR_TYPE_BYTES,
		.doc = "most host memory one helper may use for redundancy (its snapshots and the "
		       "copies it holds), in bytes (K, M, G, T: powers of 1024); 0: no limit",
		.yaml_key = "redundancy.memory_max", .site_field = SITE_FIELD(redundancy_memory_max),
		.default_text = "0", .bounds = { .min = 0, .max = INFINITY },
		.lcrd_arg = "redundancy-memory-max", .lcrd_default = "0",
		.lcrd_bounds = { .min = 0, .max = INFINITY },
		.lcrd_expects = "expected a byte count such as 8589934592 or 8G (0: no limit)",
	},
	[LCR_SETTING_RESTORE] = {
		.type = LCR_TYPE_RESTORE,
		.doc = "the checkpoint a step starts from: the newest, none, or one by its path",
		.default_text = "auto",
		.option = "lcr-restore", .option_rank = 3, .option_arg = "auto|never|PATH",
		.option_help = "[lcr] Restore state from the newest checkpoint, none, or PATH.",
		.accepted = "auto, never, or an absolute path", .env = "LCR_RESTORE",
		.lcrd_arg = "restore", .lcrd_default = "never",
		.lcrd_expects = "expected auto, never, or the absolute path of a checkpoint "
				"(DIR/step-N)",
	},
	[LCR_SETTING_REPLACE] = {
		.type = LCR_TYPE_REPLACE,
		.doc = "what the leader does after a node failure: launch a replacement, or nothing",
		.default_text = "spare",
		.option = "lcr-replace", .option_rank = 4, .option_arg = "spare|none",
		.option_help = "[lcr] Replace a dead node by a spare node of the job, or not.",
		.accepted = "spare, none", .env = "LCR_REPLACE",
		.lcrd_arg = "replace", .lcrd_default = "none",
		.lcrd_expects = "expected spare or none",
	},
	[LCR_SETTING_VERBOSE] = {
		.type = LCR_TYPE_BOOL,
		.doc = "print LCR's progress messages; lcrd gets --log-level=verbose",
		.default_text = "off",
		.option = "lcr-verbose", .option_rank = 8,
		.option_help = "[lcr] Print LCR's progress messages.",
		.accepted = "on, off", .env = "LCR_VERBOSE",
	},
};

static const struct lcr_setting_spec *find(size_t name_offset, const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(lcr_settings); i++) {
		const char *const *field = (const char *const *)((const char *)&lcr_settings[i] +
								  name_offset);

		if (*field && strcmp(*field, name) == 0)
			return &lcr_settings[i];
	}
	return NULL;
}

const struct lcr_setting_spec *lcr_setting_by_yaml_key(const char *name)
{
	return find(offsetof(struct lcr_setting_spec, yaml_key), name);
}

const struct lcr_setting_spec *lcr_setting_by_option(const char *name)
{
	return find(offsetof(struct lcr_setting_spec, option), name);
}

const struct lcr_setting_spec *lcr_setting_by_lcrd_arg(const char *name)
{
	return find(offsetof(struct lcr_setting_spec, lcrd_arg), name);
}

enum lcr_setting lcr_setting_id(const struct lcr_setting_spec *spec)
{
	return (enum lcr_setting)(spec - lcr_settings);
}

bool lcr_setting_in_bounds(const struct lcr_setting_bounds *bounds, double value)
{
	bool above_min = bounds->min_exclusive ? value > bounds->min : value >= bounds->min;

	return above_min && value <= bounds->max;
}

void lcr_setting_format_bytes(unsigned long long bytes, char *buf, size_t buflen)
{
	static const char *const units[] = { "TiB", "GiB", "MiB", "KiB" };

	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		unsigned long long unit = 1ULL << (10 * (ARRAY_SIZE(units) - i));

		if (bytes >= unit && bytes % unit == 0) {
			snprintf(buf, buflen, "%llu%s", bytes / unit, units[i]);
			return;
		}
	}
	snprintf(buf, buflen, "%llu", bytes);
}

static void describe_range(const struct lcr_setting_spec *spec, const struct lcr_setting_bounds *b,
			   char *buf, size_t buflen)
{
	const char *unit = spec->type == LCR_TYPE_SECONDS ? " seconds" : "";
	char low[32];
	char high[32];

	if (spec->type == LCR_TYPE_BYTES)
		lcr_setting_format_bytes((unsigned long long)b->min, low, sizeof low);
	else
		snprintf(low, sizeof low, "%g", b->min);
	snprintf(high, sizeof high, "%g", b->max);
	if (isinf(b->max))
		snprintf(buf, buflen, "%s %s%s", b->min_exclusive ? "more than" : "at least", low,
			 unit);
	else if (b->min_exclusive)
		snprintf(buf, buflen, "more than %s and at most %s%s", low, high, unit);
	else
		snprintf(buf, buflen, "%s..%s%s", low, high, unit);
}

static int check_bounds(const struct lcr_setting_spec *spec, const struct lcr_setting_bounds *bounds,
			double value, const char *text, char *why, size_t whylen)
{
	char quoted[QUOTE_MAX];
	char range[128];

	if (lcr_setting_in_bounds(bounds, value))
		return 0;
	describe_range(spec, bounds, range, sizeof range);
	if (why && whylen > 0)
		snprintf(why, whylen, "%s is out of range (accepted: %s)",
			 lcr_printable(text, quoted, sizeof quoted), range);
	return -ERANGE;
}

int lcr_setting_check_range(const struct lcr_setting_spec *spec, double value, const char *text,
			    char *why, size_t whylen)
{
	return check_bounds(spec, &spec->bounds, value, text, why, whylen);
}

static const char *const restore_names[] = {
	[LCR_RESTORE_NEVER] = "never",
	[LCR_RESTORE_AUTO] = "auto",
	[LCR_RESTORE_PATH] = "",
};

static const char *const replace_names[] = {
	[LCR_REPLACE_NONE] = "none",
	[LCR_REPLACE_SPARE] = "spare",
};

static const char *const redundancy_names[] = {
	[LCR_REDUNDANCY_NONE] = "none",
	[LCR_REDUNDANCY_COPY] = "copy",
	[LCR_REDUNDANCY_ERASURE] = "erasure",
	[LCR_REDUNDANCY_AUTO] = "auto",
};

static const char *const switch_on[] = { "on", "yes", "1" };
static const char *const switch_off[] = { "off", "no", "0" };

int lcr_setting_parse_switch(const char *text, bool *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(switch_on); i++) {
		if (strcmp(text, switch_on[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(text, switch_off[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int lcr_restore_mode_parse(const char *text, enum lcr_restore_mode *out)
{
	if (strcmp(text, restore_names[LCR_RESTORE_AUTO]) == 0)
		*out = LCR_RESTORE_AUTO;
	else if (strcmp(text, restore_names[LCR_RESTORE_NEVER]) == 0)
		*out = LCR_RESTORE_NEVER;
	else
		return -EINVAL;
	return 0;
}

int lcr_replace_mode_parse(const char *text, enum lcr_replace_mode *out)
{
	if (strcmp(text, replace_names[LCR_REPLACE_SPARE]) == 0)
		*out = LCR_REPLACE_SPARE;
	else if (strcmp(text, replace_names[LCR_REPLACE_NONE]) == 0)
		*out = LCR_REPLACE_NONE;
	else
		return -EINVAL;
	return 0;
}

int lcr_redundancy_mode_parse(const char *text, enum lcr_redundancy_mode *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(redundancy_names); i++) {
		if (strcmp(text, redundancy_names[i]) != 0)
			continue;
		*out = (enum lcr_redundancy_mode)i;
		return 0;
	}
	return -EINVAL;
}

const char *lcr_restore_mode_name(enum lcr_restore_mode mode)
{
	return (size_t)mode < ARRAY_SIZE(restore_names) ? restore_names[mode] : "";
}

const char *lcr_replace_mode_name(enum lcr_replace_mode mode)
{
	return (size_t)mode < ARRAY_SIZE(replace_names) ? replace_names[mode] : "none";
}

const char *lcr_redundancy_mode_name(enum lcr_redundancy_mode mode)
{
	return (size_t)mode < ARRAY_SIZE(redundancy_names) ? redundancy_names[mode] : "none";
}

static int too_long(const char *text, char *why, size_t whylen)
{
	snprintf(why, whylen, "value too long (%zu bytes)", strlen(text));
	return -ENAMETOOLONG;
}

/* Writes text into out[cap]: 0, or -ENAMETOOLONG with out as it was. */
static int put_text(const char *text, char *out, size_t cap, char *why, size_t whylen)
{
	size_t len = strlen(text);

	if (len >= cap)
		return too_long(text, why, whylen);
	memcpy(out, text, len + 1);
	return 0;
}

/* A whole number, seconds or bytes within bounds, written back as lcrd reads it. */
static int canonical_number(const struct lcr_setting_spec *spec, const char *text,
			    const struct lcr_setting_bounds *bounds, char *out, size_t cap, char *why,
			    size_t whylen)
{
	char number[48];
	uint64_t whole = 0;
	double seconds = 0;
	int rc;

	if (spec->type == LCR_TYPE_SECONDS)
		rc = lcr_parse_seconds(text, &seconds, why, whylen);
	else if (spec->type == LCR_TYPE_BYTES)
		rc = lcr_parse_bytes(text, &whole, why, whylen);
	else
		rc = lcr_parse_uint(text, &whole, why, whylen);
	if (rc < 0)
		return rc;
	if (spec->type != LCR_TYPE_SECONDS)
		seconds = (double)whole;
	rc = check_bounds(spec, bounds, seconds, text, why, whylen);
	if (rc < 0)
		return rc;
	if (spec->type == LCR_TYPE_SECONDS)
		snprintf(number, sizeof number, "%.3f", seconds);
	else
		snprintf(number, sizeof number, "%" PRIu64, whole);
	return put_text(number, out, cap, why, whylen);
}

/* A name of the setting's choices (names[i], i < count), as written. */
static int canonical_choice(const char *const *names, size_t count, const char *text, char *out,
			    size_t cap, char *why, size_t whylen)
{
	char quoted[QUOTE_MAX];

	for (size_t i = 0; i < count; i++)
		if (names[i][0] && strcmp(text, names[i]) == 0)
			return put_text(names[i], out, cap, why, whylen);
	snprintf(why, whylen, "%s is not one of the accepted names",
		 lcr_printable(text, quoted, sizeof quoted));
	return -EINVAL;
}

/* A path normalised as if it began at the root ("/" added where it has none). */
static int normalize_from_root(const char *text, char *out, size_t cap, char *why, size_t whylen)
{
	char rooted[PATH_MAX];

	if (text[0] == '/')
		return lcr_path_normalize(text, out, cap, why, whylen);
	if (snprintf(rooted, sizeof rooted, "/%s", text) >= (int)sizeof rooted)
		return too_long(text, why, whylen);
	return lcr_path_normalize(rooted, out, cap, why, whylen);
}

/*
 * An absolute path pattern, or one that starts with the user's home ("%h", "%h/...",
 * "%h.lcr/..."): the home is absolute, so what follows %h is normalised as if it began at
 * the root, and written after %h without the root's '/' where it had none.
 */
static int canonical_pattern(const char *text, char *out, size_t cap, char *why, size_t whylen)
{
	bool home = strncmp(text, "%h", 2) == 0;
	const char *rest = home ? text + 2 : text;
	char tail[PATH_MAX], normal[PATH_MAX + 2];
	int rc;

	if (home)
		rc = normalize_from_root(rest, tail, sizeof tail, why, whylen);
	else
		rc = lcr_path_normalize(rest, tail, sizeof tail, why, whylen);
	if (rc < 0)
		return rc;
	snprintf(normal, sizeof normal, "%s%s", home ? "%h" : "", home && rest[0] != '/' ? tail + 1 : tail);
	rc = lcr_check_ckpt_pattern(normal, why, whylen);
	return rc < 0 ? rc : put_text(normal, out, cap, why, whylen);
}

static int canonical_path(const char *text, bool allow_empty, char *out, size_t cap, char *why,
			  size_t whylen)
{
	char normal[PATH_MAX];
	int rc;

	if (allow_empty && text[0] == '\0')
		return put_text("", out, cap, why, whylen);
	rc = lcr_path_normalize(text, normal, sizeof normal, why, whylen);
	return rc < 0 ? rc : put_text(normal, out, cap, why, whylen);
}

static int canonical_path_list(const char *text, char *out, size_t cap, char *why, size_t whylen)
{
	struct lcr_path_list list = { 0 };
	int rc = lcr_parse_path_list(text, &list, why, whylen);

	if (rc == 0)
		rc = lcr_path_list_join(&list, out, cap, why, whylen);
	lcr_path_list_clear(&list);
	return rc;
}

static int canonical_bool(const char *text, char *out, size_t cap, char *why, size_t whylen)
{
	bool value;
	int rc = lcr_parse_bool(text, &value, why, whylen);

	return rc < 0 ? rc : put_text(value ? "true" : "false", out, cap, why, whylen);
}

static int canonical_log_level(const char *text, char *out, size_t cap, char *why, size_t whylen)
{
	enum lcr_log_level level;
	int rc = lcr_parse_log_level(text, &level, why, whylen);

	return rc < 0 ? rc : put_text(lcr_log_level_name(level), out, cap, why, whylen);
}

/* auto, never, or the absolute path of a checkpoint. */
static int canonical_restore(const char *text, char *out, size_t cap, char *why, size_t whylen)
{
	if (text[0] == '/')
		return canonical_path(text, false, out, cap, why, whylen);
	return canonical_choice(restore_names, ARRAY_SIZE(restore_names), text, out, cap, why,
				whylen);
}

int lcr_setting_canonical(const struct lcr_setting_spec *spec, const char *text,
			  const struct lcr_setting_bounds *bounds, char *out, size_t cap, char *why,
			  size_t whylen)
{
	if (!bounds)
		bounds = &spec->bounds;
	switch (spec->type) {
	case LCR_TYPE_PATH:
		return canonical_path(text, false, out, cap, why, whylen);
	case LCR_TYPE_PATH_OR_EMPTY:
		return canonical_path(text, true, out, cap, why, whylen);
	case LCR_TYPE_PATTERN:
		return canonical_pattern(text, out, cap, why, whylen);
	case LCR_TYPE_PATH_LIST:
		return canonical_path_list(text, out, cap, why, whylen);
	case LCR_TYPE_SECONDS:
	case LCR_TYPE_BYTES:
	case LCR_TYPE_COUNT:
		return canonical_number(spec, text, bounds, out, cap, why, whylen);
	case LCR_TYPE_BOOL:
		return canonical_bool(text, out, cap, why, whylen);
	case LCR_TYPE_LOG_LEVEL:
		return canonical_log_level(text, out, cap, why, whylen);
	case LCR_TYPE_RESTORE:
		return canonical_restore(text, out, cap, why, whylen);
	case LCR_TYPE_REPLACE:
		return canonical_choice(replace_names, ARRAY_SIZE(replace_names), text, out, cap, why,
					whylen);
	case LCR_TYPE_REDUNDANCY:
		return canonical_choice(redundancy_names, ARRAY_SIZE(redundancy_names), text, out,
					cap, why, whylen);
	}
	snprintf(why, whylen, "a setting of type %d has no value", (int)spec->type);
	return -EINVAL;
}
