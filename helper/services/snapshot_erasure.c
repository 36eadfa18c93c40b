/* snapshot_erasure.c: erasure-coded redundancy of the snapshots (see snapshot_erasure.h).
 * Two halves: the sender's (the round's plan on the loop, the push of the chunks on the
 * round's worker) and the holder's (the parity blocks of its group, built as the chunks
 * arrive on transfer sessions). The arithmetic is common/erasure.c's, the placement
 * common/redundancy_plan.c's. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "services/snapshot_erasure.h"
#include "internal/erasure.h"
#include "internal/util.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "mesh/mesh.h"

/* --- the group, as this helper sees the live nodes --- */

int snapshot_erasure_group_over(const uint32_t *live, uint32_t live_count, uint32_t node,
				unsigned group_size, unsigned parity, struct erasure_membership *g,
				uint32_t members[ERASURE_MAX_BLOCKS], char *why, size_t cap)
{
	struct redundancy_nodes nodes = { .count = live_count };
	uint32_t *order = malloc((live_count ? live_count : 1) * sizeof(*order)), place;
	int rc = order ? 0 : -ENOMEM;
	if (!order)
		snprintf(why, cap, "out of memory");
	for (place = 0; rc == 0 && place < live_count && live[place] != node; place++)
		;
	if (rc == 0 && (place == live_count || redundancy_spread_order(&nodes, order) < 0)) {
		snprintf(why, cap, "node %" PRIu32 " is not live", node);
		rc = -ENOENT;
	}
	if (rc == 0 && (rc = redundancy_erasure_membership(&nodes, place, group_size, parity, g, why,
							   cap)) == 0)
		for (uint32_t p = 0; p < g->size; p++)
			members[p] = live[order[g->first + p]];
	free(order);
	return rc;
}

/* Node's erasure group over d's live nodes, and the node at each position of it: 0, or
 * -errno with why. */
static int group_of(const struct lcrd *d, uint32_t node, struct erasure_membership *g,
		    uint32_t members[ERASURE_MAX_BLOCKS], char *why, size_t cap)
{
	const struct mesh *m = d->mesh;
	return snapshot_erasure_group_over(mesh_live_ids(m), mesh_live_count(m), node,
					   d->opt.redundancy_group_size,
					   d->opt.redundancy_parity, g, members, why, cap);
}

/* --- sending --- */

int snapshot_erasure_plan(struct lcrd *d, uint64_t step, uint64_t incarnation,
			  struct erasure_sending *out, char *why, size_t cap)
{
	const struct mesh *m = d->mesh;
	uint32_t members[ERASURE_MAX_BLOCKS];
	int rc = group_of(d, mesh_self(m), &out->group, members, why, cap);
	if (rc < 0)
		return rc;
	out->parity = d->opt.redundancy_parity;
	out->node = mesh_self(m);
	out->incarnation = incarnation;
	out->step = step;
	for (uint32_t p = 0; p < out->group.size; p++) {
		struct transfer_peer *peer = &out->members[p];
		if (p == out->group.position)
			continue;
		struct sockaddr_storage sa;
		socklen_t sa_len = mesh_node_sockaddr(m, members[p], &sa);
		if (sa_len == 0)
			return snprintf(why, cap, "the address of group member %" PRIu32 " is not known",
					members[p]), -EHOSTUNREACH;
		const char *name = mesh_node_name(m, members[p]);
		peer->node = members[p];
		snprintf(peer->name, sizeof(peer->name), "%s", name[0] ? name : "?");
		peer->sa = sa;
		peer->sa_len = sa_len;
	}
	return 0;
}

void snapshot_erasure_gather(const struct erasure_piece *pieces, size_t count, uint64_t offset,
			     uint8_t *out, uint64_t len)
{
	uint64_t at = 0, done = 0;
	for (size_t i = 0; i < count && done < len; at += pieces[i].size, i++) {
		if (offset + done >= at + pieces[i].size)
			continue;
		uint64_t from = offset + done - at, n = pieces[i].size - from;
		if (n > len - done)
			n = len - done;
		memcpy(out + done, pieces[i].data + from, n);
		done += n;
	}
	memset(out + done, 0, len - done);
}

