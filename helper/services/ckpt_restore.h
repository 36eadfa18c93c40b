/* ckpt_restore.h: restoring a job's state from a checkpoint when the job starts again
 * (--restore=auto: the newest complete checkpoint of --ckpt-dir; --restore=PATH: that one).
 *
 * At start-up the checkpoint is chosen and checked: its manifest read strictly and every
 * data file present with its size; a damaged checkpoint stops lcrd with a message naming
 * the file and the offset. Then, as ranks come:
 *   - a registering rank must be in the checkpoint with the same shard key and
 *     data-parallel size, else its registration fails (-ENOTRECOVERABLE); its control page
 *     then shows the restored step as committed;
 *   - a region it allocates (or looks up without allocating) must be in the checkpoint with
 *     the same size and kind, else the allocation fails (-ENOTRECOVERABLE) and nothing is
 *     allocated; a new region is filled from the checkpoint on a worker thread, every range
 *     checked against its hash as it is read, and only then handed to the rank; a range that
 *     does not match fails the allocation (-EUCLEAN, naming the file and the offset) and the
 *     region is freed, so a rank never sees damaged or half-restored state; a replacement
 *     helper (--rejoin) with live peers takes the bytes from the replicas' memory instead
 *     (transfer.h), checked against the same hashes, the file read only where that fails;
 *   - lcr_resume_step tells the rank the step it resumes from (WIRE_RESUME_STEP).
 * Checkpoint files are only read, never written. */
#ifndef LCR_HELPER_CKPT_RESTORE_H
#define LCR_HELPER_CKPT_RESTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal/wire.h"
#include "loop/control.h"

struct lcrd;
struct client;
struct region;
struct task;

/* Chooses and checks the checkpoint per d->opt.restore (sets d->restore) and registers
 * RESUME_STEP with the control socket: 0, or a negative errno after logging why (lcrd does
 * not start). */
int ckpt_restore_open(struct lcrd *d);

/* Follows the REPLACING events (after mesh_create): once one is applied, RESUME_STEP
 * answers, instead of the restored checkpoint's step, the step the last REPLACING with a
 * resume step rolled the ranks back to (recovery from the copies) while the rank's page
 * still shows it committed, else WIRE_NO_STEP. 0 or -errno. */
int ckpt_restore_subscribe(struct lcrd *d);

/* Stops the fills in progress (their regions are freed) and frees d->restore; also ends the
 * state transfers this helper serves (transfer_server_close), which read regions too. */
void ckpt_restore_close(struct lcrd *d);

/* Before a rank registers: 0, or -ENOTRECOVERABLE with err set when the checkpoint being
 * restored does not hold this rank with this shard key and data-parallel size. */
int ckpt_restore_check_rank(struct lcrd *d, const struct wire_register *m, char *err,
			    size_t errlen);

/* After a rank registered for the first time: its control page shows the restored step. */
void ckpt_restore_mark_rank(struct lcrd *d, struct task *t);

/* Before a new region is allocated: 0, or -ENOTRECOVERABLE with err set when the
 * checkpoint holds no such region for the rank, or one of another size or kind. */
int ckpt_restore_check_region(struct lcrd *d, uint32_t rank, const char *name,
			      enum wire_region_kind kind, uint64_t size, char *err, size_t errlen);

/* Whether a new region `name` of `rank` is to be filled from the checkpoint. */
bool ckpt_restore_wants(struct lcrd *d, uint32_t rank, const char *name);

/* Allocates the region `name` of `rank` as the checkpoint describes it (host regions only:
 * a CUDA region needs its rank's lcr_region_alloc to name the GPU). REGION_CREATED with *out
 * set, or a negative errno with err set. */
int ckpt_restore_create(struct lcrd *d, uint32_t rank, const char *name, struct region **out,
			char *err, size_t errlen);

/* Starts filling the new region r from the checkpoint; when done, c is answered on seq with
 * the region (control_reply_region), or with the error and r is freed. 0, or -errno with err
 * set (nothing started: the caller frees r and answers). */
int ckpt_restore_fill(struct client *c, uint32_t seq, struct region *r, char *err,
		      size_t errlen);

/* The restored step (WIRE_NO_STEP when nothing is restored) and the checkpoint's path. */
uint64_t ckpt_restore_step(struct lcrd *d, char *path, size_t cap);

/* Whether a fill is writing into region r. */
bool ckpt_restore_uses(struct lcrd *d, const struct region *r);

/* The session c is closing: fills in progress will not answer it. */
void ckpt_restore_release_client(struct lcrd *d, struct client *c);

#endif
