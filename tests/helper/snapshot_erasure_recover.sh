#!/bin/bash
# snapshot_erasure_recover.sh: recovery from the erasure-coded parity (redundancy "erasure",
# doc/redundancy.md, "Recovery from the parity"). Four foreground helpers with
# --redundancy=erasure in one group of 4 with 1 parity, --snapshot-every=10 --replace=spare,
# one rank each with its own shard (no replica) and regions of different sizes (3 MiB,
# 2 MiB, 3 MiB, 1000000 bytes), train to step 20, wait for it to be protected, and go on to
# step 25; the job's spare s1
# runs the fake srun (fake_launcher.sh). h2 is killed:
#   - the survivors send the leader h0 their blocks of h2's stripes (their data chunks cut
#     from their snapshots of step 20, their parity blocks) and the first one h2's layout;
#     h0 decodes h2's chunks, checks each region against h2's XXH3 and holds them as h2's
#     copies of step 20;
#   - the failure's checkpoint, which would lack rank 2's shard, waits for the rebuild and
#     is written from the snapshots of step 20, rank 2's from h0's rebuilt copy;
#   - REPLACING names protected step 20; the survivors roll their ranks back to it: their
#     regions hold step 20's bytes, lcr_resume_step says 20;
#   - the replacement on s1 fills rank 2's region from h0's rebuilt copy: it holds step
#     20's bytes, resume step 20;
#   - h3 killed then (no newer step protected): not rebuilt from step 20's rebuild, which
#     was gathered without its loss; the leader says so.
# The leader outside the lost node's group: four helpers in groups of 2 with 1 parity
# ({g0, g1} and {g2, g3}), g2 killed: g3 alone holds its parity and sends it, and g2's
# layout, to the leader g0, which rebuilds g2's snapshot and serves the replacement.
# Two helpers of the group of 4 (1 parity) killed at once (q2, q3): the leader says the
# parity rebuilds at most one lost node of the group, REPLACING names no step, no survivor
# rolls back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"
MESH_JOB=4345
MESH_PREFIX=h
TIMEOUT=1
CKPT_CLIENT=$LCR_BUILDDIR/tests/helper/ckpt_client
SIZES=(3M 2M 3M 1000000)
REDUNDANCY=(--redundancy=erasure --redundancy-group-size=4 --redundancy-parity=1
	--snapshot-every=10 "--ckpt-dir=$WORK/ckpt")
start_munged
mkdir -p "$WORK/ckpt"
use_fake_launcher "h[0-3],s1" 20
FAKE_LAUNCHER_LCRD_ARGS="$FAKE_LAUNCHER_LCRD_ARGS ${REDUNDANCY[*]}"

make_root "$WORK/root" "$(id -u)"
start_rendezvous "rdv-$MESH_PREFIX"
for i in 0 1 2 3; do
	start_mesh_node "$i" 4 --ranks="$i" --detect-timeout="$TIMEOUT" --log-level=verbose \
		"${RECOVERY_ARGS[@]}" "${REDUNDANCY[@]}" -- /bin/train
done
wait_mesh_up 4
ok $? "four helpers with --redundancy=erasure (a group of 4, 1 parity) and --replace=spare form a mesh"

# train_all PREFIX FIRST LAST PAUSE_MS: every rank trains on its helper, in parallel.
train_all() {
	local i
	for i in 0 1 2 3; do
		LCR_SOCKET=$(socket_of $i) "$CKPT_CLIENT" train $i w "${SIZES[$i]}" "$2" "$3" "$4" \
			>"$WORK/$1$i" 2>&1 &
		R[$i]=$!
		LCR_PIDS+=("${R[$i]}")
	done
	wait "${R[0]}" && wait "${R[1]}" && wait "${R[2]}" && wait "${R[3]}"
}
# wait_log LOG PATTERN SECONDS: until LOG has a line matching PATTERN.
wait_log() {
	local i
	for i in $(seq $(($3 * 10))); do
		grep -q "$2" "$1" && return 0
		sleep 0.1
	done
	return 1
}

# The ranks pause at step 20 until it is protected (no update tears its round), then go on
# to step 25 (no round of a later step is taken).
train_all r 1 20 0
ok $? "ranks 0 to 3 (${SIZES[*]} bytes) train to step 20, each its own shard"
wait_log "$WORK/h0.log" "step 20 is protected: every node's snapshot .* is in the parity of its group" 20
ok $? "step 20 is protected"
train_all r 21 25 0
ok $? "... and go on to step 25"

