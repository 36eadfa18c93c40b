#!/bin/bash
# ckpt_consistency.sh: a replica caught in the middle of an update is never written. With
# rank 0 tearing its state in an update of step 8 and its replica, rank 2, still at step
# 7, the checkpoint saves step 7 from rank 2: a new rank 0 restored from it gets the
# committed bytes, not the torn ones. When every replica of a shard is in an update, an
# asked-for checkpoint waits for the next commit; when none comes within 5 s, no step can
# be saved: the checkpoint is refused, naming the shard and what each replica is doing, and
# the earlier checkpoint stays as it was. When the update ends within the wait, its step is
# saved. A rank that commits a step while its state is being copied makes the copy stale:
# it is thrown away and the newer step saved.
. "$(dirname "$0")/lib.sh"
CKPT_CLIENT=$LCR_BUILDDIR/tests/helper/ckpt_client
uid=$(id -u)
make_root "$WORK/root" "$uid"
CKPT=$WORK/ckpt/40
ARGS=(--job-id=40 --node-name=n1 --ranks=0-3 --runtime-dir="$WORK/root/$uid" --ckpt-dir="$CKPT")

start_lcrd a "${ARGS[@]}"
ok $? "lcrd starts"
all=0
for r in 0 1 2 3; do
	"$CKPT_CLIENT" fill $r w 6M $((11 + r % 2)) 7 >/dev/null || all=1
done
ok $all "four ranks commit step 7"

"$CKPT_CLIENT" tear 0 w 8 >"$WORK/t0" &
LCR_PIDS+=($!)
wait_for "$WORK/t0" holding; ok $? "rank 0 begins step 8 and scribbles over its state"
"$CKPT_CLIENT" commit 1 8 >/dev/null; ok $? "rank 1 commits step 8, its replica rank 3 stays at 7"
"$LCRCTL" --socket="$LCR_SOCKET" regions | diag

"$LCRCTL" --socket="$LCR_SOCKET" ckpt now >"$WORK/now" 2>&1
ok $? "lcrctl ckpt now succeeds"
grep -q "checkpoint step 7 path $CKPT/step-7 " "$WORK/now"
ok $? "... and saves step 7, the newest step committed on a replica of each shard"
"$LCRCTL" --ckpt-dir="$CKPT" ckpt verify 7 >/dev/null; ok $? "... which verifies"

"$CKPT_CLIENT" tear 2 w 8 >"$WORK/t2" &
LCR_PIDS+=($!)
wait_for "$WORK/t2" holding; ok $? "rank 2, the other replica of shard0, begins step 8 too"
"$LCRCTL" --socket="$LCR_SOCKET" ckpt now >"$WORK/none" 2>&1
ok_exit 1 $? "now no step can be saved"
diag <"$WORK/none"
grep -q "no checkpoint taken: shard 'shard0' has no replica whose state is committed: rank 0 updating (last committed step 7), rank 2 updating (last committed step 7) (no new step committed within 5 s)" "$WORK/none"
ok $? "... after waiting 5 s for a commit, and the error names the shard and what each replica is doing"
# (outcome.40.0 is the step's outcome, written as ranks exit, not a checkpoint)
ls "$CKPT" | grep -v '^outcome\.' >"$WORK/ls"
[ "$(cat "$WORK/ls")" = "step-7" ]; ok $? "... nothing is left behind, step-7 stays"
stop_lcrd

start_lcrd b --job-id=40 --node-name=n1 --ranks=0-3 --runtime-dir="$WORK/root/$uid" --restore=auto --ckpt-dir="$CKPT"
"$CKPT_CLIENT" restore 0 w 6M 11 >"$WORK/r0"
ok $? "rank 0 restored from step 7 holds the committed bytes, not the torn ones"
grep -q "resume step 7" "$WORK/r0"; ok $? "... and resumes from step 7"
"$CKPT_CLIENT" restore 3 w 6M 12 >/dev/null; ok $? "rank 3 gets shard1's step 7 too"
stop_lcrd

CKPT=$WORK/ckpt/42
start_lcrd d --job-id=42 --node-name=n1 --ranks=0,1 --runtime-dir="$WORK/root/$uid" --ckpt-dir="$CKPT"
"$CKPT_CLIENT" fill 0 w 1M 21 5 >/dev/null && "$CKPT_CLIENT" fill 1 w 1M 22 5 >/dev/null &&
	"$CKPT_CLIENT" commit 1 6 >/dev/null
ok $? "rank 0 commits step 5, rank 1 step 6"
"$CKPT_CLIENT" update-for 0 6 1500 >"$WORK/u0" &
updater=$!
wait_for "$WORK/u0" "updating step 6"; ok $? "rank 0 begins step 6, which takes it 1.5 s"
"$LCRCTL" --socket="$LCR_SOCKET" ckpt now >"$WORK/next" 2>&1
ok $? "lcrctl ckpt now, with shard0's only replica in an update, succeeds"
wait "$updater"
diag <"$WORK/next"
grep -q "checkpoint step 6 path $CKPT/step-6 " "$WORK/next" && grep -q "committed step 6" "$WORK/u0"
ok $? "... and saves step 6, the next step committed on every shard, once rank 0 commits it"
grep -q "shard 'shard0' has no replica whose state is committed: rank 0 updating (last committed step 5); waiting for the next commit" "$WORK/d.log"
ok $? "... which lcrd logs as a wait"
"$LCRCTL" --ckpt-dir="$CKPT" ckpt verify 6 >/dev/null; ok $? "... and step 6 verifies"
stop_lcrd

CKPT=$WORK/ckpt/41
start_lcrd c --job-id=41 --node-name=n1 --ranks=0,1 --runtime-dir="$WORK/root/$uid" --ckpt-dir="$CKPT"
"$CKPT_CLIENT" fill 0 big 1G 31 3 >/dev/null && "$CKPT_CLIENT" fill 1 w 1M 32 3 >/dev/null
ok $? "rank 0 holds 1 GiB and both ranks commit step 3"
"$CKPT_CLIENT" commit-when 0 4 "$CKPT/step-3.tmp/s0-big" >"$WORK/bump" &
bumper=$!
"$CKPT_CLIENT" commit-when 1 4 "$CKPT/step-3.tmp/s0-big" >/dev/null &
"$LCRCTL" --socket="$LCR_SOCKET" ckpt now >"$WORK/stale" 2>&1
ok $? "a checkpoint during which both ranks commit step 4 succeeds"
wait "$bumper"
diag <"$WORK/bump"
grep -q "checkpoint of step 3: rank 0 began an update while its state of step 3 was being saved; trying again" "$WORK/c.log"
ok $? "... the copy of step 3 is found stale and thrown away"
grep -q "checkpoint step 4 path $CKPT/step-4 " "$WORK/stale" && [ ! -e "$CKPT/step-3" ] &&
	[ ! -e "$CKPT/step-3.tmp" ]
ok $? "... and step 4 is saved instead"
stop_lcrd
finish
