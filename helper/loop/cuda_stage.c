/* cuda_stage.c: lcrd's copies between CUDA regions and host memory through pinned buffers on
 * streams of its own (see cuda_stage.h). */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "loop/cuda_stage.h"
#include "loop/log.h"

/* A set of pinned buffers and streams, on one device, used by one copy at a time. */
struct cuda_stage {
	struct cuda_stage *next; /* in the pool while no copy uses it */
	const struct cuda_driver *cu;
	CUdevice dev;
	CUcontext ctx; /* the device's primary context, retained while the buffers live */
	CUstream stream[CUDA_STAGE_SLOTS];
	void *pinned[CUDA_STAGE_SLOTS];
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cuda_stage *pool; /* the sets no copy uses now */
static bool pinned_refused;     /* a set could not be made: every copy is synchronous */

static void stage_free(struct cuda_stage *s)
{
	const struct cuda_driver *cu = s->cu;
	cu->cuCtxSetCurrent(s->ctx);
	for (int i = 0; i < CUDA_STAGE_SLOTS; i++) {
		if (s->stream[i])
			cu->cuStreamDestroy(s->stream[i]);
		if (s->pinned[i])
			cu->cuMemFreeHost(s->pinned[i]);
	}
	cu->cuDevicePrimaryCtxRelease(s->dev);
	free(s);
}

/* A new set for dev, or NULL: then no later copy tries again, and lcrd says why once. */
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
	pthread_mutex_lock(&pool_lock);
	bool first = !pinned_refused;
	pinned_refused = true;
	pthread_mutex_unlock(&pool_lock);
	if (first)
		log_warning("CUDA copies go without pinned buffers (slower): %s: %s", what,
			    cuda_result_name(cu, res));
	return NULL;
}

/* A set for dev that no other copy uses, from the pool or new; NULL: copy synchronously. */
static struct cuda_stage *stage_take(const struct cuda_driver *cu, CUdevice dev)
{
	struct cuda_stage *s, **link;
	pthread_mutex_lock(&pool_lock);
	for (link = &pool; (s = *link) && s->dev != dev; link = &s->next)
		;
	if (s)
		*link = s->next;
	bool refused = pinned_refused;
	pthread_mutex_unlock(&pool_lock);
	if (s || refused)
		return s;
	return stage_create(cu, dev);
}

/* Once the copy is done with the set (its streams idle): back to the pool, or freed after a
 * failure, which may have left its streams unusable. */
static void stage_done(struct cuda_stage *s, CUresult copy_result)
{
	if (copy_result != CUDA_SUCCESS) {
		stage_free(s);
		return;
	}
	pthread_mutex_lock(&pool_lock);
	s->next = pool;
	pool = s;
	pthread_mutex_unlock(&pool_lock);
}

static size_t piece_length(size_t len, size_t piece)
{
	size_t at = piece * CUDA_STAGE_PIECE;
	return len - at < CUDA_STAGE_PIECE ? len - at : CUDA_STAGE_PIECE;
}

int cuda_stage_read(const struct cuda_driver *cu, CUdevice dev, CUcontext ctx, void *dst,
		    CUdeviceptr src, size_t len)
{
	struct cuda_stage *s = len >= CUDA_STAGE_MIN ? stage_take(cu, dev) : NULL;
	cu->cuCtxSetCurrent(ctx);
	if (!s)
		return cuda_result_errno(cu->cuMemcpyDtoH(dst, src, len));
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
	stage_done(s, res);
	return cuda_result_errno(res);
}

int cuda_stage_write(const struct cuda_driver *cu, CUdevice dev, CUcontext ctx,
		     CUdeviceptr dst, const void *src, size_t len)
{
	struct cuda_stage *s = len >= CUDA_STAGE_MIN ? stage_take(cu, dev) : NULL;
	cu->cuCtxSetCurrent(ctx);
	if (!s)
		return cuda_result_errno(cu->cuMemcpyHtoD(dst, src, len));
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
	stage_done(s, res);
	return cuda_result_errno(res);
}
