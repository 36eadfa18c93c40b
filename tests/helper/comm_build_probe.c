/* comm_build_probe.c: a test rank that builds a TCP communicator whose other member never
 * comes, and says how the build ended. It connects to the helper at $LCR_SOCKET (no
 * registration), prints "ready", and without EPOCH waits (up to 120 s) until it is told a
 * NODE_JOINED, then builds communicator "p<TIMEOUT_MS>r<RANK>" of size 2 as RANK at that join's
 * epoch (or at EPOCH), with watch_events=1 and TIMEOUT_MS. Then it prints the build's
 * result, and the events the build left waiting, taken at once:
 *
 *     ready pid 4242
 *     joined epoch=2 gen=3
 *     building p60000r0 epoch=2 timeout=60000
 *     build rc=-103 ms=7412 end=1718000000123 (Software caused connection abort)
 *     queued readable=1 NODE_JOINED epoch=5 gen=6
 *
 * (end: the wall-clock time in ms the build ended.) Usage: comm_build_probe TIMEOUT_MS RANK
 * [EPOCH] */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lcr.h"
#include "lcr_comm.h"

static uint64_t clock_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool event_fd_readable(lcr_session_t *s)
{
	struct pollfd p = { .fd = lcr_event_fd(s), .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

/* The epoch of the first NODE_JOINED told within 120 s, or 0. */
static uint64_t wait_for_join(lcr_session_t *s)
{
	uint64_t end = clock_ms(CLOCK_MONOTONIC) + 120000;
	struct lcr_event ev;

	while (clock_ms(CLOCK_MONOTONIC) < end) {
		struct pollfd p = { .fd = lcr_event_fd(s), .events = POLLIN };

		poll(&p, 1, 100);
		while (lcr_event_next(s, &ev) == 0) {
			if (ev.type != LCR_EVENT_NODE_JOINED)
				continue;
			printf("joined epoch=%" PRIu64 " gen=%" PRIu64 "\n", ev.epoch, ev.generation);
			return ev.epoch;
		}
	}
	return 0;
}

/* Prints the events waiting after the build, each with whether lcr_event_fd polled
 * readable before it was taken. */
static void print_queued(lcr_session_t *s)
{
	struct lcr_event ev;
	bool readable = event_fd_readable(s);

	while (lcr_event_next(s, &ev) == 0) {
		printf("queued readable=%d %s epoch=%" PRIu64 " gen=%" PRIu64 "\n", readable,
		       ev.type == LCR_EVENT_NODE_JOINED ? "NODE_JOINED" : "OTHER", ev.epoch,
		       ev.generation);
		readable = event_fd_readable(s);
	}
	printf("after readable=%d\n", readable);
}

int main(int argc, char **argv)
{
	struct lcr_comm_options opt = LCR_COMM_OPTIONS_DEFAULT;
	lcr_session_t *s;
	lcr_comm_t *comm = NULL;
	char name[32];
	uint64_t epoch, started;
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: comm_build_probe TIMEOUT_MS RANK [EPOCH]\n");
		return 2;
	}
	opt.timeout_ms = atoi(argv[1]);
	opt.watch_events = 1;
	opt.address = "127.0.0.1";
	snprintf(name, sizeof(name), "p%dr%d", opt.timeout_ms, atoi(argv[2]));
	rc = lcr_open(NULL, &s);
	if (rc < 0) {
		fprintf(stderr, "comm_build_probe: lcr_open: %s\n", lcr_strerror(rc));
		return 1;
	}
	printf("ready pid %ld\n", (long)getpid());
	fflush(stdout);
	epoch = argc > 3 ? strtoull(argv[3], NULL, 10) : wait_for_join(s);
	printf("building %s epoch=%" PRIu64 " timeout=%d\n", name, epoch, opt.timeout_ms);
	fflush(stdout);
	started = clock_ms(CLOCK_MONOTONIC);
	rc = lcr_comm_init(s, name, (uint32_t)atoi(argv[2]), 2, epoch, &opt, &comm);
	printf("build rc=%d ms=%" PRIu64 " end=%" PRIu64 " (%s)\n", rc,
	       clock_ms(CLOCK_MONOTONIC) - started, clock_ms(CLOCK_REALTIME), strerror(-rc));
	print_queued(s);
	lcr_comm_destroy(comm);
	lcr_close(s);
	return 0;
}
