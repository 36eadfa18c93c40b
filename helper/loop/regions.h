/* regions.h: the region table. A region is named memory owned by one rank, keyed by (owner
 * rank, name): a rank that reattaches and asks for the same name gets the same memory back.
 * The table enforces the byte quota (--region-quota, from the site config): an allocation
 * that would pass it fails with a message naming the region and the sizes, and nothing else
 * changes. Regions live until freed or until the step ends, whatever becomes of the ranks.
 *
 * region_read / region_write are the one interface through which lcrd's own code (checksums
 * now, checkpoints and transfers later) touches region memory, whichever backend holds it. */
#ifndef LCR_HELPER_REGIONS_H
#define LCR_HELPER_REGIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal/wire.h"
#include "loop/backend.h"

struct region {
	uint64_t id;
	char name[WIRE_NAME_MAX + 1];
	uint32_t owner_rank;
	enum wire_region_kind kind;
	uint64_t size;     /* bytes asked for */
	uint64_t map_size; /* bytes allocated: size rounded to the backend's granularity */
	uint8_t device_uuid[WIRE_UUID_SIZE];
	const struct region_backend *backend;
	void *backend_state;
	struct region *next;
};

struct region_table {
	struct region *head; /* oldest first */
	uint64_t quota; /* bytes, 0: unlimited */
	uint64_t used;  /* sum of map_size */
	uint32_t count;
	uint64_t next_id;
};

void region_table_init(struct region_table *t, uint64_t quota);
/* Frees every region. */
void region_table_fini(struct region_table *t);

struct region *region_table_find(struct region_table *t, uint32_t owner_rank, const char *name);

enum region_alloc_result {
	REGION_CREATED = 0,
	REGION_REATTACHED = 1, /* the owner already had it, with the same size and kind */
};

/* Allocates region `name` of owner_rank, or returns the existing one when size and kind
 * match. REGION_CREATED / REGION_REATTACHED with *out set, or a negative errno with a
 * message in err: -EINVAL (bad name, size or kind), -EEXIST (same name, other size or
 * kind), -EDQUOT (over the quota), -EOPNOTSUPP (no such backend in this build), or the
 * backend's error. */
int region_table_alloc(struct region_table *t, uint32_t owner_rank, const char *name,
		       enum wire_region_kind kind, uint64_t size,
		       const uint8_t device_uuid[WIRE_UUID_SIZE], struct region **out, char *err,
		       size_t errlen);

/* Frees a region: 0 or -ENOENT. */
int region_table_free(struct region_table *t, uint32_t owner_rank, const char *name);

/* Copies bytes out of / into a region: 0, -ERANGE past its size, or the backend's error. */
int region_read(struct region *r, uint64_t offset, void *dst, size_t len);
int region_write(struct region *r, uint64_t offset, const void *src, size_t len);

/* Points *out at the bytes [offset, offset + len) of a region that lcrd can read in place
 * (a host region: its own mapping, no copy): 0, -ERANGE past its size, or -EOPNOTSUPP when
 * the backend has no such view (CUDA: use region_read). The bytes stay mapped until the
 * region is freed. */
int region_view(struct region *r, uint64_t offset, uint64_t len, const uint8_t **out);

/* The same view, to write the bytes in place (state transfer receives into it): 0, -ERANGE
 * or -EOPNOTSUPP as region_view. */
int region_view_writable(struct region *r, uint64_t offset, uint64_t len, uint8_t **out);

/* Maps the pages of [offset, offset + len) of a region's view in lcrd's address space ahead
 * of reading them or, with `writing`, of writing them (MADV_POPULATE_READ / _WRITE, else a
 * load / store to each page), so that the reader or writer takes no page fault per page: 0,
 * -ERANGE, -EOPNOTSUPP (no view) or -errno. */
int region_populate(struct region *r, uint64_t offset, uint64_t len, bool writing);

/* XXH3 64-bit hash of the region's `size` bytes, read through region_read. */
int region_checksum(struct region *r, uint64_t *hash);

const char *region_kind_name(enum wire_region_kind kind);

#endif
