#!/bin/bash
# mesh_failover_after_join.sh: the leader dies after its replacement of a node joined, while
# the replacement's ranks would receive their state and the ranks rebuild (lcrd
# --replace=spare). Four foreground helpers h0..h3 (h0 leads), spares s1 and s2, a fake srun
# (fake_launcher.sh). h1 is killed and replaced by s1: its NODE_JOINED, which leaves no node
# down, is told to the ranks. Then h0 is killed: s1, the lowest live node, leads, takes h0
# over and replaces it on s2 with a new epoch. That is a new failure: every rank, s1's
# included, is told of s2's join with its new epoch. (A replacement's rank whose first
# build at its LCR_REJOIN_EPOCH failed waits for that join as a survivor does, and builds
# at its epoch: lcr-demo-trainer (contrib/demo/trainer.c, tested on the cluster by
# cases/40_recovery.sh) and lcr.torch.Recovery (Recovery.start, tested with the events stood
# in for by contrib/python/tests/test_recovery.py); doc/mesh.md, "The leader's death after
# a join".)
# Ranks that build a communicator at epoch 2 whose other member never comes
# (comm_build_probe, watch_events=1, timeout 60 s) are told s2's join at epoch 5 during the
# build: the build ends with -ECONNABORTED within seconds of that join, not at its timeout,
# and the join waits for lcr_event_next at once. With no newer join, such a build still
# times out at its own timeout.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"
MESH_JOB=4347
MESH_PREFIX=h
TIMEOUT=1
REPLACE_TIMEOUT=10
start_munged
# h1 comes before s2 in the job's nodes: s1, which joined after h1's death, would pick it
# as h0's spare did s1's leader not name it in LCR_REJOIN_EXCLUDE.
use_fake_launcher "s1,h1,s2,h0,h2,h3" "$REPLACE_TIMEOUT"

start_recovery_mesh /bin/train --epochs=3
ok $? "four helpers with --replace=spare form a mesh"
# A rank of h3 that prints what the ranks are told.
LCR_SOCKET=$(socket_of 3) "$WATCH" 120 6 >"$WORK/w6" 2>&1 &
LCR_PIDS+=("$!")
wait_for "$WORK/w6" "^ready"
# Ranks of h3 that build, when told the first join, at its epoch (2) as rank 0 (waiting for
# the other's address in the store) and as rank 1 (waiting for the other's connection).
for rank in 0 1; do
	LCR_SOCKET=$(socket_of 3) "$PROBE" 60000 "$rank" >"$WORK/probe$rank" 2>&1 &
	LCR_PIDS+=("$!")
	wait_for "$WORK/probe$rank" "^ready"
done

reap -9 "${MESH_PIDS[1]}"
all_events "gen 3 NODE_JOINED node 1 epoch 2 .*rejoined: s1" 15 h0 h2 h3
ok $? "h1 killed and replaced by s1: NODE_JOINED at generation 3, epoch 2"
wait_event "$WORK/w6" NODE_JOINED "gen=3" 5
ok $? "... told to the ranks: no node is left down"
wait_for "$WORK/probe0" "^building p60000r0 epoch=2 " && wait_for "$WORK/probe1" "^building p60000r1 epoch=2 "
ok $? "the probes build at the join's epoch, 2"
LCR_SOCKET=$(socket_of 3) "$PROBE" 3000 0 2 >"$WORK/probe_short" 2>&1
awk '$1 == "build" { split($3, ms, "="); exit !($2 == "rc=-110" && ms[2] >= 2900 && ms[2] < 5000) }
     END { if (NR == 0) exit 1 }' "$WORK/probe_short"
ok $? "with no newer join, a build whose member never comes times out at its own 3 s"
diag <"$WORK/probe_short"
# A rank of the replacement s1, once it is a member.
wait_events s1 "mesh up generation 3 " 10
LCR_SOCKET=$(sock s1) "$WATCH" 120 2 >"$WORK/w2" 2>&1 &
LCR_PIDS+=("$!")
wait_for "$WORK/w2" "^ready"

