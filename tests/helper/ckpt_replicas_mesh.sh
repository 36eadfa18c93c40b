#!/bin/bash
# ckpt_replicas_mesh.sh: the replicas of a shard on two nodes are compared across them.
# Two helpers form a mesh, rank 0 on h0 and rank 2 on h1, both of shard0 (70 MiB); each
# node writes half of the shard and hashes the other half from its own replica. One byte
# flipped in rank 2's copy makes the mesh checkpoint fail, naming the shard, both ranks and
# the range that holds the byte; nothing is published, and both helpers' CHECKPOINT events
# say so. With the byte set back, the checkpoint is saved with every range compared.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"
CKPT_CLIENT=$LCR_BUILDDIR/tests/helper/ckpt_client
CKPT=$WORK/ckpt

start_munged
start_mesh 2 --ckpt-dir="$CKPT" --ranks=0,2
ok $? "a mesh of two helpers is up"
# rank 0 on h0, rank 2 on h1: each helper serves only the rank that registers with it
LCR_SOCKET=$(socket_of 0) "$CKPT_CLIENT" fill 0 w 70M 41 7 >/dev/null &&
	LCR_SOCKET=$(socket_of 1) "$CKPT_CLIENT" fill 2 w 70M 41 7 >/dev/null &&
	LCR_SOCKET=$(socket_of 1) "$CKPT_CLIENT" flip 2 w 70M 70000000 8 >/dev/null &&
	LCR_SOCKET=$(socket_of 0) "$CKPT_CLIENT" commit 0 8 >/dev/null
ok $? "ranks 0 (h0) and 2 (h1) hold shard0 alike but for byte 70000000 of rank 2, at step 8"
"$LCRCTL" --socket="$(socket_of 1)" ckpt now >"$WORK/flip" 2>&1
ok_exit 1 $? "lcrctl ckpt now, asked of h1, fails"
diag <"$WORK/flip"
grep -q "checkpoint of step 8 abandoned: replicas differ: shard 'shard0': ranks 0 and 2 hold different bytes in region 'w' at offset 33554432, length 39845888; neither copy is saved" "$WORK/flip"
ok $? "... naming the shard, both ranks and h1's half, which holds the byte"
! ls "$CKPT" 2>/dev/null | grep -q '^step-'; ok $? "... and no step-8 directory is left"
all_events "CHECKPOINT .*replicas differ: shard 'shard0': ranks 0 and 2" 5 h0 h1
ok $? "... and the CHECKPOINT event of both helpers says so"
grep -q "saving step 8 of 2 ranks from 2 writers into $CKPT; 2 of 2 ranges compared with a second replica" "$WORK/h0.log"
ok $? "... each of the two ranges was hashed on the other node"

LCR_SOCKET=$(socket_of 1) "$CKPT_CLIENT" flip 2 w 70M 70000000 9 >/dev/null &&
	LCR_SOCKET=$(socket_of 0) "$CKPT_CLIENT" commit 0 9 >/dev/null
ok $? "rank 2 sets the byte back at step 9"
"$LCRCTL" --socket="$(socket_of 0)" ckpt now >"$WORK/fixed" 2>&1
ok $? "lcrctl ckpt now succeeds"
diag <"$WORK/fixed"
[ -f "$CKPT/step-9/manifest.yaml" ] && "$LCRCTL" --ckpt-dir="$CKPT" ckpt verify 9 >/dev/null
ok $? "... and step 9 is saved, and verifies"
finish
