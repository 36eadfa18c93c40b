/* recovery.c: the leader's side of in-job recovery (lcrd --replace=spare; see recovery.h
 * and doc/mesh.md, "Replacement and rejoin").
 *
 * Failures wait in a queue and are handled one after another. The head waits only until
 * the leader's just-in-time checkpoint of that failure has chosen its step S (a round trip
 * to every live helper, not the disk; a lone survivor chooses it at once, while the
 * NODE_DOWN is applied, and the failure takes that step when it is queued), then an
 * attempt starts while the checkpoint is written: the replacement is told where the
 * checkpoint of S is to be published (LCR_REJOIN_CKPT), and fills its regions from the
 * replicas that hold S whether or not it is there yet (ckpt_restore.c). The ranks stay
 * paused at S meanwhile, so the writers and the transfer read the same committed state. A
 * checkpoint that fails (a full or unwritable disk) is logged here and by mesh_ckpt.c (a
 * CHECKPOINT event with its error) and does not stop the replacement; it only takes away
 * the fallback that RECOVERY_FAILED names. A checkpoint that ends before its step was
 * chosen here (no step to save) lets the attempt go on without one, as does a step without
 * --ckpt-dir. An attempt: the first spare of --job-nodes that is neither a node of the
 * step's table, nor a node replaced earlier, nor a spare that failed (a replacement learns
 * its leader's list from LCR_REJOIN_EXCLUDE, so that it never tries a dead node as a spare
 * once it leads); a REPLACING event whose generation is the attempt's epoch; the launcher
 * (srun) as a child in its own process group, its output appended to a file, watched with
 * a pidfd. The attempt ends when the replacement joins (mesh_join.c calls the joined
 * hook), or fails when the launcher exits first or --replace-timeout passes (SIGTERM to
 * its group, SIGKILL 2 s later): that spare is marked failed and the next is tried. With no
 * spare left or no program to launch, the leader says RECOVERY_FAILED, naming the
 * checkpoint to restart from.
 *
 * Every helper follows each node's recovery from the events it applies (recovery_track.h).
 * A helper that leads because the old leader was removed takes over every node that is down
 * and neither replaced nor given up, in node order, before the old leader's own failure: a
 * REPLACING that no NODE_JOINED followed is tried again with a new REPLACING and epoch. The
 * spare of that unfinished attempt goes to recovery_orphan.c, which cancels the step the old
 * leader may have started there and keeps the spare out of use until Slurm lists it gone
 * (take_over says why); a failure with no other spare left waits for that.
 *
 * Nodes down together share one communicator epoch. The ranks are told of a NODE_JOINED
 * only once no node is left down (mesh_events.c), and a replacement's ranks build their
 * communicators once, at the epoch they were launched with (LCR_REJOIN_EPOCH): so a
 * NODE_JOINED that leaves a node down fixes the epoch of the nodes still down, the
 * REPLACING of every later attempt for them carries it, and the last NODE_JOINED brings it
 * to the survivors (follow_shared_epoch). A failure alone keeps the epoch of its own
 * REPLACING, as before.
 *
 * Every applied event also goes to outcome.c, on every helper, which follows the step's
 * ranks to their end for the step's outcome file (its state hangs off struct recovery). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "services/recovery.h"
#include "internal/ckpt_plan.h"
#include "internal/ckpt_store.h"
#include "internal/hostlist.h"
#include "internal/process_start.h"
#include "internal/util.h"
#include "loop/job_env.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "loop/pidfd_watch.h"
#include "loop/slurm_nodes.h"
#include "mesh/mesh.h"
#include "services/mesh_ckpt.h"
#include "services/outcome.h"
#include "services/recovery_orphan.h"
#include "services/recovery_track.h"
#include "services/snapshot.h"

#define RECOVERY_KILL_GRACE_MS 2000
#define RECOVERY_REBUILD_POLL_MS 100
/* How long Slurm's answer about the job's nodes serves a pick (above its 1 s bound). */
#define RECOVERY_SPARES_FRESH_MS 2000


extern char **environ;

/* A node down, waiting for its replacement. */
struct recovery_failure {
	uint32_t node;
	char name[WIRE_NODE_NAME_MAX + 1]; /* its name when it failed */
	bool ckpt_unplanned;               /* its checkpoint chose no step yet: the attempt waits */
	bool ckpt_writing;                 /* its checkpoint of a chosen step is being written */
	bool ckpt_published;               /* ckpt is complete */
	bool gives_up;                     /* no replacement: RECOVERY_FAILED waits for ckpt */
	bool waits_for_checkpoint;         /* a rollback waits for its checkpoint to end */
	char ckpt[WIRE_CKPT_PATH_MAX + 1]; /* where its checkpoint is (being) published, or "" */
	uint64_t queued_ns;                /* its NODE_DOWN applied here (util_now_ns) */
	uint64_t planned_ns;               /* its checkpoint's step chosen, or its end; 0: not yet */
	uint64_t launched_ns;              /* the last attempt's launcher started; 0: none yet */
	uint64_t rollback_step;            /* recovery from the copies: the protected step every
					    * rank resumes after, or WIRE_NO_STEP */
	bool waits_for_orphan;             /* no spare left but one whose cancelled step runs */
	bool replicas_counted;             /* its checkpoint's plan counted the ranks below */
	uint32_t ranks_without_replica;    /* lost ranks whose shard no live rank holds */
	struct recovery_failure *next;
};

/* A launcher process: the attempt's, or one whose replacement joined (watched to log its
 * end), or one abandoned after its timeout (watched until it is gone). */
struct recovery_child {
	struct recovery *r;
	uint32_t node;
	char spare[WIRE_NODE_NAME_MAX + 1];
	struct pid_watch watch;
	bool joined;
	uint64_t kill_timer;
	struct recovery_child *next;
};

struct recovery {
	struct lcrd *d;
	struct mesh *m;
	struct hostlist job;        /* --job-nodes expanded */
	struct hostlist used;       /* failed spares and replaced nodes' names */
	size_t used_cap;
	struct recovery_failure *queue; /* the head is the failure being handled */
	bool in_flight;             /* an attempt for the head runs */
	uint64_t epoch;             /* its REPLACING's generation */
	char spare[WIRE_NODE_NAME_MAX + 1];
	struct recovery_child *attempt; /* its launcher */
	uint64_t timeout_timer;
	struct recovery_child *children;
	struct outcome *outcome;    /* the step's ranks to their end (outcome.c) */
	uint32_t replaced;          /* nodes replaced so far */
	struct recovery_track *tracks; /* every node's recovery from the events, on every helper */
	uint32_t track_count;
	struct recovery_orphans orphans; /* spares of the old leader's unfinished attempts */
	struct slurm_nodes slurm;   /* asks Slurm for the job's nodes before a spare is picked */
	uint64_t spares_answered_ns; /* when its answer came, not yet used by an attempt; 0: none */
	uint64_t shared_epoch;      /* the epoch of the nodes down together; 0: none fixed */
	uint64_t rebuild_timer;     /* asks again whether the head's rebuild is done */
	/* The step the leader's last checkpoint chose, at which generation, and its end: a
	 * lone survivor gathers its own report at once, so its failure's checkpoint chooses
	 * its step (and may end) while the NODE_DOWN is applied, before the failure is queued
	 * here (note_checkpoint). */
	uint64_t chosen_step;       /* WIRE_NO_STEP: none chosen yet */
	uint64_t chosen_generation;
	uint32_t chosen_without_replica;
	bool chosen_ended;
	struct wire_ckpt_result chosen_end;
};

