/* test_mesh_detector.c: the decider's rules and the ordering of membership events, on a
 * mesh of five helpers whose peers all sit behind one listening socket that never accepts
 * (connections open, nothing answers), and whose munged does not exist (no handshake
 * completes), fed with suspicions, refusals, probes and events directly. A silent
 * node is declared down on two observers, or one and the decider's own failed probe, once a
 * majority of the mesh has answered the decider's majority check; a decider cut off from
 * the majority removes nobody and fences itself, as does a helper whose watched peers all
 * fall silent; of two equal halves, the leader's goes on; a refused connection confirms
 * after one loop round; a message from the suspect dismisses the case, and a new helper's
 * join drops what was kept of the old one (case, probe); only the decider
 * decides; the leader's successor decides for the leader and leads; events apply strictly
 * in generation order; a rank exit is numbered once; a helper that finds itself removed is
 * fenced; an event sent on from the log to a peer that missed it is the one applied (a
 * REPLACING with its resume step). */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "mesh/detector.h"
#include "services/fence.h"
#include "loop/lcrd.h"
#include "loop/mesh_auth.h"
#include "mesh/mesh_internal.h"

#define TIMEOUT_MS 200 /* so a probe period is 50 ms */

static struct lcrd d;
static char shutdown_reason[256];
static int black_hole = -1;
static uint16_t black_hole_port;

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

