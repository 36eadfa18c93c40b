/* outcome.c: follows the step's ranks to their end and reports the training's outcome (see
 * outcome.h; the file format is outcome_file.c, the reader `lcrctl wait`).
 *
 * Each helper keeps one record per global rank, built from the mesh's table at its first
 * applied event and updated by every numbered event after it, so that every helper knows
 * the same thing at the same generation and any of them can take over as leader:
 *   RANK_EXITED   the rank ended, with its process's status
 *   NODE_DOWN     its running ranks await a replacement (--replace=spare), else are lost
 *   RECOVERY_FAILED  the node's awaiting ranks are lost
 *   NODE_JOINED   the node's ranks run again, in the replacement's processes
 *   NODE_LEFT     its helper ended normally: ranks whose exit was not numbered ended too
 * The leader writes the file ("running") at each failure, so that a helper that joined
 * later as a replacement, and so missed the earlier events, can take the count of recovered
 * failures and the batch host's death from it; and writes it "finished" once every rank
 * has ended or is lost. A NODE_JOINED is written by the helper that sequenced it (the
 * lowest live node but the one that joined; the replacement may lead after it), before it
 * accepts the replacement, which takes the count of failures recovered, its own join
 * included, from the file once it is a member (outcome_on_member) and counts the joins it
 * applies after it. The batch host is the node that ran the batch script: lcrd's
 * environment is the job's, where sbatch leaves ENVIRONMENT=BATCH and SLURMD_NODENAME. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "services/outcome.h"
#include "internal/process_start.h"
#include "internal/util.h"
#include "loop/ckpt_dir.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "loop/loop.h"
#include "loop/outcome_file.h"
#include "loop/pidfd_watch.h"
#include "mesh/mesh.h"

#define OUTCOME_SCANCEL_TIMEOUT_MS 30000
#define OUTCOME_DRAIN_MS 2000     /* a stopping leader's wait for the other nodes' exits */
#define OUTCOME_DRAIN_POLL_MS 20

enum rank_state {
	RANK_ABSENT = 0,  /* no node of the table has this rank number */
	RANK_RUNNING,
	RANK_AWAITING,    /* its node is down; a replacement may come */
	RANK_ENDED,       /* its last process exited (status), or its helper ended normally */
	RANK_LOST,        /* its node is down and will not be replaced */
};

struct outcome_rank {
	enum rank_state state;
	int32_t status;      /* exit status 0-255, 128+signal, -1 unknown */
	uint64_t generation; /* when it ended or was lost */
	uint32_t node;
};

struct outcome {
	struct lcrd *d;
	struct mesh *m;
	struct outcome_rank *ranks; /* indexed by global rank */
	uint32_t rank_cap;
	uint32_t rank_count;
	uint32_t recovered;          /* NODE_JOINED applied here (+1 for a replacement) */
	char batch_host[WIRE_NODE_NAME_MAX + 1]; /* "" outside a batch job */
	char batch_host_died[WIRE_NODE_NAME_MAX + 1];
	bool done;                   /* every rank ended: the outcome is decided */
	bool warned_no_dir;
	bool exit_failure_seen;      /* a rank exited non-zero: written once, not per rank */
	struct pid_watch scancel;
	uint64_t scancel_timer;
};

/* --- the ranks --- */

static int32_t exit_code(int32_t wait_status)
{
	if (wait_status < 0)
		return -1;
	return WIFSIGNALED(wait_status) ? 128 + WTERMSIG(wait_status) : WEXITSTATUS(wait_status);
}

/* Sets node's ranks to `to`; with only_unended, only those still running or awaiting. */
static void set_node_ranks(struct outcome *o, uint32_t node, enum rank_state to, int32_t status,
			   uint64_t g, bool only_unended)
{
	uint32_t count;
	const uint32_t *ranks = mesh_node_ranks(o->m, node, &count);
	for (uint32_t i = 0; i < count; i++) {
		uint32_t r = ranks[i];
		if (r >= o->rank_cap)
			continue;
		struct outcome_rank *k = &o->ranks[r];
		if (only_unended && k->state != RANK_RUNNING && k->state != RANK_AWAITING)
			continue;
		*k = (struct outcome_rank){ .state = to, .status = status, .generation = g,
					    .node = node };
	}
}

