/* test_xfer_wire.c: the state-transfer messages of the wire protocol (XFER_HELLO,
 * XFER_REQUEST, XFER_DATA, XFER_END; see wire.h, "state transfer", and helper/services/transfer.h).
 * Every message must survive an encode/decode round trip, and every malformed form must be
 * rejected: cut at any byte, a trailing byte, a buffer too small for the encoder, strings
 * over their limits or with an embedded NUL, and the decoders' own rules: a request or a
 * data header names a range of 1 .. WIRE_XFER_LENGTH_MAX bytes that does not wrap past
 * 2^64, a request names a shard and a region, and an END carries 0 or a negative status. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal/wire.h"
#include "wire_codec.h"

/* Byte offsets of the fixed fields of the encodings made from the samples (wire_samples.h). */
#define REQUEST_SHARD_KEY_AT 0 /* u16 length, then "shard0" (6 bytes) */
#define REQUEST_REGION_AT 8    /* u16 length, then "optim.exp_avg" (13 bytes) */
#define REQUEST_STEP_AT 23
#define REQUEST_OFFSET_AT 31
#define REQUEST_LENGTH_AT 39
#define DATA_OFFSET_AT 0
#define DATA_LENGTH_AT 8
#define END_STATUS_AT 0
#define END_MESSAGE_AT 12

WIRE_XFER_MESSAGES(CODEC)
static const struct codec codecs[] = { WIRE_XFER_MESSAGES(ENTRY) };

#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* --- the checks every message passes --- */

static void test_every_xfer_message_round_trips(void **state)
{
	(void)state;
	codec_check_round_trips(codecs, NCODECS);
}

static void test_every_cut_xfer_message_is_rejected(void **state)
{
	(void)state;
	codec_check_cuts_rejected(codecs, NCODECS);
}

static void test_trailing_bytes_after_an_xfer_message_are_rejected(void **state)
{
	(void)state;
	codec_check_trailing_byte_rejected(codecs, NCODECS);
}

static void test_xfer_encoders_refuse_a_small_buffer(void **state)
{
	(void)state;
	codec_check_small_buffer_refused(codecs, NCODECS);
}

/* The decoded fields are the encoded ones, not merely a re-encoding of the same bytes. */
static void test_xfer_fields_survive_decoding(void **state)
{
	(void)state;
	static uint8_t buf[WIRE_MAX_PAYLOAD];
	struct wire_xfer_hello hello, hello_out;
	struct wire_xfer_request req, req_out;
	struct wire_xfer_data data, data_out;
	struct wire_xfer_end end, end_out;
	int n;

	fill_xfer_hello(&hello);
	n = wire_encode_xfer_hello(&hello, buf, sizeof(buf));
	assert_int_equal(n, 4 + 4 + 2 + WIRE_CRED_MAX);
	assert_int_equal(wire_decode_xfer_hello(buf, (size_t)n, &hello_out), 0);
	assert_int_equal(hello_out.from_node, 0);
	assert_int_equal(hello_out.to_node, 2);
	assert_string_equal(hello_out.credential, hello.credential);

	fill_xfer_request(&req);
	n = wire_encode_xfer_request(&req, buf, sizeof(buf));
	assert_int_equal(n, REQUEST_LENGTH_AT + 8);
	assert_int_equal(wire_decode_xfer_request(buf, (size_t)n, &req_out), 0);
	assert_string_equal(req_out.shard_key, "shard0");
	assert_string_equal(req_out.region, "optim.exp_avg");
	assert_int_equal(req_out.step, 7);
	assert_int_equal(req_out.offset, 0x0000000123456789ull);
	assert_int_equal(req_out.length, 64ull << 20);

	fill_xfer_data(&data);
	n = wire_encode_xfer_data(&data, buf, sizeof(buf));
	assert_int_equal(n, 8 + 8 + 4);
	assert_int_equal(wire_decode_xfer_data(buf, (size_t)n, &data_out), 0);
	assert_int_equal(data_out.offset, 0x0000000123456789ull);
	assert_int_equal(data_out.length, 64ull << 20);
	assert_int_equal(data_out.rank, 4);

	fill_xfer_end(&end);
	n = wire_encode_xfer_end(&end, buf, sizeof(buf));
	assert_int_equal(wire_decode_xfer_end(buf, (size_t)n, &end_out), 0);
	assert_int_equal(end_out.status, -ESTALE);
	assert_int_equal(end_out.xxh3, 0x0123456789abcdefull);
	assert_string_equal(end_out.message, end.message);
}

