/* comm.h: what the communicator backends share: the communicator itself and the table of
 * operations each backend (comm_tcp.c, comm_nccl.c) fills in. See lcr_comm.h. */
#ifndef LCR_INTERNAL_COMM_H
#define LCR_INTERNAL_COMM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "lcr_comm.h"

struct comm_backend {
	int (*connect)(struct lcr_comm *c);
	int (*allreduce_sum)(struct lcr_comm *c, void *buf, size_t count, enum lcr_dtype dtype);
	int (*broadcast)(struct lcr_comm *c, void *buf, size_t bytes, uint32_t root);
	int (*barrier)(struct lcr_comm *c);
	void (*abort)(struct lcr_comm *c);
	/* rebuild for c->epoch (already raised); NULL: disconnect, then connect again */
	int (*rebuild)(struct lcr_comm *c);
	void (*disconnect)(struct lcr_comm *c);
};

/* Where the members meet: the job-wide store (lcr_store_*, the default), the helper's
 * per-node store (lcr_kv_*: a helper older than the job-wide store), or files in
 * opt.rendezvous_dir. */
enum comm_meeting {
	COMM_MEET_STORE,
	COMM_MEET_NODE,
	COMM_MEET_DIR,
};

struct lcr_comm {
	lcr_session_t *session;
	char name[LCR_NAME_MAX + 1];
	uint32_t rank;
	uint32_t size;
	uint64_t epoch;
	struct lcr_comm_options opt;
	char address[256];
	char rendezvous_dir[4096]; /* "" unless meeting is COMM_MEET_DIR */
	enum comm_meeting meeting;
	atomic_bool aborted;
	const struct comm_backend *backend;
	void *state; /* the backend's own */
};

extern const struct comm_backend comm_tcp_backend;
#ifdef HAVE_NCCL
extern const struct comm_backend comm_nccl_backend;
#endif

/* Longest communicator name: its keys "lcrc.<name>.<epoch>.<rank>" must fit LCR_NAME_MAX. */
#define COMM_NAME_MAX 24
#define COMM_KEY_MAX (LCR_NAME_MAX + 1)
/* The member number under which the NCCL backend's rank 0 publishes the unique id. */
#define COMM_KEY_UNIQUE_ID UINT32_MAX

/* The key-value store key of `rank`'s entry for this communicator and epoch. */
void comm_member_key(const struct lcr_comm *c, uint32_t rank, char *key, size_t keylen);

/* Publishes `len` bytes under key, where the members meet (c->meeting). 0 or -errno. */
int comm_kv_put(struct lcr_comm *c, const char *key, const void *value, size_t len);

/* Reads key into value[cap] (*len: its length), waiting until the deadline. 0, -ETIMEDOUT,
 * -ECONNABORTED (comm_check_build) or -errno. */
int comm_kv_get(struct lcr_comm *c, const char *key, void *value, size_t cap, size_t *len, uint64_t deadline);

/* Removes key once no member reads it any more (errors ignored: an entry left behind
 * costs room, never correctness, since every key names its epoch). */
void comm_kv_delete(struct lcr_comm *c, const char *key);

/* How long an operation may make no progress before a waiting helper event stops it. */
#define COMM_STALL_MS 500

/* Whether a helper event is waiting (and events are watched). */
bool comm_event_waiting(const struct lcr_comm *c);

/* The monotonic clock in milliseconds. */
uint64_t comm_now_ms(void);

/* For a wait that made no progress: -ETIMEDOUT past the deadline; -ECONNABORTED (and the
 * communicator aborted) when an event is waiting and nothing moved for COMM_STALL_MS,
 * since a peer may be dead with nothing to tell it but the helper; else 0 (wait more). */
int comm_check_stall(struct lcr_comm *c, uint64_t deadline_ms, uint64_t last_progress_ms);

/* For a wait of a build that has got nothing yet: -ETIMEDOUT past the deadline;
 * -ECONNABORTED when events are watched and a join at an epoch newer than the build's was
 * told (client_event_join_told_after: no member comes at this epoch any more, the build
 * must be made at the join's epoch); else 0 (wait more). The waits of a build wake at least
 * every COMM_STALL_MS (comm_poll_timeout) to ask. */
int comm_check_build(struct lcr_comm *c, uint64_t deadline_ms);

/* How long the next poll of a wait may sleep: at most COMM_STALL_MS when events are
 * watched. */
int comm_poll_timeout(const struct lcr_comm *c, uint64_t deadline_ms);

/* Milliseconds left before deadline_ms (monotonic), or -1 without a timeout. */
int comm_remaining_ms(const struct lcr_comm *c, uint64_t deadline_ms);

/* The monotonic deadline of an operation starting now. */
uint64_t comm_deadline(const struct lcr_comm *c);

/* Size in bytes of one element of dtype, or 0 when unknown. */
size_t comm_dtype_size(enum lcr_dtype dtype);

#endif
