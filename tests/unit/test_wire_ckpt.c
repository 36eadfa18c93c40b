/* test_wire_ckpt.c: the checkpoint messages of the wire protocol (CKPT_RESULT, CKPT_INFO,
 * RESUME_INFO, common/wire_control.c): each decodes to what was encoded; a truncated payload, trailing
 * bytes and a path longer than WIRE_CKPT_PATH_MAX are refused. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "internal/wire.h"

static uint8_t buf[WIRE_MAX_PAYLOAD];

static void test_ckpt_result_round_trips(void **state)
{
	struct wire_ckpt_result in = { .status = -ENOSPC, .step = 7, .bytes = 1ull << 40,
				       .elapsed_us = 123456 }, out;
	(void)state;
	strcpy(in.path, "/scratch/ckpt/30/step-7");
	strcpy(in.message, "checkpoint of step 7 abandoned: no space");
	int len = wire_encode_ckpt_result(&in, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(wire_decode_ckpt_result(buf, (size_t)len, &out), 0);
	assert_int_equal(out.status, -ENOSPC);
	assert_int_equal(out.step, 7);
	assert_int_equal(out.bytes, 1ull << 40);
	assert_int_equal(out.elapsed_us, 123456);
	assert_string_equal(out.path, in.path);
	assert_string_equal(out.message, in.message);
	assert_int_equal(wire_decode_ckpt_result(buf, (size_t)len - 1, &out), -EBADMSG);
	buf[len] = 0;
	assert_int_equal(wire_decode_ckpt_result(buf, (size_t)len + 1, &out), -EBADMSG);
}

static void test_ckpt_info_round_trips(void **state)
{
	struct wire_ckpt_info in = { .keep = 2, .restore_mode = WIRE_RESTORE_AUTO,
				     .restored_step = 6, .busy = 1, .busy_step = 9,
				     .last_status = 0, .last_step = 8 }, out;
	(void)state;
	strcpy(in.ckpt_dir, "/scratch/ckpt/30");
	strcpy(in.restored_from, "/scratch/ckpt/30/step-6");
	strcpy(in.last_message, "step 8 saved");
	int len = wire_encode_ckpt_info(&in, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(wire_decode_ckpt_info(buf, (size_t)len, &out), 0);
	assert_string_equal(out.ckpt_dir, in.ckpt_dir);
	assert_int_equal(out.keep, 2);
	assert_int_equal(out.restore_mode, WIRE_RESTORE_AUTO);
	assert_int_equal(out.restored_step, 6);
	assert_string_equal(out.restored_from, in.restored_from);
	assert_int_equal(out.busy, 1);
	assert_int_equal(out.busy_step, 9);
	assert_int_equal(out.last_step, 8);
	assert_string_equal(out.last_message, in.last_message);
	assert_int_equal(wire_decode_ckpt_info(buf, (size_t)len / 2, &out), -EBADMSG);
}

static void test_resume_info_round_trips_and_refuses_long_paths(void **state)
{
	struct wire_resume_info in = { .step = WIRE_NO_STEP }, out;
	(void)state;
	int len = wire_encode_resume_info(&in, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(wire_decode_resume_info(buf, (size_t)len, &out), 0);
	assert_int_equal(out.step, WIRE_NO_STEP);
	assert_string_equal(out.checkpoint, "");
	memset(in.checkpoint, 'x', WIRE_CKPT_PATH_MAX);
	in.checkpoint[WIRE_CKPT_PATH_MAX] = '\0';
	assert_true(wire_encode_resume_info(&in, buf, sizeof(buf)) > 0);
	struct wire_ckpt_result long_path = { 0 };
	memset(long_path.path, 'x', sizeof(long_path.path));
	assert_int_equal(wire_encode_ckpt_result(&long_path, buf, sizeof(buf)), -EINVAL);
}

static void test_checkpoint_types_have_names(void **state)
{
	(void)state;
	assert_string_equal(wire_type_name(WIRE_CKPT_NOW), "CKPT_NOW");
	assert_string_equal(wire_type_name(WIRE_CKPT_RESULT), "CKPT_RESULT");
	assert_string_equal(wire_type_name(WIRE_CKPT_INFO_REQUEST), "CKPT_INFO_REQUEST");
	assert_string_equal(wire_type_name(WIRE_CKPT_INFO), "CKPT_INFO");
	assert_string_equal(wire_type_name(WIRE_RESUME_STEP), "RESUME_STEP");
	assert_string_equal(wire_type_name(WIRE_RESUME_INFO), "RESUME_INFO");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ckpt_result_round_trips),
		cmocka_unit_test(test_ckpt_info_round_trips),
		cmocka_unit_test(test_resume_info_round_trips_and_refuses_long_paths),
		cmocka_unit_test(test_checkpoint_types_have_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
