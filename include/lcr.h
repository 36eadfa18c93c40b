/* lcr.h: the public C API of liblcr, the LCR client library for training programs.
 *
 * A training rank keeps its model and optimizer state in regions that the node's helper,
 * lcrd, allocates and keeps holding. The rank maps them and uses them like any memory; the
 * helper can read them at any moment without the rank's help, and they outlive a crashed or
 * hung rank: a new process that registers the same rank and asks for the same names gets
 * the same memory and data back. Around each optimizer update the rank marks its control
 * page with lcr_update_begin / lcr_update_end (two plain stores, no system call but a wait
 * while the helper copies the committed state for a snapshot), so the helper knows which
 * step each replica's state holds.
 *
 * Typical use:
 *
 *     lcr_session_t *s;
 *     lcr_open(NULL, &s);                                  // $LCR_SOCKET
 *     struct lcr_rank_info me = { rank, dp_index, dp_size, "tp0.pp0" };
 *     lcr_register(s, &me);
 *     void *w;
 *     lcr_region_alloc(s, "model.weights", bytes, LCR_REGION_HOST, -1, &w);
 *     for (step = ...) {
 *         ... forward, backward ...
 *         lcr_update_begin(s, step);
 *         ... optimizer step writes w ...
 *         lcr_update_end(s, step);
 *     }
 *     lcr_close(s);
 *
 * Conventions. Every call that can fail returns 0 (or a documented positive value) on
 * success and a negative errno value on failure; lcr_strerror() describes it and
 * lcr_last_error() gives the helper's own message for the session's last failed request.
 * Names (regions, keys, barriers, shard keys) are 1 to LCR_NAME_MAX bytes. A session may be
 * shared by threads: calls are serialized inside it. The library exports only lcr_*
 * symbols; its version is LCR_API_VERSION, also returned by lcr_api_version(). See lcr(3).
 */
#ifndef LCR_H
#define LCR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version of this API. Additions keep it; incompatible changes increase it.
 * 2: struct lcr_event grew `epoch` (recovery events 8-10): rebuild against this header. */
#define LCR_API_VERSION 2
/* Additions to this version of the API: each raises it, and a program that uses one checks
 * `#if LCR_API_REVISION >= N`. The library keeps its soname.
 * 1: the job-wide key-value store (lcr_store_*).
 * 2: lcr_resume_step answers, after a recovery, the step the ranks were rolled back to.
 * 3: lcr_update_begin fails with -EINPROGRESS while the helper rolls the rank's regions
 *    back (LCR_PHASE_ROLLING_BACK).
 * 4: lcr_comm's members meet in the job-wide store by default, on any node (lcr_comm.h).
 * 5: lcr_update_begin fails with -ESTALE after the helper rolled the rank's regions back,
 *    until the rank asks lcr_resume_step (which acknowledges the rollback). The helper of
 *    this release raises the fence; one of revision 3 or 4 does not, and nothing is refused.
 * 6: lcr_update_abandon, and LCR_PHASE_ABANDONED: an update that could not end (a collective
 *    inside it failed with a peer) lets the helper's rollback go on. */
#define LCR_API_REVISION 6

#define LCR_NAME_MAX 63      /* longest region name, key, barrier name or shard key */
#define LCR_VALUE_MAX 32768  /* largest key-value store value */
#define LCR_MESSAGE_MAX 255  /* longest event or error message */
#define LCR_NODE_NAME_MAX 127 /* longest node name in an event */
#define LCR_NO_STEP UINT64_MAX /* no step committed yet */

/* A connection to the node's helper. Opaque. */
typedef struct lcr_session lcr_session_t;

enum lcr_region_kind {
	LCR_REGION_HOST = 1, /* host memory (memfd), mapped MAP_SHARED */
	LCR_REGION_CUDA = 2, /* GPU memory (cuMemCreate), mapped into the caller's CUDA VA */
};

