/* test_wire.c: the wire protocol's encoders, decoders and datagram I/O. Every message type
 * must survive an encode/decode round trip; every malformed message (short, truncated at any
 * byte, trailing bytes, oversized, wrong magic or version, unknown type, bad strings and
 * counts) must be rejected with the documented error. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal/wire.h"
#include "wire_codec.h"

WIRE_PLUGIN_MESSAGES(CODEC)
WIRE_CONTROL_MESSAGES(CODEC)
static const struct codec codecs[] = { WIRE_PLUGIN_MESSAGES(ENTRY) WIRE_CONTROL_MESSAGES(ENTRY) };

#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))

static void test_every_message_round_trips(void **state)
{
	(void)state;
	codec_check_round_trips(codecs, NCODECS);
}

static void test_every_truncated_message_is_rejected(void **state)
{
	(void)state;
	codec_check_cuts_rejected(codecs, NCODECS);
}

static void test_trailing_bytes_are_rejected(void **state)
{
	(void)state;
	codec_check_trailing_byte_rejected(codecs, NCODECS);
}

static void test_encoder_refuses_small_buffer(void **state)
{
	(void)state;
	codec_check_small_buffer_refused(codecs, NCODECS);
}

static void test_string_over_limit_is_rejected(void **state)
{
	(void)state;
	uint8_t buf[512];
	struct wire_region_name m;
	memset(m.name, 'a', sizeof(m.name));
	m.name[WIRE_NAME_MAX] = 'a'; /* no terminator within the limit */
	struct wire_register reg = { 0 };
	memset(reg.shard_key, 'k', sizeof(reg.shard_key));
	assert_int_equal(wire_encode_region_name(&m, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(wire_encode_register(&reg, buf, sizeof(buf)), -EINVAL);

	/* A hand-made payload claiming 64 bytes of name. */
	uint8_t raw[2 + 64];
	raw[0] = 64;
	raw[1] = 0;
	memset(raw + 2, 'a', 64);
	assert_int_equal(wire_decode_region_name(raw, sizeof(raw), &m), -EBADMSG);
}

static void test_string_with_nul_is_rejected(void **state)
{
	(void)state;
	uint8_t raw[2 + 3] = { 3, 0, 'a', 0, 'b' };
	struct wire_region_name m;
	assert_int_equal(wire_decode_region_name(raw, sizeof(raw), &m), -EBADMSG);
}

static void test_counts_over_limit_are_rejected(void **state)
{
	(void)state;
	static uint8_t buf[WIRE_MAX_PAYLOAD];
	static struct wire_region_list_reply list;
	static struct wire_status_reply status;
	static struct wire_kv_value value;
	uint8_t raw[8] = { 0 };

	raw[4] = (WIRE_REGION_LIST_MAX + 1) & 0xff;
	raw[5] = (WIRE_REGION_LIST_MAX + 1) >> 8;
	assert_int_equal(wire_decode_region_list_reply(raw, sizeof(raw), &list), -EBADMSG);

	fill_status_reply(&status);
	status.rank_count = WIRE_MAX_LOCAL_RANKS + 1;
	assert_int_equal(wire_encode_status_reply(&status, buf, sizeof(buf)), -EINVAL);

	uint8_t blob[4] = { 0x01, 0x80, 0, 0 }; /* 32769 bytes claimed */
	assert_int_equal(wire_decode_kv_value(blob, sizeof(blob), &value), -EBADMSG);
	value.value_len = WIRE_KV_VALUE_MAX + 1;
	assert_int_equal(wire_encode_kv_value(&value, buf, sizeof(buf)), -EINVAL);
}

static void test_header_round_trips(void **state)
{
	(void)state;
	uint8_t buf[WIRE_HEADER_SIZE + 3];
	struct wire_header h;
	wire_encode_header(WIRE_KV_GET, 0xdeadbeef, 3, buf);
	assert_memory_equal(buf, "LCRW", 4);
	assert_int_equal(wire_parse_header(buf, sizeof(buf), &h), 0);
	assert_int_equal(h.type, WIRE_KV_GET);
	assert_int_equal(h.seq, 0xdeadbeef);
	assert_int_equal(h.length, 3);
	assert_int_equal(h.version, WIRE_VERSION);
}

static void test_short_header_is_rejected(void **state)
{
	(void)state;
	uint8_t buf[WIRE_HEADER_SIZE];
	struct wire_header h;
	wire_encode_header(WIRE_SHUTDOWN, 1, 0, buf);
	for (size_t len = 0; len < WIRE_HEADER_SIZE; len++)
		assert_int_equal(wire_parse_header(buf, len, &h), -EBADMSG);
}

static void test_wrong_magic_is_rejected(void **state)
{
	(void)state;
	uint8_t buf[WIRE_HEADER_SIZE];
	struct wire_header h;
	wire_encode_header(WIRE_SHUTDOWN, 1, 0, buf);
	buf[0] ^= 0xff;
	assert_int_equal(wire_parse_header(buf, sizeof(buf), &h), -EBADMSG);
}

static void test_wrong_version_is_rejected(void **state)
{
	(void)state;
	uint8_t buf[WIRE_HEADER_SIZE];
	struct wire_header h;
	wire_encode_header(WIRE_SHUTDOWN, 1, 0, buf);
	buf[4] = WIRE_VERSION + 1;
	assert_int_equal(wire_parse_header(buf, sizeof(buf), &h), -EPROTONOSUPPORT);
}

static void test_unknown_type_is_rejected(void **state)
{
	(void)state;
	uint8_t buf[WIRE_HEADER_SIZE];
	struct wire_header h;
	const uint16_t unknown[] = { 0, 5, 15, 34, 999, 0xffff };
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		wire_encode_header(unknown[i], 1, 0, buf);
		assert_int_equal(wire_parse_header(buf, sizeof(buf), &h), -EOPNOTSUPP);
	}
}

