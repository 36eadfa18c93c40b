/* pmix_event_client.c: the liblcr client that tests/pmix/pmix_events.sh drives, against the
 * helper at $LCR_SOCKET. Every line it prints starts with "rank R: " (its PMIx rank, or 0).
 * Exit status 0 on success, 1 on failure, 2 on bad usage.
 *
 *   watch COUNT [--take-first-slot=RANK]
 *       Under pmix_event_server. Initialises PMIx itself and registers a default handler
 *       that aborts the process, as a launcher's or MPI library's catch-all might; the rank
 *       named by --take-first-slot also takes PMIx's first handler slot with a handler for
 *       PMIX_ERR_PROC_ABORTED that passes the event on. (Not a handler of no codes: with one
 *       of those first, PMIx 4.2 goes on to the default handlers only.) Then opens a session (which attaches to PMIx by itself),
 *       registers its PMIx rank, and writes one byte on $LCR_PMIX_TEST_READY_FD. Prints the
 *       next COUNT events the helper sends that came from PMIx, checks that no other one
 *       follows within EXTRA_WAIT_MS and that the session still serves requests, and prints
 *       "alive".
 *   detached
 *       Under pmix_event_server with LCR_PMIX=0: the session must not attach. Registers a
 *       handler of its own for the four codes, checks that it receives all EVENTS_SENT
 *       events the server sends and that none comes back from the helper, and prints
 *       "detached".
 *   plain
 *       Without PMIx: opens a session, checks that lcr_pmix_attach answers -ENOENT, registers
 *       rank 0 and uses the key-value store.
 *   malformed
 *       On a raw connection: malformed PMIX_EVENT messages are each answered -EBADMSG, one
 *       that names no process -EINVAL, and the helper keeps serving.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <pmix.h>

#include "internal/util.h"
#include "internal/wire.h"
#include "lcr.h"

#define EVENT_TIMEOUT_MS 10000
#define EXTRA_WAIT_MS 300
#define EVENTS_SENT 5 /* pmix_event_server's notify mode */

static pmix_rank_t my_rank;
static atomic_int default_calls;
static atomic_int failure_calls; /* of the program's handler for the four failure codes */
static bool abort_in_default;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	printf("rank %u: ", my_rank);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* --- PMIx handlers of the program itself --- */

static void default_handler(size_t id, pmix_status_t status, const pmix_proc_t *source,
			    pmix_info_t info[], size_t ninfo, pmix_info_t *results,
			    size_t nresults, pmix_event_notification_cbfunc_fn_t cbfunc,
			    void *cbdata)
{
	(void)id;
	(void)source;
	(void)info;
	(void)ninfo;
	(void)results;
	(void)nresults;
	atomic_fetch_add(&default_calls, 1);
	if (abort_in_default) {
		say("the default handler received %s: aborting", PMIx_Error_string(status));
		abort();
	}
	if (cbfunc)
		cbfunc(PMIX_SUCCESS, NULL, 0, NULL, NULL, cbdata);
}

static void pass_on_handler(size_t id, pmix_status_t status, const pmix_proc_t *source,
			    pmix_info_t info[], size_t ninfo, pmix_info_t *results,
			    size_t nresults, pmix_event_notification_cbfunc_fn_t cbfunc,
			    void *cbdata)
{
	(void)id;
	(void)status;
	(void)source;
	(void)info;
	(void)ninfo;
	(void)results;
	(void)nresults;
	if (cbfunc)
		cbfunc(PMIX_EVENT_NO_ACTION_TAKEN, NULL, 0, NULL, NULL, cbdata);
}

static void failure_handler(size_t id, pmix_status_t status, const pmix_proc_t *source,
			    pmix_info_t info[], size_t ninfo, pmix_info_t *results,
			    size_t nresults, pmix_event_notification_cbfunc_fn_t cbfunc,
			    void *cbdata)
{
	(void)id;
	(void)status;
	(void)source;
	(void)info;
	(void)ninfo;
	(void)results;
	(void)nresults;
	atomic_fetch_add(&failure_calls, 1);
	if (cbfunc)
		cbfunc(PMIX_EVENT_ACTION_COMPLETE, NULL, 0, NULL, NULL, cbdata);
}

/* A handler of the program for the four failure codes (with LCR_PMIX=0); counts them. */
static int register_counting_handler(void)
{
	pmix_status_t codes[] = { PMIX_EVENT_NODE_DOWN, PMIX_ERR_PROC_ABORTED,
				  PMIX_EVENT_PROC_TERMINATED, PMIX_ERR_LOST_CONNECTION };
	pmix_status_t rc = PMIx_Register_event_handler(codes, 4, NULL, 0, failure_handler, NULL,
						       NULL);
	if (rc < 0)
		say("cannot register a handler for the failure codes: %s", PMIx_Error_string(rc));
	return rc < 0 ? -1 : 0;
}

/* PMIx_Init and the program's own handlers (blocking registrations); the first slot is
 * taken when this process is rank first_slot_rank. */