/* Where a rank stands in its update cycle, as its control page shows it. */
enum lcr_phase {
	LCR_PHASE_RUNNING = 0,   /* registered, no update marked since */
	LCR_PHASE_UPDATING = 1,  /* between lcr_update_begin and lcr_update_end: torn state */
	LCR_PHASE_COMMITTED = 2, /* the regions hold the committed state of committed_step */
	LCR_PHASE_ROLLING_BACK = 3, /* the helper copies a protected step's snapshot into the
				     * regions (a recovery; LCR_API_REVISION 3) */
	LCR_PHASE_ABANDONED = 4, /* lcr_update_abandon: an update given up, the regions torn
				  * until a rollback or a copy (LCR_API_REVISION 6) */
};

/* lcr_region_alloc's return value when the region already existed (a reattach). */
#define LCR_REATTACHED 1

/* Who this process is in the training job. */
struct lcr_rank_info {
	uint32_t global_rank;  /* the rank in the whole job */
	uint32_t dp_index;     /* its data-parallel index */
	uint32_t dp_size;      /* the data-parallel size */
	const char *shard_key; /* ranks with the same key hold identical state (replicas) */
};

/* A region, as lcr_region_lookup and lcr_region_list describe it. */
struct lcr_region {
	char name[LCR_NAME_MAX + 1];
	uint64_t size;                /* bytes */
	enum lcr_region_kind kind;
	uint32_t owner_rank;
	char shard_key[LCR_NAME_MAX + 1]; /* the owner's shard key */
	uint64_t committed_step;      /* the owner's last committed step, or LCR_NO_STEP */
	enum lcr_phase phase;         /* the owner's phase */
	int owner_alive;              /* 1 when a session holds the owner rank */
	void *ptr;                    /* where it is mapped in this process, or NULL */
};

enum lcr_event_type {
	LCR_EVENT_RANK_EXITED = 1,     /* a rank ended (rank, pid, status) */
	LCR_EVENT_HELPER_SHUTDOWN = 2, /* the helper is shutting down: the step ends, or this
					* node was fenced (stop now, write nothing) */
	LCR_EVENT_HELPER_LOST = 3,     /* source HELPER: the connection to the helper broke (it
					* died); source PMIX: rank `rank` lost its PMIx server */
	LCR_EVENT_NODE_DOWN = 4,       /* a node of the job is down (node) */
	LCR_EVENT_NODE_LEFT = 5,       /* a node's helper ended normally (node) */
	LCR_EVENT_MESH_UP = 6,         /* the step's helpers found each other: failures on
					* every node of the step are reported from now on */
	LCR_EVENT_CHECKPOINT = 7,      /* a just-in-time checkpoint ended: status 0, published
					* (message: "checkpoint of step S published in DIR..."),
					* or -errno, abandoned (message: why) */
	LCR_EVENT_REPLACING = 8,       /* the leader launches a spare in place of node `node_id`:
					* wait for NODE_JOINED (same epoch) instead of exiting */
	LCR_EVENT_NODE_JOINED = 9,     /* the replacement of node `node_id` joined and no node
					* is left down: rebuild the communicators with `epoch`
					* (a join that leaves a node down is not delivered) */
	LCR_EVENT_RECOVERY_FAILED = 10, /* node `node_id` cannot be replaced (message: why and
					 * the checkpoint to restart from): end the step */
	LCR_EVENT_PROTECTED = 11,      /* with redundancy "copy": a newer step is protected, every
					* node's state at it held in other nodes' memory (message:
					* "step S is protected: ..."); see lcrd(8) */
};

/* node_id and leader when no node is concerned or known. */
#define LCR_NO_NODE UINT32_MAX

/* What detected an event. */
enum lcr_event_source {
	LCR_SOURCE_HELPER = 0, /* the helper (or this library, for a lost connection) */
	LCR_SOURCE_PMIX = 1,   /* a PMIx event that a rank forwarded (see lcr_pmix_attach) */
};

