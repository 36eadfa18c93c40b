/* slurm_query.c: the argv of the Slurm commands lcrd runs (squeue, sinfo, scancel) and the
 * readers of their output (see slurm_query.h); command_async.c runs them. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop/slurm_query.h"

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

void slurm_query_cancel_command(struct slurm_query_command *c, uint32_t job_id,
				uint32_t step_id)
{
	*c = (struct slurm_query_command){ .argv = { "scancel", "--quiet", c->value, NULL } };
	snprintf(c->value, sizeof(c->value), "%" PRIu32 ".%" PRIu32, job_id, step_id);
}
