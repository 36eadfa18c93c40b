/* lcrctl_wait.c: `lcrctl wait [--step=S] [--timeout=SECONDS]`. Polls
 * <ckpt-dir>/outcome.<job>.<step>, written by the step's leading lcrd (outcome.c), until it
 * says "finished" or the timeout passes, then prints its sentence and exits with the
 * training's status. Without --step it takes the job's highest step that has an outcome
 * file. A file that does not appear at all is given up after OUTCOME_MISSING_S (a step that
 * never ran under LCR with this directory), not after the whole timeout. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lcrctl_wait.h"
#include "internal/parse.h"
#include "internal/trusted_path.h"
#include "internal/util.h"
#include "loop/outcome_file.h"

#define OUTCOME_DEFAULT_TIMEOUT_S 300
#define OUTCOME_MISSING_S 60
#define OUTCOME_POLL_MS 500
#define WAIT_TIMED_OUT 124

struct wait_target {
	char dir[4096];
	uint32_t job;
	bool step_given;
	uint32_t step;
	uint32_t timeout_s;
};

static int wait_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "lcrctl wait: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see lcrctl --help)\n");
	return 2;
}

/* The checkpoint directory, %u and %j expanded as the plugin does. */
static int resolve_dir(const char *given, struct wait_target *t)
{
	char err[512];
	const char *pattern = given;
	if (!pattern || !*pattern)
		pattern = getenv("LCR_CKPT_DIR");
	if (!pattern || !*pattern)
		return wait_usage("no checkpoint directory: give --ckpt-dir=DIR or set "
				  "LCR_CKPT_DIR, as for the step's --lcr-ckpt-dir%s", "");
	struct passwd *pw = getpwuid(getuid());
	if (!pw)
		return wait_usage("cannot find the name of uid %s", "(getpwuid failed)");
	if (lcr_expand_ckpt_pattern(pattern, pw->pw_name, pw->pw_dir ? pw->pw_dir : "", t->job,
				    t->dir, sizeof(t->dir), err, sizeof(err)) < 0)
		return wait_usage("checkpoint directory: %s", err);
	if (t->dir[0] != '/') { /* relative to where lcrctl runs, as the user means it */
		char cwd[4096], rel[4096];
		snprintf(rel, sizeof(rel), "%s", t->dir);
		int n = getcwd(cwd, sizeof(cwd)) ? snprintf(t->dir, sizeof(t->dir), "%s/%s", cwd, rel)
						 : -1;
		if (n < 0 || (size_t)n >= sizeof(t->dir))
			return wait_usage("checkpoint directory %s: cannot make it absolute", rel);
	}
	return 0;
}

/* Whose outcome is read: the caller's own; for root, the owner of the directory (an
 * administrator waiting for a user's step), every level still checked against that owner
 * and root. */
static uid_t reader_uid(const struct wait_target *t)
{
	struct stat st;
	uid_t uid = getuid();
	if (uid == 0 && stat(t->dir, &st) == 0)
		uid = st.st_uid;
	return uid;
}

static int parse_target(const char *dir, const char *job, const char *step,
			const char *timeout, struct wait_target *t)
{
	uint32_t v;
	memset(t, 0, sizeof(*t));
	if (!job || !*job)
		return wait_usage("no job: give --job=J or run it inside the job "
				  "(SLURM_JOB_ID)%s", "");
	if (util_parse_u32(job, &t->job) < 0)
		return wait_usage("--job=%s: not a job id", job);
	if (step) {
		if (util_parse_u32(step, &t->step) < 0)
			return wait_usage("--step=%s: not a step id", step);
		t->step_given = true;
	}
	t->timeout_s = OUTCOME_DEFAULT_TIMEOUT_S;
	if (timeout) {
		if (util_parse_u32(timeout, &v) < 0 || v > 604800)
			return wait_usage("--timeout=%s: expected seconds from 0 to 604800", timeout);
		t->timeout_s = v;
	}
	return resolve_dir(dir, t);
}

