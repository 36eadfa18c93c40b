/* test_helper_channel.c: slurmstepd's side of the channel to its helper (plugin/
 * helper_channel.c, helper_launch.c) against a helper that stops reading. Reports to a
 * stopped helper end within the bounded wait however many tasks there are (a blocking
 * channel held slurmstepd for ever once its queue was full), the stopped helper is killed
 * through its pidfd, nothing is ever signalled by number, a helper that reads gets every
 * report, and node names that would leave the runtime directory are refused. As root: a
 * helper that cannot be executed is an error that says why, after its log was created as
 * the job's user (0600), and a log path that is a symbolic link is refused. Each test
 * runs under alarm(), so a report that blocks fails the test instead of hanging it. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "helper_launch.h"
#include "internal/wire.h"

/* Far more tasks than the channel's queue holds (about 139 reports filled it). */
#define MANY_TASKS 2000
/* A test that blocks longer than this is killed by SIGALRM, and fails. */
#define HANG_SECONDS (HELPER_SEND_WAIT_MS / 1000 + 20)

static long milliseconds_now(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* A child that keeps its end of the channel open and never reads it: a stopped helper. */
static pid_t start_stopped_helper(int helper_end)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		(void)helper_end;
		raise(SIGSTOP);
		for (;;)
			pause();
	}
	return pid;
}

/* A child that reads `expected` reports from its end of the channel, exits 0 when all came. */
static pid_t start_reading_helper(int helper_end, int expected)
{
	static struct wire_msg msg;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		for (int got = 0; got < expected; got++)
			if (wire_recv_msg(helper_end, &msg, 10000) < 0 || msg.header.type != WIRE_TASK_EXITED)
				_exit(1);
		_exit(0);
	}
	return pid;
}

