/* regions.c: the region table and the backend-neutral access to region memory (see
 * regions.h). A linked list in allocation order: a helper holds a few regions per rank. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include "loop/regions.h"
#include "internal/util.h"
#include "internal/xxh3_stream.h"

#define CHECKSUM_CHUNK (8u << 20)

void region_table_init(struct region_table *t, uint64_t quota)
{
	memset(t, 0, sizeof(*t));
	t->quota = quota;
	t->next_id = 1;
}

static void region_free(struct region *r)
{
	r->backend->destroy(r);
	free(r);
}

void region_table_fini(struct region_table *t)
{
	while (t->head) {
		struct region *r = t->head;
		t->head = r->next;
		region_free(r);
	}
	t->used = 0;
	t->count = 0;
}

struct region *region_table_find(struct region_table *t, uint32_t owner_rank, const char *name)
{
	for (struct region *r = t->head; r; r = r->next)
		if (r->owner_rank == owner_rank && strcmp(r->name, name) == 0)
			return r;
	return NULL;
}

const char *region_kind_name(enum wire_region_kind kind)
{
	switch (kind) {
	case WIRE_REGION_HOST:
		return "host";
	case WIRE_REGION_CUDA:
		return "cuda";
	}
	return "unknown";
}

static const struct region_backend *backend_for(enum wire_region_kind kind)
{
	switch (kind) {
	case WIRE_REGION_HOST:
		return &backend_host;
	case WIRE_REGION_CUDA:
#ifdef HAVE_CUDA
		return &backend_cuda;
#else
		return NULL;
#endif
	}
	return NULL;
}

/* Names are 1 to WIRE_NAME_MAX printable characters without blanks or '/'. */
static bool region_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > WIRE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] <= ' ' || name[i] == '/' || name[i] == 0x7f)
			return false;
	return true;
}

/* -EDQUOT with a message when `bytes` more would pass the quota. */
static int check_quota(const struct region_table *t, const char *name, uint32_t owner_rank,
		       uint64_t bytes, char *err, size_t errlen)
{
	char want[32], used[32], quota[32];
	if (t->quota == 0 || (bytes <= t->quota && t->used <= t->quota - bytes))
		return 0;
	snprintf(err, errlen,
		 "region '%s' of rank %u (%s) does not fit the region quota: %s of %s in use",
		 name, owner_rank, util_format_size(bytes, want, sizeof(want)),
		 util_format_size(t->used, used, sizeof(used)),
		 util_format_size(t->quota, quota, sizeof(quota)));
	return -EDQUOT;
}

/* The existing region of the same owner and name: reattach, or -EEXIST on a mismatch. */
static int reattach(struct region *r, enum wire_region_kind kind, uint64_t size, char *err,
		    size_t errlen)
{
	char have[32], want[32];
	if (r->size == size && r->kind == kind)
		return REGION_REATTACHED;
	snprintf(err, errlen,
		 "region '%s' of rank %u already exists as %s %s; asked for %s %s: free it first",
		 r->name, r->owner_rank, util_format_size(r->size, have, sizeof(have)),
		 region_kind_name(r->kind), util_format_size(size, want, sizeof(want)),
		 region_kind_name(kind));
	return -EEXIST;
}

int region_table_alloc(struct region_table *t, uint32_t owner_rank, const char *name,
		       enum wire_region_kind kind, uint64_t size,
		       const uint8_t device_uuid[WIRE_UUID_SIZE], struct region **out, char *err,
		       size_t errlen)
{
	const struct region_backend *backend = backend_for(kind);
	struct region *r;
	int rc;

	if (!region_name_valid(name)) {
		snprintf(err, errlen, "invalid region name '%s': 1 to %d printable characters "
			 "without blanks or '/'", name, WIRE_NAME_MAX);
		return -EINVAL;
	}
	r = region_table_find(t, owner_rank, name);
	if (r) {
		rc = reattach(r, kind, size, err, errlen);
		if (rc == REGION_REATTACHED)
			*out = r;
		return rc;
	}
	if (size == 0) {
		snprintf(err, errlen, "region '%s': size must be at least 1 byte", name);
		return -EINVAL;
	}
	if (kind != WIRE_REGION_HOST && kind != WIRE_REGION_CUDA) {
		snprintf(err, errlen, "region '%s': unknown kind %d", name, (int)kind);
		return -EINVAL;
	}
	if (!backend) {
		snprintf(err, errlen, "region '%s': this lcrd was built without CUDA support", name);
		return -EOPNOTSUPP;
	}
	rc = check_quota(t, name, owner_rank, size, err, errlen);
	if (rc < 0)
		return rc;

	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "region '%s': out of memory", name);
		return -ENOMEM;
	}
	strcpy(r->name, name);
	r->owner_rank = owner_rank;
	r->kind = kind;
	r->size = size;
	r->backend = backend;
	if (device_uuid)
		memcpy(r->device_uuid, device_uuid, WIRE_UUID_SIZE);
	rc = backend->create(r, err, errlen);
	if (rc < 0) {
		free(r);
		return rc;
	}
	rc = check_quota(t, name, owner_rank, r->map_size, err, errlen);
	if (rc < 0) {
		region_free(r);
		return rc;
	}
	r->id = t->next_id++;
	struct region **tail = &t->head;
	while (*tail)
		tail = &(*tail)->next;
	*tail = r;
	t->used += r->map_size;
	t->count++;
	*out = r;
	return REGION_CREATED;
}

