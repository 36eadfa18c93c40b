/* cuda_driver.c: loads the CUDA driver API at run time (see cuda_driver.h). */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "internal/cuda_driver.h"

#define STRINGIFY(x) #x
#define SYMBOL_NAME(x) STRINGIFY(x) /* expands cuda.h's macros: cuMemcpyDtoH_v2 */

static struct cuda_driver driver;
static pthread_once_t driver_once = PTHREAD_ONCE_INIT;
static int driver_status;
static char driver_error[256];

#define LOAD(name)                                                                     \
	do {                                                                           \
		*(void **)&driver.name = dlsym(lib, SYMBOL_NAME(name));                \
		if (!driver.name) {                                                    \
			snprintf(driver_error, sizeof(driver_error),                   \
				 "libcuda.so.1 lacks %s: the NVIDIA driver is too old",      \
				 SYMBOL_NAME(name));                                   \
			return -ENOSYS;                                                \
		}                                                                      \
	} while (0)

static int resolve_symbols(void *lib)
{
	LOAD(cuInit);
	LOAD(cuGetErrorName);
	LOAD(cuDeviceGet);
	LOAD(cuDeviceGetCount);
	LOAD(cuDeviceGetUuid);
	LOAD(cuDevicePrimaryCtxRetain);
	LOAD(cuDevicePrimaryCtxRelease);
	LOAD(cuCtxGetCurrent);
	LOAD(cuCtxSetCurrent);
	LOAD(cuCtxGetDevice);
	LOAD(cuMemGetAllocationGranularity);
	LOAD(cuMemCreate);
	LOAD(cuMemRelease);
	LOAD(cuMemExportToShareableHandle);
	LOAD(cuMemImportFromShareableHandle);
	LOAD(cuMemAddressReserve);
	LOAD(cuMemAddressFree);
	LOAD(cuMemMap);
	LOAD(cuMemUnmap);
	LOAD(cuMemSetAccess);
	LOAD(cuMemcpyDtoH);
	LOAD(cuMemcpyHtoD);
	LOAD(cuMemAlloc);
	LOAD(cuMemFree);
	LOAD(cuStreamSynchronize);
	LOAD(cuStreamCreate);
	LOAD(cuStreamDestroy);
	LOAD(cuMemAllocHost);
	LOAD(cuMemFreeHost);
	LOAD(cuMemcpyDtoHAsync);
	LOAD(cuMemcpyHtoDAsync);
	return 0;
}

static void load_once(void)
{
	void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		snprintf(driver_error, sizeof(driver_error),
			 "cannot load libcuda.so.1 (is the NVIDIA driver installed?): %s", dlerror());
		driver_status = -ENODEV;
		return;
	}
	driver_status = resolve_symbols(lib);
	if (driver_status < 0)
		return;
	CUresult r = driver.cuInit(0);
	if (r != CUDA_SUCCESS) {
		snprintf(driver_error, sizeof(driver_error), "cuInit failed: %s",
			 cuda_result_name(&driver, r));
		driver_status = -ENODEV;
	}
}

int cuda_driver_load(const struct cuda_driver **out, char *err, size_t errlen)
{
	pthread_once(&driver_once, load_once);
	if (driver_status < 0) {
		snprintf(err, errlen, "%s", driver_error);
		return driver_status;
	}
	*out = &driver;
	return 0;
}

const char *cuda_result_name(const struct cuda_driver *cu, CUresult result)
{
	const char *name = NULL;
	if (cu->cuGetErrorName(result, &name) != CUDA_SUCCESS || !name)
		return "unknown CUDA error";
	return name;
}

int cuda_result_errno(CUresult result)
{
	switch (result) {
	case CUDA_SUCCESS:
		return 0;
	case CUDA_ERROR_OUT_OF_MEMORY:
		return -ENOMEM;
	case CUDA_ERROR_INVALID_VALUE:
		return -EINVAL;
	case CUDA_ERROR_NO_DEVICE:
	case CUDA_ERROR_INVALID_DEVICE:
		return -ENODEV;
	case CUDA_ERROR_NOT_SUPPORTED:
		return -EOPNOTSUPP;
	default:
		return -EIO;
	}
}

int cuda_device_by_uuid(const struct cuda_driver *cu, const uint8_t uuid[16], CUdevice *out)
{
	static const uint8_t zero[16];
	int count = 0;
	if (memcmp(uuid, zero, sizeof(zero)) == 0)
		return cu->cuDeviceGet(out, 0) == CUDA_SUCCESS ? 0 : -ENODEV;
	if (cu->cuDeviceGetCount(&count) != CUDA_SUCCESS)
		return -ENODEV;
	for (int i = 0; i < count; i++) {
		CUdevice dev;
		CUuuid id;
		if (cu->cuDeviceGet(&dev, i) == CUDA_SUCCESS &&
		    cu->cuDeviceGetUuid(&id, dev) == CUDA_SUCCESS &&
		    memcmp(id.bytes, uuid, sizeof(id.bytes)) == 0) {
			*out = dev;
			return 0;
		}
	}
	return -ENODEV;
}

void cuda_region_properties(CUdevice dev, CUmemAllocationProp *prop)
{
	memset(prop, 0, sizeof(*prop));
	prop->type = CU_MEM_ALLOCATION_TYPE_PINNED;
	prop->requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
	prop->location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	prop->location.id = dev;
}
