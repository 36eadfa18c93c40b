/* recovery_timeline.c: every helper's own timing of a recovery (see recovery_timeline.h).
 * Bookkeeping from the events this helper applies and the fills its restore reports; the
 * first step after a recovery is seen on the ranks' control pages, polled while it is
 * awaited. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "services/recovery_timeline.h"
#include "internal/util.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "loop/loop.h"
#include "mesh/mesh.h"
#include "services/tasks.h"

#define FIRST_STEP_POLL_MS 20
#define FIRST_STEP_WAIT_NS (600ull * 1000000000ull) /* then the timeline ends without it */

struct recovery_timeline {
	struct lcrd *d;
	bool active;            /* a recovery is being timed */
	bool replacement;       /* this helper replaces a node (--rejoin) */
	uint32_t node;          /* a survivor's: the node whose NODE_DOWN began it */
	char name[WIRE_NODE_NAME_MAX + 1];
	uint32_t more_down;     /* nodes that went down after it, before the join */
	uint64_t start_ns;      /* a survivor's: that NODE_DOWN; a replacement's: its start */
	uint64_t replacing_ns;  /* the first REPLACING after it */
	uint64_t joined_ns;     /* the NODE_JOINED that left no node down */
	uint64_t filled_ns;     /* a replacement's: its last region filled */
	uint64_t fill_bytes;
	unsigned fill_regions;
	unsigned fill_peers;    /* the most peers one region was filled from */
	uint64_t resume_step;   /* a survivor's: the REPLACING's rollback step, or WIRE_NO_STEP */
	uint64_t baseline_step; /* the first step committed after it ends the timeline */
	bool await_rollback;    /* the pages must first show the baseline (rolled back to it) */
	uint64_t watch_timer;   /* polls the control pages, or 0 */
	uint64_t watch_since_ns;
};

static double since(const struct recovery_timeline *t, uint64_t ns)
{
	return (double)(ns - t->start_ns) / 1e9;
}

/* " phase +S.sss s" for a phase reached at ns (0: not reached), appended at *used. */
static void add_phase(char *buf, size_t cap, size_t *used, const struct recovery_timeline *t,
		      const char *phase, uint64_t ns)
{
	if (!ns || *used >= cap)
		return;
	int n = snprintf(buf + *used, cap - *used, "%s%s +%.3f s", *used ? ", " : "", phase,
			 since(t, ns));
	*used += n > 0 ? (size_t)n : 0;
}

static void stop_watching(struct recovery_timeline *t)
{
	if (t->watch_timer)
		loop_cancel_timer(t->d->loop, t->watch_timer);
	t->watch_timer = 0;
}

/* Writes t's timeline to the log and the event log, and ends it. ended: how it ended
 * ("first step 43 committed here", "recovery failed"...). */
static void emit(struct recovery_timeline *t, const char *ended, uint64_t ended_ns)
{
	struct mesh *m = mesh_of(t->d);
	char phases[160] = "", message[WIRE_TEXT_MAX + 1], size[32];
	size_t used = 0;
	if (t->replacement) {
		add_phase(phases, sizeof(phases), &used, t, "ranks' state filled", t->filled_ns);
		add_phase(phases, sizeof(phases), &used, t, ended, ended_ns);
		util_format_text(message, sizeof(message), "this helper replaced node %" PRIu32
				 ": %s after it started; %s in %u region%s from %u peer%s",
				 m ? mesh_self(m) : 0, phases, util_format_size(t->fill_bytes, size,
									  sizeof(size)),
				 t->fill_regions, t->fill_regions == 1 ? "" : "s", t->fill_peers,
				 t->fill_peers == 1 ? "" : "s");
	} else {
		add_phase(phases, sizeof(phases), &used, t, "spare launched", t->replacing_ns);
		add_phase(phases, sizeof(phases), &used, t, "joined", t->joined_ns);
		add_phase(phases, sizeof(phases), &used, t, ended, ended_ns);
		char more[48] = "";
		if (t->more_down)
			util_format_text(more, sizeof(more), " (and %" PRIu32 " more node%s down)",
					 t->more_down, t->more_down == 1 ? "" : "s");
		util_format_text(message, sizeof(message), "recovery of node %s (%" PRIu32 ")%s: %s "
				 "after its NODE_DOWN", t->name, t->node, more, phases);
	}
	log_info("recovery timeline: %s", message);
	if (m)
		mesh_log_local(m, WIRE_EVENT_RECOVERY_TIMELINE,
			       t->replacement ? mesh_self(m) : t->node, WIRE_NO_RANK, 0, 0,
			       message);
	stop_watching(t);
	*t = (struct recovery_timeline){ .d = t->d }; /* later failures: timed as a survivor */
}

/* The lowest committed step of the local ranks, or WIRE_NO_STEP when one has none (or
 * there is no rank). */
static uint64_t lowest_committed(struct lcrd *d)
{
	uint64_t lowest = WIRE_NO_STEP;
	size_t count = tasks_count(d->tasks);
	for (size_t i = 0; i < count; i++) {
		uint64_t step;
		uint16_t phase;
		tasks_read_marks(tasks_at(d->tasks, i), &step, &phase);
		if (step == WIRE_NO_STEP)
			return WIRE_NO_STEP;
		if (lowest == WIRE_NO_STEP || step < lowest)
			lowest = step;
	}
	return lowest;
}

