/* recovery_orphan.c: a former leader's orphaned replacement steps, found through Slurm and
 * cancelled before their spare is used again (see recovery_orphan.h). Each spare moves
 * ASKING -> (gone | UNKNOWN | CANCELLING -> gone) as the answers of its commands come in;
 * command_done finds the spare a command was run for and hands the answer on by state. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/recovery_orphan.h"
#include "internal/util.h"
#include "loop/log.h"
#include "loop/slurm_query.h"

static uint64_t now_ms(void)
{
	return util_now_ns() / 1000000;
}

static struct recovery_orphan *find(const struct recovery_orphans *o, const char *spare)
{
	for (size_t i = 0; i < o->count; i++)
		if (strcmp(o->list[i].spare, spare) == 0)
			return &o->list[i];
	return NULL;
}

/* "J.S1, J.S2" of the orphan's steps into buf. */
static void format_steps(const struct recovery_orphans *o, const struct recovery_orphan *x,
			 char *buf, size_t cap)
{
	size_t len = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < x->step_count && len + 1 < cap; i++) {
		int n = snprintf(buf + len, cap - len, "%s%" PRIu32 ".%" PRIu32, i ? ", " : "",
				 o->job_id, x->steps[i]);
		len += n > 0 ? (size_t)n : 0;
	}
}

void recovery_orphans_init(struct recovery_orphans *o, struct loop *loop, uint32_t job_id,
			   uint32_t step_id, uint32_t wait_ms, recovery_orphans_settled_cb settled,
			   void *arg)
{
	*o = (struct recovery_orphans){ .loop = loop, .job_id = job_id, .step_id = step_id,
					.wait_ms = wait_ms, .settled = settled, .arg = arg };
}

static void command_done(struct command_async *c, void *arg, int rc, char *out,
			 const char *err);

/* Runs argv for x as its one command: 0, or -errno with err set (nothing runs). */
static int run_for(struct recovery_orphans *o, struct recovery_orphan *x, char *const argv[],
		   size_t out_cap, char *err, size_t errlen)
{
	return command_async_start(o->loop, argv, SLURM_QUERY_ORPHAN_TIMEOUT_MS, out_cap,
				   command_done, o, &x->command, err, errlen);
}

static size_t index_of(const struct recovery_orphans *o, const struct recovery_orphan *x)
{
	return (size_t)(x - o->list);
}

/* Takes the entry at i out of the list. */
static void remove_at(struct recovery_orphans *o, size_t i)
{
	memmove(&o->list[i], &o->list[i + 1], (o->count - i - 1) * sizeof(o->list[0]));
	o->count--;
}

/* Takes x out of the list and tells the owner whether its spare is usable. */
static void settle(struct recovery_orphans *o, struct recovery_orphan *x, bool usable)
{
	char spare[HOSTLIST_NAME_MAX + 1];
	util_format_text(spare, sizeof(spare), "%s", x->spare);
	remove_at(o, index_of(o, x));
	o->settled(o->arg, spare, usable);
}

static void poll_due(struct loop *loop, void *arg);

/* Asks again in RECOVERY_ORPHAN_POLL_MS while a spare waits for its cancelled steps. */
static void arm_poll(struct recovery_orphans *o)
{
	bool waiting = false;
	for (size_t i = 0; i < o->count; i++)
		waiting |= o->list[i].state == RECOVERY_ORPHAN_CANCELLING;
	if (!o->poll_timer && waiting &&
	    loop_add_timer(o->loop, RECOVERY_ORPHAN_POLL_MS, poll_due, o, &o->poll_timer) < 0)
		o->poll_timer = 0;
}

