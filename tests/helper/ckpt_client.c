/* ckpt_client.c: a rank, as the checkpoint tests (tests/helper/ckpt_*.sh) drive it. Each
 * subcommand registers rank RANK (shard key "shard<RANK % 2>", data-parallel size 2 or
 * $CKPT_CLIENT_DP_SIZE, unless told otherwise) with the helper at $LCR_SOCKET, does one
 * thing, and reports on
 * stdout; the exit status is 0 on success, 1 on failure, 2 on bad usage.
 *
 *   fill RANK NAME SIZE SEED STEP    allocate (or reattach) NAME, then one update of STEP
 *                                    that writes a pattern of SEED into it
 *   commit RANK STEP                 one update of STEP that changes nothing
 *   flip RANK NAME SIZE OFFSET STEP  reattach NAME, then one update of STEP that flips the
 *                                    bits of the byte at OFFSET (a replica gone astray)
 *   commit-when RANK STEP PATH       wait until PATH exists, then one update of STEP
 *   tear RANK NAME STEP              begin an update of STEP, scribble over NAME, and
 *                                    hold (never end it) until killed
 *   abandon RANK NAME STEP           as a rank of train (shard key "own<RANK>"): begin an
 *                                    update of STEP, scribble over NAME, give the update
 *                                    up (lcr_update_abandon), say so, and hold until killed
 *   update-for RANK STEP MS          begin an update of STEP, say so, end it MS ms later
 *   update-until RANK STEP PATH      as a rank of train (shard key "own<RANK>"): begin an
 *                                    update of STEP, say so, end it once PATH exists
 *   begin-in-rollback RANK NAME STEP as a rank of train: wait for a REPLACING event, then
 *                                    try to begin an update of STEP every 20 ms (for at
 *                                    most 60 s), saying so at the first refusal. Once the
 *                                    rollback is over, STEP is refused again (-ESTALE: the
 *                                    rank did not ask lcr_resume_step), which it prints
 *                                    with lcr_last_error; it then asks lcr_resume_step and
 *                                    begins the step after it, prints how many were refused
 *                                    and the committed step region NAME shows, and ends it
 *   restore RANK NAME SIZE SEED      allocate NAME and check it holds the pattern of SEED;
 *                                    print the resume step
 *   alloc RANK NAME SIZE             allocate NAME; print the error when it fails
 *   register RANK SHARD DP_SIZE      register with that shard key and size
 *   checkpoint RANK                  lcr_checkpoint: ask for a checkpoint and wait
 *   signal RANK                      lcr_checkpoint_on_signal(SIGUSR1), then raise SIGUSR1
 *                                    and live on
 *   train RANK NAME SIZE FROM TO MS  a rank of sharded state (shard key "own<RANK>", no
 *                                    replica): allocate NAME, then one update per step
 *                                    FROM..TO that writes the pattern of seed STEP into it,
 *                                    printing "step S xxh3 H" (the region's XXH3-64 once
 *                                    committed), MS ms apart (0: updating all the time),
 *                                    and "event PROTECTED <message>" for each such event
 *                                    (until 1 s after the last step)
 *   resume RANK NAME SIZE SEED       as a rank of train (shard key "own<RANK>"): allocate
 *                                    (or reattach) NAME, check it holds the pattern of SEED,
 *                                    print the resume step and the region's committed step
 *
 * With CKPT_CLIENT_REGION_KIND=cuda, the regions are CUDA regions (on the device of the
 * current context, else device 0), read and written through the CUDA driver, device to
 * host and back: on a GPU (tests/gpu/snapshot.sh) or under the stand-in driver
 * (tests/helper/fake_libcuda.c).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "internal/cuda_driver.h"
#include "internal/util.h"
#include "lcr.h"

/* The kind of the regions this rank allocates: host, or CUDA (CKPT_CLIENT_REGION_KIND). */
static enum lcr_region_kind region_kind(void)
{
	const char *kind = getenv("CKPT_CLIENT_REGION_KIND");
	return kind && strcmp(kind, "cuda") == 0 ? LCR_REGION_CUDA : LCR_REGION_HOST;
}

static int failed(lcr_session_t *s, const char *what, int rc)
{
	printf("error %s: %s (%d): %s\n", what, lcr_strerror(rc), rc, lcr_last_error(s));
	lcr_close(s);
	return 1;
}

