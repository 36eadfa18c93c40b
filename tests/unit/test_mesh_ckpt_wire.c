/* test_mesh_ckpt_wire.c: the messages that carry a multi-node checkpoint over the mesh
 * (WIRE_MESH_CKPT_*). Each must survive an encode/decode round trip and fit one frame at
 * its largest; every malformed form (cut at any byte, trailing bytes, counts over their
 * maximum, region counts that do not add up, enumerations and statuses out of range) must
 * be rejected by the decoder, and the encoders must refuse what they cannot encode. */
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

WIRE_MESH_CKPT_MESSAGES(CODEC)
static const struct codec codecs[] = { WIRE_MESH_CKPT_MESSAGES(ENTRY) };

#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))

static uint8_t buf[WIRE_MAX_PAYLOAD + 1];

static void test_every_checkpoint_message_round_trips(void **state)
{
	(void)state;
	codec_check_round_trips(codecs, NCODECS);
}

static void test_every_cut_checkpoint_message_is_rejected(void **state)
{
	(void)state;
	codec_check_cuts_rejected(codecs, NCODECS);
	codec_check_trailing_byte_rejected(codecs, NCODECS);
}

static void test_checkpoint_encoders_refuse_a_small_buffer(void **state)
{
	(void)state;
	codec_check_small_buffer_refused(codecs, NCODECS);
}

static void test_the_largest_checkpoint_messages_fit_one_frame(void **state)
{
	(void)state;
	static struct wire_mesh_ckpt_write write;
	static struct wire_mesh_ckpt_result result;
	struct wire_ckpt_replicas *r = &write.replicas;
	fill_mesh_ckpt_write(&write);
	write.lost_count = WIRE_CKPT_LOST_MAX;
	r->count = WIRE_CKPT_REPLICAS_MAX;
	r->region_count = WIRE_CKPT_REGIONS_MAX;
	for (uint32_t i = 0; i < r->count; i++) {
		memset(r->replicas[i].node, 'n', WIRE_NODE_NAME_MAX);
		memset(r->replicas[i].shard_key, 'k', WIRE_NAME_MAX);
		r->replicas[i].region_count = WIRE_CKPT_REGIONS_MAX / WIRE_CKPT_REPLICAS_MAX;
	}
	for (uint32_t i = 0; i < r->region_count; i++)
		memset(r->regions[i].name, 'r', WIRE_NAME_MAX);
	fill_mesh_ckpt_result(&result);
	result.hash_count = WIRE_CKPT_HASHES_MAX;
	memset(result.error, 'e', WIRE_TEXT_MAX);
	assert_true(wire_encode_mesh_ckpt_write(&write, buf, WIRE_MAX_PAYLOAD) > 0);
	assert_true(wire_encode_mesh_ckpt_result(&result, buf, WIRE_MAX_PAYLOAD) > 0);
}

/* A valid reports message that `spoil` makes inconsistent: the encoder refuses it. */
static void expect_reports_refused(void (*spoil)(struct wire_mesh_ckpt_reports *m))
{
	static struct wire_mesh_ckpt_reports m;
	memset(&m, 0, sizeof(m));
	fill_mesh_ckpt_reports(&m);
	spoil(&m);
	assert_int_equal(wire_encode_mesh_ckpt_reports(&m, buf, sizeof(buf)), -EINVAL);
}

static void too_many_replicas(struct wire_mesh_ckpt_reports *m)
{
	m->replicas.count = WIRE_CKPT_REPLICAS_MAX + 1;
}

static void regions_do_not_add_up(struct wire_mesh_ckpt_reports *m)
{
	m->replicas.region_count--;
}

static void phase_out_of_range(struct wire_mesh_ckpt_reports *m)
{
	m->replicas.replicas[1].phase = WIRE_PHASE_COMMITTED + 1;
}

static void test_inconsistent_replicas_are_not_encoded(void **state)
{
	(void)state;
	expect_reports_refused(too_many_replicas);
	expect_reports_refused(regions_do_not_add_up);
	expect_reports_refused(phase_out_of_range);
}

static void store_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The offset of the replica count in an encoded reports message. */
static size_t reports_count_offset(const struct wire_mesh_ckpt_reports *m)
{
	return 8 + 4 + 2 + strlen(m->error);
}

static void test_a_replica_count_over_the_maximum_is_rejected(void **state)
{
	(void)state;
	static struct wire_mesh_ckpt_reports m, out;
	fill_mesh_ckpt_reports(&m);
	int n = wire_encode_mesh_ckpt_reports(&m, buf, sizeof(buf));
	assert_true(n > 0);
	store_u32(buf + reports_count_offset(&m), WIRE_CKPT_REPLICAS_MAX + 1);
	assert_int_equal(wire_decode_mesh_ckpt_reports(buf, (size_t)n, &out), -EBADMSG);
}

static void test_region_counts_that_do_not_add_up_are_rejected(void **state)
{
	(void)state;
	static struct wire_mesh_ckpt_reports m, out;
	fill_mesh_ckpt_reports(&m);
	int n = wire_encode_mesh_ckpt_reports(&m, buf, sizeof(buf));
	assert_true(n > 0);
	/* The first replica's region_count is the last field of its record. */
	size_t first = reports_count_offset(&m) + 4;
	size_t region_count_at = first + 4 + 4 + 2 + strlen(m.replicas.replicas[0].node) + 2 +
				 strlen(m.replicas.replicas[0].shard_key) + 4 + 2 + 8;
	store_u32(buf + region_count_at, 3);
	assert_int_equal(wire_decode_mesh_ckpt_reports(buf, (size_t)n, &out), -EBADMSG);
}

