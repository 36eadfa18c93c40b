/* process_start.c: the one way LCR starts another program (see process_start.h), as a
 * child or detached as a grandchild. The children's part, from fork() to execve(), makes only
 * async-signal-safe system calls on memory prepared before the fork. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal/fd_close.h"
#include "internal/process_start.h"

extern char **environ;

#define LIFTED_FD_MIN 16 /* above every number a plan gives a descriptor */
#define INTERMEDIATE_EXIT_MS 2000 /* for a released intermediate child to end, then SIGKILL */

/* What a child writes in one write(2): a child that could not execute its program, its
 * errno and what failed; a detached start's intermediate child, error 0 and the pid. */
struct process_report {
	int error;
	pid_t pid;
	char what[120];
};

/* In a forked child: reports errno and what failed on report_fd, then _exit(127). */
static void __attribute__((noreturn)) report_failure(int report_fd, const char *what)
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
		report_failure(report, "cannot open /dev/null");
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
			report_failure(report, "cannot set up the descriptors");
	if (fd_close_from(lowest, report) < 0)
		report_failure(report, "cannot close inherited descriptors");
}

/* In a forked child: carries out the plan (on a copy of its own, which the prepare hook may
 * change) and executes it, reporting a failure on report_fd. */
static void __attribute__((noreturn)) exec_child(const struct process_plan *shared_plan, int report_fd)
{
	struct process_plan plan = *shared_plan;
	const char *what = "cannot prepare the program";
	int report = fcntl(report_fd, F_DUPFD_CLOEXEC, LIFTED_FD_MIN);

	if (report < 0)
		report_failure(report_fd, "cannot move the report descriptor");
	reset_signals();
	if (plan.new_session && setsid() < 0)
		report_failure(report, "setsid");
	if (plan.new_group && setpgid(0, 0) < 0)
		report_failure(report, "setpgid");
	if (plan.prepare && plan.prepare(&plan, &what) < 0)
		report_failure(report, what);
	set_descriptors(&plan, report);
	if (plan.dir && chdir(plan.dir) < 0)
		report_failure(report, "chdir");
	if (plan.setup && plan.setup(plan.setup_arg, &what) < 0)
		report_failure(report, what);
	if (strchr(plan.path, '/'))
		execve(plan.path, plan.argv, plan.envp ? plan.envp : environ);
	else
		execvpe(plan.path, plan.argv, plan.envp ? plan.envp : environ);
	report_failure(report, "cannot execute the program");
}

/* Reads one report within timeout_ms (-1: for ever): 1 with it, 0 when every writer has
 * closed the pipe or socket (the program was executed), -ETIMEDOUT, -EPROTO or -errno. */
static int read_report(int report_fd, int timeout_ms, struct process_report *report)
{
	struct pollfd p = { .fd = report_fd, .events = POLLIN };
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
		n = read(report_fd, report, sizeof(*report));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(*report))
		return -EPROTO;
	report->what[sizeof(report->what) - 1] = '\0';
	return 1;
}

/* A failure report as -errno, with why ("what: strerror"). */
static int describe_failure(const struct process_report *report, char *why, size_t whylen)
{
	snprintf(why, whylen, "%s: %s", report->what, strerror(report->error));
	return report->error > 0 ? -report->error : -EIO;
}

/* The outcome of a report read: 0 (executed), or -errno with why. */
static int report_outcome(int rc, const struct process_report *report, char *why, size_t whylen)
{
	if (rc > 0)
		return describe_failure(report, why, whylen);
	if (rc == -EPROTO)
		snprintf(why, whylen, "the child's report was cut short");
	return rc;
}

int process_start(const struct process_plan *plan, pid_t *pid, char *why, size_t whylen)
{
	struct process_report failure;
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
		exec_child(plan, report[1]);
	close(report[1]);
	rc = read_report(report[0], -1, &failure);
	rc = report_outcome(rc, &failure, why, whylen);
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

/* The time left until deadline_ms (-1: none) for poll(): -1, or 0 or more. */
static int ms_until(long long deadline_ms)
{
	int64_t left;

	if (deadline_ms < 0)
		return -1;
	left = deadline_ms - now_ms();
	return left > 0 ? (int)left : 0;
}

/* The intermediate child of a detached start: a new session, the program as its child, its
 * pid reported, then a wait until the caller releases it (or is gone) before it exits: until
 * then the program's number cannot name another process. */
static void __attribute__((noreturn)) run_intermediate(const struct process_plan *plan, int caller_end,
							 int report_fd)
{
	struct process_report started = { .error = 0 };
	char release;

	close(caller_end);
	reset_signals();
	if (setsid() < 0)
		report_failure(report_fd, "setsid");
	started.pid = fork();
	if (started.pid < 0)
		report_failure(report_fd, "cannot fork the program");
	if (started.pid == 0)
		exec_child(plan, report_fd);
	if (write(report_fd, &started, sizeof(started)) != (ssize_t)sizeof(started))
		_exit(1);
	while (read(report_fd, &release, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

/* Lets the intermediate child end and reaps it (it may have been reaped by someone else,
 * such as slurmstepd). */
static void release_intermediate(struct process_detached *started)
{
	shutdown(started->report_fd, SHUT_WR);
	process_wait(started->intermediate, INTERMEDIATE_EXIT_MS, false, NULL);
	started->intermediate = -1;
}

int process_start_detached(const struct process_plan *plan, int timeout_ms, struct process_detached *started,
			   char *why, size_t whylen)
{
	struct process_report report;
	int pair[2], rc;

	snprintf(why, whylen, "%s", "");
	*started = (struct process_detached){ .pid = -1, .intermediate = -1, .report_fd = -1,
					      .deadline_ms = timeout_ms < 0 ? -1 : now_ms() + timeout_ms };
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
		rc = -errno;
		snprintf(why, whylen, "cannot make a socket pair: %s", strerror(-rc));
		return rc;
	}
	started->intermediate = fork();
	if (started->intermediate < 0) {
		rc = -errno;
		close(pair[0]);
		close(pair[1]);
		snprintf(why, whylen, "cannot fork: %s", strerror(-rc));
		return rc;
	}
	if (started->intermediate == 0)
		run_intermediate(plan, pair[0], pair[1]);
	close(pair[1]);
	started->report_fd = pair[0];
	rc = read_report(started->report_fd, ms_until(started->deadline_ms), &report);
	if (rc > 0 && report.error == 0 && report.pid > 0) {
		started->pid = report.pid;
		return 0;
	}
	rc = report_outcome(rc, &report, why, whylen);
	if (rc == 0) {
		rc = -ECHILD;
		snprintf(why, whylen, "the intermediate process ended before it started the program");
	} else if (rc == -ETIMEDOUT) {
		snprintf(why, whylen, "the intermediate process did not start the program in time");
	}
	release_intermediate(started);
	close(started->report_fd);
	started->report_fd = -1;
	return rc;
}

int process_detached_finish(struct process_detached *started, char *why, size_t whylen)
{
	struct process_report report;
	int rc;

	release_intermediate(started);
	rc = read_report(started->report_fd, ms_until(started->deadline_ms), &report);
	rc = report_outcome(rc, &report, why, whylen);
	if (rc == -ETIMEDOUT)
		snprintf(why, whylen, "the program was not executed in time");
	close(started->report_fd);
	started->report_fd = -1;
	return rc;
}
