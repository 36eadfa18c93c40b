/*
 * helper_environment.c: what of the job's environment lcrd sees (see helper_launch.h).
 *
 * lcrd runs with an allow-listed environment, not the job's: what it reads itself (LCR_*,
 * SLURM_*, PMIX_*, SLURMD_NODENAME, ENVIRONMENT, PWD, XDG_RUNTIME_DIR), what the programs
 * it runs need to be found and to run (PATH, HOME, USER, LOGNAME, TMPDIR, LANG, LC_*,
 * TZ) and what selects the GPUs its CUDA backend may touch (CUDA_VISIBLE_DEVICES,
 * CUDA_DEVICE_ORDER, CUDA_MPS_PIPE_DIRECTORY, CUDA_MPS_LOG_DIRECTORY). Nothing that makes
 * the loader, a library or the CUDA driver load code (LD_PRELOAD, LD_LIBRARY_PATH,
 * GCONV_PATH, CUDA_INJECTION64_PATH, ...) reaches it.
 *
 * The job's whole environment is still what a replacement step must start with (lcrd
 * launches it with srun, and srun hands its environment to the tasks), so it goes to lcrd
 * as data: a sealed memfd of NUL-terminated entries, read only by the replacement launcher
 * (lcrd --job-env-fd).
 *
 * lcrd also gets the soft limits the tasks get: Slurm passes srun's limits to the tasks as
 * SLURM_RLIMIT_<NAME> (those the site propagates), and slurmstepd sets them in each task;
 * the helper's process sets them the same way before it executes lcrd.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "helper_launch.h"

static const char *const allowed_names[] = {
	"PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "LANG", "TZ", "PWD", "XDG_RUNTIME_DIR",
	"SLURMD_NODENAME", "ENVIRONMENT", "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER",
	"CUDA_MPS_PIPE_DIRECTORY", "CUDA_MPS_LOG_DIRECTORY", NULL,
};

static const char *const allowed_prefixes[] = { "LCR_", "SLURM_", "PMIX_", "LC_", NULL };

static bool name_is(const char *entry, const char *name)
{
	size_t length = strlen(name);

	return strncmp(entry, name, length) == 0 && entry[length] == '=';
}

bool helper_environment_allows(const char *entry)
{
	if (!strchr(entry, '='))
		return false;
	for (int i = 0; allowed_names[i]; i++)
		if (name_is(entry, allowed_names[i]))
			return true;
	for (int i = 0; allowed_prefixes[i]; i++)
		if (strncmp(entry, allowed_prefixes[i], strlen(allowed_prefixes[i])) == 0)
			return true;
	return false;
}

char **helper_environment_filter(char *const *job_environment)
{
	size_t count = 0, kept = 0;
	char **filtered;

	while (job_environment && job_environment[count])
		count++;
	filtered = calloc(count + 1, sizeof(*filtered));
	if (!filtered)
		return NULL;
	for (size_t i = 0; i < count; i++)
		if (helper_environment_allows(job_environment[i]))
			filtered[kept++] = job_environment[i];
	return filtered;
}

static int write_all(int fd, const char *data, size_t length)
{
	while (length) {
		ssize_t n = write(fd, data, length);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		length -= (size_t)n;
	}
	return 0;
}

int helper_environment_memfd(char *const *job_environment)
{
	int rc = 0, fd = memfd_create("lcr-job-environment", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -errno;
	for (size_t i = 0; rc == 0 && job_environment && job_environment[i]; i++)
		rc = write_all(fd, job_environment[i], strlen(job_environment[i]) + 1);
	if (rc == 0 && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		rc = -errno;
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

/* The limits Slurm propagates from srun to the tasks, by their SLURM_RLIMIT_<NAME> name. */
static const struct {
	const char *name;
	int resource;
} propagated_limits[] = {
	{ "SLURM_RLIMIT_CPU", RLIMIT_CPU },         { "SLURM_RLIMIT_FSIZE", RLIMIT_FSIZE },
	{ "SLURM_RLIMIT_DATA", RLIMIT_DATA },       { "SLURM_RLIMIT_STACK", RLIMIT_STACK },
	{ "SLURM_RLIMIT_CORE", RLIMIT_CORE },       { "SLURM_RLIMIT_RSS", RLIMIT_RSS },
	{ "SLURM_RLIMIT_NPROC", RLIMIT_NPROC },     { "SLURM_RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "SLURM_RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "SLURM_RLIMIT_AS", RLIMIT_AS },
};

/* "1024", or "U1024" when the user asked with --propagate: 0 and *value, or -EINVAL. */
static int parse_limit(const char *text, rlim_t *value)
{
	unsigned long long number;
	char *end;

	if (*text == 'U')
		text++;
	if (*text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	number = strtoull(text, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*value = (rlim_t)number;
	return 0;
}

int helper_environment_rlimits(char *const *job_environment, struct helper_rlimit *limits, int max)
{
	int count = 0;

	for (size_t i = 0; job_environment && job_environment[i]; i++) {
		for (size_t k = 0; k < sizeof(propagated_limits) / sizeof(propagated_limits[0]); k++) {
			const char *name = propagated_limits[k].name;
			rlim_t soft;

			if (!name_is(job_environment[i], name) ||
			    parse_limit(job_environment[i] + strlen(name) + 1, &soft) < 0 || count == max)
				continue;
			limits[count].resource = propagated_limits[k].resource;
			limits[count++].soft = soft;
		}
	}
	return count;
}

int helper_apply_rlimits(const struct helper_rlimit *limits, int count)
{
	for (int i = 0; i < count; i++) {
		struct rlimit current;

		if (getrlimit(limits[i].resource, &current) < 0)
			return -errno;
		/* Like slurmstepd for the tasks: the soft limit, never above the hard one. */
		current.rlim_cur = limits[i].soft < current.rlim_max ? limits[i].soft : current.rlim_max;
		if (setrlimit(limits[i].resource, &current) < 0)
			return -errno;
	}
	return 0;
}
