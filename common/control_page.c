/* control_page.c: the two sides' transitions of a rank's control page phase that must not
 * cross (internal/control_page.h): the rank beginning an update, and lcrd claiming the page
 * to roll the rank's regions back to a protected step. Both are one compare-and-swap on
 * `phase`, so exactly one of them wins: a rank never writes its regions while lcrd copies a
 * snapshot into them, and lcrd never copies into regions a rank is updating. lcrd ends a
 * rollback by raising the page's rollback generation, and a rank that has not acknowledged
 * the new generation is refused the update (the phase is put back as the swap found it). */
#include "config.h"

#include <errno.h>

#include "internal/control_page.h"
#include "internal/wire.h"

int control_page_begin_update(struct control_page *p, uint64_t step, uint32_t acknowledged)
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
							memory_order_acq_rel, memory_order_relaxed));
	/* UPDATING now: lcrd cannot claim the page, so no rollback ends after this read; one
	 * that ended between the check above and the swap is caught here. */
	if (control_page_rollback_generation(p) != acknowledged) {
		atomic_store_explicit(&p->phase, phase, memory_order_release);
		return -ESTALE;
	}
	atomic_store_explicit(&p->step, step, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	return 0;
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
