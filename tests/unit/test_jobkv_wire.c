/* test_jobkv_wire.c: the job-wide store's messages (wire_jobkv.h): each survives an
 * encode/decode round trip; every cut, a trailing byte, a value longer than its maximum, an
 * unknown operation or change, an empty key and a positive status are rejected; the largest
 * request (a COMPARE_SET with two values of the maximum) fits one frame once forwarded. */
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

WIRE_JOBKV_MESSAGES(CODEC)
static const struct codec codecs[] = { WIRE_JOBKV_MESSAGES(ENTRY) };

#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))

static uint8_t buf[WIRE_MAX_PAYLOAD + 1];

static void test_every_store_message_round_trips(void **state)
{
	(void)state;
	codec_check_round_trips(codecs, NCODECS);
}

static void test_every_cut_store_message_is_rejected(void **state)
{
	(void)state;
	codec_check_cuts_rejected(codecs, NCODECS);
	codec_check_trailing_byte_rejected(codecs, NCODECS);
	codec_check_small_buffer_refused(codecs, NCODECS);
}

static void test_the_largest_forwarded_compare_set_fits_one_frame(void **state)
{
	static struct wire_jobkv_forward f, out;
	(void)state;
	fill_jobkv_forward(&f);
	memset(f.request.key, 'k', WIRE_NAME_MAX);
	f.request.key[WIRE_NAME_MAX] = '\0';
	f.request.value_len = f.request.expected_len = WIRE_STORE_VALUE_MAX;
	int n = wire_encode_jobkv_forward(&f, buf, WIRE_MAX_PAYLOAD);
	assert_true(n > 0);
	assert_int_equal(wire_decode_jobkv_forward(buf, (size_t)n, &out), 0);
	assert_int_equal(out.request.expected_len, WIRE_STORE_VALUE_MAX);
}

static void test_a_request_the_store_cannot_serve_is_refused(void **state)
{
	static struct wire_store_request m;
	(void)state;
	fill_store_request(&m);
	m.op = WIRE_STORE_OP_MAX + 1;
	assert_int_equal(wire_encode_store_request(&m, buf, sizeof(buf)), -EINVAL);
	m.op = 0;
	assert_int_equal(wire_encode_store_request(&m, buf, sizeof(buf)), -EINVAL);
	fill_store_request(&m);
	m.key[0] = '\0';
	assert_int_equal(wire_encode_store_request(&m, buf, sizeof(buf)), -EINVAL);
	fill_store_request(&m);
	m.value_len = WIRE_STORE_VALUE_MAX + 1;
	assert_int_equal(wire_encode_store_request(&m, buf, sizeof(buf)), -EINVAL);
}

static void store_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void store_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void test_a_forwarded_request_with_an_unknown_operation_is_rejected(void **state)
{
	static struct wire_jobkv_forward f, out;
	(void)state;
	fill_jobkv_forward(&f);
	int n = wire_encode_jobkv_forward(&f, buf, sizeof(buf));
	assert_true(n > 0);
	store_u16(buf + 24, WIRE_STORE_OP_MAX + 1); /* after op_id, client, client_seq */
	assert_int_equal(wire_decode_jobkv_forward(buf, (size_t)n, &out), -EBADMSG);
}

static void test_a_value_length_over_the_maximum_is_rejected(void **state)
{
	static struct wire_store_reply m, out;
	(void)state;
	fill_store_reply(&m);
	int n = wire_encode_store_reply(&m, buf, sizeof(buf));
	assert_true(n > 0);
	store_u32(buf + 2 + 8, WIRE_STORE_VALUE_MAX + 1);
	assert_int_equal(wire_decode_store_reply(buf, (size_t)n, &out), -EBADMSG);
}

static void test_an_unknown_change_or_a_positive_status_is_rejected(void **state)
{
	static struct wire_jobkv_apply a, a_out;
	static struct wire_jobkv_result r, r_out;
	(void)state;
	fill_jobkv_apply(&a);
	int n = wire_encode_jobkv_apply(&a, buf, sizeof(buf));
	assert_true(n > 0);
	store_u16(buf + 16, WIRE_JOBKV_DELETED + 1); /* after term, index */
	assert_int_equal(wire_decode_jobkv_apply(buf, (size_t)n, &a_out), -EBADMSG);
	fill_jobkv_result(&r);
	n = wire_encode_jobkv_result(&r, buf, sizeof(buf));
	assert_true(n > 0);
	store_u32(buf + 8, 5); /* status, after op_id */
	assert_int_equal(wire_decode_jobkv_result(buf, (size_t)n, &r_out), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_store_message_round_trips),
		cmocka_unit_test(test_every_cut_store_message_is_rejected),
		cmocka_unit_test(test_the_largest_forwarded_compare_set_fits_one_frame),
		cmocka_unit_test(test_a_request_the_store_cannot_serve_is_refused),
		cmocka_unit_test(test_a_forwarded_request_with_an_unknown_operation_is_rejected),
		cmocka_unit_test(test_a_value_length_over_the_maximum_is_rejected),
		cmocka_unit_test(test_an_unknown_change_or_a_positive_status_is_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
