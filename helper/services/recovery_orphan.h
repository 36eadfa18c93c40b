/* recovery_orphan.h: the spares on which a former leader launched a replacement that never
 * joined. That replacement's srun ran on the former leader's node and died with it; a step
 * it had started on the spare may still run there, and knows no address but the dead
 * leader's, so it can never join. The helper that leads after it hands each such spare to
 * this module (recovery.c, take_over), which asks Slurm for the job's steps on it
 * (slurm_query.h) and, keeping the spare out of use until the answer comes:
 *   - cancels them (scancel JOB.STEP) and keeps the spare out of use until Slurm lists none
 *     of them there (asked every RECOVERY_ORPHAN_POLL_MS, for at most wait_ms): then it is
 *     a spare like the others again; one whose step outlives the wait is not used;
 *   - finds none (the srun died before its step was created): a spare like the others;
 *   - cannot ask Slurm: the spare is tried after every other, as a step there cannot join.
 * So two replacements never run on one spare while Slurm can be asked. Nothing here
 * blocks the caller's loop: each squeue and scancel runs as a command_async.h, one at a
 * time per spare, and its answer is handled on the loop when it comes. */
#ifndef LCR_HELPER_RECOVERY_ORPHAN_H
#define LCR_HELPER_RECOVERY_ORPHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal/hostlist.h"
#include "loop/command_async.h"
#include "loop/loop.h"

#define RECOVERY_ORPHAN_POLL_MS 1000
#define RECOVERY_ORPHAN_STEPS_MAX 8

enum recovery_orphan_state {
	RECOVERY_ORPHAN_ASKING,     /* Slurm is asked for the job's steps there: not used yet */
	RECOVERY_ORPHAN_UNKNOWN,    /* Slurm could not be asked: tried after every other spare */
	RECOVERY_ORPHAN_CANCELLING, /* its steps are cancelled, and Slurm still lists one */
};

/* A spare of a former leader's unfinished attempt that is not yet a spare like the others. */
struct recovery_orphan {
	char spare[HOSTLIST_NAME_MAX + 1];
	enum recovery_orphan_state state;
	uint32_t steps[RECOVERY_ORPHAN_STEPS_MAX]; /* the steps cancelled there */
	size_t step_count;
	size_t cancels_run;                        /* CANCELLING: steps scancel was run for */
	bool cancelled;                            /* CANCELLING: scancel ran for every step */
	uint64_t deadline_ms;                      /* CANCELLING: given up after it */
	struct command_async *command;             /* its one Slurm command running, or NULL */
};

/* Slurm's answer about a spare is in: usable (no step there, or its cancelled steps are
 * gone: out of the list; or Slurm could not be asked: listed, tried last) or not (a
 * cancelled step outlived the wait: out of the list). Called from the loop. */
typedef void (*recovery_orphans_settled_cb)(void *arg, const char *spare, bool usable);

struct recovery_orphans {
	struct loop *loop;
	uint32_t job_id, step_id; /* this step's own id: never cancelled */
	uint32_t wait_ms;
	struct recovery_orphan *list;
	size_t count, cap;
	uint64_t poll_timer;
	recovery_orphans_settled_cb settled;
	void *arg;
};

void recovery_orphans_init(struct recovery_orphans *o, struct loop *loop, uint32_t job_id,
			   uint32_t step_id, uint32_t wait_ms, recovery_orphans_settled_cb settled,
			   void *arg);

/* spare was named by an unfinished attempt of a former leader: starts asking Slurm for its
 * steps (the spare is busy until the answer), then cancels them (or lists it UNKNOWN),
 * logging what it found and did. A spare listed already is left as it is. */
void recovery_orphans_add(struct recovery_orphans *o, const char *spare);

/* Whether spare may not be used now (Slurm is being asked about it, or its cancelled step
 * is still listed). */
bool recovery_orphans_busy(const struct recovery_orphans *o, const char *spare);

/* Whether spare is tried only after every other (Slurm could not tell what runs there). */
bool recovery_orphans_tried_last(const struct recovery_orphans *o, const char *spare);

/* How many spares are busy: asked about, or waiting for their cancelled steps to end. */
size_t recovery_orphans_busy_count(const struct recovery_orphans *o);

/* Forgets every spare (this helper no longer leads; whoever leads asks again) and stops
 * asking: a Slurm command still running is killed and reaped. The list's memory stays for
 * reuse. */
void recovery_orphans_clear(struct recovery_orphans *o);

void recovery_orphans_fini(struct recovery_orphans *o);

#endif
