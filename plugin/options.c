/*
 * options.c: the --lcr* options registered with Slurm, and their callbacks. The options
 * are the rows of lcr_settings[] (settings.h) that have one.
 *
 * Slurm calls the option callbacks in srun/sbatch (local) and again in slurmstepd (remote)
 * with the values srun forwarded; the callbacks only store and check the text. What the
 * values mean is decided once, in option_values.c.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

/* The plugin is loaded once per process; the callbacks write into the caller's values. */
static struct lcr_option_values *registered_values;
static const struct lcr_site_config *registered_site;

static int on_option(int val, const char *optarg, int remote);

/*
 * Slurm's table: a row per setting with an option, in --help's order (option_rank). An
 * option's val is its setting's index + 1.
 */
static struct spank_option option_table[LCR_SETTING_COUNT];
static size_t option_count;

/* none, required, or optional (--lcr alone means --lcr=on). */
static int option_has_arg(const struct lcr_setting_spec *spec)
{
	if (!spec->option_arg)
		return 0;
	return spec->type == LCR_TYPE_BOOL ? 2 : 1;
}

static void build_option_table(void)
{
	if (option_count > 0)
		return;
	for (int rank = 1; rank <= LCR_SETTING_COUNT; rank++)
		for (size_t i = 0; i < LCR_SETTING_COUNT; i++) {
			const struct lcr_setting_spec *spec = &lcr_settings[i];

			if (!spec->option || spec->option_rank != rank)
				continue;
			option_table[option_count] = (struct spank_option){
				.name = (char *)spec->option,
				.arginfo = (char *)spec->option_arg,
				.usage = (char *)spec->option_help,
				.has_arg = option_has_arg(spec),
				.val = (int)i + 1,
				.cb = on_option,
			};
			option_count++;
		}
}

static void replace_string(char **slot, const char *value)
{
	free(*slot);
	*slot = value ? strdup(value) : NULL;
}

/* Where the text of a value-taking option is kept; NULL for a flag (--lcr-verbose). */
static char **option_slot(struct lcr_option_values *values, int val)
{
	const struct lcr_setting_spec *spec = &lcr_settings[val - 1];

	return spec->option_arg ? &values->text[val - 1] : NULL;
}

/*
 * Whether an optional argument was given. A bare `#SBATCH --lcr` reaches the batch
 * script's steps as the text "(null)": sbatch prints the missing argument with "%s".
 */
static bool option_value_given(const char *optarg)
{
	return optarg && optarg[0] && strcmp(optarg, "(null)") != 0;
}

static int on_option(int val, const char *optarg, int remote)
{
	char err[1024];
	char **slot;

	if (!registered_values)
		return -1;
	if (val < 1 || val > LCR_SETTING_COUNT)
		return -1;
	slot = option_slot(registered_values, val);
	if (!slot) {
		registered_values->verbose = true;
		return 0;
	}
	replace_string(slot, option_value_given(optarg) ? optarg : "on");
	if (!remote && options_check_value(lcr_settings[val - 1].option, *slot, registered_site, err,
					   sizeof(err)) < 0) {
		slurm_error("%s", err);
		return -1;
	}
	return 0;
}

int options_register(spank_t sp, struct lcr_option_values *values)
{
	size_t i;

	registered_values = values;
	build_option_table();
	for (i = 0; i < option_count; i++) {
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

	build_option_table();
	for (i = 0; i < option_count; i++) {
		char *optarg = NULL;

		if (spank_option_getopt(sp, &option_table[i], &optarg) != ESPANK_SUCCESS)
			continue;
		char **slot = option_slot(values, option_table[i].val);
		if (!slot) {
			values->verbose = true;
			continue;
		}
		if (!*slot)
			replace_string(slot, option_value_given(optarg) ? optarg : "on");
	}
	return 0;
}

void options_set_site(const struct lcr_site_config *site)
{
	registered_site = site;
}

void options_values_fini(struct lcr_option_values *values)
{
	for (size_t i = 0; i < LCR_SETTING_COUNT; i++)
		free(values->text[i]);
	memset(values, 0, sizeof(*values));
	if (registered_values == values)
		registered_values = NULL;
}
