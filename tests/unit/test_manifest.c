/* test_manifest.c: the checkpoint manifest (common/manifest.c): a manifest written and read
 * back is the same; a hand-written one reads as expected; and every kind of malformed
 * manifest is rejected with a message naming the file, the line and the key. The malformed
 * cases are one edit each of a valid manifest, so each case shows exactly what is wrong. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal/manifest.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static char err[1024];

/* A valid manifest; the line numbers of the malformed cases refer to it. */
static const char valid[] =
	"format: 1\n"                                                         /* 1 */
	"job: 30\n"                                                           /* 2 */
	"step: 7\n"                                                           /* 3 */
	"created: 1700000000\n"                                               /* 4 */
	"hash: xxh3-64\n"                                                     /* 5 */
	"alignment: 4194304\n"                                                /* 6 */
	"ranks: 4\n"                                                          /* 7 */
	"shards:\n"                                                           /* 8 */
	"  - key: \"shard0\"\n"                                               /* 9 */
	"    dp_size: 2\n"                                                    /* 10 */
	"    ranks: [0, 2]\n"                                                 /* 11 */
	"    regions:\n"                                                      /* 12 */
	"      - name: \"model.weights\"\n"                                   /* 13 */
	"        kind: host\n"                                                /* 14 */
	"        size: 6291456\n"                                             /* 15 */
	"        file: \"s0-model.weights\"\n"                                /* 16 */
	"        ranges:\n"                                                   /* 17 */
	"          - {offset: 0, length: 4194304, xxh3: \"0123456789abcdef\", writer: \"n1\"}\n"
	"          - {offset: 4194304, length: 2097152, xxh3: \"fedcba9876543210\", writer: \"n2\"}\n"
	"  - key: \"shard1\"\n"                                               /* 20 */
	"    dp_size: 2\n"                                                    /* 21 */
	"    ranks: [1, 3]\n"                                                 /* 22 */
	"    regions: []\n"                                                   /* 23 */
	"writers:\n"                                                          /* 24 */
	"  - {node: \"n1\", node_id: 0, bytes: 4194304, seconds: 0.5}\n"     /* 25 */
	"  - {node: \"n2\", node_id: 1, bytes: 2097152, seconds: 0.25}\n";   /* 26 */

static int decode(const char *text, struct manifest *m)
{
	err[0] = '\0';
	return manifest_decode(text, strlen(text), "test.yaml", m, err, sizeof(err));
}

static void test_valid_manifest_reads_as_written(void **state)
{
	struct manifest m;
	(void)state;
	if (decode(valid, &m) != 0)
		fail_msg("%s", err);
	assert_int_equal(m.job_id, 30);
	assert_int_equal(m.step, 7);
	assert_int_equal(m.created, 1700000000);
	assert_int_equal(m.generation, 0); /* absent: a manifest from before it was recorded */
	assert_int_equal(m.rank_count, 4);
	assert_int_equal(m.shard_count, 2);
	assert_string_equal(m.shards[0].key, "shard0");
	assert_int_equal(m.shards[0].dp_size, 2);
	assert_int_equal(m.shards[0].rank_count, 2);
	assert_int_equal(m.shards[0].ranks[1], 2);
	assert_int_equal(m.shards[0].region_count, 1);
	const struct manifest_region *r = &m.shards[0].regions[0];
	assert_string_equal(r->name, "model.weights");
	assert_int_equal(r->kind, WIRE_REGION_HOST);
	assert_int_equal(r->size, 6291456);
	assert_string_equal(r->file, "s0-model.weights");
	assert_int_equal(r->range_count, 2);
	assert_int_equal(r->ranges[1].offset, 4194304);
	assert_int_equal(r->ranges[1].xxh3, 0xfedcba9876543210ull);
	assert_string_equal(m.writers[r->ranges[1].writer].node, "n2");
	assert_int_equal(r->ranges[1].line, 19);
	assert_int_equal(m.shards[1].region_count, 0);
	assert_true(m.writers[1].seconds == 0.25);
	assert_ptr_equal(manifest_shard_of_rank(&m, 3), &m.shards[1]);
	assert_ptr_equal(manifest_find_region(&m.shards[0], "model.weights"), r);
	assert_null(manifest_find_region(&m.shards[0], "other"));
	assert_int_equal(manifest_total_bytes(&m), 6291456);
	manifest_free(&m);
}

