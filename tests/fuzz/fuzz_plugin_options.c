/* fuzz_plugin_options.c: libFuzzer target for the plugin's option values
 * (plugin/option_values.c): each --lcr* value as srun's option callback checks it, and the
 * LCR_* environment as options_resolve merges it (in srun and, as root, in slurmstepd).
 * The input is the values of the variables below (env_input.h); each is also tried as the
 * value of its option. The site configuration has checkpoint roots: a resolved checkpoint
 * directory must be absolute, terminated and, read component by component here
 * independently of common/parse.c, inside one of them (no '..' anywhere). */
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

#define ROOTS "/scratch:/tmp/lcr:/home"
static const char *const roots[] = { "/scratch", "/tmp/lcr", "/home", NULL };

static const struct options_job_owner owner = { .user = "user", .home = "/home/user" };
static struct lcr_site_config site;
static struct lcr_user_options resolved;

static void fail(const char *what, const char *path)
{
	fprintf(stderr, "fuzz_plugin_options: %s: '%s'\n", what, path);
	abort();
}

/* path without empty and '.' components into out[cap]; aborts on a '..' component. */
static void collapse(const char *path, char *out, size_t cap)
{
	size_t used = 0;

	for (const char *p = path; *p;) {
		size_t len;

		while (*p == '/')
			p++;
		len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.')
			fail("a checkpoint directory with '..' was accepted", path);
		if (len > 0 && !(len == 1 && p[0] == '.')) {
			if (used + 1 + len >= cap)
				fail("a collapsed checkpoint directory is longer than the path", path);
			out[used++] = '/';
			memcpy(out + used, p, len);
			used += len;
		}
		p += len;
	}
	out[used] = '\0';
}

static void check_ckpt_dir(const char *path)
{
	char collapsed[OPTIONS_TEXT_MAX];

	if (path[0] != '/' || strnlen(path, OPTIONS_TEXT_MAX) == OPTIONS_TEXT_MAX)
		fail("a checkpoint directory is not an absolute path", path);
	collapse(path, collapsed, sizeof(collapsed));
	for (size_t i = 0; roots[i]; i++) {
		size_t len = strlen(roots[i]);

		if (strncmp(collapsed, roots[i], len) == 0 &&
		    (collapsed[len] == '/' || collapsed[len] == '\0'))
			return;
	}
	fail("a checkpoint directory outside the roots was accepted", path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	lcr_site_config_init_defaults(&site);
	if (lcr_site_config_set(&site, "ckpt_roots", ROOTS, "fuzz", err,
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
	if (options_resolve(&typed, env_input_lookup, &env, &site, &owner, 42, &resolved, err,
			    sizeof(err)) == 0)
		check_ckpt_dir(resolved.text[LCR_SETTING_CKPT_DIR]);
	env_input_fini(&env);
	return 0;
}