static void kick(struct recovery *r);
static void rebuild_due(struct loop *loop, void *arg);
static void attempt_joined(struct mesh *m, uint32_t node, uint64_t g);

/* --- names --- */

static void add_name(struct hostlist *list, size_t *list_cap, const char *name)
{
	if (hostlist_contains(list, name))
		return;
	if (list->count == *list_cap) {
		size_t cap = *list_cap ? *list_cap * 2 : 8;
		void *p = realloc(list->names, cap * sizeof(list->names[0]));
		if (!p) {
			log_error("cannot remember the node name '%s': out of memory", name);
			return;
		}
		list->names = p;
		*list_cap = cap;
	}
	util_format_text(list->names[list->count++], HOSTLIST_NAME_MAX + 1, "%s", name);
}

static void add_used(struct recovery *r, const char *name)
{
	add_name(&r->used, &r->used_cap, name);
}

/* A replacement's helper has not seen the failures before its join: the nodes its leader
 * had replaced or found unusable come in its step's environment (LCR_REJOIN_EXCLUDE, names
 * separated by commas, as build_env writes them), and are never its spares should it lead. */
static void learn_excluded(struct recovery *r)
{
	const struct lcrd_options *o = &r->d->opt;
	char **env = o->job_env_fd >= 0 ? job_env_read(o->job_env_fd) : NULL;
	const char *value = NULL;
	static const char prefix[] = "LCR_REJOIN_EXCLUDE=";
	for (char **e = env ? env : environ; *e && !value; e++)
		if (strncmp(*e, prefix, sizeof(prefix) - 1) == 0)
			value = *e + sizeof(prefix) - 1;
	char *names = strdup(value ? value : ""), *save = NULL;
	if (!names) {
		log_error("cannot read LCR_REJOIN_EXCLUDE: out of memory; a node it names may be "
			  "tried as a spare");
		job_env_free(env);
		return;
	}
	for (char *name = strtok_r(names, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		if (strlen(name) > HOSTLIST_NAME_MAX) {
			log_warning("LCR_REJOIN_EXCLUDE names a node longer than %d bytes: ignored",
				    HOSTLIST_NAME_MAX);
			continue;
		}
		add_used(r, name);
	}
	if (r->used.count)
		log_info("not a spare should this helper lead (its leader's replaced or failed "
			 "nodes): %s", value);
	free(names);
	job_env_free(env);
}

static bool in_table(const struct mesh *m, const char *name)
{
	for (uint32_t node = 0; node < mesh_node_count(m); node++)
		if (strcmp(mesh_node_name(m, node), name) == 0)
			return true;
	return false;
}

/* Slurm's answer to what the leader asks before it picks a spare (slurm_nodes.h): the job's
 * nodes (the step's environment may list only the step's: a step started with srun --jobid
 * from outside the allocation) and which of them it considers unusable. What could not be
 * asked stays as --job-nodes said. Then the attempt that waited for it goes on. */
static void slurm_nodes_answered(void *arg, const char *nodes, const char *err,
				 const char *unusable)
{
	struct recovery *r = arg;
	char why[256];
	struct hostlist job = { 0 }, bad = { 0 };
	if (!nodes)
		log_verbose("cannot ask Slurm for the job's nodes (%s): using --job-nodes", err);
	else if (hostlist_expand(nodes, &job, why, sizeof(why)) < 0)
		log_warning("Slurm's node list '%s' for the job is unreadable (%s): using --job-nodes",
			    nodes, why);
	else {
		hostlist_fini(&r->job);
		r->job = job;
	}
	if (unusable && unusable[0] && hostlist_expand(unusable, &bad, why, sizeof(why)) == 0) {
		for (size_t i = 0; i < bad.count; i++) {
			if (!in_table(r->m, bad.names[i]) && !hostlist_contains(&r->used, bad.names[i]))
				log_info("Slurm reports node %s down or drained: not a spare",
					 bad.names[i]);
			add_used(r, bad.names[i]);
		}
		hostlist_fini(&bad);
	}
	r->spares_answered_ns = util_now_ns();
	kick(r);
}

/* Whether Slurm's answer is recent enough for a pick: one that waited for the head failure's
 * checkpoint or rebuild is asked again. */
static bool spares_fresh(const struct recovery *r)
{
	return r->spares_answered_ns &&
	       util_now_ns() - r->spares_answered_ns < RECOVERY_SPARES_FRESH_MS * 1000000ull;
}

/* The first usable spare into out: never one whose cancelled orphan step Slurm still
 * lists, one of the old leader's unfinished attempts that Slurm could not tell about only
 * when no other is left; false when none is left. */
static bool pick_spare(struct recovery *r, char *out, size_t cap)
{
	for (int orphans_too = 0; orphans_too <= 1; orphans_too++)
		for (size_t i = 0; i < r->job.count; i++) {
			const char *name = r->job.names[i];
			if (in_table(r->m, name) || hostlist_contains(&r->used, name) ||
			    recovery_orphans_busy(&r->orphans, name) ||
			    (!orphans_too && recovery_orphans_tried_last(&r->orphans, name)))
				continue;
			util_format_text(out, cap, "%s", name);
			return true;
		}
	return false;
}

/* A spare whose orphan step was cancelled is settled: usable again, or not used. */
static void orphan_settled(void *arg, const char *spare, bool usable)
{
	struct recovery *r = arg;
	if (!usable)
		add_used(r, spare);
	kick(r);
}

static struct recovery *get(struct mesh *m)
{
	struct lcrd *d = mesh_lcrd(m);
	char err[256];
	if (d->recovery)
		return d->recovery;
	struct recovery *r = calloc(1, sizeof(*r));
	if (!r) {
		log_error("cannot start recovery: out of memory");
		return NULL;
	}
	r->d = d;
	r->m = m;
	r->chosen_step = WIRE_NO_STEP;
	r->tracks = calloc(mesh_node_count(m) ? mesh_node_count(m) : 1, sizeof(*r->tracks));
	if (!r->tracks) {
		log_error("cannot start recovery: out of memory");
		free(r);
		return NULL;
	}
	r->track_count = mesh_node_count(m);
	recovery_orphans_init(&r->orphans, r->d->loop, r->d->opt.job_id, r->d->opt.step_id,
			      r->d->opt.replace_timeout_s * 1000, orphan_settled, r);
	slurm_nodes_init(&r->slurm, r->d->loop, r->d->opt.job_id, slurm_nodes_answered, r);
	const char *job_nodes = r->d->opt.job_nodes;
	if (job_nodes && *job_nodes && hostlist_expand(job_nodes, &r->job, err, sizeof(err)) < 0)
		log_error("cannot read --job-nodes=%s: %s; no spare node is known", job_nodes, err);
	if (r->d->opt.rejoin)
		learn_excluded(r);
	d->recovery = r;
	return r;
}

/* --- children --- */

static void child_free(struct recovery *r, struct recovery_child *c)
{
	for (struct recovery_child **pos = &r->children; *pos; pos = &(*pos)->next)
		if (*pos == c) {
			*pos = c->next;
			break;
		}
	if (r->attempt == c)
		r->attempt = NULL;
	pid_watch_stop(&c->watch);
	if (c->kill_timer)
		loop_cancel_timer(r->d->loop, c->kill_timer);
	free(c);
}

static void kill_due(struct loop *loop, void *arg)
{
	struct recovery_child *c = arg;
	(void)loop;
	c->kill_timer = 0;
	log_warning("the launcher for node %" PRIu32 " on %s (pid %d) still runs 2 s after "
		    "SIGTERM: SIGKILL to its process group",
		    c->node, c->spare, (int)c->watch.pid);
	kill(-c->watch.pid, SIGKILL);
}

/* SIGTERM to the child's process group, SIGKILL RECOVERY_KILL_GRACE_MS later. */
static void child_terminate(struct recovery *r, struct recovery_child *c)
{
	kill(-c->watch.pid, SIGTERM);
	if (!c->kill_timer &&
	    loop_add_timer(r->d->loop, RECOVERY_KILL_GRACE_MS, kill_due, c, &c->kill_timer) < 0)
		c->kill_timer = 0;
}

/* The wait status of an exited child, reaped here. */
static int child_reap(struct recovery_child *c)
{
	int status = 0;
	if (waitpid(c->watch.pid, &status, WNOHANG) == c->watch.pid)
		return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return c->watch.exit_status >= 0 ? c->watch.exit_status : -1;
}

static void attempt_failed(struct recovery *r, const char *why);

static void child_exited(struct pid_watch *w, void *arg)
{
	struct recovery_child *c = arg;
	struct recovery *r = c->r;
	char why[WIRE_TEXT_MAX + 1];
	int status = child_reap(c);
	(void)w;
	if (c->joined)
		log_info("replacement step for node %" PRIu32 " ended: exit status %d", c->node,
			 status);
	else if (c == r->attempt) {
		util_format_text(why, sizeof(why), "the launcher exited with status %d before the "
			 "replacement joined", status);
		child_free(r, c);
		attempt_failed(r, why);
		return;
	} else
		log_info("the abandoned launcher for node %" PRIu32 " on %s ended: exit status %d",
			 c->node, c->spare, status);
	child_free(r, c);
}

/* --- launching --- */

/* "NAME=value" appended to env[*n]; the strings are freed by env_free. */
static int env_add(char **env, size_t *n, const char *name, const char *value)
{
	size_t len = strlen(name) + strlen(value) + 2;
	char *s = malloc(len);
	if (!s)
		return -ENOMEM;
	util_format_text(s, len, "%s=%s", name, value);
	env[(*n)++] = s;
	return 0;
}

static void env_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

static bool env_dropped(const char *entry)
{
	return strncmp(entry, "SLURM_NTASKS=", 13) == 0 ||
	       strncmp(entry, "SLURM_NPROCS=", 13) == 0 || strncmp(entry, "LCR_REJOIN_", 11) == 0;
}

/* The step's node names in node-id order, node's replaced by spare. */
static void format_nodes(const struct mesh *m, uint32_t node, const char *spare, char *buf,
			 size_t cap)
{
	size_t len = 0;
	buf[0] = '\0';
	for (uint32_t i = 0; i < mesh_node_count(m) && len + 1 < cap; i++) {
		int n = snprintf(buf + len, cap - len, "%s%s", i ? "," : "",
				 i == node ? spare : mesh_node_name(m, i));
		len += n > 0 ? (size_t)n : 0;
	}
}

/* The names of r->used, comma-separated, as many whole names as cap holds (one left out
 * only costs the replacement, should it lead, a failed attempt on that node). */
#define EXCLUDE_TEXT_MAX 65536 /* well below execve's 128 KiB for one environment string */
static void format_used(const struct recovery *r, char *buf, size_t cap)
{
	size_t len = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < r->used.count; i++) {
		size_t need = strlen(r->used.names[i]) + (len ? 1 : 0);
		if (len + need + 1 > cap)
			break;
		len += (size_t)snprintf(buf + len, cap - len, "%s%s", len ? "," : "", r->used.names[i]);
	}
}

