/* test_outcome_file.c: the outcome file's I/O as another user on a shared checkpoint root
 * could abuse it. The directory is opened as lcrd opens it (ckpt_dir_open: level by level,
 * internal/trusted_path.h): a level another user owns is refused, naming it, and nothing
 * is created below it. The writer never follows a file planted at the temporary name it
 * used to use (path.tmp.<pid>), replaces a link planted at the outcome's name instead of
 * writing through it, leaves the outcome readable by its owner only, and no temporary file
 * behind; the reader refuses a symbolic link, a file another user owns, and what is not a
 * regular file (a FIFO would hang `lcrctl wait`) instead of blocking on it, and a message
 * with a control character, which the writer never writes and `lcrctl wait` would print to
 * a terminal (found by tests/fuzz/fuzz_outcome_file). The cases that give a file to another
 * user need root (CI is root). */
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

#include "loop/ckpt_dir.h"
#include "loop/outcome_file.h"

#define OTHER_UID 65534 /* nobody: the other user of these tests */

static const struct lcr_path_list no_roots;
static char dir[64], path[128], err[8192];
static int dir_fd = -1;

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/lcr-outcome-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/outcome.7.0", dir);
	chmod(dir, 0700);
	dir_fd = ckpt_dir_open(dir, &no_roots, TRUSTED_OPEN_EXISTING, "checkpoint directory", err,
			       sizeof(err));
	if (dir_fd < 0)
		fail_msg("%s", err);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	close(dir_fd);
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
	if (outcome_file_write(dir_fd, dir, &record, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	if (outcome_file_read(dir_fd, dir, 7, 0, geteuid(), &r, err, sizeof(err)) < 0)
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
	if (outcome_file_write(dir_fd, dir, &record, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	f = fopen(victim, "r");
	assert_non_null(f);
	assert_non_null(fgets(text, sizeof(text), f));
	fclose(f);
	assert_string_equal(text, "precious\n");
	if (outcome_file_read(dir_fd, dir, 7, 0, geteuid(), &r, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_string_equal(r.message, record.message);
}

static void test_reader_refuses_a_fifo_instead_of_hanging(void **state)
{
	struct outcome_record r;
	(void)state;
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(5); /* a reader that blocks on the FIFO fails the test instead of hanging it */
	int rc = outcome_file_read(dir_fd, dir, 7, 0, geteuid(), &r, err, sizeof(err));
	alarm(0);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
}

/* A valid outcome of job 7 step 0 that another user would like read, at file. */
static void write_planted_outcome(const char *file)
{
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fputs("version: 1\njob: 7\nstep: 0\nstate: finished\nstatus: 0\nrank: none\n"
	      "generation: 4\nfailures_recovered: 9\nranks: 4\nbatch_host_died: none\n"
	      "message: \"planted\"\n", f);
	fclose(f);
}

static void test_a_link_planted_at_the_outcome_is_neither_read_nor_written_through(void **state)
{
	char victim[160], text[64] = "";
	struct outcome_record r;
	(void)state;
	snprintf(victim, sizeof(victim), "%s/victims-file", dir);
	write_planted_outcome(victim);
	assert_int_equal(symlink(victim, path), 0);
	assert_int_equal(outcome_file_read(dir_fd, dir, 7, 0, geteuid(), &r, err, sizeof(err)),
			 -EINVAL);
	if (!strstr(err, "outcome.7.0: it is a symbolic link"))
		fail_msg("unexpected error: %s", err);
	if (outcome_file_write(dir_fd, dir, &record, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	FILE *f = fopen(victim, "r");
	assert_non_null(f);
	assert_non_null(fgets(text, sizeof(text), f));
	fclose(f);
	assert_string_equal(text, "version: 1\n");
	if (outcome_file_read(dir_fd, dir, 7, 0, geteuid(), &r, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_string_equal(r.message, record.message);
}

static void test_an_outcome_another_user_owns_is_not_read(void **state)
{
	struct outcome_record r;
	char want[64];
	(void)state;
	if (geteuid() != 0)
		skip();
	write_planted_outcome(path);
	assert_int_equal(chown(path, OTHER_UID, OTHER_UID), 0);
	assert_int_equal(outcome_file_read(dir_fd, dir, 7, 0, geteuid(), &r, err, sizeof(err)),
			 -EINVAL);
	snprintf(want, sizeof(want), "owned by uid %d, not by you", OTHER_UID);
	if (!strstr(err, want))
		fail_msg("unexpected error: %s", err);
}

static void test_a_directory_level_another_user_owns_is_refused(void **state)
{
	char theirs[128], job_dir[160], want[224];
	struct stat st;
	(void)state;
	if (geteuid() != 0)
		skip();
	snprintf(theirs, sizeof(theirs), "%s/theirs", dir);
	snprintf(job_dir, sizeof(job_dir), "%s/7", theirs);
	assert_int_equal(mkdir(theirs, 0755), 0);
	assert_int_equal(chown(theirs, OTHER_UID, OTHER_UID), 0);
	int fd = ckpt_dir_open(job_dir, &no_roots, TRUSTED_CREATE_MISSING, "checkpoint directory",
			       err, sizeof(err));
	if (fd >= 0)
		close(fd);
	assert_int_equal(fd, -EPERM);
	snprintf(want, sizeof(want), "%s is owned by uid %d, neither you", theirs, OTHER_UID);
	if (!strstr(err, want))
		fail_msg("unexpected error: %s", err);
	assert_int_equal(stat(job_dir, &st), -1);
	assert_int_equal(errno, ENOENT);
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
		cmocka_unit_test_setup_teardown(
			test_a_link_planted_at_the_outcome_is_neither_read_nor_written_through, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_an_outcome_another_user_owns_is_not_read, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_directory_level_another_user_owns_is_refused,
						setup, teardown),
		cmocka_unit_test(test_parser_refuses_a_control_character_in_the_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
