#!/bin/bash
# mesh_failover_before_launch.sh: the leader dies before it launches a spare for a failure
# (lcrd --replace=spare). Four foreground helpers h0..h3 (h0 leads), spares s1 and s2, a fake
# srun (fake_launcher.sh), and an squeue that answers nothing: before it picks a spare, a
# leader asks squeue for the job's nodes and waits for the answer up to the 1 s bound, its
# event loop serving heartbeats meanwhile (a 1 s detector timeout: a leader whose loop
# waited in squeue would be declared down). h1 is killed, h0 sequences its NODE_DOWN and is
# killed during that second: it never sequences a REPLACING. h2 leads, takes h1 over, and the two nodes are replaced one after the other. They
# were down together: the first join, which leaves the other node down, is not told to the
# ranks, and both replacements get its epoch; the ranks are told of the second join alone,
# at that epoch, which every rank builds its communicator at.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"
MESH_JOB=4346
MESH_PREFIX=h
TIMEOUT=1
REPLACE_TIMEOUT=10
start_munged
mkdir -p "$WORK/bin"
printf '#!/bin/sh\nexec sleep 5\n' >"$WORK/bin/squeue"
chmod 755 "$WORK/bin/squeue"
export PATH=$WORK/bin:$PATH
use_fake_launcher "s[1-2],h[0-3]" "$REPLACE_TIMEOUT"

start_recovery_mesh /bin/train --epochs=3
ok $? "four helpers with --replace=spare form a mesh"
# A rank of h3 that prints what the ranks are told.
LCR_SOCKET=$(socket_of 3) "$WATCH" 120 6 >"$WORK/w6" 2>&1 &
LCR_PIDS+=("$!")
wait_for "$WORK/w6" "^ready"

reap -9 "${MESH_PIDS[1]}"
wait_events h2 "gen 1 NODE_DOWN node 1 leader 0:" 10
ok $? "h1 killed: the leader h0 sequences its NODE_DOWN"
reap -9 "${MESH_PIDS[0]}"
all_events "gen 2 NODE_DOWN node 0 leader 2:" 15 h2 h3
ok $? "h0 killed while it asks squeue: NODE_DOWN of node 0, h2 leads"
! events_of h2 | grep -q "REPLACING .* leader 0:"
ok $? "the old leader sequenced no REPLACING"
grep -q "node h1 (1) is queued for replacement, taken over from the old leader" "$WORK/h2.log"
ok $? "h2 takes h1's failure over"

all_events "NODE_JOINED node 0 .*rejoined" 20 h2 h3 && all_events "NODE_JOINED node 1 .*rejoined" 20 h2 h3
ok $? "both nodes are replaced"
events_of h2 | diag
first=$(events_of h2 | grep -m 1 " NODE_JOINED ")
epoch=$(sed -n 's/.* NODE_JOINED node [01] epoch \([0-9]*\) .*/\1/p' <<<"$first")
first_gen=$(sed -n 's/.* gen \([0-9]*\) NODE_JOINED .*/\1/p' <<<"$first")
[ -n "$epoch" ] && [ "$(events_of h2 | grep -c " NODE_JOINED node [01] epoch $epoch ")" = 2 ]
ok $? "both joins carry the first one's epoch ($epoch)"
[ "$(events_of h2 | grep " REPLACING " | grep -vc " epoch $epoch ")" = 0 ] &&
	[ "$(events_of h2 | grep -c " REPLACING ")" = 2 ]
ok $? "so do both REPLACING (the first one's epoch is its generation)"
grep -qx "LCR_REJOIN_EPOCH=$epoch" "$FAKE_LAUNCHER_DIR/s1.launch" &&
	grep -qx "LCR_REJOIN_EPOCH=$epoch" "$FAKE_LAUNCHER_DIR/s2.launch"
ok $? "both replacements' ranks were launched with LCR_REJOIN_EPOCH=$epoch"
grep -q "the ranks are not told of the join of generation $first_gen: 1 node is still down" "$WORK/h3.log"
ok $? "the first join, which leaves a node down, is not told to the ranks"
last_gen=$(events_of h2 | grep " NODE_JOINED " | tail -n 1 | sed -n 's/.* gen \([0-9]*\) NODE_JOINED .*/\1/p')
wait_event "$WORK/w6" NODE_JOINED "gen=$last_gen" 5
[ "$(grep -c " NODE_JOINED " "$WORK/w6")" = 1 ] &&
	grep " NODE_JOINED " "$WORK/w6" | grep -q " gen=$last_gen .* epoch=$epoch "
ok $? "h3's rank is told of one join, the last (generation $last_gen), at epoch $epoch"
diag <"$WORK/w6"
for name in h2 h3; do events_of "$name" | grep " gen [0-9]* " | grep -v RECOVERY_TIMELINE | sed 's/^ *[^ ]* //'; done | sort | uniq -c |
	awk '$1 != 2 { bad = 1 } END { exit bad }'
ok $? "both survivors logged the same events with the same generations and epochs"

for pid in "${MESH_PIDS[2]}" "${MESH_PIDS[3]}"; do reap -TERM "$pid"; done
for name in s1 s2; do
	pid=$(cat "$UID_ROOT/$MESH_JOB.0.$name/lcrd.pid" 2>/dev/null) && reap -TERM "$pid"
done
finish
