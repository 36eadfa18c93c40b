/* worker.c: a job on its own thread, reported to the event loop when it ends (see
 * worker.h). The thread signals an eventfd that the loop watches; the loop's callback joins
 * the thread, so the job's results are visible to the loop thread once done runs. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "loop/worker.h"
#include "loop/loop.h"

struct worker {
	struct loop *loop;
	pthread_t thread;
	int event_fd;
	atomic_bool cancel;
	worker_fn *run;
	worker_done_fn *done;
	void *arg;
	int rc;
};

static void *worker_main(void *p)
{
	struct worker *w = p;
	uint64_t one = 1;
	w->rc = w->run(w->arg, &w->cancel);
	/* An eventfd write of 1 cannot fail short of a bad descriptor. */
	if (write(w->event_fd, &one, sizeof(one)) < 0)
		w->rc = -errno;
	return NULL;
}

static void worker_free(struct worker *w)
{
	loop_remove_fd(w->loop, w->event_fd);
	close(w->event_fd);
	free(w);
}

static void worker_ended(struct loop *loop, int fd, short revents, void *arg)
{
	struct worker *w = arg;
	uint64_t count;
	(void)loop;
	(void)revents;
	if (read(fd, &count, sizeof(count)) != sizeof(count))
		return;
	pthread_join(w->thread, NULL);
	worker_done_fn *done = w->done;
	void *done_arg = w->arg;
	int rc = w->rc;
	worker_free(w);
	done(done_arg, rc);
}

/* The thread starts with every signal blocked: lcrd takes its signals through a signalfd,
 * which only works while no thread leaves them unblocked. */
static int spawn(struct worker *w)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -rc;
}

int worker_start(struct loop *loop, worker_fn *run, worker_done_fn *done, void *arg,
		 struct worker **out)
{
	struct worker *w = calloc(1, sizeof(*w));
	int rc;
	if (!w)
		return -ENOMEM;
	w->loop = loop;
	w->run = run;
	w->done = done;
	w->arg = arg;
	atomic_init(&w->cancel, false);
	w->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->event_fd < 0) {
		rc = -errno;
		free(w);
		return rc;
	}
	rc = loop_add_fd(loop, w->event_fd, POLLIN, worker_ended, w);
	if (rc == 0)
		rc = spawn(w);
	if (rc < 0) {
		worker_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

void worker_cancel(struct worker *w)
{
	if (!w)
		return;
	atomic_store(&w->cancel, true);
	pthread_join(w->thread, NULL);
	worker_free(w);
}
