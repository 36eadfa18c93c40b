/* wire_mesh_ckpt.c: the mesh's checkpoint payloads (wire_mesh_ckpt.h): the replicas that
 * REPORTS and WRITE carry are coded by hand (their regions must add up and their phases be
 * known), the rest comes from the descriptions. */
#include "config.h"

#include <stdbool.h>

#include "internal/wire.h"
#include "wire_cursor.h"

static bool replicas_valid(const struct wire_ckpt_replicas *m)
{
	uint64_t regions = 0;
	if (m->count > WIRE_CKPT_REPLICAS_MAX || m->region_count > WIRE_CKPT_REGIONS_MAX)
		return false;
	for (uint32_t i = 0; i < m->count; i++) {
		if (m->replicas[i].phase > WIRE_PHASE_COMMITTED)
			return false;
		regions += m->replicas[i].region_count;
	}
	return regions == m->region_count;
}

static void wire_put_ckpt_replicas(struct wire_writer *w, const struct wire_ckpt_replicas *m)
{
	if (!replicas_valid(m)) {
		wire_writer_fail(w, -EINVAL);
		return;
	}
	wire_put_u32(w, m->count);
	for (uint32_t i = 0; i < m->count; i++) {
		const struct wire_ckpt_replica *r = &m->replicas[i];
		wire_put_u32(w, r->rank);
		wire_put_u32(w, r->node_id);
		wire_put_string(w, r->node, WIRE_NODE_NAME_MAX);
		wire_put_string(w, r->shard_key, WIRE_NAME_MAX);
		wire_put_u32(w, r->dp_size);
		wire_put_u16(w, r->phase);
		wire_put_u64(w, r->committed_step);
		wire_put_u32(w, r->region_count);
	}
	wire_put_u32(w, m->region_count);
	for (uint32_t i = 0; i < m->region_count; i++) {
		wire_put_string(w, m->regions[i].name, WIRE_NAME_MAX);
		wire_put_u16(w, m->regions[i].kind);
		wire_put_u64(w, m->regions[i].size);
	}
}

static void wire_get_ckpt_replicas(struct wire_reader *r, struct wire_ckpt_replicas *m)
{
	m->count = wire_get_u32(r);
	if (!r->err && m->count > WIRE_CKPT_REPLICAS_MAX)
		r->err = -EBADMSG;
	for (uint32_t i = 0; !r->err && i < m->count; i++) {
		struct wire_ckpt_replica *p = &m->replicas[i];
		p->rank = wire_get_u32(r);
		p->node_id = wire_get_u32(r);
		wire_get_string(r, p->node, WIRE_NODE_NAME_MAX);
		wire_get_string(r, p->shard_key, WIRE_NAME_MAX);
		p->dp_size = wire_get_u32(r);
		p->phase = wire_get_u16(r);
		p->committed_step = wire_get_u64(r);
		p->region_count = wire_get_u32(r);
	}
	m->region_count = wire_get_u32(r);
	if (!r->err && m->region_count > WIRE_CKPT_REGIONS_MAX)
		r->err = -EBADMSG;
	for (uint32_t i = 0; !r->err && i < m->region_count; i++) {
		wire_get_string(r, m->regions[i].name, WIRE_NAME_MAX);
		m->regions[i].kind = wire_get_u16(r);
		m->regions[i].size = wire_get_u64(r);
	}
	if (!r->err && !replicas_valid(m))
		r->err = -EBADMSG;
}

static bool wire_mesh_ckpt_reports_valid(const struct wire_mesh_ckpt_reports *m)
{
	return m->status <= 0;
}

static bool wire_mesh_ckpt_write_valid(const struct wire_mesh_ckpt_write *m)
{
	return m->step != WIRE_NO_STEP &&
	       (m->snapshot_step == WIRE_NO_STEP || m->snapshot_step == m->step);
}

static bool wire_mesh_ckpt_result_valid(const struct wire_mesh_ckpt_result *m)
{
	for (uint32_t i = 0; i < m->hash_count && i < WIRE_CKPT_HASHES_MAX; i++)
		if (m->hashes[i].checked > 1)
			return false;
	return m->status <= 0;
}

WIRE_FLAT_PART_CODEC(ckpt_hash)
WIRE_MESH_CKPT_MESSAGES(WIRE_FLAT_CODEC)
