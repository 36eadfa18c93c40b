/* lcr_comm.h: communicators of liblcr ("flexible CCL"): allreduce, broadcast and barrier
 * among the ranks of a group, with two backends, a TCP ring (host memory; CPU runs and every
 * test) and NCCL (device memory; built when NCCL is found).
 *
 * A communicator is built from a name, this process's rank in it, its size and an epoch.
 * The members find each other through the job-wide store of the helpers (lcr_store_*, one
 * store for the whole step on every node, LCR_API_REVISION 4), or through files in a shared
 * directory when opt->rendezvous_dir names one: each publishes its address and a fresh key
 * of its listener under "lcrc.<name>.<epoch>.<rank>" (TCP: a peer is admitted only with an
 * HMAC under that key, see lcr_comm(3)) or rank 0 publishes NCCL's unique id under
 * "lcrc.<name>.<epoch>.4294967295". Every key names its epoch, so a build never reads an
 * entry of another epoch; entries are removed once read (a built ring, an initialised NCCL
 * communicator) and a rebuild removes what the failed epoch left. After a failure, only the
 * communicators that contained a dead rank need lcr_comm_rebuild (with a new epoch, agreed
 * on by the application: typically the membership generation of the failure event); the
 * others keep their connections.
 *
 * Results are deterministic: the TCP ring always adds the ranks' contributions in the same
 * order for the same size, so a run with a failure and a replacement of the same rank
 * computes bit-identical sums.
 *
 *     lcr_comm_t *world;
 *     struct lcr_comm_options opt = LCR_COMM_OPTIONS_DEFAULT;
 *     lcr_comm_init(session, "world", rank, size, 0, &opt, &world);
 *     lcr_comm_allreduce_sum(world, grads, n, LCR_DTYPE_FLOAT32);
 */
#ifndef LCR_COMM_H
#define LCR_COMM_H

#include <stddef.h>
#include <stdint.h>

#include <lcr.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lcr_comm lcr_comm_t;

enum lcr_comm_backend {
	LCR_COMM_TCP = 1,  /* TCP ring; buffers in host memory */
	LCR_COMM_NCCL = 2, /* NCCL; buffers in device memory of cuda_device */
};

enum lcr_dtype {
	LCR_DTYPE_FLOAT32 = 1,
	LCR_DTYPE_FLOAT64 = 2,
	LCR_DTYPE_INT64 = 3,
};

struct lcr_comm_options {
	enum lcr_comm_backend backend;
	int timeout_ms;      /* bound on init and on every operation; -1: none */
	int watch_events;    /* 1: an operation does not start while a helper event waits
				(-ECANCELED: read the events, then call it again), one that
				stalls while an event waits aborts the communicator, and a build
				ends once a join at a newer epoch was told (-ECONNABORTED) */
	int cuda_device;     /* NCCL: the device of this rank */
	const char *address; /* TCP: the IPv4 address peers reach this rank at, the only one it
				listens on; NULL: $LCR_COMM_ADDR, else this host name's address */
	const char *rendezvous_dir; /* NULL or "": the members meet in the job-wide store
				       (with a helper that does not serve it, in the helper's
				       per-node key-value store: one node only); else a directory every
				       member can read and write, where their entries are files
				       (required without a helper) */
};

#define LCR_COMM_OPTIONS_DEFAULT { LCR_COMM_TCP, 60000, 1, 0, NULL, NULL }

/* Builds communicator `name` (1 to 24 bytes, no '.') of `size` ranks, this process
 * being `rank`, for `epoch`: waits until every member has joined or opt->timeout_ms passes.
 * s may be NULL for a program that runs without LCR's helper (a baseline): the members then
 * meet through files in opt->rendezvous_dir, and no event is watched.
 * 0; -EINVAL, -ETIMEDOUT, -EOPNOTSUPP (backend not built), -ECONNABORTED (with
 * opt->watch_events: a join at a newer epoch was told: build at its epoch. Helpers tell an
 * LCR_EVENT_NODE_JOINED only once no node is down, so no member comes at this epoch any
 * more; the build looks at least every half second, and the events it read wait for
 * lcr_event_next, lcr_event_fd staying readable; so does a build whose wait in the store
 * failed, the store's leader having died with the node that join replaced), or another
 * -errno. */
int lcr_comm_init(lcr_session_t *s, const char *name, uint32_t rank, uint32_t size, uint64_t epoch,
		  const struct lcr_comm_options *opt, lcr_comm_t **out);

/* Sums `count` elements of `buf` over every rank, in place. 0; -ECONNRESET (a member died),
 * -ETIMEDOUT, -ECANCELED (a helper event is waiting: nothing was done, read the events and
 * call again), -ECONNABORTED (the communicator was aborted, by lcr_comm_abort or because
 * it stalled while a helper event waited: rebuild it), or another -errno. After a failure
 * other than -ECANCELED the buffer's content is undefined. */
int lcr_comm_allreduce_sum(lcr_comm_t *c, void *buf, size_t count, enum lcr_dtype dtype);

/* Copies `bytes` of root's `buf` into every rank's `buf`. Errors as for allreduce. */
int lcr_comm_broadcast(lcr_comm_t *c, void *buf, size_t bytes, uint32_t root);

/* Returns once every rank has entered. Errors as for allreduce. */
int lcr_comm_barrier(lcr_comm_t *c);

/* Stops the communicator: operations in flight and later ones fail with -ECONNABORTED until
 * lcr_comm_rebuild. Safe to call from another thread. */
void lcr_comm_abort(lcr_comm_t *c);

/* Builds the communicator again with the same name, rank and size for `epoch` (greater
 * than the current one), after a member was replaced. The NCCL backend shrinks and grows
 * the communicator where the loaded NCCL can, else initialises it anew. 0 or as init. */
int lcr_comm_rebuild(lcr_comm_t *c, uint64_t epoch);

/* Closes the connections and frees the communicator; NULL is accepted. */
void lcr_comm_destroy(lcr_comm_t *c);

uint32_t lcr_comm_rank(const lcr_comm_t *c);
uint32_t lcr_comm_size(const lcr_comm_t *c);
uint64_t lcr_comm_epoch(const lcr_comm_t *c);

#ifdef __cplusplus
}
#endif

#endif
