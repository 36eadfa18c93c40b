/* loop.c: poll(2)-based event loop with one-shot timers (see loop.h).
 *
 * Watches live in a growing array. Removing a watch during dispatch only marks it dead; the
 * array is compacted once the round is over, so indexes stay valid while callbacks run and
 * a descriptor number reused within the round never receives the old one's events. A paused
 * watch is polled as fd -1 (poll ignores it) until its pause ends, which bounds poll's
 * sleep like a timer. Timers are a singly linked list sorted by deadline: lcrd has a
 * handful at a time. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>

#include "loop/loop.h"
#include "internal/util.h"

struct watch {
	int fd;
	short events;
	bool dead;
	uint64_t paused_until_ms; /* 0: watched */
	loop_fd_cb cb;
	void *arg;
};

struct timer {
	uint64_t id;
	uint64_t deadline_ms;
	loop_timer_cb cb;
	void *arg;
	struct timer *next;
};

struct loop {
	struct watch *watches;
	size_t nwatches;
	size_t capacity;
	struct pollfd *pollfds;
	struct timer *timers;
	uint64_t next_timer_id;
	bool stopping;
	loop_stop_cb on_stop; /* told of loop_request_stop */
	void *on_stop_arg;
};

int loop_create(struct loop **out)
{
	struct loop *loop = calloc(1, sizeof(*loop));
	if (!loop)
		return -ENOMEM;
	loop->next_timer_id = 1;
	*out = loop;
	return 0;
}

void loop_destroy(struct loop *loop)
{
	if (!loop)
		return;
	while (loop->timers) {
		struct timer *t = loop->timers;
		loop->timers = t->next;
		free(t);
	}
	free(loop->watches);
	free(loop->pollfds);
	free(loop);
}

static struct watch *find_watch(struct loop *loop, int fd)
{
	for (size_t i = 0; i < loop->nwatches; i++)
		if (loop->watches[i].fd == fd && !loop->watches[i].dead)
			return &loop->watches[i];
	return NULL;
}

static int grow_watches(struct loop *loop)
{
	size_t capacity = loop->capacity ? loop->capacity * 2 : 16;
	struct watch *w = realloc(loop->watches, capacity * sizeof(*w));
	if (!w)
		return -ENOMEM;
	loop->watches = w;
	struct pollfd *p = realloc(loop->pollfds, capacity * sizeof(*p));
	if (!p)
		return -ENOMEM;
	loop->pollfds = p;
	loop->capacity = capacity;
	return 0;
}

int loop_add_fd(struct loop *loop, int fd, short events, loop_fd_cb cb, void *arg)
{
	if (find_watch(loop, fd))
		return -EEXIST;
	if (loop->nwatches == loop->capacity) {
		int rc = grow_watches(loop);
		if (rc < 0)
			return rc;
	}
	loop->watches[loop->nwatches++] =
		(struct watch){ .fd = fd, .events = events, .cb = cb, .arg = arg };
	return 0;
}

void loop_remove_fd(struct loop *loop, int fd)
{
	struct watch *w = find_watch(loop, fd);
	if (w)
		w->dead = true;
}

void loop_pause_fd(struct loop *loop, int fd, uint64_t delay_ms)
{
	struct watch *w = find_watch(loop, fd);
	if (w)
		w->paused_until_ms = util_now_ms() + delay_ms;
}

int loop_add_timer(struct loop *loop, uint64_t delay_ms, loop_timer_cb cb, void *arg,
		   uint64_t *id_out)
{
	struct timer *t = calloc(1, sizeof(*t)), **pos;
	if (!t)
		return -ENOMEM;
	t->id = loop->next_timer_id++;
	t->deadline_ms = util_now_ms() + delay_ms;
	t->cb = cb;
	t->arg = arg;
	for (pos = &loop->timers; *pos && (*pos)->deadline_ms <= t->deadline_ms; pos = &(*pos)->next)
		;
	t->next = *pos;
	*pos = t;
	if (id_out)
		*id_out = t->id;
	return 0;
}

void loop_cancel_timer(struct loop *loop, uint64_t id)
{
	for (struct timer **pos = &loop->timers; *pos; pos = &(*pos)->next) {
		if ((*pos)->id == id) {
			struct timer *t = *pos;
			*pos = t->next;
			free(t);
			return;
		}
	}
}

void loop_on_stop_request(struct loop *loop, loop_stop_cb cb, void *arg)
{
	loop->on_stop = cb;
	loop->on_stop_arg = arg;
}

void loop_request_stop(struct loop *loop, const char *reason)
{
	if (loop->on_stop)
		loop->on_stop(loop, reason, loop->on_stop_arg);
	loop_stop(loop);
}

void loop_stop(struct loop *loop)
{
	loop->stopping = true;
}

/* Fills pollfds from the watches, a paused one as fd -1; returns the earliest end of a
 * pause still running, or UINT64_MAX. */
static uint64_t fill_pollfds(struct loop *loop, size_t count, uint64_t now)
{
	uint64_t resume = UINT64_MAX;
	for (size_t i = 0; i < count; i++) {
		struct watch *w = &loop->watches[i];
		if (w->paused_until_ms && w->paused_until_ms <= now)
			w->paused_until_ms = 0;
		if (w->paused_until_ms && w->paused_until_ms < resume)
			resume = w->paused_until_ms;
		loop->pollfds[i] = (struct pollfd){ .fd = w->paused_until_ms ? -1 : w->fd,
						    .events = w->events };
	}
	return resume;
}

/* Milliseconds poll may sleep: until the first timer or the end of a pause, or for ever. */
static int poll_timeout(const struct loop *loop, uint64_t resume_ms, uint64_t now)
{
	uint64_t until = resume_ms;
	if (loop->timers && loop->timers->deadline_ms < until)
		until = loop->timers->deadline_ms;
	if (until == UINT64_MAX)
		return -1;
	if (until <= now)
		return 0;
	uint64_t wait = until - now;
	return wait > 60000 ? 60000 : (int)wait;
}

static void run_due_timers(struct loop *loop)
{
	uint64_t now = util_now_ms();
	while (!loop->stopping && loop->timers && loop->timers->deadline_ms <= now) {
		struct timer *t = loop->timers;
		loop->timers = t->next;
		loop_timer_cb cb = t->cb;
		void *arg = t->arg;
		free(t);
		cb(loop, arg);
	}
}

static void compact_watches(struct loop *loop)
{
	size_t kept = 0;
	for (size_t i = 0; i < loop->nwatches; i++)
		if (!loop->watches[i].dead)
			loop->watches[kept++] = loop->watches[i];
	loop->nwatches = kept;
}

static void dispatch_ready(struct loop *loop, size_t count)
{
	for (size_t i = 0; i < count && !loop->stopping; i++) {
		short revents = loop->pollfds[i].revents;
		struct watch *w = &loop->watches[i];
		if (revents && !w->dead)
			w->cb(loop, w->fd, revents, w->arg);
	}
}

int loop_run(struct loop *loop)
{
	loop->stopping = false;
	while (!loop->stopping) {
		size_t count = loop->nwatches;
		uint64_t now = util_now_ms();
		uint64_t resume_ms = fill_pollfds(loop, count, now);
		int n = poll(loop->pollfds, count, poll_timeout(loop, resume_ms, now));
		if (n < 0 && errno != EINTR)
			return -errno;
		run_due_timers(loop);
		if (n > 0)
			dispatch_ready(loop, count);
		compact_watches(loop);
	}
	return 0;
}
