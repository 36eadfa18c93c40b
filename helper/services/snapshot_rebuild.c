/* snapshot_rebuild.c: a lost node's snapshot rebuilt from the parity of its group (see
 * snapshot_rebuild.h). Two halves: the members' (the blocks each sends the leader, pushed
 * on a worker) and the leader's (the blocks gathered per stripe, decoded and checked on a
 * worker once enough are in, so that the event loop keeps its heartbeats meanwhile; each
 * region put together into a buffer of its own there too, which the loop hands over to the
 * keep callback once the worker ended, no byte copied on the loop). The arithmetic is
 * common/erasure.c's, the placement common/redundancy_plan.c's. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "services/snapshot_rebuild.h"
#include "internal/erasure.h"
#include "internal/util.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "loop/worker.h"
#include "mesh/mesh.h"

/* --- the leader's side: one group's lost members at one step --- */

struct stripe_blocks {
	uint8_t *data[ERASURE_MAX_BLOCKS];    /* by block: data chunks, then parity rows */
	uint64_t length[ERASURE_MAX_BLOCKS];
	uint32_t have;                        /* bit b: block b is in */
};

struct lost_layout {
	bool have;
	uint64_t incarnation;
	uint32_t count;
	struct wire_snapshot_layout_region *regions;
};

/* An assembly's status, or < 0: the rebuild failed (why says why). */
enum {
	ASSEMBLY_REBUILT = 0,
	ASSEMBLY_GATHERING = 1,
	ASSEMBLY_DECODING = 2, /* its worker owns the stripes, layouts and lost mask */
};

/* The decode of an assembly on its worker: what the job writes, read on the loop once it
 * ended. */
struct decoding {
	struct snapshot_rebuild *r;
	struct worker *worker;                 /* NULL once the job ended */
	uint8_t **regions[ERASURE_MAX_BLOCKS]; /* by position: a lost member's regions' bytes,
						* checked, by its layout's order; NULL once kept */
	uint64_t padding;                      /* bytes the blocks grew by, zero padded */
	uint64_t padding_counted;              /* what r->bytes counted for it at the start */
	uint64_t started_ns;
	char why[WIRE_TEXT_MAX + 1];           /* why the job failed */
};

/* One group's lost members at one step. While DECODING, the job alone reads or writes its
 * stripes, layouts and lost mask: every path on the loop leaves them alone (update_lost,
 * add_block's callers) or cancels the job before it frees them (free_assembly). */
struct assembly {
	uint64_t step;
	uint32_t group, size, parity;
	uint32_t members[ERASURE_MAX_BLOCKS];
	uint32_t lost;                         /* bit p: the member at position p is lost */
	uint32_t rebuilt;                      /* the lost members when the rebuild ended */
	struct lost_layout layouts[ERASURE_MAX_BLOCKS];
	struct stripe_blocks stripes[ERASURE_MAX_BLOCKS];
	struct decoding decoding;
	int status;                            /* ASSEMBLY_*, or < 0: failed */
	char why[WIRE_TEXT_MAX + 1];           /* why it failed */
	uint64_t started_ms;
	struct assembly *next;
};

/* A member's blocks on their way to the leader. */
struct send_job {
	struct snapshot_rebuild *r;
	struct transfer_peer leader;
	struct transfer_identity id;
	size_t count;
	struct wire_snapshot_put puts[2 * ERASURE_MAX_BLOCKS];
	uint8_t *data[2 * ERASURE_MAX_BLOCKS];
	char error[WIRE_TEXT_MAX + 1];
	struct worker *worker;
	struct send_job *next;
};

/* A block or layout being received by the leader. */
struct receiving {
	uint8_t *data;
	uint64_t size;
	struct receiving *next;
};

struct snapshot_rebuild {
	struct lcrd *d;
	struct erasure_holder *holder;
	snapshot_rebuild_keep_fn *keep;
	void *keep_arg;
	struct assembly *assemblies;
	struct send_job *jobs;
	struct receiving *receiving;
	uint64_t bytes;
};

/* The stripes in which a lost member gives a data chunk: bit s. */
static uint32_t stripes_needed(uint32_t size, unsigned parity, uint32_t lost)
{
	uint32_t needed = 0;
	unsigned index;
	for (uint32_t s = 0; s < size; s++)
		for (uint32_t p = 0; p < size; p++)
			if ((lost & (1u << p)) && redundancy_stripe_role(size, parity, p, s, &index) == 0)
				needed |= 1u << s;
	return needed;
}

/* The block index of the member at position in stripe: data chunks first, then parity. */
static unsigned block_of(uint32_t size, unsigned parity, uint32_t position, uint32_t stripe)
{
	unsigned index;
	return redundancy_stripe_role(size, parity, position, stripe, &index) == 1
		       ? size - parity + index : index;
}

static uint32_t lost_mask(const struct mesh *m, const uint32_t *members, uint32_t size)
{
	uint32_t lost = 0;
	for (uint32_t p = 0; p < size; p++)
		if (!mesh_is_live(m, members[p]))
			lost |= 1u << p;
	return lost;
}

