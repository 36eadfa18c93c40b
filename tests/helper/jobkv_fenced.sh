#!/bin/bash
# jobkv_fenced.sh: a fenced helper serves the job-wide store no more. Three foreground
# helpers; a rank on node 2 waits in a GET (forwarded to the store's leader, node 0), and
# another rank of node 2 only holds its registration, so that the fenced helper lives on
# through its ranks' grace. Node 2's helper is stopped (SIGSTOP) until the others remove it,
# then continued: it learns that it was removed, and the waiting GET fails with -ESHUTDOWN
# naming the fence; a request made during the grace is refused the same way. The store of
# the two helpers left still answers, and holds what was written before.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"
STORE=$LCR_BUILDDIR/tests/helper/store_client
MESH_JOB=4646
TIMEOUT=1
start_munged

start_mesh 3 --detect-timeout=$TIMEOUT --log-level=verbose
ok $? "three helpers form a mesh"

# store ID ARGS...: store_client against helper ID.
store() {
	local id=$1
	shift
	LCR_SOCKET=$(socket_of "$id") "$STORE" "$@"
}

[ "$(store 2 set before fence)" = "set before" ] && [ "$(store 1 get before 0)" = "value before=fence" ]
ok $? "a key set on node 2 reads on node 1"
# The holder ignores SIGTERM: the fenced helper's grace then lasts until its SIGKILL (2 s
# more), so that the request made during the grace below is not late on a loaded machine.
(trap '' TERM; LCR_SOCKET=$(socket_of 2) exec "$LCR_BUILDDIR/tests/helper/lcr_test_client" \
	register 5 --hold) >"$WORK/r5" 2>&1 &
holder=$!
LCR_PIDS+=("$holder")
wait_for "$WORK/r5" "registered"
ok $? "a rank of node 2 holds its registration"
store 2 get later 60000 >"$WORK/later.out" 2>&1 &
waiter=$!
LCR_PIDS+=("$waiter")
# Time for the GET to reach the leader and wait there (nothing logs it; a GET that came
# after the fence would be refused with the same words).
sleep 1

kill -STOP "${MESH_PIDS[2]}"
for i in $(seq 100); do grep -q "is down: silent for" "$WORK/h0.log" && break; sleep 0.1; done
grep -q "is down: silent for" "$WORK/h0.log"
ok $? "node 2's helper, stopped, is removed by the others"
kill -CONT "${MESH_PIDS[2]}"
for i in $(seq 50); do process_gone "$waiter" && break; sleep 0.1; done
wait "$waiter"
ok_exit 1 $? "the GET waiting on node 2 ends when its helper learns it was removed"
grep -q "(-108): this helper was fenced: it serves the job-wide store no more" "$WORK/later.out"
ok $? "... with -ESHUTDOWN naming the fence"
diag <"$WORK/later.out"
out=$(store 2 set after fence 2>&1)
rc=$?
process_gone "${MESH_PIDS[2]}"
ok_exit 1 $? "node 2's helper still runs through its ranks' grace"
ok_exit 1 $rc "a request to the fenced helper fails"
grep -q "(-108): this helper was fenced: it serves the job-wide store no more" <<<"$out"
ok $? "... with -ESHUTDOWN naming the fence"
echo "$out" | diag
grep -q "removed this node from the mesh" "$WORK/h2.log"
ok $? "node 2's helper logged that it was removed"

[ "$(store 1 get before 0)" = "value before=fence" ] && store 0 set later arrived >/dev/null &&
	[ "$(store 1 get later 0)" = "value later=arrived" ]
ok $? "the store of nodes 0 and 1 answers and holds what was written before"
for i in $(seq 100); do process_gone "${MESH_PIDS[2]}" && break; sleep 0.1; done
process_gone "${MESH_PIDS[2]}"
ok $? "the fenced helper ends after its ranks' grace"
finish
