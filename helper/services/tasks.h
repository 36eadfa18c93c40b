/* tasks.h: the local ranks of the step and what lcrd knows of each: the ranks named by
 * --ranks, the task pids the plugin reports, the session that registered the rank (its
 * place in the parallel layout, its control page), and whether its process still runs.
 * Every known process is watched with a pidfd; an exit is logged and sent to subscribed
 * clients as a RANK_EXITED event. A rank's regions and control page stay when its process
 * dies: a new process registering the same rank gets them back. */
#ifndef LCR_HELPER_TASKS_H
#define LCR_HELPER_TASKS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "internal/control_page.h"
#include "internal/wire.h"
#include "loop/pidfd_watch.h"

struct lcrd;
struct client;

/* How long an exit whose status the pidfd could not read waits for the plugin's report. */
#define TASK_EXIT_STATUS_WAIT_MS 1000

struct task {
	uint32_t rank;
	uint32_t local_task_id;      /* UINT32_MAX until the plugin reports the task */
	enum wire_task_state state;
	int32_t wait_status;         /* -1 while unknown */
	bool exit_reported;          /* a RANK_EXITED event went out for the current process */
	uint64_t exit_status_timer;  /* waiting for the plugin's status of an exit, or 0 */
	pid_t exit_pending_pid;      /* the process whose exit waits for that status */
	pid_t task_pid;              /* from TASK_STARTED, 0 while unknown */
	struct pid_watch task_watch;
	/* registration */
	struct client *holder;       /* session holding the rank now, or NULL */
	pid_t holder_pid;
	struct pid_watch holder_watch;
	bool registered;             /* a session registered this rank at least once */
	uint32_t dp_index;
	uint32_t dp_size;
	char shard_key[WIRE_NAME_MAX + 1];
	int page_fd;                 /* the control page memfd, -1 before registration */
	struct control_page *page;
	struct lcrd *d;
};

struct tasks;

int tasks_create(struct lcrd *d, struct tasks **out);
void tasks_destroy(struct tasks *t);

/* The task of a rank, or NULL. */
struct task *tasks_find(struct tasks *t, uint32_t rank);
size_t tasks_count(const struct tasks *t);
struct task *tasks_at(struct tasks *t, size_t index);

/* Sends sig to every local rank's process that still runs (the task the plugin reported,
 * and the session that registered the rank when it is another process); how many got it. */
size_t tasks_signal_running(struct tasks *t, int sig);

/* From the plugin. */
void tasks_on_started(struct lcrd *d, const struct wire_task_started *m);
void tasks_on_exited(struct lcrd *d, const struct wire_task_exited *m);

/* Registers the session `c` (process pid) as rank m->global_rank. On success *page_fd is
 * the rank's control page, to pass to the client (do not close it). Fails with -EINVAL (a
 * rank this helper does not serve), -EBUSY (a live session holds the rank) or -errno, with a
 * message in err. */
int tasks_register(struct lcrd *d, struct client *c, pid_t pid, const struct wire_register *m,
		   int *page_fd, char *err, size_t errlen);

/* The session c is closing: the rank it held, if any, is free to reattach. */
void tasks_release_client(struct lcrd *d, struct client *c);

/* The committed step and phase from a rank's control page (WIRE_NO_STEP / RUNNING before
 * the rank registered). */
void tasks_read_marks(const struct task *task, uint64_t *committed_step, uint16_t *phase);

/* Fills the task part of a status reply. */
void tasks_fill_status(struct tasks *t, struct wire_status_reply *s);

#endif
