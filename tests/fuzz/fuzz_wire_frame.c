/* fuzz_wire_frame.c: libFuzzer target for the framing of common/wire_frame.c: the header check of a
 * datagram (wire_parse_header) and the reassembly of a TCP stream (wire_stream_next). The
 * input's first byte sets how many bytes arrive per read (1 to 256), the rest is the stream.
 * Every message taken out must frame again (wire_frame) into a datagram that
 * wire_parse_header accepts with the same header. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/wire.h"

static struct wire_stream stream;
static struct wire_msg msg;
static uint8_t datagram[WIRE_MAX_MESSAGE];

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_wire_frame: %s\n", what);
	abort();
}

static void check_reframes(const struct wire_msg *m)
{
	struct wire_header header;
	int n = wire_frame(m->header.type, m->header.seq, m->payload, m->header.length, datagram,
			   sizeof(datagram));

	if (n < 0)
		fail("a message taken from the stream does not frame again");
	if (wire_parse_header(datagram, (size_t)n, &header) != 0)
		fail("a reframed message is refused");
	if (header.type != m->header.type || header.seq != m->header.seq ||
	    header.length != m->header.length)
		fail("a reframed message has another header");
}

/* Takes every whole message out of the stream: 0, or the header error that ends it. */
static int drain(void)
{
	int rc;

	while ((rc = wire_stream_next(&stream, &msg)) == 0) {
		if (msg.header.length > WIRE_MAX_PAYLOAD)
			fail("a message longer than WIRE_MAX_PAYLOAD came out");
		check_reframes(&msg);
	}
	return rc == -EAGAIN ? 0 : rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_header header;
	size_t chunk;

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] + 1;
	data++;
	size--;
	(void)wire_parse_header(data, size, &header);
	wire_stream_init(&stream);
	while (size > 0) {
		size_t n = size < chunk ? size : chunk;

		if (n > sizeof(stream.buf) - stream.len)
			n = sizeof(stream.buf) - stream.len;
		if (n == 0)
			fail("the stream is full and no message came out");
		memcpy(stream.buf + stream.len, data, n);
		stream.len += n;
		data += n;
		size -= n;
		if (drain() < 0)
			break;
	}
	return 0;
}
