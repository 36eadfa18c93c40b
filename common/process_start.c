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
#define INTERMEDIATE_EXIT_MS 2000 /* the longest wait for an intermediate child to end, then SIGKILL */

/* What a child writes in one write(2): a child that could not execute its program, its
 * errno and what failed; a detached start's intermediate child, error 0 and the pid. */
struct process_report {
	int error;
	pid_t pid;
	char what[120];
};

/* A failure report: errno and what failed (async-signal-safe). */
static struct process_report failure_report(const char *what)
{
	struct process_report report = { .error = errno };
	size_t n = 0;

	while (what[n] && n < sizeof(report.what) - 1) {
		report.what[n] = what[n];
		n++;
	}
	return report;
}

/* In a forked child: reports errno and what failed on report_fd, then _exit(127). */
static void __attribute__((noreturn)) report_failure(int report_fd, const char *what)
{
	struct process_report report = failure_report(what);

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

/* A copy of fd above every target number (close-on-exec), or -1 with errno set. */
static int lift(int fd)
{
	return fcntl(fd, F_DUPFD_CLOEXEC, LIFTED_FD_MIN);
}

/* A standard stream's lifted copy: of /dev/null for -1 and for a descriptor that is not open
 * (slurmstepd may run with its standard streams closed). */
static int lift_stream(int fd, int null_fd)
{
	int copy = fd >= 0 ? lift(fd) : -1;

	if (copy < 0 && (fd < 0 || errno == EBADF))
		copy = lift(null_fd);
	return copy;
}

/* Standard streams and kept descriptors at their numbers; every other one closed but the
 * report's. A kept descriptor that is not open is a failure: the program would get another
 * file at its number. */
static void set_descriptors(const struct process_plan *plan, int report)
{
	int sources[3 + PROCESS_KEEP_MAX], targets[3 + PROCESS_KEEP_MAX], count = 0, lowest = 3;
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	const int streams[3] = { plan->stdin_fd, plan->stdout_fd, plan->stderr_fd };

	if (null_fd < 0)
		report_failure(report, "cannot open /dev/null");
	for (int i = 0; i < 3; i++) {
		sources[count] = lift_stream(streams[i], null_fd);
		if (sources[count] < 0)
			report_failure(report, "cannot move a standard stream");
		targets[count++] = i;
	}
	for (int i = 0; i < plan->keep_count && i < PROCESS_KEEP_MAX; i++) {
		sources[count] = lift(plan->keep[i].fd);
		if (sources[count] < 0)
			report_failure(report, "cannot move a kept descriptor");
		targets[count++] = plan->keep[i].target;
		if (plan->keep[i].target >= lowest)
			lowest = plan->keep[i].target + 1;
	}
	for (int i = 0; i < count; i++)
		if (dup2(sources[i], targets[i]) < 0)
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

/* The intermediate child's wait for the caller's word: 1 when it released the child, 0 when
 * it closed its end (it gave up the start, or it is gone). */
static int wait_for_release(int report_fd)
{
	char release;
	ssize_t n;

	do
		n = read(report_fd, &release, 1);
	while (n < 0 && errno == EINTR);
	return n == 1;
}

/* In the intermediate child: ends its own child, the program, whose number only it knows
 * (it has not reaped it, so the number is still the program's), then itself. */
static void __attribute__((noreturn)) end_program_and_exit(pid_t program)
{
	kill(program, SIGKILL);
	while (waitpid(program, NULL, 0) < 0 && errno == EINTR)
		;
	_exit(1);
}

/* In the intermediate child: reports a failure of its own, then stays until the caller's
 * word, so that it never ends before the caller lets it. */
static void __attribute__((noreturn)) fail_intermediate(int report_fd, const char *what)
{
	struct process_report report = failure_report(what);

	send(report_fd, &report, sizeof(report), MSG_NOSIGNAL);
	wait_for_release(report_fd);
	_exit(127);
}

/* The intermediate child of a detached start: a new session, the program as its child, its
 * pid reported, then a wait for the caller's word before it exits: until then the program's
 * number cannot name another process. When the report cannot be sent, or the caller closes
 * its end without releasing it, it kills the program first: the caller never leaves a
 * program running whose pid it does not know. */
static void __attribute__((noreturn)) run_intermediate(const struct process_plan *plan, int caller_end,
							 int report_fd)
{
	struct process_report started = { .error = 0 };

	close(caller_end);
	reset_signals();
	if (setsid() < 0)
		fail_intermediate(report_fd, "setsid");
	started.pid = fork();
	if (started.pid < 0)
		fail_intermediate(report_fd, "cannot fork the program");
	if (started.pid == 0)
		exec_child(plan, report_fd);
	if (send(report_fd, &started, sizeof(started), MSG_NOSIGNAL) != (ssize_t)sizeof(started))
		end_program_and_exit(started.pid);
	if (!wait_for_release(report_fd))
		end_program_and_exit(started.pid);
	_exit(0);
}

/* Waits at most timeout_ms for the intermediate child to end, SIGKILLs it past that (through
 * its pidfd: never by number), and reaps it unless someone else (slurmstepd) did. */
static void reap_intermediate(struct process_detached *started, int timeout_ms)
{
	struct pollfd ended = { .fd = started->intermediate_pidfd, .events = POLLIN };
	siginfo_t info;
	int rc;

	do
		rc = poll(&ended, 1, timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc == 0)
		syscall(SYS_pidfd_send_signal, started->intermediate_pidfd, SIGKILL, NULL, 0);
	while (waitid((idtype_t)P_PIDFD, (id_t)started->intermediate_pidfd, &info, WEXITED) < 0 && errno == EINTR)
		;
	close(started->intermediate_pidfd);
	started->intermediate_pidfd = -1;
	started->intermediate = -1;
}

/* Lets the intermediate child end, within what is left of the start's deadline (at most
 * INTERMEDIATE_EXIT_MS), and reaps it. */
static void release_intermediate(struct process_detached *started)
{
	const char release = 'r';
	int left = ms_until(started->deadline_ms);

	send(started->report_fd, &release, 1, MSG_NOSIGNAL);
	reap_intermediate(started, left < 0 || left > INTERMEDIATE_EXIT_MS ? INTERMEDIATE_EXIT_MS : left);
}

/* Gives up a start that failed: closes the caller's end, so that the intermediate child kills
 * the program if it started it, and reaps it (a wait of at most INTERMEDIATE_EXIT_MS, past
 * the deadline if need be: the program must not be left running). */
static void abandon_intermediate(struct process_detached *started)
{
	close(started->report_fd);
	started->report_fd = -1;
	reap_intermediate(started, INTERMEDIATE_EXIT_MS);
}

/* Opens the intermediate child's pidfd. It cannot have ended yet (it waits for the caller's
 * word), so its number is still its own. Without one, the start is given up. */
static int open_intermediate_pidfd(struct process_detached *started, char *why, size_t whylen)
{
	int rc;

	started->intermediate_pidfd = (int)syscall(SYS_pidfd_open, started->intermediate, 0);
	if (started->intermediate_pidfd >= 0)
		return 0;
	rc = -errno;
	snprintf(why, whylen, "cannot open a pidfd of the intermediate process: %s", strerror(-rc));
	close(started->report_fd);
	started->report_fd = -1;
	while (waitpid(started->intermediate, NULL, 0) < 0 && errno == EINTR)
		;
	started->intermediate = -1;
	return rc;
}

/* Forks the intermediate child: 0, or -errno with why. */
static int fork_intermediate(const struct process_plan *plan, struct process_detached *started, char *why,
			     size_t whylen)
{
	int pair[2], rc;

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
	return open_intermediate_pidfd(started, why, whylen);
}

int process_start_detached(const struct process_plan *plan, int timeout_ms, struct process_detached *started,
			   char *why, size_t whylen)
{
	struct process_report report;
	int rc;

	snprintf(why, whylen, "%s", "");
	*started = (struct process_detached){ .pid = -1, .intermediate = -1, .intermediate_pidfd = -1,
					      .report_fd = -1,
					      .deadline_ms = timeout_ms < 0 ? -1 : now_ms() + timeout_ms };
	rc = fork_intermediate(plan, started, why, whylen);
	if (rc < 0)
		return rc;
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
	abandon_intermediate(started);
	return rc;
}

/* Opens the program's pidfd while the intermediate child still holds its number: -1 when it
 * cannot (the program is then left to the caller, which has its pid). */
static int open_program_pidfd(const struct process_detached *started)
{
	return (int)syscall(SYS_pidfd_open, started->pid, 0);
}

int process_detached_finish(struct process_detached *started, char *why, size_t whylen)
{
	struct process_report report;
	int program_pidfd = open_program_pidfd(started), rc;

	release_intermediate(started);
	rc = read_report(started->report_fd, ms_until(started->deadline_ms), &report);
	rc = report_outcome(rc, &report, why, whylen);
	if (rc == -ETIMEDOUT) {
		snprintf(why, whylen, "the program was not executed in time");
		if (program_pidfd >= 0)
			syscall(SYS_pidfd_send_signal, program_pidfd, SIGKILL, NULL, 0);
	}
	if (program_pidfd >= 0)
		close(program_pidfd);
	close(started->report_fd);
	started->report_fd = -1;
	return rc;
}
