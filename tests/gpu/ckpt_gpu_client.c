/* ckpt_gpu_client.c: a rank with a CUDA region, for tests/gpu/ckpt.sh: a checkpoint of GPU
 * memory is read by lcrd through its CUDA backend, and restored into a new CUDA region.
 *
 *   fill RANK SIZE SEED STEP   allocate CUDA region "gpu.state" on device 0, write a pattern
 *                              with cudaMemcpy in an update of STEP, commit it
 *   restore RANK SIZE SEED     allocate it again (restored by lcrd), read it back with
 *                              cudaMemcpy and compare; print the resume step
 * Exit status 0 on success, 1 on failure, 2 on bad usage. */
#include "config.h"

#include <cuda_runtime.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/util.h"
#include "lcr.h"

static void fill_pattern(uint8_t *p, size_t size, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	for (size_t i = 0; i < size; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
}

static int failed(lcr_session_t *s, const char *what, int rc)
{
	printf("error %s: %s: %s\n", what, lcr_strerror(rc), s ? lcr_last_error(s) : "");
	return 1;
}

int main(int argc, char **argv)
{
	uint32_t rank;
	uint64_t size, seed, step = 0;
	lcr_session_t *s;
	void *dev;
	int rc;
	if (argc < 5 || util_parse_u32(argv[2], &rank) || util_parse_size(argv[3], &size) ||
	    util_parse_u64(argv[4], &seed) ||
	    (strcmp(argv[1], "fill") == 0 && (argc != 6 || util_parse_u64(argv[5], &step))))
		return 2;
	struct lcr_rank_info me = { .global_rank = rank, .dp_size = 1, .shard_key = "gpu" };
	uint8_t *host = malloc(size), *back = malloc(size);
	if (!host || !back)
		return 1;
	fill_pattern(host, size, seed);
	if ((rc = lcr_open(NULL, &s)) < 0)
		return failed(NULL, "open", rc);
	if ((rc = lcr_register(s, &me)) < 0)
		return failed(s, "register", rc);
	if ((rc = lcr_region_alloc(s, "gpu.state", size, LCR_REGION_CUDA, 0, &dev)) < 0)
		return failed(s, "alloc", rc);
	if (strcmp(argv[1], "fill") == 0) {
		lcr_update_begin(s, step);
		if (cudaMemcpy(dev, host, size, cudaMemcpyHostToDevice) != cudaSuccess)
			return failed(s, "cudaMemcpy", -5);
		cudaDeviceSynchronize();
		lcr_update_end(s, step);
		printf("filled gpu.state (%" PRIu64 " bytes), committed step %" PRIu64 "\n", size, step);
	} else {
		if (cudaMemcpy(back, dev, size, cudaMemcpyDeviceToHost) != cudaSuccess)
			return failed(s, "cudaMemcpy", -5);
		if (memcmp(back, host, size) != 0) {
			printf("gpu.state does not hold the pattern\n");
			return 1;
		}
		if ((rc = lcr_resume_step(s, &step)) < 0)
			return failed(s, "resume_step", rc);
		printf("restored gpu.state intact, resume step %" PRIu64 "\n", step);
	}
	lcr_close(s);
	free(host);
	free(back);
	return 0;
}
