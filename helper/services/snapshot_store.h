/* snapshot_store.h: the copies of other nodes' snapshots that this helper holds in its own
 * memory (redundancy "copy", doc/redundancy.md), keyed by (node, incarnation, rank, region,
 * step). snapshot.c counts them against --redundancy-memory-max and releases them as
 * rounds end; the transfer server receives their bytes (transfer_server_take_copies).
 *
 * A copy being read (served to a replacement by the transfer server's worker, or written
 * into the failure's checkpoint) is pinned (snapshot_store_pin): a release or a
 * replacement meanwhile only marks it released, hidden from every lookup, and the last
 * reader's snapshot_store_unpin frees it. */
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
	uint32_t dp_size; /* the rank's data-parallel size */
	char shard_key[WIRE_NAME_MAX + 1]; /* the rank's, as its helper sent it */
	char region[WIRE_NAME_MAX + 1];
	enum wire_region_kind kind; /* where the rank holds the region (host or CUDA) */
	uint64_t step;
	uint64_t size;
	uint64_t xxh3;   /* of the bytes held, once complete */
	bool complete;   /* every byte arrived */
	unsigned readers; /* pins: it is not freed while one is held */
	bool released;    /* freed once the last reader unpins; found by no lookup */
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

/* Holds the complete copy `put` describes whose bytes are already in `data` (from malloc,
 * put->size bytes, with XXH3 xxh3), without copying them: 0 with data owned by the store
 * (replacing a complete copy with the same key), or -EBUSY (a copy with that key is being
 * received) or -ENOMEM, data still the caller's. */
int snapshot_store_adopt(struct snapshot_store *st, const struct wire_snapshot_put *put,
			 uint8_t *data, uint64_t xxh3);

/* The copy whose bytes are at dst, or NULL. */
struct held_copy *snapshot_store_find(struct snapshot_store *st, const uint8_t *dst);

/* Frees one copy (once its last reader unpins it, when it is pinned). */
void snapshot_store_remove(struct snapshot_store *st, struct held_copy *c);

/* Keeps a complete copy's bytes while a reader reads them (off the loop, too). */
void snapshot_store_pin(struct held_copy *c);

/* A reader is done with c: freed when it was released meanwhile and no reader is left. */
void snapshot_store_unpin(struct snapshot_store *st, struct held_copy *c);

/* Frees the complete copies `drop` says yes to (never one being received; a pinned one
 * once its last reader unpins it); returns the bytes freed now. */
typedef bool snapshot_store_drop_fn(const struct held_copy *c, void *arg);
uint64_t snapshot_store_release(struct snapshot_store *st, snapshot_store_drop_fn *drop, void *arg);

/* The complete copy of a region of shard_key at step (of `rank`, or of any rank with
 * WIRE_NO_RANK), or NULL. */
struct held_copy *snapshot_store_find_shard(const struct snapshot_store *st,
					    const char *shard_key, const char *region,
					    uint64_t step, uint32_t rank);

/* Whether the store holds a complete copy of c's rank, region and step from a newer
 * incarnation of its node (a replacement that was protected at the same step): a report of
 * the rank names each region once, from that one. */
bool snapshot_store_superseded(const struct snapshot_store *st, const struct held_copy *c);

/* Frees every copy, pinned or not (the readers have ended). */
void snapshot_store_clear(struct snapshot_store *st);

#endif
