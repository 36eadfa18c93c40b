/* baseline_ckpt.h: the demo trainer's periodic checkpoint file, the conventional way to
 * survive a failure that contrib/bench/recovery.sh compares LCR with (see baseline_ckpt.c
 * for the file's layout). */
#ifndef LCR_DEMO_BASELINE_CKPT_H
#define LCR_DEMO_BASELINE_CKPT_H

#include <stddef.h>
#include <stdint.h>

#define BASELINE_CKPT_MAX_PARTS 4

/* What a checkpoint holds and must match: the state's parts in file order (weights, Adam's
 * m and v, then the ballast if any), and what they were made with. */
struct baseline_state {
	void *part[BASELINE_CKPT_MAX_PARTS];
	size_t bytes[BASELINE_CKPT_MAX_PARTS];
	size_t count;
	uint32_t rank;          /* for messages */
	uint64_t seed;
	uint64_t params;
	uint64_t ballast_bytes; /* 0 when the ballast is not saved */
};

/* Saves the state of `step` to DIR/checkpoint: written to DIR/checkpoint.tmp, fsync'ed,
 * renamed, the directory fsync'ed; a reader finds the previous checkpoint or this one,
 * never a partial one. 0, or 1 (the trainer's exit status) with a message on stderr. */
int baseline_ckpt_save(const char *dir, const struct baseline_state *s, uint64_t step);

/* Fills the state from DIR/checkpoint when there is one and sets *first_step to the step
 * after it (left alone when there is none). 0, or 1 with a message naming what is wrong
 * with the file (its header, its make, its length, its checksum). */
int baseline_ckpt_load(const char *dir, const struct baseline_state *s, uint64_t *first_step);

#endif
