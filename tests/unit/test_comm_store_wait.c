/* test_comm_store_wait.c: a communicator's wait for a member's entry in the job-wide store
 * (comm_kv_get, lib/comm.c). A slice of the wait that timed out, or that the store's leader
 * change cut off (-EHOSTUNREACH), is waited again until the entry comes; once a join at a
 * newer epoch was told, the wait ends with -ECONNABORTED whatever the slice's end; another
 * error of the store ends it as it is. The helper is a thread at a socket pair's other end
 * that answers each STORE_REQUEST from a script, and tells events on a second pair. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal/client.h"
#include "internal/comm.h"
#include "internal/wire.h"

#define SCRIPT_MAX 8
#define ENTRY "127.0.0.1:4242 00"

struct stand_in {
	struct lcr_session *s;
	struct lcr_comm comm;
	int control_fd;  /* the helper's end of the control connection */
	int event_fd;    /* the helper's end of the event connection */
	int answers[SCRIPT_MAX]; /* per STORE_REQUEST: a status, or 0 for the entry */
	int answer_count;
	int requests;    /* STORE_REQUESTs the helper received */
	pthread_t thread;
};

/* Answers STORE_REQUESTs from the script until the connection closes. */
static void *helper_answers(void *arg)
{
	struct stand_in *h = arg;
	static uint8_t buf[WIRE_MAX_PAYLOAD];
	struct wire_msg msg = { .fd = -1 };

	while (wire_recv_msg(h->control_fd, &msg, 10000) == 0) {
		int answer = h->requests < h->answer_count ? h->answers[h->requests] : -EIO;
		int len;

		h->requests++;
		if (answer == 0) {
			struct wire_store_reply reply = { .value_len = sizeof(ENTRY) - 1 };
			memcpy(reply.value, ENTRY, reply.value_len);
			len = wire_encode_store_reply(&reply, buf, sizeof(buf));
			wire_send_msg_full(h->control_fd, WIRE_STORE_REPLY, msg.header.seq, buf,
					   (uint32_t)len, -1);
		} else {
			struct wire_reply reply = { .status = answer };
			snprintf(reply.message, sizeof(reply.message), "scripted %s", strerror(-answer));
			len = wire_encode_reply(&reply, buf, sizeof(buf));
			wire_send_msg_full(h->control_fd, WIRE_REPLY, msg.header.seq, buf,
					   (uint32_t)len, -1);
		}
	}
	return NULL;
}

static int stand_in_open(void **state)
{
	struct stand_in *h = calloc(1, sizeof(*h));
	int control[2], events[2];

	assert_non_null(h);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, control), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, events), 0);
	h->s = calloc(1, sizeof(*h->s));
	assert_non_null(h->s);
	pthread_mutex_init(&h->s->lock, NULL);
	h->s->fd = control[0];
	h->s->reply.fd = -1;
	assert_int_equal(client_events_open(h->s, events[0]), 0);
	h->control_fd = control[1];
	h->event_fd = events[1];
	h->comm = (struct lcr_comm){ .session = h->s, .rank = 0, .size = 2, .epoch = 2,
				     .meeting = COMM_MEET_STORE };
	h->comm.opt.watch_events = 1;
	snprintf(h->comm.name, sizeof(h->comm.name), "w");
	*state = h;
	return 0;
}

static int stand_in_close(void **state)
{
	struct stand_in *h = *state;

	shutdown(h->s->fd, SHUT_RDWR);
	lcr_close(h->s);
	close(h->control_fd);
	close(h->event_fd);
	free(h);
	return 0;
}

static void script(struct stand_in *h, int count, ...)
{
	va_list ap;

	va_start(ap, count);
	for (int i = 0; i < count; i++)
		h->answers[i] = va_arg(ap, int);
	va_end(ap);
	h->answer_count = count;
	assert_int_equal(pthread_create(&h->thread, NULL, helper_answers, h), 0);
}

/* The wait, up to 5 s; then the helper thread is joined (its requests are counted). */
static int wait_for_entry(struct stand_in *h, char *value, size_t cap)
{
	size_t len = 0;
	int rc = comm_kv_get(&h->comm, "lcrc.w.2.1", value, cap - 1, &len, comm_now_ms() + 5000);

	value[rc == 0 ? len : 0] = '\0';
	shutdown(h->s->fd, SHUT_WR);
	pthread_join(h->thread, NULL);
	return rc;
}

static void helper_tells_join(struct stand_in *h, uint64_t epoch)
{
	struct wire_event ev = { .type = LCR_EVENT_NODE_JOINED, .node_id = 1, .generation = 6,
				 .epoch = epoch, .status = -1 };
	static uint8_t buf[WIRE_MAX_PAYLOAD];
	int len = wire_encode_event(&ev, buf, sizeof(buf));

	assert_true(len > 0);
	assert_int_equal(wire_send_msg(h->event_fd, WIRE_EVENT, buf, (uint32_t)len), 0);
}

static void test_a_slice_cut_off_by_the_leaders_change_is_waited_again(void **state)
{
	struct stand_in *h = *state;
	char value[64];

	script(h, 3, -EHOSTUNREACH, -ETIMEDOUT, 0);
	assert_int_equal(wait_for_entry(h, value, sizeof(value)), 0);
	assert_string_equal(value, ENTRY);
	assert_int_equal(h->requests, 3);
}

static void test_a_newer_join_ends_the_wait_whatever_the_slice_answered(void **state)
{
	struct stand_in *h = *state;
	char value[64];

	helper_tells_join(h, 5);
	script(h, 2, -EHOSTUNREACH, 0);
	assert_int_equal(wait_for_entry(h, value, sizeof(value)), -ECONNABORTED);
	assert_int_equal(h->requests, 1);
}

static void test_a_join_at_the_builds_own_epoch_does_not_end_it(void **state)
{
	struct stand_in *h = *state;
	char value[64];

	helper_tells_join(h, 2);
	script(h, 2, -ETIMEDOUT, 0);
	assert_int_equal(wait_for_entry(h, value, sizeof(value)), 0);
	assert_int_equal(h->requests, 2);
}

static void test_another_error_of_the_store_ends_the_wait_as_it_is(void **state)
{
	struct stand_in *h = *state;
	char value[64];

	script(h, 2, -EPERM, 0);
	assert_int_equal(wait_for_entry(h, value, sizeof(value)), -EPERM);
	assert_int_equal(h->requests, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_a_slice_cut_off_by_the_leaders_change_is_waited_again,
						stand_in_open, stand_in_close),
		cmocka_unit_test_setup_teardown(test_a_newer_join_ends_the_wait_whatever_the_slice_answered,
						stand_in_open, stand_in_close),
		cmocka_unit_test_setup_teardown(test_a_join_at_the_builds_own_epoch_does_not_end_it,
						stand_in_open, stand_in_close),
		cmocka_unit_test_setup_teardown(test_another_error_of_the_store_ends_the_wait_as_it_is,
						stand_in_open, stand_in_close),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
