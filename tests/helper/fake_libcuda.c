/*
 * fake_libcuda.c: a stand-in for the NVIDIA driver (libcuda.so.1) with no GPU, for the tests
 * that run lcrd's and liblcr's CUDA region code on the CI machines. It implements only the
 * driver calls LCR loads (include/internal/cuda_driver.h), with host memory: one device
 * (ordinal 0, a fixed UUID), an allocation is a memfd (its handle is the descriptor, its
 * POSIX file descriptor export a dup of it), a reserved address range is a PROT_NONE
 * mapping, mapping an allocation maps the memfd there, shared, and a copy between "device"
 * and host is memcpy. So device pointers are host pointers here: a test may write a CUDA
 * region through the pointer liblcr gives, which on a real GPU it may not. An asynchronous
 * copy is only queued on its stream and done when the stream is synchronized (or
 * destroyed), and pinned host memory starts filled with 0xa5: a caller that reads a pinned
 * buffer before its copy is waited for, or fills it again too early, gets wrong bytes here
 * as it could on a GPU.
 *
 * Nothing here says anything about a real GPU: tests/gpu/ runs the same paths on one.
 * The tests put a link named libcuda.so.1 to this module first in LD_LIBRARY_PATH.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cuda.h>

#define FAKE_GRANULARITY (2u << 20)

static int fake_context; /* its address is the one context */
static CUcontext current;

