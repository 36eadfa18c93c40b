/*
 * options.h: the user's --lcr* options, as srun, sbatch, salloc and slurmstepd see them.
 *
 * Every option has three sources, strongest first: the command line (or #SBATCH line), an
 * LCR_* environment variable, and the site configuration. options_resolve() merges them
 * into one struct lcr_user_options, and every value is checked where it is parsed, so an
 * invalid value stops srun or sbatch before anything is launched. The options, their
 * variables, types, bounds, defaults and accepted values are rows of lcr_settings[]
 * (settings.h); the plugin has no code of its own for any one option.
 */
#ifndef LCR_PLUGIN_OPTIONS_H
#define LCR_PLUGIN_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <slurm/spank.h>

#include "internal/settings.h"
#include "internal/site_config.h"

/* The longest text of one option's value, a path included. */
#define OPTIONS_TEXT_MAX 4096

/*
 * The options of one srun/sbatch/step, after merging command line, environment and site.
 * Every option's value is kept as the text lcrd reads (lcr_setting_canonical), so a new
 * option needs no field here; the plugin reads only the few it acts on itself.
 */
struct lcr_user_options {
	char text[LCR_SETTING_COUNT][OPTIONS_TEXT_MAX]; /* by setting; "" without an option.
							  * The checkpoint directory expanded */
	bool enabled; /* --lcr */
	bool verbose; /* --lcr-verbose */
};

/* What the user typed, before defaults, by setting: NULL where an option was not given. */
struct lcr_option_values {
	char *text[LCR_SETTING_COUNT]; /* options that take a value */
	bool verbose;		       /* --lcr-verbose, a flag */
};

/* Register every --lcr* option with Slurm. Call from slurm_spank_init in every context. */
int options_register(spank_t sp, struct lcr_option_values *values);

/* Fill values not set yet with the options srun forwarded (slurmstepd, from user_init on). */
int options_collect(spank_t sp, struct lcr_option_values *values);

/* The site config whose bounds the option callbacks check values against. */
void options_set_site(const struct lcr_site_config *site);

/* Release the strings held in values. */
void options_values_fini(struct lcr_option_values *values);

/*
 * Merge typed values, the LCR_* environment (read through getenv_fn, which may be NULL
 * for "no environment") and the site config into out. On a bad value, writes a message
 * that names the option and the accepted values to err and returns -EINVAL.
 */
typedef const char *(*options_getenv_fn)(void *ctx, const char *name);

/* Whose step it is: the user's name (%u of the checkpoint directory) and home (%h). */
struct options_job_owner {
	const char *user;
	const char *home;
};

int options_resolve(const struct lcr_option_values *values, options_getenv_fn getenv_fn, void *env_ctx,
		    const struct lcr_site_config *site, const struct options_job_owner *owner,
		    uint32_t job_id, struct lcr_user_options *out, char *err, size_t errlen);

/*
 * Points settings[i] (lcrd --<lcrd_arg>=settings[i]) at options' text of every option that
 * lcrd gets; --lcr-verbose makes lcrd's log level verbose. Others are left as they are.
 */
void options_pass_to_lcrd(const struct lcr_user_options *options, const char *settings[LCR_SETTING_COUNT]);

/* Check one typed value; the option callbacks use it to stop srun/sbatch early. */
int options_check_value(const char *option, const char *value, const struct lcr_site_config *site, char *err,
			size_t errlen);

#endif
