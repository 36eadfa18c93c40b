#!/bin/bash
# ckpt_replicas.sh: ranks that register one shard key claim to hold the same bytes, and the
# checkpoint checks the claim: each range is written from one replica and hashed from
# another, and the leader compares the hashes. Two ranks under one key holding different
# bytes, or the same bytes but one flipped byte in one of them, make `lcrctl ckpt now`
# fail, naming the shard, both ranks and the range; no step directory is left, and the
# CHECKPOINT event in `lcrctl events` says the same. Identical replicas are saved as
# before, and a replica set right again is saved at its next step.
. "$(dirname "$0")/lib.sh"
CKPT_CLIENT=$LCR_BUILDDIR/tests/helper/ckpt_client
uid=$(id -u)
make_root "$WORK/root" "$uid"

# No step-S directory, complete or not, under $1 (outcome files are the step's, not a
# checkpoint).
no_step_dirs() { ! ls "$1" 2>/dev/null | grep -q '^step-'; }

CKPT=$WORK/ckpt/50
start_lcrd a --job-id=50 --node-name=n1 --ranks=0-3 --runtime-dir="$WORK/root/$uid" --ckpt-dir="$CKPT"
ok $? "lcrd starts"
"$CKPT_CLIENT" fill 0 w 6M 11 7 >/dev/null && "$CKPT_CLIENT" fill 2 w 6M 12 7 >/dev/null &&
	"$CKPT_CLIENT" fill 1 w 6M 13 7 >/dev/null && "$CKPT_CLIENT" fill 3 w 6M 13 7 >/dev/null
ok $? "ranks 0 and 2 claim shard0 but hold different bytes; ranks 1 and 3 hold shard1 alike"
"$LCRCTL" --socket="$LCR_SOCKET" ckpt now >"$WORK/differ" 2>&1
ok_exit 1 $? "lcrctl ckpt now fails"
diag <"$WORK/differ"
grep -q "checkpoint of step 7 abandoned: replicas differ: shard 'shard0': ranks 0 and 2 hold different bytes in region 'w' at offset 0, length 6291456; neither copy is saved" "$WORK/differ"
ok $? "... naming the shard, the ranks and the range"
no_step_dirs "$CKPT"; ok $? "... and no step-7 directory, complete or not, is left"
"$LCRCTL" --socket="$LCR_SOCKET" events >"$WORK/events" 2>&1
grep "CHECKPOINT" "$WORK/events" | diag
grep -q "CHECKPOINT .*replicas differ: shard 'shard0': ranks 0 and 2 hold different bytes in region 'w' at offset 0, length 6291456" "$WORK/events"
ok $? "... and the CHECKPOINT event says so"
grep -q "replicas differ at step 7: shard 'shard0': ranks 0 and 2 .* (XXH3 [0-9a-f]* from rank [02], [0-9a-f]* from rank [02])" "$WORK/a.log"
ok $? "... as does lcrd's log, with both hashes"
stop_lcrd

CKPT=$WORK/ckpt/51
start_lcrd b --job-id=51 --node-name=n1 --ranks=0,2 --runtime-dir="$WORK/root/$uid" --ckpt-dir="$CKPT"
"$CKPT_CLIENT" fill 0 w 70M 21 7 >/dev/null && "$CKPT_CLIENT" fill 2 w 70M 21 7 >/dev/null &&
	"$CKPT_CLIENT" flip 2 w 70M 70000000 8 >/dev/null && "$CKPT_CLIENT" commit 0 8 >/dev/null
ok $? "ranks 0 and 2 of shard0 hold 70 MiB alike but for byte 70000000 of rank 2, at step 8"
"$LCRCTL" --socket="$LCR_SOCKET" ckpt now >"$WORK/flip" 2>&1
ok_exit 1 $? "lcrctl ckpt now fails"
diag <"$WORK/flip"
grep -q "checkpoint of step 8 abandoned: replicas differ: shard 'shard0': ranks 0 and 2 hold different bytes in region 'w' at offset 67108864, length 6291456; neither copy is saved" "$WORK/flip"
ok $? "... naming the range of 64 MiB that holds the flipped byte"
no_step_dirs "$CKPT"; ok $? "... and no step-8 directory, complete or not, is left"
"$LCRCTL" --socket="$LCR_SOCKET" events | grep -q "CHECKPOINT .*replicas differ: shard 'shard0': ranks 0 and 2 hold different bytes in region 'w' at offset 67108864"
ok $? "... and the CHECKPOINT event says so"
"$CKPT_CLIENT" flip 2 w 70M 70000000 9 >/dev/null && "$CKPT_CLIENT" commit 0 9 >/dev/null
ok $? "rank 2 flips the byte back at step 9"
"$LCRCTL" --socket="$LCR_SOCKET" ckpt now >"$WORK/fixed" 2>&1
ok $? "now lcrctl ckpt now succeeds"
grep -q "checkpoint step 9 path $CKPT/step-9 " "$WORK/fixed"; ok $? "... and saves step 9"
stop_lcrd

CKPT=$WORK/ckpt/52
start_lcrd c --job-id=52 --node-name=n1 --ranks=0-3 --runtime-dir="$WORK/root/$uid" --ckpt-dir="$CKPT"
all=0
for r in 0 1 2 3; do
	"$CKPT_CLIENT" fill $r w 6M $((31 + r % 2)) 5 >/dev/null || all=1
done
"$CKPT_CLIENT" fill 0 big 70M 33 5 >/dev/null && "$CKPT_CLIENT" fill 2 big 70M 33 5 >/dev/null || all=1
ok $all "ranks 0 and 2 hold shard0 alike, ranks 1 and 3 hold shard1 alike"
"$LCRCTL" --socket="$LCR_SOCKET" ckpt now >"$WORK/same" 2>&1
ok $? "lcrctl ckpt now succeeds"
diag <"$WORK/same"
grep -q "checkpoint step 5 path $CKPT/step-5 " "$WORK/same"; ok $? "... and saves step 5"
grep -q "saving step 5 of 4 ranks from 1 writer into $CKPT; 4 of 4 ranges compared with a second replica" "$WORK/c.log"
ok $? "... every range of it compared with the other replica"
"$LCRCTL" --ckpt-dir="$CKPT" ckpt verify 5 >/dev/null; ok $? "... and it verifies"
stop_lcrd

start_lcrd d --job-id=52 --node-name=n1 --ranks=0-3 --runtime-dir="$WORK/root/$uid" --restore=auto --ckpt-dir="$CKPT"
"$CKPT_CLIENT" restore 2 big 70M 33 >/dev/null && "$CKPT_CLIENT" restore 3 w 6M 32 >/dev/null
ok $? "ranks restored from it hold their shard's bytes"
stop_lcrd
finish
