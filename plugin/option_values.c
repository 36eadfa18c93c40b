/*
 * option_values.c: what the --lcr* values mean. Checks each value where it is parsed and
 * merges command line, LCR_* environment and site configuration into one
 * struct lcr_user_options. No Slurm calls here, so the unit tests exercise all of it.
 * Which options there are, their LCR_* variables, defaults and accepted values come from
 * lcr_settings[] (settings.h); the choices are read by settings.c, as lcrd reads them.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/parse.h"
#include "options.h"

/* "lcr: invalid value 'VALUE' for --OPTION (accepted: ...)", and -EINVAL. */
static int invalid_value(enum lcr_setting setting, const char *value, char *err, size_t errlen)
{
	const struct lcr_setting_spec *spec = &lcr_settings[setting];

	snprintf(err, errlen, "lcr: invalid value '%s' for --%s (accepted: %s)", value, spec->option,
		 spec->accepted);
	return -EINVAL;
}

static int parse_switch(enum lcr_setting setting, const char *value, bool *out, char *err,
			size_t errlen)
{
	if (strcmp(value, "on") == 0 || strcmp(value, "yes") == 0 || strcmp(value, "1") == 0) {
		*out = true;
		return 0;
	}
	if (strcmp(value, "off") == 0 || strcmp(value, "no") == 0 || strcmp(value, "0") == 0) {
		*out = false;
		return 0;
	}
	return invalid_value(setting, value, err, errlen);
}

/*
 * auto, never, or the absolute path of a checkpoint, which must lie under one of the site's
 * ckpt_roots (as written: lcrd checks it again with every link resolved).
 */
