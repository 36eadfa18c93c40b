/* test_jobkv_fence.c: the job-wide store's fencing by generation (helper/services/jobkv.c,
 * helper/services/jobkv_replica.c), on a mesh of three helpers whose peers all sit behind one
 * listening socket that never accepts (nothing answers, no handshake completes), fed with
 * the store's mesh messages directly, and with a rank's requests through the real control
 * socket. A follower takes writes of the reign it was synced in only: an APPLY or a copy of
 * another term (an earlier leader's, delayed) changes nothing; the leader counts no
 * acknowledgement of an earlier reign; a fenced helper fails the requests in flight and
 * refuses new ones with -ESHUTDOWN, and takes no more writes from the leader. A GET that
 * asked to wait and is answered that its key is absent (it reached a new leader with its
 * wait used up) times out, as lcr_store_get promises; one that did not ask keeps -ENOENT. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop/control.h"
#include "internal/wire_control.h"
#include "services/jobkv_internal.h"
#include "loop/lcrd.h"
#include "loop/mesh_auth.h"
#include "mesh/mesh_internal.h"

#define LEADER 0 /* the lowest node of a mesh whose helpers all joined at generation 0 */

static struct lcrd d;
static int black_hole = -1;
static uint16_t black_hole_port;
static char socket_dir[] = "/tmp/lcr-jobkv-fence-XXXXXX";
static int rank_fd = -1; /* a rank's session on the control socket */
static uint32_t next_seq;