/* The records from the table as it is now. */
static int build_ranks(struct outcome *o)
{
	struct mesh *m = o->m;
	uint32_t cap = 0, count;
	for (uint32_t n = 0; n < mesh_node_count(m); n++) {
		const uint32_t *ranks = mesh_node_ranks(m, n, &count);
		for (uint32_t i = 0; i < count; i++)
			if (ranks[i] + 1 > cap)
				cap = ranks[i] + 1;
	}
	o->ranks = calloc(cap ? cap : 1, sizeof(*o->ranks));
	if (!o->ranks)
		return -ENOMEM;
	o->rank_cap = cap;
	for (uint32_t n = 0; n < mesh_node_count(m); n++) {
		enum wire_node_state state = mesh_node_state(m, n);
		enum rank_state s = state == WIRE_NODE_DOWN ?
			(o->d->opt.replace == LCR_REPLACE_SPARE ? RANK_AWAITING : RANK_LOST) :
			state == WIRE_NODE_LEFT ? RANK_ENDED : RANK_RUNNING;
		set_node_ranks(o, n, s, -1, mesh_applied_generation(m), false);
		mesh_node_ranks(m, n, &count);
		o->rank_count += count;
	}
	return 0;
}

/* The batch host, when the step was started from a batch script. */
static void find_batch_host(struct outcome *o)
{
	const char *env = getenv("ENVIRONMENT"), *host = getenv("SLURMD_NODENAME");
	if (env && strcmp(env, "BATCH") == 0 && host && *host)
		snprintf(o->batch_host, sizeof(o->batch_host), "%s", host);
}

/* The count of failures recovered up to a replacement's own join (included): the file's,
 * which the helper that sequenced the join wrote; 1 (its own) without a file. */
static uint32_t recovered_before_join(const struct mesh *m)
{
	const struct lcrd_options *opt = &mesh_lcrd(m)->opt;
	struct outcome_record old;
	char err[4400];
	int rc, dir_fd;
	if (!opt->ckpt_dir)
		return 1;
	dir_fd = ckpt_dir_open(opt->ckpt_dir, &opt->ckpt_roots, TRUSTED_OPEN_EXISTING,
			       "checkpoint directory", err, sizeof(err));
	if (dir_fd == -ENOENT)
		return 1;
	if (dir_fd < 0) {
		log_warning("the step's earlier outcome is not read: %s", err);
		return 1;
	}
	rc = outcome_file_read(dir_fd, opt->ckpt_dir, opt->job_id, opt->step_id, getuid(), &old,
			       err, sizeof(err));
	close(dir_fd);
	if (rc == -EINVAL)
		log_warning("the step's earlier outcome is not taken: %s", err);
	if (rc < 0 || old.job != opt->job_id || old.step != opt->step_id ||
	    old.failures_recovered < 1)
		return 1;
	return old.failures_recovered;
}

static struct outcome *outcome_get(struct mesh *m, struct outcome **slot)
{
	if (*slot)
		return *slot;
	struct outcome *o = calloc(1, sizeof(*o));
	if (!o || (o->d = mesh_lcrd(m), o->m = m, build_ranks(o) < 0)) {
		log_error("cannot follow the step's ranks for its outcome: out of memory");
		free(o);
		return NULL;
	}
	pid_watch_init(&o->scancel);
	o->recovered = mesh_joined_generation(m) ? recovered_before_join(m) : 0;
	find_batch_host(o);
	if (o->batch_host[0])
		log_verbose("the batch script runs on %s", o->batch_host);
	*slot = o;
	return o;
}

