/*
 * options.c: the --lcr* option table, its callbacks, and the merge of command line,
 * LCR_* environment and site configuration into one struct lcr_user_options.
 *
 * Slurm calls the option callbacks in srun/sbatch (local) and again in slurmstepd (remote)
 * with the values srun forwarded; the callbacks only store and check the text. The
 * meaning of each value is decided once, in options_resolve().
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/parse.h"
#include "options.h"

enum option_id { OPT_LCR = 1, OPT_CKPT_DIR, OPT_RESTORE, OPT_REPLACE, OPT_DETECT_TIMEOUT, OPT_VERBOSE };

/* The plugin is loaded once per process; the callbacks write into the caller's values. */
static struct lcr_option_values *registered_values;
static const struct lcr_site_config *registered_site;

static int on_option(int val, const char *optarg, int remote);

static struct spank_option option_table[] = {
	{ "lcr", "on|off", "Protect this job step with LCR (checkpoint recovery); implies --no-kill.", 2,
	  OPT_LCR, on_option },
	{ "lcr-ckpt-dir", "PATH", "Directory for LCR's just-in-time checkpoints (%u user, %j job id).", 1,
	  OPT_CKPT_DIR, on_option },
	{ "lcr-restore", "auto|never|PATH", "Restore state from the newest checkpoint, none, or PATH.", 1,
	  OPT_RESTORE, on_option },
	{ "lcr-replace", "spare|none", "Replace a dead node by a spare node of the job, or not.", 1,
	  OPT_REPLACE, on_option },
	{ "lcr-detect-timeout", "SECONDS", "Declare a silent node dead after SECONDS.", 1,
	  OPT_DETECT_TIMEOUT, on_option },
	{ "lcr-verbose", NULL, "Print LCR's progress messages.", 0, OPT_VERBOSE, on_option },
};

static const char *option_name(int val)
{
	return option_table[val - 1].name;
}

static void replace_string(char **slot, const char *value)
{
	free(*slot);
	*slot = value ? strdup(value) : NULL;
}

/* Where the text of a value-taking option is kept; NULL for --lcr-verbose. */
static char **option_slot(struct lcr_option_values *values, int val)
{
	switch (val) {
	case OPT_LCR: return &values->lcr;
	case OPT_CKPT_DIR: return &values->ckpt_dir;
	case OPT_RESTORE: return &values->restore;
	case OPT_REPLACE: return &values->replace;
	case OPT_DETECT_TIMEOUT: return &values->detect_timeout;
	default: return NULL;
	}
}

static int on_option(int val, const char *optarg, int remote)
{
	char err[1024];
	char **slot;

	if (!registered_values)
		return -1;
	if (val == OPT_VERBOSE) {
		registered_values->verbose = true;
		return 0;
	}
	slot = option_slot(registered_values, val);
	if (!slot)
		return -1;
	replace_string(slot, optarg && optarg[0] ? optarg : "on");
	if (!remote && options_check_value(option_name(val), *slot, err, sizeof(err)) < 0) {
		slurm_error("%s", err);
		return -1;
	}
	return 0;
}

int options_register(spank_t sp, struct lcr_option_values *values)
{
	size_t i;

	registered_values = values;
	for (i = 0; i < sizeof(option_table) / sizeof(option_table[0]); i++) {
		spank_err_t rc = spank_option_register(sp, &option_table[i]);

		if (rc != ESPANK_SUCCESS) {
			slurm_error("lcr: cannot register option --%s: %s", option_table[i].name,
				    spank_strerror(rc));
			return -1;
		}
	}
	return 0;
}

int options_collect(spank_t sp, struct lcr_option_values *values)
{
	size_t i;

	for (i = 0; i < sizeof(option_table) / sizeof(option_table[0]); i++) {
		char *optarg = NULL;

		if (spank_option_getopt(sp, &option_table[i], &optarg) != ESPANK_SUCCESS)
			continue;
		if (option_table[i].val == OPT_VERBOSE) {
			values->verbose = true;
			continue;
		}
		char **slot = option_slot(values, option_table[i].val);
		if (slot && !*slot)
			replace_string(slot, optarg && optarg[0] ? optarg : "on");
	}
	return 0;
}

void options_set_site(const struct lcr_site_config *site)
{
	registered_site = site;
}

void options_values_fini(struct lcr_option_values *values)
{
	free(values->lcr);
	free(values->ckpt_dir);
	free(values->restore);
	free(values->replace);
	free(values->detect_timeout);
	memset(values, 0, sizeof(*values));
	if (registered_values == values)
		registered_values = NULL;
}

static int parse_switch(const char *value, bool *out, char *err, size_t errlen)
{
	if (strcmp(value, "on") == 0 || strcmp(value, "yes") == 0 || strcmp(value, "1") == 0) {
		*out = true;
		return 0;
	}
	if (strcmp(value, "off") == 0 || strcmp(value, "no") == 0 || strcmp(value, "0") == 0) {
		*out = false;
		return 0;
	}
	snprintf(err, errlen, "lcr: invalid value '%s' for --lcr (accepted: on, off)", value);
	return -EINVAL;
}

static int parse_restore(const char *value, struct lcr_user_options *out, char *err, size_t errlen)
{
	if (strcmp(value, "auto") == 0) {
		out->restore = LCR_RESTORE_AUTO;
		return 0;
	}
	if (strcmp(value, "never") == 0) {
		out->restore = LCR_RESTORE_NEVER;
		return 0;
	}
	if (value[0] != '/') {
		snprintf(err, errlen,
			 "lcr: invalid value '%s' for --lcr-restore (accepted: auto, never, or an absolute path)",
			 value);
		return -EINVAL;
	}
	if (strlen(value) >= sizeof(out->restore_path)) {
		snprintf(err, errlen, "lcr: --lcr-restore path is too long (%zu bytes)", strlen(value));
		return -ENAMETOOLONG;
	}
	out->restore = LCR_RESTORE_PATH;
	strcpy(out->restore_path, value);
	return 0;
}

