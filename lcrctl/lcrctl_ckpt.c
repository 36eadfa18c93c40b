/* lcrctl_ckpt.c: listing, showing and verifying checkpoints straight from the filesystem
 * (see lcrctl_ckpt.h). Output is line-oriented and stable, for people and for grep. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lcrctl_ckpt.h"
#include "internal/ckpt_store.h"
#include "internal/manifest.h"
#include "internal/trusted_path.h"
#include "internal/util.h"

/* "2025-01-31 12:00:00" (local time) into buf. */
static const char *format_time(int64_t t, char *buf, size_t cap)
{
	time_t when = (time_t)t;
	struct tm tm;
	if (!localtime_r(&when, &tm) || strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, cap, "%" PRId64, t);
	return buf;
}

/* The checkpoint directory `which` names: a step of dir, or a path. */
static int checkpoint_path(const char *dir, const char *which, char *path, size_t cap)
{
	uint64_t step;
	if (which[0] == '/')
		return util_copy_string(path, cap, which) == 0 ? 0 : -ENAMETOOLONG;
	if (util_parse_u64(which, &step) < 0 || step == WIRE_NO_STEP) {
		fprintf(stderr, "lcrctl: '%s' is neither a step number nor the path of a "
			"checkpoint\n", which);
		return -EINVAL;
	}
	if (!dir) {
		fprintf(stderr, "lcrctl: no checkpoint directory: give --ckpt-dir=DIR, set "
			"LCR_CKPT_DIR, or name the checkpoint by its path\n");
		return -EINVAL;
	}
	return ckpt_store_path(path, cap, dir, step, false);
}

/* Reads the manifest of the checkpoint step_fd, at path. */
static int load_at(int step_fd, const char *path, struct manifest *m)
{
	char file[PATH_MAX + sizeof(MANIFEST_FILE_NAME) + 1], err[PATH_MAX + 1024];
	snprintf(file, sizeof(file), "%s/%s", path, MANIFEST_FILE_NAME);
	int rc = ckpt_store_read_manifest(step_fd, file, m, err, sizeof(err));
	if (rc == -ENOENT)
		fprintf(stderr, "lcrctl: %s is not a complete checkpoint: it has no %s\n", path,
			MANIFEST_FILE_NAME);
	else if (rc < 0)
		fprintf(stderr, "lcrctl: %s\n", err);
	return rc;
}

/* Opens the checkpoint at path as a trusted directory of the user's and reads its manifest:
 * the directory's descriptor, or -errno with the reason printed. */
static int load(const char *path, struct manifest *m)
{
	char err[PATH_MAX + 512];
	int rc, fd = trusted_dir_open(path, getuid(), TRUSTED_OPEN_EXISTING, NULL, 0, err,
				      sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "lcrctl: checkpoint %s: %s\n", path, err);
		return fd;
	}
	rc = load_at(fd, path, m);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

static void print_entry(int dir_fd, const char *dir, const struct ckpt_entry *e)
{
	char path[PATH_MAX], size[32], when[32];
	struct manifest m;
	int step_fd, rc = -1;
	if (!e->complete) {
		printf("  %-8" PRIu64 " %-10s (step-%" PRIu64 ".tmp: being written, or left by a "
		       "writer that died)\n", e->step, "incomplete", e->step);
		return;
	}
	ckpt_store_path(path, sizeof(path), dir, e->step, false);
	step_fd = e->has_manifest ? ckpt_store_open_step(dir_fd, e->step, false, NULL, 0) : -1;
	if (step_fd >= 0) {
		rc = load_at(step_fd, path, &m);
		close(step_fd);
	}
	if (rc < 0) {
		printf("  %-8" PRIu64 " %-10s (no readable manifest)\n", e->step, "damaged");
		return;
	}
	printf("  %-8" PRIu64 " %-10s %-8" PRIu32 " %-6" PRIu32 " %-7zu %-11s %s\n", e->step,
	       "complete", m.job_id, m.rank_count, m.shard_count,
	       util_format_size(manifest_total_bytes(&m), size, sizeof(size)),
	       format_time(m.created, when, sizeof(when)));
	manifest_free(&m);
}

