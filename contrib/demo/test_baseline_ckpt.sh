#!/bin/bash
# test_baseline_ckpt.sh: the demo trainer's periodic checkpoint, the conventional baseline
# that contrib/bench/recovery.sh compares LCR with (--without-lcr, --save-dir, --load-dir):
# a run saves every 50 steps; a new run loads the newest checkpoint, resumes after it and
# ends bit-identical to the first; a damaged file or one of another run is refused with a
# message naming what is wrong, and left as it is. Speaks TAP.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../../tests/helper/lib.sh"
TRAINER=$LCR_BUILDDIR/contrib/demo/lcr-demo-trainer
echo "1..7"

# run_pair TAG ARGS...: ranks 0 and 1 without LCR, meeting in $WORK/rdv-TAG; exit status of
# the last one that failed, 0 when both succeeded.
run_pair() {
	local tag=$1 status=0 pids=() pid
	shift
	mkdir -p "$WORK/rdv-$tag"
	for rank in 0 1; do
		"$TRAINER" --rank=$rank --size=2 --steps=120 --print-every=100000 \
			--without-lcr="$WORK/rdv-$tag" "$@" >"$WORK/$tag.$rank.out" 2>&1 &
		pids+=($!)
	done
	for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
	return $status
}
checksums() { sed -n 's/^final .* checksum //p' "$WORK"/$1.*.out | sort -u; }

mkdir -p "$WORK/ckpt"
run_pair save --save-dir="$WORK/ckpt" --save-every=50
ok $? "a run saving every 50 steps finishes"
reference=$(checksums save)
grep -q "checkpoint of step 99 saved to $WORK/ckpt/checkpoint" "$WORK/save.0.out" &&
	[ -f "$WORK/ckpt/checkpoint" ] && [ ! -e "$WORK/ckpt/checkpoint.tmp" ]
ok $? "rank 0 saved step 99 last, by rename (no .tmp left)"

run_pair load --load-dir="$WORK/ckpt"
ok $? "a run loading it finishes"
diag <"$WORK/load.1.out"
[ "$(grep -c "resumes at step 100 from the checkpoint" "$WORK"/load.*.out | awk -F: '{s += $2} END {print s}')" = 2 ] &&
	[ "$(checksums load)" = "$reference" ] && [ "$(wc -w <<<"$reference")" = 1 ]
ok $? "both ranks resume at step 100 and end with the weights of the first run ($reference)"

sum_before=$(sha256sum <"$WORK/ckpt/checkpoint")
run_pair seed --load-dir="$WORK/ckpt" --seed=7
[ $? = 1 ] && grep -q "cannot load the checkpoint $WORK/ckpt/checkpoint: saved with another --seed" "$WORK/seed.0.out"
ok $? "a checkpoint of another seed is refused, naming why"

mkdir -p "$WORK/bad"
cp "$WORK/ckpt/checkpoint" "$WORK/bad/checkpoint"
size=$(stat -c %s "$WORK/bad/checkpoint")
printf '\x5a' | dd of="$WORK/bad/checkpoint" bs=1 seek=$((size - 100)) conv=notrunc status=none
run_pair bad --load-dir="$WORK/bad"
[ $? = 1 ] && grep -q "cannot load the checkpoint $WORK/bad/checkpoint: its checksum does not match" "$WORK/bad.0.out"
ok $? "a damaged checkpoint is refused: its checksum does not match"
truncate -s $((size / 2)) "$WORK/bad/checkpoint"
run_pair short --load-dir="$WORK/bad"
[ $? = 1 ] && grep -q "it is shorter than its header says" "$WORK/short.0.out" &&
	[ "$(sha256sum <"$WORK/ckpt/checkpoint")" = "$sum_before" ]
ok $? "a truncated one too, and the good checkpoint was left as it was"