/* Every step of x has been handed to scancel: logs it, and waits for their end. */
static void steps_cancelled(struct recovery_orphans *o, struct recovery_orphan *x)
{
	char steps[256];
	x->cancelled = true;
	format_steps(o, x, steps, sizeof(steps));
	log_info("spare %s: the replacement step%s %s the former leader launched %s cancelled; "
		 "%s is used again once Slurm lists %s gone (up to %" PRIu32 " s)", x->spare,
		 x->step_count == 1 ? "" : "s", steps, x->step_count == 1 ? "was" : "were",
		 x->spare, x->step_count == 1 ? "it" : "them", o->wait_ms / 1000);
	arm_poll(o);
}

static void cancel_failed(struct recovery_orphans *o, struct recovery_orphan *x,
			  const char *err)
{
	log_warning("spare %s: cannot cancel the replacement step %" PRIu32 ".%" PRIu32
		    " the former leader launched: %s", x->spare, o->job_id,
		    x->steps[x->cancels_run - 1], err);
}

/* Runs scancel for x's next step, one after the other; once each has run, steps_cancelled. */
static void cancel_next(struct recovery_orphans *o, struct recovery_orphan *x)
{
	char err[256];
	struct slurm_query_command c;
	while (x->cancels_run < x->step_count) {
		slurm_query_cancel_command(&c, o->job_id, x->steps[x->cancels_run++]);
		if (run_for(o, x, c.argv, 256, err, sizeof(err)) == 0)
			return;
		cancel_failed(o, x, err);
	}
	steps_cancelled(o, x);
}

/* Runs squeue --steps for x: 0, or -errno with err set. */
static int ask_steps(struct recovery_orphans *o, struct recovery_orphan *x, char *err,
		     size_t errlen)
{
	struct slurm_query_command c;
	slurm_query_steps_command(&c, o->job_id);
	return run_for(o, x, c.argv, SLURM_QUERY_STEPS_OUT_MAX, err, errlen);
}

static void mark_unknown(struct recovery_orphan *x, const char *err)
{
	x->state = RECOVERY_ORPHAN_UNKNOWN;
	log_warning("cannot ask Slurm for the steps on spare %s (%s): it is tried after every "
		    "other spare", x->spare, err);
}

/* The first answer about x: its steps there (rc 0) or none to be had. */
static void first_answer(struct recovery_orphans *o, struct recovery_orphan *x, int rc,
			 char *out, const char *err)
{
	if (rc < 0) {
		char spare[HOSTLIST_NAME_MAX + 1];
		util_format_text(spare, sizeof(spare), "%s", x->spare);
		mark_unknown(x, err);
		o->settled(o->arg, spare, true);
		return;
	}
	slurm_query_read_steps(out, o->job_id, o->step_id, x->spare, x->steps,
			       RECOVERY_ORPHAN_STEPS_MAX, &x->step_count);
	if (x->step_count == 0) {
		log_info("spare %s: Slurm lists no step of job %" PRIu32 " on it (the former "
			 "leader's srun died before its step was created): a spare like the others",
			 x->spare, o->job_id);
		settle(o, x, true);
		return;
	}
	x->state = RECOVERY_ORPHAN_CANCELLING;
	x->deadline_ms = now_ms() + o->wait_ms;
	cancel_next(o, x);
}

/* A later answer about x, whose steps were cancelled: settled once they are gone (usable)
 * or past its deadline (not). */
static void poll_answer(struct recovery_orphans *o, struct recovery_orphan *x, int rc,
			char *out)
{
	char steps[256];
	uint32_t left[RECOVERY_ORPHAN_STEPS_MAX];
	size_t count = 0;
	if (rc == 0)
		slurm_query_read_steps(out, o->job_id, o->step_id, x->spare, left,
				       RECOVERY_ORPHAN_STEPS_MAX, &count);
	format_steps(o, x, steps, sizeof(steps));
	if (rc == 0 && count == 0) {
		log_info("spare %s: the cancelled step%s %s %s gone: a spare like the others again",
			 x->spare, x->step_count == 1 ? "" : "s", steps,
			 x->step_count == 1 ? "is" : "are");
		settle(o, x, true);
		return;
	}
	if (now_ms() < x->deadline_ms)
		return;
	log_warning("spare %s: %s %" PRIu32 " s after the cancel of %s: %s is not used",
		    x->spare, rc < 0 ? "Slurm cannot be asked" : "a step still runs there",
		    o->wait_ms / 1000, steps, x->spare);
	settle(o, x, false);
}

