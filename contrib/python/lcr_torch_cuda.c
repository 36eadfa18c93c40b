/* lcr_torch_cuda.c: the allocation functions that PyTorch's CUDAPluggableAllocator loads
 * (see lcr.torch.cuda_allocator), so that the CUDA memory PyTorch allocates through it lives
 * in CUDA regions of the node's helper and outlives a crashed rank.
 *
 * Each allocation is one region named "<prefix>.<n>", n counting this process's successful
 * allocations from 0. A restarted process that allocates the same sizes in the same order
 * (the same model built the same way) gets the same regions back, with their data. The
 * session is the Python session's, handed over by lcr_torch_cuda_bind. Built as
 * liblcr_torch_cuda.so when configure finds CUDA. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcr.h"

/* A live allocation: PyTorch frees by pointer, the helper by name. */
struct allocation {
	void *ptr;
	char name[LCR_NAME_MAX + 1];
	struct allocation *next;
};

/* The longest prefix: room is left for ".<n>" with n up to 2^64. */
#define PREFIX_MAX (LCR_NAME_MAX - 21)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static lcr_session_t *session;
static char prefix[PREFIX_MAX + 1];
static uint64_t next_index;
static struct allocation *allocations;

int lcr_torch_cuda_bind(lcr_session_t *s, const char *name_prefix);
void *lcr_torch_cuda_alloc(size_t size, int device, void *stream);
void lcr_torch_cuda_free(void *ptr, size_t size, int device, void *stream);

/* Makes later allocations regions of session s named "<name_prefix>.<n>", n from 0. 0, or
 * -EINVAL (no session, or a prefix of 0 or more than PREFIX_MAX bytes). */
int lcr_torch_cuda_bind(lcr_session_t *s, const char *name_prefix)
{
	if (!s || !name_prefix || !*name_prefix || strlen(name_prefix) > PREFIX_MAX)
		return -EINVAL;
	pthread_mutex_lock(&lock);
	session = s;
	strcpy(prefix, name_prefix);
	next_index = 0;
	pthread_mutex_unlock(&lock);
	return 0;
}

/* CUDAPluggableAllocator's alloc: a CUDA region of `size` bytes on `device`, or NULL (the
 * reason on stderr; PyTorch then reports an out-of-memory error). */
void *lcr_torch_cuda_alloc(size_t size, int device, void *stream)
{
	struct allocation *a = calloc(1, sizeof(*a));
	void *ptr = NULL;
	int rc;

	(void)stream;
	if (!a)
		return NULL;
	pthread_mutex_lock(&lock);
	if (!session) {
		fprintf(stderr, "lcr: cannot allocate %zu bytes of CUDA memory: no session bound "
				"(use lcr.torch.cuda_allocator)\n", size);
		goto out;
	}
	snprintf(a->name, sizeof(a->name), "%s.%" PRIu64, prefix, next_index);
	rc = lcr_region_alloc(session, a->name, size, LCR_REGION_CUDA, device, &a->ptr);
	if (rc < 0) {
		fprintf(stderr, "lcr: cannot allocate CUDA region '%s' (%zu bytes) on device %d: %s (%s)\n",
			a->name, size, device, lcr_strerror(rc), lcr_last_error(session));
		goto out;
	}
	next_index++;
	ptr = a->ptr;
	a->next = allocations;
	allocations = a;
	a = NULL;
out:
	pthread_mutex_unlock(&lock);
	free(a);
	return ptr;
}

/* CUDAPluggableAllocator's free: the helper releases the region. */
void lcr_torch_cuda_free(void *ptr, size_t size, int device, void *stream)
{
	struct allocation **pos, *a = NULL;
	int rc;

	(void)size;
	(void)device;
	(void)stream;
	pthread_mutex_lock(&lock);
	for (pos = &allocations; *pos; pos = &(*pos)->next) {
		if ((*pos)->ptr == ptr) {
			a = *pos;
			*pos = a->next;
			break;
		}
	}
	if (!a)
		fprintf(stderr, "lcr: cannot free CUDA memory at %p: it is no region of this allocator\n", ptr);
	else if ((rc = lcr_region_free(session, a->name)) < 0)
		fprintf(stderr, "lcr: cannot free CUDA region '%s': %s (%s)\n", a->name, lcr_strerror(rc),
			lcr_last_error(session));
	pthread_mutex_unlock(&lock);
	free(a);
}