/* A socket on 127.0.0.1 that listens and never accepts. */
static void open_black_hole(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	black_hole = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(black_hole >= 0);
	assert_int_equal(bind(black_hole, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(black_hole, 128), 0);
	assert_int_equal(getsockname(black_hole, (struct sockaddr *)&sa, &len), 0);
	black_hole_port = ntohs(sa.sin_port);
}

static void stop_loop(struct loop *loop, void *arg)
{
	(void)arg;
	loop_stop(loop);
}

static void run_loop_for(uint64_t ms)
{
	assert_int_equal(loop_add_timer(d.loop, ms, stop_loop, NULL, NULL), 0);
	assert_int_equal(loop_run(d.loop), 0);
}

/* A mesh of three helpers seen from node `self`, up at `generation`, with the job-wide store
 * and the control socket as main.c sets them up, and a rank connected to that socket. */
static struct mesh *make_mesh(uint32_t self, uint64_t generation)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct mesh *m;
	char err[256];
	memset(&d, 0, sizeof(d));
	open_black_hole();
	assert_non_null(mkdtemp(socket_dir));
	snprintf(d.dir.socket_path, sizeof(d.dir.socket_path), "%s/lcrd.sock", socket_dir);
	assert_int_equal(loop_create(&d.loop), 0);
	d.state = WIRE_HELPER_RUNNING;
	d.opt.node_id = self;
	d.opt.node_count = 3;
	d.opt.detect_timeout_ms = 60000; /* nobody is declared down during a test */
	d.opt.heartbeat_peers = 2;
	snprintf(d.opt.node_name, sizeof(d.opt.node_name), "n%u", self);
	assert_int_equal(control_create(&d), 0);
	assert_int_equal(jobkv_create(&d, &d.jobkv), 0);
	assert_int_equal(control_open(&d), 0);
	assert_int_equal(mesh_create(&d), 0);
	assert_int_equal(jobkv_subscribe(&d), 0);
	m = mesh_of(&d);
	assert_int_equal(mesh_auth_create("/nonexistent/munge.socket", 1, 0, &m->auth, err,
					  sizeof(err)),
			 0);
	for (uint32_t i = 0; i < 3; i++) {
		snprintf(m->nodes[i].name, sizeof(m->nodes[i].name), "n%u", i);
		strcpy(m->nodes[i].address, "127.0.0.1");
		m->nodes[i].port = black_hole_port;
	}
	strcpy(m->address, "127.0.0.1");
	m->port = black_hole_port;
	m->state = WIRE_MESH_BOOTSTRAPPING;
	assert_int_equal(mesh_start(m), 0);
	assert_int_equal(m->state, WIRE_MESH_UP);
	m->generation = generation;
	run_loop_for(150); /* a tick of the store: who leads is seen */
	assert_int_equal(d.jobkv->leader, LEADER);

	rank_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(rank_fd >= 0);
	strcpy(addr.sun_path, d.dir.socket_path);
	assert_int_equal(connect(rank_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	run_loop_for(20); /* the helper accepts the session */
	return m;
}

static int teardown(void **state)
{
	(void)state;
	close(rank_fd);
	rank_fd = -1;
	run_loop_for(20); /* the session closes */
	mesh_destroy(&d);
	jobkv_destroy(d.jobkv);
	control_close(&d);
	loop_destroy(d.loop);
	close(black_hole);
	unlink(d.dir.socket_path);
	rmdir(socket_dir);
	strcpy(socket_dir, "/tmp/lcr-jobkv-fence-XXXXXX");
	return 0;
}

/* Delivers a store message of `type` from node `from`, as the mesh does. */
static void deliver(struct mesh *m, uint32_t from, uint16_t type, int len)
{
	static struct wire_msg msg;
	assert_true(len >= 0);
	memcpy(msg.payload, d.jobkv->buf, (size_t)len);
	msg.header.type = type;
	msg.header.length = (uint32_t)len;
	msg.fd = -1;
	for (uint32_t i = 0; i < m->hooks.message_count; i++)
		if (m->hooks.messages[i].type == type) {
			m->hooks.messages[i].fn(m, from, &msg);
			return;
		}
	fail_msg("no handler for message type %u", type);
}

/* Scratch for the encoders: the store's own buffer is free between messages. */
#define BUF d.jobkv->buf, sizeof(d.jobkv->buf)

static void deliver_apply(struct mesh *m, uint64_t term, uint64_t index, const char *key,
			  const char *value)
{
	static struct wire_jobkv_apply a;
	memset(&a, 0, sizeof(a));
	a.term = term;
	a.index = index;
	a.change = WIRE_JOBKV_STORED;
	a.client = 1;
	a.client_seq = index;
	snprintf(a.key, sizeof(a.key), "%s", key);
	a.value_len = (uint32_t)strlen(value);
	memcpy(a.value, value, a.value_len);
	deliver(m, LEADER, WIRE_JOBKV_APPLY, wire_encode_jobkv_apply(&a, BUF));
}

/* A leader's whole copy of `term`: one key; its entry carries entry_term. */
static void deliver_snapshot(struct mesh *m, uint64_t term, uint64_t entry_term, uint64_t index,
			     const char *key, const char *value)
{
	static struct wire_jobkv_snapshot_entry e;
	struct wire_jobkv_snapshot_begin b = { .term = term, .index = index };
	struct wire_jobkv_snapshot_end end = { .term = term, .index = index, .entries = 1 };
	deliver(m, LEADER, WIRE_JOBKV_SNAPSHOT_BEGIN, wire_encode_jobkv_snapshot_begin(&b, BUF));
	memset(&e, 0, sizeof(e));
	e.term = entry_term;
	snprintf(e.key, sizeof(e.key), "%s", key);
	e.value_len = (uint32_t)strlen(value);
	memcpy(e.value, value, e.value_len);
	deliver(m, LEADER, WIRE_JOBKV_SNAPSHOT_ENTRY, wire_encode_jobkv_snapshot_entry(&e, BUF));
	deliver(m, LEADER, WIRE_JOBKV_SNAPSHOT_END, wire_encode_jobkv_snapshot_end(&end, BUF));
}

/* The value this helper's copy holds under key, or "" when absent. */
static const char *copy_value(const char *key)
{
	static char text[WIRE_STORE_VALUE_MAX + 1];
	uint32_t len = 0;
	const uint8_t *v = jobkv_state_lookup(&d.jobkv->state, key, &len);
	if (!v)
		return "";
	memcpy(text, v, len);
	text[len] = '\0';
	return text;
}

/* A rank's STORE_REQUEST through the control socket; returns its seq. */
static uint32_t send_request(uint16_t op, const char *key, const char *value, uint32_t timeout_ms)
{
	static struct wire_store_request r;
	static uint8_t buf[WIRE_MAX_PAYLOAD];
	memset(&r, 0, sizeof(r));
	r.op = op;
	r.timeout_ms = timeout_ms;
	snprintf(r.key, sizeof(r.key), "%s", key);
	r.value_len = (uint32_t)strlen(value);
	memcpy(r.value, value, r.value_len);
	int len = wire_encode_store_request(&r, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(wire_send_msg_full(rank_fd, WIRE_STORE_REQUEST, ++next_seq, buf,
					    (uint32_t)len, -1),
			 0);
	return next_seq;
}

/* The status of the answer to seq, which must have come (a WIRE_REPLY); message filled. */
static int answer_status(uint32_t seq, char *message, size_t cap)
{
	static struct wire_msg msg;
	struct wire_reply reply;
	assert_int_equal(wire_recv_msg(rank_fd, &msg, 1000), 0);
	assert_int_equal(msg.header.seq, seq);
	assert_int_equal(msg.header.type, WIRE_REPLY);
	assert_int_equal(wire_decode_reply(msg.payload, msg.header.length, &reply), 0);
	snprintf(message, cap, "%s", reply.message);
	return reply.status;
}

/* Whether an answer waits on the rank's socket. */
static bool answer_waiting(void)
{
	static struct wire_msg msg;
	return wire_recv_msg(rank_fd, &msg, 0) != -ETIMEDOUT;
}

static void test_a_follower_takes_no_write_of_an_earlier_term(void **state)
{
	(void)state;
	struct mesh *m = make_mesh(1, 5);
	deliver_snapshot(m, 3, 3, 0, "synced", "yes");
	assert_int_equal(d.jobkv->term, 3);
	assert_string_equal(copy_value("synced"), "yes");
	/* the write of an earlier leader's reign, delayed: it is the next index, but not
	 * this reign's */
	deliver_apply(m, 2, 1, "k", "stale");
	assert_string_equal(copy_value("k"), "");
	assert_int_equal(d.jobkv->state.index, 0);
	/* the same index in this reign is taken */
	deliver_apply(m, 3, 1, "k", "fresh");
	assert_string_equal(copy_value("k"), "fresh");
	assert_int_equal(d.jobkv->state.index, 1);
	/* a write of a later term than the one synced (its copy was not taken yet) neither */
	deliver_apply(m, 4, 2, "k", "unsynced");
	assert_string_equal(copy_value("k"), "fresh");
	assert_int_equal(d.jobkv->state.index, 1);
}

static void test_a_copy_with_pieces_of_another_term_is_not_taken(void **state)
{
	(void)state;
	struct mesh *m = make_mesh(1, 5);
	deliver_snapshot(m, 3, 3, 0, "synced", "yes");
	/* a copy of term 4 whose entry is of term 3 (an earlier sync's, delayed): the counts do
	 * not match what arrived of term 4, and the copy is dropped */
	deliver_snapshot(m, 4, 3, 7, "mixed", "no");
	assert_int_equal(d.jobkv->term, 3);
	assert_string_equal(copy_value("mixed"), "");
	assert_string_equal(copy_value("synced"), "yes");
	assert_int_equal(d.jobkv->state.index, 0);
	assert_null(d.jobkv->incoming);
}

static void test_the_leader_counts_no_acknowledgement_of_an_earlier_reign(void **state)
{
	(void)state;
	struct mesh *m = make_mesh(LEADER, 4);
	struct wire_jobkv_ack stale = { .term = 2, .index = 0 };
	struct wire_jobkv_ack current = { .term = 4, .index = 0 };
	assert_int_equal(d.jobkv->term, 4); /* it leads from the generation it saw */
	assert_non_null(d.jobkv->followers);
	assert_int_equal(d.jobkv->followers[1].term, JOBKV_NO_TERM);
	deliver(m, 1, WIRE_JOBKV_ACK, wire_encode_jobkv_ack(&stale, BUF));
	assert_int_equal(d.jobkv->followers[1].term, JOBKV_NO_TERM); /* not synced */
	deliver(m, 1, WIRE_JOBKV_ACK, wire_encode_jobkv_ack(&current, BUF));
	assert_int_equal(d.jobkv->followers[1].term, 4);
}

static void test_a_fenced_helper_fails_and_refuses_requests_with_eshutdown(void **state)
{
	(void)state;
	struct mesh *m = make_mesh(1, 5);
	char message[WIRE_TEXT_MAX + 1];
	deliver_snapshot(m, 5, 5, 0, "synced", "yes");
	/* a GET that waits for its key: forwarded to the leader, which never answers */
	uint32_t waiting = send_request(WIRE_STORE_GET, "later", "", 60000);
	run_loop_for(50);
	assert_false(answer_waiting());

	mesh_fence_self(m, 6, "removed by the test");
	assert_int_equal(answer_status(waiting, message, sizeof(message)), -ESHUTDOWN);
	assert_non_null(strstr(message, "fenced"));
	assert_int_equal(d.jobkv->leader, WIRE_NO_NODE);

	uint32_t refused = send_request(WIRE_STORE_SET, "k", "v", 0);
	run_loop_for(50);
	assert_int_equal(answer_status(refused, message, sizeof(message)), -ESHUTDOWN);
	assert_non_null(strstr(message, "fenced"));

	/* the leader's writes no longer change this copy */
	deliver_apply(m, 5, 1, "k", "after the fence");
	assert_string_equal(copy_value("k"), "");
	assert_int_equal(d.jobkv->state.index, 0);
}

static void test_a_get_whose_wait_ran_out_on_the_way_times_out(void **state)
{
	(void)state;
	struct mesh *m = make_mesh(1, 5);
	char message[WIRE_TEXT_MAX + 1];
	static struct wire_jobkv_result r;
	deliver_snapshot(m, 5, 5, 0, "synced", "yes");
	/* a GET that waits 100 ms for its key, forwarded to the leader */
	uint32_t seq = send_request(WIRE_STORE_GET, "later", "", 100);
	run_loop_for(50);
	assert_false(answer_waiting());
	/* the leader (say, a new one it went to with its wait used up) answers that the key
	 * is absent: for the rank, whose GET asked to wait, that is the end of its wait */
	memset(&r, 0, sizeof(r));
	r.op_id = d.jobkv->next_op_id;
	r.status = -ENOENT;
	snprintf(r.message, sizeof(r.message), "no key 'later'");
	deliver(m, LEADER, WIRE_JOBKV_RESULT, wire_encode_jobkv_result(&r, BUF));
	assert_int_equal(answer_status(seq, message, sizeof(message)), -ETIMEDOUT);
	assert_string_equal(message, "key 'later' did not appear within 100 ms");
	/* one that did not ask to wait keeps -ENOENT */
	seq = send_request(WIRE_STORE_GET, "absent", "", 0);
	run_loop_for(50);
	r.op_id = d.jobkv->next_op_id;
	deliver(m, LEADER, WIRE_JOBKV_RESULT, wire_encode_jobkv_result(&r, BUF));
	assert_int_equal(answer_status(seq, message, sizeof(message)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_a_follower_takes_no_write_of_an_earlier_term,
					  teardown),
		cmocka_unit_test_teardown(test_a_copy_with_pieces_of_another_term_is_not_taken,
					  teardown),
		cmocka_unit_test_teardown(test_the_leader_counts_no_acknowledgement_of_an_earlier_reign,
					  teardown),
		cmocka_unit_test_teardown(test_a_get_whose_wait_ran_out_on_the_way_times_out,
					  teardown),
		cmocka_unit_test_teardown(test_a_fenced_helper_fails_and_refuses_requests_with_eshutdown,
					  teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
