/* comm_test.c: one rank of a communicator test, driven by tests/comm/comm_ring.sh.
 *
 *   comm_test check NAME RANK SIZE
 *       allreduce (float64, int64), broadcast and barrier; checks every value; prints
 *       "ok RANK" and the hash of a float32 allreduce (bit-identical run to run).
 *   comm_test train NAME RANK SIZE EPOCH STEPS
 *       STEPS rounds of a float32 allreduce over a deterministic input, 20 ms apart. When
 *       an operation fails (a member died), rebuilds the communicator for the next epoch
 *       and agrees with the others on the round to go on from (a broadcast from rank 0).
 *       A rank started with EPOCH > 0 is a replacement: it joins at that epoch. Prints the
 *       hash of the final buffer and the rebuild count.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "lcr.h"
#include "lcr_comm.h"

#define COUNT 100003

static int fail(const char *what, int rc)
{
	fprintf(stderr, "comm_test: %s: %s\n", what, lcr_strerror(rc));
	return 1;
}

/* The value rank r contributes at element i of round `round`: the same on every run. */
static float input(uint32_t rank, size_t i, uint64_t round)
{
	return (float)((rank + 1) * 0.37 + (double)i * 1e-3 + (double)round * 0.011);
}

static int check(lcr_session_t *s, const char *name, uint32_t rank, uint32_t size)
{
	static double values[COUNT];
	static float floats[COUNT];
	int64_t total = rank + 1, expected = (int64_t)size * (size + 1) / 2;
	char text[64] = "";
	lcr_comm_t *c;
	size_t i;
	int rc;

	rc = lcr_comm_init(s, name, rank, size, 0, NULL, &c);
	if (rc < 0)
		return fail("lcr_comm_init", rc);
	for (i = 0; i < COUNT; i++)
		values[i] = (double)(rank + 1) * (double)i;
	if ((rc = lcr_comm_allreduce_sum(c, values, COUNT, LCR_DTYPE_FLOAT64)) < 0)
		return fail("allreduce float64", rc);
	for (i = 0; i < COUNT; i++)
		if (values[i] != (double)expected * (double)i) {
			fprintf(stderr, "comm_test: element %zu is %g, expected %g\n", i, values[i],
				(double)expected * (double)i);
			return 1;
		}
	if ((rc = lcr_comm_allreduce_sum(c, &total, 1, LCR_DTYPE_INT64)) < 0 || total != expected)
		return rc < 0 ? fail("allreduce int64", rc) : 1;
	if (rank == size - 1)
		snprintf(text, sizeof(text), "from the last rank");
	if ((rc = lcr_comm_broadcast(c, text, sizeof(text), size - 1)) < 0)
		return fail("broadcast", rc);
	if (strcmp(text, "from the last rank") != 0)
		return fprintf(stderr, "comm_test: broadcast gave '%s'\n", text), 1;
	if ((rc = lcr_comm_barrier(c)) < 0)
		return fail("barrier", rc);
	for (i = 0; i < COUNT; i++)
		floats[i] = input(rank, i, 0);
	if ((rc = lcr_comm_allreduce_sum(c, floats, COUNT, LCR_DTYPE_FLOAT32)) < 0)
		return fail("allreduce float32", rc);
	printf("ok %u hash %016llx\n", rank, (unsigned long long)XXH3_64bits(floats, sizeof(floats)));
	lcr_comm_destroy(c);
	return 0;
}

static int train(lcr_session_t *s, const char *name, uint32_t rank, uint32_t size, uint64_t epoch,
		 uint64_t steps)
{
	static float buffer[COUNT];
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	struct lcr_comm_options opt = LCR_COMM_OPTIONS_DEFAULT;
	uint64_t round = 0, resume;
	unsigned rebuilds = 0;
	lcr_comm_t *c;
	int rc;

	opt.watch_events = 0;
	opt.timeout_ms = 20000;
	rc = lcr_comm_init(s, name, rank, size, epoch, &opt, &c);
	if (rc < 0)
		return fail("lcr_comm_init", rc);
	if (epoch > 0)
		goto agree;
	while (round < steps) {
		for (size_t i = 0; i < COUNT; i++)
			buffer[i] = input(rank, i, round);
		rc = lcr_comm_allreduce_sum(c, buffer, COUNT, LCR_DTYPE_FLOAT32);
		if (rc == 0) {
			round++;
			nanosleep(&pause, NULL);
			continue;
		}
		fprintf(stderr, "comm_test: rank %u: round %" PRIu64 " failed (%s): rebuilding for epoch %" PRIu64 "\n",
			rank, round, lcr_strerror(rc), lcr_comm_epoch(c) + 1);
		rc = lcr_comm_rebuild(c, lcr_comm_epoch(c) + 1);
		if (rc < 0)
			return fail("lcr_comm_rebuild", rc);
		rebuilds++;
agree:
		resume = round;
		rc = lcr_comm_broadcast(c, &resume, sizeof(resume), 0);
		if (rc < 0)
			return fail("broadcast of the round", rc);
		round = resume;
	}
	printf("rank %u epoch %" PRIu64 " rebuilds %u rounds %" PRIu64 " hash %016llx\n", rank, lcr_comm_epoch(c),
	       rebuilds, round, (unsigned long long)XXH3_64bits(buffer, sizeof(buffer)));
	lcr_comm_destroy(c);
	return 0;
}

int main(int argc, char **argv)
{
	lcr_session_t *s;
	int rc, status;

	if (argc < 5) {
		fprintf(stderr, "usage: comm_test check|train NAME RANK SIZE [EPOCH STEPS]\n");
		return 2;
	}
	rc = lcr_open(NULL, &s);
	if (rc < 0)
		return fail("lcr_open", rc);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[1], "check") == 0)
		status = check(s, argv[2], (uint32_t)atoi(argv[3]), (uint32_t)atoi(argv[4]));
	else if (strcmp(argv[1], "train") == 0 && argc == 7)
		status = train(s, argv[2], (uint32_t)atoi(argv[3]), (uint32_t)atoi(argv[4]),
			       strtoull(argv[5], NULL, 10), strtoull(argv[6], NULL, 10));
	else
		status = 2;
	lcr_close(s);
	return status;
}