/* A notice from the helper. New types may be added: ignore the ones you do not know. */
struct lcr_event {
	enum lcr_event_type type;
	enum lcr_event_source source;
	uint32_t rank;   /* the rank concerned (RANK_EXITED; HELPER_LOST from PMIx) */
	int32_t pid;     /* its process (RANK_EXITED seen by the helper), else 0 */
	int32_t status;  /* its wait status when known, else -1 */
	char node[LCR_NODE_NAME_MAX + 1];  /* the node concerned (NODE_DOWN), else "" */
	char message[LCR_MESSAGE_MAX + 1]; /* a sentence for logs */
	/* Membership, for events of the step's helpers (source HELPER). Every helper of the
	 * step delivers the same NODE_DOWN, NODE_LEFT and RANK_EXITED events with the same
	 * generation, which rises by one with each of them; a rank that sees generation g has
	 * seen every change up to g. 0 for events before the helpers found each other. */
	uint32_t node_id;    /* the step node concerned (its Slurm node id), or LCR_NO_NODE */
	uint64_t generation; /* the membership generation this event created or belongs to */
	uint32_t leader;     /* the lowest live node id at that generation, or LCR_NO_NODE */
	/* REPLACING and NODE_JOINED: the communicator epoch of the replacement attempt (the
	 * generation of its REPLACING event, or, for nodes down together, the epoch of the
	 * first of them that joined); every rank, survivor or replacement, rebuilds its
	 * communicators with the epoch of NODE_JOINED. 0 for other events. */
	uint64_t epoch;
};

/* LCR_API_VERSION of the library actually loaded. */
int lcr_api_version(void);

/* A description of a value returned by any lcr_* call (negative errno); never NULL. */
const char *lcr_strerror(int err);

/* Opens a session with the helper listening at socket_path, or at $LCR_SOCKET when
 * socket_path is NULL. The session also subscribes to the helper's events. 0 with *out set;
 * -ENOENT (no path given and LCR_SOCKET unset), -ECONNREFUSED / -ENOENT (no helper there),
 * -EACCES (what listens there does not run as the caller's uid: nothing was sent to it),
 * -ENOMEM, or another -errno. */
int lcr_open(const char *socket_path, lcr_session_t **out);

/* Closes the session: unmaps this process's regions and control page (the helper keeps the
 * memory) and frees the session. NULL is accepted. Returns 0. */
int lcr_close(lcr_session_t *s);

/* The helper's message for the last request of this session that failed ("" if none). The
 * string stays valid until the next call on the session. */
const char *lcr_last_error(const lcr_session_t *s);

/* Registers this session as a rank and maps its control page. A rank that registers again
 * (a restarted process) finds its regions and control page as the last one left them.
 * 0; -EINVAL (rank not served by this helper, bad shard key), -EBUSY (a live process holds
 * the rank), -EALREADY (this session holds another rank), -ENOTRECOVERABLE (the helper
 * restores a checkpoint that does not hold this rank with this shard key and data-parallel
 * size: lcr_last_error says what differs), or another -errno. */
int lcr_register(lcr_session_t *s, const struct lcr_rank_info *info);

/* Allocates region `name` of `size` bytes for this session's rank and maps it: *ptr is a
 * host pointer (LCR_REGION_HOST) or a CUDA device pointer (LCR_REGION_CUDA, on
 * cuda_device, an ordinal in this process, or -1 for the device of the current CUDA
 * context, else device 0). New host memory reads as zero, unless the helper restores a
 * checkpoint: then the region holds the checkpoint's bytes when this returns. When the
 * rank already has a region of this name with the same size and kind, it is mapped again
 * with its data and LCR_REATTACHED is returned. 0 or LCR_REATTACHED; -EPERM (not
 * registered), -EINVAL (bad name, size or kind), -EEXIST (exists with another size or
 * kind), -EDQUOT (over the helper's region quota), -EOPNOTSUPP (CUDA not built in),
 * -ENODEV (no usable GPU), -ENOTRECOVERABLE (the checkpoint being restored holds no such
 * region for this rank, or one of another size or kind: nothing was allocated),
 * -EUCLEAN (the checkpoint's data for it is damaged: lcr_last_error names the file and
 * offset; nothing was allocated), -EBUSY (it is being restored by another session),
 * -ENOMEM, or another -errno. */
int lcr_region_alloc(lcr_session_t *s, const char *name, uint64_t size, enum lcr_region_kind kind,
		     int cuda_device, void **ptr);