reap -9 "${MESH_PIDS[2]}"
all_events "REPLACING node 2 .*replacing node h2 (2), every rank resuming after protected step 20, with spare s1" 20 h0 h1 h3
ok $? "the survivors get REPLACING naming the protected step 20"
grep -q "rebuilt the snapshot of node 2 at step 20 from the parity of erasure group 0 (3 MiB in .* s, every region checked against its XXH3): held as its copies" "$WORK/h0.log"
ok $? "the leader rebuilt h2's snapshot of step 20 from the parity, each region checked"
grep -q "node h2 (2) is recovered from the in-memory copies of protected step 20" "$WORK/h0.log"
ok $? "the leader recovers h2 at step 20"
grep -q "1 rank of the step held state that no live replica holds (shards of the lost node): a checkpoint without it would not be complete; waiting for the lost node's snapshot to be rebuilt from the parity" "$WORK/h0.log" &&
	grep -q "writing protected step 20 from the helpers' snapshots and the lost node's copies instead" "$WORK/h0.log" &&
	[ "$(ls "$WORK/ckpt" | grep '^step-[0-9]*$')" = step-20 ]
ok $? "the failure's checkpoint, which would lack rank 2's shard, waits for the rebuild and is written from the snapshots of step 20"
for i in 0 1 3; do
	grep -q "rolled this node's ranks back to protected step 20 from its snapshot" "$WORK/h$i.log" ||
		{ echo "# h$i did not roll back"; false; }
done
ok $? "h0, h1 and h3 rolled their ranks back to step 20"
for i in 0 1 3; do
	LCR_SOCKET=$(socket_of $i) "$CKPT_CLIENT" resume $i w "${SIZES[$i]}" 20 >"$WORK/s$i" 2>&1
	grep -qx "w holds step 20, committed step 20, resume step 20" "$WORK/s$i" ||
		{ echo "# rank $i: $(cat "$WORK/s$i")"; false; }
done
ok $? "ranks 0, 1 and 3 hold step 20's bytes, committed step 20, and resume after step 20"
all_events "NODE_JOINED node 2 " 30 h0 h1 h3
ok $? "the replacement s1 joins"
LCR_SOCKET=$(sock s1) "$CKPT_CLIENT" resume 2 w 3M 20 >"$WORK/s2" 2>&1
grep -qx "w holds step 20, committed step 20, resume step 20" "$WORK/s2"
ok $? "rank 2 on the replacement holds step 20's bytes, decoded from the parity: $(cat "$WORK/s2")"
grep -q "rank 2: region 'w' restored from the replicas (step 20): 3 MiB in .* (h0: 3145728 bytes" \
	"$WORK/lcr-$MESH_JOB.0.replacement-2.out"
ok $? "the replacement took rank 2's region from h0, which rebuilt it"
# A second loss in the group once the rebuild of step 20 ended (before a newer step is
# protected): the rebuild was gathered without h3's loss, so h3 is not recovered from it,
# and the leader says so instead of naming step 20 for copies it does not hold.
reap -9 "${MESH_PIDS[3]}"
wait_log "$WORK/h0.log" "node h3 (3) cannot be recovered from the in-memory copies" 30
grep -q "node h3 (3) cannot be recovered from the in-memory copies: node 3 of the group was lost after the rebuild at this step ended; it is not rebuilt from it" "$WORK/h0.log"
ok $? "h3 lost after the rebuild of step 20 ended: the leader says it is not rebuilt from it"
grep -h "rebuil\|recovered from\|rolled this node\|restored from the replicas" "$WORK"/h*.log \
	"$WORK/lcr-$MESH_JOB.0.replacement-2.out" | diag
reap -TERM "$(cat "$UID_ROOT/$MESH_JOB.0.s1/lcrd.pid")"
for p in "${MESH_PIDS[0]}" "${MESH_PIDS[1]}"; do reap -TERM "$p"; done

# --- the leader is not in the lost node's group ---
MESH_PREFIX=g
use_fake_launcher "g[0-3],u1" 20
FAKE_LAUNCHER_LCRD_ARGS="$FAKE_LAUNCHER_LCRD_ARGS --redundancy=erasure --redundancy-group-size=2 --snapshot-every=10 --ckpt-dir=$WORK/ckpt-g"
mkdir -p "$WORK/ckpt-g"
start_rendezvous "rdv-$MESH_PREFIX"
for i in 0 1 2 3; do
	start_mesh_node "$i" 4 --ranks="$i" --detect-timeout="$TIMEOUT" --log-level=verbose \
		"${RECOVERY_ARGS[@]}" --redundancy=erasure --redundancy-group-size=2 --snapshot-every=10 \
		"--ckpt-dir=$WORK/ckpt-g" -- /bin/train
