/* test_snapshot_wire.c: the snapshot messages of the wire protocol (SNAPSHOT_PUT,
 * SNAPSHOT_ACK, SNAPSHOT_DONE, SNAPSHOT_END; wire_snapshot.h). Every message must survive
 * an encode/decode round trip, and every malformed form must be rejected: cut at any byte,
 * a trailing byte, a buffer too small for the encoder, and the decoders' own rules: a copy
 * names a region, a step and 1 .. WIRE_SNAPSHOT_SIZE_MAX bytes, a chunk a possible group; statuses are 0 or
 * negative; a round names a step; `protected` is 0 or 1. */
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

/* Byte offsets of fixed fields in the samples' encodings (wire_samples.h). */
#define PUT_REGION_AT (16 + 2 + 8 + 4)   /* u32 node, u64 incarnation, u32 rank, the shard key
					  * "zero1-r7" (u16 length first), u32 dp_size, then
					  * u16 length */
#define PUT_REGION_KIND_AT (PUT_REGION_AT + 2 + 13) /* after "optim.exp_avg" */
#define PUT_STEP_AT (PUT_REGION_KIND_AT + 2)
#define PUT_SIZE_AT (PUT_STEP_AT + 8)
#define ACK_STATUS_AT 0
#define DONE_STEP_AT 0
#define DONE_STATUS_AT 8
#define END_STEP_AT 0
#define END_PROTECTED_AT 8

WIRE_SNAPSHOT_MESSAGES(CODEC)
static const struct codec codecs[] = { WIRE_SNAPSHOT_MESSAGES(ENTRY) };

#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The sample of codec `kind` encoded into buf, with `bytes` bytes at `at` replaced by v,
 * then decoded into out: the decoder's answer. */
static int decodes_with(const char *kind, size_t at, uint64_t v, int bytes, void *out)
{
	static uint8_t buf[WIRE_MAX_PAYLOAD];
	for (size_t i = 0; i < NCODECS; i++) {
		if (strcmp(codecs[i].name, kind) != 0)
			continue;
		void *m = calloc(1, codecs[i].size);
		assert_non_null(m);
		codecs[i].fill(m);
		int n = codecs[i].encode(m, buf, sizeof(buf));
		free(m);
		assert_true(n > 0 && (size_t)n >= at + (size_t)bytes);
		put_le(buf + at, v, bytes);
		return codecs[i].decode(buf, (size_t)n, out);
	}
	fail_msg("no codec %s", kind);
	return 0;
}

static void test_every_snapshot_message_round_trips(void **state)
{
	(void)state;
	codec_check_round_trips(codecs, NCODECS);
}

static void test_every_cut_snapshot_message_is_rejected(void **state)
{
	(void)state;
	codec_check_cuts_rejected(codecs, NCODECS);
}

static void test_trailing_bytes_after_a_snapshot_message_are_rejected(void **state)
{
	(void)state;
	codec_check_trailing_byte_rejected(codecs, NCODECS);
}

static void test_snapshot_encoders_refuse_a_small_buffer(void **state)
{
	(void)state;
	codec_check_small_buffer_refused(codecs, NCODECS);
}

/* The decoded fields are the encoded ones, where the offsets above say they are. */
static void test_snapshot_fields_survive_decoding(void **state)
{
	(void)state;
	struct wire_snapshot_put put;
	struct wire_snapshot_done done;
	struct wire_snapshot_end end;
	assert_int_equal(decodes_with("snapshot_put", PUT_SIZE_AT, 4096, 8, &put), 0);
	assert_int_equal(put.node, 3);
	assert_int_equal(put.incarnation, 12);
	assert_int_equal(put.rank, 7);
	assert_int_equal(put.dp_size, 1);
	assert_string_equal(put.region, "optim.exp_avg");
	assert_int_equal(put.region_kind, WIRE_REGION_CUDA);
	assert_int_equal(put.step, 40);
	assert_int_equal(put.size, 4096);
	assert_int_equal(decodes_with("snapshot_done", DONE_STEP_AT, 50, 8, &done), 0);
	assert_int_equal(done.step, 50);
	assert_int_equal(done.status, -ESTALE);
	assert_int_equal(done.bytes, 3ull << 20);
	assert_int_equal(done.partner_count, 2);
	assert_int_equal(done.partners[0], 4);
	assert_int_equal(done.partners[1], 1);
	assert_int_equal(decodes_with("snapshot_end", END_PROTECTED_AT, 0, 2, &end), 0);
	assert_int_equal(end.step, 40);
	assert_int_equal(end.protected, 0);
	assert_int_equal(end.bytes, 12ull << 20);
}

