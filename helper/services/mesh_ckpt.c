/* mesh_ckpt.c: the just-in-time checkpoint of a step, carried over the mesh (the calls are
 * ckpt_write.h's and ckpt_plan.h's; the flow is in doc/checkpoint.md). It is the one
 * checkpoint flow of lcrd: a step on one node runs it as a mesh of one, whose leader, only
 * writer and only reporter is this helper (its messages to itself are calls).
 *
 * The leader runs one checkpoint at a time. It starts one when it applies a failure that
 * changes what the step can do (a node down, a rank whose known wait status is not a clean
 * exit) or when a helper forwards `ckpt now` (ckpt.c):
 *   gather  ASK every live node; each answers REPORTS (its replicas' marks and regions);
 *           when some shard has no committed replica because a replica is in the middle
 *           of an update, a checkpoint that was asked for (not one for a failure) asks
 *           again every MESH_CKPT_COMMIT_POLL_MS, to take the next committed step, until
 *           MESH_CKPT_GATHER_MS have passed since it began;
 *   write   choose step S, build the plan, prepare DIR/step-S.tmp/, and send WRITE (every
 *           report, and the writers lost so far) to each writer and each checker of the
 *           plan: each computes the same plan and checks (ckpt_verify_assign), writes its
 *           ranges and hashes those it checks, then answers RESULT with their hashes;
 *   compare every hash of a range, written or checked, against the first one received
 *           (ckpt_verify_add): replicas of a shard that hold different bytes abandon the
 *           checkpoint (-EUCLEAN), naming the shard, the ranks and the range;
 *   publish when the results cover every range and every node answered: manifest, rename,
 *           prune, and DONE to every helper, which logs it and tells its ranks
 *           (WIRE_EVENT_CHECKPOINT).
 * A writer lost while writing has its ranges moved to other replicas of its shards
 * (ckpt_plan_reassign) and WRITE goes to the nodes that received them; when none can take
 * them, or on any error or timeout, the .tmp directory is removed and nothing is published.
 * A writer that finds a replica began an update while it was read (-ESTALE) makes the
 * leader remove the .tmp directory and start again from the gather, CKPT_ATTEMPTS tries
 * in all.
 * A failure's checkpoint whose plan lacks state that no live rank holds (a lost node's
 * shards without a replica), or finds no step committed on every shard (a survivor torn
 * by the failure, inside its update or having given it up), is written from the helpers'
 * snapshots instead, with
 * --redundancy=copy: the same flow, gathered again with the protected step P that every
 * lost node's copies are held at (snapshot_checkpoint_step): each node reports its own
 * snapshot of P and the copies it holds of lost nodes (snapshot_gather_reports), the plan
 * is built from those at P, and each writer reads its ranges from the snapshots
 * (ckpt_write_start, from_snapshots). Without such a step it is abandoned (-EHOSTDOWN).
 * A new leader starts a checkpoint of its own for the leader's death: its ckpt_prepare_dir
 * removes the old leader's .tmp directory, and a WRITE from it stops any writer of the old
 * one. Every wait has a bound: MESH_CKPT_GATHER_MS for the reports, MESH_CKPT_WRITE_MS for
 * the writers, MESH_CKPT_REQUEST_MS for a helper that forwarded a request. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/mesh_ckpt.h"
#include "internal/ckpt_store.h"
#include "internal/util.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "loop/loop.h"
#include "mesh/mesh.h"
#include "services/ckpt_write.h"
#include "services/recovery.h"
#include "services/snapshot.h"

#define MESH_CKPT_GATHER_MS 5000    /* for every live node's reports */
#define MESH_CKPT_WRITE_MS 600000   /* for every writer's result */
#define MESH_CKPT_COMMIT_POLL_MS 50 /* between two gathers that wait for a commit */
#define CKPT_ATTEMPTS 3             /* tries when a replica began an update during the copy */
#define MESH_CKPT_REQUEST_MS (CKPT_ATTEMPTS * (MESH_CKPT_GATHER_MS + MESH_CKPT_WRITE_MS) + 10000)

enum run_phase { RUN_IDLE, RUN_GATHER, RUN_WRITE };

/* This node writing ranges for a leader's checkpoint. */
struct write_job {
	struct mesh *m;
	uint32_t leader;
	uint64_t id;
	struct ckpt_writer *writer;
	struct write_job *next;
};

struct mesh_ckpt {
	/* the leader's checkpoint in progress */
	enum run_phase phase;
	uint64_t id;
	uint64_t seq;
	char reason[WIRE_TEXT_MAX + 1];
	bool on_demand;          /* asked for: waits for a commit, a failure's does not */
	uint64_t snapshot_step;  /* WIRE_NO_STEP: from the live ranks; else from the
				  * snapshots of that protected step */
	unsigned attempt;        /* 0, or the tries so far after stale copies */
	uint64_t started_ns;
	uint64_t timer;
	uint64_t regather_timer; /* the next gather, while waiting for a commit */
	char no_commit[WIRE_TEXT_MAX + 1]; /* why the last gather could not be planned */
	char lacks[WIRE_TEXT_MAX + 1]; /* what the failure's checkpoint lacks, while it waits
					* for a lost node's snapshot rebuilt from the parity */
	uint32_t *waiting;       /* per node: answers still expected from it */
	struct manifest plan;
	struct ckpt_check *checks; /* which replica checks which range (ckpt_verify.h) */
	size_t check_count;
	struct ckpt_verify verify; /* the hashes received, compared */
	size_t confirmed;        /* ranges confirmed by results */
	uint64_t bytes;
	struct wire_mesh_ckpt_write write; /* the plan's inputs: every report, the lost */
	/* this node's writers */
	struct write_job *jobs;
	/* a forwarded request this node waits for */
	uint64_t request_timer;
	/* scratch for messages */
	struct wire_mesh_ckpt_reports reports;
	struct wire_mesh_ckpt_result result;
	struct wire_mesh_ckpt_write incoming;
	uint8_t buf[WIRE_MAX_PAYLOAD];
};

/* The checkpoints' state (struct lcrd's mesh_ckpt), NULL until the first use. */
static struct mesh_ckpt *state_of(const struct mesh *m)
{
	return mesh_lcrd(m)->mesh_ckpt;
}

static struct mesh_ckpt *get(struct mesh *m)
{
	struct lcrd *d = mesh_lcrd(m);
	if (!d->mesh_ckpt) {
		d->mesh_ckpt = calloc(1, sizeof(*d->mesh_ckpt));
		if (d->mesh_ckpt)
			d->mesh_ckpt->waiting = calloc(mesh_node_count(m) + 1,
						       sizeof(*d->mesh_ckpt->waiting));
		if (d->mesh_ckpt && !d->mesh_ckpt->waiting) {
			free(d->mesh_ckpt);
			d->mesh_ckpt = NULL;
		}
		if (!d->mesh_ckpt)
			log_error("cannot set up the mesh's checkpoints: out of memory");
	}
	return d->mesh_ckpt;
}

static const char *label_of(struct mesh *m, uint32_t node, char *buf, size_t cap)
{
	return mesh_node_label(m, node, buf, cap);
}

/* --- reports: the plan's form and the wire's --- */

