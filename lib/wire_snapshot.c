/* wire_snapshot.c: the snapshot payloads (wire_snapshot.h), from their descriptions, with
 * the rules those name: a copy names a shard key, a data-parallel size of 1 or more, a
 * region, a step and 1 .. WIRE_SNAPSHOT_SIZE_MAX bytes; statuses are 0 or negative; a round
 * names a step; `protected` is 0 or 1. */
#include "config.h"

#include <stdbool.h>

#include "internal/wire.h"
#include "wire_cursor.h"

static bool wire_snapshot_chunk_valid(const struct wire_snapshot_put *m)
{
	return m->group_size >= 2 && m->group_size <= 32 && m->parity >= 1 &&
	       m->parity < m->group_size && m->stripe < m->group_size &&
	       m->chunk < m->group_size - m->parity;
}

static bool wire_snapshot_put_valid(const struct wire_snapshot_put *m)
{
	if (m->step == WIRE_NO_STEP || m->size == 0 || m->size > WIRE_SNAPSHOT_SIZE_MAX)
		return false;
	if (m->kind == WIRE_SNAPSHOT_CHUNK)
		return wire_snapshot_chunk_valid(m);
	return m->kind == WIRE_SNAPSHOT_COPY && m->shard_key[0] && m->dp_size > 0 &&
	       m->region[0];
}

static bool wire_snapshot_ack_valid(const struct wire_snapshot_ack *m)
{
	return m->status <= 0;
}

static bool wire_snapshot_done_valid(const struct wire_snapshot_done *m)
{
	return m->status <= 0 && m->step != WIRE_NO_STEP;
}

static bool wire_snapshot_end_valid(const struct wire_snapshot_end *m)
{
	return m->step != WIRE_NO_STEP && m->protected <= 1;
}

WIRE_SNAPSHOT_MESSAGES(WIRE_FLAT_CODEC)
