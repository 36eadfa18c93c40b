/*
 * dispatch.c: the SPANK entry points of spank_lcr.so.
 *
 * Each hook reads the site configuration once (slurm_spank_init), registers the --lcr*
 * options in every context, and hands over to the code for the context it runs in:
 * local.c for srun/sbatch/salloc, remote.c for slurmstepd. Hooks of other contexts
 * return at once. Every message starts with "lcr: ".
 */
#include "config.h"

#include <string.h>

#include <slurm/slurm_version.h>
#include <slurm/spank.h>

#include "plugin.h"

SPANK_PLUGIN(lcr, 1);

#if SLURM_VERSION_NUMBER >= SLURM_VERSION_NUM(25, 5, 0)
/* What Slurm 25.05 and later do when slurm_spank_init fails in slurmstepd: fail the job, not
 * drain the node (their default). LCR's init fails there only for a site configuration it
 * cannot read, which is no fault of the node. */
int slurm_spank_init_failure_mode = ESPANK_JOB_FAILURE;
#endif

static struct plugin_state state;

static int load_site_config(int argc, char **argv)
{
	char err[PLUGIN_ERROR_MAX];

	lcr_site_config_init_defaults(&state.site);
	if (lcr_site_config_from_plugstack(&state.site, argc, argv, err, sizeof(err)) < 0) {
		slurm_error("%s", err);
		return -1;
	}
	options_set_site(&state.site);
	return 0;
}

int slurm_spank_init(spank_t sp, int argc, char **argv)
{
	spank_context_t context = spank_context();

	if (context != S_CTX_LOCAL && context != S_CTX_ALLOCATOR && context != S_CTX_REMOTE)
		return 0;
	state.helper.pid = -1;
	state.helper.channel_fd = -1;
	state.helper.pidfd = -1;
	if (load_site_config(argc, argv) < 0)
		return -1;
	if (options_register(sp, &state.typed) < 0)
		return -1;
	if (context == S_CTX_REMOTE)
		return 0;
	return local_init(&state, context);
}

int slurm_spank_init_post_opt(spank_t sp, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	switch (spank_context()) {
	case S_CTX_LOCAL:
	case S_CTX_ALLOCATOR:
		return local_init_post_opt(&state, sp);
	case S_CTX_REMOTE:
		return remote_init_post_opt(&state, sp);
	default:
		return 0;
	}
}

int slurm_spank_local_user_init(spank_t sp, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (spank_context() != S_CTX_LOCAL)
		return 0;
	return local_user_init(&state, sp);
}

int slurm_spank_user_init(spank_t sp, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (!spank_remote(sp))
		return 0;
	return remote_user_init(&state, sp);
}

int slurm_spank_task_init(spank_t sp, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (!spank_remote(sp))
		return 0;
	return remote_task_init(&state, sp);
}

int slurm_spank_task_post_fork(spank_t sp, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (!spank_remote(sp))
		return 0;
	return remote_task_post_fork(&state, sp);
}

int slurm_spank_task_exit(spank_t sp, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (!spank_remote(sp))
		return 0;
	return remote_task_exit(&state, sp);
}

int slurm_spank_exit(spank_t sp, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (spank_context() == S_CTX_REMOTE)
		remote_exit(&state, sp);
	options_values_fini(&state.typed);
	lcr_site_config_fini(&state.site);
	return 0;
}
