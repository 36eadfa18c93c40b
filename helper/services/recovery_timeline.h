/* recovery_timeline.h: where a recovery spent its time, written by every helper itself. A
 * survivor's helper times the phases it sees from a node's NODE_DOWN: the spare launched
 * (REPLACING), the replacement joined (the NODE_JOINED that leaves no node down), and the
 * first step its own ranks commit after it (which needs the communicator rebuilt on every
 * node). A replacement's helper times its own: from its start, its ranks' state filled (how
 * many bytes, from how many peers, how fast) and their first step committed after the
 * restored one. Each timeline goes to the step's log (info) and, as a RECOVERY_TIMELINE
 * entry, to the event log that `lcrctl events` shows; the ranks are not sent it. */
#ifndef LCR_HELPER_RECOVERY_TIMELINE_H
#define LCR_HELPER_RECOVERY_TIMELINE_H

#include <stdint.h>

struct lcrd;

/* Creates the timeline (d->timeline) and subscribes it to the mesh's events. 0 or -errno. */
int recovery_timeline_create(struct lcrd *d);
void recovery_timeline_destroy(struct lcrd *d);

/* A replacement's region was filled with `bytes` of step `step`, from `peers` peers (0: from
 * the checkpoint's files). Ignored on a helper that is not a replacement. */
void recovery_timeline_on_fill(struct lcrd *d, uint64_t bytes, uint64_t step, unsigned peers);

#endif
