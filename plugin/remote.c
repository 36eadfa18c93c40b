/*
 * remote.c: the plugin in slurmstepd, where it runs the step's helper on this node.
 *
 * slurm_spank_init_post_opt, still as root, decides whether this step uses LCR and makes
 * the user's runtime directory (the only thing done as root). slurm_spank_user_init, which
 * slurmstepd calls with its effective ids already the user's, starts one lcrd per node per
 * step (not for the batch or extern step) and exports LCR_SOCKET to the tasks; task_post_fork and task_exit report the
 * tasks to it; the node's last task_exit stops it (it is in the step's cgroups, which Slurm
 * removes next), and slurm_spank_exit removes its files. A failure in user_init
 * does not fail an srun step by itself, so it is kept and returned from task_init: the
 * step fails loudly when the site says LCR is `required`, else it runs without LCR and
 * says so once.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal/hostlist.h"
#include "plugin.h"

#define RANKS_TEXT_MAX 4096
#define NODE_NAME_MAX 256
#define HOSTLIST_MAX 4096
#define RENDEZVOUS_TEXT_MAX 96
#define CKPT_ROOTS_TEXT_MAX 4096 /* lcrd --ckpt-roots: the site's roots, ':'-joined */

/* Slurm's step ids for the batch script and the extern step (slurm.h's SLURM_*_SCRIPT). */
#define STEP_ID_BATCH 0xfffffffbu
#define STEP_ID_EXTERN 0xfffffffcu

struct spank_env_lookup {
	spank_t sp;
	char buffer[4096];
};

static const char *job_environment_lookup(void *ctx, const char *name)
{
	struct spank_env_lookup *lookup = ctx;

	if (spank_getenv(lookup->sp, name, lookup->buffer, sizeof(lookup->buffer)) != ESPANK_SUCCESS)
		return NULL;
	return lookup->buffer;
}

static void job_getenv(spank_t sp, const char *name, char *out, size_t outlen, const char *fallback)
{
	if (spank_getenv(sp, name, out, (int)outlen) == ESPANK_SUCCESS && out[0])
		return;
	snprintf(out, outlen, "%s", fallback);
}

/* The global ranks of this node's tasks, as "0,1,2". */
static int local_ranks_text(spank_t sp, char *out, size_t outlen)
{
	uint32_t count = 0, local, global;
	size_t used = 0;

	out[0] = '\0';
	if (spank_get_item(sp, S_JOB_LOCAL_TASK_COUNT, &count) != ESPANK_SUCCESS)
		return -EINVAL;
	for (local = 0; local < count; local++) {
		if (spank_get_item(sp, S_JOB_LOCAL_TO_GLOBAL_ID, local, &global) != ESPANK_SUCCESS)
			return -EINVAL;
		used += (size_t)snprintf(out + used, outlen - used, "%s%u", local ? "," : "", global);
		if (used >= outlen)
			return -E2BIG;
	}
	return 0;
}

/* The user's name (their uid when unknown) and home directory ("" when unknown). */
static void user_name_and_home(uid_t uid, char *name, size_t name_len, char *home, size_t home_len)
{
	struct passwd pwd, *found = NULL;
	char buffer[4096];

	if (getpwuid_r(uid, &pwd, buffer, sizeof(buffer), &found) == 0 && found) {
		snprintf(name, name_len, "%s", found->pw_name);
		snprintf(home, home_len, "%s", found->pw_dir ? found->pw_dir : "");
	} else {
		snprintf(name, name_len, "%u", (unsigned)uid);
		home[0] = '\0';
	}
}

static int fail(struct plugin_state *state, int rc, const char *message)
{
	state->user_init_status = rc;
	size_t length = strnlen(message, sizeof(state->user_init_error) - 1);

	memcpy(state->user_init_error, message, length);
	state->user_init_error[length] = '\0';
	slurm_error("%s", message);
	return rc;
}