static void test_a_phase_out_of_range_is_rejected(void **state)
{
	(void)state;
	static struct wire_mesh_ckpt_reports m, out;
	fill_mesh_ckpt_reports(&m);
	int n = wire_encode_mesh_ckpt_reports(&m, buf, sizeof(buf));
	assert_true(n > 0);
	size_t first = reports_count_offset(&m) + 4;
	size_t phase_at = first + 4 + 4 + 2 + strlen(m.replicas.replicas[0].node) + 2 +
			  strlen(m.replicas.replicas[0].shard_key) + 4;
	buf[phase_at] = WIRE_PHASE_COMMITTED + 1;
	assert_int_equal(wire_decode_mesh_ckpt_reports(buf, (size_t)n, &out), -EBADMSG);
}

static void test_a_positive_status_is_rejected(void **state)
{
	(void)state;
	static struct wire_mesh_ckpt_reports m, out;
	static struct wire_mesh_ckpt_result res, res_out;
	fill_mesh_ckpt_reports(&m);
	int n = wire_encode_mesh_ckpt_reports(&m, buf, sizeof(buf));
	assert_true(n > 0);
	store_u32(buf + 8, 5);
	assert_int_equal(wire_decode_mesh_ckpt_reports(buf, (size_t)n, &out), -EBADMSG);
	fill_mesh_ckpt_result(&res);
	n = wire_encode_mesh_ckpt_result(&res, buf, sizeof(buf));
	assert_true(n > 0);
	store_u32(buf + 8, 5);
	assert_int_equal(wire_decode_mesh_ckpt_result(buf, (size_t)n, &res_out), -EBADMSG);
	res.status = 5;
	assert_int_equal(wire_encode_mesh_ckpt_result(&res, buf, sizeof(buf)), -EINVAL);
}

static void test_too_many_lost_writers_are_rejected(void **state)
{
	(void)state;
	static struct wire_mesh_ckpt_write m, out;
	fill_mesh_ckpt_write(&m);
	int n = wire_encode_mesh_ckpt_write(&m, buf, sizeof(buf));
	assert_true(n > 0);
	store_u32(buf + 24, WIRE_CKPT_LOST_MAX + 1); /* after id, step, snapshot_step */
	assert_int_equal(wire_decode_mesh_ckpt_write(buf, (size_t)n, &out), -EBADMSG);
	m.lost_count = WIRE_CKPT_LOST_MAX + 1;
	assert_int_equal(wire_encode_mesh_ckpt_write(&m, buf, sizeof(buf)), -EINVAL);
}

static void test_a_write_without_a_step_is_rejected(void **state)
{
	(void)state;
	static struct wire_mesh_ckpt_write m, out;
	fill_mesh_ckpt_write(&m);
	m.step = WIRE_NO_STEP;
	int n = wire_encode_mesh_ckpt_write(&m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(wire_decode_mesh_ckpt_write(buf, (size_t)n, &out), -EBADMSG);
}

static void test_a_write_from_the_snapshots_of_another_step_is_rejected(void **state)
{
	(void)state;
	static struct wire_mesh_ckpt_write m, out;
	fill_mesh_ckpt_write(&m);
	m.snapshot_step = m.step + 10;
	int n = wire_encode_mesh_ckpt_write(&m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(wire_decode_mesh_ckpt_write(buf, (size_t)n, &out), -EBADMSG);
	m.snapshot_step = WIRE_NO_STEP; /* from the live ranks */
	n = wire_encode_mesh_ckpt_write(&m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(wire_decode_mesh_ckpt_write(buf, (size_t)n, &out), 0);
	assert_true(out.snapshot_step == WIRE_NO_STEP);
}

static void test_too_many_hashes_are_rejected(void **state)
{
	(void)state;
	static struct wire_mesh_ckpt_result m, out;
	fill_mesh_ckpt_result(&m);
	int n = wire_encode_mesh_ckpt_result(&m, buf, sizeof(buf));
	assert_true(n > 0);
	size_t count_at = 8 + 4 + 2 + strlen(m.error) + 8 + 8 + 8;
	store_u32(buf + count_at, WIRE_CKPT_HASHES_MAX + 1);
	assert_int_equal(wire_decode_mesh_ckpt_result(buf, (size_t)n, &out), -EBADMSG);
	m.hash_count = WIRE_CKPT_HASHES_MAX + 1;
	assert_int_equal(wire_encode_mesh_ckpt_result(&m, buf, sizeof(buf)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_checkpoint_message_round_trips),
		cmocka_unit_test(test_every_cut_checkpoint_message_is_rejected),
		cmocka_unit_test(test_checkpoint_encoders_refuse_a_small_buffer),
		cmocka_unit_test(test_the_largest_checkpoint_messages_fit_one_frame),
		cmocka_unit_test(test_inconsistent_replicas_are_not_encoded),
		cmocka_unit_test(test_a_replica_count_over_the_maximum_is_rejected),
		cmocka_unit_test(test_region_counts_that_do_not_add_up_are_rejected),
		cmocka_unit_test(test_a_phase_out_of_range_is_rejected),
		cmocka_unit_test(test_a_positive_status_is_rejected),
		cmocka_unit_test(test_too_many_lost_writers_are_rejected),
		cmocka_unit_test(test_a_write_without_a_step_is_rejected),
		cmocka_unit_test(test_a_write_from_the_snapshots_of_another_step_is_rejected),
		cmocka_unit_test(test_too_many_hashes_are_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
