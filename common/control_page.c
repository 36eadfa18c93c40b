/* control_page.c: the two sides' transitions of a rank's control page phase that must not
 * cross (internal/control_page.h): the rank beginning an update, lcrd holding it back while
 * it copies the committed state for a snapshot, and lcrd claiming the page to roll the
 * rank's regions back to a protected step. The update and the rollback are each one
 * compare-and-swap on `phase`, so exactly one of them wins: a rank never writes its regions
 * while lcrd copies a snapshot into them, and lcrd never copies into regions a rank is
 * updating. The hold is a counter that lcrd raises, against which the rank's swap is
 * checked in sequentially consistent order (control_page.h). lcrd ends a
 * rollback by raising the page's rollback generation, and a rank that has not acknowledged
 * the new generation is refused the update (the phase is put back as the swap found it). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal/control_page.h"
#include "internal/wire.h"

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* The page's phase swapped to UPDATING; *previous: the phase it replaced. */
static int swap_to_updating(struct control_page *p, uint32_t acknowledged, uint32_t *previous)
{
	uint32_t phase = atomic_load_explicit(&p->phase, memory_order_acquire);
	/* A rollback already ended is refused without touching the page: lcrd's readers never
	 * see an UPDATING that nothing will end (a refused rank killed right there would leave
	 * its regions looking torn). */
	if (phase != WIRE_PHASE_ROLLING_BACK && control_page_rollback_generation(p) != acknowledged)
		return -ESTALE;
	do {
		if (phase == WIRE_PHASE_ROLLING_BACK)
			return -EINPROGRESS;
	} while (!atomic_compare_exchange_weak_explicit(&p->phase, &phase, WIRE_PHASE_UPDATING,
							memory_order_seq_cst, memory_order_relaxed));
	/* UPDATING now: lcrd cannot claim the page, so no rollback ends after this read; one
	 * that ended between the check above and the swap is caught here. */
	if (control_page_rollback_generation(p) != acknowledged) {
		atomic_store_explicit(&p->phase, phase, memory_order_release);
		return -ESTALE;
	}
	*previous = phase;
	return 0;
}

/* Waits until lcrd releases `hold` or the clock passes deadline_us: false when it did not. */
static bool wait_for_release(struct control_page *p, uint32_t hold, uint64_t deadline_us)
{
	for (;;) {
		uint64_t now = now_us();

		if (atomic_load_explicit(&p->snapshot_hold, memory_order_acquire) != hold)
			return true;
		if (now >= deadline_us)
			return false;
		struct timespec left = { .tv_sec = (time_t)((deadline_us - now) / 1000000),
					 .tv_nsec = (long)((deadline_us - now) % 1000000) * 1000 };
		syscall(SYS_futex, (uint32_t *)&p->snapshot_hold, FUTEX_WAIT, hold, &left, NULL, 0);
	}
}

int control_page_begin_update(struct control_page *p, uint64_t step, uint32_t acknowledged)
{
	uint64_t waited_since = 0;
	uint32_t previous;
	int rc;

	while ((rc = swap_to_updating(p, acknowledged, &previous)) == 0) {
		/* The swap, then this read (lcrd: the hold, then its read of the phase). */
		uint32_t hold = atomic_load_explicit(&p->snapshot_hold, memory_order_seq_cst);

		if (!(hold & 1) || p->snapshot_hold_max_ms == 0 ||
		    hold == atomic_load_explicit(&p->hold_given_up, memory_order_relaxed))
			break;
		/* lcrd copies the committed state: the page goes back as it was, nothing of the
		 * update written, until the copy is done. */
		atomic_store_explicit(&p->phase, previous, memory_order_release);
		if (!waited_since)
			waited_since = now_us();
		if (!wait_for_release(p, hold, waited_since + (uint64_t)p->snapshot_hold_max_ms * 1000))
			atomic_store_explicit(&p->hold_given_up, hold, memory_order_relaxed);
	}
	if (waited_since) {
		atomic_fetch_add_explicit(&p->hold_waits, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&p->hold_waited_us, now_us() - waited_since,
					  memory_order_relaxed);
	}
	if (rc < 0)
		return rc;
	atomic_store_explicit(&p->step, step, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	return 0;
}

int control_page_abandon_update(struct control_page *p, uint64_t step)
{
	uint32_t phase = WIRE_PHASE_UPDATING;
	if (p->version < CONTROL_PAGE_ABANDON_VERSION)
		return -EOPNOTSUPP; /* its lcrd would take the phase for a corrupt page */
	/* Only the rank swaps away from UPDATING (lcrd cannot claim such a page), so the step
	 * read here is the update's own. */
	if (atomic_load_explicit(&p->step, memory_order_relaxed) != step)
		return -EINVAL;
	if (!atomic_compare_exchange_strong_explicit(&p->phase, &phase, WIRE_PHASE_ABANDONED,
						     memory_order_release, memory_order_relaxed))
		return -EINVAL;
	return 0;
}

bool control_page_hold_snapshot(struct control_page *p, uint64_t step)
{
	/* The hold, then this read of the phase (the rank: its swap, then its read of the
	 * hold). */
	atomic_fetch_add_explicit(&p->snapshot_hold, 1, memory_order_seq_cst);
	uint32_t phase = atomic_load_explicit(&p->phase, memory_order_seq_cst);
	if (phase == WIRE_PHASE_COMMITTED &&
	    atomic_load_explicit(&p->committed_step, memory_order_acquire) == step)
		return true;
	control_page_release_snapshot(p);
	return false;
}

void control_page_release_snapshot(struct control_page *p)
{
	atomic_fetch_add_explicit(&p->snapshot_hold, 1, memory_order_release);
	syscall(SYS_futex, (uint32_t *)&p->snapshot_hold, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

bool control_page_claim_rollback(struct control_page *p)
{
	uint32_t phase = atomic_load_explicit(&p->phase, memory_order_acquire);
	do {
		if (phase == WIRE_PHASE_UPDATING)
			return false;
		if (phase == WIRE_PHASE_ROLLING_BACK)
			return true;
	} while (!atomic_compare_exchange_weak_explicit(&p->phase, &phase, WIRE_PHASE_ROLLING_BACK,
							memory_order_acq_rel, memory_order_acquire));
	return true;
}

uint32_t control_page_rollback_generation(const struct control_page *p)
{
	return atomic_load_explicit(&p->rollback_generation, memory_order_acquire);
}

void control_page_end_rollback(struct control_page *p, uint64_t step)
{
	atomic_fetch_add_explicit(&p->rollback_generation, 1, memory_order_relaxed);
	atomic_store_explicit(&p->step, step, memory_order_relaxed);
	atomic_store_explicit(&p->committed_step, step, memory_order_relaxed);
	atomic_store_explicit(&p->phase, WIRE_PHASE_COMMITTED, memory_order_release);
}