static int open_as(uint32_t rank, const char *shard, uint32_t dp_size, lcr_session_t **s)
{
	char key[32];
	const char *dp_env = getenv("CKPT_CLIENT_DP_SIZE");
	snprintf(key, sizeof(key), "shard%u", rank % 2);
	if (!shard && dp_env && util_parse_u32(dp_env, &dp_size) < 0) {
		printf("error CKPT_CLIENT_DP_SIZE=%s: not a number\n", dp_env);
		return -EINVAL;
	}
	struct lcr_rank_info me = { .global_rank = rank, .dp_index = rank / 2,
				    .dp_size = dp_size, .shard_key = shard ? shard : key };
	int rc = lcr_open(NULL, s);
	if (rc < 0) {
		printf("error open: %s\n", lcr_strerror(rc));
		return rc;
	}
	rc = lcr_register(*s, &me);
	if (rc < 0)
		failed(*s, "register", rc);
	return rc;
}

/* xorshift64 words seeded per region: the same as lcr_test_client's. */
static uint64_t pattern_word(uint64_t seed, uint64_t index)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + index + 1;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

static void fill(uint8_t *p, uint64_t size, uint64_t seed)
{
	for (uint64_t i = 0; i < size; i += 8) {
		uint64_t w = pattern_word(seed, i / 8);
		memcpy(p + i, &w, size - i < 8 ? size - i : 8);
	}
}

static int verify(const uint8_t *p, uint64_t size, uint64_t seed)
{
	for (uint64_t i = 0; i < size; i += 8) {
		uint64_t w = pattern_word(seed, i / 8);
		if (memcmp(p + i, &w, size - i < 8 ? size - i : 8) != 0) {
			printf("mismatch at byte %" PRIu64 "\n", i);
			return 1;
		}
	}
	return 0;
}

/* --- the region's bytes, host or device --- */

#ifdef HAVE_CUDA
static const struct cuda_driver *cu;
#endif

/* A host buffer of the region's `size` bytes at p, to read (its bytes copied from the
 * device first, when `read`) or to write (then region_bytes_done): p itself for a host
 * region. Exits on failure. */
static uint8_t *region_bytes(void *p, uint64_t size, bool read)
{
	if (region_kind() == LCR_REGION_HOST)
		return p;
#ifdef HAVE_CUDA
	char err[256];
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf || (!cu && cuda_driver_load(&cu, err, sizeof(err)) < 0)) {
		fprintf(stderr, "ckpt_client: %s\n", buf ? err : "out of memory");
		exit(1);
	}
	CUresult res = read ? cu->cuMemcpyDtoH(buf, (CUdeviceptr)(uintptr_t)p, size) : CUDA_SUCCESS;
	if (res != CUDA_SUCCESS) {
		fprintf(stderr, "ckpt_client: cuMemcpyDtoH: %s\n", cuda_result_name(cu, res));
		exit(1);
	}
	return buf;
#else
	(void)size;
	(void)read;
	fprintf(stderr, "ckpt_client: built without CUDA: no CUDA regions\n");
	exit(2);
#endif
}

/* The buffer of region_bytes is done with: its bytes written to the device first, when
 * `written`. Exits on failure. */
static void region_bytes_done(void *p, uint8_t *buf, uint64_t size, bool written)
{
	if (buf == p)
		return;
#ifdef HAVE_CUDA
	CUresult res = written ? cu->cuMemcpyHtoD((CUdeviceptr)(uintptr_t)p, buf, size)
			       : CUDA_SUCCESS;
	if (res != CUDA_SUCCESS) {
		fprintf(stderr, "ckpt_client: cuMemcpyHtoD: %s\n", cuda_result_name(cu, res));
		exit(1);
	}
#else
	(void)size;
	(void)written;
#endif
	free(buf);
}

/* The pattern of seed written into the region at p. */
static void region_fill(void *p, uint64_t size, uint64_t seed)
{
	uint8_t *buf = region_bytes(p, size, false);
	fill(buf, size, seed);
	region_bytes_done(p, buf, size, true);
}

/* 0 when the region at p holds the pattern of seed, else 1 (saying where it differs). */
static int region_verify(void *p, uint64_t size, uint64_t seed)
{
	uint8_t *buf = region_bytes(p, size, true);
	int rc = verify(buf, size, seed);
	region_bytes_done(p, buf, size, false);
	return rc;
}

