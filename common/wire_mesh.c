/* wire_mesh.c: the payloads between the step's helpers and with its rendezvous
 * (wire_mesh.h). The flat ones come from their descriptions, with the rules these name
 * below; a node table page and a membership event are coded by hand (a node's state is
 * checked in place, and an event's removed nodes one by one). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>

#include "internal/wire.h"
#include "wire_cursor.h"

static bool node_count_valid(uint32_t node_id, uint32_t count)
{
	return count > 0 && count <= WIRE_MESH_NODES_MAX && node_id < count;
}

/* A node's state in a table or event: LIVE, DOWN or LEFT (0 only for an empty entry). */
static bool node_state_valid(uint16_t state, bool empty_allowed)
{
	return (empty_allowed && state == 0) || state == WIRE_NODE_LIVE ||
	       state == WIRE_NODE_DOWN || state == WIRE_NODE_LEFT;
}

static bool wire_mesh_challenge_valid(const struct wire_mesh_challenge *m)
{
	return m->nonce != 0;
}

static bool wire_rdv_register_valid(const struct wire_rdv_register *m)
{
	return node_count_valid(m->node_id, m->node_count);
}

static bool wire_mesh_join_valid(const struct wire_mesh_join *m)
{
	return node_count_valid(m->node_id, m->node_count);
}

static bool wire_mesh_join_refused_valid(const struct wire_mesh_join_refused *m)
{
	return m->status < 0;
}

static bool evidence_valid(uint16_t evidence)
{
	return evidence == WIRE_EVIDENCE_SILENT || evidence == WIRE_EVIDENCE_REFUSED ||
	       evidence == WIRE_EVIDENCE_LEFT;
}

static bool wire_mesh_suspect_valid(const struct wire_mesh_suspect *m)
{
	return evidence_valid(m->evidence);
}

static bool wire_mesh_report_valid(const struct wire_mesh_report *m)
{
	return m->type == WIRE_EVENT_RANK_EXITED;
}

WIRE_MESH_FLAT_MESSAGES(WIRE_FLAT_CODEC)

/* --- coded by hand --- */

static void put_rdv_node(struct wire_writer *w, const struct wire_rdv_node *n, bool empty_allowed)
{
	if (!node_state_valid(n->state, empty_allowed)) {
		wire_writer_fail(w, -EINVAL);
		return;
	}
	wire_put_u32(w, n->node_id);
	wire_put_u16(w, n->port);
	wire_put_string(w, n->node_name, WIRE_NODE_NAME_MAX);
	wire_put_string(w, n->address, WIRE_ADDR_MAX);
	wire_put_u16(w, n->state);
	wire_put_u32s(w, n->ranks, n->rank_count, WIRE_MAX_LOCAL_RANKS);
	wire_put_u64(w, n->incarnation);
}

static void get_rdv_node(struct wire_reader *r, struct wire_rdv_node *n, bool empty_allowed)
{
	n->node_id = wire_get_u32(r);
	n->port = wire_get_u16(r);
	wire_get_string(r, n->node_name, WIRE_NODE_NAME_MAX);
	wire_get_string(r, n->address, WIRE_ADDR_MAX);
	n->state = wire_get_u16(r);
	if (r->err == 0 && !node_state_valid(n->state, empty_allowed))
		r->err = -EBADMSG;
	wire_get_u32s(r, n->ranks, &n->rank_count, WIRE_MAX_LOCAL_RANKS);
	n->incarnation = wire_get_u64(r);
}

/* A table page's counts: at most a page, inside the table, the table within the limit. */
static bool table_page_valid(uint32_t total, uint32_t start, uint32_t count)
{
	return total > 0 && total <= WIRE_MESH_NODES_MAX && count <= WIRE_TABLE_PAGE_MAX &&
	       start <= total && count <= total - start;
}

