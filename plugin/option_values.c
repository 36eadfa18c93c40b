/*
 * option_values.c: what the --lcr* values mean. Checks each value where it is parsed and
 * merges command line, LCR_* environment and site configuration into one
 * struct lcr_user_options. No Slurm calls here, so the unit tests exercise all of it.
 *
 * Nothing here is written for one option: which options there are, their LCR_* variables,
 * types, bounds, defaults and accepted values are rows of lcr_settings[] (settings.h), and
 * a value is checked and kept as the text lcrd reads by lcr_setting_canonical (settings.c).
 * Two types ask more of the plugin: a checkpoint directory pattern is expanded for the
 * step's owner and job, and it and a restore path must lie under the site's ckpt_roots.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/parse.h"
#include "options.h"

#define WHY_MAX 512

/* The value as a message shows it: at most VALUE_SHOWN_MAX - 1 bytes, so the reason fits after it. */
#define VALUE_SHOWN_MAX 256

/* "lcr: invalid value 'VALUE' for --OPTION (accepted: ...)", and -EINVAL. */
static int invalid_value(const struct lcr_setting_spec *spec, const struct lcr_setting_bounds *bounds,
			 const char *value, char *err, size_t errlen)
{
	char range[96], shown[VALUE_SHOWN_MAX];
	const char *accepted = spec->accepted;

	if (!accepted) {
		snprintf(range, sizeof(range), "%g to %g%s", bounds->min, bounds->max,
			 spec->type == LCR_TYPE_SECONDS ? " seconds" : "");
		accepted = range;
	}
	snprintf(err, errlen, "lcr: invalid value '%s' for --%s (accepted: %s)",
		 lcr_printable(value, shown, sizeof(shown)), spec->option, accepted);
	return -EINVAL;
}

/* "lcr: invalid value 'VALUE' for --OPTION: WHY", and rc. */
static int refused_value(const struct lcr_setting_spec *spec, const char *value, const char *why, int rc,
			 char *err, size_t errlen)
{
	char shown[VALUE_SHOWN_MAX];

	snprintf(err, errlen, "lcr: invalid value '%s' for --%s: %s", lcr_printable(value, shown, sizeof(shown)),
		 spec->option, why);
	return rc;
}

/* Whether value is meant as a path, whose refusal says why (the accepted list does not). */
static bool is_path(const struct lcr_setting_spec *spec, const char *value)
{
	return spec->type == LCR_TYPE_PATTERN || (spec->type == LCR_TYPE_RESTORE && value[0] == '/');
}

/*
 * The message of a value that lcr_setting_canonical refused with rc and why[WHY_MAX], and
 * its code. A path's says why first, then what is accepted unless why says it.
 */
static int refused_canonical(const struct lcr_setting_spec *spec, const struct lcr_setting_bounds *bounds,
			     const char *value, int rc, char *why, char *err, size_t errlen)
{
	if (!is_path(spec, value))
		return invalid_value(spec, bounds, value, err, errlen);
	if (rc == -ENAMETOOLONG) {
		snprintf(err, errlen, "lcr: --%s path is too long (%zu bytes)", spec->option, strlen(value));
		return rc;
	}
	if (!strstr(why, "accepted")) {
		size_t len = strlen(why);

		snprintf(why + len, WHY_MAX - len, " (accepted: %s)", spec->accepted);
	}
	return refused_value(spec, value, why, -EINVAL, err, errlen);
}

/* A checked pattern (in text) expanded in place for owner and job_id; it must be absolute. */
static int expand_pattern(const struct lcr_setting_spec *spec, const char *value,
			  const struct options_job_owner *owner, uint32_t job_id, char *text, size_t cap,
			  char *err, size_t errlen)
{
	char pattern[OPTIONS_TEXT_MAX], why[WHY_MAX] = "";
	int rc;

	snprintf(pattern, sizeof(pattern), "%s", text);
	rc = lcr_expand_ckpt_pattern(pattern, owner->user, owner->home, job_id, text, cap, why, sizeof(why));
	if (rc < 0)
		return refused_value(spec, value, why, rc, err, errlen);
	if (text[0] != '/')
		return invalid_value(spec, &spec->bounds, value, err, errlen);
	return 0;
}

/* A checkpoint directory, or a checkpoint to restore, lies under one of the site's roots
 * (as written: lcrd checks it again with every link resolved). */
static int check_under_roots(const struct lcr_setting_spec *spec, const char *value, const char *path,
			     const struct lcr_site_config *site, char *err, size_t errlen)
{
	char why[WHY_MAX] = "";
	int rc;

	if (!site || path[0] != '/')
		return 0;
	rc = lcr_path_under_roots(path, &site->ckpt_roots, why, sizeof(why));
	return rc < 0 ? refused_value(spec, value, why, rc, err, errlen) : 0;
}

/*
 * A user's switch (--lcr=X, LCR_ENABLE) as the table's "true" or "false", read by
 * lcr_setting_parse_switch as local.c reads it for --no-kill; any other value as it is.
 * NULL for a switch spelt otherwise.
 */
static const char *users_text(const struct lcr_setting_spec *spec, const char *value)
{
	bool on;

	if (spec->type != LCR_TYPE_BOOL)
		return value;
	if (lcr_setting_parse_switch(value, &on) < 0)
		return NULL;
	return on ? "true" : "false";
}

/*
 * Checks value as the setting's value and writes it into text[cap] as lcrd reads it, a
 * checkpoint directory expanded for owner and job_id. A user's value (given) is spelt as
 * a user's and lies within the site's user bounds; a default (the site's, checked when its
 * configuration was read, or the table's) is checked by its type alone.
 */
