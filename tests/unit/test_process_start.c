/* test_process_start.c: the one way LCR starts a program (lib/process_start.c). A program
 * that cannot be executed, or a setup that fails, is an error of process_start with its
 * errno; the child keeps only its standard streams and the descriptors its plan names; a
 * bounded wait kills what overruns it; an exit status comes back as it was. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal/process_start.h"

static char why[256];

/* Runs `sh -c script` with the plan given, waits, returns its wait status. */
static int run_shell(struct process_plan *plan, const char *script)
{
	char *const argv[] = { "sh", "-c", (char *)script, NULL };
	pid_t pid;
	int status = -1;

	plan->path = "sh";
	plan->argv = argv;
	assert_int_equal(process_start(plan, &pid, why, sizeof(why)), 0);
	assert_int_equal(process_wait(pid, 10000, false, &status), 0);
	return status;
}

static void test_a_program_that_cannot_be_executed_is_an_error_with_its_errno(void **state)
{
	struct process_plan plan = PROCESS_PLAN_INIT;
	char *const argv[] = { "lcr-no-such-program", NULL };
	pid_t pid = 0;
	(void)state;
	plan.path = "/nonexistent/lcr-no-such-program";
	plan.argv = argv;
	assert_int_equal(process_start(&plan, &pid, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "cannot execute the program"));
	assert_non_null(strstr(why, strerror(ENOENT)));
	plan.path = "lcr-no-such-program"; /* looked up in PATH */
	assert_int_equal(process_start(&plan, &pid, why, sizeof(why)), -ENOENT);
	assert_int_equal(pid, 0);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* the failed children were reaped */
	assert_int_equal(errno, ECHILD);
}

static int refuse(void *arg, const char **what)
{
	(void)arg;
	*what = "cannot become the user";
	errno = EPERM;
	return -1;
}

static void test_a_failing_setup_is_an_error_with_its_errno_and_what_failed(void **state)
{
	struct process_plan plan = PROCESS_PLAN_INIT;
	char *const argv[] = { "true", NULL };
	pid_t pid;
	(void)state;
	plan.path = "true";
	plan.argv = argv;
	plan.setup = refuse;
	assert_int_equal(process_start(&plan, &pid, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "cannot become the user"));
}

static void test_the_exit_status_comes_back(void **state)
{
	struct process_plan plan = PROCESS_PLAN_INIT;
	(void)state;
	int status = run_shell(&plan, "exit 7");
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 7);
}

static void test_only_the_streams_and_kept_descriptors_are_inherited(void **state)
{
	struct process_plan plan = PROCESS_PLAN_INIT;
	int kept = open("/dev/null", O_RDONLY), leaked = fcntl(kept, F_DUPFD, 40);
	char script[256];
	(void)state;
	assert_true(kept > 2 && leaked >= 40); /* not close-on-exec, not at a kept number */
	plan.keep[0] = (struct process_fd){ kept, 3 };
	plan.keep_count = 1;
	/* fd 3 is there, the leaked one is not, nor anything from 4 to 9. */
	snprintf(script, sizeof(script),
		 "test -e /proc/self/fd/3 || exit 1; test -e /proc/self/fd/%d && exit 2; "
		 "for n in 4 5 6 7 8 9; do test -e /proc/self/fd/$n && exit 3; done; exit 0", leaked);
	int status = run_shell(&plan, script);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(leaked);
	close(kept);
}

static void test_standard_output_goes_where_the_plan_says(void **state)
{
	struct process_plan plan = PROCESS_PLAN_INIT;
	int out[2];
	char got[16] = "";
	(void)state;
	assert_int_equal(pipe(out), 0);
	plan.stdout_fd = out[1];
	int status = run_shell(&plan, "echo hello; echo lost >&2");
	close(out[1]);
	assert_int_equal(read(out[0], got, sizeof(got) - 1), 6);
	assert_string_equal(got, "hello\n");
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(out[0]);
}

/* slurmstepd may run with its standard streams closed: a stream that is not open is
 * /dev/null for the child, and the program still runs. */
static void test_a_stream_that_is_not_open_becomes_dev_null(void **state)
{
	struct process_plan plan = PROCESS_PLAN_INIT;
	const int closed = 900; /* high: process_start's own pipe does not take this number */
	(void)state;
	close(closed);
	plan.stdout_fd = closed;
	plan.stderr_fd = closed;
	int status = run_shell(&plan, "test \"$(readlink /proc/$$/fd/1)\" = /dev/null && "
				      "test \"$(readlink /proc/$$/fd/2)\" = /dev/null");
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_signals_are_reset_to_their_defaults(void **state)
{
	struct process_plan plan = PROCESS_PLAN_INIT;
	sigset_t term, old;
	(void)state;
	/* Ignored and blocked signals survive execve: the child must not inherit them. */
	signal(SIGUSR1, SIG_IGN);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &old);
	int ignored = run_shell(&plan, "kill -USR1 $$; sleep 5");
	int blocked = run_shell(&plan, "kill -TERM $$; sleep 5");
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGUSR1, SIG_DFL);
	assert_true(WIFSIGNALED(ignored));
	assert_int_equal(WTERMSIG(ignored), SIGUSR1);
	assert_true(WIFSIGNALED(blocked));
	assert_int_equal(WTERMSIG(blocked), SIGTERM);
}

static void test_a_bounded_wait_kills_what_overruns_it(void **state)
{
	struct process_plan plan = PROCESS_PLAN_INIT;
	char *const argv[] = { "sleep", "30", NULL };
	pid_t pid;
	int status = 0;
	(void)state;
	plan.path = "sleep";
	plan.argv = argv;
	plan.new_group = true;
	assert_int_equal(process_start(&plan, &pid, why, sizeof(why)), 0);
	assert_int_equal(getpgid(pid), pid);
	assert_int_equal(process_wait(pid, 100, true, &status), -ETIMEDOUT);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_program_that_cannot_be_executed_is_an_error_with_its_errno),
		cmocka_unit_test(test_a_failing_setup_is_an_error_with_its_errno_and_what_failed),
		cmocka_unit_test(test_the_exit_status_comes_back),
		cmocka_unit_test(test_only_the_streams_and_kept_descriptors_are_inherited),
		cmocka_unit_test(test_standard_output_goes_where_the_plan_says),
		cmocka_unit_test(test_a_stream_that_is_not_open_becomes_dev_null),
		cmocka_unit_test(test_signals_are_reset_to_their_defaults),
		cmocka_unit_test(test_a_bounded_wait_kills_what_overruns_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
