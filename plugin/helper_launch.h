/*
 * helper_launch.h: start, talk to, stop and clean up after one lcrd, from slurmstepd.
 *
 * slurmstepd runs as root; lcrd must not. helper_start() starts it detached, with
 * process_start_detached (a grandchild in a session of its own, so slurmstepd never waits
 * for or reaps it), drops to the job's user and groups, resets the oom_score_adj
 * slurmstepd gave it, closes every inherited descriptor but one end of a socketpair (and
 * the job's environment), and executes lcrd. The socketpair is the plugin's
 * channel to its helper: READY comes back on it, task starts and exits go out on it, and
 * when slurmstepd goes away the helper sees it close and ends.
 */
#ifndef LCR_PLUGIN_HELPER_LAUNCH_H
#define LCR_PLUGIN_HELPER_LAUNCH_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "internal/settings.h"

/* How long a report to the helper waits for room on a full channel before it gives up. */
#define HELPER_SEND_WAIT_MS 5000
/* The longest node name the helper's file names are built from. */
#define HELPER_NODE_NAME_MAX 255

/* Who the helper runs as and what it serves. Strings belong to the caller. */
struct helper_identity {
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	int group_count;
	uint32_t job_id;
	uint32_t step_id;
	uint32_t node_id;
	uint32_t node_count;
	const char *node_name;
	const char *ranks;       /* global ranks of this node's tasks: "4,5" */
	const char *step_nodes;  /* Slurm host lists */
	const char *job_nodes;
	const char *helper_path;
	const char *runtime_root;
	/* the site's and the user's settings: lcrd --<lcr_settings[i].lcrd_arg>=settings[i],
	   for each setting that has an lcrd_arg and a text here (NULL: not passed) */
	const char *settings[LCR_SETTING_COUNT];
	const char *rendezvous;   /* "HOST:PORT" of the step's rendezvous, or NULL */
	char *const *environment; /* the job's environment: lcrd gets its allowed part, and all
				     of it as data for a replacement step (helper_environment.c) */
	const char *rejoin;       /* a replacement's "HOST:PORT" to join: lcrd --rejoin, or NULL */
	char *const *program;     /* the step's program and arguments (NULL-terminated), or NULL */
};

/* A started helper. pid -1 and descriptors -1 when there is none. */
struct helper_handle {
	pid_t pid;
	int pidfd;
	int channel_fd;
	uid_t uid;
	gid_t gid;
	char user_dir[PATH_MAX];  /* runtime_root/<uid>, 0700, owned by the user */
	char node_dir[PATH_MAX];  /* user_dir/<job>.<step>.<node>, made by the helper */
	char log_path[PATH_MAX];  /* user_dir/<job>.<step>.<node>.log */
	char socket_path[PATH_MAX];
};

/* Make runtime_root (root-owned, 0755) and runtime_root/<uid> (the user's, 0700). */
int helper_prepare_runtime_dir(const char *runtime_root, uid_t uid, gid_t gid, char *user_dir,
			       size_t user_dir_len, char *err, size_t errlen);

/* Start lcrd and wait up to timeout seconds for its READY. */
int helper_start(const struct helper_identity *id, double timeout, struct helper_handle *helper,
		 char *err, size_t errlen);

/* 0 when name can be part of a file name (not empty, no '/', no "..", no control
 * character, at most HELPER_NODE_NAME_MAX bytes), else -EINVAL and err says why. */
int helper_check_node_name(const char *name, char *err, size_t errlen);

/* Whether a NAME=VALUE entry of the job's environment is passed to lcrd (helper_environment.c). */
bool helper_environment_allows(const char *entry);
/* The allowed entries of job_environment (the strings are job_environment's), NULL-terminated;
 * free() the vector. NULL when out of memory. */
char **helper_environment_filter(char *const *job_environment);
/* A sealed memfd (close-on-exec) holding every entry of job_environment, each ended by NUL:
 * lcrd --job-env-fd. The descriptor, or -errno. */
int helper_environment_memfd(char *const *job_environment);

/* A soft limit that Slurm propagates to the tasks (SLURM_RLIMIT_<NAME>=[U]VALUE). */
struct helper_rlimit {
	int resource; /* RLIMIT_* */
	rlim_t soft;
};
#define HELPER_RLIMIT_MAX 16
/* The propagated limits named in job_environment, at most max of them: their count. */
int helper_environment_rlimits(char *const *job_environment, struct helper_rlimit *limits, int max);
/* Sets each soft limit, never above its hard limit; only system calls (safe after fork). */
int helper_apply_rlimits(const struct helper_rlimit *limits, int count);

/* Makes the plugin's end of the channel non-blocking: 0 or -errno. */
int helper_channel_make_nonblocking(int channel_fd);

/* Tell the helper about a task that started or ended: 0, -ENOTCONN when there is no
 * channel (any more), -ETIMEDOUT when the helper did not read within HELPER_SEND_WAIT_MS
 * (it was killed and its channel closed), or another -errno. */
int helper_report_task_started(struct helper_handle *helper, uint32_t local_id, uint32_t global_rank,
			       pid_t pid);
int helper_report_task_exited(struct helper_handle *helper, uint32_t global_rank, pid_t pid, int status);

/* Ask the helper to end (without waiting for room on its channel), close the channel,
 * wait up to timeout seconds for it to exit, then SIGKILL it through its pidfd. */
void helper_stop(struct helper_handle *helper, double timeout);

/* Remove the helper's directory and log, as the job's user (never as root), in this process
 * (helper_files.c): 0, or -errno when nothing could be removed (-EPERM: the user's identity
 * could not be taken; -ETIMEDOUT: the file system did not answer within 10 s). */
int helper_remove_files(const struct helper_handle *helper);

/* The last lines of the helper's log, for an error message; "" when there is none. */
void helper_log_tail(const struct helper_handle *helper, char *out, size_t outlen);

#endif
