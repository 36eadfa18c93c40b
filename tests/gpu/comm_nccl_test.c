/* comm_nccl_test.c: liblcr's NCCL communicator backend on a real GPU, as far as one GPU
 * allows: a one-rank communicator (NCCL refuses two ranks on one device). Its unique id
 * travels through a real lcrd's job-wide store, which holds it no more once the
 * communicator is up; allreduce, broadcast and barrier run on
 * device memory; abort then rebuild for the next epoch gives a working communicator again.
 * No bandwidth is measured: a one-rank in-place allreduce moves no data. Prints TAP; exits
 * non-zero on failure.
 * Run by tests/gpu/run.sh with LCR_SOCKET set to a foreground lcrd. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>

#include "lcr.h"
#include "lcr_comm.h"

static int checks, failures;

static void ok(int condition, const char *what)
{
	checks++;
	if (!condition)
		failures++;
	printf("%s %d - %s\n", condition ? "ok" : "not ok", checks, what);
}

/* Fills n floats on the device with value, runs allreduce, reads the first one back. */
static float allreduce_once(lcr_comm_t *c, float *device, size_t n, float value, int *rc)
{
	float *host = malloc(n * sizeof(float)), first = -1.0f;

	for (size_t i = 0; i < n; i++)
		host[i] = value;
	cudaMemcpy(device, host, n * sizeof(float), cudaMemcpyHostToDevice);
	*rc = lcr_comm_allreduce_sum(c, device, n, LCR_DTYPE_FLOAT32);
	cudaMemcpy(&first, device, sizeof(float), cudaMemcpyDeviceToHost);
	free(host);
	return first;
}

/* Whether the job-wide store no longer holds communicator "gpu"'s unique id of epoch. */
static int unique_id_removed(lcr_session_t *s, unsigned epoch)
{
	char key[LCR_NAME_MAX + 1], value[256];
	size_t len;

	snprintf(key, sizeof(key), "lcrc.gpu.%u.4294967295", epoch);
	return lcr_store_get(s, key, value, sizeof(value), &len, 0) == -ENOENT;
}

int main(void)
{
	struct lcr_comm_options opt = LCR_COMM_OPTIONS_DEFAULT;
	size_t big = 64u << 20; /* floats: 256 MiB */
	lcr_session_t *s;
	lcr_comm_t *c = NULL;
	float *device = NULL;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	rc = lcr_open(NULL, &s);
	ok(rc == 0, "a session with the foreground lcrd");
	if (rc < 0 || cudaSetDevice(0) != cudaSuccess || cudaMalloc((void **)&device, big * sizeof(float)) != cudaSuccess) {
		printf("Bail out! no session or no GPU memory\n");
		return 1;
	}
	opt.backend = LCR_COMM_NCCL;
	opt.timeout_ms = 60000;
	rc = lcr_comm_init(s, "gpu", 0, 1, 0, &opt, &c);
	ok(rc == 0, "lcr_comm_init with the NCCL backend (unique id through the job-wide store)");
	if (rc < 0) {
		printf("# %s\n", lcr_strerror(rc));
		return 1;
	}
	ok(unique_id_removed(s, 0), "the unique id of epoch 0 is removed from the store once the communicator is up");
	ok(allreduce_once(c, device, 1024, 2.5f, &rc) == 2.5f && rc == 0, "allreduce on device memory");
	ok(lcr_comm_broadcast(c, device, 4096, 0) == 0, "broadcast");
	ok(lcr_comm_barrier(c) == 0, "barrier");
	lcr_comm_abort(c);
	ok(allreduce_once(c, device, 16, 1.0f, &rc) != 0 && rc == -ECONNABORTED,
	   "after abort, operations fail with ECONNABORTED");
	rc = lcr_comm_rebuild(c, 1);
	ok(rc == 0, "rebuild for epoch 1 (revoke or abort, then a fresh init of this communicator)");
	ok(allreduce_once(c, device, 1024, 4.0f, &rc) == 4.0f && rc == 0, "allreduce after the rebuild");
	ok(unique_id_removed(s, 1), "the unique id of epoch 1 is removed too");

	rc = lcr_comm_allreduce_sum(c, device, big, LCR_DTYPE_FLOAT32);
	ok(rc == 0, "a 256 MiB allreduce");
	lcr_comm_destroy(c);
	cudaFree(device);
	lcr_close(s);
	printf("1..%d\n", checks);
	return failures ? 1 : 0;
}
