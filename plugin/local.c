/*
 * local.c: the plugin in srun, sbatch and salloc.
 *
 * Three jobs here. First, --lcr must imply --no-kill, or Slurm kills every task of the step
 * (or the whole job) when it marks a dead node down, after LCR has already recovered. The
 * option callbacks run too late for that (srun, sbatch and salloc read their *_NO_KILL
 * variable before), so slurm_spank_init looks for --lcr on the command line, in the
 * #SBATCH lines of a batch script, in what a batch step inherits, in LCR_ENABLE and in
 * the site default, and sets the variable. Second, after the options are parsed, every
 * value (typed or from LCR_* variables) is checked, so a bad one stops the command before
 * anything is launched. Third, in srun, once the step exists, its rendezvous is started
 * (rendezvous.c) so that the step's helpers can find each other.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/settings.h"
#include "plugin.h"
#include "rendezvous.h"
#include "srun_cmdline.h"

/* What sbatch passes to the steps of a batch script for `#SBATCH --lcr[=X]`. */
#define INHERITED_LCR_OPTION "SLURM_SPANK__SLURM_SPANK_OPTION_lcr_lcr"

/* The text of `--lcr[=X]` as options.c keeps it: a bare or empty --lcr is "on". */
static char *lcr_option_text(const char *value)
{
	return strdup(value && value[0] ? value : "on");
}

/* The --lcr value of an `#SBATCH` line in the batch script, or NULL. */
static char *batch_script_lcr_value(const char *path)
{
	char line[4096], *found = NULL;
	FILE *script = fopen(path, "re");

	if (!script)
		return NULL;
	while (fgets(line, sizeof(line), script)) {
		char *token, *save = NULL;

		if (line[0] != '#' && line[0] != '\n')
			break;
		if (strncmp(line, "#SBATCH", 7) != 0)
			continue;
		for (token = strtok_r(line + 7, " \t\n", &save); token; token = strtok_r(NULL, " \t\n", &save)) {
			if (token[0] == '#')
				break;
			if (strcmp(token, "--lcr") == 0 || strncmp(token, "--lcr=", 6) == 0) {
				free(found);
				found = lcr_option_text(token[5] == '=' ? token + 6 : NULL);
			}
		}
	}
	fclose(script);
	return found;
}

/* Is LCR wanted for what this srun/sbatch/salloc launches? NULL means "not asked". */
static char *requested_lcr_value(const struct plugin_state *state, spank_context_t context)
{
	char **argv;
	const char *value;
	char *result = NULL;
	int argc = 0;

	argv = srun_cmdline_read_self(&argc);
	if (argv) {
		value = srun_cmdline_lcr_value(argc, argv);
		if (value)
			result = lcr_option_text(value);
		else if (context == S_CTX_ALLOCATOR && srun_cmdline_first_operand(argc, argv))
			result = batch_script_lcr_value(srun_cmdline_first_operand(argc, argv));
		free(argv);
	}
	if (!result && (value = getenv(INHERITED_LCR_OPTION)))
		result = strdup(value[0] && strcmp(value, "(null)") != 0 ? value : "on");
	if (!result && (value = getenv("LCR_ENABLE")))
		result = strdup(value);
	if (!result && state->site.enabled_by_default)
		result = strdup("on");
	return result;
}

static const char *no_kill_variable(void)
{
	const char *program = program_invocation_short_name;

	if (strcmp(program, "sbatch") == 0)
		return "SBATCH_NO_KILL";
	if (strcmp(program, "salloc") == 0)
		return "SALLOC_NO_KILL";
	return "SLURM_NO_KILL";
}

int local_init(struct plugin_state *state, spank_context_t context)
{
	char *value = requested_lcr_value(state, context);
	const char *variable = no_kill_variable();
	bool on = false;

	/*
	 * Read as the options are (a value they refuse stops the command after this). srun
	 * accepts only "set" or an empty value: "1" or "yes" make it abort.
	 */
	if (value && lcr_setting_parse_switch(value, &on) == 0 && on && !getenv(variable))
		setenv(variable, "set", 1);
	free(value);
	return 0;
}

static const char *environment_lookup(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

int local_init_post_opt(struct plugin_state *state, spank_t sp)
{
	char err[PLUGIN_ERROR_MAX];
	const char *user = getenv("USER"), *home = getenv("HOME");
	struct options_job_owner owner = { .user = user ? user : "user", .home = home ? home : "/" };
	uint32_t job_id = getenv("SLURM_JOB_ID") ? (uint32_t)strtoul(getenv("SLURM_JOB_ID"), NULL, 10) : 0;
	int rc;

	(void)sp;
	rc = options_resolve(&state->typed, environment_lookup, NULL, &state->site, &owner, job_id,
			     &state->options, err, sizeof(err));
	if (rc < 0) {
		slurm_error("%s", err);
		return -1;
	}
	state->active = state->options.enabled;
	return 0;
}

int local_user_init(struct plugin_state *state, spank_t sp)
{
	char err[PLUGIN_ERROR_MAX];
	uint32_t job_id, step_id;
	const char *level = state->options.verbose ? "verbose" : lcr_log_level_name(state->site.log_level);

	if (!state->active)
		return 0;
	/* A replacement step (rejoin.h) joins the running step's helpers: no rendezvous. */
	if (getenv("LCR_REJOIN_PEER") && *getenv("LCR_REJOIN_PEER"))
		return 0;
	if (spank_get_item(sp, S_JOB_ID, &job_id) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_STEPID, &step_id) != ESPANK_SUCCESS) {
		snprintf(err, sizeof(err), "lcr: cannot read the step's job and step id in srun");
	} else if (rendezvous_start(&state->site, job_id, step_id, level, err, sizeof(err)) == 0) {
		return 0;
	}
	if (state->site.required) {
		slurm_error("%s; LCR is required on this cluster", err);
		return -1;
	}
	slurm_error("%s; the step runs without failure detection across its nodes", err);
	return 0;
}
