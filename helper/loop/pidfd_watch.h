/* pidfd_watch.h: watch a process for its exit with pidfd_open(2) and the event loop. The
 * pidfd becomes readable the moment the process exits (before it is reaped), so a crashed
 * rank is noticed at once, whoever its parent is. */
#ifndef LCR_HELPER_PIDFD_WATCH_H
#define LCR_HELPER_PIDFD_WATCH_H

#include <sys/types.h>

#include "loop/loop.h"

struct pid_watch;
typedef void (*pid_watch_cb)(struct pid_watch *w, void *arg);

struct pid_watch {
	pid_t pid;
	int pidfd; /* -1 when not watching */
	int exit_status; /* wait status once exited, -1 when it could not be read */
	struct loop *loop;
	pid_watch_cb cb;
	void *arg;
};

/* Starts watching pid; cb runs once when it exits (the watch stops by itself first, and
 * w->exit_status holds the wait status when it could be read). 0, or -ESRCH when the
 * process is already gone, or another -errno. */
int pid_watch_start(struct pid_watch *w, struct loop *loop, pid_t pid, pid_watch_cb cb,
		    void *arg);
/* Stops watching, if watching. */
void pid_watch_stop(struct pid_watch *w);

static inline void pid_watch_init(struct pid_watch *w)
{
	w->pid = 0;
	w->pidfd = -1;
	w->exit_status = -1;
}

#endif