static void test_oversized_length_is_rejected(void **state)
{
	(void)state;
	uint8_t buf[WIRE_HEADER_SIZE];
	struct wire_header h;
	wire_encode_header(WIRE_KV_PUT, 1, WIRE_MAX_PAYLOAD + 1, buf);
	assert_int_equal(wire_parse_header(buf, sizeof(buf), &h), -EMSGSIZE);
	wire_encode_header(WIRE_KV_PUT, 1, 0xffffffffu, buf);
	assert_int_equal(wire_parse_header(buf, sizeof(buf), &h), -EMSGSIZE);
}

static void test_length_mismatch_is_rejected(void **state)
{
	(void)state;
	uint8_t buf[WIRE_HEADER_SIZE + 8];
	struct wire_header h;
	wire_encode_header(WIRE_KV_PUT, 1, 8, buf);
	assert_int_equal(wire_parse_header(buf, WIRE_HEADER_SIZE + 7, &h), -EBADMSG);
	wire_encode_header(WIRE_KV_PUT, 1, 4, buf);
	assert_int_equal(wire_parse_header(buf, sizeof(buf), &h), -EBADMSG);
}

static void socket_pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

static void test_plugin_messages_cross_a_socketpair(void **state)
{
	(void)state;
	static struct wire_msg msg;
	struct wire_ready ready;
	struct wire_task_started started;
	struct wire_task_exited exited;
	int sv[2];
	socket_pair(sv);

	assert_int_equal(wire_send_ready(sv[0], "/tmp/x/lcrd.sock", 77), 0);
	assert_int_equal(wire_send_task_started(sv[1], 2, 10, 555), 0);
	assert_int_equal(wire_send_task_exited(sv[1], 10, 555, 256), 0);
	assert_int_equal(wire_send_shutdown(sv[1]), 0);

	assert_int_equal(wire_recv_msg(sv[1], &msg, 1000), 0);
	assert_int_equal(msg.header.type, WIRE_READY);
	assert_int_equal(msg.fd, -1);
	assert_int_equal(wire_decode_ready(msg.payload, msg.header.length, &ready), 0);
	assert_string_equal(ready.socket_path, "/tmp/x/lcrd.sock");
	assert_int_equal(ready.pid, 77);

	assert_int_equal(wire_recv_msg(sv[0], &msg, 1000), 0);
	assert_int_equal(msg.header.type, WIRE_TASK_STARTED);
	assert_int_equal(wire_decode_task_started(msg.payload, msg.header.length, &started), 0);
	assert_int_equal(started.local_task_id, 2);
	assert_int_equal(started.global_rank, 10);
	assert_int_equal(started.pid, 555);

	assert_int_equal(wire_recv_msg(sv[0], &msg, 1000), 0);
	assert_int_equal(msg.header.type, WIRE_TASK_EXITED);
	assert_int_equal(wire_decode_task_exited(msg.payload, msg.header.length, &exited), 0);
	assert_int_equal(exited.wait_status, 256);

	assert_int_equal(wire_recv_msg(sv[0], &msg, 1000), 0);
	assert_int_equal(msg.header.type, WIRE_SHUTDOWN);
	assert_int_equal(msg.header.length, 0);

	assert_int_equal(wire_recv_msg(sv[0], &msg, 0), -ETIMEDOUT);
	assert_int_equal(wire_recv_msg(sv[0], &msg, 20), -ETIMEDOUT);
	close(sv[1]);
	assert_int_equal(wire_recv_msg(sv[0], &msg, 1000), -ECONNRESET);
	close(sv[0]);
}

