#!/bin/bash
# mesh_failover.sh: the leader dies during a recovery attempt (lcrd --replace=spare). Four
# foreground helpers h0..h3 (h0 leads), spares s1..s3, a fake srun (fake_launcher.sh) that
# hangs on s1. h1 is killed: h0 sequences REPLACING with spare s1, whose launcher hangs;
# then h0 and that launcher are killed together, as a node's death takes both. h2 leads and
# takes h1's failure over: a new REPLACING and epoch on s2 (s1, the spare of the unfinished
# attempt, comes last: Slurm cannot be asked here whether its step runs there; with Slurm's
# answer the step is cancelled instead, as mesh_failover_orphan.sh shows). s2 joins as
# node 1, below h2, and leads from then on: h2 leaves its queue to it, and s2 takes h0's
# failure over (it tries s1 first: it joined after the REPLACING that named s1) and
# replaces it on s3. Every survivor logs the same events.
# The two nodes were down together: s2's join, which leaves h0 down, is not told to the
# ranks; h0's replacements get s2's epoch (4), and the ranks are told of s3's join alone,
# at that epoch, which every rank (survivors, s2's, s3's) builds its communicator at.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"
MESH_JOB=4345
MESH_PREFIX=h
TIMEOUT=1
REPLACE_TIMEOUT=5
start_munged
# Slurm cannot be asked (an squeue that fails): the helpers keep --job-nodes, and cannot
# tell whether the old leader's step runs on its spare.
mkdir -p "$WORK/bin"
printf '#!/bin/sh\nexit 1\n' >"$WORK/bin/squeue"
chmod 755 "$WORK/bin/squeue"
export PATH=$WORK/bin:$PATH
# The spares come first in the job's list: s2, a replacement that joined after h1's failure,
# cannot know that h1 is dead (only Slurm's list of down nodes would tell it, and there is
# none here), and would try h1 before the spares behind it.
use_fake_launcher "s[1-3],h[0-3]" "$REPLACE_TIMEOUT"
echo hang >"$FAKE_LAUNCHER_DIR/s1"

start_recovery_mesh /bin/train --epochs=3
ok $? "four helpers with --replace=spare form a mesh"
# A rank of h3 that prints what the ranks are told.
LCR_SOCKET=$(socket_of 3) "$WATCH" 120 6 >"$WORK/w6" 2>&1 &
LCR_PIDS+=("$!")
wait_for "$WORK/w6" "^ready"

# --- h1 killed: the leader's attempt on s1 hangs ---
reap -9 "${MESH_PIDS[1]}"
all_events "gen 2 REPLACING node 1 epoch 2 .*replacing node h1 (1) with spare s1" 10 h0 h2 h3
ok $? "h1 killed: the leader sequences REPLACING with spare s1, epoch 2"
for i in $(seq 100); do [ -s "$FAKE_LAUNCHER_DIR/s1.pid" ] && break; sleep 0.05; done
hang_pid=$(cat "$FAKE_LAUNCHER_DIR/s1.pid")

# --- the leader dies with its launcher ---
kill -9 "$hang_pid"
reap -9 "${MESH_PIDS[0]}"
all_events "gen 3 NODE_DOWN node 0 " 10 h2 h3
ok $? "the leader's death: NODE_DOWN of node 0 at generation 3"
all_events "gen 4 REPLACING node 1 epoch 4 .*replacing node h1 (1) with spare s2" 10 h2 h3
ok $? "the new leader h2 takes h1 over: REPLACING with spare s2, epoch 4"
grep -q "node h1 (1) is queued for replacement, taken over from the old leader" "$WORK/h2.log" &&
	grep -q "the old leader's attempt for node 1 (epoch 2) on s1 did not end" "$WORK/h2.log"
ok $? "... and logs that it took over the old leader's unfinished attempt on s1"
grep -q "cannot ask Slurm for the steps on spare s1 (.*): it is tried after every other spare" "$WORK/h2.log"
ok $? "... and that Slurm cannot tell whether a step runs on s1, so s1 comes last"
all_events "gen 5 NODE_JOINED node 1 epoch 4 .*rejoined: s2" 15 h2 h3
ok $? "s2 joins as node 1: NODE_JOINED at generation 5, epoch 4"
grep -q "the ranks are not told of the join of generation 5: 1 node is still down" "$WORK/h3.log"
ok $? "... which leaves h0 down: the ranks are not told of it"
grep -qx "LCR_REJOIN_EPOCH=4" "$FAKE_LAUNCHER_DIR/s2.launch"
ok $? "s2's ranks were launched with LCR_REJOIN_EPOCH=4"
grep -q "s2 leads now: the failures queued here are left to it" "$WORK/h2.log"
ok $? "h2 no longer leads and leaves h0's failure to s2"
# s2 joined after the old leader's REPLACING: it does not know s1 for the orphan's spare, tries
# it, and gives it up after --replace-timeout.
all_events "gen 6 REPLACING node 0 epoch 4 .*replacing node h0 (0) with spare s1" 10 h2 h3
ok $? "s2 takes the old leader's node over: REPLACING at generation 6 with s2's epoch 4 (on s1: the orphan is unknown to it)"
all_events "gen 7 REPLACING node 0 epoch 4 .*replacing node h0 (0) with spare s3" $((REPLACE_TIMEOUT + 10)) h2 h3
ok $? "... s1 hangs past --replace-timeout: REPLACING with spare s3, epoch 4 again"
spare=s3
all_events "gen 8 NODE_JOINED node 0 epoch 4 .*rejoined: $spare" 15 h2 h3
ok $? "its replacement joins: NODE_JOINED at generation 8, epoch 4"
grep -qx "LCR_REJOIN_EPOCH=4" "$FAKE_LAUNCHER_DIR/s3.launch"
ok $? "s3's ranks were launched with LCR_REJOIN_EPOCH=4, as s2's"
wait_event "$WORK/w6" NODE_JOINED gen=8 5
joins=$(grep -c " NODE_JOINED " "$WORK/w6")
[ "$joins" = 1 ] && grep " NODE_JOINED " "$WORK/w6" | grep -q " node_id=0 .* gen=8 .* epoch=4 "
ok $? "h3's rank is told of one join, the last (node 0, generation 8), at epoch 4 (told of $joins)"
[ "$(grep -c " REPLACING .* epoch=4 " "$WORK/w6")" = 3 ]
ok $? "... and of the three REPLACING that carry epoch 4 (each restarts its wait)"
diag <"$WORK/w6"
wait_events "$spare" "mesh up generation 8 leader 0 live 4 of 4" 10
ok $? "the replacement of h0 is a member and leads, with 4 of 4 live"
for name in h2 h3; do events_of "$name" | grep " gen [0-9]* " | grep -v RECOVERY_TIMELINE | sed 's/^ *[^ ]* //'; done | sort | uniq -c |
	awk '$1 != 2 { bad = 1 } END { exit bad }'
ok $? "both survivors logged the same events with the same generations and epochs"
events_of h2 | diag
! grep -q "launched .* on s1" "$WORK/h2.log"
ok $? "h2, which saw the old leader's REPLACING, launched nothing on s1"

for pid in "${MESH_PIDS[2]}" "${MESH_PIDS[3]}"; do reap -TERM "$pid"; done
for name in s2 "$spare"; do
	pid=$(cat "$UID_ROOT/$MESH_JOB.0.$name/lcrd.pid" 2>/dev/null) && reap -TERM "$pid"
done
finish
