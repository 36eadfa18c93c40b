/* test_update_fence.c: liblcr's rollback fence (lcr.h, LCR_API_REVISION 5), through the
 * library's own calls with a stand-in helper on a socket pair: lcr_register maps the control
 * page the stand-in passes, and lcr_resume_step asks it for the resume step. The test plays
 * lcrd's rollback with the control page functions lcrd uses (claim, then end). A rank that
 * did not ask lcr_resume_step after the rollback is refused (-ESTALE, nothing marked,
 * lcr_last_error names the step); once it asked, it updates (a rollback that ended while the
 * helper answered is not acknowledged by that answer); a rank that registers after
 * the rollback, or whose page was never rolled back, is not affected. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal/client.h"
#include "internal/control_page.h"
#include "internal/wire.h"

/* The stand-in helper: the rank's control page (its side of the mapping) and the socket
 * end it answers on. */
struct helper {
	int fd;      /* the stand-in's end */
	int rank_fd; /* the rank's end, the session's connection */
	int page_fd; /* passed with every registration reply */
	struct control_page *page;
	pthread_t thread;
	struct wire_msg msg;
	_Atomic uint64_t roll_back_while_answering; /* a rollback to this step ends as the
						     * stand-in answers lcr_resume_step (0: none) */
};

static void answer_register(struct helper *h, uint32_t seq)
{
	struct wire_reply reply = { .status = 0 };
	uint8_t buf[sizeof(reply)];
	wire_send_msg_full(h->fd, WIRE_REPLY, seq, buf, (uint32_t)wire_encode_reply(&reply, buf, sizeof(buf)),
			   h->page_fd);
}

/* As lcrd after a REPLACING: the step the page shows committed (read before a rollback that
 * ends while the stand-in answers, which the answer then does not tell of). */
static void answer_resume_step(struct helper *h, uint32_t seq)
{
	struct wire_resume_info info = { .step = atomic_load(&h->page->committed_step) };
	uint8_t buf[sizeof(info)];
	uint64_t to = atomic_load(&h->roll_back_while_answering);
	if (to && control_page_claim_rollback(h->page))
		control_page_end_rollback(h->page, to);
	wire_send_msg_full(h->fd, WIRE_RESUME_INFO, seq, buf,
			   (uint32_t)wire_encode_resume_info(&info, buf, sizeof(buf)), -1);
}

static void *serve(void *arg)
{
	struct helper *h = arg;
	while (wire_recv_msg(h->fd, &h->msg, 10000) == 0) {
		if (h->msg.header.type == WIRE_REGISTER)
			answer_register(h, h->msg.header.seq);
		else if (h->msg.header.type == WIRE_RESUME_STEP)
			answer_resume_step(h, h->msg.header.seq);
	}
	return NULL;
}

/* A page at step 25 committed, as a rank that trained to it left it. */
static void helper_start(struct helper *h)
{
	int pair[2];
	h->page_fd = memfd_create("test-control-page", MFD_CLOEXEC);
	assert_true(h->page_fd >= 0);
	assert_int_equal(ftruncate(h->page_fd, CONTROL_PAGE_SIZE), 0);
	h->page = mmap(NULL, CONTROL_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, h->page_fd, 0);
	assert_true(h->page != MAP_FAILED);
	h->page->magic = CONTROL_PAGE_MAGIC;
	h->page->version = CONTROL_PAGE_VERSION;
	atomic_store(&h->page->step, 25);
	atomic_store(&h->page->committed_step, 25);
	atomic_store(&h->page->phase, WIRE_PHASE_COMMITTED);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
	h->fd = pair[0];
	h->rank_fd = pair[1];
	assert_int_equal(pthread_create(&h->thread, NULL, serve, h), 0);
}

/* lcr_open without a socket path: a session on the stand-in's socket pair, registered. */
static lcr_session_t *rank_registers(struct helper *h)
{
	struct lcr_session *s = calloc(1, sizeof(*s));
	struct lcr_rank_info me = { .global_rank = 3, .dp_index = 0, .dp_size = 1, .shard_key = "own3" };
	assert_non_null(s);
	pthread_mutex_init(&s->lock, NULL);
	s->event_fd = -1;
	s->fd = h->rank_fd;
	assert_int_equal(lcr_register(s, &me), 0);
	return s;
}

static void helper_stop(struct helper *h, lcr_session_t *s)
{
	lcr_close(s); /* closes the rank's end: the stand-in's receive fails */
	pthread_join(h->thread, NULL);
	close(h->fd);
	close(h->page_fd);
	munmap(h->page, CONTROL_PAGE_SIZE);
}