static void test_descriptor_travels_with_message(void **state)
{
	(void)state;
	static struct wire_msg msg;
	int sv[2], pipefd[2];
	char c = 0;
	socket_pair(sv);
	assert_int_equal(pipe(pipefd), 0);

	assert_int_equal(wire_send_msg_full(sv[0], WIRE_REPLY, 9, "\0\0\0\0\0\0", 6, pipefd[1]), 0);
	assert_int_equal(wire_recv_msg(sv[1], &msg, 1000), 0);
	assert_int_equal(msg.header.seq, 9);
	assert_true(msg.fd >= 0);
	assert_int_equal(write(msg.fd, "z", 1), 1);
	assert_int_equal(read(pipefd[0], &c, 1), 1);
	assert_int_equal(c, 'z');
	close(msg.fd);
	close(pipefd[0]);
	close(pipefd[1]);
	close(sv[0]);
	close(sv[1]);
}

static void test_oversized_datagram_is_dropped(void **state)
{
	(void)state;
	static struct wire_msg msg;
	static uint8_t big[WIRE_MAX_MESSAGE + 100];
	int sv[2], size = 4 * WIRE_MAX_MESSAGE;
	socket_pair(sv);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)), 0);
	wire_encode_header(WIRE_KV_PUT, 1, WIRE_MAX_PAYLOAD + 100, big);
	assert_int_equal(send(sv[0], big, sizeof(big), 0), (ssize_t)sizeof(big));
	assert_int_equal(wire_send_shutdown(sv[0]), 0);
	assert_int_equal(wire_recv_msg(sv[1], &msg, 1000), -EMSGSIZE);
	assert_int_equal(wire_recv_msg(sv[1], &msg, 1000), 0);
	assert_int_equal(msg.header.type, WIRE_SHUTDOWN);
	close(sv[0]);
	close(sv[1]);
}

static void test_malformed_datagram_leaves_next_intact(void **state)
{
	(void)state;
	static struct wire_msg msg;
	uint8_t bad[WIRE_HEADER_SIZE];
	int sv[2];
	socket_pair(sv);
	assert_int_equal(send(sv[0], "abc", 3, 0), 3);
	wire_encode_header(WIRE_SHUTDOWN, 1, 0, bad);
	bad[4] = WIRE_VERSION + 1;
	assert_int_equal(send(sv[0], bad, sizeof(bad), 0), (ssize_t)sizeof(bad));
	assert_int_equal(wire_send_shutdown(sv[0]), 0);
	assert_int_equal(wire_recv_msg(sv[1], &msg, 1000), -EBADMSG);
	assert_int_equal(wire_recv_msg(sv[1], &msg, 1000), -EPROTONOSUPPORT);
	assert_int_equal(wire_recv_msg(sv[1], &msg, 1000), 0);
	assert_int_equal(msg.header.type, WIRE_SHUTDOWN);
	close(sv[0]);
	close(sv[1]);
}

static void test_ready_refuses_long_path(void **state)
{
	(void)state;
	char path[WIRE_PATH_MAX + 2];
	memset(path, 'p', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(wire_send_ready(-1, path, 1), -ENAMETOOLONG);
}

static void test_type_names(void **state)
{
	(void)state;
	assert_string_equal(wire_type_name(WIRE_TASK_STARTED), "TASK_STARTED");
	assert_string_equal(wire_type_name(WIRE_BARRIER), "BARRIER");
	assert_null(wire_type_name(0));
	assert_null(wire_type_name(1000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_message_round_trips),
		cmocka_unit_test(test_every_truncated_message_is_rejected),
		cmocka_unit_test(test_trailing_bytes_are_rejected),
		cmocka_unit_test(test_encoder_refuses_small_buffer),
		cmocka_unit_test(test_string_over_limit_is_rejected),
		cmocka_unit_test(test_string_with_nul_is_rejected),
		cmocka_unit_test(test_counts_over_limit_are_rejected),
		cmocka_unit_test(test_header_round_trips),
		cmocka_unit_test(test_short_header_is_rejected),
		cmocka_unit_test(test_wrong_magic_is_rejected),
		cmocka_unit_test(test_wrong_version_is_rejected),
		cmocka_unit_test(test_unknown_type_is_rejected),
		cmocka_unit_test(test_oversized_length_is_rejected),
		cmocka_unit_test(test_length_mismatch_is_rejected),
		cmocka_unit_test(test_plugin_messages_cross_a_socketpair),
		cmocka_unit_test(test_descriptor_travels_with_message),
		cmocka_unit_test(test_oversized_datagram_is_dropped),
		cmocka_unit_test(test_malformed_datagram_leaves_next_intact),
		cmocka_unit_test(test_ready_refuses_long_path),
		cmocka_unit_test(test_type_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
