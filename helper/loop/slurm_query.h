/* slurm_query.h: the Slurm commands lcrd runs, as the job's user, when it needs the truth
 * about the allocation rather than what the step's environment says, and the readers of
 * their output: the job's nodes (squeue --jobs; a step started with `srun --jobid` from
 * outside the allocation only sees its own nodes in SLURM_JOB_NODELIST), which of them
 * Slurm considers unusable (sinfo), the job's steps on a spare node (squeue --steps: a
 * replacement step whose srun died with a former leader) and the cancelling of one of them
 * (scancel). Nothing here runs a command: command_async.h runs them from the event loop
 * (slurm_nodes.h, recovery_orphan.h), and a failure leaves the caller with what it knew. */
#ifndef LCR_HELPER_SLURM_QUERY_H
#define LCR_HELPER_SLURM_QUERY_H

#include <stddef.h>
#include <stdint.h>

/* How long the questions asked before a spare is picked wait for their command
 * (slurm_nodes.h): the recovery attempt waits for their answer. */
#define SLURM_QUERY_NODES_TIMEOUT_MS 1000
/* How long the questions about a spare's orphaned steps, and their cancelling, wait
 * (recovery_orphan.h): a loaded slurmctld may be slow, and the loop serves on meanwhile. */
#define SLURM_QUERY_ORPHAN_TIMEOUT_MS 5000
/* Room for the output of squeue --steps. */
#define SLURM_QUERY_STEPS_OUT_MAX 8192

/* A Slurm command's argv, with room for the values it names. */
struct slurm_query_command {
	char *argv[8];
	char value[48];
};

/* The command that asks for the job's node list (squeue --jobs), into c. */
void slurm_query_job_nodes_command(struct slurm_query_command *c, uint32_t job_id);

/* Whether out, that command's output, is one node list (a hostlist such as "n[1-5]"): 0,
 * or -ENODATA with err set. */
int slurm_query_read_job_nodes(const char *out, uint32_t job_id, char *err, size_t errlen);

/* The command that asks which of `nodes` (a hostlist) Slurm reports down, drained,
 * draining, failing or not responding (sinfo), into c; nodes must outlive c. */
void slurm_query_unusable_command(struct slurm_query_command *c, const char *nodes);

/* That command's output (one node a line) made a comma-separated list, in place ("" when
 * none). */
void slurm_query_read_unusable(char *out);

/* The command that lists the job's steps and their nodes (squeue --steps: "JOB.STEP
 * NODES"), into c. */
void slurm_query_steps_command(struct slurm_query_command *c, uint32_t job_id);

/* Reads that command's output (modified in place): the numbered steps of job job_id (not
 * its batch, extern or interactive step), other than except_step, that run on node alone,
 * at most cap ids into steps[], their number into *count (0 when none). */
void slurm_query_read_steps(char *out, uint32_t job_id, uint32_t except_step, const char *node,
			    uint32_t *steps, size_t cap, size_t *count);

/* The command that cancels step JOB.STEP (scancel --quiet JOB.STEP), into c. */
void slurm_query_cancel_command(struct slurm_query_command *c, uint32_t job_id,
				uint32_t step_id);

#endif