static void format_nodes(char *out, size_t cap, const uint32_t *members, uint32_t mask)
{
	size_t n = 0;
	out[0] = '\0';
	for (uint32_t p = 0; p < ERASURE_MAX_BLOCKS && n < cap; p++)
		if (mask & (1u << p))
			n += (size_t)snprintf(out + n, cap - n, "%s%" PRIu32, n ? ", " : "", members[p]);
}

static void free_stripes(struct snapshot_rebuild *r, struct assembly *a)
{
	for (uint32_t s = 0; s < ERASURE_MAX_BLOCKS; s++)
		for (uint32_t b = 0; b < ERASURE_MAX_BLOCKS; b++) {
			r->bytes -= a->stripes[s].length[b];
			free(a->stripes[s].data[b]);
			a->stripes[s].data[b] = NULL;
			a->stripes[s].length[b] = 0;
		}
}

static void fail(struct snapshot_rebuild *r, struct assembly *a, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void fail(struct snapshot_rebuild *r, struct assembly *a, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->why, sizeof(a->why), fmt, ap);
	va_end(ap);
	a->status = rc;
	free_stripes(r, a);
	log_warning("cannot rebuild from the parity of erasure group %" PRIu32 " at step %" PRIu64
		    ": %s", a->group, a->step, a->why);
}

/* The layout of the lost member at position, from this helper's own holder when it has it. */
static void take_own_layout(struct snapshot_rebuild *r, struct assembly *a, uint32_t position)
{
	const struct erasure_layout *l = snapshot_erasure_layout(r->holder, a->step, a->members[position]);
	struct lost_layout *x = &a->layouts[position];
	if (x->have || !l || !(x->regions = calloc(l->count ? l->count : 1, sizeof(*x->regions))))
		return;
	memcpy(x->regions, l->regions, l->count * sizeof(*x->regions));
	x->count = l->count;
	x->incarnation = l->incarnation;
	x->have = true;
}

static struct assembly *find_assembly(struct snapshot_rebuild *r, uint64_t step, uint32_t node)
{
	for (struct assembly *a = r->assemblies; a; a = a->next)
		for (uint32_t p = 0; a->step == step && p < a->size; p++)
			if (a->members[p] == node)
				return a;
	return NULL;
}

/* The group's lost members as of now: more than its parity fails the rebuild. While the
 * blocks are decoded, nothing: a loss then is one after the rebuild ended, seen once it has. */
static void update_lost(struct snapshot_rebuild *r, struct assembly *a)
{
	char nodes[WIRE_TEXT_MAX / 2];
	if (a->status == ASSEMBLY_DECODING)
		return;
	a->lost |= lost_mask(r->d->mesh, a->members, a->size);
	for (uint32_t p = 0; p < a->size; p++)
		if (a->lost & (1u << p))
			take_own_layout(r, a, p);
	if (a->status == ASSEMBLY_GATHERING && (unsigned)__builtin_popcount(a->lost) > a->parity) {
		format_nodes(nodes, sizeof(nodes), a->members, a->lost);
		fail(r, a, -EHOSTDOWN, "nodes %s of the group are lost, and its parity (%" PRIu32
		     " block%s per stripe) rebuilds at most %" PRIu32, nodes, a->parity,
		     a->parity == 1 ? "" : "s", a->parity);
	}
	/* A loss after the rebuild ended: this step's blocks were gathered without it. */
	uint32_t after = lost_mask(r->d->mesh, a->members, a->size) & ~a->rebuilt;
	if (a->status == ASSEMBLY_REBUILT && after) {
		format_nodes(nodes, sizeof(nodes), a->members, after);
		fail(r, a, -EHOSTDOWN, "node %s of the group was lost after the rebuild at this step "
		     "ended; it is not rebuilt from it", nodes);
	}
}

/* The leader's rebuild of lost's group at step, created over `live` when new: NULL with
 * why when lost was in no group then. */
static struct assembly *expect(struct snapshot_rebuild *r, uint32_t lost, uint64_t step,
			       const uint32_t *live, uint32_t live_count, char *why, size_t cap)
{
	struct assembly *a = find_assembly(r, step, lost);
	struct erasure_membership g;
	uint32_t members[ERASURE_MAX_BLOCKS];
	if (a)
		return a;
	if (snapshot_erasure_group_over(live, live_count, lost, r->d->opt.redundancy_group_size,
					r->d->opt.redundancy_parity, &g, members, why, cap) < 0)
		return NULL;
	if (!(a = calloc(1, sizeof(*a))))
		return snprintf(why, cap, "out of memory"), NULL;
	*a = (struct assembly){ .step = step, .group = g.group, .size = g.size,
				.parity = r->d->opt.redundancy_parity, .status = ASSEMBLY_GATHERING,
				.started_ms = util_now_ms(), .next = r->assemblies };
	memcpy(a->members, members, sizeof(members));
	r->assemblies = a;
	log_info("rebuilding the snapshot of node %" PRIu32 " at protected step %" PRIu64 " from the "
		 "parity of erasure group %" PRIu32 " (%" PRIu32 " nodes, %" PRIu32 " parity)", lost, step,
		 a->group, a->size, a->parity);
	return a;
}

