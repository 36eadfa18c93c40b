/* wire_codec.h: what the wire protocol's unit tests share. A table of codecs (a filled
 * sample and type-erased encode/decode for each message), made from a link's list of
 * message kinds (wire.h), and the checks every message must pass: its encoding round-trips,
 * a cut at any byte and a trailing byte are rejected, and its encoder refuses a buffer one
 * byte short. A test file builds its table with
 *     WIRE_<LINK>_MESSAGES(CODEC)
 *     static const struct codec codecs[] = { WIRE_<LINK>_MESSAGES(ENTRY) };
 * The samples (wire_samples.h) are also the wire fuzz target's seeds (fuzz_seed.h). */
#ifndef LCR_TESTS_WIRE_CODEC_H
#define LCR_TESTS_WIRE_CODEC_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "internal/wire.h"
#include "fuzz_seed.h"
#include "wire_samples.h"

struct codec {
	const char *name;
	size_t size;
	int (*encode)(const void *m, uint8_t *buf, size_t cap);
	int (*decode)(const uint8_t *buf, size_t len, void *out);
	void (*fill)(void *m);
};

/* Type-erased encode_<kind> / decode_<kind> for wire_encode_<kind> / wire_decode_<kind>. */
#define CODEC(kind)                                                          \
	static int encode_##kind(const void *m, uint8_t *buf, size_t cap)     \
	{                                                                     \
		return wire_encode_##kind(m, buf, cap);                       \
	}                                                                     \
	static int decode_##kind(const uint8_t *buf, size_t len, void *out)   \
	{                                                                     \
		return wire_decode_##kind(buf, len, out);                     \
	}

/* A table entry; fill_<kind> (wire_samples.h) fills a sample of struct wire_<kind>. */
#define ENTRY(kind) { #kind, sizeof(struct wire_##kind), encode_##kind, decode_##kind, fill_##kind },

static uint8_t codec_buf[WIRE_MAX_PAYLOAD + 1], codec_copy[WIRE_MAX_PAYLOAD + 1];

/* Encodes codec c's sample into codec_buf; returns its length. */
static inline size_t codec_encode_sample(const struct codec *c)
{
	void *m = calloc(1, c->size);
	int n;

	assert_non_null(m);
	c->fill(m);
	n = c->encode(m, codec_buf, WIRE_MAX_PAYLOAD);
	free(m);
	if (n <= 0)
		fail_msg("%s: the sample does not encode: %d", c->name, n);
	return (size_t)n;
}

static inline void codec_check_round_trips(const struct codec *codecs, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const struct codec *c = &codecs[i];
		size_t n = codec_encode_sample(c);
		void *decoded = calloc(1, c->size);

		assert_non_null(decoded);
		if (c->decode(codec_buf, n, decoded) != 0)
			fail_msg("%s: its own encoding does not decode", c->name);
		assert_int_equal(c->encode(decoded, codec_copy, WIRE_MAX_PAYLOAD), (int)n);
		assert_memory_equal(codec_buf, codec_copy, n);
		fuzz_seed_write(c->name, codec_buf, n);
		free(decoded);
	}
}

static inline void codec_check_cuts_rejected(const struct codec *codecs, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const struct codec *c = &codecs[i];
		size_t n = codec_encode_sample(c);
		void *out = calloc(1, c->size);

		assert_non_null(out);
		for (size_t len = 0; len < n; len++)
			if (c->decode(codec_buf, len, out) != -EBADMSG)
				fail_msg("%s: a payload cut to %zu of %zu bytes was accepted", c->name, len, n);
		free(out);
	}
}

static inline void codec_check_trailing_byte_rejected(const struct codec *codecs, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const struct codec *c = &codecs[i];
		size_t n = codec_encode_sample(c);
		void *out = calloc(1, c->size);

		assert_non_null(out);
		codec_buf[n] = 0;
		if (c->decode(codec_buf, n + 1, out) != -EBADMSG)
			fail_msg("%s: a trailing byte was accepted", c->name);
		free(out);
	}
}

static inline void codec_check_small_buffer_refused(const struct codec *codecs, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const struct codec *c = &codecs[i];
		size_t n = codec_encode_sample(c);
		void *m = calloc(1, c->size);

		assert_non_null(m);
		c->fill(m);
		if (c->encode(m, codec_buf, n - 1) != -EMSGSIZE)
			fail_msg("%s: encoded into %zu bytes of %zu", c->name, n - 1, n);
		free(m);
	}
}

#endif
