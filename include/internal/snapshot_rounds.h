/* snapshot_rounds.h: the leader's account of snapshot rounds (issue 13, redundancy "copy";
 * helper/services/snapshot.c uses it, doc/redundancy.md describes it). No I/O, no clock: the
 * helper feeds it the nodes' reports and the live nodes, and announces what it decides.
 *
 * Each node reports how its round of step P ended: ok (its snapshot taken and every copy
 * acknowledged) or failed. A round is
 *   - protected when every live node has reported it ok; every older round is then closed
 *     with it (a node's snapshot of a protected step replaces its older ones);
 *   - abandoned when a live node reported it failed, or reported a later round without
 *     having reported this one ok (a node takes one round at a time, so it has given this
 *     one up), when a node was lost before it reported it ok, or when the table is full
 *     and it is the oldest open round.
 * A report for a step at or below the newest protected one decides nothing new: a report of
 * the protected step is answered protected again, an older one abandoned. */
#ifndef LCR_INTERNAL_SNAPSHOT_ROUNDS_H
#define LCR_INTERNAL_SNAPSHOT_ROUNDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAPSHOT_ROUNDS_OPEN_MAX 8 /* rounds the leader follows at once */
#define SNAPSHOT_ROUNDS_NO_STEP UINT64_MAX

struct snapshot_round {
	uint64_t step;  /* SNAPSHOT_ROUNDS_NO_STEP: the slot is free */
	uint64_t bytes; /* the snapshots reported ok, all together */
	uint8_t *ok;    /* per node: 1 once it reported this round ok */
	bool failed;    /* a node reported it failed */
	char why[256];  /* the first failure's reason */
};

struct snapshot_rounds {
	uint32_t node_count;
	uint64_t protected_step;      /* the newest protected step, or SNAPSHOT_ROUNDS_NO_STEP */
	uint64_t *last_reported;      /* per node: the newest step it reported, or NO_STEP */
	struct snapshot_round open[SNAPSHOT_ROUNDS_OPEN_MAX];
};

/* What the leader announces about one step. */
struct snapshot_verdict {
	uint64_t step;
	bool protected;
	uint64_t bytes;  /* protected: every node's snapshot, all together */
	char why[256];   /* abandoned: why */
};

/* 0 or -ENOMEM. */
int snapshot_rounds_init(struct snapshot_rounds *r, uint32_t node_count);
void snapshot_rounds_fini(struct snapshot_rounds *r);

/* Node `node` reports its round of `step`: ok with its snapshot's bytes, or failed with
 * why. A node out of range is ignored. */
void snapshot_rounds_report(struct snapshot_rounds *r, uint32_t node, uint64_t step, bool ok,
			    uint64_t bytes, const char *why);

/* Node `node` is lost: every open round it had not reported ok is failed (its state at
 * that step is nowhere), so that no round is protected without it. */
void snapshot_rounds_node_lost(struct snapshot_rounds *r, uint32_t node);

/* Every rank was rolled back to protected step `step` (recovery from the copies): the open
 * rounds of later steps are dropped without a verdict (their snapshots are of state that
 * is gone; each helper drops its own), and no node counts as having gone past `step`, so
 * that the rounds taken again of those steps can be protected. */
void snapshot_rounds_rollback(struct snapshot_rounds *r, uint64_t step);

/* Decides what the reports so far settle, given the live nodes (live[0 .. live_count)):
 * the verdicts, oldest step first, into out[0 .. cap) (each is announced once; a round
 * that is settled leaves the table). Returns the verdicts' count. */
size_t snapshot_rounds_decide(struct snapshot_rounds *r, const uint32_t *live, uint32_t live_count,
			      struct snapshot_verdict *out, size_t cap);

#endif
