/* ckpt_restore.c: restoring ranks' regions from a checkpoint (see ckpt_restore.h). The
 * chosen checkpoint's manifest stays in memory for the helper's life; each fill of a region
 * is a worker job that reads the region's data file range by range, hashes each range as it
 * streams it into the region (region_write: any backend), and compares the hash before the
 * next range. A replacement helper (--rejoin) whose mesh is up takes the bytes from the
 * surviving replicas' memory instead (transfer_fill), each range still checked against the
 * manifest's hash and read from the file when no peer can serve it. The rank's allocation
 * is answered only when the whole region is in.
 *
 * A replacement may start before the failure's checkpoint is published (recovery.c
 * launches it once the checkpoint's step is chosen, and the checkpoint may yet fail): its
 * --restore=DIR/step-S names a checkpoint that is not there. It then restores "from the
 * replicas only": step S, taken from the name, every region its ranks allocate filled from
 * the replicas that hold S, each piece checked against the hash its server read (there is
 * no manifest to check the layout or the ranges against, and no file to fall back on). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "services/ckpt_restore.h"
#include "internal/ckpt_plan.h"
#include "internal/ckpt_store.h"
#include "internal/util.h"
#include "loop/ckpt_dir.h"
#include "loop/control.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "loop/regions.h"
#include "loop/worker.h"
#include "mesh/mesh.h"
#include "services/recovery_timeline.h"
#include "services/tasks.h"
#include "services/transfer.h"

/* One region being filled. */
struct fill {
	struct lcrd *d;
	struct client *c; /* NULL once its session closed */
	uint32_t seq;
	struct region *region;
	const struct manifest_region *source;
	struct manifest_region tiles; /* from the replicas only: the region cut into ranges */
	char file[PATH_MAX]; /* for messages */
	int file_fd;         /* the data file, opened on the loop */
	char error[WIRE_TEXT_MAX + 1];
	uint64_t started_ns;
	struct worker *worker;
	/* from the replicas' memory (--rejoin): the peers, copied from the mesh on the loop */
	struct transfer_peer peers[TRANSFER_MAX_PEERS];
	size_t peer_count;
	struct transfer_identity id;
	char shard_key[WIRE_NAME_MAX + 1];
	struct transfer_stats stats;
	struct fill *next;
};

static void fill_free(struct fill *f)
{
	if (f->file_fd >= 0)
		close(f->file_fd);
	free(f->tiles.ranges);
	free(f);
}

struct ckpt_restore {
	bool active;
	bool replicas_only;  /* no manifest: m holds the step only (see the top) */
	char path[PATH_MAX]; /* the checkpoint directory */
	int dir_fd;          /* the checkpoint directory, opened as a trusted directory */
	struct manifest m;
	struct fill *fills;
	bool replaced_since;  /* a REPLACING was applied since the start: it says the step */
	uint64_t rolled_back_to; /* the last step a REPLACING rolled the ranks back to, or
				  * WIRE_NO_STEP */
};

static int restore_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int restore_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* --- choosing and checking the checkpoint --- */

static void log_problem(void *arg, const char *problem)
{
	log_error("checkpoint %s is damaged: %s", (const char *)arg, problem);
}

/* Reads and checks the checkpoint r->dir_fd, at r->path. */
static int load_checkpoint(struct ckpt_restore *r)
{
	char err[1024], manifest[PATH_MAX + sizeof(MANIFEST_FILE_NAME) + 1], size[32];
	snprintf(manifest, sizeof(manifest), "%s/%s", r->path, MANIFEST_FILE_NAME);
	int rc = ckpt_store_read_manifest(r->dir_fd, manifest, &r->m, err, sizeof(err));
	if (rc < 0) {
		log_error("cannot restore from %s: %s", r->path, err);
		return rc;
	}
	int problems = ckpt_store_check_files(r->dir_fd, &r->m, log_problem, r->path);
	if (problems != 0) {
		log_error("refusing to restore from %s: %d of its data files %s damaged (lcrctl "
			  "ckpt verify tells more); nothing was restored", r->path, problems,
			  problems == 1 ? "is" : "are");
		return problems < 0 ? problems : -EUCLEAN;
	}
	r->active = true;
	log_info("restoring from %s: step %" PRIu64 " of job %" PRIu32 ", %" PRIu32 " ranks in "
		 "%zu shards, %s", r->path, r->m.step, r->m.job_id, r->m.rank_count,
		 r->m.shard_count, util_format_size(manifest_total_bytes(&r->m), size, sizeof(size)));
	return 0;
}

