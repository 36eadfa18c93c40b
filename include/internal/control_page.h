/* control_page.h: the per-rank control page, a small sealed memfd that lcrd creates when a
 * rank registers and maps in both processes. The rank marks its optimizer update with plain
 * stores (lcr_update_begin / lcr_update_end); lcrd reads the marks at any moment, without a
 * message, to tell whether the rank's regions hold the committed state of a step or a torn
 * one. The page outlives the rank's process, so a rank that reattaches finds its last
 * committed step again.
 *
 * Ordering: update_begin swaps `phase` to UPDATING, then stores `step` and issues a
 * release fence, so the mark is visible before any store of the update itself. update_end stores
 * `committed_step` then `phase = COMMITTED` with release order, so a reader that sees
 * COMMITTED with acquire order also sees every store of the update. lcrd treats the page as
 * untrusted input: it only reports the values.
 *
 * Rollback (recovery from the in-memory copies, doc/redundancy.md): lcrd claims the page by
 * a compare-and-swap of `phase` to ROLLING_BACK, which fails while the rank is UPDATING;
 * the rank begins an update by a compare-and-swap to UPDATING, which it refuses to do while
 * the phase is ROLLING_BACK. lcrd ends the rollback by raising `rollback_generation` and
 * then marking the rolled-back step committed (release order).
 *
 * Abandon: a rank whose update cannot end (a collective inside it failed) swaps UPDATING to
 * ABANDONED: its regions are torn, no commit comes, and lcrd may claim the page for a
 * rollback at once. Every reader that wants a committed state already refuses it, and a
 * later update begins from it like from any phase but ROLLING_BACK.
 *
 * Fencing: the rank's library remembers the rollback generation it last acknowledged (at
 * registration, and when the rank asks lcr_resume_step). An update is begun only while the
 * page's generation is that one, so a rank that did not learn of a rollback cannot commit a
 * step of its own on top of the rolled-back state. The generation is read before the
 * compare-and-swap (a stale one is refused without touching the page) and again after it
 * (acquire order: it sees the raise of every rollback whose end the swap read; lcrd cannot
 * claim the page then), which catches a rollback that ended in between: that rare refusal
 * puts the phase back as it was, so nothing is marked.
 *
 * Snapshot hold (doc/redundancy.md): while lcrd copies the regions of the committed step
 * for a snapshot, `snapshot_hold` is odd (lcrd raises it once to hold, once to release), and
 * a rank's update_begin waits for the release, up to `snapshot_hold_max_ms`, so that the
 * copy is not torn. lcrd raises the hold, then reads the phase; the rank swaps the phase to
 * UPDATING, then reads the hold (both sequentially consistent), so at least one sees the
 * other: lcrd finds the rank updating (the round is not begun, the hold released at once), or
 * the rank finds the hold, puts the phase back as it was before it wrote anything, and
 * waits. A rank that waited a hold out (lcrd never released it in time) notes it in
 * `hold_given_up` and does not wait for that hold again; the copy it then tears is dropped.
 * The rank adds each wait to `hold_waits` and `hold_waited_us`, which lcrd reports.
 *
 * Layout: version 2 added `rollback_generation` in what was padding after `phase`; a
 * version 1 page (an older lcrd) keeps it 0, which never fences. Version 3 added the hold
 * after it; an older lcrd's page keeps it 0, which never holds, and an older library never
 * waits (its updates tear the copies, which are dropped as before). Version 4 changes no
 * field: its lcrd knows the ABANDONED phase, which the library writes on no older page. */
#ifndef LCR_INTERNAL_CONTROL_PAGE_H
#define LCR_INTERNAL_CONTROL_PAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define CONTROL_PAGE_MAGIC 0x4352434cu /* "LCRC" */
#define CONTROL_PAGE_VERSION 4
#define CONTROL_PAGE_ABANDON_VERSION 4 /* the first lcrd that knows the ABANDONED phase */
#define CONTROL_PAGE_SIZE 4096

struct control_page {
	uint32_t magic;
	uint32_t version;
	uint32_t global_rank;
	uint32_t reserved;
	_Atomic uint64_t step;           /* the update in progress, or the last one */
	_Atomic uint64_t committed_step; /* last committed step, WIRE_NO_STEP when none */
	_Atomic uint32_t phase;          /* enum wire_phase */
	_Atomic uint32_t rollback_generation; /* rollbacks lcrd ended on this page (version 2) */
	_Atomic uint32_t snapshot_hold;  /* odd while lcrd copies for a snapshot (version 3) */
	uint32_t snapshot_hold_max_ms;   /* the longest an update waits for it, set by lcrd */
	_Atomic uint32_t hold_given_up;  /* the rank's: the last hold it waited out */
	uint32_t reserved2;
	_Atomic uint64_t hold_waits;     /* the rank's: updates that waited for a hold */
	_Atomic uint64_t hold_waited_us; /* the rank's: their waits, in all */
};

_Static_assert(sizeof(struct control_page) <= CONTROL_PAGE_SIZE, "control page too large");

/* The rank's lcr_update_begin: the page shows the update of `step` begun (release order
 * before the update's stores), after waiting for a snapshot hold (at most
 * snapshot_hold_max_ms). 0; -EINPROGRESS while lcrd rolls the regions back, or -ESTALE when
 * lcrd ended a rollback since the rank acknowledged `acknowledged` (a generation of
 * control_page_rollback_generation): the page is left as it is. */
int control_page_begin_update(struct control_page *p, uint64_t step, uint32_t acknowledged);

/* The rank's lcr_update_abandon: the update of `step` in progress is given up (ABANDONED,
 * release order). 0; -EINVAL when the page shows no update of `step` in progress, or
 * -EOPNOTSUPP when the page is older than CONTROL_PAGE_ABANDON_VERSION (an older lcrd):
 * nothing changed. */
int control_page_abandon_update(struct control_page *p, uint64_t step);

/* The page's rollback generation (acquire order), for the rank to acknowledge once it knows
 * the state the rollbacks up to it left: at registration, and before it asks for its resume
 * step (a rollback that ends after the read makes the next update -ESTALE again). */
uint32_t control_page_rollback_generation(const struct control_page *p);

/* lcrd, before it rolls the rank's regions back: the page now shows ROLLING_BACK (true,
 * also when it did already), or the rank is updating (false: nothing changed; ask again
 * once the update ended). */
bool control_page_claim_rollback(struct control_page *p);

/* lcrd, once it rolled the rank's regions back to `step`: raises the rollback generation
 * (a rank that has not acknowledged it may not begin an update), then shows `step`
 * committed (release order after the regions were written), which ends the rollback. */
void control_page_end_rollback(struct control_page *p, uint64_t step);

/* lcrd, before it copies the rank's regions for a snapshot of `step`: holds the rank's
 * next update back. True when the page still shows `step` committed (the copy may begin);
 * false when the rank began another update (the hold is already released). */
bool control_page_hold_snapshot(struct control_page *p, uint64_t step);

/* lcrd, once the copy is done (or given up): the rank's waiting update goes on. */
void control_page_release_snapshot(struct control_page *p);

#endif