/* lcrd's rollback of the rank's regions to `step`. */
static void helper_rolls_back(struct helper *h, uint64_t step)
{
	assert_true(control_page_claim_rollback(h->page));
	control_page_end_rollback(h->page, step);
}

static void commit(lcr_session_t *s, uint64_t step)
{
	assert_int_equal(lcr_update_begin(s, step), 0);
	assert_int_equal(lcr_update_end(s, step), 0);
}

static void test_rank_that_skips_resume_step_is_refused_after_a_rollback(void **state)
{
	(void)state;
	struct helper h = { 0 };
	helper_start(&h);
	lcr_session_t *s = rank_registers(&h);
	commit(s, 26);
	helper_rolls_back(&h, 20);
	assert_int_equal(lcr_update_begin(s, 27), -ESTALE);
	assert_int_equal(atomic_load(&h.page->phase), WIRE_PHASE_COMMITTED);
	assert_int_equal(atomic_load(&h.page->step), 20);
	assert_int_equal(atomic_load(&h.page->committed_step), 20);
	assert_string_equal(lcr_last_error(s), "the helper rolled this rank's regions back to step 20; "
			    "call lcr_resume_step and continue after it");
	assert_non_null(strstr(lcr_strerror(-ESTALE), "lcr_last_error says which"));
	assert_int_equal(lcr_update_begin(s, 27), -ESTALE); /* until it asks */
	helper_stop(&h, s);
}

static void test_rank_that_asked_resume_step_updates_after_it(void **state)
{
	(void)state;
	struct helper h = { 0 };
	uint64_t resume = 0;
	helper_start(&h);
	lcr_session_t *s = rank_registers(&h);
	helper_rolls_back(&h, 20);
	assert_int_equal(lcr_resume_step(s, &resume), 0);
	assert_int_equal(resume, 20);
	commit(s, 21);
	assert_int_equal(atomic_load(&h.page->committed_step), 21);
	commit(s, 22);
	helper_rolls_back(&h, 20); /* a second rollback needs a second acknowledgement */
	assert_int_equal(lcr_update_begin(s, 23), -ESTALE);
	assert_int_equal(lcr_resume_step(s, &resume), 0);
	commit(s, 21);
	helper_stop(&h, s);
}

/* lcr_resume_step acknowledges the rollbacks that ended before its request, not one that
 * ends while the helper answers: its answer does not tell of that one. */
static void test_rollback_ending_during_resume_step_is_not_acknowledged(void **state)
{
	(void)state;
	struct helper h = { 0 };
	uint64_t resume = 0;
	helper_start(&h);
	lcr_session_t *s = rank_registers(&h);
	commit(s, 26);
	atomic_store(&h.roll_back_while_answering, 20);
	assert_int_equal(lcr_resume_step(s, &resume), 0);
	assert_int_equal(resume, 26); /* the answer was read before the rollback */
	assert_int_equal(lcr_update_begin(s, 27), -ESTALE);
	assert_int_equal(atomic_load(&h.page->committed_step), 20);
	atomic_store(&h.roll_back_while_answering, 0);
	assert_int_equal(lcr_resume_step(s, &resume), 0);
	assert_int_equal(resume, 20);
	commit(s, 21);
	helper_stop(&h, s);
}

static void test_rank_registered_after_the_rollback_starts_from_it(void **state)
{
	(void)state;
	struct helper h = { 0 };
	helper_start(&h);
	helper_rolls_back(&h, 20);
	lcr_session_t *s = rank_registers(&h); /* a new process of the rank */
	commit(s, 21);
	helper_stop(&h, s);
}

static void test_ordinary_update_cycle_without_rollback(void **state)
{
	(void)state;
	struct helper h = { 0 };
	helper_start(&h);
	lcr_session_t *s = rank_registers(&h);
	for (uint64_t step = 26; step < 40; step++)
		commit(s, step);
	assert_int_equal(atomic_load(&h.page->committed_step), 39);
	assert_int_equal(lcr_update_end(s, 40), -EINVAL); /* not begun */
	helper_stop(&h, s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rank_that_skips_resume_step_is_refused_after_a_rollback),
		cmocka_unit_test(test_rank_that_asked_resume_step_updates_after_it),
		cmocka_unit_test(test_rollback_ending_during_resume_step_is_not_acknowledged),
		cmocka_unit_test(test_rank_registered_after_the_rollback_starts_from_it),
		cmocka_unit_test(test_ordinary_update_cycle_without_rollback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
