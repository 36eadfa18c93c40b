#!/bin/bash
# test_trainer_sharded.sh: the demo trainer's sharded modes (--shard=zero1, none) against one
# foreground lcrd. Four ranks train in each mode; every mode computes the weights of the
# replicated run bit for bit, every rank prints the same state checksum, and each rank's
# state is its own shard (its own key, its Adam moments only for its slice). A checkpoint
# asked for by SIGUSR1 mid-run holds every rank's shard at one step; the ranks are killed,
# and four new ranks of a new lcrd restored from it end with the checksum of the run
# without failure. Speaks TAP.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../../tests/helper/lib.sh"
TRAINER=$LCR_BUILDDIR/contrib/demo/lcr-demo-trainer
STEPS=400
echo "1..16"
uid=$(id -u)
make_root "$WORK/run" "$uid"
job=0

# run_ranks TAG MODE [OPTIONS...]: four ranks of MODE in the background; pids in RANK_PIDS.
run_ranks() {
	local tag=$1 mode=$2 rank
	shift 2
	RANK_PIDS=()
	for rank in 0 1 2 3; do
		"$TRAINER" --shard="$mode" --rank=$rank --size=4 --steps=$STEPS --state-mb=0.25 --print-every=100000 \
			--recovery-wait=0.5 "$@" >"$WORK/$tag.$rank.out" 2>&1 &
		RANK_PIDS+=($!)
	done
}
# fresh_lcrd NAME [ARGS...]: stops the running lcrd and starts one for a new job.
fresh_lcrd() {
	local name=$1
	shift
	[ -n "${LCRD_PID:-}" ] && stop_lcrd >/dev/null 2>&1
	job=$((job + 1))
	start_lcrd "$name" --job-id=$job --ranks=0-3 --runtime-dir="$WORK/run/$uid" "$@"
}
# finals TAG: the distinct final lines of run TAG without the rank and speed.
finals() { sed -n 's/^final rank [0-9]* step \([0-9]*\) steps\/s [0-9.]* /\1 /p' "$WORK"/$1.*.out | sort -u; }
field() { sed -n "s/.* $2 \([0-9a-f]*\).*/\1/p" <<<"$1"; }
regions() { "$LCRCTL" --socket="$LCR_SOCKET" regions; }

fresh_lcrd replicated
run_ranks replicated replicated
wait "${RANK_PIDS[@]}"
reference=$(finals replicated)
[ "$(wc -l <<<"$reference")" = 1 ]
ok $? "replicated: every rank ends with the same weights ($reference)"
reference=$(field "$reference" checksum)

declare -A STATE_SUM
for mode in zero1 none; do
	fresh_lcrd "$mode"
	run_ranks "$mode" "$mode"
	wait "${RANK_PIDS[@]}"
	line=$(finals "$mode")
	diag <<<"$mode: $line"
	[ "$(wc -l <<<"$line")" = 1 ] && [ -n "$(field "$line" checksum)" ]
	ok $? "$mode: every rank prints the same weights and state checksum"
	[ "$(field "$line" weights)" = "$reference" ]
	ok $? "$mode: the weights are those of the replicated run, bit for bit"
	STATE_SUM[$mode]=$(field "$line" checksum)
	regions >"$WORK/$mode.regions"
	[ "$(awk '$5 ~ /^[0-3]$/ {print $5, $6}' "$WORK/$mode.regions" | sort -u | tr '\n' ' ')" = \
		"0 $mode-r0 1 $mode-r1 2 $mode-r2 3 $mode-r3 " ]
	ok $? "$mode: each rank's regions are under its own shard key"
	diag <"$WORK/$mode.regions"
done

# The sizes (as lcrctl shows them) of region NAME of every rank in run TAG, one per line.
sizes_of() { awk -v n="$2" '$1 == n && $5 ~ /^[0-3]$/ {print $2, $3}' "$WORK/$1.regions" | sort -u; }
# --state-mb=0.25: 21835 parameters (85.3 KiB), slices of 5459 or 5458 (21.3 KiB).
[ "$(sizes_of zero1 params)" = "85.3 KiB" ] && [ "$(sizes_of zero1 adam.m)" = "21.3 KiB" ] &&
	[ "$(sizes_of none params)" = "21.3 KiB" ] && [ "$(sizes_of none adam.v)" = "21.3 KiB" ]
ok $? "zero1 holds the whole weights on every rank and a quarter of the moments; none a quarter of both"

# checkpoint_and_restore MODE: USR1 mid-run, every rank killed once the checkpoint is saved,
# then a restore from it ends with the checksum of the run without failure.
checkpoint_and_restore() {
	local mode=$1 ckpt=$WORK/ckpt-$1 step saved i
	fresh_lcrd "ckpt-$mode" --ckpt-dir="$ckpt"
	run_ranks "first-$mode" "$mode" --checkpoint-on-usr1
	for i in $(seq 100); do # until every region holds step 20 or later
		[ "$(regions | awk '$7 ~ /^[0-9]+$/ && $7 >= 20 && $8 == "committed"' | wc -l)" = 12 ] && break
		sleep 0.05
	done
	kill -USR1 "${RANK_PIDS[@]}"
	for i in $(seq 200); do
		[ "$(grep -l 'checkpoint of step .* saved' "$WORK"/first-$mode.*.out 2>/dev/null | wc -l)" = 4 ] && break
		sleep 0.05
	done
	kill -9 "${RANK_PIDS[@]}"
	wait "${RANK_PIDS[@]}" 2>/dev/null
	saved=$(sed -n 's/.*checkpoint of step \([0-9]*\) saved/\1/p' "$WORK"/first-$mode.*.out | sort -u)
	diag <<<"$mode: checkpoint of step(s) $saved: $(ls "$ckpt" 2>&1 | tr '\n' ' ')"
	step=$(tail -n 1 <<<"$saved")
	[ -n "$step" ] && [ -f "$ckpt/step-$step/manifest.yaml" ] &&
		[ "$(grep -c "key: \"$mode-r[0-3]\"" "$ckpt/step-$step/manifest.yaml")" = 4 ]
	ok $? "$mode: SIGUSR1 mid-run: every rank waits for one checkpoint holding the 4 shards at one step"
	! grep -q '^final' "$WORK"/first-$mode.*.out
	ok $? "$mode: ... taken before the end of the run, whose ranks are then killed"
	fresh_lcrd "restore-$mode" --ckpt-dir="$ckpt" --restore="$ckpt/step-$step"
	run_ranks "restore-$mode" "$mode"
	wait "${RANK_PIDS[@]}"
	[ "$(grep -c "resumes at step $((step + 1)) " "$WORK"/restore-$mode.*.out | awk -F: '{s += $2} END {print s}')" = 4 ]
	ok $? "$mode: every rank of a new step resumes at step $((step + 1)) from the checkpoint"
	[ "$(field "$(finals "restore-$mode")" checksum)" = "${STATE_SUM[$mode]}" ]
	ok $? "$mode: ... and ends with the state checksum of the run without failure"
}
checkpoint_and_restore zero1
checkpoint_and_restore none
