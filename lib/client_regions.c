/* client_regions.c: liblcr's region calls. The helper allocates; this process maps the
 * descriptor it receives (mmap for host regions, the CUDA import for CUDA regions) and
 * remembers its mappings, so asking twice for a region returns the same pointer and closing
 * the session unmaps everything. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal/client.h"

static struct client_region *find_mapping(struct lcr_session *s, const char *name)
{
	for (struct client_region *m = s->regions; m; m = m->next)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

static void unmap_region(struct client_region *m)
{
	if (m->kind == LCR_REGION_HOST)
		munmap(m->ptr, m->map_size);
#ifdef HAVE_CUDA
	else
		client_cuda_unmap(m->ptr, m->map_size, m->cuda_device);
#endif
	free(m);
}

void client_unmap_all(struct lcr_session *s)
{
	while (s->regions) {
		struct client_region *m = s->regions;
		s->regions = m->next;
		unmap_region(m);
	}
}

static void forget_mapping(struct lcr_session *s, const char *name)
{
	for (struct client_region **pos = &s->regions; *pos; pos = &(*pos)->next) {
		if (strcmp((*pos)->name, name) == 0) {
			struct client_region *m = *pos;
			*pos = m->next;
			unmap_region(m);
			return;
		}
	}
}

static int map_host(struct lcr_session *s, int fd, const struct wire_region_info *info,
		    void **ptr)
{
	void *p = mmap(NULL, info->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int rc = -errno;
		client_set_error(s, "cannot map region '%s': %s", info->name, strerror(errno));
		return rc;
	}
	*ptr = p;
	return 0;
}

/* Maps the region described by the REGION_INFO in s->reply, unless this process has it
 * already; *out is the mapping, *flags the reply's flags. Consumes the descriptor. */