/* A sender's connections to its group, one per member, opened as first needed. */
struct member_conns {
	struct transfer_conn *conn[ERASURE_MAX_BLOCKS];
};

static int push_chunk(const struct erasure_sending *plan, const struct transfer_identity *id,
		      struct member_conns *conns, uint32_t holder, const struct wire_snapshot_put *put,
		      const uint8_t *chunk, uint64_t xxh3, char *why, size_t cap)
{
	const struct transfer_peer *p = &plan->members[holder];
	char err[WIRE_TEXT_MAX + 1];
	uint64_t held;
	int rc = 0;
	if (!conns->conn[holder] && (rc = transfer_conn_open(p, id, &conns->conn[holder], err, sizeof(err))) < 0)
		return snprintf(why, cap, "cannot reach parity holder %s (%" PRIu32 "): %s", p->name,
				p->node, err), rc;
	rc = transfer_conn_put(conns->conn[holder], put, chunk, &held, err, sizeof(err));
	if (rc < 0) {
		transfer_conn_close(conns->conn[holder]);
		conns->conn[holder] = NULL;
		return put->kind == WIRE_SNAPSHOT_CHUNK
		       ? snprintf(why, cap, "%s (%" PRIu32 ") did not add chunk %u of stripe %u: %s",
				  p->name, p->node, put->chunk, put->stripe, err), rc
		       : snprintf(why, cap, "%s (%" PRIu32 ") did not keep the snapshot's layout: %s",
				  p->name, p->node, err), rc;
	}
	if (held != xxh3 && put->kind != WIRE_SNAPSHOT_CHUNK)
		return snprintf(why, cap, "%s (%" PRIu32 ") kept the layout with XXH3 %016" PRIx64
				", but it was %016" PRIx64, p->name, p->node, held, xxh3), -EILSEQ;
	if (held != xxh3)
		return snprintf(why, cap, "%s (%" PRIu32 ") added chunk %u of stripe %u with XXH3 %016"
				PRIx64 ", but the snapshot's is %016" PRIx64, p->name, p->node,
				put->chunk, put->stripe, held, xxh3), -EILSEQ;
	return 0;
}

/* Chunk `chunk` of the snapshot to each parity holder of its stripe. */
static int push_one_chunk(const struct erasure_sending *plan, const struct transfer_identity *id,
			  struct member_conns *conns, unsigned chunk, uint8_t *buf, uint64_t chunk_bytes,
			  const struct erasure_piece *pieces, size_t count, char *why, size_t cap)
{
	const struct erasure_membership *g = &plan->group;
	struct wire_snapshot_put put = { .node = plan->node, .incarnation = plan->incarnation,
					 .rank = WIRE_NO_RANK, .step = plan->step, .size = chunk_bytes,
					 .kind = WIRE_SNAPSHOT_CHUNK, .group = g->group,
					 .group_size = (uint16_t)g->size, .parity = (uint16_t)plan->parity,
					 .chunk = (uint16_t)chunk };
	uint32_t stripe = redundancy_stripe_of_chunk(g->size, plan->parity, g->position, chunk);
	int rc = 0;
	put.stripe = (uint16_t)stripe;
	snapshot_erasure_gather(pieces, count, chunk * chunk_bytes, buf, chunk_bytes);
	uint64_t xxh3 = XXH3_64bits(buf, chunk_bytes);
	for (unsigned row = 0; rc == 0 && row < plan->parity; row++)
		rc = push_chunk(plan, id, conns, (stripe + row) % g->size, &put, buf, xxh3, why, cap);
	return rc;
}

/* The snapshot's layout to every other member of the group: a rebuild of this node's state
 * needs it. */
static int push_layout(const struct erasure_sending *plan, const struct transfer_identity *id,
		       struct member_conns *conns, const uint8_t *layout, size_t layout_len,
		       char *why, size_t cap)
{
	const struct erasure_membership *g = &plan->group;
	struct wire_snapshot_put put = { .node = plan->node, .incarnation = plan->incarnation,
					 .rank = WIRE_NO_RANK, .step = plan->step, .size = layout_len,
					 .kind = WIRE_SNAPSHOT_LAYOUT, .group = g->group,
					 .group_size = (uint16_t)g->size, .parity = (uint16_t)plan->parity };
	uint64_t xxh3 = XXH3_64bits(layout, layout_len);
	int rc = 0;
	for (uint32_t p = 0; rc == 0 && p < g->size; p++)
		if (p != g->position)
			rc = push_chunk(plan, id, conns, p, &put, layout, xxh3, why, cap);
	return rc;
}

