/* fuzz_plugin_options.c: libFuzzer target for the plugin's option values
 * (plugin/option_values.c): each --lcr* value as srun's option callback checks it, and the
 * LCR_* environment as options_resolve merges it (in srun and, as root, in slurmstepd).
 * The input is the values of the variables below (env_input.h); each is also tried as the
 * value of its option. The site configuration has checkpoint roots, so that the roots
 * check runs. A resolved checkpoint directory must be absolute and terminated. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugin/options.h"
#include "env_input.h"

static const char *const option_variables[] = {
	"LCR_ENABLE", "LCR_RESTORE", "LCR_REPLACE", "LCR_DETECT_TIMEOUT", "LCR_CKPT_DIR",
	"LCR_VERBOSE", NULL,
};

/* The option each variable above stands for, in the same order. */
static const char *const option_names[] = {
	"lcr", "lcr-restore", "lcr-replace", "lcr-detect-timeout", "lcr-ckpt-dir", NULL,
};

static struct lcr_site_config site;
static struct lcr_user_options resolved;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	lcr_site_config_init_defaults(&site);
	if (lcr_site_config_set(&site, "ckpt_roots", "/scratch:/tmp/lcr", "fuzz", err,
				sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_plugin_options: %s\n", err);
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lcr_option_values typed = { 0 };
	struct env_input env;
	char err[512];

	env_input_init(&env, option_variables, data, size);
	for (size_t i = 0; option_names[i]; i++)
		if (env.values[i])
			(void)options_check_value(option_names[i], env.values[i], &site, err,
						  sizeof(err));
	if (options_resolve(&typed, env_input_lookup, &env, &site, "user", 42, &resolved, err,
			    sizeof(err)) == 0) {
		if (resolved.ckpt_dir[0] != '/' ||
		    strnlen(resolved.ckpt_dir, sizeof(resolved.ckpt_dir)) == sizeof(resolved.ckpt_dir)) {
			fprintf(stderr, "fuzz_plugin_options: bad checkpoint directory\n");
			abort();
		}
	}
	env_input_fini(&env);
	return 0;
}
