#!/bin/bash
# snapshot_copy.sh: redundancy "copy" (helper/services/snapshot.c). Helpers with --redundancy=copy
# snapshot their ranks' regions at every 10th committed step and push them to their copy
# partner; once every node's copies are acknowledged, the step is protected.
#   - Two helpers, rank 0 on h0 and rank 1 on h1, each with its own shard (no replica):
#     the copy h1 holds of rank 0's region at a protected step hashes equal to rank 0's
#     bytes at that step, and the other way round; lcrctl status shows the protected step,
#     the ranks get PROTECTED events.
#   - A rank that updates all the time, its updates not held back (--snapshot-hold-max=0):
#     every protected step's copies are the rank's bytes at that step (none torn), and the
#     torn rounds are dropped, saying why: a warning the first time, verbose with a count
#     while they repeat.
#   - The same with the hold (the default, 1 s): the rank's next update waits while the
#     helper copies, so rounds are taken and none is torn, the waits counted in the log.
#   - A partner killed while it receives: that round is not protected; with a third node,
#     a later round is protected on the live nodes.
#   - A memory budget too small for a snapshot and a copy: a message naming the sizes on
#     each helper, no step protected.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"
CKPT_CLIENT=$LCR_BUILDDIR/tests/helper/ckpt_client
REDUNDANCY=(--redundancy=copy --snapshot-every=10 --log-level=verbose)

# held_hash LOG RANK STEP: the XXH3 of the copy of rank RANK's region 'w' at STEP held by
# the helper whose log is LOG.
held_hash() {
	sed -n "s/.*holding the copy of region 'w' of rank $2 at step $3 from node [0-9]*: .*, xxh3 \([0-9a-f]*\)$/\1/p" "$1" | tail -1
}
# rank_hash OUT STEP: the rank's own hash of its region at STEP.
rank_hash() { sed -n "s/^step $2 xxh3 \([0-9a-f]*\)$/\1/p" "$1"; }
# protected_steps LOG: every step LOG says is protected.
protected_steps() { sed -n 's/.*step \([0-9]*\) is protected: .*/\1/p' "$1"; }

# copies_are_the_ranks HOLDER OUT AFTER: the helper HOLDER took copies of rank 0's region
# at steps after AFTER, and each hashes as rank 0's bytes at its step (as $WORK/OUT says).
copies_are_the_ranks() {
	local s held=0 bad=0
	for s in $(sed -n "s/.*holding the copy of region 'w' of rank 0 at step \([0-9]*\) .*/\1/p" "$WORK/$1.log"); do
		[ "$s" -le "$3" ] && continue
		held=$((held + 1))
		[ "$(held_hash "$WORK/$1.log" 0 "$s")" = "$(rank_hash "$WORK/$2" "$s")" ] ||
			{ echo "# $1's copy of rank 0 at step $s is torn"; bad=$((bad + 1)); }
	done
	echo "# $1 took $held copies of rank 0 after step $3"
	[ "$held" -gt 0 ] && [ "$bad" = 0 ]
}

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
start_mesh 2 --ranks=0,1 --snapshot-hold-max=0 "${REDUNDANCY[@]}"
ok $? "a mesh of two helpers with --redundancy=copy is up"

# --- copies equal the ranks' bytes ---
LCR_SOCKET=$(socket_of 0) "$CKPT_CLIENT" train 0 w 3M 1 60 20 >"$WORK/r0" 2>&1 &
R0=$!
LCR_SOCKET=$(socket_of 1) "$CKPT_CLIENT" train 1 w 3M 1 60 20 >"$WORK/r1" 2>&1 &
R1=$!
LCR_PIDS+=("$R0" "$R1")
wait "$R0" && wait "$R1"
ok $? "ranks 0 (h0) and 1 (h1) train 60 steps, 20 ms apart"
wait_protected "$WORK/h0.log" 60 10
ok $? "h0 says step 60 is protected"
step=$(protected_steps "$WORK/h1.log" | tail -1)
[ "$step" = 60 ]; ok $? "h1 says so too (newest protected step: $step)"
for s in $(protected_steps "$WORK/h0.log"); do
	[ $((s % 10)) = 0 ] || { echo "# step $s is no multiple of 10"; false; }