/* --- XFER_HELLO --- */

static void test_hello_credential_over_limit_is_rejected(void **state)
{
	(void)state;
	static uint8_t buf[WIRE_MAX_PAYLOAD];
	static struct wire_xfer_hello hello;
	fill_xfer_hello(&hello);
	hello.credential[WIRE_CRED_MAX] = 'x'; /* no terminator within the limit */
	assert_int_equal(wire_encode_xfer_hello(&hello, buf, sizeof(buf)), -EINVAL);

	/* A hand-made HELLO claiming a credential one byte too long. */
	size_t n = 8 + 2 + WIRE_CRED_MAX + 1;
	memset(buf, 'c', n);
	memset(buf, 0, 8);
	put_le(buf + 8, WIRE_CRED_MAX + 1, 2);
	assert_int_equal(wire_decode_xfer_hello(buf, n, &hello), -EBADMSG);
}

static void test_hello_credential_with_a_nul_is_rejected(void **state)
{
	(void)state;
	static uint8_t buf[WIRE_MAX_PAYLOAD];
	static struct wire_xfer_hello hello;
	fill_xfer_hello(&hello);
	int n = wire_encode_xfer_hello(&hello, buf, sizeof(buf));
	assert_true(n > 20);
	buf[20] = '\0';
	assert_int_equal(wire_decode_xfer_hello(buf, (size_t)n, &hello), -EBADMSG);
}

/* --- XFER_REQUEST --- */

/* The sample request encoded, with the u64 at `at` replaced by v, then decoded. */
static int request_decodes_with(size_t at, uint64_t v, struct wire_xfer_request *out)
{
	uint8_t buf[256];
	struct wire_xfer_request req = { 0 };
	fill_xfer_request(&req);
	int n = wire_encode_xfer_request(&req, buf, sizeof(buf));
	assert_int_equal(n, REQUEST_LENGTH_AT + 8);
	put_le(buf + at, v, 8);
	return wire_decode_xfer_request(buf, (size_t)n, out);
}

/* The sample request with the given range, encoded. */
static int request_encodes_with(uint64_t offset, uint64_t length)
{
	uint8_t buf[256];
	struct wire_xfer_request req = { 0 };
	fill_xfer_request(&req);
	req.offset = offset;
	req.length = length;
	return wire_encode_xfer_request(&req, buf, sizeof(buf));
}

static void test_request_of_no_bytes_is_refused(void **state)
{
	(void)state;
	struct wire_xfer_request out;
	assert_int_equal(request_encodes_with(0, 0), -EINVAL);
	assert_int_equal(request_decodes_with(REQUEST_LENGTH_AT, 0, &out), -EBADMSG);
	assert_int_equal(request_decodes_with(REQUEST_LENGTH_AT, 1, &out), 0);
	assert_int_equal(out.length, 1);
}

static void test_request_over_the_length_limit_is_refused(void **state)
{
	(void)state;
	struct wire_xfer_request out;
	assert_int_equal(request_encodes_with(0, WIRE_XFER_LENGTH_MAX + 1), -EINVAL);
	assert_int_equal(request_encodes_with(0, UINT64_MAX), -EINVAL);
	assert_int_equal(request_decodes_with(REQUEST_LENGTH_AT, WIRE_XFER_LENGTH_MAX + 1, &out),
			 -EBADMSG);
	assert_int_equal(request_decodes_with(REQUEST_LENGTH_AT, UINT64_MAX, &out), -EBADMSG);

	assert_true(request_encodes_with(0, WIRE_XFER_LENGTH_MAX) > 0);
	assert_int_equal(request_decodes_with(REQUEST_LENGTH_AT, WIRE_XFER_LENGTH_MAX, &out), 0);
	assert_int_equal(out.length, WIRE_XFER_LENGTH_MAX);
}