/* Whether every needed stripe has as many blocks as data chunks and every lost member's
 * layout is in; else why not. */
static bool ready(const struct assembly *a, char *why, size_t cap)
{
	uint32_t needed = stripes_needed(a->size, a->parity, a->lost), k = a->size - a->parity;
	for (uint32_t p = 0; p < a->size; p++)
		if ((a->lost & (1u << p)) && !a->layouts[p].have)
			return snprintf(why, cap, "the layout of node %" PRIu32 " has not come",
					a->members[p]), false;
	for (uint32_t s = 0; s < a->size; s++)
		if ((needed & (1u << s)) && (uint32_t)__builtin_popcount(a->stripes[s].have) < k)
			return snprintf(why, cap, "stripe %" PRIu32 " has %d of the %" PRIu32 " blocks it "
					"needs", s, __builtin_popcount(a->stripes[s].have), k), false;
	return true;
}

static uint64_t layout_total(const struct lost_layout *l)
{
	uint64_t total = 0;
	for (uint32_t i = 0; i < l->count; i++)
		total += l->regions[i].size;
	return total;
}

/* The length every block of stripe s is padded to: the longest (the lost members' chunks
 * included). */
static uint64_t stripe_longest(const struct assembly *a, uint32_t s)
{
	const struct stripe_blocks *x = &a->stripes[s];
	uint64_t longest = 64;
	for (uint32_t b = 0; b < a->size; b++)
		if (x->length[b] > longest)
			longest = x->length[b];
	for (uint32_t p = 0; p < a->size; p++)
		if (a->lost & (1u << p)) {
			uint64_t total = layout_total(&a->layouts[p]);
			uint64_t chunk = redundancy_chunk_bytes(total ? total : 1, a->size, a->parity);
			longest = chunk > longest ? chunk : longest;
		}
	return longest;
}

/* The bytes the decode will pad the needed stripes' blocks with, counted before it starts. */
static uint64_t padding_of(const struct assembly *a)
{
	uint32_t needed = stripes_needed(a->size, a->parity, a->lost);
	uint64_t padding = 0;
	for (uint32_t s = 0; s < a->size; s++) {
		uint64_t longest = (needed & (1u << s)) ? stripe_longest(a, s) : 0;
		for (uint32_t b = 0; longest && b < a->size; b++)
			padding += longest - a->stripes[s].length[b];
	}
	return padding;
}

/* Decodes the lost blocks of stripe s, every block padded with zeros to the stripe's
 * longest. On the worker. */
static int decode_stripe(struct assembly *a, uint32_t s, const struct erasure_code *code, char *why,
			 size_t cap)
{
	struct stripe_blocks *x = &a->stripes[s];
	uint64_t longest = stripe_longest(a, s);
	bool lost[ERASURE_MAX_BLOCKS] = { false };
	for (uint32_t b = 0; b < a->size; b++) {
		uint8_t *grown = realloc(x->data[b], longest);
		if (!grown)
			return snprintf(why, cap, "out of memory"), -ENOMEM;
		memset(grown + x->length[b], 0, longest - x->length[b]);
		a->decoding.padding += longest - x->length[b];
		x->data[b] = grown;
		x->length[b] = longest;
		lost[b] = !(x->have & (1u << b));
	}
	return erasure_recover(code, longest, x->data, lost, why, cap);
}

/* Bytes [at, at + len) of the lost member at position's snapshot (its data chunks one
 * after the other, chunk bytes each), gathered from the decoded stripes into out. */
static void gather_member_bytes(const struct assembly *a, uint32_t position, uint64_t chunk,
				uint64_t at, uint8_t *out, uint64_t len)
{
	for (uint64_t done = 0; done < len;) {
		unsigned c = (unsigned)((at + done) / chunk);
		uint64_t within = (at + done) % chunk;
		uint64_t n = chunk - within < len - done ? chunk - within : len - done;
		uint32_t s = redundancy_stripe_of_chunk(a->size, a->parity, position, c);
		memcpy(out + done, a->stripes[s].data[c] + within, n);
		done += n;
	}
}

/* The lost member at position: each region of its snapshot put together from its decoded
 * chunks into a buffer of its own, and checked against its XXH3. On the worker. */