/* Appends reports[count] to w; -EMSGSIZE when they do not fit one message. */
static int replicas_append(struct wire_ckpt_replicas *w, const struct ckpt_report *reports,
			   size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const struct ckpt_report *r = &reports[i];
		if (w->count == WIRE_CKPT_REPLICAS_MAX ||
		    w->region_count + r->region_count > WIRE_CKPT_REGIONS_MAX)
			return -EMSGSIZE;
		struct wire_ckpt_replica *p = &w->replicas[w->count++];
		*p = (struct wire_ckpt_replica){ .rank = r->rank, .node_id = r->node_id,
						 .dp_size = r->dp_size, .phase = r->phase,
						 .committed_step = r->committed_step,
						 .region_count = (uint32_t)r->region_count };
		strcpy(p->node, r->node);
		strcpy(p->shard_key, r->shard_key);
		for (size_t j = 0; j < r->region_count; j++) {
			struct wire_ckpt_replica_region *g = &w->regions[w->region_count++];
			strcpy(g->name, r->regions[j].name);
			g->kind = (uint16_t)r->regions[j].kind;
			g->size = r->regions[j].size;
		}
	}
	return 0;
}

/* Appends the replicas of `from` to w; -EMSGSIZE when they do not fit one message. */
static int replicas_append_wire(struct wire_ckpt_replicas *w, const struct wire_ckpt_replicas *from)
{
	if (w->count + from->count > WIRE_CKPT_REPLICAS_MAX ||
	    w->region_count + from->region_count > WIRE_CKPT_REGIONS_MAX)
		return -EMSGSIZE;
	memcpy(&w->replicas[w->count], from->replicas, from->count * sizeof(*from->replicas));
	memcpy(&w->regions[w->region_count], from->regions,
	       from->region_count * sizeof(*from->regions));
	w->count += from->count;
	w->region_count += from->region_count;
	return 0;
}

/* Drops the replicas of nodes that are no longer live (removed after they reported). */
static void replicas_drop_removed(const struct mesh *m, struct wire_ckpt_replicas *w)
{
	uint32_t kept = 0, kept_regions = 0, region = 0;
	for (uint32_t i = 0; i < w->count; i++) {
		struct wire_ckpt_replica p = w->replicas[i];
		uint32_t first = region;
		region += p.region_count;
		if (p.node_id < mesh_node_count(m) &&
		    mesh_node_state(m, p.node_id) != WIRE_NODE_LIVE)
			continue;
		memmove(&w->regions[kept_regions], &w->regions[first],
			p.region_count * sizeof(*w->regions));
		kept_regions += p.region_count;
		w->replicas[kept++] = p;
	}
	w->count = kept;
	w->region_count = kept_regions;
}

static bool is_lost(const uint32_t *lost, uint32_t lost_count, uint32_t node)
{
	for (uint32_t i = 0; i < lost_count; i++)
		if (lost[i] == node)
			return true;
	return false;
}

/* The reports of w whose node is not among lost[lost_count], as the plan wants them. */
static int replicas_to_reports(const struct wire_ckpt_replicas *w, const uint32_t *lost,
			       uint32_t lost_count, struct ckpt_report **out, size_t *count)
{
	struct ckpt_report *reports = calloc(w->count + 1, sizeof(*reports));
	size_t used = 0;
	uint32_t region = 0;
	if (!reports)
		return -ENOMEM;
	for (uint32_t i = 0; i < w->count; region += w->replicas[i].region_count, i++) {
		const struct wire_ckpt_replica *p = &w->replicas[i];
		if (is_lost(lost, lost_count, p->node_id))
			continue;
		struct ckpt_report *r = &reports[used++];
		*r = (struct ckpt_report){ .rank = p->rank, .node_id = p->node_id,
					   .dp_size = p->dp_size, .phase = (enum wire_phase)p->phase,
					   .committed_step = p->committed_step,
					   .region_count = p->region_count };
		strcpy(r->node, p->node);
		strcpy(r->shard_key, p->shard_key);
		r->regions = calloc(p->region_count + 1, sizeof(*r->regions));
		if (!r->regions) {
			ckpt_reports_free(reports, used);
			return -ENOMEM;
		}
		for (uint32_t j = 0; j < p->region_count; j++) {
			const struct wire_ckpt_replica_region *g = &w->regions[region + j];
			strcpy(r->regions[j].name, g->name);
			r->regions[j].kind = (enum wire_region_kind)g->kind;
			r->regions[j].size = g->size;
		}
	}
	*out = reports;
	*count = used;
	return 0;
}

/* From the snapshots, a lost node's rank is reported by each of its K holders: the plan is
 * built from the first holder's report only, the others (still in the WRITE's replicas)
 * taking its ranges if that holder is lost while writing (ckpt_plan_reassign). */
static void reports_keep_first_holders(struct ckpt_report *reports, size_t *count)
{
	size_t kept = 0;
	for (size_t i = 0; i < *count; i++) {
		bool seen = false;
		for (size_t j = 0; j < kept && !seen; j++)
			seen = reports[j].rank == reports[i].rank;
		if (seen)
			free(reports[i].regions);
		else
			reports[kept++] = reports[i];
	}
	*count = kept;
}

/* The plan of a WRITE: built from every report, then each lost writer's ranges moved, in
 * the order they were lost. *moved lists the ranges the last move gave new writers. The
 * checks (*checks, when not NULL) are those of the plan as built: a WRITE after a loss
 * writes moved ranges only. */
static int plan_of_write(const struct wire_mesh_ckpt_write *w, uint32_t job_id,
			 struct manifest *plan, struct ckpt_range_ref **moved, size_t *moved_count,
			 struct ckpt_check **checks, size_t *check_count, char *err, size_t errlen)
{
	struct ckpt_plan_params params = { job_id, CKPT_ALIGNMENT, CKPT_RANGE_MAX };
	struct ckpt_report *reports = NULL;
	size_t count = 0;
	int rc = replicas_to_reports(&w->replicas, NULL, 0, &reports, &count);
	if (rc == 0 && w->snapshot_step != WIRE_NO_STEP)
		reports_keep_first_holders(reports, &count);
	*moved = NULL;
	*moved_count = 0;
	if (rc == 0)
		rc = ckpt_plan_build(reports, count, w->step, &params, plan, err, errlen);
	else
		snprintf(err, errlen, "out of memory");
	if (rc == 0 && checks)
		rc = ckpt_verify_assign(reports, count, plan, checks, check_count, err, errlen);
	if (rc < 0 && checks && *checks) {
		free(*checks);
		*checks = NULL;
	}
	ckpt_reports_free(reports, count);
	for (uint32_t i = 0; rc == 0 && i < w->lost_count; i++) {
		free(*moved);
		*moved = NULL;
		rc = replicas_to_reports(&w->replicas, w->lost, i + 1, &reports, &count);
		if (rc < 0) {
			snprintf(err, errlen, "out of memory");
			break;
		}
		rc = ckpt_plan_reassign(plan, reports, count, w->lost[i], moved, moved_count, err,
					errlen);
		ckpt_reports_free(reports, count);
	}
	if (rc < 0) {
		free(*moved);
		*moved = NULL;
		manifest_free(plan);
	}
	return rc;
}

/* The leader's plan of the checkpoint in progress, its checks and their comparison. */
static void plan_free(struct mesh_ckpt *k)
{
	manifest_free(&k->plan);
	free(k->checks);
	k->checks = NULL;
	k->check_count = 0;
	ckpt_verify_free(&k->verify);
}

/* --- the end of a checkpoint, on every helper --- */

void mesh_ckpt_on_end(struct lcrd *d, mesh_ckpt_end_fn *fn)
{
	d->mesh_ckpt_ended = fn;
}

/* Tells the end callback (ckpt.c) that a checkpoint ended. */
static void tell_end(struct mesh *m, const struct wire_ckpt_result *r)
{
	struct lcrd *d = mesh_lcrd(m);
	if (d->mesh_ckpt_ended)
		d->mesh_ckpt_ended(d, r);
}