static void test_request_whose_end_wraps_is_refused(void **state)
{
	(void)state;
	struct wire_xfer_request out;
	uint64_t length = 64ull << 20; /* the sample's */
	assert_int_equal(request_encodes_with(UINT64_MAX - length + 1, length), -EINVAL);
	assert_int_equal(request_encodes_with(UINT64_MAX, 1), -EINVAL);
	assert_int_equal(request_decodes_with(REQUEST_OFFSET_AT, UINT64_MAX - length + 1, &out),
			 -EBADMSG);
	assert_int_equal(request_decodes_with(REQUEST_OFFSET_AT, UINT64_MAX, &out), -EBADMSG);

	/* Ending exactly at 2^64 - 1 is still a range. */
	assert_true(request_encodes_with(UINT64_MAX - length, length) > 0);
	assert_int_equal(request_decodes_with(REQUEST_OFFSET_AT, UINT64_MAX - length, &out), 0);
	assert_int_equal(out.offset, UINT64_MAX - length);
}

static void test_request_step_is_taken_as_is(void **state)
{
	(void)state;
	struct wire_xfer_request out;
	assert_int_equal(request_decodes_with(REQUEST_STEP_AT, 0, &out), 0);
	assert_int_equal(out.step, 0);
	assert_int_equal(request_decodes_with(REQUEST_STEP_AT, UINT64_MAX, &out), 0);
	assert_int_equal(out.step, UINT64_MAX);
}

static void test_request_without_a_shard_or_region_is_refused(void **state)
{
	(void)state;
	uint8_t buf[256];
	struct wire_xfer_request req, out;
	int n;

	fill_xfer_request(&req);
	req.shard_key[0] = '\0';
	assert_int_equal(wire_encode_xfer_request(&req, buf, sizeof(buf)), -EINVAL);
	fill_xfer_request(&req);
	req.region[0] = '\0';
	assert_int_equal(wire_encode_xfer_request(&req, buf, sizeof(buf)), -EINVAL);

	/* Hand-made: an empty shard key, then an empty region. */
	uint8_t *p = buf;
	put_le(p, 0, 2);
	p += 2;
	put_le(p, 6, 2);
	memcpy(p + 2, "region", 6);
	p += 8;
	put_le(p, 7, 8);
	put_le(p + 8, 0, 8);
	put_le(p + 16, 4096, 8);
	p += 24;
	n = (int)(p - buf);
	assert_int_equal(wire_decode_xfer_request(buf, (size_t)n, &out), -EBADMSG);

	p = buf;
	put_le(p, 5, 2);
	memcpy(p + 2, "shard", 5);
	p += 7;
	put_le(p, 0, 2);
	p += 2;
	put_le(p, 7, 8);
	put_le(p + 8, 0, 8);
	put_le(p + 16, 4096, 8);
	p += 24;
	n = (int)(p - buf);
	assert_int_equal(wire_decode_xfer_request(buf, (size_t)n, &out), -EBADMSG);
}

static void test_request_names_over_the_limit_are_refused(void **state)
{
	(void)state;
	uint8_t buf[512];
	struct wire_xfer_request req, out;

	/* The longest names pass both ways. */
	fill_xfer_request(&req);
	memset(req.shard_key, 's', WIRE_NAME_MAX);
	req.shard_key[WIRE_NAME_MAX] = '\0';
	memset(req.region, 'r', WIRE_NAME_MAX);
	req.region[WIRE_NAME_MAX] = '\0';
	int n = wire_encode_xfer_request(&req, buf, sizeof(buf));
	assert_int_equal(n, 2 * (2 + WIRE_NAME_MAX) + 24);
	assert_int_equal(wire_decode_xfer_request(buf, (size_t)n, &out), 0);
	assert_string_equal(out.shard_key, req.shard_key);
	assert_string_equal(out.region, req.region);

	/* One byte more, unterminated, cannot be encoded. */
	req.shard_key[WIRE_NAME_MAX] = 's';
	assert_int_equal(wire_encode_xfer_request(&req, buf, sizeof(buf)), -EINVAL);
	fill_xfer_request(&req);
	memset(req.region, 'r', sizeof(req.region));
	assert_int_equal(wire_encode_xfer_request(&req, buf, sizeof(buf)), -EINVAL);

	/* Hand-made: a shard key of WIRE_NAME_MAX + 1 bytes. */
	uint8_t *p = buf;
	put_le(p, WIRE_NAME_MAX + 1, 2);
	memset(p + 2, 's', WIRE_NAME_MAX + 1);
	p += 2 + WIRE_NAME_MAX + 1;
	put_le(p, 1, 2);
	p[2] = 'r';
	p += 3;
	put_le(p, 7, 8);
	put_le(p + 8, 0, 8);
	put_le(p + 16, 4096, 8);
	p += 24;
	assert_int_equal(wire_decode_xfer_request(buf, (size_t)(p - buf), &out), -EBADMSG);

	/* Hand-made: a region of WIRE_NAME_MAX + 1 bytes. */
	p = buf;
	put_le(p, 1, 2);
	p[2] = 's';
	p += 3;
	put_le(p, WIRE_NAME_MAX + 1, 2);
	memset(p + 2, 'r', WIRE_NAME_MAX + 1);
	p += 2 + WIRE_NAME_MAX + 1;
	put_le(p, 7, 8);
	put_le(p + 8, 0, 8);
	put_le(p + 16, 4096, 8);
	p += 24;
	assert_int_equal(wire_decode_xfer_request(buf, (size_t)(p - buf), &out), -EBADMSG);
}

