/* test_helper_environment.c: what of the job's environment and limits lcrd gets
 * (plugin/helper_environment.c) and how the replacement launcher gets the rest back
 * (helper/loop/job_env.c). lcrd's own environment is allow-listed (no LD_PRELOAD, no
 * CUDA_INJECTION64_PATH, no variable it does not read), the whole environment goes over as
 * a sealed memfd that reads back entry for entry, and the tasks' propagated soft limits
 * (SLURM_RLIMIT_*) are parsed and set, never above the hard limit. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "helper_launch.h"
#include "loop/job_env.h"

static char *job_environment[] = {
	"PATH=/usr/bin:/bin",
	"HOME=/home/alice",
	"LD_PRELOAD=/home/alice/evil.so",
	"LD_LIBRARY_PATH=/home/alice/lib",
	"GCONV_PATH=/home/alice/gconv",
	"CUDA_INJECTION64_PATH=/home/alice/inject.so",
	"CUDA_VISIBLE_DEVICES=0,1",
	"SLURM_JOB_ID=42",
	"SLURM_RLIMIT_NOFILE=U100",
	"SLURM_RLIMIT_CORE=0",
	"SLURM_RLIMIT_STACK=notanumber",
	"LCR_RENDEZVOUS_TOKEN=abc",
	"PMIX_RANK=3",
	"PYTHONPATH=/home/alice/py",
	"LC_ALL=C.UTF-8",
	"PATHX=/not/path",
	NULL,
};

static bool contains(char **env, const char *entry)
{
	for (size_t i = 0; env[i]; i++)
		if (strcmp(env[i], entry) == 0)
			return true;
	return false;
}

static const char *const allowed[] = {
	"PATH=/usr/bin:/bin", "HOME=/home/alice", "CUDA_VISIBLE_DEVICES=0,1", "SLURM_JOB_ID=42",
	"SLURM_RLIMIT_NOFILE=U100", "SLURM_RLIMIT_CORE=0", "SLURM_RLIMIT_STACK=notanumber",
	"LCR_RENDEZVOUS_TOKEN=abc", "PMIX_RANK=3", "LC_ALL=C.UTF-8", NULL,
};

static void test_lcrd_gets_only_the_allowed_variables(void **state)
{
	char **filtered = helper_environment_filter(job_environment);
	size_t count = 0;
	(void)state;

	assert_non_null(filtered);
	for (size_t i = 0; allowed[i]; i++)
		if (!contains(filtered, allowed[i]))
			fail_msg("lcrd lacks %s", allowed[i]);
	while (filtered[count])
		count++;
	assert_int_equal(count, 10);
	assert_false(contains(filtered, "LD_PRELOAD=/home/alice/evil.so"));
	assert_false(contains(filtered, "CUDA_INJECTION64_PATH=/home/alice/inject.so"));
	assert_false(contains(filtered, "PATHX=/not/path"));
	free(filtered);
	assert_false(helper_environment_allows("LD_AUDIT=/x.so"));
	assert_false(helper_environment_allows("PATH"));
}

static void test_the_whole_environment_reads_back_from_a_sealed_memfd(void **state)
{
	int fd = helper_environment_memfd(job_environment), seals;
	char **back;
	size_t count = 0;
	(void)state;

	assert_true(fd >= 0);
	seals = fcntl(fd, F_GET_SEALS);
	assert_true((seals & (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL)) ==
		    (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL));
	assert_int_equal(write(fd, "X=1", 4), -1);
	for (int round = 0; round < 2; round++) {
		back = job_env_read(fd);
		assert_non_null(back);
		for (count = 0; back[count]; count++)
			assert_string_equal(back[count], job_environment[count]);
		assert_null(job_environment[count]);
		job_env_free(back);
	}
	close(fd);
}

static void test_propagated_limits_are_parsed(void **state)
{
	struct helper_rlimit limits[HELPER_RLIMIT_MAX];
	int count = helper_environment_rlimits(job_environment, limits, HELPER_RLIMIT_MAX);
	(void)state;

	assert_int_equal(count, 2);
	assert_int_equal(limits[0].resource, RLIMIT_NOFILE);
	assert_int_equal(limits[0].soft, 100);
	assert_int_equal(limits[1].resource, RLIMIT_CORE);
	assert_int_equal(limits[1].soft, 0);
}

/* In a child: the soft limits are set, a hard limit is never raised nor exceeded. */
static void test_limits_are_set_below_the_hard_limit(void **state)
{
	int status = 0;
	pid_t pid = fork();
	(void)state;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit hard = { .rlim_cur = 200, .rlim_max = 200 }, now;
		struct helper_rlimit limits[] = { { RLIMIT_NOFILE, 100 }, { RLIMIT_CORE, 0 }, { RLIMIT_FSIZE, 1u << 30 } };

		if (setrlimit(RLIMIT_FSIZE, &(struct rlimit){ 4096, 4096 }) < 0 || setrlimit(RLIMIT_NOFILE, &hard) < 0 ||
		    helper_apply_rlimits(limits, 3) < 0)
			_exit(2);
		if (getrlimit(RLIMIT_NOFILE, &now) < 0 || now.rlim_cur != 100 || now.rlim_max != 200)
			_exit(3);
		if (getrlimit(RLIMIT_CORE, &now) < 0 || now.rlim_cur != 0)
			_exit(4);
		if (getrlimit(RLIMIT_FSIZE, &now) < 0 || now.rlim_cur != 4096 || now.rlim_max != 4096)
			_exit(5);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lcrd_gets_only_the_allowed_variables),
		cmocka_unit_test(test_the_whole_environment_reads_back_from_a_sealed_memfd),
		cmocka_unit_test(test_propagated_limits_are_parsed),
		cmocka_unit_test(test_limits_are_set_below_the_hard_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