CUresult CUDAAPI cuInit(unsigned int flags)
{
	return flags == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult CUDAAPI cuGetErrorName(CUresult error, const char **name)
{
	*name = error == CUDA_SUCCESS ? "CUDA_SUCCESS" : "CUDA_ERROR_FAKE_DRIVER";
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGet(CUdevice *device, int ordinal)
{
	if (ordinal != 0)
		return CUDA_ERROR_INVALID_DEVICE;
	*device = 0;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetCount(int *count)
{
	*count = 1;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetUuid(CUuuid *uuid, CUdevice dev)
{
	if (dev != 0)
		return CUDA_ERROR_INVALID_DEVICE;
	memcpy(uuid->bytes, "lcr-fake-device0", sizeof(uuid->bytes));
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext *ctx, CUdevice dev)
{
	if (dev != 0)
		return CUDA_ERROR_INVALID_DEVICE;
	*ctx = (CUcontext)&fake_context;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRelease(CUdevice dev)
{
	return dev == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

CUresult CUDAAPI cuCtxGetCurrent(CUcontext *ctx)
{
	*ctx = current;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxSetCurrent(CUcontext ctx)
{
	current = ctx;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetDevice(CUdevice *device)
{
	if (!current)
		return CUDA_ERROR_INVALID_CONTEXT;
	*device = 0;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemGetAllocationGranularity(size_t *granularity,
					       const CUmemAllocationProp *prop,
					       CUmemAllocationGranularity_flags option)
{
	(void)prop;
	(void)option;
	*granularity = FAKE_GRANULARITY;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
			     const CUmemAllocationProp *prop, unsigned long long flags)
{
	(void)flags;
	if (prop->requestedHandleTypes != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR ||
	    size % FAKE_GRANULARITY != 0)
		return CUDA_ERROR_INVALID_VALUE;
	int fd = memfd_create("fake-cuda", MFD_CLOEXEC);
	if (fd < 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*handle = (CUmemGenericAllocationHandle)fd;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemRelease(CUmemGenericAllocationHandle handle)
{
	return close((int)handle) == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult CUDAAPI cuMemExportToShareableHandle(void *shareable, CUmemGenericAllocationHandle handle,
					      CUmemAllocationHandleType type,
					      unsigned long long flags)
{
	(void)flags;
	if (type != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR)
		return CUDA_ERROR_INVALID_VALUE;
	int fd = fcntl((int)handle, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return CUDA_ERROR_INVALID_VALUE;
	*(int *)shareable = fd;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemImportFromShareableHandle(CUmemGenericAllocationHandle *handle,
						void *os_handle,
						CUmemAllocationHandleType type)
{
	if (type != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR)
		return CUDA_ERROR_INVALID_VALUE;
	int fd = fcntl((int)(uintptr_t)os_handle, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return CUDA_ERROR_INVALID_VALUE;
	*handle = (CUmemGenericAllocationHandle)fd;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment,
				     CUdeviceptr addr, unsigned long long flags)
{
	(void)alignment;
	(void)flags;
	if (addr != 0)
		return CUDA_ERROR_INVALID_VALUE;
	void *p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*ptr = (CUdeviceptr)(uintptr_t)p;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
	return munmap((void *)(uintptr_t)ptr, size) == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult CUDAAPI cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
			  CUmemGenericAllocationHandle handle, unsigned long long flags)
{
	(void)flags;
	void *p = mmap((void *)(uintptr_t)ptr, size, PROT_NONE, MAP_SHARED | MAP_FIXED, (int)handle,
		       (off_t)offset);
	return p == MAP_FAILED ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

/* The range goes back to reserved, as the driver leaves it. */
CUresult CUDAAPI cuMemUnmap(CUdeviceptr ptr, size_t size)
{
	void *p = mmap((void *)(uintptr_t)ptr, size, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
	return p == MAP_FAILED ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc,
				size_t count)
{
	if (count != 1 || desc->flags != CU_MEM_ACCESS_FLAGS_PROT_READWRITE)
		return CUDA_ERROR_INVALID_VALUE;
	return mprotect((void *)(uintptr_t)ptr, size, PROT_READ | PROT_WRITE) == 0
		       ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult CUDAAPI cuMemcpyDtoH(void *dst, CUdeviceptr src, size_t count)
{
	if (!current)
		return CUDA_ERROR_INVALID_CONTEXT;
	memcpy(dst, (const void *)(uintptr_t)src, count);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemcpyHtoD(CUdeviceptr dst, const void *src, size_t count)
{
	if (!current)
		return CUDA_ERROR_INVALID_CONTEXT;
	memcpy((void *)(uintptr_t)dst, src, count);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemAlloc(CUdeviceptr *ptr, size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*ptr = (CUdeviceptr)(uintptr_t)p;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemFree(CUdeviceptr ptr)
{
	free((void *)(uintptr_t)ptr);
	return CUDA_SUCCESS;
}

/* A stream: the copies queued on it, done in order when it is synchronized. */
#define FAKE_STREAM_QUEUE 64
struct fake_copy {
	void *dst;
	const void *src;
	size_t count;
};
struct fake_stream {
	struct fake_copy queue[FAKE_STREAM_QUEUE];
	unsigned queued;
};

static void fake_stream_run(struct fake_stream *s)
{
	for (unsigned i = 0; i < s->queued; i++)
		memcpy(s->queue[i].dst, s->queue[i].src, s->queue[i].count);
	s->queued = 0;
}

/* FAKE_CUDA_FAIL_ASYNC=N (tests): every Nth asynchronous copy of the thread, counted from
 * when it was set, fails, as a device fault would. */
static CUresult fake_injected_failure(void)
{
	const char *every = getenv("FAKE_CUDA_FAIL_ASYNC");
	static __thread long counted;
	if (!every || !*every) {
		counted = 0;
		return CUDA_SUCCESS;
	}
	if (++counted < atol(every))
		return CUDA_SUCCESS;
	counted = 0;
	return CUDA_ERROR_ILLEGAL_ADDRESS;
}

static CUresult fake_stream_queue(CUstream stream, void *dst, const void *src, size_t count)
{
	struct fake_stream *s = (struct fake_stream *)stream;
	if (!current)
		return CUDA_ERROR_INVALID_CONTEXT;
	CUresult injected = fake_injected_failure();
	if (injected != CUDA_SUCCESS)
		return injected;
	if (!s) {
		memcpy(dst, src, count);
		return CUDA_SUCCESS;
	}
	if (s->queued == FAKE_STREAM_QUEUE)
		fake_stream_run(s);
	s->queue[s->queued++] = (struct fake_copy){ dst, src, count };
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamCreate(CUstream *stream, unsigned int flags)
{
	(void)flags;
	struct fake_stream *s = calloc(1, sizeof(*s));
	if (!s)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*stream = (CUstream)s;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamDestroy(CUstream stream)
{
	if (!stream)
		return CUDA_ERROR_INVALID_HANDLE;
	fake_stream_run((struct fake_stream *)stream);
	free(stream);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamSynchronize(CUstream stream)
{
	if (stream)
		fake_stream_run((struct fake_stream *)stream);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemAllocHost(void **ptr, size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		return CUDA_ERROR_OUT_OF_MEMORY;
	memset(p, 0xa5, size);
	*ptr = p;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemFreeHost(void *ptr)
{
	free(ptr);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemcpyDtoHAsync(void *dst, CUdeviceptr src, size_t count, CUstream stream)
{
	return fake_stream_queue(stream, dst, (const void *)(uintptr_t)src, count);
}

CUresult CUDAAPI cuMemcpyHtoDAsync(CUdeviceptr dst, const void *src, size_t count, CUstream stream)
{
	return fake_stream_queue(stream, (void *)(uintptr_t)dst, src, count);
}
