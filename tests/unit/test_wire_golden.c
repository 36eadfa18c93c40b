/* test_wire_golden.c: the wire protocol does not change by accident. Every message kind of
 * every link encodes its sample (wire_samples.h) to the very bytes the code before the
 * split by link made (wire_golden.h: length and hash), every message type keeps its number
 * and name, and a frame's header is laid out as wire.h says. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal/wire.h"
#include "wire_codec.h"
#include "wire_golden.h"

WIRE_MESSAGES(CODEC)
static const struct codec codecs[] = { WIRE_MESSAGES(ENTRY) };

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static const struct wire_golden_payload *golden_payload(const char *kind)
{
	for (size_t i = 0; i < COUNT(wire_golden_payloads); i++)
		if (strcmp(wire_golden_payloads[i].kind, kind) == 0)
			return &wire_golden_payloads[i];
	return NULL;
}

static void test_every_message_encodes_to_its_golden_bytes(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(codecs); i++) {
		const struct codec *c = &codecs[i];
		const struct wire_golden_payload *g = golden_payload(c->name);
		size_t n;

		if (!g)
			fail_msg("%s: no golden bytes in wire_golden.h", c->name);
		n = codec_encode_sample(c);
		if ((int)n != g->length || fnv1a64(codec_buf, n) != g->fnv1a64)
			fail_msg("%s: encodes to %zu bytes (hash %016llx), golden %d bytes (hash %016llx)",
				 c->name, n, (unsigned long long)fnv1a64(codec_buf, n), g->length,
				 (unsigned long long)g->fnv1a64);
	}
}

static void test_every_golden_payload_is_a_message_kind(void **state)
{
	(void)state;
	assert_int_equal(COUNT(wire_golden_payloads), COUNT(codecs));
	for (size_t i = 0; i < COUNT(wire_golden_payloads); i++) {
		size_t j = 0;
		while (j < COUNT(codecs) && strcmp(codecs[j].name, wire_golden_payloads[i].kind) != 0)
			j++;
		if (j == COUNT(codecs))
			fail_msg("%s: golden, but no link lists it", wire_golden_payloads[i].kind);
	}
}

static void test_every_type_keeps_its_number_and_name(void **state)
{
	size_t known = 0;
	(void)state;
	for (size_t i = 0; i < COUNT(wire_golden_types); i++) {
		const char *name = wire_type_name((uint16_t)wire_golden_types[i].number);
		if (!name || strcmp(name, wire_golden_types[i].name) != 0)
			fail_msg("type %u: named %s, golden %s", wire_golden_types[i].number,
				 name ? name : "(unknown)", wire_golden_types[i].name);
	}
	for (unsigned t = 0; t <= UINT16_MAX; t++)
		known += wire_type_name((uint16_t)t) != NULL;
	assert_int_equal(known, COUNT(wire_golden_types));
}

static void test_a_frame_header_is_laid_out_as_documented(void **state)
{
	static const uint8_t expected[] = {
		0x4c, 0x43, 0x52, 0x57, /* magic "LCRW" */
		0x0a, 0x00,             /* version 10: the region kind of snapshot copies */
		0x28, 0x00,             /* type 40, MESH_HELLO */
		0x02, 0x00, 0x00, 0x00, /* length 2 */
		0x07, 0x00, 0x00, 0x00, /* seq 7 */
		'a',  'b',
	};
	uint8_t frame[sizeof(expected)];
	(void)state;
	assert_int_equal(wire_frame(WIRE_MESH_HELLO, 7, (const uint8_t *)"ab", 2, frame,
				    sizeof(frame)),
			 (int)sizeof(expected));
	assert_memory_equal(frame, expected, sizeof(expected));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_message_encodes_to_its_golden_bytes),
		cmocka_unit_test(test_every_golden_payload_is_a_message_kind),
		cmocka_unit_test(test_every_type_keeps_its_number_and_name),
		cmocka_unit_test(test_a_frame_header_is_laid_out_as_documented),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