static int parse_restore(const char *value, const struct lcr_site_config *site, struct lcr_user_options *out,
			 char *err, size_t errlen)
{
	char why[512] = "";
	int rc;

	if (lcr_restore_mode_parse(value, &out->restore) == 0)
		return 0;
	if (value[0] != '/')
		return invalid_value(LCR_SETTING_RESTORE, value, err, errlen);
	if (strlen(value) >= sizeof(out->restore_path)) {
		snprintf(err, errlen, "lcr: --lcr-restore path is too long (%zu bytes)", strlen(value));
		return -ENAMETOOLONG;
	}
	if (site && (rc = lcr_path_under_roots(value, &site->ckpt_roots, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "lcr: invalid value '%s' for --lcr-restore: %s", value, why);
		return rc;
	}
	out->restore = LCR_RESTORE_PATH;
	strcpy(out->restore_path, value);
	return 0;
}

static int parse_replace(const char *value, enum lcr_replace_mode *out, char *err, size_t errlen)
{
	if (lcr_replace_mode_parse(value, out) == 0)
		return 0;
	return invalid_value(LCR_SETTING_REPLACE, value, err, errlen);
}

/* none, copy, erasure or auto. */
static int parse_redundancy(const char *value, enum lcr_redundancy_mode *out, char *err, size_t errlen)
{
	int rc = lcr_redundancy_mode_parse(value, out);

	if (rc < 0)
		return invalid_value(LCR_SETTING_REDUNDANCY, value, err, errlen);
	return 0;
}

/* A whole number within the site's bounds of the setting. */
static int parse_count(enum lcr_setting setting, const char *value, unsigned *out, char *err, size_t errlen)
{
	char why[256];
	uint64_t number;

	if (lcr_parse_uint(value, &number, why, sizeof(why)) < 0 ||
	    !lcr_setting_in_bounds(&lcr_settings[setting].bounds, (double)number))
		return invalid_value(setting, value, err, errlen);
	*out = (unsigned)number;
	return 0;
}

static int parse_detect_timeout(const char *value, const struct lcr_site_config *site, double *out,
				char *err, size_t errlen)
{
	const struct lcr_setting_spec *spec = &lcr_settings[LCR_SETTING_DETECT_TIMEOUT];
	double min = site ? site->detect_timeout_min : 0.5;
	double max = site ? site->detect_timeout_max : spec->bounds.max;
	double seconds;

	char why[256];

	if (lcr_parse_seconds(value, &seconds, why, sizeof(why)) < 0 || seconds < min || seconds > max) {
		snprintf(err, errlen,
			 "lcr: invalid value '%s' for --%s (accepted: %g to %g seconds)", value,
			 spec->option, min, max);
		return -EINVAL;
	}
	*out = seconds;
	return 0;
}

static int parse_ckpt_dir(const char *pattern, const struct lcr_site_config *site,
			  const struct options_job_owner *owner, uint32_t job_id, char *out, size_t outlen,
			  char *err, size_t errlen)
{
	char why[512] = "";
	int rc;

	rc = lcr_expand_ckpt_pattern(pattern, owner->user, owner->home, job_id, out, outlen, why,
				     sizeof(why));
	if (rc < 0) {
		snprintf(err, errlen, "lcr: invalid value '%s' for --lcr-ckpt-dir: %s", pattern, why);
		return rc;
	}
	if (out[0] != '/')
		return invalid_value(LCR_SETTING_CKPT_DIR, pattern, err, errlen);
	if (site && (rc = lcr_path_under_roots(out, &site->ckpt_roots, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "lcr: invalid value '%s' for --lcr-ckpt-dir: %s", pattern, why);
		return rc;
	}
	return 0;
}

/*
 * Reads the value of one option into out. The checkpoint directory is expanded for owner
 * and job_id.
 */
static int parse_option(enum lcr_setting setting, const char *value, const struct lcr_site_config *site,
			const struct options_job_owner *owner, uint32_t job_id, struct lcr_user_options *out,
			char *err, size_t errlen)
{
	switch (setting) {
	case LCR_SETTING_ENABLED:
		return parse_switch(setting, value, &out->enabled, err, errlen);
	case LCR_SETTING_VERBOSE:
		return parse_switch(setting, value, &out->verbose, err, errlen);
	case LCR_SETTING_RESTORE:
		return parse_restore(value, site, out, err, errlen);
	case LCR_SETTING_REPLACE:
		return parse_replace(value, &out->replace, err, errlen);
	case LCR_SETTING_DETECT_TIMEOUT:
		return parse_detect_timeout(value, site, &out->detect_timeout, err, errlen);
	case LCR_SETTING_REDUNDANCY:
		return parse_redundancy(value, &out->redundancy, err, errlen);
	case LCR_SETTING_SNAPSHOT_EVERY:
		return parse_count(setting, value, &out->snapshot_every, err, errlen);
	case LCR_SETTING_CKPT_DIR:
		return parse_ckpt_dir(value, site, owner, job_id, out->ckpt_dir, sizeof(out->ckpt_dir), err,
				      errlen);
	default:
		snprintf(err, errlen, "lcr: setting '%s' is not a user option", lcr_settings[setting].doc);
		return -EINVAL;
	}
}

int options_check_value(const char *option, const char *value, const struct lcr_site_config *site, char *err,
			size_t errlen)
{
	static const struct options_job_owner someone = { .user = "user", .home = "/home/user" };
	const struct lcr_setting_spec *spec = lcr_setting_by_option(option);
	struct lcr_user_options scratch;

	if (!spec || !spec->option_arg)
		return 0;
	return parse_option(lcr_setting_id(spec), value, site, &someone, 0, &scratch, err, errlen);
}

/* The typed value if any, else the option's LCR_* environment variable, else NULL. */
static const char *pick(const struct lcr_option_values *values, enum lcr_setting setting,
			options_getenv_fn getenv_fn, void *env_ctx)
{
	if (values->text[setting])
		return values->text[setting];
	if (getenv_fn)
		return getenv_fn(env_ctx, lcr_settings[setting].env);
	return NULL;
}

/*
 * The text of an option nobody gave: the site's checkpoint directory (expanded as a user's
 * would be), the table's default for a setting of the user's alone, or NULL where the
 * site's value is already in place.
 */
static const char *unset_value(const struct lcr_setting_spec *spec, const struct lcr_site_config *site)
{
	if (lcr_setting_id(spec) == LCR_SETTING_CKPT_DIR)
		return site->ckpt_dir;
	return spec->yaml_key ? NULL : spec->default_text;
}

/* The flag --lcr-verbose beats LCR_VERBOSE, whose bad value is named as such. */
static int resolve_verbose(const struct lcr_option_values *values, options_getenv_fn getenv_fn, void *env_ctx,
			   struct lcr_user_options *out, char *err, size_t errlen)
{
	const char *env = lcr_settings[LCR_SETTING_VERBOSE].env;
	const char *value = getenv_fn ? getenv_fn(env_ctx, env) : NULL;

	out->verbose = values->verbose;
	if (!out->verbose && value && parse_switch(LCR_SETTING_VERBOSE, value, &out->verbose, err, errlen) < 0) {
		snprintf(err, errlen, "lcr: invalid value '%s' for %s (accepted: %s)", value, env,
			 lcr_settings[LCR_SETTING_VERBOSE].accepted);
		return -EINVAL;
	}
	return 0;
}

/* Reads the option of setting from the command line, the environment or its default. */
static int resolve_option(const struct lcr_option_values *values, enum lcr_setting setting, options_getenv_fn getenv_fn,
			  void *env_ctx, const struct lcr_site_config *site, const struct options_job_owner *owner,
			  uint32_t job_id, struct lcr_user_options *out, char *err, size_t errlen)
{
	const char *value = pick(values, setting, getenv_fn, env_ctx);

	if (!value)
		value = unset_value(&lcr_settings[setting], site);
	if (!value)
		return 0;
	return parse_option(setting, value, site, owner, job_id, out, err, errlen);
}

/*
 * Options are read in --help order, the checkpoint directory last: it is read even when
 * nobody gives it (the site's pattern), so a wrong value given elsewhere is named first.
 */
int options_resolve(const struct lcr_option_values *values, options_getenv_fn getenv_fn, void *env_ctx,
		    const struct lcr_site_config *site, const struct options_job_owner *owner,
		    uint32_t job_id, struct lcr_user_options *out, char *err, size_t errlen)
{
	int rc;

	memset(out, 0, sizeof(*out));
	out->enabled = site->enabled_by_default;
	out->detect_timeout = site->detect_timeout_default;
	out->redundancy = site->redundancy_default;
	out->snapshot_every = site->snapshot_every;
	for (int rank = 1; rank <= LCR_SETTING_COUNT; rank++)
		for (size_t i = 0; i < LCR_SETTING_COUNT; i++) {
			const struct lcr_setting_spec *spec = &lcr_settings[i];

			if (spec->option_rank != rank || !spec->option_arg || i == LCR_SETTING_CKPT_DIR)
				continue;
			rc = resolve_option(values, (enum lcr_setting)i, getenv_fn, env_ctx, site, owner, job_id, out,
					    err, errlen);
			if (rc < 0)
				return rc;
		}
	rc = resolve_option(values, LCR_SETTING_CKPT_DIR, getenv_fn, env_ctx, site, owner, job_id, out, err, errlen);
	if (rc < 0)
		return rc;
	return resolve_verbose(values, getenv_fn, env_ctx, out, err, errlen);
}
