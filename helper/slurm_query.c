/* slurm_query.c: bounded runs of squeue and sinfo for lcrd (see slurm_query.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "slurm_query.h"

/* lcrd asks from its event loop: short, or heartbeats would be late. */
#define SLURM_QUERY_TIMEOUT_MS 1000

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void exec_child(char *const argv[], int out_fd)
{
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
	    dup2(null_fd, STDERR_FILENO) < 0)
		_exit(126);
	execvp(argv[0], argv);
	_exit(errno == ENOENT ? 127 : 126);
}

/* Reads the child's stdout until EOF or the deadline. */
static int read_until(int fd, int64_t deadline, char *out, size_t cap, size_t *used)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (left <= 0)
			return -ETIMEDOUT;
		int rc = poll(&pfd, 1, (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -errno;
		if (rc == 0)
			return -ETIMEDOUT;
		char scratch[512];
		ssize_t n = read(fd, *used + 1 < cap ? out + *used : scratch,
				 *used + 1 < cap ? cap - 1 - *used : sizeof(scratch));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : 0;
		if (*used + 1 < cap)
			*used += (size_t)n;
	}
}

int slurm_query_run(char *const argv[], int timeout_ms, char *out, size_t cap, char *err, size_t errlen)
{
	int fds[2], status = 0;
	size_t used = 0;
	pid_t pid;

	if (cap == 0 || pipe2(fds, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot run %s: %s", argv[0], cap ? strerror(errno) : "no room for its output");
		return cap ? -errno : -EINVAL;
	}
	pid = fork();
	if (pid < 0) {
		int rc = -errno;
		close(fds[0]);
		close(fds[1]);
		snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(-rc));
		return rc;
	}
	if (pid == 0)
		exec_child(argv, fds[1]);
	close(fds[1]);
	int rc = read_until(fds[0], now_ms() + timeout_ms, out, cap, &used);
	close(fds[0]);
	if (rc == -ETIMEDOUT)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	out[used] = '\0';
	while (used && (out[used - 1] == '\n' || out[used - 1] == ' '))
		out[--used] = '\0';
	if (rc == -ETIMEDOUT) {
		snprintf(err, errlen, "%s did not answer within %d ms", argv[0], timeout_ms);
		return rc;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		snprintf(err, errlen, "%s is not in PATH", argv[0]);
		return -ENOENT;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "%s failed (wait status %d)", argv[0], status);
		return -EIO;
	}
	return rc;
}

int slurm_query_job_nodes(uint32_t job_id, char *out, size_t cap, char *err, size_t errlen)
{
	char job[16];
	char *const argv[] = { "squeue", "--noheader", "--jobs", job, "--format=%N", NULL };
	int rc;

	snprintf(job, sizeof(job), "%" PRIu32, job_id);
	rc = slurm_query_run(argv, SLURM_QUERY_TIMEOUT_MS, out, cap, err, errlen);
	if (rc == 0 && (!out[0] || strchr(out, '\n'))) {
		snprintf(err, errlen, "squeue printed no single node list for job %" PRIu32, job_id);
		return -ENODATA;
	}
	return rc;
}

int slurm_query_unusable_nodes(const char *nodes, char *out, size_t cap, char *err, size_t errlen)
{
	char *const argv[] = { "sinfo", "--noheader", "--Node", "--nodes", (char *)nodes,
			       "--states=down,drained,draining,fail,failing,no_respond", "--format=%N", NULL };
	int rc = slurm_query_run(argv, SLURM_QUERY_TIMEOUT_MS, out, cap, err, errlen);

	for (char *c = out; rc == 0 && *c; c++)
		if (*c == '\n')
			*c = ',';
	return rc;
}
