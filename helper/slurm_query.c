/* slurm_query.c: bounded runs of squeue, sinfo and scancel for lcrd (see slurm_query.h),
 * started with process_start. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal/process_start.h"
#include "slurm_query.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
	struct process_plan plan = PROCESS_PLAN_INIT;
	int fds[2], status = 0, rc;
	int64_t deadline = now_ms() + timeout_ms;
	size_t used = 0;
	pid_t pid;

	if (cap == 0 || pipe2(fds, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot run %s: %s", argv[0], cap ? strerror(errno) : "no room for its output");
		return cap ? -errno : -EINVAL;
	}
	plan.path = argv[0];
	plan.argv = argv;
	plan.stdout_fd = fds[1];
	rc = process_start(&plan, &pid, err, errlen);
	close(fds[1]);
	if (rc < 0) {
		close(fds[0]);
		if (rc == -ENOENT)
			snprintf(err, errlen, "%s is not in PATH", argv[0]);
		return rc == -ENOENT ? rc : -EIO;
	}
	rc = read_until(fds[0], deadline, out, cap, &used);
	close(fds[0]);
	if (process_wait(pid, rc == -ETIMEDOUT ? 0 : (int)(deadline > now_ms() ? deadline - now_ms() : 0),
			 false, &status) == -ETIMEDOUT)
		rc = -ETIMEDOUT;
	out[used] = '\0';
	while (used && (out[used - 1] == '\n' || out[used - 1] == ' '))
		out[--used] = '\0';
	if (rc == -ETIMEDOUT) {
		snprintf(err, errlen, "%s did not answer within %d ms", argv[0], timeout_ms);
		return rc;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "%s failed (wait status %d)", argv[0], status);
		return -EIO;
	}
	return rc;
}

void slurm_query_job_nodes_command(struct slurm_query_command *c, uint32_t job_id)
{
	*c = (struct slurm_query_command){ .argv = { "squeue", "--noheader", "--jobs", c->value,
						     "--format=%N", NULL } };
	snprintf(c->value, sizeof(c->value), "%" PRIu32, job_id);
}

int slurm_query_read_job_nodes(const char *out, uint32_t job_id, char *err, size_t errlen)
{
	if (out[0] && !strchr(out, '\n'))
		return 0;
	snprintf(err, errlen, "squeue printed no single node list for job %" PRIu32, job_id);
	return -ENODATA;
}

int slurm_query_job_nodes(uint32_t job_id, char *out, size_t cap, char *err, size_t errlen)
{
	struct slurm_query_command c;
	slurm_query_job_nodes_command(&c, job_id);
	int rc = slurm_query_run(c.argv, SLURM_QUERY_TIMEOUT_MS, out, cap, err, errlen);
	return rc < 0 ? rc : slurm_query_read_job_nodes(out, job_id, err, errlen);
}

void slurm_query_unusable_command(struct slurm_query_command *c, const char *nodes)
{
	*c = (struct slurm_query_command){ .argv = { "sinfo", "--noheader", "--Node", "--nodes",
						     (char *)nodes,
						     "--states=down,drained,draining,fail,failing,no_respond",
						     "--format=%N", NULL } };
}

void slurm_query_read_unusable(char *out)
{
	for (char *c = out; *c; c++)
		if (*c == '\n')
			*c = ',';
}

int slurm_query_unusable_nodes(const char *nodes, char *out, size_t cap, char *err, size_t errlen)
{
	struct slurm_query_command c;
	slurm_query_unusable_command(&c, nodes);
	int rc = slurm_query_run(c.argv, SLURM_QUERY_TIMEOUT_MS, out, cap, err, errlen);
	if (rc == 0)
		slurm_query_read_unusable(out);
	return rc;
}

/* Whether the squeue line "JOB.STEP NODES" is a numbered step of job_id other than
 * except_step, run on node alone; its step id into *step. squeue names the job as its
 * users know it: "7", or "100_3" for an array's task and "7+0" for a heterogeneous job's
 * part, whose own id it does not print (squeue was asked for job_id's steps only: those are
 * taken); the step is the number after the id's last dot ("batch", "extern" and
 * "interactive" are not numbered). */
static bool step_line_on_node(const char *line, uint32_t job_id, uint32_t except_step,
			      const char *node, uint32_t *step)
{
	const char *space = strchr(line, ' '), *dot = NULL;
	for (const char *c = line; space && c < space; c++)
		if (*c == '.')
			dot = c;
	if (!dot || dot == line || !isdigit((unsigned char)dot[1]))
		return false;
	char *end;
	errno = 0;
	unsigned long job = strtoul(line, &end, 10);
	if (end == dot && (errno || job != job_id))
		return false; /* a plain job id: it must be this job's */
	if (end != dot && *end != '_' && *end != '+')
		return false;
	errno = 0;
	unsigned long id = strtoul(dot + 1, &end, 10);
	if (errno || *end != ' ' || id > UINT32_MAX || id == except_step)
		return false;
	while (*end == ' ')
		end++;
	*step = (uint32_t)id;
	return strcmp(end, node) == 0;
}

void slurm_query_steps_command(struct slurm_query_command *c, uint32_t job_id)
{
	*c = (struct slurm_query_command){ .argv = { "squeue", "--noheader", "--steps", c->value,
						     "--format=%i %N", NULL } };
	snprintf(c->value, sizeof(c->value), "--jobs=%" PRIu32, job_id);
}

void slurm_query_read_steps(char *out, uint32_t job_id, uint32_t except_step, const char *node,
			    uint32_t *steps, size_t cap, size_t *count)
{
	char *save = NULL;
	*count = 0;
	for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		uint32_t step;
		while (*line == ' ')
			line++;
		if (step_line_on_node(line, job_id, except_step, node, &step) && *count < cap)
			steps[(*count)++] = step;
	}
}

int slurm_query_steps_on_node(uint32_t job_id, uint32_t except_step, const char *node,
			      uint32_t *steps, size_t cap, size_t *count, char *err, size_t errlen)
{
	struct slurm_query_command c;
	char out[SLURM_QUERY_STEPS_OUT_MAX];
	*count = 0;
	slurm_query_steps_command(&c, job_id);
	int rc = slurm_query_run(c.argv, SLURM_QUERY_TIMEOUT_MS, out, sizeof(out), err, errlen);
	if (rc == 0)
		slurm_query_read_steps(out, job_id, except_step, node, steps, cap, count);
	return rc;
}

void slurm_query_cancel_command(struct slurm_query_command *c, uint32_t job_id,
				uint32_t step_id)
{
	*c = (struct slurm_query_command){ .argv = { "scancel", "--quiet", c->value, NULL } };
	snprintf(c->value, sizeof(c->value), "%" PRIu32 ".%" PRIu32, job_id, step_id);
}

int slurm_query_cancel_step(uint32_t job_id, uint32_t step_id, char *err, size_t errlen)
{
	struct slurm_query_command c;
	char out[256];
	slurm_query_cancel_command(&c, job_id, step_id);
	return slurm_query_run(c.argv, SLURM_QUERY_TIMEOUT_MS, out, sizeof(out), err, errlen);
}