static int map_reply(struct lcr_session *s, struct client_region **out, uint16_t *flags)
{
	struct wire_region_info info;
	struct client_region *m = NULL;
	int fd = s->reply.fd, rc;
	s->reply.fd = -1;

	rc = wire_decode_region_info(s->reply.payload, s->reply.header.length, &info);
	if (rc < 0 || fd < 0 || (info.kind != LCR_REGION_HOST && info.kind != LCR_REGION_CUDA)) {
		client_set_error(s, "the helper sent a malformed region description");
		rc = -EPROTO;
		goto out;
	}
	*flags = info.flags;
	m = find_mapping(s, info.name);
	if (m) {
		*out = m;
		goto out;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		rc = -ENOMEM;
		goto out;
	}
	strcpy(m->name, info.name);
	m->kind = (enum lcr_region_kind)info.kind;
	m->size = info.size;
	m->map_size = info.map_size;
	if (m->kind == LCR_REGION_HOST)
		rc = map_host(s, fd, &info, &m->ptr);
#ifdef HAVE_CUDA
	else
		rc = client_cuda_map(s, fd, info.map_size, info.device_uuid, &m->ptr,
				     &m->cuda_device);
#else
	else {
		client_set_error(s, "liblcr was built without CUDA support");
		rc = -EOPNOTSUPP;
	}
#endif
	if (rc < 0) {
		free(m);
		goto out;
	}
	m->next = s->regions;
	s->regions = m;
	*out = m;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* The device UUID an allocation request carries (zero for host regions). */
static int device_uuid_for(struct lcr_session *s, enum lcr_region_kind kind, int device,
			   uint8_t uuid[WIRE_UUID_SIZE])
{
	memset(uuid, 0, WIRE_UUID_SIZE);
	if (kind != LCR_REGION_CUDA)
		return 0;
#ifdef HAVE_CUDA
	return client_cuda_device_uuid(s, device, uuid);
#else
	(void)device;
	client_set_error(s, "liblcr was built without CUDA support");
	return -EOPNOTSUPP;
#endif
}

int lcr_region_alloc(lcr_session_t *s, const char *name, uint64_t size, enum lcr_region_kind kind,
		     int cuda_device, void **ptr)
{
	struct wire_region_alloc m = { .size = size, .kind = (uint16_t)kind };
	struct client_region *mapping;
	uint8_t buf[sizeof(m)];
	uint16_t flags = 0;
	int rc;
	if (!s || !ptr)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	rc = client_copy_name(s, m.name, name, "a region name");
	if (rc == 0)
		rc = device_uuid_for(s, kind, cuda_device, m.device_uuid);
	if (rc == 0)
		rc = client_request(s, WIRE_REGION_ALLOC, buf,
				    wire_encode_region_alloc(&m, buf, sizeof(buf)), WIRE_REGION_INFO,
				    CLIENT_REPLY_TIMEOUT_MS);
	if (rc == 0)
		rc = map_reply(s, &mapping, &flags);
	if (rc == 0) {
		*ptr = mapping->ptr;
		rc = flags & WIRE_REGION_REATTACHED ? LCR_REATTACHED : 0;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* Fills an lcr_region from a list entry. */
static void describe_entry(struct lcr_session *s, const struct wire_region_entry *e,
			   struct lcr_region *out)
{
	const struct client_region *m = NULL;
	memset(out, 0, sizeof(*out));
	strcpy(out->name, e->name);
	strcpy(out->shard_key, e->shard_key);
	out->size = e->size;
	out->kind = (enum lcr_region_kind)e->kind;
	out->owner_rank = e->owner_rank;
	out->committed_step = e->committed_step;
	out->phase = (enum lcr_phase)e->phase;
	out->owner_alive = (e->flags & WIRE_OWNER_ALIVE) != 0;
	if (s->page && e->owner_rank == s->rank)
		m = find_mapping(s, e->name);
	out->ptr = m ? m->ptr : NULL;
}

/* Walks the helper's region list, page by page, calling visit for each entry until it
 * returns non-zero. *total is the helper's region count. Hold s->lock. */
static int walk_regions(struct lcr_session *s,
			int (*visit)(struct lcr_session *s, const struct wire_region_entry *e,
				     void *arg),
			void *arg, size_t *total)
{
	struct wire_region_list_reply *page = malloc(sizeof(*page));
	struct wire_region_list m = { .start = 0 };
	uint8_t buf[16];
	int rc = 0;
	if (!page)
		return -ENOMEM;
	do {
		rc = client_request(s, WIRE_REGION_LIST, buf, wire_encode_region_list(&m, buf, sizeof(buf)),
				    WIRE_REGION_LIST_REPLY, CLIENT_REPLY_TIMEOUT_MS);
		if (rc == 0 && wire_decode_region_list_reply(s->reply.payload, s->reply.header.length,
							     page) < 0)
			rc = -EPROTO;
		if (rc < 0)
			goto out;
		*total = page->total;
		for (uint32_t i = 0; i < page->count; i++)
			if (visit(s, &page->entries[i], arg))
				goto out;
		m.start += page->count;
	} while (page->count > 0 && m.start < page->total);
out:
	free(page);
	return rc;
}

struct list_state {
	struct lcr_region *out;
	size_t max;
	size_t filled;
};

static int list_visit(struct lcr_session *s, const struct wire_region_entry *e, void *arg)
{
	struct list_state *st = arg;
	if (st->filled < st->max)
		describe_entry(s, e, &st->out[st->filled++]);
	return 0;
}

int lcr_region_list(lcr_session_t *s, struct lcr_region *out, size_t max, size_t *count)
{
	struct list_state st = { .out = out, .max = out ? max : 0 };
	size_t total = 0;
	if (!s || !count)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	int rc = walk_regions(s, list_visit, &st, &total);
	pthread_mutex_unlock(&s->lock);
	if (rc == 0)
		*count = total;
	return rc;
}

struct lookup_state {
	const char *name;
	uint32_t rank;
	struct lcr_region *out;
	bool found;
};

static int lookup_visit(struct lcr_session *s, const struct wire_region_entry *e, void *arg)
{
	struct lookup_state *st = arg;
	if (e->owner_rank != st->rank || strcmp(e->name, st->name) != 0)
		return 0;
	describe_entry(s, e, st->out);
	st->found = true;
	return 1;
}

int lcr_region_lookup(lcr_session_t *s, const char *name, struct lcr_region *info)
{
	struct wire_region_name m;
	struct client_region *mapping;
	uint8_t buf[sizeof(m)];
	uint16_t flags;
	size_t total;
	int rc;
	if (!s || !info)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	rc = client_copy_name(s, m.name, name, "a region name");
	if (rc == 0)
		rc = client_request(s, WIRE_REGION_LOOKUP, buf,
				    wire_encode_region_name(&m, buf, sizeof(buf)), WIRE_REGION_INFO,
				    CLIENT_REPLY_TIMEOUT_MS);
	if (rc == 0)
		rc = map_reply(s, &mapping, &flags);
	if (rc == 0) {
		struct lookup_state st = { .name = m.name, .rank = s->rank, .out = info };
		rc = walk_regions(s, lookup_visit, &st, &total);
		if (rc == 0 && !st.found)
			rc = -ENOENT; /* freed by another session of the rank meanwhile */
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int lcr_region_free(lcr_session_t *s, const char *name)
{
	struct wire_region_name m;
	uint8_t buf[sizeof(m)];
	int rc;
	if (!s)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	rc = client_copy_name(s, m.name, name, "a region name");
	if (rc == 0)
		rc = client_request(s, WIRE_REGION_FREE, buf,
				    wire_encode_region_name(&m, buf, sizeof(buf)), WIRE_REPLY,
				    CLIENT_REPLY_TIMEOUT_MS);
	if (rc == 0)
		forget_mapping(s, m.name);
	pthread_mutex_unlock(&s->lock);
	return rc;
}
