#!/bin/bash
# snapshot_erasure.sh: redundancy "erasure" (helper/services/snapshot_erasure.c). Helpers with
# --redundancy=erasure snapshot their ranks' regions at every 10th committed step and push
# each chunk of the snapshot to the parity holders of its stripe; each holder adds it to the
# one parity block it holds; once every node's chunks are acknowledged, the step is protected.
#   - Four helpers, one group of 4 with 1 parity, rank i on node i with its own shard (no
#     replica) and regions of different sizes: the parity block each helper holds at the
#     protected step is the parity computed from the ranks' bytes at that step
#     (parity_expect), one chunk long (the formula of doc/redundancy.md); lcrctl status shows
#     the method, the protected step and the memory; the ranks get PROTECTED events.
#   - Four helpers in groups of 2, one killed: a later step is protected over the three live
#     nodes, now one group of 3, with the parity of their ranks' bytes.
#   - Three helpers with groups of 4: no group, each round fails saying so, nothing protected.
#   (A node lost with a spare, recovered from the parity: snapshot_erasure_recover.sh.)
#   - auto with a region quota of 3 MiB and a budget of 10 MiB: erasure on four helpers (a
#     step protected, status says so), none with a warning on three.
#   - A memory budget too small for a snapshot and a chunk: a message naming the sizes, no
#     step protected.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"
CKPT_CLIENT=$LCR_BUILDDIR/tests/helper/ckpt_client
PARITY_EXPECT=$LCR_BUILDDIR/tests/helper/parity_expect
REDUNDANCY=(--redundancy=erasure --redundancy-group-size=4 --redundancy-parity=1
	--snapshot-every=10 --log-level=verbose)
SIZES=(3M 2M 3M 1000000)

# held_parity LOG ROW STRIPE STEP: the XXH3 of parity block ROW of STRIPE at STEP that the
# helper whose log is LOG holds.
held_parity() {
	sed -n "s/.*holding parity block $2 of stripe $3 of group 0 at step $4 (chunks of nodes [0-9,]*): .*, xxh3 \([0-9a-f]*\)$/\1/p" "$1" | tail -1
}
# protected_steps LOG: every step LOG says is protected.
protected_steps() { sed -n 's/.*step \([0-9]*\) is protected: .*/\1/p' "$1"; }

# wait_protected LOG STEP SECONDS: until LOG says some step >= STEP is protected.
wait_protected() {
	local i s
	for i in $(seq $(($3 * 10))); do
		for s in $(protected_steps "$1"); do [ "$s" -ge "$2" ] && return 0; done
		sleep 0.1
	done
	return 1
}

start_munged
start_mesh 4 --ranks=0,1,2,3 "${REDUNDANCY[@]}"
ok $? "a mesh of four helpers with --redundancy=erasure, groups of 4 with 1 parity, is up"

# --- the parity held is the parity of the ranks' bytes ---
for i in 0 1 2 3; do
	LCR_SOCKET=$(socket_of $i) "$CKPT_CLIENT" train $i w "${SIZES[$i]}" 1 60 20 >"$WORK/r$i" 2>&1 &
	R[$i]=$!
	LCR_PIDS+=("${R[$i]}")
done
wait "${R[0]}" && wait "${R[1]}" && wait "${R[2]}" && wait "${R[3]}"
ok $? "ranks 0 to 3 (h0 to h3, ${SIZES[*]} bytes) train 60 steps, 20 ms apart"
wait_protected "$WORK/h0.log" 60 15
ok $? "h0 says step 60 is protected"
for i in 1 2 3; do
	[ "$(protected_steps "$WORK/h$i.log" | tail -1)" = 60 ] || { echo "# h$i: not 60"; false; }
done
ok $? "h1, h2 and h3 say so too"
"$PARITY_EXPECT" 4 1 60 "${SIZES[@]}" >"$WORK/expected"
diag <"$WORK/expected"
checked=0 bad=0
while read -r _ pos _ stripe _ row _ bytes _ hash; do
	held=$(held_parity "$WORK/h$pos.log" "$row" "$stripe" 60)
	checked=$((checked + 1))
	[ "$held" = "$hash" ] || { echo "# h$pos holds parity $row of stripe $stripe: '$held', expected $hash"; bad=$((bad + 1)); }
done <"$WORK/expected"
[ "$checked" = 4 ] && [ "$bad" = 0 ]
ok $? "each helper's parity block at step 60 is the parity of the ranks' bytes at step 60"
"$PARITY_EXPECT" 4 1 50 "${SIZES[@]}" >"$WORK/expected50"
while read -r _ pos _ stripe _ row _ bytes _ hash; do
	[ "$(held_parity "$WORK/h$pos.log" "$row" "$stripe" 60)" != "$hash" ] || { echo "# same as step 50"; false; }
