/*
 * helper_launch.c: the helper's lifecycle as seen from slurmstepd (see helper_launch.h).
 *
 * Everything between fork() and execve() in the helper's process uses only system calls
 * and memory prepared beforehand: slurmstepd has threads, and a lock held by one of them at
 * fork time would never be released in the child.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helper_launch.h"
#include "internal/wire.h"

#define HELPER_OPTION_MAX 32 /* lcrd's own options, before "--" and the step's program */
#define HELPER_CHANNEL_FD 3

/* Everything the child needs, built before fork(). */
struct launch_plan {
	char **argv; /* NULL-terminated, each string allocated */
	char *const *envp;
	const char *helper_path;
	const char *log_path;
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	int group_count;
	int channel_fd;
	int report_fd;
};

static int ensure_root_dir(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "lcr: cannot create runtime directory %s: %s", path, strerror(errno));
		return -errno;
	}
	if (lstat(path, &st) < 0) {
		snprintf(err, errlen, "lcr: cannot stat runtime directory %s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		snprintf(err, errlen,
			 "lcr: runtime directory %s must be a directory owned by root and writable only by root",
			 path);
		return -EPERM;
	}
	return 0;
}

int helper_prepare_runtime_dir(const char *runtime_root, uid_t uid, gid_t gid, char *user_dir,
			       size_t user_dir_len, char *err, size_t errlen)
{
	struct stat st;
	int rc, fd = -1;

	rc = ensure_root_dir(runtime_root, err, errlen);
	if (rc < 0)
		return rc;
	if ((size_t)snprintf(user_dir, user_dir_len, "%s/%u", runtime_root, (unsigned)uid) >= user_dir_len) {
		snprintf(err, errlen, "lcr: runtime directory path %s is too long", runtime_root);
		return -ENAMETOOLONG;
	}
	if (mkdir(user_dir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "lcr: cannot create %s: %s", user_dir, strerror(errno));
		return rc;
	}
	fd = open(user_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "lcr: cannot open %s: %s", user_dir, strerror(errno));
		goto out;
	}
	if (st.st_uid != uid && st.st_uid != 0) {
		rc = -EPERM;
		snprintf(err, errlen, "lcr: %s belongs to uid %u, not to the job's user (uid %u)", user_dir,
			 (unsigned)st.st_uid, (unsigned)uid);
		goto out;
	}
	if (fchown(fd, uid, gid) < 0 || fchmod(fd, 0700) < 0) {
		rc = -errno;
		snprintf(err, errlen, "lcr: cannot give %s to uid %u: %s", user_dir, (unsigned)uid, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Async-signal-safe: report why the child could not become the helper, then exit. */
static void child_fail(int report_fd, const char *what)
{
	char digits[16];
	int error = errno, at = (int)sizeof(digits);

	digits[--at] = '\0';
	do {
		digits[--at] = (char)('0' + error % 10);
		error /= 10;
	} while (error && at > 0);
	if (write(report_fd, what, strlen(what)) < 0 || write(report_fd, ": errno ", 8) < 0 ||
	    write(report_fd, digits + at, strlen(digits + at)) < 0)
		_exit(126);
	_exit(127);
}

static void child_reset_signals(void)
{
	sigset_t none;
	int sig;

	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static void child_reset_oom_score(int report_fd)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, "0", 1) != 1)
		child_fail(report_fd, "cannot reset oom_score_adj");
	close(fd);
}

/*
 * Become the job's user for good. slurmstepd calls user_init with only its effective ids
 * dropped; the real and saved uid are still root's, so the child first takes root back,
 * then gives up every id and group at once.
 */
