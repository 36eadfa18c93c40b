/* slurm_nodes.h: the job's nodes and those of them Slurm considers unusable, asked from
 * lcrd's event loop without blocking it, before a leader picks a spare: squeue --jobs, then
 * sinfo on the node list it printed (or on the caller's own list when squeue could not
 * tell), each run as a command_async.h bounded by SLURM_QUERY_NODES_TIMEOUT_MS, their output read
 * by slurm_query.h. One question at a time; the answer comes through a callback on the
 * loop, never from within slurm_nodes_ask. */
#ifndef LCR_HELPER_SLURM_NODES_H
#define LCR_HELPER_SLURM_NODES_H

#include <stdbool.h>
#include <stdint.h>

#include "loop/command_async.h"
#include "loop/loop.h"

#define SLURM_NODES_TEXT_MAX 4096

/* The answer: job_nodes is Slurm's node list for the job, or NULL with job_err saying why
 * it could not be had; unusable is the comma-separated list sinfo printed ("" for none),
 * or NULL when sinfo could not be asked. */
typedef void (*slurm_nodes_cb)(void *arg, const char *job_nodes, const char *job_err,
			       const char *unusable);

struct slurm_nodes {
	struct loop *loop;
	uint32_t job_id;
	slurm_nodes_cb answered;
	void *arg;
	struct command_async *command; /* squeue or sinfo running, or NULL */
	uint64_t deliver_timer;        /* an answer had without a command, told from the loop */
	bool asking;
	bool have_job_nodes;           /* squeue answered with a node list */
	char job_nodes[SLURM_NODES_TEXT_MAX]; /* Slurm's list, else the caller's fallback */
	char job_err[256];
	bool have_unusable;
	char unusable[SLURM_NODES_TEXT_MAX];
};

void slurm_nodes_init(struct slurm_nodes *s, struct loop *loop, uint32_t job_id,
		      slurm_nodes_cb answered, void *arg);

/* Starts asking, unless a question runs already: sinfo gets Slurm's node list, or
 * fallback (the nodes the caller knows; NULL or "": sinfo is not asked) when squeue could
 * not tell. */
void slurm_nodes_ask(struct slurm_nodes *s, const char *fallback);

/* Whether a question runs (its answer has not come yet). */
bool slurm_nodes_asking(const struct slurm_nodes *s);

/* Stops asking: a command still running is killed and reaped; no answer comes. */
void slurm_nodes_cancel(struct slurm_nodes *s);

#endif
