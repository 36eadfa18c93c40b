/* test_outcome_file.c: the outcome file's I/O as another user on a shared checkpoint root
 * could abuse it. The writer never follows a file planted at the temporary name it used to
 * use (path.tmp.<pid>), leaves the outcome readable by its owner only, and no temporary
 * file behind; the reader refuses what is not a regular file (a FIFO would hang `lcrctl
 * wait`) instead of blocking on it, and a message with a control character, which the
 * writer never writes and `lcrctl wait` would print to a terminal (found by
 * tests/fuzz/fuzz_outcome_file). */
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

#include <cmocka.h>

#include "outcome_file.h"

static char dir[64], path[128], err[1024];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/lcr-outcome-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/outcome.7.0", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const struct outcome_record record = {
	.job = 7, .step = 0, .finished = true, .status = 0, .rank = OUTCOME_NO_RANK,
	.generation = 4, .failures_recovered = 1, .ranks = 4,
	.message = "job 7 step 0 finished: all 4 ranks exited 0 (1 recovered node failure)",
};

static void test_written_outcome_reads_back_owner_only_without_leftovers(void **state)
{
	struct outcome_record r;
	struct stat st;
	char cmd[160];
	(void)state;
	if (outcome_file_write(path, &record, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	if (outcome_file_read(path, &r, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_string_equal(r.message, record.message);
	assert_int_equal(r.failures_recovered, 1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(cmd, sizeof(cmd), "ls '%s' | grep -q tmp", dir);
	assert_int_not_equal(system(cmd), 0);
}

static void test_writer_does_not_follow_a_planted_temporary_name(void **state)
{
	char victim[160], planted[160], text[64] = "";
	struct outcome_record r;
	(void)state;
	snprintf(victim, sizeof(victim), "%s/victims-file", dir);
	FILE *f = fopen(victim, "w");
	assert_non_null(f);
	fputs("precious\n", f);
	fclose(f);
	snprintf(planted, sizeof(planted), "%s.tmp.%d", path, (int)getpid());
	assert_int_equal(symlink(victim, planted), 0);
	if (outcome_file_write(path, &record, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	f = fopen(victim, "r");
	assert_non_null(f);
	assert_non_null(fgets(text, sizeof(text), f));
	fclose(f);
	assert_string_equal(text, "precious\n");
	if (outcome_file_read(path, &r, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_string_equal(r.message, record.message);
}

static void test_reader_refuses_a_fifo_instead_of_hanging(void **state)
{
	struct outcome_record r;
	(void)state;
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(5); /* a reader that blocks on the FIFO fails the test instead of hanging it */
	int rc = outcome_file_read(path, &r, err, sizeof(err));
	alarm(0);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
}

/* An outcome file as the writer formats it, with `message` as the message's line. */
static void outcome_text_with_message(const char *message, char *text, size_t cap)
{
	snprintf(text, cap, "version: 1\njob: 7\nstep: 0\nstate: finished\nstatus: 0\n"
		 "rank: none\ngeneration: 4\nfailures_recovered: 1\nranks: 4\n"
		 "batch_host_died: none\nmessage: %s\n", message);
}

static void test_parser_refuses_a_control_character_in_the_message(void **state)
{
	const char *refused[] = { "\"exite\t 0\"", "\"\033]0;owned\007 done\"", "\"a\rb\"" };
	struct outcome_record r;
	char text[1024];
	(void)state;
	outcome_text_with_message("\"all 4 ranks exited 0 \\\"ok\\\"\"", text, sizeof(text));
	if (outcome_file_parse(text, &r, err, sizeof(err)) != 0)
		fail_msg("a valid outcome is refused: %s", err);
	assert_string_equal(r.message, "all 4 ranks exited 0 \"ok\"");
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		outcome_text_with_message(refused[i], text, sizeof(text));
		if (outcome_file_parse(text, &r, err, sizeof(err)) != -EINVAL)
			fail_msg("the message %s was accepted", refused[i]);
		assert_non_null(strstr(err, "message"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_written_outcome_reads_back_owner_only_without_leftovers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_does_not_follow_a_planted_temporary_name,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_refuses_a_fifo_instead_of_hanging, setup,
						teardown),
		cmocka_unit_test(test_parser_refuses_a_control_character_in_the_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