static int become_user(uid_t uid, gid_t gid, const gid_t *groups, int group_count, const char **what)
{
	*what = "setresuid root";
	if (geteuid() != 0 && setresuid(0, 0, 0) < 0)
		return -1;
	*what = "setgroups";
	if (setgroups((size_t)group_count, groups) < 0)
		return -1;
	*what = "setresgid";
	if (setresgid(gid, gid, gid) < 0)
		return -1;
	*what = "setresuid";
	if (setresuid(uid, uid, uid) < 0)
		return -1;
	*what = "root privileges could be regained";
	if (uid != 0 && setuid(0) == 0) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

static void child_drop_privileges(const struct launch_plan *plan)
{
	const char *what;

	if (become_user(plan->uid, plan->gid, plan->groups, plan->group_count, &what) < 0)
		child_fail(plan->report_fd, what);
}

/* The helper's process: becomes the user, keeps only its channel and log, runs lcrd. */
static void run_helper_child(const struct launch_plan *plan)
{
	int null_fd, log_fd;

	child_reset_signals();
	if (geteuid() != 0 && setresuid(0, 0, 0) < 0)
		child_fail(plan->report_fd, "setresuid root");
	child_reset_oom_score(plan->report_fd);
	child_drop_privileges(plan);
	log_fd = open(plan->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (log_fd < 0)
		child_fail(plan->report_fd, "cannot create the helper's log");
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0)
		child_fail(plan->report_fd, "cannot open /dev/null");
	if (dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0 ||
	    dup2(plan->channel_fd, HELPER_CHANNEL_FD) < 0)
		child_fail(plan->report_fd, "dup2");
	/* Keep the report pipe (close-on-exec) to say whether execve failed. */
	if (plan->report_fd > HELPER_CHANNEL_FD + 1)
		syscall(SYS_close_range, HELPER_CHANNEL_FD + 1, plan->report_fd - 1, 0);
	syscall(SYS_close_range, plan->report_fd + 1, ~0U, 0);
	if (chdir("/") < 0)
		child_fail(plan->report_fd, "chdir /");
	execve(plan->helper_path, plan->argv, plan->envp);
	child_fail(plan->report_fd, "cannot execute the helper");
}

/* First child: a new session, then the helper as a grandchild that slurmstepd never waits for. */
static void run_intermediate_child(const struct launch_plan *plan)
{
	pid_t helper_pid;

	setsid();
	helper_pid = fork();
	if (helper_pid < 0)
		child_fail(plan->report_fd, "fork");
	if (helper_pid == 0)
		run_helper_child(plan);
	if (write(plan->report_fd, &helper_pid, sizeof(helper_pid)) != sizeof(helper_pid))
		_exit(1);
	_exit(0);
}

static int format_arg(char **slot, const char *format, ...) __attribute__((format(printf, 2, 3)));
static int format_arg(char **slot, const char *format, ...)
{
	va_list args;
	int rc;

	va_start(args, format);
	rc = vasprintf(slot, format, args);
	va_end(args);
	return rc < 0 ? -ENOMEM : 0;
}

static void free_plan(struct launch_plan *plan)
{
	for (int i = 0; plan->argv && plan->argv[i]; i++)
		free(plan->argv[i]);
	free(plan->argv);
	plan->argv = NULL;
}

static int build_plan(const struct helper_identity *id, struct helper_handle *helper, struct launch_plan *plan)
{
	int n = 0, rc = 0, program_count = 0;

	memset(plan, 0, sizeof(*plan));
	while (id->program && id->program[program_count])
		program_count++;
	plan->argv = calloc(HELPER_OPTION_MAX + 1 + program_count + 1, sizeof(*plan->argv));
	if (!plan->argv)
		return -ENOMEM;
	rc |= format_arg(&plan->argv[n++], "%s", id->helper_path);
	rc |= format_arg(&plan->argv[n++], "--job-id=%u", id->job_id);
	rc |= format_arg(&plan->argv[n++], "--step-id=%u", id->step_id);
	rc |= format_arg(&plan->argv[n++], "--node-id=%u", id->node_id);
	rc |= format_arg(&plan->argv[n++], "--node-count=%u", id->node_count);
	rc |= format_arg(&plan->argv[n++], "--node-name=%s", id->node_name);
	rc |= format_arg(&plan->argv[n++], "--ranks=%s", id->ranks);
	rc |= format_arg(&plan->argv[n++], "--step-nodes=%s", id->step_nodes);
	rc |= format_arg(&plan->argv[n++], "--job-nodes=%s", id->job_nodes);
	rc |= format_arg(&plan->argv[n++], "--runtime-dir=%s", helper->user_dir);
	rc |= format_arg(&plan->argv[n++], "--plugin-fd=%d", HELPER_CHANNEL_FD);
	rc |= format_arg(&plan->argv[n++], "--region-quota=%llu", (unsigned long long)id->region_quota);
	rc |= format_arg(&plan->argv[n++], "--log-level=%s", id->log_level);
	rc |= format_arg(&plan->argv[n++], "--ckpt-dir=%s", id->ckpt_dir);
	rc |= format_arg(&plan->argv[n++], "--restore=%s", id->restore);
	rc |= format_arg(&plan->argv[n++], "--ckpt-keep=%u", id->ckpt_keep);
	rc |= format_arg(&plan->argv[n++], "--detect-timeout=%.3f", id->detect_timeout);
	rc |= format_arg(&plan->argv[n++], "--heartbeat-peers=%u", id->heartbeat_peers);
	rc |= format_arg(&plan->argv[n++], "--munge-socket=%s", id->munge_socket);
	if (id->rendezvous)
		rc |= format_arg(&plan->argv[n++], "--rendezvous=%s", id->rendezvous);
	if (id->rejoin)
		rc |= format_arg(&plan->argv[n++], "--rejoin=%s", id->rejoin);
	rc |= format_arg(&plan->argv[n++], "--replace=%s", id->replace ? id->replace : "none");
	if (program_count) {
		rc |= format_arg(&plan->argv[n++], "--");
		for (int i = 0; i < program_count; i++)
			rc |= format_arg(&plan->argv[n++], "%s", id->program[i]);
	}
	plan->argv[n] = NULL;
	plan->envp = id->environment;
	plan->helper_path = id->helper_path;
	plan->log_path = helper->log_path;
	plan->uid = id->uid;
	plan->gid = id->gid;
	plan->groups = id->groups;
	plan->group_count = id->group_count;
	if (rc < 0)
		free_plan(plan);
	return rc < 0 ? -ENOMEM : 0;
}

static double seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/*
 * Read the report pipe until both children have closed it: the helper's pid, then
 * nothing (execve succeeded) or the reason it failed.
 */
static int read_launch_report(int report_fd, double timeout, pid_t *helper_pid, char *why, size_t whylen)
{
	char buffer[512];
	size_t got = 0;
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd pfd = { .fd = report_fd, .events = POLLIN };
		int wait_ms = (int)((timeout - seconds_since(&start)) * 1000);
		ssize_t n;

		if (wait_ms <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, wait_ms) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		n = read(report_fd, buffer + got, sizeof(buffer) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(buffer) - 1)
			break;
	}
	if (got < sizeof(pid_t)) {
		snprintf(why, whylen, "the helper's launcher died before it started the helper");
		return -ECHILD;
	}
	memcpy(helper_pid, buffer, sizeof(pid_t));
	if (got > sizeof(pid_t)) {
		buffer[got] = '\0';
		snprintf(why, whylen, "%s", buffer + sizeof(pid_t));
		return -ENOEXEC;
	}
	return 0;
}