done <"$WORK/expected50"
ok $? "and not the parity of step 50's bytes"
# the largest state is 3 MiB: a chunk of 1 MiB in a group of 4 with 1 parity
grep -q "holding parity block 0 of stripe [0-9] of group 0 at step 60 (chunks of nodes [0-9],[0-9],[0-9]): 1 MiB, xxh3" "$WORK/h3.log"
ok $? "h3 (the smallest state) holds a parity block of 1 MiB, the group's largest chunk"
"$LCRCTL" --socket="$(socket_of 0)" status >"$WORK/status" 2>&1
diag <"$WORK/status"
grep -q "^redundancy: erasure, groups of 4 with 1 parity, protected step 60 (snapshot every 10), memory [0-9.]* [KM]i*B (no limit)$" "$WORK/status"
ok $? "lcrctl status shows the method, the groups, the protected step and the memory"
grep -q "^event PROTECTED step 60 is protected: every node's snapshot (9.0 MiB in all) is in the parity of its group (groups of 4 or more nodes, 1 parity)$" "$WORK/r0"
ok $? "rank 0 got the PROTECTED event of step 60"
for p in "${MESH_PIDS[@]}"; do reap -TERM "$p"; done

# --- a member lost: the next rounds are grouped over the live nodes ---
# Four helpers in two groups of 2 with 1 parity; g3 is killed with its rank. The three live
# nodes then make one group of 3, and a later step is protected with the parity of its
# ranks' bytes.
MESH_PREFIX=l
start_mesh 4 --ranks=0,1,2,3 --detect-timeout=2 --redundancy=erasure --redundancy-group-size=2 \
	--redundancy-parity=1 --snapshot-every=10 --log-level=verbose
ok $? "a mesh of four helpers in two groups of 2 is up"
for i in 0 1 2 3; do
	LCR_SOCKET=$(socket_of $i) "$CKPT_CLIENT" train $i w 1M 1 100000 50 >"$WORK/l$i.r" 2>&1 &
	L[$i]=$!
	LCR_PIDS+=("${L[$i]}")
done
wait_protected "$WORK/l0.log" 10 60
ok $? "a step is protected on the four nodes"
grep -q "holding parity block 0 of stripe [01] of group 1 at step [0-9]* (chunks of nodes 2)" "$WORK/l3.log"
ok $? "l3 holds parity of group 1 (nodes 2 and 3)"
kill -KILL "${MESH_PIDS[3]}" "${L[3]}"
wait "${MESH_PIDS[3]}" "${L[3]}" 2>/dev/null
wait_events l0 "NODE_DOWN node 3 " 20
ok $? "l0 finds l3 down"
down=$(protected_steps "$WORK/l0.log" | tail -1)
wait_protected "$WORK/l0.log" $((down + 20)) 90
ok $? "a later step is protected on the three live nodes"
step=$(protected_steps "$WORK/l0.log" | tail -1)
"$PARITY_EXPECT" 3 1 "$step" 1M 1M 1M >"$WORK/expected3"
bad=0
while read -r _ pos _ stripe _ row _ bytes _ hash; do
	[ "$(held_parity "$WORK/l$pos.log" "$row" "$stripe" "$step")" = "$hash" ] ||
		{ echo "# l$pos: parity of stripe $stripe at step $step differs"; bad=$((bad + 1)); }
done <"$WORK/expected3"
[ "$bad" = 0 ] && grep -q "holding parity block 0 of stripe [0-2] of group 0 at step $step (chunks of nodes [0-2],[0-2])" "$WORK/l2.log"
ok $? "at step $step the three nodes make one group of 3, each holding the parity of their bytes"
kill "${L[0]}" "${L[1]}" "${L[2]}" 2>/dev/null
for p in "${MESH_PIDS[0]}" "${MESH_PIDS[1]}" "${MESH_PIDS[2]}"; do reap -TERM "$p"; done

# --- fewer nodes than a group ---
MESH_PREFIX=g
start_mesh 3 --ranks=0,1,2 "${REDUNDANCY[@]}"
ok $? "a mesh of three helpers with groups of 4 is up"
for i in 0 1 2; do
	LCR_SOCKET=$(socket_of $i) "$CKPT_CLIENT" train $i w 1M 1 20 20 >"$WORK/g$i.r" 2>&1 &
	R[$i]=$!
	LCR_PIDS+=("${R[$i]}")
done
wait "${R[0]}" && wait "${R[1]}" && wait "${R[2]}"
ok $? "ranks 0 to 2 train 20 steps"
sleep 1
grep -q "snapshot of step 10 not protected on this node: erasure groups of 4 nodes with 1 parity: .*a step of 3 nodes holds no such group" "$WORK/g0.log"
ok $? "g0's round fails, saying 3 nodes make no group of 4"
[ -z "$(protected_steps "$WORK/g0.log")" ]
ok $? "no step is protected"
for p in "${MESH_PIDS[@]}"; do reap -TERM "$p"; done