/* Whether every rank has ended or is lost. */
static bool all_ended(const struct outcome *o)
{
	for (uint32_t r = 0; r < o->rank_cap; r++)
		if (o->ranks[r].state == RANK_RUNNING || o->ranks[r].state == RANK_AWAITING)
			return false;
	return true;
}

/* The rank that decides the status: the first (by generation) that exited non-zero, else
 * the first lost; OUTCOME_NO_RANK when every rank exited 0. */
static uint32_t deciding_rank(const struct outcome *o)
{
	uint32_t failed = OUTCOME_NO_RANK, lost = OUTCOME_NO_RANK;
	for (uint32_t r = 0; r < o->rank_cap; r++) {
		const struct outcome_rank *k = &o->ranks[r];
		if (k->state == RANK_ENDED && k->status > 0 &&
		    (failed == OUTCOME_NO_RANK || k->generation < o->ranks[failed].generation))
			failed = r;
		if (k->state == RANK_LOST &&
		    (lost == OUTCOME_NO_RANK || k->generation < o->ranks[lost].generation))
			lost = r;
	}
	return failed != OUTCOME_NO_RANK ? failed : lost;
}

/* --- the record --- */

static void describe(struct outcome_record *rec, const char *lost_node)
{
	char recovered[64], how[WIRE_NODE_NAME_MAX + 128];
	snprintf(recovered, sizeof(recovered), "%" PRIu32 " recovered node failure%s",
		 rec->failures_recovered, rec->failures_recovered == 1 ? "" : "s");
	if (rec->rank == OUTCOME_NO_RANK)
		snprintf(how, sizeof(how), "all %" PRIu32 " ranks exited 0", rec->ranks);
	else if (lost_node)
		snprintf(how, sizeof(how), "rank %" PRIu32 " was lost with node %s, which was not "
			 "replaced", rec->rank, lost_node);
	else if (rec->status > 128)
		snprintf(how, sizeof(how), "rank %" PRIu32 " was killed by signal %d", rec->rank,
			 (int)rec->status - 128);
	else
		snprintf(how, sizeof(how), "rank %" PRIu32 " exited with status %d", rec->rank,
			 (int)rec->status);
	char text[1024];
	if (!rec->finished)
		snprintf(text, sizeof(text), "job %" PRIu32 " step %" PRIu32 " is running (%s)%s%s%s",
			 rec->job, rec->step, recovered,
			 rec->batch_host_died[0] ? "; the batch host " : "", rec->batch_host_died,
			 rec->batch_host_died[0] ? " died: LCR will end the job" : "");
	else
		snprintf(text, sizeof(text), "job %" PRIu32 " step %" PRIu32 " %s: %s (%s)%s%s%s",
			 rec->job, rec->step, rec->status ? "failed" : "finished", how, recovered,
			 rec->batch_host_died[0] ? "; the batch host " : "", rec->batch_host_died,
			 rec->batch_host_died[0] ? " died: LCR ended the job" : "");
	snprintf(rec->message, sizeof(rec->message), "%.*s", OUTCOME_MESSAGE_MAX, text);
}

/* A replacement missed the events before its join: it takes what the file says of them. */
static void merge_earlier(const struct outcome *o, int dir_fd, struct outcome_record *rec)
{
	struct outcome_record old;
	char err[4400];
	int rc;
	if (!mesh_joined_generation(o->m))
		return;
	rc = outcome_file_read(dir_fd, o->d->opt.ckpt_dir, rec->job, rec->step, getuid(), &old,
			       err, sizeof(err));
	if (rc == -EINVAL)
		log_warning("the step's earlier outcome is not taken: %s", err);
	if (rc < 0 || old.job != rec->job || old.step != rec->step)
		return;
	if (old.failures_recovered > rec->failures_recovered)
		rec->failures_recovered = old.failures_recovered;
	if (!rec->batch_host_died[0])
		snprintf(rec->batch_host_died, sizeof(rec->batch_host_died), "%s",
			 old.batch_host_died);
	/* Its failure stands when this helper never saw that rank's end. */
	if (rec->rank == OUTCOME_NO_RANK && old.rank < o->rank_cap && old.status > 0 &&
	    o->ranks[old.rank].state == RANK_ENDED && o->ranks[old.rank].status < 0) {
		rec->rank = old.rank;
		rec->status = old.status;
		rec->generation = old.generation;
	}
}

