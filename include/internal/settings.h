/*
 * settings.h: LCR's settings, described once for the site configuration, the plugin's user
 * options and lcrd's command line.
 *
 * A setting can be written in up to four places: a key of lcr.yaml (and of the plugstack
 * arguments), a --lcr-* option of srun/sbatch/salloc, an LCR_* environment variable, and
 * an argument that the plugin passes to lcrd. One row of lcr_settings[] (common/settings.c)
 * names all of them, with the setting's type, default and bounds, so that:
 *   - common/site_config.c reads, checks, defaults and writes every row with a yaml_key;
 *   - plugin/options.c registers a Slurm option for every row with an option, and
 *     plugin/option_values.c reads its environment variable and checks its value;
 *   - plugin/helper_launch.c passes every row with an lcrd_arg as --<lcrd_arg>=TEXT;
 *   - helper/loop/options.c accepts every row with an lcrd_arg, with its lcrd default, checked
 *     by lcr_setting_canonical within its lcrd bounds (the checkpoint directory, which the
 *     plugin passes expanded, as a path).
 * The plugin keeps a user option's value as text (lcr_setting_canonical), so a user option
 * needs no code in plugin/. Adding a setting means one row here, a field where its value is
 * kept (struct lcr_site_config, struct lcrd_options) and its lines in the
 * documentation (etc/lcr.yaml, doc/lcr.yaml.5, doc/spank_lcr.8, doc/lcrd.8), which
 * tests/unit/test_settings.c checks against the table.
 *
 * The choices that travel from the plugin to lcrd (restore, replace, redundancy) have one enum each,
 * shared by both, with the names below; the restore values are also the wire's.
 */
#ifndef LCR_INTERNAL_SETTINGS_H
#define LCR_INTERNAL_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

/* Where a step's ranks take their state from when they start (--lcr-restore, lcrd --restore). */
enum lcr_restore_mode {
	LCR_RESTORE_NEVER = 0, /* start empty */
	LCR_RESTORE_AUTO = 1,  /* the newest complete checkpoint of the checkpoint directory */
	LCR_RESTORE_PATH = 2,  /* one checkpoint named by its path */
};

/* What the leader does after a node failure (--lcr-replace, lcrd --replace). */
enum lcr_replace_mode {
	LCR_REPLACE_NONE = 0,  /* nothing: the ranks end, the checkpoint is the way back */
	LCR_REPLACE_SPARE = 1, /* launch a replacement on a spare node of the job */
};

/* How the helpers keep state that has no replica on another node (--lcr-redundancy, lcrd
 * --redundancy; doc/redundancy.md). */
enum lcr_redundancy_mode {
	LCR_REDUNDANCY_NONE = 0,    /* nothing beyond the ranks' own replicas */
	LCR_REDUNDANCY_COPY = 1,    /* snapshots copied to K other nodes' helpers */
	LCR_REDUNDANCY_ERASURE = 2, /* parity of the snapshots across groups of nodes */
	LCR_REDUNDANCY_AUTO = 3,    /* copy, else erasure, else none, as the budget allows
				     * (redundancy_choose, chosen as lcrd starts) */
};

/* Every setting; the index of its row in lcr_settings[]. */
enum lcr_setting {
	LCR_SETTING_HELPER,
	LCR_SETTING_RUNTIME_DIR,
	LCR_SETTING_CKPT_DIR,
	LCR_SETTING_CKPT_ROOTS,
	LCR_SETTING_CKPT_KEEP,
	LCR_SETTING_DETECT_TIMEOUT,
	LCR_SETTING_DETECT_TIMEOUT_MIN,
	LCR_SETTING_DETECT_TIMEOUT_MAX,
	LCR_SETTING_ENABLED,
	LCR_SETTING_REQUIRED,
	LCR_SETTING_LOG_LEVEL,
	LCR_SETTING_MUNGE_SOCKET,
	LCR_SETTING_REGION_QUOTA,
	LCR_SETTING_HELPER_START_TIMEOUT,
	LCR_SETTING_HELPER_STOP_TIMEOUT,
	LCR_SETTING_HEARTBEAT_PEERS,
	LCR_SETTING_WIRE_ENCRYPTION,
	LCR_SETTING_REDUNDANCY,
	LCR_SETTING_REDUNDANCY_COPIES,
	LCR_SETTING_REDUNDANCY_GROUP_SIZE,
	LCR_SETTING_REDUNDANCY_PARITY,
	LCR_SETTING_SNAPSHOT_EVERY,
	LCR_SETTING_SNAPSHOT_HOLD_MAX,
	LCR_SETTING_REDUNDANCY_MEMORY_MAX,
	LCR_SETTING_RESTORE,
	LCR_SETTING_REPLACE,
	LCR_SETTING_VERBOSE,
	LCR_SETTING_COUNT
};

enum lcr_setting_type {
	LCR_TYPE_PATH,		/* an absolute path, normalised */
	LCR_TYPE_PATH_OR_EMPTY, /* the same, or "" */
	LCR_TYPE_PATTERN,	/* an absolute path with %h, %u, %j, %% */
	LCR_TYPE_PATH_LIST,	/* absolute paths: a YAML sequence, or "/a:/b" */
	LCR_TYPE_SECONDS,	/* decimal seconds */
	LCR_TYPE_BOOL,		/* true/false in lcr.yaml; on/off as an option */
	LCR_TYPE_LOG_LEVEL,	/* error, warning, info, verbose, debug */
	LCR_TYPE_BYTES,		/* a size in bytes */
	LCR_TYPE_COUNT,		/* a whole number */
	LCR_TYPE_RESTORE,	/* auto, never or an absolute path (enum lcr_restore_mode) */
	LCR_TYPE_REPLACE,	/* spare or none (enum lcr_replace_mode) */
	LCR_TYPE_REDUNDANCY,	/* none, copy, erasure or auto (enum lcr_redundancy_mode) */
};

