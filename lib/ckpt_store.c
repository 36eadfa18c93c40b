/* ckpt_store.c: naming, listing and verifying the checkpoints of a job's checkpoint
 * directory (see ckpt_store.h). Read-only: writing, publishing and removing checkpoints is
 * lcrd's (helper/ckpt_write.c). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "internal/ckpt_store.h"
#include "internal/util.h"

#define PROBLEM_MAX 512

int ckpt_store_parse_name(const char *name, uint64_t *step, bool *tmp)
{
	char digits[24];
	size_t prefix = strlen(CKPT_STEP_PREFIX), n;
	if (strncmp(name, CKPT_STEP_PREFIX, prefix) != 0)
		return -EINVAL;
	name += prefix;
	n = strspn(name, "0123456789");
	if (n == 0 || n >= sizeof(digits) || (n > 1 && name[0] == '0'))
		return -EINVAL;
	if (name[n] != '\0' && strcmp(name + n, CKPT_TMP_SUFFIX) != 0)
		return -EINVAL;
	memcpy(digits, name, n);
	digits[n] = '\0';
	*tmp = name[n] != '\0';
	return util_parse_u64(digits, step) == 0 && *step != WIRE_NO_STEP ? 0 : -EINVAL;
}

int ckpt_store_path(char *buf, size_t cap, const char *dir, uint64_t step, bool tmp)
{
	int n = snprintf(buf, cap, "%s/" CKPT_STEP_PREFIX "%" PRIu64 "%s", dir, step,
			 tmp ? CKPT_TMP_SUFFIX : "");
	return n >= 0 && (size_t)n < cap ? 0 : -ENAMETOOLONG;
}

static int compare_entries(const void *a, const void *b)
{
	const struct ckpt_entry *x = a, *y = b;
	if (x->step != y->step)
		return x->step < y->step ? -1 : 1;
	return (int)y->complete - (int)x->complete;
}

static bool has_manifest(int dir_fd, const char *name)
{
	char path[NAME_MAX + sizeof(MANIFEST_FILE_NAME) + 2];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", name, MANIFEST_FILE_NAME);
	return fstatat(dir_fd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

int ckpt_store_list(const char *dir, struct ckpt_entry **out, size_t *count)
{
	struct ckpt_entry *entries = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	int rc = 0;
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		struct ckpt_entry entry;
		bool tmp;
		if (ckpt_store_parse_name(e->d_name, &entry.step, &tmp) < 0)
			continue;
		entry.complete = !tmp;
		entry.has_manifest = has_manifest(dirfd(d), e->d_name);
		if (n == cap) {
			struct ckpt_entry *grown = realloc(entries, (cap * 2 + 8) * sizeof(*grown));
			if (!grown) {
				rc = -ENOMEM;
				goto out;
			}
			entries = grown;
			cap = cap * 2 + 8;
		}
		entries[n++] = entry;
	}
	qsort(entries, n, sizeof(*entries), compare_entries);
out:
	closedir(d);
	if (rc < 0) {
		free(entries);
		return rc;
	}
	*out = entries;
	*count = n;
	return 0;
}

int ckpt_store_newest(const char *dir, uint64_t *step)
{
	struct ckpt_entry *entries;
	size_t count;
	int rc = ckpt_store_list(dir, &entries, &count);
	if (rc < 0)
		return rc;
	rc = -ENOENT;
	for (size_t i = count; i-- > 0;) {
		if (entries[i].complete && entries[i].has_manifest) {
			*step = entries[i].step;
			rc = 0;
			break;
		}
	}
	free(entries);
	return rc;
}

/* --- verification --- */

