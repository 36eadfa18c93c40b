#!/bin/bash
# mesh_returning.sh: a node that hangs, is replaced, and comes back never takes the mesh
# down. Four foreground helpers with --replace=spare (spare s1, the fake srun of
# fake_launcher.sh); h2's helper and both of its ranks are stopped (SIGSTOP, as a hung node
# is), the others declare h2 down, s1 joins in its place; then h2 continues. Its helper is
# an earlier instance of node 2: every survivor answers it FENCED, nothing it says is taken
# for s1's, and it stops its ranks (the one that reads events exits at once, the one that
# does not is terminated) and ends. The mesh stays at the join's generation with s1 live.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"
MESH_JOB=4545
MESH_PREFIX=h
TIMEOUT=1
start_munged
use_fake_launcher "h[0-3],s1" 10

# gone_within SECONDS PID: the process ends within SECONDS.
gone_within() {
	local i
	for i in $(seq $(($1 * 20))); do
		process_gone "$2" && return 0
		sleep 0.05
	done
	return 1
}

# --- four helpers, ranks 2i and 2i+1 on node i; h2's ranks: one watches, one only holds ---
start_recovery_mesh /bin/train
ok $? "four helpers with --replace=spare form a mesh"
LCR_SOCKET=$(sock h2) "$WATCH" 120 4 >"$WORK/w4" 2>&1 &
watcher=$!
LCR_PIDS+=("$watcher")
LCR_SOCKET=$(sock h2) "$LCR_BUILDDIR/tests/helper/lcr_test_client" register 5 --hold >"$WORK/r5" 2>&1 &
holder=$!
LCR_PIDS+=("$holder")
wait_for "$WORK/w4" "^ready" && wait_for "$WORK/r5" "registered"
ok $? "h2 serves two ranks: one that reads events, one that does not"

# --- h2 hangs: replaced by s1 ---
h2=${MESH_PIDS[2]}
kill -STOP "$h2" "$watcher" "$holder"
all_events "gen 1 NODE_DOWN node 2 " 10 h0 h1 h3 &&
	all_events "gen 3 NODE_JOINED node 2 epoch 2 .*rejoined: s1" 20 h0 h1 h3
ok $? "the hung h2 is declared down and s1 joins in its place (generations 1-3)"
s1_pid=$(cat "$UID_ROOT/$MESH_JOB.0.s1/lcrd.pid")

# --- h2 comes back ---
t0=$(now_ms)
kill -CONT "$h2" "$watcher" "$holder"
gone_within 10 "$h2"
ok $? "the returning h2 learns it was removed and its helper ends"
grep -q "removed this node from the mesh" "$WORK/h2.log"
ok $? "... saying why"
gone_within 2 "$watcher"
ok $? "its rank that reads events exits at once"
grep -q "HELPER_SHUTDOWN .*was fenced" "$WORK/w4" && grep -q "NODE_DOWN .* node_id=2 " "$WORK/w4"
ok $? "... told that its node is down and that it was fenced"
gone_within 8 "$holder"
elapsed=$(($(now_ms) - t0))
ok $? "its rank that does not read events is terminated within the fence's grace"
echo "h2's ranks had stopped $elapsed ms after it continued" | diag
grep -q "SIGTERM\|Terminated" "$WORK/h2.log"
ok $? "... with SIGTERM, logged"
grep -q "an earlier instance of node 2 (generation 0) says HELLO" "$WORK"/h[013].log
ok $? "the survivors tell the earlier instance of node 2 that it is fenced"
sleep $((2 * TIMEOUT + 1))
for name in h0 h1 h3 s1; do
	wait_events "$name" "mesh up generation 3 leader 0 live 4 of 4" 2 || { bad=$name; break; }
done
[ -z "${bad:-}" ]
ok $? "nothing the earlier instance said was applied: the mesh stays at generation 3, 4 of 4 live ${bad:+(not on $bad)}"
events_of h0 | grep -q " gen 4 "
ok_exit 1 $? "... no event after the join (no exit, no LEAVE, no second checkpoint of node 2)"
process_gone "$s1_pid"
ok_exit 1 $? "the replacement s1 still runs"
events_of h0 | diag
for pid in "${MESH_PIDS[0]}" "${MESH_PIDS[1]}" "${MESH_PIDS[3]}" "$s1_pid"; do kill -TERM "$pid" 2>/dev/null; done
finish