/* A copy names the kind of its region (host or CUDA), which a checkpoint written from it
 * records: any other is refused. */
static void test_put_of_a_copy_names_a_known_region_kind(void **state)
{
	(void)state;
	struct wire_snapshot_put put;
	assert_int_equal(decodes_with("snapshot_put", PUT_REGION_KIND_AT, WIRE_REGION_HOST, 2, &put), 0);
	assert_int_equal(put.region_kind, WIRE_REGION_HOST);
	assert_int_equal(decodes_with("snapshot_put", PUT_REGION_KIND_AT, 0, 2, &put), -EBADMSG);
	assert_int_equal(decodes_with("snapshot_put", PUT_REGION_KIND_AT, 3, 2, &put), -EBADMSG);
}

static void test_put_of_no_bytes_or_too_many_is_refused(void **state)
{
	(void)state;
	struct wire_snapshot_put put;
	uint8_t buf[256];
	assert_int_equal(decodes_with("snapshot_put", PUT_SIZE_AT, 0, 8, &put), -EBADMSG);
	assert_int_equal(decodes_with("snapshot_put", PUT_SIZE_AT, WIRE_SNAPSHOT_SIZE_MAX + 1, 8, &put),
			 -EBADMSG);
	assert_int_equal(decodes_with("snapshot_put", PUT_SIZE_AT, WIRE_SNAPSHOT_SIZE_MAX, 8, &put), 0);
	fill_snapshot_put(&put);
	put.size = 0;
	assert_int_equal(wire_encode_snapshot_put(&put, buf, sizeof(buf)), -EINVAL);
}

/* A chunk of an erasure-coded stripe: encoded and decoded whole when its group geometry is
 * possible, refused when it is not, and of no other kind than copy or chunk. */