static void command_done(struct command_async *c, void *arg, int rc, char *out,
			 const char *err)
{
	struct recovery_orphans *o = arg;
	struct recovery_orphan *x = NULL;
	for (size_t i = 0; i < o->count && !x; i++)
		if (o->list[i].command == c)
			x = &o->list[i];
	if (!x)
		return;
	x->command = NULL;
	if (x->state == RECOVERY_ORPHAN_ASKING)
		first_answer(o, x, rc, out, err);
	else if (!x->cancelled) {
		if (rc < 0)
			cancel_failed(o, x, err);
		cancel_next(o, x);
	} else
		poll_answer(o, x, rc, out);
}

static void poll_due(struct loop *loop, void *arg)
{
	struct recovery_orphans *o = arg;
	char err[256];
	(void)loop;
	o->poll_timer = 0;
	for (size_t i = 0; i < o->count;) {
		struct recovery_orphan *x = &o->list[i];
		size_t before = o->count;
		if (x->state == RECOVERY_ORPHAN_CANCELLING && x->cancelled && !x->command &&
		    ask_steps(o, x, err, sizeof(err)) < 0)
			poll_answer(o, x, -EIO, NULL);
		i += o->count == before;
	}
	arm_poll(o);
}

/* Room for one more entry: 0 or -ENOMEM. */
static int grow(struct recovery_orphans *o)
{
	if (o->count < o->cap)
		return 0;
	size_t cap = o->cap ? o->cap * 2 : 4;
	void *p = realloc(o->list, cap * sizeof(o->list[0]));
	if (!p)
		return -ENOMEM;
	o->list = p;
	o->cap = cap;
	return 0;
}

void recovery_orphans_add(struct recovery_orphans *o, const char *spare)
{
	char err[256];
	if (find(o, spare))
		return;
	if (grow(o) < 0) {
		log_error("cannot remember the spare %s of the former leader: out of memory", spare);
		return;
	}
	struct recovery_orphan *x = &o->list[o->count++];
	*x = (struct recovery_orphan){ .state = RECOVERY_ORPHAN_ASKING };
	util_format_text(x->spare, sizeof(x->spare), "%s", spare);
	if (ask_steps(o, x, err, sizeof(err)) < 0)
		mark_unknown(x, err); /* told at once: no one waits for it yet */
}

bool recovery_orphans_busy(const struct recovery_orphans *o, const char *spare)
{
	const struct recovery_orphan *x = find(o, spare);
	return x && x->state != RECOVERY_ORPHAN_UNKNOWN;
}

bool recovery_orphans_tried_last(const struct recovery_orphans *o, const char *spare)
{
	const struct recovery_orphan *x = find(o, spare);
	return x && x->state == RECOVERY_ORPHAN_UNKNOWN;
}

size_t recovery_orphans_busy_count(const struct recovery_orphans *o)
{
	size_t n = 0;
	for (size_t i = 0; i < o->count; i++)
		n += o->list[i].state != RECOVERY_ORPHAN_UNKNOWN;
	return n;
}

void recovery_orphans_clear(struct recovery_orphans *o)
{
	for (size_t i = 0; i < o->count; i++)
		if (o->list[i].command)
			command_async_cancel(o->list[i].command);
	if (o->poll_timer)
		loop_cancel_timer(o->loop, o->poll_timer);
	o->poll_timer = 0;
	o->count = 0;
}

void recovery_orphans_fini(struct recovery_orphans *o)
{
	recovery_orphans_clear(o);
	free(o->list);
	o->list = NULL;
	o->cap = 0;
}
