/* test_fd_close.c: closing inherited descriptors before execve (common/fd_close.c). Every
 * descriptor from the lowest number up is closed but the one kept, also where close_range(2)
 * fails: a seccomp filter makes it fail with ENOSYS, as on a kernel before 5.9, and the
 * descriptors must still be closed (an unchecked close_range left them all open). Each case
 * runs in a child, so the filter and the closed descriptors do not reach the test runner. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal/fd_close.h"

#define FIRST_FD 40
#define LAST_FD 60
#define LOWEST 45
#define KEPT 50

/* Makes close_range(2) fail with ENOSYS in this process. */
static int refuse_close_range(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_close_range, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog program = { .len = sizeof(filter) / sizeof(filter[0]), .filter = filter };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program);
}

static int open_descriptors(void)
{
	int null_fd = open("/dev/null", O_RDONLY);

	for (int fd = FIRST_FD; fd <= LAST_FD; fd++)
		if (null_fd < 0 || dup2(null_fd, fd) != fd)
			return -1;
	return 0;
}

/* Exit status of the child: 0 when exactly the right descriptors were closed. */
static int close_and_check(int (*closer)(int, int), int without_close_range)
{
	if (open_descriptors() < 0)
		return 2;
	if (without_close_range &&
	    (refuse_close_range() < 0 || syscall(SYS_close_range, LOWEST, ~0U, 0) == 0 || errno != ENOSYS))
		return 3;
	if (closer(LOWEST, KEPT) < 0)
		return 4;
	for (int fd = FIRST_FD; fd <= LAST_FD; fd++) {
		bool open_now = fcntl(fd, F_GETFD) >= 0;

		if (open_now != (fd < LOWEST || fd == KEPT))
			return 10 + fd - FIRST_FD;
	}
	return 0;
}

static void run_in_child(int (*closer)(int, int), int without_close_range)
{
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(close_and_check(closer, without_close_range));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) >= 10)
		fail_msg("descriptor %d is %s", FIRST_FD + WEXITSTATUS(status) - 10,
			 FIRST_FD + WEXITSTATUS(status) - 10 < LOWEST ? "closed, below the lowest" : "in the wrong state");
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_closes_all_from_lowest_but_the_kept_one(void **state)
{
	(void)state;
	run_in_child(fd_close_from, 0);
}

static void test_closes_them_when_close_range_fails(void **state)
{
	(void)state;
	run_in_child(fd_close_from, 1);
}

static void test_listing_fallback_closes_the_same(void **state)
{
	(void)state;
	run_in_child(fd_close_from_listing, 0);
}

static int close_all_from(int lowest, int keep)
{
	(void)keep;
	return fd_close_from(lowest, -1);
}

static void test_nothing_kept_closes_every_one_from_lowest(void **state)
{
	int status = 0;
	pid_t pid;
	(void)state;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (open_descriptors() < 0 || refuse_close_range() < 0 || close_all_from(LOWEST, KEPT) < 0)
			_exit(2);
		for (int fd = LOWEST; fd <= LAST_FD; fd++)
			if (fcntl(fd, F_GETFD) >= 0)
				_exit(3);
		_exit(fcntl(LOWEST - 1, F_GETFD) >= 0 ? 0 : 4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_closes_all_from_lowest_but_the_kept_one),
		cmocka_unit_test(test_closes_them_when_close_range_fails),
		cmocka_unit_test(test_listing_fallback_closes_the_same),
		cmocka_unit_test(test_nothing_kept_closes_every_one_from_lowest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
