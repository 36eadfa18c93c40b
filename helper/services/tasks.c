/* tasks.c: the table of local ranks (see tasks.h). Ranks come from --ranks, from the
 * plugin's TASK_STARTED messages and from registering clients (in foreground mode, where
 * --ranks may be empty, any rank may register). lcrd serves at most WIRE_MAX_LOCAL_RANKS. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "services/tasks.h"
#include "internal/util.h"
#include "loop/backend.h"
#include "loop/control.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "mesh/mesh.h"

struct tasks {
	struct task *items[WIRE_MAX_LOCAL_RANKS];
	size_t count;
	bool fixed; /* --ranks named the ranks: refuse others */
};

static struct task *task_new(struct lcrd *d, uint32_t rank)
{
	struct task *task = calloc(1, sizeof(*task));
	if (!task)
		return NULL;
	task->rank = rank;
	task->local_task_id = UINT32_MAX;
	task->state = WIRE_TASK_EXPECTED;
	task->wait_status = -1;
	task->page_fd = -1;
	task->d = d;
	pid_watch_init(&task->task_watch);
	pid_watch_init(&task->holder_watch);
	return task;
}

/* Stops waiting for the plugin's status of an exit. */
static void cancel_exit_status_wait(struct task *task)
{
	if (task->exit_status_timer)
		loop_cancel_timer(task->d->loop, task->exit_status_timer);
	task->exit_status_timer = 0;
}

static void task_free(struct task *task)
{
	cancel_exit_status_wait(task);
	pid_watch_stop(&task->task_watch);
	pid_watch_stop(&task->holder_watch);
	if (task->page)
		munmap(task->page, CONTROL_PAGE_SIZE);
	if (task->page_fd >= 0)
		close(task->page_fd);
	free(task);
}

/* The task of rank, added when the table allows it; NULL with *why set otherwise. */
static struct task *task_get_or_add(struct tasks *t, struct lcrd *d, uint32_t rank, int *why)
{
	struct task *task = tasks_find(t, rank);
	if (task)
		return task;
	if (t->fixed) {
		*why = -EINVAL;
		return NULL;
	}
	if (t->count == WIRE_MAX_LOCAL_RANKS) {
		*why = -E2BIG;
		return NULL;
	}
	task = task_new(d, rank);
	if (!task) {
		*why = -ENOMEM;
		return NULL;
	}
	t->items[t->count++] = task;
	return task;
}

int tasks_create(struct lcrd *d, struct tasks **out)
{
	int rc = control_on_release(d, tasks_release_client);
	if (rc < 0)
		return rc;
	struct tasks *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < d->opt.rank_count; i++) {
		if (tasks_find(t, d->opt.ranks[i]))
			continue;
		t->items[t->count] = task_new(d, d->opt.ranks[i]);
		if (!t->items[t->count]) {
			tasks_destroy(t);
			return -ENOMEM;
		}
		t->count++;
	}
	t->fixed = t->count > 0;
	*out = t;
	return 0;
}

void tasks_destroy(struct tasks *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->count; i++)
		task_free(t->items[i]);
	free(t);
}

struct task *tasks_find(struct tasks *t, uint32_t rank)
{
	for (size_t i = 0; i < t->count; i++)
		if (t->items[i]->rank == rank)
			return t->items[i];
	return NULL;
}

size_t tasks_count(const struct tasks *t)
{
	return t->count;
}

struct task *tasks_at(struct tasks *t, size_t index)
{
	return index < t->count ? t->items[index] : NULL;
}

/* Sends sig to the process of a watch that still runs, through its pidfd (never to a pid
 * reused by another process). 1 when sent, else 0. */
static size_t signal_watched(const struct pid_watch *w, int sig)
{
	if (w->pidfd < 0)
		return 0;
	return syscall(SYS_pidfd_send_signal, w->pidfd, sig, NULL, 0) == 0;
}

size_t tasks_signal_running(struct tasks *t, int sig)
{
	size_t sent = 0;
	for (size_t i = 0; i < t->count; i++) {
		const struct task *task = t->items[i];
		sent += signal_watched(&task->task_watch, sig);
		if (task->holder_watch.pid != task->task_watch.pid || task->task_watch.pidfd < 0)
			sent += signal_watched(&task->holder_watch, sig);
	}
	return sent;
}

/* "exited with status 3" / "was killed by signal 9" / "exited (status unknown)" into buf. */
static const char *describe_exit(int32_t wait_status, char *buf, size_t cap)
{
	if (wait_status < 0)
		snprintf(buf, cap, "exited (status unknown)");
	else if (WIFSIGNALED(wait_status))
		snprintf(buf, cap, "was killed by signal %d", WTERMSIG(wait_status));
	else
		snprintf(buf, cap, "exited with status %d", WEXITSTATUS(wait_status));
	return buf;
}

