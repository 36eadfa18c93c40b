/* recovery_track.h: what every helper remembers of each node's recovery, from the membership
 * events it applies (NODE_DOWN, REPLACING, NODE_JOINED, RECOVERY_FAILED). The leader's queue
 * of failures (recovery.c) lives only on the leader; this record lives on every helper, so
 * that the helper that leads after the old leader's removal can take over every node that is
 * down and not yet replaced, and knows which spare the old leader had launched for it.
 * Bookkeeping only: no I/O, no mesh. */
#ifndef LCR_HELPER_RECOVERY_TRACK_H
#define LCR_HELPER_RECOVERY_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal/wire.h"

enum recovery_track_state {
	RECOVERY_TRACK_NONE,      /* no failure seen since the step began, or replaced */
	RECOVERY_TRACK_DOWN,      /* NODE_DOWN applied, no REPLACING since */
	RECOVERY_TRACK_REPLACING, /* REPLACING applied, no NODE_JOINED since: spare, epoch */
	RECOVERY_TRACK_GIVEN_UP,  /* RECOVERY_FAILED applied since its NODE_DOWN */
};

/* One node's recovery as the events applied here tell it. */
struct recovery_track {
	enum recovery_track_state state;
	uint64_t epoch;                      /* the last REPLACING's generation */
	char spare[WIRE_NODE_NAME_MAX + 1];  /* the spare it named, or "" */
};

/* The message of a REPLACING event: "replacing node NAME (NODE) with spare SPARE", or with
 * a resume step (recovery from the copies; WIRE_NO_STEP: none) "replacing node NAME (NODE),
 * every rank resuming after protected step P, with spare SPARE". */
void recovery_track_format_replacing(char *buf, size_t cap, const char *name, uint32_t node,
				     uint64_t resume_step, const char *spare);

/* Takes an applied event of type (enum wire_event_type) for t's node into t; epoch and
 * message are the event's. Other types leave t as it is. */
void recovery_track_apply(struct recovery_track *t, uint16_t type, uint64_t epoch,
			  const char *message);

/* Whether a new leader takes the node over: the table says it is down (state, enum
 * wire_node_state) and no RECOVERY_FAILED gave it up. A node down in the table whose events
 * this helper never saw (it caught up from a peer whose log no longer had them) counts. */
bool recovery_track_adoptable(const struct recovery_track *t, uint16_t state);

/* The spare an unfinished attempt of the old leader named, or NULL. */
const char *recovery_track_orphan_spare(const struct recovery_track *t);

#endif
