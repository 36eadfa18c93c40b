/* trainer.h: what the demo trainer's files share (trainer.c: options, state, the loop and
 * recovery; sharded_step.c: the update and the checkpoint of the sharded modes): the
 * trainer's state and its collectives, which read the helper's events and try again
 * while the only news is not a failure. */
#ifndef LCR_DEMO_TRAINER_H
#define LCR_DEMO_TRAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lcr.h"
#include "lcr_comm.h"
#include "mlp.h"
#include "sharding.h"

struct trainer_options {
	enum shard_mode shard;
	uint64_t steps;
	uint64_t seed;
	uint32_t batch;
	size_t state_bytes;
	size_t ballast_bytes;
	float lr;
	int print_every_ms;
	uint32_t rank;
	uint32_t size;
	uint64_t epoch;
	const char *without_lcr; /* rendezvous directory of a run without LCR, or NULL */
	const char *rendezvous_dir;
	bool checkpoint_signal; /* SIGUSR1 asks the helper for a checkpoint */
	double recovery_wait;   /* seconds to stay paused after a failure */
	bool linger;            /* stay paused all of recovery_wait, even after a checkpoint */
	const char *save_dir;   /* baseline: periodic checkpoints go there, or NULL */
	uint64_t save_every;    /* baseline: steps between two periodic checkpoints */
	const char *load_dir;   /* baseline: start from the checkpoint there, or NULL */
	bool stop_at_set;       /* --stop-at: rank stop_rank stops itself before step stop_step */
	uint32_t stop_rank;
	uint64_t stop_step;
};

struct trainer {
	struct trainer_options opt;
	struct mlp_shape shape;
	size_t params;
	struct shard_slice own; /* the parameters this rank updates (all of them: replicated) */
	lcr_session_t *session;
	lcr_comm_t *comm;
	struct lcr_comm_options comm_opt;
	uint64_t epoch; /* the epoch of the last communicator build tried */
	bool built;     /* a build and the agreement on the first step succeeded */
	bool update_refused; /* the last step failed at trainer_update_begin, not a collective */
	float *weights, *adam_m, *adam_v; /* the state: whole or this rank's slice (--shard) */
	float *grad;                      /* params + 2: the gradient, the loss, a checkpoint wish */
	float *full, *next_m, *next_v;    /* sharded: scratch for the whole weights and new moments */
	void *ballast; /* baseline with periodic checkpoints only: plain memory */
	uint64_t first_step;
};

/* Sums buf over the ranks / copies root's buf to every rank / waits for every rank. A
 * waiting helper event is read first (-ECANCELED from the communicator: nothing was
 * exchanged yet), and the collective is tried again unless the event was a failure
 * (-ECONNABORTED). 0 or a negative errno. */
int trainer_allreduce(struct trainer *t, void *buf, size_t count, enum lcr_dtype dtype);
int trainer_broadcast(struct trainer *t, void *buf, size_t bytes, uint32_t root);
int trainer_barrier(struct trainer *t);

/* Marks the update of `step` begun (nothing to mark without a helper): 0, or
 * lcr_update_begin's error, printed with lcr_last_error and t->update_refused set; the
 * caller must not write the regions then. -EINPROGRESS (the helpers are rolling the regions
 * back) and -ESTALE (they did, and this rank has not asked lcr_resume_step since) make the
 * trainer wait for the join and go on after lcr_resume_step's step, as after a failed
 * exchange; another error stops it. */
int trainer_update_begin(struct trainer *t, uint64_t step);

/* --- sharded_step.c: --shard=zero1 and --shard=none --- */

/* none: the whole weights of this step, gathered from their owners into t->full. */
int sharded_gather_weights(struct trainer *t);

/* The update of `step` with the averaged gradient in t->grad: this rank's slice is updated
 * in scratch memory, zero1 gathers the new weight slices, and only then is the update
 * marked and copied into the regions. 0, or a collective's or trainer_update_begin's error
 * (the regions then hold the last committed step, or the one the helpers rolled back to). */
int sharded_update(struct trainer *t, uint64_t step);

/* After every rank committed `step`: a barrier, then every rank asks the helper for a
 * checkpoint and waits until it is saved, so that every shard is read at that step. A
 * refused checkpoint is printed and training goes on. 0, or the barrier's error. */
int sharded_checkpoint_together(struct trainer *t, uint64_t step);

/* Prints the final line of a sharded run (trainer.c's top comment): 0, or 75 when the
 * exchange of the state hashes failed. */
int sharded_final_line(struct trainer *t, double steps_per_second);

#endif
