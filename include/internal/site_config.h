/*
 * site_config.h: the site configuration of LCR, as the SPANK plugin and lcrctl see it.
 *
 * Sources, applied in this order by lcr_site_config_from_plugstack():
 *   1. built-in defaults (lcr_site_config_init_defaults);
 *   2. the YAML file named by the plugstack argument config=PATH, if any
 *      (lcr_site_config_load_file);
 *   3. the other plugstack arguments, key=value, in the order written
 *      (lcr_site_config_set);
 * with the checks that involve several keys (lcr_site_config_check) after 2 and after 3.
 * Every key, its type, default, bounds and meaning are rows of LCR's one table of settings,
 * lcr_settings[] (internal/settings.h), documented for sites in etc/lcr.yaml and
 * lcr.yaml(5).
 *
 * Errors: functions return 0 or a negative errno (-EINVAL: malformed, wrong type, unknown
 * or duplicate key; -ERANGE: out of range; -ENOENT, -EACCES, ...: the file could not be
 * read; -ENOMEM) and write into the caller's err buffer a complete message that starts
 * with "lcr: " and names the file and line or the plugstack argument, the key, and what
 * is accepted (a message is cut to fit the buffer; LCR_SITE_CONFIG_ERRLEN bytes hold any
 * of them, since quoted values are cut to 255 bytes), e.g.
 *   lcr: /etc/slurm/lcr.yaml:7: key 'detect_timeout.max': 9000 is out of range (...)
 * Nothing is printed and nothing exits.
 *
 * Memory and threads: the struct owns ckpt_roots (the only allocation); release it with
 * lcr_site_config_fini(), which is also required after a failed load. Do not copy the
 * struct by assignment (the copies would share ckpt_roots). There is no global state: two
 * threads may work on two structs at once.
 */
#ifndef LCR_INTERNAL_SITE_CONFIG_H
#define LCR_INTERNAL_SITE_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "internal/parse.h"
#include "internal/settings.h"

struct lcr_setting_spec;
struct lcr_setting_bounds;

/* A size for error buffers that holds every message of this module in full. */
#define LCR_SITE_CONFIG_ERRLEN 2048

struct lcr_site_config {
	char helper[PATH_MAX];		/* absolute path of lcrd */
	char runtime_dir[PATH_MAX];	/* absolute; the helpers' sockets live below it */
	char ckpt_dir[PATH_MAX];	/* default checkpoint directory, with %u, %j, %% */
	struct lcr_path_list ckpt_roots; /* allowed roots of --lcr-ckpt-dir; empty: any */
	unsigned ckpt_keep;		/* complete checkpoints a job keeps; 0: all */
	double detect_timeout_default;	/* seconds; 0 < min <= default <= max <= 3600 */
	double detect_timeout_min;
	double detect_timeout_max;
	bool enabled_by_default;	/* LCR on for steps that do not ask */
	bool required;			/* a helper failure fails the step */
	enum lcr_log_level log_level;
	char munge_socket[PATH_MAX];	/* absolute, or "" for MUNGE's default socket */
	uint64_t region_quota;		/* bytes of state memory per helper */
	double helper_start_timeout;	/* seconds */
	double helper_stop_timeout;	/* seconds */
	unsigned heartbeat_peers;	/* ring neighbours each helper watches */
	bool wire_encryption;		/* encrypt the helpers' frames, not only authenticate */
	enum lcr_redundancy_mode redundancy_default; /* unless the user asks otherwise */
	unsigned redundancy_copies;	/* with copy: nodes that hold each node's snapshot */
	unsigned redundancy_group_size;	/* with erasure: nodes per parity group (at least) */
	unsigned redundancy_parity;	/* with erasure: parity blocks per stripe */
	unsigned snapshot_every;	/* committed steps between snapshots, unless asked */
	double snapshot_hold_max;	/* seconds an update waits for a snapshot's copy */
	uint64_t redundancy_memory_max; /* bytes per helper for redundancy; 0: no limit */
};

/* Fills cfg with the built-in defaults. cfg must not hold anything to free. */
void lcr_site_config_init_defaults(struct lcr_site_config *cfg);

/*
 * Reads the YAML file at path over cfg: only the keys it sets change, then
 * lcr_site_config_check() runs. An empty file (or only comments) changes nothing.
 * The file must be a regular file holding one YAML document whose top level is a
 * mapping. On error cfg may hold some of the file's values.
 */
int lcr_site_config_load_file(struct lcr_site_config *cfg, const char *path,
			      char *err, size_t errlen);

/*
 * Sets one key from text, as a plugstack argument does: key is a dotted name
 * ("required", "detect_timeout.min"); ckpt_roots takes colon-separated paths ("" clears
 * it). origin says where the value came from and starts the message ("plugstack argument
 * 'required=maybe'"). On error cfg is unchanged. Does not run lcr_site_config_check().
 */
int lcr_site_config_set(struct lcr_site_config *cfg, const char *key, const char *value,
			const char *origin, char *err, size_t errlen);

/*
 * Checks the rules that involve several keys (0 < detect_timeout.min <= .default <= .max).
 * origin starts the message, as for lcr_site_config_set().
 */
int lcr_site_config_check(const struct lcr_site_config *cfg, const char *origin,
			  char *err, size_t errlen);

/*
 * Builds cfg from the plugin's plugstack arguments (argv of slurm_spank_init): defaults,
 * then the file of config=PATH wherever it stands (at most once; a missing file is an
 * error; without config= no file is read), then every other key=value in order, then
 * lcr_site_config_check(). cfg is initialised here; call lcr_site_config_fini() after,
 * whatever the result.
 */
int lcr_site_config_from_plugstack(struct lcr_site_config *cfg, int argc, char **argv,
				   char *err, size_t errlen);

/* Frees what cfg owns and leaves it empty (ready for lcr_site_config_init_defaults). */
void lcr_site_config_fini(struct lcr_site_config *cfg);

/*
 * Writes cfg as an lcr.yaml that lcr_site_config_load_file() reads back to the same
 * values, each key preceded by a comment saying what it is (for `lcrctl config`).
 * Returns 0 or -EIO.
 */
int lcr_site_config_write_yaml(const struct lcr_site_config *cfg, FILE *out);

/*
 * The site's value of a setting (a row of lcr_settings[] with a yaml_key) as lcrd reads its
 * argument: a path, ':'-joined paths, a whole number, seconds with 3 decimals, a log
 * level's name. Returns 0, or -ENAMETOOLONG when out[cap] is too small, -EINVAL for a list
 * that cannot be joined or a row without a key, with a message fragment in err.
 */
int lcr_site_config_value_text(const struct lcr_site_config *cfg, const struct lcr_setting_spec *spec,
			       char *out, size_t cap, char *err, size_t errlen);

/*
 * The bounds of a user's value of a setting: the row's own, or the site's values of its
 * user_min_key and user_max_key (--lcr-detect-timeout lies within detect_timeout.min..max).
 */
void lcr_site_config_user_bounds(const struct lcr_site_config *cfg, const struct lcr_setting_spec *spec,
				 struct lcr_setting_bounds *out);

/*
 * The dotted name of the index-th key of the schema, in table order, or NULL past the
 * last one (to list or check every key).
 */
const char *lcr_site_config_key_name(size_t index);

#endif