static int put_member_together(struct assembly *a, uint32_t position, const atomic_bool *cancel,
			       char *why, size_t cap)
{
	const struct lost_layout *l = &a->layouts[position];
	uint64_t total = layout_total(l), at = 0;
	uint64_t chunk = redundancy_chunk_bytes(total ? total : 1, a->size, a->parity);
	uint8_t **regions = calloc(l->count ? l->count : 1, sizeof(*regions));
	if (!regions)
		return snprintf(why, cap, "out of memory"), -ENOMEM;
	a->decoding.regions[position] = regions;
	for (uint32_t i = 0; i < l->count; at += l->regions[i++].size) {
		const struct wire_snapshot_layout_region *x = &l->regions[i];
		if (atomic_load(cancel))
			return -ECANCELED;
		if (!(regions[i] = malloc(x->size ? x->size : 1)))
			return snprintf(why, cap, "out of memory"), -ENOMEM;
		gather_member_bytes(a, position, chunk, at, regions[i], x->size);
		if (XXH3_64bits(regions[i], x->size) != x->xxh3)
			return snprintf(why, cap, "region '%s' of rank %" PRIu32 " decodes with another "
					"XXH3 than node %" PRIu32 "'s snapshot gave", x->name, x->rank,
					a->members[position]), -EILSEQ;
	}
	return 0;
}

/* The worker's job: every needed stripe decoded, every lost member's snapshot put together
 * and checked (the cancel flag looked at between stripes and between regions). */
static int decode_all(void *arg, const atomic_bool *cancel)
{
	struct assembly *a = arg;
	char *why = a->decoding.why;
	size_t cap = sizeof(a->decoding.why);
	uint32_t needed = stripes_needed(a->size, a->parity, a->lost);
	struct erasure_code code;
	int rc = erasure_init(&code, a->size - a->parity, a->parity, why, cap);
	for (uint32_t s = 0; rc == 0 && s < a->size; s++)
		if (needed & (1u << s))
			rc = atomic_load(cancel) ? -ECANCELED : decode_stripe(a, s, &code, why, cap);
	for (uint32_t p = 0; rc == 0 && p < a->size; p++)
		if (a->lost & (1u << p))
			rc = put_member_together(a, p, cancel, why, cap);
	return rc;
}

/* The decode's leftovers, once its job ended or was cancelled: r->bytes counts the padding
 * the blocks got (free_stripes takes it off with them) instead of the padding planned, the
 * put-together regions that were not kept freed. */
static void end_decoding(struct snapshot_rebuild *r, struct assembly *a)
{
	struct decoding *x = &a->decoding;
	if (x->worker)
		worker_cancel(x->worker);
	x->worker = NULL;
	r->bytes = r->bytes - x->padding_counted + x->padding;
	x->padding = x->padding_counted = 0;
	for (uint32_t p = 0; p < ERASURE_MAX_BLOCKS; p++) {
		for (uint32_t i = 0; x->regions[p] && i < a->layouts[p].count; i++)
			free(x->regions[p][i]);
		free(x->regions[p]);
		x->regions[p] = NULL;
	}
}

/* Hands the checked regions of every lost member over to the keep callback, on the loop
 * (their buffers, not their bytes): 0 or -errno with why. */
static int keep_members(struct snapshot_rebuild *r, struct assembly *a, uint64_t *bytes, char *why,
			size_t cap)
{
	int rc = 0;
	for (uint32_t p = 0; p < a->size; p++) {
		const struct lost_layout *l = &a->layouts[p];
		if (!(a->lost & (1u << p)))
			continue;
		for (uint32_t i = 0; rc == 0 && i < l->count; i++)
			rc = r->keep(r->keep_arg, a->members[p], l->incarnation, a->step, &l->regions[i],
				     &a->decoding.regions[p][i], why, cap);
		*bytes += layout_total(l);
	}
	return rc;
}

/* The worker ended, on the loop: the rebuilt regions kept, or the rebuild failed. */
static void decoded(void *arg, int rc)
{
	struct assembly *a = arg;
	struct snapshot_rebuild *r = a->decoding.r;
	char why[WIRE_TEXT_MAX + 1], nodes[WIRE_TEXT_MAX / 2], size[32];
	uint64_t bytes = 0;
	a->decoding.worker = NULL; /* freed by worker.c */
	if (rc < 0) {
		util_copy_string(why, sizeof(why), a->decoding.why);
	} else {
		/* The blocks are decoded into the regions' buffers: freed before the regions are
		 * kept, so that the budget the keeping checks no longer counts them. */
		free_stripes(r, a);
		rc = keep_members(r, a, &bytes, why, sizeof(why));
	}
	end_decoding(r, a);
	if (rc < 0) {
		fail(r, a, rc, "%s", why);
		return;
	}
	a->status = ASSEMBLY_REBUILT;
	a->rebuilt = a->lost;
	format_nodes(nodes, sizeof(nodes), a->members, a->lost);
	log_info("rebuilt the snapshot of node %s at step %" PRIu64 " from the parity of erasure group "
		 "%" PRIu32 " (%s in %.3f s, every region checked against its XXH3): held as its copies",
		 nodes, a->step, a->group, util_format_size(bytes, size, sizeof(size)),
		 (double)(util_now_ns() - a->decoding.started_ns) / 1e9);
}

