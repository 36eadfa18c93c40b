/* cuda_driver.h: the CUDA driver API, loaded at run time with dlopen("libcuda.so.1").
 * lcrd and liblcr are built against cuda.h but never linked with libcuda: they must start
 * on machines without an NVIDIA driver, and touch CUDA only when a CUDA region is asked
 * for. Each entry is the versioned symbol cuda.h maps the plain name to (cuMemcpyDtoH is
 * cuMemcpyDtoH_v2), so the calls mean what they mean in code linked with -lcuda. Only
 * compiled when configure finds CUDA (HAVE_CUDA). */
#ifndef LCR_INTERNAL_CUDA_DRIVER_H
#define LCR_INTERNAL_CUDA_DRIVER_H

#ifdef HAVE_CUDA

#include <stddef.h>
#include <stdint.h>

#include <cuda.h>

#define CUDA_DRIVER_ENTRY(name) __typeof__(name) *name

struct cuda_driver {
	CUDA_DRIVER_ENTRY(cuInit);
	CUDA_DRIVER_ENTRY(cuGetErrorName);
	CUDA_DRIVER_ENTRY(cuDeviceGet);
	CUDA_DRIVER_ENTRY(cuDeviceGetCount);
	CUDA_DRIVER_ENTRY(cuDeviceGetUuid);
	CUDA_DRIVER_ENTRY(cuDevicePrimaryCtxRetain);
	CUDA_DRIVER_ENTRY(cuDevicePrimaryCtxRelease);
	CUDA_DRIVER_ENTRY(cuCtxGetCurrent);
	CUDA_DRIVER_ENTRY(cuCtxSetCurrent);
	CUDA_DRIVER_ENTRY(cuCtxGetDevice);
	CUDA_DRIVER_ENTRY(cuMemGetAllocationGranularity);
	CUDA_DRIVER_ENTRY(cuMemCreate);
	CUDA_DRIVER_ENTRY(cuMemRelease);
	CUDA_DRIVER_ENTRY(cuMemExportToShareableHandle);
	CUDA_DRIVER_ENTRY(cuMemImportFromShareableHandle);
	CUDA_DRIVER_ENTRY(cuMemAddressReserve);
	CUDA_DRIVER_ENTRY(cuMemAddressFree);
	CUDA_DRIVER_ENTRY(cuMemMap);
	CUDA_DRIVER_ENTRY(cuMemUnmap);
	CUDA_DRIVER_ENTRY(cuMemSetAccess);
	CUDA_DRIVER_ENTRY(cuMemcpyDtoH);
	CUDA_DRIVER_ENTRY(cuMemcpyHtoD);
	CUDA_DRIVER_ENTRY(cuMemAlloc);
	CUDA_DRIVER_ENTRY(cuMemFree);
	CUDA_DRIVER_ENTRY(cuStreamSynchronize);
	CUDA_DRIVER_ENTRY(cuStreamCreate);
	CUDA_DRIVER_ENTRY(cuStreamDestroy);
	CUDA_DRIVER_ENTRY(cuMemAllocHost);
	CUDA_DRIVER_ENTRY(cuMemFreeHost);
	CUDA_DRIVER_ENTRY(cuMemcpyDtoHAsync);
	CUDA_DRIVER_ENTRY(cuMemcpyHtoDAsync);
};

/* Loads libcuda.so.1 and calls cuInit(0), once per process (thread-safe). 0 with *out set,
 * or -ENODEV / -ENOSYS with the reason in err. */
int cuda_driver_load(const struct cuda_driver **out, char *err, size_t errlen);

/* "CUDA_ERROR_OUT_OF_MEMORY" for a result. */
const char *cuda_result_name(const struct cuda_driver *cu, CUresult result);

/* A negative errno that fits a CUDA result (-ENOMEM for out of memory, else -EIO). */
int cuda_result_errno(CUresult result);

/* The device with this UUID (all zero: device 0): 0 or -ENODEV. */
int cuda_device_by_uuid(const struct cuda_driver *cu, const uint8_t uuid[16], CUdevice *out);

/* The properties of every LCR CUDA allocation: pinned device memory on dev, exportable as
 * a POSIX file descriptor. Helper and client must agree on them. */
void cuda_region_properties(CUdevice dev, CUmemAllocationProp *prop);

#endif
#endif