static uint64_t region_xxh3(void *p, uint64_t size)
{
	uint8_t *buf = region_bytes(p, size, true);
	uint64_t h = XXH3_64bits(buf, size);
	region_bytes_done(p, buf, size, false);
	return h;
}

static int cmd_fill(int argc, char **argv)
{
	uint32_t rank;
	uint64_t size, seed, step;
	lcr_session_t *s;
	void *p;
	int rc;
	if (argc != 5 || util_parse_u32(argv[0], &rank) || util_parse_size(argv[2], &size) ||
	    util_parse_u64(argv[3], &seed) || util_parse_u64(argv[4], &step))
		return 2;
	if (open_as(rank, NULL, 2, &s) < 0)
		return 1;
	if ((rc = lcr_region_alloc(s, argv[1], size, region_kind(), -1, &p)) < 0)
		return failed(s, "alloc", rc);
	lcr_update_begin(s, step);
	region_fill(p, size, seed);
	if ((rc = lcr_update_end(s, step)) < 0)
		return failed(s, "update_end", rc);
	printf("filled %s of rank %u with seed %" PRIu64 ", committed step %" PRIu64 "\n", argv[1],
	       rank, seed, step);
	lcr_close(s);
	return 0;
}

static int cmd_commit(int argc, char **argv)
{
	uint32_t rank;
	uint64_t step;
	lcr_session_t *s;
	int rc;
	if (argc != 2 || util_parse_u32(argv[0], &rank) || util_parse_u64(argv[1], &step))
		return 2;
	if (open_as(rank, NULL, 2, &s) < 0)
		return 1;
	lcr_update_begin(s, step);
	if ((rc = lcr_update_end(s, step)) < 0)
		return failed(s, "update_end", rc);
	printf("rank %u committed step %" PRIu64 "\n", rank, step);
	lcr_close(s);
	return 0;
}

static int cmd_flip(int argc, char **argv)
{
	uint32_t rank;
	uint64_t size, offset, step;
	lcr_session_t *s;
	void *p;
	int rc;
	if (argc != 5 || util_parse_u32(argv[0], &rank) || util_parse_size(argv[2], &size) ||
	    util_parse_u64(argv[3], &offset) || util_parse_u64(argv[4], &step) || offset >= size)
		return 2;
	if (open_as(rank, NULL, 2, &s) < 0)
		return 1;
	if ((rc = lcr_region_alloc(s, argv[1], size, region_kind(), -1, &p)) < 0)
		return failed(s, "alloc", rc);
	lcr_update_begin(s, step);
	uint8_t *bytes = region_bytes(p, size, true);
	bytes[offset] ^= 0xff;
	region_bytes_done(p, bytes, size, true);
	if ((rc = lcr_update_end(s, step)) < 0)
		return failed(s, "update_end", rc);
	printf("flipped byte %" PRIu64 " of %s of rank %u, committed step %" PRIu64 "\n", offset,
	       argv[1], rank, step);
	lcr_close(s);
	return 0;
}

static int cmd_commit_when(int argc, char **argv)
{
	uint32_t rank;
	uint64_t step;
	lcr_session_t *s;
	int rc;
	if (argc != 3 || util_parse_u32(argv[0], &rank) || util_parse_u64(argv[1], &step))
		return 2;
	if (open_as(rank, NULL, 2, &s) < 0)
		return 1;
	printf("waiting for %s\n", argv[2]);
	while (access(argv[2], F_OK) != 0)
		usleep(500);
	lcr_update_begin(s, step);
	if ((rc = lcr_update_end(s, step)) < 0)
		return failed(s, "update_end", rc);
	printf("rank %u committed step %" PRIu64 " while %s was being written\n", rank, step,
	       argv[2]);
	lcr_close(s);
	return 0;
}

static int cmd_update_for(int argc, char **argv)
{
	uint32_t rank, ms;
	uint64_t step;
	lcr_session_t *s;
	int rc;
	if (argc != 3 || util_parse_u32(argv[0], &rank) || util_parse_u64(argv[1], &step) ||
	    util_parse_u32(argv[2], &ms))
		return 2;
	if (open_as(rank, NULL, 2, &s) < 0)
		return 1;
	lcr_update_begin(s, step);
	printf("rank %u updating step %" PRIu64 " for %u ms\n", rank, step, ms);
	fflush(stdout);
	usleep((useconds_t)ms * 1000);
	if ((rc = lcr_update_end(s, step)) < 0)
		return failed(s, "update_end", rc);
	printf("rank %u committed step %" PRIu64 "\n", rank, step);
	lcr_close(s);
	return 0;
}

