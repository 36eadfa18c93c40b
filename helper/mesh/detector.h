/* detector.h: failure detection on the mesh's ring (detector.c), for the mesh layer's own
 * files: mesh.c creates and destroys the detector and hands it what it hears from the peers,
 * mesh_events.c tells it that the membership changed. What the detector keeps per node (its
 * watch of a ring predecessor, the decider's case against a suspect, a probe in flight) is
 * its own, in struct detector; the rest of the mesh reads none of it. */
#ifndef LCR_HELPER_DETECTOR_H
#define LCR_HELPER_DETECTOR_H

#include <stdint.h>

#include "internal/wire.h"

struct mesh;

/* Starts detecting (heartbeats, the tick) on the mesh that just came up: 0 or -errno. */
int detector_create(struct mesh *m);
void detector_destroy(struct mesh *m);
/* The ring changed: new successors, new predecessors to watch, cases to drop. */
void detector_membership_changed(struct mesh *m);
/* A new helper takes node's id (a NODE_JOINED), perhaps while the old one is still live
 * here: what was kept of the old one (case, probe, watch) is dropped, the watch starts over
 * at the next detector_membership_changed. */
void detector_node_replaced(struct mesh *m, uint32_t node);
/* Any message from node proves it alive. */
void detector_on_heard(struct mesh *m, uint32_t node);
/* A watcher's suspicion reached this node, the decider. */
void detector_on_suspect(struct mesh *m, uint32_t observer, const struct wire_mesh_suspect *s);
void detector_on_pong(struct mesh *m, uint32_t node, uint64_t nonce);
/* The decider asks this node to probe a suspect. */
void detector_on_probe_request(struct mesh *m, uint32_t decider, uint32_t node);
/* node's helper refused or reset a connection / said LEAVE on one. */
void detector_on_refused(struct mesh *m, uint32_t node);
void detector_on_leave(struct mesh *m, uint32_t node);
/* A majority check reached a majority: the cases waiting for one are decided. */
void detector_quorum_reached(struct mesh *m);
/* The node that decides about suspect: the lowest live node other than it. */
uint32_t detector_decider(const struct mesh *m, uint32_t suspect);

/* Read-only, for the tests and logs: how many observers the case this node (the decider)
 * keeps against node has, and the nonce of this node's PING to node in flight (0: none).
 * Both 0 without a detector. */
uint32_t detector_case_observers(const struct mesh *m, uint32_t node);
uint64_t detector_probe_in_flight(const struct mesh *m, uint32_t node);

#endif