/* Merge the options srun forwarded with the job's LCR_* environment and the site config. */
static int resolve_step_options(struct plugin_state *state, spank_t sp, uid_t uid, uint32_t job_id)
{
	struct spank_env_lookup lookup = { .sp = sp };
	char err[PLUGIN_ERROR_MAX], user[256], home[PATH_MAX];
	struct options_job_owner owner = { .user = user, .home = home };

	user_name_and_home(uid, user, sizeof(user), home, sizeof(home));
	options_collect(sp, &state->typed);
	if (options_resolve(&state->typed, job_environment_lookup, &lookup, &state->site, &owner, job_id,
			    &state->options, err, sizeof(err)) < 0)
		return fail(state, -EINVAL, err);
	return 0;
}

static int export_to_tasks(struct plugin_state *state, spank_t sp)
{
	char pid_text[16];

	snprintf(pid_text, sizeof(pid_text), "%d", (int)state->helper.pid);
	if (spank_setenv(sp, "LCR_SOCKET", state->helper.socket_path, 1) != ESPANK_SUCCESS ||
	    spank_setenv(sp, "LCR_RUNTIME_DIR", state->site.runtime_dir, 1) != ESPANK_SUCCESS ||
	    spank_setenv(sp, "LCR_CKPT_DIR", state->options.text[LCR_SETTING_CKPT_DIR], 1) != ESPANK_SUCCESS ||
	    spank_setenv(sp, "LCR_HELPER_PID", pid_text, 1) != ESPANK_SUCCESS ||
	    spank_setenv(sp, lcr_settings[LCR_SETTING_REPLACE].env, state->options.text[LCR_SETTING_REPLACE], 1) !=
		    ESPANK_SUCCESS)
		return -EIO;
	return 0;
}

/* The helper's directory and log go; a failure is logged, as it leaves them behind. */
static void remove_files(const struct plugin_state *state)
{
	int rc = helper_remove_files(&state->helper);
	if (rc < 0)
		slurm_error("lcr: cannot remove the helper's files %s and %s: %s", state->helper.node_dir,
			    state->helper.log_path, strerror(-rc));
}

static int start_helper(struct plugin_state *state, spank_t sp, struct helper_identity *id)
{
	char err[PLUGIN_ERROR_MAX], message[PLUGIN_ERROR_MAX + 1100], tail[1024];
	int rc;

	rc = helper_start(id, state->site.helper_start_timeout, &state->helper, err, sizeof(err));
	if (rc < 0) {
		helper_log_tail(&state->helper, tail, sizeof(tail));
		snprintf(message, sizeof(message), "%s%s%s", err, tail[0] ? "; helper log:\n" : "", tail);
		helper_stop(&state->helper, 0.5);
		remove_files(state);
		return fail(state, rc, message);
	}
	if (export_to_tasks(state, sp) < 0)
		return fail(state, -EIO, "lcr: cannot export LCR_SOCKET to the tasks");
	state->active = true;
	return 0;
}

/*
 * Where the step's rendezvous listens: the port srun's plugin exported as LCR_RENDEZVOUS,
 * on srun's address as this node sees it. slurmd takes that address from srun's launch
 * request and puts it in the step's environment as SLURM_SRUN_COMM_HOST before user_init
 * (SLURM_LAUNCH_NODE_IPADDR, the same address, only appears in the tasks' environment).
 * -ENOENT when the step has no rendezvous.
 */