static int wait_ready(struct helper_handle *helper, double timeout, char *err, size_t errlen)
{
	struct wire_msg *msg = malloc(sizeof(*msg));
	struct wire_ready ready;
	int rc;

	if (!msg)
		return -ENOMEM;
	rc = wire_recv_msg(helper->channel_fd, msg, (int)(timeout * 1000));
	if (rc == -ETIMEDOUT) {
		snprintf(err, errlen, "lcr: helper %s did not become ready within %.1f s", helper->log_path, timeout);
		goto out;
	}
	if (rc < 0) {
		snprintf(err, errlen, "lcr: helper exited before it was ready (%s)", strerror(-rc));
		goto out;
	}
	if (msg->fd >= 0)
		close(msg->fd);
	if (msg->header.type != WIRE_READY ||
	    wire_decode_ready(msg->payload, msg->header.length, &ready) < 0) {
		rc = -EPROTO;
		snprintf(err, errlen, "lcr: helper sent %s instead of READY",
			 wire_type_name(msg->header.type) ? wire_type_name(msg->header.type) : "an unknown message");
		goto out;
	}
	snprintf(helper->socket_path, sizeof(helper->socket_path), "%s", ready.socket_path);
	rc = 0;
out:
	free(msg);
	return rc;
}

int helper_start(const struct helper_identity *id, double timeout, struct helper_handle *helper,
		 char *err, size_t errlen)
{
	struct launch_plan plan;
	int channel[2] = { -1, -1 }, report[2] = { -1, -1 };
	char why[512] = "";
	pid_t launcher;
	int rc;

	helper->uid = id->uid;
	helper->gid = id->gid;
	if ((size_t)snprintf(helper->node_dir, sizeof(helper->node_dir), "%s/%u.%u.%s", helper->user_dir,
			     id->job_id, id->step_id, id->node_name) >= sizeof(helper->node_dir) ||
	    (size_t)snprintf(helper->log_path, sizeof(helper->log_path), "%s.log", helper->node_dir) >=
		    sizeof(helper->log_path)) {
		snprintf(err, errlen, "lcr: the helper's runtime path under %s is too long", helper->user_dir);
		return -ENAMETOOLONG;
	}
	rc = build_plan(id, helper, &plan);
	if (rc < 0) {
		snprintf(err, errlen, "lcr: cannot prepare the helper's command line: %s", strerror(-rc));
		return rc;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) < 0 || pipe2(report, O_CLOEXEC) < 0) {
		rc = -errno;
		snprintf(err, errlen, "lcr: cannot create the helper's channel: %s", strerror(errno));
		goto out;
	}
	plan.channel_fd = channel[1];
	plan.report_fd = report[1];
	launcher = fork();
	if (launcher < 0) {
		rc = -errno;
		snprintf(err, errlen, "lcr: cannot fork the helper: %s", strerror(errno));
		goto out;
	}
	if (launcher == 0)
		run_intermediate_child(&plan);
	close(report[1]);
	report[1] = -1;
	close(channel[1]);
	channel[1] = -1;
	/* slurmstepd may reap the launcher first; either way it is gone. */
	waitpid(launcher, NULL, 0);
	rc = read_launch_report(report[0], timeout, &helper->pid, why, sizeof(why));
	if (rc < 0) {
		snprintf(err, errlen, "lcr: cannot start helper %s as uid %u: %s", id->helper_path,
			 (unsigned)id->uid, why[0] ? why : strerror(-rc));
		helper->pid = -1;
		goto out;
	}
	helper->pidfd = (int)syscall(SYS_pidfd_open, helper->pid, 0);
	helper->channel_fd = channel[0];
	channel[0] = -1;
	rc = wait_ready(helper, timeout, err, errlen);
