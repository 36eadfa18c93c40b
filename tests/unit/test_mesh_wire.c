/* test_mesh_wire.c: the mesh and rendezvous messages of the wire protocol and the stream
 * framing the mesh's TCP connections use. Every message must survive an encode/decode round
 * trip; every malformed form (cut at any byte, trailing bytes, counts and enumerations out
 * of range, strings too long) must be rejected; a stream must yield whole messages however
 * the bytes arrive, and refuse a bad header as soon as the header is in. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal/wire.h"
#include "wire_codec.h"

WIRE_MESH_MESSAGES(CODEC)
static const struct codec codecs[] = { WIRE_MESH_MESSAGES(ENTRY) };

#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))

static void test_every_mesh_message_round_trips(void **state)
{
	(void)state;
	codec_check_round_trips(codecs, NCODECS);
}

static void test_the_largest_mesh_messages_fit_one_frame(void **state)
{
	(void)state;
	static uint8_t buf[WIRE_MAX_PAYLOAD];
	static struct wire_mesh_event event;
	static struct wire_rdv_table table;
	static struct wire_event_log_reply log;
	fill_mesh_event(&event);
	event.removed_count = WIRE_MESH_NODES_MAX;
	fill_rdv_table(&table);
	for (uint32_t i = 0; i < table.count; i++) {
		memset(table.nodes[i].node_name, 'n', WIRE_NODE_NAME_MAX);
		memset(table.nodes[i].address, '1', WIRE_ADDR_MAX);
		fill_ranks(table.nodes[i].ranks, &table.nodes[i].rank_count,
			   WIRE_MAX_LOCAL_RANKS, 0);
	}
	memset(event.joined.node_name, 'n', WIRE_NODE_NAME_MAX);
	memset(event.joined.address, '1', WIRE_ADDR_MAX);
	fill_ranks(event.joined.ranks, &event.joined.rank_count, WIRE_MAX_LOCAL_RANKS, 0);
	fill_event_log_reply(&log);
	for (uint32_t i = 0; i < log.count; i++) {
		memset(log.entries[i].message, 'm', WIRE_TEXT_MAX);
		log.entries[i].message[WIRE_TEXT_MAX] = '\0';
	}
	assert_true(wire_encode_mesh_event(&event, buf, sizeof(buf)) > 0);
	assert_true(wire_encode_rdv_table(&table, buf, sizeof(buf)) > 0);
	assert_true(wire_encode_event_log_reply(&log, buf, sizeof(buf)) > 0);
}

static void test_every_cut_mesh_message_is_rejected(void **state)
{
	(void)state;
	codec_check_cuts_rejected(codecs, NCODECS);
}

static void test_trailing_bytes_after_a_mesh_message_are_rejected(void **state)
{
	(void)state;
	codec_check_trailing_byte_rejected(codecs, NCODECS);
}

static void test_mesh_encoders_refuse_a_small_buffer(void **state)
{
	(void)state;
	codec_check_small_buffer_refused(codecs, NCODECS);
}

static void test_credential_over_limit_is_rejected(void **state)
{
	(void)state;
	static uint8_t buf[WIRE_MAX_PAYLOAD];
	static struct wire_mesh_hello hello;
	fill_mesh_hello(&hello);
	hello.credential[WIRE_CRED_MAX] = 'x'; /* no terminator within the limit */
	assert_int_equal(wire_encode_mesh_hello(&hello, buf, sizeof(buf)), -EINVAL);

	/* A hand-made HELLO claiming a credential one byte too long. */
	size_t n = 8 + 2 + WIRE_CRED_MAX + 1;
	memset(buf, 'c', n);
	memset(buf, 0, 8);
	buf[8] = (uint8_t)((WIRE_CRED_MAX + 1) & 0xff);
	buf[9] = (uint8_t)((WIRE_CRED_MAX + 1) >> 8);
	assert_int_equal(wire_decode_mesh_hello(buf, n, &hello), -EBADMSG);
}

