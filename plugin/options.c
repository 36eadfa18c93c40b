/*
 * options.c: the --lcr* option table registered with Slurm, and its callbacks.
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

enum option_id { OPT_LCR = 1, OPT_CKPT_DIR, OPT_RESTORE, OPT_REPLACE, OPT_DETECT_TIMEOUT, OPT_VERBOSE };

/* The plugin is loaded once per process; the callbacks write into the caller's values. */
static struct lcr_option_values *registered_values;
static const struct lcr_site_config *registered_site;

static int on_option(int val, const char *optarg, int remote);

static struct spank_option option_table[] = {
	{ "lcr", "on|off", "[lcr] Protect this job step with LCR (checkpoint recovery); implies --no-kill.", 2,
	  OPT_LCR, on_option },
	{ "lcr-ckpt-dir", "PATH", "[lcr] Directory for LCR's just-in-time checkpoints (%u user, %j job id).", 1,
	  OPT_CKPT_DIR, on_option },
	{ "lcr-restore", "auto|never|PATH", "[lcr] Restore state from the newest checkpoint, none, or PATH.", 1,
	  OPT_RESTORE, on_option },
	{ "lcr-replace", "spare|none", "[lcr] Replace a dead node by a spare node of the job, or not.", 1,
	  OPT_REPLACE, on_option },
	{ "lcr-detect-timeout", "SECONDS", "[lcr] Declare a silent node dead after SECONDS.", 1,
	  OPT_DETECT_TIMEOUT, on_option },
	{ "lcr-verbose", NULL, "[lcr] Print LCR's progress messages.", 0, OPT_VERBOSE, on_option },
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
	if (val == OPT_VERBOSE) {
		registered_values->verbose = true;
		return 0;
	}
	slot = option_slot(registered_values, val);
	if (!slot)
		return -1;
	replace_string(slot, option_value_given(optarg) ? optarg : "on");
	if (!remote && options_check_value(option_name(val), *slot, registered_site, err, sizeof(err)) < 0) {
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
	free(values->lcr);
	free(values->ckpt_dir);
	free(values->restore);
	free(values->replace);
	free(values->detect_timeout);
	memset(values, 0, sizeof(*values));
	if (registered_values == values)
		registered_values = NULL;
}
