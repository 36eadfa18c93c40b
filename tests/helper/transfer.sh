#!/bin/bash
# transfer.sh: state transfer from the replicas' memory (helper/transfer*.c). Three helpers
# form a mesh; each serves two ranks (shard0: ranks 0, 2, 4; shard1: ranks 1, 3, 5) that
# write their patterns and commit step 7, and a mesh checkpoint saves step 7. xfer_client,
# playing the replacement of node h0, then fetches ranges from h1 and h2: the bytes are the
# replicas' (hash); a wrong step, an unknown shard or region, a range past the end, a torn
# replica (phase updating) and bad credentials are refused with their reasons; a whole region
# comes from two peers in parallel, each serving a part; a replica whose bytes do not match
# the checkpoint's hash is replaced by another peer, or by the checkpoint file when no peer
# is left.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"
CKPT_CLIENT=$LCR_BUILDDIR/tests/helper/ckpt_client
XFER=$LCR_BUILDDIR/tests/helper/xfer_client
CKPT=$WORK/ckpt
SIZE=25165824 # model.weights: 24 MiB

start_munged
make_root "$WORK/root" "$(id -u)"
start_rendezvous rdv
for i in 0 1 2; do
	start_mesh_node "$i" 3 --ranks=$((2 * i)),$((2 * i + 1)) --ckpt-dir="$CKPT" --log-level=verbose
done
for i in $(seq 600); do
	[ "$(grep -l "the mesh of 3 helpers is up" "$WORK"/h[0-2].log 2>/dev/null | wc -l)" -eq 3 ] && break
	sleep 0.1
done
[ "$(grep -l "the mesh of 3 helpers is up" "$WORK"/h[0-2].log | wc -l)" -eq 3 ]
ok $? "a mesh of three helpers is up"

