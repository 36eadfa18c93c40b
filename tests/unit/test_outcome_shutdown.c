/* test_outcome_shutdown.c: the step's outcome written by the last helper to stop
 * (helper/services/outcome.c, outcome_on_shutdown), when its own rank's exit was reported to
 * a leader that never numbered it: the leaders of the step's end left one after the other
 * (seen on the cluster: a step recovered twice, its last two leaders leaving while the
 * third node's rank was still reporting its exit), so the exit is only in this helper's
 * pending reports. The outcome must still be written, with that rank's status, into a real
 * checkpoint directory, read back as `lcrctl wait` reads it.
 *
 * The mesh is a stub: three nodes, one rank each (rank n on node n); this helper is node 2;
 * nodes 0 and 1 have left (their helpers ended normally).
 *
 * Also outcome_awaits_exits, which makes a stopping leader wait for the other nodes' last
 * exits (outcome_drain; seen in CI: the leader and the last other helper ended at the same
 * moment, each left the outcome to the other, and none was written): node 1 is then live
 * (leaving or not), and the leader is this helper or node 1. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop/ckpt_dir.h"
#include "loop/lcrd.h"
#include "loop/outcome_file.h"
#include "mesh/mesh.h"
#include "services/outcome.h"

#define NODES 3
#define SELF 2
#define JOB 39
#define STEP 1

static struct lcrd helper;
static const uint32_t node_ranks[NODES][1] = { { 0 }, { 1 }, { 2 } };
static const uint32_t live_ids[1] = { SELF };
static const uint32_t live_with_node1[2] = { 1, SELF };
static bool node1_live;          /* node 1's helper goes on (else it has left) */
static bool node1_leaving;       /* ... and has said it leaves */
static uint32_t leader = SELF;
static bool exit_pending;        /* rank SELF's exit is a pending report */
static int32_t pending_status;   /* ... with this wait status */
static char dir[64];

/* --- the mesh, as this helper sees it at its end --- */

struct lcrd *mesh_lcrd(const struct mesh *m)
{
	(void)m;
	return &helper;
}

uint32_t mesh_self(const struct mesh *m)
{
	(void)m;
	return SELF;
}

uint32_t mesh_leader(const struct mesh *m)
{
	(void)m;
	return leader;
}

uint32_t mesh_node_count(const struct mesh *m)
{
	(void)m;
	return NODES;
}

const uint32_t *mesh_node_ranks(const struct mesh *m, uint32_t node, uint32_t *count)
{
	(void)m;
	*count = 1;
	return node_ranks[node];
}

enum wire_node_state mesh_node_state(const struct mesh *m, uint32_t node)
{
	(void)m;
	return node == SELF || (node == 1 && node1_live) ? WIRE_NODE_LIVE : WIRE_NODE_LEFT;
}

bool mesh_node_leaving(const struct mesh *m, uint32_t node)
{
	(void)m;
	if (node == 1 && node1_live)
		return node1_leaving;
	return node != SELF;
}

const char *mesh_node_name(const struct mesh *m, uint32_t node)
{
	static const char *const names[NODES] = { "n4", "n2", "n5" };
	(void)m;
	return names[node];
}

uint32_t mesh_live_count(const struct mesh *m)
{
	(void)m;
	return node1_live ? 2 : 1;
}

const uint32_t *mesh_live_ids(const struct mesh *m)
{
	(void)m;
	return node1_live ? live_with_node1 : live_ids;
}

uint64_t mesh_applied_generation(const struct mesh *m)
{
	(void)m;
	return 11;
}

uint64_t mesh_joined_generation(const struct mesh *m)
{
	(void)m;
	return 0;
}

bool mesh_may_write_shared(struct mesh *m, const char *what)
{
	(void)m;
	(void)what;
	return true;
}

uint32_t mesh_log_length(const struct mesh *m)
{
	(void)m;
	return 0; /* nothing of this node's ranks was numbered */
}

const struct wire_event_log_entry *mesh_log_entry(const struct mesh *m, uint32_t i)
{
	(void)m;
	(void)i;
	fail_msg("the log is empty");
	return NULL;
}