/* Prints the PROTECTED events that came. */
static void print_protected_events(lcr_session_t *s)
{
	struct lcr_event ev;
	while (lcr_event_next(s, &ev) == 0)
		if (ev.type == LCR_EVENT_PROTECTED)
			printf("event PROTECTED %s\n", ev.message);
}

static int cmd_train(int argc, char **argv)
{
	uint32_t rank, ms;
	uint64_t size, from, to;
	char key[32];
	lcr_session_t *s;
	void *p;
	int rc;
	if (argc != 6 || util_parse_u32(argv[0], &rank) || util_parse_size(argv[2], &size) ||
	    util_parse_u64(argv[3], &from) || util_parse_u64(argv[4], &to) ||
	    util_parse_u32(argv[5], &ms))
		return 2;
	snprintf(key, sizeof(key), "own%u", rank);
	if (open_as(rank, key, 1, &s) < 0)
		return 1;
	if ((rc = lcr_region_alloc(s, argv[1], size, region_kind(), -1, &p)) < 0)
		return failed(s, "alloc", rc);
	for (uint64_t step = from; step <= to; step++) {
		lcr_update_begin(s, step);
		region_fill(p, size, step);
		if ((rc = lcr_update_end(s, step)) < 0)
			return failed(s, "update_end", rc);
		printf("step %" PRIu64 " xxh3 %016" PRIx64 "\n", step, region_xxh3(p, size));
		print_protected_events(s);
		fflush(stdout);
		if (ms)
			usleep((useconds_t)ms * 1000);
	}
	for (int i = 0; i < 20; i++) {
		usleep(50000);
		print_protected_events(s);
	}
	fflush(stdout);
	lcr_close(s);
	return 0;
}

static int cmd_tear(int argc, char **argv)
{
	uint32_t rank;
	uint64_t step;
	lcr_session_t *s;
	struct lcr_region info;
	int rc;
	if (argc != 3 || util_parse_u32(argv[0], &rank) || util_parse_u64(argv[2], &step))
		return 2;
	if (open_as(rank, NULL, 2, &s) < 0)
		return 1;
	if ((rc = lcr_region_lookup(s, argv[1], &info)) < 0)
		return failed(s, "lookup", rc);
	lcr_update_begin(s, step);
	uint8_t *bytes = region_bytes(info.ptr, info.size, true);
	memset(bytes, 0xee, info.size / 2);
	region_bytes_done(info.ptr, bytes, info.size, true);
	printf("holding rank %u in the middle of step %" PRIu64 "\n", rank, step);
	fflush(stdout);
	for (;;)
		pause();
}

static int cmd_abandon(int argc, char **argv)
{
	uint32_t rank;
	uint64_t step;
	char key[32];
	lcr_session_t *s;
	struct lcr_region info;
	int rc;
	if (argc != 3 || util_parse_u32(argv[0], &rank) || util_parse_u64(argv[2], &step))
		return 2;
	snprintf(key, sizeof(key), "own%u", rank);
	if (open_as(rank, key, 1, &s) < 0)
		return 1;
	if ((rc = lcr_region_lookup(s, argv[1], &info)) < 0)
		return failed(s, "lookup", rc);
	if ((rc = lcr_update_begin(s, step)) < 0)
		return failed(s, "update_begin", rc);
	uint8_t *bytes = region_bytes(info.ptr, info.size, true);
	memset(bytes, 0xee, info.size / 2);
	region_bytes_done(info.ptr, bytes, info.size, true);
	if ((rc = lcr_update_abandon(s, step)) < 0)
		return failed(s, "update_abandon", rc);
	printf("rank %u gave the update of step %" PRIu64 " up\n", rank, step);
	fflush(stdout);
	for (;;)
		pause();
}

