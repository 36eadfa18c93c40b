/* test_client_events.c: liblcr's event queue (client_events.c): the events that
 * client_event_join_told_after reads ahead of the application wait in the session, come back
 * from lcr_event_next in their order before any later one, and keep lcr_event_fd readable
 * until the last is taken; the join check answers for newer epochs only; HELPER_LOST comes
 * once, after the queued events, then -ENOTCONN. The helper is a socket pair's other end. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal/client.h"
#include "internal/wire.h"

struct pair {
	struct lcr_session *s;
	int helper_fd; /* the stand-in helper's end of the event connection */
};

static int pair_open(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));
	int fds[2];

	assert_non_null(p);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
	p->s = calloc(1, sizeof(*p->s));
	assert_non_null(p->s);
	pthread_mutex_init(&p->s->lock, NULL);
	p->s->fd = -1;
	assert_int_equal(client_events_open(p->s, fds[0]), 0);
	p->helper_fd = fds[1];
	*state = p;
	return 0;
}

static int pair_close(void **state)
{
	struct pair *p = *state;

	lcr_close(p->s);
	if (p->helper_fd >= 0)
		close(p->helper_fd);
	free(p);
	return 0;
}

static void helper_tells(struct pair *p, enum lcr_event_type type, uint64_t generation, uint64_t epoch)
{
	struct wire_event ev = { .type = (uint16_t)type, .node_id = 1, .generation = generation,
				 .leader = 0, .epoch = epoch, .status = -1 };
	uint8_t buf[WIRE_MAX_PAYLOAD];
	int len = wire_encode_event(&ev, buf, sizeof(buf));

	assert_true(len > 0);
	assert_int_equal(wire_send_msg(p->helper_fd, WIRE_EVENT, buf, (uint32_t)len), 0);
}

static bool event_fd_readable(struct lcr_session *s)
{
	struct pollfd pfd = { .fd = lcr_event_fd(s), .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

static void next_is(struct lcr_session *s, enum lcr_event_type type, uint64_t generation)
{
	struct lcr_event ev;

	assert_int_equal(lcr_event_next(s, &ev), 0);
	assert_int_equal(ev.type, type);
	assert_int_equal(ev.generation, generation);
}

static void test_join_check_reads_ahead_and_events_come_back_in_order(void **state)
{
	struct pair *p = *state;
	struct lcr_event ev;

	assert_false(event_fd_readable(p->s));
	helper_tells(p, LCR_EVENT_NODE_DOWN, 4, 0);
	helper_tells(p, LCR_EVENT_REPLACING, 5, 5);
	assert_false(client_event_join_told_after(p->s, 2)); /* no join yet: REPLACING is none */
	helper_tells(p, LCR_EVENT_NODE_JOINED, 6, 5);
	assert_false(client_event_join_told_after(p->s, 5)); /* a join at the build's own epoch */
	assert_true(client_event_join_told_after(p->s, 2));
	helper_tells(p, LCR_EVENT_NODE_DOWN, 7, 0); /* told after the read-ahead, still on the socket */
	assert_true(event_fd_readable(p->s));
	next_is(p->s, LCR_EVENT_NODE_DOWN, 4);
	assert_true(event_fd_readable(p->s));
	next_is(p->s, LCR_EVENT_REPLACING, 5);
	next_is(p->s, LCR_EVENT_NODE_JOINED, 6);
	next_is(p->s, LCR_EVENT_NODE_DOWN, 7);
	assert_false(event_fd_readable(p->s));
	assert_int_equal(lcr_event_next(p->s, &ev), -EAGAIN);
	assert_false(client_event_join_told_after(p->s, 2)); /* taken: no longer told */
}

static void test_queue_stays_readable_with_nothing_on_the_socket(void **state)
{
	struct pair *p = *state;

	helper_tells(p, LCR_EVENT_NODE_JOINED, 3, 2);
	assert_true(client_event_join_told_after(p->s, 1));
	assert_true(event_fd_readable(p->s)); /* the socket is empty: the queue's eventfd */
	assert_true(event_fd_readable(p->s)); /* polling does not consume it */
	next_is(p->s, LCR_EVENT_NODE_JOINED, 3);
	assert_false(event_fd_readable(p->s));
}

static void test_helper_lost_once_after_the_queued_events(void **state)
{
	struct pair *p = *state;
	struct lcr_event ev;

	helper_tells(p, LCR_EVENT_NODE_JOINED, 3, 2);
	close(p->helper_fd);
	p->helper_fd = -1;
	assert_true(client_event_join_told_after(p->s, 1)); /* reads up to the socket's end */
	next_is(p->s, LCR_EVENT_NODE_JOINED, 3);
	assert_int_equal(lcr_event_next(p->s, &ev), 0);
	assert_int_equal(ev.type, LCR_EVENT_HELPER_LOST);
	assert_int_equal(lcr_event_next(p->s, &ev), -ENOTCONN);
	assert_false(client_event_join_told_after(p->s, 1));
	assert_int_equal(lcr_event_next(p->s, &ev), -ENOTCONN);
}

static void test_helper_lost_without_a_read_ahead(void **state)
{
	struct pair *p = *state;
	struct lcr_event ev;

	close(p->helper_fd);
	p->helper_fd = -1;
	assert_true(event_fd_readable(p->s));
	assert_int_equal(lcr_event_next(p->s, &ev), 0);
	assert_int_equal(ev.type, LCR_EVENT_HELPER_LOST);
	assert_int_equal(lcr_event_next(p->s, &ev), -ENOTCONN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_join_check_reads_ahead_and_events_come_back_in_order,
						pair_open, pair_close),
		cmocka_unit_test_setup_teardown(test_queue_stays_readable_with_nothing_on_the_socket,
						pair_open, pair_close),
		cmocka_unit_test_setup_teardown(test_helper_lost_once_after_the_queued_events, pair_open,
						pair_close),
		cmocka_unit_test_setup_teardown(test_helper_lost_without_a_read_ahead, pair_open,
						pair_close),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
