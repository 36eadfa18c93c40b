/* jobkv_state.h: the contents of the job-wide key-value store, as every helper holds a copy
 * (jobkv.c replicates it): keys and values, the number of the last write, and the writes it
 * remembers so that a retried one is answered again instead of applied twice. Pure logic,
 * no I/O: the leader executes a client's request here and gets the change to send to the
 * other helpers; they apply that change. Bounded: JOBKV_KEYS_MAX keys and JOBKV_BYTES_MAX
 * bytes of keys and values. */
#ifndef LCR_HELPER_JOBKV_STATE_H
#define LCR_HELPER_JOBKV_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal/wire.h"

#define JOBKV_KEYS_MAX 4096            /* keys in the store */
#define JOBKV_BYTES_MAX (1u << 20)     /* bytes of keys and values, together: a copy
					* fits a mesh connection's queue */
#define JOBKV_REMEMBERED_MAX 4096      /* the last writes remembered for retries */
#define JOBKV_BUCKETS 1024

struct jobkv_entry;

/* A write remembered: its client and sequence number, and ADD's sum. */
struct jobkv_remembered {
	uint64_t client;
	uint64_t client_seq;
	uint64_t number;
};

struct jobkv_state {
	struct jobkv_entry *buckets[JOBKV_BUCKETS];
	uint32_t keys;
	uint64_t bytes;
	uint64_t index; /* the number of the last write applied */
	struct jobkv_remembered remembered[JOBKV_REMEMBERED_MAX]; /* a ring */
	uint32_t remembered_count;
	uint32_t remembered_next;
};

/* What executing a request gives: the answer and, for a write that changed the store, the
 * change (with its index) to replicate. */
struct jobkv_outcome {
	int status;                    /* 0 or -errno */
	char message[WIRE_TEXT_MAX + 1]; /* why, when status < 0 */
	struct wire_store_reply reply; /* when status is 0 */
	bool changed;                  /* a write that changed the store: `change` holds it */
	bool repeated;                 /* a retried write that was applied before */
	struct wire_jobkv_apply change;
};

void jobkv_state_init(struct jobkv_state *s);
/* Frees every entry; the state is empty (index 0) afterwards. */
void jobkv_state_clear(struct jobkv_state *s);

/* Executes a request on the leader: a read answers from the store; a write that changes it
 * is applied here with the next index and described in out->change; a write of a
 * (client, client_seq) it remembers is answered as the first time, and not applied again.
 * GET with a missing key gives -ENOENT (the caller parks a waiting GET). -ENOMEM is the
 * only failure that is not the request's own. */
void jobkv_state_execute(struct jobkv_state *s, const struct wire_store_request *req,
			 uint64_t client, uint64_t client_seq, struct jobkv_outcome *out);

/* Applies a change from the leader: 0, -ESTALE (not the next index: ignored), -ENOMEM, or
 * the bound that it passes (which a leader with the same bounds never sends). */
int jobkv_state_apply(struct jobkv_state *s, const struct wire_jobkv_apply *a);

/* The value under key, or NULL; *len set. */
const uint8_t *jobkv_state_lookup(const struct jobkv_state *s, const char *key, uint32_t *len);

/* A copy, for a snapshot: fn is called for every key; then for every remembered write. */
typedef void jobkv_entry_fn(const char *key, const uint8_t *value, uint32_t len, void *arg);
void jobkv_state_each_entry(const struct jobkv_state *s, jobkv_entry_fn *fn, void *arg);
typedef void jobkv_remembered_fn(const struct jobkv_remembered *r, void *arg);
void jobkv_state_each_remembered(const struct jobkv_state *s, jobkv_remembered_fn *fn,
				 void *arg);

/* Building a copy from a snapshot: a key and value (0, -ENOMEM, or a bound), a write to
 * remember. */
int jobkv_state_load_entry(struct jobkv_state *s, const char *key, const uint8_t *value,
			   uint32_t len);
void jobkv_state_remember(struct jobkv_state *s, uint64_t client, uint64_t client_seq,
			  uint64_t number);

/* Moves the contents of from into to (whose old contents are freed); from is left empty. */
void jobkv_state_move(struct jobkv_state *to, struct jobkv_state *from);

#endif
