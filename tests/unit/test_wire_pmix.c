/* test_wire_pmix.c: the wire messages of the PMIx event path: WIRE_PMIX_EVENT (a rank's
 * liblcr forwards a PMIx event to lcrd) and the source and node that WIRE_EVENT carries. A
 * message must survive a round trip with every field at its limit, and every malformed form
 * (short at any byte, trailing bytes, unknown kind, strings over their limit or with a NUL,
 * too small a buffer) must be rejected with the documented error. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal/wire.h"

/* Payload offsets of the fields before the first string. */
#define KIND_OFFSET 0
#define NSPACE_LENGTH_OFFSET 10

/* A report with every string at its longest. */
static void fill_full(struct wire_pmix_event *m)
{
	memset(m, 0, sizeof(*m));
	m->kind = WIRE_PMIX_PROC_ABORTED;
	m->status = -7;
	m->rank = 5;
	memset(m->nspace, 'n', WIRE_PMIX_NSPACE_MAX);
	m->node_id = 3;
	memset(m->node, 'h', WIRE_NODE_NAME_MAX);
	m->reporter_rank = 1;
	memset(m->reporter_nspace, 'r', WIRE_PMIX_NSPACE_MAX);
}

static size_t encode_full(uint8_t *buf, size_t cap)
{
	struct wire_pmix_event m;
	fill_full(&m);
	int n = wire_encode_pmix_event(&m, buf, cap);
	assert_true(n > 0);
	return (size_t)n;
}

static void test_pmix_event_round_trips_at_its_limits(void **state)
{
	(void)state;
	struct wire_pmix_event m, out;
	uint8_t buf[WIRE_PMIX_EVENT_SIZE_MAX];
	fill_full(&m);
	int n = wire_encode_pmix_event(&m, buf, sizeof(buf));
	assert_int_equal(n, WIRE_PMIX_EVENT_SIZE_MAX);
	assert_int_equal(wire_decode_pmix_event(buf, (size_t)n, &out), 0);
	assert_int_equal(out.kind, WIRE_PMIX_PROC_ABORTED);
	assert_int_equal(out.status, -7);
	assert_int_equal(out.rank, 5);
	assert_int_equal(out.node_id, 3);
	assert_int_equal(out.reporter_rank, 1);
	assert_string_equal(out.nspace, m.nspace);
	assert_string_equal(out.node, m.node);
	assert_string_equal(out.reporter_nspace, m.reporter_nspace);
}

