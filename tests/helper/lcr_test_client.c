/* lcr_test_client.c: a small client of liblcr that the helper integration tests drive from
 * shell scripts. Each subcommand does one thing against the helper at $LCR_SOCKET and
 * reports on stdout; the exit status is 0 on success, 1 on failure, 2 on bad usage.
 *
 *   write RANK NAME SIZE SEED [--hold]
 *                            register, allocate, fill with a pattern, commit step 1;
 *                            --hold then waits to be killed
 *   check RANK NAME SIZE SEED  register, reattach, verify the pattern
 *   alloc RANK NAME SIZE       register and allocate; prints the error when it fails
 *   register RANK [--hold]     register only
 *   update RANK STEP [--begin-only] mark an update of STEP, then hold when --begin-only
 *   free RANK NAME             register and free
 *   list                       print every region the helper holds
 *   kv-put KEY VALUE | kv-get KEY TIMEOUT_MS | barrier NAME N TIMEOUT_MS
 *   events TIMEOUT_MS COUNT    print the next COUNT events
 *   malformed                  send malformed messages on a raw connection and check that
 *                              each is rejected and the helper keeps serving
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal/util.h"
#include "internal/wire.h"
#include "lcr.h"

/* Reports a failed call and closes the session. */
static int failed(lcr_session_t *s, const char *what, int rc)
{
	printf("error %s: %s (%d): %s\n", what, lcr_strerror(rc), rc, lcr_last_error(s));
	lcr_close(s);
	return 1;
}

static int open_registered(uint32_t rank, lcr_session_t **s)
{
	char key[32];
	snprintf(key, sizeof(key), "shard%u", rank % 2);
	struct lcr_rank_info me = { .global_rank = rank, .dp_index = rank / 2, .dp_size = 2,
				    .shard_key = key };
	int rc = lcr_open(NULL, s);
	if (rc < 0) {
		printf("error open: %s\n", lcr_strerror(rc));
		*s = NULL;
		return rc;
	}
	rc = lcr_register(*s, &me);
	if (rc < 0)
		failed(*s, "register", rc);
	return rc;
}

/* xorshift64 pattern seeded per region. */
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

static _Noreturn void hold(void)
{
	printf("holding\n");
	fflush(stdout);
	for (;;)
		pause();
}

static bool has_flag(int argc, char **argv, const char *flag)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], flag) == 0)
			return true;
	return false;
}

static int cmd_write(int argc, char **argv)
{
	uint32_t rank;
	uint64_t size, seed;
	lcr_session_t *s;
	void *p;
	if (argc < 4 || util_parse_u32(argv[0], &rank) || util_parse_size(argv[2], &size) ||
	    util_parse_u64(argv[3], &seed))
		return 2;
	if (open_registered(rank, &s) < 0)
		return 1;
	int allocated = lcr_region_alloc(s, argv[1], size, LCR_REGION_HOST, -1, &p), rc;
	if (allocated < 0)
		return failed(s, "alloc", allocated);
	lcr_update_begin(s, 1);
	fill(p, size, seed);
	if ((rc = lcr_update_end(s, 1)) < 0)
		return failed(s, "update_end", rc);
	printf("written %s %" PRIu64 " bytes%s\n", argv[1], size,
	       allocated == LCR_REATTACHED ? " (reattached)" : "");
	fflush(stdout);
	if (has_flag(argc, argv, "--hold"))
		hold();
	lcr_close(s);
	return 0;
}

static int cmd_check(int argc, char **argv)
{
	uint32_t rank;
	uint64_t size, seed;
	lcr_session_t *s;
	struct lcr_region info;
	void *p;
	if (argc < 4 || util_parse_u32(argv[0], &rank) || util_parse_size(argv[2], &size) ||
	    util_parse_u64(argv[3], &seed))
		return 2;
	if (open_registered(rank, &s) < 0)
		return 1;
	int rc = lcr_region_alloc(s, argv[1], size, LCR_REGION_HOST, -1, &p);
	if (rc < 0)
		return failed(s, "alloc", rc);
	if (rc != LCR_REATTACHED) {
		printf("region %s was not reattached\n", argv[1]);
		return 1;
	}
	if ((rc = lcr_region_lookup(s, argv[1], &info)) < 0)
		return failed(s, "lookup", rc);
	if (info.ptr != p) {
		printf("lookup mapped region %s again at another address\n", argv[1]);
		return 1;
	}
	if (verify(p, size, seed))
		return 1;
	printf("intact %s committed step %" PRIu64 " phase %d\n", argv[1], info.committed_step,
	       (int)info.phase);
	lcr_close(s);
	return 0;
}

static int cmd_alloc(int argc, char **argv)
{
	uint32_t rank;
	uint64_t size;
	lcr_session_t *s;
	void *p;
	if (argc < 3 || util_parse_u32(argv[0], &rank) || util_parse_size(argv[2], &size))
		return 2;
	if (open_registered(rank, &s) < 0)
		return 1;
	int rc = lcr_region_alloc(s, argv[1], size, LCR_REGION_HOST, -1, &p);
	if (rc < 0)
		return failed(s, "alloc", rc);
	printf("allocated %s%s\n", argv[1], rc == LCR_REATTACHED ? " (reattached)" : "");
	lcr_close(s);
	return 0;
}