/* Logs a rank's exit and tells subscribed clients, once per process. */
static void report_exit(struct task *task, pid_t pid, int32_t wait_status)
{
	struct wire_event ev = { .type = WIRE_EVENT_RANK_EXITED, .rank = task->rank,
				 .pid = (uint32_t)pid, .status = wait_status };
	char how[64];
	cancel_exit_status_wait(task);
	if (task->exit_reported)
		return;
	task->exit_reported = true;
	describe_exit(wait_status, how, sizeof(how));
	snprintf(ev.message, sizeof(ev.message), "rank %u (pid %ld) %s", task->rank, (long)pid,
		 how);
	log_info("%s", ev.message);
	mesh_report_rank_exit(task->d, &ev);
}

static void exit_status_overdue(struct loop *loop, void *arg)
{
	struct task *task = arg;
	(void)loop;
	task->exit_status_timer = 0;
	log_warning("rank %u (pid %ld) exited and the plugin did not report its status within "
		    "%d ms: reported as unknown",
		    task->rank, (long)task->exit_pending_pid, TASK_EXIT_STATUS_WAIT_MS);
	report_exit(task, task->exit_pending_pid, -1);
}

/* Reports an exit seen through a pidfd. Its status is lost when slurmstepd reaped the
 * process first; the plugin then reports it (TASK_EXITED) a moment later: wait for that,
 * bounded, rather than report an unknown status, which the step's outcome counts as 0. */
static void report_watched_exit(struct task *task, pid_t pid, int32_t wait_status)
{
	if (wait_status >= 0 || task->local_task_id == UINT32_MAX || task->exit_reported) {
		report_exit(task, pid, wait_status);
		return;
	}
	if (task->exit_status_timer)
		return;
	task->exit_pending_pid = pid;
	if (loop_add_timer(task->d->loop, TASK_EXIT_STATUS_WAIT_MS, exit_status_overdue, task,
			   &task->exit_status_timer) < 0)
		report_exit(task, pid, wait_status);
}

static void task_process_exited(struct pid_watch *w, void *arg)
{
	struct task *task = arg;
	task->state = WIRE_TASK_EXITED_STATE;
	task->wait_status = w->exit_status;
	report_watched_exit(task, w->pid, w->exit_status);
}

static void holder_process_exited(struct pid_watch *w, void *arg)
{
	struct task *task = arg;
	if (task->task_pid == 0 || task->task_pid == w->pid) {
		task->state = WIRE_TASK_EXITED_STATE;
		task->wait_status = w->exit_status;
	}
	report_watched_exit(task, w->pid, w->exit_status);
}

void tasks_on_started(struct lcrd *d, const struct wire_task_started *m)
{
	int why = 0;
	struct task *task = task_get_or_add(d->tasks, d, m->global_rank, &why);
	if (!task) {
		log_warning("plugin reported task %u (rank %u, pid %u), which this helper cannot "
			    "track: %s",
			    m->local_task_id, m->global_rank, m->pid, strerror(-why));
		return;
	}
	pid_watch_stop(&task->task_watch);
	cancel_exit_status_wait(task);
	task->local_task_id = m->local_task_id;
	task->task_pid = (pid_t)m->pid;
	task->state = WIRE_TASK_RUNNING;
	task->wait_status = -1;
	task->exit_reported = false;
	log_verbose("task %u started: rank %u, pid %u", m->local_task_id, m->global_rank, m->pid);
	int rc = pid_watch_start(&task->task_watch, d->loop, task->task_pid, task_process_exited,
				 task);
	if (rc == -ESRCH)
		task_process_exited(&task->task_watch, task);
	else if (rc < 0)
		log_warning("cannot watch rank %u (pid %u): pidfd_open: %s", m->global_rank, m->pid,
			    strerror(-rc));
}

void tasks_on_exited(struct lcrd *d, const struct wire_task_exited *m)
{
	struct task *task = tasks_find(d->tasks, m->global_rank);
	if (!task) {
		log_warning("plugin reported the exit of rank %u (pid %u), which this helper does "
			    "not know",
			    m->global_rank, m->pid);
		return;
	}
	if (task->task_pid != 0 && task->task_pid != (pid_t)m->pid)
		log_warning("plugin reported the exit of rank %u with pid %u, known as pid %ld",
			    m->global_rank, m->pid, (long)task->task_pid);
	pid_watch_stop(&task->task_watch);
	task->state = WIRE_TASK_EXITED_STATE;
	task->wait_status = m->wait_status;
	report_exit(task, (pid_t)m->pid, m->wait_status);
}

