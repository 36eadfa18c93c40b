/* cuda_stage.c: lcrd's copies between CUDA regions and host memory through pinned buffers on
 * the thread's own streams (see cuda_stage.h). */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "loop/cuda_stage.h"
#include "loop/log.h"

/* One thread's pinned buffers and streams, on one device. */
struct cuda_stage {
	const struct cuda_driver *cu;
	CUdevice dev;
	CUcontext ctx; /* the device's primary context, retained while the buffers live */
	CUstream stream[CUDA_STAGE_SLOTS];
	void *pinned[CUDA_STAGE_SLOTS];
};

static pthread_key_t stage_key;
static pthread_once_t stage_key_once = PTHREAD_ONCE_INIT;
static bool stage_key_made;
static __thread bool stage_refused; /* this thread could not have its buffers */
static atomic_bool refusal_logged;

static void stage_free(struct cuda_stage *s)
{
	const struct cuda_driver *cu = s->cu;
	cu->cuCtxSetCurrent(s->ctx);
	for (int i = 0; i < CUDA_STAGE_SLOTS; i++) {
		if (s->stream[i]) {
			cu->cuStreamSynchronize(s->stream[i]);
			cu->cuStreamDestroy(s->stream[i]);
		}
		if (s->pinned[i])
			cu->cuMemFreeHost(s->pinned[i]);
	}
	cu->cuDevicePrimaryCtxRelease(s->dev);
	free(s);
}

/* At the thread's end. */
static void stage_release(void *stage)
{
	stage_free(stage);
}

static void make_stage_key(void)
{
	stage_key_made = pthread_key_create(&stage_key, stage_release) == 0;
}

static struct cuda_stage *stage_create(const struct cuda_driver *cu, CUdevice dev)
{
	struct cuda_stage *s = calloc(1, sizeof(*s));
	CUresult res = CUDA_ERROR_OUT_OF_MEMORY;
	const char *what = "calloc";
	if (!s)
		goto refused;
	s->cu = cu;
	s->dev = dev;
	if ((res = cu->cuDevicePrimaryCtxRetain(&s->ctx, dev)) != CUDA_SUCCESS) {
		what = "cuDevicePrimaryCtxRetain";
		free(s);
		s = NULL;
		goto refused;
	}
	cu->cuCtxSetCurrent(s->ctx);
	for (int i = 0; i < CUDA_STAGE_SLOTS; i++) {
		if ((res = cu->cuStreamCreate(&s->stream[i], CU_STREAM_NON_BLOCKING)) != CUDA_SUCCESS) {
			s->stream[i] = NULL;
			what = "cuStreamCreate";
			goto refused;
		}
		if ((res = cu->cuMemAllocHost(&s->pinned[i], CUDA_STAGE_PIECE)) != CUDA_SUCCESS) {
			s->pinned[i] = NULL;
			what = "cuMemAllocHost";
			goto refused;
		}
	}
	return s;
refused:
	if (s)
		stage_free(s);
	stage_refused = true;
	if (!atomic_exchange(&refusal_logged, true))
		log_warning("CUDA copies go without pinned buffers (slower): %s: %s", what,
			    cuda_result_name(cu, res));
	return NULL;
}

/* This thread's stage for dev, made on its first use; NULL: copy synchronously. */
static struct cuda_stage *stage_for(const struct cuda_driver *cu, CUdevice dev)
{
	pthread_once(&stage_key_once, make_stage_key);
	if (!stage_key_made || stage_refused)
		return NULL;
	struct cuda_stage *s = pthread_getspecific(stage_key);
	if (s && s->dev == dev)
		return s;
	if (s) {
		pthread_setspecific(stage_key, NULL);
		stage_free(s);
	}
	if (!(s = stage_create(cu, dev)))
		return NULL;
	if (pthread_setspecific(stage_key, s) != 0) {
		stage_free(s);
		return NULL;
	}
	return s;
}

static size_t piece_length(size_t len, size_t piece)
{
	size_t at = piece * CUDA_STAGE_PIECE;
	return len - at < CUDA_STAGE_PIECE ? len - at : CUDA_STAGE_PIECE;
}

int cuda_stage_read(const struct cuda_driver *cu, CUdevice dev, CUcontext ctx, void *dst,
		    CUdeviceptr src, size_t len)
{
	cu->cuCtxSetCurrent(ctx);
	struct cuda_stage *s = len >= CUDA_STAGE_MIN ? stage_for(cu, dev) : NULL;
	if (!s)
		return cuda_result_errno(cu->cuMemcpyDtoH(dst, src, len));
	cu->cuCtxSetCurrent(ctx);
	/* Pieces are issued up to CUDA_STAGE_SLOTS ahead of the oldest not yet copied out; a
	 * failure stops the issuing, and the pieces in flight are waited for all the same. */
	size_t pieces = (len + CUDA_STAGE_PIECE - 1) / CUDA_STAGE_PIECE;
	size_t issued = 0, drained = 0;
	CUresult res = CUDA_SUCCESS;
	while (drained < pieces) {
		if (res == CUDA_SUCCESS && issued < pieces && issued - drained < CUDA_STAGE_SLOTS) {
			unsigned slot = issued % CUDA_STAGE_SLOTS;
			res = cu->cuMemcpyDtoHAsync(s->pinned[slot], src + issued * CUDA_STAGE_PIECE,
						    piece_length(len, issued), s->stream[slot]);
			if (res == CUDA_SUCCESS)
				issued++;
			continue;
		}
		if (drained == issued)
			break;
		unsigned slot = drained % CUDA_STAGE_SLOTS;
		CUresult synced = cu->cuStreamSynchronize(s->stream[slot]);
		if (res == CUDA_SUCCESS)
			res = synced;
		if (res == CUDA_SUCCESS)
			memcpy((char *)dst + drained * CUDA_STAGE_PIECE, s->pinned[slot],
			       piece_length(len, drained));
		drained++;
	}
	return cuda_result_errno(res);
}

int cuda_stage_write(const struct cuda_driver *cu, CUdevice dev, CUcontext ctx,
		     CUdeviceptr dst, const void *src, size_t len)
{
	cu->cuCtxSetCurrent(ctx);
	struct cuda_stage *s = len >= CUDA_STAGE_MIN ? stage_for(cu, dev) : NULL;
	if (!s)
		return cuda_result_errno(cu->cuMemcpyHtoD(dst, src, len));
	cu->cuCtxSetCurrent(ctx);
	/* A buffer is filled again only once the copy of its last piece has completed. */
	size_t pieces = (len + CUDA_STAGE_PIECE - 1) / CUDA_STAGE_PIECE;
	size_t issued = 0, completed = 0;
	CUresult res = CUDA_SUCCESS;
	while (completed < pieces) {
		if (res == CUDA_SUCCESS && issued < pieces && issued - completed < CUDA_STAGE_SLOTS) {
			unsigned slot = issued % CUDA_STAGE_SLOTS;
			size_t n = piece_length(len, issued);
			memcpy(s->pinned[slot], (const char *)src + issued * CUDA_STAGE_PIECE, n);
			res = cu->cuMemcpyHtoDAsync(dst + issued * CUDA_STAGE_PIECE, s->pinned[slot], n,
						    s->stream[slot]);
			if (res == CUDA_SUCCESS)
				issued++;
			continue;
		}
		if (completed == issued)
			break;
		CUresult synced = cu->cuStreamSynchronize(s->stream[completed % CUDA_STAGE_SLOTS]);
		if (res == CUDA_SUCCESS)
			res = synced;
		completed++;
	}
	return cuda_result_errno(res);
}
