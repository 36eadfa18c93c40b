/* snapshot.c: in-memory snapshots and their copies on other nodes (see snapshot.h). Three
 * parts: the local round (the poll, the worker that copies and pushes, the report), the
 * leader's account of every node's rounds (internal/snapshot_rounds.h) and its verdicts,
 * and the copies this helper holds for others (snapshot_store.h). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "services/snapshot.h"
#include "internal/ckpt_plan.h"
#include "internal/control_page.h"
#include "internal/redundancy_plan.h"
#include "internal/snapshot_rounds.h"
#include "internal/util.h"
#include "internal/xxh3_stream.h"
#include "loop/control.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "loop/loop.h"
#include "loop/regions.h"
#include "loop/worker.h"
#include "mesh/mesh.h"
#include "services/ckpt.h"
#include "services/ckpt_restore.h"
#include "services/snapshot_erasure.h"
#include "services/snapshot_rebuild.h"
#include "services/snapshot_store.h"
#include "services/tasks.h"
#include "services/transfer.h"

#define SNAPSHOT_PIECE (256u << 10) /* bytes copied, then hashed, at a time */
#define SNAPSHOT_DEVICE_PIECE (8u << 20) /* the same, read from a CUDA region */

/* One region of a local snapshot. */
struct snap_region {
	struct region *region; /* read during the round only */
	uint32_t rank;
	uint32_t dp_size;                  /* its rank's */
	char shard_key[WIRE_NAME_MAX + 1]; /* its rank's */
	char name[WIRE_NAME_MAX + 1];
	enum wire_region_kind kind;
	uint64_t size;
	uint8_t *data;
	uint64_t xxh3;
};

/* This node's snapshot of one step. */
struct local_snapshot {
	uint64_t step; /* WIRE_NO_STEP: none */
	uint64_t bytes;
	size_t count;
	struct snap_region *regions;
};

enum round_state {
	ROUND_IDLE,     /* waiting for the next multiple of --snapshot-every */
	ROUND_COPYING,  /* the worker copies and pushes */
	ROUND_REPORTED, /* the leader has the round's end; waiting for its verdict */
};

struct snapshot {
	struct lcrd *d;
	uint64_t poll_timer;
	enum round_state state;
	uint64_t last_tried; /* the newest step a round began for, or WIRE_NO_STEP */
	struct local_snapshot kept;    /* the newest protected step's */
	unsigned kept_readers;         /* pins on kept (snapshot_source_pin) */
	struct local_snapshot detached; /* a kept snapshot replaced while pinned: freed when
					 * its last reader unpins it */
	unsigned detached_readers;
	struct local_snapshot pending; /* the round's */
	struct local_snapshot spare;   /* the last one replaced: its buffers, already faulted in,
					* are the next round's when the sizes match */
	/* the round's inputs and result, for the worker */
	struct worker *worker;
	const struct task *tasks[WIRE_MAX_LOCAL_RANKS];
	size_t task_count;
	struct transfer_peer partners[SNAPSHOT_PARTNERS_MAX];
	size_t partner_count;
	struct transfer_identity id;
	uint64_t incarnation;
	char error[WIRE_TEXT_MAX + 1];
	const char *error_kind; /* the format that wrote error: what kind of problem it is */
	uint64_t copy_ns, push_ns; /* the round's copy (and hash), and its pushes */
	struct wire_snapshot_done report;
	uint64_t reported_ms;
	/* the leader's account (node_count 0 until this helper leads a round) */
	struct snapshot_rounds rounds;
	/* what every helper knows */
	uint64_t protected_step;
	uint32_t *protected_live;      /* the live nodes when it was protected (partners' basis) */
	uint32_t protected_live_count;
	/* the leader: per node, the partners its last round reported (SNAPSHOT_DONE) and those
	 * of the protected step; a count of 0 where unknown (a round led by another leader) */
	struct snapshot_partners *round_partners, *protected_partners;
	uint64_t rollback_step;        /* a REPLACING's resume step not applied yet, or NO_STEP */
	uint64_t rollback_since_ms;    /* when it came */
	char rollback_wait[WIRE_TEXT_MAX + 1]; /* what it waits for, as last logged, or "" */
	struct snapshot_store store;
	/* --redundancy=erasure (snapshot_erasure.h): the round's plan, the parity held here */
	struct erasure_sending sending;
	struct erasure_holder *holder;
	struct snapshot_rebuild *rebuild; /* lost members' snapshots rebuilt from the parity */
	const char *problem_kind;  /* the last problem logged at warning level, or NULL */
	unsigned problem_repeats;  /* how many times it came again since */
};

/* The copy partners of one node's round, as it reported them. */
struct snapshot_partners {
	uint64_t step;
	uint32_t count;
	uint32_t nodes[WIRE_SNAPSHOT_PARTNERS_MAX];
};

/* --- memory --- */

static uint64_t memory_in_use(const struct snapshot *s)
{
	return s->kept.bytes + s->detached.bytes + s->pending.bytes + s->spare.bytes +
	       s->store.bytes + snapshot_erasure_bytes(s->holder) + snapshot_rebuild_bytes(s->rebuild);
}

static bool uses_erasure(const struct snapshot *s)
{
	return s->d->opt.redundancy == LCR_REDUNDANCY_ERASURE;
}

static void snapshot_free(struct local_snapshot *x)
{
	for (size_t i = 0; i < x->count; i++)
		free(x->regions[i].data);
	free(x->regions);
	*x = (struct local_snapshot){ .step = WIRE_NO_STEP };
}

/* x is replaced: it becomes the spare (the older spare is freed); the kept snapshot, while
 * a reader pins it, is detached instead, and freed when its last reader unpins it. */
static void snapshot_retire(struct snapshot *s, struct local_snapshot *x)
{
	if (x == &s->kept && s->kept_readers) {
		/* Only a checkpoint writer pins the kept snapshot, one at a time on a node (a new
		 * one starts once the old one is cancelled, unpinned): none reads the older one,
		 * and keep_pending retires no kept snapshot while one does. */
		snapshot_free(&s->detached);
		s->detached = s->kept;
		s->detached_readers = s->kept_readers;
		s->kept_readers = 0;
		s->kept = (struct local_snapshot){ .step = WIRE_NO_STEP };
		return;
	}
	snapshot_free(&s->spare);
	s->spare = *x;
	s->spare.bytes = 0; /* what is allocated: a round that failed early has no buffers */
	for (size_t i = 0; i < s->spare.count; i++)
		if (s->spare.regions[i].data)
			s->spare.bytes += s->spare.regions[i].size;
	*x = (struct local_snapshot){ .step = WIRE_NO_STEP };
}

/* A buffer of size bytes: the spare's of that size when there is one (faulted in already),
 * else a new one. */
static uint8_t *take_buffer(struct snapshot *s, uint64_t size)
{
	for (size_t i = 0; i < s->spare.count; i++) {
		struct snap_region *x = &s->spare.regions[i];
		if (x->data && x->size == size) {
			uint8_t *p = x->data;
			x->data = NULL;
			s->spare.bytes -= size;
			return p;
		}
	}
	return malloc(size ? size : 1);
}

/* "1.0 GiB" */
static const char *size_text(uint64_t bytes, char *buf, size_t cap)
{
	return util_format_size(bytes, buf, cap);
}

/* A problem of the redundancy: a warning the first time, verbose while problems of the
 * same kind (the format of their cause: a round torn, a partner out of reach, the budget)
 * repeat, each with the count so far. */
static void tell_problem(struct snapshot *s, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void tell_problem(struct snapshot *s, const char *kind, const char *fmt, ...)
{
	char text[WIRE_TEXT_MAX + 1];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (!kind)
		kind = fmt;
	if (kind == s->problem_kind) {
		s->problem_repeats++;
		log_verbose("%s (the same problem %u time%s since its warning)", text,
			    s->problem_repeats, s->problem_repeats == 1 ? "" : "s");
		return;
	}
	s->problem_kind = kind;
	s->problem_repeats = 0;
	log_warning("%s", text);
}

/* What went wrong with the round, for its report. */
static void set_error(struct snapshot *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct snapshot *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->error, sizeof(s->error), fmt, ap);
	va_end(ap);
	s->error_kind = fmt;
}

/* --- the round's worker: copy, check, push --- */

/* Copies a region in pieces small enough to be hashed while they are in the cache: from
 * lcrd's own mapping (view) for a host region, else (view NULL: a CUDA region) through the
 * region's backend, device to host. 0, or -errno. */
static int copy_and_hash(struct snap_region *x, const uint8_t *view)
{
	size_t piece = view ? SNAPSHOT_PIECE : SNAPSHOT_DEVICE_PIECE;
	XXH3_state_t *state = XXH3_createState();
	int rc = 0;
	if (!state)
		return -ENOMEM;
	XXH3_64bits_reset(state);
	for (uint64_t done = 0; rc == 0 && done < x->size;) {
		size_t n = x->size - done < piece ? (size_t)(x->size - done) : piece;
		if (view)
			memcpy(x->data + done, view + done, n);
		else
			rc = region_read(x->region, done, x->data + done, n);
		if (rc == 0)
			xxh3_stream_update(state, x->data + done, n);
		done += n;
	}
	x->xxh3 = XXH3_64bits_digest(state);
	XXH3_freeState(state);
	return rc;
}