/* The launcher's first entries: the job's environment from the plugin (job_env.h), or
 * lcrd's own in foreground mode, less SLURM_NTASKS and SLURM_NPROCS. NULL when out of memory. */
static char **copy_source_env(const struct lcrd_options *o, size_t extra, size_t *n)
{
	char **job = o->job_env_fd >= 0 ? job_env_read(o->job_env_fd) : NULL, **source = job ? job : environ;
	size_t count = 0;
	if (o->job_env_fd >= 0 && !job)
		log_warning("cannot read the job's environment (--job-env-fd=%d): %s; the replacement "
			    "starts with lcrd's", o->job_env_fd, strerror(errno));
	while (source[count])
		count++;
	char **env = calloc(count + extra, sizeof(*env));
	for (size_t i = 0; env && i < count; i++)
		if (!env_dropped(source[i]) && !(env[(*n)++] = strdup(source[i]))) {
			env_free(env);
			env = NULL;
		}
	job_env_free(job);
	return env;
}

/* The launcher's environment: the job's (copy_source_env), plus LCR_REJOIN_*. NULL when
 * out of memory. */
static char **build_env(struct recovery *r, const struct recovery_failure *f)
{
	struct mesh *m = r->m;
	uint32_t rank_count;
	const uint32_t *ranks = mesh_node_ranks(m, f->node, &rank_count);
	size_t n = 0;
	char value[4096];
	static char nodes[WIRE_MESH_NODES_MAX * (WIRE_NODE_NAME_MAX + 1)];
	char **env = copy_source_env(&r->d->opt, 16, &n);
	if (!env)
		return NULL;
	int rc = 0;
	util_format_text(value, sizeof(value), "%" PRIu32, r->d->opt.step_id);
	rc |= env_add(env, &n, "LCR_REJOIN_STEP", value);
	util_format_text(value, sizeof(value), "%" PRIu32, f->node);
	rc |= env_add(env, &n, "LCR_REJOIN_NODE_ID", value);
	util_format_text(value, sizeof(value), "%" PRIu32, mesh_node_count(m));
	rc |= env_add(env, &n, "LCR_REJOIN_NODE_COUNT", value);
	util_format_rank_list(ranks, rank_count, value, sizeof(value));
	rc |= env_add(env, &n, "LCR_REJOIN_RANKS", value);
	util_format_text(value, sizeof(value), "%" PRIu32, mesh_total_ranks(m));
	rc |= env_add(env, &n, "LCR_REJOIN_NTASKS", value);
	format_nodes(m, f->node, r->spare, nodes, sizeof(nodes));
	rc |= env_add(env, &n, "LCR_REJOIN_NODES", nodes);
	util_format_text(value, sizeof(value), strchr(mesh_address(m), ':') ? "[%s]:%u" : "%s:%u",
			 mesh_address(m), mesh_port(m));
	rc |= env_add(env, &n, "LCR_REJOIN_PEER", value);
	util_format_text(value, sizeof(value), "%" PRIu64, r->epoch);
	rc |= env_add(env, &n, "LCR_REJOIN_EPOCH", value);
	if (f->rollback_step != WIRE_NO_STEP) /* a path that names the step */
		ckpt_store_path(value, sizeof(value), r->d->opt.ckpt_dir, f->rollback_step, false);
	rc |= env_add(env, &n, "LCR_REJOIN_CKPT", f->rollback_step != WIRE_NO_STEP ? value : f->ckpt);
	format_used(r, nodes, sizeof(nodes) < EXCLUDE_TEXT_MAX ? sizeof(nodes) : EXCLUDE_TEXT_MAX);
	rc |= env_add(env, &n, "LCR_REJOIN_EXCLUDE", nodes);
	if (rc == 0)
		return env;
	env_free(env);
	return NULL;
}