done
wait_mesh_up 4
ok $? "four helpers in groups of 2 with 1 parity form a mesh"
train_all g 1 20 0 && wait_log "$WORK/g0.log" "step 20 is protected" 20 && train_all g 21 25 0
ok $? "ranks 0 to 3 train to step 25, step 20 protected"
reap -9 "${MESH_PIDS[2]}"
all_events "REPLACING node 2 .*every rank resuming after protected step 20, with spare u1" 20 g0 g1 g3
ok $? "the survivors get REPLACING naming the protected step 20"
grep -q "rebuilt the snapshot of node 2 at step 20 from the parity of erasure group 1 (3 MiB in .* s, every region checked against its XXH3)" "$WORK/g0.log" &&
	grep -q "sent the leader 2 blocks for the rebuild at step 20" "$WORK/g3.log" &&
	! grep -q "for the rebuild" "$WORK/g1.log"
ok $? "the leader g0 rebuilt g2's snapshot from what g3, the other member of its group, sent (its parity block and g2's layout)"
all_events "NODE_JOINED node 2 " 20 g0 g1 g3
LCR_SOCKET=$(sock u1) "$CKPT_CLIENT" resume 2 w 3M 20 >"$WORK/g-s2" 2>&1
grep -qx "w holds step 20, committed step 20, resume step 20" "$WORK/g-s2"
ok $? "rank 2 on the replacement holds step 20's bytes: $(cat "$WORK/g-s2")"
grep -h "rebuil" "$WORK"/g[013].log | diag
reap -TERM "$(cat "$UID_ROOT/$MESH_JOB.0.u1/lcrd.pid")"
for p in "${MESH_PIDS[0]}" "${MESH_PIDS[1]}" "${MESH_PIDS[3]}"; do reap -TERM "$p"; done

# --- two lost in one group of 1 parity: nothing to rebuild from, said so ---
MESH_PREFIX=q
use_fake_launcher "q[0-3],t1" 20
echo fail >"$FAKE_LAUNCHER_DIR/t1"
mkdir -p "$WORK/ckpt-q"
start_rendezvous "rdv-$MESH_PREFIX"
for i in 0 1 2 3; do
	start_mesh_node "$i" 4 --ranks="$i" --detect-timeout="$TIMEOUT" --log-level=verbose \
		"${RECOVERY_ARGS[@]}" --redundancy=erasure --redundancy-group-size=4 --snapshot-every=10 \
		"--ckpt-dir=$WORK/ckpt-q" -- /bin/train
done
wait_mesh_up 4
ok $? "four helpers in a group of 4 with 1 parity form a mesh"
train_all q 1 20 0 && wait_log "$WORK/q0.log" "step 20 is protected" 20 && train_all q 21 25 0
ok $? "ranks 0 to 3 train to step 25, step 20 protected"
kill -9 "${MESH_PIDS[2]}" "${MESH_PIDS[3]}"
wait "${MESH_PIDS[2]}" "${MESH_PIDS[3]}" 2>/dev/null
wait_log "$WORK/q0.log" "cannot be recovered from the in-memory copies" 30
grep -q "node q[23] ([23]) cannot be recovered from the in-memory copies: nodes 2, 3 of the group are lost, and its parity (1 block per stripe) rebuilds at most 1" "$WORK/q0.log"
ok $? "the leader says why: two nodes of the group are lost, its parity rebuilds one"
! events_of q0 | grep -q "resuming after protected step"
ok $? "no REPLACING names a protected step"
! grep -q "rolled this node's ranks back" "$WORK/q0.log" "$WORK/q1.log"
ok $? "no survivor rolls back"
LCR_SOCKET=$(socket_of 0) "$CKPT_CLIENT" resume 0 w 3M 25 >"$WORK/u0" 2>&1
grep -qx "w holds step 25, committed step 25, resume step none" "$WORK/u0"
ok $? "rank 0 keeps step 25's bytes: $(cat "$WORK/u0")"
grep -h "rebuil\|cannot be recovered" "$WORK"/q0.log | diag
for p in "${MESH_PIDS[0]}" "${MESH_PIDS[1]}"; do reap -TERM "$p"; done
finish
