/* fence.h: what a helper does once it knows it is no member of its step's mesh (the other
 * helpers removed its node while it hung or was cut off, and may have replaced it, or it
 * lost contact with the majority): its ranks must stop before they act in the job's name,
 * and it must write nothing the job shares. The mesh has already closed its connections,
 * stopped this node's checkpoint writers and refuses every shared write (mesh.h,
 * mesh_may_write_shared); this module stops the ranks and ends the helper:
 *
 *   1. the ranks get a NODE_DOWN naming their own node (sent by the mesh) and a SHUTDOWN
 *      event saying that the node was fenced: a rank that reads its events exits now;
 *   2. FENCE_RANK_GRACE_MS later, every local rank process still running gets SIGTERM;
 *   3. FENCE_KILL_GRACE_MS after that, SIGKILL;
 *   4. the helper shuts down as soon as no rank process runs (at the latest a moment after
 *      the SIGKILL). */
#ifndef LCR_HELPER_FENCE_H
#define LCR_HELPER_FENCE_H

struct lcrd;

#define FENCE_RANK_GRACE_MS 2000 /* for the ranks to stop by themselves */
#define FENCE_KILL_GRACE_MS 2000 /* between SIGTERM and SIGKILL */

/* Starts stopping the ranks of a fenced helper; ends with loop_request_stop(d->loop, ...). Once. */
void fence_stop_ranks_and_exit(struct lcrd *d, const char *why);

#endif