/* --restore=auto: the newest complete checkpoint, if there is one. */
static int choose_newest(struct lcrd *d, struct ckpt_restore *r)
{
	char err[PATH_MAX + 512];
	uint64_t step;
	int rc, dir_fd;
	if (!d->opt.ckpt_dir) {
		log_info("--restore=auto without --ckpt-dir: nothing to restore");
		return 0;
	}
	dir_fd = ckpt_dir_open(d->opt.ckpt_dir, &d->opt.ckpt_roots, TRUSTED_OPEN_EXISTING,
			       "checkpoint directory", err, sizeof(err));
	rc = dir_fd < 0 ? dir_fd : ckpt_store_newest(dir_fd, &step);
	if (rc == -ENOENT) {
		log_info("no complete checkpoint in %s: the ranks start from scratch",
			 d->opt.ckpt_dir);
		rc = 0;
	} else if (rc < 0) {
		log_error("cannot look for checkpoints: %s", dir_fd < 0 ? err : strerror(-rc));
	} else {
		ckpt_store_path(r->path, sizeof(r->path), d->opt.ckpt_dir, step, false);
		r->dir_fd = ckpt_store_open_step(dir_fd, step, false, err, sizeof(err));
		if (r->dir_fd < 0)
			log_error("cannot restore from %s: %s", r->path, err);
		rc = r->dir_fd < 0 ? r->dir_fd : load_checkpoint(r);
	}
	if (dir_fd >= 0)
		close(dir_fd);
	return rc;
}

/* A replacement whose failure's checkpoint, r->path, is not published (yet, or ever): the
 * step named by the path's last component, its regions from the replicas. */
static int restore_from_replicas_only(struct ckpt_restore *r)
{
	const char *name = strrchr(r->path, '/');
	uint64_t step;
	bool tmp;
	if (ckpt_store_parse_name(name ? name + 1 : r->path, &step, &tmp) < 0 || tmp) {
		log_error("cannot restore: checkpoint %s does not exist, and its name gives no "
			  "step to take from the replicas", r->path);
		return -ENOENT;
	}
	r->active = r->replicas_only = true;
	r->m.step = step;
	log_info("restoring step %" PRIu64 " from the replicas only: checkpoint %s is not "
		 "published (yet); every range is checked against the hash its replica read",
		 step, r->path);
	return 0;
}

/* --restore=PATH: that checkpoint, a trusted directory under the site's roots; a
 * replacement's that is not there yet restores from the replicas only. */
static int open_given(struct lcrd *d, struct ckpt_restore *r)
{
	char err[PATH_MAX + 512];
	if (util_copy_string(r->path, sizeof(r->path), d->opt.restore_path) < 0)
		return -ENAMETOOLONG;
	r->dir_fd = ckpt_dir_open(r->path, &d->opt.ckpt_roots, TRUSTED_OPEN_EXISTING,
				  "checkpoint", err, sizeof(err));
	if (r->dir_fd == -ENOENT && d->opt.rejoin)
		return restore_from_replicas_only(r);
	if (r->dir_fd < 0) {
		log_error("cannot restore: %s", err);
		return r->dir_fd;
	}
	return load_checkpoint(r);
}

static request_handler request_resume_step;