/* Encodes a table page with the given counts (valid entries), then decodes it. */
static int table_page_decodes(uint32_t total, uint32_t start, uint32_t count)
{
	static uint8_t buf[WIRE_MAX_PAYLOAD];
	static struct wire_rdv_table table, out;
	uint8_t *p = buf;
	memset(&table, 0, sizeof(table));
	for (int i = 0; i < 4; i++)
		*p++ = (uint8_t)(total >> (8 * i));
	for (int i = 0; i < 4; i++)
		*p++ = (uint8_t)(start >> (8 * i));
	for (int i = 0; i < 4; i++)
		*p++ = (uint8_t)(count >> (8 * i));
	for (uint32_t i = 0; i < count && i < WIRE_TABLE_PAGE_MAX + 1; i++) {
		/* id, port, empty name, empty address, state LIVE, no ranks, incarnation 0 */
		memset(p, 0, 4 + 2 + 2 + 2 + 2 + 4 + 8);
		p[10] = WIRE_NODE_LIVE;
		p += 24;
	}
	return wire_decode_rdv_table(buf, (size_t)(p - buf), &out);
}

static void test_table_pages_outside_the_table_are_rejected(void **state)
{
	(void)state;
	static uint8_t buf[WIRE_MAX_PAYLOAD];
	static struct wire_rdv_table table;
	assert_int_equal(table_page_decodes(10, 8, 2), 0);
	assert_int_equal(table_page_decodes(10, 9, 2), -EBADMSG);
	assert_int_equal(table_page_decodes(10, 11, 0), -EBADMSG);
	assert_int_equal(table_page_decodes(0, 0, 0), -EBADMSG);
	assert_int_equal(table_page_decodes(WIRE_MESH_NODES_MAX + 1, 0, 1), -EBADMSG);
	assert_int_equal(table_page_decodes(1000, 0, WIRE_TABLE_PAGE_MAX + 1), -EBADMSG);
	assert_int_equal(table_page_decodes(UINT32_MAX, UINT32_MAX - 1, 2), -EBADMSG);

	fill_rdv_table(&table);
	table.start = table.total - 1;
	assert_int_equal(wire_encode_rdv_table(&table, buf, sizeof(buf)), -EINVAL);
}

static void test_register_with_node_outside_the_step_is_rejected(void **state)
{
	(void)state;
	static uint8_t buf[WIRE_MAX_PAYLOAD];
	static struct wire_rdv_register m, out;
	fill_rdv_register(&m);
	m.node_id = m.node_count;
	assert_int_equal(wire_encode_rdv_register(&m, buf, sizeof(buf)), -EINVAL);
	m.node_id = 0;
	m.node_count = WIRE_MESH_NODES_MAX + 1;
	assert_int_equal(wire_encode_rdv_register(&m, buf, sizeof(buf)), -EINVAL);

	/* Patch a valid encoding: node_id sits right after the token. */
	fill_rdv_register(&m);
	int n = wire_encode_rdv_register(&m, buf, sizeof(buf));
	assert_true(n > 0);
	size_t at = 2 + strlen(m.token);
	buf[at] = 5; /* node_id 5 of node_count 5 */
	assert_int_equal(wire_decode_rdv_register(buf, (size_t)n, &out), -EBADMSG);
}