static void report_problem(ckpt_problem_fn *report, void *arg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void report_problem(ckpt_problem_fn *report, void *arg, const char *fmt, ...)
{
	char problem[PROBLEM_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(problem, sizeof(problem), fmt, ap);
	va_end(ap);
	report(arg, problem);
}

/* Opens a data file of the checkpoint read-only: the descriptor or -errno. */
static int open_data_file(const char *path, const struct manifest_region *r)
{
	char file[PATH_MAX];
	if (snprintf(file, sizeof(file), "%s/%s", path, r->file) >= (int)sizeof(file))
		return -ENAMETOOLONG;
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	return fd < 0 ? -errno : fd;
}

/* Reports what is wrong with one data file's presence, type and size; true when it is
 * fine. */
static bool check_file(const char *path, const struct manifest_region *r,
		       ckpt_problem_fn *report, void *arg)
{
	struct stat st;
	int fd = open_data_file(path, r);
	if (fd < 0) {
		report_problem(report, arg, "file %s: %s", r->file,
			       fd == -ENOENT ? "missing" : strerror(-fd));
		return false;
	}
	int rc = fstat(fd, &st);
	close(fd);
	if (rc < 0 || !S_ISREG(st.st_mode)) {
		report_problem(report, arg, "file %s: not a regular file", r->file);
		return false;
	}
	if ((uint64_t)st.st_size < r->size) {
		report_problem(report, arg, "file %s: truncated at offset %" PRIu64 ": %" PRIu64
			       " of %" PRIu64 " bytes", r->file, (uint64_t)st.st_size,
			       (uint64_t)st.st_size, r->size);
		return false;
	}
	if ((uint64_t)st.st_size > r->size) {
		report_problem(report, arg, "file %s: %" PRIu64 " bytes past offset %" PRIu64
			       ", where the region ends", r->file, (uint64_t)st.st_size - r->size,
			       r->size);
		return false;
	}
	return true;
}

int ckpt_store_check_files(const char *path, const struct manifest *m, ckpt_problem_fn *report,
			   void *arg)
{
	int problems = 0;
	for (size_t i = 0; i < m->shard_count; i++)
		for (size_t j = 0; j < m->shards[i].region_count; j++)
			problems += !check_file(path, &m->shards[i].regions[j], report, arg);
	return problems;
}

int ckpt_store_read_range(int fd, const struct manifest_range *g, void *buf, size_t cap,
			  ckpt_sink_fn *sink, void *arg, uint64_t *hash, uint64_t *short_at)
{
	XXH3_state_t *state = XXH3_createState();
	uint64_t done = 0;
	int rc = 0;
	if (!state)
		return -ENOMEM;
	XXH3_64bits_reset(state);
	while (done < g->length) {
		size_t want = g->length - done < cap ? (size_t)(g->length - done) : cap;
		ssize_t n = pread(fd, buf, want, (off_t)(g->offset + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0) {
			*short_at = g->offset + done;
			rc = -ENODATA;
			goto out;
		}
		XXH3_64bits_update(state, buf, (size_t)n);
		if (sink && (rc = sink(arg, g->offset + done, buf, (size_t)n)) < 0)
			goto out;
		done += (uint64_t)n;
	}
	*hash = XXH3_64bits_digest(state);
out:
	XXH3_freeState(state);
	return rc;
}

void ckpt_store_describe_mismatch(char *buf, size_t cap, const struct manifest *m,
				  const struct manifest_region *r, const struct manifest_range *g,
				  uint64_t found)
{
	snprintf(buf, cap, "file %s: offset %" PRIu64 ": %" PRIu64 " bytes written by %s do not "
		 "match their XXH3 hash (manifest %016" PRIx64 ", data %016" PRIx64 ")", r->file,
		 g->offset, g->length, m->writers[g->writer].node, g->xxh3, found);
}

/* Hashes every range of one (present, full-size) data file. */
static int verify_file(const char *path, const struct manifest *m,
		       const struct manifest_region *r, void *buf, ckpt_problem_fn *report,
		       void *arg, uint64_t *bytes)
{
	char problem[PROBLEM_MAX];
	int problems = 0, fd = open_data_file(path, r);
	if (fd < 0) {
		report_problem(report, arg, "file %s: %s", r->file, strerror(-fd));
		return 1;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (size_t k = 0; k < r->range_count; k++) {
		const struct manifest_range *g = &r->ranges[k];
		uint64_t hash = 0, short_at = 0;
		int rc = ckpt_store_read_range(fd, g, buf, CKPT_IO_CHUNK, NULL, NULL, &hash, &short_at);
		if (rc == -ENODATA) {
			report_problem(report, arg, "file %s: truncated at offset %" PRIu64, r->file,
				       short_at);
			problems++;
			break;
		}
		if (rc < 0) {
			report_problem(report, arg, "file %s: cannot read at offset %" PRIu64 ": %s",
				       r->file, g->offset, strerror(-rc));
			problems++;
			break;
		}
		*bytes += g->length;
		if (hash != g->xxh3) {
			ckpt_store_describe_mismatch(problem, sizeof(problem), m, r, g, hash);
			report(arg, problem);
			problems++;
		}
	}
	close(fd);
	return problems;
}

int ckpt_store_verify(const char *path, const struct manifest *m, ckpt_problem_fn *report,
		      void *arg, uint64_t *bytes)
{
	void *buf = NULL;
	int problems = 0;
	*bytes = 0;
	if (posix_memalign(&buf, 4096, CKPT_IO_CHUNK) != 0)
		return -ENOMEM;
	for (size_t i = 0; i < m->shard_count; i++) {
		for (size_t j = 0; j < m->shards[i].region_count; j++) {
			const struct manifest_region *r = &m->shards[i].regions[j];
			if (!check_file(path, r, report, arg))
				problems++;
			else
				problems += verify_file(path, m, r, buf, report, arg, bytes);
		}
	}
	free(buf);
	return problems;
}