static int cmd_register(int argc, char **argv)
{
	uint32_t rank;
	lcr_session_t *s;
	if (argc < 1 || util_parse_u32(argv[0], &rank))
		return 2;
	if (open_registered(rank, &s) < 0)
		return 1;
	printf("registered %u\n", rank);
	fflush(stdout);
	if (has_flag(argc, argv, "--hold"))
		hold();
	lcr_close(s);
	return 0;
}

static int cmd_update(int argc, char **argv)
{
	uint32_t rank;
	uint64_t step;
	lcr_session_t *s;
	if (argc < 2 || util_parse_u32(argv[0], &rank) || util_parse_u64(argv[1], &step))
		return 2;
	if (open_registered(rank, &s) < 0)
		return 1;
	lcr_update_begin(s, step);
	if (has_flag(argc, argv, "--begin-only"))
		hold();
	int rc = lcr_update_end(s, step);
	if (rc < 0)
		return failed(s, "update_end", rc);
	if (lcr_update_end(s, step + 1) != -EINVAL) {
		printf("update_end of a step not begun was accepted\n");
		return 1;
	}
	printf("committed %" PRIu64 "\n", step);
	lcr_close(s);
	return 0;
}

static int cmd_free(int argc, char **argv)
{
	uint32_t rank;
	lcr_session_t *s;
	if (argc < 2 || util_parse_u32(argv[0], &rank))
		return 2;
	if (open_registered(rank, &s) < 0)
		return 1;
	int rc = lcr_region_free(s, argv[1]);
	if (rc < 0)
		return failed(s, "free", rc);
	printf("freed %s\n", argv[1]);
	lcr_close(s);
	return 0;
}

static int cmd_list(void)
{
	lcr_session_t *s;
	struct lcr_region regions[64];
	size_t count;
	int rc = lcr_open(NULL, &s);
	if (rc < 0)
		return failed(NULL, "open", rc);
	if ((rc = lcr_region_list(s, regions, 64, &count)) < 0)
		return failed(s, "list", rc);
	for (size_t i = 0; i < count && i < 64; i++)
		printf("region %s rank %u size %" PRIu64 " shard %s alive %d\n", regions[i].name,
		       regions[i].owner_rank, regions[i].size, regions[i].shard_key,
		       regions[i].owner_alive);
	printf("total %zu\n", count);
	lcr_close(s);
	return 0;
}

static int cmd_kv_put(int argc, char **argv)
{
	lcr_session_t *s;
	if (argc < 2)
		return 2;
	int rc = lcr_open(NULL, &s);
	if (rc < 0)
		return failed(NULL, "open", rc);
	if ((rc = lcr_kv_put(s, argv[0], argv[1], strlen(argv[1]))) < 0)
		return failed(s, "kv_put", rc);
	printf("put %s\n", argv[0]);
	lcr_close(s);
	return 0;
}

static int cmd_kv_get(int argc, char **argv)
{
	lcr_session_t *s;
	char value[LCR_VALUE_MAX + 1];
	size_t len;
	if (argc < 2)
		return 2;
	int rc = lcr_open(NULL, &s);
	if (rc < 0)
		return failed(NULL, "open", rc);
	rc = lcr_kv_get(s, argv[0], value, sizeof(value) - 1, &len, atoi(argv[1]));
	if (rc < 0)
		return failed(s, "kv_get", rc);
	value[len] = '\0';
	printf("value %s=%s\n", argv[0], value);
	lcr_close(s);
	return 0;
}

static int cmd_barrier(int argc, char **argv)
{
	lcr_session_t *s;
	uint32_t n;
	if (argc < 3 || util_parse_u32(argv[1], &n))
		return 2;
	int rc = lcr_open(NULL, &s);
	if (rc < 0)
		return failed(NULL, "open", rc);
	if ((rc = lcr_barrier(s, argv[0], n, atoi(argv[2]))) < 0)
		return failed(s, "barrier", rc);
	printf("passed %s\n", argv[0]);
	lcr_close(s);
	return 0;
}

