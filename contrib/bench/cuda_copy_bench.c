/* cuda_copy_bench.c: lcrd's copies between a CUDA region and host memory
 * (helper/loop/cuda_stage.c: pinned buffers on streams of its own) against the plain
 * synchronous driver copy into the same pageable host memory that lcrd made before, in the
 * same pieces as the snapshot round reads (8 MiB), in the same run. Also prints the
 * ceiling: one synchronous copy into pinned host memory. Device memory comes from
 * cuMemAlloc, host memory from malloc, touched before the rounds. Best of the rounds.
 *
 * Usage: cuda_copy_bench [--size=BYTES] [--rounds=N]. Needs the NVIDIA driver and a GPU;
 * exits 77 (skipped) where libcuda.so.1 cannot be loaded. Under the stand-in driver of the
 * tests it runs, but measures memcpy only. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal/cuda_driver.h"
#include "loop/cuda_stage.h"

#define SNAPSHOT_PIECE (8u << 20) /* the snapshot round's region_read size */

static const struct cuda_driver *cu;
static CUdevice dev;
static CUcontext ctx;
static void *pinned; /* SNAPSHOT_PIECE bytes of pinned host memory, for the ceiling */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum method { PLAIN_DTOH, STAGE_DTOH, PLAIN_HTOD, STAGE_HTOD, PINNED_DTOH };

/* One pass over size bytes in SNAPSHOT_PIECE calls: seconds, or a negative value. */
static double pass(enum method m, void *host, CUdeviceptr device, size_t size)
{
	double start = now();
	for (size_t at = 0; at < size; at += SNAPSHOT_PIECE) {
		size_t n = size - at < SNAPSHOT_PIECE ? size - at : SNAPSHOT_PIECE;
		char *h = (char *)host + at;
		int rc;
		switch (m) {
		case PLAIN_DTOH:
			rc = cuda_result_errno(cu->cuMemcpyDtoH(h, device + at, n));
			break;
		case STAGE_DTOH:
			rc = cuda_stage_read(cu, dev, ctx, h, device + at, n);
			break;
		case PLAIN_HTOD:
			rc = cuda_result_errno(cu->cuMemcpyHtoD(device + at, h, n));
			break;
		case STAGE_HTOD:
			rc = cuda_stage_write(cu, dev, ctx, device + at, h, n);
			break;
		default: /* every piece into the same pinned buffer */
			rc = cuda_result_errno(cu->cuMemcpyDtoH(pinned, device + at, n));
			break;
		}
		if (rc < 0) {
			fprintf(stderr, "cuda_copy_bench: copy failed: %s\n", strerror(-rc));
			return -1;
		}
	}
	return now() - start;
}

static double best_rate(enum method m, void *host, CUdeviceptr device, size_t size, int rounds)
{
	double best = 0;
	for (int i = 0; i < rounds; i++) {
		double s = pass(m, host, device, size);
		if (s < 0)
			return -1;
		if (s > 0 && size / s / 1e9 > best)
			best = size / s / 1e9;
	}
	return best;
}

int main(int argc, char **argv)
{
	size_t size = (size_t)1 << 30;
	int rounds = 5;
	char err[256], *end = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--size=", 7)) {
			size = strtoull(argv[i] + 7, &end, 10);
		} else if (!strncmp(argv[i], "--rounds=", 9)) {
			rounds = (int)strtol(argv[i] + 9, &end, 10);
		} else {
			fprintf(stderr, "usage: cuda_copy_bench [--size=BYTES] [--rounds=N]\n");
			return 2;
		}
		if (*end) {
			fprintf(stderr, "cuda_copy_bench: %s: not a whole number\n", argv[i]);
			return 2;
		}
	}
	if (size == 0 || rounds < 1) {
		fprintf(stderr, "cuda_copy_bench: --size and --rounds must be positive\n");
		return 2;
	}
	if (cuda_driver_load(&cu, err, sizeof(err)) < 0) {
		printf("cuda_copy_bench: skipped: %s\n", err);
		return 77;
	}
	CUdeviceptr device = 0;
	char *host = malloc(size);
	if (cu->cuDeviceGet(&dev, 0) != CUDA_SUCCESS ||
	    cu->cuDevicePrimaryCtxRetain(&ctx, dev) != CUDA_SUCCESS ||
	    cu->cuCtxSetCurrent(ctx) != CUDA_SUCCESS || !host ||
	    cu->cuMemAlloc(&device, size) != CUDA_SUCCESS ||
	    cu->cuMemAllocHost(&pinned, SNAPSHOT_PIECE) != CUDA_SUCCESS) {
		fprintf(stderr, "cuda_copy_bench: cannot set up %zu bytes on device 0\n", size);
		return 1;
	}
	memset(host, 0x5a, size);
	double plain_dtoh = best_rate(PLAIN_DTOH, host, device, size, rounds);
	double stage_dtoh = best_rate(STAGE_DTOH, host, device, size, rounds);
	double plain_htod = best_rate(PLAIN_HTOD, host, device, size, rounds);
	double stage_htod = best_rate(STAGE_HTOD, host, device, size, rounds);
	double pinned_best = best_rate(PINNED_DTOH, host, device, size, rounds);
	if (plain_dtoh <= 0 || stage_dtoh <= 0 || plain_htod <= 0 || stage_htod <= 0 ||
	    pinned_best <= 0)
		return 1;
	printf("%zu bytes in %u-byte calls, best of %d rounds; ceiling: device to pinned host "
	       "memory %.2f GB/s\n", size, SNAPSHOT_PIECE, rounds, pinned_best);
	printf("RESULT name=cuda_stage_dtoh_GBps value=%.2f unit=GB/s baseline=%.2f ratio=%.3f\n",
	       stage_dtoh, plain_dtoh, stage_dtoh / plain_dtoh);
	printf("RESULT name=cuda_stage_htod_GBps value=%.2f unit=GB/s baseline=%.2f ratio=%.3f\n",
	       stage_htod, plain_htod, stage_htod / plain_htod);
	cu->cuMemFree(device);
	cu->cuMemFreeHost(pinned);
	free(host);
	return 0;
}
