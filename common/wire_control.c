/* wire_control.c: the payloads of lcrd's control socket (wire_control.h), every one from its
 * description, with the one rule a description names: a PMIx event's kind is known. */
#include "config.h"

#include <stdbool.h>

#include "internal/wire.h"
#include "wire_cursor.h"

static bool wire_pmix_event_valid(const struct wire_pmix_event *m)
{
	return m->kind >= WIRE_PMIX_NODE_DOWN && m->kind <= WIRE_PMIX_KIND_MAX;
}

WIRE_FLAT_PART_CODEC(task_status)
WIRE_FLAT_PART_CODEC(region_entry)
WIRE_FLAT_PART_CODEC(event_log_entry)
WIRE_CONTROL_MESSAGES(WIRE_FLAT_CODEC)
