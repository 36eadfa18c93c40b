/* client_cuda.c: the client side of CUDA regions, compiled when configure finds CUDA. The
 * helper exports each allocation as a POSIX file descriptor; this process imports it,
 * reserves an address range, maps it and enables access on its device, so the region is
 * ordinary device memory for kernels and cudaMemcpy. libcuda is loaded at run time only
 * when a CUDA region is used (see cuda_driver.h). */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "internal/client.h"
#include "internal/cuda_driver.h"

/* Loads the driver, or sets last_error. */
static int load_driver(struct lcr_session *s, const struct cuda_driver **cu)
{
	char why[256];
	int rc = cuda_driver_load(cu, why, sizeof(why));
	if (rc < 0)
		client_set_error(s, "%s", why);
	return rc;
}

static int cuda_failed(struct lcr_session *s, const struct cuda_driver *cu, const char *what,
		       CUresult result)
{
	client_set_error(s, "%s failed: %s", what, cuda_result_name(cu, result));
	return cuda_result_errno(result);
}

int client_cuda_device_uuid(struct lcr_session *s, int device, uint8_t uuid[WIRE_UUID_SIZE])
{
	const struct cuda_driver *cu;
	CUcontext ctx = NULL;
	CUdevice dev;
	CUuuid id;
	CUresult res;
	int rc = load_driver(s, &cu);
	if (rc < 0)
		return rc;
	if (device >= 0)
		res = cu->cuDeviceGet(&dev, device);
	else if (cu->cuCtxGetCurrent(&ctx) == CUDA_SUCCESS && ctx)
		res = cu->cuCtxGetDevice(&dev);
	else
		res = cu->cuDeviceGet(&dev, 0);
	if (res != CUDA_SUCCESS)
		return cuda_failed(s, cu, "cuDeviceGet", res);
	if ((res = cu->cuDeviceGetUuid(&id, dev)) != CUDA_SUCCESS)
		return cuda_failed(s, cu, "cuDeviceGetUuid", res);
	memcpy(uuid, id.bytes, WIRE_UUID_SIZE);
	return 0;
}

int client_cuda_map(struct lcr_session *s, int fd, uint64_t map_size,
		    const uint8_t uuid[WIRE_UUID_SIZE], void **ptr, int *device)
{
	const struct cuda_driver *cu;
	CUmemGenericAllocationHandle handle;
	CUmemAllocationProp prop;
	CUmemAccessDesc access = { 0 };
	CUcontext ctx = NULL, current = NULL;
	CUdeviceptr dptr = 0;
	CUdevice dev;
	CUresult res;
	size_t granularity = 0;
	bool imported = false, reserved = false, mapped = false;
	int rc = load_driver(s, &cu);
	if (rc < 0)
		return rc;
	if (cuda_device_by_uuid(cu, uuid, &dev) < 0) {
		client_set_error(s, "the region's GPU is not visible to this process");
		return -ENODEV;
	}
	if ((res = cu->cuDevicePrimaryCtxRetain(&ctx, dev)) != CUDA_SUCCESS)
		return cuda_failed(s, cu, "cuDevicePrimaryCtxRetain", res);
	if (cu->cuCtxGetCurrent(&current) != CUDA_SUCCESS || !current)
		cu->cuCtxSetCurrent(ctx);
	cuda_region_properties(dev, &prop);
	res = cu->cuMemGetAllocationGranularity(&granularity, &prop,
						 CU_MEM_ALLOC_GRANULARITY_RECOMMENDED);
	if (res != CUDA_SUCCESS) {
		rc = cuda_failed(s, cu, "cuMemGetAllocationGranularity", res);
		goto out;
	}
	res = cu->cuMemImportFromShareableHandle(&handle, (void *)(uintptr_t)fd,
						  CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR);
	if (res != CUDA_SUCCESS) {
		rc = cuda_failed(s, cu, "cuMemImportFromShareableHandle", res);
		goto out;
	}
	imported = true;
	if ((res = cu->cuMemAddressReserve(&dptr, map_size, granularity, 0, 0)) != CUDA_SUCCESS) {
		rc = cuda_failed(s, cu, "cuMemAddressReserve", res);
		goto out;
	}
	reserved = true;
	if ((res = cu->cuMemMap(dptr, map_size, 0, handle, 0)) != CUDA_SUCCESS) {
		rc = cuda_failed(s, cu, "cuMemMap", res);
		goto out;
	}
	mapped = true;
	access.location = prop.location;
	access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
	if ((res = cu->cuMemSetAccess(dptr, map_size, &access, 1)) != CUDA_SUCCESS) {
		rc = cuda_failed(s, cu, "cuMemSetAccess", res);
		goto out;
	}
	*ptr = (void *)(uintptr_t)dptr;
	*device = (int)dev;
	rc = 0;
out:
	if (imported)
		cu->cuMemRelease(handle); /* the mapping keeps the allocation */
	if (rc < 0) {
		if (mapped)
			cu->cuMemUnmap(dptr, map_size);
		if (reserved)
			cu->cuMemAddressFree(dptr, map_size);
		cu->cuDevicePrimaryCtxRelease(dev);
	}
	return rc;
}

void client_cuda_unmap(void *ptr, uint64_t map_size, int device)
{
	const struct cuda_driver *cu;
	char why[256];
	if (cuda_driver_load(&cu, why, sizeof(why)) < 0)
		return;
	cu->cuMemUnmap((CUdeviceptr)(uintptr_t)ptr, map_size);
	cu->cuMemAddressFree((CUdeviceptr)(uintptr_t)ptr, map_size);
	cu->cuDevicePrimaryCtxRelease((CUdevice)device);
}
