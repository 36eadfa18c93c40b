#!/bin/bash
# snapshot_ckpt.sh: the failure's checkpoint written from the snapshots (redundancy "copy",
# doc/checkpoint.md "A lost shard without a replica"). Three foreground helpers with
# --redundancy=copy --snapshot-every=10 and no spare (--replace=none), one rank each with
# its own shard (no replica), train to step 25 (step 20 protected). h2 is killed:
#   - the failure's checkpoint, which would lack rank 2's shard, is written instead from
#     the survivors' own snapshots of step 20 and from the copy of rank 2 that h0 holds;
#   - DIR/step-20 is published complete (3 ranks), and every range's hash in its manifest
#     is the XXH3 each rank printed for its region at step 20 (rank 2's included);
#   - a new lcrd with --restore=auto restores it: every rank's region holds step 20's bytes
#     and the ranks resume after step 20.
# Without a protected step (--snapshot-every=100), the checkpoint is abandoned, saying why.
# A survivor torn by the failure (rank 1 gave its update of step 26 up: lcr_update_abandon)
# leaves no step committed on its shard: the checkpoint is written from the snapshots of
# step 20 too, rank 1's range holding its bytes of step 20, not the torn ones.
# With a complete checkpoint newer than the protected step (step-22), the failure's
# checkpoint names it, and step 20 is not written (--ckpt-keep=1 would prune it at once).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"
MESH_JOB=4345
MESH_PREFIX=j
TIMEOUT=1
CKPT_CLIENT=$LCR_BUILDDIR/tests/helper/ckpt_client
CKPT=$WORK/ckpt

# three_helpers PREFIX CKPT_DIR [OPTION...]: three foreground helpers of mesh PREFIX, one
# rank each, --redundancy=copy, no spare, checkpoints in CKPT_DIR; true once they are a mesh.
three_helpers() {
	local i
	MESH_PREFIX=$1
	mkdir -p "$2"
	start_rendezvous "rdv-$MESH_PREFIX"
	for i in 0 1 2; do
		start_mesh_node "$i" 3 --ranks="$i" --detect-timeout="$TIMEOUT" --log-level=verbose \
			--replace=none --redundancy=copy "--ckpt-dir=$2" "${@:3}" -- /bin/train
	done
	wait_mesh_up 3
}

# published DIR: true once DIR/manifest.yaml exists, waiting up to 10 s.
published() {
	local i
	for i in $(seq 100); do
		[ -f "$1/manifest.yaml" ] && return 0
		sleep 0.1
	done
	return 1
}

# train_three OUT MS: ranks 0, 1 and 2 (each its own shard) train to step 25, MS ms apart,
# each printing into $WORK/OUT<rank>; true when all three did.
train_three() {
	local i
	for i in 0 1 2; do
		LCR_SOCKET=$(socket_of $i) "$CKPT_CLIENT" train $i w 1M 1 25 "$2" >"$WORK/$1$i" 2>&1 &
		R[$i]=$!
		LCR_PIDS+=("${R[$i]}")
	done
	wait "${R[0]}" && wait "${R[1]}" && wait "${R[2]}"
}

start_munged
make_root "$WORK/root" "$(id -u)"
three_helpers j "$CKPT" --snapshot-every=10
ok $? "three helpers with --redundancy=copy and --replace=none form a mesh"

# 100 ms between updates, as in snapshot_recover.sh: step 20 must be protected.
train_three r 100
ok $? "ranks 0, 1 and 2 train to step 25, each its own shard"
grep -q "step 20 is protected" "$WORK/j0.log"
ok $? "step 20 is protected"

reap -9 "${MESH_PIDS[2]}"
published "$CKPT/step-20" && [ ! -e "$CKPT/step-20.tmp" ]
ok $? "the failure's checkpoint publishes step-20 complete"
diag "$(grep -h "checkpoint" "$WORK/j0.log" | tail -5)"
grep -q "1 rank of the step held state that no live replica holds (shards of the lost node): a checkpoint without it would not be complete; writing protected step 20 from the helpers' snapshots and the lost node's copies instead" "$WORK/j0.log"
ok $? "the leader says why it writes step 20 from the snapshots"
grep -q "node 2's copies of protected step 20 are held by live node 0 (as its round reported)" "$WORK/j0.log"
ok $? "the leader finds h2's copies on the partner h2's round reported (SNAPSHOT_DONE)"
grep -q "saving step 20 of 3 ranks from 2 writers into $CKPT from the snapshots" "$WORK/j0.log"
ok $? "... 3 ranks, from the two survivors' snapshots"
grep -q "^ranks: 3$" "$CKPT/step-20/manifest.yaml" && grep -q "^step: 20$" "$CKPT/step-20/manifest.yaml"
ok $? "the manifest names step 20 and 3 ranks"
for i in 0 1 2; do
	h=$(sed -n 's/^step 20 xxh3 //p' "$WORK/r$i")
	[ -n "$h" ] && grep -A9 "key: \"own$i\"\$" "$CKPT/step-20/manifest.yaml" | grep -q "xxh3: \"$h\"" ||
		{ echo "# rank $i: step 20 xxh3 '$h' not in the manifest"; false; }
done
ok $? "each rank's range holds the bytes it had at step 20 (the XXH3 it printed then)"
grep -A9 'key: "own2"$' "$CKPT/step-20/manifest.yaml" | grep -q 'writer: "j0"}'
ok $? "rank 2's range is written by j0, from the copy it holds"
grep -q "writing my part of the checkpoint of step 20 from the snapshots" "$WORK/j0.log" &&
	grep -q "writing my part of the checkpoint of step 20 from the snapshots" "$WORK/j1.log"