int ckpt_restore_open(struct lcrd *d)
{
	static const struct control_request requests[] = {
		{ WIRE_RESUME_STEP, request_resume_step },
	};
	int rc = control_register(d, requests, 1);
	if (rc == 0)
		rc = control_on_release(d, ckpt_restore_release_client);
	if (rc < 0)
		return rc;
	struct ckpt_restore *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->dir_fd = -1;
	r->rolled_back_to = WIRE_NO_STEP;
	d->restore = r;
	switch (d->opt.restore) {
	case LCR_RESTORE_AUTO:
		return choose_newest(d, r);
	case LCR_RESTORE_PATH:
		return open_given(d, r);
	case LCR_RESTORE_NEVER:
		break;
	}
	return 0;
}

void ckpt_restore_close(struct lcrd *d)
{
	struct ckpt_restore *r = d->restore;
	transfer_server_close(d);
	if (!r)
		return;
	while (r->fills) {
		struct fill *f = r->fills;
		r->fills = f->next;
		worker_cancel(f->worker);
		region_table_free(&d->regions, f->region->owner_rank, f->region->name);
		fill_free(f);
	}
	if (r->dir_fd >= 0)
		close(r->dir_fd);
	manifest_free(&r->m);
	free(r);
	d->restore = NULL;
}

/* --- layout checks --- */

/* The shard rank restores from: the one that lists it, or else the shard of its key when
 * that lists fewer replicas than its data-parallel size (a checkpoint taken after a node
 * was lost names the surviving replicas only; the lost ones held the same state). */
static const struct manifest_shard *shard_for(const struct ckpt_restore *r, uint32_t rank,
					      const char *key)
{
	const struct manifest_shard *s = manifest_shard_of_rank(&r->m, rank);
	if (s || !key)
		return s;
	s = manifest_find_shard(&r->m, key);
	return s && s->rank_count < s->dp_size ? s : NULL;
}

static const struct manifest_shard *restored_shard(struct lcrd *d, uint32_t rank)
{
	struct ckpt_restore *r = d->restore;
	const struct task *t = tasks_find(d->tasks, rank);
	return r && r->active ? shard_for(r, rank, t ? t->shard_key : NULL) : NULL;
}

static bool replicas_only(const struct lcrd *d)
{
	return d->restore && d->restore->replicas_only;
}

/* Whether rank's state is restored: it is in the checkpoint, or, from the replicas only,
 * every rank of this replacement is. */
static bool restores_rank(struct lcrd *d, uint32_t rank)
{
	return replicas_only(d) || restored_shard(d, rank);
}

int ckpt_restore_check_rank(struct lcrd *d, const struct wire_register *m, char *err,
			    size_t errlen)
{
	struct ckpt_restore *r = d->restore;
	if (!r || !r->active || r->replicas_only)
		return 0;
	const struct manifest_shard *s = shard_for(r, m->global_rank, m->shard_key);
	if (!s)
		return restore_fail(err, errlen, -ENOTRECOVERABLE, "rank %u is not in checkpoint %s "
				    "(%" PRIu32 " ranks): the job's layout differs from the "
				    "checkpoint's", m->global_rank, r->path, r->m.rank_count);
	if (strcmp(s->key, m->shard_key) != 0)
		return restore_fail(err, errlen, -ENOTRECOVERABLE, "rank %u registers with shard "
				    "key '%s', but checkpoint %s saved it with '%s'", m->global_rank,
				    m->shard_key, r->path, s->key);
	if (s->dp_size != m->dp_size)
		return restore_fail(err, errlen, -ENOTRECOVERABLE, "rank %u registers with "
				    "data-parallel size %u, but checkpoint %s was saved with %" PRIu32,
				    m->global_rank, m->dp_size, r->path, s->dp_size);
	return 0;
}

