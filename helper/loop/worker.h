/* worker.h: one blocking job on a thread of its own, for the checkpoint code's file I/O
 * (writing a checkpoint, filling a region from one), so that lcrd's event loop keeps serving
 * its clients and its peers meanwhile. The job function runs on the thread; its end reaches
 * the loop through an eventfd, where the thread is joined and the done callback runs. The job
 * may touch only what its caller keeps alive and unchanged until then (the checkpoint code
 * refuses to free a region a job is using: ckpt_region_busy). */
#ifndef LCR_HELPER_WORKER_H
#define LCR_HELPER_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>

struct loop;
struct worker;

/* Runs on the worker thread: 0 or a negative errno. It should return -ECANCELED soon after
 * *cancel becomes true. */
typedef int worker_fn(void *arg, const atomic_bool *cancel);
/* Runs on the loop once the thread has ended, with what worker_fn returned; the worker is
 * freed right after. */
typedef void worker_done_fn(void *arg, int rc);

/* Starts run(arg) on a new thread: 0 or -errno (nothing started). */
int worker_start(struct loop *loop, worker_fn *run, worker_done_fn *done, void *arg,
		 struct worker **out);

/* Asks the job to stop, waits for its thread and frees the worker; done is not called. */
void worker_cancel(struct worker *w);

#endif