static int copy_regions(struct snapshot *s)
{
	for (size_t i = 0; i < s->pending.count; i++) {
		struct snap_region *x = &s->pending.regions[i];
		const uint8_t *view = NULL;
		int rc = region_view(x->region, 0, x->size, &view);
		if (rc == 0 || rc == -EOPNOTSUPP)
			rc = copy_and_hash(x, rc == 0 ? view : NULL);
		if (rc < 0) {
			set_error(s, "cannot copy region '%s' of rank %" PRIu32 " (%s): %s", x->name,
				  x->rank, region_kind_name(x->region->kind), strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* Holds every rank's next update back while its regions are copied (control_page.h), as
 * soon as the poll saw them all committed at `step`: false, nothing held, when a rank began
 * another update meanwhile (the round is not begun; a later poll finds the next step). */
static bool hold_ranks(struct snapshot *s, uint64_t step)
{
	for (size_t i = 0; i < s->task_count; i++) {
		if (control_page_hold_snapshot(s->tasks[i]->page, step))
			continue;
		while (i-- > 0)
			control_page_release_snapshot(s->tasks[i]->page);
		return false;
	}
	return true;
}

/* The copy is done, or the round ended before it: the ranks' updates go on. */
static void release_ranks(struct snapshot *s)
{
	for (size_t i = 0; i < s->task_count; i++)
		control_page_release_snapshot(s->tasks[i]->page);
}

/* The ranks' pages read again: each still shows the round's step committed. */
static int check_still_committed(struct snapshot *s)
{
	for (size_t i = 0; i < s->task_count; i++) {
		uint64_t committed;
		uint16_t phase;
		tasks_read_marks(s->tasks[i], &committed, &phase);
		if (phase != WIRE_PHASE_COMMITTED || committed != s->pending.step) {
			set_error(s, "rank %" PRIu32 " began another update "
				 "while its regions were copied (phase %s, committed step %" PRIu64
				 "; an update waits at most %.3g s for a copy, --snapshot-hold-max): "
				 "the snapshot of step %" PRIu64 " is torn and dropped",
				 s->tasks[i]->rank, wire_phase_name(phase), committed,
				 (double)s->d->opt.snapshot_hold_max_ms / 1e3, s->pending.step);
			return -ESTALE;
		}
	}
	return 0;
}

static int push_region(struct snapshot *s, struct transfer_conn *c, const struct transfer_peer *p,
		       const struct snap_region *x)
{
	struct wire_snapshot_put put = { .node = s->id.self, .incarnation = s->incarnation,
					 .rank = x->rank, .dp_size = x->dp_size,
					 .step = s->pending.step, .size = x->size,
					 .region_kind = (uint16_t)x->kind };
	char err[WIRE_TEXT_MAX + 1];
	uint64_t held;
	strcpy(put.region, x->name);
	strcpy(put.shard_key, x->shard_key);
	int rc = transfer_conn_put(c, &put, x->data, &held, err, sizeof(err));
	if (rc < 0) {
		set_error(s, "%s (%" PRIu32 ") did not take the copy of "
			 "region '%s' of rank %" PRIu32 ": %s", p->name, p->node, x->name, x->rank, err);
		return rc;
	}
	if (held != x->xxh3) {
		set_error(s, "%s (%" PRIu32 ") holds region '%s' of rank "
			 "%" PRIu32 " with XXH3 %016" PRIx64 ", but the snapshot's is %016" PRIx64,
			 p->name, p->node, x->name, x->rank, held, x->xxh3);
		return -EILSEQ;
	}
	return 0;
}

static int push_to_partner(struct snapshot *s, const struct transfer_peer *p,
			   const atomic_bool *cancel)
{
	struct transfer_conn *c;
	char err[WIRE_TEXT_MAX + 1];
	int rc = transfer_conn_open(p, &s->id, &c, err, sizeof(err));
	if (rc < 0) {
		set_error(s, "cannot reach copy partner %s (%" PRIu32 "): %s",
			 p->name, p->node, err);
		return rc;
	}
	for (size_t i = 0; rc == 0 && i < s->pending.count; i++)
		rc = atomic_load(cancel) ? -ECANCELED : push_region(s, c, p, &s->pending.regions[i]);
	transfer_conn_close(c);
	return rc;
}

/* The layout of a snapshot (its regions in order, with their hashes), encoded into a
 * buffer of the caller's to free: its length, or -errno. */
static int encode_layout(const struct local_snapshot *x, uint64_t incarnation, uint8_t **out)
{
	struct wire_snapshot_layout_region *regions = calloc(x->count ? x->count : 1, sizeof(*regions));
	size_t cap = WIRE_SNAPSHOT_LAYOUT_BYTES(x->count);
	int n = -ENOMEM;
	*out = regions ? malloc(cap) : NULL;
	for (size_t i = 0; *out && i < x->count; i++) {
		const struct snap_region *r = &x->regions[i];
		regions[i] = (struct wire_snapshot_layout_region){ .rank = r->rank, .dp_size = r->dp_size,
								   .kind = (uint16_t)r->kind,
								   .size = r->size, .xxh3 = r->xxh3 };
		strcpy(regions[i].shard_key, r->shard_key);
		strcpy(regions[i].name, r->name);
	}
	if (*out && (n = wire_encode_snapshot_layout(incarnation, regions, (uint32_t)x->count, *out,
						     cap)) < 0) {
		free(*out);
		*out = NULL;
	}
	free(regions);
	return n;
}

/* Erasure: the snapshot's layout to its group, its chunks to their parity holders. */
static int push_chunks(struct snapshot *s, const atomic_bool *cancel)
{
	struct erasure_piece *pieces = calloc(s->pending.count ? s->pending.count : 1, sizeof(*pieces));
	uint8_t *layout = NULL;
	int rc, layout_len = pieces ? encode_layout(&s->pending, s->incarnation, &layout) : -ENOMEM;
	if (layout_len < 0) {
		free(pieces);
		set_error(s, "cannot list the snapshot's regions: %s", strerror(-layout_len));
		return layout_len;
	}
	for (size_t i = 0; i < s->pending.count; i++)
		pieces[i] = (struct erasure_piece){ .data = s->pending.regions[i].data,
						    .size = s->pending.regions[i].size };
	rc = snapshot_erasure_push(&s->sending, &s->id, pieces, s->pending.count, layout,
				   (size_t)layout_len, cancel, s->error, sizeof(s->error));
	free(layout);
	free(pieces);
	return rc;
}

static int run_round(void *arg, const atomic_bool *cancel)
{
	struct snapshot *s = arg;
	uint64_t start = util_now_ns();
	int rc = copy_regions(s);
	if (rc == 0)
		rc = check_still_committed(s);
	release_ranks(s);
	s->copy_ns = util_now_ns() - start;
	for (size_t i = 0; rc == 0 && i < s->partner_count; i++)
		rc = push_to_partner(s, &s->partners[i], cancel);
	if (rc == 0 && uses_erasure(s))
		rc = push_chunks(s, cancel);
	s->push_ns = util_now_ns() - start - s->copy_ns;
	return rc;
}

/* --- the report to the leader --- */

static void leader_on_done(struct snapshot *s, uint32_t from, const struct wire_snapshot_done *r);

static void send_report(struct snapshot *s)
{
	struct mesh *m = s->d->mesh;
	uint8_t buf[sizeof(s->report) + 32];
	s->reported_ms = util_now_ms();
	if (mesh_is_leader(m)) {
		leader_on_done(s, mesh_self(m), &s->report);
		return;
	}
	mesh_send(m, mesh_leader(m), WIRE_SNAPSHOT_DONE, buf,
		  wire_encode_snapshot_done(&s->report, buf, sizeof(buf)));
}

static void report(struct snapshot *s, int status, const char *why)
{
	s->report = (struct wire_snapshot_done){ .step = s->pending.step, .status = status,
						 .bytes = s->pending.bytes };
	for (size_t i = 0; status == 0 && i < s->partner_count; i++)
		s->report.partners[s->report.partner_count++] = s->partners[i].node;
	snprintf(s->report.message, sizeof(s->report.message), "%s", why);
	s->state = ROUND_REPORTED;
	send_report(s);
}

static void round_done(void *arg, int rc)
{
	struct snapshot *s = arg;
	char size[32];
	s->worker = NULL;
	if (rc < 0) {
		tell_problem(s, s->error_kind, "snapshot of step %" PRIu64 " not protected on this "
			     "node: %s", s->pending.step, s->error);
		uint64_t step = s->pending.step;
		snapshot_retire(s, &s->pending);
		s->pending.step = step;
		report(s, rc, s->error);
		return;
	}
	uint64_t waits = 0, waited_us = 0;
	for (size_t i = 0; i < s->task_count; i++) {
		waits += atomic_load_explicit(&s->tasks[i]->page->hold_waits, memory_order_relaxed);
		waited_us += atomic_load_explicit(&s->tasks[i]->page->hold_waited_us,
						  memory_order_relaxed);
	}
	log_verbose("snapshot of step %" PRIu64 " taken (%s in %zu region%s, copied and hashed "
		    "in %.3f s), its %s acknowledged by %s%s in %.3f s; the ranks' updates have "
		    "waited for this node's copies %" PRIu64 " time%s, %.3f s in all", s->pending.step,
		    size_text(s->pending.bytes, size, sizeof(size)), s->pending.count,
		    s->pending.count == 1 ? "" : "s", (double)s->copy_ns / 1e9,
		    uses_erasure(s) ? "chunks" : "copies",
		    uses_erasure(s) ? "the parity holders of its group" : s->partners[0].name,
		    s->partner_count > 1 ? " and the other partners" : "", (double)s->push_ns / 1e9,
		    waits, waits == 1 ? "" : "s", (double)waited_us / 1e6);
	report(s, 0, "");
}

/* --- starting a round --- */

/* The registered local ranks, into s->tasks: false when none is. */
static bool gather_tasks(struct snapshot *s)
{
	s->task_count = 0;
	for (size_t i = 0; i < tasks_count(s->d->tasks); i++) {
		const struct task *t = tasks_at(s->d->tasks, i);
		if (t->registered && t->page)
			s->tasks[s->task_count++] = t;
	}
	return s->task_count > 0;
}

/* The step all the registered ranks show committed, when it is a new multiple of
 * --snapshot-every; else WIRE_NO_STEP. */
static uint64_t step_to_snapshot(struct snapshot *s)
{
	uint64_t step = WIRE_NO_STEP;
	if (!gather_tasks(s))
		return WIRE_NO_STEP;
	for (size_t i = 0; i < s->task_count; i++) {
		uint64_t committed;
		uint16_t phase;
		tasks_read_marks(s->tasks[i], &committed, &phase);
		if (phase != WIRE_PHASE_COMMITTED || committed == WIRE_NO_STEP ||
		    (i > 0 && committed != step))
			return WIRE_NO_STEP;
		step = committed;
	}
	if (step % s->d->opt.snapshot_every != 0 ||
	    (s->last_tried != WIRE_NO_STEP && step <= s->last_tried))
		return WIRE_NO_STEP;
	return step;
}

static const struct task *local_task(const struct snapshot *s, uint32_t rank)
{
	for (size_t i = 0; i < s->task_count; i++)
		if (s->tasks[i]->rank == rank)
			return s->tasks[i];
	return NULL;
}

/* The round's regions (host and CUDA regions of the registered ranks). */
static int gather_regions(struct snapshot *s, uint64_t step)
{
	size_t n = 0;
	for (struct region *r = s->d->regions.head; r; r = r->next)
		n += local_task(s, r->owner_rank) != NULL;
	s->pending = (struct local_snapshot){ .step = step };
	s->pending.regions = calloc(n ? n : 1, sizeof(*s->pending.regions));
	if (!s->pending.regions)
		return -ENOMEM;
	for (struct region *r = s->d->regions.head; r; r = r->next) {
		const struct task *t = local_task(s, r->owner_rank);
		if (!t)
			continue;
		if (ckpt_restore_uses(s->d, r)) {
			set_error(s, "region '%s' of rank %" PRIu32 " is still being restored", r->name,
				  r->owner_rank);
			return -EBUSY;
		}
		struct snap_region *x = &s->pending.regions[s->pending.count++];
		*x = (struct snap_region){ .region = r, .rank = r->owner_rank, .dp_size = t->dp_size,
					   .kind = r->kind, .size = r->size };
		strcpy(x->name, r->name);
		strcpy(x->shard_key, t->shard_key);
		s->pending.bytes += r->size;
	}
	return 0;
}

static int allocate_copies(struct snapshot *s)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < s->pending.count; i++) {
		struct snap_region *x = &s->pending.regions[i];
		x->data = take_buffer(s, x->size);
		rc = x->data ? 0 : -ENOMEM;
	}
	snapshot_free(&s->spare); /* what no region of this round could use */
	return rc;
}

/* Where a live node's helper listens, as a transfer peer: false when it is not known. */
static bool peer_of(const struct mesh *m, uint32_t node, struct transfer_peer *out)
{
	struct sockaddr_storage sa;
	socklen_t sa_len = mesh_node_sockaddr(m, node, &sa);
	if (sa_len == 0)
		return false;
	const char *name = mesh_node_name(m, node);
	out->node = node;
	snprintf(out->name, sizeof(out->name), "%s", name[0] ? name : "?");
	out->sa = sa;
	out->sa_len = sa_len;
	return true;
}

/* The node's copy partners among the live nodes (in the order of node ids): 0, or -EINVAL /
 * -EHOSTUNREACH with s->error set. */
static int choose_partners(struct snapshot *s)
{
	struct mesh *m = s->d->mesh;
	uint32_t places[SNAPSHOT_PARTNERS_MAX], self_place = 0;
	struct redundancy_nodes nodes = { .count = mesh_live_count(m) };
	char err[WIRE_TEXT_MAX + 1];
	unsigned copies = s->d->opt.redundancy_copies ? s->d->opt.redundancy_copies : 1;
	for (uint32_t i = 0; i < mesh_live_count(m); i++)
		if (mesh_live_ids(m)[i] == mesh_self(m))
			self_place = i;
	if (copies > SNAPSHOT_PARTNERS_MAX ||
	    redundancy_copy_partners(&nodes, self_place, copies, places, err, sizeof(err)) < 0) {
		set_error(s, "no room for %u copies among the %" PRIu32 " live nodes: %s", copies,
			  mesh_live_count(m),
			  copies > SNAPSHOT_PARTNERS_MAX ? "too many copies" : err);
		return -EINVAL;
	}
	for (s->partner_count = 0; s->partner_count < copies; s->partner_count++) {
		uint32_t node = mesh_live_ids(m)[places[s->partner_count]];
		if (!peer_of(m, node, &s->partners[s->partner_count])) {
			set_error(s, "the address of copy partner %" PRIu32 " is not known", node);
			return -EHOSTUNREACH;
		}
	}
	return 0;
}

/* The memory budget allows the round: 0, or -ENOSPC with s->error set. */
static int check_budget(struct snapshot *s)
{
	/* the spare's buffers are this round's, or freed; a detached snapshot is held until
	 * its reader ends */
	uint64_t max = s->d->opt.redundancy_memory_max,
		 used = s->kept.bytes + s->detached.bytes + s->store.bytes +
			snapshot_erasure_bytes(s->holder);
	char need[32], have[32], limit[32];
	if (max == 0 || used + s->pending.bytes <= max)
		return 0;
	set_error(s, "the snapshot of step %" PRIu64 " needs %s, but "
		 "redundancy already holds %s of --redundancy-memory-max %s: step not protected",
		 s->pending.step, size_text(s->pending.bytes, need, sizeof(need)),
		 size_text(used, have, sizeof(have)), size_text(max, limit, sizeof(limit)));
	return -ENOSPC;
}

/* The round of step, its ranks held (hold_ranks): the worker copies their regions and lets
 * them go on (release_ranks), then pushes the copies; a round that cannot begin lets them go
 * on at once. */
static void start_round(struct snapshot *s, uint64_t step)
{
	int rc;
	s->last_tried = step;
	s->error[0] = '\0';
	s->error_kind = NULL;
	s->pending = (struct local_snapshot){ .step = step };
	transfer_identity_of(s->d, &s->id);
	s->incarnation = mesh_joined_generation(s->d->mesh);
	s->partner_count = 0;
	rc = uses_erasure(s) ? snapshot_erasure_plan(s->d, step, s->incarnation, &s->sending, s->error,
						     sizeof(s->error))
			     : choose_partners(s);
	if (rc == 0)
		rc = gather_regions(s, step);
	if (rc == 0 && (rc = check_budget(s)) == 0 && (rc = allocate_copies(s)) < 0)
		set_error(s, "cannot allocate %" PRIu64 " bytes for the "
			 "snapshot of step %" PRIu64, s->pending.bytes, step);
	if (rc == 0 && (rc = worker_start(s->d->loop, run_round, round_done, s, &s->worker)) < 0)
		set_error(s, "cannot start the snapshot's thread: %s",
			 strerror(-rc));
	if (rc == 0) {
		s->state = ROUND_COPYING;
		return;
	}
	release_ranks(s);
	if (!s->error[0])
		set_error(s, "%s", strerror(-rc));
	round_done(s, rc);
}

/* The ranks reached a newer multiple while the leader has not settled this node's last
 * round: a round that failed here is given up (the next report tells the leader so) and its
 * snapshot freed. One reported ok is kept until its verdict comes (the report is sent again
 * meanwhile): the leader may protect it, and a recovery then rolls every node back to it,
 * so no node may have let it go. */
static bool round_awaits_verdict(const struct snapshot *s)
{
	return s->state == ROUND_REPORTED && s->report.status == 0;
}

static void give_up_own_round(struct snapshot *s, uint64_t next)
{
	if (s->state != ROUND_REPORTED)
		return;
	log_verbose("the round of step %" PRIu64 " has no verdict yet; going on to step %" PRIu64,
		    s->report.step, next);
	snapshot_retire(s, &s->pending);
	s->state = ROUND_IDLE;
}

static void try_rollback(struct snapshot *s);

static void poll_pages(struct loop *loop, void *arg)
{
	struct snapshot *s = arg;
	struct mesh *m = s->d->mesh;
	uint64_t step;
	s->poll_timer = 0;
	if (s->rollback_step != WIRE_NO_STEP)
		try_rollback(s);
	if (m && mesh_state(m) == WIRE_MESH_UP && s->state != ROUND_COPYING &&
	    s->rollback_step == WIRE_NO_STEP) {
		step = step_to_snapshot(s);
		if (step != WIRE_NO_STEP && !round_awaits_verdict(s) && hold_ranks(s, step)) {
			give_up_own_round(s, step);
			start_round(s, step);
		} else if (s->state == ROUND_REPORTED &&
			   util_now_ms() - s->reported_ms >= SNAPSHOT_REPORT_AGAIN_MS) {
			send_report(s);
		}
	}
	if (loop_add_timer(loop, SNAPSHOT_POLL_MS, poll_pages, s, &s->poll_timer) < 0)
		log_error("cannot arm the snapshot timer: no more snapshots");
}

/* --- the verdict on a round, on every helper --- */

struct release_filter {
	struct mesh *m;
	uint64_t step;
	bool protected;
};

/* Protected: the older copies of live nodes go (a lost node's are kept for its recovery);
 * abandoned: the round's copies go. */
static bool copy_is_released(const struct held_copy *c, void *arg)
{
	const struct release_filter *f = arg;
	if (!f->protected)
		return c->step == f->step;
	return c->step < f->step && mesh_is_live(f->m, c->node);
}

static void tell_ranks_protected(struct snapshot *s, const struct wire_snapshot_end *e)
{
	struct mesh *m = s->d->mesh;
	struct wire_event ev = { .type = WIRE_EVENT_PROTECTED, .source = WIRE_SOURCE_HELPER,
				 .rank = WIRE_NO_RANK, .status = 0, .node_id = WIRE_NO_NODE,
				 .generation = mesh_applied_generation(m),
				 .leader = mesh_leader(m) };
	char size[32];
	unsigned copies = s->d->opt.redundancy_copies ? s->d->opt.redundancy_copies : 1;
	if (uses_erasure(s))
		snprintf(ev.message, sizeof(ev.message), "step %" PRIu64 " is protected: every node's "
			 "snapshot (%s in all) is in the parity of its group (groups of %u or more "
			 "nodes, %u parity)", e->step, size_text(e->bytes, size, sizeof(size)),
			 s->d->opt.redundancy_group_size, s->d->opt.redundancy_parity);
	else
		snprintf(ev.message, sizeof(ev.message), "step %" PRIu64 " is protected: every node's "
			 "snapshot (%s in all) is held by %u other node%s", e->step,
			 size_text(e->bytes, size, sizeof(size)), copies, copies == 1 ? "" : "s");
	log_info("%s", ev.message);
	control_broadcast_event(s->d, &ev);
}

/* The round's snapshot, protected, becomes the kept one. Not while both the kept one and
 * the one detached before are read (one writer at a time pins them: it does not happen), as
 * a second detach would free the older one under its reader: the round's is dropped, and
 * the kept one stays. */
static void keep_pending(struct snapshot *s)
{
	if (s->kept_readers && s->detached_readers) {
		log_error("cannot keep the snapshot of step %" PRIu64 ": the kept one (step %" PRIu64
			  ") and the one it replaced (step %" PRIu64 ") are both still being read; "
			  "keeping step %" PRIu64 "'s", s->pending.step, s->kept.step,
			  s->detached.step, s->kept.step);
		snapshot_retire(s, &s->pending);
		return;
	}
	snapshot_retire(s, &s->kept);
	s->kept = s->pending;
	s->pending = (struct local_snapshot){ .step = WIRE_NO_STEP };
}

/* This node's own round, once the leader decided it. */
static void settle_own_round(struct snapshot *s, const struct wire_snapshot_end *e)
{
	if (s->state != ROUND_REPORTED || s->report.step > e->step ||
	    (s->report.step < e->step && !e->protected))
		return;
	if (e->protected && s->report.step == e->step && s->report.status == 0) {
		keep_pending(s);
	} else {
		if (!e->protected && s->report.status == 0)
			log_verbose("the round of step %" PRIu64 " is abandoned: %s", e->step,
				    e->message);
		snapshot_retire(s, &s->pending);
	}
	s->state = ROUND_IDLE;
}

/* The live nodes as the step is protected: the partners of its copies are placed over
 * them (choose_partners), which recovery recomputes after a loss. */
static void remember_protected_live(struct snapshot *s)
{
	struct mesh *m = s->d->mesh;
	if (!s->protected_live)
		s->protected_live = calloc(WIRE_MESH_NODES_MAX, sizeof(*s->protected_live));
	if (!s->protected_live) {
		s->protected_live_count = 0;
		return;
	}
	memcpy(s->protected_live, mesh_live_ids(m),
	       mesh_live_count(m) * sizeof(*s->protected_live));
	s->protected_live_count = mesh_live_count(m);
}

/* Protected: the parity of older steps goes; abandoned: the round's. */
static bool parity_is_released(uint64_t step, void *arg)
{
	const struct release_filter *f = arg;
	return f->protected ? step < f->step : step == f->step;
}

static void apply_end(struct snapshot *s, const struct wire_snapshot_end *e)
{
	struct release_filter f = { .m = s->d->mesh, .step = e->step, .protected = e->protected };
	bool newer = e->protected &&
		     (s->protected_step == WIRE_NO_STEP || e->step > s->protected_step);
	if (newer) {
		s->protected_step = e->step;
		remember_protected_live(s);
		tell_ranks_protected(s, e);
	}
	/* A step protected once stays so: a later "abandoned" for it (a new leader that missed
	 * its verdict) frees none of its copies, which a recovery may need. */
	bool abandons_protected = !e->protected && s->protected_step != WIRE_NO_STEP &&
				  e->step <= s->protected_step;
	settle_own_round(s, e);
	if (newer || (!e->protected && !abandons_protected)) {
		snapshot_store_release(&s->store, copy_is_released, &f);
		if (s->holder)
			snapshot_erasure_release(s->holder, parity_is_released, &f);
		if (newer)
			snapshot_rebuild_release_before(s->rebuild, e->step);
	}
}

static void on_end(struct mesh *m, uint32_t from, const struct wire_msg *msg)
{
	struct snapshot *s = mesh_lcrd(m)->snapshot;
	struct wire_snapshot_end e;
	if (!s)
		return;
	if (from != mesh_leader(m) ||
	    wire_decode_snapshot_end(msg->payload, msg->header.length, &e) < 0) {
		log_warning("ignored a SNAPSHOT_END from node %" PRIu32 " (not the leader, or "
			    "malformed)", from);
		return;
	}
	apply_end(s, &e);
}

/* --- the leader --- */

/* The partners node's round reported (where its copies are held), for the verdict. */
static void record_partners(struct snapshot *s, uint32_t node, const struct wire_snapshot_done *r)
{
	if (!s->round_partners)
		s->round_partners = calloc(WIRE_MESH_NODES_MAX, sizeof(*s->round_partners));
	if (!s->round_partners || node >= WIRE_MESH_NODES_MAX)
		return;
	struct snapshot_partners *p = &s->round_partners[node];
	p->step = r->step;
	p->count = r->status == 0 ? r->partner_count : 0;
	memcpy(p->nodes, r->partners, p->count * sizeof(*p->nodes));
}

/* A newer step is protected: the partners its rounds reported are where its copies are. */
static void keep_protected_partners(struct snapshot *s, uint64_t step)
{
	if (!s->round_partners)
		return;
	if (!s->protected_partners)
		s->protected_partners = calloc(WIRE_MESH_NODES_MAX, sizeof(*s->protected_partners));
	for (uint32_t n = 0; s->protected_partners && n < WIRE_MESH_NODES_MAX; n++)
		s->protected_partners[n] = s->round_partners[n].step == step
						   ? s->round_partners[n]
						   : (struct snapshot_partners){ .step = WIRE_NO_STEP };
}

static void announce(struct snapshot *s, const struct snapshot_verdict *v)
{
	struct mesh *m = s->d->mesh;
	struct wire_snapshot_end e = { .step = v->step, .protected = v->protected,
				       .bytes = v->bytes };
	uint8_t buf[sizeof(e) + 32];
	snprintf(e.message, sizeof(e.message), "%s", v->why);
	if (v->protected && (s->protected_step == WIRE_NO_STEP || v->step > s->protected_step))
		keep_protected_partners(s, v->step);
	int n = wire_encode_snapshot_end(&e, buf, sizeof(buf));
	for (uint32_t i = 0; i < mesh_live_count(m); i++) {
		uint32_t node = mesh_live_ids(m)[i];
		if (node != mesh_self(m))
			mesh_send(m, node, WIRE_SNAPSHOT_END, buf, n);
	}
	apply_end(s, &e);
}

static void leader_decide(struct snapshot *s)
{
	struct mesh *m = s->d->mesh;
	struct snapshot_verdict v[SNAPSHOT_ROUNDS_OPEN_MAX];
	if (s->rounds.node_count == 0 || !mesh_is_leader(m))
		return;
	size_t n = snapshot_rounds_decide(&s->rounds, mesh_live_ids(m), mesh_live_count(m), v,
					  SNAPSHOT_ROUNDS_OPEN_MAX);
	for (size_t i = 0; i < n; i++)
		announce(s, &v[i]);
}

static void leader_on_done(struct snapshot *s, uint32_t from, const struct wire_snapshot_done *r)
{
	struct mesh *m = s->d->mesh;
	if (s->rounds.node_count == 0 && snapshot_rounds_init(&s->rounds, mesh_node_count(m)) < 0) {
		log_error("cannot account for snapshot rounds: out of memory");
		return;
	}
	/* A report of a step at or below the protected one is answered at once. */
	if (s->protected_step != WIRE_NO_STEP && r->step <= s->protected_step) {
		struct snapshot_verdict v = { .step = r->step,
					      .protected = r->step == s->protected_step };
		snprintf(v.why, sizeof(v.why), "step %" PRIu64 " is protected", s->protected_step);
		announce(s, &v);
		return;
	}
	snapshot_rounds_report(&s->rounds, from, r->step, r->status == 0, r->bytes, r->message);
	record_partners(s, from, r);
	leader_decide(s);
}

static void on_done(struct mesh *m, uint32_t from, const struct wire_msg *msg)
{
	struct wire_snapshot_done r;
	if (!mesh_lcrd(m)->snapshot)
		return;
	if (wire_decode_snapshot_done(msg->payload, msg->header.length, &r) < 0) {
		log_warning("ignored a malformed SNAPSHOT_DONE from node %" PRIu32, from);
		return;
	}
	leader_on_done(mesh_lcrd(m)->snapshot, from, &r);
}

/* Erasure: a node is down while a step is protected: its group's members send the leader
 * their blocks of that step, from which the leader rebuilds the lost node's snapshot. */
static void start_rebuild(struct snapshot *s, uint32_t lost)
{
	struct erasure_piece *pieces = NULL;
	if (s->protected_step == WIRE_NO_STEP)
		return;
	if (s->kept.step == s->protected_step &&
	    (pieces = calloc(s->kept.count ? s->kept.count : 1, sizeof(*pieces))))
		for (size_t i = 0; i < s->kept.count; i++)
			pieces[i] = (struct erasure_piece){ .data = s->kept.regions[i].data,
							    .size = s->kept.regions[i].size };
	snapshot_rebuild_node_lost(s->rebuild, lost, s->protected_step, pieces, s->kept.count,
				   s->protected_live, s->protected_live_count);
	free(pieces);
}

/* A membership change: a round that a lost node had not reported ok is abandoned (its
 * state at that step is nowhere), a lost node no longer holds up the others, and a new
 * leader gets the reports again. */
static void on_membership(struct mesh *m, const struct wire_mesh_event *ev, void *arg)
{
	struct snapshot *s = mesh_lcrd(m)->snapshot;
	(void)arg;
	if (!s)
		return;
	if (s->rounds.node_count &&
	    (ev->type == WIRE_EVENT_NODE_DOWN || ev->type == WIRE_EVENT_NODE_LEFT))
		snapshot_rounds_node_lost(&s->rounds, ev->node);
	/* a node down is recovered (recovery.c); one that left ended normally */
	if (s->rebuild && ev->type == WIRE_EVENT_NODE_DOWN)
		start_rebuild(s, ev->node);
	if (ev->type == WIRE_EVENT_REPLACING && ev->resume_step != WIRE_NO_STEP &&
	    ev->node != mesh_self(m)) {
		if (s->rounds.node_count)
			snapshot_rounds_rollback(&s->rounds, ev->resume_step);
		s->rollback_step = ev->resume_step;
		s->rollback_since_ms = util_now_ms();
		s->rollback_wait[0] = '\0';
		try_rollback(s);
	}
	leader_decide(s);
	if (s->state == ROUND_REPORTED)
		send_report(s);
}

/* --- recovery from the copies --- */

/* Claims every registered local rank's control page for the rollback (its phase becomes
 * ROLLING_BACK: lcr_update_begin refuses to begin an update, see control_page.h), but those
 * in the middle of an update (their regions cannot be rolled back under them): NULL, or the
 * first of those. The ranks claimed stay so. */
static const struct task *claim_ranks(struct snapshot *s)
{
	const struct task *updating = NULL;
	for (size_t i = 0; i < tasks_count(s->d->tasks); i++) {
		const struct task *t = tasks_at(s->d->tasks, i);
		if (t->registered && t->page && !control_page_claim_rollback(t->page) && !updating)
			updating = t;
	}
	return updating;
}

/* A region of this node that a checkpoint's writer or a restore is using (the rollback
 * would write under it): NULL when none is. */
static const struct region *region_in_io(struct snapshot *s)
{
	for (const struct region *r = s->d->regions.head; r; r = r->next)
		if (ckpt_region_busy(s->d, r))
			return r;
	return NULL;
}

/* What the rollback must wait for, into why: false when nothing. */
static bool rollback_must_wait(struct snapshot *s, char *why, size_t cap)
{
	const struct task *busy = claim_ranks(s);
	const struct region *r;
	uint64_t committed;
	uint16_t phase;
	if (busy) {
		tasks_read_marks(busy, &committed, &phase);
		snprintf(why, cap, "rank %" PRIu32 "'s update to end (phase %s, step %" PRIu64 ")",
			 busy->rank, wire_phase_name(phase),
			 atomic_load_explicit(&busy->page->step, memory_order_relaxed));
	} else if (s->state == ROUND_COPYING) {
		snprintf(why, cap, "the snapshot round of step %" PRIu64 " in progress",
			 s->pending.step);
	} else if ((r = region_in_io(s))) {
		snprintf(why, cap, "the checkpoint or restore that uses region '%s' of rank %" PRIu32,
			 r->name, r->owner_rank);
	} else {
		return false;
	}
	return true;
}

/* Copies the kept snapshot back into the ranks' regions: 0, or -errno with why. Every
 * region is checked (there, same size) before any is written, so a refusal leaves none
 * half rolled back. */
static int restore_kept_regions(struct snapshot *s, char *why, size_t cap)
{
	for (int writing = 0; writing < 2; writing++)
		for (size_t i = 0; i < s->kept.count; i++) {
			const struct snap_region *x = &s->kept.regions[i];
			struct region *r = region_table_find(&s->d->regions, x->rank, x->name);
			int rc = !r ? -ENOENT : r->size != x->size ? -EMSGSIZE :
				 writing ? region_write(r, 0, x->data, x->size) : 0;
			if (rc < 0) {
				snprintf(why, cap, "region '%s' of rank %" PRIu32 ": %s", x->name,
					 x->rank, rc == -ENOENT ? "the rank has no such region any more" :
					 rc == -EMSGSIZE ? "the region changed size since the snapshot" :
					 strerror(-rc));
				return rc;
			}
		}
	return 0;
}

/* Every registered local rank's control page: the rollback ended, step committed. The
 * ranks may update again once they acknowledged it (lcr_resume_step): a rank that goes on
 * from its own later step is refused (-ESTALE) instead of committing on top of step. */
static void end_rollback(struct snapshot *s, uint64_t step)
{
	for (size_t i = 0; i < tasks_count(s->d->tasks); i++) {
		const struct task *t = tasks_at(s->d->tasks, i);
		if (t->registered && t->page)
			control_page_end_rollback(t->page, step);
	}
}

static bool copy_is_later(const struct held_copy *c, void *arg)
{
	return c->step > *(const uint64_t *)arg;
}

static bool parity_is_later(uint64_t step, void *arg)
{
	return step > *(const uint64_t *)arg;
}

/* The state after step is gone: this node's round of a later step (reported, waiting for a
 * verdict the leader no longer gives) and the copies of later steps it holds. */
static void drop_rounds_after(struct snapshot *s, uint64_t step)
{
	if (s->state == ROUND_REPORTED && s->report.step > step) {
		snapshot_retire(s, &s->pending);
		s->state = ROUND_IDLE;
	}
	snapshot_store_release(&s->store, copy_is_later, &step);
	if (s->holder)
		snapshot_erasure_release(s->holder, parity_is_later, &step);
}

/* Whether this node's ranks must not hear of a join yet: their rollback is not done (they
 * would resume from regions it is about to overwrite). */
static bool rollback_pending(struct lcrd *d)
{
	return d->snapshot && d->snapshot->rollback_step != WIRE_NO_STEP;
}

/* The rollback cannot wait any longer: these ranks must not go on from a later step than
 * every other rank. Ending this helper ends them, and the others learn of it as of any
 * node. */
static void rollback_fail(struct snapshot *s, uint64_t step, const char *why)
{
	log_error("cannot roll the ranks back to step %" PRIu64 ": %s; ending this node's ranks "
		  "rather than let them go on from another step", step, why);
	s->rollback_step = WIRE_NO_STEP;
	loop_request_stop(s->d->loop, "its ranks cannot be rolled back to the protected step");
}

/* Whether the rollback waits (for at most SNAPSHOT_ROLLBACK_WAIT_MS, saying what for each
 * time that changes); it has failed when the wait is over. */
static bool rollback_waits(struct snapshot *s)
{
	char why[WIRE_TEXT_MAX + 1], text[WIRE_TEXT_MAX + 64];
	uint64_t waited = util_now_ms() - s->rollback_since_ms;
	if (!rollback_must_wait(s, why, sizeof(why)))
		return false;
	if (waited >= SNAPSHOT_ROLLBACK_WAIT_MS) {
		snprintf(text, sizeof(text), "it waited %.1f s for %s", (double)waited / 1e3, why);
		rollback_fail(s, s->rollback_step, text);
		return true;
	}
	if (strcmp(why, s->rollback_wait) != 0)
		log_info("the rollback to step %" PRIu64 " waits for %s (at most %.0f s in all; the "
			 "ranks may not begin an update meanwhile)", s->rollback_step, why,
			 SNAPSHOT_ROLLBACK_WAIT_MS / 1e3);
	snprintf(s->rollback_wait, sizeof(s->rollback_wait), "%s", why);
	return true;
}

/* A REPLACING rolls the ranks back to s->rollback_step: the ranks' pages are claimed (no
 * update may begin), and once no rank is updating, no round reads the regions and no
 * checkpoint or restore uses them, the kept snapshot of that step goes back into their
 * regions and their pages show it committed. */
static void try_rollback(struct snapshot *s)
{
	uint64_t step = s->rollback_step, started = util_now_ns();
	char size[32];
	if (rollback_waits(s))
		return;
	s->rollback_step = WIRE_NO_STEP;
	drop_rounds_after(s, step);
	/* The leader rolls back only to a protected step: this node's round of it, reported ok
	 * and still waiting for its verdict (which may come after the REPLACING), is the one. */
	if (round_awaits_verdict(s) && s->report.step == step) {
		keep_pending(s);
		s->state = ROUND_IDLE;
	}
	char why[WIRE_TEXT_MAX + 1];
	if (s->kept.step != step)
		snprintf(why, sizeof(why), "this helper keeps the snapshot of %s",
			 s->kept.step == WIRE_NO_STEP ? "no step" : "another step");
	if (s->kept.step != step || restore_kept_regions(s, why, sizeof(why)) < 0) {
		rollback_fail(s, step, why);
		return;
	}
	end_rollback(s, step);
	s->last_tried = step; /* the rounds of later steps are taken again */
	log_info("rolled this node's ranks back to protected step %" PRIu64 " from its snapshot "
		 "(%s in %.3f s)", step, size_text(s->kept.bytes, size, sizeof(size)),
		 (double)(util_now_ns() - started) / 1e9);
	mesh_release_held_join(s->d); /* their regions hold the step: they may hear of the join */
}

static uint32_t place_of(const uint32_t *nodes, uint32_t count, uint32_t node)
{
	for (uint32_t i = 0; i < count; i++)
		if (nodes[i] == node)
			return i;
	return UINT32_MAX;
}

/* The partners that held node's copies of the protected step, as its round reported them
 * to this leader (the partner set of the live nodes of its round), or NULL when unknown. */
static const struct snapshot_partners *reported_partners(const struct snapshot *s,
							 uint32_t node)
{
	const struct snapshot_partners *p = s->protected_partners && node < WIRE_MESH_NODES_MAX
						    ? &s->protected_partners[node] : NULL;
	return p && p->count && p->step == s->protected_step ? p : NULL;
}

/* The partners that held node's copies of the protected step, placed again over the live
 * nodes of when it was protected: 0, or -ENOENT. */
static int placed_partners(const struct snapshot *s, uint32_t node, struct snapshot_partners *out)
{
	uint32_t places[SNAPSHOT_PARTNERS_MAX];
	unsigned copies = s->d->opt.redundancy_copies ? s->d->opt.redundancy_copies : 1;
	uint32_t place = place_of(s->protected_live, s->protected_live_count, node);
	struct redundancy_nodes nodes = { .count = s->protected_live_count };
	char err[WIRE_TEXT_MAX + 1];
	if (place == UINT32_MAX || copies > SNAPSHOT_PARTNERS_MAX ||
	    redundancy_copy_partners(&nodes, place, copies, places, err, sizeof(err)) < 0)
		return -ENOENT;
	out->step = s->protected_step;
	out->count = copies;
	for (unsigned c = 0; c < copies; c++)
		out->nodes[c] = s->protected_live[places[c]];
	return 0;
}

uint64_t snapshot_recovery_step(struct lcrd *d, uint32_t lost, char *why, size_t cap)
{
	struct snapshot *s = d->snapshot;
	struct snapshot_partners placed;
	const struct snapshot_partners *held_by;
	if (!s)
		return snprintf(why, cap, "no in-memory copies (--redundancy=none)"), WIRE_NO_STEP;
	if (s->protected_step == WIRE_NO_STEP || !s->protected_live_count)
		return snprintf(why, cap, "no step is protected yet"), WIRE_NO_STEP;
	if (uses_erasure(s))
		return snapshot_rebuild_state(s->rebuild, lost, s->protected_step, s->protected_live,
					      s->protected_live_count, why, cap) == 0
			       ? s->protected_step : WIRE_NO_STEP;
	held_by = reported_partners(s, lost);
	if (!held_by && placed_partners(s, lost, &placed) == 0)
		held_by = &placed;
	if (!held_by)
		return snprintf(why, cap, "node %" PRIu32 " has no copies of protected step %" PRIu64,
				lost, s->protected_step), WIRE_NO_STEP;
	for (uint32_t c = 0; c < held_by->count; c++)
		if (mesh_is_live(d->mesh, held_by->nodes[c])) {
			log_verbose("node %" PRIu32 "'s copies of protected step %" PRIu64 " are held "
				    "by live node %" PRIu32 " (%s)", lost, s->protected_step,
				    held_by->nodes[c], held_by == &placed ? "placed again over the "
				    "live nodes of then" : "as its round reported");
			return s->protected_step;
		}
	return snprintf(why, cap, "every node that held node %" PRIu32 "'s copies of protected "
			"step %" PRIu64 " is lost too (two losses in one partner set)", lost,
			s->protected_step), WIRE_NO_STEP;
}

static bool rebuild_pending(struct snapshot *s, uint32_t lost)
{
	char why[WIRE_TEXT_MAX + 1];
	return snapshot_rebuild_state(s->rebuild, lost, s->protected_step, s->protected_live,
				      s->protected_live_count, why, sizeof(why)) == -EINPROGRESS;
}

bool snapshot_rebuild_pending(struct lcrd *d, uint32_t lost)
{
	struct snapshot *s = d->snapshot;
	if (!s || !s->rebuild || s->protected_step == WIRE_NO_STEP)
		return false;
	if (lost != WIRE_NO_NODE)
		return rebuild_pending(s, lost);
	for (uint32_t i = 0; i < s->protected_live_count; i++)
		if (!mesh_is_live(d->mesh, s->protected_live[i]) &&
		    rebuild_pending(s, s->protected_live[i]))
			return true;
	return false;
}

/* --- the failure's checkpoint from the snapshots, and pinned sources --- */

static int pin_copy(struct snapshot *s, const char *shard_key, uint32_t rank, const char *region,
		    uint64_t step, struct snapshot_source *out)
{
	struct held_copy *c = snapshot_store_find_shard(&s->store, shard_key, region, step, rank);
	if (!c)
		return -ENOENT;
	snapshot_store_pin(c);
	*out = (struct snapshot_source){ .data = c->data, .size = c->size, .kind = c->kind,
					 .xxh3 = c->xxh3, .rank = c->rank, .step = step, .copy = c };
	return 0;
}

int snapshot_copy_pin(struct lcrd *d, const char *shard_key, const char *region, uint64_t step,
		      struct snapshot_source *out)
{
	return d->snapshot ? pin_copy(d->snapshot, shard_key, WIRE_NO_RANK, region, step, out)
			   : -ENOENT;
}

/* The region of the kept snapshot of step, of rank (or of any rank of shard_key). */
static const struct snap_region *kept_region(const struct snapshot *s, const char *shard_key,
					     uint32_t rank, const char *region, uint64_t step)
{
	for (size_t i = 0; s->kept.step == step && i < s->kept.count; i++) {
		const struct snap_region *x = &s->kept.regions[i];
		if ((rank == WIRE_NO_RANK || x->rank == rank) && x->data &&
		    strcmp(x->shard_key, shard_key) == 0 && strcmp(x->name, region) == 0)
			return x;
	}
	return NULL;
}

int snapshot_source_pin(struct lcrd *d, const char *shard_key, uint32_t rank, const char *region,
			uint64_t step, struct snapshot_source *out)
{
	struct snapshot *s = d->snapshot;
	const struct snap_region *x = s ? kept_region(s, shard_key, rank, region, step) : NULL;
	if (!s)
		return -ENOENT;
	if (!x)
		return pin_copy(s, shard_key, rank, region, step, out);
	s->kept_readers++;
	*out = (struct snapshot_source){ .data = x->data, .size = x->size, .kind = x->kind,
					 .xxh3 = x->xxh3, .rank = x->rank, .step = step };
	return 0;
}

void snapshot_source_unpin(struct lcrd *d, struct snapshot_source *src)
{
	struct snapshot *s = d->snapshot;
	if (!s || !src->data)
		return;
	if (src->copy)
		snapshot_store_unpin(&s->store, src->copy);
	else if (s->detached_readers && s->detached.step == src->step) {
		if (--s->detached_readers == 0)
			snapshot_free(&s->detached);
	} else if (s->kept_readers) {
		s->kept_readers--;
	}
	*src = (struct snapshot_source){ 0 };
}

uint64_t snapshot_checkpoint_step(struct lcrd *d, char *why, size_t cap)
{
	struct snapshot *s = d->snapshot;
	uint64_t step = s ? s->protected_step : WIRE_NO_STEP;
	if (!s || step == WIRE_NO_STEP)
		return snapshot_recovery_step(d, WIRE_NO_NODE, why, cap);
	for (uint32_t i = 0; i < s->protected_live_count; i++) {
		uint32_t node = s->protected_live[i];
		if (!mesh_is_live(d->mesh, node) &&
		    snapshot_recovery_step(d, node, why, cap) == WIRE_NO_STEP)
			return WIRE_NO_STEP;
	}
	return step;
}

/* The report of (node, rank) in reports[count], or NULL. */
static struct ckpt_report *report_of(struct ckpt_report *reports, size_t count, uint32_t rank)
{
	for (size_t i = 0; i < count; i++)
		if (reports[i].rank == rank)
			return &reports[i];
	return NULL;
}

/* Adds region (name, kind, size) of rank to the reports: a new report for a new rank. */
static int report_region(struct lcrd *d, struct ckpt_report *reports, size_t *count,
			 uint32_t rank, const char *shard_key, uint32_t dp_size, uint64_t step,
			 const char *name, enum wire_region_kind kind, uint64_t size)
{
	struct ckpt_report *r = report_of(reports, *count, rank);
	if (!r) {
		r = &reports[(*count)++];
		*r = (struct ckpt_report){ .rank = rank, .node_id = d->opt.node_id,
					   .dp_size = dp_size, .phase = WIRE_PHASE_COMMITTED,
					   .committed_step = step };
		strcpy(r->node, d->opt.node_name);
		strcpy(r->shard_key, shard_key);
	}
	struct ckpt_region_report *grown = realloc(r->regions, (r->region_count + 1) *
						   sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	r->regions = grown;
	struct ckpt_region_report *e = &grown[r->region_count++];
	*e = (struct ckpt_region_report){ .kind = kind, .size = size };
	strcpy(e->name, name);
	return 0;
}

/* Every region of this node's ranks is in the kept snapshot of step, same size: 0, or
 * -ENODATA with err (one registered since). */
static int kept_covers_regions(struct snapshot *s, uint64_t step, char *err, size_t errlen)
{
	for (const struct region *r = s->d->regions.head; r; r = r->next) {
		const struct task *t = tasks_find(s->d->tasks, r->owner_rank);
		const struct snap_region *x = t ? kept_region(s, t->shard_key, r->owner_rank,
							      r->name, step) : NULL;
		if (t && t->registered && (!x || x->size != r->size))
			return snprintf(err, errlen, "%s region '%s' of rank %" PRIu32 " is not in "
					"%s's snapshot of step %" PRIu64, region_kind_name(r->kind),
					r->name, r->owner_rank, s->d->opt.node_name, step),
			       -ENODATA;
	}
	return 0;
}

int snapshot_gather_reports(struct lcrd *d, uint64_t step, struct ckpt_report **out,
			    size_t *count, char *err, size_t errlen)
{
	struct snapshot *s = d->snapshot;
	size_t n = 0;
	int rc = 0;
	*out = NULL;
	*count = 0;
	if (!s || s->kept.step != step)
		return snprintf(err, errlen, "%s keeps no snapshot of step %" PRIu64,
				d->opt.node_name, step), -ENODATA;
	if ((rc = kept_covers_regions(s, step, err, errlen)) < 0)
		return rc;
	struct ckpt_report *reports = calloc(s->kept.count + s->store.count + 1, sizeof(*reports));
	if (!reports)
		return snprintf(err, errlen, "out of memory"), -ENOMEM;
	for (size_t i = 0; rc == 0 && i < s->kept.count; i++) {
		const struct snap_region *x = &s->kept.regions[i];
		rc = report_region(d, reports, &n, x->rank, x->shard_key, x->dp_size, step, x->name,
				   x->kind, x->size);
	}
	for (const struct held_copy *c = s->store.head; rc == 0 && c; c = c->next)
		if (c->complete && !c->released && c->step == step && !mesh_is_live(d->mesh, c->node) &&
		    !snapshot_store_superseded(&s->store, c))
			rc = report_region(d, reports, &n, c->rank, c->shard_key, c->dp_size, step,
					   c->region, c->kind, c->size);
	if (rc < 0) {
		ckpt_reports_free(reports, n);
		return snprintf(err, errlen, "out of memory"), rc;
	}
	*out = reports;
	*count = n;
	return 0;
}

/* --- copies pushed here --- */

/* "the copy of region 'w' of rank 0", "chunk 1 of stripe 2 of node 3", "the layout of
 * node 3", or "block 1 of stripe 2 from node 3" */
static const char *put_text(const struct wire_snapshot_put *put, char *buf, size_t cap)
{
	if (put->kind == WIRE_SNAPSHOT_CHUNK)
		snprintf(buf, cap, "chunk %u of stripe %u of node %" PRIu32, put->chunk, put->stripe,
			 put->node);
	else if (put->kind == WIRE_SNAPSHOT_LAYOUT || put->kind == WIRE_SNAPSHOT_REBUILD_LAYOUT)
		snprintf(buf, cap, "the layout of node %" PRIu32, put->node);
	else if (put->kind == WIRE_SNAPSHOT_REBUILD)
		snprintf(buf, cap, "block %u of stripe %u from node %" PRIu32, put->chunk, put->stripe,
			 put->node);
	else
		snprintf(buf, cap, "the copy of region '%s' of rank %" PRIu32, put->region, put->rank);
	return buf;
}

static int reserve_copy(void *arg, uint32_t peer, const struct wire_snapshot_put *put,
			uint8_t **dst, char *why, size_t cap)
{
	struct snapshot *s = arg;
	uint64_t max = s->d->opt.redundancy_memory_max, used = memory_in_use(s);
	char size[32], have[32], limit[32], what[WIRE_NAME_MAX + 64];
	if (put->node != peer && put->kind != WIRE_SNAPSHOT_REBUILD_LAYOUT)
		return snprintf(why, cap, "node %" PRIu32 " sent a copy of node %" PRIu32 "'s state",
				peer, put->node), -EPERM;
	if (max && used + put->size > max && used - s->spare.bytes + put->size <= max) {
		snapshot_free(&s->spare); /* the next round allocates again */
		used = memory_in_use(s);
	}
	if (max && used + put->size > max) {
		snprintf(why, cap, "lcrd on %s cannot hold %s at step %" PRIu64 " (%s): it holds %s "
			 "for redundancy already, and --redundancy-memory-max is %s", s->d->opt.node_name,
			 put_text(put, what, sizeof(what)), put->step, size_text(put->size, size, sizeof(size)),
			 size_text(used, have, sizeof(have)), size_text(max, limit, sizeof(limit)));
		tell_problem(s, "a copy passes the budget", "%s", why);
		return -ENOSPC;
	}
	bool erasure_kind = put->kind != WIRE_SNAPSHOT_COPY;
	if (erasure_kind && !s->holder)
		return snprintf(why, cap, "lcrd on %s holds no parity (its redundancy is copy)",
				s->d->opt.node_name), -EOPNOTSUPP;
	int rc = put->kind == WIRE_SNAPSHOT_CHUNK || put->kind == WIRE_SNAPSHOT_LAYOUT
		 ? snapshot_erasure_reserve(s->holder, peer, put, dst, why, cap)
		 : erasure_kind ? snapshot_rebuild_reserve(s->rebuild, peer, put, dst, why, cap)
				: snapshot_store_reserve(&s->store, put, dst);
	if (erasure_kind) {
		if (rc < 0)
			tell_problem(s, "a chunk refused", "refused %s at step %" PRIu64 ": %s",
				     put_text(put, what, sizeof(what)), put->step, why);
		return rc;
	}
	if (rc < 0)
		snprintf(why, cap, "lcrd on %s cannot hold the copy of region '%s' of rank %" PRIu32
			 " (%" PRIu64 " bytes): %s", s->d->opt.node_name, put->region, put->rank,
			 put->size, strerror(-rc));
	return rc;
}

static int copy_arrived(void *arg, uint32_t peer, const struct wire_snapshot_put *put,
			uint8_t *dst, int rc, uint64_t xxh3, char *why, size_t cap)
{
	struct snapshot *s = arg;
	if (put->kind == WIRE_SNAPSHOT_CHUNK || put->kind == WIRE_SNAPSHOT_LAYOUT)
		return snapshot_erasure_arrived(s->holder, peer, put, dst, rc, xxh3, why, cap);
	if (put->kind != WIRE_SNAPSHOT_COPY)
		return snapshot_rebuild_arrived(s->rebuild, peer, put, dst, rc, why, cap);
	struct held_copy *c = snapshot_store_find(&s->store, dst);
	char size[32];
	if (!c)
		return snprintf(why, cap, "the copy's memory is gone"), -ENOENT;
	if (rc < 0) {
		snapshot_store_remove(&s->store, c);
		return snprintf(why, cap, "the copy did not arrive whole: %s", strerror(-rc)), rc;
	}
	c->complete = true;
	c->xxh3 = xxh3;
	log_verbose("holding the copy of region '%s' of rank %" PRIu32 " at step %" PRIu64
		    " from node %" PRIu32 ": %s, xxh3 %016" PRIx64, put->region, put->rank, put->step,
		    peer, size_text(put->size, size, sizeof(size)), xxh3);
	return 0;
}

/* A region of a lost node's snapshot, rebuilt from the parity by this leader: held as its
 * copy, as a copy partner holds one, counted against the budget. */
static int keep_rebuilt(void *arg, uint32_t node, uint64_t incarnation, uint64_t step,
			const struct wire_snapshot_layout_region *x, uint8_t **data, char *why,
			size_t cap)
{
	struct snapshot *s = arg;
	struct wire_snapshot_put put = { .node = node, .incarnation = incarnation, .rank = x->rank,
					 .dp_size = x->dp_size, .step = step, .size = x->size,
					 .kind = WIRE_SNAPSHOT_COPY, .region_kind = x->kind };
	uint64_t max = s->d->opt.redundancy_memory_max, used = memory_in_use(s);
	char size[32], have[32], limit[32];
	if (max && used + x->size > max)
		return snprintf(why, cap, "lcrd on %s cannot hold region '%s' of rank %" PRIu32 " (%s): "
				"it holds %s for redundancy already, and --redundancy-memory-max is %s",
				s->d->opt.node_name, x->name, x->rank, size_text(x->size, size, sizeof(size)),
				size_text(used, have, sizeof(have)), size_text(max, limit, sizeof(limit))),
		       -ENOSPC;
	strcpy(put.shard_key, x->shard_key);
	strcpy(put.region, x->name);
	int rc = snapshot_store_adopt(&s->store, &put, *data, x->xxh3);
	if (rc < 0)
		return snprintf(why, cap, "cannot hold region '%s' of rank %" PRIu32 ": %s", x->name,
				x->rank, strerror(-rc)), rc;
	*data = NULL; /* the store's now */
	return 0;
}

/* --- the rest of lcrd --- */

/* --redundancy=auto: the method the budget allows, the same on every helper (internal/
 * redundancy_plan.h), said in the log; none with a warning. */
static void choose_method(struct lcrd *d)
{
	struct redundancy_budget b = { .state_max = d->opt.region_quota,
				       .memory_max = d->opt.redundancy_memory_max,
				       .copies = d->opt.redundancy_copies,
				       .group_size = d->opt.redundancy_group_size,
				       .parity = d->opt.redundancy_parity, .node_count = d->opt.node_count };
	char why[WIRE_TEXT_MAX + 1];
	d->opt.redundancy = redundancy_choose(&b, why, sizeof(why));
	d->opt.redundancy_auto = true;
	if (d->opt.redundancy == LCR_REDUNDANCY_NONE)
		log_warning("redundancy auto chose none: %s; state without a replica is not protected",
			    why);
	else
		log_info("redundancy auto chose %s: %s", lcr_redundancy_mode_name(d->opt.redundancy), why);
}

/* A replacement (--rejoin) resumes at the step it restores, protected already (its copies
 * are those it was filled from): its first round is at a later step, else none. A round at
 * that step would be protected at once and leave a second copy of it with its partners. */
static uint64_t replacement_resume_step(struct lcrd *d)
{
	char path[PATH_MAX];
	return d->opt.rejoin ? ckpt_restore_step(d, path, sizeof(path)) : WIRE_NO_STEP;
}

int snapshot_create(struct lcrd *d)
{
	struct snapshot *s;
	int rc;
	if (d->opt.redundancy == LCR_REDUNDANCY_AUTO)
		choose_method(d);
	if (d->opt.redundancy != LCR_REDUNDANCY_COPY && d->opt.redundancy != LCR_REDUNDANCY_ERASURE)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->d = d;
	s->last_tried = replacement_resume_step(d);
	s->protected_step = WIRE_NO_STEP;
	s->rollback_step = WIRE_NO_STEP;
	s->kept.step = s->pending.step = s->spare.step = WIRE_NO_STEP;
	d->snapshot = s;
	if (uses_erasure(s) && (!(s->holder = snapshot_erasure_holder_create(d)) ||
				!(s->rebuild = snapshot_rebuild_create(d, s->holder, keep_rebuilt, s))))
		return -ENOMEM;
	if ((rc = mesh_handle_message(d, WIRE_SNAPSHOT_DONE, on_done)) < 0 ||
	    (rc = mesh_handle_message(d, WIRE_SNAPSHOT_END, on_end)) < 0 ||
	    (rc = mesh_subscribe(d, on_membership, NULL)) < 0 ||
	    (rc = loop_add_timer(d->loop, SNAPSHOT_POLL_MS, poll_pages, s, &s->poll_timer)) < 0)
		return rc;
	transfer_server_take_copies(d, reserve_copy, copy_arrived, s);
	mesh_on_hold_join(d, rollback_pending);
	if (uses_erasure(s))
		log_info("redundancy: erasure, groups of %u or more nodes with %u parity block%s per "
			 "stripe, a snapshot every %" PRIu32 " steps", d->opt.redundancy_group_size,
			 d->opt.redundancy_parity, d->opt.redundancy_parity == 1 ? "" : "s",
			 d->opt.snapshot_every);
	else
		log_info("redundancy: copy, %u cop%s of each node's state, a snapshot every %" PRIu32
			 " steps", d->opt.redundancy_copies, d->opt.redundancy_copies == 1 ? "y" : "ies",
			 d->opt.snapshot_every);
	return 0;
}

void snapshot_destroy(struct lcrd *d)
{
	struct snapshot *s = d->snapshot;
	if (!s)
		return;
	/* The sessions that receive copies into the store end first. */
	transfer_server_close(d);
	transfer_server_take_copies(d, NULL, NULL, NULL);
	if (s->worker)
		worker_cancel(s->worker);
	if (s->poll_timer)
		loop_cancel_timer(d->loop, s->poll_timer);
	snapshot_free(&s->kept);
	snapshot_free(&s->detached);
	snapshot_free(&s->pending);
	snapshot_free(&s->spare);
	snapshot_store_clear(&s->store);
	snapshot_rebuild_destroy(s->rebuild);
	snapshot_erasure_holder_destroy(s->holder);
	free(s->protected_live);
	free(s->round_partners);
	free(s->protected_partners);
	if (s->rounds.node_count)
		snapshot_rounds_fini(&s->rounds);
	free(s);
	d->snapshot = NULL;
}

bool snapshot_uses(struct lcrd *d, const struct region *r)
{
	struct snapshot *s = d->snapshot;
	if (!s || !s->worker)
		return false;
	for (size_t i = 0; i < s->pending.count; i++)
		if (s->pending.regions[i].region == r)
			return true;
	return false;
}

void snapshot_fill_status(struct lcrd *d, struct wire_status_reply *st)
{
	struct snapshot *s = d->snapshot;
	st->redundancy = (uint16_t)d->opt.redundancy;
	st->redundancy_auto = d->opt.redundancy_auto;
	st->redundancy_copies = d->opt.redundancy_copies;
	st->redundancy_group_size = d->opt.redundancy_group_size;
	st->redundancy_parity = d->opt.redundancy_parity;
	st->snapshot_every = d->opt.snapshot_every;
	st->redundancy_memory_max = d->opt.redundancy_memory_max;
	st->protected_step = s ? s->protected_step : WIRE_NO_STEP;
	st->redundancy_bytes = s ? memory_in_use(s) : 0;
	st->snapshot_hold_max_ms = d->opt.snapshot_hold_max_ms;
	/* The ranks' own counts (control_page.h), kept with their pages when they exit. */
	for (size_t i = 0; i < tasks_count(d->tasks); i++) {
		const struct task *t = tasks_at(d->tasks, i);
		if (!t->page)
			continue;
		st->hold_waits += atomic_load_explicit(&t->page->hold_waits, memory_order_relaxed);
		st->hold_waited_us += atomic_load_explicit(&t->page->hold_waited_us,
							   memory_order_relaxed);
	}
}