bool mesh_exit_reported(const struct mesh *m, uint32_t rank, int32_t *wait_status)
{
	(void)m;
	if (!exit_pending || rank != SELF)
		return false;
	*wait_status = pending_status;
	return true;
}

/* --- the test --- */

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/lcr-outcome-end-XXXXXX");
	assert_non_null(mkdtemp(dir));
	memset(&helper, 0, sizeof(helper));
	helper.opt.job_id = JOB;
	helper.opt.step_id = STEP;
	helper.opt.ckpt_dir = dir;
	helper.opt.replace = LCR_REPLACE_SPARE;
	exit_pending = false;
	node1_live = node1_leaving = false;
	leader = SELF;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* This helper stops last: the outcome file it writes, read back; -ENOENT when none. */
static int stop_last(struct outcome_record *r)
{
	struct outcome *o = NULL;
	char err[8192];
	outcome_on_member(NULL, &o);
	assert_non_null(o);
	outcome_on_shutdown(NULL, &o);
	outcome_destroy(&o);
	int fd = ckpt_dir_open(dir, &helper.opt.ckpt_roots, TRUSTED_OPEN_EXISTING,
			       "checkpoint directory", err, sizeof(err));
	if (fd < 0)
		fail_msg("%s", err);
	int rc = outcome_file_read(fd, dir, JOB, STEP, getuid(), r, err, sizeof(err));
	close(fd);
	return rc;
}

static void test_own_exit_still_reported_is_counted_by_the_last_helper(void **state)
{
	struct outcome_record r;
	(void)state;
	exit_pending = true;
	pending_status = 0; /* exited 0 */
	assert_int_equal(stop_last(&r), 0);
	assert_true(r.finished);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.ranks, NODES);
	assert_non_null(strstr(r.message, "job 39 step 1 finished: all 3 ranks exited 0"));
}

static void test_own_failure_still_reported_decides_the_outcome(void **state)
{
	struct outcome_record r;
	(void)state;
	exit_pending = true;
	pending_status = 3 << 8; /* exited 3 */
	assert_int_equal(stop_last(&r), 0);
	assert_true(r.finished);
	assert_int_equal(r.status, 3);
	assert_int_equal(r.rank, SELF);
	assert_non_null(strstr(r.message, "failed: rank 2 exited with status 3"));
}

/* A rank of this node with no exit at all (it still runs as far as this helper knows):
 * nothing is written, rather than an outcome that would count it as ended. */
static void test_own_rank_without_an_exit_writes_nothing(void **state)
{
	struct outcome_record r;
	(void)state;
	assert_int_equal(stop_last(&r), -ENOENT);
}

/* The leader stops while node 1's helper goes on and its rank's exit is not numbered: it
 * waits for that exit; not once node 1 says it leaves, nor once the exit is numbered (node
 * 1's ranks ended), nor when another helper leads. */
static void test_leader_waits_for_a_live_node_whose_ranks_run(void **state)
{
	struct outcome *o = NULL;
	(void)state;
	node1_live = true;
	outcome_on_member(NULL, &o);
	assert_non_null(o);
	assert_true(outcome_awaits_exits(NULL, o));
	node1_leaving = true;
	assert_false(outcome_awaits_exits(NULL, o));
	node1_leaving = false;
	leader = 1;
	assert_false(outcome_awaits_exits(NULL, o));
	leader = SELF;
	struct wire_mesh_event exited = { .type = WIRE_EVENT_RANK_EXITED, .node = 1, .rank = 1,
					  .pid = 4396, .status = 0, .generation = 12 };
	outcome_on_event(NULL, &o, &exited);
	assert_false(outcome_awaits_exits(NULL, o));
	outcome_destroy(&o);
}

/* Every other node left: nothing to wait for, the outcome is this helper's at its end. */
static void test_leader_alone_waits_for_nothing(void **state)
{
	struct outcome *o = NULL;
	(void)state;
	outcome_on_member(NULL, &o);
	assert_non_null(o);
	assert_false(outcome_awaits_exits(NULL, o));
	outcome_destroy(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_own_exit_still_reported_is_counted_by_the_last_helper,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_failure_still_reported_decides_the_outcome,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_rank_without_an_exit_writes_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_leader_waits_for_a_live_node_whose_ranks_run,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_leader_alone_waits_for_nothing, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