static int pmix_setup(long first_slot_rank)
{
	pmix_proc_t me;
	pmix_status_t aborted = PMIX_ERR_PROC_ABORTED;
	pmix_info_t first;
	bool yes = true;
	pmix_status_t rc = PMIx_Init(&me, NULL, 0);
	if (rc != PMIX_SUCCESS) {
		say("PMIx_Init failed: %s", PMIx_Error_string(rc));
		return -1;
	}
	my_rank = me.rank;
	rc = PMIx_Register_event_handler(NULL, 0, NULL, 0, default_handler, NULL, NULL);
	if (rc < 0) {
		say("cannot register the default handler: %s", PMIx_Error_string(rc));
		return -1;
	}
	if (first_slot_rank != (long)me.rank)
		return 0;
	memset(&first, 0, sizeof(first));
	PMIX_INFO_LOAD(&first, PMIX_EVENT_HDLR_FIRST, &yes, PMIX_BOOL);
	rc = PMIx_Register_event_handler(&aborted, 1, &first, 1, pass_on_handler, NULL, NULL);
	if (rc < 0) {
		say("cannot take the first handler slot: %s", PMIx_Error_string(rc));
		return -1;
	}
	say("holds the first handler slot");
	return 0;
}

/* --- the session --- */

static int open_session(lcr_session_t **s)
{
	int rc = lcr_open(NULL, s);
	if (rc < 0) {
		say("error open: %s", lcr_strerror(rc));
		return -1;
	}
	return 0;
}

static int tell_ready(void)
{
	const char *fd = getenv("LCR_PMIX_TEST_READY_FD");
	if (!fd || write(atoi(fd), "r", 1) != 1) {
		say("cannot tell the server it is ready: %s", fd ? strerror(errno) : "no fd");
		return -1;
	}
	return 0;
}

/* The next event from PMIx within timeout_ms: 1 with *ev set, 0 on timeout, -1 on error. */
static int next_pmix_event(lcr_session_t *s, struct lcr_event *ev, int timeout_ms)
{
	uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		int rc = lcr_event_next(s, ev);
		if (rc == 0 && ev->source == LCR_SOURCE_PMIX)
			return 1;
		if (rc == 0)
			continue;
		if (rc != -EAGAIN) {
			say("error event_next: %s", lcr_strerror(rc));
			return -1;
		}
		uint64_t now = util_now_ms();
		if (now >= deadline)
			return 0;
		struct pollfd p = { .fd = lcr_event_fd(s), .events = POLLIN };
		poll(&p, 1, (int)(deadline - now));
	}
}

/* Prints the next `count` events from PMIx; -1 when fewer come or one more follows. */
static int watch_events(lcr_session_t *s, int count)
{
	struct lcr_event ev;
	int rc;
	for (int i = 0; i < count; i++) {
		rc = next_pmix_event(s, &ev, EVENT_TIMEOUT_MS);
		if (rc <= 0) {
			say("got %d of %d events from PMIx", i, count);
			return -1;
		}
		say("event %d source %d rank %u node '%s': %s", (int)ev.type, (int)ev.source,
		    ev.rank, ev.node, ev.message);
	}
	rc = next_pmix_event(s, &ev, EXTRA_WAIT_MS);
	if (rc != 0) {
		say("one event too many: %s", rc > 0 ? ev.message : "error");
		return -1;
	}
	return 0;
}

static bool session_serves(lcr_session_t *s)
{
	char value[8];
	size_t len;
	int rc = lcr_kv_put(s, "pmix.alive", "yes", 3);
	if (rc == 0)
		rc = lcr_kv_get(s, "pmix.alive", value, sizeof(value), &len, 0);
	if (rc < 0)
		say("error kv: %s: %s", lcr_strerror(rc), lcr_last_error(s));
	return rc == 0;
}

static int register_rank(lcr_session_t *s)
{
	struct lcr_rank_info me = { .global_rank = my_rank, .dp_size = 1, .shard_key = "all" };
	int rc = lcr_register(s, &me);
	if (rc < 0)
		say("error register: %s: %s", lcr_strerror(rc), lcr_last_error(s));
	return rc;
}

/* --- commands --- */

static int cmd_watch(int argc, char **argv)
{
	lcr_session_t *s;
	long first_slot_rank = -1;
	int rc;
	if (argc < 1 || argc > 2)
		return 2;
	if (argc == 2 && sscanf(argv[1], "--take-first-slot=%ld", &first_slot_rank) != 1)
		return 2;
	abort_in_default = true;
	if (pmix_setup(first_slot_rank) < 0 || open_session(&s) < 0)
		return 1;
	rc = lcr_pmix_attach(s);
	if (rc < 0) {
		say("error pmix_attach: %s: %s", lcr_strerror(rc), lcr_last_error(s));
		return 1;
	}
	if (register_rank(s) < 0 || tell_ready() < 0 || watch_events(s, atoi(argv[0])) < 0 ||
	    !session_serves(s))
		return 1;
	lcr_close(s);
	PMIx_Finalize(NULL, 0);
	say("alive");
	return 0;
}