done
ok $? "every protected step is a multiple of --snapshot-every"
[ -n "$(held_hash "$WORK/h1.log" 0 60)" ] &&
	[ "$(held_hash "$WORK/h1.log" 0 60)" = "$(rank_hash "$WORK/r0" 60)" ]
ok $? "h1's copy of rank 0's region at step 60 hashes as rank 0's bytes at step 60"
[ -n "$(held_hash "$WORK/h0.log" 1 60)" ] &&
	[ "$(held_hash "$WORK/h0.log" 1 60)" = "$(rank_hash "$WORK/r1" 60)" ]
ok $? "h0's copy of rank 1's region at step 60 hashes as rank 1's bytes at step 60"
"$LCRCTL" --socket="$(socket_of 0)" status >"$WORK/status" 2>&1
diag <"$WORK/status"
# h0's snapshot and h1's copy, 3 MiB each, and the next round's buffers once a round
# replaced another
grep -q "^redundancy: copy, 1 copy per node, protected step 60 (snapshot every 10), memory [69] MiB (no limit)$" "$WORK/status" &&
	grep -q "^snapshot hold: off (updates never wait for a copy)$" "$WORK/status"
ok $? "lcrctl status shows the protected step, the memory, and the hold off"
grep -q "^event PROTECTED step 60 is protected: every node's snapshot (6 MiB in all) is held by 1 other node$" "$WORK/r0"
ok $? "rank 0 got the PROTECTED event of step 60"

# --- constant updates, not held back: no copy is torn ---
# Rank 0 begins its next update as soon as one ends, and these helpers do not hold it back
# (--snapshot-hold-max=0): most copies overlap an update and are dropped; every copy h1
# holds is rank 0's bytes at its step.
LCR_SOCKET=$(socket_of 0) "$CKPT_CLIENT" train 0 w 3M 61 1500 0 >"$WORK/c0" 2>&1 &
R0=$!
LCR_SOCKET=$(socket_of 1) "$CKPT_CLIENT" train 1 w 3M 61 400 5 >"$WORK/c1" 2>&1 &
R1=$!
LCR_PIDS+=("$R0" "$R1")
wait "$R0" && wait "$R1"
ok $? "rank 0 updates all the time (1440 steps) while rank 1 trains"
torn="snapshot of step [0-9]* not protected on this node: rank 0 began another update"
warned=$(grep -c "warning: $torn" "$WORK/h0.log")
repeats=$(grep -c "]: $torn.* (the same problem [0-9]* times\{0,1\} since its warning)$" "$WORK/h0.log")
all_torn=$(grep -c "$torn" "$WORK/h0.log")
echo "# torn rounds on h0: $all_torn, $warned at warning level, $repeats at verbose with a count"
# Whether a round overlaps one of rank 0's updates depends on when h0 sees a commit and on
# the machine's load: most rounds do, but a run where none did (seen on a loaded CI: 0 torn,
# 2 rounds held) proves nothing about the check, so it is skipped, not passed.
if [ "$all_torn" -gt 0 ]; then
	grep -q "snapshot of step [0-9]* not protected on this node: rank 0 began another update while its regions were copied" "$WORK/h0.log"
	ok $? "h0 dropped snapshots that an update of rank 0 overlapped"
	# How many rounds an update tears depends on the machine's load (one only, on a loaded
	# CI): every one after the first must be verbose with its count, however many there are.
	[ "$warned" = 1 ] && [ "$repeats" = $((all_torn - 1)) ]
	ok $? "the first torn round is a warning, the ones that follow are verbose with their count"
else
	skip "h0 dropped snapshots that an update of rank 0 overlapped" "no round overlapped an update in this run"
	skip "the first torn round is a warning, the ones that follow are verbose" "no torn round in this run"