static int cmd_restore(int argc, char **argv)
{
	uint32_t rank;
	uint64_t size, seed, step;
	lcr_session_t *s;
	void *p;
	int rc;
	if (argc != 4 || util_parse_u32(argv[0], &rank) || util_parse_size(argv[2], &size) ||
	    util_parse_u64(argv[3], &seed))
		return 2;
	if (open_as(rank, NULL, 2, &s) < 0)
		return 1;
	if ((rc = lcr_region_alloc(s, argv[1], size, region_kind(), -1, &p)) < 0)
		return failed(s, "alloc", rc);
	if ((rc = lcr_resume_step(s, &step)) < 0)
		return failed(s, "resume_step", rc);
	if (region_verify(p, size, seed)) {
		lcr_close(s);
		return 1;
	}
	if (step == LCR_NO_STEP)
		printf("restored %s intact, resume step none\n", argv[1]);
	else
		printf("restored %s intact, resume step %" PRIu64 "\n", argv[1], step);
	lcr_close(s);
	return 0;
}

static const char *step_text(uint64_t step, char *buf, size_t cap)
{
	if (step == LCR_NO_STEP)
		snprintf(buf, cap, "none");
	else
		snprintf(buf, cap, "%" PRIu64, step);
	return buf;
}

static int cmd_resume(int argc, char **argv)
{
	uint32_t rank;
	uint64_t size, seed, step;
	struct lcr_region info;
	char key[32], committed[24], resumed[24];
	lcr_session_t *s;
	void *p;
	int rc;
	if (argc != 4 || util_parse_u32(argv[0], &rank) || util_parse_size(argv[2], &size) ||
	    util_parse_u64(argv[3], &seed))
		return 2;
	snprintf(key, sizeof(key), "own%u", rank);
	if (open_as(rank, key, 1, &s) < 0)
		return 1;
	if ((rc = lcr_region_alloc(s, argv[1], size, region_kind(), -1, &p)) < 0)
		return failed(s, "alloc", rc);
	if ((rc = lcr_resume_step(s, &step)) < 0)
		return failed(s, "resume_step", rc);
	if ((rc = lcr_region_lookup(s, argv[1], &info)) < 0)
		return failed(s, "lookup", rc);
	if (region_verify(p, size, seed)) {
		lcr_close(s);
		return 1;
	}
	printf("%s holds step %" PRIu64 ", committed step %s, resume step %s\n", argv[1], seed,
	       step_text(info.committed_step, committed, sizeof(committed)),
	       step_text(step, resumed, sizeof(resumed)));
	lcr_close(s);
	return 0;
}

static int cmd_alloc(int argc, char **argv)
{
	uint32_t rank;
	uint64_t size;
	lcr_session_t *s;
	void *p;
	int rc;
	if (argc != 3 || util_parse_u32(argv[0], &rank) || util_parse_size(argv[2], &size))
		return 2;
	if (open_as(rank, NULL, 2, &s) < 0)
		return 1;
	if ((rc = lcr_region_alloc(s, argv[1], size, region_kind(), -1, &p)) < 0)
		return failed(s, "alloc", rc);
	printf("allocated %s\n", argv[1]);
	lcr_close(s);
	return 0;
}

static int cmd_register(int argc, char **argv)
{
	uint32_t rank, dp_size;
	lcr_session_t *s;
	if (argc != 3 || util_parse_u32(argv[0], &rank) || util_parse_u32(argv[2], &dp_size))
		return 2;
	if (open_as(rank, argv[1], dp_size, &s) < 0)
		return 1;
	printf("registered rank %u\n", rank);
	lcr_close(s);
	return 0;
}

static int cmd_checkpoint(int argc, char **argv)
{
	uint32_t rank;
	uint64_t step;
	lcr_session_t *s;
	int rc;
	if (argc != 1 || util_parse_u32(argv[0], &rank))
		return 2;
	if (open_as(rank, NULL, 2, &s) < 0)
		return 1;
	if ((rc = lcr_checkpoint(s, &step)) < 0)
		return failed(s, "checkpoint", rc);
	printf("checkpoint of step %" PRIu64 " saved\n", step);
	lcr_close(s);
	return 0;
}

static int cmd_signal(int argc, char **argv)
{
	uint32_t rank;
	lcr_session_t *s;
	int rc;
	if (argc != 1 || util_parse_u32(argv[0], &rank))
		return 2;
	if (open_as(rank, NULL, 2, &s) < 0)
		return 1;
	if ((rc = lcr_checkpoint_on_signal(s, SIGUSR1)) < 0)
		return failed(s, "checkpoint_on_signal", rc);
	raise(SIGUSR1);
	printf("rank %u raised SIGUSR1 and lives on\n", rank);
	lcr_close(s);
	return 0;
}