/* The replacement's argv; the strings it formats are its own. */
struct launch_argv {
	char **argv;
	char jobid[64], ntasks[64], nodelist[WIRE_NODE_NAME_MAX + 16];
	char *settings[LCR_SETTING_COUNT]; /* "--lcr-OPTION=TEXT", or NULL */
};

static void launch_argv_free(struct launch_argv *a)
{
	for (size_t i = 0; i < LCR_SETTING_COUNT; i++)
		free(a->settings[i]);
	free(a->argv);
}

/* Whether the replacement's srun gets the step's value of setting i: every user option that
 * lcrd was given (the step may have had it from srun's command line, which the job's
 * environment lacks), but --lcr-restore (the replacement restores the failure's step, from
 * LCR_REJOIN_CKPT). */
static bool passed_to_replacement(const struct lcrd_options *o, size_t i)
{
	return lcr_settings[i].option && lcr_settings[i].lcrd_arg && o->setting_given[i] &&
	       i != LCR_SETTING_RESTORE;
}

/* Whether the step ran with --lcr-verbose, which reaches lcrd as --log-level=verbose (a
 * site's log_level of verbose reads the same, and the flag gives the replacement no more). */
static bool step_was_verbose(const struct lcrd_options *o)
{
	const char *level = o->setting_given[LCR_SETTING_LOG_LEVEL];
	return level && strcmp(level, "verbose") == 0;
}

/* LAUNCHER --jobid=J --overlap --nodes=1 --ntasks=N --nodelist=SPARE --lcr
 * [--lcr-OPTION=TEXT ...] -- PROGRAM ARGS: the step's settings as this helper was given them
 * (--lcr-ckpt-dir, --lcr-detect-timeout, --lcr-redundancy, ...: the rows of lcr_settings[]
 * with an option and an lcrd_arg, and --lcr-verbose), so that the replacement runs as the
 * step did, and its later checkpoints and the step's outcome go to the step's directory.
 * 0 or -ENOMEM. */
static int build_argv(struct recovery *r, const struct recovery_failure *f, struct launch_argv *a)
{
	const struct lcrd_options *o = &r->d->opt;
	uint32_t rank_count;
	mesh_node_ranks(r->m, f->node, &rank_count);
	size_t n = 0;
	*a = (struct launch_argv){ .argv = calloc((size_t)o->program_argc + 10 + LCR_SETTING_COUNT,
						  sizeof(*a->argv)) };
	if (!a->argv)
		return -ENOMEM;
	util_format_text(a->jobid, sizeof(a->jobid), "--jobid=%" PRIu32, o->job_id);
	util_format_text(a->ntasks, sizeof(a->ntasks), "--ntasks=%" PRIu32,
			 rank_count ? rank_count : 1);
	util_format_text(a->nodelist, sizeof(a->nodelist), "--nodelist=%s", r->spare);
	a->argv[n++] = o->launcher;
	a->argv[n++] = a->jobid;
	a->argv[n++] = "--overlap";
	a->argv[n++] = "--nodes=1";
	a->argv[n++] = a->ntasks;
	a->argv[n++] = a->nodelist;
	a->argv[n++] = "--lcr";
	for (size_t i = 0; i < LCR_SETTING_COUNT; i++) {
		if (!passed_to_replacement(o, i))
			continue;
		if (asprintf(&a->settings[i], "--%s=%s", lcr_settings[i].option,
			     o->setting_given[i]) < 0) {
			a->settings[i] = NULL;
			return -ENOMEM;
		}
		a->argv[n++] = a->settings[i];
	}
	if (step_was_verbose(o))
		a->argv[n++] = "--lcr-verbose";
	a->argv[n++] = "--";
	for (int i = 0; i < o->program_argc; i++)
		a->argv[n++] = o->program[i];
	return 0;
}

/* The launcher's output file: lcr-J.S.replacement-K.out in $SLURM_SUBMIT_DIR, or in the
 * step's working directory ($PWD: a step started with srun --jobid from outside the
 * allocation has no SLURM_SUBMIT_DIR), else the runtime directory's replacement-K.out. An
 * open descriptor, or -errno. */