fi
copies_are_the_ranks h1 c0 60
ok $? "every copy h1 holds of rank 0 is rank 0's bytes at its step"
for s in $(protected_steps "$WORK/h0.log"); do
	[ "$s" -le 60 ] && continue
	[ "$(held_hash "$WORK/h1.log" 0 "$s")" = "$(rank_hash "$WORK/c0" "$s")" ] ||
		{ echo "# protected step $s: h1's copy of rank 0 does not match"; false; }
done
ok $? "every protected step's copy of rank 0 matches rank 0's bytes"
for p in "${MESH_PIDS[@]}"; do reap -TERM "$p"; done

# --- constant updates, held back while the helper copies (--snapshot-hold-max 1 s) ---
# Both ranks update all the time. A round is begun the moment the poll sees every rank of
# the node committed at a multiple of 10; each rank's next update then waits until the copy
# is done: rounds are taken, none torn, the waits counted.
MESH_PREFIX=q
start_mesh 2 --ranks=0,1 "${REDUNDANCY[@]}"
ok $? "a mesh of two helpers with the default --snapshot-hold-max is up"
for i in 0 1; do
	LCR_SOCKET=$(socket_of $i) "$CKPT_CLIENT" train $i w 3M 1 3000 0 >"$WORK/q_c$i" 2>&1 &
	Q[$i]=$!
	LCR_PIDS+=("${Q[$i]}")
done
wait "${Q[0]}" && wait "${Q[1]}"
ok $? "ranks 0 (q0) and 1 (q1) update all the time (3000 steps)"
taken=$(grep -c "snapshot of step [0-9]* taken" "$WORK/q0.log")
torn_rounds=$(grep -c "began another update while its regions were copied" "$WORK/q0.log")
waits=$(sed -n "s/.* the ranks' updates have waited for this node's copies \([0-9]*\) time.*/\1/p" \
	"$WORK/q0.log" | tail -1)
echo "# q0: $taken rounds taken, $torn_rounds torn; rank 0's updates waited ${waits:-0} times"
[ "$taken" -ge 3 ] && [ "$torn_rounds" = 0 ]
ok $? "q0 takes rounds of a rank that updates all the time, and none is torn"
[ "${waits:-0}" -gt 0 ]
ok $? "... holding the rank's next update back while it copies, and saying how often"
"$LCRCTL" --socket="$(socket_of 0)" status >"$WORK/q_status" 2>&1
diag <"$WORK/q_status"
status_waits=$(sed -n "s/^snapshot hold: updates of this node's ranks waited \([0-9]*\) times\{0,1\} for its copies, [0-9.]* s in all (at most 1 s each)$/\1/p" "$WORK/q_status")
# The log line is the last round's count; the ranks may have waited once more since.
[ -n "$status_waits" ] && [ "$status_waits" -ge "$waits" ]
ok $? "lcrctl status says how often and how long the ranks' updates waited ($status_waits times)"
copies_are_the_ranks q1 q_c0 0
ok $? "every copy q1 holds of rank 0 is rank 0's bytes at its step"
for p in "${MESH_PIDS[@]}"; do reap -TERM "$p"; done

# --- a partner lost while it receives ---
# Three helpers: p1 holds p0's copies. p1 is stopped as p0 starts sending it a copy (16 MiB
# regions) and killed once it is found down: p0's round then is not protected, and a later
# round, with p2 as p0's partner, is.
MESH_PREFIX=p
start_mesh 3 --ranks=0,1,2 --detect-timeout=2 "${REDUNDANCY[@]}"
ok $? "a mesh of three helpers with --redundancy=copy is up"
# The ranks pause 200 ms between updates: a helper built with sanitizers on a loaded machine
# takes about 100 ms to copy 16 MiB, and a shorter pause tears every round.
for i in 0 1 2; do
	LCR_SOCKET=$(socket_of $i) "$CKPT_CLIENT" train $i w 16M 1 100000 200 >"$WORK/k$i" 2>&1 &
	K[$i]=$!
	LCR_PIDS+=("${K[$i]}")
