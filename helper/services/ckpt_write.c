/* ckpt_write.c: a helper's part of a checkpoint: gathering its replicas' reports, writing
 * its ranges on a worker thread, and, as the leader, publishing or abandoning the result
 * (see ckpt_write.h).
 *
 * A writer is prepared on the loop: each of its ranges is bound to a region of a local
 * replica that holds step S (struct write_item), so the thread only reads regions and writes
 * files: a host region in place, from lcrd's own mapping (region_view: XXH3 and pwrite read
 * the same memory, no copy), any other through region_read into an 8 MiB buffer (CUDA).
 * Then it hashes the ranges this node checks (items marked `checked`, bound to the replica
 * ckpt_verify_assign named), writing nothing, so that the leader can compare the replicas.
 * When the thread is done, the loop reads the source replicas' control pages again: a
 * replica that began an update meanwhile may have been read half updated (or its bytes
 * hashed and written as they changed), and the result is -ESTALE. Only then does a second
 * job sync the files (the reads are over, so the ranks may go on while it runs). The thread
 * ends its reads with an acquire fence and the rank's lcr_update_begin stores its phase
 * before a release fence, so a read that saw an update's store implies that the second look
 * sees UPDATING or a newer commit.
 *
 * A checkpoint from the snapshots (the failure's, when a lost node held state no live rank
 * holds: doc/checkpoint.md) binds each range to a snapshot of the step instead (this
 * helper's own, or a copy it holds of a lost node's: snapshot_source_pin), pinned until
 * the thread is done reading. The thread first checks each snapshot region against the
 * hash it was taken (or received) with, then writes from it as from a region; no rank's
 * page is read (the snapshot does not change), so such a writer is never -ESTALE. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "services/ckpt_write.h"
#include "internal/ckpt_store.h"
#include "internal/util.h"
#include "internal/xxh3_stream.h"
#include "loop/ckpt_dir.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "loop/regions.h"
#include "loop/worker.h"
#include "services/snapshot.h"
#include "services/tasks.h"

#define REMOVING_PREFIX ".removing-"

static int write_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int write_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* --- reports --- */

static int report_regions(struct lcrd *d, struct ckpt_report *r)
{
	size_t n = 0;
	for (const struct region *g = d->regions.head; g; g = g->next)
		n += g->owner_rank == r->rank;
	r->regions = calloc(n + 1, sizeof(*r->regions));
	if (!r->regions)
		return -ENOMEM;
	for (const struct region *g = d->regions.head; g; g = g->next) {
		if (g->owner_rank != r->rank)
			continue;
		struct ckpt_region_report *e = &r->regions[r->region_count++];
		strcpy(e->name, g->name);
		e->kind = g->kind;
		e->size = g->size;
	}
	return 0;
}

/* A page's phase as a checkpoint report gives it (its wire form knows only the first three):
 * a rollback in progress ends with a commit, as an update does; an abandoned update (or a
 * value no phase has: the page is the rank's to write) holds nothing to save and no commit
 * is coming. */
static enum wire_phase report_phase(uint16_t phase)
{
	switch (phase) {
	case WIRE_PHASE_RUNNING:
	case WIRE_PHASE_UPDATING:
	case WIRE_PHASE_COMMITTED:
		return (enum wire_phase)phase;
	case WIRE_PHASE_ROLLING_BACK:
		return WIRE_PHASE_UPDATING;
	}
	return WIRE_PHASE_RUNNING;
}

int ckpt_gather_reports(struct lcrd *d, struct ckpt_report **out, size_t *count, char *err,
			size_t errlen)
{
	size_t n = tasks_count(d->tasks), used = 0;
	struct ckpt_report *reports = calloc(n + 1, sizeof(*reports));
	if (!reports)
		return write_fail(err, errlen, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct task *t = tasks_at(d->tasks, i);
		struct ckpt_report *r = &reports[used];
		uint16_t phase;
		if (!t->registered)
			continue;
		r->rank = t->rank;
		r->node_id = d->opt.node_id;
		strcpy(r->node, d->opt.node_name);
		strcpy(r->shard_key, t->shard_key);
		r->dp_size = t->dp_size;
		tasks_read_marks(t, &r->committed_step, &phase);
		r->phase = report_phase(phase);
		used++;
		if (report_regions(d, r) < 0) {
			ckpt_reports_free(reports, used);
			return write_fail(err, errlen, -ENOMEM, "out of memory");
		}
	}
	*out = reports;
	*count = used;
	return 0;
}

/* --- directories --- */

/* The job's checkpoint directory (see ckpt_dir.h): a descriptor or -errno with err set. */
static int open_job_dir(const struct lcrd_options *opt, enum trusted_create create, char *err,
			size_t errlen)
{
	return ckpt_dir_open(opt->ckpt_dir, &opt->ckpt_roots, create, "checkpoint directory", err,
			     errlen);
}