static void test_mesh_event_with_bad_fields_is_rejected(void **state)
{
	(void)state;
	static uint8_t buf[WIRE_MAX_PAYLOAD];
	static struct wire_mesh_event m, out;
	fill_mesh_event(&m);
	m.removed_count = 2;
	int n = wire_encode_mesh_event(&m, buf, sizeof(buf));
	assert_true(n > 0);
	size_t type_at = 8 + 4 + 8, count_at = (size_t)n - 2 * 6 - 4;

	buf[type_at] = WIRE_EVENT_SHUTDOWN; /* not a membership event */
	assert_int_equal(wire_decode_mesh_event(buf, (size_t)n, &out), -EBADMSG);
	buf[type_at] = WIRE_EVENT_NODE_DOWN;
	assert_int_equal(wire_decode_mesh_event(buf, (size_t)n, &out), 0);

	buf[(size_t)n - 2] = 7; /* the second member's state */
	assert_int_equal(wire_decode_mesh_event(buf, (size_t)n, &out), -EBADMSG);
	buf[(size_t)n - 2] = WIRE_NODE_LEFT;

	buf[count_at] = 3; /* more members claimed than sent */
	assert_int_equal(wire_decode_mesh_event(buf, (size_t)n, &out), -EBADMSG);
	uint32_t over = WIRE_MESH_NODES_MAX + 1;
	for (int i = 0; i < 4; i++)
		buf[count_at + (size_t)i] = (uint8_t)(over >> (8 * i));
	assert_int_equal(wire_decode_mesh_event(buf, (size_t)n, &out), -EBADMSG);

	m.type = WIRE_EVENT_MESH_UP;
	assert_int_equal(wire_encode_mesh_event(&m, buf, sizeof(buf)), -EINVAL);
	m.type = WIRE_EVENT_NODE_DOWN;
	m.removed[1].state = WIRE_NODE_LIVE;
	assert_int_equal(wire_encode_mesh_event(&m, buf, sizeof(buf)), -EINVAL);
}

/* The encoding of a table page of one node whose state and rank count are given. */
static int one_node_page(uint16_t node_state, uint32_t rank_count, uint8_t *buf)
{
	static struct wire_rdv_table table;
	memset(&table, 0, sizeof(table));
	table.total = table.count = 1;
	table.nodes[0] = (struct wire_rdv_node){ .port = 1, .state = node_state,
						 .rank_count = rank_count };
	return wire_encode_rdv_table(&table, buf, WIRE_MAX_PAYLOAD);
}

static void test_node_states_and_rank_counts_are_checked(void **state)
{
	(void)state;
	static uint8_t buf[WIRE_MAX_PAYLOAD];
	static struct wire_rdv_table out;
	static struct wire_mesh_join join, join_out;
	assert_int_equal(one_node_page(0, 0, buf), -EINVAL); /* a table's node has a state */
	assert_int_equal(one_node_page(4, 0, buf), -EINVAL);
	assert_int_equal(one_node_page(WIRE_NODE_LIVE, WIRE_MAX_LOCAL_RANKS + 1, buf), -EINVAL);

	int n = one_node_page(WIRE_NODE_LEFT, 0, buf);
	assert_true(n > 0);
	size_t state_at = 12 + 4 + 2 + 2 + 2, count_at = state_at + 2;
	buf[state_at] = 9;
	assert_int_equal(wire_decode_rdv_table(buf, (size_t)n, &out), -EBADMSG);
	buf[state_at] = WIRE_NODE_DOWN;
	assert_int_equal(wire_decode_rdv_table(buf, (size_t)n, &out), 0);
	uint32_t over = WIRE_MAX_LOCAL_RANKS + 1;
	for (int i = 0; i < 4; i++)
		buf[count_at + (size_t)i] = (uint8_t)(over >> (8 * i));
	assert_int_equal(wire_decode_rdv_table(buf, (size_t)n, &out), -EBADMSG);

	fill_mesh_join(&join);
	join.node_id = join.node_count;
	assert_int_equal(wire_encode_mesh_join(&join, buf, sizeof(buf)), -EINVAL);
	fill_mesh_join(&join);
	n = wire_encode_mesh_join(&join, buf, sizeof(buf));
	assert_true(n > 0);
	buf[0] = 4; /* node 4 of a step of 4 */
	assert_int_equal(wire_decode_mesh_join(buf, (size_t)n, &join_out), -EBADMSG);
}

