/* ckpt_store.c: naming, listing and verifying the checkpoints of a job's checkpoint
 * directory (see ckpt_store.h). Read-only: writing, publishing and removing checkpoints is
 * lcrd's (helper/services/ckpt_write.c). */
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
#include "internal/trusted_path.h"
#include "internal/util.h"
#include "internal/xxh3_stream.h"

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

int ckpt_store_name(char *buf, size_t cap, uint64_t step, bool tmp)
{
	int n = snprintf(buf, cap, CKPT_STEP_PREFIX "%" PRIu64 "%s", step, tmp ? CKPT_TMP_SUFFIX : "");
	return n >= 0 && (size_t)n < cap ? 0 : -ENAMETOOLONG;
}

/* A checkpoint counts only when its directory and manifest are the user's own: anything
 * another user put there is ignored. */
static bool has_own_manifest(int dir_fd, const char *name)
{
	int step_fd = trusted_open_at(dir_fd, name, O_RDONLY | O_DIRECTORY, geteuid(), name, NULL, 0);
	int fd = step_fd < 0 ? -1 : trusted_open_at(step_fd, MANIFEST_FILE_NAME, O_RDONLY, geteuid(),
						    name, NULL, 0);
	if (fd >= 0)
		close(fd);
	if (step_fd >= 0)
		close(step_fd);
	return fd >= 0;
}

int ckpt_store_list(int dir_fd, struct ckpt_entry **out, size_t *count)
{
	struct ckpt_entry *entries = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	int rc = 0, fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	while ((e = readdir(d))) {
		struct ckpt_entry entry;
		bool tmp;
		if (ckpt_store_parse_name(e->d_name, &entry.step, &tmp) < 0)
			continue;
		entry.complete = !tmp;
		entry.has_manifest = has_own_manifest(dirfd(d), e->d_name);
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
	if (n > 1) /* qsort of no array: entries is NULL when the directory holds none */
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

int ckpt_store_newest(int dir_fd, uint64_t *step)
{
	struct ckpt_entry *entries;
	size_t count;
	int rc = ckpt_store_list(dir_fd, &entries, &count);
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

int ckpt_store_open_step(int dir_fd, uint64_t step, bool tmp, char *err, size_t errlen)
{
	char name[32];
	ckpt_store_name(name, sizeof(name), step, tmp);
	return trusted_open_at(dir_fd, name, O_RDONLY | O_DIRECTORY, geteuid(), name, err, errlen);
}

int ckpt_store_read_manifest(int step_fd, const char *path, struct manifest *m, char *err,
			     size_t errlen)
{
	char why[256];
	int rc, fd = trusted_open_at(step_fd, MANIFEST_FILE_NAME, O_RDONLY, geteuid(),
				     MANIFEST_FILE_NAME, why, sizeof(why));
	if (fd < 0) {
		memset(m, 0, sizeof(*m));
		snprintf(err, errlen, "%s: %s", path, why);
		return fd;
	}
	rc = manifest_read_fd(fd, path, m, err, errlen);
	close(fd);
	return rc;
}

int ckpt_store_open_data(int step_fd, const char *file, char *err, size_t errlen)
{
	char what[MANIFEST_FILE_MAX + 16];
	snprintf(what, sizeof(what), "file %s", file);
	return trusted_open_at(step_fd, file, O_RDONLY, geteuid(), what, err, errlen);
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

/* Reports what is wrong with one data file's presence, type and size; true when it is
 * fine. */
static bool check_file(int step_fd, const struct manifest_region *r, ckpt_problem_fn *report,
		       void *arg)
{
	char why[PROBLEM_MAX];
	struct stat st;
	int fd = ckpt_store_open_data(step_fd, r->file, why, sizeof(why));
	if (fd < 0) {
		if (fd == -ENOENT)
			report_problem(report, arg, "file %s: missing", r->file);
		else
			report(arg, why);
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

int ckpt_store_check_files(int step_fd, const struct manifest *m, ckpt_problem_fn *report,
			   void *arg)
{
	int problems = 0;
	for (size_t i = 0; i < m->shard_count; i++)
		for (size_t j = 0; j < m->shards[i].region_count; j++)
			problems += !check_file(step_fd, &m->shards[i].regions[j], report, arg);
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
		xxh3_stream_update(state, buf, (size_t)n);
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
static int verify_file(int step_fd, const struct manifest *m, const struct manifest_region *r,
		       void *buf, ckpt_problem_fn *report, void *arg, uint64_t *bytes)
{
	char problem[PROBLEM_MAX];
	int problems = 0, fd = ckpt_store_open_data(step_fd, r->file, problem, sizeof(problem));
	if (fd < 0) {
		report(arg, problem);
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

int ckpt_store_verify(int step_fd, const struct manifest *m, ckpt_problem_fn *report,
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
			if (!check_file(step_fd, r, report, arg))
				problems++;
			else
				problems += verify_file(step_fd, m, r, buf, report, arg, bytes);
		}
	}
	free(buf);
	return problems;
}