static int cmd_events(int argc, char **argv)
{
	lcr_session_t *s;
	struct lcr_event ev;
	int timeout, count, rc;
	if (argc < 2)
		return 2;
	timeout = atoi(argv[0]);
	count = atoi(argv[1]);
	if ((rc = lcr_open(NULL, &s)) < 0)
		return failed(NULL, "open", rc);
	if (lcr_event_next(s, &ev) != -EAGAIN) {
		printf("an event was waiting before anything happened\n");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	while (count > 0) {
		struct pollfd p = { .fd = lcr_event_fd(s), .events = POLLIN };
		if (poll(&p, 1, timeout) <= 0) {
			printf("timed out waiting for an event\n");
			return 1;
		}
		while (count > 0 && (rc = lcr_event_next(s, &ev)) == 0) {
			printf("event %d rank %u pid %d status %d: %s\n", (int)ev.type, ev.rank, ev.pid,
			       ev.status, ev.message);
			count--;
		}
		if (rc < 0 && rc != -EAGAIN)
			return failed(s, "event_next", rc);
	}
	fflush(stdout);
	lcr_close(s);
	return 0;
}

/* --- malformed messages on a raw connection --- */

static int raw_connect(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	const char *path = getenv("LCR_SOCKET");
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (!path || fd < 0 || util_copy_string(addr.sun_path, sizeof(addr.sun_path), path) < 0 ||
	    connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return -1;
	return fd;
}

/* Sends raw bytes and expects a WIRE_REPLY carrying `expect`. */
static int expect_rejected(int fd, const char *what, const void *data, size_t len, int expect)
{
	static struct wire_msg msg;
	struct wire_reply reply;
	if (send(fd, data, len, 0) != (ssize_t)len) {
		printf("not sent %s\n", what);
		return 1;
	}
	if (wire_recv_msg(fd, &msg, 5000) < 0 || msg.header.type != WIRE_REPLY ||
	    wire_decode_reply(msg.payload, msg.header.length, &reply) < 0 || reply.status != expect) {
		printf("not rejected as expected: %s\n", what);
		return 1;
	}
	printf("rejected %s: %s\n", what, reply.message);
	return 0;
}

static int expect_status_works(int fd)
{
	static struct wire_msg msg;
	if (wire_send_msg_full(fd, WIRE_STATUS_REQUEST, 77, NULL, 0, -1) < 0 ||
	    wire_recv_msg(fd, &msg, 5000) < 0 || msg.header.type != WIRE_STATUS_REPLY ||
	    msg.header.seq != 77) {
		printf("the helper stopped serving\n");
		return 1;
	}
	return 0;
}

static int cmd_malformed(void)
{
	static uint8_t big[WIRE_MAX_MESSAGE + 64];
	uint8_t buf[WIRE_HEADER_SIZE + 8];
	int fd = raw_connect(), failures = 0, size = 4 * WIRE_MAX_MESSAGE;
	if (fd < 0) {
		printf("cannot connect to $LCR_SOCKET\n");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));

	failures += expect_rejected(fd, "short message", "LCR", 3, -EBADMSG);
	wire_encode_header(WIRE_STATUS_REQUEST, 1, 0, buf);
	buf[0] = 'X';
	failures += expect_rejected(fd, "bad magic", buf, WIRE_HEADER_SIZE, -EBADMSG);
	wire_encode_header(WIRE_STATUS_REQUEST, 2, 0, buf);
	buf[4] = WIRE_VERSION + 1;
	failures += expect_rejected(fd, "wrong version", buf, WIRE_HEADER_SIZE, -EPROTONOSUPPORT);
	wire_encode_header(999, 3, 0, buf);
	failures += expect_rejected(fd, "unknown type", buf, WIRE_HEADER_SIZE, -EOPNOTSUPP);
	wire_encode_header(WIRE_READY, 4, 0, buf);
	failures += expect_rejected(fd, "plugin message on the control socket", buf,
				    WIRE_HEADER_SIZE, -EOPNOTSUPP);
	wire_encode_header(WIRE_KV_PUT, 5, 8, buf);
	failures += expect_rejected(fd, "length beyond the datagram", buf, WIRE_HEADER_SIZE + 4,
				    -EBADMSG);
	wire_encode_header(WIRE_REGION_ALLOC, 6, 3, buf);
	memcpy(buf + WIRE_HEADER_SIZE, "abc", 3);
	failures += expect_rejected(fd, "truncated payload", buf, WIRE_HEADER_SIZE + 3, -EBADMSG);
	wire_encode_header(WIRE_KV_PUT, 7, WIRE_MAX_PAYLOAD + 64, big);
	failures += expect_rejected(fd, "oversized message", big, sizeof(big), -EMSGSIZE);
	failures += expect_status_works(fd);
	close(fd);
	if (!failures)
		printf("helper still serving\n");
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return 2;
	const char *cmd = argv[1];
	argc -= 2;
	argv += 2;
	if (strcmp(cmd, "write") == 0)
		return cmd_write(argc, argv);
	if (strcmp(cmd, "check") == 0)
		return cmd_check(argc, argv);
	if (strcmp(cmd, "alloc") == 0)
		return cmd_alloc(argc, argv);
	if (strcmp(cmd, "register") == 0)
		return cmd_register(argc, argv);
	if (strcmp(cmd, "update") == 0)
		return cmd_update(argc, argv);
	if (strcmp(cmd, "free") == 0)
		return cmd_free(argc, argv);
	if (strcmp(cmd, "list") == 0)
		return cmd_list();
	if (strcmp(cmd, "kv-put") == 0)
		return cmd_kv_put(argc, argv);
	if (strcmp(cmd, "kv-get") == 0)
		return cmd_kv_get(argc, argv);
	if (strcmp(cmd, "barrier") == 0)
		return cmd_barrier(argc, argv);
	if (strcmp(cmd, "events") == 0)
		return cmd_events(argc, argv);
	if (strcmp(cmd, "malformed") == 0)
		return cmd_malformed();
	fprintf(stderr, "lcr_test_client: unknown command '%s'\n", cmd);
	return 2;
}