done
wait_protected "$WORK/p0.log" 10 90
ok $? "a step is protected on the three nodes"
# p1 is stopped as p0 opens its next copy session with it: while it receives.
sessions=$(grep -c "transfer session with p0 (0) .* started" "$WORK/p1.log")
for i in $(seq 400); do
	[ "$(grep -c "transfer session with p0 (0) .* started" "$WORK/p1.log")" -gt "$sessions" ] && break
	sleep 0.01
done
kill -STOP "${MESH_PIDS[1]}"
wait_events p0 "NODE_DOWN node 1 " 20
ok $? "p0 finds p1 down"
kill -KILL "${MESH_PIDS[1]}" "${K[1]}"
wait "${MESH_PIDS[1]}" "${K[1]}" 2>/dev/null
# the newest round p0 could not finish for want of p1
lost_round() { sed -n 's/.*snapshot of step \([0-9]*\) not protected on this node: .*p1 (1).*/\1/p' "$WORK/p0.log" | tail -1; }
for i in $(seq 150); do [ -n "$(lost_round)" ] && break; sleep 0.1; done
lost=$(lost_round)
[ -n "$lost" ] && ! protected_steps "$WORK/p0.log" | grep -qx "$lost"
ok $? "p0's round of step $lost, with p1 as its partner, is not protected and names p1"
wait_protected "$WORK/p0.log" $((lost + 10)) 90
ok $? "a later step is protected on the live nodes"
step=$(protected_steps "$WORK/p0.log" | tail -1)
[ -n "$(held_hash "$WORK/p2.log" 0 "$step")" ] &&
	[ "$(held_hash "$WORK/p2.log" 0 "$step")" = "$(rank_hash "$WORK/k0" "$step")" ]
ok $? "p2 holds rank 0's bytes at step $step"
kill "${K[0]}" "${K[2]}" 2>/dev/null
for p in "${MESH_PIDS[0]}" "${MESH_PIDS[2]}"; do reap -TERM "$p"; done

# --- a memory budget too small ---
MESH_PREFIX=b
start_mesh 2 --ranks=0,1 --redundancy-memory-max=4M "${REDUNDANCY[@]}"
ok $? "a mesh of two helpers with --redundancy-memory-max=4M is up"
LCR_SOCKET=$(socket_of 0) "$CKPT_CLIENT" train 0 w 3M 1 30 20 >"$WORK/m0" 2>&1 &
R0=$!
LCR_SOCKET=$(socket_of 1) "$CKPT_CLIENT" train 1 w 3M 1 30 20 >"$WORK/m1" 2>&1 &
R1=$!
LCR_PIDS+=("$R0" "$R1")
wait "$R0" && wait "$R1"
ok $? "ranks 0 and 1 train 30 steps of 3 MiB"
sleep 1
# Whichever comes first on a helper, its own snapshot or its partner's copy, the other one
# passes the budget there: 3 MiB held of 4 MiB.
budget="needs 3 MiB, but redundancy already holds 3 MiB of --redundancy-memory-max 4 MiB: step not protected"
budget="$budget\|cannot hold the copy of region 'w' of rank [01] at step [0-9]* (3 MiB): it holds 3 MiB for redundancy already, and --redundancy-memory-max is 4 MiB"
cat "$WORK/b0.log" "$WORK/b1.log" | grep -q "warning: .*\($budget\)"
ok $? "a helper says the budget is too small, naming the sizes"
[ -z "$(protected_steps "$WORK/b0.log")" ] && [ -z "$(protected_steps "$WORK/b1.log")" ]
ok $? "no step is protected"
"$LCRCTL" --socket="$(socket_of 0)" status | grep -q "protected step none (snapshot every 10), memory [0-9.]* [KM]*i*B of 4 MiB$"
ok $? "lcrctl status says no step is protected, and the budget"
finish
