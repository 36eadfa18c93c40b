/* cuda_stage_test.c: cmocka tests of lcrd's pipelined copies between device and host memory
 * (helper/loop/cuda_stage.c), run by cuda_stage.sh under the stand-in driver
 * (fake_libcuda.c), which does an asynchronous copy only when its stream is synchronized:
 * every byte must arrive, at its place, for lengths around the piece size, and from two
 * threads at once (each copy takes a set of buffers no other copy uses). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal/cuda_driver.h"
#include "loop/cuda_stage.h"

static const struct cuda_driver *cu;
static CUdevice dev;
static CUcontext ctx;

static int load_driver(void **state)
{
	char err[256];
	(void)state;
	if (cuda_driver_load(&cu, err, sizeof(err)) < 0) {
		print_error("%s\n", err);
		return -1;
	}
	if (cu->cuDeviceGet(&dev, 0) != CUDA_SUCCESS ||
	    cu->cuDevicePrimaryCtxRetain(&ctx, dev) != CUDA_SUCCESS)
		return -1;
	return 0;
}

/* Bytes that never repeat with the piece size as their period (a pseudo-random sequence),
 * so that a piece written at another piece's place shows. */
static void fill(uint8_t *p, size_t len, unsigned seed)
{
	uint64_t x = 0x9e3779b97f4a7c15ull * (seed + 1);
	for (size_t i = 0; i < len; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		p[i] = (uint8_t)(x >> 56);
	}
}

/* Host -> device through the stage, back through one plain copy, then device -> host
 * through the stage: both directions give the bytes written, at offset `at` of the device
 * allocation. 0, or -1 with the step that failed printed (no cmocka assertion: threads call
 * it too). */
static int round_trip_status(size_t len, size_t at, unsigned seed)
{
	uint8_t *src = malloc(len), *back = malloc(len), *read = calloc(1, len);
	CUdeviceptr device = 0;
	const char *failed = NULL;
	if (!src || !back || !read || cu->cuCtxSetCurrent(ctx) != CUDA_SUCCESS ||
	    cu->cuMemAlloc(&device, at + len) != CUDA_SUCCESS) {
		failed = "setting up";
		goto out;
	}
	fill(src, len, seed);
	if (cuda_stage_write(cu, dev, ctx, device + at, src, len) != 0)
		failed = "cuda_stage_write";
	else if (cu->cuMemcpyDtoH(back, device + at, len) != CUDA_SUCCESS ||
		 memcmp(back, src, len) != 0)
		failed = "the device's bytes after cuda_stage_write";
	else if (cuda_stage_read(cu, dev, ctx, read, device + at, len) != 0)
		failed = "cuda_stage_read";
	else if (memcmp(read, src, len) != 0)
		failed = "the host's bytes after cuda_stage_read";
	cu->cuMemFree(device);
out:
	if (failed)
		print_error("%zu bytes at offset %zu: %s\n", len, at, failed);
	free(src);
	free(back);
	free(read);
	return failed ? -1 : 0;
}

static void round_trip(size_t len, size_t at, unsigned seed)
{
	assert_int_equal(round_trip_status(len, at, seed), 0);
}

static void short_copies_are_exact(void **state)
{
	(void)state;
	round_trip(1, 0, 1);
	round_trip(4096, 3, 2);
	round_trip(CUDA_STAGE_MIN - 1, 17, 3);
}

static void one_piece_and_its_neighbours_are_exact(void **state)
{
	(void)state;
	round_trip(CUDA_STAGE_MIN, 0, 4);
	round_trip(CUDA_STAGE_PIECE - 1, 5, 5);
	round_trip(CUDA_STAGE_PIECE, 0, 6);
	round_trip(CUDA_STAGE_PIECE + 1, 9, 7);
}

static void many_pieces_through_every_buffer_are_exact(void **state)
{
	(void)state;
	round_trip(CUDA_STAGE_SLOTS * CUDA_STAGE_PIECE, 0, 8);
	round_trip((CUDA_STAGE_SLOTS + 3) * (size_t)CUDA_STAGE_PIECE + 12345, 4096, 9);
}

/* A device fault in the middle of a pipelined copy is the copy's error; the copies after it
 * are exact again (the failed copy's buffers are not reused). */
static void a_failed_piece_fails_the_copy_and_later_copies_are_exact(void **state)
{
	size_t len = 5 * (size_t)CUDA_STAGE_PIECE;
	uint8_t *host = calloc(1, len);
	CUdeviceptr device = 0;
	(void)state;
	assert_non_null(host);
	assert_int_equal(cu->cuCtxSetCurrent(ctx), CUDA_SUCCESS);
	assert_int_equal(cu->cuMemAlloc(&device, len), CUDA_SUCCESS);
	setenv("FAKE_CUDA_FAIL_ASYNC", "3", 1);
	assert_int_equal(cuda_stage_read(cu, dev, ctx, host, device, len), -EIO);
	unsetenv("FAKE_CUDA_FAIL_ASYNC");
	setenv("FAKE_CUDA_FAIL_ASYNC", "2", 1);
	assert_int_equal(cuda_stage_write(cu, dev, ctx, device, host, len), -EIO);
	unsetenv("FAKE_CUDA_FAIL_ASYNC");
	cu->cuMemFree(device);
	free(host);
	round_trip(len + 3, 7, 31);
}

static void *copy_in_a_thread(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	for (int i = 0; i < 3; i++)
		if (round_trip_status(3 * (size_t)CUDA_STAGE_PIECE + seed * 1000, seed, seed + i) < 0)
			return arg;
	return NULL;
}

static void two_threads_copy_at_once(void **state)
{
	pthread_t a, b;
	void *failed_a = NULL, *failed_b = NULL;
	(void)state;
	assert_int_equal(pthread_create(&a, NULL, copy_in_a_thread, (void *)(uintptr_t)11), 0);
	assert_int_equal(pthread_create(&b, NULL, copy_in_a_thread, (void *)(uintptr_t)23), 0);
	assert_int_equal(pthread_join(a, &failed_a), 0);
	assert_int_equal(pthread_join(b, &failed_b), 0);
	assert_null(failed_a);
	assert_null(failed_b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(short_copies_are_exact),
		cmocka_unit_test(one_piece_and_its_neighbours_are_exact),
		cmocka_unit_test(many_pieces_through_every_buffer_are_exact),
		cmocka_unit_test(two_threads_copy_at_once),
		cmocka_unit_test(a_failed_piece_fails_the_copy_and_later_copies_are_exact),
	};
	return cmocka_run_group_tests(tests, load_driver, NULL);
}
