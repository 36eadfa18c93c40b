/* fake_plugin.c: plays the spank_lcr plugin's part of the plugin channel against a real
 * lcrd, using the same wire_send_* helpers the plugin uses, and reports in TAP. It starts
 * lcrd with --plugin-fd on one end of a socketpair and checks: READY with the socket path,
 * TASK_STARTED and the pidfd watch (a killed task becomes a RANK_EXITED event), TASK_EXITED
 * with its wait status (awaited when the task was reaped before lcrd could read it), a
 * malformed message ignored, a clean exit 0 with the directory
 * removed when the channel closes, and the same after an explicit SHUTDOWN.
 *
 * Usage: fake_plugin LCRD RUNTIME_DIR */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal/util.h"
#include "internal/wire.h"

static int test_number;
static int failures;
static struct wire_msg msg;

static void check(int ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%sok %d - ", ok ? "" : "not ", ++test_number);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
	if (!ok)
		failures++;
}

/* Starts lcrd with the child end of a socketpair as --plugin-fd; returns its pid. */
static pid_t start_lcrd(const char *lcrd, const char *dir, uint32_t step, int *plugin_fd)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		char fd_opt[32], dir_opt[4200], step_opt[32];
		close(sv[0]);
		snprintf(fd_opt, sizeof(fd_opt), "--plugin-fd=%d", sv[1]);
		snprintf(dir_opt, sizeof(dir_opt), "--runtime-dir=%s", dir);
		snprintf(step_opt, sizeof(step_opt), "--step-id=%u", step);
		execl(lcrd, "lcrd", "--job-id=77", step_opt, "--node-id=1", "--node-count=2",
		      "--node-name=nfake", "--ranks=3,4", "--step-nodes=nfake,nother",
		      "--job-nodes=nfake,nother,nspare", dir_opt, fd_opt, "--log-level=debug",
		      (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	*plugin_fd = sv[0];
	return pid;
}

static int connect_control(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	util_copy_string(addr.sun_path, sizeof(addr.sun_path), path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int get_status(const char *path, struct wire_status_reply *s)
{
	int fd = connect_control(path), rc = -1;
	if (fd < 0)
		return -1;
	if (wire_send_msg_full(fd, WIRE_STATUS_REQUEST, 5, NULL, 0, -1) == 0 &&
	    wire_recv_msg(fd, &msg, 5000) == 0 && msg.header.type == WIRE_STATUS_REPLY)
		rc = wire_decode_status_reply(msg.payload, msg.header.length, s);
	close(fd);
	return rc;
}

static const struct wire_task_status *find_task(const struct wire_status_reply *s, uint32_t rank)
{
	for (uint32_t i = 0; i < s->task_count; i++)
		if (s->tasks[i].global_rank == rank)
			return &s->tasks[i];
	return NULL;
}

/* Waits for lcrd to exit within timeout_ms; returns its wait status or -1. */
static int wait_exit(pid_t pid, int timeout_ms)
{
	int status;
	for (int waited = 0; waited < timeout_ms; waited += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static int subscribe(const char *path)
{
	int fd = connect_control(path);
	struct wire_reply reply;
	if (fd < 0 || wire_send_msg_full(fd, WIRE_SUBSCRIBE, 1, NULL, 0, -1) < 0 ||
	    wire_recv_msg(fd, &msg, 5000) < 0 ||
	    wire_decode_reply(msg.payload, msg.header.length, &reply) < 0 || reply.status != 0)
		return -1;
	return fd;
}

/* The next event on fd within timeout_ms, or -1. */
static int next_event(int fd, struct wire_event *ev, int timeout_ms)
{
	if (wire_recv_msg(fd, &msg, timeout_ms) < 0 || msg.header.type != WIRE_EVENT)
		return -1;
	return wire_decode_event(msg.payload, msg.header.length, ev);
}

/* A task already reaped by its parent (slurmstepd) when lcrd watches it: its status comes
 * only with the plugin's TASK_EXITED, which lcrd waits for (bounded) before reporting. */
static void test_exit_status_of_a_reaped_task(int plugin_fd, int events)
{
	struct wire_event ev;
	int status;
	pid_t task = fork();
	if (task == 0)
		_exit(3);
	waitpid(task, &status, 0);
	check(wire_send_task_started(plugin_fd, 1, 4, (uint32_t)task) == 0,
	      "TASK_STARTED sent for a task that exited 3 and was reaped");
	int rc = next_event(events, &ev, 300);
	check(rc < 0, "no RANK_EXITED before the plugin reports the status%s%s",
	      rc == 0 ? ": " : "", rc == 0 ? ev.message : "");
	check(wire_send_task_exited(plugin_fd, 4, (uint32_t)task, status) == 0, "TASK_EXITED sent");
	rc = next_event(events, &ev, 3000);
	check(rc == 0 && ev.type == WIRE_EVENT_RANK_EXITED && ev.rank == 4 && ev.status == status,
	      "then RANK_EXITED carries the plugin's status: %s", rc == 0 ? ev.message : "no event");

	task = fork();
	if (task == 0)
		_exit(3);
	waitpid(task, &status, 0);
	check(wire_send_task_started(plugin_fd, 1, 4, (uint32_t)task) == 0,
	      "TASK_STARTED sent for another reaped task, whose exit the plugin never reports");
	rc = next_event(events, &ev, 3000);
	check(rc == 0 && ev.type == WIRE_EVENT_RANK_EXITED && ev.rank == 4 &&
		      ev.pid == (uint32_t)task && ev.status == -1,
	      "RANK_EXITED comes after the wait, with its pid and the status unknown: %s",
	      rc == 0 ? ev.message : "no event");
}

static void test_task_lifecycle(const char *socket_path, int plugin_fd)
{
	struct wire_status_reply *s = calloc(1, sizeof(*s));
	struct wire_event ev;
	int events = subscribe(socket_path);
	check(events >= 0, "a client can subscribe to events");

	pid_t task = fork();
	if (task == 0) {
		pause();
		_exit(0);
	}
	check(wire_send_task_started(plugin_fd, 0, 3, (uint32_t)task) == 0, "TASK_STARTED sent");
	usleep(100000);
	int rc = get_status(socket_path, s);
	const struct wire_task_status *t = rc == 0 ? find_task(s, 3) : NULL;
	check(t && t->state == WIRE_TASK_RUNNING && t->pid == (uint32_t)task,
	      "STATUS shows rank 3 running with the task's pid");
	check(rc == 0 && s->job_id == 77 && s->node_id == 1 && s->node_count == 2 &&
		      strcmp(s->node_name, "nfake") == 0 && s->rank_count == 2,
	      "STATUS carries the helper's identity");

	kill(task, SIGKILL);
	rc = next_event(events, &ev, 3000);
	check(rc == 0 && ev.type == WIRE_EVENT_RANK_EXITED && ev.rank == 3 &&
		      ev.pid == (uint32_t)task,
	      "a killed task becomes a RANK_EXITED event at once (pidfd): %s",
	      rc == 0 ? ev.message : "no event");
	int status;
	waitpid(task, &status, 0);
	check(wire_send_task_exited(plugin_fd, 3, (uint32_t)task, status) == 0, "TASK_EXITED sent");
	usleep(100000);
	rc = get_status(socket_path, s);
	t = rc == 0 ? find_task(s, 3) : NULL;
	check(t && t->state == WIRE_TASK_EXITED_STATE && t->wait_status == status,
	      "STATUS shows rank 3 exited with the wait status the plugin reported");

	test_exit_status_of_a_reaped_task(plugin_fd, events);

	check(wire_send_task_started(plugin_fd, 9, 99, 1) == 0 &&
		      send(plugin_fd, "garbage", 7, 0) == 7,
	      "a task of a rank not in --ranks and a malformed message sent");
	usleep(100000);
	rc = get_status(socket_path, s);
	check(rc == 0 && !find_task(s, 99), "lcrd ignores them and keeps serving");

	close(plugin_fd);
	rc = next_event(events, &ev, 5000);
	check(rc == 0 && ev.type == WIRE_EVENT_SHUTDOWN,
	      "closing the plugin channel shuts lcrd down and tells subscribers");
	close(events);
	free(s);
}

static void test_run(const char *lcrd, const char *dir, uint32_t step, bool explicit_shutdown)
{
	struct wire_ready ready;
	char expected[PATH_MAX + 16], helper_dir[PATH_MAX];
	struct stat st;
	int plugin_fd = -1;
	pid_t pid = start_lcrd(lcrd, dir, step, &plugin_fd);
	int rc = wire_recv_msg(plugin_fd, &msg, 10000);
	if (rc == 0 && msg.header.type == WIRE_READY)
		rc = wire_decode_ready(msg.payload, msg.header.length, &ready);
	else if (rc == 0)
		rc = -EBADMSG;
	snprintf(helper_dir, sizeof(helper_dir), "%s/77.%u.nfake", dir, step);
	snprintf(expected, sizeof(expected), "%s/lcrd.sock", helper_dir);
	check(rc == 0 && strcmp(ready.socket_path, expected) == 0 && ready.pid == (uint32_t)pid,
	      "READY names %s and lcrd's pid", expected);
	check(stat(helper_dir, &st) == 0 && (st.st_mode & 0777) == 0700,
	      "the helper's directory exists with mode 0700");

	if (explicit_shutdown)
		check(wire_send_shutdown(plugin_fd) == 0, "SHUTDOWN sent");
	else
		test_task_lifecycle(expected, plugin_fd);

	int status = wait_exit(pid, 5000);
	check(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "lcrd exits with 0");
	check(stat(helper_dir, &st) < 0 && errno == ENOENT, "lcrd removed %s", helper_dir);
	if (explicit_shutdown)
		close(plugin_fd);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: fake_plugin LCRD RUNTIME_DIR\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	printf("1..25\n");
	test_run(argv[1], argv[2], 0, false);
	test_run(argv[1], argv[2], 1, true);
	return failures ? 1 : 0;
}