static int cmd_detached(void)
{
	struct lcr_event ev;
	lcr_session_t *s;
	uint64_t deadline = util_now_ms() + EVENT_TIMEOUT_MS;
	struct timespec step = { 0, 10 * 1000 * 1000 };
	if (pmix_setup(-1) < 0 || register_counting_handler() < 0 || open_session(&s) < 0 ||
	    tell_ready() < 0)
		return 1;
	while (atomic_load(&failure_calls) < EVENTS_SENT && util_now_ms() < deadline)
		nanosleep(&step, NULL);
	if (atomic_load(&failure_calls) != EVENTS_SENT) {
		say("the program's handler received %d of %d events", atomic_load(&failure_calls),
		    EVENTS_SENT);
		return 1;
	}
	if (next_pmix_event(s, &ev, EXTRA_WAIT_MS) != 0) {
		say("an event came from PMIx through the helper: %s", ev.message);
		return 1;
	}
	lcr_close(s);
	PMIx_Finalize(NULL, 0);
	say("detached: the program's own handler received all %d events", EVENTS_SENT);
	return 0;
}

static int cmd_plain(void)
{
	lcr_session_t *s;
	if (open_session(&s) < 0)
		return 1;
	int rc = lcr_pmix_attach(s);
	say("pmix_attach: %d %s", rc, lcr_last_error(s));
	if (rc != -ENOENT || register_rank(s) < 0 || !session_serves(s))
		return 1;
	lcr_close(s);
	say("plain session works");
	return 0;
}

/* --- malformed messages on a raw connection --- */

static int raw_connect(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	const char *path = getenv("LCR_SOCKET");
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (!path || fd < 0 || util_copy_string(addr.sun_path, sizeof(addr.sun_path), path) < 0 ||
	    connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		say("cannot connect to the helper: %s", strerror(errno));
		return -1;
	}
	return fd;
}

/* Sends a PMIX_EVENT payload; true when the helper answers `want` (a status). */
static bool answered(int fd, const uint8_t *payload, size_t len, int32_t want, const char *what)
{
	static struct wire_msg reply;
	struct wire_reply r = { 0 };
	int rc = wire_send_msg_full(fd, WIRE_PMIX_EVENT, 7, payload, (uint32_t)len, -1);
	if (rc == 0)
		rc = wire_recv_msg(fd, &reply, EVENT_TIMEOUT_MS);
	if (rc == 0 && (reply.header.type != WIRE_REPLY ||
			wire_decode_reply(reply.payload, reply.header.length, &r) < 0))
		rc = -EPROTO;
	say("%s: %s (%d) '%s'", what, rc < 0 ? strerror(-rc) : "answered", r.status, r.message);
	return rc == 0 && r.status == want;
}

static int cmd_malformed(void)
{
	struct wire_pmix_event m = { .kind = WIRE_PMIX_NODE_DOWN, .status = PMIX_EVENT_NODE_DOWN,
				     .rank = WIRE_PMIX_NO_RANK, .node_id = WIRE_PMIX_NO_NODE_ID,
				     .reporter_nspace = "lcr-pmix-test" };
	static struct wire_msg status;
	uint8_t buf[WIRE_PMIX_EVENT_SIZE_MAX];
	int fd = raw_connect(), ok = 1;
	if (fd < 0)
		return 1;
	int n = wire_encode_pmix_event(&m, buf, sizeof(buf));
	ok &= answered(fd, buf, 0, -EBADMSG, "an empty PMIX_EVENT");
	ok &= answered(fd, buf, (size_t)n - 1, -EBADMSG, "a PMIX_EVENT cut short");
	buf[0] = 9;
	ok &= answered(fd, buf, (size_t)n, -EBADMSG, "a PMIX_EVENT of unknown kind");
	buf[0] = WIRE_PMIX_NODE_DOWN;
	ok &= answered(fd, buf, (size_t)n, -EINVAL, "a NODE_DOWN that names no node");
	m.kind = WIRE_PMIX_PROC_ABORTED;
	n = wire_encode_pmix_event(&m, buf, sizeof(buf));
	ok &= answered(fd, buf, (size_t)n, -EINVAL, "a PROC_ABORTED that names no process");
	ok &= wire_send_msg_full(fd, WIRE_STATUS_REQUEST, 8, NULL, 0, -1) == 0 &&
	      wire_recv_msg(fd, &status, EVENT_TIMEOUT_MS) == 0 &&
	      status.header.type == WIRE_STATUS_REPLY;
	close(fd);
	say(ok ? "malformed PMIX_EVENTs rejected, the helper still serves" : "malformed: FAILED");
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "watch") == 0)
		return cmd_watch(argc - 2, argv + 2);
	if (argc == 2 && strcmp(argv[1], "detached") == 0)
		return cmd_detached();
	if (argc == 2 && strcmp(argv[1], "plain") == 0)
		return cmd_plain();
	if (argc == 2 && strcmp(argv[1], "malformed") == 0)
		return cmd_malformed();
	fprintf(stderr, "usage: pmix_event_client watch COUNT [--take-first-slot=RANK] | detached "
			"| plain | malformed\n");
	return 2;
}