static void test_request_names_with_a_nul_are_refused(void **state)
{
	(void)state;
	uint8_t buf[256];
	struct wire_xfer_request req, out;
	fill_xfer_request(&req);
	int n = wire_encode_xfer_request(&req, buf, sizeof(buf));
	assert_true(n > 0);
	buf[REQUEST_SHARD_KEY_AT + 2 + 3] = '\0';
	assert_int_equal(wire_decode_xfer_request(buf, (size_t)n, &out), -EBADMSG);
	n = wire_encode_xfer_request(&req, buf, sizeof(buf));
	buf[REQUEST_REGION_AT + 2 + 5] = '\0';
	assert_int_equal(wire_decode_xfer_request(buf, (size_t)n, &out), -EBADMSG);
}

/* --- XFER_DATA --- */

/* The sample data header encoded, with the u64 at `at` replaced by v, then decoded. */
static int data_decodes_with(size_t at, uint64_t v, struct wire_xfer_data *out)
{
	uint8_t buf[64];
	struct wire_xfer_data m;
	fill_xfer_data(&m);
	int n = wire_encode_xfer_data(&m, buf, sizeof(buf));
	assert_int_equal(n, 20);
	put_le(buf + at, v, 8);
	return wire_decode_xfer_data(buf, (size_t)n, out);
}

static void test_data_range_is_checked_like_a_request(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct wire_xfer_data m, out;

	fill_xfer_data(&m);
	m.length = 0;
	assert_int_equal(wire_encode_xfer_data(&m, buf, sizeof(buf)), -EINVAL);
	m.length = WIRE_XFER_LENGTH_MAX + 1;
	assert_int_equal(wire_encode_xfer_data(&m, buf, sizeof(buf)), -EINVAL);
	m.length = 2;
	m.offset = UINT64_MAX - 1;
	assert_int_equal(wire_encode_xfer_data(&m, buf, sizeof(buf)), -EINVAL);

	assert_int_equal(data_decodes_with(DATA_LENGTH_AT, 0, &out), -EBADMSG);
	assert_int_equal(data_decodes_with(DATA_LENGTH_AT, WIRE_XFER_LENGTH_MAX + 1, &out),
			 -EBADMSG);
	assert_int_equal(data_decodes_with(DATA_OFFSET_AT, UINT64_MAX, &out), -EBADMSG);
	assert_int_equal(data_decodes_with(DATA_LENGTH_AT, WIRE_XFER_LENGTH_MAX, &out), 0);
	assert_int_equal(data_decodes_with(DATA_OFFSET_AT, UINT64_MAX - (64ull << 20), &out), 0);
}

/* --- XFER_END --- */

