/* recovery_track.c: every helper's record of each node's recovery, from the events it
 * applies (see recovery_track.h). The spare of a REPLACING is read back from the event's
 * message, which recovery_track_format_replacing writes: the event has no field for it. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "services/recovery_track.h"
#include "internal/util.h"

#define REPLACING_SPARE_MARK " with spare "

void recovery_track_format_replacing(char *buf, size_t cap, const char *name, uint32_t node,
				     uint64_t resume_step, const char *spare)
{
	if (resume_step == WIRE_NO_STEP)
		util_format_text(buf, cap, "replacing node %s (%" PRIu32 ")" REPLACING_SPARE_MARK "%s",
				 name, node, spare);
	else
		util_format_text(buf, cap, "replacing node %s (%" PRIu32 "), every rank resuming after "
				 "protected step %" PRIu64 "," REPLACING_SPARE_MARK "%s", name, node,
				 resume_step, spare);
}

/* The spare named at the end of a REPLACING's message into t->spare, or "". */
static void read_spare(struct recovery_track *t, const char *message)
{
	const char *mark = NULL;
	for (const char *p = strstr(message, REPLACING_SPARE_MARK); p;
	     p = strstr(p + 1, REPLACING_SPARE_MARK))
		mark = p;
	util_format_text(t->spare, sizeof(t->spare), "%s",
			 mark ? mark + strlen(REPLACING_SPARE_MARK) : "");
}

void recovery_track_apply(struct recovery_track *t, uint16_t type, uint64_t epoch,
			  const char *message)
{
	switch (type) {
	case WIRE_EVENT_NODE_DOWN:
		*t = (struct recovery_track){ .state = RECOVERY_TRACK_DOWN };
		break;
	case WIRE_EVENT_REPLACING:
		t->state = RECOVERY_TRACK_REPLACING;
		t->epoch = epoch;
		read_spare(t, message ? message : "");
		break;
	case WIRE_EVENT_NODE_JOINED:
		*t = (struct recovery_track){ .state = RECOVERY_TRACK_NONE };
		break;
	case WIRE_EVENT_RECOVERY_FAILED:
		t->state = RECOVERY_TRACK_GIVEN_UP;
		break;
	default:
		break;
	}
}

bool recovery_track_adoptable(const struct recovery_track *t, uint16_t state)
{
	return state == WIRE_NODE_DOWN && t->state != RECOVERY_TRACK_GIVEN_UP;
}

const char *recovery_track_orphan_spare(const struct recovery_track *t)
{
	return t->state == RECOVERY_TRACK_REPLACING && t->spare[0] ? t->spare : NULL;
}
