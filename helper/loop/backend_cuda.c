/* backend_cuda.c: regions in GPU memory (see backend.h), compiled when configure finds
 * CUDA. lcrd allocates with cuMemCreate (pinned device memory, exportable as a POSIX file
 * descriptor), maps the allocation in its own address space for its own copies, and exports
 * a descriptor for each client that maps it. The driver is loaded, and the device's primary
 * context retained, when the first CUDA region is asked for: a helper without CUDA regions
 * never touches the GPU. Its own copies go through pinned buffers (cuda_stage.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/cuda_driver.h"
#include "internal/util.h"
#include "loop/backend.h"
#include "loop/cuda_stage.h"
#include "loop/regions.h"

struct cuda_state {
	CUdevice dev;
	CUcontext ctx; /* the device's primary context, retained */
	CUmemGenericAllocationHandle handle;
	CUdeviceptr dptr; /* lcrd's own mapping */
	bool created, reserved, mapped;
};

static const struct cuda_driver *cu;

/* Releases whatever part of the allocation exists. */
static void cuda_state_release(struct cuda_state *st, uint64_t map_size)
{
	if (st->ctx)
		cu->cuCtxSetCurrent(st->ctx);
	if (st->mapped)
		cu->cuMemUnmap(st->dptr, map_size);
	if (st->reserved)
		cu->cuMemAddressFree(st->dptr, map_size);
	if (st->created)
		cu->cuMemRelease(st->handle);
	if (st->ctx)
		cu->cuDevicePrimaryCtxRelease(st->dev);
	free(st);
}

/* Formats the failure of CUDA call `what` and returns its errno. */
static int cuda_failed(struct region *r, const char *what, CUresult result, char *err,
		       size_t errlen)
{
	char size[32];
	snprintf(err, errlen, "cannot allocate CUDA region '%s' (%s): %s: %s", r->name,
		 util_format_size(r->size, size, sizeof(size)), what, cuda_result_name(cu, result));
	return cuda_result_errno(result);
}

static int cuda_create(struct region *r, char *err, size_t errlen)
{
	CUmemAllocationProp prop;
	CUmemAccessDesc access = { 0 };
	size_t granularity = 0;
	CUresult res;
	char why[256];
	int rc;

	if (!cu && (rc = cuda_driver_load(&cu, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "cannot allocate CUDA region '%s': %s", r->name, why);
		return rc;
	}
	struct cuda_state *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	if (cuda_device_by_uuid(cu, r->device_uuid, &st->dev) < 0) {
		snprintf(err, errlen, "cannot allocate CUDA region '%s': the client's GPU is not "
			 "visible to lcrd", r->name);
		free(st);
		return -ENODEV;
	}
	if ((res = cu->cuDevicePrimaryCtxRetain(&st->ctx, st->dev)) != CUDA_SUCCESS) {
		st->ctx = NULL;
		rc = cuda_failed(r, "cuDevicePrimaryCtxRetain", res, err, errlen);
		goto out;
	}
	cu->cuCtxSetCurrent(st->ctx);
	cuda_region_properties(st->dev, &prop);
	res = cu->cuMemGetAllocationGranularity(&granularity, &prop,
						 CU_MEM_ALLOC_GRANULARITY_RECOMMENDED);
	if (res != CUDA_SUCCESS || granularity == 0) {
		rc = cuda_failed(r, "cuMemGetAllocationGranularity", res, err, errlen);
		goto out;
	}
	r->map_size = (r->size + granularity - 1) / granularity * granularity;
	if ((res = cu->cuMemCreate(&st->handle, r->map_size, &prop, 0)) != CUDA_SUCCESS) {
		rc = cuda_failed(r, "cuMemCreate", res, err, errlen);
		goto out;
	}
	st->created = true;
	res = cu->cuMemAddressReserve(&st->dptr, r->map_size, granularity, 0, 0);
	if (res != CUDA_SUCCESS) {
		rc = cuda_failed(r, "cuMemAddressReserve", res, err, errlen);
		goto out;
	}
	st->reserved = true;
	if ((res = cu->cuMemMap(st->dptr, r->map_size, 0, st->handle, 0)) != CUDA_SUCCESS) {
		rc = cuda_failed(r, "cuMemMap", res, err, errlen);
		goto out;
	}
	st->mapped = true;
	access.location = prop.location;
	access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
	if ((res = cu->cuMemSetAccess(st->dptr, r->map_size, &access, 1)) != CUDA_SUCCESS) {
		rc = cuda_failed(r, "cuMemSetAccess", res, err, errlen);
		goto out;
	}
	r->backend_state = st;
	rc = 0;
out:
	if (rc < 0)
		cuda_state_release(st, r->map_size);
	return rc;
}

static int cuda_export_fd(struct region *r, int *fd_out)
{
	struct cuda_state *st = r->backend_state;
	int fd = -1;
	CUresult res = cu->cuMemExportToShareableHandle(&fd, st->handle,
							CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0);
	if (res != CUDA_SUCCESS)
		return cuda_result_errno(res);
	*fd_out = fd;
	return 0;
}

static int cuda_read(struct region *r, uint64_t offset, void *dst, size_t len)
{
	struct cuda_state *st = r->backend_state;
	return cuda_stage_read(cu, st->dev, st->ctx, dst, st->dptr + offset, len);
}

static int cuda_write(struct region *r, uint64_t offset, const void *src, size_t len)
{
	struct cuda_state *st = r->backend_state;
	return cuda_stage_write(cu, st->dev, st->ctx, st->dptr + offset, src, len);
}

static void cuda_destroy(struct region *r)
{
	if (r->backend_state)
		cuda_state_release(r->backend_state, r->map_size);
	r->backend_state = NULL;
}

const struct region_backend backend_cuda = {
	.name = "cuda",
	.create = cuda_create,
	.export_fd = cuda_export_fd,
	.read = cuda_read,
	.write = cuda_write,
	.destroy = cuda_destroy,
};