static void test_join_refusal_must_carry_an_error(void **state)
{
	(void)state;
	static uint8_t buf[WIRE_MAX_PAYLOAD];
	static struct wire_mesh_join_refused m, out;
	fill_mesh_join_refused(&m);
	m.status = 0;
	assert_int_equal(wire_encode_mesh_join_refused(&m, buf, sizeof(buf)), -EINVAL);
	fill_mesh_join_refused(&m);
	int n = wire_encode_mesh_join_refused(&m, buf, sizeof(buf));
	assert_true(n > 0);
	memset(buf, 0, 4);
	assert_int_equal(wire_decode_mesh_join_refused(buf, (size_t)n, &out), -EBADMSG);
}

static void test_suspect_and_report_enumerations_are_checked(void **state)
{
	(void)state;
	uint8_t buf[512];
	struct wire_mesh_suspect s;
	struct wire_mesh_report r;
	fill_mesh_suspect(&s);
	int n = wire_encode_mesh_suspect(&s, buf, sizeof(buf));
	assert_true(n > 0);
	buf[4] = WIRE_EVIDENCE_LEFT + 1; /* evidence */
	assert_int_equal(wire_decode_mesh_suspect(buf, (size_t)n, &s), -EBADMSG);
	s.evidence = 0;
	assert_int_equal(wire_encode_mesh_suspect(&s, buf, sizeof(buf)), -EINVAL);

	fill_mesh_report(&r);
	n = wire_encode_mesh_report(&r, buf, sizeof(buf));
	assert_true(n > 0);
	buf[0] = WIRE_EVENT_NODE_DOWN; /* only rank exits are reported */
	assert_int_equal(wire_decode_mesh_report(buf, (size_t)n, &r), -EBADMSG);
	r.type = WIRE_EVENT_NODE_LEFT;
	assert_int_equal(wire_encode_mesh_report(&r, buf, sizeof(buf)), -EINVAL);
}

static void test_event_log_reply_count_over_limit_is_rejected(void **state)
{
	(void)state;
	static uint8_t buf[WIRE_MAX_PAYLOAD];
	static struct wire_event_log_reply m;
	fill_event_log_reply(&m);
	m.count = WIRE_EVENT_LOG_MAX + 1;
	assert_int_equal(wire_encode_event_log_reply(&m, buf, sizeof(buf)), -EINVAL);
	m.count = 0;
	int n = wire_encode_event_log_reply(&m, buf, sizeof(buf));
	assert_true(n > 4);
	buf[n - 4] = WIRE_EVENT_LOG_MAX + 1;
	assert_int_equal(wire_decode_event_log_reply(buf, (size_t)n, &m), -EBADMSG);
}

/* --- streams --- */

static int frame_heartbeat(uint64_t generation, uint8_t *buf, size_t cap)
{
	struct wire_mesh_heartbeat hb = { .generation = generation };
	uint8_t payload[16];
	int n = wire_encode_mesh_heartbeat(&hb, payload, sizeof(payload));
	assert_true(n > 0);
	return wire_frame(WIRE_MESH_HEARTBEAT, 0, payload, (uint32_t)n, buf, cap);
}

static void test_stream_yields_a_message_sent_byte_by_byte(void **state)
{
	(void)state;
	static struct wire_stream s;
	static struct wire_msg msg;
	uint8_t frame[64];
	struct wire_mesh_heartbeat hb;
	int sv[2], n = frame_heartbeat(77, frame, sizeof(frame));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	wire_stream_init(&s);
	for (int i = 0; i < n; i++) {
		assert_int_equal(wire_stream_next(&s, &msg), -EAGAIN);
		assert_int_equal(write(sv[0], frame + i, 1), 1);
		assert_int_equal(wire_stream_fill(sv[1], &s), 1);
	}
	assert_int_equal(wire_stream_next(&s, &msg), 0);
	assert_int_equal(msg.header.type, WIRE_MESH_HEARTBEAT);
	assert_int_equal(msg.fd, -1);
	assert_int_equal(wire_decode_mesh_heartbeat(msg.payload, msg.header.length, &hb), 0);
	assert_int_equal(hb.generation, 77);
	assert_int_equal(wire_stream_next(&s, &msg), -EAGAIN);
	assert_int_equal(wire_stream_fill(sv[1], &s), -EAGAIN);
	close(sv[0]);
	assert_int_equal(wire_stream_fill(sv[1], &s), -ECONNRESET);
	close(sv[1]);
}

