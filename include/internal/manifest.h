/* manifest.h: the checkpoint manifest, what a complete checkpoint holds, in memory and as
 * the YAML file `manifest.yaml` that is written last into a checkpoint directory (see
 * doc/checkpoint.md for the layout and the schema).
 *
 * A checkpoint saves every shard of a job once: a shard is the state that replicas with the
 * same shard key hold identically (their regions). Each region of a shard is one data file,
 * written in disjoint ranges, possibly by several writers (helpers) in parallel; every
 * range carries the XXH3 64-bit hash of its bytes and the writer that wrote it. In memory:
 *
 *     manifest -> shards[] -> regions[] -> ranges[]   (each range names a writers[] entry)
 *              -> writers[]
 *
 * manifest_check() holds every rule a manifest obeys (ranges tile their file exactly and
 * start aligned, names and files are unique and safe, writers' byte counts add up);
 * manifest_encode() refuses to write a manifest that breaks one, and manifest_decode()
 * reads strictly: an unknown, missing, duplicate or mistyped key, or a broken rule, is an
 * error naming the file, the line and the key path ("shards[0].regions[1].size").
 *
 * Errors are 0 or a negative errno (-EINVAL: malformed; -ENOMEM; the errno of a file that
 * cannot be read) with a message in err that starts with "lcr: ". No global state. */
#ifndef LCR_INTERNAL_MANIFEST_H
#define LCR_INTERNAL_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "internal/wire.h"

#define MANIFEST_FORMAT 1
#define MANIFEST_FILE_NAME "manifest.yaml"
#define MANIFEST_HASH "xxh3-64"   /* XXH3_64bits, seed 0 */
#define MANIFEST_FILE_MAX 127     /* longest data file name */
#define MANIFEST_MIN_ALIGNMENT 4096

/* Bytes [offset, offset + length) of a region's file, with their hash. */
struct manifest_range {
	uint64_t offset;
	uint64_t length;
	uint64_t xxh3;
	uint32_t writer; /* index in manifest.writers */
	unsigned line;   /* where it was read, 0 when built in memory */
};

struct manifest_region {
	char name[WIRE_NAME_MAX + 1];
	enum wire_region_kind kind;
	uint64_t size;
	char file[MANIFEST_FILE_MAX + 1]; /* in the checkpoint directory */
	struct manifest_range *ranges;    /* sorted, tiling [0, size) */
	size_t range_count;
	unsigned line;
};

struct manifest_shard {
	char key[WIRE_NAME_MAX + 1];
	uint32_t dp_size;   /* the data-parallel size its ranks registered with */
	uint32_t *ranks;    /* every replica of the shard, ascending: each is restored from it */
	size_t rank_count;
	struct manifest_region *regions; /* sorted by name */
	size_t region_count;
	unsigned line;
};

/* A helper that wrote ranges. */
struct manifest_writer {
	char node[WIRE_NODE_NAME_MAX + 1];
	uint32_t node_id;
	uint64_t bytes;  /* the sum of its ranges' lengths */
	double seconds;  /* how long its writing took */
	unsigned line;
};

struct manifest {
	uint32_t job_id;
	uint64_t step;          /* the training step whose committed state this is */
	int64_t created;        /* Unix time of publication */
	uint64_t generation;    /* the mesh's membership generation that published it (0 in
				 * manifests from before LCR recorded it) */
	uint64_t alignment;     /* every range but a file's first starts at a multiple */
	uint32_t rank_count;    /* ranks in the shards, all together */
	struct manifest_shard *shards; /* sorted by key */
	size_t shard_count;
	struct manifest_writer *writers;
	size_t writer_count;
	unsigned line;
};

/* Frees what m owns and zeroes it. NULL-safe; a zeroed manifest is empty. */
void manifest_free(struct manifest *m);

/* Checks every rule of the schema; origin ("DIR/manifest.yaml", or NULL) and the lines
 * kept in m start the message. */
int manifest_check(const struct manifest *m, const char *origin, char *err, size_t errlen);

/* Writes m as YAML into a malloc'ed, NUL-terminated *text of *len bytes (after
 * manifest_check). */
int manifest_encode(const struct manifest *m, char **text, size_t *len, char *err,
		    size_t errlen);

/* Reads the YAML text[len] into *out (zeroed first; freed again on error); origin names it
 * in messages. */
int manifest_decode(const char *text, size_t len, const char *origin, struct manifest *out,
		    char *err, size_t errlen);

/* manifest_decode of the regular file open at fd (at most 64 MiB); path names it in
 * messages. */
int manifest_read_fd(int fd, const char *path, struct manifest *out, char *err, size_t errlen);

/* manifest_read_fd of the file at path (a FIFO there does not hang it). */
int manifest_read_file(const char *path, struct manifest *out, char *err, size_t errlen);

/* Lookups: NULL when absent. */
const struct manifest_shard *manifest_find_shard(const struct manifest *m, const char *key);
const struct manifest_shard *manifest_shard_of_rank(const struct manifest *m, uint32_t rank);
const struct manifest_region *manifest_find_region(const struct manifest_shard *shard,
						   const char *name);

/* The bytes of every data file together. */
uint64_t manifest_total_bytes(const struct manifest *m);

/* "host" / "cuda" and back (0 or -EINVAL). */
const char *manifest_kind_name(enum wire_region_kind kind);
int manifest_kind_parse(const char *text, enum wire_region_kind *out);

#endif