static int open_output(struct recovery *r, uint32_t node, char *path, size_t cap)
{
	const struct lcrd_options *o = &r->d->opt;
	const char *submit = getenv("SLURM_SUBMIT_DIR");
	if (!submit || !*submit)
		submit = getenv("PWD");
	if (submit && *submit)
		util_format_text(path, cap, "%s/lcr-%" PRIu32 ".%" PRIu32 ".replacement-%" PRIu32 ".out",
			 submit, o->job_id, o->step_id, node);
	else
		util_format_text(path, cap, "%s/replacement-%" PRIu32 ".out", r->d->dir.dir, node);
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
	return fd < 0 ? -errno : fd;
}

/* Starts the launcher in a process group of its own, output to out_fd: its pid, or -errno
 * with why (exec failed: its errno). */
static pid_t spawn(char **argv, char **env, int out_fd, char *why, size_t cap)
{
	struct process_plan plan = PROCESS_PLAN_INIT;
	pid_t pid;
	plan.path = argv[0];
	plan.argv = argv;
	plan.envp = env;
	plan.stdout_fd = out_fd;
	plan.stderr_fd = out_fd;
	plan.new_group = true;
	int rc = process_start(&plan, &pid, why, cap);
	return rc < 0 ? rc : pid;
}

/* Starts the launcher for f on r->spare: 0, or -errno with why. */
static int launch(struct recovery *r, const struct recovery_failure *f, char *why, size_t cap)
{
	char path[4200];
	struct launch_argv a;
	char **env = build_env(r, f);
	int argv_rc = build_argv(r, f, &a);
	char **argv = a.argv;
	struct recovery_child *c = calloc(1, sizeof(*c));
	int rc = -ENOMEM, out_fd = -1;
	util_format_text(why, cap, "out of memory");
	if (!env || argv_rc < 0 || !c)
		goto out;
	out_fd = open_output(r, f->node, path, sizeof(path));
	if (out_fd < 0) {
		rc = out_fd;
		util_format_text(why, cap, "cannot open %s: %s", path, strerror(-rc));
		goto out;
	}
	pid_t pid = spawn(argv, env, out_fd, why, cap);
	if (pid < 0) {
		rc = (int)pid;
		util_format_text(why, cap, "cannot run %s: %s", argv[0], strerror(-rc));
		goto out;
	}
	*c = (struct recovery_child){ .r = r, .node = f->node, .next = r->children };
	util_format_text(c->spare, sizeof(c->spare), "%s", r->spare);
	pid_watch_init(&c->watch);
	rc = pid_watch_start(&c->watch, r->d->loop, pid, child_exited, c);
	if (rc < 0) {
		util_format_text(why, cap, "cannot watch the launcher (pid %d): %s", (int)pid,
			 strerror(-rc));
		process_wait(pid, 0, true, NULL);
		goto out;
	}
	r->children = c;
	r->attempt = c;
	r->queue->launched_ns = util_now_ns();
	c = NULL;
	log_info("launched %s (pid %d) for node %" PRIu32 " on %s, epoch %" PRIu64 "; output in %s",
		 argv[0], (int)pid, f->node, r->spare, r->epoch, path);
out:
	if (out_fd >= 0)
		close(out_fd);
	free(c);
	launch_argv_free(&a);
	env_free(env);
	return rc;
}

/* --- attempts --- */

static void pop_failure(struct recovery *r)
{
	struct recovery_failure *f = r->queue;
	if (!f)
		return;
	r->queue = f->next;
	free(f);
}

/* No replacement for the head failure: RECOVERY_FAILED, and the next failure. While the
 * failure's checkpoint is still being written, the event waits for its end (kick runs
 * again then): RECOVERY_FAILED ends the ranks and with them the step, which would cancel
 * the very checkpoint the event tells them to restart from. */
static void give_up(struct recovery *r, const char *why)
{
	struct mesh *m = r->m;
	struct recovery_failure *f = r->queue;
	char message[WIRE_TEXT_MAX + 1], restart[WIRE_CKPT_PATH_MAX + 64];
	const char *dir = r->d->opt.ckpt_dir;
	if (f->ckpt_writing) {
		if (!f->gives_up)
			log_info("node %s (%" PRIu32 ") cannot be replaced (%s): RECOVERY_FAILED "
				 "waits for its checkpoint to be written", f->name, f->node, why);
		f->gives_up = true;
		return;
	}
	if (f->ckpt_published)
		util_format_text(restart, sizeof(restart), "the checkpoint %s", f->ckpt);
	else if (dir)
		util_format_text(restart, sizeof(restart), "the newest checkpoint in %s", dir);
	else
		util_format_text(restart, sizeof(restart), "scratch (no checkpoint directory)");
	util_format_text(message, sizeof(message), "cannot replace node %s (%" PRIu32 "): %s; restart "
		 "from %s", f->name, f->node, why, restart);
	if (mesh_state(m) == WIRE_MESH_UP && mesh_leader(m) == mesh_self(m))
		mesh_sequence_recovery(m, WIRE_EVENT_RECOVERY_FAILED, f->node, 0, NULL, message);
	pop_failure(r);
}

static void timeout_due(struct loop *loop, void *arg)
{
	struct recovery *r = arg;
	char why[WIRE_TEXT_MAX + 1];
	(void)loop;
	r->timeout_timer = 0;
	util_format_text(why, sizeof(why), "no JOIN within --replace-timeout=%" PRIu32 " s",
		 r->d->opt.replace_timeout_s);
	if (r->attempt) {
		child_terminate(r, r->attempt);
		r->attempt = NULL; /* abandoned: still watched until it is gone */
	}
	attempt_failed(r, why);
}

/* The attempt's spare failed: mark it, try the next. */
static void attempt_failed(struct recovery *r, const char *why)
{
	struct recovery_failure *f = r->queue;
	log_warning("the replacement of node %s (%" PRIu32 ") on spare %s failed: %s", f->name,
		    f->node, r->spare, why);
	add_used(r, r->spare);
	if (r->timeout_timer)
		loop_cancel_timer(r->d->loop, r->timeout_timer);
	r->timeout_timer = 0;
	r->in_flight = false;
	r->attempt = NULL;
	kick(r);
}

/* With --redundancy=copy, the head failure is recovered from the copies at the newest
 * protected step when some lost rank's shard has no live replica (as the failure's
 * checkpoint counted; when it counted nothing, that is assumed) and the lost node's copies
 * of that step are held by a live node: the REPLACING
 * rolls every survivor back to it, and the replacement restores it (its checkpoint path
 * names that step: from the replicas and the copies only, unless a checkpoint of that step
 * exists). The failure's own checkpoint is waited for first, as the rollback changes the
 * regions its writers read. With --redundancy=erasure, the same once this leader has
 * rebuilt the lost node's snapshot from the parity of its group: while its blocks are on
 * their way, the attempt is tried again every RECOVERY_REBUILD_POLL_MS. 0 to go on, 1
 * while it waits. */
