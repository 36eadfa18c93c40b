/* sharding.c: the demo trainer's split of its state over the ranks (see sharding.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sharding.h"

static const char *const mode_names[] = {
	[SHARD_REPLICATED] = "replicated",
	[SHARD_ZERO1] = "zero1",
	[SHARD_NONE] = "none",
};

int shard_mode_parse(const char *name, enum shard_mode *out)
{
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
		if (strcmp(name, mode_names[i]) == 0) {
			*out = (enum shard_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *shard_mode_name(enum shard_mode mode)
{
	return mode_names[mode];
}

void shard_key_of(enum shard_mode mode, uint32_t rank, char *buf, size_t cap)
{
	if (mode == SHARD_REPLICATED)
		snprintf(buf, cap, "dp");
	else
		snprintf(buf, cap, "%s-r%u", mode_names[mode], rank);
}

struct shard_slice shard_slice_of(size_t params, uint32_t rank, uint32_t size)
{
	size_t base = params / size, extra = params % size;
	struct shard_slice s = { .offset = rank * base + (rank < extra ? rank : extra),
				 .count = base + (rank < extra ? 1 : 0) };

	return s;
}

int shard_allgather(shard_broadcast_fn broadcast, void *ctx, float *full, size_t params, uint32_t size)
{
	for (uint32_t owner = 0; owner < size; owner++) {
		struct shard_slice s = shard_slice_of(params, owner, size);
		int rc;

		if (s.count == 0)
			continue;
		rc = broadcast(ctx, full + s.offset, s.count * sizeof(float), owner);
		if (rc < 0)
			return rc;
	}
	return 0;
}
