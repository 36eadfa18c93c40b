/*
 * plugin.h: the state spank_lcr.so keeps in the process that loaded it (srun, sbatch,
 * salloc or slurmstepd), and the entry points of the per-context files.
 *
 * SPANK loads the plugin once per process and calls its hooks one at a time, so the
 * state is one static struct owned by dispatch.c and passed to every context's code.
 */
#ifndef LCR_PLUGIN_H
#define LCR_PLUGIN_H

#include <stdbool.h>
#include <sys/types.h>

#include <slurm/spank.h>

#include "helper_launch.h"
#include "internal/site_config.h"
#include "options.h"
#include "rejoin.h"

#define PLUGIN_ERROR_MAX 1024

struct plugin_state {
	struct lcr_site_config site;
	struct lcr_option_values typed;   /* what the user typed, from the option callbacks */
	struct lcr_user_options options;  /* merged with environment and site defaults */
	bool active;                      /* LCR runs for this step on this node */
	/* slurmstepd only */
	struct helper_handle helper;
	int user_init_status;             /* kept for task_init: a failed user_init does not fail a step */
	bool rejoining;                   /* this step replaces a dead node of a running step */
	bool helper_given_up;             /* it did not read its channel in time: killed (helper_channel.c) */
	uint32_t tasks_exited;            /* local tasks whose exit was collected */
	struct rejoin_plan rejoin;        /* then: whom it replaces (rejoin.h) */
	char user_init_error[PLUGIN_ERROR_MAX];
};

/* srun, sbatch, salloc: --lcr implies --no-kill, and option values are checked early. */
int local_init(struct plugin_state *state, spank_context_t context);
int local_init_post_opt(struct plugin_state *state, spank_t sp);
/* srun only, once the step exists: start its rendezvous (see rendezvous.h). */
int local_user_init(struct plugin_state *state, spank_t sp);

/* slurmstepd: the helper's lifecycle on this node for this step. */
int remote_init_post_opt(struct plugin_state *state, spank_t sp);
int remote_user_init(struct plugin_state *state, spank_t sp);
int remote_task_init(struct plugin_state *state, spank_t sp);
int remote_task_post_fork(struct plugin_state *state, spank_t sp);
int remote_task_exit(struct plugin_state *state, spank_t sp);
int remote_exit(struct plugin_state *state, spank_t sp);

#endif