static int rendezvous_address(spank_t sp, char *out, size_t outlen)
{
	char port[16], host[64];

	if (spank_getenv(sp, "LCR_RENDEZVOUS", port, sizeof(port)) != ESPANK_SUCCESS || !port[0])
		return -ENOENT;
	if ((spank_getenv(sp, "SLURM_LAUNCH_NODE_IPADDR", host, sizeof(host)) != ESPANK_SUCCESS || !host[0]) &&
	    (spank_getenv(sp, "SLURM_SRUN_COMM_HOST", host, sizeof(host)) != ESPANK_SUCCESS || !host[0]))
		return -ENOENT;
	snprintf(out, outlen, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
	return 0;
}

static bool is_batch_or_extern_step(spank_t sp)
{
	uint32_t step_id;

	return spank_get_item(sp, S_JOB_STEPID, &step_id) != ESPANK_SUCCESS || step_id == STEP_ID_BATCH ||
	       step_id == STEP_ID_EXTERN;
}

int remote_init_post_opt(struct plugin_state *state, spank_t sp)
{
	char err[PLUGIN_ERROR_MAX];
	uint32_t job_id;
	uid_t uid;
	gid_t gid;
	int rc;

	if (is_batch_or_extern_step(sp))
		return 0;
	if (spank_get_item(sp, S_JOB_UID, &uid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_GID, &gid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_ID, &job_id) != ESPANK_SUCCESS)
		return fail(state, -EINVAL, "lcr: cannot read the step's user and job from Slurm");
	rc = resolve_step_options(state, sp, uid, job_id);
	if (rc < 0 || !state->options.enabled)
		return 0;
	rc = helper_prepare_runtime_dir(state->site.runtime_dir, uid, gid, state->helper.user_dir,
					sizeof(state->helper.user_dir), err, sizeof(err));
	if (rc < 0)
		fail(state, rc, err);
	return 0;
}

/* This node's name: its entry in the step's node list (node id order). The job
 * environment's SLURMD_NODENAME would be wrong for a step started from a batch script,
 * where it names the batch node. */
static void step_node_name(const char *step_nodes, uint32_t node_id, const char *fallback, char *out,
			   size_t outlen)
{
	struct hostlist nodes = { 0 };
	char err[256];

	if (hostlist_expand(step_nodes, &nodes, err, sizeof(err)) == 0 && node_id < nodes.count)
		snprintf(out, outlen, "%s", nodes.names[node_id]);
	else if (out != fallback)
		snprintf(out, outlen, "%s", fallback);
	hostlist_fini(&nodes);
}

static uint32_t count_ranks(const char *ranks)
{
	uint32_t count = *ranks ? 1 : 0;

	for (; *ranks; ranks++)
		count += *ranks == ',';
	return count;
}

/* A replacement step's helper stands in for the dead node: its step, node id and ranks,
 * joined to the running step's helpers, its regions restored from the failure's
 * checkpoint when there is one. */
static void take_over_dead_node(struct plugin_state *state, struct helper_identity *id)
{
	const struct rejoin_plan *plan = &state->rejoin;

	id->step_id = plan->step_id;
	id->node_id = plan->node_id;
	id->node_count = plan->node_count;
	id->ranks = plan->ranks_text;
	id->rejoin = plan->peer;
	if (plan->ckpt[0])
		id->settings[LCR_SETTING_RESTORE] = plan->ckpt;
}

/* The text of the site's settings lcrd gets, one after the other. */
struct helper_setting_texts {
	char pool[CKPT_ROOTS_TEXT_MAX + 1024];
	size_t used;
};

/* The site's settings that lcrd gets and no user option overrides, each as lcrd reads it;
 * an empty list is not passed. */
static int pass_site_settings(const struct lcr_site_config *site, struct helper_setting_texts *t,
			      struct helper_identity *id, char *err, size_t errlen)
{
	char why[PLUGIN_ERROR_MAX / 2];

	for (size_t i = 0; i < LCR_SETTING_COUNT; i++) {
		const struct lcr_setting_spec *spec = &lcr_settings[i];
		char *text = t->pool + t->used;

		if (!spec->lcrd_arg || !spec->yaml_key || spec->option)
			continue;
		if (lcr_site_config_value_text(site, spec, text, sizeof(t->pool) - t->used, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "lcr: site setting %s: %s", spec->yaml_key, why);
			return -EINVAL;
		}
		if (spec->type == LCR_TYPE_PATH_LIST && !text[0])
			continue;
		id->settings[i] = text;
		t->used += strlen(text) + 1;
	}
	return 0;
}

/* Fills id->settings: what lcrd gets of the site's settings and the user's options. */
static int pass_settings(const struct plugin_state *state, struct helper_setting_texts *t,
			 struct helper_identity *id, char *err, size_t errlen)
{
	t->used = 0;
	if (pass_site_settings(&state->site, t, id, err, errlen) < 0)
		return -EINVAL;
	options_pass_to_lcrd(&state->options, id->settings);
	return 0;
}

static int start_step_helper(struct plugin_state *state, spank_t sp)
{
	struct helper_identity id = { 0 };
	char ranks[RANKS_TEXT_MAX], node_name[NODE_NAME_MAX], step_nodes[HOSTLIST_MAX], job_nodes[HOSTLIST_MAX];
	char host[NODE_NAME_MAX] = "localhost", rendezvous[RENDEZVOUS_TEXT_MAX], err[PLUGIN_ERROR_MAX];
	struct helper_setting_texts setting_texts;
	gid_t *groups = NULL;
	char **environment = NULL, **program = NULL;
	int program_count = 0, rc;

	if (!state->options.enabled || state->user_init_status < 0 || is_batch_or_extern_step(sp))
		return 0;
	rc = rejoin_read(sp, &state->rejoin, err, sizeof(err));
	state->rejoining = rc != -ENOENT;
	if (rc < 0 && rc != -ENOENT)
		return fail(state, rc, err);
	if (spank_get_item(sp, S_JOB_STEPID, &id.step_id) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_UID, &id.uid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_GID, &id.gid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_ID, &id.job_id) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_NODEID, &id.node_id) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_NNODES, &id.node_count) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_SUPPLEMENTARY_GIDS, &groups, &id.group_count) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_ENV, &environment) != ESPANK_SUCCESS)
		return fail(state, -EINVAL, "lcr: cannot read the step's identity from Slurm");
	if (local_ranks_text(sp, ranks, sizeof(ranks)) < 0)
		return fail(state, -EINVAL, "lcr: cannot read the global ranks of this node's tasks");
	if (state->rejoining && state->rejoin.rank_count != count_ranks(ranks))
		return fail(state, -EINVAL, "lcr: replacement step: it runs another number of tasks than "
					    "LCR_REJOIN_RANKS names");
	gethostname(host, sizeof(host) - 1);
	job_getenv(sp, "SLURMD_NODENAME", node_name, sizeof(node_name),
		   getenv("SLURMD_NODENAME") ? getenv("SLURMD_NODENAME") : host);
	job_getenv(sp, "SLURM_STEP_NODELIST", step_nodes, sizeof(step_nodes), node_name);
	if (state->rejoining) {
		snprintf(step_nodes, sizeof(step_nodes), "%s", state->rejoin.nodes);
		id.node_id = state->rejoin.node_id;
	}
	job_getenv(sp, "SLURM_JOB_NODELIST", job_nodes, sizeof(job_nodes), step_nodes);
	step_node_name(step_nodes, id.node_id, node_name, node_name, sizeof(node_name));
	id.groups = groups;
	id.node_name = node_name;
	id.ranks = ranks;
	id.step_nodes = step_nodes;
	id.job_nodes = job_nodes;
	id.helper_path = state->site.helper;
	id.runtime_root = state->site.runtime_dir;
	if (pass_settings(state, &setting_texts, &id, err, sizeof(err)) < 0)
		return fail(state, -EINVAL, err);
	id.environment = environment;
	if (spank_get_item(sp, S_JOB_ARGV, &program_count, &program) == ESPANK_SUCCESS && program_count > 0)
		id.program = program;
	if (state->rejoining)
		take_over_dead_node(state, &id);
	else if (rendezvous_address(sp, rendezvous, sizeof(rendezvous)) == 0)
		id.rendezvous = rendezvous;
	return start_helper(state, sp, &id);
}

