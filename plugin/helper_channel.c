/*
 * helper_channel.c: what slurmstepd says to its helper, and how it stops it (see
 * helper_launch.h).
 *
 * slurmstepd reports task starts and exits from task_post_fork and task_exit, where it must
 * never wait for long: a helper that stops reading its channel (kill -STOP, a hang) would
 * otherwise hold slurmstepd once the channel's queue is full, and with it the node. So the
 * channel is non-blocking, and a message that finds the queue full waits at most
 * HELPER_SEND_WAIT_MS for the helper to make room. If the helper still does not read, it
 * is given up: killed through its pidfd, its channel closed; that report and every later
 * one fail at once, and the step goes on without its helper on this node.
 *
 * The helper is only ever signalled through its pidfd, never by its number: slurmstepd is
 * root, and a number may already name another process.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "helper_launch.h"
#include "internal/wire.h"

/* Sends one message; a wire_send_* call on the channel. */
typedef int (*channel_sender)(int fd, const void *message);

struct task_started_message {
	uint32_t local_id, global_rank, pid;
};

struct task_exited_message {
	uint32_t global_rank, pid;
	int32_t status;
};

static int send_task_started(int fd, const void *message)
{
	const struct task_started_message *m = message;

	return wire_send_task_started(fd, m->local_id, m->global_rank, m->pid);
}

static int send_task_exited(int fd, const void *message)
{
	const struct task_exited_message *m = message;

	return wire_send_task_exited(fd, m->global_rank, m->pid, m->status);
}

static int send_shutdown(int fd, const void *message)
{
	(void)message;
	return wire_send_shutdown(fd);
}

static long milliseconds_now(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Sends within wait_ms: 0, -ETIMEDOUT when the helper made no room in time, or -errno. */
static int send_within(int fd, channel_sender send, const void *message, int wait_ms)
{
	long deadline = milliseconds_now() + wait_ms;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		long left;
		int rc = send(fd, message);

		if (rc != -EAGAIN)
			return rc;
		left = deadline - milliseconds_now();
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			return -errno;
	}
}

int helper_channel_make_nonblocking(int channel_fd)
{
	int flags = fcntl(channel_fd, F_GETFL);

	if (flags < 0 || fcntl(channel_fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static void close_channel(struct helper_handle *helper)
{
	close(helper->channel_fd);
	helper->channel_fd = -1;
}

static void kill_helper(struct helper_handle *helper)
{
	if (helper->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, helper->pidfd, SIGKILL, NULL, 0);
}

/* One report to the helper. A helper that does not read for HELPER_SEND_WAIT_MS is given up. */
static int report(struct helper_handle *helper, channel_sender send, const void *message)
{
	int rc;

	if (helper->channel_fd < 0)
		return -ENOTCONN;
	rc = send_within(helper->channel_fd, send, message, HELPER_SEND_WAIT_MS);
	if (rc == -ETIMEDOUT) {
		kill_helper(helper);
		close_channel(helper);
	}
	return rc;
}

int helper_report_task_started(struct helper_handle *helper, uint32_t local_id, uint32_t global_rank,
			       pid_t pid)
{
	struct task_started_message m = { local_id, global_rank, (uint32_t)pid };

	return report(helper, send_task_started, &m);
}

int helper_report_task_exited(struct helper_handle *helper, uint32_t global_rank, pid_t pid, int status)
{
	struct task_exited_message m = { global_rank, (uint32_t)pid, status };

	return report(helper, send_task_exited, &m);
}

static int wait_for_exit(int pidfd, double timeout)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
	int rc;

	do
		rc = poll(&pfd, 1, (int)(timeout * 1000));
	while (rc < 0 && errno == EINTR);
	return rc > 0 ? 0 : -ETIMEDOUT;
}

void helper_stop(struct helper_handle *helper, double timeout)
{
	if (helper->channel_fd >= 0) {
		/* No wait: closing the channel says the same to a helper that reads it. */
		send_within(helper->channel_fd, send_shutdown, NULL, 0);
		close_channel(helper);
	}
	if (helper->pidfd >= 0) {
		if (wait_for_exit(helper->pidfd, timeout) < 0) {
			kill_helper(helper);
			wait_for_exit(helper->pidfd, 1.0);
		}
		close(helper->pidfd);
	}
	helper->pidfd = -1;
	helper->pid = -1;
}