static void test_encoded_manifest_decodes_to_the_same(void **state)
{
	struct manifest a, b;
	char *text;
	size_t len;
	(void)state;
	assert_int_equal(decode(valid, &a), 0);
	a.writers[0].seconds = 1.125;
	a.generation = 12;
	strcpy(a.shards[1].key, "tp \"1\" \\ pp0");
	if (manifest_encode(&a, &text, &len, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(strlen(text), len);
	if (decode(text, &b) != 0)
		fail_msg("%s\n%s", err, text);
	assert_string_equal(b.shards[1].key, "tp \"1\" \\ pp0");
	assert_true(b.writers[0].seconds == 1.125);
	assert_int_equal(b.shards[0].regions[0].ranges[0].xxh3, 0x0123456789abcdefull);
	assert_int_equal(b.shards[0].regions[0].ranges[1].writer, 1);
	assert_int_equal(b.step, a.step);
	assert_int_equal(b.generation, 12);
	assert_int_equal(b.rank_count, a.rank_count);
	free(text);
	manifest_free(&a);
	manifest_free(&b);
}

static void test_encode_refuses_a_manifest_that_breaks_a_rule(void **state)
{
	struct manifest m;
	char *text = NULL;
	size_t len;
	(void)state;
	assert_int_equal(decode(valid, &m), 0);
	m.shards[0].regions[0].ranges[1].length = 1;
	assert_int_equal(manifest_encode(&m, &text, &len, err, sizeof(err)), -EINVAL);
	assert_null(text);
	assert_non_null(strstr(err, "key 'shards[0].regions[0].ranges': they cover 4194305 of "
				    "the region's 6291456 bytes"));
	manifest_free(&m);
}

/* One edit of `valid`, and the line and message fragment the error must carry. */
struct malformed {
	const char *what;
	const char *find;
	const char *replace;
	unsigned line;
	const char *message;
};

static const struct malformed cases[] = {
	{ "unknown top-level key", "ranks: 4\n", "ranks: 4\ncolour: blue\n", 8,
	  "key 'colour': unknown key (accepted: format, job, step, created, hash, alignment, "
	  "ranks, shards, writers, generation)" },
	{ "an anchor", "alignment: 4194304\n", "alignment: &a 4194304\n", 6,
	  "anchor '&a': anchors and aliases are not allowed in a manifest" },
	{ "an alias", "alignment: 4194304\n", "alignment: *a\n", 6,
	  "alias '*a': anchors and aliases are not allowed in a manifest" },
	{ "generation not a number", "ranks: 4\n", "ranks: 4\ngeneration: many\n", 8,
	  "key 'generation'" },
	{ "unknown key in a region", "kind: host", "kind: host\n        mode: 0600", 15,
	  "key 'shards[0].regions[0].mode': unknown key (accepted: name, kind, size, file, "
	  "ranges)" },
	{ "unknown key in a range", "writer: \"n1\"}", "writer: \"n1\", crc: 1}", 18,
	  "key 'shards[0].regions[0].ranges[0].crc': unknown key" },
	{ "missing top-level key", "job: 30\n", "", 1, "key 'job': missing" },
	{ "missing region size", "        size: 6291456\n", "", 13,
	  "key 'shards[0].regions[0].size': missing" },
	{ "missing range hash", "xxh3: \"fedcba9876543210\", ", "", 19,
	  "key 'shards[0].regions[0].ranges[1].xxh3': missing" },
	{ "duplicate key", "step: 7\n", "step: 7\nstep: 8\n", 4,
	  "key 'step': given twice (first on line 3)" },
	{ "size that is not a number", "size: 6291456", "size: six", 15,
	  "key 'shards[0].regions[0].size': expected a whole number from 0 to "
	  "18446744073709551615, found 'six'" },
	{ "negative number", "job: 30", "job: -30", 2, "key 'job': expected a whole number" },
	{ "number with a sign", "ranks: 4", "ranks: +4", 7, "key 'ranks': expected a whole number" },
	{ "job id beyond 32 bits", "job: 30", "job: 4294967296", 2,
	  "key 'job': expected a whole number from 0 to 4294967295" },
	{ "size given as a mapping", "size: 6291456", "size: {bytes: 6291456}", 15,
	  "key 'shards[0].regions[0].size': expected a scalar, found a mapping" },
	{ "regions given as a scalar", "regions: []", "regions: none", 23,
	  "key 'shards[1].regions': expected a sequence, found a scalar" },
	{ "ranks given as a scalar", "ranks: [0, 2]", "ranks: 0", 11,
	  "key 'shards[0].ranks': expected a sequence, found a scalar" },
	{ "rank that is not a number", "ranks: [0, 2]", "ranks: [0, two]", 11,
	  "key 'shards[0].ranks[1]': expected a whole number" },
	{ "short hash", "\"0123456789abcdef\"", "\"0123456789abcde\"", 18,
	  "key 'shards[0].regions[0].ranges[0].xxh3': expected an XXH3 hash of 16 hexadecimal "
	  "digits, found '0123456789abcde'" },
	{ "hash with a letter beyond f", "\"fedcba9876543210\"", "\"fedcba987654321g\"", 19,
	  "key 'shards[0].regions[0].ranges[1].xxh3': expected an XXH3 hash" },
	{ "unknown hash", "hash: xxh3-64", "hash: crc32c", 5,
	  "key 'hash': 'crc32c' is not a hash this LCR computes (accepted: xxh3-64)" },
	{ "newer format", "format: 1", "format: 2", 1,
	  "key 'format': version 2 is not one this LCR reads (accepted: 1)" },
	{ "unknown region kind", "kind: host", "kind: disk", 14,
	  "key 'shards[0].regions[0].kind': expected host or cuda" },
	{ "bad seconds", "seconds: 0.5", "seconds: soon", 25,
	  "key 'writers[0].seconds': expected a number of seconds, found 'soon'" },
	{ "ranges that stop short of the size", "size: 6291456", "size: 8388608", 13,
	  "key 'shards[0].regions[0].ranges': they cover 6291456 of the region's 8388608 bytes" },
	{ "range past the end of the region", "size: 6291456", "size: 5000000", 19,
	  "key 'shards[0].regions[0].ranges[1].length': 2097152 does not fit the region's "
	  "5000000 bytes from offset 4194304" },
	{ "gap between ranges", "{offset: 4194304, length: 2097152",
	  "{offset: 8388608, length: 2097152", 19,
	  "key 'shards[0].regions[0].ranges[1].offset': 8388608 should be 4194304, where the "
	  "previous range ends" },
	{ "unaligned range", "alignment: 4194304", "alignment: 8388608", 19,
	  "key 'shards[0].regions[0].ranges[1].offset': 4194304 is not a multiple of the "
	  "alignment 8388608" },
	{ "alignment not a power of two", "alignment: 4194304", "alignment: 3000", 1,
	  "key 'alignment': a power of two, at least 4096" },
	{ "region of no bytes", "size: 6291456", "size: 0", 13,
	  "key 'shards[0].regions[0].size': a region has at least 1 byte" },
	{ "range by an unknown writer", "writer: \"n2\"}", "writer: \"n9\"}", 19,
	  "key 'shards[0].regions[0].ranges[1].writer': 'n9' is not one of the writers" },
	{ "writer byte count that does not add up", "bytes: 2097152", "bytes: 2097153", 26,
	  "key 'writers[1].bytes': 2097153, but its ranges hold 2097152 bytes" },
	{ "writer listed twice", "{node: \"n2\", node_id: 1", "{node: \"n2\", node_id: 0", 26,
	  "key 'writers[1]': node n2 (id 0) repeats writers[0], node n1 (id 0)" },
	{ "rank in two shards", "ranks: [1, 3]", "ranks: [1, 2]", 1,
	  "key 'shards': rank 2 is in two shards" },
	{ "rank count that does not add up", "ranks: 4\n", "ranks: 5\n", 1,
	  "key 'ranks': 5, but the shards hold 4" },
	{ "ranks out of order", "ranks: [0, 2]", "ranks: [2, 0]", 9,
	  "key 'shards[0].ranks': ranks are ascending, each once" },
	{ "shards out of order", "key: \"shard1\"", "key: \"shard\"", 20,
	  "key 'shards[1].key': 'shard' is not after 'shard0'" },
	{ "no data-parallel size", "dp_size: 2\n    ranks: [1, 3]", "dp_size: 0\n    ranks: [1, 3]",
	  20, "key 'shards[1].dp_size': at least 1" },
	{ "data file outside the checkpoint", "file: \"s0-model.weights\"",
	  "file: \"../model.weights\"", 13,
	  "key 'shards[0].regions[0].file': '../model.weights' is not a file name of the "
	  "checkpoint directory" },
	{ "data file named like the manifest", "file: \"s0-model.weights\"",
	  "file: \"manifest.yaml\"", 13, "is not a file name of the checkpoint directory" },
	{ "region name with a blank", "name: \"model.weights\"", "name: \"model weights\"", 13,
	  "key 'shards[0].regions[0].name': 1 to 63 printable characters without blanks or '/'" },
	{ "step that means no step", "step: 7", "step: 18446744073709551615", 3,
	  "key 'step': expected a whole number from 0 to 18446744073709551614" },
	{ "string longer than its field", "name: \"model.weights\"",
	  "name: \"a-region-name-that-is-much-longer-than-the-sixty-three-bytes-allowed\"", 13,
	  "key 'shards[0].regions[0].name': longer than 63 bytes" },
	{ "malformed YAML", "ranks: [0, 2]", "ranks: [0, 2", 12, "malformed YAML" },
	{ "second document", "seconds: 0.25}\n", "seconds: 0.25}\n---\nformat: 1\n", 28,
	  "a second YAML document (a manifest holds one)" },
};

/* valid with the first occurrence of find replaced. */
static char *edited(const struct malformed *c)
{
	const char *at = strstr(valid, c->find);
	if (!at)
		fail_msg("case '%s': '%s' is not in the valid manifest", c->what, c->find);
	size_t before = (size_t)(at - valid), len = strlen(valid) + strlen(c->replace) + 1;
	char *text = malloc(len);
	assert_non_null(text);
	snprintf(text, len, "%.*s%s%s", (int)before, valid, c->replace, at + strlen(c->find));
	return text;
}

static void test_every_malformed_manifest_is_rejected_with_line_and_key(void **state)
{
	char where[64];
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct malformed *c = &cases[i];
		struct manifest m;
		char *text = edited(c);
		int rc = decode(text, &m);
		free(text);
		if (rc != -EINVAL)
			fail_msg("case '%s': expected -EINVAL, got %d (%s)", c->what, rc, err);
		snprintf(where, sizeof(where), "lcr: test.yaml:%u: ", c->line);
		if (strncmp(err, where, strlen(where)) != 0 || !strstr(err, c->message))
			fail_msg("case '%s': expected \"%s...%s\", got \"%s\"", c->what, where,
				 c->message, err);
		assert_int_equal(m.shard_count, 0);
		assert_null(m.shards);
	}
}

static void test_empty_and_scalar_manifests_are_rejected(void **state)
{
	struct manifest m;
	(void)state;
	assert_int_equal(decode("", &m), -EINVAL);
	assert_string_equal(err, "lcr: test.yaml: empty manifest");
	assert_int_equal(decode("just text\n", &m), -EINVAL);
	assert_string_equal(err, "lcr: test.yaml:1: key '(top level)': expected a mapping, "
			    "found a scalar");
	assert_int_equal(decode("- format: 1\n- job: 30\n", &m), -EINVAL);
	assert_string_equal(err, "lcr: test.yaml:1: key '(top level)': expected a mapping, "
			    "found a sequence");
}

static void test_reading_a_missing_file_names_it(void **state)
{
	struct manifest m;
	(void)state;
	assert_int_equal(manifest_read_file("/nonexistent/manifest.yaml", &m, err, sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, "lcr: /nonexistent/manifest.yaml: cannot read: No such file or "
			    "directory");
}

static void test_reading_a_file_names_it_in_errors(void **state)
{
	char path[] = "/tmp/lcr-manifest-XXXXXX";
	struct manifest m;
	(void)state;
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "format: 1\njob: x\n", 17), 17);
	close(fd);
	assert_int_equal(manifest_read_file(path, &m, err, sizeof(err)), -EINVAL);
	unlink(path);
	/* Keys are matched before values are read: the first missing one is reported. */
	char want[128];
	snprintf(want, sizeof(want), "lcr: %s:1: key 'step': missing", path);
	assert_string_equal(err, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_manifest_reads_as_written),
		cmocka_unit_test(test_encoded_manifest_decodes_to_the_same),
		cmocka_unit_test(test_encode_refuses_a_manifest_that_breaks_a_rule),
		cmocka_unit_test(test_every_malformed_manifest_is_rejected_with_line_and_key),
		cmocka_unit_test(test_empty_and_scalar_manifests_are_rejected),
		cmocka_unit_test(test_reading_a_missing_file_names_it),
		cmocka_unit_test(test_reading_a_file_names_it_in_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