/* Finds this rank's region `name`, maps it if this process has not yet, and describes it in
 * *info (info->ptr is the mapping). A host region that a checkpoint being restored holds
 * is allocated and filled from it first (a CUDA one needs lcr_region_alloc). 0; -ENOENT
 * (no such region), -EPERM (not registered), -EUCLEAN (see lcr_region_alloc), or another
 * -errno. */
int lcr_region_lookup(lcr_session_t *s, const char *name, struct lcr_region *info);

/* Describes the helper's regions (every rank's, oldest first) into out[max]; *count is set
 * to the number of regions the helper holds, which may exceed max. out may be NULL when max
 * is 0. ptr is set for the regions this process has mapped. 0 or -errno. */
int lcr_region_list(lcr_session_t *s, struct lcr_region *out, size_t max, size_t *count);

/* Frees this rank's region `name`: the helper releases it and this process unmaps it; other
 * processes' mappings stay valid until they unmap. 0; -ENOENT, -EPERM, or another -errno. */
int lcr_region_free(lcr_session_t *s, const char *name);

/* Marks the start of the optimizer update of `step`: the rank's regions are torn until
 * lcr_update_end. A compare-and-swap and a store to the control page and a release fence,
 * safe from any thread. No system call, but while the helper copies the committed state for
 * a snapshot (with redundancy, every --lcr-snapshot-every steps) it waits for the copy to
 * end (a futex wait, at most the site's redundancy.snapshot_hold_max, 1 s by default; a
 * helper older than this library never holds an update back), so that the copy is not
 * torn. 0; -EINVAL when the session has no registered rank;
 * -EINPROGRESS (LCR_API_REVISION 3) while the helper rolls the rank's regions back to a
 * protected step after LCR_EVENT_REPLACING (recovery from the in-memory copies): nothing is
 * marked and the regions must not be written; wait for LCR_EVENT_NODE_JOINED, then continue
 * after lcr_resume_step's step. -ESTALE (LCR_API_REVISION 5) once the helper has rolled the
 * regions back to a protected step P that this session has not acknowledged: nothing is
 * marked, the regions hold P and must not be written from the rank's own later state; call
 * lcr_resume_step (which acknowledges every rollback ended before it) and continue after
 * its step. lcr_register acknowledges the rollbacks ended before it. lcr_last_error says
 * why for both refusals. */
int lcr_update_begin(lcr_session_t *s, uint64_t step);

/* Marks the update of `step` as committed: the regions hold the state after that step.
 * Stores with release order; no system call. The helper may read the regions from then on
 * (a checkpoint, a snapshot), so the work that writes a CUDA region must have completed on
 * the device first (cudaStreamSynchronize of its streams, or an event waited for): the
 * helper's own device-to-host copies are not ordered after the rank's streams. 0, or
 * -EINVAL when the session has no registered rank or `step` is not the update in
 * progress. */
int lcr_update_end(lcr_session_t *s, uint64_t step);

/* Gives the update of `step` up (LCR_API_REVISION 6): it stopped before its end, typically
 * because a collective inside it failed when a peer was lost, so the regions are torn and
 * no commit of `step` comes. The page shows LCR_PHASE_ABANDONED: no checkpoint, snapshot or
 * transfer uses the regions, and the helper may roll them back to a protected step at
 * once (recovery from the in-memory copies); a rank left UPDATING holds that rollback back
 * until its update ends, and the helper ends the node's ranks after 30 s. The rank must
 * not write the regions again before it knows the step they hold: after a rollback,
 * lcr_resume_step (then lcr_update_begin of the next step is let in); otherwise the
 * regions are filled again from a replica inside an update of its own
 * (lcr_update_begin/lcr_update_end), or restored from a checkpoint. A store, no system
 * call; safe from any thread. 0; -EINVAL when the session has no registered rank or `step`
 * is not the update in progress, -EOPNOTSUPP when the helper is older than this call
 * (the rank stays UPDATING): nothing changed. */
int lcr_update_abandon(lcr_session_t *s, uint64_t step);

/* A descriptor that becomes readable (POLLIN) when an event is waiting, on the helper's
 * connection or read ahead by a communicator's build (lcr_comm.h) and queued in the
 * session; for poll/epoll only, do not read it. Owned by the session. */
