/* fence.c: a fenced helper stops its ranks, bounded, then ends (see fence.h). One timer
 * ticks every FENCE_TICK_MS from the fence on and moves through the phases by the time
 * elapsed; each tick first asks whether any rank process still runs (signal 0 through its
 * pidfd), and the helper shuts down at the first tick that finds none. */
#include "config.h"

#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "services/fence.h"
#include "internal/util.h"
#include "loop/control.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "services/tasks.h"

#define FENCE_TICK_MS 100
#define FENCE_LAST_WAIT_MS 500 /* after the SIGKILL, for the kernel to reap */

enum fence_phase { FENCE_ASKED, FENCE_TERMINATED, FENCE_KILLED };

struct fence {
	struct lcrd *d;
	uint64_t started_ms;
	enum fence_phase phase;
	uint64_t timer;
	bool active;
};

static struct fence fence; /* a helper is fenced at most once */

static size_t ranks_running(struct lcrd *d)
{
	return d->tasks ? tasks_signal_running(d->tasks, 0) : 0;
}

static void finish(struct fence *f, const char *how)
{
	f->active = false;
	log_info("this node's ranks %s: ending the fenced helper", how);
	loop_request_stop(f->d->loop, "removed from the mesh by the other helpers");
}

static void signal_ranks(struct fence *f, int sig, enum fence_phase next)
{
	size_t sent = tasks_signal_running(f->d->tasks, sig);
	log_warning("%zu rank process%s of this fenced node still ran %.1f s after the fence: %s",
		    sent, sent == 1 ? "" : "es", (util_now_ms() - f->started_ms) / 1000.0,
		    strsignal(sig));
	f->phase = next;
}

static void tick(struct loop *loop, void *arg)
{
	struct fence *f = arg;
	uint64_t elapsed = util_now_ms() - f->started_ms;
	f->timer = 0;
	if (ranks_running(f->d) == 0) {
		finish(f, f->phase == FENCE_ASKED ? "stopped" : "ended after a signal");
		return;
	}
	if (f->phase == FENCE_ASKED && elapsed >= FENCE_RANK_GRACE_MS)
		signal_ranks(f, SIGTERM, FENCE_TERMINATED);
	else if (f->phase == FENCE_TERMINATED &&
		 elapsed >= FENCE_RANK_GRACE_MS + FENCE_KILL_GRACE_MS)
		signal_ranks(f, SIGKILL, FENCE_KILLED);
	else if (f->phase == FENCE_KILLED &&
		 elapsed >= FENCE_RANK_GRACE_MS + FENCE_KILL_GRACE_MS + FENCE_LAST_WAIT_MS) {
		finish(f, "were killed and may not be reaped yet");
		return;
	}
	if (loop_add_timer(loop, FENCE_TICK_MS, tick, f, &f->timer) < 0)
		finish(f, "cannot be waited for (out of memory)");
}

/* The SHUTDOWN event that tells a rank to stop at once. */
static void tell_ranks(struct lcrd *d, const char *why)
{
	struct wire_event ev = { .type = WIRE_EVENT_SHUTDOWN, .status = -1,
				 .node_id = WIRE_NO_NODE, .leader = WIRE_NO_NODE };
	util_format_text(ev.message, sizeof(ev.message),
			 "lcrd on %s was fenced (%s): stop now; this node's ranks are terminated "
			 "in %d s", d->opt.node_name, why, FENCE_RANK_GRACE_MS / 1000);
	control_broadcast_event(d, &ev);
}

void fence_stop_ranks_and_exit(struct lcrd *d, const char *why)
{
	if (fence.active)
		return;
	fence = (struct fence){ .d = d, .started_ms = util_now_ms(), .phase = FENCE_ASKED,
				.active = true };
	tell_ranks(d, why);
	if (ranks_running(d) == 0) {
		finish(&fence, "were not running");
		return;
	}
	if (loop_add_timer(d->loop, FENCE_TICK_MS, tick, &fence, &fence.timer) < 0)
		finish(&fence, "cannot be waited for (out of memory)");
}
