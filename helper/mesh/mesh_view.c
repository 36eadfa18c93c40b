/* mesh_view.c: what the services read of the membership (mesh.h): this helper's id, the
 * leader, the generation, the live nodes and each node's name, state, ranks and address.
 * Read-only: only the mesh layer's own files (mesh_internal.h) change struct mesh. */
#include "config.h"

#include "mesh/mesh_internal.h"

struct lcrd *mesh_lcrd(const struct mesh *m)
{
	return m->d;
}

enum wire_mesh_state mesh_state(const struct mesh *m)
{
	return m->state;
}

uint32_t mesh_self(const struct mesh *m)
{
	return m->self;
}

uint32_t mesh_node_count(const struct mesh *m)
{
	return m->count;
}

uint32_t mesh_leader(const struct mesh *m)
{
	return m->leader;
}

bool mesh_is_leader(const struct mesh *m)
{
	return m->leader == m->self;
}

uint64_t mesh_applied_generation(const struct mesh *m)
{
	return m->generation;
}

uint32_t mesh_live_count(const struct mesh *m)
{
	return m->live_count;
}

const uint32_t *mesh_live_ids(const struct mesh *m)
{
	return m->live;
}

bool mesh_is_live(const struct mesh *m, uint32_t node)
{
	for (uint32_t i = 0; i < m->live_count; i++)
		if (m->live[i] == node)
			return true;
	return false;
}

uint64_t mesh_joined_generation(const struct mesh *m)
{
	return m->joined_generation;
}

const char *mesh_address(const struct mesh *m)
{
	return m->address;
}

uint16_t mesh_port(const struct mesh *m)
{
	return m->port;
}

const char *mesh_node_name(const struct mesh *m, uint32_t node)
{
	return m->nodes[node].name;
}

enum wire_node_state mesh_node_state(const struct mesh *m, uint32_t node)
{
	return m->nodes[node].state;
}

const uint32_t *mesh_node_ranks(const struct mesh *m, uint32_t node, uint32_t *count)
{
	*count = m->nodes[node].rank_count;
	return m->nodes[node].ranks;
}

uint64_t mesh_node_joined_generation(const struct mesh *m, uint32_t node)
{
	return m->nodes[node].joined_generation;
}

bool mesh_node_leaving(const struct mesh *m, uint32_t node)
{
	return m->nodes[node].leaving;
}

socklen_t mesh_node_sockaddr(const struct mesh *m, uint32_t node, struct sockaddr_storage *sa)
{
	*sa = m->nodes[node].sa;
	return m->nodes[node].sa_len;
}