int lcrctl_ckpt_list(const char *dir)
{
	char err[PATH_MAX + 512];
	struct ckpt_entry *entries;
	size_t count;
	int rc, dir_fd = trusted_dir_open(dir, getuid(), TRUSTED_OPEN_EXISTING, NULL, 0, err,
					  sizeof(err));
	if (dir_fd < 0) {
		fprintf(stderr, "lcrctl: cannot read checkpoint directory %s: %s\n", dir, err);
		return 1;
	}
	rc = ckpt_store_list(dir_fd, &entries, &count);
	if (rc < 0) {
		fprintf(stderr, "lcrctl: cannot read checkpoint directory %s: %s\n", dir,
			strerror(-rc));
		close(dir_fd);
		return 1;
	}
	printf("checkpoints in %s: %zu\n", dir, count);
	if (count)
		printf("  %-8s %-10s %-8s %-6s %-7s %-11s %s\n", "STEP", "STATE", "JOB", "RANKS",
		       "SHARDS", "SIZE", "CREATED");
	for (size_t i = 0; i < count; i++)
		print_entry(dir_fd, dir, &entries[i]);
	free(entries);
	close(dir_fd);
	return 0;
}

/* One region: kind, size, file, and the writers of its ranges, each once. */
static void print_region(const struct manifest *m, const struct manifest_region *r)
{
	char size[32];
	printf("    region %s %s %s file %s ranges %zu written by", r->name,
	       manifest_kind_name(r->kind), util_format_size(r->size, size, sizeof(size)), r->file,
	       r->range_count);
	for (size_t w = 0; w < m->writer_count; w++)
		for (size_t k = 0; k < r->range_count; k++)
			if (r->ranges[k].writer == w) {
				printf(" %s", m->writers[w].node);
				break;
			}
	printf("\n");
}

static void print_manifest(const char *path, const struct manifest *m)
{
	char size[32], when[32], ranks[1024];
	printf("checkpoint %s\n", path);
	printf("job %" PRIu32 " step %" PRIu64 " created %s ranks %" PRIu32 " shards %zu bytes %s "
	       "hash %s alignment %" PRIu64 "\n", m->job_id, m->step,
	       format_time(m->created, when, sizeof(when)), m->rank_count, m->shard_count,
	       util_format_size(manifest_total_bytes(m), size, sizeof(size)), MANIFEST_HASH,
	       m->alignment);
	for (size_t i = 0; i < m->shard_count; i++) {
		const struct manifest_shard *s = &m->shards[i];
		printf("  shard %s ranks %s dp_size %" PRIu32 " regions %zu\n", s->key,
		       util_format_rank_list(s->ranks, s->rank_count, ranks, sizeof(ranks)),
		       s->dp_size, s->region_count);
		for (size_t j = 0; j < s->region_count; j++)
			print_region(m, &s->regions[j]);
	}
	for (size_t w = 0; w < m->writer_count; w++)
		printf("  writer %s (node %" PRIu32 ") wrote %s in %.3f s\n", m->writers[w].node,
		       m->writers[w].node_id,
		       util_format_size(m->writers[w].bytes, size, sizeof(size)), m->writers[w].seconds);
}

int lcrctl_ckpt_show(const char *dir, const char *which)
{
	char path[PATH_MAX];
	struct manifest m;
	int fd;
	if (checkpoint_path(dir, which, path, sizeof(path)) < 0 || (fd = load(path, &m)) < 0)
		return 1;
	close(fd);
	print_manifest(path, &m);
	manifest_free(&m);
	return 0;
}

static void print_problem(void *arg, const char *problem)
{
	(void)arg;
	printf("  %s\n", problem);
}

int lcrctl_ckpt_verify(const char *dir, const char *which)
{
	char path[PATH_MAX], size[32];
	struct manifest m;
	uint64_t bytes = 0, start = util_now_ns();
	int fd;
	if (checkpoint_path(dir, which, path, sizeof(path)) < 0 || (fd = load(path, &m)) < 0)
		return 1;
	printf("verifying %s (step %" PRIu64 ", %s)\n", path, m.step,
	       util_format_size(manifest_total_bytes(&m), size, sizeof(size)));
	int problems = ckpt_store_verify(fd, &m, print_problem, NULL, &bytes);
	double seconds = (double)(util_now_ns() - start) / 1e9;
	close(fd);
	manifest_free(&m);
	if (problems < 0) {
		fprintf(stderr, "lcrctl: cannot verify %s: %s\n", path, strerror(-problems));
		return 1;
	}
	if (problems > 0) {
		printf("checkpoint %s is damaged: %d problem%s\n", path, problems,
		       problems == 1 ? "" : "s");
		return 1;
	}
	printf("checkpoint %s is intact: %s read and checked in %.3f s\n", path,
	       util_format_size(bytes, size, sizeof(size)), seconds);
	return 0;
}
