/*
 * option_values.c: what the --lcr* values mean. Checks each value where it is parsed and
 * merges command line, LCR_* environment and site configuration into one
 * struct lcr_user_options. No Slurm calls here, so the unit tests exercise all of it.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/parse.h"
#include "options.h"

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

int options_check_value(const char *option, const char *value, const struct lcr_site_config *site, char *err,
			size_t errlen)
{
	static const struct options_job_owner someone = { .user = "user", .home = "/home/user" };
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
		return parse_detect_timeout(value, site, &scratch.detect_timeout, err, errlen);
	if (strcmp(option, "lcr-ckpt-dir") == 0)
		return parse_ckpt_dir(value, site, &someone, 0, path, sizeof(path), err, errlen);
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
		    const struct lcr_site_config *site, const struct options_job_owner *owner,
		    uint32_t job_id, struct lcr_user_options *out, char *err, size_t errlen)
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
	rc = parse_ckpt_dir(value ? value : site->ckpt_dir, site, owner, job_id, out->ckpt_dir,
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