/* Removes name, a directory of plain files in dir_fd (a checkpoint's); dir names dir_fd in
 * messages. */
static int remove_flat_dir(int dir_fd, const char *dir, const char *name, char *err,
			   size_t errlen)
{
	struct dirent *e;
	int rc = 0, fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		rc = errno == ENOENT ? 0 : write_fail(err, errlen, -errno, "cannot open %s/%s: %s",
						      dir, name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	while ((e = readdir(d)) && rc == 0)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    unlinkat(dirfd(d), e->d_name, 0) < 0)
			rc = write_fail(err, errlen, -errno, "cannot remove %s/%s/%s: %s", dir, name,
					e->d_name, strerror(errno));
	closedir(d);
	if (rc == 0 && unlinkat(dir_fd, name, AT_REMOVEDIR) < 0)
		rc = write_fail(err, errlen, -errno, "cannot remove %s/%s: %s", dir, name,
				strerror(errno));
	return rc;
}

static int sync_dir(int fd, const char *path, char *err, size_t errlen)
{
	if (fsync(fd) < 0)
		return write_fail(err, errlen, -errno, "cannot sync directory %s: %s", path,
				  strerror(errno));
	return 0;
}

/* Removes the .tmp directories of earlier attempts and half-removed old checkpoints. */
static int remove_leftovers(int dir_fd, const char *ckpt_dir, char *err, size_t errlen)
{
	struct dirent *e;
	int rc = 0, fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd < 0 ? NULL : fdopendir(fd);
	if (!dir) {
		rc = write_fail(err, errlen, -errno, "cannot open checkpoint directory %s: %s",
				ckpt_dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	while ((e = readdir(dir)) && rc == 0) {
		uint64_t step;
		bool tmp = false;
		bool removing = strncmp(e->d_name, REMOVING_PREFIX, strlen(REMOVING_PREFIX)) == 0;
		if (!removing && (ckpt_store_parse_name(e->d_name, &step, &tmp) < 0 || !tmp))
			continue;
		log_info("removing %s/%s, left by an earlier checkpoint", ckpt_dir, e->d_name);
		rc = remove_flat_dir(dir_fd, ckpt_dir, e->d_name, err, errlen);
	}
	closedir(dir);
	return rc;
}

int ckpt_prepare_dir(const struct lcrd_options *opt, uint64_t step, char *err, size_t errlen)
{
	char final[32], tmp[32];
	struct stat st;
	int rc, dir_fd = open_job_dir(opt, TRUSTED_CREATE_MISSING, err, errlen);
	if (dir_fd < 0)
		return dir_fd;
	ckpt_store_name(final, sizeof(final), step, false);
	ckpt_store_name(tmp, sizeof(tmp), step, true);
	if (fstatat(dir_fd, final, &st, AT_SYMLINK_NOFOLLOW) == 0)
		rc = write_fail(err, errlen, -EEXIST, "%s/%s exists already", opt->ckpt_dir, final);
	else
		rc = remove_leftovers(dir_fd, opt->ckpt_dir, err, errlen);
	if (rc == 0 && mkdirat(dir_fd, tmp, 0700) < 0)
		rc = write_fail(err, errlen, -errno, "cannot create %s/%s: %s", opt->ckpt_dir, tmp,
				strerror(errno));
	close(dir_fd);
	return rc;
}

int ckpt_abandon(const struct lcrd_options *opt, uint64_t step, char *err, size_t errlen)
{
	char tmp[32];
	int rc, dir_fd = open_job_dir(opt, TRUSTED_OPEN_EXISTING, err, errlen);
	if (dir_fd < 0)
		return dir_fd == -ENOENT ? 0 : dir_fd;
	ckpt_store_name(tmp, sizeof(tmp), step, true);
	rc = remove_flat_dir(dir_fd, opt->ckpt_dir, tmp, err, errlen);
	close(dir_fd);
	return rc;
}

/* --- the writer --- */

/* One range to write (or only to hash, when hash.checked), bound to the local region it is
 * read from, or to a snapshot of the step (source.data). */
struct write_item {
	struct region *region;
	struct snapshot_source source;
	uint64_t offset;
	uint64_t length;
	char file[MANIFEST_FILE_MAX + 1];
	struct ckpt_range_hash hash;
};

struct ckpt_writer {
	struct lcrd *d;
	char dir[PATH_MAX]; /* DIR/step-S.tmp, for messages */
	int dir_fd;         /* DIR/step-S.tmp, opened as a trusted directory */
	uint64_t step;
	bool from_snapshots;      /* the ranges are read from snapshots of step */
	struct write_item *items; /* the ranges to write, then those to check */
	size_t item_count;
	size_t write_count;       /* items[0 .. write_count) are written */
	uint32_t *sources; /* ranks whose regions are read */
	size_t source_count;
	struct worker *worker;
	ckpt_write_done_fn *done;
	void *done_arg;
	uint64_t started_ns;
	uint64_t bytes;
	char error[WIRE_TEXT_MAX + 1]; /* set by the thread */
};

/* The snapshots read are no longer pinned (the thread is done, or cancelled). */
static void unpin_sources(struct ckpt_writer *w)
{
	for (size_t i = 0; i < w->item_count; i++)
		snapshot_source_unpin(w->d, &w->items[i].source);
}

static void writer_free(struct ckpt_writer *w)
{
	unpin_sources(w);
	if (w->dir_fd >= 0)
		close(w->dir_fd);
	free(w->items);
	free(w->sources);
	free(w);
}

/* The local replica of `key` that holds `step`, lowest rank first. */
static const struct task *local_source(struct lcrd *d, const char *key, uint64_t step)
{
	const struct task *best = NULL;
	for (size_t i = 0; i < tasks_count(d->tasks); i++) {
		const struct task *t = tasks_at(d->tasks, i);
		uint64_t committed;
		uint16_t phase;
		if (!t->registered || strcmp(t->shard_key, key) != 0)
			continue;
		tasks_read_marks(t, &committed, &phase);
		if (phase == WIRE_PHASE_COMMITTED && committed == step && (!best || t->rank < best->rank))
			best = t;
	}
	return best;
}

static int add_source(struct ckpt_writer *w, uint32_t rank)
{
	for (size_t i = 0; i < w->source_count; i++)
		if (w->sources[i] == rank)
			return 0;
	uint32_t *grown = realloc(w->sources, (w->source_count + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	w->sources = grown;
	grown[w->source_count++] = rank;
	return 0;
}

/* Whether the writer was asked for this range: all of its own, or those listed. */
static bool range_wanted(const struct manifest *plan, uint32_t me, const struct ckpt_range_ref *only,
			 size_t only_count, uint32_t s, uint32_t j, uint32_t k)
{
	if (plan->shards[s].regions[j].ranges[k].writer != me)
		return false;
	for (size_t i = 0; only && i < only_count; i++)
		if (only[i].shard == s && only[i].region == j && only[i].range == k)
			return true;
	return !only;
}

/* Binds range ref of the plan to a snapshot of the step that this helper keeps (of `rank`,
 * or of any rank of the shard), pinned: to write it, or only to hash it (checked). */
static int bind_snapshot(struct ckpt_writer *w, const struct manifest *plan,
			 struct ckpt_range_ref ref, uint32_t rank, bool checked, char *err,
			 size_t errlen)
{
	const struct manifest_shard *shard = &plan->shards[ref.shard];
	const struct manifest_region *r = &shard->regions[ref.region];
	struct write_item *item = &w->items[w->item_count];
	if (snapshot_source_pin(w->d, shard->key, rank, r->name, plan->step, &item->source) < 0)
		return write_fail(err, errlen, -ENODATA, "%s keeps no snapshot of region '%s' of "
				  "shard '%s' at step %" PRIu64, w->d->opt.node_name, r->name,
				  shard->key, plan->step);
	w->item_count++;
	if (item->source.size != r->size || item->source.kind != r->kind)
		return write_fail(err, errlen, -ENODATA, "the snapshot of region '%s' of rank %"
				  PRIu32 " at step %" PRIu64 " holds %" PRIu64 " bytes, the plan's "
				  "%s region %" PRIu64, r->name, item->source.rank, plan->step,
				  item->source.size, manifest_kind_name(r->kind), r->size);
	item->offset = r->ranges[ref.range].offset;
	item->length = r->ranges[ref.range].length;
	strcpy(item->file, r->file);
	item->hash = (struct ckpt_range_hash){ .ref = ref, .rank = item->source.rank,
					       .checked = checked };
	if (!checked)
		w->bytes += item->length;
	return 0;
}

/* Binds the ranges of one shard that this node writes. */
static int bind_shard(struct ckpt_writer *w, const struct manifest *plan, uint32_t me,
		      const struct ckpt_range_ref *only, size_t only_count, uint32_t s, char *err,
		      size_t errlen)
{
	const struct manifest_shard *shard = &plan->shards[s];
	const struct task *source = NULL;
	for (uint32_t j = 0; j < shard->region_count; j++) {
		const struct manifest_region *r = &shard->regions[j];
		for (uint32_t k = 0; k < r->range_count; k++) {
			if (!range_wanted(plan, me, only, only_count, s, j, k))
				continue;
			if (w->from_snapshots) {
				int rc = bind_snapshot(w, plan, (struct ckpt_range_ref){ s, j, k },
						       WIRE_NO_RANK, false, err, errlen);
				if (rc < 0)
					return rc;
				continue;
			}
			if (!source && !(source = local_source(w->d, shard->key, plan->step)))
				return write_fail(err, errlen, -ENODATA, "no local replica of shard "
						  "'%s' holds step %" PRIu64, shard->key, plan->step);
			struct region *g = region_table_find(&w->d->regions, source->rank, r->name);
			if (!g || g->size != r->size || g->kind != r->kind)
				return write_fail(err, errlen, -ENODATA, "rank %u has no %s region '%s' "
						  "of %" PRIu64 " bytes", source->rank,
						  manifest_kind_name(r->kind), r->name, r->size);
			struct write_item *item = &w->items[w->item_count++];
			item->region = g;
			item->offset = r->ranges[k].offset;
			item->length = r->ranges[k].length;
			strcpy(item->file, r->file);
			item->hash.ref = (struct ckpt_range_ref){ s, j, k };
			item->hash.rank = source->rank;
			w->bytes += item->length;
		}
	}
	if (source && add_source(w, source->rank) < 0)
		return write_fail(err, errlen, -ENOMEM, "out of memory");
	return 0;
}

/* Binds a range this node hashes to compare: from the rank the check names. */
static int bind_check(struct ckpt_writer *w, const struct manifest *plan,
		      const struct ckpt_check *c, char *err, size_t errlen)
{
	const struct manifest_shard *shard = &plan->shards[c->ref.shard];
	const struct manifest_region *r = &shard->regions[c->ref.region];
	const struct task *t = tasks_find(w->d->tasks, c->rank);
	uint64_t committed = WIRE_NO_STEP;
	uint16_t phase = WIRE_PHASE_RUNNING;
	if (w->from_snapshots)
		return bind_snapshot(w, plan, c->ref, c->rank, true, err, errlen);
	if (t)
		tasks_read_marks(t, &committed, &phase);
	if (!t || !t->registered || strcmp(t->shard_key, shard->key) != 0 ||
	    phase != WIRE_PHASE_COMMITTED || committed != plan->step)
		return write_fail(err, errlen, -ESTALE, "rank %" PRIu32 ", to be compared with the "
				  "other replicas of shard '%s', no longer holds step %" PRIu64,
				  c->rank, shard->key, plan->step);
	struct region *g = region_table_find(&w->d->regions, c->rank, r->name);
	if (!g || g->size != r->size || g->kind != r->kind)
		return write_fail(err, errlen, -ENODATA, "rank %" PRIu32 " has no %s region '%s' of "
				  "%" PRIu64 " bytes", c->rank, manifest_kind_name(r->kind), r->name,
				  r->size);
	struct write_item *item = &w->items[w->item_count++];
	item->region = g;
	item->offset = r->ranges[c->ref.range].offset;
	item->length = r->ranges[c->ref.range].length;
	strcpy(item->file, r->file);
	item->hash = (struct ckpt_range_hash){ .ref = c->ref, .rank = c->rank, .checked = true };
	if (add_source(w, c->rank) < 0)
		return write_fail(err, errlen, -ENOMEM, "out of memory");
	return 0;
}

static int bind_ranges(struct ckpt_writer *w, const struct manifest *plan,
		       const struct ckpt_range_ref *only, size_t only_count,
		       const struct ckpt_check *checks, size_t check_count, char *err,
		       size_t errlen)
{
	uint32_t me = 0;
	int rc = 0;
	while (me < plan->writer_count && plan->writers[me].node_id != w->d->opt.node_id)
		me++;
	w->items = calloc(ckpt_plan_range_count(plan) + check_count + 1, sizeof(*w->items));
	if (!w->items)
		return write_fail(err, errlen, -ENOMEM, "out of memory");
	for (uint32_t s = 0; s < plan->shard_count && rc == 0 && me < plan->writer_count; s++)
		rc = bind_shard(w, plan, me, only, only_count, s, err, errlen);
	w->write_count = w->item_count;
	for (size_t i = 0; i < check_count && rc == 0; i++)
		if (checks[i].node_id == w->d->opt.node_id)
			rc = bind_check(w, plan, &checks[i], err, errlen);
	return rc;
}

static int pwrite_all(int fd, const uint8_t *buf, size_t len, uint64_t offset)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, buf, len, (off_t)offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
		offset += (uint64_t)n;
	}
	return 0;
}

/* Points *out at the bytes [at, at + len) of item's region: in place where the backend
 * hands out its memory (a host region, a snapshot: no copy), else copied into buf (CUDA). */
static int range_bytes(struct ckpt_writer *w, const struct write_item *item, uint64_t at,
		       size_t len, uint8_t *buf, const uint8_t **out)
{
	if (item->source.data) {
		*out = item->source.data + at;
		return 0;
	}
	int rc = region_view(item->region, at, len, out);
	if (rc == -EOPNOTSUPP && (rc = region_read(item->region, at, buf, len)) == 0)
		*out = buf;
	if (rc < 0)
		return write_fail(w->error, sizeof(w->error), rc, "cannot read region '%s' of rank "
				  "%u at offset %" PRIu64 ": %s", item->region->name,
				  item->region->owner_rank, at, strerror(-rc));
	return 0;
}

/* Reads one range in chunks, hashing what it reads, and writes it to fd (when fd >= 0). */
static int write_range(struct ckpt_writer *w, int fd, struct write_item *item, uint8_t *buf,
		       XXH3_state_t *state, const atomic_bool *cancel)
{
	XXH3_64bits_reset(state);
	for (uint64_t done = 0; done < item->length;) {
		size_t len = item->length - done < CKPT_IO_CHUNK ? (size_t)(item->length - done)
								 : CKPT_IO_CHUNK;
		uint64_t at = item->offset + done;
		const uint8_t *bytes;
		int rc = range_bytes(w, item, at, len, buf, &bytes);
		if (rc < 0)
			return rc;
		xxh3_stream_update(state, bytes, len);
		if (fd >= 0 && (rc = pwrite_all(fd, bytes, len, at)) < 0)
			return write_fail(w->error, sizeof(w->error), rc, "cannot write %s/%s at "
					  "offset %" PRIu64 ": %s", w->dir, item->file, at,
					  strerror(-rc));
		if (atomic_load(cancel))
			return -ECANCELED;
		done += len;
	}
	item->hash.xxh3 = XXH3_64bits_digest(state);
	return 0;
}

/* Writes items[0..n) (ranges of one file) into the page cache; sync_all syncs it later. */
static int write_file(struct ckpt_writer *w, int dir_fd, struct write_item *items, size_t n,
		      uint8_t *buf, XXH3_state_t *state, const atomic_bool *cancel)
{
	char why[512];
	/* A new file, or one another writer of this checkpoint (a range of the same region)
	 * created: never a link, a FIFO or a file of someone else's put in the name's place. */
	int rc = 0, fd = trusted_create_at(dir_fd, items[0].file, O_WRONLY, geteuid(),
					   items[0].file, why, sizeof(why));
	if (fd < 0)
		return write_fail(w->error, sizeof(w->error), fd, "checkpoint directory %s: %s",
				  w->dir, why);
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = posix_fallocate(fd, (off_t)items[i].offset, (off_t)items[i].length);
		if (rc == EOPNOTSUPP || rc == EINVAL)
			rc = 0;
		else if (rc)
			rc = write_fail(w->error, sizeof(w->error), -rc, "cannot write %s/%s at "
					"offset %" PRIu64 ": %s", w->dir, items[i].file,
					items[i].offset, strerror(rc));
	}
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = write_range(w, fd, &items[i], buf, state, cancel);
	if (close(fd) < 0 && rc == 0)
		rc = write_fail(w->error, sizeof(w->error), -errno, "cannot close %s/%s: %s", w->dir,
				items[0].file, strerror(errno));
	return rc;
}

/* Each snapshot read still has the hash it was taken (or received) with: 0, or -EIO (its
 * memory changed since). Each is hashed once, however many ranges it gives. */
static int check_snapshots(struct ckpt_writer *w, const atomic_bool *cancel)
{
	for (size_t i = 0; i < w->item_count; i++) {
		const struct snapshot_source *x = &w->items[i].source;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = w->items[j].source.data == x->data;
		if (!x->data || seen)
			continue;
		if (atomic_load(cancel))
			return -ECANCELED;
		uint64_t h = XXH3_64bits(x->data, (size_t)x->size);
		if (h != x->xxh3)
			return write_fail(w->error, sizeof(w->error), -EIO, "the %s read for %s "
					  "(rank %" PRIu32 ", step %" PRIu64 ") has XXH3 %016" PRIx64
					  ", not the %016" PRIx64 " it was taken with",
					  x->copy ? "held copy" : "snapshot", w->items[i].file,
					  x->rank, x->step, h, x->xxh3);
	}
	return 0;
}

/* The first job: every file in turn, then the ranges only checked. */
static int write_all(void *arg, const atomic_bool *cancel)
{
	struct ckpt_writer *w = arg;
	XXH3_state_t *state = XXH3_createState();
	void *buf = NULL;
	int rc = check_snapshots(w, cancel);
	if (rc < 0)
		goto out;
	if (!state || posix_memalign(&buf, 4096, CKPT_IO_CHUNK) != 0) {
		rc = write_fail(w->error, sizeof(w->error), -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0, j; i < w->write_count && rc == 0; i = j) {
		for (j = i + 1; j < w->write_count && strcmp(w->items[j].file, w->items[i].file) == 0; j++)
			;
		rc = write_file(w, w->dir_fd, &w->items[i], j - i, buf, state, cancel);
	}
	for (size_t i = w->write_count; i < w->item_count && rc == 0; i++)
		rc = write_range(w, -1, &w->items[i], buf, state, cancel);
	atomic_thread_fence(memory_order_acquire);
out:
	free(buf);
	XXH3_freeState(state);
	return rc;
}

/* -ESTALE when a source replica no longer holds the step (its update began meanwhile). */
static int check_sources(struct ckpt_writer *w)
{
	for (size_t i = 0; i < w->source_count; i++) {
		const struct task *t = tasks_find(w->d->tasks, w->sources[i]);
		uint64_t committed;
		uint16_t phase;
		tasks_read_marks(t, &committed, &phase);
		if (phase != WIRE_PHASE_COMMITTED || committed != w->step)
			return write_fail(w->error, sizeof(w->error), -ESTALE, "rank %u began an "
					  "update while its state of step %" PRIu64 " was being saved",
					  w->sources[i], w->step);
	}
	return 0;
}

/* The second job, once the sources are known to have held the step while they were read:
 * every written file synced (fsync reads no region, so the ranks may go on meanwhile). */
static int sync_all(void *arg, const atomic_bool *cancel)
{
	struct ckpt_writer *w = arg;
	for (size_t i = 0; i < w->write_count; i++) {
		if (i > 0 && strcmp(w->items[i].file, w->items[i - 1].file) == 0)
			continue;
		if (atomic_load(cancel))
			return -ECANCELED;
		/* O_NONBLOCK: a FIFO put in a data file's place fails here instead of waiting. */
		int fd = openat(w->dir_fd, w->items[i].file,
				O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		int rc = fd < 0 || fsync(fd) < 0 ? -errno : 0;
		if (fd >= 0)
			close(fd);
		if (rc < 0)
			return write_fail(w->error, sizeof(w->error), rc, "cannot sync %s/%s: %s", w->dir,
					  w->items[i].file, strerror(-rc));
	}
	return 0;
}

static void writer_report(struct ckpt_writer *w, int status)
{
	struct ckpt_write_result result = {
		.status = status, .node_id = w->d->opt.node_id, .step = w->step,
		.seconds = (double)(util_now_ns() - w->started_ns) / 1e9,
	};
	if (result.status == 0) {
		result.hashes = calloc(w->item_count + 1, sizeof(*result.hashes));
		if (!result.hashes)
			result.status = write_fail(w->error, sizeof(w->error), -ENOMEM, "out of memory");
	}
	if (result.status == 0) {
		for (size_t i = 0; i < w->item_count; i++)
			result.hashes[i] = w->items[i].hash;
		result.hash_count = w->item_count;
		result.bytes = w->bytes;
	}
	strcpy(result.error, w->error);
	w->done(w->d, &result, w->done_arg);
	free(result.hashes);
	writer_free(w);
}

static void synced(void *arg, int rc)
{
	writer_report(arg, rc);
}

/* The reads are over: the sources are checked now, before the files are synced, so that a
 * rank that goes on once its state was read (a recovery's survivors, resumed while the
 * checkpoint is still written) does not make the checkpoint stale. */
static void written(void *arg, int rc)
{
	struct ckpt_writer *w = arg;
	unpin_sources(w); /* the reads are over */
	if (rc == 0)
		rc = check_sources(w);
	if (rc == 0 && w->write_count > 0) {
		rc = worker_start(w->d->loop, sync_all, synced, w, &w->worker);
		if (rc == 0)
			return;
		write_fail(w->error, sizeof(w->error), rc, "cannot start a writer thread: %s",
			   strerror(-rc));
	}
	writer_report(w, rc);
}

/* Opens DIR/step-S.tmp, which the leader made, for the thread. */
static int open_step_dir(struct ckpt_writer *w, char *err, size_t errlen)
{
	char why[512];
	int rc, dir_fd = open_job_dir(&w->d->opt, TRUSTED_OPEN_EXISTING, err, errlen);
	if (dir_fd < 0)
		return dir_fd;
	rc = ckpt_store_path(w->dir, sizeof(w->dir), w->d->opt.ckpt_dir, w->step, true);
	if (rc < 0)
		rc = write_fail(err, errlen, rc, "checkpoint directory %s: path too long",
				w->d->opt.ckpt_dir);
	else if ((w->dir_fd = ckpt_store_open_step(dir_fd, w->step, true, why, sizeof(why))) < 0)
		rc = write_fail(err, errlen, w->dir_fd, "checkpoint directory %s: %s",
				w->d->opt.ckpt_dir, why);
	close(dir_fd);
	return rc;
}

int ckpt_write_start(struct lcrd *d, const struct manifest *plan, bool from_snapshots,
		     const struct ckpt_range_ref *only, size_t only_count,
		     const struct ckpt_check *checks, size_t check_count,
		     ckpt_write_done_fn *done, void *arg, struct ckpt_writer **out, char *err,
		     size_t errlen)
{
	struct ckpt_writer *w = calloc(1, sizeof(*w));
	int rc;
	if (!w)
		return write_fail(err, errlen, -ENOMEM, "out of memory");
	w->d = d;
	w->step = plan->step;
	w->from_snapshots = from_snapshots;
	w->done = done;
	w->done_arg = arg;
	w->dir_fd = -1;
	w->started_ns = util_now_ns();
	rc = open_step_dir(w, err, errlen);
	if (rc == 0)
		rc = bind_ranges(w, plan, only, only_count, checks, check_count, err, errlen);
	if (rc == 0 && (rc = worker_start(d->loop, write_all, written, w, &w->worker)) < 0)
		write_fail(err, errlen, rc, "cannot start a writer thread: %s", strerror(-rc));
	if (rc < 0) {
		writer_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

void ckpt_write_cancel(struct ckpt_writer *w)
{
	if (!w)
		return;
	worker_cancel(w->worker);
	writer_free(w);
}

bool ckpt_write_uses(const struct ckpt_writer *w, const struct region *r)
{
	for (size_t i = 0; w && i < w->item_count; i++)
		if (w->items[i].region == r)
			return true;
	return false;
}

/* --- the leader's side --- */

int ckpt_apply_result(struct manifest *m, const struct ckpt_write_result *r, char *err,
		      size_t errlen)
{
	uint32_t w = 0;
	while (w < m->writer_count && m->writers[w].node_id != r->node_id)
		w++;
	if (r->step != m->step)
		return write_fail(err, errlen, -EINVAL, "node %" PRIu32 " reported ranges of step "
				  "%" PRIu64 " it was not asked to write", r->node_id, r->step);
	for (size_t i = 0; i < r->hash_count; i++) {
		const struct ckpt_range_ref *h = &r->hashes[i].ref;
		if (r->hashes[i].checked)
			continue;
		if (w == m->writer_count)
			return write_fail(err, errlen, -EINVAL, "node %" PRIu32 " reported ranges of "
					  "step %" PRIu64 " it was not asked to write", r->node_id,
					  r->step);
		if (h->shard >= m->shard_count || h->region >= m->shards[h->shard].region_count ||
		    h->range >= m->shards[h->shard].regions[h->region].range_count ||
		    m->shards[h->shard].regions[h->region].ranges[h->range].writer != w)
			return write_fail(err, errlen, -EINVAL, "node %s reported a range it was not "
					  "to write", m->writers[w].node);
	}
	int written = 0;
	for (size_t i = 0; i < r->hash_count; i++) {
		const struct ckpt_range_ref *h = &r->hashes[i].ref;
		if (r->hashes[i].checked)
			continue;
		m->shards[h->shard].regions[h->region].ranges[h->range].xxh3 = r->hashes[i].xxh3;
		written++;
	}
	if (w < m->writer_count)
		m->writers[w].seconds += r->seconds;
	return written;
}

/* Writes text[len] as a new file name in dir_fd and syncs it; dir names dir_fd. */
static int write_new_file(int dir_fd, const char *dir, const char *name, const char *text,
			  size_t len, char *err, size_t errlen)
{
	int rc = 0, fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				0600);
	if (fd < 0)
		return write_fail(err, errlen, -errno, "cannot create %s/%s: %s", dir, name,
				  strerror(errno));
	rc = pwrite_all(fd, (const uint8_t *)text, len, 0);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		write_fail(err, errlen, rc, "cannot write %s/%s: %s", dir, name, strerror(-rc));
	return rc;
}

/* Renames from to to inside dir_fd unless to exists. */
static int rename_no_replace(int dir_fd, const char *dir, const char *from, const char *to,
			     char *err, size_t errlen)
{
	struct stat st;
	if (renameat2(dir_fd, from, dir_fd, to, RENAME_NOREPLACE) == 0)
		return 0;
	/* Filesystems without RENAME_NOREPLACE: look first. */
	if (errno == EINVAL && fstatat(dir_fd, to, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno == ENOENT && renameat(dir_fd, from, dir_fd, to) == 0)
		return 0;
	if (errno == EINVAL)
		errno = EEXIST;
	return write_fail(err, errlen, -errno, "cannot rename %s/%s to %s: %s", dir, from, to,
			  strerror(errno));
}

/* The manifest into the open DIR/step-S.tmp, then the rename to DIR/step-S. */
static int publish_in(int dir_fd, const char *ckpt_dir, const struct manifest *m,
		      const char *text, size_t len, char *err, size_t errlen)
{
	char tmp[32], final[32], why[512];
	int rc, step_fd = ckpt_store_open_step(dir_fd, m->step, true, why, sizeof(why));
	if (step_fd < 0)
		return write_fail(err, errlen, step_fd, "checkpoint directory %s: %s", ckpt_dir, why);
	ckpt_store_name(tmp, sizeof(tmp), m->step, true);
	ckpt_store_name(final, sizeof(final), m->step, false);
	if ((rc = write_new_file(step_fd, tmp, MANIFEST_FILE_NAME, text, len, err, errlen)) == 0 &&
	    (rc = sync_dir(step_fd, tmp, err, errlen)) == 0 &&
	    (rc = rename_no_replace(dir_fd, ckpt_dir, tmp, final, err, errlen)) == 0)
		rc = sync_dir(dir_fd, ckpt_dir, err, errlen);
	close(step_fd);
	return rc;
}

int ckpt_publish(const struct lcrd_options *opt, struct manifest *m, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len;
	int rc, dir_fd;
	m->created = (int64_t)time(NULL);
	rc = manifest_encode(m, &text, &len, err, errlen);
	if (rc < 0)
		return rc;
	dir_fd = open_job_dir(opt, TRUSTED_OPEN_EXISTING, err, errlen);
	rc = dir_fd < 0 ? dir_fd : publish_in(dir_fd, opt->ckpt_dir, m, text, len, err, errlen);
	if (dir_fd >= 0)
		close(dir_fd);
	free(text);
	return rc;
}

/* Renames checkpoint step out of sight, then removes it. */
static int remove_checkpoint(int dir_fd, const char *ckpt_dir, uint64_t step, char *err,
			     size_t errlen)
{
	char name[32], hidden[64];
	ckpt_store_name(name, sizeof(name), step, false);
	snprintf(hidden, sizeof(hidden), REMOVING_PREFIX "%" PRIu64, step);
	if (renameat(dir_fd, name, dir_fd, hidden) < 0)
		return write_fail(err, errlen, -errno, "cannot remove %s/%s: %s", ckpt_dir, name,
				  strerror(errno));
	return remove_flat_dir(dir_fd, ckpt_dir, hidden, err, errlen);
}

static int prune_in(int dir_fd, const char *ckpt_dir, uint32_t keep, char *err, size_t errlen)
{
	struct ckpt_entry *entries;
	size_t count, complete = 0;
	int rc, removed = 0;
	rc = ckpt_store_list(dir_fd, &entries, &count);
	if (rc < 0)
		return write_fail(err, errlen, rc, "cannot list %s: %s", ckpt_dir, strerror(-rc));
	for (size_t i = 0; i < count; i++)
		complete += entries[i].complete && entries[i].has_manifest;
	for (size_t i = 0; i < count && complete > keep && rc == 0; i++) {
		if (!entries[i].complete || !entries[i].has_manifest)
			continue;
		rc = remove_checkpoint(dir_fd, ckpt_dir, entries[i].step, err, errlen);
		if (rc == 0) {
			log_info("removed %s/" CKPT_STEP_PREFIX "%" PRIu64 ": only the newest %u "
				 "checkpoints are kept", ckpt_dir, entries[i].step, keep);
			removed++;
			complete--;
		}
	}
	free(entries);
	return rc < 0 ? rc : removed;
}

int ckpt_newest_complete(const struct lcrd_options *opt, uint64_t *step, char *err,
			 size_t errlen)
{
	int rc, dir_fd = open_job_dir(opt, TRUSTED_OPEN_EXISTING, err, errlen);
	if (dir_fd < 0)
		return dir_fd;
	rc = ckpt_store_newest(dir_fd, step);
	if (rc < 0 && rc != -ENOENT)
		snprintf(err, errlen, "cannot list %s: %s", opt->ckpt_dir, strerror(-rc));
	close(dir_fd);
	return rc;
}

int ckpt_prune(const struct lcrd_options *opt, uint32_t keep, char *err, size_t errlen)
{
	int rc, dir_fd;
	if (keep == 0)
		return 0;
	dir_fd = open_job_dir(opt, TRUSTED_OPEN_EXISTING, err, errlen);
	if (dir_fd < 0)
		return dir_fd;
	rc = prune_in(dir_fd, opt->ckpt_dir, keep, err, errlen);
	close(dir_fd);
	return rc;
}
