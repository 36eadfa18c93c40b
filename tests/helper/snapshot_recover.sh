#!/bin/bash
# snapshot_recover.sh: recovery from the in-memory copies (redundancy "copy", doc/redundancy.md,
# "Recovery from the copies"). Three foreground helpers with --redundancy=copy
# --snapshot-every=10 --replace=spare, one rank each with its own shard (no replica), train
# to step 25 (step 20 protected); the job's spare s1 runs the fake srun (fake_launcher.sh).
# h2 is killed:
#   - the leader recovers it at protected step 20 (its copies are held by a live partner):
#     REPLACING says so, after the failure's checkpoint ended (written from the snapshots
#     of step 20, rank 2's shard from h0's copy: without it, it would not be complete);
#   - the survivors roll their ranks back to step 20 from their own snapshots: the regions
#     hold step 20's bytes, the pages show step 20 committed, lcr_resume_step says 20;
#   - the replacement on s1 fills rank 2's region from the copy h0 holds (checked against
#     the server's hash): it holds step 20's bytes, resume step 20.
#   - after one more step on every rank, each helper's `lcrctl events` and log hold its
#     RECOVERY_TIMELINE (survivors: spare launched, joined, first step; the replacement:
#     state filled with bytes, regions and peers, first step).
#   - the replacement's srun gets the step's settings (--lcr-ckpt-dir, --lcr-detect-timeout,
#     --lcr-redundancy, --lcr-snapshot-every, --lcr-replace, and --lcr-verbose: the helpers
#     run with --log-level=verbose) as the helpers were given them.
#   - the replacement takes no round of the step it resumed at (protected already): no
#     holder keeps a second copy of rank 2's step 20.
# Without a protected step (--snapshot-every=100, 25 steps), the old path: the leader says
# why, REPLACING names no step, nothing is rolled back, lcr_resume_step says none.
# A rollback and the ranks' updates (q0, q1 with ranks 1 and 3, q2; trained to step 20, which
# is protected): rank 1 is in the middle
# of an update when q2 is killed: q1's rollback waits for it; meanwhile rank 3, which tries
# to begin an update, is refused (-EINPROGRESS); once its region holds step 20 it is refused
# again (-ESTALE: it did not ask lcr_resume_step, so it would commit its own step 26 on top
# of step 20), and is let in after lcr_resume_step (20) at step 21; the spare's NODE_JOINED
# is held back from q1's ranks until the rollback is done.
# A rank whose update never ends (r1): the rollback waits 30 s for it, then its helper says
# why and ends.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"
MESH_JOB=4344
MESH_PREFIX=h
TIMEOUT=1

