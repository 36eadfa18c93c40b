/* pidfd_watch.c: process exit notification through pidfd_open(2) (see pidfd_watch.h).
 *
 * The exit status of a process that is not lcrd's child cannot be waited for, but while it
 * is a zombie /proc/PID/stat shows it (field 52, exit_code). The pidfd's fdinfo tells
 * whether the process was reaped meanwhile (Pid: -1), in which case the PID may belong to
 * another process already and the status stays unknown. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "loop/pidfd_watch.h"

/* exit_code from /proc/PID/stat of a zombie, or -1. */
static int read_zombie_exit_code(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')'), *save = NULL;
	if (!p)
		return -1;
	/* Tokens after ')' start at field 3 (state); exit_code is field 52. */
	char *token = strtok_r(p + 1, " ", &save);
	if (!token || strcmp(token, "Z") != 0)
		return -1;
	for (int field = 4; token && field <= 52; field++)
		token = strtok_r(NULL, " ", &save);
	return token ? atoi(token) : -1;
}

/* True while the pidfd's process has not been reaped. */
static bool not_reaped(int pidfd)
{
	char path[64], line[128];
	bool alive = false;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Pid:", 4) == 0)
			alive = atoi(line + 4) > 0;
	fclose(f);
	return alive;
}

static void pidfd_ready(struct loop *loop, int fd, short revents, void *arg)
{
	struct pid_watch *w = arg;
	(void)loop;
	(void)revents;
	int status = read_zombie_exit_code(w->pid);
	w->exit_status = status >= 0 && not_reaped(fd) ? status : -1;
	pid_watch_stop(w);
	w->cb(w, w->arg);
}

int pid_watch_start(struct pid_watch *w, struct loop *loop, pid_t pid, pid_watch_cb cb,
		    void *arg)
{
	/* Set first: a process already gone (-ESRCH) is reported through w by the caller. */
	w->pid = pid;
	w->exit_status = -1;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return -errno;
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
