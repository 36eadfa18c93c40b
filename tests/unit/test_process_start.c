/* test_process_start.c: the one way LCR starts a program (common/process_start.c). A program
 * that cannot be executed, or a setup that fails, is an error of process_start with its
 * errno; the child keeps only its standard streams and the descriptors its plan names; a
 * bounded wait kills what overruns it; an exit status comes back as it was. A detached start
 * reports the program's pid while its intermediate process, in a new session, holds the
 * number until released; the program is not the caller's child; the prepare hook runs
 * before the descriptors are set, the setup hook after every other one is closed. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/syscall.h>
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

/* The parent process id of pid, from /proc/pid/stat. */
static pid_t parent_of(pid_t pid)
{
	char path[64], stat[512], *end;
	int fd, ppid = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	assert_true(n > 0);
	stat[n] = '\0';
	end = strrchr(stat, ')'); /* after the command's name: " S ppid ..." */
	assert_non_null(end);
	assert_int_equal(sscanf(end + 1, " %*c %d", &ppid), 1);
	return ppid;
}

/* `sh -c script` started detached, stdin from *feed (closing it lets the script end) and
 * stdout to *out. */
static void start_detached_shell(const char *script, struct process_detached *started, int *feed, int *out)
{
	static char *argv[] = { "sh", "-c", NULL, NULL };
	struct process_plan plan = PROCESS_PLAN_INIT;
	int in_pipe[2], out_pipe[2];

	argv[2] = (char *)script;
	assert_int_equal(pipe2(in_pipe, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out_pipe, O_CLOEXEC), 0);
	plan.path = "sh";
	plan.argv = argv;
	plan.stdin_fd = in_pipe[0];
	plan.stdout_fd = out_pipe[1];
	assert_int_equal(process_start_detached(&plan, 10000, started, why, sizeof(why)), 0);
	close(in_pipe[0]);
	close(out_pipe[1]);
	*feed = in_pipe[1];
	*out = out_pipe[0];
}