int snapshot_erasure_push(const struct erasure_sending *plan, const struct transfer_identity *id,
			  const struct erasure_piece *pieces, size_t count, const uint8_t *layout,
			  size_t layout_len, const atomic_bool *cancel, char *why, size_t cap)
{
	struct member_conns conns = { { NULL } };
	uint64_t total = 0;
	unsigned chunks = plan->group.size - plan->parity;
	for (size_t i = 0; i < count; i++)
		total += pieces[i].size;
	/* a node without state still gives its (zero) chunks: each stripe needs every one */
	uint64_t chunk_bytes = redundancy_chunk_bytes(total ? total : 1, plan->group.size, plan->parity);
	uint8_t *buf = malloc(chunk_bytes);
	int rc = buf ? push_layout(plan, id, &conns, layout, layout_len, why, cap) : -ENOMEM;
	if (!buf)
		snprintf(why, cap, "cannot allocate a chunk of %" PRIu64 " bytes", chunk_bytes);
	for (unsigned c = 0; rc == 0 && c < chunks; c++)
		rc = atomic_load(cancel) ? -ECANCELED
					 : push_one_chunk(plan, id, &conns, c, buf, chunk_bytes, pieces,
							  count, why, cap);
	if (rc == -ECANCELED)
		snprintf(why, cap, "the round was cancelled");
	for (unsigned p = 0; p < ERASURE_MAX_BLOCKS; p++)
		if (conns.conn[p])
			transfer_conn_close(conns.conn[p]);
	free(buf);
	return rc;
}

/* --- holding --- */

/* The parity block this helper holds of one stripe of its group at one step. */
struct parity_block {
	uint64_t step;
	uint32_t group;
	uint16_t group_size, parity, stripe, row; /* row: which parity block of the stripe */
	uint64_t length;                          /* the longest chunk added so far */
	uint8_t *data;
	uint32_t added;                           /* bit c: data chunk c is in */
	uint32_t from[ERASURE_MAX_BLOCKS];        /* the node that gave chunk c */
	struct parity_block *next;
};

/* A chunk being received, before it is added. */
struct chunk_buffer {
	uint8_t *data;
	uint64_t size;
	struct chunk_buffer *next;
};

/* A group member's snapshot layout at one step, and the group as this helper saw it then. */
struct member_layout {
	struct erasure_layout layout;
	struct member_layout *next;
};

struct erasure_holder {
	struct lcrd *d;
	struct parity_block *blocks;
	struct member_layout *layouts;
	struct chunk_buffer *receiving;
	uint64_t bytes; /* both */
	struct erasure_code code; /* of the last geometry used */
	bool code_ready;
};

struct erasure_holder *snapshot_erasure_holder_create(struct lcrd *d)
{
	struct erasure_holder *h = calloc(1, sizeof(*h));
	if (h)
		h->d = d;
	return h;
}

static bool drop_every_step(uint64_t step, void *arg)
{
	(void)step;
	(void)arg;
	return true;
}

void snapshot_erasure_holder_destroy(struct erasure_holder *h)
{
	if (!h)
		return;
	snapshot_erasure_release(h, drop_every_step, NULL);
	for (struct chunk_buffer *b = h->receiving, *next; b; b = next) {
		next = b->next;
		free(b->data);
		free(b);
	}
	free(h);
}

uint64_t snapshot_erasure_bytes(const struct erasure_holder *h)
{
	return h ? h->bytes : 0;
}

static uint64_t layout_bytes(const struct erasure_layout *l)
{
	return sizeof(*l) + l->count * sizeof(*l->regions);
}

