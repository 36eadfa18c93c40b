/* spank_order_probe.c: a test-only SPANK plugin that the local test cluster stacks after
 * spank_lcr.so. When the job's environment has LCR_TEST_ORDER_PROBE=FILE, its
 * slurm_spank_task_exit of the node's last local task (called after spank_lcr.so's, and
 * before slurmstepd kills what is left of the step and calls slurm_spank_exit) appends to
 * FILE whether this step's lcrd on this node still runs: "node ID lcrd running" or "node ID
 * lcrd gone" (ID: the node's index in the step). Under cgroup v2 with proctrack/cgroup,
 * Slurm SIGKILLs every process of the step's cgroup (lcrd included) at that point, so LCR
 * must have stopped its helper in order by then (cases/10_plugin.sh).
 *
 * With the arguments runtime_dir=DIR (spank_lcr.so's) and keep_logs=KEEP, it also copies the
 * step's helper log on this node, DIR/UID/JOB.STEP.NODE.log, to KEEP/JOB.STEP.NODE.log (a
 * replacement step's: JOB.STEP.NODE.replacement-ITS_STEP.log, STEP the one it rejoins) at
 * that point, after spank_lcr.so stopped the helper and before it removes the log in
 * slurm_spank_exit: the cluster suites print what the helpers of a failed case logged
 * (tests/integration/lib.sh). */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <slurm/spank.h>

SPANK_PLUGIN(lcr_order_probe, 1);

static uint32_t tasks_exited;

/* Whether /proc/PID/cmdline is an lcrd with these three arguments. */
static bool is_step_lcrd(const char *pid, const char *job, const char *step, const char *node)
{
	char path[300], cmdline[8192];
	snprintf(path, sizeof(path), "/proc/%s/cmdline", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, cmdline, sizeof(cmdline) - 1);
	close(fd);
	if (n <= 0)
		return false;
	cmdline[n] = '\0';
	const char *base = strrchr(cmdline, '/');
	if (strcmp(base ? base + 1 : cmdline, "lcrd") != 0)
		return false;
	bool job_seen = false, step_seen = false, node_seen = false;
	for (const char *arg = cmdline; arg < cmdline + n; arg += strlen(arg) + 1) {
		job_seen |= strcmp(arg, job) == 0;
		step_seen |= strcmp(arg, step) == 0;
		node_seen |= strcmp(arg, node) == 0;
	}
	return job_seen && step_seen && node_seen;
}

static bool step_lcrd_running(uint32_t job_id, uint32_t step_id, uint32_t node_id)
{
	char job[32], step[32], node[32];
	snprintf(job, sizeof(job), "--job-id=%u", job_id);
	snprintf(step, sizeof(step), "--step-id=%u", step_id);
	snprintf(node, sizeof(node), "--node-id=%u", node_id);
	DIR *proc = opendir("/proc");
	bool running = false;
	for (struct dirent *e; proc && !running && (e = readdir(proc));)
		if (isdigit((unsigned char)e->d_name[0]))
			running = is_step_lcrd(e->d_name, job, step, node);
	if (proc)
		closedir(proc);
	return running;
}

/* The value of argument NAME=VALUE among argv, or NULL. */
static const char *argument(int argc, char **argv, const char *name)
{
	size_t len = strlen(name);
	for (int i = 0; i < argc; i++)
		if (strncmp(argv[i], name, len) == 0 && argv[i][len] == '=')
			return argv[i] + len + 1;
	return NULL;
}

/* Copies this node's helper log of the step into keep (best effort: a test's aid). */
static void keep_helper_log(spank_t sp, const char *runtime_dir, const char *keep,
			    uint32_t job_id, uint32_t step_id)
{
	char node[256], rejoin[32], from[4096], to[4096], buf[65536];
	uid_t uid = 0;
	if (spank_getenv(sp, "SLURMD_NODENAME", node, sizeof(node)) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_UID, &uid) != ESPANK_SUCCESS || strchr(node, '/'))
		return;
	/* A replacement step's helper serves the step it rejoins, and names its files so. */
	if (spank_getenv(sp, "LCR_REJOIN_STEP", rejoin, sizeof(rejoin)) == ESPANK_SUCCESS &&
	    strspn(rejoin, "0123456789") == strlen(rejoin) && rejoin[0]) {
		snprintf(from, sizeof(from), "%s/%u/%u.%s.%s.log", runtime_dir, (unsigned)uid, job_id,
			 rejoin, node);
		snprintf(to, sizeof(to), "%s/%u.%s.%s.replacement-%u.log", keep, job_id, rejoin, node,
			 step_id);
	} else {
		snprintf(from, sizeof(from), "%s/%u/%u.%u.%s.log", runtime_dir, (unsigned)uid,
			 job_id, step_id, node);
		snprintf(to, sizeof(to), "%s/%u.%u.%s.log", keep, job_id, step_id, node);
	}
	int in = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return;
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	for (ssize_t n; out >= 0 && (n = read(in, buf, sizeof(buf))) > 0;)
		if (write(out, buf, (size_t)n) != n)
			break;
	if (out >= 0)
		close(out);
	close(in);
}

int slurm_spank_task_exit(spank_t sp, int argc, char **argv)
{
	char file[4096];
	uint32_t local_tasks = 0, job_id = 0, step_id = 0, node_id = 0;
	const char *runtime_dir = argument(argc, argv, "runtime_dir");
	const char *keep = argument(argc, argv, "keep_logs");
	if (spank_remote(sp) != 1 ||
	    spank_get_item(sp, S_JOB_NODEID, &node_id) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_LOCAL_TASK_COUNT, &local_tasks) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_ID, &job_id) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_STEPID, &step_id) != ESPANK_SUCCESS)
		return 0;
	if (++tasks_exited < local_tasks)
		return 0;
	if (runtime_dir && keep)
		keep_helper_log(sp, runtime_dir, keep, job_id, step_id);
	if (spank_getenv(sp, "LCR_TEST_ORDER_PROBE", file, sizeof(file)) != ESPANK_SUCCESS)
		return 0;
	FILE *out = fopen(file, "ae");
	if (!out)
		return 0;
	fprintf(out, "node %u lcrd %s\n", node_id,
		step_lcrd_running(job_id, step_id, node_id) ? "running" : "gone");
	fclose(out);
	return 0;
}