static void test_a_detached_start_reports_the_programs_pid_from_a_new_session(void **state)
{
	struct process_detached started;
	char line[32] = "";
	int feed, out;
	(void)state;
	start_detached_shell("echo $$; read line", &started, &feed, &out);
	assert_true(read(out, line, sizeof(line) - 1) > 0);
	assert_int_equal(atoi(line), started.pid); /* the pid reported is the program's */
	assert_int_equal(getsid(started.pid), started.intermediate);
	assert_int_not_equal(getsid(started.pid), getsid(0));
	/* Not the caller's child: the caller could never reap it. */
	assert_int_equal(waitpid(started.pid, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	assert_int_equal(process_detached_finish(&started, why, sizeof(why)), 0);
	close(feed);
	close(out);
}

static void test_the_intermediate_process_holds_the_number_until_released(void **state)
{
	struct process_detached started;
	char line[32] = "";
	int feed, out, intermediate_fd;
	pid_t intermediate;
	(void)state;
	start_detached_shell("echo started; read line", &started, &feed, &out);
	assert_true(read(out, line, sizeof(line) - 1) > 0); /* the program runs */
	intermediate = started.intermediate;
	intermediate_fd = (int)syscall(SYS_pidfd_open, intermediate, 0);
	assert_true(intermediate_fd >= 0);
	/* Still the program's parent, and it does not end by itself. */
	assert_int_equal(parent_of(started.pid), intermediate);
	struct pollfd ended = { .fd = intermediate_fd, .events = POLLIN };
	assert_int_equal(poll(&ended, 1, 200), 0);
	assert_int_equal(process_detached_finish(&started, why, sizeof(why)), 0);
	/* Released: it ended and was reaped; the program goes on without it. */
	assert_int_equal(waitpid(intermediate, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	assert_int_not_equal(parent_of(started.pid), intermediate);
	close(intermediate_fd);
	close(feed);
	close(out);
}

static void test_a_detached_program_that_cannot_be_executed_is_an_error_with_its_text(void **state)
{
	struct process_plan plan = PROCESS_PLAN_INIT;
	char *const argv[] = { "lcr-no-such-program", NULL };
	struct process_detached started;
	int rc;
	(void)state;
	plan.path = "/nonexistent/lcr-no-such-program";
	plan.argv = argv;
	/* The failure may come before the pid or after it: either way it is the start's. */
	rc = process_start_detached(&plan, 10000, &started, why, sizeof(why));
	if (rc == 0)
		rc = process_detached_finish(&started, why, sizeof(why));
	assert_int_equal(rc, -ENOENT);
	assert_non_null(strstr(why, "cannot execute the program"));
	assert_non_null(strstr(why, strerror(ENOENT)));
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* the intermediate was reaped */
	assert_int_equal(errno, ECHILD);
}

/* Opens a pipe's write end (setup_arg) as the program's stdout, as the helper opens its log. */
static int open_output(struct process_plan *plan, const char **what)
{
	const int *pipe_ends = plan->setup_arg;

	*what = "cannot open the output";
	plan->stdout_fd = fcntl(pipe_ends[1], F_DUPFD_CLOEXEC, 0);
	return plan->stdout_fd < 0 ? -1 : 0;
}

/* Fails unless every descriptor above the standard streams is closed but the report's (at
 * 16 or above), as the helper needs before it lowers RLIMIT_NOFILE. */
static int check_closed(void *arg, const char **what)
{
	(void)arg;
	*what = "a descriptor was still open";
	for (int fd = 3; fd < 16; fd++)
		if (fcntl(fd, F_GETFD) >= 0) {
			errno = EEXIST;
			return -1;
		}
	return 0;
}

static void test_the_prepare_hook_names_descriptors_and_setup_runs_after_the_closing(void **state)
{
	struct process_plan plan = PROCESS_PLAN_INIT;
	char *const argv[] = { "sh", "-c", "echo prepared", NULL };
	struct process_detached started;
	int output[2], leaked = open("/dev/null", O_RDONLY);
	char got[32] = "";
	(void)state;
	assert_true(leaked > 2 && leaked < 16); /* not close-on-exec: the closing must catch it */
	assert_int_equal(pipe2(output, O_CLOEXEC), 0);
	plan.path = "sh";
	plan.argv = argv;
	plan.prepare = open_output;
	plan.setup = check_closed;
	plan.setup_arg = output;
	assert_int_equal(process_start_detached(&plan, 10000, &started, why, sizeof(why)), 0);
	assert_int_equal(process_detached_finish(&started, why, sizeof(why)), 0);
	close(output[1]);
	assert_int_equal(read(output[0], got, sizeof(got) - 1), 9);
	assert_string_equal(got, "prepared\n");
	close(output[0]);
	close(leaked);
}

static int refuse_early(struct process_plan *plan, const char **what)
{
	(void)plan;
	*what = "cannot become the user";
	errno = EPERM;
	return -1;
}

static void test_a_failing_prepare_hook_is_an_error_with_what_failed(void **state)
{
	struct process_plan plan = PROCESS_PLAN_INIT;
	char *const argv[] = { "true", NULL };
	pid_t pid;
	(void)state;
	plan.path = "true";
	plan.argv = argv;
	plan.prepare = refuse_early;
	assert_int_equal(process_start(&plan, &pid, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "cannot become the user"));
}

/* A kept descriptor that is not open fails the start: the program must not get /dev/null
 * (or anything else) at the number its caller gives it a channel on. */
static void test_a_kept_descriptor_that_is_not_open_fails_the_start(void **state)
{
	struct process_plan plan = PROCESS_PLAN_INIT;
	char *const argv[] = { "true", NULL };
	const int closed = 900; /* high: process_start's own pipe does not take this number */
	pid_t pid = 0;
	(void)state;
	close(closed);
	plan.path = "true";
	plan.argv = argv;
	plan.keep[0] = (struct process_fd){ closed, 3 };
	plan.keep_count = 1;
	assert_int_equal(process_start(&plan, &pid, why, sizeof(why)), -EBADF);
	if (!strstr(why, "cannot move a kept descriptor"))
		fail_msg("unexpected report: %s", why);
	assert_int_equal(pid, 0);
}

/* The descriptors the program has after execve, as `sh` lists them ("0 1 2 3 "), less the
 * one that its listing of /proc/$$/fd opened and closed again. */
#define LIST_DESCRIPTORS "for f in /proc/$$/fd/*; do test -L \"$f\" && printf '%s ' \"${f##*/}\"; done; true"

static void assert_only_streams_and_the_kept_one(int out)
{
	char got[128] = "";
	ssize_t n, total = 0;

	while ((n = read(out, got + total, sizeof(got) - 1 - (size_t)total)) > 0)
		total += n;
	if (strcmp(got, "0 1 2 3 ") != 0)
		fail_msg("the program has descriptors %s instead of 0 1 2 3", got);
}

/* The report socket of a detached start (at 16 or above in the children) is gone after
 * execve: the program holds only its streams and what its plan keeps. */
static void test_a_detached_program_does_not_hold_the_report_socket(void **state)
{
	char *const argv[] = { "sh", "-c", LIST_DESCRIPTORS, NULL };
	struct process_plan plan = PROCESS_PLAN_INIT;
	struct process_detached started;
	int out[2], kept = open("/dev/null", O_RDONLY | O_CLOEXEC);
	(void)state;
	assert_true(kept >= 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	plan.path = "sh";
	plan.argv = argv;
	plan.stdout_fd = out[1];
	plan.keep[0] = (struct process_fd){ kept, 3 };
	plan.keep_count = 1;
	assert_int_equal(process_start_detached(&plan, 10000, &started, why, sizeof(why)), 0);
	assert_int_equal(process_detached_finish(&started, why, sizeof(why)), 0);
	close(out[1]);
	assert_only_streams_and_the_kept_one(out[0]);
	close(out[0]);
	close(kept);
}

/* A prepare hook that waits on a pipe nobody writes to (setup_arg): the program is never
 * executed. */
static int wait_for_ever(struct process_plan *plan, const char **what)
{
	const int *gate = plan->setup_arg;
	char byte;

	*what = "the gate was opened";
	errno = EIO;
	while (read(gate[0], &byte, 1) < 0 && errno == EINTR)
		;
	return -1;
}

/* A start whose deadline passes (here at once: the program is held in its prepare hook and
 * never executed) is -ETIMEDOUT, whether the start or its finish sees it, and leaves nothing
 * behind: the program and the intermediate process ended (the `life` pipe, which both hold,
 * reaches its end) and nothing left for the caller to reap. */
static void test_a_start_past_its_deadline_leaves_nothing_running(void **state)
{
	char *const argv[] = { "true", NULL };
	struct process_plan plan = PROCESS_PLAN_INIT;
	struct process_detached started;
	int gate[2], life[2], rc;
	char byte;
	(void)state;
	assert_int_equal(pipe2(gate, O_CLOEXEC), 0);
	assert_int_equal(pipe2(life, O_CLOEXEC), 0);
	plan.path = "true";
	plan.argv = argv;
	plan.prepare = wait_for_ever;
	plan.setup_arg = gate;
	rc = process_start_detached(&plan, 0, &started, why, sizeof(why));
	if (rc == 0)
		rc = process_detached_finish(&started, why, sizeof(why));
	assert_int_equal(rc, -ETIMEDOUT);
	close(life[1]);
	alarm(10); /* a program left running would hold `life` open for ever */
	assert_int_equal(read(life[0], &byte, 1), 0);
	alarm(0);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	close(life[0]);
	close(gate[0]);
	close(gate[1]);
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
		cmocka_unit_test(test_a_detached_start_reports_the_programs_pid_from_a_new_session),
		cmocka_unit_test(test_the_intermediate_process_holds_the_number_until_released),
		cmocka_unit_test(test_a_detached_program_that_cannot_be_executed_is_an_error_with_its_text),
		cmocka_unit_test(test_the_prepare_hook_names_descriptors_and_setup_runs_after_the_closing),
		cmocka_unit_test(test_a_failing_prepare_hook_is_an_error_with_what_failed),
		cmocka_unit_test(test_a_kept_descriptor_that_is_not_open_fails_the_start),
		cmocka_unit_test(test_a_detached_program_does_not_hold_the_report_socket),
		cmocka_unit_test(test_a_start_past_its_deadline_leaves_nothing_running),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
