/* fuzz_wire.c: libFuzzer target for every payload decoder of lib/wire_<link>.c. An input is the
 * name of a message kind ("mesh_hello"), a newline, then a payload. The payload goes to
 * that kind's decoder; what it accepts must round-trip: its encoder takes the decoded
 * struct back (a decoder that accepts what the encoder refuses is a bug), the encoding
 * decodes again to the same struct, and encodes again to the same bytes. The kind
 * "snapshot_layout" is the layout codec (a SNAPSHOT_PUT's bytes, wire_snapshot.h), checked
 * the same way. Seeds in tests/fuzz/corpus/wire/ are the unit tests' samples
 * (doc/fuzzing.md). */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/wire.h"

struct fuzz_codec {
	const char *name;
	size_t size;
	int (*encode)(const void *m, uint8_t *buf, size_t cap);
	int (*decode)(const uint8_t *buf, size_t len, void *out);
};

/* Every message kind of every link, from the list wire.h keeps (WIRE_MESSAGES). */
#define TYPE_ERASED(kind)                                                            \
	static int encode_##kind(const void *m, uint8_t *buf, size_t cap)             \
	{                                                                             \
		return wire_encode_##kind(m, buf, cap);                               \
	}                                                                             \
	static int decode_##kind(const uint8_t *buf, size_t len, void *out)           \
	{                                                                             \
		return wire_decode_##kind(buf, len, out);                             \
	}
WIRE_MESSAGES(TYPE_ERASED)

#define TABLE_ENTRY(kind) { #kind, sizeof(struct wire_##kind), encode_##kind, decode_##kind },
static const struct fuzz_codec codecs[] = { WIRE_MESSAGES(TABLE_ENTRY) };

static uint8_t encoded[WIRE_MAX_PAYLOAD], reencoded[WIRE_MAX_PAYLOAD];

static const struct fuzz_codec *codec_named(const uint8_t *name, size_t len)
{
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		if (strlen(codecs[i].name) == len && memcmp(codecs[i].name, name, len) == 0)
			return &codecs[i];
	return NULL;
}

static void fail(const struct fuzz_codec *c, const char *what)
{
	fprintf(stderr, "fuzz_wire: %s: %s\n", c->name, what);
	abort();
}

/* decode -> encode -> decode -> encode; aborts on any difference. */
static void check_round_trip(const struct fuzz_codec *c, const uint8_t *payload, size_t len)
{
	void *first = calloc(1, c->size), *second = calloc(1, c->size);
	int n;

	if (!first || !second)
		abort();
	if (c->decode(payload, len, first) == 0) {
		n = c->encode(first, encoded, sizeof(encoded));
		if (n < 0)
			fail(c, "the decoder accepts what the encoder refuses");
		if (c->decode(encoded, (size_t)n, second) != 0)
			fail(c, "the encoder's output does not decode");
		if (memcmp(first, second, c->size) != 0)
			fail(c, "a field changed on the way through encode and decode");
		if (c->encode(second, reencoded, sizeof(reencoded)) != n ||
		    memcmp(encoded, reencoded, (size_t)n) != 0)
			fail(c, "the same struct encodes two ways");
	}
	free(first);
	free(second);
}

/* The same for a snapshot's layout, whose decoder allocates its regions. */
static void check_layout_round_trip(const uint8_t *payload, size_t len)
{
	static const struct fuzz_codec layout = { "snapshot_layout", 0, NULL, NULL };
	struct wire_snapshot_layout_region *first = NULL, *second = NULL;
	uint64_t incarnation, again;
	uint32_t count, count_again;
	int n;

	if (wire_decode_snapshot_layout(payload, len, &incarnation, &first, &count) != 0)
		return;
	n = wire_encode_snapshot_layout(incarnation, first, count, encoded, sizeof(encoded));
	if (n < 0)
		fail(&layout, "the decoder accepts what the encoder refuses");
	if (wire_decode_snapshot_layout(encoded, (size_t)n, &again, &second, &count_again) != 0)
		fail(&layout, "the encoder's output does not decode");
	if (again != incarnation || count_again != count ||
	    memcmp(first, second, count * sizeof(*first)) != 0)
		fail(&layout, "a field changed on the way through encode and decode");
	if ((size_t)n != len || memcmp(encoded, payload, len) != 0)
		fail(&layout, "the same layout encodes two ways");
	free(first);
	free(second);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *newline = memchr(data, '\n', size);
	const struct fuzz_codec *c;

	if (!newline)
		return 0;
	if ((size_t)(newline - data) == strlen("snapshot_layout") &&
	    memcmp(data, "snapshot_layout", strlen("snapshot_layout")) == 0) {
		check_layout_round_trip(newline + 1, size - (size_t)(newline - data) - 1);
		return 0;
	}
	c = codec_named(data, (size_t)(newline - data));
	if (c)
		check_round_trip(c, newline + 1, size - (size_t)(newline - data) - 1);
	return 0;
}