int wire_encode_rdv_table(const struct wire_rdv_table *m, uint8_t *buf, size_t cap)
{
	struct wire_writer w = WIRE_WRITER(buf, cap);
	if (!table_page_valid(m->total, m->start, m->count))
		return -EINVAL;
	wire_put_u32(&w, m->total);
	wire_put_u32(&w, m->start);
	wire_put_u32(&w, m->count);
	for (uint32_t i = 0; i < m->count; i++)
		put_rdv_node(&w, &m->nodes[i], false);
	return wire_writer_finish(&w);
}

int wire_decode_rdv_table(const uint8_t *buf, size_t len, struct wire_rdv_table *out)
{
	struct wire_reader r = WIRE_READER(buf, len);
	out->total = wire_get_u32(&r);
	out->start = wire_get_u32(&r);
	out->count = wire_get_u32(&r);
	if (r.err)
		return r.err;
	if (!table_page_valid(out->total, out->start, out->count))
		return -EBADMSG;
	for (uint32_t i = 0; i < out->count && r.err == 0; i++)
		get_rdv_node(&r, &out->nodes[i], false);
	return wire_reader_finish(&r);
}

static bool mesh_event_type_valid(uint16_t type)
{
	return type == WIRE_EVENT_NODE_DOWN || type == WIRE_EVENT_NODE_LEFT ||
	       type == WIRE_EVENT_RANK_EXITED || type == WIRE_EVENT_REPLACING ||
	       type == WIRE_EVENT_NODE_JOINED || type == WIRE_EVENT_RECOVERY_FAILED;
}

static bool removed_state_valid(uint16_t state)
{
	return state == WIRE_NODE_DOWN || state == WIRE_NODE_LEFT;
}

int wire_encode_mesh_event(const struct wire_mesh_event *m, uint8_t *buf, size_t cap)
{
	struct wire_writer w = WIRE_WRITER(buf, cap);
	if (!mesh_event_type_valid(m->type) || m->removed_count > WIRE_MESH_NODES_MAX)
		return -EINVAL;
	wire_put_u64(&w, m->generation);
	wire_put_u32(&w, m->leader);
	wire_put_u64(&w, m->time_ms);
	wire_put_u16(&w, m->type);
	wire_put_u32(&w, m->node);
	wire_put_u32(&w, m->rank);
	wire_put_u32(&w, m->pid);
	wire_put_u32(&w, (uint32_t)m->status);
	wire_put_string(&w, m->message, WIRE_TEXT_MAX);
	wire_put_u64(&w, m->epoch);
	wire_put_u64(&w, m->resume_step);
	put_rdv_node(&w, &m->joined, true);
	wire_put_u32(&w, m->removed_count);
	for (uint32_t i = 0; i < m->removed_count; i++) {
		if (!removed_state_valid(m->removed[i].state))
			return -EINVAL;
		wire_put_u32(&w, m->removed[i].node);
		wire_put_u16(&w, m->removed[i].state);
	}
	return wire_writer_finish(&w);
}

int wire_decode_mesh_event(const uint8_t *buf, size_t len, struct wire_mesh_event *out)
{
	struct wire_reader r = WIRE_READER(buf, len);
	out->generation = wire_get_u64(&r);
	out->leader = wire_get_u32(&r);
	out->time_ms = wire_get_u64(&r);
	out->type = wire_get_u16(&r);
	out->node = wire_get_u32(&r);
	out->rank = wire_get_u32(&r);
	out->pid = wire_get_u32(&r);
	out->status = (int32_t)wire_get_u32(&r);
	wire_get_string(&r, out->message, WIRE_TEXT_MAX);
	out->epoch = wire_get_u64(&r);
	out->resume_step = wire_get_u64(&r);
	get_rdv_node(&r, &out->joined, true);
	out->removed_count = wire_get_u32(&r);
	if (r.err)
		return r.err;
	if (!mesh_event_type_valid(out->type) || out->removed_count > WIRE_MESH_NODES_MAX)
		return -EBADMSG;
	for (uint32_t i = 0; i < out->removed_count; i++) {
		out->removed[i].node = wire_get_u32(&r);
		out->removed[i].state = wire_get_u16(&r);
		if (r.err == 0 && !removed_state_valid(out->removed[i].state))
			return -EBADMSG;
	}
	return wire_reader_finish(&r);
}

