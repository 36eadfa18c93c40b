/* test_regions.c: the helper's region table with the host backend: allocation, reattach,
 * quota (an allocation beyond it fails with a message naming the region and the sizes, and
 * nothing else changes), names and sizes, access through region_read / region_write, the
 * sealed descriptor handed to clients, checksums, region_view (host memory read in place,
 * within the region's size; no view from a backend without one), region_view_writable (the
 * same memory, written in place), region_populate (pages mapped ahead, their bytes kept),
 * and xxh3_stream_update (the same hash as XXH3_64bits, whatever the vector width). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include <cmocka.h>

#include "internal/xxh3_stream.h"
#include "loop/regions.h"

#define MiB (1024ull * 1024ull)

static char err[WIRE_TEXT_MAX + 1];

static int table_setup(void **state)
{
	struct region_table *t = malloc(sizeof(*t));
	region_table_init(t, 8 * MiB);
	*state = t;
	return 0;
}

static int table_teardown(void **state)
{
	region_table_fini(*state);
	free(*state);
	return 0;
}

static struct region *alloc_ok(struct region_table *t, uint32_t rank, const char *name,
			       uint64_t size)
{
	struct region *r = NULL;
	int rc = region_table_alloc(t, rank, name, WIRE_REGION_HOST, size, NULL, &r, err,
				    sizeof(err));
	if (rc != REGION_CREATED)
		fail_msg("allocating '%s' failed: %d %s", name, rc, err);
	return r;
}

static void test_new_region_reads_zero_and_round_trips(void **state)
{
	struct region_table *t = *state;
	struct region *r = alloc_ok(t, 0, "w", 10000);
	uint8_t buf[10000], zero[10000] = { 0 };
	assert_int_equal(r->size, 10000);
	assert_int_equal(r->map_size % (uint64_t)sysconf(_SC_PAGESIZE), 0);
	assert_true(r->map_size >= 10000);
	assert_int_equal(region_read(r, 0, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, zero, sizeof(buf));
	memset(buf, 0xab, sizeof(buf));
	assert_int_equal(region_write(r, 100, buf, 500), 0);
	assert_int_equal(region_read(r, 0, buf, 1000), 0);
	assert_int_equal(buf[99], 0);
	assert_int_equal(buf[100], 0xab);
	assert_int_equal(buf[599], 0xab);
	assert_int_equal(buf[600], 0);
	assert_int_equal(region_read(r, 9999, buf, 2), -ERANGE);
	assert_int_equal(region_write(r, 10001, buf, 0), -ERANGE);
	assert_int_equal(t->count, 1);
	assert_int_equal(t->used, r->map_size);
}

static void test_same_rank_and_name_reattaches(void **state)
{
	struct region_table *t = *state;
	struct region *r = alloc_ok(t, 3, "optim.m", 4096), *again = NULL;
	assert_int_equal(region_table_alloc(t, 3, "optim.m", WIRE_REGION_HOST, 4096, NULL, &again,
					    err, sizeof(err)),
			 REGION_REATTACHED);
	assert_ptr_equal(again, r);
	assert_int_equal(t->count, 1);
}

static void test_same_name_other_size_is_refused(void **state)
{
	struct region_table *t = *state;
	struct region *r = NULL;
	alloc_ok(t, 3, "optim.m", 4096);
	assert_int_equal(region_table_alloc(t, 3, "optim.m", WIRE_REGION_HOST, 8192, NULL, &r, err,
					    sizeof(err)),
			 -EEXIST);
	assert_non_null(strstr(err, "region 'optim.m' of rank 3 already exists as 4 KiB host"));
	assert_int_equal(t->count, 1);
}

static void test_ranks_have_separate_names(void **state)
{
	struct region_table *t = *state;
	struct region *a = alloc_ok(t, 0, "w", 4096), *b = alloc_ok(t, 1, "w", 4096);
	assert_ptr_not_equal(a, b);
	assert_ptr_equal(region_table_find(t, 1, "w"), b);
	assert_null(region_table_find(t, 2, "w"));
	assert_int_equal(region_table_free(t, 0, "w"), 0);
	assert_ptr_equal(region_table_find(t, 1, "w"), b);
	assert_int_equal(region_table_free(t, 0, "w"), -ENOENT);
}

static void test_quota_refuses_without_disturbing(void **state)
{
	struct region_table *t = *state;
	struct region *r = NULL, *keep = alloc_ok(t, 0, "keep", 5 * MiB);
	uint8_t byte = 0x5a;
	assert_int_equal(region_write(keep, 0, &byte, 1), 0);
	uint64_t used = t->used;

	int rc = region_table_alloc(t, 1, "optim.exp_avg", WIRE_REGION_HOST, 3 * MiB + 1, NULL, &r,
				    err, sizeof(err));
	assert_int_equal(rc, -EDQUOT);
	assert_string_equal(err, "region 'optim.exp_avg' of rank 1 (3.0 MiB) does not fit the "
				 "region quota: 5 MiB of 8 MiB in use");
	assert_int_equal(t->count, 1);
	assert_int_equal(t->used, used);
	assert_null(region_table_find(t, 1, "optim.exp_avg"));
	byte = 0;
	assert_int_equal(region_read(keep, 0, &byte, 1), 0);
	assert_int_equal(byte, 0x5a);

	alloc_ok(t, 1, "optim.exp_avg", 3 * MiB); /* exactly fills the quota */
	assert_int_equal(t->used, 8 * MiB);
	assert_int_equal(region_table_alloc(t, 2, "one.more", WIRE_REGION_HOST, 1, NULL, &r, err,
					    sizeof(err)),
			 -EDQUOT);
	assert_int_equal(region_table_free(t, 0, "keep"), 0);
	alloc_ok(t, 2, "one.more", 1);
}

