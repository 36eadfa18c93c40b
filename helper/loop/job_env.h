/* job_env.h: the job's whole environment, which the plugin hands lcrd as data (a sealed
 * memfd of NUL-terminated NAME=VALUE entries, --job-env-fd) while lcrd itself runs with an
 * allow-listed part of it. Only the replacement launcher uses it: a replacement step must
 * start with the environment the step's tasks had. */
#ifndef LCR_HELPER_JOB_ENV_H
#define LCR_HELPER_JOB_ENV_H

/* The entries in fd, read from its start (so it can be read again), as a NULL-terminated
 * vector of allocated strings; NULL with errno set when it cannot be read or is larger
 * than JOB_ENV_MAX_BYTES. */
char **job_env_read(int fd);
void job_env_free(char **env);

#define JOB_ENV_MAX_BYTES (16u << 20)

#endif
