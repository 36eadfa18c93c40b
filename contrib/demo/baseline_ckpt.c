/* baseline_ckpt.c: the demo trainer's periodic checkpoint file (see baseline_ckpt.h).
 *
 * The file is a header (struct baseline_ckpt_header: magic "LCRDEMO", version 1, the step,
 * seed, parameter count and ballast bytes, an XXH3-64 of all that follows the header; host
 * byte order) followed by the weights, Adam's m and v (params floats each) and the ballast:
 * the same bytes for the same step on every run. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "baseline_ckpt.h"

#define BASELINE_CKPT_MAGIC "LCRDEMO"
#define BASELINE_CKPT_VERSION 1
#define BASELINE_CKPT_FILE "checkpoint"

struct baseline_ckpt_header {
	char magic[8];
	uint32_t version;
	uint32_t header_bytes;
	uint64_t step;
	uint64_t seed;
	uint64_t params;
	uint64_t ballast_bytes;
	uint64_t checksum;
};

static double now_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The XXH3-64 of the parts, one after another, into *sum: 0 or -ENOMEM. */
static int state_checksum(const struct baseline_state *s, uint64_t *sum)
{
	XXH3_state_t *state = XXH3_createState();

	if (!state)
		return -ENOMEM;
	XXH3_64bits_reset(state);
	for (size_t i = 0; i < s->count; i++)
		XXH3_64bits_update(state, s->part[i], s->bytes[i]);
	*sum = XXH3_64bits_digest(state);
	XXH3_freeState(state);
	return 0;
}

/* write(2) of all `bytes`: 0 or a negative errno. */
static int write_all(int fd, const void *buf, size_t bytes)
{
	for (const char *p = buf; bytes > 0;) {
		ssize_t n = write(fd, p, bytes);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n, bytes -= (size_t)n;
	}
	return 0;
}

/* read(2) of all `bytes`: 0, or a negative errno (-EIO when the file ends first). */
static int read_all(int fd, void *buf, size_t bytes)
{
	for (char *p = buf; bytes > 0;) {
		ssize_t n = read(fd, p, bytes);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n, bytes -= (size_t)n;
	}
	return 0;
}

int baseline_ckpt_save(const char *dir, const struct baseline_state *s, uint64_t step)
{
	char tmp[4096], final[4096];
	struct baseline_ckpt_header h = { .magic = BASELINE_CKPT_MAGIC, .version = BASELINE_CKPT_VERSION,
					  .header_bytes = sizeof(h), .step = step, .seed = s->seed,
					  .params = s->params, .ballast_bytes = s->ballast_bytes };
	double started = now_seconds();
	const char *what = "checksum";
	int fd = -1, dir_fd, rc;

	snprintf(tmp, sizeof(tmp), "%s/" BASELINE_CKPT_FILE ".tmp", dir);
	snprintf(final, sizeof(final), "%s/" BASELINE_CKPT_FILE, dir);
	rc = state_checksum(s, &h.checksum);
	if (rc == 0) {
		what = "create";
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			rc = -errno;
	}
	if (rc == 0) {
		what = "write";
		rc = write_all(fd, &h, sizeof(h));
		for (size_t i = 0; rc == 0 && i < s->count; i++)
			rc = write_all(fd, s->part[i], s->bytes[i]);
		if (rc == 0 && fsync(fd) < 0)
			what = "fsync", rc = -errno;
		if (close(fd) < 0 && rc == 0)
			what = "close", rc = -errno;
	}
	if (rc == 0 && rename(tmp, final) < 0)
		what = "rename", rc = -errno;
	if (rc == 0) {
		dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dir_fd >= 0) {
			fsync(dir_fd);
			close(dir_fd);
		}
	}
	if (rc < 0) {
		fprintf(stderr, "trainer: rank %u: cannot %s the checkpoint of step %" PRIu64 " at %s: %s\n",
			s->rank, what, step, tmp, strerror(-rc));
		unlink(tmp);
		return 1;
	}
	printf("trainer: rank %u: checkpoint of step %" PRIu64 " saved to %s in %.3f s\n", s->rank, step,
	       final, now_seconds() - started);
	return 0;
}

int baseline_ckpt_load(const char *dir, const struct baseline_state *s, uint64_t *first_step)
{
	char path[4096];
	struct baseline_ckpt_header h;
	uint64_t sum = 0;
	double started = now_seconds();
	const char *why = NULL;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/" BASELINE_CKPT_FILE, dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		printf("trainer: rank %u: no checkpoint at %s: training starts at step 0\n", s->rank, path);
		return 0;
	}
	if (fd < 0) {
		fprintf(stderr, "trainer: rank %u: cannot open the checkpoint %s: %s\n", s->rank, path,
			strerror(errno));
		return 1;
	}
	rc = read_all(fd, &h, sizeof(h));
	if (rc < 0)
		why = "its header cannot be read";
	else if (memcmp(h.magic, BASELINE_CKPT_MAGIC, sizeof(h.magic)) != 0 || h.version != BASELINE_CKPT_VERSION ||
		 h.header_bytes != sizeof(h))
		why = "not a version 1 checkpoint of this trainer";
	else if (h.seed != s->seed || h.params != s->params || h.ballast_bytes != s->ballast_bytes)
		why = "saved with another --seed, --state-mb or --ballast-mb";
	for (size_t i = 0; !why && i < s->count; i++)
		if (read_all(fd, s->part[i], s->bytes[i]) < 0)
			why = "it is shorter than its header says";
	if (!why && state_checksum(s, &sum) < 0)
		why = "no memory to check its checksum";
	else if (!why && sum != h.checksum)
		why = "its checksum does not match";
	close(fd);
	if (why) {
		fprintf(stderr, "trainer: rank %u: cannot load the checkpoint %s: %s\n", s->rank, path, why);
		return 1;
	}
	*first_step = h.step + 1;
	printf("trainer: rank %u resumes at step %" PRIu64 " from the checkpoint %s (step %" PRIu64
	       ", loaded in %.3f s)\n",
	       s->rank, *first_step, path, h.step, now_seconds() - started);
	return 0;
}