static void test_pmix_event_without_process_or_node_round_trips(void **state)
{
	(void)state;
	struct wire_pmix_event m = { .kind = WIRE_PMIX_LOST_CONNECTION, .status = -61,
				     .rank = WIRE_PMIX_NO_RANK, .node_id = WIRE_PMIX_NO_NODE_ID },
			       out;
	uint8_t buf[WIRE_PMIX_EVENT_SIZE_MAX];
	int n = wire_encode_pmix_event(&m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(wire_decode_pmix_event(buf, (size_t)n, &out), 0);
	assert_int_equal(out.rank, WIRE_PMIX_NO_RANK);
	assert_int_equal(out.node_id, WIRE_PMIX_NO_NODE_ID);
	assert_string_equal(out.nspace, "");
	assert_string_equal(out.node, "");
}

static void test_pmix_event_cut_at_any_byte_is_rejected(void **state)
{
	(void)state;
	struct wire_pmix_event out;
	uint8_t buf[WIRE_PMIX_EVENT_SIZE_MAX];
	size_t n = encode_full(buf, sizeof(buf));
	for (size_t len = 0; len < n; len++)
		if (wire_decode_pmix_event(buf, len, &out) != -EBADMSG)
			fail_msg("a PMIX_EVENT cut to %zu of %zu bytes was accepted", len, n);
}

static void test_pmix_event_with_trailing_bytes_is_rejected(void **state)
{
	(void)state;
	struct wire_pmix_event out;
	uint8_t buf[WIRE_PMIX_EVENT_SIZE_MAX + 1];
	size_t n = encode_full(buf, sizeof(buf));
	buf[n] = 0;
	assert_int_equal(wire_decode_pmix_event(buf, n + 1, &out), -EBADMSG);
}

static void test_pmix_event_of_unknown_kind_is_rejected(void **state)
{
	(void)state;
	const uint16_t unknown[] = { 0, WIRE_PMIX_KIND_MAX + 1, 0x00ff, 0xffff };
	struct wire_pmix_event m, out;
	uint8_t buf[WIRE_PMIX_EVENT_SIZE_MAX];
	size_t n = encode_full(buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		buf[KIND_OFFSET] = (uint8_t)unknown[i];
		buf[KIND_OFFSET + 1] = (uint8_t)(unknown[i] >> 8);
		assert_int_equal(wire_decode_pmix_event(buf, n, &out), -EBADMSG);
		fill_full(&m);
		m.kind = unknown[i];
		assert_int_equal(wire_encode_pmix_event(&m, buf, sizeof(buf)), -EINVAL);
		n = encode_full(buf, sizeof(buf));
	}
}

static void test_pmix_event_strings_over_their_limit_are_refused(void **state)
{
	(void)state;
	struct wire_pmix_event m;
	uint8_t buf[WIRE_PMIX_EVENT_SIZE_MAX];
	fill_full(&m);
	m.nspace[WIRE_PMIX_NSPACE_MAX] = 'n'; /* no terminator within the limit */
	assert_int_equal(wire_encode_pmix_event(&m, buf, sizeof(buf)), -EINVAL);
	fill_full(&m);
	m.node[WIRE_NODE_NAME_MAX] = 'h';
	assert_int_equal(wire_encode_pmix_event(&m, buf, sizeof(buf)), -EINVAL);
	fill_full(&m);
	m.reporter_nspace[WIRE_PMIX_NSPACE_MAX] = 'r';
	assert_int_equal(wire_encode_pmix_event(&m, buf, sizeof(buf)), -EINVAL);
}

static void test_pmix_event_claiming_a_long_string_is_rejected(void **state)
{
	(void)state;
	struct wire_pmix_event out;
	static uint8_t raw[NSPACE_LENGTH_OFFSET + 2 + WIRE_PMIX_NSPACE_MAX + 1 + 64];
	memset(raw, 'n', sizeof(raw));
	raw[KIND_OFFSET] = WIRE_PMIX_PROC_ABORTED;
	raw[KIND_OFFSET + 1] = 0;
	raw[NSPACE_LENGTH_OFFSET] = (WIRE_PMIX_NSPACE_MAX + 1) & 0xff;
	raw[NSPACE_LENGTH_OFFSET + 1] = (WIRE_PMIX_NSPACE_MAX + 1) >> 8;
	assert_int_equal(wire_decode_pmix_event(raw, sizeof(raw), &out), -EBADMSG);
}

static void test_pmix_event_string_with_a_nul_is_rejected(void **state)
{
	(void)state;
	struct wire_pmix_event out;
	uint8_t buf[WIRE_PMIX_EVENT_SIZE_MAX];
	size_t n = encode_full(buf, sizeof(buf));
	buf[NSPACE_LENGTH_OFFSET + 2 + 10] = '\0';
	assert_int_equal(wire_decode_pmix_event(buf, n, &out), -EBADMSG);
}

static void test_pmix_event_encoder_refuses_a_small_buffer(void **state)
{
	(void)state;
	struct wire_pmix_event m;
	uint8_t buf[WIRE_PMIX_EVENT_SIZE_MAX];
	size_t n = encode_full(buf, sizeof(buf));
	fill_full(&m);
	assert_int_equal(wire_encode_pmix_event(&m, buf, n - 1), -EMSGSIZE);
}

static void test_pmix_event_type_is_known_and_its_neighbours_are_not(void **state)
{
	(void)state;
	uint8_t header[WIRE_HEADER_SIZE];
	struct wire_header h;
	assert_string_equal(wire_type_name(WIRE_PMIX_EVENT), "PMIX_EVENT");
	wire_encode_header(WIRE_PMIX_EVENT, 3, 0, header);
	assert_int_equal(wire_parse_header(header, sizeof(header), &h), 0);
	for (uint16_t type = WIRE_PMIX_EVENT + 1; type <= 79; type++) {
		wire_encode_header(type, 3, 0, header);
		assert_int_equal(wire_parse_header(header, sizeof(header), &h), -EOPNOTSUPP);
	}
}

static void test_pmix_event_crosses_a_socketpair(void **state)
{
	(void)state;
	static struct wire_msg msg;
	struct wire_pmix_event m, out;
	uint8_t buf[WIRE_PMIX_EVENT_SIZE_MAX];
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	size_t n = encode_full(buf, sizeof(buf));
	assert_int_equal(wire_send_msg_full(sv[0], WIRE_PMIX_EVENT, 9, buf, (uint32_t)n, -1), 0);
	assert_int_equal(wire_recv_msg(sv[1], &msg, 1000), 0);
	assert_int_equal(msg.header.type, WIRE_PMIX_EVENT);
	assert_int_equal(msg.header.seq, 9);
	assert_int_equal(wire_decode_pmix_event(msg.payload, msg.header.length, &out), 0);
	fill_full(&m);
	assert_string_equal(out.reporter_nspace, m.reporter_nspace);
	close(sv[0]);
	close(sv[1]);
}

static void test_event_carries_its_source_and_node(void **state)
{
	(void)state;
	struct wire_event ev = { .type = WIRE_EVENT_NODE_DOWN, .source = WIRE_SOURCE_PMIX,
				 .status = -1 },
			  out;
	uint8_t buf[sizeof(ev)];
	memset(ev.node, 'h', WIRE_NODE_NAME_MAX);
	strcpy(ev.message, "PMIx: node is down");
	int n = wire_encode_event(&ev, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(wire_decode_event(buf, (size_t)n, &out), 0);
	assert_int_equal(out.type, WIRE_EVENT_NODE_DOWN);
	assert_int_equal(out.source, WIRE_SOURCE_PMIX);
	assert_string_equal(out.node, ev.node);
	assert_string_equal(out.message, ev.message);
	ev.node[WIRE_NODE_NAME_MAX] = 'h';
	assert_int_equal(wire_encode_event(&ev, buf, sizeof(buf)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pmix_event_round_trips_at_its_limits),
		cmocka_unit_test(test_pmix_event_without_process_or_node_round_trips),
		cmocka_unit_test(test_pmix_event_cut_at_any_byte_is_rejected),
		cmocka_unit_test(test_pmix_event_with_trailing_bytes_is_rejected),
		cmocka_unit_test(test_pmix_event_of_unknown_kind_is_rejected),
		cmocka_unit_test(test_pmix_event_strings_over_their_limit_are_refused),
		cmocka_unit_test(test_pmix_event_claiming_a_long_string_is_rejected),
		cmocka_unit_test(test_pmix_event_string_with_a_nul_is_rejected),
		cmocka_unit_test(test_pmix_event_encoder_refuses_a_small_buffer),
		cmocka_unit_test(test_pmix_event_type_is_known_and_its_neighbours_are_not),
		cmocka_unit_test(test_pmix_event_crosses_a_socketpair),
		cmocka_unit_test(test_event_carries_its_source_and_node),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
