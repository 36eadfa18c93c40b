/* outcome.h: the step's truthful outcome (lcrd(8), "Outcome"). Every helper follows the
 * ranks of the step through the events it applies: a rank runs until its last process
 * exits (a replaced node's ranks run again in their replacement's processes), or is lost
 * with a node that is not replaced. When every rank has ended for good, the leader writes
 * <ckpt-dir>/outcome.<job>.<step> (outcome_file.h), which `lcrctl wait` reads; if the node
 * that ran the batch script died on the way, the leader then ends the job with scancel. */
#ifndef LCR_HELPER_OUTCOME_H
#define LCR_HELPER_OUTCOME_H

#include <stdbool.h>

#include "internal/wire.h"

struct mesh;
struct outcome;

/* An applied membership event (any type), with the table already updated. *slot is created
 * at the first call. */
void outcome_on_event(struct mesh *m, struct outcome **slot, const struct wire_mesh_event *ev);

/* A replacement is a member (its NODE_JOINED is in the table): *slot is created now, with
 * the count of failures recovered up to its join from the file that the helper which
 * sequenced the join wrote just before (1, its own, when there is none). */
void outcome_on_member(struct mesh *m, struct outcome **slot);

/* This helper ends (its ranks exited): when every other helper has ended too, says it is
 * leaving, or has no rank left running, nobody may write the outcome after it, so it
 * writes it now (the leaving helpers' unnumbered ranks count as exited 0). */
void outcome_on_shutdown(struct mesh *m, struct outcome **slot);

/* Whether this helper, the leader, ends while another live helper that is not leaving still
 * has ranks that the outcome counts as running: their exits may be on their way. */
bool outcome_awaits_exits(struct mesh *m, const struct outcome *o);

/* This helper stops (its ranks exited): while outcome_awaits_exits, runs the event loop, up
 * to OUTCOME_DRAIN_MS, so that the leader numbers the other nodes' last exits and writes
 * the outcome itself. Without it, the leader and the last other helper, ending at the same
 * moment, could each leave the outcome to the other (outcome_on_shutdown), and none was
 * written (seen in CI: a step recovered twice). */
void outcome_drain(struct mesh *m, struct outcome *o);

/* Stops watching a scancel still running (it goes on), frees. */
void outcome_destroy(struct outcome **slot);

#endif
