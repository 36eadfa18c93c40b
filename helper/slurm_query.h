/* slurm_query.h: what lcrd asks Slurm itself, as the job's user, when it needs the truth
 * about the allocation rather than what the step's environment says: the job's nodes (a
 * step started with `srun --jobid` from outside the allocation only sees its own nodes in
 * SLURM_JOB_NODELIST), which of them Slurm considers unusable, and the job's steps on a
 * spare node (a replacement step whose srun died with a former leader), which it may
 * cancel. Each query runs a Slurm command (squeue, sinfo, scancel) with a bounded wait; a
 * failure leaves the caller with what it knew. The functions below wait for the command:
 * for callers that do not run on lcrd's event loop, or not during a recovery. On the loop,
 * the same commands (slurm_query_*_command) run with command_async.h and their output is
 * read here (slurm_query_read_steps). */
#ifndef LCR_HELPER_SLURM_QUERY_H
#define LCR_HELPER_SLURM_QUERY_H

#include <stddef.h>
#include <stdint.h>

/* How long a query that blocks its caller waits for its command. */
#define SLURM_QUERY_TIMEOUT_MS 1000
/* How long a query run off the loop's path (command_async.h) waits: a loaded slurmctld may
 * be slow, and the loop serves on meanwhile. */
#define SLURM_QUERY_ASYNC_TIMEOUT_MS 5000
/* Room for the output of squeue --steps. */
#define SLURM_QUERY_STEPS_OUT_MAX 8192

/* A Slurm command's argv, with room for the values it names. */
struct slurm_query_command {
	char *argv[8];
	char value[48];
};

/* The job's node list as Slurm has it (a hostlist such as "n[1-5]"), into out[cap].
 * 0, or -errno with err set (squeue missing, timed out, failed, or printed nothing). */
int slurm_query_job_nodes(uint32_t job_id, char *out, size_t cap, char *err, size_t errlen);

/* The command slurm_query_job_nodes runs (squeue --jobs), into c. */
void slurm_query_job_nodes_command(struct slurm_query_command *c, uint32_t job_id);

/* Whether out, that command's output, is one node list: 0, or -ENODATA with err set. */
int slurm_query_read_job_nodes(const char *out, uint32_t job_id, char *err, size_t errlen);

/* Those of `nodes` (a hostlist) that Slurm reports down, drained, draining, failing or not
 * responding, as a comma-separated list into out[cap] ("" when none). 0 or -errno. */
int slurm_query_unusable_nodes(const char *nodes, char *out, size_t cap, char *err, size_t errlen);

/* The command slurm_query_unusable_nodes runs (sinfo), into c; nodes must outlive c. */
void slurm_query_unusable_command(struct slurm_query_command *c, const char *nodes);

/* That command's output made a comma-separated list, in place. */
void slurm_query_read_unusable(char *out);

/* The numbered steps of job job_id (not its batch, extern or interactive step), other than
 * except_step, that run on node alone (squeue --steps: "JOB.STEP NODES"), at most cap ids
 * into steps[], their number into *count. 0 (none is 0 with *count 0), or -errno with err
 * set (squeue missing, timed out or failed: whether a step runs there is unknown). */
int slurm_query_steps_on_node(uint32_t job_id, uint32_t except_step, const char *node,
			      uint32_t *steps, size_t cap, size_t *count, char *err, size_t errlen);

/* The command slurm_query_steps_on_node runs (squeue --steps), into c. */
void slurm_query_steps_command(struct slurm_query_command *c, uint32_t job_id);

/* Reads the output of slurm_query_steps_command (modified in place) as
 * slurm_query_steps_on_node does: the steps of job_id but except_step that run on node
 * alone, at most cap into steps[], their number into *count. */
void slurm_query_read_steps(char *out, uint32_t job_id, uint32_t except_step, const char *node,
			    uint32_t *steps, size_t cap, size_t *count);

/* The command slurm_query_cancel_step runs (scancel --quiet JOB.STEP), into c. */
void slurm_query_cancel_command(struct slurm_query_command *c, uint32_t job_id,
				uint32_t step_id);

/* Cancels step JOB.STEP (scancel --quiet), waiting a bounded time for scancel itself, not
 * for the step's end. 0, or -errno with err set. */
int slurm_query_cancel_step(uint32_t job_id, uint32_t step_id, char *err, size_t errlen);

/* Runs argv[0] (searched in PATH) with argv, stdout captured into out[cap] (NUL-terminated,
 * trailing newlines removed), stderr discarded, killed after timeout_ms. 0 when it exited 0;
 * -ETIMEDOUT, -ENOENT (not found), -EIO (non-zero exit) or -errno, with err set. */
int slurm_query_run(char *const argv[], int timeout_ms, char *out, size_t cap, char *err, size_t errlen);

#endif