uint64_t snapshot_erasure_release(struct erasure_holder *h, snapshot_erasure_drop_fn *drop, void *arg)
{
	uint64_t freed = 0;
	for (struct member_layout **at = &h->layouts; *at;) {
		struct member_layout *x = *at;
		if (!drop(x->layout.step, arg)) {
			at = &x->next;
			continue;
		}
		*at = x->next;
		freed += layout_bytes(&x->layout);
		free(x->layout.regions);
		free(x);
	}
	for (struct parity_block **at = &h->blocks; *at;) {
		struct parity_block *b = *at;
		if (!drop(b->step, arg)) {
			at = &b->next;
			continue;
		}
		*at = b->next;
		freed += b->length;
		free(b->data);
		free(b);
	}
	h->bytes -= freed;
	return freed;
}

/* The chunk's group and roles are the ones this helper computes from its live nodes: 0
 * with *row (which parity block of the stripe it holds), or -ESTALE with why. */
static int check_roles(struct erasure_holder *h, uint32_t peer, const struct wire_snapshot_put *put,
		       unsigned *row, char *why, size_t cap)
{
	struct erasure_membership mine;
	uint32_t members[ERASURE_MAX_BLOCKS];
	unsigned chunk;
	char err[WIRE_TEXT_MAX + 1];
	if (group_of(h->d, mesh_self(h->d->mesh), &mine, members, err, sizeof(err)) < 0)
		return snprintf(why, cap, "this helper is in no erasure group: %s", err), -ESTALE;
	if (mine.group != put->group || mine.size != put->group_size ||
	    h->d->opt.redundancy_parity != put->parity)
		return snprintf(why, cap, "a chunk for group %u of %u nodes with %u parity, but this "
				"helper is in group %" PRIu32 " of %" PRIu32 " with %u", put->group,
				put->group_size, put->parity, mine.group, mine.size,
				h->d->opt.redundancy_parity), -ESTALE;
	if (redundancy_stripe_role(mine.size, put->parity, mine.position, put->stripe, row) != 1)
		return snprintf(why, cap, "this helper holds no parity of stripe %u", put->stripe), -ESTALE;
	for (uint32_t p = 0; p < mine.size; p++)
		if (members[p] == peer && redundancy_stripe_role(mine.size, put->parity, p, put->stripe,
								 &chunk) == 0 && chunk == put->chunk)
			return 0;
	return snprintf(why, cap, "node %" PRIu32 " gives no chunk %u to stripe %u of group %u",
			peer, put->chunk, put->stripe, put->group), -ESTALE;
}

static struct parity_block *find_block(struct erasure_holder *h, const struct wire_snapshot_put *put)
{
	for (struct parity_block *b = h->blocks; b; b = b->next)
		if (b->step == put->step && b->group == put->group && b->stripe == put->stripe &&
		    b->group_size == put->group_size && b->parity == put->parity)
			return b;
	return NULL;
}

/* The layout's sender is a member of this helper's group as it computes it: 0 with the
 * group, or -ESTALE with why. */
static int check_member(struct erasure_holder *h, uint32_t peer, const struct wire_snapshot_put *put,
			struct erasure_membership *mine, uint32_t members[ERASURE_MAX_BLOCKS], char *why,
			size_t cap)
{
	char err[WIRE_TEXT_MAX + 1];
	if (group_of(h->d, mesh_self(h->d->mesh), mine, members, err, sizeof(err)) < 0)
		return snprintf(why, cap, "this helper is in no erasure group: %s", err), -ESTALE;
	if (mine->group != put->group || mine->size != put->group_size ||
	    h->d->opt.redundancy_parity != put->parity)
		return snprintf(why, cap, "a layout for group %u of %u nodes with %u parity, but this "
				"helper is in group %" PRIu32 " of %" PRIu32 " with %u", put->group,
				put->group_size, put->parity, mine->group, mine->size,
				h->d->opt.redundancy_parity), -ESTALE;
	for (uint32_t p = 0; p < mine->size; p++)
		if (members[p] == peer)
			return 0;
	return snprintf(why, cap, "node %" PRIu32 " is not in group %u", peer, put->group), -ESTALE;
}

/* A chunk buffer of put->size bytes for what is being received. */
static int receive_into(struct erasure_holder *h, const struct wire_snapshot_put *put, uint8_t **dst,
			char *why, size_t cap)
{
	struct chunk_buffer *c = calloc(1, sizeof(*c));
	if (c)
		c->data = malloc(put->size);
	if (!c || !c->data) {
		free(c);
		return snprintf(why, cap, "lcrd on %s cannot hold %" PRIu64 " bytes of node %" PRIu32
				"'s snapshot", h->d->opt.node_name, put->size, put->node), -ENOMEM;
	}
	c->size = put->size;
	c->next = h->receiving;
	h->receiving = c;
	h->bytes += c->size;
	*dst = c->data;
	return 0;
}