/* A handle as helper_start leaves it: the plugin's non-blocking end and the helper's pidfd. */
static void open_channel(struct helper_handle *helper, int *helper_end, pid_t (*start)(int, int), int expected)
{
	int pair[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
	memset(helper, 0, sizeof(*helper));
	helper->channel_fd = pair[0];
	assert_int_equal(helper_channel_make_nonblocking(pair[0]), 0);
	helper->pid = start(pair[1], expected);
	helper->pidfd = (int)syscall(SYS_pidfd_open, helper->pid, 0);
	assert_true(helper->pidfd >= 0);
	*helper_end = pair[1];
}

static pid_t stopped_helper(int helper_end, int expected)
{
	(void)expected;
	return start_stopped_helper(helper_end);
}

static void assert_killed(pid_t pid)
{
	int status = 0;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
}

static void test_reports_to_a_stopped_helper_end_within_the_bounded_wait(void **state)
{
	struct helper_handle helper;
	int helper_end, timed_out = 0, refused = 0, sent = 0;
	pid_t pid;
	long start;
	(void)state;

	open_channel(&helper, &helper_end, stopped_helper, 0);
	pid = helper.pid;
	alarm(HANG_SECONDS);
	start = milliseconds_now();
	for (uint32_t rank = 0; rank < MANY_TASKS; rank++) {
		int rc = helper_report_task_exited(&helper, rank, (pid_t)(1000 + rank), 0);

		sent += rc == 0;
		timed_out += rc == -ETIMEDOUT;
		refused += rc == -ENOTCONN;
	}
	assert_true(milliseconds_now() - start < HELPER_SEND_WAIT_MS + 2000);
	alarm(0);
	assert_int_equal(timed_out, 1);
	assert_int_equal(sent + timed_out + refused, MANY_TASKS);
	assert_true(sent > 0 && sent < MANY_TASKS);
	assert_int_equal(helper.channel_fd, -1);
	assert_killed(pid);
	helper_stop(&helper, 0.1);
	close(helper_end);
}

static void test_stop_kills_a_stopped_helper_through_its_pidfd(void **state)
{
	struct helper_handle helper;
	int helper_end;
	pid_t pid;
	long start;
	(void)state;

	open_channel(&helper, &helper_end, stopped_helper, 0);
	pid = helper.pid;
	alarm(HANG_SECONDS);
	/* Fill the queue as far as the bounded wait allows, without giving the helper up. */
	while (wire_send_task_exited(helper.channel_fd, 1, 2, 0) == 0)
		;
	start = milliseconds_now();
	helper_stop(&helper, 0.2);
	assert_true(milliseconds_now() - start < 3000);
	alarm(0);
	assert_killed(pid);
	assert_int_equal(helper.pid, -1);
	assert_int_equal(helper.pidfd, -1);
	assert_int_equal(helper.channel_fd, -1);
	close(helper_end);
}

/* Without a pidfd the helper's number may name another process by now: it is left alone. */
static void test_stop_never_signals_a_process_by_its_number(void **state)
{
	struct helper_handle helper = { .channel_fd = -1, .pidfd = -1 };
	pid_t bystander = fork();
	int status = 0;
	(void)state;

	assert_true(bystander >= 0);
	if (bystander == 0) {
		pause();
		_exit(0);
	}
	helper.pid = bystander;
	helper_stop(&helper, 0.1);
	assert_int_equal(waitpid(bystander, &status, WNOHANG), 0);
	kill(bystander, SIGTERM);
	assert_int_equal(waitpid(bystander, &status, 0), bystander);
	assert_int_equal(WTERMSIG(status), SIGTERM);
}

static pid_t reading_helper(int helper_end, int expected)
{
	return start_reading_helper(helper_end, expected);
}

static void test_a_helper_that_reads_gets_every_report(void **state)
{
	struct helper_handle helper;
	int helper_end, status = 0;
	pid_t pid;
	(void)state;

	open_channel(&helper, &helper_end, reading_helper, MANY_TASKS);
	pid = helper.pid;
	alarm(HANG_SECONDS);
	for (uint32_t rank = 0; rank < MANY_TASKS; rank++)
		assert_int_equal(helper_report_task_exited(&helper, rank, (pid_t)(1000 + rank), 0), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	alarm(0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	helper_stop(&helper, 0.1);
	close(helper_end);
}

static void assert_node_name_refused(const char *name, const char *why)
{
	char err[512];

	assert_int_equal(helper_check_node_name(name, err, sizeof(err)), -EINVAL);
	if (!strstr(err, why))
		fail_msg("node name refused without saying '%s': %s", why, err);
}

static void test_node_names_that_leave_the_runtime_directory_are_refused(void **state)
{
	char err[512], long_name[HELPER_NODE_NAME_MAX + 2];
	(void)state;

	assert_int_equal(helper_check_node_name("n1", err, sizeof(err)), 0);
	assert_int_equal(helper_check_node_name("gpu-017.rack3.example.org", err, sizeof(err)), 0);
	assert_node_name_refused("", "empty");
	assert_node_name_refused("../../etc", "'/'");
	assert_node_name_refused("..", "'..'");
	assert_node_name_refused("a..b", "'..'");
	assert_node_name_refused("n1\nlcr: forged line", "control character");
	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_node_name_refused(long_name, "too long");
}

/* helper_start refuses such a name before it forks anything. */
static void test_helper_start_refuses_a_bad_node_name(void **state)
{
	struct helper_identity id = { .uid = 65534, .gid = 65534, .node_name = "../../../tmp/planted",
				      .helper_path = "/nonexistent/lcrd" };
	struct helper_handle helper = { .pid = -1, .pidfd = -1, .channel_fd = -1, .user_dir = "/nonexistent" };
	char err[512] = "";
	(void)state;

	assert_int_equal(helper_start(&id, 1.0, &helper, err, sizeof(err)), -EINVAL);
	if (!strstr(err, "refusing node name"))
		fail_msg("unexpected error: %s", err);
	assert_int_equal(helper.pid, -1);
}

#define NOBODY 65534

/* helper_start of helper_path for uid NOBODY, its files in a fresh directory of NOBODY's:
 * the error, with the handle and the directory for the caller to check. */
static int start_as_nobody(const char *helper_path, const char *planted_link, struct helper_handle *helper,
			   char *err, size_t errlen)
{
	static char *environment[] = { "PATH=/usr/bin:/bin", NULL };
	struct helper_identity id = { .uid = NOBODY, .gid = NOBODY, .node_name = "n1", .ranks = "0",
				      .step_nodes = "n1", .job_nodes = "n1", .node_count = 1,
				      .helper_path = helper_path, .environment = environment };
	char log_path[sizeof(helper->user_dir) + 32];

	*helper = (struct helper_handle){ .pid = -1, .pidfd = -1, .channel_fd = -1 };
	snprintf(helper->user_dir, sizeof(helper->user_dir), "/tmp/lcr-test-helper-XXXXXX");
	assert_non_null(mkdtemp(helper->user_dir));
	assert_int_equal(chown(helper->user_dir, NOBODY, NOBODY), 0);
	snprintf(log_path, sizeof(log_path), "%s/0.0.n1.log", helper->user_dir);
	if (planted_link)
		assert_int_equal(symlink(planted_link, log_path), 0);
	return helper_start(&id, 5.0, helper, err, errlen);
}

static void remove_files(struct helper_handle *helper)
{
	char log_path[sizeof(helper->user_dir) + 32];

	snprintf(log_path, sizeof(log_path), "%s/0.0.n1.log", helper->user_dir);
	unlink(log_path);
	rmdir(helper->user_dir);
	if (helper->pidfd >= 0)
		close(helper->pidfd);
	if (helper->channel_fd >= 0)
		close(helper->channel_fd);
}

static void test_a_helper_that_cannot_be_executed_is_an_error_after_its_log_was_made_as_the_user(void **state)
{
	struct helper_handle helper;
	struct stat log;
	char err[512] = "", log_path[sizeof(helper.user_dir) + 32];
	(void)state;

	if (geteuid() != 0)
		skip();
	assert_int_equal(start_as_nobody("/nonexistent/lcrd", NULL, &helper, err, sizeof(err)), -ENOENT);
	if (!strstr(err, "lcr: cannot start helper /nonexistent/lcrd as uid 65534: cannot execute the program: ") ||
	    !strstr(err, strerror(ENOENT)))
		fail_msg("unexpected error: %s", err);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* nothing left to reap */
	snprintf(log_path, sizeof(log_path), "%s/0.0.n1.log", helper.user_dir);
	assert_int_equal(lstat(log_path, &log), 0);
	assert_int_equal(log.st_uid, NOBODY);
	assert_int_equal(log.st_mode & 07777, 0600);
	remove_files(&helper);
}

static void test_a_helper_log_that_is_a_symbolic_link_is_refused(void **state)
{
	struct helper_handle helper;
	char err[512] = "", planted_dir[] = "/tmp/lcr-test-planted-XXXXXX", target[sizeof(planted_dir) + 8];
	(void)state;

	if (geteuid() != 0)
		skip();
	assert_non_null(mkdtemp(planted_dir));
	snprintf(target, sizeof(target), "%s/target", planted_dir);
	assert_int_equal(start_as_nobody("/nonexistent/lcrd", target, &helper, err, sizeof(err)), -ELOOP);
	if (!strstr(err, "cannot create the helper's log"))
		fail_msg("unexpected error: %s", err);
	assert_int_equal(access(target, F_OK), -1);
	remove_files(&helper);
	assert_int_equal(rmdir(planted_dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reports_to_a_stopped_helper_end_within_the_bounded_wait),
		cmocka_unit_test(test_stop_kills_a_stopped_helper_through_its_pidfd),
		cmocka_unit_test(test_stop_never_signals_a_process_by_its_number),
		cmocka_unit_test(test_a_helper_that_reads_gets_every_report),
		cmocka_unit_test(test_node_names_that_leave_the_runtime_directory_are_refused),
		cmocka_unit_test(test_helper_start_refuses_a_bad_node_name),
		cmocka_unit_test(test_a_helper_that_cannot_be_executed_is_an_error_after_its_log_was_made_as_the_user),
		cmocka_unit_test(test_a_helper_log_that_is_a_symbolic_link_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
