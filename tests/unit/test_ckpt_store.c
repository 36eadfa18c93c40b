/* test_ckpt_store.c: the checkpoint directory as lcrctl and lcrd read it
 * (common/ckpt_store.c): names, listing and the newest complete checkpoint; range hashes are
 * XXH3-64 of the bytes; verification passes on intact data and reports a flipped byte and a
 * truncated or missing file by file and offset; a step directory, manifest or data file that
 * another user owns, or a symbolic link in their place, does not count. */
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
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cmocka.h>

#include "internal/ckpt_plan.h"
#include "internal/ckpt_store.h"

#define MiB (1024ull * 1024ull)

struct fixture {
	char dir[64];
	char ckpt[128];
	int dir_fd;  /* dir */
	int ckpt_fd; /* ckpt, the checkpoint of step 5 */
	struct manifest m;
	uint8_t *data; /* the region's bytes */
	char problems[4096];
	int problem_count;
};

static void collect(void *arg, const char *problem)
{
	struct fixture *f = arg;
	size_t used = strlen(f->problems);
	snprintf(f->problems + used, sizeof(f->problems) - used, "%s\n", problem);
	f->problem_count++;
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* A complete checkpoint of step 5: one shard, one 10 MiB + 3 region written by two nodes,
 * with the true hashes; a temporary directory of step 6 beside it. */
static int setup(void **state)
{
	static const struct ckpt_region_report regions[] = { { "w", WIRE_REGION_HOST, 10 * MiB + 3 } };
	struct ckpt_report r[2] = {
		{ .rank = 0, .node_id = 0, .node = "n0", .shard_key = "s", .dp_size = 2,
		  .phase = WIRE_PHASE_COMMITTED, .committed_step = 5,
		  .regions = (struct ckpt_region_report *)regions, .region_count = 1 },
		{ .rank = 1, .node_id = 1, .node = "n1", .shard_key = "s", .dp_size = 2,
		  .phase = WIRE_PHASE_COMMITTED, .committed_step = 5,
		  .regions = (struct ckpt_region_report *)regions, .region_count = 1 },
	};
	struct ckpt_plan_params p = { 1, CKPT_ALIGNMENT, CKPT_RANGE_MAX };
	struct fixture *f = calloc(1, sizeof(*f));
	char err[512], path[256];
	assert_non_null(f);
	strcpy(f->dir, "/tmp/lcr-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(ckpt_store_path(f->ckpt, sizeof(f->ckpt), f->dir, 5, false), 0);
	assert_int_equal(mkdir(f->ckpt, 0700), 0);
	snprintf(path, sizeof(path), "%s/step-6.tmp", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(ckpt_plan_build(r, 2, 5, &p, &f->m, err, sizeof(err)), 0);
	struct manifest_region *reg = &f->m.shards[0].regions[0];
	f->data = malloc(reg->size);
	assert_non_null(f->data);
	for (uint64_t i = 0; i < reg->size; i++)
		f->data[i] = (uint8_t)(i * 2654435761u >> 13);
	for (size_t k = 0; k < reg->range_count; k++)
		reg->ranges[k].xxh3 = XXH3_64bits(f->data + reg->ranges[k].offset,
						  reg->ranges[k].length);
	snprintf(path, sizeof(path), "%s/%s", f->ckpt, reg->file);
	write_file(path, f->data, reg->size);
	char *text;
	size_t len;
	assert_int_equal(manifest_encode(&f->m, &text, &len, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/%s", f->ckpt, MANIFEST_FILE_NAME);
	write_file(path, text, len);
	free(text);
	f->dir_fd = open(f->dir, O_RDONLY | O_DIRECTORY);
	f->ckpt_fd = open(f->ckpt, O_RDONLY | O_DIRECTORY);
	assert_true(f->dir_fd >= 0 && f->ckpt_fd >= 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char command[128];
	close(f->dir_fd);
	close(f->ckpt_fd);
	snprintf(command, sizeof(command), "rm -rf %s", f->dir);
	assert_int_equal(system(command), 0);
	manifest_free(&f->m);
	free(f->data);
	free(f);
	return 0;
}

static void test_names_parse_and_format(void **state)
{
	uint64_t step;
	bool tmp;
	char path[64];
	(void)state;
	assert_int_equal(ckpt_store_parse_name("step-7", &step, &tmp), 0);
	assert_int_equal(step, 7);
	assert_false(tmp);
	assert_int_equal(ckpt_store_parse_name("step-12.tmp", &step, &tmp), 0);
	assert_int_equal(step, 12);
	assert_true(tmp);
	assert_int_equal(ckpt_store_parse_name("step-07", &step, &tmp), -EINVAL);
	assert_int_equal(ckpt_store_parse_name("step-", &step, &tmp), -EINVAL);
	assert_int_equal(ckpt_store_parse_name("step-7.old", &step, &tmp), -EINVAL);
	assert_int_equal(ckpt_store_parse_name("step-18446744073709551615", &step, &tmp), -EINVAL);
	assert_int_equal(ckpt_store_parse_name("manifest.yaml", &step, &tmp), -EINVAL);
	assert_int_equal(ckpt_store_path(path, sizeof(path), "/c", 9, true), 0);
	assert_string_equal(path, "/c/step-9.tmp");
	assert_int_equal(ckpt_store_path(path, 8, "/c", 9, false), -ENAMETOOLONG);
}

static void test_listing_tells_complete_from_temporary(void **state)
{
	struct fixture *f = *state;
	struct ckpt_entry *e;
	size_t n;
	uint64_t newest;
	assert_int_equal(ckpt_store_list(f->dir_fd, &e, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(e[0].step, 5);
	assert_true(e[0].complete && e[0].has_manifest);
	assert_int_equal(e[1].step, 6);
	assert_false(e[1].complete);
	free(e);
	assert_int_equal(ckpt_store_newest(f->dir_fd, &newest), 0);
	assert_int_equal(newest, 5);
}

static void test_range_hash_is_xxh3_of_its_bytes(void **state)
{
	struct fixture *f = *state;
	const struct manifest_region *r = &f->m.shards[0].regions[0];
	char path[256];
	uint8_t buf[1 << 16];
	uint64_t hash = 0, short_at = 0;
	snprintf(path, sizeof(path), "%s/%s", f->ckpt, r->file);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_true(r->range_count >= 2);
	/* A buffer smaller than the range: the hash is streamed. */
	assert_int_equal(ckpt_store_read_range(fd, &r->ranges[1], buf, sizeof(buf), NULL, NULL,
					       &hash, &short_at), 0);
	assert_int_equal(hash, XXH3_64bits(f->data + r->ranges[1].offset, r->ranges[1].length));
	close(fd);
}

static void test_intact_checkpoint_verifies(void **state)
{
	struct fixture *f = *state;
	struct manifest m;
	char err[512];
	uint64_t bytes;
	assert_int_equal(ckpt_store_read_manifest(f->ckpt_fd, f->ckpt, &m, err, sizeof(err)), 0);
	assert_int_equal(ckpt_store_verify(f->ckpt_fd, &m, collect, f, &bytes), 0);
	assert_int_equal(bytes, 10 * MiB + 3);
	assert_string_equal(f->problems, "");
	manifest_free(&m);
}

static void test_flipped_byte_is_reported_with_file_and_offset(void **state)
{
	struct fixture *f = *state;
	const struct manifest_region *r = &f->m.shards[0].regions[0];
	char path[256], want[512];
	uint64_t bytes;
	snprintf(path, sizeof(path), "%s/%s", f->ckpt, r->file);
	int fd = open(path, O_RDWR);
	uint8_t byte = (uint8_t)~f->data[9 * MiB];
	assert_int_equal(pwrite(fd, &byte, 1, 9 * MiB), 1);
	close(fd);
	assert_int_equal(ckpt_store_verify(f->ckpt_fd, &f->m, collect, f, &bytes), 1);
	const struct manifest_range *g = &r->ranges[r->range_count - 1];
	assert_true(g->offset <= 9 * MiB);
	snprintf(want, sizeof(want), "file s0-w: offset %llu: %llu bytes written by %s do not "
		 "match their XXH3 hash (manifest %016llx, data ", (unsigned long long)g->offset,
		 (unsigned long long)g->length, f->m.writers[g->writer].node,
		 (unsigned long long)g->xxh3);
	if (strncmp(f->problems, want, strlen(want)) != 0)
		fail_msg("expected \"%s...\", got \"%s\"", want, f->problems);
}

static void test_truncated_and_missing_files_are_reported(void **state)
{
	struct fixture *f = *state;
	const struct manifest_region *r = &f->m.shards[0].regions[0];
	char path[256];
	uint64_t bytes;
	snprintf(path, sizeof(path), "%s/%s", f->ckpt, r->file);
	assert_int_equal(truncate(path, 6 * MiB), 0);
	assert_int_equal(ckpt_store_check_files(f->ckpt_fd, &f->m, collect, f), 1);
	assert_string_equal(f->problems, "file s0-w: truncated at offset 6291456: 6291456 of "
			    "10485763 bytes\n");
	f->problems[0] = '\0';
	assert_int_equal(ckpt_store_verify(f->ckpt_fd, &f->m, collect, f, &bytes), 1);
	assert_string_equal(f->problems, "file s0-w: truncated at offset 6291456: 6291456 of "
			    "10485763 bytes\n");
	f->problems[0] = '\0';
	assert_int_equal(truncate(path, 10 * MiB + 4), 0);
	assert_int_equal(ckpt_store_check_files(f->ckpt_fd, &f->m, collect, f), 1);
	assert_string_equal(f->problems, "file s0-w: 1 bytes past offset 10485763, where the "
			    "region ends\n");
	f->problems[0] = '\0';
	assert_int_equal(unlink(path), 0);
	assert_int_equal(ckpt_store_verify(f->ckpt_fd, &f->m, collect, f, &bytes), 1);
	assert_string_equal(f->problems, "file s0-w: missing\n");
}

/* Gives path to another user (nobody), as a second user's planted file would be. */
static void give_away(const char *path)
{
	assert_int_equal(lchown(path, 65534, 65534), 0);
}

static void test_a_checkpoint_another_user_owns_is_not_restored(void **state)
{
	struct fixture *f = *state;
	struct ckpt_entry *e;
	uint64_t newest;
	char err[512];
	size_t n;
	if (geteuid() != 0)
		skip();
	give_away(f->ckpt);
	assert_int_equal(ckpt_store_list(f->dir_fd, &e, &n), 0);
	assert_int_equal(n, 2);
	assert_false(e[0].has_manifest);
	free(e);
	assert_int_equal(ckpt_store_newest(f->dir_fd, &newest), -ENOENT);
	assert_int_equal(ckpt_store_open_step(f->dir_fd, 5, false, err, sizeof(err)), -EPERM);
	assert_string_equal(err, "step-5 is owned by uid 65534, not by you (uid 0)");
}

static void test_a_manifest_another_user_owns_is_refused(void **state)
{
	struct fixture *f = *state;
	struct manifest m;
	char path[256], err[512];
	uint64_t newest;
	if (geteuid() != 0)
		skip();
	snprintf(path, sizeof(path), "%s/%s", f->ckpt, MANIFEST_FILE_NAME);
	give_away(path);
	assert_int_equal(ckpt_store_newest(f->dir_fd, &newest), -ENOENT);
	assert_int_equal(ckpt_store_read_manifest(f->ckpt_fd, f->ckpt, &m, err, sizeof(err)),
			 -EPERM);
	assert_non_null(strstr(err, "manifest.yaml is owned by uid 65534, not by you"));
}

static void test_a_data_file_that_is_a_link_or_another_users_is_refused(void **state)
{
	struct fixture *f = *state;
	const struct manifest_region *r = &f->m.shards[0].regions[0];
	char path[256], moved[256];
	uint64_t bytes;
	snprintf(path, sizeof(path), "%s/%s", f->ckpt, r->file);
	snprintf(moved, sizeof(moved), "%s/elsewhere", f->dir);
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(symlink(moved, path), 0);
	assert_int_equal(ckpt_store_check_files(f->ckpt_fd, &f->m, collect, f), 1);
	assert_string_equal(f->problems, "cannot open file s0-w: it is a symbolic link\n");
	if (geteuid() != 0)
		return;
	f->problems[0] = '\0';
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rename(moved, path), 0);
	give_away(path);
	assert_int_equal(ckpt_store_verify(f->ckpt_fd, &f->m, collect, f, &bytes), 1);
	assert_string_equal(f->problems, "file s0-w is owned by uid 65534, not by you (uid 0)\n");
}

static void test_a_fifo_in_place_of_the_manifest_does_not_hang(void **state)
{
	struct fixture *f = *state;
	struct manifest m;
	char path[256], err[512];
	snprintf(path, sizeof(path), "%s/%s", f->ckpt, MANIFEST_FILE_NAME);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(ckpt_store_read_manifest(f->ckpt_fd, f->ckpt, &m, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "manifest.yaml is not a regular file"));
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_parse_and_format),
		TEST(test_listing_tells_complete_from_temporary),
		TEST(test_range_hash_is_xxh3_of_its_bytes),
		TEST(test_intact_checkpoint_verifies),
		TEST(test_flipped_byte_is_reported_with_file_and_offset),
		TEST(test_truncated_and_missing_files_are_reported),
		TEST(test_a_checkpoint_another_user_owns_is_not_restored),
		TEST(test_a_manifest_another_user_owns_is_refused),
		TEST(test_a_data_file_that_is_a_link_or_another_users_is_refused),
		TEST(test_a_fifo_in_place_of_the_manifest_does_not_hang),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