/* The highest committed step of the local ranks, or WIRE_NO_STEP when none has one. */
static uint64_t highest_committed(struct lcrd *d)
{
	uint64_t highest = WIRE_NO_STEP;
	size_t count = tasks_count(d->tasks);
	for (size_t i = 0; i < count; i++) {
		uint64_t step;
		uint16_t phase;
		tasks_read_marks(tasks_at(d->tasks, i), &step, &phase);
		if (step != WIRE_NO_STEP && (highest == WIRE_NO_STEP || step > highest))
			highest = step;
	}
	return highest;
}

static void poll_first_step(struct loop *loop, void *arg)
{
	struct recovery_timeline *t = arg;
	t->watch_timer = 0;
	uint64_t now = util_now_ns();
	uint64_t lowest = lowest_committed(t->d);
	if (t->await_rollback && lowest != WIRE_NO_STEP && lowest <= t->baseline_step)
		t->await_rollback = false;
	if (!t->await_rollback && lowest != WIRE_NO_STEP &&
	    (t->baseline_step == WIRE_NO_STEP || lowest > t->baseline_step)) {
		char ended[48];
		util_format_text(ended, sizeof(ended), "first step (%" PRIu64 ") committed here",
				 lowest);
		emit(t, ended, now);
		return;
	}
	if (now - t->watch_since_ns > FIRST_STEP_WAIT_NS) {
		emit(t, "no step committed here since", now);
		return;
	}
	if (loop_add_timer(loop, FIRST_STEP_POLL_MS, poll_first_step, t, &t->watch_timer) < 0)
		emit(t, "first step not watched (out of memory)", now);
}

/* Awaits the first step the local ranks all commit after `baseline`. */
static void watch_first_step(struct recovery_timeline *t, uint64_t baseline)
{
	t->baseline_step = baseline;
	if (t->watch_timer)
		return;
	t->watch_since_ns = util_now_ns();
	if (loop_add_timer(t->d->loop, FIRST_STEP_POLL_MS, poll_first_step, t, &t->watch_timer) < 0)
		emit(t, "first step not watched (out of memory)", t->watch_since_ns);
}

static void begin(struct recovery_timeline *t, struct mesh *m, uint32_t node)
{
	*t = (struct recovery_timeline){ .d = t->d, .active = true, .node = node,
					 .start_ns = util_now_ns(), .resume_step = WIRE_NO_STEP };
	util_format_text(t->name, sizeof(t->name), "%s",
			 node < mesh_node_count(m) ? mesh_node_name(m, node) : "?");
}

static void event_applied(struct mesh *m, const struct wire_mesh_event *ev, void *arg)
{
	struct recovery_timeline *t = arg;
	if (t->replacement)
		return;
	uint64_t now = util_now_ns();
	switch (ev->type) {
	case WIRE_EVENT_NODE_DOWN:
		if (ev->node == mesh_self(m))
			return;
		if (t->active && t->joined_ns)
			emit(t, "interrupted by another NODE_DOWN", now);
		if (t->active)
			t->more_down++;
		else
			begin(t, m, ev->node);
		break;
	case WIRE_EVENT_REPLACING:
		if (t->active && !t->replacing_ns)
			t->replacing_ns = now;
		if (t->active && ev->resume_step != WIRE_NO_STEP)
			t->resume_step = ev->resume_step;
		break;
	case WIRE_EVENT_NODE_JOINED:
		if (!t->active || mesh_nodes_down(m) > 0)
			return;
		t->joined_ns = now;
		/* Rolled back to a protected step: the ranks commit again from the step after it,
		 * once their pages show it (a rank's page may still show a later step while its
		 * rollback waits). */
		t->await_rollback = t->resume_step != WIRE_NO_STEP;
		watch_first_step(t, t->resume_step != WIRE_NO_STEP ? t->resume_step :
								 highest_committed(mesh_lcrd(m)));
		break;
	case WIRE_EVENT_RECOVERY_FAILED:
		if (t->active)
			emit(t, "recovery failed", now);
		break;
	default:
		break;
	}
}

void recovery_timeline_on_fill(struct lcrd *d, uint64_t bytes, uint64_t step, unsigned peers)
{
	struct recovery_timeline *t = d->timeline;
	if (!t || !t->replacement)
		return;
	t->filled_ns = util_now_ns();
	t->fill_bytes += bytes;
	t->fill_regions++;
	if (peers > t->fill_peers)
		t->fill_peers = peers;
	watch_first_step(t, step);
}

int recovery_timeline_create(struct lcrd *d)
{
	struct recovery_timeline *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->d = d;
	if (d->opt.rejoin) {
		t->active = t->replacement = true;
		t->start_ns = util_now_ns();
	}
	d->timeline = t;
	return mesh_subscribe(d, event_applied, t);
}

void recovery_timeline_destroy(struct lcrd *d)
{
	struct recovery_timeline *t = d->timeline;
	if (!t)
		return;
	stop_watching(t);
	free(t);
	d->timeline = NULL;
}
