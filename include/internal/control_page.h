/* control_page.h: the per-rank control page, a small sealed memfd that lcrd creates when a
 * rank registers and maps in both processes. The rank marks its optimizer update with plain
 * stores (lcr_update_begin / lcr_update_end); lcrd reads the marks at any moment, without a
 * message, to tell whether the rank's regions hold the committed state of a step or a torn
 * one. The page outlives the rank's process, so a rank that reattaches finds its last
 * committed step again.
 *
 * Ordering: update_begin stores `step`, then `phase = UPDATING`, then issues a release
 * fence, so the mark is visible before any store of the update itself. update_end stores
 * `committed_step` then `phase = COMMITTED` with release order, so a reader that sees
 * COMMITTED with acquire order also sees every store of the update. lcrd treats the page as
 * untrusted input: it only reports the values.
 *
 * Rollback (recovery from the in-memory copies, doc/redundancy.md): lcrd claims the page by
 * a compare-and-swap of `phase` to ROLLING_BACK, which fails while the rank is UPDATING;
 * the rank begins an update by a compare-and-swap to UPDATING, which it refuses to do while
 * the phase is ROLLING_BACK. lcrd ends the rollback by marking the rolled-back step
 * committed. */
#ifndef LCR_INTERNAL_CONTROL_PAGE_H
#define LCR_INTERNAL_CONTROL_PAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define CONTROL_PAGE_MAGIC 0x4352434cu /* "LCRC" */
#define CONTROL_PAGE_VERSION 1
#define CONTROL_PAGE_SIZE 4096

struct control_page {
	uint32_t magic;
	uint32_t version;
	uint32_t global_rank;
	uint32_t reserved;
	_Atomic uint64_t step;           /* the update in progress, or the last one */
	_Atomic uint64_t committed_step; /* last committed step, WIRE_NO_STEP when none */
	_Atomic uint32_t phase;          /* enum wire_phase */
};

_Static_assert(sizeof(struct control_page) <= CONTROL_PAGE_SIZE, "control page too large");

/* The rank's lcr_update_begin: the page shows the update of `step` begun (release order
 * before the update's stores). 0, or -EINPROGRESS while lcrd rolls the regions back (the
 * page is left as it is). */
int control_page_begin_update(struct control_page *p, uint64_t step);

/* lcrd, before it rolls the rank's regions back: the page now shows ROLLING_BACK (true,
 * also when it did already), or the rank is updating (false: nothing changed; ask again
 * once the update ended). */
bool control_page_claim_rollback(struct control_page *p);

/* lcrd: `step` committed (release order after the regions were written); ends a rollback. */
void control_page_mark_committed(struct control_page *p, uint64_t step);

#endif
