/* pidfd_watch.c: process exit notification through pidfd_open(2) (see pidfd_watch.h). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pidfd_watch.h"

static void pidfd_ready(struct loop *loop, int fd, short revents, void *arg)
{
	struct pid_watch *w = arg;
	(void)loop;
	(void)fd;
	(void)revents;
	pid_watch_stop(w);
	w->cb(w, w->arg);
}

int pid_watch_start(struct pid_watch *w, struct loop *loop, pid_t pid, pid_watch_cb cb,
		    void *arg)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return -errno;
	w->pid = pid;
	w->pidfd = fd;
	w->loop = loop;
	w->cb = cb;
	w->arg = arg;
	int rc = loop_add_fd(loop, fd, POLLIN, pidfd_ready, w);
	if (rc < 0) {
		close(fd);
		w->pidfd = -1;
	}
	return rc;
}

void pid_watch_stop(struct pid_watch *w)
{
	if (w->pidfd < 0)
		return;
	loop_remove_fd(w->loop, w->pidfd);
	close(w->pidfd);
	w->pidfd = -1;
}