static void test_quota_counts_rounded_sizes(void **state)
{
	struct region_table *t = *state;
	struct region *r = NULL;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	for (uint64_t i = 0; i < 8 * MiB / page; i++) {
		char name[32];
		snprintf(name, sizeof(name), "tiny.%llu", (unsigned long long)i);
		alloc_ok(t, 0, name, 1);
	}
	assert_int_equal(t->used, 8 * MiB);
	assert_int_equal(region_table_alloc(t, 0, "last", WIRE_REGION_HOST, 1, NULL, &r, err,
					    sizeof(err)),
			 -EDQUOT);
}

static void test_unlimited_quota(void **state)
{
	(void)state;
	struct region_table t;
	region_table_init(&t, 0);
	alloc_ok(&t, 0, "big", 64 * MiB);
	alloc_ok(&t, 0, "bigger", 128 * MiB);
	region_table_fini(&t);
	assert_int_equal(t.count, 0);
	assert_null(t.head);
}

static void test_bad_names_sizes_and_kinds_are_refused(void **state)
{
	struct region_table *t = *state;
	struct region *r = NULL;
	const char *bad[] = { "", "a b", "a/b", "tab\there",
			      "x234567890123456789012345678901234567890123456789012345678901234" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(region_table_alloc(t, 0, bad[i], WIRE_REGION_HOST, 1, NULL, &r, err,
						    sizeof(err)),
				 -EINVAL);
	assert_int_equal(region_table_alloc(t, 0, "zero", WIRE_REGION_HOST, 0, NULL, &r, err,
					    sizeof(err)),
			 -EINVAL);
	assert_int_equal(region_table_alloc(t, 0, "kind", (enum wire_region_kind)7, 1, NULL, &r,
					    err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(t->count, 0);
}

static void test_cuda_region_without_a_gpu_fails_cleanly(void **state)
{
	struct region_table *t = *state;
	struct region *r = NULL;
	int rc = region_table_alloc(t, 0, "gpu", WIRE_REGION_CUDA, MiB, NULL, &r, err, sizeof(err));
	if (rc == REGION_CREATED) { /* a machine with a GPU */
		assert_int_equal(region_table_free(t, 0, "gpu"), 0);
		return;
	}
#ifdef HAVE_CUDA
	assert_int_equal(rc, -ENODEV);
	assert_non_null(strstr(err, "cannot allocate CUDA region 'gpu'"));
#else
	assert_int_equal(rc, -EOPNOTSUPP);
	assert_non_null(strstr(err, "without CUDA support"));
#endif
	assert_int_equal(t->count, 0);
	assert_int_equal(t->used, 0);
}

static void test_exported_descriptor_is_the_same_sealed_memory(void **state)
{
	struct region_table *t = *state;
	struct region *r = alloc_ok(t, 0, "shared", 3 * 4096);
	int fd;
	uint8_t byte = 0;
	assert_int_equal(r->backend->export_fd(r, &fd), 0);
	uint8_t *client = mmap(NULL, r->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(client != MAP_FAILED);
	client[5000] = 42;
	assert_int_equal(region_read(r, 5000, &byte, 1), 0);
	assert_int_equal(byte, 42);
	assert_int_equal(ftruncate(fd, 4096), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(fd, (off_t)r->map_size * 2), -1);
	int seals = fcntl(fd, F_GET_SEALS);
	assert_true(seals & F_SEAL_SHRINK);
	assert_true(seals & F_SEAL_SEAL);
	munmap(client, r->map_size);
	close(fd);
}

static void test_checksum_hashes_the_region_bytes(void **state)
{
	struct region_table *t = *state;
	uint64_t size = 20 * 1024 * 1024 + 3; /* more than one chunk */
	region_table_fini(t);
	region_table_init(t, 0);
	struct region *r = alloc_ok(t, 0, "sum", size);
	uint8_t *data = malloc(size);
	uint64_t hash = 0;
	for (uint64_t i = 0; i < size; i++)
		data[i] = (uint8_t)(i * 7 + (i >> 13));
	assert_int_equal(region_write(r, 0, data, size), 0);
	assert_int_equal(region_checksum(r, &hash), 0);
	assert_int_equal(hash, XXH3_64bits(data, size));
	free(data);
}

static void test_host_view_is_the_region_memory_within_its_size(void **state)
{
	struct region_table *t = *state;
	struct region *r = alloc_ok(t, 0, "v", 10000);
	const uint8_t *view = NULL, *at_end = NULL;
	uint8_t byte = 0x5a;
	assert_true(r->map_size > 10000);
	assert_int_equal(region_write(r, 9999, &byte, 1), 0);
	assert_int_equal(region_view(r, 0, 10000, &view), 0);
	assert_int_equal(view[9999], 0x5a);
	assert_int_equal(region_view(r, 10000, 0, &at_end), 0);
	assert_ptr_equal(at_end, view + 10000);
	byte = 0x33;
	assert_int_equal(region_write(r, 4096, &byte, 1), 0);
	assert_int_equal(view[4096], 0x33); /* the same memory, not a copy */
	/* A range spanning the region's end is refused, though the mapping goes on. */
	assert_int_equal(region_view(r, 9999, 2, &view), -ERANGE);
	assert_int_equal(region_view(r, 10001, 0, &view), -ERANGE);
	assert_int_equal(region_view(r, 1, UINT64_MAX, &view), -ERANGE);
}

static void test_backend_without_view_is_read_through_a_copy(void **state)
{
	const struct region_backend no_view = { .name = "no-view" };
	struct region r = { .size = 100, .backend = &no_view };
	const uint8_t *view = NULL;
	(void)state;
	assert_int_equal(region_view(&r, 0, 100, &view), -EOPNOTSUPP);
	assert_null(view);
	assert_int_equal(region_view(&r, 0, 101, &view), -ERANGE);
}

static void test_writable_view_and_populate_keep_the_region_bytes(void **state)
{
	struct region_table *t = *state;
	uint64_t size = 3 * 4096 + 100;
	struct region *r = alloc_ok(t, 0, "p", size);
	const uint8_t *view = NULL;
	uint8_t *writable = NULL, byte = 0x77, back = 0;
	assert_int_equal(region_write(r, 5000, &byte, 1), 0);
	assert_int_equal(region_populate(r, 0, size, false), 0);
	assert_int_equal(region_populate(r, 4000, 5000, true), 0); /* not page-aligned */
	assert_int_equal(region_view_writable(r, 0, size, &writable), 0);
	assert_int_equal(region_view(r, 0, size, &view), 0);
	assert_ptr_equal(writable, view);
	assert_int_equal(writable[5000], 0x77); /* populating changed no byte */
	writable[size - 1] = 0x42;
	assert_int_equal(region_read(r, size - 1, &back, 1), 0);
	assert_int_equal(back, 0x42);
	assert_int_equal(region_populate(r, 1, size, true), -ERANGE);
	assert_int_equal(region_view_writable(r, size, 1, &writable), -ERANGE);
}

static void test_xxh3_stream_is_xxh3(void **state)
{
	static uint8_t bytes[3 << 20];
	XXH3_state_t *stream = XXH3_createState();
	const size_t cuts[] = { 0, 1, 63, 240, 4096, 1 << 20, sizeof(bytes) };
	(void)state;
	assert_non_null(stream);
	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(i * 13 + (i >> 11));
	for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
		XXH3_64bits_reset(stream);
		/* in two uneven parts, as a stream arrives */
		xxh3_stream_update(stream, bytes, cuts[k] / 3);
		xxh3_stream_update(stream, bytes + cuts[k] / 3, cuts[k] - cuts[k] / 3);
		assert_int_equal(XXH3_64bits_digest(stream), XXH3_64bits(bytes, cuts[k]));
	}
	XXH3_freeState(stream);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, table_setup, table_teardown)
		T(test_new_region_reads_zero_and_round_trips),
		T(test_same_rank_and_name_reattaches),
		T(test_same_name_other_size_is_refused),
		T(test_ranks_have_separate_names),
		T(test_quota_refuses_without_disturbing),
		T(test_quota_counts_rounded_sizes),
		cmocka_unit_test(test_unlimited_quota),
		T(test_bad_names_sizes_and_kinds_are_refused),
		T(test_cuda_region_without_a_gpu_fails_cleanly),
		T(test_exported_descriptor_is_the_same_sealed_memory),
		T(test_checksum_hashes_the_region_bytes),
		T(test_host_view_is_the_region_memory_within_its_size),
		cmocka_unit_test(test_backend_without_view_is_read_through_a_copy),
		T(test_writable_view_and_populate_keep_the_region_bytes),
		cmocka_unit_test(test_xxh3_stream_is_xxh3),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