# --- auto: what the budget allows, the same on every helper ---
# A region quota of 3 MiB and a budget of 10 MiB: one copy would need 12 MiB, erasure coding
# in a group of 4 with 1 parity 8 MiB: auto chooses erasure, and a step is protected.
MESH_PREFIX=a
start_mesh 4 --ranks=0,1,2,3 --redundancy=auto --region-quota=3M --redundancy-memory-max=10M \
	--redundancy-group-size=4 --redundancy-parity=1 --snapshot-every=10
ok $? "a mesh of four helpers with --redundancy=auto is up"
for i in 0 1 2 3; do
	grep -q "redundancy auto chose erasure: copies would need 12.0 MiB, erasure coding (groups of 4, 1 parity) needs up to 8.0 MiB of the budget of 10.0 MiB" "$WORK/a$i.log" ||
		{ echo "# a$i: $(grep "redundancy auto" "$WORK/a$i.log")"; false; }
done
ok $? "each helper's log says auto chose erasure, and why"
for i in 0 1 2 3; do
	LCR_SOCKET=$(socket_of $i) "$CKPT_CLIENT" train $i w 1M 1 10 20 >"$WORK/a$i.r" 2>&1 &
	R[$i]=$!
	LCR_PIDS+=("${R[$i]}")
done
wait "${R[0]}" && wait "${R[1]}" && wait "${R[2]}" && wait "${R[3]}" && wait_protected "$WORK/a0.log" 10 15
ok $? "step 10 is protected"
"$LCRCTL" --socket="$(socket_of 0)" status | grep -q "^redundancy: erasure (chosen by auto), groups of 4 with 1 parity, protected step 10 (snapshot every 10), memory [0-9.]* [KM]i*B of 10 MiB$"
ok $? "lcrctl status says erasure was chosen by auto"
for p in "${MESH_PIDS[@]}"; do reap -TERM "$p"; done
# Three helpers and the same budget: no group of 4, copies do not fit: none, with a warning.
MESH_PREFIX=n
start_mesh 3 --ranks=0,1,2 --redundancy=auto --region-quota=3M --redundancy-memory-max=10M
ok $? "a mesh of three helpers with --redundancy=auto is up"
grep -q "warning: redundancy auto chose none: neither fits: 1 copy would need 12.0 MiB, erasure coding needs groups of 4 nodes, and the step has 3, and the budget is 10.0 MiB; state without a replica is not protected" "$WORK/n0.log"
ok $? "auto chooses none with a warning saying why"
"$LCRCTL" --socket="$(socket_of 0)" status | grep -qx "redundancy: none (chosen by auto)"
ok $? "lcrctl status says none was chosen by auto"
for p in "${MESH_PIDS[@]}"; do reap -TERM "$p"; done

# --- a memory budget too small ---
# 3 MiB of state per node and --redundancy-memory-max=3M: whichever comes first on a helper,
# its own snapshot or a chunk of 1 MiB for its parity (or a member's layout, some hundred
# bytes), the other passes the budget there.
MESH_PREFIX=b
start_mesh 4 --ranks=0,1,2,3 --redundancy-memory-max=3M "${REDUNDANCY[@]}"
ok $? "a mesh of four helpers with --redundancy-memory-max=3M is up"
for i in 0 1 2 3; do
	LCR_SOCKET=$(socket_of $i) "$CKPT_CLIENT" train $i w 3M 1 30 20 >"$WORK/b$i.r" 2>&1 &
	R[$i]=$!
	LCR_PIDS+=("${R[$i]}")
done
wait "${R[0]}" && wait "${R[1]}" && wait "${R[2]}" && wait "${R[3]}"
ok $? "ranks 0 to 3 train 30 steps of 3 MiB"
sleep 1
held="[0-9.]* [KMGi]*B"
budget="needs 3 MiB, but redundancy already holds $held of --redundancy-memory-max 3 MiB: step not protected"
budget="$budget\|cannot hold chunk [0-2] of stripe [0-3] of node [0-3] at step [0-9]* (1 MiB): it holds $held for redundancy already, and --redundancy-memory-max is 3 MiB"
budget="$budget\|cannot hold the layout of node [0-3] at step [0-9]* ([0-9]* B): it holds $held for redundancy already, and --redundancy-memory-max is 3 MiB"
cat "$WORK"/b[0-3].log | grep -q "warning: .*\($budget\)"
ok $? "a helper says the budget is too small, naming the sizes"
for i in 0 1 2 3; do [ -z "$(protected_steps "$WORK/b$i.log")" ] || false; done
ok $? "no step is protected"
finish
