/* comm_nccl.c: the NCCL backend of liblcr's communicators, for device memory.
 *
 * libnccl.so.2 is loaded at run time (dlopen), like libcuda, so liblcr starts on machines
 * without NCCL; optional entry points (ncclCommRevoke, 2.28.7+) are looked up with dlsym.
 * Communicators are non-blocking (config.blocking = 0): every wait polls
 * ncclCommGetAsyncError against the operation's deadline, so a dead peer never hangs a rank
 * for longer than the timeout. Rank 0 publishes the unique id where the members meet (the
 * job-wide store by default, comm.c) and removes it once the communicator is up. A rebuild
 * revokes (or aborts) the old communicator and initialises this one communicator anew
 * with the same ranks: ncclCommGrow would number the replacement after the survivors,
 * which would change the order of every reduction and so the results. */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nccl.h>

#include "internal/comm.h"
#include "internal/cuda_driver.h"

#define NCCL_ENTRY(name) __typeof__(name) *name

struct nccl_api {
	NCCL_ENTRY(ncclGetVersion);
	NCCL_ENTRY(ncclGetUniqueId);
	NCCL_ENTRY(ncclCommInitRankConfig);
	NCCL_ENTRY(ncclCommGetAsyncError);
	NCCL_ENTRY(ncclCommAbort);
	NCCL_ENTRY(ncclCommDestroy);
	NCCL_ENTRY(ncclAllReduce);
	NCCL_ENTRY(ncclBroadcast);
	NCCL_ENTRY(ncclGetErrorString);
	NCCL_ENTRY(ncclCommRevoke); /* optional: NCCL 2.28.7 and later */
	int version;
};

static struct nccl_api nccl;
static int nccl_load_status = -ENOSYS;
static pthread_once_t nccl_once = PTHREAD_ONCE_INIT;

static void load_nccl(void)
{
	void *library = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);

	if (!library)
		return;
#define LOAD(name) ((nccl.name = (__typeof__(nccl.name))dlsym(library, #name)) != NULL)
	if (!(LOAD(ncclGetVersion) && LOAD(ncclGetUniqueId) && LOAD(ncclCommInitRankConfig) &&
	      LOAD(ncclCommGetAsyncError) && LOAD(ncclCommAbort) && LOAD(ncclCommDestroy) &&
	      LOAD(ncclAllReduce) && LOAD(ncclBroadcast) && LOAD(ncclGetErrorString)))
		return;
#undef LOAD
	nccl.ncclCommRevoke = (__typeof__(nccl.ncclCommRevoke))dlsym(library, "ncclCommRevoke");
	if (nccl.ncclGetVersion(&nccl.version) != ncclSuccess)
		return;
	nccl_load_status = 0;
}

struct nccl_state {
	ncclComm_t comm;
	const struct cuda_driver *cu;
	CUdeviceptr barrier_word; /* one int64 on the device, for barriers */
};

static int nccl_errno(ncclResult_t result)
{
	switch (result) {
	case ncclSuccess: return 0;
	case ncclInProgress: return -EINPROGRESS;
	case ncclInvalidArgument:
	case ncclInvalidUsage: return -EINVAL;
	case ncclRemoteError:
	case ncclSystemError: return -ECONNRESET;
	default: return -EIO;
	}
}

/* Polls the communicator until its pending work is done, failed, or the deadline passed. */
static int wait_ready(struct lcr_comm *c, struct nccl_state *n, uint64_t deadline)
{
	for (;;) {
		ncclResult_t async = ncclSuccess;
		struct timespec pause = { 0, 100000 };

		if (atomic_load(&c->aborted))
			return -ECONNABORTED;
		if (nccl.ncclCommGetAsyncError(n->comm, &async) != ncclSuccess)
			return -EIO;
		if (async != ncclInProgress)
			return nccl_errno(async);
		if (comm_remaining_ms(c, deadline) == 0)
			return -ETIMEDOUT;
		nanosleep(&pause, NULL);
	}
}

static int exchange_unique_id(struct lcr_comm *c, ncclUniqueId *id, uint64_t deadline)
{
	char key[COMM_KEY_MAX];
	size_t len = 0;
	int rc;

	comm_member_key(c, COMM_KEY_UNIQUE_ID, key, sizeof(key));
	if (c->rank == 0) {
		if (nccl.ncclGetUniqueId(id) != ncclSuccess)
			return -EIO;
		return comm_kv_put(c, key, id, sizeof(*id));
	}
	rc = comm_kv_get(c, key, id, sizeof(*id), &len, deadline);
	if (rc == 0 && len != sizeof(*id))
		return -EPROTO;
	return rc;
}