out:
	for (int i = 0; i < 2; i++) {
		if (channel[i] >= 0)
			close(channel[i]);
		if (report[i] >= 0)
			close(report[i]);
	}
	free_plan(&plan);
	return rc;
}

int helper_report_task_started(struct helper_handle *helper, uint32_t local_id, uint32_t global_rank,
			       pid_t pid)
{
	if (helper->channel_fd < 0)
		return -ENOTCONN;
	return wire_send_task_started(helper->channel_fd, local_id, global_rank, (uint32_t)pid);
}

int helper_report_task_exited(struct helper_handle *helper, uint32_t global_rank, pid_t pid, int status)
{
	if (helper->channel_fd < 0)
		return -ENOTCONN;
	return wire_send_task_exited(helper->channel_fd, global_rank, (uint32_t)pid, status);
}

static int wait_for_exit(int pidfd, double timeout)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

	return poll(&pfd, 1, (int)(timeout * 1000)) > 0 ? 0 : -ETIMEDOUT;
}

void helper_stop(struct helper_handle *helper, double timeout)
{
	if (helper->pid <= 0)
		return;
	if (helper->channel_fd >= 0) {
		wire_send_shutdown(helper->channel_fd);
		close(helper->channel_fd);
		helper->channel_fd = -1;
	}
	if (helper->pidfd < 0) {
		/* Without a pidfd (the helper died before pidfd_open) there is nothing to wait on. */
		kill(helper->pid, SIGKILL);
	} else if (wait_for_exit(helper->pidfd, timeout) < 0) {
		syscall(SYS_pidfd_send_signal, helper->pidfd, SIGKILL, NULL, 0);
		wait_for_exit(helper->pidfd, 1.0);
	}
	if (helper->pidfd >= 0)
		close(helper->pidfd);
	helper->pidfd = -1;
	helper->pid = -1;
}

void helper_remove_files(struct helper_handle *helper)
{
	char *const argv[] = { "rm", "-rf", "--one-file-system", "--", helper->node_dir, helper->log_path, NULL };
	char *const envp[] = { "PATH=/usr/bin:/bin", NULL };
	pid_t pid;

	if (!helper->node_dir[0])
		return;
	pid = fork();
	if (pid == 0) {
		const char *what;

		if (become_user(helper->uid, helper->gid, NULL, 0, &what) < 0)
			_exit(1);
		execve("/bin/rm", argv, envp);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

void helper_log_tail(const struct helper_handle *helper, char *out, size_t outlen)
{
	struct stat st;
	off_t start;
	ssize_t got;
	int fd;

	out[0] = '\0';
	fd = open(helper->log_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		start = st.st_size > (off_t)outlen - 1 ? st.st_size - (off_t)outlen + 1 : 0;
		got = pread(fd, out, outlen - 1, start);
		out[got > 0 ? got : 0] = '\0';
	}
	close(fd);
}