/* Inclusive bounds of a number; max INFINITY: none. */
struct lcr_setting_bounds {
	double min, max;
	bool min_exclusive; /* min itself is not accepted */
};

struct lcr_setting_spec {
	enum lcr_setting_type type;
	const char *doc; /* one line, for `lcrctl config` and the tests */

	/* lcr.yaml and the plugstack arguments */
	const char *yaml_key;		  /* dotted ("detect_timeout.min"), or NULL */
	size_t site_field;		  /* offset in struct lcr_site_config */
	const char *default_text;	  /* the site's default, or the user's without a key */
	struct lcr_setting_bounds bounds; /* numbers: what the site (and a user) may set */

	/* the user's option and environment variable */
	const char *option;	 /* without "--" ("lcr-replace"), or NULL */
	int option_rank;	 /* its place among the options in --help, from 1 */
	const char *option_arg;	 /* the argument as --help shows it; NULL: a flag */
	const char *option_help; /* --help's line */
	const char *accepted;	 /* what a bad value's message says is accepted; NULL: the bounds */
	const char *env;	 /* "LCR_REPLACE", or NULL */
	/* yaml_keys whose site values bound the user's value (numbers); NULL: bounds' own */
	const char *user_min_key, *user_max_key;

	/* how the plugin passes it to lcrd */
	const char *lcrd_arg;		       /* without "--" ("replace"), or NULL */
	const char *lcrd_default;	       /* lcrd's value without the argument; NULL: none */
	struct lcr_setting_bounds lcrd_bounds; /* numbers: what lcrd accepts */
	const char *lcrd_expects;	       /* lcrd's message after "--ARG=VALUE: " */
};

extern const struct lcr_setting_spec lcr_settings[LCR_SETTING_COUNT];

/* The row whose yaml_key, option or lcrd_arg is name, or NULL. */
const struct lcr_setting_spec *lcr_setting_by_yaml_key(const char *name);
const struct lcr_setting_spec *lcr_setting_by_option(const char *name);
const struct lcr_setting_spec *lcr_setting_by_lcrd_arg(const char *name);

/* The index of a row of lcr_settings[]. */
enum lcr_setting lcr_setting_id(const struct lcr_setting_spec *spec);

/* Whether value lies within bounds. */
bool lcr_setting_in_bounds(const struct lcr_setting_bounds *bounds, double value);

/*
 * Checks value against the setting's site bounds. On error returns -ERANGE and writes
 * "'TEXT' is out of range (accepted: ...)" into why, text being what was written.
 */
int lcr_setting_check_range(const struct lcr_setting_spec *spec, double value, const char *text,
			    char *why, size_t whylen);

/*
 * Checks text as a value of the setting and writes it into out[cap] as lcrd reads it: a
 * number within bounds (spec->bounds when bounds is NULL), a boolean as true or false, a
 * choice by its name, a path normalised, a checkpoint directory pattern checked (not
 * expanded), a restore value as auto, never or a normalised absolute path. The one check
 * of a value by its type, shared by the site configuration's paths, the plugin's user
 * options and lcrd's arguments (with lcrd_bounds). On error returns -EINVAL, -ERANGE or -ENAMETOOLONG, writes why ("'ten' is not a
 * whole number ...") and leaves out as it was (but for a path list).
 */
int lcr_setting_canonical(const struct lcr_setting_spec *spec, const char *text,
			  const struct lcr_setting_bounds *bounds, char *out, size_t cap, char *why,
			  size_t whylen);

/*
 * A user's switch (--lcr=X, LCR_ENABLE, LCR_VERBOSE): "on", "yes", "1" or "off", "no",
 * "0", as written: 0 and *out, or -EINVAL. The one reading of a switch, shared by the
 * options' check and the early --no-kill decision (plugin/local.c); the site's booleans
 * (lcr.yaml) are read by lcr_parse_bool.
 */
int lcr_setting_parse_switch(const char *text, bool *out);

/* "auto", "never" or "spare", "none": 0 and *out, or -EINVAL. */
int lcr_restore_mode_parse(const char *text, enum lcr_restore_mode *out);
int lcr_replace_mode_parse(const char *text, enum lcr_replace_mode *out);

/* "none", "copy", "erasure", "auto": 0 and *out; else -EINVAL. */
int lcr_redundancy_mode_parse(const char *text, enum lcr_redundancy_mode *out);

/* The name of a mode as the options and lcrd read it ("" for LCR_RESTORE_PATH: the path). */
const char *lcr_restore_mode_name(enum lcr_restore_mode mode);
const char *lcr_replace_mode_name(enum lcr_replace_mode mode);
const char *lcr_redundancy_mode_name(enum lcr_redundancy_mode mode);

/* Bytes as lcr.yaml writes them: "64GiB", "1048576". */
void lcr_setting_format_bytes(unsigned long long bytes, char *buf, size_t buflen);

#endif