static int choose_rollback(struct recovery *r, struct recovery_failure *f)
{
	char why[WIRE_TEXT_MAX + 1];
	const char *dir = r->d->opt.ckpt_dir;
	f->rollback_step = WIRE_NO_STEP;
	if (r->d->opt.redundancy != LCR_REDUNDANCY_COPY &&
	    r->d->opt.redundancy != LCR_REDUNDANCY_ERASURE)
		return 0;
	if (f->replicas_counted && f->ranks_without_replica == 0) {
		log_info("every shard of node %s (%" PRIu32 ") has a live replica: it is recovered "
			 "from the replicas, no rank is rolled back", f->name, f->node);
		return 0;
	}
	if (snapshot_rebuild_pending(r->d, f->node)) {
		if (!r->rebuild_timer &&
		    loop_add_timer(r->d->loop, RECOVERY_REBUILD_POLL_MS, rebuild_due, r,
				   &r->rebuild_timer) < 0)
			r->rebuild_timer = 0;
		return 1;
	}
	uint64_t step = snapshot_recovery_step(r->d, f->node, why, sizeof(why));
	if (step == WIRE_NO_STEP) {
		log_warning("node %s (%" PRIu32 ") cannot be recovered from the in-memory copies: "
			    "%s; only the live replicas can fill its replacement", f->name, f->node,
			    why);
		return 0;
	}
	if (!dir) {
		log_warning("node %s (%" PRIu32 ") cannot be recovered from the copies of step "
			    "%" PRIu64 ": the replacement is told the step by a checkpoint path, and "
			    "the step has no --ckpt-dir", f->name, f->node, step);
		return 0;
	}
	if (f->ckpt_writing) {
		f->waits_for_checkpoint = true;
		return 1;
	}
	f->rollback_step = step;
	log_info("node %s (%" PRIu32 ") is recovered from the in-memory copies of protected step "
		 "%" PRIu64 ": every rank is rolled back to it", f->name, f->node, step);
	return 0;
}

/* Tries the spares for the head failure until a launcher runs, or gives up. */
static void rebuild_due(struct loop *loop, void *arg)
{
	struct recovery *r = arg;
	(void)loop;
	r->rebuild_timer = 0;
	kick(r);
}

static void start_attempt(struct recovery *r)
{
	struct mesh *m = r->m;
	struct recovery_failure *f = r->queue;
	char message[WIRE_TEXT_MAX + 1], why[WIRE_TEXT_MAX + 1];
	if (!r->d->opt.program_argc) {
		give_up(r, "lcrd has no program to launch (nothing after '--')");
		return;
	}
	if (choose_rollback(r, f) != 0)
		return;
	if (!spares_fresh(r)) {
		slurm_nodes_ask(&r->slurm, r->d->opt.job_nodes);
		return; /* slurm_nodes_answered kicks again */
	}
	r->spares_answered_ns = 0;
	while (pick_spare(r, r->spare, sizeof(r->spare))) {
		recovery_track_format_replacing(message, sizeof(message), f->name, f->node,
						f->rollback_step, r->spare);
		uint64_t g = mesh_sequence_replacement(m, WIRE_EVENT_REPLACING, f->node,
						       r->shared_epoch, NULL, f->rollback_step, message);
		r->epoch = r->shared_epoch ? r->shared_epoch : g;
		if (mesh_leader(m) != mesh_self(m) || mesh_state(m) != WIRE_MESH_UP)
			return;
		if (launch(r, f, why, sizeof(why)) == 0) {
			r->in_flight = true;
			if (loop_add_timer(r->d->loop, (uint64_t)r->d->opt.replace_timeout_s * 1000,
					   timeout_due, r, &r->timeout_timer) < 0)
				r->timeout_timer = 0;
			return;
		}
		log_warning("the replacement of node %s (%" PRIu32 ") on spare %s failed: %s",
			    f->name, f->node, r->spare, why);
		add_used(r, r->spare);
	}
	if (recovery_orphans_busy_count(&r->orphans)) {
		if (!f->waits_for_orphan)
			log_info("node %s (%" PRIu32 ") waits for a spare: the only one left runs a "
				 "cancelled step of the old leader's", f->name, f->node);
		f->waits_for_orphan = true;
		return;
	}
	give_up(r, r->job.count ? "no spare node left in --job-nodes" :
				  "no spare node: --job-nodes names none");
}

/* Starts the next attempt when none runs and the head's checkpoint has chosen its step (or
 * ended, or none runs). */
static void kick(struct recovery *r)
{
	if (mesh_leader(r->m) != mesh_self(r->m) || mesh_state(r->m) != WIRE_MESH_UP)
		return;
	while (!r->in_flight && r->queue && !r->queue->ckpt_unplanned &&
	       !(r->queue->waits_for_checkpoint && r->queue->ckpt_writing)) {
		struct recovery_failure *head = r->queue;
		start_attempt(r);
		if (r->in_flight || r->queue == head)
			return;
	}
}

/* --- the failure's checkpoint --- */

/* f's checkpoint is being written at step: the replacement can be told where it goes. */
static void checkpoint_planned(struct mesh *m, struct recovery_failure *f, uint64_t step)
{
	f->planned_ns = util_now_ns();
	f->ckpt_unplanned = false;
	f->ckpt_writing = true;
	ckpt_store_path(f->ckpt, sizeof(f->ckpt), mesh_lcrd(m)->opt.ckpt_dir, step, false);
	log_info("the checkpoint of step %" PRIu64 " for node %s (%" PRIu32 ") is written while "
		 "it is replaced: the replacement fills from the replicas at that step", step,
		 f->name, f->node);
}

/* f's checkpoint ended. Published: the fallback is there. Failed before its step was
 * chosen: the replacement starts without one, as without --ckpt-dir. Failed while the
 * replacement was on its way: reported, and the replacement still fills from the replicas
 * at the step it was given. */
static void checkpoint_ended(struct recovery_failure *f, const struct wire_ckpt_result *result)
{
	bool was_writing = f->ckpt_writing;
	if (f->ckpt_unplanned)
		f->planned_ns = util_now_ns();
	f->ckpt_unplanned = f->ckpt_writing = false;
	if (result->status == 0) {
		util_format_text(f->ckpt, sizeof(f->ckpt), "%s", result->path);
		f->ckpt_published = true;
	} else if (was_writing) {
		log_warning("the checkpoint for node %s (%" PRIu32 ") failed (%s): its replacement "
			    "still fills from the replicas; no checkpoint is left to fall back on",
			    f->name, f->node, result->message);
	}
}

/* Whether f waits for the leader's checkpoint to choose a step: one runs. One that chose
 * its step while f's NODE_DOWN was applied (a lone survivor plans at once) is f's: f goes on
 * at that step, whether the checkpoint is still written or ended already. One that chose
 * its step before (it began before this failure) may hold a step the survivors have gone
 * past: f then waits for its end, as before. */
