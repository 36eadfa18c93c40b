#!/bin/bash
# mesh_failover.sh: the leader dies during a recovery attempt (lcrd --replace=spare). Four
# foreground helpers h0..h3 (h0 leads), spares s1..s3, a fake srun (fake_launcher.sh) that
# hangs on s1. h2 is killed: h0 sequences REPLACING with spare s1, whose launcher hangs;
# then h0 and that launcher are killed together, as a node's death takes both. h1 leads and
# takes h2's failure over: a new REPLACING and epoch on s2, which joins; then h0's own
# failure on s3 (s1, the spare of the unfinished attempt, comes last). Every survivor logs
# the same events.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"
MESH_JOB=4345
MESH_PREFIX=h
TIMEOUT=1
REPLACE_TIMEOUT=30
start_munged
use_fake_launcher "h[0-3],s[1-3]" "$REPLACE_TIMEOUT"
echo hang >"$FAKE_LAUNCHER_DIR/s1"

start_recovery_mesh /bin/train --epochs=3
ok $? "four helpers with --replace=spare form a mesh"

# --- h2 killed: the leader's attempt on s1 hangs ---
reap -9 "${MESH_PIDS[2]}"
all_events "gen 2 REPLACING node 2 epoch 2 .*replacing node h2 (2) with spare s1" 10 h0 h1 h3
ok $? "h2 killed: the leader sequences REPLACING with spare s1, epoch 2"
for i in $(seq 100); do [ -s "$FAKE_LAUNCHER_DIR/s1.pid" ] && break; sleep 0.05; done
hang_pid=$(cat "$FAKE_LAUNCHER_DIR/s1.pid")

# --- the leader dies with its launcher ---
kill -9 "$hang_pid"
reap -9 "${MESH_PIDS[0]}"
all_events "gen 3 NODE_DOWN node 0 " 10 h1 h3
ok $? "the leader's death: NODE_DOWN of node 0 at generation 3"
all_events "gen 4 REPLACING node 2 epoch 4 .*replacing node h2 (2) with spare s2" 10 h1 h3
ok $? "the new leader takes h2 over: REPLACING with spare s2, epoch 4"
grep -q "node h2 (2) is queued for replacement, taken over from the old leader" "$WORK/h1.log" &&
	grep -q "the old leader's attempt for node 2 (epoch 2) on s1 did not end" "$WORK/h1.log"
ok $? "... and logs that it took over the old leader's unfinished attempt on s1"
all_events "gen 5 NODE_JOINED node 2 epoch 4 .*rejoined: s2" 15 h1 h3
ok $? "s2 joins: NODE_JOINED at generation 5, epoch 4"
all_events "gen 6 REPLACING node 0 epoch 6 .*replacing node h0 (0) with spare s3" 10 h1 h3
ok $? "then the old leader's node: REPLACING with spare s3 (s1, the orphan's spare, last)"
all_events "gen 7 NODE_JOINED node 0 epoch 6 .*rejoined: s3" 15 h1 h3
ok $? "s3 joins: NODE_JOINED at generation 7, epoch 6"
wait_events s3 "mesh up generation 7 leader 0 live 4 of 4" 10
ok $? "s3 is a member and leads, with 4 of 4 live"
for name in h1 h3; do events_of "$name" | grep " gen [0-9]* " | sed 's/^ *[^ ]* //'; done | sort | uniq -c |
	awk '$1 != 2 { bad = 1 } END { exit bad }'
ok $? "both survivors logged the same events with the same generations and epochs"
events_of h1 | diag
grep -c "launched .* on s1" "$WORK/h1.log" | grep -qx 0
ok $? "the new leader launched nothing on s1"

for pid in "${MESH_PIDS[1]}" "${MESH_PIDS[3]}"; do reap -TERM "$pid"; done
for name in s2 s3; do
	pid=$(cat "$UID_ROOT/$MESH_JOB.0.$name/lcrd.pid" 2>/dev/null) && reap -TERM "$pid"
done
finish
