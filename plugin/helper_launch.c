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
#include <stdbool.h>
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
#include "internal/fd_close.h"
#include "internal/wire.h"

/* lcrd's options, before "--" and the step's program: its own and the settings' */
#define HELPER_OPTION_MAX (16 + LCR_SETTING_COUNT)
#define HELPER_CHANNEL_FD 3
#define HELPER_JOB_ENV_FD 4
#define LIFTED_FD_MIN 10 /* above every descriptor the helper is given */
#define PID_REPORT_TAG '#' /* the launcher's message with the helper's pid; failures are text */

/* What the launcher and the helper's process say on the report socket. */
struct launch_report {
	pid_t helper_pid; /* -1 until the launcher sent it */
	char why[512];    /* why the helper could not start, or "" */
};

/* Everything the child needs, built before fork(). */
struct launch_plan {
	char **argv; /* NULL-terminated, each string allocated */
	char **envp; /* the allowed part of the job's environment (its strings are the job's) */
	int job_env_fd; /* all of it, a sealed memfd (helper_environment.c) */
	struct helper_rlimit limits[HELPER_RLIMIT_MAX];
	int limit_count;
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

/* Async-signal-safe: report why the child could not become the helper, in one message, then exit. */
static void child_fail(int report_fd, const char *what)
{
	char message[256], digits[16];
	size_t length = 0;
	int error = errno, at = (int)sizeof(digits);

	digits[--at] = '\0';
	do {
		digits[--at] = (char)('0' + error % 10);
		error /= 10;
	} while (error && at > 0);
	for (const char *part[] = { what, ": errno ", digits + at, NULL }, **p = part; *p; p++)
		for (const char *c = *p; *c && length < sizeof(message); c++)
			message[length++] = *c;
	if (write(report_fd, message, length) < 0)
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

/* Moves fd above every number the helper is given, so the dup2 calls cannot clobber it. */
static int lift(int fd)
{
	return fcntl(fd, F_DUPFD_CLOEXEC, LIFTED_FD_MIN);
}

/* Descriptors 0-4 as lcrd expects them, and nothing else inherited but the report socket. */
static void child_set_descriptors(const struct launch_plan *plan, int *report)
{
	int channel = lift(plan->channel_fd), job_env = lift(plan->job_env_fd);
	int log_fd, null_fd;

	*report = lift(plan->report_fd);
	if (*report < 0 || channel < 0 || job_env < 0)
		child_fail(*report >= 0 ? *report : plan->report_fd, "cannot move descriptors");
	log_fd = open(plan->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (log_fd < 0)
		child_fail(*report, "cannot create the helper's log");
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0)
		child_fail(*report, "cannot open /dev/null");
	if (dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0 ||
	    dup2(channel, HELPER_CHANNEL_FD) < 0 || dup2(job_env, HELPER_JOB_ENV_FD) < 0)
		child_fail(*report, "dup2");
	/* Keep the report socket (close-on-exec) to say whether execve failed. */
	if (fd_close_from(HELPER_JOB_ENV_FD + 1, *report) < 0)
		child_fail(*report, "cannot close inherited descriptors");
}

/* The helper's process: becomes the user with the tasks' limits, keeps only its channel,
 * the job's environment and its log, runs lcrd with the allowed environment. */
static void run_helper_child(const struct launch_plan *plan)
{
	int report;

	child_reset_signals();
	if (geteuid() != 0 && setresuid(0, 0, 0) < 0)
		child_fail(plan->report_fd, "setresuid root");
	child_reset_oom_score(plan->report_fd);
	child_drop_privileges(plan);
	child_set_descriptors(plan, &report);
	/* Only now: slurmstepd's descriptors may be numbered above the tasks' RLIMIT_NOFILE. */
	if (helper_apply_rlimits(plan->limits, plan->limit_count) < 0)
		child_fail(report, "cannot set the tasks' resource limits");
	if (chdir("/") < 0)
		child_fail(report, "chdir /");
	execve(plan->helper_path, plan->argv, plan->envp);
	child_fail(report, "cannot execute the helper");
}

/*
 * First child: a new session, then the helper as a grandchild that slurmstepd never waits
 * for. It stays until slurmstepd has the helper's pidfd (or gives up): while it lives and
 * has not waited for the helper, the helper's number cannot name another process.
 */
static void run_intermediate_child(const struct launch_plan *plan)
{
	char message[1 + sizeof(pid_t)] = { PID_REPORT_TAG }, release;
	pid_t helper_pid;

	setsid();
	helper_pid = fork();
	if (helper_pid < 0)
		child_fail(plan->report_fd, "fork");
	if (helper_pid == 0)
		run_helper_child(plan);
	memcpy(message + 1, &helper_pid, sizeof(helper_pid));
	if (write(plan->report_fd, message, sizeof(message)) != sizeof(message))
		_exit(1);
	while (read(plan->report_fd, &release, 1) < 0 && errno == EINTR)
		;
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
	free(plan->envp);
	plan->envp = NULL;
	if (plan->job_env_fd >= 0)
		close(plan->job_env_fd);
	plan->job_env_fd = -1;
}

static int build_plan(const struct helper_identity *id, struct helper_handle *helper, struct launch_plan *plan)
{
	int n = 0, rc = 0, program_count = 0;

	memset(plan, 0, sizeof(*plan));
	plan->job_env_fd = -1;
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
	rc |= format_arg(&plan->argv[n++], "--job-env-fd=%d", HELPER_JOB_ENV_FD);
	for (int i = 0; i < LCR_SETTING_COUNT; i++)
		if (lcr_settings[i].lcrd_arg && id->settings[i])
			rc |= format_arg(&plan->argv[n++], "--%s=%s", lcr_settings[i].lcrd_arg, id->settings[i]);
	if (id->rendezvous)
		rc |= format_arg(&plan->argv[n++], "--rendezvous=%s", id->rendezvous);
	if (id->rejoin)
		rc |= format_arg(&plan->argv[n++], "--rejoin=%s", id->rejoin);
	if (program_count) {
		rc |= format_arg(&plan->argv[n++], "--");
		for (int i = 0; i < program_count; i++)
			rc |= format_arg(&plan->argv[n++], "%s", id->program[i]);
	}
	plan->argv[n] = NULL;
	plan->envp = helper_environment_filter(id->environment);
	plan->job_env_fd = helper_environment_memfd(id->environment);
	plan->limit_count = helper_environment_rlimits(id->environment, plan->limits, HELPER_RLIMIT_MAX);
	if (!plan->envp || plan->job_env_fd < 0)
		rc = -ENOMEM;
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

/* Reads one message of the report socket: 1, 0 at its end, or -errno (-ETIMEDOUT). */
static int read_report_message(int report_fd, int wait_ms, struct launch_report *report)
{
	char message[sizeof(report->why)];
	struct pollfd pfd = { .fd = report_fd, .events = POLLIN };
	ssize_t n;
	int rc = poll(&pfd, 1, wait_ms);

	if (rc == 0)
		return -ETIMEDOUT;
	n = rc < 0 ? -1 : recv(report_fd, message, sizeof(message) - 1, 0);
	if (n < 0)
		return errno == EINTR ? 1 : -errno;
	if (n == 0)
		return 0;
	if ((size_t)n == 1 + sizeof(pid_t) && message[0] == PID_REPORT_TAG) {
		memcpy(&report->helper_pid, message + 1, sizeof(pid_t));
	} else {
		message[n] = '\0';
		snprintf(report->why, sizeof(report->why), "%s", message);
	}
	return 1;
}

/*
 * Reads the report socket until the helper's pid came (until_end false) or until both
 * children have closed it (until_end true): then why holds nothing (execve succeeded) or
 * the reason the helper could not start.
 */
static int read_launch_report(int report_fd, bool until_end, const struct timespec *start, double timeout,
			      struct launch_report *report)
{
	for (;;) {
		int wait_ms = (int)((timeout - seconds_since(start)) * 1000), rc;

		if (!until_end && report->helper_pid > 0)
			return 0;
		if (wait_ms <= 0)
			return -ETIMEDOUT;
		rc = read_report_message(report_fd, wait_ms, report);
		if (rc <= 0)
			return rc;
	}
}

/*
 * The helper's pidfd, opened while the launcher still holds the helper's number, then the
 * rest of the report once the launcher is released.
 */
static int receive_helper(int report_fd, pid_t launcher, double timeout, struct helper_handle *helper,
			  struct launch_report *report)
{
	struct timespec start;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &start);
	rc = read_launch_report(report_fd, false, &start, timeout, report);
	if (rc == 0 && report->helper_pid > 0) {
		helper->pid = report->helper_pid;
		helper->pidfd = (int)syscall(SYS_pidfd_open, helper->pid, 0);
		if (helper->pidfd < 0)
			snprintf(report->why, sizeof(report->why), "cannot open a pidfd for the helper (pid %d): %s",
				 (int)helper->pid, strerror(errno));
	}
	shutdown(report_fd, SHUT_WR);
	/* slurmstepd may reap the launcher first; either way it is gone. */
	waitpid(launcher, NULL, 0);
	if (rc == 0)
		rc = read_launch_report(report_fd, true, &start, timeout, report);
	if (rc < 0)
		return rc;
	if (report->why[0])
		return -ENOEXEC;
	if (helper->pidfd < 0) {
		snprintf(report->why, sizeof(report->why), "the helper's launcher died before it started the helper");
		return -ECHILD;
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

int helper_check_node_name(const char *name, char *err, size_t errlen)
{
	const char *why = NULL;

	if (!name || !*name)
		why = "it is empty";
	else if (strlen(name) > HELPER_NODE_NAME_MAX)
		why = "it is too long";
	else if (strchr(name, '/'))
		why = "it contains '/'";
	else if (strstr(name, ".."))
		why = "it contains '..'";
	for (const char *c = name; !why && *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			why = "it contains a control character";
	if (!why)
		return 0;
	snprintf(err, errlen, "lcr: refusing node name '%.*s' for the helper's files: %s",
		 HELPER_NODE_NAME_MAX, name ? name : "", why);
	for (char *c = err; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return -EINVAL;
}

/* The helper's runtime directory and log: user_dir/<job>.<step>.<node>[.log]. */
static int name_helper_files(const struct helper_identity *id, struct helper_handle *helper, char *err,
			     size_t errlen)
{
	int rc = helper_check_node_name(id->node_name, err, errlen);

	if (rc < 0)
		return rc;
	if ((size_t)snprintf(helper->node_dir, sizeof(helper->node_dir), "%s/%u.%u.%s", helper->user_dir,
			     id->job_id, id->step_id, id->node_name) >= sizeof(helper->node_dir) ||
	    (size_t)snprintf(helper->log_path, sizeof(helper->log_path), "%s.log", helper->node_dir) >=
		    sizeof(helper->log_path)) {
		snprintf(err, errlen, "lcr: the helper's runtime path under %s is too long", helper->user_dir);
		return -ENAMETOOLONG;
	}
	return 0;
}

int helper_start(const struct helper_identity *id, double timeout, struct helper_handle *helper,
		 char *err, size_t errlen)
{
	struct launch_plan plan;
	struct launch_report report = { .helper_pid = -1 };
	int channel[2] = { -1, -1 }, report_pair[2] = { -1, -1 };
	pid_t launcher;
	int rc;

	helper->uid = id->uid;
	helper->gid = id->gid;
	rc = name_helper_files(id, helper, err, errlen);
	if (rc < 0)
		return rc;
	rc = build_plan(id, helper, &plan);
	if (rc < 0) {
		snprintf(err, errlen, "lcr: cannot prepare the helper's command line: %s", strerror(-rc));
		return rc;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, report_pair) < 0 ||
	    helper_channel_make_nonblocking(channel[0]) < 0) {
		rc = -errno;
		snprintf(err, errlen, "lcr: cannot create the helper's channel: %s", strerror(errno));
		goto out;
	}
	plan.channel_fd = channel[1];
	plan.report_fd = report_pair[1];
	launcher = fork();
	if (launcher < 0) {
		rc = -errno;
		snprintf(err, errlen, "lcr: cannot fork the helper: %s", strerror(errno));
		goto out;
	}
	if (launcher == 0)
		run_intermediate_child(&plan);
	close(report_pair[1]);
	report_pair[1] = -1;
	close(channel[1]);
	channel[1] = -1;
	helper->channel_fd = channel[0];
	channel[0] = -1;
	rc = receive_helper(report_pair[0], launcher, timeout, helper, &report);
	if (rc < 0) {
		snprintf(err, errlen, "lcr: cannot start helper %s as uid %u: %s", id->helper_path,
			 (unsigned)id->uid, report.why[0] ? report.why : strerror(-rc));
		goto out;
	}
	rc = wait_ready(helper, timeout, err, errlen);
out:
	for (int i = 0; i < 2; i++) {
		if (channel[i] >= 0)
			close(channel[i]);
		if (report_pair[i] >= 0)
			close(report_pair[i]);
	}
	free_plan(&plan);
	return rc;
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
