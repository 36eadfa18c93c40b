/* snapshot_store.h: the copies of other nodes' snapshots that this helper holds in its own
 * memory (redundancy "copy", doc/redundancy.md), keyed by (node, incarnation, rank, region,
 * step). snapshot.c counts them against --redundancy-memory-max and releases them as
 * rounds end; the transfer server receives their bytes (transfer_server_take_copies). */
#ifndef LCR_HELPER_SNAPSHOT_STORE_H
#define LCR_HELPER_SNAPSHOT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal/wire.h"

struct held_copy {
	uint32_t node;
	uint64_t incarnation;
	uint32_t rank;
	char shard_key[WIRE_NAME_MAX + 1]; /* the rank's, as its helper sent it */
	char region[WIRE_NAME_MAX + 1];
	uint64_t step;
	uint64_t size;
	uint64_t xxh3;   /* of the bytes held, once complete */
	bool complete;   /* every byte arrived */
	uint8_t *data;
	struct held_copy *next;
};

struct snapshot_store {
	struct held_copy *head;
	uint64_t bytes; /* held and being received */
	uint32_t count;
};

/* Makes room for the copy `put` describes (replacing a complete one with the same key): 0
 * with *dst, -EBUSY (a copy with that key is being received), or -ENOMEM. */
int snapshot_store_reserve(struct snapshot_store *st, const struct wire_snapshot_put *put,
			   uint8_t **dst);

/* The copy whose bytes are at dst, or NULL. */
struct held_copy *snapshot_store_find(struct snapshot_store *st, const uint8_t *dst);

/* Frees one copy. */
void snapshot_store_remove(struct snapshot_store *st, struct held_copy *c);

/* Frees the complete copies `drop` says yes to (never one being received); returns the
 * bytes freed. */
typedef bool snapshot_store_drop_fn(const struct held_copy *c, void *arg);
uint64_t snapshot_store_release(struct snapshot_store *st, snapshot_store_drop_fn *drop, void *arg);

/* The complete copy of a region of shard_key at step, or NULL. */
const struct held_copy *snapshot_store_find_shard(const struct snapshot_store *st,
						  const char *shard_key, const char *region,
						  uint64_t step);

/* Frees every copy. */
void snapshot_store_clear(struct snapshot_store *st);

#endif