static void note_checkpoint(struct mesh *m, struct recovery *r, struct recovery_failure *f)
{
	f->ckpt_unplanned = r->d->opt.ckpt_dir && mesh_ckpt_running(m);
	if (!r->d->opt.ckpt_dir || r->chosen_step == WIRE_NO_STEP ||
	    r->chosen_generation != mesh_applied_generation(m))
		return;
	f->replicas_counted = true;
	f->ranks_without_replica = r->chosen_without_replica;
	checkpoint_planned(m, f, r->chosen_step);
	if (r->chosen_ended)
		checkpoint_ended(f, &r->chosen_end);
}

/* The leader's phases of f's recovery, from its NODE_DOWN: where the time went. */
static void log_timeline(const struct recovery_failure *f)
{
	uint64_t now = util_now_ns();
	double planned = f->planned_ns ? (double)(f->planned_ns - f->queued_ns) / 1e9 : 0;
	log_info("recovery of node %s (%" PRIu32 ") from its NODE_DOWN: checkpoint step chosen "
		 "+%.3f s, spare launched +%.3f s, joined +%.3f s; the checkpoint %s",
		 f->name, f->node, planned, (double)(f->launched_ns - f->queued_ns) / 1e9,
		 (double)(now - f->queued_ns) / 1e9,
		 f->ckpt_published ? "was published before the join" :
		 f->ckpt_writing   ? "is still being written" : "was not published");
}

/* --- entry points --- */

/* Queues node's failure behind the others; adopted: taken over from the old leader. */
static void queue_failure(struct recovery *r, uint32_t node, bool adopted)
{
	struct mesh *m = r->m;
	struct recovery_failure *f = calloc(1, sizeof(*f));
	if (!f) {
		log_error("cannot queue the replacement of node %" PRIu32 ": out of memory", node);
		return;
	}
	f->node = node;
	f->queued_ns = util_now_ns();
	util_format_text(f->name, sizeof(f->name), "%s", mesh_node_name(m, node));
	note_checkpoint(m, r, f);
	add_used(r, f->name);
	struct recovery_failure **pos = &r->queue;
	while (*pos)
		pos = &(*pos)->next;
	*pos = f;
	log_info("node %s (%" PRIu32 ") is queued for replacement%s%s", f->name, f->node,
		 adopted ? ", taken over from the old leader" : "",
		 f->ckpt_unplanned ? " once its checkpoint has chosen the step to save" : "");
}

static bool queued(const struct recovery *r, uint32_t node)
{
	for (const struct recovery_failure *f = r->queue; f; f = f->next)
		if (f->node == node)
			return true;
	return false;
}

/* This helper leads since the old leader's removal (ev): it takes over every node the table
 * shows down and not replaced nor given up, except ev's own, which is queued after them.
 * The spare of an attempt the old leader left unfinished goes to recovery_orphan.c: its
 * launcher died with the old leader, and the replacement it may have started knows no
 * address but the old leader's, so it can never join (it would run beside a new one on
 * that spare until --replace-timeout ends it): its step is cancelled, and the spare waits
 * until Slurm lists it gone. */
static void take_over(struct recovery *r, const struct wire_mesh_event *ev)
{
	struct mesh *m = r->m;
	for (uint32_t node = 0; node < mesh_node_count(m) && node < r->track_count; node++) {
		const struct recovery_track *t = &r->tracks[node];
		if (node == ev->node || node == mesh_self(m) || queued(r, node) ||
		    !recovery_track_adoptable(t, mesh_node_state(m, node)))
			continue;
		const char *orphan = recovery_track_orphan_spare(t);
		if (orphan) {
			log_info("the old leader's attempt for node %" PRIu32 " (epoch %" PRIu64 ") on "
				 "%s did not end: its launcher died with it", node, t->epoch, orphan);
			recovery_orphans_add(&r->orphans, orphan);
		}
		queue_failure(r, node, true);
	}
}

/* Whether ev removed the leader and made this helper lead: the leader is the lowest live
 * node, so a node below this one whose removal leaves this one leading was the leader. */
static bool leads_after_leader_removed(const struct mesh *m, const struct wire_mesh_event *ev)
{
	return (ev->type == WIRE_EVENT_NODE_DOWN || ev->type == WIRE_EVENT_NODE_LEFT) &&
	       mesh_leader(m) == mesh_self(m) && ev->node < mesh_self(m);
}

/* This helper no longer leads (a replacement below it joined): the new leader takes the
 * queue over (recovery_on_member_started); an attempt still in flight here is abandoned. */
static void hand_over(struct recovery *r)
{
	recovery_orphans_clear(&r->orphans);
	slurm_nodes_cancel(&r->slurm);
	r->spares_answered_ns = 0;
	if (!r->queue)
		return;
	log_info("%s leads now: the failures queued here are left to it",
		 mesh_node_name(r->m, mesh_leader(r->m)));
	if (r->attempt) {
		child_terminate(r, r->attempt);
		r->attempt = NULL;
	}
	if (r->timeout_timer)
		loop_cancel_timer(r->d->loop, r->timeout_timer);
	r->timeout_timer = 0;
	r->in_flight = false;
	while (r->queue)
		pop_failure(r);
}

/* A NODE_JOINED of epoch was applied (or, for a replacement, its own join): the first that
 * leaves a node down fixes the epoch of the nodes still down; one that leaves none ends it. */
static void follow_shared_epoch(struct recovery *r, uint64_t epoch)
{
	uint32_t down = mesh_nodes_down(r->m);
	if (!down) {
		r->shared_epoch = 0;
		return;
	}
	if (r->shared_epoch)
		return;
	r->shared_epoch = epoch;
	log_info("%" PRIu32 " node%s still down after the join at epoch %" PRIu64 ": %s "
		 "replacement%s get%s that epoch, and the ranks rebuild at it once none is left "
		 "down", down, down == 1 ? " is" : "s are", epoch, down == 1 ? "its" : "their",
		 down == 1 ? "" : "s", down == 1 ? "s" : "");
}