static int parse_replace(const char *value, enum lcr_replace_mode *out, char *err, size_t errlen)
{
	if (strcmp(value, "spare") == 0) {
		*out = LCR_REPLACE_SPARE;
		return 0;
	}
	if (strcmp(value, "none") == 0) {
		*out = LCR_REPLACE_NONE;
		return 0;
	}
	snprintf(err, errlen, "lcr: invalid value '%s' for --lcr-replace (accepted: spare, none)", value);
	return -EINVAL;
}

static int parse_detect_timeout(const char *value, const struct lcr_site_config *site, double *out,
				char *err, size_t errlen)
{
	double min = site ? site->detect_timeout_min : 0.5;
	double max = site ? site->detect_timeout_max : 3600;
	double seconds;

	char why[256];

	if (lcr_parse_seconds(value, &seconds, why, sizeof(why)) < 0 || seconds < min || seconds > max) {
		snprintf(err, errlen,
			 "lcr: invalid value '%s' for --lcr-detect-timeout (accepted: %g to %g seconds)",
			 value, min, max);
		return -EINVAL;
	}
	*out = seconds;
	return 0;
}

static int parse_ckpt_dir(const char *pattern, const struct lcr_site_config *site, const char *user,
			  uint32_t job_id, char *out, size_t outlen, char *err, size_t errlen)
{
	char why[512] = "";
	int rc;

	rc = lcr_expand_ckpt_pattern(pattern, user, job_id, out, outlen, why, sizeof(why));
	if (rc < 0) {
		snprintf(err, errlen, "lcr: invalid value '%s' for --lcr-ckpt-dir: %s", pattern, why);
		return rc;
	}
	if (out[0] != '/') {
		snprintf(err, errlen, "lcr: invalid value '%s' for --lcr-ckpt-dir (accepted: an absolute path)",
			 pattern);
		return -EINVAL;
	}
	if (site && (rc = lcr_path_under_roots(out, &site->ckpt_roots, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "lcr: invalid value '%s' for --lcr-ckpt-dir: %s", pattern, why);
		return rc;
	}
	return 0;
}

int options_check_value(const char *option, const char *value, char *err, size_t errlen)
{
	struct lcr_user_options scratch;
	char path[4096];
	bool on;

	if (strcmp(option, "lcr") == 0)
		return parse_switch(value, &on, err, errlen);
	if (strcmp(option, "lcr-restore") == 0)
		return parse_restore(value, &scratch, err, errlen);
	if (strcmp(option, "lcr-replace") == 0)
		return parse_replace(value, &scratch.replace, err, errlen);
	if (strcmp(option, "lcr-detect-timeout") == 0)
		return parse_detect_timeout(value, registered_site, &scratch.detect_timeout, err, errlen);
	if (strcmp(option, "lcr-ckpt-dir") == 0)
		return parse_ckpt_dir(value, registered_site, "user", 0, path, sizeof(path), err, errlen);
	return 0;
}

/* The typed value if any, else the LCR_* environment variable, else NULL. */
static const char *pick(const char *typed, options_getenv_fn getenv_fn, void *env_ctx, const char *env_name)
{
	if (typed)
		return typed;
	if (getenv_fn)
		return getenv_fn(env_ctx, env_name);
	return NULL;
}

int options_resolve(const struct lcr_option_values *values, options_getenv_fn getenv_fn, void *env_ctx,
		    const struct lcr_site_config *site, const char *user, uint32_t job_id,
		    struct lcr_user_options *out, char *err, size_t errlen)
{
	const char *value;
	int rc;

	memset(out, 0, sizeof(*out));
	out->enabled = site->enabled_by_default;
	out->restore = LCR_RESTORE_AUTO;
	out->replace = LCR_REPLACE_SPARE;
	out->detect_timeout = site->detect_timeout_default;

	value = pick(values->lcr, getenv_fn, env_ctx, "LCR_ENABLE");
	if (value && (rc = parse_switch(value, &out->enabled, err, errlen)) < 0)
		return rc;
	value = pick(values->restore, getenv_fn, env_ctx, "LCR_RESTORE");
	if (value && (rc = parse_restore(value, out, err, errlen)) < 0)
		return rc;
	value = pick(values->replace, getenv_fn, env_ctx, "LCR_REPLACE");
	if (value && (rc = parse_replace(value, &out->replace, err, errlen)) < 0)
		return rc;
	value = pick(values->detect_timeout, getenv_fn, env_ctx, "LCR_DETECT_TIMEOUT");
	if (value && (rc = parse_detect_timeout(value, site, &out->detect_timeout, err, errlen)) < 0)
		return rc;
	value = pick(values->ckpt_dir, getenv_fn, env_ctx, "LCR_CKPT_DIR");
	rc = parse_ckpt_dir(value ? value : site->ckpt_dir, site, user, job_id, out->ckpt_dir,
			    sizeof(out->ckpt_dir), err, errlen);
	if (rc < 0)
		return rc;
	value = getenv_fn ? getenv_fn(env_ctx, "LCR_VERBOSE") : NULL;
	out->verbose = values->verbose;
	if (!out->verbose && value && parse_switch(value, &out->verbose, err, errlen) < 0) {
		snprintf(err, errlen, "lcr: invalid value '%s' for LCR_VERBOSE (accepted: on, off)", value);
		return -EINVAL;
	}
	return 0;
}
