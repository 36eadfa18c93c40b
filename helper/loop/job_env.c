/* job_env.c: reading the job's environment from the plugin's memfd (see job_env.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loop/job_env.h"

/* The whole content of fd from offset 0, NUL-terminated, into *data; its length or -errno. */
static ssize_t read_whole(int fd, char **data)
{
	struct stat st;
	size_t got = 0;
	char *buffer;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size < 0 || (size_t)st.st_size > JOB_ENV_MAX_BYTES)
		return -EFBIG;
	buffer = malloc((size_t)st.st_size + 1);
	if (!buffer)
		return -ENOMEM;
	while (got < (size_t)st.st_size) {
		ssize_t n = pread(fd, buffer + got, (size_t)st.st_size - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int rc = n < 0 ? -errno : -EIO;

			free(buffer);
			return rc;
		}
		got += (size_t)n;
	}
	buffer[got] = '\0';
	*data = buffer;
	return (ssize_t)got;
}

char **job_env_read(int fd)
{
	char *data = NULL, **env;
	ssize_t length = read_whole(fd, &data);
	size_t count = 0, n = 0;

	if (length < 0) {
		errno = (int)-length;
		return NULL;
	}
	for (ssize_t i = 0; i < length; i++)
		count += data[i] == '\0';
	env = calloc(count + 2, sizeof(*env));
	for (ssize_t at = 0; env && at < length; at += (ssize_t)strlen(data + at) + 1) {
		if (strchr(data + at, '=') && !(env[n++] = strdup(data + at))) {
			job_env_free(env);
			env = NULL;
		}
	}
	free(data);
	if (!env)
		errno = ENOMEM;
	return env;
}

void job_env_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}