ok $? "h0 and h1 write their parts from the snapshots"
"$LCRCTL" --ckpt-dir="$CKPT" ckpt verify 20 >"$WORK/verify" 2>&1
ok $? "lcrctl ckpt verify 20: $(tail -1 "$WORK/verify")"
for p in "${MESH_PIDS[0]}" "${MESH_PIDS[1]}"; do reap -TERM "$p"; done

# --- the next job restores it ---
start_lcrd n --job-id="$MESH_JOB" --node-name=n1 --ranks=0-2 --runtime-dir="$WORK/root/$(id -u)" \
	--ckpt-dir="$CKPT" --restore=auto
ok $? "a new lcrd starts with --restore=auto"
grep -q "restoring from $CKPT/step-20: step 20 of job $MESH_JOB, 3 ranks in 3 shards" "$WORK/n.log"
ok $? "... and restores step-20"
for i in 0 1 2; do
	"$CKPT_CLIENT" resume $i w 1M 20 >"$WORK/s$i" 2>&1
	grep -qx "w holds step 20, committed step 20, resume step 20" "$WORK/s$i" ||
		{ echo "# rank $i: $(cat "$WORK/s$i")"; false; }
done
ok $? "ranks 0, 1 and 2 get step 20's bytes back (rank 2's too) and resume after step 20"
stop_lcrd

# --- no protected step: abandoned, saying why ---
three_helpers k "$WORK/ckpt-k" --snapshot-every=100
ok $? "three helpers with --snapshot-every=100 form a mesh"
train_three q 0
ok $? "ranks 0, 1 and 2 train to step 25: no step is protected"
reap -9 "${MESH_PIDS[2]}"
wait_for "$WORK/k0.log" "checkpoint (.*) failed"
grep -q "a checkpoint without it would not be complete; nor can it be written from the in-memory snapshots: no step is protected yet" "$WORK/k0.log"
ok $? "the failure's checkpoint is abandoned, saying why the snapshots cannot write it"
! ls "$WORK/ckpt-k" | grep -q '^step-'
ok $? "nothing is published"
for p in "${MESH_PIDS[0]}" "${MESH_PIDS[1]}"; do reap -TERM "$p"; done

# --- a survivor gave its update up: no live step on its shard, the snapshots are written ---
three_helpers a "$WORK/ckpt-a" --snapshot-every=10
ok $? "three helpers form a mesh again"
train_three u 100 && grep -q "step 20 is protected" "$WORK/a0.log"
ok $? "ranks 0, 1 and 2 train to step 25, step 20 protected"
LCR_SOCKET=$(socket_of 1) "$CKPT_CLIENT" abandon 1 w 26 >"$WORK/u1-abandon" 2>&1 &
LCR_PIDS+=($!)
wait_for "$WORK/u1-abandon" "rank 1 gave the update of step 26 up"
"$LCRCTL" --socket="$(socket_of 1)" regions >"$WORK/u1-regions" 2>&1
grep -q "abandoned" "$WORK/u1-regions"
ok $? "rank 1 gave its update of step 26 up: lcrctl regions shows it abandoned"
reap -9 "${MESH_PIDS[2]}"
published "$WORK/ckpt-a/step-20"
ok $? "the failure's checkpoint publishes step-20 from the snapshots"
diag "$(grep -h "checkpoint (" "$WORK/a0.log" | tail -3)"
grep -q "rank 1 not committed (last committed step 25).*writing protected step 20 from the helpers' snapshots" "$WORK/a0.log"
ok $? "the leader says rank 1 holds no committed step, and writes step 20 from the snapshots"
h=$(sed -n 's/^step 20 xxh3 //p' "$WORK/u1")
[ -n "$h" ] && grep -A9 'key: "own1"$' "$WORK/ckpt-a/step-20/manifest.yaml" | grep -q "xxh3: \"$h\""
ok $? "rank 1's range holds its bytes of step 20, not the torn ones"
for p in "${MESH_PIDS[0]}" "${MESH_PIDS[1]}"; do reap -TERM "$p"; done

# --- a complete checkpoint after the protected step is saved already: P is not written ---
# step-22 is step-20 published above, renamed (a periodic checkpoint newer than step 20).
mkdir -p "$WORK/ckpt-q"
cp -r "$CKPT/step-20" "$WORK/ckpt-q/step-22"
sed -i 's/^step: 20$/step: 22/' "$WORK/ckpt-q/step-22/manifest.yaml"
three_helpers q "$WORK/ckpt-q" --snapshot-every=10 --ckpt-keep=1
ok $? "three helpers whose checkpoint directory holds a complete step-22 form a mesh"
train_three t 100 && grep -q "step 20 is protected" "$WORK/q0.log"
ok $? "ranks 0, 1 and 2 train to step 25, step 20 protected"
reap -9 "${MESH_PIDS[2]}"
wait_for "$WORK/q0.log" "checkpoint (.*): step 22, at or after protected step 20, is saved already in $WORK/ckpt-q/step-22"
grep -q "the snapshots of protected step 20 are not written: complete checkpoint $WORK/ckpt-q/step-22 (step 22) is not older" "$WORK/q0.log"
ok $? "the failure's checkpoint names step-22 instead of writing step 20 from the snapshots"
[ "$(ls "$WORK/ckpt-q" | grep '^step-')" = step-22 ]
ok $? "step-22 alone is in the directory: step 20 was neither written nor pruned"
for p in "${MESH_PIDS[0]}" "${MESH_PIDS[1]}"; do reap -TERM "$p"; done
finish