int lcr_event_fd(lcr_session_t *s);

/* Takes the next event without blocking: 0 with *ev filled, -EAGAIN when none is waiting,
 * -ENOTCONN after LCR_EVENT_HELPER_LOST was returned. */
int lcr_event_next(lcr_session_t *s, struct lcr_event *ev);

/* Makes this process's PMIx failure events reach the helper. In a PMIx client (a rank
 * started by `srun --mpi=pmix`, mpirun/prterun, flux run -o pmi=pmix), initialises PMIx
 * (reference counted: a program that initialised PMIx itself is fine) and registers one
 * event handler, ahead of the program's, for PMIX_ERR_PROC_ABORTED,
 * PMIX_EVENT_PROC_TERMINATED, PMIX_ERR_LOST_CONNECTION and, where the PMIx server accepts it
 * (slurmstepd does not), PMIX_EVENT_NODE_DOWN. Each such event is forwarded to the helper,
 * which sends it to its sessions as an LCR_SOURCE_PMIX event, and is marked complete: no
 * later handler (an MPI library's, or a default handler that would abort the job) sees it.
 * lcr_open does this by itself when PMIX_NAMESPACE and PMIX_RANK are set and LCR_PMIX is
 * not "0"; a failure there leaves the session open without PMIx and its message in
 * lcr_last_error. lcr_close deregisters the handler and finalises PMIx. See
 * doc/pmix-events.md.
 * 0 (attached now or before); -ENOENT (not a PMIx client: PMIX_NAMESPACE or PMIX_RANK
 * unset), -ECONNREFUSED (PMIx_Init failed), -EPROTO (the handler could not be registered),
 * -ENOMEM, or another -errno (the helper cannot be reached). */
int lcr_pmix_attach(lcr_session_t *s);

/* Stores `len` bytes (at most LCR_VALUE_MAX) under `key` in the helper's key-value store,
 * replacing any older value. The store is shared by the clients of this helper. 0,
 * -EINVAL, -ENOSPC (store full), or another -errno. */
int lcr_kv_put(lcr_session_t *s, const char *key, const void *value, size_t len);

/* Reads `key` into value[cap]; *len is set to the value's full length. Waits up to
 * timeout_ms for the key to appear (0: do not wait, -1: wait for ever). 0; -ENOENT (absent
 * and timeout_ms is 0), -ETIMEDOUT, -ENOBUFS (cap too small: *len says how much is needed),
 * or another -errno. */
int lcr_kv_get(lcr_session_t *s, const char *key, void *value, size_t cap, size_t *len,
	       int timeout_ms);

/* Waits until `participants` sessions of this helper have entered barrier `name`, or
 * timeout_ms passes (-1: for ever). The barrier can be used again once it released. 0;
 * -ETIMEDOUT (this caller leaves the barrier), -EINVAL (another participant count is in use
 * for this name), or another -errno. */
int lcr_barrier(lcr_session_t *s, const char *name, uint32_t participants, int timeout_ms);

/* --- the job-wide key-value store (LCR_API_REVISION 1; doc/mesh.md) ---
 *
 * One store for every rank of the job step, whichever node it runs on, kept by the helpers
 * rather than by a rank: the store's leader orders every request, and a write is answered
 * once every live helper holds it, so no answered write is lost with any one node (the
 * leader's included) and each key reads as if there were one copy. Values are blobs of up
 * to LCR_STORE_VALUE_MAX bytes; the store holds at most 4096 keys and 1 MiB of keys and
 * values (-ENOSPC, -E2BIG past them, lcr_last_error() names the bound). Every call may also
 * fail with -ETIMEDOUT (no leader answered within 10 s beyond the call's own wait),
 * -EHOSTUNREACH (the leader changed twice during the call), -ESHUTDOWN (this node's helper
 * was fenced) or another -errno (the helper cannot be reached). */
#define LCR_STORE_VALUE_MAX 16384

/* Stores `len` bytes under `key`, replacing any older value. 0, -EINVAL, -ENOSPC, -E2BIG. */
int lcr_store_set(lcr_session_t *s, const char *key, const void *value, size_t len);

