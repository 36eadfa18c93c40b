#!/bin/bash
# comm_ring.sh: liblcr's TCP ring communicators between real processes, bootstrapped
# through a real lcrd's key-value store: every collective gives the right values, results
# are bit-identical run to run, a member killed mid-training is replaced and only its
# group's communicator is rebuilt (the other group's connections are kept), the final
# state equals a run without failure, and the store keeps no entry of any epoch after.
# Speaks TAP.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../helper/lib.sh"
COMM_TEST=$LCR_BUILDDIR/tests/comm/comm_test
STORE=$LCR_BUILDDIR/tests/helper/store_client
echo "1..9"

make_root "$WORK/run" "$(id -u)"
start_lcrd lcrd --job-id=9 --runtime-dir="$WORK/run/$(id -u)"
ok $? "a foreground lcrd holds the key-value store"

# run_check SIZE NAME: every rank of a SIZE-rank communicator checks its collectives.
run_check() {
	local size=$1 name=$2 pids=() rank status=0
	for ((rank = 0; rank < size; rank++)); do
		"$COMM_TEST" check "$name" "$rank" "$size" >"$WORK/$name.$rank.out" 2>&1 &
		pids+=($!)
	done
	for pid in "${pids[@]}"; do wait "$pid" || status=1; done
	cat "$WORK/$name".*.out | diag
	return $status
}

run_check 4 world
ok $? "allreduce (float64, int64), broadcast and barrier give the right values on 4 ranks"
run_check 1 solo
ok $? "a one-rank communicator works"
run_check 4 again
[ "$(sed -n 's/.*hash //p' "$WORK"/world.*.out | sort -u)" = "$(sed -n 's/.*hash //p' "$WORK"/again.*.out | sort -u)" ] &&
	[ "$(sed -n 's/.*hash //p' "$WORK"/world.*.out | sort -u | wc -l)" = 1 ]
ok $? "a float32 allreduce is bit-identical on every rank and from run to run"

# train RUN: groups ga (ranks 0,1) and gb (ranks 2,3), ROUNDS rounds each, 20 ms apart:
# long enough that group ga is still training when its connections are looked at after
# the replacement started, even on a loaded machine.
ROUNDS=200
start_training() {
	local run=$1
	TRAIN_PIDS=()
	for rank in 0 1; do
		"$COMM_TEST" train "ga$run" "$rank" 2 0 $ROUNDS >"$WORK/$run.ga.$rank.out" 2>"$WORK/$run.ga.$rank.err" &
		TRAIN_PIDS+=($!)
	done
	for rank in 0 1; do
		"$COMM_TEST" train "gb$run" "$rank" 2 0 $ROUNDS >"$WORK/$run.gb.$rank.out" 2>"$WORK/$run.gb.$rank.err" &
		TRAIN_PIDS+=($!)
	done
}

connections_of() { ss -Htnp 2>/dev/null | grep "pid=$1," | awk '{print $4, $5}' | sort; }

start_training clean
wait "${TRAIN_PIDS[@]}"
start_training failure
# ga's ring is up once its connections are there and the same twice in a row
ga_before=
for _ in $(seq 50); do
	sleep 0.2
	now="$(connections_of "${TRAIN_PIDS[0]}")"
	[ -n "$now" ] && [ "$now" = "$ga_before" ] && break
	ga_before=$now
done
kill -9 "${TRAIN_PIDS[3]}"
"$COMM_TEST" train gbfailure 1 2 1 $ROUNDS >"$WORK/failure.gb.1.out" 2>"$WORK/failure.gb.1.err" &
replacement=$!
sleep 0.3
ga_after="$(connections_of "${TRAIN_PIDS[0]}")"
wait "${TRAIN_PIDS[0]}" "${TRAIN_PIDS[1]}" "${TRAIN_PIDS[2]}" "$replacement"
cat "$WORK"/failure.*.out "$WORK"/failure.*.err | diag

grep -q "rebuilds 1 rounds $ROUNDS" "$WORK/failure.gb.0.out"
ok $? "the survivor of the group that lost a rank rebuilt once and finished all rounds"
grep -q "epoch 1 rebuilds 0 rounds $ROUNDS" "$WORK/failure.gb.1.out"
ok $? "the replacement joined at epoch 1 and finished with it"
grep -q "epoch 0 rebuilds 0 rounds $ROUNDS" "$WORK/failure.ga.0.out" && grep -q "epoch 0 rebuilds 0 rounds $ROUNDS" "$WORK/failure.ga.1.out" &&
	[ -n "$ga_before" ] && [ "$ga_before" = "$ga_after" ]
ok $? "the untouched group was not rebuilt and kept its connections ($(echo $ga_before) / $(echo $ga_after))"
hash_of() { sed -n 's/.*hash //p' "$WORK/$1"; }
[ "$(hash_of clean.gb.0.out)" = "$(hash_of failure.gb.0.out)" ] && [ "$(hash_of clean.gb.1.out)" = "$(hash_of failure.gb.1.out)" ] &&
	[ "$(hash_of clean.ga.0.out)" = "$(hash_of failure.ga.0.out)" ] && [ -n "$(hash_of clean.gb.0.out)" ]
ok $? "the final buffers are bit-identical to the run without failure"
left=
for key in lcrc.gbfailure.{0,1}.{0,1} lcrc.gafailure.0.{0,1} lcrc.world.0.{0,1,2,3}; do
	"$STORE" get "$key" 0 | grep -q "no key '$key'" || left="$left $key"
done
[ -z "$left" ]
ok $? "the job-wide store keeps no communicator entry of either epoch after the builds${left:+ (left:$left)}"
[ $tap_failed -eq 0 ]