/* Every block needed is in: decode and check on a worker, keep once it ended. */
static void try_finish(struct snapshot_rebuild *r, struct assembly *a)
{
	char why[WIRE_TEXT_MAX + 1];
	int rc;
	if (a->status != ASSEMBLY_GATHERING || !ready(a, why, sizeof(why)))
		return;
	/* The padding is counted now: the budget sees it while the worker adds it. */
	a->decoding = (struct decoding){ .r = r, .started_ns = util_now_ns(),
					 .padding_counted = padding_of(a) };
	r->bytes += a->decoding.padding_counted;
	a->status = ASSEMBLY_DECODING;
	rc = worker_start(r->d->loop, decode_all, decoded, a, &a->decoding.worker);
	if (rc < 0) {
		/* The members do not send their blocks again: decode here rather than fail. */
		atomic_bool never = false;
		log_warning("cannot start the thread that decodes the blocks of erasure group %" PRIu32
			    " at step %" PRIu64 " (%s): decoding them on the event loop", a->group,
			    a->step, strerror(-rc));
		decoded(a, decode_all(a, &never));
	}
}

/* One block of stripe s into the leader's rebuild (replacing one already there). */
static void add_block(struct snapshot_rebuild *r, struct assembly *a, uint32_t s, unsigned b,
		      uint8_t *data, uint64_t length)
{
	struct stripe_blocks *x = &a->stripes[s];
	r->bytes -= x->length[b];
	free(x->data[b]);
	x->data[b] = data;
	x->length[b] = length;
	x->have |= 1u << b;
	r->bytes += length;
}

/* --- the members' side --- */

static int push_all(void *arg, const atomic_bool *cancel)
{
	struct send_job *j = arg;
	struct transfer_conn *c;
	char err[WIRE_TEXT_MAX + 1];
	uint64_t held;
	int rc = transfer_conn_open(&j->leader, &j->id, &c, err, sizeof(err));
	if (rc < 0) {
		util_format_text(j->error, sizeof(j->error), "cannot reach the leader %s: %s",
				 j->leader.name, err);
		return rc;
	}
	for (size_t i = 0; rc == 0 && i < j->count; i++) {
		rc = atomic_load(cancel) ? -ECANCELED
					 : transfer_conn_put(c, &j->puts[i], j->data[i], &held, err, sizeof(err));
		if (rc == 0 && held != XXH3_64bits(j->data[i], j->puts[i].size))
			rc = -EILSEQ, snprintf(err, sizeof(err), "the leader acknowledged another XXH3");
		if (rc < 0)
			util_format_text(j->error, sizeof(j->error), "block %u of stripe %u: %s",
					 j->puts[i].chunk, j->puts[i].stripe, err);
	}
	transfer_conn_close(c);
	return rc;
}

static void free_job(struct send_job *j)
{
	for (size_t i = 0; i < j->count; i++)
		free(j->data[i]);
	free(j);
}

static void job_done(void *arg, int rc)
{
	struct send_job *j = arg;
	struct snapshot_rebuild *r = j->r;
	for (struct send_job **at = &r->jobs; *at; at = &(*at)->next)
		if (*at == j) {
			*at = j->next;
			break;
		}
	if (rc < 0)
		log_warning("cannot send the leader this node's blocks for the rebuild at step %" PRIu64
			    ": %s", j->puts[0].step, j->error);
	else
		log_verbose("sent the leader %zu block%s for the rebuild at step %" PRIu64, j->count,
			    j->count == 1 ? "" : "s", j->puts[0].step);
	free_job(j);
}

static int add_to_job(struct send_job *j, const struct wire_snapshot_put *put, uint8_t *data)
{
	if (!data)
		return -ENOMEM;
	j->puts[j->count] = *put;
	j->data[j->count++] = data;
	return 0;
}

/* This member's block of stripe s (its data chunk, or its parity block): 0, -ENOENT (it
 * holds none), -ENOMEM. */
static int own_block(struct snapshot_rebuild *r, const struct erasure_layout *g, uint32_t position,
		     uint32_t s, const struct erasure_piece *pieces, size_t count,
		     struct wire_snapshot_put *put, uint8_t **data)
{
	unsigned index;
	if (redundancy_stripe_role(g->group_size, g->parity, position, s, &index) == 1)
		return snapshot_erasure_parity_copy(r->holder, g->step, g->group, s, data, &put->size, &index);
	uint64_t total = 0;
	if (!pieces)
		return -ENOENT; /* it keeps no snapshot of the step */
	for (size_t i = 0; i < count; i++)
		total += pieces[i].size;
	put->size = redundancy_chunk_bytes(total ? total : 1, g->group_size, g->parity);
	if (!(*data = malloc(put->size)))
		return -ENOMEM;
	snapshot_erasure_gather(pieces, count, index * put->size, *data, put->size);
	return 0;
}