static void test_end_status_must_be_zero_or_negative(void **state)
{
	(void)state;
	uint8_t buf[512];
	struct wire_xfer_end m, out;
	int n;

	fill_xfer_end(&m);
	m.status = 1;
	assert_int_equal(wire_encode_xfer_end(&m, buf, sizeof(buf)), -EINVAL);
	m.status = INT32_MAX;
	assert_int_equal(wire_encode_xfer_end(&m, buf, sizeof(buf)), -EINVAL);

	m.status = 0;
	n = wire_encode_xfer_end(&m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(wire_decode_xfer_end(buf, (size_t)n, &out), 0);
	assert_int_equal(out.status, 0);

	put_le(buf + END_STATUS_AT, 1, 4);
	assert_int_equal(wire_decode_xfer_end(buf, (size_t)n, &out), -EBADMSG);
	put_le(buf + END_STATUS_AT, INT32_MAX, 4);
	assert_int_equal(wire_decode_xfer_end(buf, (size_t)n, &out), -EBADMSG);
	put_le(buf + END_STATUS_AT, (uint32_t)INT32_MIN, 4);
	assert_int_equal(wire_decode_xfer_end(buf, (size_t)n, &out), 0);
	assert_int_equal(out.status, INT32_MIN);
}

static void test_end_message_bounds_are_checked(void **state)
{
	(void)state;
	static uint8_t buf[WIRE_MAX_PAYLOAD];
	static struct wire_xfer_end m, out;
	int n;

	/* Empty and longest messages pass. */
	fill_xfer_end(&m);
	m.message[0] = '\0';
	n = wire_encode_xfer_end(&m, buf, sizeof(buf));
	assert_int_equal(n, END_MESSAGE_AT + 2);
	assert_int_equal(wire_decode_xfer_end(buf, (size_t)n, &out), 0);
	assert_string_equal(out.message, "");
	memset(m.message, 'm', WIRE_TEXT_MAX);
	m.message[WIRE_TEXT_MAX] = '\0';
	n = wire_encode_xfer_end(&m, buf, sizeof(buf));
	assert_int_equal(n, END_MESSAGE_AT + 2 + WIRE_TEXT_MAX);
	assert_int_equal(wire_decode_xfer_end(buf, (size_t)n, &out), 0);
	assert_int_equal(strlen(out.message), WIRE_TEXT_MAX);

	/* Unterminated within the limit: not encoded. */
	m.message[WIRE_TEXT_MAX] = 'm';
	assert_int_equal(wire_encode_xfer_end(&m, buf, sizeof(buf)), -EINVAL);

	/* Hand-made: a message of WIRE_TEXT_MAX + 1 bytes. */
	memset(buf, 0, END_MESSAGE_AT);
	put_le(buf + END_MESSAGE_AT, WIRE_TEXT_MAX + 1, 2);
	memset(buf + END_MESSAGE_AT + 2, 'm', WIRE_TEXT_MAX + 1);
	assert_int_equal(wire_decode_xfer_end(buf, END_MESSAGE_AT + 2 + WIRE_TEXT_MAX + 1, &out),
			 -EBADMSG);

	/* A NUL inside the message. */
	fill_xfer_end(&m);
	n = wire_encode_xfer_end(&m, buf, sizeof(buf));
	buf[END_MESSAGE_AT + 2 + 4] = '\0';
	assert_int_equal(wire_decode_xfer_end(buf, (size_t)n, &out), -EBADMSG);
}

/* --- names --- */

static void test_xfer_type_names(void **state)
{
	(void)state;
	assert_string_equal(wire_type_name(WIRE_XFER_HELLO), "XFER_HELLO");
	assert_string_equal(wire_type_name(WIRE_XFER_REQUEST), "XFER_REQUEST");
	assert_string_equal(wire_type_name(WIRE_XFER_DATA), "XFER_DATA");
	assert_string_equal(wire_type_name(WIRE_XFER_END), "XFER_END");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_xfer_message_round_trips),
		cmocka_unit_test(test_every_cut_xfer_message_is_rejected),
		cmocka_unit_test(test_trailing_bytes_after_an_xfer_message_are_rejected),
		cmocka_unit_test(test_xfer_encoders_refuse_a_small_buffer),
		cmocka_unit_test(test_xfer_fields_survive_decoding),
		cmocka_unit_test(test_hello_credential_over_limit_is_rejected),
		cmocka_unit_test(test_hello_credential_with_a_nul_is_rejected),
		cmocka_unit_test(test_request_of_no_bytes_is_refused),
		cmocka_unit_test(test_request_over_the_length_limit_is_refused),
		cmocka_unit_test(test_request_whose_end_wraps_is_refused),
		cmocka_unit_test(test_request_step_is_taken_as_is),
		cmocka_unit_test(test_request_without_a_shard_or_region_is_refused),
		cmocka_unit_test(test_request_names_over_the_limit_are_refused),
		cmocka_unit_test(test_request_names_with_a_nul_are_refused),
		cmocka_unit_test(test_data_range_is_checked_like_a_request),
		cmocka_unit_test(test_end_status_must_be_zero_or_negative),
		cmocka_unit_test(test_end_message_bounds_are_checked),
		cmocka_unit_test(test_xfer_type_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