int snapshot_erasure_reserve(struct erasure_holder *h, uint32_t peer, const struct wire_snapshot_put *put,
			     uint8_t **dst, char *why, size_t cap)
{
	unsigned row;
	const struct parity_block *b;
	struct erasure_membership mine;
	uint32_t members[ERASURE_MAX_BLOCKS];
	if (put->kind == WIRE_SNAPSHOT_LAYOUT) {
		int rc = check_member(h, peer, put, &mine, members, why, cap);
		return rc < 0 ? rc : receive_into(h, put, dst, why, cap);
	}
	int rc = check_roles(h, peer, put, &row, why, cap);
	if (rc < 0)
		return rc;
	if ((b = find_block(h, put)) && (b->added & (1u << put->chunk)))
		return snprintf(why, cap, "chunk %u of stripe %u at step %" PRIu64 " is in its parity "
				"already", put->chunk, put->stripe, put->step), -EALREADY;
	return receive_into(h, put, dst, why, cap);
}

/* The chunk buffer at data, unlinked and freed. */
static void drop_chunk(struct erasure_holder *h, const uint8_t *data)
{
	for (struct chunk_buffer **at = &h->receiving; *at; at = &(*at)->next)
		if ((*at)->data == data) {
			struct chunk_buffer *c = *at;
			*at = c->next;
			h->bytes -= c->size;
			free(c->data);
			free(c);
			return;
		}
}

/* The stripe's parity block at the chunk's step, at least `length` bytes long (grown with
 * zeros: a shorter chunk is zero-padded, and zeros add nothing), or NULL. */
static struct parity_block *block_for(struct erasure_holder *h, const struct wire_snapshot_put *put,
				      unsigned row)
{
	struct parity_block *b = find_block(h, put);
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return NULL;
		*b = (struct parity_block){ .step = put->step, .group = put->group,
					    .group_size = put->group_size, .parity = put->parity,
					    .stripe = put->stripe, .row = (uint16_t)row, .next = h->blocks };
		h->blocks = b;
	}
	if (b->length < put->size) {
		uint8_t *grown = realloc(b->data, put->size);
		if (!grown)
			return NULL;
		memset(grown + b->length, 0, put->size - b->length);
		h->bytes += put->size - b->length;
		b->data = grown;
		b->length = put->size;
	}
	return b;
}

static int code_for(struct erasure_holder *h, unsigned data_count, unsigned parity, char *why, size_t cap)
{
	if (h->code_ready && h->code.data_count == data_count && h->code.parity_count == parity)
		return 0;
	h->code_ready = erasure_init(&h->code, data_count, parity, why, cap) == 0;
	return h->code_ready ? 0 : -EINVAL;
}

static void tell_complete(const struct parity_block *b)
{
	char nodes[WIRE_TEXT_MAX + 1] = "", size[32];
	size_t n = 0;
	for (unsigned c = 0; c < (unsigned)(b->group_size - b->parity) && n < sizeof(nodes); c++)
		n += (size_t)snprintf(nodes + n, sizeof(nodes) - n, "%s%" PRIu32, c ? "," : "", b->from[c]);
	log_verbose("holding parity block %u of stripe %u of group %" PRIu32 " at step %" PRIu64
		    " (chunks of nodes %s): %s, xxh3 %016" PRIx64, b->row, b->stripe, b->group, b->step,
		    nodes, util_format_size(b->length, size, sizeof(size)),
		    (uint64_t)XXH3_64bits(b->data, b->length));
}

static struct member_layout *find_layout(const struct erasure_holder *h, uint64_t step, uint32_t node)
{
	for (struct member_layout *x = h->layouts; x; x = x->next)
		if (x->layout.step == step && x->layout.node == node)
			return x;
	return NULL;
}

/* A member's layout arrived: kept (replacing one of the same node and step), with the
 * group as this helper sees it now. */
