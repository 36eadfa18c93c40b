/* recovery_orphan.c: a former leader's orphaned replacement steps, found through Slurm and
 * cancelled before their spare is used again (see recovery_orphan.h). */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/util.h"
#include "log.h"
#include "recovery_orphan.h"
#include "slurm_query.h"

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

static void poll_due(struct loop *loop, void *arg);

static void arm_poll(struct recovery_orphans *o)
{
	if (!o->poll_timer && recovery_orphans_cancelling(o) &&
	    loop_add_timer(o->loop, RECOVERY_ORPHAN_POLL_MS, poll_due, o, &o->poll_timer) < 0)
		o->poll_timer = 0;
}

/* Cancels x's steps, each logged; x waits for their end. */
static void cancel_steps(struct recovery_orphans *o, struct recovery_orphan *x)
{
	char err[256], steps[256];
	x->state = RECOVERY_ORPHAN_CANCELLING;
	x->deadline_ms = now_ms() + o->wait_ms;
	for (size_t i = 0; i < x->step_count; i++)
		if (slurm_query_cancel_step(o->job_id, x->steps[i], err, sizeof(err)) < 0)
			log_warning("spare %s: cannot cancel the replacement step %" PRIu32 ".%" PRIu32
				    " the former leader launched: %s", x->spare, o->job_id,
				    x->steps[i], err);
	format_steps(o, x, steps, sizeof(steps));
	log_info("spare %s: the replacement step%s %s the former leader launched %s cancelled; "
		 "%s is used again once Slurm lists %s gone (up to %" PRIu32 " s)", x->spare,
		 x->step_count == 1 ? "" : "s", steps, x->step_count == 1 ? "was" : "were",
		 x->spare, x->step_count == 1 ? "it" : "them", o->wait_ms / 1000);
	arm_poll(o);
}

/* Takes the entry at i out of the list. */
static void remove_at(struct recovery_orphans *o, size_t i)
{
	memmove(&o->list[i], &o->list[i + 1], (o->count - i - 1) * sizeof(o->list[0]));
	o->count--;
}

void recovery_orphans_add(struct recovery_orphans *o, const char *spare)
{
	char err[256];
	uint32_t steps[RECOVERY_ORPHAN_STEPS_MAX];
	size_t count = 0;
	if (find(o, spare))
		return;
	int rc = slurm_query_steps_on_node(o->job_id, o->step_id, spare, steps,
					   RECOVERY_ORPHAN_STEPS_MAX, &count, err, sizeof(err));
	if (rc == 0 && count == 0) {
		log_info("spare %s: Slurm lists no step of job %" PRIu32 " on it (the former "
			 "leader's srun died before its step was created): a spare like the others",
			 spare, o->job_id);
		return;
	}
	if (o->count == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 4;
		void *p = realloc(o->list, cap * sizeof(o->list[0]));
		if (!p) {
			log_error("cannot remember the spare %s of the former leader: out of memory",
				  spare);
			return;
		}
		o->list = p;
		o->cap = cap;
	}
	struct recovery_orphan *x = &o->list[o->count++];
	*x = (struct recovery_orphan){ .state = RECOVERY_ORPHAN_UNKNOWN };
	util_format_text(x->spare, sizeof(x->spare), "%s", spare);
	if (rc < 0) {
		log_warning("cannot ask Slurm for the steps on spare %s (%s): it is tried after "
			    "every other spare", spare, err);
		return;
	}
	memcpy(x->steps, steps, count * sizeof(steps[0]));
	x->step_count = count;
	cancel_steps(o, x);
}

/* Whether x is settled now: its steps gone (usable) or past its deadline (not). */
static bool settle(struct recovery_orphans *o, struct recovery_orphan *x, bool *usable)
{
	char err[256], steps[256];
	uint32_t left[RECOVERY_ORPHAN_STEPS_MAX];
	size_t count = 0;
	int rc = slurm_query_steps_on_node(o->job_id, o->step_id, x->spare, left,
					   RECOVERY_ORPHAN_STEPS_MAX, &count, err, sizeof(err));
	format_steps(o, x, steps, sizeof(steps));
	if (rc == 0 && count == 0) {
		log_info("spare %s: the cancelled step%s %s %s gone: a spare like the others again",
			 x->spare, x->step_count == 1 ? "" : "s", steps,
			 x->step_count == 1 ? "is" : "are");
		*usable = true;
		return true;
	}
	if (now_ms() < x->deadline_ms)
		return false;
	log_warning("spare %s: %s %" PRIu32 " s after the cancel of %s: %s is not used",
		    x->spare, rc < 0 ? "Slurm cannot be asked" : "a step still runs there",
		    o->wait_ms / 1000, steps, x->spare);
	*usable = false;
	return true;
}

static void poll_due(struct loop *loop, void *arg)
{
	struct recovery_orphans *o = arg;
	(void)loop;
	o->poll_timer = 0;
	for (size_t i = 0; i < o->count;) {
		struct recovery_orphan *x = &o->list[i];
		bool usable = false;
		if (x->state != RECOVERY_ORPHAN_CANCELLING || !settle(o, x, &usable)) {
			i++;
			continue;
		}
		char spare[HOSTLIST_NAME_MAX + 1];
		util_format_text(spare, sizeof(spare), "%s", x->spare);
		remove_at(o, i);
		o->settled(o->arg, spare, usable);
	}
	arm_poll(o);
}

bool recovery_orphans_busy(const struct recovery_orphans *o, const char *spare)
{
	const struct recovery_orphan *x = find(o, spare);
	return x && x->state == RECOVERY_ORPHAN_CANCELLING;
}

bool recovery_orphans_tried_last(const struct recovery_orphans *o, const char *spare)
{
	const struct recovery_orphan *x = find(o, spare);
	return x && x->state == RECOVERY_ORPHAN_UNKNOWN;
}

size_t recovery_orphans_cancelling(const struct recovery_orphans *o)
{
	size_t n = 0;
	for (size_t i = 0; i < o->count; i++)
		n += o->list[i].state == RECOVERY_ORPHAN_CANCELLING;
	return n;
}

void recovery_orphans_clear(struct recovery_orphans *o)
{
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