static void test_stream_splits_messages_that_arrive_together(void **state)
{
	(void)state;
	static struct wire_stream s;
	static struct wire_msg msg;
	uint8_t frames[256];
	struct wire_mesh_heartbeat hb;
	int sv[2], total = 0;
	for (uint64_t g = 1; g <= 3; g++)
		total += frame_heartbeat(g, frames + total, sizeof(frames) - (size_t)total);
	frames[total] = 'L'; /* the first byte of a fourth frame */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[0], frames, (size_t)total + 1), total + 1);
	wire_stream_init(&s);
	assert_int_equal(wire_stream_fill(sv[1], &s), total + 1);
	for (uint64_t g = 1; g <= 3; g++) {
		assert_int_equal(wire_stream_next(&s, &msg), 0);
		assert_int_equal(wire_decode_mesh_heartbeat(msg.payload, msg.header.length, &hb), 0);
		assert_int_equal(hb.generation, g);
	}
	assert_int_equal(wire_stream_next(&s, &msg), -EAGAIN);
	assert_int_equal(s.len, 1);
	close(sv[0]);
	close(sv[1]);
}

/* A sealed stream: each frame is whole only with the WIRE_SEAL_SIZE bytes after it, which
 * come out beside the message, the largest payload included. */
static void test_sealed_stream_takes_the_seal_after_each_frame(void **state)
{
	(void)state;
	static struct wire_stream s;
	static struct wire_msg msg;
	static uint8_t payload[WIRE_MAX_PAYLOAD];
	uint8_t seal[WIRE_SEAL_SIZE];
	struct wire_mesh_heartbeat hb;
	size_t frame_len;

	wire_stream_init(&s);
	frame_len = (size_t)frame_heartbeat(5, s.buf, sizeof(s.buf));
	memset(s.buf + frame_len, 0xa5, WIRE_SEAL_SIZE);
	s.len = frame_len + WIRE_SEAL_SIZE - 1;
	assert_int_equal(wire_stream_next_sealed(&s, &msg, seal), -EAGAIN);
	s.len++;
	assert_int_equal(wire_stream_next_sealed(&s, &msg, seal), 0);
	assert_int_equal(wire_decode_mesh_heartbeat(msg.payload, msg.header.length, &hb), 0);
	assert_int_equal(hb.generation, 5);
	for (size_t i = 0; i < WIRE_SEAL_SIZE; i++)
		assert_int_equal(seal[i], 0xa5);
	assert_int_equal(s.len, 0);

	memset(payload, 7, sizeof(payload));
	frame_len = (size_t)wire_frame(WIRE_MESH_EVENT, 0, payload, WIRE_MAX_PAYLOAD, s.buf,
				       sizeof(s.buf));
	assert_int_equal(frame_len, WIRE_MAX_MESSAGE);
	memset(s.buf + frame_len, 0x3c, WIRE_SEAL_SIZE);
	s.len = frame_len + WIRE_SEAL_SIZE;
	assert_int_equal(wire_stream_next_sealed(&s, &msg, seal), 0);
	assert_int_equal(msg.header.length, WIRE_MAX_PAYLOAD);
	assert_int_equal(seal[WIRE_SEAL_SIZE - 1], 0x3c);
	assert_int_equal(s.len, 0);
}