/* A checkpoint ended (published or abandoned): log it, tell the ranks and the requesters. */
static void checkpoint_ended(struct mesh *m, uint32_t leader, const struct wire_ckpt_result *r)
{
	struct mesh_ckpt *k = state_of(m);
	char label[WIRE_NODE_NAME_MAX + 16];
	if (leader != mesh_self(m) && r->status < 0)
		log_error("checkpoint led by %s: %s", label_of(m, leader, label, sizeof(label)),
			  r->message);
	else if (leader != mesh_self(m))
		log_info("checkpoint led by %s: %s", label_of(m, leader, label, sizeof(label)),
			 r->message);
	if (k && k->request_timer) {
		loop_cancel_timer(mesh_lcrd(m)->loop, k->request_timer);
		k->request_timer = 0;
	}
	mesh_log_local(m, WIRE_EVENT_CHECKPOINT, leader, WIRE_NO_RANK, 0, r->status, r->message);
	tell_end(m, r);
}

static void stop_jobs(struct mesh *m, uint32_t leader, uint64_t id, bool keep);
static void gather(struct mesh *m);

/* The leader's checkpoint ends: every helper hears of it. */
static void run_finish(struct mesh *m, int status, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void run_finish(struct mesh *m, int status, const char *path, const char *fmt, ...)
{
	struct lcrd *d = mesh_lcrd(m);
	struct mesh_ckpt *k = state_of(m);
	static struct wire_ckpt_result r;
	char err[WIRE_TEXT_MAX + 1];
	va_list ap;
	memset(&r, 0, sizeof(r));
	r.status = status;
	r.step = k->write.step;
	r.bytes = status == 0 ? k->bytes : 0;
	r.elapsed_us = (util_now_ns() - k->started_ns) / 1000;
	util_copy_string(r.path, sizeof(r.path), path);
	va_start(ap, fmt);
	vsnprintf(r.message, sizeof(r.message), fmt, ap);
	va_end(ap);
	if (status < 0)
		stop_jobs(m, mesh_self(m), k->id, false);
	if (status < 0 && k->phase == RUN_WRITE &&
	    ckpt_abandon(&d->opt, k->write.step, err, sizeof(err)) < 0)
		log_error("cannot remove the abandoned checkpoint: %s", err);
	if (status < 0)
		log_error("checkpoint (%s) failed: %s", k->reason, r.message);
	else
		log_info("checkpoint (%s): %s", k->reason, r.message);
	loop_cancel_timer(d->loop, k->timer);
	k->timer = 0;
	loop_cancel_timer(d->loop, k->regather_timer);
	k->regather_timer = 0;
	k->phase = RUN_IDLE;
	plan_free(k);
	memset(k->waiting, 0, mesh_node_count(m) * sizeof(*k->waiting));
	int len = wire_encode_ckpt_result(&r, k->buf, sizeof(k->buf));
	for (uint32_t i = 0; len > 0 && i < mesh_live_count(m); i++) {
		uint32_t node = mesh_live_ids(m)[i];
		if (node != mesh_self(m))
			mesh_send(m, node, WIRE_MESH_CKPT_DONE, k->buf, len);
	}
	checkpoint_ended(m, mesh_self(m), &r);
	recovery_on_checkpoint_end(m, &r);
}

/* --- the writer's side --- */

static void send_result(struct mesh *m, uint32_t leader, const struct wire_mesh_ckpt_result *r);

static void job_free(struct mesh_ckpt *k, struct write_job *job)
{
	for (struct write_job **pos = &k->jobs; *pos; pos = &(*pos)->next)
		if (*pos == job) {
			*pos = job->next;
			break;
		}
	free(job);
}

static void apply_result(struct mesh *m, uint32_t from, uint64_t id,
			 const struct ckpt_write_result *result);

/* This node's writer is done: its result goes to the leader, as it is when that is this
 * node (no message, so no bound on the ranges it confirms). */
static void job_done(struct lcrd *d, const struct ckpt_write_result *result, void *arg)
{
	struct write_job *job = arg;
	struct mesh *m = job->m;
	struct mesh_ckpt *k = state_of(m);
	struct wire_mesh_ckpt_result *r = &k->result;
	(void)d;
	if (job->leader == mesh_self(m)) {
		uint64_t id = job->id;
		job->writer = NULL;
		job_free(k, job);
		apply_result(m, mesh_self(m), id, result);
		return;
	}
	memset(r, 0, offsetof(struct wire_mesh_ckpt_result, hashes));
	r->id = job->id;
	r->status = result->status;
	util_copy_string(r->error, sizeof(r->error), result->error);
	r->step = result->step;
	r->bytes = result->bytes;
	r->elapsed_us = (uint64_t)(result->seconds * 1e6);
	if (result->hash_count > WIRE_CKPT_HASHES_MAX && r->status == 0) {
		r->status = -EMSGSIZE;
		snprintf(r->error, sizeof(r->error), "%zu ranges written: more than one result "
			 "can confirm (%d)", result->hash_count, WIRE_CKPT_HASHES_MAX);
	}
	for (size_t i = 0; r->status == 0 && i < result->hash_count; i++)
		r->hashes[r->hash_count++] = (struct wire_ckpt_hash){
			result->hashes[i].ref.shard, result->hashes[i].ref.region,
			result->hashes[i].ref.range, result->hashes[i].rank,
			result->hashes[i].checked, result->hashes[i].xxh3 };
	uint32_t leader = job->leader;
	job->writer = NULL;
	job_free(k, job);
	send_result(m, leader, r);
}

/* With keep, stops this node's writers of any checkpoint but (leader, id): a new leader
 * took over; without, those of (leader, id): it was abandoned. */
static void stop_jobs(struct mesh *m, uint32_t leader, uint64_t id, bool keep)
{
	char label[WIRE_NODE_NAME_MAX + 16];
	struct mesh_ckpt *k = state_of(m);
	for (struct write_job *job = k->jobs, *next; job; job = next) {
		next = job->next;
		if ((job->leader == leader && job->id == id) == keep)
			continue;
		if (keep)
			log_warning("stopping the writer of checkpoint %" PRIx64 " of %s: superseded "
				    "by checkpoint %" PRIx64 " of the leader", job->id,
				    label_of(m, job->leader, label, sizeof(label)), id);
		ckpt_write_cancel(job->writer);
		job_free(k, job);
	}
}

/* Answers a WRITE that could not start. */
static void refuse_write(struct mesh *m, uint32_t leader, const struct wire_mesh_ckpt_write *w,
			 int status, const char *why)
{
	struct wire_mesh_ckpt_result *r = &state_of(m)->result;
	memset(r, 0, offsetof(struct wire_mesh_ckpt_result, hashes));
	r->id = w->id;
	r->status = status;
	r->step = w->step;
	util_copy_string(r->error, sizeof(r->error), why);
	log_error("cannot write my part of the checkpoint of step %" PRIu64 ": %s", w->step, why);
	send_result(m, leader, r);
}

static void on_write(struct mesh *m, uint32_t from, const struct wire_mesh_ckpt_write *w)
{
	struct lcrd *d = mesh_lcrd(m);
	struct mesh_ckpt *k = state_of(m);
	char err[WIRE_TEXT_MAX + 1], label[WIRE_NODE_NAME_MAX + 16];
	struct manifest plan = { 0 };
	struct ckpt_range_ref *moved = NULL;
	struct ckpt_check *checks = NULL;
	size_t moved_count = 0, check_count = 0;
	struct write_job *job;
	if (from != mesh_leader(m)) {
		log_warning("ignoring a checkpoint WRITE from %s, which does not lead",
			    label_of(m, from, label, sizeof(label)));
		return;
	}
	stop_jobs(m, from, w->id, true);
	int rc = plan_of_write(w, d->opt.job_id, &plan, &moved, &moved_count,
			       w->lost_count ? NULL : &checks, &check_count, err, sizeof(err));
	if (rc < 0) {
		refuse_write(m, from, w, rc, err);
		return;
	}
	job = calloc(1, sizeof(*job));
	if (!job) {
		rc = -ENOMEM;
		snprintf(err, sizeof(err), "out of memory");
		goto out;
	}
	*job = (struct write_job){ .m = m, .leader = from, .id = w->id };
	rc = ckpt_write_start(d, &plan, w->snapshot_step != WIRE_NO_STEP, moved,
			      w->lost_count ? moved_count : 0, checks, check_count, job_done, job,
			      &job->writer, err, sizeof(err));
	if (rc == 0) {
		job->next = k->jobs;
		k->jobs = job;
		log_info("writing my part of the checkpoint of step %" PRIu64 "%s%s", w->step,
			 w->snapshot_step != WIRE_NO_STEP ? " from the snapshots" : "",
			 w->lost_count ? " (ranges of a lost writer)" : "");
	}
out:
	if (rc < 0) {
		free(job);
		refuse_write(m, from, w, rc, err);
	}
	free(moved);
	free(checks);
	manifest_free(&plan);
}

static void on_reports(struct mesh *m, uint32_t from, const struct wire_mesh_ckpt_reports *r);

static void on_ask(struct mesh *m, uint32_t from, const struct wire_mesh_ckpt_ask *ask)
{
	struct lcrd *d = mesh_lcrd(m);
	struct mesh_ckpt *k = state_of(m);
	struct wire_mesh_ckpt_reports *r = &k->reports;
	struct ckpt_report *reports = NULL;
	size_t count = 0;
	memset(r, 0, sizeof(*r));
	r->id = ask->id;
	if (ask->snapshot_step != WIRE_NO_STEP)
		r->status = snapshot_gather_reports(d, ask->snapshot_step, &reports, &count,
						    r->error, sizeof(r->error));
	else
		r->status = ckpt_gather_reports(d, &reports, &count, r->error, sizeof(r->error));
	if (r->status == 0 && replicas_append(&r->replicas, reports, count) < 0) {
		r->status = -EMSGSIZE;
		snprintf(r->error, sizeof(r->error), "%zu replicas: more than one message holds",
			 count);
	}
	ckpt_reports_free(reports, count);
	if (r->status < 0)
		memset(&r->replicas, 0, sizeof(r->replicas));
	if (from == mesh_self(m)) {
		on_reports(m, mesh_self(m), r);
		return;
	}
	int len = wire_encode_mesh_ckpt_reports(r, k->buf, sizeof(k->buf));
	if (len < 0)
		log_error("cannot encode this node's checkpoint reports: %s", strerror(-len));
	else
		mesh_send(m, from, WIRE_MESH_CKPT_REPORTS, k->buf, len);
}

/* --- the leader's side --- */

static void on_result(struct mesh *m, uint32_t from, const struct wire_mesh_ckpt_result *r);

static void send_result(struct mesh *m, uint32_t leader, const struct wire_mesh_ckpt_result *r)
{
	struct mesh_ckpt *k = state_of(m);
	if (leader == mesh_self(m)) {
		on_result(m, mesh_self(m), r);
		return;
	}
	int len = wire_encode_mesh_ckpt_result(r, k->buf, sizeof(k->buf));
	if (len < 0 || mesh_send(m, leader, WIRE_MESH_CKPT_RESULT, k->buf, len) < 0)
		log_error("cannot send the result of my part of the checkpoint of step %" PRIu64
			  " to the leader: %s", r->step, strerror(len < 0 ? -len : EPIPE));
}

/* The nodes the run still waits for, as "n2 (1), n4 (3)". */
static void describe_waiting(struct mesh *m, char *out, size_t cap)
{
	char label[WIRE_NODE_NAME_MAX + 16];
	size_t used = 0;
	out[0] = '\0';
	for (uint32_t n = 0; n < mesh_node_count(m) && used < cap; n++)
		if (state_of(m)->waiting[n])
			used += (size_t)snprintf(out + used, cap - used, "%s%s", used ? ", " : "",
						 label_of(m, n, label, sizeof(label)));
}

static void run_timeout(struct loop *loop, void *arg)
{
	struct mesh *m = arg;
	struct mesh_ckpt *k = state_of(m);
	char nodes[WIRE_TEXT_MAX + 1];
	(void)loop;
	k->timer = 0;
	if (k->phase == RUN_GATHER && k->no_commit[0]) {
		run_finish(m, -ENODATA, "", "no checkpoint taken: %s (no new step committed within "
			   "%u s)", k->no_commit, MESH_CKPT_GATHER_MS / 1000);
		return;
	}
	describe_waiting(m, nodes, sizeof(nodes));
	run_finish(m, -ETIMEDOUT, "", "checkpoint %s abandoned: no answer from %s within %u s",
		   k->phase == RUN_GATHER ? "gathering" : "writing", nodes,
		   (k->phase == RUN_GATHER ? MESH_CKPT_GATHER_MS : MESH_CKPT_WRITE_MS) / 1000);
}

static void arm(struct mesh *m, uint64_t ms)
{
	struct lcrd *d = mesh_lcrd(m);
	struct mesh_ckpt *k = state_of(m);
	loop_cancel_timer(d->loop, k->timer);
	k->timer = 0;
	if (loop_add_timer(d->loop, ms, run_timeout, m, &k->timer) < 0)
		log_warning("cannot arm the checkpoint's timer: it waits for its answers unbounded");
}

/* Sends the WRITE to node (or starts it here). */
static void send_write(struct mesh *m, uint32_t node)
{
	struct mesh_ckpt *k = state_of(m);
	char label[WIRE_NODE_NAME_MAX + 16];
	k->waiting[node]++;
	if (node == mesh_self(m)) {
		on_write(m, mesh_self(m), &k->write);
		return;
	}
	int len = wire_encode_mesh_ckpt_write(&k->write, k->buf, sizeof(k->buf));
	if (len < 0 || mesh_send(m, node, WIRE_MESH_CKPT_WRITE, k->buf, len) < 0)
		log_warning("cannot send its part of the checkpoint to %s now: it is abandoned if "
			    "the node does not answer", label_of(m, node, label, sizeof(label)));
}

/* The node id of the writer of a range of the plan. */
static uint32_t writer_node(const struct manifest *p, const struct ckpt_range_ref *ref)
{
	uint32_t w = p->shards[ref->shard].regions[ref->region].ranges[ref->range].writer;
	return p->writers[w].node_id;
}

/* Whether node writes ranges of the leader's plan or checks some. */
static bool takes_part(const struct mesh_ckpt *k, uint32_t node)
{
	for (size_t i = 0; i < k->plan.writer_count; i++)
		if (k->plan.writers[i].node_id == node)
			return true;
	for (size_t i = 0; i < k->check_count; i++)
		if (k->checks[i].node_id == node)
			return true;
	return false;
}

/* Whether a replica among reports is in the middle of an update: its commit may give
 * every shard a step to save. */
static bool replica_updating(const struct ckpt_report *reports, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (reports[i].phase == WIRE_PHASE_UPDATING)
			return true;
	return false;
}

static void regather(struct loop *loop, void *arg)
{
	struct mesh *m = arg;
	struct mesh_ckpt *k = state_of(m);
	(void)loop;
	k->regather_timer = 0;
	if (k->phase == RUN_GATHER)
		gather(m);
}

/* No step can be saved until a replica commits: gather again soon (the run's gather timer
 * bounds the wait, and its message then says why). */
static void wait_for_commit(struct mesh *m, const char *why)
{
	struct mesh_ckpt *k = state_of(m);
	if (!k->no_commit[0])
		log_info("checkpoint (%s): %s; waiting for the next commit", k->reason, why);
	util_copy_string(k->no_commit, sizeof(k->no_commit), why);
	if (loop_add_timer(mesh_lcrd(m)->loop, MESH_CKPT_COMMIT_POLL_MS, regather, m,
			   &k->regather_timer) < 0)
		run_finish(m, -ENOMEM, "", "no checkpoint taken: %s", why);
}

/* A failure's checkpoint that lacks state no live replica holds (a lost node's ranks whose
 * shards nobody else holds: sharded state) would not be complete: -EHOSTDOWN, so that it is
 * never published as complete, never restored from, and never makes ckpt_keep remove a
 * complete one. Recovery has been told the step before: it may recover from the copies. */
static int check_no_state_lost(struct mesh *m, char *err, size_t errlen)
{
	uint32_t lost = ckpt_plan_ranks_without_replica(&state_of(m)->plan, mesh_total_ranks(m));
	if (lost == 0)
		return 0;
	snprintf(err, errlen, "%" PRIu32 " rank%s of the step held state that no live replica "
		 "holds (shards of the lost node%s): a checkpoint without %s would not be complete",
		 lost, lost == 1 ? "" : "s", mesh_nodes_down(m) == 1 ? "" : "s",
		 lost == 1 ? "it" : "them");
	return -EHOSTDOWN;
}

/* A complete checkpoint at or after the protected step P is saved already (a newer
 * periodic one): the run ends naming it instead of writing P, which ckpt_keep would prune
 * at once (true). */
static bool saved_at_or_after(struct mesh *m, uint64_t step, const char *err)
{
	struct lcrd *d = mesh_lcrd(m);
	char path[PATH_MAX], why[WIRE_TEXT_MAX + 1];
	uint64_t saved;
	if (!d->opt.ckpt_dir || ckpt_newest_complete(&d->opt, &saved, why, sizeof(why)) < 0 ||
	    saved < step)
		return false;
	ckpt_store_path(path, sizeof(path), d->opt.ckpt_dir, saved, false);
	log_info("checkpoint (%s): %s; the snapshots of protected step %" PRIu64 " are not "
		 "written: complete checkpoint %s (step %" PRIu64 ") is not older",
		 state_of(m)->reason, err, step, path, saved);
	run_finish(m, 0, path, "step %" PRIu64 ", at or after protected step %" PRIu64 ", is saved "
		   "already in %s", saved, step, path);
	return true;
}

static bool from_snapshots_instead(struct mesh *m, char *err, size_t errlen);

/* The wait for a rebuild from the parity: ask again. */
static void rebuild_due(struct loop *loop, void *arg)
{
	struct mesh *m = arg;
	struct mesh_ckpt *k = state_of(m);
	char err[WIRE_TEXT_MAX + 1];
	(void)loop;
	k->regather_timer = 0;
	util_copy_string(err, sizeof(err), k->lacks);
	if (!from_snapshots_instead(m, err, sizeof(err)))
		run_finish(m, -EHOSTDOWN, "", "no checkpoint taken: %s", err);
}

/* The failure's checkpoint lacks state no live rank holds: with the copies of every lost
 * node held at a protected step P (with erasure coding, rebuilt from the parity by this
 * leader: waited for while its blocks are on their way), it is gathered again from the
 * snapshots of P, or it ends naming a complete checkpoint at or after P (true); else err
 * says why not too (false). */
static bool from_snapshots_instead(struct mesh *m, char *err, size_t errlen)
{
	struct lcrd *d = mesh_lcrd(m);
	struct mesh_ckpt *k = state_of(m);
	char why[WIRE_TEXT_MAX + 1];
	size_t used = strlen(err);
	if (k->snapshot_step != WIRE_NO_STEP || (d->opt.redundancy != LCR_REDUNDANCY_COPY &&
						 d->opt.redundancy != LCR_REDUNDANCY_ERASURE))
		return false;
	if (snapshot_rebuild_pending(d, WIRE_NO_NODE)) {
		if (!k->lacks[0])
			log_info("checkpoint (%s): %s; waiting for the lost node's snapshot to be "
				 "rebuilt from the parity", k->reason, err);
		util_copy_string(k->lacks, sizeof(k->lacks), err);
		return loop_add_timer(d->loop, MESH_CKPT_COMMIT_POLL_MS, rebuild_due, m,
				      &k->regather_timer) == 0;
	}
	k->lacks[0] = '\0';
	uint64_t step = snapshot_checkpoint_step(d, why, sizeof(why));
	if (step == WIRE_NO_STEP) {
		util_format_text(err + used, errlen - used, "; nor can it be written from the "
				 "in-memory snapshots: %s", why);
		return false;
	}
	if (saved_at_or_after(m, step, err))
		return true;
	log_info("checkpoint (%s): %s; writing protected step %" PRIu64 " from the helpers' "
		 "snapshots and the lost node's copies instead", k->reason, err, step);
	k->snapshot_step = step;
	plan_free(k);
	memset(k->waiting, 0, mesh_node_count(m) * sizeof(*k->waiting));
	arm(m, MESH_CKPT_GATHER_MS);
	gather(m);
	return true;
}

/* Every live node answered: plan and start the writers. */
static void start_writing(struct mesh *m)
{
	struct lcrd *d = mesh_lcrd(m);
	struct mesh_ckpt *k = state_of(m);
	struct ckpt_plan_params params = { d->opt.job_id, CKPT_ALIGNMENT, CKPT_RANGE_MAX };
	char err[WIRE_TEXT_MAX + 1], path[PATH_MAX];
	struct ckpt_report *reports = NULL;
	size_t count = 0;
	uint64_t step = WIRE_NO_STEP;
	replicas_drop_removed(m, &k->write.replicas);
	int rc = replicas_to_reports(&k->write.replicas, NULL, 0, &reports, &count);
	if (rc == 0 && k->snapshot_step != WIRE_NO_STEP)
		reports_keep_first_holders(reports, &count);
	if (rc < 0)
		snprintf(err, sizeof(err), "out of memory");
	if (rc == 0)
		rc = ckpt_plan_choose_step(reports, count, &step, err, sizeof(err));
	if (rc == 0 && k->snapshot_step != WIRE_NO_STEP && step != k->snapshot_step) {
		snprintf(err, sizeof(err), "the snapshots reported step %" PRIu64 ", not the "
			 "protected step %" PRIu64, step, k->snapshot_step);
		rc = -ENODATA;
	}
	bool may_commit = rc == -ENODATA && k->on_demand && replica_updating(reports, count);
	if (rc == 0)
		rc = ckpt_plan_build(reports, count, step, &params, &k->plan, err, sizeof(err));
	if (rc == 0)
		rc = ckpt_verify_assign(reports, count, &k->plan, &k->checks, &k->check_count, err,
					sizeof(err));
	if (rc == 0 && ckpt_verify_init(&k->verify, &k->plan) < 0)
		rc = -ENOMEM;
	ckpt_reports_free(reports, count);
	if (may_commit) {
		wait_for_commit(m, err);
		return;
	}
	k->write.step = step;
	if (rc == 0 && k->snapshot_step == WIRE_NO_STEP)
		recovery_on_checkpoint_step(m, step, &k->plan);
	if (rc == 0 && !k->on_demand)
		rc = check_no_state_lost(m, err, sizeof(err));
	/* A failure's checkpoint that the live state cannot give whole: state lost with the
	 * node, or no step committed on every shard (a survivor torn by the failure, inside
	 * its update or having given it up). The snapshots of a protected step can. */
	if ((rc == -EHOSTDOWN || (rc == -ENODATA && !k->on_demand)) &&
	    from_snapshots_instead(m, err, sizeof(err)))
		return;
	if (rc == 0)
		rc = ckpt_prepare_dir(&d->opt, step, err, sizeof(err));
	if (rc == -EEXIST) {
		ckpt_store_path(path, sizeof(path), d->opt.ckpt_dir, step, false);
		run_finish(m, 0, path, "step %" PRIu64 " is saved already in %s", step, path);
		return;
	}
	if (rc < 0) {
		run_finish(m, rc, "", "no checkpoint taken: %s", err);
		return;
	}
	k->phase = RUN_WRITE;
	log_info("checkpoint (%s): saving step %" PRIu64 " of %" PRIu32 " ranks from %zu writer%s "
		 "into %s%s%s; %zu of %zu ranges compared with a second replica", k->reason, step,
		 k->plan.rank_count, k->plan.writer_count, k->plan.writer_count == 1 ? "" : "s",
		 d->opt.ckpt_dir, k->snapshot_step != WIRE_NO_STEP ? " from the snapshots" : "",
		 k->attempt ? " (again)" : "", k->check_count, ckpt_plan_range_count(&k->plan));
	arm(m, MESH_CKPT_WRITE_MS);
	for (uint32_t n = 0; n < mesh_node_count(m) && k->phase == RUN_WRITE; n++)
		if (takes_part(k, n))
			send_write(m, n);
}

static void gathered_maybe(struct mesh *m)
{
	for (uint32_t n = 0; n < mesh_node_count(m); n++)
		if (state_of(m)->waiting[n])
			return;
	start_writing(m);
}

static void on_reports(struct mesh *m, uint32_t from, const struct wire_mesh_ckpt_reports *r)
{
	struct mesh_ckpt *k = state_of(m);
	char label[WIRE_NODE_NAME_MAX + 16];
	if (k->phase != RUN_GATHER || r->id != k->id || !k->waiting[from])
		return;
	k->waiting[from] = 0;
	if (r->status < 0) {
		run_finish(m, r->status, "", "no checkpoint taken: %s cannot report its replicas: %s",
			   label_of(m, from, label, sizeof(label)), r->error);
		return;
	}
	if (replicas_append_wire(&k->write.replicas, &r->replicas) < 0) {
		run_finish(m, -EMSGSIZE, "", "no checkpoint taken: the step's replicas do not fit "
			   "one message (%d replicas, %d regions at most)",
			   WIRE_CKPT_REPLICAS_MAX, WIRE_CKPT_REGIONS_MAX);
		return;
	}
	gathered_maybe(m);
}

static void publish(struct mesh *m)
{
	struct lcrd *d = mesh_lcrd(m);
	struct mesh_ckpt *k = state_of(m);
	char err[WIRE_TEXT_MAX + 1], path[PATH_MAX], size[32];
	k->plan.generation = mesh_applied_generation(m);
	int rc = ckpt_publish(&d->opt, &k->plan, err, sizeof(err));
	if (rc < 0) {
		run_finish(m, rc, "", "checkpoint of step %" PRIu64 " abandoned: %s",
			   k->write.step, err);
		return;
	}
	double seconds = (double)(util_now_ns() - k->started_ns) / 1e9;
	ckpt_store_path(path, sizeof(path), d->opt.ckpt_dir, k->write.step, false);
	if (ckpt_prune(&d->opt, d->opt.ckpt_keep, err, sizeof(err)) < 0)
		log_warning("checkpoint retention: %s", err);
	run_finish(m, 0, path, "checkpoint of step %" PRIu64 " published in %s: %s from %zu "
		   "writer%s in %.3f s (%.2f GB/s)", k->write.step, path,
		   util_format_size(k->bytes, size, sizeof(size)), k->plan.writer_count,
		   k->plan.writer_count == 1 ? "" : "s", seconds,
		   seconds > 0 ? (double)k->bytes / seconds / 1e9 : 0.0);
}

/* Publishes once every range is written and every node that writes or checks answered. */
static void finish_maybe(struct mesh *m)
{
	struct mesh_ckpt *k = state_of(m);
	if (k->phase != RUN_WRITE || k->confirmed != ckpt_plan_range_count(&k->plan))
		return;
	for (uint32_t n = 0; n < mesh_node_count(m); n++)
		if (k->waiting[n])
			return;
	size_t compared = ckpt_verify_compared(&k->verify);
	if (compared < k->check_count)
		log_warning("checkpoint of step %" PRIu64 ": %zu of %zu ranges were compared with a "
			    "second replica (the others lost their checker, or were read from the "
			    "checker's own replica)", k->write.step, compared, k->check_count);
	publish(m);
}

/* Compares the hashes of a result with those received before: 0, or, when two replicas of
 * a shard differ, -EUCLEAN and the checkpoint abandoned (neither copy can be trusted). */
static int compare_replicas(struct mesh *m, uint32_t from, const struct ckpt_write_result *result)
{
	struct mesh_ckpt *k = state_of(m);
	char label[WIRE_NODE_NAME_MAX + 16], what[WIRE_TEXT_MAX + 1];
	struct ckpt_divergence d;
	for (size_t i = 0; i < result->hash_count; i++) {
		const struct ckpt_range_hash *h = &result->hashes[i];
		int rc = ckpt_verify_add(&k->verify, &k->plan, &h->ref, h->rank, h->xxh3, &d);
		if (rc == -EINVAL) {
			run_finish(m, rc, "", "checkpoint of step %" PRIu64 " abandoned: %s checked a "
				   "range the plan does not have", k->write.step,
				   label_of(m, from, label, sizeof(label)));
			return rc;
		}
		if (rc == 0)
			continue;
		ckpt_verify_describe(&d, what, sizeof(what));
		log_error("replicas differ at step %" PRIu64 ": %s (XXH3 %016" PRIx64 " from rank %"
			  PRIu32 ", %016" PRIx64 " from rank %" PRIu32 ")", k->write.step, what,
			  d.xxh3_a, d.rank_a, d.xxh3_b, d.rank_b);
		run_finish(m, -EUCLEAN, "", "checkpoint of step %" PRIu64 " abandoned: replicas "
			   "differ: %s; neither copy is saved", k->write.step, what);
		return -EUCLEAN;
	}
	return 0;
}

/* A writer found a replica began an update while it read it: the copy is thrown away and
 * the checkpoint starts again from the gather (the next committed step). */
static void retry_stale(struct mesh *m, const struct ckpt_write_result *result)
{
	struct mesh_ckpt *k = state_of(m);
	char err[WIRE_TEXT_MAX + 1];
	log_warning("checkpoint of step %" PRIu64 ": %s; trying again", result->step,
		    result->error);
	stop_jobs(m, mesh_self(m), k->id, false);
	if (ckpt_abandon(&mesh_lcrd(m)->opt, k->write.step, err, sizeof(err)) < 0) {
		run_finish(m, -EIO, "", "checkpoint of step %" PRIu64 " abandoned: %s",
			   k->write.step, err);
		return;
	}
	k->attempt++;
	k->phase = RUN_GATHER;
	plan_free(k);
	memset(k->waiting, 0, mesh_node_count(m) * sizeof(*k->waiting));
	arm(m, MESH_CKPT_GATHER_MS);
	gather(m);
}

/* A writer's result, from node `from` for the checkpoint `id`. */
static void apply_result(struct mesh *m, uint32_t from, uint64_t id,
			 const struct ckpt_write_result *result)
{
	struct mesh_ckpt *k = state_of(m);
	char err[WIRE_TEXT_MAX + 1], label[WIRE_NODE_NAME_MAX + 16];
	if (k->phase != RUN_WRITE || id != k->id || !k->waiting[from])
		return;
	k->waiting[from]--;
	if (result->status == -ESTALE && k->attempt + 1 < CKPT_ATTEMPTS) {
		retry_stale(m, result);
		return;
	}
	if (result->status < 0) {
		run_finish(m, result->status, "", "checkpoint of step %" PRIu64 " abandoned: %s "
			   "(writer %s)", k->write.step, result->error,
			   label_of(m, from, label, sizeof(label)));
		return;
	}
	int rc = ckpt_apply_result(&k->plan, result, err, sizeof(err));
	if (rc < 0) {
		run_finish(m, rc, "", "checkpoint of step %" PRIu64 " abandoned: %s",
			   k->write.step, err);
		return;
	}
	k->confirmed += (size_t)rc;
	k->bytes += result->bytes;
	if (compare_replicas(m, from, result) == 0)
		finish_maybe(m);
}

static void on_result(struct mesh *m, uint32_t from, const struct wire_mesh_ckpt_result *r)
{
	struct mesh_ckpt *k = state_of(m);
	struct ckpt_write_result result = { .status = r->status, .node_id = from,
					    .step = r->step, .bytes = r->bytes,
					    .seconds = (double)r->elapsed_us / 1e6 };
	if (k->phase != RUN_WRITE || r->id != k->id || !k->waiting[from])
		return;
	util_copy_string(result.error, sizeof(result.error), r->error);
	result.hashes = calloc(r->hash_count + 1, sizeof(*result.hashes));
	if (!result.hashes) {
		run_finish(m, -ENOMEM, "", "checkpoint of step %" PRIu64 " abandoned: out of "
			   "memory", k->write.step);
		return;
	}
	for (uint32_t i = 0; i < r->hash_count; i++)
		result.hashes[i] = (struct ckpt_range_hash){
			{ r->hashes[i].shard, r->hashes[i].region, r->hashes[i].range },
			r->hashes[i].rank, r->hashes[i].checked != 0, r->hashes[i].xxh3 };
	result.hash_count = r->hash_count;
	apply_result(m, from, r->id, &result);
	free(result.hashes);
}

/* A writer's node was removed while it wrote: move its ranges or abandon. */
static void writer_lost(struct mesh *m, uint32_t node)
{
	struct mesh_ckpt *k = state_of(m);
	char err[WIRE_TEXT_MAX + 1], label[WIRE_NODE_NAME_MAX + 16];
	struct ckpt_report *reports = NULL;
	struct ckpt_range_ref *moved = NULL;
	size_t count = 0, moved_count = 0;
	int rc = -EHOSTDOWN;
	k->waiting[node] = 0;
	label_of(m, node, label, sizeof(label));
	if (k->write.lost_count == WIRE_CKPT_LOST_MAX) {
		snprintf(err, sizeof(err), "%d writers lost already", WIRE_CKPT_LOST_MAX);
		goto out;
	}
	k->write.lost[k->write.lost_count++] = node;
	rc = replicas_to_reports(&k->write.replicas, k->write.lost, k->write.lost_count, &reports,
				 &count);
	if (rc < 0)
		snprintf(err, sizeof(err), "out of memory");
	if (rc == 0)
		rc = ckpt_plan_reassign(&k->plan, reports, count, node, &moved, &moved_count, err,
					sizeof(err));
	ckpt_reports_free(reports, count);
	if (rc == 0)
		log_warning("checkpoint of step %" PRIu64 ": writer %s was lost; its %zu ranges go "
			    "to other replicas", k->write.step, label, moved_count);
	for (size_t i = 0; rc == 0 && k->phase == RUN_WRITE && i < moved_count; i++) {
		uint32_t to = writer_node(&k->plan, &moved[i]);
		bool sent = false;
		for (size_t j = 0; j < i && !sent; j++)
			sent = writer_node(&k->plan, &moved[j]) == to;
		if (!sent)
			send_write(m, to);
	}
out:
	free(moved);
	if (rc < 0)
		run_finish(m, rc, "", "checkpoint of step %" PRIu64 " abandoned: writer %s was "
			   "lost and its ranges cannot be covered: %s", k->write.step, label, err);
	else
		finish_maybe(m);
}

/* Asks every live node for its reports (this node's are a call). */
static void gather(struct mesh *m)
{
	struct mesh_ckpt *k = state_of(m);
	k->id = (mesh_applied_generation(m) << 16) | (++k->seq & 0xffff);
	memset(&k->write, 0, sizeof(k->write));
	k->write.id = k->id;
	k->write.step = WIRE_NO_STEP;
	k->write.snapshot_step = k->snapshot_step;
	struct wire_mesh_ckpt_ask ask = { .id = k->id, .snapshot_step = k->snapshot_step };
	uint8_t buf[32];
	int len = wire_encode_mesh_ckpt_ask(&ask, buf, sizeof(buf));
	for (uint32_t i = 0; i < mesh_live_count(m); i++)
		k->waiting[mesh_live_ids(m)[i]] = 1;
	for (uint32_t i = 0; i < mesh_live_count(m) && k->phase == RUN_GATHER; i++) {
		uint32_t node = mesh_live_ids(m)[i];
		if (node != mesh_self(m)) {
			mesh_send(m, node, WIRE_MESH_CKPT_ASK, buf, len);
			continue;
		}
		on_ask(m, mesh_self(m), &ask);
	}
}

/* Starts a checkpoint, as the leader; one asked for (on_demand) waits for a commit. */
static void run_start(struct mesh *m, const char *reason, bool on_demand)
{
	struct mesh_ckpt *k = get(m);
	if (!k)
		return;
	if (k->phase != RUN_IDLE) {
		log_info("checkpoint requested (%s): one is in progress already", reason);
		return;
	}
	k->phase = RUN_GATHER;
	k->on_demand = on_demand;
	k->snapshot_step = WIRE_NO_STEP;
	k->attempt = 0;
	k->no_commit[0] = '\0';
	k->lacks[0] = '\0';
	util_copy_string(k->reason, sizeof(k->reason), reason);
	k->started_ns = util_now_ns();
	k->confirmed = 0;
	k->bytes = 0;
	arm(m, MESH_CKPT_GATHER_MS);
	gather(m);
}

/* --- entry points --- */

bool mesh_ckpt_running(struct mesh *m)
{
	return state_of(m) && state_of(m)->phase != RUN_IDLE;
}

/* Whether this mesh can take a checkpoint: it is up, or it is a mesh of one (a step on one
 * node, whose helper leads it whatever its rendezvous does). */
static bool can_checkpoint(const struct mesh *m)
{
	return mesh_state(m) == WIRE_MESH_UP || mesh_node_count(m) == 1;
}

bool mesh_ckpt_in_progress(struct lcrd *d, uint64_t *step)
{
	struct mesh *m = mesh_of(d);
	struct mesh_ckpt *k = m ? state_of(m) : NULL;
	*step = WIRE_NO_STEP;
	if (!k || (k->phase == RUN_IDLE && !k->jobs))
		return false;
	*step = k->phase == RUN_WRITE ? k->write.step : WIRE_NO_STEP;
	return true;
}

void mesh_ckpt_on_membership(struct mesh *m, const struct wire_mesh_event *ev)
{
	struct mesh_ckpt *k = state_of(m);
	bool removed = ev->type == WIRE_EVENT_NODE_DOWN || ev->type == WIRE_EVENT_NODE_LEFT;
	bool failure = ev->type == WIRE_EVENT_NODE_DOWN ||
		       (ev->type == WIRE_EVENT_RANK_EXITED && ev->status > 0);
	if (!mesh_lcrd(m)->opt.ckpt_dir)
		return;
	if (failure && !can_checkpoint(m)) {
		log_warning("no checkpoint taken (%s): the helpers' mesh is not up", ev->message);
		return;
	}
	if (!mesh_is_leader(m))
		return;
	if (k && removed && k->phase == RUN_GATHER && k->waiting[ev->node]) {
		k->waiting[ev->node] = 0;
		gathered_maybe(m);
	} else if (k && removed && k->phase == RUN_WRITE && k->waiting[ev->node]) {
		writer_lost(m, ev->node);
	}
	if (failure)
		run_start(m, ev->message, false);
}

/* A WIRE_MESH_CKPT_* message from a peer (registered with the mesh). */
static void on_message(struct mesh *m, uint32_t from, const struct wire_msg *msg)
{
	struct mesh_ckpt *k = get(m);
	struct wire_mesh_ckpt_ask ask;
	struct wire_mesh_ckpt_request request;
	static struct wire_ckpt_result done;
	int rc = -EBADMSG;
	if (!k)
		return;
	switch (msg->header.type) {
	case WIRE_MESH_CKPT_ASK:
		if ((rc = wire_decode_mesh_ckpt_ask(msg->payload, msg->header.length, &ask)) == 0)
			on_ask(m, from, &ask);
		break;
	case WIRE_MESH_CKPT_REPORTS:
		if ((rc = wire_decode_mesh_ckpt_reports(msg->payload, msg->header.length,
							&k->reports)) == 0)
			on_reports(m, from, &k->reports);
		break;
	case WIRE_MESH_CKPT_WRITE:
		if ((rc = wire_decode_mesh_ckpt_write(msg->payload, msg->header.length,
						      &k->incoming)) == 0)
			on_write(m, from, &k->incoming);
		break;
	case WIRE_MESH_CKPT_RESULT:
		if ((rc = wire_decode_mesh_ckpt_result(msg->payload, msg->header.length,
						       &k->result)) == 0)
			on_result(m, from, &k->result);
		break;
	case WIRE_MESH_CKPT_REQUEST:
		if ((rc = wire_decode_mesh_ckpt_request(msg->payload, msg->header.length,
							&request)) == 0 && mesh_is_leader(m))
			run_start(m, request.reason, true);
		break;
	case WIRE_MESH_CKPT_DONE:
		if ((rc = wire_decode_ckpt_result(msg->payload, msg->header.length, &done)) == 0)
			checkpoint_ended(m, from, &done);
		break;
	}
	if (rc < 0) {
		char label[WIRE_NODE_NAME_MAX + 16];
		log_warning("malformed checkpoint message (type %u) from %s: ignored",
			    msg->header.type, label_of(m, from, label, sizeof(label)));
	}
}

static void request_timeout(struct loop *loop, void *arg)
{
	struct mesh *m = arg;
	static struct wire_ckpt_result r;
	(void)loop;
	state_of(m)->request_timer = 0;
	memset(&r, 0, sizeof(r));
	r.status = -ETIMEDOUT;
	r.step = WIRE_NO_STEP;
	snprintf(r.message, sizeof(r.message), "the leader did not report a checkpoint within "
		 "%u s", MESH_CKPT_REQUEST_MS / 1000);
	log_error("checkpoint request: %s", r.message);
	tell_end(m, &r);
}

int mesh_ckpt_request(struct lcrd *d, const char *reason, char *err, size_t errlen)
{
	struct mesh *m = mesh_of(d);
	struct mesh_ckpt *k = m ? get(m) : NULL;
	struct wire_mesh_ckpt_request request;
	uint8_t buf[WIRE_TEXT_MAX + 8];
	char label[WIRE_NODE_NAME_MAX + 16];
	if (!k || !can_checkpoint(m)) {
		snprintf(err, errlen, "the helpers' mesh is not up: no multi-node checkpoint");
		return -ENOTCONN;
	}
	if (mesh_is_leader(m)) {
		run_start(m, reason, true);
		return 0;
	}
	util_copy_string(request.reason, sizeof(request.reason), reason);
	int len = wire_encode_mesh_ckpt_request(&request, buf, sizeof(buf));
	if (len < 0 || mesh_send(m, mesh_leader(m), WIRE_MESH_CKPT_REQUEST, buf, len) < 0) {
		snprintf(err, errlen, "cannot send the request to the leader %s",
			 label_of(m, mesh_leader(m), label, sizeof(label)));
		return -EHOSTUNREACH;
	}
	if (!k->request_timer &&
	    loop_add_timer(d->loop, MESH_CKPT_REQUEST_MS, request_timeout, m, &k->request_timer) < 0)
		log_warning("cannot arm the checkpoint request's timer");
	return 0;
}

bool mesh_ckpt_uses(struct lcrd *d, const struct region *r)
{
	struct mesh *m = mesh_of(d);
	for (struct write_job *job = m && state_of(m) ? state_of(m)->jobs : NULL; job;
	     job = job->next)
		if (ckpt_write_uses(job->writer, r))
			return true;
	return false;
}

/* This helper's requesters learn that the checkpoint in progress ends with lcrd. */
static void tell_shutdown(struct mesh *m)
{
	static struct wire_ckpt_result r;
	memset(&r, 0, sizeof(r));
	r.status = -ECANCELED;
	r.step = state_of(m)->write.step;
	if (r.step == WIRE_NO_STEP)
		snprintf(r.message, sizeof(r.message), "no checkpoint taken: lcrd is shutting down");
	else
		snprintf(r.message, sizeof(r.message), "checkpoint of step %" PRIu64 " abandoned: "
			 "lcrd is shutting down", r.step);
	tell_end(m, &r);
}

/* Stops this node's writers and the leader's checkpoint (its .tmp removed), frees: when the
 * mesh stops (registered with it). */
static void destroy(struct mesh *m)
{
	struct lcrd *d = mesh_lcrd(m);
	struct mesh_ckpt *k = state_of(m);
	if (!k)
		return;
	while (k->jobs) {
		ckpt_write_cancel(k->jobs->writer);
		job_free(k, k->jobs);
	}
	if (k->phase == RUN_WRITE) {
		char err[WIRE_TEXT_MAX + 1];
		log_warning("checkpoint of step %" PRIu64 " abandoned: lcrd is shutting down",
			    k->write.step);
		if (mesh_may_write_shared(m, "removing the abandoned checkpoint's directory") &&
		    ckpt_abandon(&d->opt, k->write.step, err, sizeof(err)) < 0)
			log_error("cannot remove the abandoned checkpoint: %s", err);
	}
	if (k->phase != RUN_IDLE)
		tell_shutdown(m);
	loop_cancel_timer(d->loop, k->regather_timer);
	loop_cancel_timer(d->loop, k->timer);
	loop_cancel_timer(d->loop, k->request_timer);
	plan_free(k);
	free(k->waiting);
	free(k);
	d->mesh_ckpt = NULL;
}

static void event_applied(struct mesh *m, const struct wire_mesh_event *ev, void *arg)
{
	(void)arg;
	mesh_ckpt_on_membership(m, ev);
}

int mesh_ckpt_subscribe(struct lcrd *d)
{
	static const uint16_t types[] = { WIRE_MESH_CKPT_ASK,     WIRE_MESH_CKPT_REPORTS,
					  WIRE_MESH_CKPT_WRITE,   WIRE_MESH_CKPT_RESULT,
					  WIRE_MESH_CKPT_REQUEST, WIRE_MESH_CKPT_DONE };
	int rc;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if ((rc = mesh_handle_message(d, types[i], on_message)) < 0)
			return rc;
	if ((rc = mesh_on_stop(d, destroy)) < 0)
		return rc;
	return mesh_subscribe(d, event_applied, NULL);
}