static void test_put_of_a_chunk_checks_its_group_geometry(void **state)
{
	(void)state;
	struct wire_snapshot_put put, out;
	uint8_t buf[256];
	fill_snapshot_put(&put);
	put = (struct wire_snapshot_put){ .node = 2, .step = 40, .size = 4096,
					  .kind = WIRE_SNAPSHOT_CHUNK, .group = 1, .group_size = 4,
					  .parity = 1, .stripe = 3, .chunk = 2, .rank = WIRE_NO_RANK };
	int n = wire_encode_snapshot_put(&put, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(wire_decode_snapshot_put(buf, (size_t)n, &out), 0);
	assert_int_equal(out.kind, WIRE_SNAPSHOT_CHUNK);
	assert_int_equal(out.group, 1);
	assert_int_equal(out.group_size, 4);
	assert_int_equal(out.stripe, 3);
	assert_int_equal(out.chunk, 2);
	struct wire_snapshot_put bad[] = { put, put, put, put, put, put };
	bad[0].chunk = 3;        /* 4 - 1 data chunks: 0 .. 2 */
	bad[1].stripe = 4;       /* 4 stripes */
	bad[2].parity = 4;       /* not below the group size */
	bad[3].group_size = 33;  /* more blocks than one code */
	bad[4].parity = 0;
	bad[5].kind = 5;         /* copy, chunk, layout, rebuild, rebuild layout */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(wire_encode_snapshot_put(&bad[i], buf, sizeof(buf)), -EINVAL);
}

/* A rebuild block names any block of its stripe's code (data chunks, then parity rows), a
 * layout a possible group. */
static void test_put_of_a_rebuild_block_or_a_layout_checks_its_geometry(void **state)
{
	(void)state;
	struct wire_snapshot_put put, out;
	uint8_t buf[256];
	put = (struct wire_snapshot_put){ .node = 2, .step = 40, .size = 4096,
					  .kind = WIRE_SNAPSHOT_REBUILD, .group = 0, .group_size = 4,
					  .parity = 1, .stripe = 1, .chunk = 3, .rank = WIRE_NO_RANK };
	int n = wire_encode_snapshot_put(&put, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(wire_decode_snapshot_put(buf, (size_t)n, &out), 0);
	assert_int_equal(out.kind, WIRE_SNAPSHOT_REBUILD);
	assert_int_equal(out.chunk, 3); /* the parity row: block 3 of 3 data + 1 parity */
	put.chunk = 4;
	assert_int_equal(wire_encode_snapshot_put(&put, buf, sizeof(buf)), -EINVAL);
	put.chunk = 0;
	put.stripe = 4;
	assert_int_equal(wire_encode_snapshot_put(&put, buf, sizeof(buf)), -EINVAL);
	put = (struct wire_snapshot_put){ .node = 2, .step = 40, .size = 100,
					  .kind = WIRE_SNAPSHOT_LAYOUT, .group_size = 4, .parity = 1,
					  .rank = WIRE_NO_RANK };
	assert_true(wire_encode_snapshot_put(&put, buf, sizeof(buf)) > 0);
	put.kind = WIRE_SNAPSHOT_REBUILD_LAYOUT;
	assert_true(wire_encode_snapshot_put(&put, buf, sizeof(buf)) > 0);
	/* A layout no longer than the longest one: the receiver allocates what a put names. */
	put.size = WIRE_SNAPSHOT_LAYOUT_BYTES(WIRE_SNAPSHOT_LAYOUT_MAX);
	assert_true(wire_encode_snapshot_put(&put, buf, sizeof(buf)) > 0);
	put.size++;
	assert_int_equal(wire_encode_snapshot_put(&put, buf, sizeof(buf)), -EINVAL);
	put.kind = WIRE_SNAPSHOT_LAYOUT;
	assert_int_equal(wire_encode_snapshot_put(&put, buf, sizeof(buf)), -EINVAL);
	put.size = 100;
	put.kind = WIRE_SNAPSHOT_REBUILD_LAYOUT;
	put.parity = 4;
	assert_int_equal(wire_encode_snapshot_put(&put, buf, sizeof(buf)), -EINVAL);
}

static const struct wire_snapshot_layout_region sample_layout[2] = {
	{ .rank = 4, .dp_size = 1, .shard_key = "zero1-r4", .name = "optim",
	  .kind = WIRE_REGION_HOST, .size = 3000000, .xxh3 = 0x1122334455667788ull },
	{ .rank = 5, .dp_size = 2, .shard_key = "zero1-r5", .name = "w",
	  .kind = WIRE_REGION_CUDA, .size = 64, .xxh3 = 42 },
};

/* A layout names every region of a node's snapshot, in order, with its size and hash. */
static void test_snapshot_layout_round_trips(void **state)
{
	(void)state;
	uint8_t buf[WIRE_SNAPSHOT_LAYOUT_BYTES(2)];
	struct wire_snapshot_layout_region *out = NULL;
	uint32_t count = 0;
	uint64_t incarnation = 0;
	int n = wire_encode_snapshot_layout(9, sample_layout, 2, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(wire_decode_snapshot_layout(buf, (size_t)n, &incarnation, &out, &count), 0);
	assert_int_equal(incarnation, 9);
	assert_int_equal(count, 2);
	assert_memory_equal(out, sample_layout, sizeof(sample_layout));
	free(out);
	/* an empty snapshot has an empty layout */
	n = wire_encode_snapshot_layout(0, NULL, 0, buf, sizeof(buf));
	assert_int_equal(n, 12);
	assert_int_equal(wire_decode_snapshot_layout(buf, (size_t)n, &incarnation, &out, &count), 0);
	assert_int_equal(count, 0);
	free(out);
}

/* Cut at any byte, with a byte more, a region of size 0, an empty name or shard key, a
 * kind neither host nor CUDA, or a count over the maximum: refused, nothing returned. */
static void test_malformed_snapshot_layouts_are_refused(void **state)
{
	(void)state;
	uint8_t buf[WIRE_SNAPSHOT_LAYOUT_BYTES(2) + 1];
	struct wire_snapshot_layout_region *out = NULL, bad[2];
	uint32_t count;
	uint64_t incarnation;
	int n = wire_encode_snapshot_layout(9, sample_layout, 2, buf, sizeof(buf));
	for (int cut = 0; cut < n; cut++)
		assert_int_equal(wire_decode_snapshot_layout(buf, (size_t)cut, &incarnation, &out,
							     &count), -EBADMSG);
	assert_int_equal(wire_decode_snapshot_layout(buf, (size_t)n + 1, &incarnation, &out, &count),
			 -EBADMSG);
	assert_int_equal(wire_encode_snapshot_layout(9, sample_layout, 2, buf, 20), -EMSGSIZE);
	for (int which = 0; which < 4; which++) {
		memcpy(bad, sample_layout, sizeof(bad));
		if (which == 0)
			bad[1].size = 0;
		else if (which == 1)
			bad[1].name[0] = '\0';
		else if (which == 2)
			bad[0].shard_key[0] = '\0';
		else
			bad[1].kind = 0;
		n = wire_encode_snapshot_layout(9, bad, 2, buf, sizeof(buf));
		assert_true(n > 0);
		assert_int_equal(wire_decode_snapshot_layout(buf, (size_t)n, &incarnation, &out,
							     &count), -EBADMSG);
	}
	put_le(buf + 8, WIRE_SNAPSHOT_LAYOUT_MAX + 1, 4);
	assert_int_equal(wire_decode_snapshot_layout(buf, 12, &incarnation, &out, &count), -EBADMSG);
	assert_int_equal(wire_encode_snapshot_layout(9, sample_layout, WIRE_SNAPSHOT_LAYOUT_MAX + 1,
						     buf, sizeof(buf)), -EINVAL);
}

/* A SNAPSHOT_PUT (a copy) of rank 7 of node 3, step 20, 4096 bytes, laid out by hand in
 * buf (u32 node, u64 incarnation, u32 rank, u16 length and the shard key, u32 dp_size, u16
 * length and the region's name, u16 region kind (host), u64 step, u64 size, then kind 0 =
 * copy and the chunk's fields, 14 bytes of zeros): its length. */
static size_t hand_made_put(uint8_t *buf, const char *shard_key, uint32_t dp_size,
			    const char *region)
{
	size_t at = 16, shard_len = strlen(shard_key), region_len = strlen(region);
	memset(buf, 0, at);
	put_le(buf, 3, 4);
	put_le(buf + 12, 7, 4);
	put_le(buf + at, shard_len, 2);
	memcpy(buf + at + 2, shard_key, shard_len);
	at += 2 + shard_len;
	put_le(buf + at, dp_size, 4);
	put_le(buf + at + 4, region_len, 2);
	memcpy(buf + at + 6, region, region_len);
	at += 6 + region_len;
	put_le(buf + at, WIRE_REGION_HOST, 2);
	at += 2;
	put_le(buf + at, 20, 8);
	put_le(buf + at + 8, 4096, 8);
	memset(buf + at + 16, 0, 14);
	return at + 30;
}

static void test_put_without_a_step_or_a_region_is_refused(void **state)
{
	(void)state;
	struct wire_snapshot_put put;
	uint8_t buf[256];
	assert_int_equal(decodes_with("snapshot_put", PUT_STEP_AT, WIRE_NO_STEP, 8, &put), -EBADMSG);
	assert_int_equal(decodes_with("snapshot_put", PUT_STEP_AT, 0, 8, &put), 0);
	fill_snapshot_put(&put);
	put.region[0] = '\0';
	assert_int_equal(wire_encode_snapshot_put(&put, buf, sizeof(buf)), -EINVAL);
	/* Hand-made, the encoder refusing it: the same PUT decodes with a region name, and is
	 * refused with an empty one. */
	size_t n = hand_made_put(buf, "own7", 1, "w");
	assert_int_equal(wire_decode_snapshot_put(buf, n, &put), 0);
	assert_string_equal(put.region, "w");
	assert_int_equal(put.step, 20);
	assert_int_equal(put.size, 4096);
	n = hand_made_put(buf, "own7", 1, "");
	assert_int_equal(wire_decode_snapshot_put(buf, n, &put), -EBADMSG);
}

/* A copy is asked for by its shard key, and a checkpoint's manifest needs its rank's
 * data-parallel size. */
static void test_put_without_a_shard_key_or_a_dp_size_is_refused(void **state)
{
	(void)state;
	struct wire_snapshot_put put;
	uint8_t buf[256];
	assert_int_equal(wire_decode_snapshot_put(buf, hand_made_put(buf, "", 1, "w"), &put),
			 -EBADMSG);
	assert_int_equal(wire_decode_snapshot_put(buf, hand_made_put(buf, "own7", 0, "w"), &put),
			 -EBADMSG);
	assert_int_equal(wire_decode_snapshot_put(buf, hand_made_put(buf, "own7", 2, "w"), &put),
			 0);
	assert_int_equal(put.dp_size, 2);
	assert_string_equal(put.shard_key, "own7");
	fill_snapshot_put(&put);
	put.shard_key[0] = '\0';
	assert_int_equal(wire_encode_snapshot_put(&put, buf, sizeof(buf)), -EINVAL);
}

static void test_positive_statuses_are_refused(void **state)
{
	(void)state;
	struct wire_snapshot_ack ack;
	struct wire_snapshot_done done;
	assert_int_equal(decodes_with("snapshot_ack", ACK_STATUS_AT, 1, 4, &ack), -EBADMSG);
	assert_int_equal(decodes_with("snapshot_ack", ACK_STATUS_AT, 0, 4, &ack), 0);
	assert_int_equal(decodes_with("snapshot_done", DONE_STATUS_AT, 1, 4, &done), -EBADMSG);
	assert_int_equal(decodes_with("snapshot_done", DONE_STATUS_AT, 0, 4, &done), 0);
}

static void test_rounds_without_a_step_are_refused(void **state)
{
	(void)state;
	struct wire_snapshot_done done;
	struct wire_snapshot_end end;
	assert_int_equal(decodes_with("snapshot_done", DONE_STEP_AT, WIRE_NO_STEP, 8, &done), -EBADMSG);
	assert_int_equal(decodes_with("snapshot_end", END_STEP_AT, WIRE_NO_STEP, 8, &end), -EBADMSG);
}

static void test_end_protected_is_zero_or_one(void **state)
{
	(void)state;
	struct wire_snapshot_end end;
	assert_int_equal(decodes_with("snapshot_end", END_PROTECTED_AT, 2, 2, &end), -EBADMSG);
	assert_int_equal(decodes_with("snapshot_end", END_PROTECTED_AT, 1, 2, &end), 0);
	assert_int_equal(end.protected, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_snapshot_message_round_trips),
		cmocka_unit_test(test_put_of_a_rebuild_block_or_a_layout_checks_its_geometry),
		cmocka_unit_test(test_snapshot_layout_round_trips),
		cmocka_unit_test(test_malformed_snapshot_layouts_are_refused),
		cmocka_unit_test(test_every_cut_snapshot_message_is_rejected),
		cmocka_unit_test(test_trailing_bytes_after_a_snapshot_message_are_rejected),
		cmocka_unit_test(test_snapshot_encoders_refuse_a_small_buffer),
		cmocka_unit_test(test_snapshot_fields_survive_decoding),
		cmocka_unit_test(test_put_of_a_copy_names_a_known_region_kind),
		cmocka_unit_test(test_put_of_no_bytes_or_too_many_is_refused),
		cmocka_unit_test(test_put_without_a_step_or_a_region_is_refused),
		cmocka_unit_test(test_put_of_a_chunk_checks_its_group_geometry),
		cmocka_unit_test(test_put_without_a_shard_key_or_a_dp_size_is_refused),
		cmocka_unit_test(test_positive_statuses_are_refused),
		cmocka_unit_test(test_rounds_without_a_step_are_refused),
		cmocka_unit_test(test_end_protected_is_zero_or_one),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
