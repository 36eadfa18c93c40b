/* ckpt_store.h: a job's checkpoint directory on disk, as lcrd and lcrctl read it.
 *
 *     DIR/step-<S>/        a complete checkpoint of training step S: its data files and,
 *                          written last, manifest.yaml (see manifest.h)
 *     DIR/step-<S>.tmp/    a checkpoint being written, or left by a writer that died; it is
 *                          never read, and the next checkpoint of the job removes it
 *
 * A checkpoint becomes complete by one rename of its .tmp directory, after its manifest
 * was written and synced: a reader that sees step-<S>/ sees all of it.
 *
 * Only what the user (the effective uid) owns counts: the job's directory is opened with
 * trusted_dir_open (trusted_path.h), and a step directory, manifest or data file is opened
 * inside it with O_NOFOLLOW and refused unless the user owns it and nobody else may write
 * it. All I/O goes relative to the directory's descriptor.
 *
 * Verification reads each data file's ranges and compares their XXH3 hashes with the
 * manifest's; every problem (a missing, short, long or damaged file) is reported as one
 * sentence naming the file and the offset. Functions return 0 (or a count) or a negative
 * errno; no global state. */
#ifndef LCR_INTERNAL_CKPT_STORE_H
#define LCR_INTERNAL_CKPT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal/manifest.h"

#define CKPT_STEP_PREFIX "step-"
#define CKPT_TMP_SUFFIX ".tmp"
#define CKPT_IO_CHUNK (8u << 20) /* bytes per read or write call */

struct ckpt_entry {
	uint64_t step;
	bool complete;     /* step-<S>, not step-<S>.tmp */
	bool has_manifest;
};

/* "step-7" -> 7, tmp false; "step-7.tmp" -> 7, tmp true; other names: -EINVAL. */
int ckpt_store_parse_name(const char *name, uint64_t *step, bool *tmp);

/* DIR/step-<S> or DIR/step-<S>.tmp into buf[cap] (for messages): 0 or -ENAMETOOLONG. */
int ckpt_store_path(char *buf, size_t cap, const char *dir, uint64_t step, bool tmp);

/* step-<S> or step-<S>.tmp into buf[cap]: 0 or -ENAMETOOLONG. */
int ckpt_store_name(char *buf, size_t cap, uint64_t step, bool tmp);

/* The checkpoints and temporary directories in the directory dir_fd, by ascending step (a
 * complete one before a .tmp of the same step), in a malloc'ed array; has_manifest only when
 * the step directory and its manifest are the user's. -errno of reading the directory. */
int ckpt_store_list(int dir_fd, struct ckpt_entry **out, size_t *count);

/* The newest complete checkpoint with a manifest: 0, or -ENOENT when there is none. */
int ckpt_store_newest(int dir_fd, uint64_t *step);

/* Opens step-<S> (or step-<S>.tmp) of dir_fd as a trusted directory: a descriptor or -errno,
 * err saying why (a symbolic link, another user's). */
int ckpt_store_open_step(int dir_fd, uint64_t step, bool tmp, char *err, size_t errlen);

/* Reads the manifest of the checkpoint step_fd (the user's own file, no link); path names it
 * in messages. 0 or -errno with err set. */
int ckpt_store_read_manifest(int step_fd, const char *path, struct manifest *m, char *err,
			     size_t errlen);

/* Opens the data file of the checkpoint step_fd read-only (the user's own regular file, no
 * link): a descriptor or -errno with err set. */
int ckpt_store_open_data(int step_fd, const char *file, char *err, size_t errlen);

/* Receives each problem verification finds, as a sentence. */
typedef void ckpt_problem_fn(void *arg, const char *problem);

/* Checks that every data file of the checkpoint step_fd exists, is the user's regular file
 * and has its region's size. The number of problems found, or -ENOMEM. */
int ckpt_store_check_files(int step_fd, const struct manifest *m, ckpt_problem_fn *report,
			   void *arg);

/* ckpt_store_check_files, then every range's hash. The number of problems found, or
 * -ENOMEM; *bytes counts the bytes read. */
int ckpt_store_verify(int step_fd, const struct manifest *m, ckpt_problem_fn *report,
		      void *arg, uint64_t *bytes);

/* Where the bytes of one range go while they are read and hashed (restore writes them into a
 * region): 0 or a negative errno, which stops the read. */
typedef int ckpt_sink_fn(void *arg, uint64_t offset, const void *data, size_t len);

/* Reads range g of the open data file fd through buf[cap], hashing it and passing it to sink
 * (may be NULL). 0 with *hash set, -ENODATA when the file ends inside the range (*short_at
 * is where), -errno of pread, or the sink's error. */
int ckpt_store_read_range(int fd, const struct manifest_range *g, void *buf, size_t cap,
			  ckpt_sink_fn *sink, void *arg, uint64_t *hash, uint64_t *short_at);

/* "file s0-w: offset 4194304: 4194304 bytes written by n2 do not match their XXH3 hash
 * (manifest 0123456789abcdef, data fedcba9876543210)" into buf. */
void ckpt_store_describe_mismatch(char *buf, size_t cap, const struct manifest *m,
				  const struct manifest_region *r, const struct manifest_range *g,
				  uint64_t found);

#endif
