/* outcome_file.h: the step's outcome file, <ckpt-dir>/outcome.<job>.<step>: written by the
 * step's leading lcrd (outcome.c), read by `lcrctl wait`. One "key: value" per line, every
 * key required, no other key; '#' starts a comment line. The format is in lcrd(8). */
#ifndef LCR_HELPER_OUTCOME_FILE_H
#define LCR_HELPER_OUTCOME_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define OUTCOME_FILE_VERSION 1
#define OUTCOME_MESSAGE_MAX 512
#define OUTCOME_NAME_MAX 255
#define OUTCOME_NO_RANK UINT32_MAX

struct outcome_record {
	uint32_t job;
	uint32_t step;
	bool finished;               /* false: "running", the tallies so far */
	int32_t status;              /* the training's exit status, 0 to 255 */
	uint32_t rank;               /* the rank status comes from, OUTCOME_NO_RANK: none */
	uint64_t generation;         /* the mesh generation of that rank's end, 0: none */
	uint32_t failures_recovered; /* nodes replaced */
	uint32_t ranks;              /* the step's ranks */
	char batch_host_died[OUTCOME_NAME_MAX + 1]; /* the batch host, when it died; "" */
	char message[OUTCOME_MESSAGE_MAX + 1];
};

/* <dir>/outcome.<job>.<step> into path[cap], for messages: 0, or -ENAMETOOLONG. */
int outcome_file_path(const char *dir, uint32_t job, uint32_t step, char *path, size_t cap);

/* The file's text into buf[cap]: its length, or -ENOSPC. */
int outcome_file_format(const struct outcome_record *r, char *buf, size_t cap);

/* Parses a file's text: 0, or -EINVAL with the line and the reason in err. */
int outcome_file_parse(const char *text, struct outcome_record *r, char *err, size_t errlen);

/* Reads and parses outcome.<job>.<step> in dir_fd, a directory opened as a trusted one
 * (internal/trusted_path.h; dir names it in err): 0, -errno (-ENOENT: no file yet), or
 * -EINVAL with err set, also for what nobody else may be trusted with: a symbolic link, a
 * file owned by another uid than uid or writable by others, what is not a regular file (a
 * FIFO is refused, never waited on). */
int outcome_file_read(int dir_fd, const char *dir, uint32_t job, uint32_t step, uid_t uid,
		      struct outcome_record *r, char *err, size_t errlen);

/* Writes r to outcome.<r->job>.<r->step> in dir_fd, a trusted directory as above,
 * atomically: a new file of a random name created there (O_EXCL | O_NOFOLLOW, mode 0600),
 * fsync, renamed over the name relative to dir_fd. 0, or -errno with err set. */
int outcome_file_write(int dir_fd, const char *dir, const struct outcome_record *r, char *err,
		       size_t errlen);

#endif