static int add_layouts(struct snapshot_rebuild *r, struct send_job *j, const struct erasure_layout *g,
		       uint32_t lost)
{
	for (uint32_t p = 0; p < g->group_size; p++) {
		const struct erasure_layout *l = (lost & (1u << p))
							 ? snapshot_erasure_layout(r->holder, g->step, g->members[p])
							 : NULL;
		if (!l)
			continue;
		size_t cap = WIRE_SNAPSHOT_LAYOUT_BYTES(l->count);
		uint8_t *buf = malloc(cap);
		int n = buf ? wire_encode_snapshot_layout(l->incarnation, l->regions, l->count, buf, cap)
			    : -ENOMEM;
		struct wire_snapshot_put put = { .node = l->node, .rank = WIRE_NO_RANK, .step = g->step,
						 .size = (uint64_t)n, .kind = WIRE_SNAPSHOT_REBUILD_LAYOUT,
						 .group = g->group, .group_size = (uint16_t)g->group_size,
						 .parity = (uint16_t)g->parity };
		if (n < 0) {
			free(buf);
			return n;
		}
		add_to_job(j, &put, buf);
	}
	return 0;
}

/* The blocks this member owes the leader for its group's lost members at step. */
static int build_job(struct snapshot_rebuild *r, struct send_job *j, const struct erasure_layout *g,
		     uint32_t position, uint32_t lost, const struct erasure_piece *pieces, size_t count)
{
	uint32_t needed = stripes_needed(g->group_size, g->parity, lost);
	int rc = 0;
	for (uint32_t s = 0; rc == 0 && s < g->group_size; s++) {
		struct wire_snapshot_put put = { .node = mesh_self(r->d->mesh),
						 .rank = WIRE_NO_RANK,
						 .step = g->step, .kind = WIRE_SNAPSHOT_REBUILD,
						 .group = g->group, .group_size = (uint16_t)g->group_size,
						 .parity = (uint16_t)g->parity, .stripe = (uint16_t)s,
						 .chunk = (uint16_t)block_of(g->group_size, g->parity, position, s) };
		uint8_t *data = NULL;
		if (!(needed & (1u << s)))
			continue;
		rc = own_block(r, g, position, s, pieces, count, &put, &data);
		if (rc == -ENOENT) {
			log_warning("this helper has no block of stripe %" PRIu32 " at step %" PRIu64
				    " for the rebuild", s, g->step);
			rc = 0;
			continue;
		}
		if (rc == 0)
			rc = add_to_job(j, &put, data);
	}
	/* Every member sends the lost members' layouts (the leader keeps the first), so that
	 * one member's failed send does not hold the rebuild for its whole wait. */
	return rc == 0 ? add_layouts(r, j, g, lost) : rc;
}

static struct assembly *assembly_of_group(struct snapshot_rebuild *r, uint64_t step, uint32_t group,
					  uint32_t size)
{
	for (struct assembly *a = r->assemblies; a; a = a->next)
		if (a->step == step && a->group == group && a->size == size)
			return a;
	return NULL;
}

/* The leader's own blocks go straight into its rebuild while it gathers them. */
static void deliver_locally(struct snapshot_rebuild *r, struct send_job *j)
{
	struct assembly *a = assembly_of_group(r, j->puts[0].step, j->puts[0].group, j->puts[0].group_size);
	if (a && a->status != ASSEMBLY_GATHERING)
		a = NULL;
	for (size_t i = 0; a && i < j->count; i++) {
		if (j->puts[i].kind == WIRE_SNAPSHOT_REBUILD) {
			add_block(r, a, j->puts[i].stripe, j->puts[i].chunk, j->data[i], j->puts[i].size);
			j->data[i] = NULL;
		}
	}
	if (a)
		try_finish(r, a);
	free_job(j);
}

static void send_blocks(struct snapshot_rebuild *r, uint32_t lost, uint64_t step,
			const struct erasure_piece *pieces, size_t count)
{
	struct mesh *m = r->d->mesh;
	const struct erasure_layout *g = snapshot_erasure_any_layout(r->holder, step);
	uint32_t position = UINT32_MAX, in_group = 0;
	for (uint32_t p = 0; g && p < g->group_size; p++) {
		position = g->members[p] == mesh_self(m) ? p : position;
		in_group |= g->members[p] == lost;
	}
	if (!g || !in_group || position == UINT32_MAX)
		return;
	struct send_job *j = calloc(1, sizeof(*j));
	int rc = j ? build_job(r, j, g, position, lost_mask(m, g->members, g->group_size), pieces,
			       count) : -ENOMEM;
	if (rc < 0 || j->count == 0) {
		if (rc < 0)
			log_warning("cannot send the leader this node's blocks for the rebuild of node %"
				    PRIu32 " at step %" PRIu64 ": %s", lost, step, strerror(-rc));
		if (j)
			free_job(j);
		return;
	}
	if (mesh_is_leader(m)) {
		deliver_locally(r, j);
		return;
	}
	uint32_t leader = mesh_leader(m);
	const char *name = mesh_node_name(m, leader);
	j->r = r;
	j->leader = (struct transfer_peer){ .node = leader };
	j->leader.sa_len = mesh_node_sockaddr(m, leader, &j->leader.sa);
	snprintf(j->leader.name, sizeof(j->leader.name), "%s", name[0] ? name : "?");
	transfer_identity_of(r->d, &j->id);
	if ((rc = worker_start(r->d->loop, push_all, job_done, j, &j->worker)) < 0) {
		log_warning("cannot start the thread that sends the rebuild's blocks: %s", strerror(-rc));
		free_job(j);
		return;
	}
	j->next = r->jobs;
	r->jobs = j;
}

