/* command_async.c: a command run from the event loop, its output and exit watched there
 * (see command_async.h). It ends when both its stdout pipe has reached EOF and its pidfd
 * said it exited, or when its timer strikes first. Either way its process group then gets
 * SIGKILL (a child it left in the background dies with it) and it is reaped: the exited
 * command stays a zombie until then, so that its group id cannot be reused meanwhile. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loop/command_async.h"
#include "internal/process_start.h"
#include "loop/pidfd_watch.h"

struct command_async {
	struct loop *loop;
	struct pid_watch watch; /* the command's exit */
	int out_fd;             /* its stdout's read end; -1 once at EOF */
	bool exited;            /* its pidfd said it exited: a zombie until command_stop */
	bool reaped;            /* its wait status in status */
	int status;
	uint64_t timer;         /* the timeout, 0 once struck */
	int timeout_ms;
	char name[64];          /* argv[0], for the messages */
	char *out;
	size_t cap, used;
	command_async_done_cb done;
	void *arg;
};

/* Stops watching, closes the pipe; kills the command's group and reaps the command. */
static void command_stop(struct command_async *c)
{
	if (!c->reaped && c->watch.pid > 0) {
		kill(-c->watch.pid, SIGKILL);
		c->status = -1; /* stays so when it cannot be reaped: a failure */
		process_wait(c->watch.pid, -1, false, &c->status);
		c->reaped = true;
	}
	pid_watch_stop(&c->watch);
	if (c->out_fd >= 0) {
		loop_remove_fd(c->loop, c->out_fd);
		close(c->out_fd);
		c->out_fd = -1;
	}
	if (c->timer)
		loop_cancel_timer(c->loop, c->timer);
	c->timer = 0;
}

static void command_free(struct command_async *c)
{
	free(c->out);
	free(c);
}

/* The result the done callback gets: rc, err set when it is not 0. */
static int command_result(const struct command_async *c, bool timed_out, char *err,
			  size_t errlen)
{
	err[0] = '\0';
	if (timed_out) {
		snprintf(err, errlen, "%s did not answer within %d ms", c->name, c->timeout_ms);
		return -ETIMEDOUT;
	}
	if (!WIFEXITED(c->status) || WEXITSTATUS(c->status) != 0) {
		snprintf(err, errlen, "%s failed (wait status %d)", c->name, c->status);
		return -EIO;
	}
	return 0;
}

/* Stops everything, tells the owner and frees c. */
static void command_finish(struct command_async *c, bool timed_out)
{
	char err[256];
	command_stop(c);
	int rc = command_result(c, timed_out, err, sizeof(err));
	c->out[c->used] = '\0';
	while (c->used && (c->out[c->used - 1] == '\n' || c->out[c->used - 1] == ' '))
		c->out[--c->used] = '\0';
	c->done(c, c->arg, rc, c->out, err);
	command_free(c);
}

static void maybe_finish(struct command_async *c)
{
	if (c->exited && c->out_fd < 0)
		command_finish(c, false);
}

/* Reads what the pipe holds now; past the buffer's room it is read and dropped. */
static void output_ready(struct loop *loop, int fd, short revents, void *arg)
{
	struct command_async *c = arg;
	char scratch[512];
	bool room = c->used + 1 < c->cap;
	(void)loop;
	(void)revents;
	ssize_t n = read(fd, room ? c->out + c->used : scratch,
			 room ? c->cap - 1 - c->used : sizeof(scratch));
	if (n > 0) {
		c->used += room ? (size_t)n : 0;
		return;
	}
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	loop_remove_fd(c->loop, c->out_fd);
	close(c->out_fd);
	c->out_fd = -1;
	maybe_finish(c);
}

static void command_exited(struct pid_watch *w, void *arg)
{
	struct command_async *c = arg;
	(void)w;
	c->exited = true;
	maybe_finish(c);
}

static void command_overdue(struct loop *loop, void *arg)
{
	struct command_async *c = arg;
	(void)loop;
	c->timer = 0;
	command_finish(c, true);
}

/* Starts the command on c, stdout into a fresh pipe: 0 or -errno with err set. */
static int command_spawn(struct command_async *c, char *const argv[], char *err, size_t errlen)
{
	struct process_plan plan = PROCESS_PLAN_INIT;
	int fds[2];
	pid_t pid;
	/* Only lcrd's end is non-blocking: a command writing more than the pipe holds must
	 * wait for lcrd to read, not fail with EAGAIN. */
	if (pipe2(fds, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(errno));
		return -errno;
	}
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0) {
		int e = errno;
		close(fds[0]);
		close(fds[1]);
		snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(e));
		return -e;
	}
	plan.path = argv[0];
	plan.argv = argv;
	plan.stdout_fd = fds[1];
	plan.new_group = true;
	int rc = process_start(&plan, &pid, err, errlen);
	close(fds[1]);
	if (rc < 0) {
		close(fds[0]);
		if (rc == -ENOENT)
			snprintf(err, errlen, "%s is not in PATH", argv[0]);
		return rc == -ENOENT ? rc : -EIO;
	}
	c->out_fd = fds[0];
	c->watch.pid = pid;
	return 0;
}

/* Watches c's pipe, exit and timeout: 0 or -errno with err set. */
static int command_watch(struct command_async *c, char *err, size_t errlen)
{
	pid_t pid = c->watch.pid;
	int rc = pid_watch_start(&c->watch, c->loop, pid, command_exited, c);
	if (rc == 0)
		rc = loop_add_fd(c->loop, c->out_fd, POLLIN, output_ready, c);
	if (rc == 0)
		rc = loop_add_timer(c->loop, (uint64_t)c->timeout_ms, command_overdue, c, &c->timer);
	if (rc < 0)
		snprintf(err, errlen, "cannot watch %s (pid %d): %s", c->name, (int)pid,
			 strerror(-rc));
	c->watch.pid = pid; /* kept for command_stop even when the pidfd could not be opened */
	return rc;
}

int command_async_start(struct loop *loop, char *const argv[], int timeout_ms, size_t out_cap,
			command_async_done_cb done, void *arg, struct command_async **out,
			char *err, size_t errlen)
{
	struct command_async *c = calloc(1, sizeof(*c));
	int rc = -ENOMEM;
	snprintf(err, errlen, "cannot run %s: out of memory", argv[0]);
	if (!c || !(c->out = malloc(out_cap ? out_cap : 1)))
		goto out;
	*c = (struct command_async){ .loop = loop, .out_fd = -1, .timeout_ms = timeout_ms,
				     .out = c->out, .cap = out_cap ? out_cap : 1, .done = done,
				     .arg = arg };
	pid_watch_init(&c->watch);
	snprintf(c->name, sizeof(c->name), "%s", argv[0]);
	rc = command_spawn(c, argv, err, errlen);
	if (rc == 0)
		rc = command_watch(c, err, errlen);
	if (rc == 0) {
		*out = c;
		return 0;
	}
	command_stop(c);
out:
	if (c)
		command_free(c);
	return rc;
}

void command_async_cancel(struct command_async *c)
{
	command_stop(c);
	command_free(c);
}