static int keep_layout(struct erasure_holder *h, uint32_t peer, const struct wire_snapshot_put *put,
		       const uint8_t *bytes, char *why, size_t cap)
{
	struct member_layout *x = calloc(1, sizeof(*x)), *old;
	struct erasure_membership mine;
	int rc = x ? check_member(h, peer, put, &mine, x->layout.members, why, cap) : -ENOMEM;
	if (rc == 0 && (rc = wire_decode_snapshot_layout(bytes, put->size, &x->layout.incarnation,
							 &x->layout.regions, &x->layout.count)) < 0)
		snprintf(why, cap, "the layout of node %" PRIu32 " is malformed", peer);
	if (rc < 0) {
		if (rc == -ENOMEM)
			snprintf(why, cap, "out of memory");
		free(x);
		return rc;
	}
	x->layout.step = put->step;
	x->layout.node = peer;
	x->layout.group = mine.group;
	x->layout.group_size = mine.size;
	x->layout.parity = put->parity;
	if ((old = find_layout(h, put->step, peer))) {
		h->bytes -= layout_bytes(&old->layout);
		free(old->layout.regions);
		old->layout = x->layout;
		free(x);
		x = old;
	} else {
		x->next = h->layouts;
		h->layouts = x;
	}
	h->bytes += layout_bytes(&x->layout);
	return 0;
}

const struct erasure_layout *snapshot_erasure_layout(const struct erasure_holder *h, uint64_t step,
						     uint32_t node)
{
	const struct member_layout *x = h ? find_layout(h, step, node) : NULL;
	return x ? &x->layout : NULL;
}

const struct erasure_layout *snapshot_erasure_any_layout(const struct erasure_holder *h, uint64_t step)
{
	for (const struct member_layout *x = h ? h->layouts : NULL; x; x = x->next)
		if (x->layout.step == step)
			return &x->layout;
	return NULL;
}

int snapshot_erasure_parity_copy(const struct erasure_holder *h, uint64_t step, uint32_t group,
				 uint32_t stripe, uint8_t **data, uint64_t *length, unsigned *row)
{
	for (const struct parity_block *b = h->blocks; b; b = b->next)
		if (b->step == step && b->group == group && b->stripe == stripe &&
		    b->added == (1u << (b->group_size - b->parity)) - 1) {
			if (!(*data = malloc(b->length)))
				return -ENOMEM;
			memcpy(*data, b->data, b->length);
			*length = b->length;
			*row = b->row;
			return 0;
		}
	return -ENOENT;
}

int snapshot_erasure_arrived(struct erasure_holder *h, uint32_t peer, const struct wire_snapshot_put *put,
			     uint8_t *dst, int rc, uint64_t xxh3, char *why, size_t cap)
{
	unsigned row, data_count = put->group_size - put->parity;
	struct parity_block *b;
	(void)xxh3;
	if (rc < 0) {
		drop_chunk(h, dst);
		return snprintf(why, cap, "the chunk did not arrive whole: %s", strerror(-rc)), rc;
	}
	if (put->kind == WIRE_SNAPSHOT_LAYOUT) {
		rc = keep_layout(h, peer, put, dst, why, cap);
		drop_chunk(h, dst);
		return rc;
	}
	/* the roles again: the live nodes may have changed while it arrived */
	if ((rc = check_roles(h, peer, put, &row, why, cap)) < 0 ||
	    (rc = code_for(h, data_count, put->parity, why, cap)) < 0) {
		drop_chunk(h, dst);
		return rc;
	}
	if (!(b = block_for(h, put, row))) {
		drop_chunk(h, dst);
		return snprintf(why, cap, "lcrd on %s cannot hold a parity block of %" PRIu64 " bytes",
				h->d->opt.node_name, put->size), -ENOMEM;
	}
	if (b->added & (1u << put->chunk)) {
		drop_chunk(h, dst);
		return snprintf(why, cap, "chunk %u of stripe %u is in its parity already", put->chunk,
				put->stripe), -EALREADY;
	}
	erasure_add_block_to_row(&h->code, put->size, put->chunk, row, dst, b->data);
	drop_chunk(h, dst);
	b->added |= 1u << put->chunk;
	b->from[put->chunk] = peer;
	if (b->added == (1u << data_count) - 1)
		tell_complete(b);
	return 0;
}