void recovery_on_membership(struct mesh *m, const struct wire_mesh_event *ev)
{
	struct recovery *r = get(m);
	if (!r)
		return;
	outcome_on_event(m, &r->outcome, ev);
	if (ev->node < r->track_count)
		recovery_track_apply(&r->tracks[ev->node], ev->type, ev->epoch, ev->message);
	if (ev->type == WIRE_EVENT_NODE_JOINED)
		follow_shared_epoch(r, ev->epoch);
	if (r->d->opt.replace != LCR_REPLACE_SPARE)
		return;
	if (ev->type == WIRE_EVENT_NODE_DOWN && ev->node < mesh_node_count(m))
		add_used(r, mesh_node_name(m, ev->node)); /* no spare, whoever leads later */
	if (ev->type == WIRE_EVENT_NODE_JOINED)
		attempt_joined(m, ev->node, ev->generation);
	if (mesh_leader(m) != mesh_self(m)) {
		hand_over(r);
		return;
	}
	bool took_over = leads_after_leader_removed(m, ev);
	bool node_down = ev->type == WIRE_EVENT_NODE_DOWN && ev->node < mesh_node_count(m) &&
			 ev->node != mesh_self(m);
	if (took_over)
		take_over(r, ev);
	if (node_down)
		queue_failure(r, ev->node, false);
	if (took_over || node_down)
		kick(r); /* last: its REPLACING reuses the buffer ev may point to */
}

void recovery_on_checkpoint_step(struct mesh *m, uint64_t step, const struct manifest *plan)
{
	struct recovery *r = get(m);
	if (!r || !r->d->opt.ckpt_dir)
		return;
	r->chosen_step = step;
	r->chosen_generation = mesh_applied_generation(m);
	r->chosen_without_replica = ckpt_plan_ranks_without_replica(plan, mesh_total_ranks(m));
	r->chosen_ended = false;
	for (struct recovery_failure *f = r->queue; f; f = f->next)
		if (f->ckpt_unplanned) {
			f->replicas_counted = true;
			f->ranks_without_replica = r->chosen_without_replica;
			checkpoint_planned(m, f, step);
		}
	kick(r);
}

void recovery_on_checkpoint_end(struct mesh *m, const struct wire_ckpt_result *result)
{
	struct recovery *r = mesh_lcrd(m)->recovery;
	if (!r)
		return;
	r->chosen_ended = true;
	r->chosen_end = *result;
	if (result->status < 0 && !r->queue && r->replaced)
		log_warning("the checkpoint after the last failure failed (%s): the replacement "
			    "already took its state from the replicas; no checkpoint is left to fall "
			    "back on", result->message);
	for (struct recovery_failure *f = r->queue; f; f = f->next)
		if (f->ckpt_unplanned || f->ckpt_writing)
			checkpoint_ended(f, result);
	kick(r);
}

int recovery_admit(struct mesh *m, uint32_t node, const char *name, uint64_t *epoch,
		   char *why, size_t cap)
{
	struct recovery *r = mesh_lcrd(m)->recovery;
	if (!r || !r->in_flight || !r->queue || r->queue->node != node) {
		util_format_text(why, cap, "no replacement of node %" PRIu32 " is in flight", node);
		return -EPERM;
	}
	if (strcmp(name, r->spare) != 0) {
		util_format_text(why, cap, "the replacement of node %" PRIu32 " in flight runs on %s, not "
			 "on %s", node, r->spare, name);
		return -EPERM;
	}
	*epoch = r->epoch;
	return 0;
}

/* The replacement in flight for node joined at generation g: the head is done (the next
 * attempt starts from recovery_joined, once NODE_JOINED is applied everywhere here). */
static void attempt_joined(struct mesh *m, uint32_t node, uint64_t g)
{
	struct recovery *r = mesh_lcrd(m)->recovery;
	if (!r || !r->in_flight || !r->queue || r->queue->node != node)
		return;
	log_info("node %" PRIu32 " was replaced by %s at generation %" PRIu64 " (epoch %" PRIu64
		 ")", node, r->spare, g, r->epoch);
	log_timeline(r->queue);
	if (r->attempt)
		r->attempt->joined = true;
	r->attempt = NULL;
	r->replaced++;
	if (r->timeout_timer)
		loop_cancel_timer(r->d->loop, r->timeout_timer);
	r->timeout_timer = 0;
	r->in_flight = false;
	pop_failure(r);
}

void recovery_joined(struct mesh *m, uint32_t node, uint64_t g)
{
	attempt_joined(m, node, g);
	struct recovery *r = mesh_lcrd(m)->recovery;
	if (r)
		kick(r);
}

void recovery_drain(struct lcrd *d)
{
	if (d->mesh && d->recovery && mesh_state(d->mesh) == WIRE_MESH_UP)
		outcome_drain(d->mesh, d->recovery->outcome);
}

void recovery_destroy(struct mesh *m)
{
	struct recovery *r = mesh_lcrd(m)->recovery;
	if (!r)
		return;
	outcome_on_shutdown(m, &r->outcome);
	if (r->attempt)
		kill(-r->attempt->watch.pid, SIGTERM);
	while (r->children)
		child_free(r, r->children);
	while (r->queue)
		pop_failure(r);
	if (r->rebuild_timer)
		loop_cancel_timer(r->d->loop, r->rebuild_timer);
	if (r->timeout_timer)
		loop_cancel_timer(r->d->loop, r->timeout_timer);
	outcome_destroy(&r->outcome);
	hostlist_fini(&r->job);
	free(r->used.names);
	recovery_orphans_fini(&r->orphans);
	slurm_nodes_cancel(&r->slurm);
	free(r->tracks);
	free(r);
	mesh_lcrd(m)->recovery = NULL;
}

/* Every applied event; a one-node step follows its ranks for the outcome as a mesh's leader
 * does, a helper left alone by a failed rendezvous does not. */
static void event_applied(struct mesh *m, const struct wire_mesh_event *ev, void *arg)
{
	(void)arg;
	if (mesh_state(m) != WIRE_MESH_STANDALONE || mesh_node_count(m) == 1)
		recovery_on_membership(m, ev);
}

/* A replacement is a member, joined with epoch: its outcome record starts from the count of
 * failures recovered before it; epoch is the epoch of the nodes still down, if any; if it
 * leads (it replaced the lowest node), it takes over every node that its table shows down
 * and not yet replaced. */
static void member_started(struct mesh *m, uint64_t epoch)
{
	struct recovery *r = get(m);
	if (!r)
		return;
	outcome_on_member(m, &r->outcome);
	if (r->d->opt.replace != LCR_REPLACE_SPARE)
		return;
	follow_shared_epoch(r, epoch);
	if (mesh_leader(m) != mesh_self(m))
		return;
	struct wire_mesh_event none = { .node = WIRE_NO_NODE, .type = WIRE_EVENT_NODE_JOINED };
	take_over(r, &none);
	kick(r);
}

int recovery_subscribe(struct lcrd *d)
{
	int rc = mesh_on_stop(d, recovery_destroy);
	if (rc < 0)
		return rc;
	mesh_on_join(d, recovery_admit, recovery_joined);
	mesh_on_member(d, member_started);
	return mesh_subscribe(d, event_applied, NULL);
}
