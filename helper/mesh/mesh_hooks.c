/* mesh_hooks.c: what the services register with the mesh, and the mesh's calls to it. The
 * mesh is a lower layer than the services (doc/architecture.md): it names none of them,
 * and reaches them only through what they registered here (mesh.h): handlers for their own
 * wire message types and connections, work to stop with the mesh, the fence, the leader's
 * side of a JOIN and a replacement's readiness. Membership events go through
 * mesh_subscribe (mesh_events.c). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>

#include "internal/util.h"
#include "loop/lcrd.h"
#include "mesh/mesh_internal.h"

int mesh_handle_message(struct lcrd *d, uint16_t type, mesh_message_fn *fn)
{
	struct mesh_hooks *h = &mesh_of(d)->hooks;
	for (uint32_t i = 0; i < h->message_count; i++)
		if (h->messages[i].type == type)
			return -EEXIST;
	if (h->message_count == MESH_MESSAGE_HANDLERS_MAX)
		return -ENOSPC;
	h->messages[h->message_count].type = type;
	h->messages[h->message_count].fn = fn;
	h->message_count++;
	return 0;
}

int mesh_handle_connection(struct lcrd *d, uint16_t type, mesh_adopt_fn *fn)
{
	struct mesh_hooks *h = &mesh_of(d)->hooks;
	for (uint32_t i = 0; i < h->adopter_count; i++)
		if (h->adopters[i].type == type)
			return -EEXIST;
	if (h->adopter_count == MESH_ADOPTERS_MAX)
		return -ENOSPC;
	h->adopters[h->adopter_count].type = type;
	h->adopters[h->adopter_count].fn = fn;
	h->adopter_count++;
	return 0;
}

int mesh_on_stop(struct lcrd *d, mesh_stop_fn *fn)
{
	struct mesh_hooks *h = &mesh_of(d)->hooks;
	if (h->stop_count == MESH_STOP_HOOKS_MAX)
		return -ENOSPC;
	h->stops[h->stop_count++] = fn;
	return 0;
}

void mesh_on_fenced(struct lcrd *d, mesh_fenced_fn *fn)
{
	mesh_of(d)->hooks.fenced = fn;
}

void mesh_on_join(struct lcrd *d, mesh_admit_fn *admit, mesh_joined_fn *joined)
{
	struct mesh_hooks *h = &mesh_of(d)->hooks;
	h->admit = admit;
	h->joined = joined;
}

void mesh_on_joined(struct lcrd *d, mesh_ready_fn *fn)
{
	mesh_of(d)->hooks.ready = fn;
}

void mesh_on_member(struct lcrd *d, mesh_member_fn *fn)
{
	mesh_of(d)->hooks.member = fn;
}

void mesh_on_hold_join(struct lcrd *d, mesh_hold_fn *hold)
{
	mesh_of(d)->hooks.hold_join = hold;
}

bool mesh_hooks_message(struct mesh *m, uint32_t from, const struct wire_msg *msg)
{
	const struct mesh_hooks *h = &m->hooks;
	for (uint32_t i = 0; i < h->message_count; i++)
		if (h->messages[i].type == msg->header.type) {
			h->messages[i].fn(m, from, msg);
			return true;
		}
	return false;
}

bool mesh_hooks_adopt(struct mesh *m, struct mesh_conn *c, const struct wire_msg *msg)
{
	const struct mesh_hooks *h = &m->hooks;
	for (uint32_t i = 0; i < h->adopter_count; i++)
		if (h->adopters[i].type == msg->header.type) {
			h->adopters[i].fn(m, c, msg);
			return true;
		}
	return false;
}

void mesh_hooks_stop(struct mesh *m, bool fenced)
{
	const struct mesh_hooks *h = &m->hooks;
	for (uint32_t i = 0; i < h->stop_count; i++)
		h->stops[fenced ? i : h->stop_count - 1 - i](m);
}

void mesh_hooks_fenced(struct mesh *m, const char *why)
{
	if (m->hooks.fenced)
		m->hooks.fenced(m->d, why);
}

int mesh_hooks_admit(struct mesh *m, uint32_t node, const char *name, uint64_t *epoch,
		     char *why, size_t cap)
{
	if (m->hooks.admit)
		return m->hooks.admit(m, node, name, epoch, why, cap);
	util_format_text(why, cap, "no replacement of node %" PRIu32 " is in flight", node);
	return -EPERM;
}

void mesh_hooks_joined(struct mesh *m, uint32_t node, uint64_t g)
{
	if (m->hooks.joined)
		m->hooks.joined(m, node, g);
}

void mesh_hooks_member(struct mesh *m, uint64_t epoch)
{
	if (m->hooks.member)
		m->hooks.member(m, epoch);
}

int mesh_hooks_ready(struct mesh *m)
{
	return m->hooks.ready ? m->hooks.ready(m->d) : 0;
}
