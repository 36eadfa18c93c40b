/* cuda_stage.h: lcrd's copies between a CUDA region and host memory (backend_cuda.c), through
 * pinned host buffers on streams of the calling thread's own. A copy of CUDA_STAGE_MIN bytes
 * or more is cut into pieces of CUDA_STAGE_PIECE bytes that go through CUDA_STAGE_SLOTS
 * pinned buffers in turn, each with its stream: the device copy of one piece runs while the
 * host copies the piece before it, and the DMA runs at the speed of pinned memory instead of
 * the driver's staging of pageable memory. A set of buffers and streams (in the device's
 * primary context, which it retains) serves one copy at a time, from any thread, and is kept
 * for later copies: lcrd makes as many sets as copies ran at once, never frees them, and the
 * worker threads that copy do not pay for pinning memory each time. Where a set cannot be
 * made, and for short copies, the copy is one synchronous driver call. Compiled when
 * configure finds CUDA. */
#ifndef LCR_HELPER_CUDA_STAGE_H
#define LCR_HELPER_CUDA_STAGE_H

#include <stddef.h>

#include "internal/cuda_driver.h"

#define CUDA_STAGE_PIECE (4u << 20)
#define CUDA_STAGE_SLOTS 2
#define CUDA_STAGE_MIN (1u << 20)

/* len bytes of device memory at src, on dev (whose primary context ctx is), to host dst:
 * 0, or a negative errno (cuda_result_errno). */
int cuda_stage_read(const struct cuda_driver *cu, CUdevice dev, CUcontext ctx, void *dst,
		    CUdeviceptr src, size_t len);

/* len bytes of host memory at src to device memory at dst, on dev: 0 or a negative errno.
 * Every byte is on the device when it returns. */
int cuda_stage_write(const struct cuda_driver *cu, CUdevice dev, CUcontext ctx,
		     CUdeviceptr dst, const void *src, size_t len);

#endif