# port_of NODE: its mesh listener's port, from its log.
port_of() { sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/h$1.log" | head -1; }
P1=$(port_of 1)
P2=$(port_of 2)
AUTH=(--job="$MESH_JOB" --step=0 --munge-socket="$MUNGE_SOCKET")
xfer() { "$XFER" "${AUTH[@]}" --self=0 "$@"; }

fill_ok=0
for r in 0 1 2 3 4 5; do
	LCR_SOCKET=$(socket_of $((r / 2))) "$CKPT_CLIENT" fill $r model.weights 24M $((11 + r % 2)) 7 >/dev/null &&
		LCR_SOCKET=$(socket_of $((r / 2))) "$CKPT_CLIENT" fill $r optim.exp_avg 5000003 $((21 + r % 2)) 7 >/dev/null ||
		fill_ok=1
done
ok $fill_ok "six ranks write their state and commit step 7"
"$LCRCTL" --socket="$(socket_of 0)" ckpt now >"$WORK/now" 2>&1
ok $? "a mesh checkpoint saves step 7"
diag <"$WORK/now"
[ -f "$CKPT/step-7/manifest.yaml" ]; ok $? "... into $CKPT/step-7"

# --- one range ---
xfer --peer=1@127.0.0.1:"$P1" get shard0 model.weights 7 0 $SIZE >"$WORK/g1"
ok $? "h1 serves the whole of shard0's model.weights at step 7"
diag <"$WORK/g1"
grep -q "^got $SIZE bytes xxh3 [0-9a-f]* from rank 2$" "$WORK/g1"; ok $? "... from its rank 2"
xfer --peer=2@127.0.0.1:"$P2" get shard0 model.weights 7 0 $SIZE >"$WORK/g2"
[ "$(awk '{print $5}' "$WORK/g1")" = "$(awk '{print $5}' "$WORK/g2")" ]
ok $? "h2's replica gives the same hash"
xfer --peer=1@127.0.0.1:"$P1" get shard1 optim.exp_avg 7 4096 1000000 >"$WORK/g3"
grep -q "^got 1000000 bytes xxh3 [0-9a-f]* from rank 3$" "$WORK/g3"; ok $? "a part of a region, at an offset"

# --- refusals ---
xfer --peer=1@127.0.0.1:"$P1" get shard0 model.weights 8 0 4096 >"$WORK/r1"
ok_exit 1 $? "a step the replicas have not committed is refused"
grep -q "^refused: rank 2 of shard 'shard0' on h1 holds committed step 7 (phase committed), not step 8$" "$WORK/r1"
ok $? "... saying which step they hold"
xfer --peer=1@127.0.0.1:"$P1" get shard9 model.weights 7 0 4096 >"$WORK/r2"
grep -q "^refused: no rank of shard 'shard9' on h1$" "$WORK/r2"; ok $? "an unknown shard is refused"
xfer --peer=1@127.0.0.1:"$P1" get shard0 nope 7 0 4096 >"$WORK/r3"
grep -q "^refused: rank 2 of shard 'shard0' on h1 has no region 'nope'$" "$WORK/r3"; ok $? "an unknown region is refused"
xfer --peer=1@127.0.0.1:"$P1" get shard0 model.weights 7 $((SIZE - 10)) 4096 >"$WORK/r4"
grep -q "^refused: bytes $((SIZE - 10))\.\.$((SIZE + 4086)) are beyond region 'model.weights' of rank 2 ($SIZE bytes)$" "$WORK/r4"
ok $? "a range past the region's end is refused"
grep -q "refused a transfer of region 'nope' (shard 'shard0', step 7) to h0 (0)" "$WORK/h1.log"
ok $? "... and the server logs its refusals"

# --- credentials ---
xfer --peer=1@127.0.0.1:"$P1" garbage >"$WORK/c1"
ok_exit 1 $? "a credential that is not one is refused"
diag <"$WORK/c1"
grep -q "^refused: lcrd on h1 refused the transfer connection: " "$WORK/c1"; ok $? "... with the reason"
"$XFER" --job=999 --step=0 --munge-socket="$MUNGE_SOCKET" --self=0 --peer=1@127.0.0.1:"$P1" \
	get shard0 model.weights 7 0 4096 >"$WORK/c2"
ok_exit 1 $? "a credential of another job is refused"
diag <"$WORK/c2"
grep -q "^refused: .*job" "$WORK/c2"; ok $? "... naming the job"
"$XFER" "${AUTH[@]}" --self=1 --peer=1@127.0.0.1:"$P1" get shard0 model.weights 7 0 4096 >"$WORK/c3"
grep -q "^refused: .*not a node of this step, or not addressed to this node" "$WORK/c3"
ok $? "a client claiming the server's own node is refused"
grep -q "refused a transfer connection from 127.0.0.1:[0-9]* (claims to be node 0)" "$WORK/h1.log"
ok $? "... and the server logs who was refused"

# --- a whole region from two peers ---
PEERS=(--peer=1@127.0.0.1:"$P1" --peer=2@127.0.0.1:"$P2")
GOOD=$(awk '{print $5}' "$WORK/g1")
xfer "${PEERS[@]}" fill "$CKPT/step-7" shard0 model.weights >"$WORK/f1" 2>"$WORK/f1.err"
ok $? "transfer_fill fills shard0's model.weights from h1 and h2"
diag <"$WORK/f1"
grep -q "^filled model.weights xxh3 $GOOD$" "$WORK/f1"; ok $? "... with the replicas' bytes"
grep -q "^from-peers $SIZE$" "$WORK/f1" && grep -q "^from-file 0$" "$WORK/f1"
ok $? "... all from the peers, none from the checkpoint file"
b1=$(sed -n 's/^peer node1 bytes //p' "$WORK/f1")
b2=$(sed -n 's/^peer node2 bytes //p' "$WORK/f1")
[ "${b1:-0}" -gt 0 ] && [ "${b2:-0}" -gt 0 ] && [ $((b1 + b2)) -eq $SIZE ]
ok $? "... each peer serving a part ($b1 + $b2 bytes)"
wait_for "$WORK/h2.log" "transfer session with h0 (0) .*served $b2 bytes"
ok $? "... as h2's log counts it too"

# --- a whole region from one peer: each range in one piece, checked as it arrives ---
xfer --peer=1@127.0.0.1:"$P1" fill "$CKPT/step-7" shard0 model.weights >"$WORK/f4" 2>"$WORK/f4.err"
ok $? "transfer_fill fills shard0's model.weights from h1 alone"
diag <"$WORK/f4"
grep -q "^filled model.weights xxh3 $GOOD$" "$WORK/f4" && grep -q "^from-peers $SIZE$" "$WORK/f4"
ok $? "... with the replicas' bytes, all from h1"
grep -q "^hashed-again 0$" "$WORK/f4"
ok $? "... each range checked against the checkpoint's hash taken as it arrived, none read back"

# --- a replica whose bytes differ from the checkpoint ---
LCR_SOCKET=$(socket_of 1) "$CKPT_CLIENT" fill 2 model.weights 24M 99 7 >/dev/null
ok $? "rank 2 on h1 overwrites model.weights with other bytes, still at step 7"
xfer "${PEERS[@]}" fill "$CKPT/step-7" shard0 model.weights >"$WORK/f2" 2>"$WORK/f2.err"
ok $? "transfer_fill still fills the region"
diag <"$WORK/f2"
diag <"$WORK/f2.err"
grep -q "^filled model.weights xxh3 $GOOD$" "$WORK/f2"; ok $? "... with the checkpoint's bytes"
grep -q "^from-file 0$" "$WORK/f2" && grep -q "do not match the checkpoint's hash" "$WORK/f2.err"
ok $? "... the mismatching ranges fetched again from h2, not from the file"

xfer --peer=1@127.0.0.1:"$P1" fill "$CKPT/step-7" shard0 model.weights >"$WORK/f5" 2>"$WORK/f5.err"
ok $? "from h1 alone, transfer_fill still fills the region"
diag <"$WORK/f5"
grep -q "^filled model.weights xxh3 $GOOD$" "$WORK/f5" && grep -q "^from-file $SIZE$" "$WORK/f5" &&
	grep -q "^hashed-again 0$" "$WORK/f5" && grep -q "do not match the checkpoint's hash" "$WORK/f5.err"
ok $? "... h1's ranges, checked as they arrived, do not match the checkpoint: read from the file"

# --- a torn replica ---
LCR_SOCKET=$(socket_of 2) "$CKPT_CLIENT" tear 4 model.weights 8 >"$WORK/tear" &
TEAR_PID=$!
LCR_PIDS+=("$TEAR_PID")
wait_for "$WORK/tear" "^holding rank 4"; ok $? "rank 4 on h2 is held in the middle of step 8"
xfer --peer=2@127.0.0.1:"$P2" get shard0 model.weights 7 0 4096 >"$WORK/t1"
ok_exit 1 $? "its torn replica is refused"
grep -q "^refused: rank 4 of shard 'shard0' on h2 is in the middle of an update (phase updating, last committed step 7): its state is torn$" "$WORK/t1"
ok $? "... saying that it is torn"
xfer "${PEERS[@]}" fill "$CKPT/step-7" shard0 model.weights >"$WORK/f3" 2>"$WORK/f3.err"
ok $? "with h2 torn and h1 wrong, transfer_fill still fills the region"
diag <"$WORK/f3"
grep -q "^filled model.weights xxh3 $GOOD$" "$WORK/f3" && grep -q "^from-file $SIZE$" "$WORK/f3"
ok $? "... every range from the checkpoint file, checked against its hash"
grep -q "torn" "$WORK/f3.err"; ok $? "... and says why h2 could not serve"
reap -TERM "$TEAR_PID"

finish