void ckpt_restore_mark_rank(struct lcrd *d, struct task *t)
{
	uint64_t committed;
	uint16_t phase;
	if (!restores_rank(d, t->rank) || !t->page)
		return;
	tasks_read_marks(t, &committed, &phase);
	if (committed != WIRE_NO_STEP || phase != WIRE_PHASE_RUNNING)
		return;
	atomic_store(&t->page->step, d->restore->m.step);
	atomic_store(&t->page->committed_step, d->restore->m.step);
	atomic_store_explicit(&t->page->phase, WIRE_PHASE_COMMITTED, memory_order_release);
}

/* "a, b, c" (the regions of a shard) into buf. */
static void list_regions(const struct manifest_shard *s, char *buf, size_t cap)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < s->region_count && used < cap; i++)
		used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "",
					 s->regions[i].name);
	if (s->region_count == 0)
		snprintf(buf, cap, "none");
}

int ckpt_restore_check_region(struct lcrd *d, uint32_t rank, const char *name,
			      enum wire_region_kind kind, uint64_t size, char *err, size_t errlen)
{
	const struct manifest_shard *s = restored_shard(d, rank);
	char names[128];
	if (!s)
		return 0;
	const struct manifest_region *g = manifest_find_region(s, name);
	if (!g) {
		list_regions(s, names, sizeof(names));
		return restore_fail(err, errlen, -ENOTRECOVERABLE, "checkpoint %s holds no region "
				    "'%s' for rank %u (shard '%s' holds: %s)", d->restore->path, name,
				    rank, s->key, names);
	}
	if (g->size != size || g->kind != kind)
		return restore_fail(err, errlen, -ENOTRECOVERABLE, "region '%s' of rank %u is asked "
				    "as %" PRIu64 " bytes (%s), but checkpoint %s holds %" PRIu64
				    " bytes (%s)", name, rank, size, manifest_kind_name(kind),
				    d->restore->path, g->size, manifest_kind_name(g->kind));
	return 0;
}

bool ckpt_restore_wants(struct lcrd *d, uint32_t rank, const char *name)
{
	if (replicas_only(d))
		return tasks_find(d->tasks, rank) != NULL;
	const struct manifest_shard *s = restored_shard(d, rank);
	return s && manifest_find_region(s, name);
}

int ckpt_restore_create(struct lcrd *d, uint32_t rank, const char *name, struct region **out,
			char *err, size_t errlen)
{
	const struct manifest_shard *s = restored_shard(d, rank);
	const struct manifest_region *g = s ? manifest_find_region(s, name) : NULL;
	if (replicas_only(d))
		return restore_fail(err, errlen, -ENOENT, "rank %u has no region '%s' yet: allocate "
				    "it with lcr_region_alloc to fill it from the replicas", rank, name);
	if (!g)
		return restore_fail(err, errlen, -ENOENT, "rank %u has no region '%s'", rank, name);
	if (g->kind != WIRE_REGION_HOST)
		return restore_fail(err, errlen, -ENOENT, "rank %u has no region '%s' yet: allocate "
				    "it with lcr_region_alloc on its GPU to restore it", rank, name);
	return region_table_alloc(&d->regions, rank, name, g->kind, g->size, NULL, out, err,
				  errlen);
}

uint64_t ckpt_restore_step(struct lcrd *d, char *path, size_t cap)
{
	struct ckpt_restore *r = d->restore;
	path[0] = '\0';
	if (!r || !r->active)
		return WIRE_NO_STEP;
	util_copy_string(path, cap, r->path);
	return r->m.step;
}

/* --- filling a region --- */

static int sink_into_region(void *arg, uint64_t offset, const void *data, size_t len)
{
	return region_write(arg, offset, data, len);
}