/* Starts the helper. A failure is kept for task_init, which decides by `required` whether
 * it fails the step: a non-zero return here would fail the step regardless. */
int remote_user_init(struct plugin_state *state, spank_t sp)
{
	start_step_helper(state, sp);
	return 0;
}

int remote_task_init(struct plugin_state *state, spank_t sp)
{
	char err[PLUGIN_ERROR_MAX];
	int local_id = 0;

	if (state->user_init_status == 0 && state->rejoining) {
		if (spank_get_item(sp, S_TASK_ID, &local_id) != ESPANK_SUCCESS ||
		    rejoin_renumber_task(sp, &state->rejoin, (uint32_t)local_id, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			return -1;
		}
	}
	if (state->user_init_status == 0)
		return 0;
	if (state->rejoining) {
		fprintf(stderr, "%s\nlcr: this replacement step cannot stand in for the dead node\n",
			state->user_init_error);
		return -1;
	}
	if (state->site.required) {
		fprintf(stderr, "%s\nlcr: LCR is required on this cluster; the step cannot run without it\n",
			state->user_init_error);
		return -1;
	}
	if (spank_get_item(sp, S_TASK_ID, &local_id) == ESPANK_SUCCESS && local_id == 0)
		fprintf(stderr, "%s\nlcr: warning: this step runs without LCR\n", state->user_init_error);
	return 0;
}

/* The rank a task has in the LCR step: Slurm's number, or in a replacement step the rank
 * it took over. */
static uint32_t step_rank(const struct plugin_state *state, uint32_t local_id, uint32_t slurm_rank)
{
	if (state->rejoining && local_id < state->rejoin.rank_count)
		return state->rejoin.ranks[local_id];
	return slurm_rank;
}

/* Says once why the helper lost track of the tasks: given up for not reading, or another error. */
static void report_failure(struct plugin_state *state, int rc, const char *what, uint32_t rank, pid_t pid)
{
	if (rc == 0 || (rc == -ENOTCONN && state->helper_given_up))
		return;
	if (rc == -ETIMEDOUT) {
		state->helper_given_up = true;
		slurm_error("lcr: the helper (pid %d) did not read its channel for %d ms while task %u (pid %d) %s: "
			    "it was killed; the step goes on without LCR on this node",
			    (int)state->helper.pid, HELPER_SEND_WAIT_MS, rank, (int)pid, what);
		return;
	}
	slurm_error("lcr: cannot tell the helper that task %u (pid %d) %s: %s", rank, (int)pid, what,
		    strerror(-rc));
}

int remote_task_post_fork(struct plugin_state *state, spank_t sp)
{
	uint32_t global_rank = 0;
	pid_t pid = 0;
	int local_id = 0;

	if (!state->active)
		return 0;
	if (spank_get_item(sp, S_TASK_PID, &pid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_TASK_ID, &local_id) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_TASK_GLOBAL_ID, &global_rank) != ESPANK_SUCCESS)
		return 0;
	global_rank = step_rank(state, (uint32_t)local_id, global_rank);
	report_failure(state, helper_report_task_started(&state->helper, (uint32_t)local_id, global_rank, pid),
		       "started", global_rank, pid);
	return 0;
}