/* What main.c does when a module asks the loop to stop (loop_request_stop). */
static void shutdown_requested(struct loop *loop, const char *reason, void *arg)
{
	struct lcrd *helper = arg;
	(void)loop;
	helper->state = WIRE_HELPER_STOPPING;
	snprintf(shutdown_reason, sizeof(shutdown_reason), "%s", reason);
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

/* A mesh of `count` helpers seen from node `self`, up, generation 0. */
static struct mesh *make_mesh(uint32_t self, uint32_t count)
{
	struct mesh *m;
	char err[256];
	memset(&d, 0, sizeof(d));
	open_black_hole();
	shutdown_reason[0] = '\0';
	assert_int_equal(loop_create(&d.loop), 0);
	loop_on_stop_request(d.loop, shutdown_requested, &d);
	d.state = WIRE_HELPER_RUNNING;
	d.opt.node_id = self;
	d.opt.node_count = count;
	d.opt.detect_timeout_ms = TIMEOUT_MS;
	d.opt.heartbeat_peers = 2;
	snprintf(d.opt.node_name, sizeof(d.opt.node_name), "n%u", self);
	assert_int_equal(mesh_create(&d), 0);
	mesh_on_fenced(&d, fence_stop_ranks_and_exit); /* as main.c does */
	m = mesh_of(&d);
	assert_int_equal(mesh_auth_create("/nonexistent/munge.socket", 1, 0, &m->auth, err,
					  sizeof(err)),
			 0);
	for (uint32_t i = 0; i < count; i++) {
		snprintf(m->nodes[i].name, sizeof(m->nodes[i].name), "n%u", i);
		strcpy(m->nodes[i].address, "127.0.0.1");
		m->nodes[i].port = black_hole_port;
	}
	strcpy(m->address, "127.0.0.1");
	m->port = black_hole_port;
	m->state = WIRE_MESH_BOOTSTRAPPING;
	assert_int_equal(mesh_start(m), 0);
	assert_int_equal(m->state, WIRE_MESH_UP);
	assert_int_equal(m->generation, 0);
	assert_non_null(m->detector); /* else the detector's accessors read 0 whatever happens */
	return m;
}

static int teardown(void **state)
{
	(void)state;
	mesh_destroy(&d);
	loop_destroy(d.loop);
	close(black_hole);
	return 0;
}

static void suspect(struct mesh *m, uint32_t observer, uint32_t node, uint16_t evidence)
{
	struct wire_mesh_suspect s = { .node = node, .evidence = evidence, .silent_ms = 2100 };
	detector_on_suspect(m, observer, &s);
}

/* The helpers named answer the majority check in flight (their PONGs arrive). */
static void answer_majority_check(struct mesh *m, uint32_t count, const uint32_t *nodes)
{
	uint64_t round = quorum_round(m->quorum);
	assert_true(round != 0);
	for (uint32_t i = 0; i < count; i++)
		quorum_on_pong(m->quorum, nodes[i], round);
}

#define ANSWER(m, ...)                                                                      \
	answer_majority_check((m), sizeof((uint32_t[]){ __VA_ARGS__ }) / sizeof(uint32_t),   \
			      (uint32_t[]){ __VA_ARGS__ })

/* The newest entry of the event log. */
static const struct wire_event_log_entry *last_entry(void)
{
	static struct wire_event_log_reply log;
	mesh_fill_event_log(&d, 0, &log);
	assert_true(log.count > 0);
	return &log.entries[log.count - 1];
}

static void test_two_observers_confirm_a_silent_node_at_once(void **state)
{
	(void)state;
	struct mesh *m = make_mesh(0, 5);
	suspect(m, 4, 3, WIRE_EVIDENCE_SILENT);
	assert_int_equal(m->generation, 0);
	suspect(m, 2, 3, WIRE_EVIDENCE_SILENT);
	assert_int_equal(m->generation, 0); /* the majority is asked first */
	ANSWER(m, 1);
	assert_int_equal(m->generation, 0); /* 2 of 5 */
	ANSWER(m, 2);
	assert_int_equal(m->generation, 1); /* 3 of 5 */
	assert_int_equal(m->nodes[3].state, WIRE_NODE_DOWN);
	assert_int_equal(m->live_count, 4);
	assert_int_equal(m->leader, 0);
	assert_int_equal(last_entry()->type, WIRE_EVENT_NODE_DOWN);
	assert_non_null(strstr(last_entry()->message, "seen by n4 (4) and n2 (2)"));
}

static void test_one_observer_and_the_deciders_failed_probe_confirm(void **state)
{
	(void)state;
	struct mesh *m = make_mesh(0, 5);
	suspect(m, 4, 3, WIRE_EVIDENCE_SILENT);
	assert_int_equal(m->generation, 0);
	assert_true(detector_probe_in_flight(m, 3) != 0);
	run_loop_for(TIMEOUT_MS / 4 + 30);
	ANSWER(m, 1, 4);
	assert_int_equal(m->generation, 1);
	assert_int_equal(m->nodes[3].state, WIRE_NODE_DOWN);
	assert_non_null(strstr(last_entry()->message, "seen by n4 (4) and n0 (0)"));
}

static void test_a_message_from_the_suspect_dismisses_the_case(void **state)
{
	(void)state;
	struct mesh *m = make_mesh(0, 5);
	suspect(m, 4, 3, WIRE_EVIDENCE_SILENT);
	detector_on_heard(m, 3);
	detector_on_pong(m, 3, detector_probe_in_flight(m, 3));
	assert_int_equal(detector_case_observers(m, 3), 0);
	assert_int_equal(detector_probe_in_flight(m, 3), 0);
	run_loop_for(TIMEOUT_MS / 4 + 30);
	assert_int_equal(m->generation, 0);
	assert_int_equal(m->nodes[3].state, WIRE_NODE_LIVE);
}

/* A new helper for node 3 joins while the old one is still live here, suspected by n4 and
 * probed by this node (the decider): the join drops the case and the probe, and the old
 * helper's unanswered PING does not count against the new one. */
static void test_a_join_drops_what_was_kept_of_the_old_helper(void **state)
{
	(void)state;
	struct mesh *m = make_mesh(0, 5);
	struct wire_rdv_node joined = { .node_id = 3, .port = black_hole_port,
					.state = WIRE_NODE_LIVE };
	snprintf(joined.node_name, sizeof(joined.node_name), "n3");
	strcpy(joined.address, "127.0.0.1");
	suspect(m, 4, 3, WIRE_EVIDENCE_SILENT);
	assert_int_equal(detector_case_observers(m, 3), 1);
	assert_true(detector_probe_in_flight(m, 3) != 0);
	mesh_sequence_recovery(m, WIRE_EVENT_NODE_JOINED, 3, 0, &joined, "n3 joins again");
	assert_int_equal(m->generation, 1);
	assert_int_equal(m->nodes[3].state, WIRE_NODE_LIVE);
	assert_int_equal(detector_case_observers(m, 3), 0);
	assert_int_equal(detector_probe_in_flight(m, 3), 0);
	run_loop_for(TIMEOUT_MS / 4 + 30); /* past the old PING's deadline */
	assert_int_equal(detector_case_observers(m, 3), 0);
	assert_int_equal(m->generation, 1);
}

static void test_a_refused_connection_confirms_after_one_loop_round(void **state)
{
	(void)state;
	struct mesh *m = make_mesh(0, 5);
	detector_on_refused(m, 2);
	assert_int_equal(m->generation, 0);
	run_loop_for(5);
	assert_int_equal(m->generation, 1);
	assert_int_equal(m->nodes[2].state, WIRE_NODE_DOWN);
	assert_non_null(strstr(last_entry()->message, "refused"));
}

static void test_a_leave_is_numbered_as_node_left(void **state)
{
	(void)state;
	struct mesh *m = make_mesh(0, 5);
	detector_on_leave(m, 1);
	detector_on_refused(m, 1); /* its listener closed right after */
	run_loop_for(5);
	assert_int_equal(m->generation, 1);
	assert_int_equal(m->nodes[1].state, WIRE_NODE_LEFT);
	assert_int_equal(last_entry()->type, WIRE_EVENT_NODE_LEFT);
}

static void test_only_the_decider_decides(void **state)
{
	(void)state;
	struct mesh *m = make_mesh(1, 5);
	suspect(m, 3, 4, WIRE_EVIDENCE_SILENT);
	suspect(m, 2, 4, WIRE_EVIDENCE_REFUSED);
	suspect(m, 3, 1, WIRE_EVIDENCE_REFUSED); /* this node itself */
	run_loop_for(TIMEOUT_MS / 4 + 30);
	assert_int_equal(m->generation, 0);
	assert_int_equal(detector_case_observers(m, 4), 0);
	assert_int_equal(m->nodes[4].state, WIRE_NODE_LIVE);
}

static void test_the_leaders_successor_decides_for_it_and_leads(void **state)
{
	(void)state;
	struct mesh *m = make_mesh(1, 5);
	assert_int_equal(m->leader, 0);
	suspect(m, 2, 0, WIRE_EVIDENCE_SILENT);
	suspect(m, 3, 0, WIRE_EVIDENCE_SILENT);
	ANSWER(m, 2, 3);
	assert_int_equal(m->generation, 1);
	assert_int_equal(m->nodes[0].state, WIRE_NODE_DOWN);
	assert_int_equal(m->leader, 1);
	assert_int_equal(last_entry()->leader, 1);
}

static void test_a_decider_cut_off_from_the_majority_removes_nobody_and_is_fenced(void **state)
{
	(void)state;
	struct mesh *m = make_mesh(0, 5);
	suspect(m, 4, 3, WIRE_EVIDENCE_SILENT);
	suspect(m, 2, 3, WIRE_EVIDENCE_SILENT);
	ANSWER(m, 4); /* 2 of 5: the other side may hold 3 */
	run_loop_for(TIMEOUT_MS + 50);
	assert_int_equal(m->generation, 0);
	assert_int_equal(m->state, WIRE_MESH_FENCED_STATE);
	assert_int_equal(m->nodes[3].state, WIRE_NODE_LIVE);
	assert_string_equal(shutdown_reason, "removed from the mesh by the other helpers");
	assert_int_equal(last_entry()->type, WIRE_EVENT_NODE_DOWN);
	assert_int_equal(last_entry()->node, 0);
	assert_non_null(strstr(last_entry()->message, "cut off from the majority"));
	assert_non_null(strstr(last_entry()->message, "2 of 5 live helpers answered"));
}

static void test_of_two_equal_halves_the_leaders_goes_on(void **state)
{
	(void)state;
	struct mesh *m = make_mesh(0, 4);
	suspect(m, 3, 2, WIRE_EVIDENCE_SILENT);
	suspect(m, 0, 2, WIRE_EVIDENCE_SILENT);
	ANSWER(m, 1); /* 0 and 1 of 4, with the leader */
	assert_int_equal(m->generation, 1);
	assert_int_equal(m->nodes[2].state, WIRE_NODE_DOWN);
	assert_true(quorum_is_majority(2, 4, true));
	assert_false(quorum_is_majority(2, 4, false));
	assert_true(quorum_is_majority(3, 5, false));
	assert_false(quorum_is_majority(2, 5, true));
	assert_true(quorum_is_majority(1, 1, true));
}

static void test_in_a_split_pair_the_non_leader_is_fenced_not_the_leader_removed(void **state)
{
	(void)state;
	struct mesh *m = make_mesh(1, 2);
	suspect(m, 1, 0, WIRE_EVIDENCE_SILENT); /* its own silence case against the leader */
	run_loop_for(TIMEOUT_MS + 50);
	assert_int_equal(m->generation, 0);
	assert_int_equal(m->nodes[0].state, WIRE_NODE_LIVE);
	assert_int_equal(m->state, WIRE_MESH_FENCED_STATE);
}

static void test_a_helper_whose_watched_peers_all_fall_silent_is_fenced(void **state)
{
	(void)state;
	struct mesh *m = make_mesh(2, 5);
	run_loop_for(TIMEOUT_MS / 2);
	assert_int_equal(m->state, WIRE_MESH_UP);
	run_loop_for(2 * TIMEOUT_MS + 100); /* silent for the timeout, then the check's */
	assert_int_equal(m->state, WIRE_MESH_FENCED_STATE);
	assert_int_equal(m->generation, 0);
	assert_non_null(strstr(last_entry()->message, "every watched peer is silent"));
}

static struct wire_mesh_event event;

static void make_event(uint64_t generation, uint16_t type, uint32_t node, uint32_t removed)
{
	memset(&event, 0, sizeof(event));
	event.generation = generation;
	event.leader = 0;
	event.type = type;
	event.node = node;
	event.rank = WIRE_NO_RANK;
	event.status = -1;
	event.resume_step = WIRE_NO_STEP;
	snprintf(event.message, sizeof(event.message), "event %llu", (unsigned long long)generation);
	for (uint32_t i = 0; i < removed; i++)
		event.removed[event.removed_count++] =
			(struct wire_mesh_member){ .node = 4 - i, .state = WIRE_NODE_DOWN };
}

static void test_events_apply_in_generation_order_only(void **state)
{
	(void)state;
	struct mesh *m = make_mesh(2, 5);
	make_event(2, WIRE_EVENT_NODE_DOWN, 3, 2);
	mesh_on_event(m, 0, &event);
	assert_int_equal(m->generation, 0);
	assert_int_equal(m->live_count, 5);
	make_event(1, WIRE_EVENT_NODE_DOWN, 4, 1);
	mesh_on_event(m, 0, &event);
	assert_int_equal(m->generation, 1);
	assert_int_equal(m->nodes[4].state, WIRE_NODE_DOWN);
	make_event(2, WIRE_EVENT_NODE_DOWN, 3, 2);
	mesh_on_event(m, 0, &event);
	assert_int_equal(m->generation, 2);
	assert_int_equal(m->nodes[3].state, WIRE_NODE_DOWN);
	assert_int_equal(m->live_count, 3);
	make_event(2, WIRE_EVENT_RANK_EXITED, 1, 2);
	mesh_on_event(m, 0, &event);
	assert_int_equal(last_entry()->type, WIRE_EVENT_NODE_DOWN);
}

static void test_a_rank_exit_is_numbered_once(void **state)
{
	(void)state;
	struct mesh *m = make_mesh(0, 5);
	struct wire_mesh_report r = { .type = WIRE_EVENT_RANK_EXITED, .rank = 5, .pid = 99,
				      .status = 9 };
	strcpy(r.message, "rank 5 (pid 99) was killed by signal 9");
	mesh_on_report(m, 2, &r);
	mesh_on_report(m, 2, &r);
	assert_int_equal(m->generation, 1);
	assert_int_equal(last_entry()->type, WIRE_EVENT_RANK_EXITED);
	assert_int_equal(last_entry()->node, 2);
	assert_int_equal(last_entry()->rank, 5);
	assert_int_equal(m->live_count, 5);
}

static void test_a_helper_that_finds_itself_removed_is_fenced(void **state)
{
	(void)state;
	struct mesh *m = make_mesh(4, 5);
	make_event(1, WIRE_EVENT_NODE_DOWN, 4, 1);
	mesh_on_event(m, 0, &event);
	assert_int_equal(m->state, WIRE_MESH_FENCED_STATE);
	assert_int_equal(d.state, WIRE_HELPER_STOPPING);
	assert_string_equal(shutdown_reason, "removed from the mesh by the other helpers");
	assert_int_equal(last_entry()->type, WIRE_EVENT_NODE_DOWN);
	assert_int_equal(last_entry()->node, 4);
}

static void test_a_replacing_sent_to_a_peer_that_missed_it_keeps_its_resume_step(void **state)
{
	(void)state;
	struct mesh *m = make_mesh(2, 5);
	struct wire_mesh_event logged;
	make_event(1, WIRE_EVENT_NODE_DOWN, 4, 1);
	mesh_on_event(m, 0, &event);
	make_event(2, WIRE_EVENT_REPLACING, 4, 0);
	event.epoch = 2;
	event.resume_step = 20;
	mesh_on_event(m, 0, &event);
	assert_int_equal(m->generation, 2);
	assert_true(mesh_logged_event(m, 2, &logged));
	assert_int_equal(logged.type, WIRE_EVENT_REPLACING);
	assert_int_equal(logged.node, 4);
	assert_int_equal(logged.epoch, 2);
	assert_int_equal(logged.resume_step, 20);
	assert_true(mesh_logged_event(m, 1, &logged));
	assert_int_equal(logged.type, WIRE_EVENT_NODE_DOWN);
	assert_true(logged.resume_step == WIRE_NO_STEP);
	assert_false(mesh_logged_event(m, 3, &logged));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_two_observers_confirm_a_silent_node_at_once, teardown),
		cmocka_unit_test_teardown(test_one_observer_and_the_deciders_failed_probe_confirm,
					  teardown),
		cmocka_unit_test_teardown(test_a_message_from_the_suspect_dismisses_the_case,
					  teardown),
		cmocka_unit_test_teardown(test_a_join_drops_what_was_kept_of_the_old_helper,
					  teardown),
		cmocka_unit_test_teardown(test_a_refused_connection_confirms_after_one_loop_round,
					  teardown),
		cmocka_unit_test_teardown(test_a_leave_is_numbered_as_node_left, teardown),
		cmocka_unit_test_teardown(test_only_the_decider_decides, teardown),
		cmocka_unit_test_teardown(test_the_leaders_successor_decides_for_it_and_leads,
					  teardown),
		cmocka_unit_test_teardown(test_events_apply_in_generation_order_only, teardown),
		cmocka_unit_test_teardown(test_a_rank_exit_is_numbered_once, teardown),
		cmocka_unit_test_teardown(
			test_a_decider_cut_off_from_the_majority_removes_nobody_and_is_fenced,
			teardown),
		cmocka_unit_test_teardown(test_of_two_equal_halves_the_leaders_goes_on, teardown),
		cmocka_unit_test_teardown(
			test_in_a_split_pair_the_non_leader_is_fenced_not_the_leader_removed,
			teardown),
		cmocka_unit_test_teardown(test_a_helper_whose_watched_peers_all_fall_silent_is_fenced,
					  teardown),
		cmocka_unit_test_teardown(test_a_helper_that_finds_itself_removed_is_fenced,
					  teardown),
		cmocka_unit_test_teardown(
			test_a_replacing_sent_to_a_peer_that_missed_it_keeps_its_resume_step,
			teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