/* Reads `key` into value[cap]; *len is set to the value's full length. Waits up to
 * timeout_ms for the key to appear (0: do not wait, -1: for ever). 0; -ENOENT (absent and
 * timeout_ms is 0), -ETIMEDOUT (lcr_last_error() names the wait), -ENOBUFS (cap too small:
 * *len says how much is needed). */
int lcr_store_get(lcr_session_t *s, const char *key, void *value, size_t cap, size_t *len,
		  int timeout_ms);

/* Adds delta to the number under `key`, kept as decimal text (an absent key counts as 0),
 * and sets *sum (may be NULL) to the result. Concurrent adds of every rank each see a sum
 * of their own. 0; -EINVAL (the value is not a decimal number), -ERANGE (the sum overflows
 * 64 bits), -ENOSPC, -E2BIG. */
int lcr_store_add(lcr_session_t *s, const char *key, int64_t delta, int64_t *sum);

/* Stores `desired` under `key` if it holds `expected` (an absent key holds nothing:
 * expected_len 0). value[cap] gets the value stored afterwards: `desired` when swapped,
 * else the key's own; *len its full length. 1 (swapped), 0 (not: the key holds another
 * value), -ENOENT (absent, and expected_len is not 0), -ENOBUFS, -ENOSPC, -E2BIG. */
int lcr_store_compare_set(lcr_session_t *s, const char *key, const void *expected,
			  size_t expected_len, const void *desired, size_t desired_len,
			  void *value, size_t cap, size_t *len);

/* Removes `key`. 0, or -ENOENT (no such key). */
int lcr_store_delete(lcr_session_t *s, const char *key);

/* --- checkpoints (doc/checkpoint.md) ---
 *
 * The helpers take a checkpoint of the ranks' regions when a failure is detected or when
 * asked; a job started again with `srun --lcr-restore=auto` (or PATH) gets its regions back
 * from the newest complete checkpoint as it allocates them. Checkpoints need a shard key in
 * lcr_rank_info. */

/* The step this rank resumes from: when the helper restored this rank's state from a
 * checkpoint, *step is that checkpoint's step (the regions hold the state committed at the
 * end of it: continue with step + 1); otherwise LCR_NO_STEP. Call it after lcr_register.
 * Once the helper applied a REPLACING of another node (LCR_API_REVISION 2), it answers for
 * the recoveries instead: the protected step the helpers last rolled this rank's host
 * regions back to (recovery from the in-memory copies: continue with step + 1) while the
 * rank has committed no other step since, else LCR_NO_STEP; ask it after NODE_JOINED.
 * Asking it acknowledges the rollbacks the helper ended before it (LCR_API_REVISION 5):
 * lcr_update_begin refuses with -ESTALE a rank that has not. 0; -EPERM (not registered),
 * or another -errno. */
int lcr_resume_step(lcr_session_t *s, uint64_t *step);

/* Asks the helper to take a checkpoint now and waits until it is saved (which takes as
 * long as writing the state): *step (may be NULL) is the step saved. The newest step
 * committed on a replica of every shard is saved; ranks that begin an update while it is
 * copied make it try again, so call this between updates. 0; -ENOENT (the helper has no
 * checkpoint directory), -ENODATA (no step is committed everywhere: lcr_last_error says
 * which shard lacks one), -ENOSPC, -EIO and other errors of the checkpoint's files
 * (lcr_last_error names the file), -ESTALE (updates kept changing the state), or another
 * -errno. */
int lcr_checkpoint(lcr_session_t *s, uint64_t *step);

/* Opt-in: from now on, signal `signo` delivered to this process asks the helper for a
 * checkpoint (by sending SIGUSR1 to the helper, whose pid this asks for now) instead of
 * its default action, such as ending the process. Meant for `sbatch --signal=USR1@300`,
 * which signals the step's tasks shortly before the time limit. The signal's previous
 * handler is replaced; the forwarding handler only calls kill(2). 0; -EINVAL (signo cannot
 * be caught), or another -errno (the helper cannot be reached). */
int lcr_checkpoint_on_signal(lcr_session_t *s, int signo);

#ifdef __cplusplus
}
#endif

#endif
