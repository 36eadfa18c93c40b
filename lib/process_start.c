/* process_start.c: the one way LCR starts another program (see process_start.h). The
 * child's part, from fork() to execve(), makes only async-signal-safe system calls on memory
 * prepared before the fork. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal/fd_close.h"
#include "internal/process_start.h"

extern char **environ;

#define LIFTED_FD_MIN 16 /* above every number a plan gives a descriptor */

/* What a child that could not execute its program writes, in one write(2). */
struct process_report {
	int error;
	char what[120];
};

void process_report_failure(int report_fd, const char *what)
{
	struct process_report report = { .error = errno };
	size_t n = 0;

	while (what[n] && n < sizeof(report.what) - 1) {
		report.what[n] = what[n];
		n++;
	}
	if (write(report_fd, &report, sizeof(report)) < 0)
		_exit(126);
	_exit(127);
}

/* Every signal to its default action, none blocked. */
static void reset_signals(void)
{
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* A copy of fd above every target number (close-on-exec), or of /dev/null for -1 and for
 * a descriptor that is not open (slurmstepd may run with its standard streams closed). */
static int lift(int fd, int null_fd)
{
	int copy = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, LIFTED_FD_MIN) : -1;

	if (copy < 0 && (fd < 0 || errno == EBADF))
		copy = fcntl(null_fd, F_DUPFD_CLOEXEC, LIFTED_FD_MIN);
	return copy;
}

/* Standard streams and kept descriptors at their numbers; every other one closed but the
 * report's. */
static void set_descriptors(const struct process_plan *plan, int report)
{
	int sources[3 + PROCESS_KEEP_MAX], targets[3 + PROCESS_KEEP_MAX], count = 0, lowest = 3;
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	const int streams[3] = { plan->stdin_fd, plan->stdout_fd, plan->stderr_fd };

	if (null_fd < 0)
		process_report_failure(report, "cannot open /dev/null");
	for (int i = 0; i < 3; i++) {
		sources[count] = lift(streams[i], null_fd);
		targets[count++] = i;
	}
	for (int i = 0; i < plan->keep_count && i < PROCESS_KEEP_MAX; i++) {
		sources[count] = lift(plan->keep[i].fd, null_fd);
		targets[count++] = plan->keep[i].target;
		if (plan->keep[i].target >= lowest)
			lowest = plan->keep[i].target + 1;
	}
	for (int i = 0; i < count; i++)
		if (sources[i] < 0 || dup2(sources[i], targets[i]) < 0)
			process_report_failure(report, "cannot set up the descriptors");
	if (fd_close_from(lowest, report) < 0)
		process_report_failure(report, "cannot close inherited descriptors");
}

void process_exec_child(const struct process_plan *plan, int report_fd)
{
	const char *what = "cannot prepare the program";
	int report = fcntl(report_fd, F_DUPFD_CLOEXEC, LIFTED_FD_MIN);

	if (report < 0)
		process_report_failure(report_fd, "cannot move the report descriptor");
	reset_signals();
	if (plan->new_session && setsid() < 0)
		process_report_failure(report, "setsid");
	if (plan->new_group && setpgid(0, 0) < 0)
		process_report_failure(report, "setpgid");
	set_descriptors(plan, report);
	if (plan->dir && chdir(plan->dir) < 0)
		process_report_failure(report, "chdir");
	if (plan->setup && plan->setup(plan->setup_arg, &what) < 0)
		process_report_failure(report, what);
	if (strchr(plan->path, '/'))
		execve(plan->path, plan->argv, plan->envp ? plan->envp : environ);
	else
		execvpe(plan->path, plan->argv, plan->envp ? plan->envp : environ);
	process_report_failure(report, "cannot execute the program");
}

int process_read_report(int report_fd, int timeout_ms, char *why, size_t whylen)
{
	struct pollfd p = { .fd = report_fd, .events = POLLIN };
	struct process_report report;
	ssize_t n;
	int rc;

	do
		rc = poll(&p, 1, timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -errno;
	if (rc == 0)
		return -ETIMEDOUT;
	do
		n = read(report_fd, &report, sizeof(report));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(report)) {
		snprintf(why, whylen, "the child's report was cut short");
		return -EPROTO;
	}
	report.what[sizeof(report.what) - 1] = '\0';
	snprintf(why, whylen, "%s: %s", report.what, strerror(report.error));
	return report.error > 0 ? -report.error : -EIO;
}

int process_start(const struct process_plan *plan, pid_t *pid, char *why, size_t whylen)
{
	int report[2], rc;
	pid_t child;

	snprintf(why, whylen, "%s", "");
	if (pipe2(report, O_CLOEXEC) < 0) {
		rc = -errno;
		snprintf(why, whylen, "cannot make a pipe: %s", strerror(-rc));
		return rc;
	}
	child = fork();
	if (child < 0) {
		rc = -errno;
		close(report[0]);
		close(report[1]);
		snprintf(why, whylen, "cannot fork: %s", strerror(-rc));
		return rc;
	}
	if (child == 0)
		process_exec_child(plan, report[1]);
	close(report[1]);
	rc = process_read_report(report[0], -1, why, whylen);
	close(report[0]);
	if (rc < 0) {
		while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
			;
		return rc;
	}
	*pid = child;
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for pid to end within timeout_ms (-1: for ever): 1 when it has, 0 when not. */
static int wait_until_ended(pid_t pid, int timeout_ms)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), rc;
	int64_t deadline = now_ms() + timeout_ms;

	if (pidfd >= 0) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		do
			rc = poll(&p, 1, timeout_ms < 0 ? -1 : (int)(deadline - now_ms() > 0 ? deadline - now_ms() : 0));
		while (rc < 0 && errno == EINTR);
		close(pidfd);
		return rc != 0;
	}
	/* No pidfd (an old kernel): look every 10 ms. */
	for (;;) {
		siginfo_t info = { .si_pid = 0 };
		if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0 || info.si_pid == pid)
			return 1;
		if (timeout_ms >= 0 && now_ms() >= deadline)
			return 0;
		usleep(10 * 1000);
	}
}

int process_wait(pid_t pid, int timeout_ms, bool kill_group, int *status)
{
	int rc = 0;

	if (timeout_ms >= 0 && !wait_until_ended(pid, timeout_ms)) {
		kill(kill_group ? -pid : pid, SIGKILL);
		rc = -ETIMEDOUT;
	}
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return rc;
}