/* Once the communicator is initialised every member has used the unique id: remove it. */
static void forget_unique_id(struct lcr_comm *c)
{
	char key[COMM_KEY_MAX];

	comm_member_key(c, COMM_KEY_UNIQUE_ID, key, sizeof(key));
	comm_kv_delete(c, key);
}

static void nccl_disconnect(struct lcr_comm *c)
{
	struct nccl_state *n = c->state;

	if (!n)
		return;
	if (n->comm)
		nccl.ncclCommAbort(n->comm);
	if (n->barrier_word)
		n->cu->cuMemFree(n->barrier_word);
	free(n);
	c->state = NULL;
}

static int nccl_connect(struct lcr_comm *c)
{
	ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
	uint64_t deadline = comm_deadline(c);
	struct nccl_state *n;
	ncclUniqueId id;
	char err[256];
	int rc;

	pthread_once(&nccl_once, load_nccl);
	if (nccl_load_status < 0)
		return -EOPNOTSUPP;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	c->state = n;
	rc = cuda_driver_load(&n->cu, err, sizeof(err));
	if (rc == 0 && n->cu->cuMemAlloc(&n->barrier_word, sizeof(int64_t)) != CUDA_SUCCESS)
		rc = -ENOMEM;
	if (rc == 0)
		rc = exchange_unique_id(c, &id, deadline);
	if (rc < 0)
		goto out;
	config.blocking = 0;
	rc = nccl_errno(nccl.ncclCommInitRankConfig(&n->comm, (int)c->size, id, (int)c->rank, &config));
	if (rc == -EINPROGRESS || rc == 0)
		rc = wait_ready(c, n, deadline);
	if (rc == 0 && c->rank == 0)
		forget_unique_id(c);
out:
	if (rc < 0)
		nccl_disconnect(c);
	return rc;
}

static ncclDataType_t nccl_type(enum lcr_dtype dtype)
{
	switch (dtype) {
	case LCR_DTYPE_FLOAT32: return ncclFloat32;
	case LCR_DTYPE_FLOAT64: return ncclFloat64;
	case LCR_DTYPE_INT64: return ncclInt64;
	}
	return ncclFloat32;
}

/* Waits for an enqueued operation: NCCL's progress, then the stream it ran on. */
static int finish(struct lcr_comm *c, ncclResult_t enqueued, uint64_t deadline)
{
	struct nccl_state *n = c->state;
	int rc = nccl_errno(enqueued);

	if (rc == 0 || rc == -EINPROGRESS)
		rc = wait_ready(c, n, deadline);
	if (rc == 0 && n->cu->cuStreamSynchronize(NULL) != CUDA_SUCCESS)
		rc = -EIO;
	return rc;
}

static int nccl_allreduce_sum(struct lcr_comm *c, void *buf, size_t count, enum lcr_dtype dtype)
{
	struct nccl_state *n = c->state;
	uint64_t deadline = comm_deadline(c);

	return finish(c, nccl.ncclAllReduce(buf, buf, count, nccl_type(dtype), ncclSum, n->comm, NULL), deadline);
}

static int nccl_broadcast(struct lcr_comm *c, void *buf, size_t bytes, uint32_t root)
{
	struct nccl_state *n = c->state;
	uint64_t deadline = comm_deadline(c);

	return finish(c, nccl.ncclBroadcast(buf, buf, bytes, ncclUint8, (int)root, n->comm, NULL), deadline);
}

static int nccl_barrier(struct lcr_comm *c)
{
	struct nccl_state *n = c->state;

	return nccl_allreduce_sum(c, (void *)(uintptr_t)n->barrier_word, 1, LCR_DTYPE_INT64);
}

static void nccl_abort(struct lcr_comm *c)
{
	struct nccl_state *n = c->state;

	if (!n || !n->comm)
		return;
	if (nccl.ncclCommRevoke) {
		nccl.ncclCommRevoke(n->comm, 0);
		return;
	}
	nccl.ncclCommAbort(n->comm);
	n->comm = NULL;
}

const struct comm_backend comm_nccl_backend = {
	.connect = nccl_connect,
	.allreduce_sum = nccl_allreduce_sum,
	.broadcast = nccl_broadcast,
	.barrier = nccl_barrier,
	.abort = nccl_abort,
	.rebuild = NULL,
	.disconnect = nccl_disconnect,
};