# wait_line FILE PATTERN SECONDS: until FILE has a line matching PATTERN.
wait_line() {
	local i
	for i in $(seq $(($3 * 20))); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

CKPT_CLIENT=$LCR_BUILDDIR/tests/helper/ckpt_client
REDUNDANCY=(--redundancy=copy --snapshot-every=10 "--ckpt-dir=$WORK/ckpt")
start_munged
mkdir -p "$WORK/ckpt"
use_fake_launcher "h[0-2],s1" 20
FAKE_LAUNCHER_LCRD_ARGS="$FAKE_LAUNCHER_LCRD_ARGS ${REDUNDANCY[*]}"

make_root "$WORK/root" "$(id -u)"
start_rendezvous "rdv-$MESH_PREFIX"
for i in 0 1 2; do
	start_mesh_node "$i" 3 --ranks="$i" --detect-timeout="$TIMEOUT" --log-level=verbose \
		"${RECOVERY_ARGS[@]}" "${REDUNDANCY[@]}" -- /bin/train
done
wait_mesh_up 3
ok $? "three helpers with --redundancy=copy and --replace=spare form a mesh"

# 100 ms between updates: a round is dropped when an update overlaps its copy, which a loaded
# machine makes likely at shorter pauses (step 20 must be protected here).
for i in 0 1 2; do
	LCR_SOCKET=$(socket_of $i) "$CKPT_CLIENT" train $i w 1M 1 25 100 >"$WORK/r$i" 2>&1 &
	R[$i]=$!
	LCR_PIDS+=("${R[$i]}")
done
wait "${R[0]}" && wait "${R[1]}" && wait "${R[2]}"
ok $? "ranks 0, 1 and 2 train to step 25, each its own shard"
# The ranks' last step does not wait for the round's acknowledgements.
wait_line "$WORK/h0.log" "step 20 is protected" 10
protected=$?
[ $protected = 0 ] || grep -hE "round|protected" "$WORK"/h[012].log | tail -20 | diag
ok $protected "step 20 is protected"

reap -9 "${MESH_PIDS[2]}"
all_events "REPLACING node 2 .*replacing node h2 (2), every rank resuming after protected step 20, with spare s1" 20 h0 h1
ok $? "the survivors get REPLACING naming the protected step 20"
grep -q "node h2 (2) is recovered from the in-memory copies of protected step 20" "$WORK/h0.log"
ok $? "the leader logs that h2 is recovered from the copies of step 20"
grep -q "1 rank of the step held state that no live replica holds (shards of the lost node): a checkpoint without it would not be complete; writing protected step 20 from the helpers' snapshots" "$WORK/h0.log" &&
	[ "$(ls "$WORK/ckpt" | grep '^step-[0-9]*$')" = step-20 ]
ok $? "the failure's checkpoint, which would lack rank 2's shard, is written from the snapshots of step 20"
for i in 0 1; do
	grep -q "rolled this node's ranks back to protected step 20 from its snapshot" "$WORK/h$i.log" ||
		{ echo "# h$i did not roll back"; false; }
done
ok $? "h0 and h1 rolled their ranks back to step 20"
for i in 0 1; do
	LCR_SOCKET=$(socket_of $i) "$CKPT_CLIENT" resume $i w 1M 20 >"$WORK/s$i" 2>&1
	grep -qx "w holds step 20, committed step 20, resume step 20" "$WORK/s$i" ||
		{ echo "# rank $i: $(cat "$WORK/s$i")"; false; }
done
ok $? "ranks 0 and 1 hold step 20's bytes, committed step 20, and resume after step 20"
all_events "NODE_JOINED node 2 " 20 h0 h1
ok $? "the replacement s1 joins"
grep -qx "LCR_REJOIN_CKPT=$WORK/ckpt/step-20" "$FAKE_LAUNCHER_DIR/s1.launch"
ok $? "the replacement is told the step: LCR_REJOIN_CKPT=\$DIR/step-20"
grep -qx "lcr_options=--lcr-ckpt-dir=$WORK/ckpt --lcr-detect-timeout=$TIMEOUT --lcr-redundancy=copy --lcr-snapshot-every=10 --lcr-replace=spare --lcr-verbose" \
	"$FAKE_LAUNCHER_DIR/s1.launch"
ok $? "the replacement's srun gets the step's settings: $(grep "^lcr_options=" "$FAKE_LAUNCHER_DIR/s1.launch")"
LCR_SOCKET=$(sock s1) "$CKPT_CLIENT" resume 2 w 1M 20 >"$WORK/s2" 2>&1
grep -qx "w holds step 20, committed step 20, resume step 20" "$WORK/s2"
ok $? "rank 2 on the replacement holds step 20's bytes, from the copy: $(cat "$WORK/s2")"
# the replacement's lcrd logs to its launcher's output
grep -q "rank 2: region 'w' restored from the replicas (step 20): 1 MiB in .* (h0: 1048576 bytes, h1: 0 bytes)" \
	"$WORK/lcr-$MESH_JOB.0.replacement-2.out"
ok $? "the replacement took rank 2's region from h0's copy (h1 holds none)"
grep -q "sent 1 MiB of region 'w' (shard 'own2', step 20, offset 0) from rank 2's held copy to s1" "$WORK/h0.log"
ok $? "h0 served it from the copy it holds"
# one step more on every rank: each helper writes where its recovery's time went
for i in 0 1; do
	LCR_SOCKET=$(socket_of $i) "$CKPT_CLIENT" train $i w 1M 21 21 0 >"$WORK/n$i" 2>&1 || echo "# rank $i: $(cat "$WORK/n$i")"
done
LCR_SOCKET=$(sock s1) "$CKPT_CLIENT" train 2 w 1M 21 21 0 >"$WORK/n2" 2>&1 || echo "# rank 2: $(cat "$WORK/n2")"
all_events "RECOVERY_TIMELINE node 2 .*recovery of node h2 (2): spare launched +[0-9.]* s, joined +[0-9.]* s, first step (21) committed here +[0-9.]* s after its NODE_DOWN" 10 h0 h1
ok $? "each survivor's lcrctl events shows its recovery timeline, to the first step committed after it"
wait_events s1 "RECOVERY_TIMELINE node 2 .*this helper replaced node 2: ranks' state filled +[0-9.]* s, first step (21) committed here +[0-9.]* s after it started; 1 MiB in 1 region from 2 peers" 10
ok $? "the replacement's shows its own: state filled (bytes, regions, peers), first step"
grep -q "recovery timeline: recovery of node h2 (2): spare launched" "$WORK/h0.log" &&
	grep -q "recovery timeline: this helper replaced node 2: ranks' state filled" "$WORK/lcr-$MESH_JOB.0.replacement-2.out"
ok $? "... and the same lines are in the helpers' logs"
[ "$(cat "$WORK/h0.log" "$WORK/h1.log" | grep -c "holding the copy of region 'w' of rank 2 at step 20 ")" = 1 ]
ok $? "the replacement takes no round of step 20, which it resumed at: rank 2's copy of step 20 is held once"
{ events_of h0; events_of s1; } | grep RECOVERY_TIMELINE | diag
diag "$(grep -h "recovered from\|rolled this node\|restored from the replicas" "$WORK"/h*.log \
	"$WORK/lcr-$MESH_JOB.0.replacement-2.out")"
reap -TERM "$(cat "$UID_ROOT/$MESH_JOB.0.s1/lcrd.pid")"
for p in "${MESH_PIDS[0]}" "${MESH_PIDS[1]}"; do reap -TERM "$p"; done

# --- no protected step: the old path, saying why ---
MESH_PREFIX=p
use_fake_launcher "p[0-2],t1" 20
echo fail >"$FAKE_LAUNCHER_DIR/t1"
mkdir -p "$WORK/ckpt-p"
start_rendezvous "rdv-$MESH_PREFIX"
for i in 0 1 2; do
	start_mesh_node "$i" 3 --ranks="$i" --detect-timeout="$TIMEOUT" --log-level=verbose \
		"${RECOVERY_ARGS[@]}" --redundancy=copy --snapshot-every=100 "--ckpt-dir=$WORK/ckpt-p" -- /bin/train
done
wait_mesh_up 3
ok $? "three helpers with --snapshot-every=100 form a mesh"
for i in 0 1 2; do
	LCR_SOCKET=$(socket_of $i) "$CKPT_CLIENT" train $i w 1M 1 25 0 >"$WORK/q$i" 2>&1 &
	R[$i]=$!
	LCR_PIDS+=("${R[$i]}")
done
wait "${R[0]}" && wait "${R[1]}" && wait "${R[2]}"
ok $? "ranks 0, 1 and 2 train to step 25: no step is protected"
reap -9 "${MESH_PIDS[2]}"
all_events "REPLACING node 2 .*replacing node p2 (2) with spare t1" 20 p0 p1
ok $? "the survivors get REPLACING"
! events_of p0 | grep -q "resuming after protected step"
ok $? "... which names no protected step"
grep -q "node p2 (2) cannot be recovered from the in-memory copies: no step is protected yet" "$WORK/p0.log"
ok $? "the leader says why the copies cannot recover p2"
! grep -q "rolled this node's ranks back" "$WORK/p0.log" "$WORK/p1.log"
ok $? "no survivor rolls back"
LCR_SOCKET=$(socket_of 0) "$CKPT_CLIENT" resume 0 w 1M 25 >"$WORK/u0" 2>&1
grep -qx "w holds step 25, committed step 25, resume step none" "$WORK/u0"
ok $? "rank 0 keeps step 25, and resumes from no rollback: $(cat "$WORK/u0")"
for p in "${MESH_PIDS[0]}" "${MESH_PIDS[1]}"; do reap -TERM "$p"; done

# start_trained_mesh PREFIX SPARE TO RANKS...: three helpers (node i holds RANKS[i]) with
# --redundancy=copy, their ranks trained to step TO, step 20 protected (two ranks of one
# helper show one step at once only while neither updates, and a loaded machine may tear
# a round: with TO 20 they end there, and step 20 is surely taken).
start_trained_mesh() {
	local prefix=$1 spare=$2 to=$3 i r
	shift 3
	local ranks=("$@")
	MESH_PREFIX=$prefix
	use_fake_launcher "$prefix[0-2],$spare" 20
	mkdir -p "$WORK/ckpt-$prefix"
	start_rendezvous "rdv-$prefix"
	for i in 0 1 2; do
		start_mesh_node "$i" 3 --ranks="${ranks[$i]}" --detect-timeout="$TIMEOUT" --log-level=verbose \
			"${RECOVERY_ARGS[@]}" --redundancy=copy --snapshot-every=10 "--ckpt-dir=$WORK/ckpt-$prefix" -- /bin/train
	done
	wait_mesh_up 3 || return 1
	R=()
	for i in 0 1 2; do
		for r in ${ranks[$i]//,/ }; do
			LCR_SOCKET=$(socket_of $i) "$CKPT_CLIENT" train "$r" w 1M 1 "$to" 100 >"$WORK/$prefix-r$r" 2>&1 &
			R+=("$!")
			LCR_PIDS+=("$!")
		done
	done
	for r in "${R[@]}"; do wait "$r" || return 1; done
	wait_line "$WORK/${prefix}0.log" "step 20 is protected" 10
}

# --- a rank that begins an update during the rollback ---
start_trained_mesh q v1 20 0 1,3 2
ok $? "three helpers (q1 with ranks 1 and 3) train to step 20, step 20 protected"
LCR_SOCKET=$(socket_of 1) "$CKPT_CLIENT" update-until 1 26 "$WORK/end-update" >"$WORK/u1" 2>&1 &
U1=$!
LCR_SOCKET=$(socket_of 1) "$CKPT_CLIENT" begin-in-rollback 3 w 26 >"$WORK/b3" 2>&1 &
B3=$!
LCR_PIDS+=("$U1" "$B3")
wait_line "$WORK/u1" "^rank 1 updating step 26" 10 && wait_line "$WORK/b3" "^rank 3 waits for REPLACING" 10
ok $? "rank 1 (q1) is in the middle of an update of step 26; rank 3 (q1) waits for REPLACING"
reap -9 "${MESH_PIDS[2]}"
wait_line "$WORK/q1.log" "the rollback to step 20 waits for rank 1's update to end (phase updating, step 26)" 30
ok $? "q1's rollback to step 20 waits for rank 1's update"
wait_line "$WORK/b3" "^update_begin of step 26 refused: the helper is rolling the rank's regions back" 10
ok $? "rank 3 may not begin an update meanwhile: $(sed -n 2p "$WORK/b3")"
! grep -q "rolled this node's ranks back" "$WORK/q1.log"
ok $? "q1 has not rolled back while rank 1 updates"
wait_line "$WORK/q1.log" "the ranks are told of the join of generation [0-9]* once this node's rollback is done" 20
ok $? "the spare joins meanwhile: q1 holds the NODE_JOINED back from its ranks"
touch "$WORK/end-update"
wait "$U1" && wait "$B3"
ok $? "rank 1 ends its update; rank 3 then begins one"
grep -qx "update_begin of step 26 after the rollback: the helper rolled this rank's regions back to step 20; call lcr_resume_step and continue after it" "$WORK/b3"
ok $? "rank 3, which did not ask lcr_resume_step, may not go on from its own step 26 on top of step 20 (-ESTALE)"
grep -q "^resume step 20; update_begin of step 21 began after [1-9][0-9]* refusals, committed step 20$" "$WORK/b3"
ok $? "after lcr_resume_step, rank 3's update of step 21 began on the rolled-back step 20: $(tail -1 "$WORK/b3")"
grep -q "rolled this node's ranks back to protected step 20 from its snapshot" "$WORK/q1.log"
ok $? "q1 rolled its ranks back to step 20"
awk '/rolled this node.s ranks back to protected step 20/ { rolled = NR } /telling the ranks of the join of generation [0-9]*: this node.s rollback is done/ { told = NR }
	END { exit !(rolled && told > rolled) }' "$WORK/q1.log"
ok $? "... and only then tells its ranks of the join"
for p in "${MESH_PIDS[0]}" "${MESH_PIDS[1]}"; do reap -TERM "$p"; done
spare_pid=$(cat "$UID_ROOT/$MESH_JOB.0.v1/lcrd.pid" 2>/dev/null) && reap -TERM "$spare_pid"

# --- a rank's update that never ends: the rollback's wait is bounded ---
start_trained_mesh r w1 20 0 1 2
ok $? "three helpers train to step 20 again, step 20 protected"
LCR_SOCKET=$(socket_of 1) "$CKPT_CLIENT" update-until 1 26 "$WORK/never" >"$WORK/r1-hold" 2>&1 &
HOLD=$!
LCR_PIDS+=("$HOLD")
wait_line "$WORK/r1-hold" "^rank 1 updating step 26" 10
ok $? "rank 1 (r1) begins an update of step 26 that never ends"
reap -9 "${MESH_PIDS[2]}"
wait_line "$WORK/r1.log" "cannot roll the ranks back to step 20: it waited 3[0-9]\.[0-9] s for rank 1's update to end (phase updating, step 26); ending this node's ranks" 50
ok $? "r1 gives the rollback up after 30 s, naming the rank's update: $(grep -o "cannot roll the ranks back.*" "$WORK/r1.log")"
for i in $(seq 100); do process_gone "${MESH_PIDS[1]}" && break; sleep 0.1; done
process_gone "${MESH_PIDS[1]}" && grep -q "rolled this node's ranks back to protected step 20" "$WORK/r0.log"
ok $? "r1's helper has ended; r0 rolled back"
reap -TERM "$HOLD"
for p in "${MESH_PIDS[0]}" "${MESH_PIDS[1]}"; do reap -TERM "$p"; done
# The spare the leader launched (the fake srun execs its lcrd) is no child of this script:
# end it too, or it outlives the test.
spare_pid=$(cat "$FAKE_LAUNCHER_DIR/w1.pid" 2>/dev/null) && reap -TERM "$spare_pid"
finish