void snapshot_rebuild_node_lost(struct snapshot_rebuild *r, uint32_t lost, uint64_t step,
				const struct erasure_piece *pieces, size_t count, const uint32_t *live,
				uint32_t live_count)
{
	struct mesh *m = r->d->mesh;
	char why[WIRE_TEXT_MAX + 1];
	if (mesh_is_leader(m)) {
		struct assembly *a = expect(r, lost, step, live, live_count, why, sizeof(why));
		if (a)
			update_lost(r, a);
		else
			log_verbose("no rebuild of node %" PRIu32 " at step %" PRIu64 ": %s", lost, step, why);
	}
	send_blocks(r, lost, step, pieces, count);
}

int snapshot_rebuild_state(struct snapshot_rebuild *r, uint32_t lost, uint64_t step,
			   const uint32_t *live, uint32_t live_count, char *why, size_t cap)
{
	struct mesh *m = r->d->mesh;
	char waiting[WIRE_TEXT_MAX + 1] = "";
	/* The leader makes it here too when the recovery asks before it heard of the loss. */
	struct assembly *a = mesh_is_leader(m)
				     ? expect(r, lost, step, live, live_count, waiting, sizeof(waiting))
				     : find_assembly(r, step, lost);
	if (!a)
		return snprintf(why, cap, "node %" PRIu32 " was in no erasure group at protected step %"
				PRIu64 "%s%s", lost, step, waiting[0] ? ": " : "", waiting), -ENOENT;
	update_lost(r, a);
	try_finish(r, a);
	if (a->status == ASSEMBLY_GATHERING && !ready(a, waiting, sizeof(waiting)) &&
	    util_now_ms() - a->started_ms > SNAPSHOT_REBUILD_WAIT_MS)
		fail(r, a, -ETIMEDOUT, "its blocks did not come in %.0f s: %s",
		     SNAPSHOT_REBUILD_WAIT_MS / 1e3, waiting);
	if (a->status == ASSEMBLY_DECODING)
		snprintf(waiting, sizeof(waiting), "its blocks are being decoded");
	if (a->status == ASSEMBLY_GATHERING || a->status == ASSEMBLY_DECODING)
		return snprintf(why, cap, "its rebuild from the parity of erasure group %" PRIu32
				" is not done: %s", a->group, waiting), -EINPROGRESS;
	if (a->status < 0)
		return snprintf(why, cap, "%s", a->why), a->status;
	return 0;
}

/* --- blocks and layouts pushed to the leader --- */

static int check_sender(struct snapshot_rebuild *r, uint32_t peer, const struct wire_snapshot_put *put,
			struct assembly **out, char *why, size_t cap)
{
	struct mesh *m = r->d->mesh;
	struct assembly *a = assembly_of_group(r, put->step, put->group, put->group_size);
	uint32_t position = UINT32_MAX;
	if (!mesh_is_leader(m))
		return snprintf(why, cap, "this helper is not the leader"), -EPERM;
	if (a && a->status == ASSEMBLY_DECODING)
		return snprintf(why, cap, "the rebuild of group %u at step %" PRIu64 " has its blocks "
				"already: they are being decoded", put->group, put->step), -ESTALE;
	if (!a || a->status != ASSEMBLY_GATHERING)
		return snprintf(why, cap, "no rebuild of group %u at step %" PRIu64 " is under way",
				put->group, put->step), -ESTALE;
	for (uint32_t p = 0; p < a->size; p++)
		position = a->members[p] == peer ? p : position;
	if (position == UINT32_MAX)
		return snprintf(why, cap, "node %" PRIu32 " is not in group %u", peer, put->group), -EPERM;
	if (put->kind == WIRE_SNAPSHOT_REBUILD &&
	    (put->chunk != block_of(a->size, a->parity, position, put->stripe) ||
	     !(stripes_needed(a->size, a->parity, a->lost) & (1u << put->stripe))))
		return snprintf(why, cap, "node %" PRIu32 " owes no block %u of stripe %u", peer,
				put->chunk, put->stripe), -EPERM;
	if (put->kind == WIRE_SNAPSHOT_REBUILD_LAYOUT) {
		bool lost = false;
		for (uint32_t p = 0; p < a->size; p++)
			lost |= a->members[p] == put->node && (a->lost & (1u << p));
		if (!lost)
			return snprintf(why, cap, "node %" PRIu32 " is not a lost member of group %u",
					put->node, put->group), -EPERM;
	}
	*out = a;
	return 0;
}

