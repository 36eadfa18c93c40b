/* slurm_nodes.c: squeue for the job's nodes, then sinfo for the unusable ones, one after
 * the other from the event loop (see slurm_nodes.h). */
#include "config.h"

#include <stdio.h>

#include "loop/slurm_nodes.h"
#include "loop/slurm_query.h"

void slurm_nodes_init(struct slurm_nodes *s, struct loop *loop, uint32_t job_id,
		      slurm_nodes_cb answered, void *arg)
{
	*s = (struct slurm_nodes){ .loop = loop, .job_id = job_id, .answered = answered,
				   .arg = arg };
}

static void deliver(struct slurm_nodes *s)
{
	s->asking = false;
	s->answered(s->arg, s->have_job_nodes ? s->job_nodes : NULL, s->job_err,
		    s->have_unusable ? s->unusable : NULL);
}

static void deliver_due(struct loop *loop, void *arg)
{
	struct slurm_nodes *s = arg;
	(void)loop;
	s->deliver_timer = 0;
	deliver(s);
}

/* The answer is complete without a command running: told from the loop, as always. */
static void deliver_later(struct slurm_nodes *s)
{
	if (loop_add_timer(s->loop, 0, deliver_due, s, &s->deliver_timer) < 0) {
		s->deliver_timer = 0;
		s->asking = false; /* out of memory: the next ask starts again */
	}
}

static void sinfo_done(struct command_async *c, void *arg, int rc, char *out, const char *err)
{
	struct slurm_nodes *s = arg;
	(void)c;
	(void)err;
	s->command = NULL;
	if (rc == 0) {
		slurm_query_read_unusable(out);
		snprintf(s->unusable, sizeof(s->unusable), "%s", out);
		s->have_unusable = true;
	}
	deliver(s);
}

/* Asks sinfo about s->job_nodes; delivers the answer when it cannot run. */
static void ask_sinfo(struct slurm_nodes *s)
{
	struct slurm_query_command c;
	char err[256];
	if (s->job_nodes[0]) {
		slurm_query_unusable_command(&c, s->job_nodes);
		if (command_async_start(s->loop, c.argv, SLURM_QUERY_NODES_TIMEOUT_MS, sizeof(s->unusable),
					sinfo_done, s, &s->command, err, sizeof(err)) == 0)
			return;
	}
	deliver_later(s);
}

static void squeue_done(struct command_async *c, void *arg, int rc, char *out, const char *err)
{
	struct slurm_nodes *s = arg;
	(void)c;
	s->command = NULL;
	snprintf(s->job_err, sizeof(s->job_err), "%s", err);
	if (rc == 0 && slurm_query_read_job_nodes(out, s->job_id, s->job_err,
						  sizeof(s->job_err)) == 0) {
		snprintf(s->job_nodes, sizeof(s->job_nodes), "%s", out);
		s->have_job_nodes = true;
	}
	ask_sinfo(s);
}

void slurm_nodes_ask(struct slurm_nodes *s, const char *fallback)
{
	struct slurm_query_command c;
	if (s->asking)
		return;
	s->asking = true;
	s->have_job_nodes = s->have_unusable = false;
	s->job_err[0] = '\0';
	snprintf(s->job_nodes, sizeof(s->job_nodes), "%s", fallback ? fallback : "");
	slurm_query_job_nodes_command(&c, s->job_id);
	if (command_async_start(s->loop, c.argv, SLURM_QUERY_NODES_TIMEOUT_MS, sizeof(s->job_nodes),
				squeue_done, s, &s->command, s->job_err, sizeof(s->job_err)) < 0)
		ask_sinfo(s);
}

bool slurm_nodes_asking(const struct slurm_nodes *s)
{
	return s->asking;
}

void slurm_nodes_cancel(struct slurm_nodes *s)
{
	if (s->command)
		command_async_cancel(s->command);
	s->command = NULL;
	if (s->deliver_timer)
		loop_cancel_timer(s->loop, s->deliver_timer);
	s->deliver_timer = 0;
	s->asking = false;
}