/* The highest step of the job that has an outcome file in the directory dir_fd: 0, or
 * -ENOENT. */
static int newest_step(int dir_fd, const struct wait_target *t, uint32_t *step)
{
	char prefix[32];
	bool found = false;
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *e;
	if (!d) {
		int rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	snprintf(prefix, sizeof(prefix), "outcome.%" PRIu32 ".", t->job);
	while ((e = readdir(d))) {
		uint32_t v;
		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 ||
		    util_parse_u32(e->d_name + strlen(prefix), &v) < 0)
			continue;
		if (!found || v > *step)
			*step = v;
		found = true;
	}
	closedir(d);
	return found ? 0 : -ENOENT;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* One look at the outcome in dir_fd: 1 when a finished one is in rec, 0 when not yet
 * (running is set when a running one is), or -EINVAL for a file that is no outcome or that
 * nobody should trust (err set). */
static int look_in(int dir_fd, struct wait_target *t, struct outcome_record *rec,
		   bool *running, char *err, size_t errlen)
{
	char path[4200];
	if (!t->step_given && newest_step(dir_fd, t, &t->step) < 0)
		return 0;
	int rc = outcome_file_read(dir_fd, t->dir, t->job, t->step, reader_uid(t), rec, err,
				   errlen);
	if (rc == -EINVAL)
		return rc;
	if (rc == 0 && (rec->job != t->job || rec->step != t->step)) {
		outcome_file_path(t->dir, t->job, t->step, path, sizeof(path));
		snprintf(err, errlen, "%s names job %" PRIu32 " step %" PRIu32, path, rec->job,
			 rec->step);
		return -EINVAL;
	}
	if (rc < 0)
		return 0;
	*running = !rec->finished;
	return rec->finished ? 1 : 0;
}

/* One look: the directory is opened as lcrd opens it (internal/trusted_path.h), so that an
 * outcome another user planted or redirected is refused, not printed; a directory not made
 * yet is "not yet". */
static int look(struct wait_target *t, struct outcome_record *rec, bool *running, char *err,
		size_t errlen)
{
	int rc, dir_fd = trusted_dir_open(t->dir, reader_uid(t), TRUSTED_OPEN_EXISTING, NULL, 0,
					  err, errlen);
	if (dir_fd == -ENOENT)
		return 0;
	if (dir_fd < 0)
		return -EINVAL;
	rc = look_in(dir_fd, t, rec, running, err, errlen);
	close(dir_fd);
	return rc;
}

int lcrctl_wait(const char *dir, const char *job, const char *step, const char *timeout)
{
	struct wait_target t;
	struct outcome_record rec;
	char err[4600];
	bool running = false;
	int rc = parse_target(dir, job, step, timeout, &t);
	if (rc != 0)
		return rc;
	uint64_t start = now_ms(), limit = (uint64_t)t.timeout_s * 1000;
	uint64_t missing = limit < OUTCOME_MISSING_S * 1000 ? limit : OUTCOME_MISSING_S * 1000;
	for (;;) {
		rc = look(&t, &rec, &running, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "lcrctl wait: %s\n", err);
			return 1;
		}
		if (rc == 1) {
			printf("%s\n", rec.message);
			return rec.status;
		}
		uint64_t waited = now_ms() - start;
		if (waited >= limit || (!running && waited >= missing))
			break;
		usleep(OUTCOME_POLL_MS * 1000);
	}
	if (running)
		fprintf(stderr, "lcrctl wait: job %" PRIu32 " step %" PRIu32 " has not finished "
			"after %" PRIu32 " s: %s\n", t.job, t.step, t.timeout_s, rec.message);
	else
		fprintf(stderr, "lcrctl wait: no outcome of job %" PRIu32 " %s%s in %s after %" PRIu64
			" s: the step did not run under LCR with this checkpoint directory, or its "
			"helpers could not write there (see their logs)\n", t.job,
			t.step_given ? "step " : "(any step)", t.step_given ? step : "", t.dir,
			(now_ms() - start) / 1000);
	return WAIT_TIMED_OUT;
}