static void test_stream_refuses_a_bad_header_before_its_payload(void **state)
{
	(void)state;
	static struct wire_stream s;
	static struct wire_msg msg;
	uint8_t header[WIRE_HEADER_SIZE];

	wire_encode_header(WIRE_MESH_EVENT, 0, WIRE_MAX_PAYLOAD + 1, header);
	wire_stream_init(&s);
	memcpy(s.buf, header, sizeof(header));
	s.len = sizeof(header);
	assert_int_equal(wire_stream_next(&s, &msg), -EMSGSIZE);

	wire_encode_header(999, 0, 0, s.buf);
	assert_int_equal(wire_stream_next(&s, &msg), -EOPNOTSUPP);

	wire_encode_header(WIRE_MESH_HELLO, 0, 4, s.buf);
	s.buf[0] = 'X';
	assert_int_equal(wire_stream_next(&s, &msg), -EBADMSG);

	wire_encode_header(WIRE_MESH_HELLO, 0, 4, s.buf);
	s.buf[4] = WIRE_VERSION + 1;
	assert_int_equal(wire_stream_next(&s, &msg), -EPROTONOSUPPORT);
}

static void test_frame_refuses_a_small_buffer(void **state)
{
	(void)state;
	uint8_t buf[WIRE_HEADER_SIZE + 8], payload[8] = { 0 };
	assert_int_equal(wire_frame(WIRE_MESH_PING, 1, payload, 8, buf, sizeof(buf)),
			 (int)sizeof(buf));
	assert_int_equal(wire_frame(WIRE_MESH_PING, 1, payload, 8, buf, sizeof(buf) - 1),
			 -EMSGSIZE);
	assert_int_equal(wire_frame(WIRE_MESH_PING, 1, payload, WIRE_MAX_PAYLOAD + 1, buf,
				    sizeof(buf)),
			 -EMSGSIZE);
}

static void test_mesh_type_names(void **state)
{
	(void)state;
	assert_string_equal(wire_type_name(WIRE_MESH_HELLO), "MESH_HELLO");
	assert_string_equal(wire_type_name(WIRE_RDV_TABLE), "RDV_TABLE");
	assert_string_equal(wire_type_name(WIRE_MESH_EVENT), "MESH_EVENT");
	assert_string_equal(wire_type_name(WIRE_EVENT_LOG_REPLY), "EVENT_LOG_REPLY");
	assert_string_equal(wire_type_name(WIRE_MESH_JOIN), "MESH_JOIN");
	for (uint16_t t = WIRE_MESH_HELLO; t <= WIRE_MESH_JOIN_REFUSED; t++)
		assert_non_null(wire_type_name(t));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_mesh_message_round_trips),
		cmocka_unit_test(test_the_largest_mesh_messages_fit_one_frame),
		cmocka_unit_test(test_every_cut_mesh_message_is_rejected),
		cmocka_unit_test(test_trailing_bytes_after_a_mesh_message_are_rejected),
		cmocka_unit_test(test_mesh_encoders_refuse_a_small_buffer),
		cmocka_unit_test(test_credential_over_limit_is_rejected),
		cmocka_unit_test(test_table_pages_outside_the_table_are_rejected),
		cmocka_unit_test(test_register_with_node_outside_the_step_is_rejected),
		cmocka_unit_test(test_mesh_event_with_bad_fields_is_rejected),
		cmocka_unit_test(test_node_states_and_rank_counts_are_checked),
		cmocka_unit_test(test_join_refusal_must_carry_an_error),
		cmocka_unit_test(test_suspect_and_report_enumerations_are_checked),
		cmocka_unit_test(test_event_log_reply_count_over_limit_is_rejected),
		cmocka_unit_test(test_stream_yields_a_message_sent_byte_by_byte),
		cmocka_unit_test(test_stream_splits_messages_that_arrive_together),
		cmocka_unit_test(test_stream_refuses_a_bad_header_before_its_payload),
		cmocka_unit_test(test_sealed_stream_takes_the_seal_after_each_frame),
		cmocka_unit_test(test_frame_refuses_a_small_buffer),
		cmocka_unit_test(test_mesh_type_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