static int read_value(const struct lcr_setting_spec *spec, const char *value, bool given,
		      const struct lcr_site_config *site, const struct options_job_owner *owner, uint32_t job_id,
		      char *text, size_t cap, char *err, size_t errlen)
{
	struct lcr_setting_bounds bounds = spec->bounds;
	const char *checked = given ? users_text(spec, value) : value;
	char why[WHY_MAX] = "";
	int rc;

	if (site && given)
		lcr_site_config_user_bounds(site, spec, &bounds);
	if (!checked)
		return invalid_value(spec, &bounds, value, err, errlen);
	rc = lcr_setting_canonical(spec, checked, &bounds, text, cap, why, sizeof(why));
	if (rc < 0)
		return refused_canonical(spec, &bounds, value, rc, why, err, errlen);
	if (spec->type == LCR_TYPE_PATTERN) {
		rc = expand_pattern(spec, value, owner, job_id, text, cap, err, errlen);
		if (rc < 0)
			return rc;
	}
	if (spec->type == LCR_TYPE_PATTERN || spec->type == LCR_TYPE_RESTORE)
		return check_under_roots(spec, value, text, site, err, errlen);
	return 0;
}

int options_check_value(const char *option, const char *value, const struct lcr_site_config *site, char *err,
			size_t errlen)
{
	static const struct options_job_owner someone = { .user = "user", .home = "/home/user" };
	const struct lcr_setting_spec *spec = lcr_setting_by_option(option);
	char text[OPTIONS_TEXT_MAX];

	if (!spec || !spec->option_arg)
		return 0;
	return read_value(spec, value, true, site, &someone, 0, text, sizeof(text), err, errlen);
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

/* The value of an option nobody gave: the site's (a key of lcr.yaml), else the table's. */
static const char *unset_value(const struct lcr_setting_spec *spec, const struct lcr_site_config *site,
			       char *buf, size_t buflen)
{
	char why[WHY_MAX];

	if (spec->yaml_key && lcr_site_config_value_text(site, spec, buf, buflen, why, sizeof(why)) == 0)
		return buf;
	return spec->default_text;
}

/* The flag --lcr-verbose beats LCR_VERBOSE, whose bad value is named as such. */
static int resolve_verbose(const struct lcr_option_values *values, options_getenv_fn getenv_fn, void *env_ctx,
			   struct lcr_user_options *out, char *err, size_t errlen)
{
	const char *env = lcr_settings[LCR_SETTING_VERBOSE].env;
	const char *value = getenv_fn ? getenv_fn(env_ctx, env) : NULL;
	char shown[VALUE_SHOWN_MAX];

	out->verbose = values->verbose;
	if (!out->verbose && value && lcr_setting_parse_switch(value, &out->verbose) < 0) {
		snprintf(err, errlen, "lcr: invalid value '%s' for %s (accepted: %s)",
			 lcr_printable(value, shown, sizeof(shown)), env, lcr_settings[LCR_SETTING_VERBOSE].accepted);
		return -EINVAL;
	}
	return 0;
}

/* Reads the option of setting from the command line, the environment or its default. */
static int resolve_option(const struct lcr_option_values *values, enum lcr_setting setting, options_getenv_fn getenv_fn,
			  void *env_ctx, const struct lcr_site_config *site, const struct options_job_owner *owner,
			  uint32_t job_id, struct lcr_user_options *out, char *err, size_t errlen)
{
	const struct lcr_setting_spec *spec = &lcr_settings[setting];
	char unset[OPTIONS_TEXT_MAX];
	const char *value = pick(values, setting, getenv_fn, env_ctx);
	bool given = value != NULL;

	if (!given)
		value = unset_value(spec, site, unset, sizeof(unset));
	return read_value(spec, value, given, site, owner, job_id, out->text[setting], sizeof(out->text[setting]),
			  err, errlen);
}

/* Reads, in --help order, the options that take a value and are (or are not) patterns. */
static int resolve_in_help_order(const struct lcr_option_values *values, bool patterns, options_getenv_fn getenv_fn,
				 void *env_ctx, const struct lcr_site_config *site,
				 const struct options_job_owner *owner, uint32_t job_id, struct lcr_user_options *out,
				 char *err, size_t errlen)
{
	for (int rank = 1; rank <= LCR_SETTING_COUNT; rank++)
		for (size_t i = 0; i < LCR_SETTING_COUNT; i++) {
			const struct lcr_setting_spec *spec = &lcr_settings[i];
			int rc;

			if (spec->option_rank != rank || !spec->option_arg ||
			    (spec->type == LCR_TYPE_PATTERN) != patterns)
				continue;
			rc = resolve_option(values, (enum lcr_setting)i, getenv_fn, env_ctx, site, owner, job_id, out,
					    err, errlen);
			if (rc < 0)
				return rc;
		}
	return 0;
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
	rc = resolve_in_help_order(values, false, getenv_fn, env_ctx, site, owner, job_id, out, err, errlen);
	if (rc == 0)
		rc = resolve_in_help_order(values, true, getenv_fn, env_ctx, site, owner, job_id, out, err, errlen);
	if (rc < 0)
		return rc;
	out->enabled = strcmp(out->text[LCR_SETTING_ENABLED], "true") == 0;
	return resolve_verbose(values, getenv_fn, env_ctx, out, err, errlen);
}

void options_pass_to_lcrd(const struct lcr_user_options *options, const char *settings[LCR_SETTING_COUNT])
{
	for (size_t i = 0; i < LCR_SETTING_COUNT; i++)
		if (lcr_settings[i].option && lcr_settings[i].lcrd_arg && options->text[i][0])
			settings[i] = options->text[i];
	if (options->verbose)
		settings[LCR_SETTING_LOG_LEVEL] = "verbose";
}
