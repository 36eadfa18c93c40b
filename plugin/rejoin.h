/* rejoin.h: the plugin's side of a replacement step. When a node of an LCR step dies, the
 * leader lcrd starts one new step on a spare node (srun --jobid ... --lcr -- PROGRAM) with
 * LCR_REJOIN_* in its environment. Here, in that step's slurmstepd, those variables turn the
 * new step into the dead node's stand-in: its helper takes the dead node's step id, node id
 * and ranks and joins the running step's helpers (lcrd --rejoin) instead of a rendezvous,
 * and each task is renumbered to the global rank it replaces (SLURM_PROCID and friends), so
 * the program runs exactly as the lost process did. See doc/spank_lcr.8. */
#ifndef LCR_PLUGIN_REJOIN_H
#define LCR_PLUGIN_REJOIN_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <slurm/spank.h>

#define REJOIN_RANKS_MAX 1024
#define REJOIN_TEXT_MAX 4096

struct rejoin_plan {
	uint32_t step_id;    /* the step being repaired (LCR_REJOIN_STEP) */
	uint32_t node_id;    /* the node id taken over (LCR_REJOIN_NODE_ID) */
	uint32_t node_count; /* the step's node count (LCR_REJOIN_NODE_COUNT) */
	uint32_t ntasks;     /* the step's rank count (LCR_REJOIN_NTASKS) */
	uint32_t ranks[REJOIN_RANKS_MAX]; /* the global ranks taken over, by local task id */
	uint32_t rank_count;
	char ranks_text[REJOIN_TEXT_MAX]; /* LCR_REJOIN_RANKS as given: "8,9,10,11" */
	char nodes[REJOIN_TEXT_MAX];      /* the step's nodes in node-id order (LCR_REJOIN_NODES) */
	char peer[128];                   /* the live helper to join: "HOST:PORT" (LCR_REJOIN_PEER) */
	char ckpt[PATH_MAX];              /* the failure's checkpoint, "" when none (LCR_REJOIN_CKPT) */
};

/* Reads LCR_REJOIN_* from the step's environment: 0 (a replacement step, *plan filled),
 * -ENOENT (an ordinary step), or -EINVAL with err naming the variable that is wrong. */
int rejoin_read(spank_t sp, struct rejoin_plan *plan, char *err, size_t errlen);

/* The same from a plain environment lookup (for srun, and for tests). */
int rejoin_read_env(const char *(*lookup)(void *ctx, const char *name), void *ctx,
		    struct rejoin_plan *plan, char *err, size_t errlen);

/* In task_init: gives the task with local id `local_id` the identity of the rank it
 * replaces. 0, or -EINVAL / -EIO with err set. */
int rejoin_renumber_task(spank_t sp, const struct rejoin_plan *plan, uint32_t local_id, char *err,
			 size_t errlen);

#endif