reap -9 "${MESH_PIDS[0]}"
all_events "gen 4 NODE_DOWN node 0 leader 1:" 15 h2 h3 s1
ok $? "h0 killed: NODE_DOWN of node 0, s1 leads"
all_events "gen 5 REPLACING node 0 epoch 5 leader 1: replacing node h0 (0) with spare s2" 15 h2 h3 s1
ok $? "s1 replaces h0 on s2 with a new epoch, 5 (the first failure was over)"
all_events "gen 6 NODE_JOINED node 0 epoch 5 .*rejoined: s2" 15 h2 h3 s1
ok $? "s2 joins: NODE_JOINED at generation 6, epoch 5"
grep -qx "LCR_REJOIN_EXCLUDE=h1" "$FAKE_LAUNCHER_DIR/s1.launch" &&
	grep -qx "LCR_REJOIN_EXCLUDE=h1,h0" "$FAKE_LAUNCHER_DIR/s2.launch" && [ ! -e "$FAKE_LAUNCHER_DIR/h1.launch" ]
ok $? "s1 was told h1 is no spare, and never tried it; s2 was told h1 and h0"
grep -qx "LCR_REJOIN_EPOCH=5" "$FAKE_LAUNCHER_DIR/s2.launch"
ok $? "s2's ranks were launched with LCR_REJOIN_EPOCH=5"
wait_event "$WORK/w6" NODE_JOINED "gen=6" 5 && grep " NODE_JOINED " "$WORK/w6" | grep -q " gen=6 .* epoch=5 "
ok $? "a survivor's rank is told of the second join, epoch 5"
wait_event "$WORK/w2" NODE_JOINED "gen=6" 5 && grep " NODE_JOINED " "$WORK/w2" | grep -q " gen=6 .* epoch=5 "
ok $? "so is a rank of s1, which started at epoch 2"
joined_ms=$(event_time_ms "$WORK/w6" NODE_JOINED "gen=6")
for rank in 0 1; do
	for i in $(seq 300); do grep -q "^after " "$WORK/probe$rank" && break; sleep 0.2; done
	end_ms=$(awk '$1 == "build" && $2 == "rc=-103" { sub("end=", "", $4); print $4 }' "$WORK/probe$rank")
	after="no -ECONNABORTED"
	[ -n "$end_ms" ] && [ -n "$joined_ms" ] && after="$((end_ms - joined_ms)) ms"
	[ -n "$end_ms" ] && [ -n "$joined_ms" ] && [ $((end_ms - joined_ms)) -gt -250 ] &&
		[ $((end_ms - joined_ms)) -lt 10000 ]
	ok $? "rank $rank's build at epoch 2 ends with -ECONNABORTED within 10 s of the join at epoch 5, not at 60 s ($after)"
	grep "^queued " "$WORK/probe$rank" | tail -1 | grep -q "^queued readable=1 NODE_JOINED epoch=5 gen=6$" &&
		grep -q "^after readable=0$" "$WORK/probe$rank"
	ok $? "... and the join waits for it, its event fd readable, the last of the events in order"
	diag <"$WORK/probe$rank"
done
diag <"$WORK/w6"
diag <"$WORK/w2"
for name in h2 h3; do events_of "$name" | grep " gen [0-9]* " | grep -v RECOVERY_TIMELINE | sed 's/^ *[^ ]* //'; done | sort | uniq -c |
	awk '$1 != 2 { bad = 1 } END { exit bad }'
ok $? "both survivors logged the same events with the same generations and epochs"

for pid in "${MESH_PIDS[2]}" "${MESH_PIDS[3]}"; do reap -TERM "$pid"; done
for name in s1 s2; do
	pid=$(cat "$UID_ROOT/$MESH_JOB.0.$name/lcrd.pid" 2>/dev/null) && reap -TERM "$pid"
done
finish
