/* wire_snapshot.c: the snapshot payloads (wire_snapshot.h), from their descriptions, with
 * the rules those name: a copy names a shard key, a data-parallel size of 1 or more, a
 * region of a known kind (host or CUDA), a step and 1 .. WIRE_SNAPSHOT_SIZE_MAX bytes;
 * statuses are 0 or negative; a round names a step; `protected` is 0 or 1. */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>

#include "internal/wire.h"
#include "wire_cursor.h"

static bool region_kind_valid(uint16_t kind)
{
	return kind == WIRE_REGION_HOST || kind == WIRE_REGION_CUDA;
}

static bool wire_snapshot_chunk_valid(const struct wire_snapshot_put *m)
{
	return m->group_size >= 2 && m->group_size <= 32 && m->parity >= 1 &&
	       m->parity < m->group_size && m->stripe < m->group_size &&
	       m->chunk < m->group_size - m->parity;
}

static bool wire_snapshot_geometry_valid(const struct wire_snapshot_put *m)
{
	return m->group_size >= 2 && m->group_size <= 32 && m->parity >= 1 &&
	       m->parity < m->group_size;
}

static bool wire_snapshot_put_valid(const struct wire_snapshot_put *m)
{
	if (m->step == WIRE_NO_STEP || m->size == 0 || m->size > WIRE_SNAPSHOT_SIZE_MAX)
		return false;
	if (m->kind == WIRE_SNAPSHOT_CHUNK)
		return wire_snapshot_chunk_valid(m);
	if (m->kind == WIRE_SNAPSHOT_LAYOUT || m->kind == WIRE_SNAPSHOT_REBUILD_LAYOUT)
		return wire_snapshot_geometry_valid(m) &&
		       m->size <= WIRE_SNAPSHOT_LAYOUT_BYTES(WIRE_SNAPSHOT_LAYOUT_MAX);
	if (m->kind == WIRE_SNAPSHOT_REBUILD)
		return wire_snapshot_geometry_valid(m) && m->stripe < m->group_size &&
		       m->chunk < m->group_size;
	return m->kind == WIRE_SNAPSHOT_COPY && m->shard_key[0] && m->dp_size > 0 &&
	       m->region[0] && region_kind_valid(m->region_kind);
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

/* --- a snapshot's layout (the bytes of a LAYOUT put) --- */

int wire_encode_snapshot_layout(uint64_t incarnation, const struct wire_snapshot_layout_region *regions,
				uint32_t count, uint8_t *buf, size_t cap)
{
	struct wire_writer w = WIRE_WRITER(buf, cap);
	wire_put_u64(&w, incarnation);
	if (wire_put_count(&w, count, WIRE_SNAPSHOT_LAYOUT_MAX))
		for (uint32_t i = 0; i < count; i++) {
			wire_put_u32(&w, regions[i].rank);
			wire_put_u32(&w, regions[i].dp_size);
			wire_put_string(&w, regions[i].shard_key, WIRE_NAME_MAX);
			wire_put_string(&w, regions[i].name, WIRE_NAME_MAX);
			wire_put_u16(&w, regions[i].kind);
			wire_put_u64(&w, regions[i].size);
			wire_put_u64(&w, regions[i].xxh3);
		}
	return wire_writer_finish(&w);
}

static bool layout_region_valid(const struct wire_snapshot_layout_region *x)
{
	return x->shard_key[0] && x->name[0] && x->dp_size > 0 && region_kind_valid(x->kind) &&
	       x->size > 0 && x->size <= WIRE_SNAPSHOT_SIZE_MAX;
}

int wire_decode_snapshot_layout(const uint8_t *buf, size_t len, uint64_t *incarnation,
				struct wire_snapshot_layout_region **regions, uint32_t *count)
{
	struct wire_reader r = WIRE_READER(buf, len);
	struct wire_snapshot_layout_region *out = NULL;
	*incarnation = wire_get_u64(&r);
	uint32_t n = wire_get_count(&r, WIRE_SNAPSHOT_LAYOUT_MAX);
	if (r.err == 0 && !(out = calloc(n ? n : 1, sizeof(*out))))
		return -ENOMEM;
	for (uint32_t i = 0; i < n && r.err == 0; i++) {
		out[i].rank = wire_get_u32(&r);
		out[i].dp_size = wire_get_u32(&r);
		wire_get_string(&r, out[i].shard_key, WIRE_NAME_MAX);
		wire_get_string(&r, out[i].name, WIRE_NAME_MAX);
		out[i].kind = wire_get_u16(&r);
		out[i].size = wire_get_u64(&r);
		out[i].xxh3 = wire_get_u64(&r);
		if (r.err == 0 && !layout_region_valid(&out[i]))
			r.err = -EBADMSG;
	}
	int rc = wire_reader_finish(&r);
	if (rc < 0) {
		free(out);
		return rc;
	}
	*regions = out;
	*count = n;
	return 0;
}