int snapshot_rebuild_reserve(struct snapshot_rebuild *r, uint32_t peer, const struct wire_snapshot_put *put,
			     uint8_t **dst, char *why, size_t cap)
{
	struct assembly *a;
	int rc = check_sender(r, peer, put, &a, why, cap);
	struct receiving *x = rc == 0 ? calloc(1, sizeof(*x)) : NULL;
	if (rc < 0)
		return rc;
	if (!x || !(x->data = malloc(put->size))) {
		free(x);
		return snprintf(why, cap, "lcrd on %s cannot hold %" PRIu64 " bytes for the rebuild",
				r->d->opt.node_name, put->size), -ENOMEM;
	}
	x->size = put->size;
	x->next = r->receiving;
	r->receiving = x;
	r->bytes += x->size;
	*dst = x->data;
	return 0;
}

/* The receiving buffer at data, unlinked (its bytes now the caller's). */
static uint8_t *take_received(struct snapshot_rebuild *r, uint8_t *data)
{
	for (struct receiving **at = &r->receiving; *at; at = &(*at)->next)
		if ((*at)->data == data) {
			struct receiving *x = *at;
			*at = x->next;
			r->bytes -= x->size;
			free(x);
			return data;
		}
	return NULL;
}

static int keep_sent_layout(struct assembly *a, const struct wire_snapshot_put *put, const uint8_t *bytes,
			    char *why, size_t cap)
{
	for (uint32_t p = 0; p < a->size; p++) {
		struct lost_layout *l = &a->layouts[p];
		if (a->members[p] != put->node || l->have)
			continue;
		if (wire_decode_snapshot_layout(bytes, put->size, &l->incarnation, &l->regions,
						&l->count) < 0)
			return snprintf(why, cap, "the layout of node %" PRIu32 " is malformed",
					put->node), -EBADMSG;
		l->have = true;
	}
	return 0;
}

int snapshot_rebuild_arrived(struct snapshot_rebuild *r, uint32_t peer, const struct wire_snapshot_put *put,
			     uint8_t *dst, int rc, char *why, size_t cap)
{
	struct assembly *a;
	uint8_t *data = take_received(r, dst);
	if (rc < 0) {
		free(data);
		return snprintf(why, cap, "the block did not arrive whole: %s", strerror(-rc)), rc;
	}
	if (!data)
		return snprintf(why, cap, "no rebuild buffer was reserved for this put"), -EPROTO;
	if ((rc = check_sender(r, peer, put, &a, why, cap)) < 0) {
		free(data);
		return rc;
	}
	if (put->kind == WIRE_SNAPSHOT_REBUILD_LAYOUT) {
		rc = keep_sent_layout(a, put, data, why, cap);
		free(data);
	} else {
		add_block(r, a, put->stripe, put->chunk, data, put->size);
	}
	if (rc == 0)
		try_finish(r, a);
	return rc;
}

/* Frees a, its decode cancelled first when one runs. */
static void free_assembly(struct snapshot_rebuild *r, struct assembly *a)
{
	end_decoding(r, a);
	free_stripes(r, a);
	for (uint32_t p = 0; p < ERASURE_MAX_BLOCKS; p++)
		free(a->layouts[p].regions);
	free(a);
}

void snapshot_rebuild_release_before(struct snapshot_rebuild *r, uint64_t step)
{
	for (struct assembly **at = r ? &r->assemblies : NULL; at && *at;) {
		struct assembly *a = *at;
		if (a->step < step) {
			*at = a->next;
			free_assembly(r, a);
		} else {
			at = &a->next;
		}
	}
}

/* --- the module --- */

struct snapshot_rebuild *snapshot_rebuild_create(struct lcrd *d, struct erasure_holder *h,
						 snapshot_rebuild_keep_fn *keep, void *arg)
{
	struct snapshot_rebuild *r = calloc(1, sizeof(*r));
	if (r)
		*r = (struct snapshot_rebuild){ .d = d, .holder = h, .keep = keep, .keep_arg = arg };
	return r;
}

void snapshot_rebuild_destroy(struct snapshot_rebuild *r)
{
	if (!r)
		return;
	while (r->jobs) {
		struct send_job *j = r->jobs;
		r->jobs = j->next;
		worker_cancel(j->worker);
		free_job(j);
	}
	while (r->assemblies) {
		struct assembly *a = r->assemblies;
		r->assemblies = a->next;
		free_assembly(r, a);
	}
	for (struct receiving *x = r->receiving, *next; x; x = next) {
		next = x->next;
		free(x->data);
		free(x);
	}
	free(r);
}

uint64_t snapshot_rebuild_bytes(const struct snapshot_rebuild *r)
{
	return r ? r->bytes : 0;
}