/* The worker: every range of the region, each checked before the next. */
static int fill_region(void *arg, const atomic_bool *cancel)
{
	struct fill *f = arg;
	const struct manifest_region *g = f->source;
	void *buf = NULL;
	int rc = 0, fd = f->file_fd;
	if (posix_memalign(&buf, 4096, CKPT_IO_CHUNK) != 0) {
		rc = restore_fail(f->error, sizeof(f->error), -ENOMEM, "out of memory");
		goto out;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (size_t k = 0; k < g->range_count && rc == 0; k++) {
		uint64_t hash = 0, short_at = 0;
		rc = ckpt_store_read_range(fd, &g->ranges[k], buf, CKPT_IO_CHUNK, sink_into_region,
					   f->region, &hash, &short_at);
		if (rc == -ENODATA)
			rc = restore_fail(f->error, sizeof(f->error), -EUCLEAN, "checkpoint %s is "
					  "damaged: file %s: truncated at offset %" PRIu64,
					  f->d->restore->path, g->file, short_at);
		else if (rc < 0)
			restore_fail(f->error, sizeof(f->error), rc, "cannot read %s at offset %" PRIu64
				     ": %s", f->file, g->ranges[k].offset, strerror(-rc));
		else if (hash != g->ranges[k].xxh3) {
			char what[WIRE_TEXT_MAX + 1];
			ckpt_store_describe_mismatch(what, sizeof(what), &f->d->restore->m, g,
						     &g->ranges[k], hash);
			rc = restore_fail(f->error, sizeof(f->error), -EUCLEAN, "checkpoint %s is "
					  "damaged: %s", f->d->restore->path, what);
		}
		if (rc == 0 && atomic_load(cancel))
			rc = -ECANCELED;
	}
out:
	free(buf);
	return rc;
}

/* The worker, for a replacement: from the peers, the file where they fail. */
static int fill_from_peers(void *arg, const atomic_bool *cancel)
{
	struct fill *f = arg;
	const struct manifest_region *g = f->source;
	struct transfer_want w = { .shard_key = f->shard_key, .region_name = g->name,
				   .step = f->d->restore->m.step, .ranges = g->ranges,
				   .range_count = g->range_count, .file_fd = f->file_fd,
				   .file = f->file, .no_hashes = replicas_only(f->d) };
	return transfer_fill(f->region, &w, &f->id, f->peers, f->peer_count, cancel, &f->stats,
			     f->error, sizeof(f->error));
}

static void unlink_fill(struct ckpt_restore *r, struct fill *f)
{
	for (struct fill **pos = &r->fills; *pos; pos = &(*pos)->next)
		if (*pos == f) {
			*pos = f->next;
			return;
		}
}

static void fill_done(void *arg, int rc)
{
	struct fill *f = arg;
	struct lcrd *d = f->d;
	struct region *g = f->region;
	char size[32];
	unlink_fill(d->restore, f);
	if (rc < 0) {
		log_error("rank %u: region '%s' not restored: %s", g->owner_rank, g->name, f->error);
		if (f->c)
			control_reply_status(f->c, f->seq, rc, "%s", f->error);
		region_table_free(&d->regions, g->owner_rank, g->name);
	} else if (f->peer_count > 0) {
		char summary[512];
		transfer_describe(&f->stats, g->size, summary, sizeof(summary));
		log_info("rank %u: region '%s' restored from the replicas (step %" PRIu64 "): %s",
			 g->owner_rank, g->name, d->restore->m.step, summary);
		recovery_timeline_on_fill(d, g->size, d->restore->m.step, f->peer_count);
		if (f->c)
			control_reply_region(f->c, f->seq, g, 0);
	} else {
		log_info("rank %u: region '%s' (%s) restored from %s in %.3f s", g->owner_rank,
			 g->name, util_format_size(g->size, size, sizeof(size)), d->restore->path,
			 (double)(util_now_ns() - f->started_ns) / 1e9);
		recovery_timeline_on_fill(d, g->size, d->restore->m.step, 0);
		if (f->c)
			control_reply_region(f->c, f->seq, g, 0);
	}
	fill_free(f);
}

/* f's source, from the checkpoint: its region, its file (only the fallback when the peers
 * fill it). 0, or -errno with err set. */
static int source_from_checkpoint(struct fill *f, char *err, size_t errlen)
{
	struct lcrd *d = f->d;
	const struct manifest_shard *s = restored_shard(d, f->region->owner_rank);
	const struct manifest_region *g = s ? manifest_find_region(s, f->region->name) : NULL;
	char why[512];
	if (!g)
		return restore_fail(err, errlen, -ENOENT, "checkpoint %s holds no region '%s'",
				    d->restore->path, f->region->name);
	f->source = g;
	util_format_text(f->file, sizeof(f->file), "%s/%s", d->restore->path, g->file);
	util_copy_string(f->shard_key, sizeof(f->shard_key), s->key);
	f->file_fd = ckpt_store_open_data(d->restore->dir_fd, g->file, why, sizeof(why));
	if (f->file_fd < 0 && f->peer_count == 0)
		return restore_fail(err, errlen, f->file_fd, "checkpoint %s: %s", d->restore->path,
				    why);
	if (f->file_fd < 0)
		log_warning("checkpoint %s: %s: only the replicas can fill region '%s'",
			    d->restore->path, why, f->region->name);
	return 0;
}

/* f's source, from the replicas only: the region as its rank allocated it, cut into
 * ranges of at most CKPT_RANGE_MAX, its rank's shard key. 0, or -errno with err set. */
static int source_from_replicas(struct fill *f, char *err, size_t errlen)
{
	struct region *g = f->region;
	const struct task *t = tasks_find(f->d->tasks, g->owner_rank);
	size_t count = (size_t)((g->size + CKPT_RANGE_MAX - 1) / CKPT_RANGE_MAX);
	if (!t || f->peer_count == 0)
		return restore_fail(err, errlen, -ENOTCONN, "region '%s' of rank %u can come from "
				    "the replicas only (checkpoint %s is not published), and %s",
				    g->name, g->owner_rank, f->d->restore->path,
				    t ? "no peer is live" : "the rank is not registered");
	f->tiles.ranges = calloc(count ? count : 1, sizeof(*f->tiles.ranges));
	if (!f->tiles.ranges)
		return restore_fail(err, errlen, -ENOMEM, "out of memory");
	util_copy_string(f->tiles.name, sizeof(f->tiles.name), g->name);
	f->tiles.kind = g->kind;
	f->tiles.size = g->size;
	for (uint64_t at = 0; at < g->size; at += CKPT_RANGE_MAX)
		f->tiles.ranges[f->tiles.range_count++] = (struct manifest_range){
			.offset = at, .length = g->size - at < CKPT_RANGE_MAX ? g->size - at
									 : CKPT_RANGE_MAX };
	f->source = &f->tiles;
	util_copy_string(f->shard_key, sizeof(f->shard_key), t->shard_key);
	util_format_text(f->file, sizeof(f->file), "%s", f->d->restore->path);
	return 0;
}

/* The fill's start, for whoever watches its phase (the tests kill a peer during it). */
static void log_fill_started(const struct fill *f)
{
	char size[32];
	const struct region *g = f->region;
	util_format_size(g->size, size, sizeof(size));
	if (f->peer_count > 0)
		log_info("rank %u: filling region '%s' (%s) from %zu replicas (step %" PRIu64 ")",
			 g->owner_rank, g->name, size, f->peer_count, f->d->restore->m.step);
	else
		log_info("rank %u: filling region '%s' (%s) from %s", g->owner_rank, g->name, size,
			 f->d->restore->path);
}

int ckpt_restore_fill(struct client *c, uint32_t seq, struct region *region, char *err,
		      size_t errlen)
{
	struct lcrd *d = c->d;
	struct fill *f = calloc(1, sizeof(*f));
	int rc;
	if (!f)
		return restore_fail(err, errlen, -ENOMEM, "out of memory");
	*f = (struct fill){ .d = d, .c = c, .seq = seq, .region = region, .file_fd = -1,
			    .started_ns = util_now_ns() };
	if (d->opt.rejoin) {
		f->peer_count = transfer_peers_of(d, f->peers, TRANSFER_MAX_PEERS);
		transfer_identity_of(d, &f->id);
	}
	rc = replicas_only(d) ? source_from_replicas(f, err, errlen)
			      : source_from_checkpoint(f, err, errlen);
	if (rc < 0) {
		fill_free(f);
		return rc;
	}
	rc = worker_start(d->loop, f->peer_count ? fill_from_peers : fill_region, fill_done, f,
			  &f->worker);
	if (rc < 0) {
		fill_free(f);
		return restore_fail(err, errlen, rc, "cannot start a restore thread: %s",
				    strerror(-rc));
	}
	f->next = d->restore->fills;
	d->restore->fills = f;
	log_fill_started(f);
	return 0;
}

bool ckpt_restore_uses(struct lcrd *d, const struct region *r)
{
	for (struct fill *f = d->restore ? d->restore->fills : NULL; f; f = f->next)
		if (f->region == r)
			return true;
	return false;
}

void ckpt_restore_release_client(struct lcrd *d, struct client *c)
{
	for (struct fill *f = d->restore ? d->restore->fills : NULL; f; f = f->next)
		if (f->c == c)
			f->c = NULL;
}

/* --- the resume step --- */

/* After a REPLACING: the step the ranks were last rolled back to while t still stands at
 * it (a later recovery that rolled nothing back leaves it, and a rank that trained on since
 * has no rollback to resume from), else WIRE_NO_STEP. */
static uint64_t rolled_back_step(const struct ckpt_restore *r, const struct task *t)
{
	uint64_t committed;
	uint16_t phase;
	if (r->rolled_back_to == WIRE_NO_STEP || !t->page)
		return WIRE_NO_STEP;
	tasks_read_marks(t, &committed, &phase);
	return phase == WIRE_PHASE_COMMITTED && committed == r->rolled_back_to ? committed
									     : WIRE_NO_STEP;
}

static void request_resume_step(struct client *c, const struct wire_msg *msg)
{
	struct wire_resume_info info = { .step = WIRE_NO_STEP };
	uint8_t buf[sizeof(info)];
	if (msg->header.length != 0) {
		control_reply_status(c, msg->header.seq, -EBADMSG, "malformed RESUME_STEP");
		return;
	}
	if (!c->task) {
		control_reply_status(c, msg->header.seq, -EPERM, "the resume step needs a "
				     "registered rank (lcr_register)");
		return;
	}
	if (c->d->restore && c->d->restore->replaced_since)
		info.step = rolled_back_step(c->d->restore, c->task);
	else if (restores_rank(c->d, c->task->rank))
		info.step = ckpt_restore_step(c->d, info.checkpoint, sizeof(info.checkpoint));
	control_reply(c, msg->header.seq, WIRE_RESUME_INFO, buf,
		      wire_encode_resume_info(&info, buf, sizeof(buf)), -1);
}

/* A REPLACING of another node: from now on the resume step is the one the last rollback
 * (recovery from the copies) set the ranks to while they stand at it, or none. */
static void replacing_applied(struct mesh *m, const struct wire_mesh_event *ev, void *arg)
{
	struct lcrd *d = arg;
	(void)m;
	if (ev->type != WIRE_EVENT_REPLACING || !d->restore || ev->node == d->opt.node_id)
		return;
	d->restore->replaced_since = true;
	if (ev->resume_step != WIRE_NO_STEP)
		d->restore->rolled_back_to = ev->resume_step;
}

int ckpt_restore_subscribe(struct lcrd *d)
{
	return mesh_subscribe(d, replacing_applied, d);
}
