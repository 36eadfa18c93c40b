/* test_conn_gate.c: the cap on unauthenticated connections (helper/loop/conn_gate.c): a full
 * address or a full gate makes room by naming its oldest idle connection, never one that
 * spoke, has bytes waiting or is still in its grace, and refuses when none is idle; other
 * addresses are not touched; members' addresses do not count against the cap in all; the
 * total follows RLIMIT_NOFILE. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop/conn_gate.h"

#define CONNS 4

/* One connection per socketpair: ends[i][0] is the gate's side, ends[i][1] the peer's. */
static int ends[CONNS][2];
static int conn_ids[CONNS];

static int open_pairs(void **state)
{
	(void)state;
	for (int i = 0; i < CONNS; i++)
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, ends[i]) < 0)
			return -1;
	return 0;
}

static int close_pairs(void **state)
{
	(void)state;
	for (int i = 0; i < CONNS; i++) {
		close(ends[i][0]);
		close(ends[i][1]);
	}
	return 0;
}

static struct sockaddr_in address(const char *text)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(40000) };
	inet_pton(AF_INET, text, &sa.sin_addr);
	return sa;
}

static void enter_as(struct conn_gate *g, int i, const struct sockaddr_in *from, bool member)
{
	assert_int_equal(conn_gate_enter(g, &conn_ids[i], ends[i][0], (const struct sockaddr *)from,
					 member), 0);
}

static void enter(struct conn_gate *g, int i, const struct sockaddr_in *from)
{
	enter_as(g, i, from, false);
}

static int make_room(struct conn_gate *g, const struct sockaddr_in *from, void **victim)
{
	return conn_gate_make_room(g, (const struct sockaddr *)from, false, victim);
}

static void test_full_address_names_its_oldest_idle_connection(void **state)
{
	(void)state;
	struct conn_gate *g;
	struct sockaddr_in a = address("10.0.0.1"), b = address("10.0.0.2");
	void *victim = NULL;
	assert_int_equal(conn_gate_create(2, 10, 0, &g), 0);
	enter(g, 0, &a);
	enter(g, 1, &a);
	assert_int_equal(conn_gate_count(g, (struct sockaddr *)&a), 2);
	assert_int_equal(make_room(g, &b, &victim), 0);
	assert_int_equal(make_room(g, &a, &victim), -EAGAIN);
	assert_ptr_equal(victim, &conn_ids[0]);
	assert_int_equal(conn_gate_enter(g, &conn_ids[2], ends[2][0], (struct sockaddr *)&a, false),
			 -EBUSY);
	conn_gate_leave(g, victim);
	assert_int_equal(make_room(g, &a, &victim), 0);
	enter(g, 2, &a);
	assert_int_equal(conn_gate_count(g, NULL), 2);
	conn_gate_destroy(g);
}

static void test_a_connection_that_spoke_is_never_named(void **state)
{
	(void)state;
	struct conn_gate *g;
	struct sockaddr_in a = address("10.0.0.1");
	void *victim = NULL;
	assert_int_equal(conn_gate_create(2, 10, 0, &g), 0);
	enter(g, 0, &a);
	enter(g, 1, &a);
	conn_gate_heard(g, &conn_ids[0]);
	assert_int_equal(make_room(g, &a, &victim), -EAGAIN);
	assert_ptr_equal(victim, &conn_ids[1]);
	/* Bytes waiting to be read: its first message is on its way. */
	assert_int_equal(write(ends[1][1], "x", 1), 1);
	assert_int_equal(make_room(g, &a, &victim), -EBUSY);
	conn_gate_leave(g, &conn_ids[0]);
	conn_gate_leave(g, &conn_ids[0]);
	assert_int_equal(make_room(g, &a, &victim), 0);
	conn_gate_destroy(g);
}

static void test_full_gate_names_the_oldest_idle_of_any_address(void **state)
{
	(void)state;
	struct conn_gate *g;
	struct sockaddr_in a = address("10.0.0.1"), b = address("10.0.0.2"),
			   c = address("10.0.0.3"), d = address("10.0.0.4");
	void *victim = NULL;
	char drain[8];
	assert_int_equal(read(ends[1][0], drain, sizeof(drain)), 1);
	assert_int_equal(conn_gate_create(8, 3, 0, &g), 0);
	enter(g, 0, &a);
	enter(g, 1, &b);
	enter(g, 2, &c);
	conn_gate_heard(g, &conn_ids[0]);
	assert_int_equal(make_room(g, &d, &victim), -EAGAIN);
	assert_ptr_equal(victim, &conn_ids[1]);
	conn_gate_leave(g, victim);
	assert_int_equal(make_room(g, &d, &victim), 0);
	enter(g, 3, &d);
	assert_int_equal(conn_gate_count(g, (struct sockaddr *)&b), 0);
	assert_int_equal(conn_gate_count(g, NULL), 3);
	conn_gate_destroy(g);
}

static void test_members_pass_a_full_gate_but_not_a_full_address(void **state)
{
	(void)state;
	struct conn_gate *g;
	struct sockaddr_in a = address("10.0.0.1"), node = address("10.0.0.9");
	void *victim = NULL;
	assert_int_equal(conn_gate_create(2, 1, 0, &g), 0);
	enter(g, 0, &a);
	assert_int_equal(conn_gate_make_room(g, (struct sockaddr *)&node, true, &victim), 0);
	enter_as(g, 1, &node, true);
	enter_as(g, 2, &node, true);
	assert_int_equal(conn_gate_count(g, NULL), 1);
	assert_int_equal(conn_gate_make_room(g, (struct sockaddr *)&node, true, &victim), -EAGAIN);
	assert_ptr_equal(victim, &conn_ids[1]);
	/* A stranger's room is made among strangers only. */
	assert_int_equal(make_room(g, &a, &victim), -EAGAIN);
	assert_ptr_equal(victim, &conn_ids[0]);
	conn_gate_destroy(g);
}

static void test_a_connection_in_its_grace_is_never_named(void **state)
{
	(void)state;
	struct conn_gate *g;
	struct sockaddr_in a = address("10.0.0.1");
	void *victim = NULL;
	assert_int_equal(conn_gate_create(1, 10, 60000, &g), 0);
	enter(g, 0, &a);
	assert_int_equal(make_room(g, &a, &victim), -EBUSY);
	conn_gate_destroy(g);
}

static void test_total_follows_the_descriptor_limit(void **state)
{
	(void)state;
	struct rlimit saved, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	low = saved;
	low.rlim_cur = 100;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	assert_int_equal(conn_gate_total_within_limit(256), 25);
	assert_int_equal(conn_gate_total_within_limit(10), 10);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_address_names_its_oldest_idle_connection),
		cmocka_unit_test(test_a_connection_that_spoke_is_never_named),
		cmocka_unit_test(test_full_gate_names_the_oldest_idle_of_any_address),
		cmocka_unit_test(test_members_pass_a_full_gate_but_not_a_full_address),
		cmocka_unit_test(test_a_connection_in_its_grace_is_never_named),
		cmocka_unit_test(test_total_follows_the_descriptor_limit),
	};
	return cmocka_run_group_tests(tests, open_pairs, close_pairs);
}