int region_table_free(struct region_table *t, uint32_t owner_rank, const char *name)
{
	for (struct region **pos = &t->head; *pos; pos = &(*pos)->next) {
		struct region *r = *pos;
		if (r->owner_rank == owner_rank && strcmp(r->name, name) == 0) {
			*pos = r->next;
			t->used -= r->map_size;
			t->count--;
			region_free(r);
			return 0;
		}
	}
	return -ENOENT;
}

int region_read(struct region *r, uint64_t offset, void *dst, size_t len)
{
	if (offset > r->size || len > r->size - offset)
		return -ERANGE;
	return len ? r->backend->read(r, offset, dst, len) : 0;
}

int region_write(struct region *r, uint64_t offset, const void *src, size_t len)
{
	if (offset > r->size || len > r->size - offset)
		return -ERANGE;
	return len ? r->backend->write(r, offset, src, len) : 0;
}

int region_view_writable(struct region *r, uint64_t offset, uint64_t len, uint8_t **out)
{
	uint8_t *base;
	if (offset > r->size || len > r->size - offset)
		return -ERANGE;
	if (!r->backend->view || !(base = r->backend->view(r)))
		return -EOPNOTSUPP;
	*out = base + offset;
	return 0;
}

int region_view(struct region *r, uint64_t offset, uint64_t len, const uint8_t **out)
{
	uint8_t *view;
	int rc = region_view_writable(r, offset, len, &view);
	if (rc == 0)
		*out = view;
	return rc;
}

/* A load from, or a store to, each page that starts in [start, end): the fallback where the
 * kernel has no MADV_POPULATE_READ / _WRITE (before Linux 5.14). A byte is written back as
 * it was read, and only in the range, whose writer is the caller. */
static void touch_pages(uintptr_t start, uintptr_t end, uintptr_t page, bool writing)
{
	for (uintptr_t at = (start + page - 1) & ~(page - 1); at < end; at += page) {
		volatile uint8_t *p = (volatile uint8_t *)at;
		uint8_t byte = *p;
		if (writing)
			*p = byte;
	}
}

int region_populate(struct region *r, uint64_t offset, uint64_t len, bool writing)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), start, end;
	uint8_t *view;
	int rc = region_view_writable(r, offset, len, &view);
	if (rc < 0 || len == 0)
		return rc;
	start = (uintptr_t)view & ~(page - 1);
	end = ((uintptr_t)view + len + page - 1) & ~(page - 1);
#if defined(MADV_POPULATE_READ) && defined(MADV_POPULATE_WRITE)
	if (madvise((void *)start, end - start, writing ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) == 0)
		return 0;
	if (errno != EINVAL)
		return -errno;
#endif
	touch_pages((uintptr_t)view, (uintptr_t)view + len, page, writing);
	return 0;
}

int region_checksum(struct region *r, uint64_t *hash)
{
	XXH3_state_t *state = XXH3_createState();
	size_t chunk = r->size < CHECKSUM_CHUNK ? (size_t)r->size : CHECKSUM_CHUNK;
	uint8_t *buf = malloc(chunk);
	int rc = 0;

	if (!state || !buf) {
		rc = -ENOMEM;
		goto out;
	}
	XXH3_64bits_reset(state);
	for (uint64_t off = 0; off < r->size; off += chunk) {
		size_t len = r->size - off < chunk ? (size_t)(r->size - off) : chunk;
		rc = region_read(r, off, buf, len);
		if (rc < 0)
			goto out;
		xxh3_stream_update(state, buf, len);
	}
	*hash = XXH3_64bits_digest(state);
out:
	free(buf);
	XXH3_freeState(state);
	return rc;
}
