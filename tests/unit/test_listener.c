/* test_listener.c: a listener out of descriptors does not spin (helper/loop/listener.c): accept
 * fails with EMFILE and leaves the connection waiting, the listener is paused instead of
 * being polled again at once, and the waiting connection is taken once descriptors are
 * back. A paused descriptor (loop_pause_fd) is not dispatched until its pause ends. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal/util.h"
#include "loop/listener.h"
#include "loop/loop.h"

struct counts {
	int calls;
	int accepted; /* the descriptor taken, or -1 */
	int last_rc;
	uint64_t first_ms;
};

static void stop(struct loop *loop, void *arg)
{
	(void)arg;
	loop_stop(loop);
}

static void on_listener(struct loop *loop, int fd, short revents, void *arg)
{
	struct counts *n = arg;
	(void)revents;
	n->calls++;
	int rc = listener_accept(loop, fd, "the test listener", NULL);
	n->last_rc = rc < 0 ? rc : 0;
	if (rc >= 0) {
		n->accepted = rc;
		loop_stop(loop);
	}
}

/* A listener on 127.0.0.1 with one connection waiting; the client's end in *client. */
static int listener_with_waiting_client(int *client)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(*client, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void run_for(struct loop *loop, uint64_t ms)
{
	assert_int_equal(loop_add_timer(loop, ms, stop, NULL, NULL), 0);
	assert_int_equal(loop_run(loop), 0);
}

static void test_listener_out_of_descriptors_does_not_spin(void **state)
{
	(void)state;
	struct loop *loop;
	struct counts n = { .accepted = -1 };
	struct rlimit saved, low;
	int client, fd = listener_with_waiting_client(&client);
	int next_free = dup(0);
	close(next_free);
	assert_int_equal(loop_create(&loop), 0);
	assert_int_equal(loop_add_fd(loop, fd, POLLIN, on_listener, &n), 0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	low = saved;
	low.rlim_cur = (rlim_t)next_free;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	run_for(loop, 500);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	assert_int_equal(n.last_rc, -EMFILE);
	assert_int_equal(n.accepted, -1);
	/* Paused LISTENER_PAUSE_MS after each failure: about 5 tries in 500 ms, not
	 * thousands. */
	assert_true(n.calls >= 2);
	assert_true(n.calls <= 500 / LISTENER_PAUSE_MS + 2);
	run_for(loop, 1000);
	assert_true(n.accepted >= 0);
	close(n.accepted);
	close(client);
	close(fd);
	loop_destroy(loop);
}

static void on_readable(struct loop *loop, int fd, short revents, void *arg)
{
	struct counts *n = arg;
	(void)fd;
	(void)revents;
	if (n->calls++ == 0)
		n->first_ms = util_now_ms();
	loop_stop(loop);
}

static void test_paused_descriptor_waits_for_the_end_of_its_pause(void **state)
{
	(void)state;
	struct loop *loop;
	struct counts n = { .accepted = -1 };
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(loop_create(&loop), 0);
	assert_int_equal(loop_add_fd(loop, p[0], POLLIN, on_readable, &n), 0);
	uint64_t start = util_now_ms();
	loop_pause_fd(loop, p[0], 200);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(n.calls, 1);
	assert_true(n.first_ms - start >= 200);
	assert_true(n.first_ms - start < 1000);
	close(p[0]);
	close(p[1]);
	loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listener_out_of_descriptors_does_not_spin),
		cmocka_unit_test(test_paused_descriptor_waits_for_the_end_of_its_pause),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
