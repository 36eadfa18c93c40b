/* backend.h: where a region's memory lives. A backend allocates the memory, hands out a
 * descriptor the client maps, and copies bytes in and out for lcrd itself; checkpoint and
 * transfer code calls region_read / region_write (regions.h) and never needs to know which
 * backend holds a region; code that can read or write host memory in place (the checkpoint
 * writer, state transfer) asks region_view first and falls back to region_read / write.
 *
 *   host: a sealed memfd (F_SEAL_SHRINK | F_SEAL_GROW), mapped MAP_SHARED in lcrd and in
 *         the client; backend_host.c.
 *   cuda: cuMemCreate with a POSIX file descriptor handle, exported with
 *         cuMemExportToShareableHandle and mapped in lcrd's own address space too;
 *         backend_cuda.c, compiled when configure finds CUDA. */
#ifndef LCR_HELPER_BACKEND_H
#define LCR_HELPER_BACKEND_H

#include <stddef.h>
#include <stdint.h>

struct region;

struct region_backend {
	const char *name;
	/* Allocates r->size bytes (r->name, r->kind, r->device_uuid set): sets r->map_size and
	 * r->backend_state. 0, or -errno with a message naming what failed in err. */
	int (*create)(struct region *r, char *err, size_t errlen);
	/* A new descriptor of the memory to pass to a client; the caller closes it. */
	int (*export_fd)(struct region *r, int *fd_out);
	int (*read)(struct region *r, uint64_t offset, void *dst, size_t len);
	/* The region's bytes in lcrd's own address space, readable and writable in place, or
	 * NULL where the CPU cannot reach them directly (a CUDA region: use read and write).
	 * NULL op: the same. */
	uint8_t *(*view)(struct region *r);
	int (*write)(struct region *r, uint64_t offset, const void *src, size_t len);
	void (*destroy)(struct region *r);
};

extern const struct region_backend backend_host;
#ifdef HAVE_CUDA
extern const struct region_backend backend_cuda;
#endif

/* A memfd of `size` bytes (allocated up front), sealed against shrinking and growing. The
 * control pages use it too. 0 or -errno. */
int host_memfd_create(const char *name, uint64_t size, int *fd_out);

#endif