static int open_as_trainer(uint32_t rank, lcr_session_t **s)
{
	char key[32];
	snprintf(key, sizeof(key), "own%u", rank);
	return open_as(rank, key, 1, s);
}

static int cmd_update_until(int argc, char **argv)
{
	uint32_t rank;
	uint64_t step;
	lcr_session_t *s;
	int rc;
	if (argc != 3 || util_parse_u32(argv[0], &rank) || util_parse_u64(argv[1], &step))
		return 2;
	if (open_as_trainer(rank, &s) < 0)
		return 1;
	if ((rc = lcr_update_begin(s, step)) < 0)
		return failed(s, "update_begin", rc);
	printf("rank %u updating step %" PRIu64 " until %s exists\n", rank, step, argv[2]);
	fflush(stdout);
	while (access(argv[2], F_OK) != 0)
		usleep(10000);
	if ((rc = lcr_update_end(s, step)) < 0)
		return failed(s, "update_end", rc);
	printf("rank %u committed step %" PRIu64 "\n", rank, step);
	lcr_close(s);
	return 0;
}

/* Waits (at most 60 s) for a REPLACING event: 0, or -ETIMEDOUT. */
static int wait_replacing(lcr_session_t *s)
{
	struct lcr_event ev;
	for (int i = 0; i < 6000; i++) {
		while (lcr_event_next(s, &ev) == 0)
			if (ev.type == LCR_EVENT_REPLACING)
				return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

static int cmd_begin_in_rollback(int argc, char **argv)
{
	uint32_t rank, refused = 0;
	uint64_t step, resume;
	struct lcr_region info;
	char committed[24];
	lcr_session_t *s;
	int rc;
	if (argc != 3 || util_parse_u32(argv[0], &rank) || util_parse_u64(argv[2], &step))
		return 2;
	if (open_as_trainer(rank, &s) < 0)
		return 1;
	printf("rank %u waits for REPLACING\n", rank);
	if ((rc = wait_replacing(s)) < 0)
		return failed(s, "waiting for REPLACING", rc);
	usleep(200000); /* the helper claims the pages as the event comes */
	while ((rc = lcr_update_begin(s, step)) == -EINPROGRESS && refused < 3000) {
		if (refused++ == 0)
			printf("update_begin of step %" PRIu64 " refused: %s\n", step, lcr_strerror(rc));
		usleep(20000);
	}
	if (rc != -ESTALE)
		return failed(s, "update_begin after the rollback (-ESTALE expected)", rc);
	printf("update_begin of step %" PRIu64 " after the rollback: %s\n", step, lcr_last_error(s));
	if ((rc = lcr_resume_step(s, &resume)) < 0 || resume == LCR_NO_STEP)
		return failed(s, "resume_step", rc < 0 ? rc : -ENODATA);
	step = resume + 1;
	if ((rc = lcr_update_begin(s, step)) < 0)
		return failed(s, "update_begin after lcr_resume_step", rc);
	if ((rc = lcr_region_lookup(s, argv[1], &info)) < 0)
		return failed(s, "lookup", rc);
	printf("resume step %" PRIu64 "; update_begin of step %" PRIu64 " began after %u refusals, "
	       "committed step %s\n", resume, step, refused,
	       step_text(info.committed_step, committed, sizeof(committed)));
	if ((rc = lcr_update_end(s, step)) < 0)
		return failed(s, "update_end", rc);
	lcr_close(s);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} commands[] = {
		{ "fill", cmd_fill }, { "commit", cmd_commit }, { "flip", cmd_flip },
		{ "commit-when", cmd_commit_when },
		{ "tear", cmd_tear }, { "abandon", cmd_abandon },
		{ "update-for", cmd_update_for }, { "update-until", cmd_update_until },
		{ "begin-in-rollback", cmd_begin_in_rollback },
		{ "restore", cmd_restore }, { "alloc", cmd_alloc }, { "register", cmd_register },
		{ "checkpoint", cmd_checkpoint }, { "signal", cmd_signal }, { "train", cmd_train },
		{ "resume", cmd_resume },
	};
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; argc >= 2 && i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 2, argv + 2);
	fprintf(stderr, "ckpt_client: unknown command (see the top of ckpt_client.c)\n");
	return 2;
}
