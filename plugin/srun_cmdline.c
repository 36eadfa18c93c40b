/*
 * srun_cmdline.c: find --lcr among srun's options, stopping at the program name.
 *
 * srun's options that take a separate value are listed below (from `srun --help` of Slurm
 * 22.05), so that in `srun -w n1 ./train --lcr` the scan knows "n1" is a value and
 * "./train" is the program.
 */
#include "config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "srun_cmdline.h"

static const char short_options_with_value[] = "AabcdDeiJLMmnNopqrSTtWCwxBGF";

static const char *const long_options_with_value[] = {
	"account", "acctg-freq", "bb", "bbf", "bcast-exclude", "begin", "cpus-per-task", "comment",
	"cpu-freq", "dependency", "deadline", "delay-boot", "chdir", "export", "error", "epilog", "gres",
	"gres-flags", "input", "jobid", "job-name", "licenses", "clusters", "distribution", "mail-type",
	"mail-user", "mcs-label", "mpi", "nodes", "ntasks", "ntasks-per-node", "output", "het-group", "partition",
	"power", "priority", "prolog", "profile", "qos", "relative", "core-spec", "signal", "slurmd-debug",
	"switches", "task-epilog", "task-prolog", "thread-spec", "threads", "time", "time-min", "wait",
	"wckey", "cluster-constraint", "constraint", "mem", "mincpus", "reservation", "tmp", "nodelist",
	"exclude", "mem-per-cpu", "sockets-per-node", "cores-per-socket", "threads-per-core",
	"extra-node-info", "ntasks-per-core", "ntasks-per-socket", "ntasks-per-gpu", "cpus-per-gpu", "gpus",
	"gpu-bind", "gpu-freq", "gpus-per-node", "gpus-per-socket", "gpus-per-task", "mem-per-gpu",
	"cpu-bind", "mem-bind", "hint", "network", "open-mode", "uid", "gid", "nodefile", "container",
	"tres-per-task", "accel-bind", "array", "wrap", "dependency", "lcr-ckpt-dir", "lcr-restore", "lcr-replace", "lcr-detect-timeout",
	NULL
};

static int long_option_takes_value(const char *name, size_t len)
{
	const char *const *option;

	for (option = long_options_with_value; *option; option++)
		if (strlen(*option) == len && strncmp(*option, name, len) == 0)
			return 1;
	return 0;
}

/* How many argv entries a cluster of short options like "-kN4" or "-w" uses: 1 or 2. */
static int short_cluster_width(const char *cluster)
{
	const char *c;

	for (c = cluster + 1; *c; c++)
		if (strchr(short_options_with_value, *c))
			return c[1] ? 1 : 2;
	return 1;
}

/*
 * Walk the command's options. Returns the index of the first operand (the program or
 * batch script), or argc when there is none; *lcr_value gets --lcr's value if seen.
 */
static int scan_options(int argc, char *const argv[], const char **lcr_value)
{
	int i = 1;

	*lcr_value = NULL;
	while (i < argc) {
		const char *arg = argv[i];

		if (strcmp(arg, "--") == 0)
			return i + 1;
		if (arg[0] != '-' || arg[1] == '\0')
			return i;
		if (arg[1] != '-') {
			i += short_cluster_width(arg);
			continue;
		}
		const char *name = arg + 2;
		const char *equals = strchr(name, '=');
		size_t len = equals ? (size_t)(equals - name) : strlen(name);

		if (len == 3 && strncmp(name, "lcr", 3) == 0)
			*lcr_value = equals ? equals + 1 : "on";
		i += (!equals && long_option_takes_value(name, len)) ? 2 : 1;
	}
	return argc;
}

const char *srun_cmdline_lcr_value(int argc, char *const argv[])
{
	const char *value;

	scan_options(argc, argv, &value);
	return value;
}

const char *srun_cmdline_first_operand(int argc, char *const argv[])
{
	const char *value;
	int index = scan_options(argc, argv, &value);

	return index < argc ? argv[index] : NULL;
}

char **srun_cmdline_read_self(int *argc)
{
	char *buffer = NULL, **argv = NULL;
	size_t size = 0, capacity = 0;
	int fd, count = 0;

	fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	for (;;) {
		ssize_t got;

		if (size + 4096 + 1 > capacity) {
			char *bigger = realloc(buffer, capacity + 8192 + 1);

			if (!bigger)
				goto fail;
			buffer = bigger;
			capacity += 8192 + 1;
		}
		got = read(fd, buffer + size, capacity - size - 1);
		if (got < 0)
			goto fail;
		if (got == 0)
			break;
		size += (size_t)got;
	}
	close(fd);
	fd = -1;
	if (!buffer)
		return NULL;
	buffer[size] = '\0';
	for (size_t at = 0; at < size; at += strlen(buffer + at) + 1)
		count++;
	/* One block: the pointers, then the strings they point to. */
	argv = malloc((count + 1) * sizeof(char *) + size + 1);
	if (!argv)
		goto fail;
	char *strings = (char *)(argv + count + 1);
	memcpy(strings, buffer, size + 1);
	count = 0;
	for (size_t at = 0; at < size; at += strlen(strings + at) + 1)
		argv[count++] = strings + at;
	argv[count] = NULL;
	free(buffer);
	*argc = count;
	return argv;
fail:
	if (fd >= 0)
		close(fd);
	free(buffer);
	return NULL;
}