/* Creates and maps the rank's control page. */
static int create_control_page(struct task *task, uint32_t snapshot_hold_max_ms, char *err,
			       size_t errlen)
{
	char name[64];
	int fd, rc;
	snprintf(name, sizeof(name), "lcr-control-rank-%u", task->rank);
	rc = host_memfd_create(name, CONTROL_PAGE_SIZE, &fd);
	if (rc < 0) {
		snprintf(err, errlen, "cannot create the control page of rank %u: %s", task->rank,
			 strerror(-rc));
		return rc;
	}
	void *p = mmap(NULL, CONTROL_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		rc = -errno;
		snprintf(err, errlen, "cannot map the control page of rank %u: %s", task->rank,
			 strerror(errno));
		close(fd);
		return rc;
	}
	task->page = p;
	task->page_fd = fd;
	task->page->magic = CONTROL_PAGE_MAGIC;
	task->page->version = CONTROL_PAGE_VERSION;
	task->page->global_rank = task->rank;
	task->page->snapshot_hold_max_ms = snapshot_hold_max_ms;
	atomic_store(&task->page->committed_step, WIRE_NO_STEP);
	atomic_store(&task->page->phase, WIRE_PHASE_RUNNING);
	return 0;
}

/* True when the session holding the task is gone or its process has exited, even if the
 * loop has not dispatched the exit yet. */
static bool holder_is_stale(const struct task *task)
{
	struct pollfd p = { .fd = task->holder_watch.pidfd, .events = POLLIN };
	if (!task->holder || p.fd < 0)
		return true;
	return poll(&p, 1, 0) > 0;
}

int tasks_register(struct lcrd *d, struct client *c, pid_t pid, const struct wire_register *m,
		   int *page_fd, char *err, size_t errlen)
{
	char ranks[256];
	int why = 0, rc;
	struct task *task = task_get_or_add(d->tasks, d, m->global_rank, &why);
	if (!task) {
		if (why == -EINVAL)
			snprintf(err, errlen, "rank %u is not one of this node's ranks (%s)",
				 m->global_rank,
				 util_format_rank_list(d->opt.ranks, d->opt.rank_count, ranks,
						       sizeof(ranks)));
		else
			snprintf(err, errlen, "cannot track rank %u: %s", m->global_rank,
				 strerror(-why));
		return why;
	}
	if (!holder_is_stale(task) && task->holder != c) {
		snprintf(err, errlen, "rank %u is held by a live session (pid %ld)", m->global_rank,
			 (long)task->holder_pid);
		return -EBUSY;
	}
	if (!task->page) {
		rc = create_control_page(task, d->opt.snapshot_hold_max_ms, err, errlen);
		if (rc < 0)
			return rc;
	}
	if (task->holder && task->holder != c)
		control_forget_rank(task->holder);
	pid_watch_stop(&task->holder_watch);
	task->holder = c;
	task->holder_pid = pid;
	task->exit_reported = false;
	task->dp_index = m->dp_index;
	task->dp_size = m->dp_size;
	memcpy(task->shard_key, m->shard_key, sizeof(task->shard_key));
	task->state = WIRE_TASK_RUNNING;
	rc = pid_watch_start(&task->holder_watch, d->loop, pid, holder_process_exited, task);
	if (rc < 0 && rc != -ESRCH)
		log_warning("cannot watch rank %u (pid %ld): pidfd_open: %s", task->rank, (long)pid,
			    strerror(-rc));
	log_info("rank %u %sregistered by pid %ld (data-parallel %u of %u, shard key '%s')",
		 task->rank, task->registered ? "re" : "", (long)pid, m->dp_index, m->dp_size,
		 m->shard_key);
	task->registered = true;
	*page_fd = task->page_fd;
	return 0;
}

void tasks_release_client(struct lcrd *d, struct client *c)
{
	for (size_t i = 0; i < d->tasks->count; i++) {
		struct task *task = d->tasks->items[i];
		if (task->holder == c)
			task->holder = NULL;
	}
}

void tasks_read_marks(const struct task *task, uint64_t *committed_step, uint16_t *phase)
{
	*committed_step = WIRE_NO_STEP;
	*phase = WIRE_PHASE_RUNNING;
	if (!task || !task->page)
		return;
	*phase = (uint16_t)atomic_load_explicit(&task->page->phase, memory_order_acquire);
	*committed_step = atomic_load_explicit(&task->page->committed_step, memory_order_relaxed);
}

void tasks_fill_status(struct tasks *t, struct wire_status_reply *s)
{
	s->task_count = (uint32_t)t->count;
	for (size_t i = 0; i < t->count; i++) {
		const struct task *task = t->items[i];
		s->tasks[i] = (struct wire_task_status){
			.global_rank = task->rank,
			.pid = (uint32_t)(task->holder ? task->holder_pid : task->task_pid),
			.state = task->state,
			.registered = task->holder != NULL,
			.wait_status = task->wait_status,
		};
	}
}
