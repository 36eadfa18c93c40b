/*
 * helper_launch.c: the helper's lifecycle as seen from slurmstepd (see helper_launch.h).
 *
 * The helper is started with process_start_detached (process_start.h): a grandchild in a
 * session of its own that slurmstepd never waits for, whose pidfd is opened while the
 * intermediate process still holds its number. This file gives the start its two hooks:
 * before the descriptors are set, take root back, reset oom_score_adj, become the job's
 * user and open the log as that user; after every other descriptor is closed, apply the
 * tasks' resource limits. The hooks use only system calls and memory prepared beforehand:
 * slurmstepd has threads, and a lock held by one of them at fork time would never be
 * released in the child.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helper_launch.h"
#include "internal/process_start.h"
#include "internal/wire.h"

/* lcrd's options, before "--" and the step's program: its own and the settings' */
#define HELPER_OPTION_MAX (16 + LCR_SETTING_COUNT)
#define HELPER_CHANNEL_FD 3
#define HELPER_JOB_ENV_FD 4

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

/* 0, or -1 with errno set. */
static int reset_oom_score(void)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC), error;

	if (fd < 0)
		return -1;
	if (write(fd, "0", 1) != 1) {
		error = errno;
		close(fd);
		errno = error;
		return -1;
	}
	close(fd);
	return 0;
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

/* The prepare hook, before the descriptors are set: root again, oom_score_adj reset, the
 * job's user for good, then the log opened as that user for the helper's stdout and stderr. */
static int helper_prepare(struct process_plan *exec_plan, const char **what)
{
	const struct launch_plan *plan = exec_plan->setup_arg;
	int log_fd;

	*what = "setresuid root";
	if (geteuid() != 0 && setresuid(0, 0, 0) < 0)
		return -1;
	*what = "cannot reset oom_score_adj";
	if (reset_oom_score() < 0)
		return -1;
	if (become_user(plan->uid, plan->gid, plan->groups, plan->group_count, what) < 0)
		return -1;
	*what = "cannot create the helper's log";
	log_fd = open(plan->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (log_fd < 0)
		return -1;
	exec_plan->stdout_fd = log_fd;
	exec_plan->stderr_fd = log_fd;
	return 0;
}

/* The setup hook, once only descriptors 0-4 are left: slurmstepd's descriptors may be
 * numbered above the tasks' RLIMIT_NOFILE. */
static int helper_setup(void *arg, const char **what)
{
	const struct launch_plan *plan = arg;

	*what = "cannot set the tasks' resource limits";
	return helper_apply_rlimits(plan->limits, plan->limit_count);
}

/* How process_start runs the helper: stdin /dev/null, stdout and stderr the log (opened by
 * helper_prepare), its channel at 3 and the job's environment at 4, nothing else, in /. */
static void describe_start(struct launch_plan *plan, int channel_fd, struct process_plan *exec_plan)
{
	*exec_plan = (struct process_plan)PROCESS_PLAN_INIT;
	exec_plan->path = plan->helper_path;
	exec_plan->argv = plan->argv;
	exec_plan->envp = plan->envp;
	exec_plan->keep[0] = (struct process_fd){ channel_fd, HELPER_CHANNEL_FD };
	exec_plan->keep[1] = (struct process_fd){ plan->job_env_fd, HELPER_JOB_ENV_FD };
	exec_plan->keep_count = 2;
	exec_plan->dir = "/";
	exec_plan->prepare = helper_prepare;
	exec_plan->setup = helper_setup;
	exec_plan->setup_arg = plan;
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

/*
 * Starts the helper and opens its pidfd while the intermediate process still holds its
 * number, then waits for its execve: 0, or -errno with why.
 */
static int launch_helper(const struct process_plan *exec_plan, double timeout, struct helper_handle *helper,
			 char *why, size_t whylen)
{
	struct process_detached started;
	int rc, pidfd_error = 0;

	rc = process_start_detached(exec_plan, (int)(timeout * 1000), &started, why, whylen);
	if (rc < 0)
		return rc;
	helper->pid = started.pid;
	helper->pidfd = (int)syscall(SYS_pidfd_open, helper->pid, 0);
	if (helper->pidfd < 0)
		pidfd_error = errno;
	rc = process_detached_finish(&started, why, whylen);
	if (rc == 0 && pidfd_error) {
		rc = -pidfd_error;
		snprintf(why, whylen, "cannot open a pidfd for the helper (pid %d): %s", (int)helper->pid,
			 strerror(pidfd_error));
	}
	return rc;
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
	struct process_plan exec_plan;
	int channel[2] = { -1, -1 };
	char why[512];
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
	    helper_channel_make_nonblocking(channel[0]) < 0) {
		rc = -errno;
		snprintf(err, errlen, "lcr: cannot create the helper's channel: %s", strerror(errno));
		goto out;
	}
	describe_start(&plan, channel[1], &exec_plan);
	rc = launch_helper(&exec_plan, timeout, helper, why, sizeof(why));
	/* The helper's end: only the helper holds it now, so its exit closes the channel. */
	close(channel[1]);
	channel[1] = -1;
	helper->channel_fd = channel[0];
	channel[0] = -1;
	if (rc < 0) {
		snprintf(err, errlen, "lcr: cannot start helper %s as uid %u: %s", id->helper_path,
			 (unsigned)id->uid, why[0] ? why : strerror(-rc));
		goto out;
	}
	rc = wait_ready(helper, timeout, err, errlen);
out:
	for (int i = 0; i < 2; i++)
		if (channel[i] >= 0)
			close(channel[i]);
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