/* The node's last task has exited: the helper is stopped in order now (its exits reported,
 * SHUTDOWN, a bounded wait), not in slurm_spank_exit. Slurm kills the step's processes
 * between the two: with cgroup v2 and proctrack/cgroup, every process of the step's cgroup
 * but slurmstepd is SIGKILLed, the helper included (it is in step_S/slurm, with
 * slurmstepd), which would end it before it hands its last exits to the leader or writes
 * the step's outcome (spank_lcr(8), "The helper's environment and limits"). */
static void stop_after_last_task(struct plugin_state *state, spank_t sp)
{
	uint32_t local_tasks = 0;

	if (spank_get_item(sp, S_JOB_LOCAL_TASK_COUNT, &local_tasks) != ESPANK_SUCCESS ||
	    ++state->tasks_exited < local_tasks)
		return;
	helper_stop(&state->helper, state->site.helper_stop_timeout);
}

int remote_task_exit(struct plugin_state *state, spank_t sp)
{
	uint32_t global_rank = 0;
	pid_t pid = 0;
	int status = 0, local_id = 0;

	if (!state->active)
		return 0;
	if (spank_get_item(sp, S_TASK_PID, &pid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_TASK_GLOBAL_ID, &global_rank) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_TASK_EXIT_STATUS, &status) != ESPANK_SUCCESS)
		return 0;
	if (spank_get_item(sp, S_TASK_ID, &local_id) == ESPANK_SUCCESS)
		global_rank = step_rank(state, (uint32_t)local_id, global_rank);
	report_failure(state, helper_report_task_exited(&state->helper, global_rank, pid, status), "exited",
		       global_rank, pid);
	stop_after_last_task(state, sp);
	return 0;
}

int remote_exit(struct plugin_state *state, spank_t sp)
{
	(void)sp;
	if (!state->active)
		return 0;
	helper_stop(&state->helper, state->site.helper_stop_timeout); /* stopped already, mostly */
	remove_files(state);
	state->active = false;
	return 0;
}
