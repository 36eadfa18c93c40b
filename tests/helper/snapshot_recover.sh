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
# Without a protected step (--snapshot-every=100, 25 steps), the old path: the leader says
# why, REPLACING names no step, nothing is rolled back, lcr_resume_step says none.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"
MESH_JOB=4344
MESH_PREFIX=h
TIMEOUT=1
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
grep -q "step 20 is protected" "$WORK/h0.log"
ok $? "step 20 is protected"

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
finish
