/* backend_host.c: regions in host memory (see backend.h). The memory is a memfd whose pages
 * are allocated when the region is created, so a lack of memory fails the allocation, not
 * a later store in the training process. Seals keep a client from shrinking the file under
 * lcrd's mapping (which would make lcrd's reads fault). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal/util.h"
#include "loop/backend.h"
#include "loop/regions.h"

struct host_state {
	int fd;
	uint8_t *map;
};

int host_memfd_create(const char *name, uint64_t size, int *fd_out)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING), rc = 0;
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		rc = -errno;
		goto out;
	}
	rc = size ? posix_fallocate(fd, 0, (off_t)size) : 0;
	if (rc > 0) {
		rc = -rc;
		goto out;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		rc = -errno;
		goto out;
	}
out:
	if (rc < 0)
		close(fd);
	else
		*fd_out = fd;
	return rc;
}

static int host_create(struct region *r, char *err, size_t errlen)
{
	struct host_state *st = calloc(1, sizeof(*st));
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	char name[WIRE_NAME_MAX + 16], size[32];
	int rc;

	if (!st)
		return -ENOMEM;
	st->fd = -1;
	r->map_size = (r->size + page - 1) / page * page;
	snprintf(name, sizeof(name), "lcr:%s", r->name);
	rc = host_memfd_create(name, r->map_size, &st->fd);
	if (rc < 0) {
		snprintf(err, errlen, "cannot allocate host region '%s' (%s): %s", r->name,
			 util_format_size(r->map_size, size, sizeof(size)), strerror(-rc));
		goto out;
	}
	st->map = mmap(NULL, r->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, st->fd, 0);
	if (st->map == MAP_FAILED) {
		rc = -errno;
		snprintf(err, errlen, "cannot map region '%s' (%s): %s", r->name,
			 util_format_size(r->map_size, size, sizeof(size)), strerror(errno));
		goto out;
	}
	r->backend_state = st;
out:
	if (rc < 0) {
		if (st->fd >= 0)
			close(st->fd);
		free(st);
	}
	return rc;
}

static int host_export_fd(struct region *r, int *fd_out)
{
	struct host_state *st = r->backend_state;
	int fd = fcntl(st->fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	*fd_out = fd;
	return 0;
}

static int host_read(struct region *r, uint64_t offset, void *dst, size_t len)
{
	struct host_state *st = r->backend_state;
	memcpy(dst, st->map + offset, len);
	return 0;
}

static uint8_t *host_view(struct region *r)
{
	const struct host_state *st = r->backend_state;
	return st->map;
}

static int host_write(struct region *r, uint64_t offset, const void *src, size_t len)
{
	struct host_state *st = r->backend_state;
	memcpy(st->map + offset, src, len);
	return 0;
}

static void host_destroy(struct region *r)
{
	struct host_state *st = r->backend_state;
	if (!st)
		return;
	munmap(st->map, r->map_size);
	close(st->fd);
	free(st);
	r->backend_state = NULL;
}

const struct region_backend backend_host = {
	.name = "host",
	.create = host_create,
	.export_fd = host_export_fd,
	.read = host_read,
	.view = host_view,
	.write = host_write,
	.destroy = host_destroy,
};
