/* wire_xfer.c: the state transfer payloads (wire_xfer.h), from their descriptions, with the
 * rules those name: a range of 1 .. WIRE_XFER_LENGTH_MAX bytes that does not wrap past 2^64,
 * a request that names a shard and a region, an END whose status is 0 or negative. */
#include "config.h"

#include <stdbool.h>

#include "internal/wire.h"
#include "wire_cursor.h"

static bool xfer_range_valid(uint64_t offset, uint64_t length)
{
	return length > 0 && length <= WIRE_XFER_LENGTH_MAX && offset <= UINT64_MAX - length;
}

static bool wire_xfer_request_valid(const struct wire_xfer_request *m)
{
	return xfer_range_valid(m->offset, m->length) && m->shard_key[0] && m->region[0];
}

static bool wire_xfer_data_valid(const struct wire_xfer_data *m)
{
	return xfer_range_valid(m->offset, m->length);
}

static bool wire_xfer_end_valid(const struct wire_xfer_end *m)
{
	return m->status <= 0;
}

WIRE_XFER_MESSAGES(WIRE_FLAT_CODEC)