/* The outcome as this helper knows it, into rec (its message is written later). */
static void fill_record(const struct outcome *o, struct outcome_record *rec)
{
	const struct lcrd_options *opt = &o->d->opt;
	uint32_t r = deciding_rank(o);
	*rec = (struct outcome_record){ .job = opt->job_id, .step = opt->step_id,
					.finished = o->done, .rank = r,
					.failures_recovered = o->recovered, .ranks = o->rank_count };
	snprintf(rec->batch_host_died, sizeof(rec->batch_host_died), "%s", o->batch_host_died);
	if (r == OUTCOME_NO_RANK)
		return;
	rec->generation = o->ranks[r].generation;
	rec->status = o->ranks[r].state == RANK_LOST ? 1 : o->ranks[r].status;
}

/* Writes the file (leader only); 0, or -errno (logged). */
static int write_record(struct outcome *o, struct outcome_record *rec)
{
	const struct lcrd_options *opt = &o->d->opt;
	char path[4200], err[4400];
	if (!opt->ckpt_dir) {
		if (!o->warned_no_dir)
			log_warning("no checkpoint directory (--ckpt-dir): the step's outcome is "
				    "not written, `lcrctl wait` cannot report it");
		o->warned_no_dir = true;
		return -ENOENT;
	}
	if (!mesh_may_write_shared(o->m, "writing the step's outcome"))
		return -EPERM;
	if (outcome_file_path(opt->ckpt_dir, opt->job_id, opt->step_id, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	const char *lost_node = rec->rank != OUTCOME_NO_RANK && rec->rank < o->rank_cap &&
				o->ranks[rec->rank].state == RANK_LOST ?
				mesh_node_name(o->m, o->ranks[rec->rank].node) : NULL;
	/* Opened as the checkpoints are: level by level, under the site's roots. */
	int rc, dir_fd = ckpt_dir_open(opt->ckpt_dir, &opt->ckpt_roots, TRUSTED_CREATE_MISSING,
				       "checkpoint directory", err, sizeof(err));
	if (dir_fd < 0) {
		log_error("cannot report the step's outcome: %s", err);
		return dir_fd;
	}
	merge_earlier(o, dir_fd, rec);
	describe(rec, lost_node);
	rc = outcome_file_write(dir_fd, opt->ckpt_dir, rec, err, sizeof(err));
	close(dir_fd);
	if (rc < 0)
		log_error("cannot report the step's outcome: %s", err);
	else if (rec->finished)
		log_info("outcome written to %s: %s", path, rec->message);
	return rc;
}

/* --- ending the job --- */

static void scancel_exited(struct pid_watch *w, void *arg)
{
	struct outcome *o = arg;
	int status = 0;
	if (waitpid(w->pid, &status, WNOHANG) != w->pid)
		status = w->exit_status;
	log_info("scancel %" PRIu32 " ended with status %d", o->d->opt.job_id,
		 status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	if (o->scancel_timer)
		loop_cancel_timer(o->d->loop, o->scancel_timer);
	o->scancel_timer = 0;
	pid_watch_stop(w);
}

static void scancel_overdue(struct loop *loop, void *arg)
{
	struct outcome *o = arg;
	(void)loop;
	o->scancel_timer = 0;
	log_warning("scancel %" PRIu32 " still runs after %d s: SIGKILL", o->d->opt.job_id,
		    OUTCOME_SCANCEL_TIMEOUT_MS / 1000);
	kill(o->scancel.pid, SIGKILL);
}

/* Waits for scancel here, bounded: the helper is ending and its loop with it. */
static void wait_scancel(pid_t pid)
{
	int status = -1;
	if (process_wait(pid, OUTCOME_SCANCEL_TIMEOUT_MS, false, &status) == -ETIMEDOUT) {
		log_warning("scancel still runs after %d s: SIGKILL", OUTCOME_SCANCEL_TIMEOUT_MS / 1000);
		return;
	}
	log_info("scancel ended with status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* Runs `scancel JOB` (lcrd runs as the job's user), output in lcrd's log, bounded; waited
 * for here when the helper is ending (now), else watched from the loop. */
static void end_job(struct outcome *o, const struct outcome_record *rec, bool now)
{
	char job[16];
	if (!mesh_may_write_shared(o->m, "ending the job with scancel"))
		return;
	snprintf(job, sizeof(job), "%" PRIu32, rec->job);
	log_warning("the batch host %s died; training finished with status %d; ending job %s",
		    rec->batch_host_died, (int)rec->status, job);
	char *const argv[] = { "scancel", job, NULL };
	struct process_plan plan = PROCESS_PLAN_INIT;
	char why[256];
	pid_t pid;
	plan.path = "scancel";
	plan.argv = argv;
	plan.stdout_fd = STDERR_FILENO; /* its output in lcrd's log */
	plan.stderr_fd = STDERR_FILENO;
	if (process_start(&plan, &pid, why, sizeof(why)) < 0) {
		log_error("cannot run scancel %s: %s", job, why);
		return;
	}
	if (now) {
		wait_scancel(pid);
		return;
	}
	if (pid_watch_start(&o->scancel, o->d->loop, pid, scancel_exited, o) < 0 ||
	    loop_add_timer(o->d->loop, OUTCOME_SCANCEL_TIMEOUT_MS, scancel_overdue, o,
			   &o->scancel_timer) < 0)
		o->scancel_timer = 0;
}

/* --- events --- */

/* The lowest live node but `except`: the one that led before except's NODE_JOINED. */
static uint32_t lowest_live_but(const struct mesh *m, uint32_t except)
{
	for (uint32_t i = 0; i < mesh_live_count(m); i++)
		if (mesh_live_ids(m)[i] != except)
			return mesh_live_ids(m)[i];
	return WIRE_NO_NODE;
}

/* The running tallies, at each failure, by the leader; a NODE_JOINED's by the helper that
 * sequenced it. */
static void write_progress(struct outcome *o, const struct wire_mesh_event *ev)
{
	struct outcome_record rec;
	uint32_t writer = ev->type == WIRE_EVENT_NODE_JOINED ? lowest_live_but(o->m, ev->node) :
							       mesh_leader(o->m);
	if (writer != mesh_self(o->m) || o->done)
		return;
	fill_record(o, &rec);
	write_record(o, &rec);
}

/* Ranks that ended with their helper but without a numbered exit (counted as 0). */
static uint32_t unreported(const struct outcome *o)
{
	uint32_t n = 0;
	for (uint32_t r = 0; r < o->rank_cap; r++)
		n += o->ranks[r].state == RANK_ENDED && o->ranks[r].status < 0;
	return n;
}

static void finish(struct outcome *o, bool last)
{
	struct outcome_record rec;
	o->done = true;
	if (mesh_leader(o->m) != mesh_self(o->m) && !last)
		return;
	if (unreported(o))
		log_warning("%" PRIu32 " of the step's ranks ended with their helper, their exit "
			    "status not reported to the mesh: they count as exited 0",
			    unreported(o));
	fill_record(o, &rec);
	write_record(o, &rec);
	if (rec.batch_host_died[0])
		end_job(o, &rec, last);
}

static void on_node_down(struct outcome *o, const struct wire_mesh_event *ev)
{
	bool spare = o->d->opt.replace == LCR_REPLACE_SPARE;
	set_node_ranks(o, ev->node, spare ? RANK_AWAITING : RANK_LOST, 1, ev->generation,
		       true);
	if (o->batch_host[0] && strcmp(mesh_node_name(o->m, ev->node), o->batch_host) == 0) {
		snprintf(o->batch_host_died, sizeof(o->batch_host_died), "%s", o->batch_host);
		log_warning("the batch host %s is down: its script and srun are gone; LCR will end "
			    "the job when the training finishes", o->batch_host);
	}
}

static void on_rank_exited(struct outcome *o, const struct wire_mesh_event *ev)
{
	if (ev->rank >= o->rank_cap || o->ranks[ev->rank].state == RANK_LOST)
		return;
	o->ranks[ev->rank] = (struct outcome_rank){ .state = RANK_ENDED,
						    .status = exit_code(ev->status),
						    .generation = ev->generation,
						    .node = ev->node };
}

void outcome_on_event(struct mesh *m, struct outcome **slot, const struct wire_mesh_event *ev)
{
	struct outcome *o = outcome_get(m, slot);
	bool failure = false;
	if (!o || o->done || ev->node >= mesh_node_count(m))
		return;
	switch (ev->type) {
	case WIRE_EVENT_RANK_EXITED:
		on_rank_exited(o, ev);
		failure = exit_code(ev->status) > 0 && !o->exit_failure_seen;
		o->exit_failure_seen |= failure;
		break;
	case WIRE_EVENT_NODE_DOWN:
		on_node_down(o, ev);
		failure = true;
		break;
	case WIRE_EVENT_NODE_LEFT:
		set_node_ranks(o, ev->node, RANK_ENDED, -1, ev->generation, true);
		break;
	case WIRE_EVENT_RECOVERY_FAILED:
		set_node_ranks(o, ev->node, RANK_LOST, 1, ev->generation, true);
		failure = true;
		break;
	case WIRE_EVENT_NODE_JOINED:
		set_node_ranks(o, ev->node, RANK_RUNNING, -1, ev->generation, false);
		o->recovered++;
		failure = true;
		break;
	default:
		return;
	}
	if (all_ended(o))
		finish(o, false);
	else if (failure)
		write_progress(o, ev);
}

/* Whether every rank of node n has ended (its helper is about to leave). */
static bool node_ended(const struct outcome *o, uint32_t n)
{
	uint32_t count;
	const uint32_t *ranks = mesh_node_ranks(o->m, n, &count);
	for (uint32_t i = 0; i < count; i++)
		if (ranks[i] < o->rank_cap && o->ranks[ranks[i]].state != RANK_ENDED &&
		    o->ranks[ranks[i]].state != RANK_LOST)
			return false;
	return true;
}

/* Rank r of this node ended with wait status `status`, as this helper saw it. */
static void own_rank_ended(struct outcome *o, uint32_t r, int32_t status)
{
	struct mesh *m = o->m;
	if (r < o->rank_cap && o->ranks[r].state == RANK_RUNNING)
		o->ranks[r] = (struct outcome_rank){ .state = RANK_ENDED, .status = exit_code(status),
						     .generation = mesh_applied_generation(m) + 1,
						     .node = mesh_self(m) };
}

/* This node's ranks whose exits it saw end with them: those in its event log (numbered, or
 * logged before the mesh was up) and those it reported to a leader that did not number them
 * (one that left or died meanwhile); false, saying which, when one of them has no exit
 * here. */
static bool take_own_exits(struct outcome *o)
{
	struct mesh *m = o->m;
	uint32_t self = mesh_self(m), count;
	const uint32_t *ranks = mesh_node_ranks(m, self, &count);
	int32_t status;
	for (uint32_t i = 0; i < mesh_log_length(m); i++) {
		const struct wire_event_log_entry *e = mesh_log_entry(m, i);
		if (e->type == WIRE_EVENT_RANK_EXITED && e->node == self)
			own_rank_ended(o, e->rank, e->status);
	}
	for (uint32_t i = 0; i < count; i++)
		if (mesh_exit_reported(m, ranks[i], &status))
			own_rank_ended(o, ranks[i], status);
	for (uint32_t i = 0; i < count; i++)
		if (ranks[i] < o->rank_cap && o->ranks[ranks[i]].state == RANK_RUNNING) {
			log_verbose("the step's outcome is left to another helper: this node's rank "
				    "%" PRIu32 " has not exited", ranks[i]);
			return false;
		}
	return true;
}

void outcome_on_member(struct mesh *m, struct outcome **slot)
{
	struct outcome *o = outcome_get(m, slot);
	if (o && mesh_joined_generation(m))
		log_verbose("failures recovered in this step up to this replacement's join: %" PRIu32,
			    o->recovered);
}

void outcome_on_shutdown(struct mesh *m, struct outcome **slot)
{
	struct outcome *o = *slot;
	if (!o || o->done || !take_own_exits(o))
		return;
	for (uint32_t n = 0; n < mesh_node_count(m); n++) {
		if (n == mesh_self(m) || mesh_node_state(m, n) != WIRE_NODE_LIVE)
			continue;
		if (!mesh_node_leaving(m, n) && !node_ended(o, n)) {
			log_verbose("the step's outcome is left to %s (%" PRIu32 "), whose ranks go on",
				    mesh_node_name(m, n), n);
			return; /* a helper that goes on decides later */
		}
		set_node_ranks(o, n, RANK_ENDED, -1, mesh_applied_generation(m) + 1, true);
	}
	if (all_ended(o)) {
		log_info("this helper ends last: it writes the step's outcome");
		finish(o, true);
	}
}

bool outcome_awaits_exits(struct mesh *m, const struct outcome *o)
{
	if (!o || o->done || mesh_leader(m) != mesh_self(m))
		return false;
	for (uint32_t i = 0; i < mesh_live_count(m); i++) {
		uint32_t n = mesh_live_ids(m)[i];
		if (n != mesh_self(m) && !mesh_node_leaving(m, n) && !node_ended(o, n))
			return true;
	}
	return false;
}

struct outcome_drain {
	struct mesh *m;
	struct outcome *o;
	uint64_t timer;
	uint64_t deadline_ms;
};

static void drain_poll(struct loop *loop, void *arg)
{
	struct outcome_drain *w = arg;
	w->timer = 0;
	if (!outcome_awaits_exits(w->m, w->o) || util_now_ms() >= w->deadline_ms ||
	    loop_add_timer(loop, OUTCOME_DRAIN_POLL_MS, drain_poll, w, &w->timer) < 0)
		loop_stop(loop);
}

void outcome_drain(struct mesh *m, struct outcome *o)
{
	struct loop *loop = mesh_lcrd(m)->loop;
	struct outcome_drain w = { .m = m, .o = o, .deadline_ms = util_now_ms() + OUTCOME_DRAIN_MS };
	if (!outcome_awaits_exits(m, o))
		return;
	log_info("waiting up to %d ms for the other nodes' last rank exits: this helper leads, "
		 "and writes the step's outcome once they are numbered", OUTCOME_DRAIN_MS);
	if (loop_add_timer(loop, OUTCOME_DRAIN_POLL_MS, drain_poll, &w, &w.timer) < 0)
		return;
	loop_run(loop);
	if (w.timer)
		loop_cancel_timer(loop, w.timer);
	if (outcome_awaits_exits(m, o))
		log_info("not every other node's ranks ended in time: the step's outcome is left to a "
			 "helper that goes on");
}

void outcome_destroy(struct outcome **slot)
{
	struct outcome *o = *slot;
	if (!o)
		return;
	if (o->scancel_timer)
		loop_cancel_timer(o->d->loop, o->scancel_timer);
	pid_watch_stop(&o->scancel);
	free(o->ranks);
	free(o);
	*slot = NULL;
}
